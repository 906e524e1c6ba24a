// tests/test_mfm_digits.cpp: MFM's digit experiment (models/mfm_digits.h, paper 001 section
// 3.2) and its training loop (examples/harness/mfm_digits_fit.h):
//   - parameter counts of UM(image), UM(speech), MM and MFM against the layer formulas;
//   - float64 central-difference gradchecks of the new pieces (the CNN image encoder, the
//     transposed-CNN image decoder) and of the whole objective w.r.t. both inputs;
//   - the same objective in PyTorch (tests/reference/ref_mfm_digits.py) from identical weights
//     and prior draws: terms and the gradients of the inputs and of every parameter;
//   - generate() reproduces forward()'s reconstructions from forward()'s factors;
//   - bad input is refused naming what was expected;
//   - a tiny training run on the real digit pairs beats chance by a real margin (SKIPPED
//     without the digit cache).
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/serialize/safetensors.h"
#include "examples/harness/mfm_digits_fit.h"
#include "models/mfm_digits.h"
#include "support/gradcheck.h"
#include "support/reference.h"
#ifdef FUSEGRAD_WITH_DIGITS
#include "data/digits.h"
#endif

using namespace fg;
using models::DigitModel;

namespace {

models::MfmDigitsConfig tiny(DigitModel m) {
  models::MfmDigitsConfig c;
  c.model = m;
  c.image_side = 8;
  c.speech_dim = 5;
  c.num_classes = 3;
  c.channels = 2;
  c.hidden = 3;
  c.zy_size = 2;
  c.za_image = 3;
  c.za_speech = 2;
  c.fy_size = 2;
  c.fa_image = 2;
  c.fa_speech = 3;
  return c;
}

std::int64_t linear(std::int64_t i, std::int64_t o) { return i * o + o; }
std::int64_t gnet(std::int64_t i, std::int64_t o) { return linear(i, o) + linear(o, o); }

std::int64_t expected_parameters(const models::MfmDigitsConfig& c) {
  const std::int64_t s4 = (c.image_side / 4) * (c.image_side / 4), ch = c.channels, h = c.hidden;
  const std::int64_t cnn = (ch * 16 + ch) + (2 * ch * ch * 16 + 2 * ch) + linear(2 * ch * s4, h);
  const std::int64_t fc = linear(c.speech_dim, h) + linear(h, h);
  std::int64_t n = 0, fused = 0;
  if (c.uses_image()) n += cnn, fused += h;
  if (c.uses_speech()) n += fc, fused += h;
  n += linear(fused, c.zy_size) + gnet(c.zy_size, c.fy_size) + linear(c.fy_size, c.fy_size) +
       linear(c.fy_size, c.num_classes);
  if (c.generative()) {
    n += cnn + fc + linear(h, c.za_image) + linear(h, c.za_speech) + gnet(c.za_image, c.fa_image) +
         gnet(c.za_speech, c.fa_speech);
    n += linear(c.fy_size + c.fa_image, 2 * ch * s4) + (2 * ch * ch * 16 + ch) + (ch * 16 + 1);  // image decoder
    n += linear(c.fy_size + c.fa_speech, h) + linear(h, c.speech_dim);                          // speech decoder
  }
  return n;
}

}  // namespace

TEST_CASE("MFM digits: parameter counts of UM(image), UM(speech), MM and MFM against the layer formulas") {
  for (const auto m : models::all_digit_models()) {
    for (const bool big : {false, true}) {
      models::MfmDigitsConfig c = big ? models::MfmDigitsConfig{} : tiny(m);
      c.model = m;
      CAPTURE(models::digit_model_name(m));
      CAPTURE(big);
      Generator gen(3);
      models::MfmDigits model(c, gen);
      CHECK(model.num_parameters() == expected_parameters(c));
      const auto named = model.named_parameters();
      auto has = [&](const std::string& prefix) {
        for (const auto& [k, _] : named)
          if (k.rfind(prefix, 0) == 0) return true;
        return false;
      };
      CHECK(has("y_image.conv1.") == c.uses_image());
      CHECK(has("y_speech.") == c.uses_speech());
      CHECK(has("dec_image.deconv2.") == c.generative());
      CHECK(has("a_speech.") == c.generative());
      CHECK(has("d.2.weight"));
    }
  }
  // the defaults (28 x 28, 696-d speech, c 16, h 128, factors 16) as printed by mfm --digits
  models::MfmDigitsConfig c;
  Generator gen(3);
  CHECK(models::MfmDigits(c, gen).num_parameters() == expected_parameters(c));
}

TEST_CASE("gradcheck: the digit CNN image encoder and transposed-CNN decoder (float64, w.r.t. input and weights)") {
  Generator gen(5);
  const TensorOptions f64{DType::f64};
  models::DigitImageEncoder enc(8, 2, 3, gen, f64);
  const Tensor x = testing::rand_input({2, 64}, 11, 0.0, 1.0);
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return enc.forward(in[0]); }, (std::vector<Tensor>{x}));
  // the weights: rebind the module's parameters to the gradcheck's inputs
  const Tensor w1 = enc.conv1->weight.detach().clone().requires_grad_(), w2 = enc.conv2->weight.detach().clone().requires_grad_();
  CHECK_GRADCHECK(
      [&](const std::vector<Tensor>& in) {
        enc.conv1->weight = in[1];
        enc.conv2->weight = in[2];
        return enc.forward(in[0]);
      },
      (std::vector<Tensor>{x, w1, w2}));
  models::DigitImageDecoder dec(3, 8, 2, gen, f64);
  const Tensor f = testing::rand_input({2, 3}, 12);
  const Tensor d1 = dec.deconv1->weight.detach().clone().requires_grad_(), d2 = dec.deconv2->weight.detach().clone().requires_grad_();
  CHECK_GRADCHECK(
      [&](const std::vector<Tensor>& in) {
        dec.deconv1->weight = in[1];
        dec.deconv2->weight = in[2];
        return dec.forward(in[0]);
      },
      (std::vector<Tensor>{f, d1, d2}));
}

TEST_CASE("gradcheck: the digit objective (CE + reconstructions + MMD) w.r.t. both inputs, every model and placement") {
  struct Case {
    DigitModel m;
    models::MmdPlacement p;
  };
  for (const Case k : {Case{DigitModel::Mfm, models::MmdPlacement::PerFactor}, Case{DigitModel::Mfm, models::MmdPlacement::Joint},
                       Case{DigitModel::Mm, models::MmdPlacement::PerFactor},
                       Case{DigitModel::UmImage, models::MmdPlacement::PerFactor},
                       Case{DigitModel::UmSpeech, models::MmdPlacement::PerFactor}}) {
    models::MfmDigitsConfig c = tiny(k.m);
    c.mmd_placement = k.p;
    c.lambda_speech = 0.5;
    c.lambda_mmd = 2.0;
    CAPTURE(models::digit_model_name(k.m));
    CAPTURE(models::mmd_placement_name(k.p));
    Generator gen(7);
    models::MfmDigits model(c, gen, TensorOptions{DType::f64});
    model.eval();
    const Tensor labels = from_vector(std::vector<std::int64_t>{0, 2, 1}, {3}, TensorOptions{DType::i64});
    const Tensor image = testing::rand_input({3, 64}, 21, 0.0, 1.0), speech = testing::rand_input({3, 5}, 22, 0.0, 1.0);
    Generator pg(9);
    const auto prior = models::draw_digit_prior(c, model.forward(image, speech), pg);
    CHECK(prior.size() == (!c.generative() ? 0u : k.p == models::MmdPlacement::Joint ? 1u : 3u));
    CHECK_GRADCHECK(
        [&](const std::vector<Tensor>& in) {
          const auto out = model.forward(in[0], in[1]);
          const auto L = models::mfm_digits_objective(c, in[0], in[1], labels, out, prior);
          std::vector<Tensor> parts = {reshape(L.total, {1})};
          for (const auto& t : L.terms) parts.push_back(reshape(t.second, {1}));
          return concat(parts, 0);
        },
        (std::vector<Tensor>{image, speech}));
  }
}

TEST_CASE("reference vs PyTorch [mfm_digits]: the objective's terms and every gradient, MFM (both placements), MM, UM") {
  const SafetensorsFile f = testing::load_fixture("mfm_digits");
  const auto cases = nlohmann::json::parse(f.metadata.at("cases"));
  int ran = 0;
  for (const auto& cs : cases) {
    const std::string name = cs["name"];
    CAPTURE(name);
    const auto& p = cs["params"];
    models::MfmDigitsConfig c = tiny(models::parse_digit_model(p["model"]));
    c.image_side = p["side"];
    c.speech_dim = p["speech_dim"];
    c.channels = p["channels"];
    c.hidden = p["hidden"];
    c.num_classes = p["classes"];
    c.zy_size = p["zy"];
    c.za_image = p["za"][0];
    c.za_speech = p["za"][1];
    c.fy_size = p["fy"];
    c.fa_image = p["fa"][0];
    c.fa_speech = p["fa"][1];
    c.lambda_image = p["lambda_image"];
    c.lambda_speech = p["lambda_speech"];
    c.lambda_mmd = p["lambda_mmd"];
    c.mmd_placement = models::parse_mmd_placement(p["placement"]);
    Generator gen(1);
    models::MfmDigits model(c, gen, TensorOptions{DType::f64});
    model.eval();
    const auto param_names = p["param_names"].get<std::vector<std::string>>();
    const std::size_t P = p["num_prior"], first_param = 3 + P;
    REQUIRE(cs["num_inputs"].get<std::size_t>() == first_param + param_names.size());
    const auto named = model.named_parameters();
    REQUIRE(named.size() == param_names.size());
    std::map<std::string, Tensor> state;
    for (std::size_t k = 0; k < param_names.size(); ++k) {
      CHECK(named[k].first == param_names[k]);
      state[param_names[k]] = testing::fixture_tensor(f, fmt::format("{}.in.{}", name, first_param + k));
    }
    model.load_state_dict(state);
    const Tensor image = testing::fixture_tensor(f, name + ".in.0").clone().requires_grad_();
    const Tensor speech = testing::fixture_tensor(f, name + ".in.1").clone().requires_grad_();
    const Tensor labels = testing::fixture_tensor(f, name + ".in.2");
    std::vector<Tensor> prior;
    for (std::size_t k = 0; k < P; ++k) prior.push_back(testing::fixture_tensor(f, fmt::format("{}.in.{}", name, 3 + k)));
    const auto L = models::mfm_digits_objective(c, image, speech, labels, model.forward(image, speech), prior);
    std::vector<Tensor> parts = {reshape(L.total, {1})};
    for (const auto& t : L.terms) parts.push_back(reshape(t.second, {1}));
    const Tensor out = concat(parts, 0);
    const Tensor& ref = testing::fixture_tensor(f, name + ".out");
    REQUIRE(out.shape() == ref.shape());
    const double out_err = testing::relative_error(out, ref);
    CHECK(out_err <= 1e-9);
    sum(mul(out, testing::fixture_tensor(f, name + ".R"))).backward();
    double worst = 0;
    for (std::size_t k = 0; k < 2; ++k) {
      const Tensor& g = k == 0 ? image.grad() : speech.grad();
      const bool read = k == 0 ? c.uses_image() : c.uses_speech();
      if (!read) continue;
      REQUIRE(g.defined());
      worst = std::max(worst, testing::relative_error(g, testing::fixture_tensor(f, fmt::format("{}.grad.{}", name, k))));
    }
    std::map<std::string, Tensor> params(named.begin(), named.end());
    for (std::size_t k = 0; k < param_names.size(); ++k) {
      CAPTURE(param_names[k]);
      const Tensor& g = params.at(param_names[k]).grad();
      REQUIRE(g.defined());
      const double e = testing::relative_error(g, testing::fixture_tensor(f, fmt::format("{}.grad.{}", name, first_param + k)));
      CHECK(e <= 1e-9);
      worst = std::max(worst, e);
    }
    CHECK(worst <= 1e-9);
    MESSAGE(fmt::format("{}: relative error terms {:.2e}, gradients {:.2e}", name, out_err, worst));
    ++ran;
  }
  CHECK(ran == 5);
}

TEST_CASE("MFM digits: generate() from forward()'s factors gives forward()'s reconstructions; the prior shapes") {
  const models::MfmDigitsConfig c = tiny(DigitModel::Mfm);
  Generator gen(4);
  models::MfmDigits model(c, gen, TensorOptions{DType::f64});
  model.eval();
  NoGradGuard ng;
  const Tensor image = testing::rand_input({5, 64}, 1, 0.0, 1.0), speech = testing::rand_input({5, 5}, 2, 0.0, 1.0);
  const auto out = model.forward(image, speech);
  REQUIRE(out.factors.size() == 3);
  const auto [xi, xs] = model.generate(out.factors[0].second, out.factors[1].second, out.factors[2].second);
  CHECK(testing::relative_error(xi, out.image_hat) == 0.0);
  CHECK(testing::relative_error(xs, out.speech_hat) == 0.0);
  CHECK(xi.shape() == Shape{5, 64});
  CHECK(xs.shape() == Shape{5, 5});
}

TEST_CASE("MFM digits: bad input is refused naming what was expected") {
  Generator gen(4);
  CHECK_THROWS_WITH(models::parse_digit_model("svhn"), doctest::Contains("um_image, um_speech, mm, mfm"));
  models::MfmDigitsConfig bad = tiny(DigitModel::Mfm);
  bad.image_side = 10;
  CHECK_THROWS_WITH(models::MfmDigits(bad, gen), doctest::Contains("image_side must be a positive multiple of 4"));
  bad = tiny(DigitModel::Mfm);
  bad.hidden = 0;
  CHECK_THROWS_WITH(models::MfmDigits(bad, gen), doctest::Contains("hidden must be positive"));
  models::MfmDigits model(tiny(DigitModel::Mfm), gen);
  const Tensor image = zeros({2, 64}), speech = zeros({2, 5});
  CHECK_THROWS_WITH(model.forward(zeros({2, 63}), speech), doctest::Contains("the image must be [B, 64]"));
  CHECK_THROWS_WITH(model.forward(image, zeros({2, 4})), doctest::Contains("the speech must be [B, 5]"));
  CHECK_THROWS_WITH(model.forward(image, zeros({3, 5})), doctest::Contains("2 images but 3 utterances"));
  CHECK_THROWS_WITH(model.forward(image, Tensor()), doctest::Contains("needs the speech"));
  models::MfmDigits mm(tiny(DigitModel::Mm), gen);
  CHECK_THROWS_WITH(mm.generate(zeros({1, 2}), zeros({1, 3}), zeros({1, 2})), doctest::Contains("no generative network"));
  const auto out = model.forward(image, speech);
  CHECK_THROWS_WITH(models::mfm_digits_objective(model.config(), image, speech, zeros({2}), out, {}),
                    doctest::Contains("labels must be int64 [B]"));
}

#ifdef FUSEGRAD_WITH_DIGITS
TEST_CASE("MFM digits: a tiny training run on the real digit pairs beats chance (10 %) by a real margin") {
  namespace dg = fg::data::digits;
  if (!std::filesystem::exists(std::filesystem::path(dg::default_cache_dir()) / dg::kCacheFileName)) {
    MESSAGE("SKIPPED: digit cache not built (run tools/build_digits.sh, which tools/setup.sh runs)");
    std::cout << "SKIPPED: digit cache not built\n";
    return;
  }
  const dg::DigitPairDataset pairs = dg::make_mfm_pairs(dg::load_digit_sources(), dg::MfmConfig{});
  auto tensors = [](const dg::DigitPairs& s) { return harness::DigitTensors{s.image, s.speech, s.labels.to(DType::i64)}; };
  const harness::DigitTensors train = tensors(pairs.train).first(1000), valid = tensors(pairs.valid).first(200),
                              test = tensors(pairs.test).first(300);
  for (const DigitModel m : {DigitModel::Mfm, DigitModel::UmImage}) {
    CAPTURE(models::digit_model_name(m));
    models::MfmDigitsConfig c;
    c.model = m;
    c.channels = 4;
    c.hidden = 32;
    auto model = harness::build_digit_model(c, 0, Device::cpu());
    harness::DigitFitOptions o;
    o.epochs = 6;
    o.batch_size = 32;
    o.lr = 3e-3;
    o.quiet = true;
    const auto r = harness::fit_digits(*model, train, valid, o);
    CHECK(r.steps == 6 * 32);
    CHECK(r.best_epoch >= 1);
    CHECK(r.history.size() == 6u);
    const double acc = harness::digit_accuracy(*model, test, 128, Device::cpu());
    MESSAGE(fmt::format("{}: test accuracy {:.3f} after 6 epochs of 1000 pairs (best valid {:.3f}, epoch {})",
                        models::digit_model_label(m), acc, r.best_valid_accuracy, r.best_epoch));
    CHECK(acc > 0.5);
  }
}
#endif
