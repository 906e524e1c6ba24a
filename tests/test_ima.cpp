// tests/test_ima.cpp: paper 004's models (models/ima.h), their harness tasks and evaluations
// (examples/harness/ima_task.h):
//   - float64 central-difference gradchecks of eq. 1's fusion and of every model's loss at
//     tiny sizes (inputs, noise draws);
//   - each model's loss terms and the gradients of the inputs and of every parameter against
//     the same model written in PyTorch (tests/reference/ref_ima.py) from identical weights;
//   - Precision@K and the importance network's precision / recall / F1 against values
//     computed by hand;
//   - missing-modality inference (image-only, speech-only) for every model;
//   - a short two-stage training on a small synthetic two-modality set with 10 % noise pairs per
//     modality, through the harness's fit(): stage 1 leaves the importance networks alone,
//     stage 2 the autoencoder, and the importance networks must find the noise rows (F1 of
//     "y < 0.5" >= 0.33 where chance is at most 0.18, rank AUC >= 0.6);
//   - bad configs and bad batches give errors naming the field.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "data/metrics.h"
#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/serialize/safetensors.h"
#include "examples/harness/ima_task.h"
#include "examples/harness/trainer.h"
#include "models/ima.h"
#include "support/gradcheck.h"
#include "support/reference.h"
#include "support/test_util.h"

using namespace fg;
using fg::testing::rand_input;
using namespace fg::test;

namespace {

const TensorOptions f64{DType::f64};

models::MultimodalAEConfig tiny_ae(models::ReconLoss r = models::ReconLoss::BCE) {
  models::MultimodalAEConfig c;
  c.input_sizes = {5, 4};
  c.hidden = {4, 3};
  c.latent = 3;
  c.recon = r;
  return c;
}

std::vector<Tensor> inputs01(std::uint64_t seed, std::int64_t b = 6) {
  return {rand_input({b, 5}, seed, 0.02, 0.98), rand_input({b, 4}, seed + 1, 0.02, 0.98)};
}

}  // namespace

// ------------------------------------------------------------------ gradchecks
TEST_CASE("ima gradcheck: eq. 1's fusion in u and y, with and without a missing modality") {
  const auto u0 = rand_input({4, 3}, 1), u1 = rand_input({4, 3}, 2);
  const auto y0 = rand_input({4}, 3, 0.1, 0.9), y1 = rand_input({4}, 4, 0.1, 0.9);
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return models::IMA::fuse({in[0], in[1]}, {in[2], in[3]}, {true, true}); },
                  (std::vector<Tensor>{u0, u1, y0, y1}));
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return models::IMA::fuse({in[0], in[1]}, {in[2], in[3]}, {false, true}); },
                  (std::vector<Tensor>{u0, u1, y0, y1}));
}

TEST_CASE("ima gradcheck: IMA's stage-1 (BCE and SSE) and stage-2 (plain eq. 3) losses in the parameters each stage trains") {
  // Each stage holds the other part constant (detached), so the check perturbs exactly the
  // parameters the stage trains: stage 1 the encoders and decoders, stage 2 the importance
  // networks (the tensors are the module's own; gradcheck perturbs them in place).
  for (auto r : {models::ReconLoss::BCE, models::ReconLoss::SSE}) {
    models::IMAConfig c;
    c.ae = tiny_ae(r);
    // the plain eq. 3: the normalized form divides by a detached batch statistic, which central
    // differences would differentiate too (it is checked against PyTorch instead)
    c.corr_normalize = false;
    Generator gen(5);
    models::IMA m(c, gen, f64);
    const auto xs = inputs01(10);
    CHECK_GRADCHECK([&](const std::vector<Tensor>&) { return m.autoencoder_loss(xs).total; }, m.autoencoder_parameters());
    CHECK_GRADCHECK([&](const std::vector<Tensor>&) { return m.importance_loss(xs).total; }, m.importance_parameters());
  }
}

TEST_CASE("ima gradcheck: JMVAE-KL, MVAE and DAE losses in the inputs and the noise draws") {
  models::VAEConfig vc;
  vc.ae = tiny_ae();
  vc.alpha = 0.4;
  Generator gen(6);
  models::JMVAE j(vc, gen, f64);
  models::MVAE mv(vc, gen, f64);
  models::DAEConfig dc;
  dc.ae = tiny_ae();
  models::MultimodalDAE dae(dc, gen, f64);
  auto in = inputs01(30);
  in.push_back(rand_input({6, 3}, 33));
  CHECK_GRADCHECK([&](const std::vector<Tensor>& x) { return j.loss({x[0], x[1]}, x[2], 0.6).total; }, in);
  auto in2 = inputs01(40);
  for (int k = 0; k < 3; ++k) in2.push_back(rand_input({6, 3}, 43 + k));
  CHECK_GRADCHECK([&](const std::vector<Tensor>& x) { return mv.loss({x[0], x[1]}, {x[2], x[3], x[4]}, 0.6).total; },
                  in2);
  const std::vector<Tensor> keep = {gt(rand_input({6, 5}, 50, 0, 1), full({1}, 0.3, f64)),
                                    gt(rand_input({6, 4}, 51, 0, 1), full({1}, 0.3, f64))};
  CHECK_GRADCHECK([&](const std::vector<Tensor>& x) { return dae.loss(x, keep).total; }, inputs01(52));
}

// ------------------------------------------------------------------ against PyTorch
TEST_CASE("reference vs PyTorch [ima]: IMA stages 1 (BCE, SSE) and 2, JMVAE-KL, MVAE, DAE: terms and every gradient") {
  const SafetensorsFile f = testing::load_fixture("ima");
  const auto cases = nlohmann::json::parse(f.metadata.at("cases"));
  int ran = 0;
  for (const auto& c : cases) {
    const std::string name = c["name"];
    CAPTURE(name);
    const auto& p = c["params"];
    const std::string kind = p["kind"];
    models::MultimodalAEConfig ae;
    ae.modalities = p["modalities"].get<std::vector<std::string>>();
    ae.input_sizes = p["input_dims"].get<std::vector<std::int64_t>>();
    ae.hidden = p["hidden"].get<std::vector<std::int64_t>>();
    ae.latent = p["latent"];
    ae.recon = models::parse_recon_loss(p["recon"]);
    Generator gen(1);
    std::shared_ptr<nn::Module> module;
    std::function<models::NamedLoss(const std::vector<Tensor>&, const std::vector<Tensor>&)> loss;
    if (kind == "ima") {
      models::IMAConfig ic;
      ic.ae = ae;
      ic.lambda_glob = p["lambda_glob"];
      ic.lambda_rec = p["lambda_rec"].get<std::vector<double>>();
      ic.lambda_align = p["lambda_align"].get<std::vector<double>>();
      ic.rho = p["rho"].get<std::vector<double>>();
      ic.lambda_local = p["lambda_local"].get<std::vector<double>>();
      ic.lambda_corr = p["lambda_corr"].get<std::vector<double>>();
      ic.corr_normalize = p["corr_normalize"];
      auto m = std::make_shared<models::IMA>(ic, gen, f64);
      const int stage = p["stage"];
      loss = [m, stage](const std::vector<Tensor>& xs, const std::vector<Tensor>&) {
        return stage == 1 ? m->autoencoder_loss(xs) : m->importance_loss(xs);
      };
      module = m;
    } else if (kind == "jmvae" || kind == "mvae") {
      models::VAEConfig vc;
      vc.ae = ae;
      vc.alpha = p.value("alpha", 0.0);
      const double beta = p["beta"];
      if (kind == "jmvae") {
        auto m = std::make_shared<models::JMVAE>(vc, gen, f64);
        loss = [m, beta](const std::vector<Tensor>& xs, const std::vector<Tensor>& ex) { return m->loss(xs, ex.at(0), beta); };
        module = m;
      } else {
        auto m = std::make_shared<models::MVAE>(vc, gen, f64);
        loss = [m, beta](const std::vector<Tensor>& xs, const std::vector<Tensor>& ex) { return m->loss(xs, ex, beta); };
        module = m;
      }
    } else {
      models::DAEConfig dc;
      dc.ae = ae;
      auto m = std::make_shared<models::MultimodalDAE>(dc, gen, f64);
      loss = [m](const std::vector<Tensor>& xs, const std::vector<Tensor>& ex) { return m->loss(xs, ex); };
      module = m;
    }
    const auto param_names = p["param_names"].get<std::vector<std::string>>();
    const std::size_t extra = p["num_extra"], first = 2 + extra;
    const auto named = module->named_parameters();
    REQUIRE(named.size() == param_names.size());
    std::map<std::string, Tensor> state;
    for (std::size_t k = 0; k < param_names.size(); ++k) {
      CHECK(named[k].first == param_names[k]);
      state[param_names[k]] = testing::fixture_tensor(f, fmt::format("{}.in.{}", name, first + k));
    }
    module->load_state_dict(state);
    std::vector<Tensor> xs, ex;
    for (std::size_t m = 0; m < 2; ++m)
      xs.push_back(testing::fixture_tensor(f, fmt::format("{}.in.{}", name, m)).clone().requires_grad_());
    for (std::size_t k = 0; k < extra; ++k) ex.push_back(testing::fixture_tensor(f, fmt::format("{}.in.{}", name, 2 + k)));
    const models::NamedLoss l = loss(xs, ex);
    std::vector<Tensor> parts = {reshape(l.total, {1})};
    for (const auto& t : l.terms) parts.push_back(reshape(t.second, {1}));
    const Tensor out = concat(parts, 0);
    const Tensor& ref_out = testing::fixture_tensor(f, name + ".out");
    REQUIRE(out.shape() == ref_out.shape());
    const double out_err = testing::relative_error(out, ref_out);
    CHECK(out_err <= 1e-10);
    sum(mul(out, testing::fixture_tensor(f, name + ".R"))).backward();
    double worst = 0;
    for (std::size_t m = 0; m < 2; ++m) {
      REQUIRE(xs[m].grad().defined());
      worst = std::max(worst, testing::relative_error(xs[m].grad(), testing::fixture_tensor(f, fmt::format("{}.grad.{}", name, m))));
    }
    std::map<std::string, Tensor> params(named.begin(), named.end());
    int with_grad = 0;
    for (std::size_t k = 0; k < param_names.size(); ++k) {
      CAPTURE(param_names[k]);
      const Tensor& ref = testing::fixture_tensor(f, fmt::format("{}.grad.{}", name, first + k));
      const Tensor& g = params.at(param_names[k]).grad();
      // a parameter the loss does not reach (stage 1: the importance networks; stage 2: the
      // autoencoder) has no gradient here and an all-zero one in PyTorch
      const Tensor ours = g.defined() ? g : zeros(ref.shape(), f64);
      if (g.defined()) ++with_grad;
      const double e = max_abs_diff(ref, zeros(ref.shape(), f64)) == 0 ? max_abs_diff(ours, ref)
                                                                        : testing::relative_error(ours, ref);
      CHECK(e <= 1e-9);
      worst = std::max(worst, e);
    }
    CHECK(with_grad > 0);
    MESSAGE(fmt::format("{}: relative error terms {:.2e}, gradients {:.2e} ({} of {} parameters reached)", name,
                        out_err, worst, with_grad, param_names.size()));
    ++ran;
  }
  CHECK(ran == 7);
}

// ------------------------------------------------------------------ metrics by hand
TEST_CASE("ima metrics: Precision@K on a hand-worked 1-D set, relevance = same digit even for noise pairs") {
  // points on a line: labels 0 0 0 1 1 with a noise pair of digit 1 sitting among the 0s
  const std::vector<float> x = {0.0f, 0.1f, 0.2f, 5.0f, 5.1f, 0.15f};
  const std::vector<int> y = {0, 0, 0, 1, 1, 1};
  // K = 1 nearest (self left out): 0->0.1 (0, hit), 0.1->0.15 (1, miss), 0.2->0.15 (miss),
  // 5.0->5.1 (hit), 5.1->5.0 (hit), 0.15->0.1 or 0.2 (tie at 0.05: lower index 1, label 0: miss)
  CHECK(data::precision_at_k(x, y, x, y, 1, 1, true) == doctest::Approx(3.0 / 6.0));
  // K = 2: 0 -> {0.1, 0.15}: 1/2; 0.1 -> {0.15, 0.0 or 0.2: 0.0 (0.1) and 0.2 (0.1) tie, lower index 0}: 1/2;
  // 0.2 -> {0.15, 0.1}: 1/2; 5.0 -> {5.1, 0.2}: 1/2; 5.1 -> {5.0, 0.2}: 1/2; 0.15 -> {0.1, 0.2}: 0
  CHECK(data::precision_at_k(x, y, x, y, 1, 2, true) == doctest::Approx((0.5 * 5 + 0) / 6.0));
}

TEST_CASE("ima metrics: noise detection precision, recall and F1 by hand") {
  // importances; noise is predicted where y < 0.5
  const std::vector<float> y = {0.1f, 0.9f, 0.4f, 0.8f, 0.2f, 0.7f};
  const std::vector<bool> noise = {true, false, false, false, true, true};
  const auto r = harness::noise_detection(y, noise);
  // predicted noise: rows 0, 2, 4 -> tp = 2 (0, 4), fp = 1 (2), fn = 1 (5), tn = 2
  CHECK(r.tp == 2);
  CHECK(r.fp == 1);
  CHECK(r.fn == 1);
  CHECK(r.tn == 2);
  CHECK(r.precision == doctest::Approx(2.0 / 3.0));
  CHECK(r.recall == doctest::Approx(2.0 / 3.0));
  CHECK(r.f1 == doctest::Approx(2.0 / 3.0));
  const auto none = harness::binary_prf({false, false}, {true, false});
  CHECK(none.precision == 0);
  CHECK(none.f1 == 0);
  CHECK(contains(error_of([] { harness::binary_prf({true}, {true, false}); }), "1 predictions for 2 truths"));
}

// ------------------------------------------------------------------ missing modalities
TEST_CASE("ima missing modality: image-only / speech-only representations for IMA, JMVAE-KL, MVAE and DAE") {
  Generator gen(7);
  models::IMAConfig ic;
  ic.ae = tiny_ae();
  models::IMA ima(ic, gen, f64);
  NoGradGuard ng;
  const auto xs = inputs01(60);
  auto other = xs;
  other[1] = rand_input({6, 4}, 99, 0, 1);  // a different speech input
  CHECK(max_abs_diff(ima.represent(xs, models::RepMode::Only0), ima.encode(0, xs[0])) < 1e-7);  // eq. 1's eps 1e-8 in the denominator
  CHECK(max_abs_diff(ima.represent(xs, models::RepMode::Only1), ima.encode(1, xs[1])) < 1e-7);
  // unweighted = plain average of u_0 and u_1
  CHECK(max_abs_diff(ima.represent(xs, models::RepMode::Unweighted), (ima.encode(0, xs[0]) + ima.encode(1, xs[1])) * 0.5) <
        1e-7);
  // weighted: y_j u_j / sum y_j, by hand for row 0
  {
    const auto y0 = ima.importance(0, xs[0]).to_vector<double>(), y1 = ima.importance(1, xs[1]).to_vector<double>();
    const auto u0 = ima.encode(0, xs[0]).to_vector<double>(), u1 = ima.encode(1, xs[1]).to_vector<double>();
    const auto z = ima.represent(xs, models::RepMode::Weighted).to_vector<double>();
    for (int k = 0; k < 3; ++k) CHECK(z[k] == doctest::Approx((y0[0] * u0[k] + y1[0] * u1[k]) / (y0[0] + y1[0])));
  }
  CHECK(max_abs_diff(ima.represent(xs, models::RepMode::Only0), ima.represent(other, models::RepMode::Only0)) == 0);

  models::VAEConfig vc;
  vc.ae = tiny_ae();
  models::JMVAE j(vc, gen, f64);
  CHECK(max_abs_diff(j.represent(xs, models::RepMode::Only0), j.encode(0, xs[0]).mu) < 1e-12);
  CHECK(max_abs_diff(j.represent(xs, models::RepMode::Only0), j.represent(other, models::RepMode::Only0)) == 0);
  models::MVAE mv(vc, gen, f64);
  // one expert with the N(0, I) prior: mu = mu_0 T_0 / (1 + T_0)
  const auto e0 = mv.encode(0, xs[0]);
  const Tensor t0 = 1.0 / (exp(e0.logvar) + 1e-8);
  CHECK(max_abs_diff(mv.represent(xs, models::RepMode::Only0), e0.mu * t0 / (t0 + 1.0)) < 1e-12);
  CHECK(max_abs_diff(mv.represent(xs, models::RepMode::Only0), mv.represent(other, models::RepMode::Only0)) == 0);
  models::DAEConfig dc;
  dc.ae = tiny_ae();
  models::MultimodalDAE dae(dc, gen, f64);
  CHECK(max_abs_diff(dae.represent(xs, models::RepMode::Only0), dae.represent(other, models::RepMode::Only0)) == 0);
  CHECK(max_abs_diff(dae.represent(xs, models::RepMode::Weighted), dae.represent(other, models::RepMode::Weighted)) > 0);
  CHECK(contains(error_of([&] { models::IMA::fuse({xs[0]}, {xs[0]}, {false}); }), "no modality present"));
}

// ------------------------------------------------------------------ training
namespace {

// A two-modality set like the digit pairs: class c has a random prototype in each modality
// (values in [0.1, 0.9]) plus N(0, 0.15^2) per value (clipped to [0, 1]); a fraction `noise`
// of the rows has a noise image, as many a noise "speech": 0.5 + U(-0.02, 0.02) per value. The
// noise is local (one tight cluster in input space), the paper's one constraint on it
// (appendix A.1: "the locality of their representations in the modality space").
struct ToySet {
  data::MultimodalSplit split;
  std::vector<bool> noise0, noise1;
};

ToySet toy_set(std::int64_t n, double noise, std::uint64_t seed, const std::vector<std::vector<double>>& proto0,
               const std::vector<std::vector<double>>& proto1) {
  Generator g(seed);
  const std::int64_t d0 = static_cast<std::int64_t>(proto0[0].size()), d1 = static_cast<std::int64_t>(proto1[0].size());
  const auto r = rand({n, 3}, g, f64).to_vector<double>();
  const auto e0 = randn({n, d0}, g, f64).to_vector<double>(), e1 = randn({n, d1}, g, f64).to_vector<double>();
  const auto w0 = rand({n, d0}, g, f64).to_vector<double>(), w1 = rand({n, d1}, g, f64).to_vector<double>();
  std::vector<float> x0(n * d0), x1(n * d1);
  ToySet t;
  for (std::int64_t i = 0; i < n; ++i) {
    const auto c = static_cast<std::size_t>(std::min(9.0, std::floor(r[i * 3] * 10)));
    const bool n0 = r[i * 3 + 1] < noise, n1 = !n0 && r[i * 3 + 2] < noise / (1 - noise);
    t.noise0.push_back(n0);
    t.noise1.push_back(n1);
    for (std::int64_t k = 0; k < d0; ++k)
      x0[i * d0 + k] = static_cast<float>(n0 ? 0.5 + 0.02 * (2 * w0[i * d0 + k] - 1) : std::clamp(proto0[c][k] + 0.15 * e0[i * d0 + k], 0.0, 1.0));
    for (std::int64_t k = 0; k < d1; ++k)
      x1[i * d1 + k] = static_cast<float>(n1 ? 0.5 + 0.02 * (2 * w1[i * d1 + k] - 1) : std::clamp(proto1[c][k] + 0.15 * e1[i * d1 + k], 0.0, 1.0));
  }
  auto& s = t.split;
  s.name = "toy";
  s.modality_names = {"image", "speech"};
  s.features = {from_vector(x0, {n, 1, d0}), from_vector(x1, {n, 1, d1})};
  s.lengths = ones({n}, TensorOptions{DType::i64});
  s.mask = ones({n, 1});
  s.labels = zeros({n});
  return t;
}

}  // namespace

TEST_CASE("ima training: two stages through the harness find the noise pairs of a small synthetic set") {
  Generator pg(77);
  const auto pr0 = rand({10, 16}, pg, f64, 0.1, 0.9).to_vector<double>(), pr1 = rand({10, 12}, pg, f64, 0.1, 0.9).to_vector<double>();
  std::vector<std::vector<double>> p0(10), p1(10);
  for (int c = 0; c < 10; ++c) {
    p0[c].assign(pr0.begin() + c * 16, pr0.begin() + (c + 1) * 16);
    p1[c].assign(pr1.begin() + c * 12, pr1.begin() + (c + 1) * 12);
  }
  const ToySet train = toy_set(1200, 0.1, 1, p0, p1), valid = toy_set(300, 0.1, 2, p0, p1), test = toy_set(400, 0.1, 3, p0, p1);
  models::IMAConfig c;
  c.ae.input_sizes = {16, 12};
  c.ae.hidden = {24, 24};
  c.ae.latent = 4;
  // rho 0.7 (measured on this set, F1 image / speech: 0.3 -> 0.26 / 0.27, 0.5 -> 0.34 / 0.41,
  // 0.7 -> 0.42 / 0.50, 0.8 -> 0 / 0.13, 0.9 -> 0 / 0; the paper's best were 0.8 and 0.3)
  c.rho = {0.7, 0.7};
  Generator gen(11);
  auto model = std::make_shared<models::IMA>(c, gen);
  harness::TrainOptions o;
  o.batch_size = 100;
  o.lr = 1e-2;
  o.quiet = true;
  std::ostringstream log;
  o.epochs = 80;
  o.name = "stage1";
  auto t1 = harness::make_ima_task(model, harness::ImaStage::Autoencoder);
  const auto before = model->importance_parameters()[0].clone();
  const auto f1 = harness::fit(*t1, train.split, valid.split, o, log);
  CHECK(max_abs_diff(model->importance_parameters()[0], before) == 0);  // stage 1 leaves the importance nets alone
  CHECK(f1.history.back().train_loss < f1.history.front().train_loss);
  o.epochs = 30;
  o.name = "stage2";
  const auto enc_before = model->autoencoder_parameters()[0].clone();
  auto t2 = harness::make_ima_task(model, harness::ImaStage::Importance);
  harness::fit(*t2, train.split, valid.split, o, log);
  CHECK(max_abs_diff(model->autoencoder_parameters()[0], enc_before) == 0);  // stage 2 leaves the autoencoder alone
  const auto y = harness::importances_split(*model, test.split, 100, Device::cpu());
  // AUC of "noise has the lower importance": P(y_noise < y_real) over all (noise, real) pairs of rows
  auto auc = [](const std::vector<float>& v, const std::vector<bool>& noise) {
    double below = 0, pairs = 0;
    for (std::size_t a = 0; a < v.size(); ++a)
      for (std::size_t b = 0; b < v.size(); ++b)
        if (noise[a] && !noise[b]) below += v[a] < v[b] ? 1.0 : v[a] == v[b] ? 0.5 : 0.0, pairs += 1;
    return below / pairs;
  };
  const double auc0 = auc(y[0], test.noise0), auc1 = auc(y[1], test.noise1);
  const auto r0 = harness::noise_detection(y[0], test.noise0), r1 = harness::noise_detection(y[1], test.noise1);
  MESSAGE(fmt::format("held-out rows: P(y_noise < y_real) image {:.3f}, speech {:.3f}; noise detection (y < 0.5) "
                      "image P {:.3f} R {:.3f} F1 {:.3f}, speech P {:.3f} R {:.3f} F1 {:.3f}",
                      auc0, auc1, r0.precision, r0.recall, r0.f1, r1.precision, r1.recall, r1.f1));
  // Chance: flagging a random share r of the rows gives F1 = 2 q r / (q + r) <= 2 q / (1 + q) ~ 0.18 (r = 1)
  // at a noise share q ~ 0.1, and AUC 0.5. Measured here: F1 0.42 / 0.50, AUC 0.71 / 0.82 (the
  // noise is found, recall 1, together with some real rows: precision 0.27 / 0.33).
  CHECK(r0.f1 >= 0.33);
  CHECK(r1.f1 >= 0.33);
  CHECK(auc0 >= 0.6);
  CHECK(auc1 >= 0.6);
}

// ------------------------------------------------------------------ errors
TEST_CASE("ima errors: bad configs and bad batches name the field") {
  Generator gen(1);
  models::IMAConfig c;
  c.ae = tiny_ae();
  c.rho = {1.0, 0.5};
  CHECK(contains(error_of([&] { models::IMA m(c, gen); }), "rho must lie in (0, 1), got 1"));
  c.rho = {0.5};
  CHECK(contains(error_of([&] { models::IMA m(c, gen); }), "'rho' needs one value per modality (2), got 1"));
  c.rho = {0.5, 0.5};
  c.ae.hidden = {4};
  CHECK(contains(error_of([&] { models::IMA m(c, gen); }), "'hidden' (1) need one entry per modality"));
  c.ae = tiny_ae();
  c.lambda_align = {1.0, -1.0};
  CHECK(contains(error_of([&] { models::IMA m(c, gen); }), "'lambda_align' values must be finite and >= 0"));
  c.lambda_align = {1.0, 1.0};
  models::IMA m(c, gen, f64);
  auto xs = inputs01(1);
  xs[1] = rand_input({6, 7}, 2);
  CHECK(contains(error_of([&] { m.autoencoder_loss(xs); }), "modality 'speech' must be [B, 4]"));
  CHECK(contains(error_of([] { models::parse_recon_loss("mse"); }), "expected bce"));
  models::DAEConfig dc;
  dc.ae = tiny_ae();
  dc.denoise = 1.0;
  CHECK(contains(error_of([&] { models::MultimodalDAE d(dc, gen); }), "denoise must lie in [0, 1)"));
  data::Batch b;
  b.modality_names = {"image", "speech"};
  b.features = {zeros({2, 3, 5}), zeros({2, 3, 4})};
  b.rows = {0, 1};
  CHECK(contains(error_of([&] { harness::flat_inputs(b, {"image", "speech"}); }), "modality 'image': expected one step per pair"));
}

TEST_CASE("ima model sizes: Table 4's counts for the paper's sizes (d = 50)") {
  Generator gen(1);
  models::IMAConfig c;  // 784/696 inputs, 500/100 hidden, d = 50
  models::IMA ima(c, gen);
  std::int64_t enc = 0, dec = 0, imp = 0;
  for (const auto& e : ima.encoders) enc += e->num_parameters();
  for (const auto& e : ima.decoders) dec += e->num_parameters();
  for (const auto& e : ima.importance_nets) imp += e->num_parameters();
  CHECK(enc == 752900);   // Table 4: 753,000 (see docs/ima.md)
  CHECK(dec == 754280);   // Table 4: 754,280
  CHECK(imp == 723402);   // Table 4: 723,402
  models::VAEConfig vc;
  models::JMVAE j(vc, gen);
  std::int64_t jenc = 0;
  for (const auto& e : j.encoders) jenc += e->num_parameters();
  CHECK(jenc == 783000);                            // Table 4: 783,000
  CHECK(j.joint_encoder->num_parameters() == 1309300);  // Table 4: 1,309,300
}

// ------------------------------------------------------------------ the example's flags
#ifdef FG_BIN_IMA
#include <sys/wait.h>

#include <cstdio>

namespace {
struct Ran {
  int code = -1;
  std::string output;  // stdout and stderr
};
Ran run_ima(const std::string& args) {
  Ran r;
  FILE* p = popen((std::string(FG_BIN_IMA) + " " + args + " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  while (std::fgets(buf, sizeof buf, p)) r.output += buf;
  const int st = pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}
}  // namespace

TEST_CASE("ima example: bad flags exit 2 naming the flag, a missing digit cache exits 1 saying how to build it") {
  auto r = run_ima("--rho 0.8,1.5");
  CHECK(r.code == 2);
  CHECK(contains(r.output, "ima: error: --rho: every value must lie in (0, 1), got 1.5"));
  r = run_ima("--rho 0.8");
  CHECK(r.code == 2);
  CHECK(contains(r.output, "--rho: expected 2 values (image, speech), got 1"));
  r = run_ima("--models ima,vae");
  CHECK(r.code == 2);
  CHECK(contains(r.output, "--models: 'vae' is unknown: expected ima, jmvae, mvae or dae"));
  r = run_ima("--stages 0");
  CHECK(r.code == 2);
  CHECK(contains(r.output, "--stages"));
  r = run_ima("--resume --checkpoint x.ckpt");
  CHECK(r.code == 2);
  CHECK(contains(r.output, "--resume: the ima study does not resume runs"));
  r = run_ima("--out /nonexistent-folder-ima/x.json");
  CHECK(r.code == 2);
  CHECK(contains(r.output, "--out"));
  r = run_ima("--digits-cache /nonexistent-folder-ima --quick");
  CHECK(r.code == 1);
  CHECK(contains(r.output, "run tools/build_digits.sh"));
}
#endif
