// tests/test_zoo.cpp: the model zoo (models/zoo.h) at tiny sizes, float64:
//   - a central-difference gradcheck of every parameter and every modality's features, per
//     model (uneven lengths, a missing modality);
//   - padding invariance: more padding (filled with garbage) never changes an output, and each
//     row run alone (a batch of 1) equals its row in the batch;
//   - a missing modality (present = 0) gives the same outputs whatever its features are;
//   - unaligned batches (own time grid and lengths per modality) work for TFN, LMF and late
//     fusion; EF-LSTM and MFN refuse them with an error naming the model;
//   - LMF = TFN: LMF's low-rank fusion equals TFN's full tensor product times the weight
//     W = sum_i w_i (x)_m W_m^(i) rebuilt from the factors;
//   - the registry: names, errors, default (MOSI-sized) models on the embedded corpus.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "data/synthetic.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "models/lmf.h"
#include "models/tfn.h"
#include "support/gradcheck.h"
#include "support/test_util.h"
#include "test_zoo_support.h"

using namespace fg;
using fg::testing::rand_input;
using fg::zoo_test::everything;
using fg::zoo_test::make_batch;

namespace {

const std::vector<std::string> kAll = {"ef_lstm", "tfn", "lmf", "mfn", "late_fusion"};
const std::vector<std::string> kUnaligned = {"tfn", "lmf", "late_fusion"};

// Features [B, T_m, D_m] with values everywhere, padding included (a model must not read it).
std::vector<Tensor> features(const std::vector<std::int64_t>& dims, std::int64_t B, const std::vector<std::int64_t>& T,
                             std::uint64_t seed) {
  std::vector<Tensor> xs;
  for (std::size_t m = 0; m < dims.size(); ++m) xs.push_back(rand_input({B, T[m], dims[m]}, seed + m));
  return xs;
}

double max_diff(const Tensor& a, const Tensor& b) { return fg::test::max_abs_diff(a, b); }

Tensor present_of(std::int64_t B, std::int64_t M, const std::vector<std::pair<int, int>>& missing) {
  std::vector<double> v(static_cast<std::size_t>(B * M), 1.0);
  for (auto [b, m] : missing) v[static_cast<std::size_t>(b * M + m)] = 0.0;
  return from_vector(v, {B, M}, f64_opts());
}

// Lengths and time grids of the tests: aligned (one grid) or unaligned (one per modality).
struct Layout {
  std::vector<std::int64_t> T;
  std::vector<std::vector<std::int64_t>> lengths;
};
const Layout kAligned{{5, 5, 5}, {{5, 2, 4, 1}}};
const Layout kUnalignedLayout{{4, 7, 6}, {{4, 1, 3, 2}, {7, 2, 5, 3}, {1, 6, 3, 4}}};

}  // namespace

TEST_CASE("zoo: float64 gradcheck of every parameter and input, per model") {
  for (const std::string& name : kAll) {
    CAPTURE(name);
    Generator gen(3);
    models::ZooConfig z = zoo_test::tiny_zoo(gen);
    z.fused_hidden = 5;  // a head of 3 ReLUs can start dead; the check below would say so
    auto model = zoo_test::tiny_model(name, z, gen);
    model->eval();
    const std::int64_t B = 4;
    const std::vector<Tensor> xs = features(z.input_dims, B, kAligned.T, 100);
    const data::Batch batch = make_batch(z.modalities, xs, kAligned.lengths, present_of(B, 3, {{1, 2}}));
    std::vector<Tensor> inputs = model->parameters();
    for (const Tensor& x : xs) inputs.push_back(x);
    auto f = [&](const std::vector<Tensor>&) { return everything(model->forward(batch)); };
    CHECK_GRADCHECK(f, inputs);
    // no dead part: every parameter has a gradient somewhere (else the check proves little)
    for (const auto& [pname, p] : model->named_parameters()) {
      CAPTURE(pname);
      CHECK(p.grad().defined());
      if (p.grad().defined()) CHECK(max_diff(p.grad(), zeros(p.shape(), f64_opts())) > 0.0);
    }
  }
}

TEST_CASE("zoo: unaligned batches: gradcheck (TFN, LMF, late fusion); EF-LSTM and MFN refuse them by name") {
  Generator gen(4);
  models::ZooConfig z = zoo_test::tiny_zoo(gen);
  const std::int64_t B = 4;
  const std::vector<Tensor> xs = features(z.input_dims, B, kUnalignedLayout.T, 200);
  const data::Batch batch = make_batch(z.modalities, xs, kUnalignedLayout.lengths);
  for (const std::string& name : kUnaligned) {
    CAPTURE(name);
    auto model = zoo_test::tiny_model(name, z, gen);
    model->eval();
    std::vector<Tensor> inputs = model->parameters();
    for (const Tensor& x : xs) inputs.push_back(x);
    auto f = [&](const std::vector<Tensor>&) { return everything(model->forward(batch)); };
    CHECK_GRADCHECK(f, inputs);
  }
  for (const std::string name : {"ef_lstm", "mfn"}) {
    CAPTURE(name);
    auto model = zoo_test::tiny_model(name, z, gen);
    const std::string label = std::string(name) == "ef_lstm" ? "EF-LSTM" : "MFN";
    try {
      model->forward(batch);
      FAIL("an unaligned batch was accepted");
    } catch (const Error& e) {
      const std::string msg = e.message();
      CHECK(fg::test::contains(msg, label + " needs word-aligned data"));
      CHECK(fg::test::contains(msg, "unaligned"));
    }
  }
}

TEST_CASE("zoo: padding never changes an output, and each row alone (batch of 1) equals its row in the batch") {
  for (const bool aligned : {true, false}) {
    const Layout& lay = aligned ? kAligned : kUnalignedLayout;
    for (const std::string& name : aligned ? kAll : kUnaligned) {
      CAPTURE(name);
      CAPTURE(aligned);
      Generator gen(5);
      models::ZooConfig z = zoo_test::tiny_zoo(gen);
      auto model = zoo_test::tiny_model(name, z, gen);
      model->eval();
      NoGradGuard ng;
      const std::int64_t B = 4;
      const std::vector<Tensor> xs = features(z.input_dims, B, lay.T, 300);
      const Tensor ref = everything(model->forward(make_batch(z.modalities, xs, lay.lengths)));
      // three more steps of garbage on every modality
      std::vector<Tensor> padded;
      for (std::size_t m = 0; m < xs.size(); ++m)
        padded.push_back(concat({xs[m], rand_input({B, 3, z.input_dims[m]}, 400 + m, -5.0, 5.0)}, 1));
      const Tensor more = everything(model->forward(make_batch(z.modalities, padded, lay.lengths)));
      CHECK(max_diff(more, ref) < 1e-12);
      // every row alone, trimmed to its own length (aligned: the shared one)
      for (std::int64_t b = 0; b < B; ++b) {
        std::vector<Tensor> row;
        std::vector<std::vector<std::int64_t>> row_len;
        for (std::size_t l = 0; l < lay.lengths.size(); ++l) row_len.push_back({lay.lengths[l][b]});
        for (std::size_t m = 0; m < xs.size(); ++m) {
          const std::int64_t len = lay.lengths[aligned ? 0 : m][b];
          row.push_back(slice(slice(xs[m], 0, b, 1), 1, 0, len));
        }
        const Tensor one = everything(model->forward(make_batch(z.modalities, row, row_len)));
        CHECK(max_diff(one, slice(ref, 0, b, 1)) < 1e-12);
      }
    }
  }
}

TEST_CASE("zoo: a missing modality (present = 0) contributes nothing: its features never change an output") {
  for (const bool aligned : {true, false}) {
    const Layout& lay = aligned ? kAligned : kUnalignedLayout;
    for (const std::string& name : aligned ? kAll : kUnaligned) {
      CAPTURE(name);
      CAPTURE(aligned);
      Generator gen(6);
      models::ZooConfig z = zoo_test::tiny_zoo(gen);
      auto model = zoo_test::tiny_model(name, z, gen);
      model->eval();
      NoGradGuard ng;
      const std::int64_t B = 4;
      const Tensor present = present_of(B, 3, {{0, 1}, {1, 2}, {2, 0}, {3, 1}, {3, 2}});
      const std::vector<Tensor> a = features(z.input_dims, B, lay.T, 500);
      std::vector<Tensor> b = features(z.input_dims, B, lay.T, 600);  // different everywhere
      // ... except the present entries, copied from a
      const auto pv = present.to_vector<double>();
      for (std::size_t m = 0; m < 3; ++m) {
        std::vector<Tensor> rows;
        for (std::int64_t r = 0; r < B; ++r)
          rows.push_back(slice(pv[static_cast<std::size_t>(r * 3) + m] != 0.0 ? a[m] : b[m], 0, r, 1));
        b[m] = concat(rows, 0);
      }
      const models::SentimentOutput oa = model->forward(make_batch(z.modalities, a, lay.lengths, present));
      const models::SentimentOutput ob = model->forward(make_batch(z.modalities, b, lay.lengths, present));
      CHECK(max_diff(everything(oa), everything(ob)) < 1e-12);
      // and a missing modality's encoding is zero
      for (std::size_t m = 0; m < oa.encodings.size(); ++m) {
        if (!oa.encodings[m].defined()) continue;
        for (std::int64_t r = 0; r < B; ++r)
          if (pv[static_cast<std::size_t>(r * 3) + m] == 0.0)
            CHECK(max_diff(slice(oa.encodings[m], 0, r, 1), zeros({1, oa.encodings[m].size(1)}, f64_opts())) == 0.0);
      }
    }
  }
}

TEST_CASE("zoo: unaligned missing modality of length 0 gives finite outputs (TFN, LMF, late fusion)") {
  Generator gen(7);
  models::ZooConfig z = zoo_test::tiny_zoo(gen);
  const std::int64_t B = 2;
  const std::vector<Tensor> xs = features(z.input_dims, B, {3, 4, 2}, 700);
  const data::Batch batch = make_batch(z.modalities, xs, {{3, 2}, {0, 4}, {2, 0}}, present_of(B, 3, {{0, 1}, {1, 2}}));
  for (const std::string& name : kUnaligned) {
    CAPTURE(name);
    auto model = zoo_test::tiny_model(name, z, gen);
    model->eval();
    const auto v = everything(model->forward(batch)).to_vector<double>();
    for (double x : v) CHECK(std::isfinite(x));
  }
}

TEST_CASE("zoo: LMF equals TFN's full tensor product with the weight rebuilt from its factors") {
  Generator gen(8);
  models::LMFConfig c;
  c.input_dims = {4, 3, 2};
  c.hidden = {3, 2, 3};
  c.text_out = 2;
  c.rank = 3;
  c.fusion_dim = 4;
  c.dropouts = {0.0, 0.0, 0.0};
  models::LMF lmf(c, gen, f64_opts());
  lmf.eval();
  // the fused bias and weights away from their init (bias 0)
  {
    NoGradGuard ng;
    copy_(lmf.fusion_bias, rand_input({1, c.fusion_dim}, 801));
  }
  const std::int64_t B = 3;
  const std::vector<Tensor> xs = features(c.input_dims, B, {4, 4, 4}, 800);
  const data::Batch batch = make_batch(c.modalities, xs, {{4, 2, 3}}, present_of(B, 3, {{2, 1}}));
  NoGradGuard ng;
  const std::vector<Tensor> hs = lmf.subnets->forward(batch, "LMF");
  const Tensor h = lmf.fuse(hs);  // [B, d_h]

  // W[j, (k_0, k_1, k_2)] = sum_i w_i F_0[i, k_0, j] F_1[i, k_1, j] F_2[i, k_2, j], flattened with
  // the last modality fastest (tensor_fusion's order), then h_tfn = Z W^T + b.
  const std::vector<std::int64_t> n = {c.text_out + 1, c.hidden[1] + 1, c.hidden[2] + 1};
  const std::int64_t width = n[0] * n[1] * n[2], dh = c.fusion_dim;
  const auto f0 = lmf.factors[0].to_vector<double>(), f1 = lmf.factors[1].to_vector<double>(),
             f2 = lmf.factors[2].to_vector<double>(), w = lmf.fusion_weights.to_vector<double>();
  std::vector<double> W(static_cast<std::size_t>(dh * width), 0.0);
  auto at = [&](const std::vector<double>& f, std::int64_t i, std::int64_t k, std::int64_t nk, std::int64_t j) {
    return f[static_cast<std::size_t>((i * nk + k) * dh + j)];
  };
  for (std::int64_t j = 0; j < dh; ++j)
    for (std::int64_t a = 0; a < n[0]; ++a)
      for (std::int64_t b = 0; b < n[1]; ++b)
        for (std::int64_t d = 0; d < n[2]; ++d) {
          double s = 0;
          for (std::int64_t i = 0; i < c.rank; ++i)
            s += w[static_cast<std::size_t>(i)] * at(f0, i, a, n[0], j) * at(f1, i, b, n[1], j) * at(f2, i, d, n[2], j);
          W[static_cast<std::size_t>(j * width + (a * n[1] + b) * n[2] + d)] = s;
        }
  const Tensor Z = models::tensor_fusion(hs);  // TFN's fusion, [B, width]
  REQUIRE(Z.size(1) == width);
  const Tensor h_tfn = linear(Z, from_vector(W, {dh, width}, f64_opts()), reshape(lmf.fusion_bias, {dh}));
  const double err = max_diff(h, h_tfn);
  INFO("max |LMF - TFN(W)| = " << err);
  CHECK(err < 1e-12);

  // and TFN itself with that weight as post_fusion_layer_1 gives relu(h) as its first layer
  models::TFNConfig t;
  t.input_dims = c.input_dims;
  t.hidden = c.hidden;
  t.text_out = c.text_out;
  t.post_fusion_dim = dh;
  t.dropouts = {0.0, 0.0, 0.0};
  t.post_fusion_dropout = 0.0;
  Generator gen2(9);
  models::TFN tfn(t, gen2, f64_opts());
  std::map<std::string, Tensor> state;
  for (const auto& [k, v] : lmf.named_parameters())
    if (k.find("_subnet.") != std::string::npos) state[k] = v;
  state["post_fusion_layer_1.weight"] = from_vector(W, {dh, width}, f64_opts());
  state["post_fusion_layer_1.bias"] = reshape(lmf.fusion_bias, {dh});
  tfn.load_state_dict(state, /*strict=*/false);
  const Tensor y1 = relu(tfn.post_fusion_layer_1->forward(models::tensor_fusion(tfn.subnets->forward(batch, "TFN"))));
  CHECK(max_diff(y1, relu(h)) < 1e-12);
}

TEST_CASE("zoo: tensor_fusion is the flattened outer product of [1; h_m]") {
  const Tensor a = from_vector(std::vector<double>{2, 3}, {1, 2}, f64_opts());
  const Tensor b = from_vector(std::vector<double>{5}, {1, 1}, f64_opts());
  const auto z = models::tensor_fusion({a, b}).to_vector<double>();
  // [1, 2, 3] (x) [1, 5] = 1 5 2 10 3 15
  CHECK(z == std::vector<double>{1, 5, 2, 10, 3, 15});
}

TEST_CASE("zoo: registry names, errors, and the default MOSI-sized models on the embedded corpus") {
  CHECK(models::zoo_model_names() == kAll);
  Generator gen(10);
  models::ZooConfig c;
  CHECK_THROWS_WITH_AS(models::make_zoo_model("tfn", c), doctest::Contains("init_gen is null"), Error);
  c.init_gen = &gen;
  CHECK_THROWS_WITH_AS(models::make_zoo_model("nope", c), doctest::Contains("known: ef_lstm, tfn, lmf, mfn, late_fusion"),
                       Error);
  models::ZooConfig bad = c;
  bad.hidden = {1, 2};
  CHECK_THROWS_WITH_AS(models::make_zoo_model("late_fusion", bad), doctest::Contains("hidden needs one entry per modality"),
                       Error);

  data::SyntheticConfig sc;
  sc.train_size = 6;
  sc.valid_size = sc.test_size = 2;
  const data::SyntheticDataset ds = data::make_synthetic_dataset(sc);
  const data::Batch batch = data::gather_batch(ds.data.train, {0, 1, 2});
  for (const std::string& name : kAll) {
    CAPTURE(name);
    auto model = models::make_zoo_model(name, c);
    model->eval();
    NoGradGuard ng;
    const models::SentimentOutput o = model->forward(batch);
    CHECK(o.prediction.shape() == Shape{3});
    CHECK(o.z.shape() == Shape{3, model->fused_dim()});
    CHECK(o.encodings.size() == 3);
    CHECK(model->modalities() == c.modalities);
    for (double v : o.prediction.to_vector<double>()) CHECK(std::isfinite(v));
    MESSAGE(name << ": " << model->num_parameters() << " parameters, d_z = " << model->fused_dim());
  }
}

TEST_CASE("zoo: late fusion keeps the example's parameter names (<modality>_encoder.{0,3}, head.{0,3})") {
  Generator gen(11);
  models::ZooConfig c;
  c.init_gen = &gen;
  auto model = models::make_zoo_model("late_fusion", c);  // default dropout 0.1: Dropout children at 2 and 5
  std::vector<std::string> names;
  for (const auto& [k, v] : model->named_parameters()) names.push_back(k);
  const std::vector<std::string> want = {
      "text_encoder.0.weight",     "text_encoder.0.bias",     "text_encoder.3.weight",     "text_encoder.3.bias",
      "acoustic_encoder.0.weight", "acoustic_encoder.0.bias", "acoustic_encoder.3.weight", "acoustic_encoder.3.bias",
      "visual_encoder.0.weight",   "visual_encoder.0.bias",   "visual_encoder.3.weight",   "visual_encoder.3.bias",
      "head.0.weight",             "head.0.bias",             "head.3.weight",             "head.3.bias"};
  CHECK(names == want);
}

TEST_CASE("zoo: dropout acts in training mode only, drawn from ZooConfig::dropout_gen (same seed, same masks)") {
  for (const std::string& name : kAll) {
    if (name == "mfn") continue;  // tiny_mfn has no dropout; MFN's own dropout is tested in test_mfn
    CAPTURE(name);
    Generator gen(12);
    models::ZooConfig z = zoo_test::tiny_zoo(gen);
    z.dropout = 0.5;
    z.hidden = {3, 6, 6};  // widths of 2 can leave a tiny ReLU subnetwork dead, and dropout invisible
    z.dropout_gen = std::make_shared<Generator>(77);
    auto model = models::make_zoo_model(name, z);
    NoGradGuard ng;
    const std::vector<Tensor> xs = features(z.input_dims, 4, kAligned.T, 900);
    const data::Batch batch = make_batch(z.modalities, xs, kAligned.lengths);
    model->train();
    z.dropout_gen->manual_seed(77);
    const Tensor t1 = everything(model->forward(batch));
    z.dropout_gen->manual_seed(77);
    const Tensor t2 = everything(model->forward(batch));
    const Tensor t3 = everything(model->forward(batch));  // the generator moved on: new masks
    model->eval();
    const Tensor e1 = everything(model->forward(batch));
    const Tensor e2 = everything(model->forward(batch));
    CHECK(max_diff(t1, t2) == 0.0);
    CHECK(max_diff(t1, t3) > 0.0);
    CHECK(max_diff(e1, e2) == 0.0);
    CHECK(max_diff(t1, e1) > 0.0);
  }
}
