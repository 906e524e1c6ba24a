// tests/test_mfm.cpp: MFM (models/mfm.h) at tiny sizes: each ablation builds exactly the
// parameters its description says (counts from the layer formulas), the two MMD placements,
// the objective's terms per variant, float64 gradchecks of the masked MSE and of the whole
// objective (through encoders, MFN, G/D and the decoders), the harness task's named terms,
// and clear errors on bad input.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "data/synthetic.h"
#include "engine/ops.h"
#include "examples/harness/mfm_task.h"
#include "losses/hsic.h"
#include "losses/mmd.h"
#include "models/mfm.h"
#include "engine/autograd.h"
#include "support/gradcheck.h"
#include "support/reference.h"
#include "test_zoo_support.h"

using namespace fg;
using fg::testing::rand_input;

namespace {

const std::vector<std::string> kNames = {"text", "acoustic", "visual"};

models::MFMConfig tiny_config(models::MfmVariant v) {
  models::MFMConfig c;
  c.variant = v;
  c.modality_names = kNames;
  c.input_sizes = {4, 3, 2};
  c.mfn.hidden_sizes = {3, 2, 2};
  c.mfn.memory_size = 3;
  c.mfn.attention_hidden = 4;
  c.mfn.memory_hidden = 3;
  c.mfn.gamma1_hidden = 3;
  c.mfn.gamma2_hidden = 3;
  c.mfn.output_hidden = {3};
  c.mfn.attention_dropout = c.mfn.memory_dropout = c.mfn.gamma1_dropout = c.mfn.gamma2_dropout = 0;
  c.mfn.output_dropout = 0;
  c.encoder_hidden = {3, 2, 2};
  c.zy_size = 3;
  c.za_sizes = {2, 2, 3};
  c.fy_size = 2;
  c.fa_sizes = {3, 2, 2};
  c.dropout = 0;
  c.lambda_recon = {1.0, 0.01, 0.5};
  return c;
}

std::int64_t lin(std::int64_t i, std::int64_t o) { return i * o + o; }
std::int64_t lstm(std::int64_t i, std::int64_t h) { return 4 * h * i + 4 * h * h + 8 * h; }
std::int64_t g(std::int64_t z, std::int64_t f) { return lin(z, f) + lin(f, f); }

std::int64_t mfn_count(const models::MFMConfig& c, std::int64_t out) {
  models::MFNConfig m = c.mfn;
  m.modality_names = c.modality_names;
  m.input_sizes = c.input_sizes;
  m.output_size = out;
  Generator gen(0);
  return models::MFN(m, gen, TensorOptions{DType::f64}).num_parameters();
}

// The count each variant's description implies.
std::int64_t expected_count(const models::MFMConfig& c) {
  using V = models::MfmVariant;
  const V v = c.variant;
  std::int64_t n = 0;
  const bool zy = v == V::Full || v == V::A || v == V::C || v == V::E;
  const bool specific = v == V::Full || v == V::B || v == V::D;
  const bool gen = v != V::D && v != V::E;
  std::int64_t sz = 0, sf = 0;
  for (std::size_t i = 0; i < 3; ++i) sz += c.za_sizes[i], sf += c.fa_sizes[i];
  if (zy) n += mfn_count(c, c.zy_size) + g(c.zy_size, c.fy_size);
  if (v == V::A) n += mfn_count(c, sz) + g(sz, sf);
  if (specific)
    for (std::size_t i = 0; i < 3; ++i)
      n += lstm(c.input_sizes[i], c.encoder_hidden[i]) + lin(c.encoder_hidden[i], c.za_sizes[i]) +
           g(c.za_sizes[i], c.fa_sizes[i]);
  const std::int64_t head = zy ? c.fy_size : sf;
  n += lin(head, head) + lin(head, 1);
  if (gen)
    for (std::size_t i = 0; i < 3; ++i) {
      std::int64_t w = 0;
      if (v == V::Full) w = c.fy_size + c.fa_sizes[i];
      if (v == V::A) w = c.fy_size + sf;
      if (v == V::B) w = c.fa_sizes[i];
      if (v == V::C) w = c.fy_size;
      n += lstm(w, w) + lin(w, c.input_sizes[i]);
    }
  return n;
}

data::Batch tiny_batch(std::uint64_t seed, std::int64_t B = 5, std::int64_t T = 4) {
  std::vector<Tensor> xs = {rand_input({B, T, 4}, seed), rand_input({B, T, 3}, seed + 1),
                            rand_input({B, T, 2}, seed + 2)};
  std::vector<std::int64_t> lengths = {4, 2, 3, 1, 4};
  lengths.resize(static_cast<std::size_t>(B), T);
  for (auto& l : lengths) l = std::min(l, T);
  data::Batch b = zoo_test::make_batch(kNames, xs, {lengths});
  b.labels = rand_input({B}, seed + 3, -3, 3);
  return b;
}

bool has_prefix(const models::MFM& m, const std::string& p) {
  for (const auto& [name, _] : m.named_parameters())
    if (name.rfind(p, 0) == 0) return true;
  return false;
}

}  // namespace

TEST_CASE("MFM ablations: each variant builds the parameters its description says") {
  using V = models::MfmVariant;
  for (V v : models::all_mfm_variants()) {
    CAPTURE(models::mfm_variant_name(v));
    const models::MFMConfig c = tiny_config(v);
    Generator gen(1);
    models::MFM m(c, gen, TensorOptions{DType::f64});
    CHECK(m.num_parameters() == expected_count(c));
    CHECK(has_prefix(m, "mfn.") == (v == V::Full || v == V::A || v == V::C || v == V::E));
    CHECK(has_prefix(m, "mfn_a.") == (v == V::A));
    CHECK(has_prefix(m, "enc_text.") == (v == V::Full || v == V::B || v == V::D));
    CHECK(has_prefix(m, "dec_text.") == (v != V::D && v != V::E));
    CHECK(has_prefix(m, "g_y.") == c.has_zy());
    CHECK(models::parse_mfm_variant(models::mfm_variant_name(v)) == v);
  }
  // the defaults (the authors' MOSI widths) for the record
  Generator gen(1);
  CHECK(models::MFM(models::MFMConfig{}, gen).num_parameters() == expected_count(models::MFMConfig{}));
}

TEST_CASE("MFM objective: terms per variant, both MMD placements") {
  using V = models::MfmVariant;
  const data::Batch b = tiny_batch(10);
  for (V v : models::all_mfm_variants()) {
    CAPTURE(models::mfm_variant_name(v));
    models::MFMConfig c = tiny_config(v);
    Generator gen(2), prior_gen(3);
    models::MFM m(c, gen, TensorOptions{DType::f64});
    const models::MFMOutput o = m.forward_all(b);
    const auto prior = models::draw_mfm_prior(c, o, prior_gen);
    const models::MFMLoss l = models::mfm_objective(c, b, o, prior);
    std::vector<std::string> names;
    for (const auto& t : l.terms) names.push_back(t.first);
    if (c.generative()) {
      CHECK(names == std::vector<std::string>{"l1", "recon_text", "recon_acoustic", "recon_visual", "mmd"});
      CHECK(prior.size() == o.factors.size());
      // per factor (the code): the sum of one MMD per factor against its own draws
      double want = 0;
      for (std::size_t k = 0; k < prior.size(); ++k)
        want += losses::mmd_mfm(o.factors[k].second, prior[k]).item();
      CHECK(l.terms.back().second.item() == doctest::Approx(want).epsilon(1e-12));
      double total = l.terms[0].second.item() + c.lambda_mmd * want;
      for (std::size_t i = 0; i < 3; ++i) total += c.lambda_recon[i] * l.terms[1 + i].second.item();
      CHECK(l.total.item() == doctest::Approx(total).epsilon(1e-12));
      // joint (the paper): one MMD on the concatenation against one [B, sum d] draw
      c.mmd_placement = models::MmdPlacement::Joint;
      Generator pg(3);
      const auto jp = models::draw_mfm_prior(c, o, pg);
      REQUIRE(jp.size() == 1);
      std::vector<Tensor> zs;
      for (const auto& f : o.factors) zs.push_back(f.second);
      const Tensor joint = concat(zs, 1);
      CHECK(jp[0].size(1) == joint.size(1));
      const double jm = models::mfm_objective(c, b, o, jp).terms.back().second.item();
      CHECK(jm == doctest::Approx(losses::mmd_mfm(joint, jp[0]).item()).epsilon(1e-12));
      if (o.factors.size() > 1) CHECK(jm != doctest::Approx(want));
    } else {
      CHECK(names == std::vector<std::string>{"l1"});
      CHECK(o.reconstructions.empty());
    }
    CHECK(o.prediction.size(0) == 5);
  }
}

TEST_CASE("MFM: masked reconstruction MSE skips padding and missing modalities") {
  const Tensor x = rand_input({2, 3, 2}, 4), xh = rand_input({2, 3, 2}, 5);
  const Tensor w = zoo_test::mask_from({3, 1}, 3);
  const auto xv = x.to_vector<double>(), hv = xh.to_vector<double>();
  double s = 0;
  for (int k : {0, 1, 2, 3, 4, 5, 6, 7}) s += (xv[k] - hv[k]) * (xv[k] - hv[k]);  // row 0 all, row 1 step 0
  CHECK(models::masked_mse(x, xh, w).item() == doctest::Approx(s / (4 * 2)).epsilon(1e-12));
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return models::masked_mse(in[0], in[1], w); },
                  (std::vector<Tensor>{rand_input({2, 3, 2}, 6), rand_input({2, 3, 2}, 7)}));
}

TEST_CASE("gradcheck: the whole MFM objective w.r.t. the features, every generative variant and placement") {
  using V = models::MfmVariant;
  for (V v : {V::Full, V::A, V::B, V::C})
    for (auto p : {models::MmdPlacement::PerFactor, models::MmdPlacement::Joint}) {
      CAPTURE(models::mfm_variant_name(v));
      CAPTURE(models::mmd_placement_name(p));
      models::MFMConfig c = tiny_config(v);
      c.mmd_placement = p;
      Generator gen(5);
      auto m = std::make_shared<models::MFM>(c, gen, TensorOptions{DType::f64});
      m->eval();
      const data::Batch base = tiny_batch(20, 3, 3);
      Generator pg(6);
      const auto prior = models::draw_mfm_prior(c, m->forward_all(base), pg);
      CHECK_GRADCHECK(
          [&](const std::vector<Tensor>& in) {
            data::Batch b = base;
            b.features = in;
            return models::mfm_objective(c, b, m->forward_all(b), prior).total;
          },
          base.features);
    }
}

TEST_CASE("MFM harness task: named terms, generators, config keys") {
  harness::register_mfm_task();
  harness::ModelSpec spec;
  spec.modalities = kNames;
  spec.input_dims = {4, 3, 2};
  spec.config = {{"variant", "full"}, {"hidden", {3, 2, 2}}, {"memory", 3}, {"encoder_hidden", 2}, {"zy", 3},
                 {"za", {2, 2, 2}}, {"fy", 2}, {"fa", 2}};
  auto task = harness::make_task("mfm", spec);
  data::Batch b = tiny_batch(30);
  for (auto& f : b.features) f = f.to(DType::f32);
  const harness::Loss l = task->loss(b);
  std::vector<std::string> names;
  for (const auto& t : l.terms) names.push_back(t.first);
  CHECK(names == std::vector<std::string>{"l1", "recon_text", "recon_acoustic", "recon_visual", "mmd"});
  CHECK(task->generators().size() == 2);
  CHECK(task->predict(b).size(0) == 5);
  spec.config = {{"variant", "E"}};
  CHECK(harness::make_task("mfm", spec)->loss(b).terms.size() == 1);
  spec.config = {{"varient", "E"}};
  CHECK_THROWS_WITH(harness::make_task("mfm", spec), doctest::Contains("unknown model config key 'varient'"));
  spec.config = {{"za", {1, 2}}};
  CHECK_THROWS_WITH(harness::make_task("mfm", spec), doctest::Contains("'za' needs one value per modality"));
}

TEST_CASE("MFM: bad input gives clear errors") {
  CHECK_THROWS_WITH(models::parse_mfm_variant("F"), doctest::Contains("expected one of full, A, B, C, D, E"));
  CHECK_THROWS_WITH(models::parse_mmd_placement("sum"), doctest::Contains("per_factor"));
  models::MFMConfig c = tiny_config(models::MfmVariant::Full);
  c.za_sizes = {2, 2};
  Generator gen(1);
  CHECK_THROWS_WITH(models::MFM(c, gen), doctest::Contains("za_sizes has 2 entries but there are 3 modalities"));
  c = tiny_config(models::MfmVariant::Full);
  c.fy_size = 0;
  CHECK_THROWS_WITH(models::MFM(c, gen), doctest::Contains("fy_size must be positive"));
  c = tiny_config(models::MfmVariant::Full);
  models::MFM m(c, gen, TensorOptions{DType::f64});
  data::Batch b = tiny_batch(40);
  b.features[1] = rand_input({5, 4, 7}, 1);
  CHECK_THROWS_WITH(m.forward_all(b), doctest::Contains("modality 'acoustic' has 7 features per step, the model expects 3"));
  // unaligned: MFN variants refuse, B and D (no MFN) run
  const std::vector<Tensor> xs = {rand_input({2, 4, 4}, 1), rand_input({2, 6, 3}, 2), rand_input({2, 5, 2}, 3)};
  const data::Batch u = zoo_test::make_batch(kNames, xs, {{4, 2}, {6, 3}, {5, 1}});
  CHECK_THROWS_WITH(m.forward_all(u), doctest::Contains("needs word-aligned data"));
  models::MFM mb(tiny_config(models::MfmVariant::B), gen, TensorOptions{DType::f64});
  CHECK(mb.forward_all(u).reconstructions[1].size(1) == 6);
}

TEST_CASE("MFM dependency ratios: nHSIC of F_y and F_a against the time-averaged reconstructions") {
  models::MFMConfig c = tiny_config(models::MfmVariant::Full);
  const data::Batch b = tiny_batch(50);
  // a seed whose tiny ReLU factors are alive (a constant F gives nHSIC = 0 / 0)
  std::shared_ptr<models::MFM> mp;
  models::MFMOutput o;
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    Generator gen(seed);
    mp = std::make_shared<models::MFM>(c, gen, TensorOptions{DType::f64});
    mp->eval();
    o = mp->forward_all(b);
    bool live = sum(var(o.f_y, 0, 0)).item() > 1e-12;
    for (const Tensor& f : o.f_a) live = live && sum(var(f, 0, 0)).item() > 1e-12;
    if (live) break;
  }
  const models::MfmRatios r = models::mfm_dependency_ratios(c, b, o, 1.0);
  REQUIRE(r.ratio.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    const Tensor xbar = models::masked_time_mean(o.reconstructions[i], b.mask);
    CHECK(r.dep_y[i] == doctest::Approx(losses::normalized_hsic(o.f_y, xbar, 1.0, 1.0).item()));
    CHECK(r.dep_a[i] == doctest::Approx(losses::normalized_hsic(o.f_a[i], xbar, 1.0, 1.0).item()));
    CHECK(r.ratio[i] == doctest::Approx(r.dep_y[i] / r.dep_a[i]));
    CHECK(std::isfinite(r.ratio[i]));
  }
  CHECK_THROWS_WITH(models::mfm_dependency_ratios(tiny_config(models::MfmVariant::E), b, o),
                    doctest::Contains("variant full or A"));
}

TEST_CASE("MFM gradient flow (eq. 7): exact forward-mode values against central finite differences") {
  for (auto v : {models::MfmVariant::Full, models::MfmVariant::A}) {
    CAPTURE(models::mfm_variant_name(v));
    models::MFMConfig c = tiny_config(v);
    Generator gen(11);
    models::MFM m(c, gen, TensorOptions{DType::f64});
    m.eval();
    const data::Batch b = tiny_batch(60);
    const std::int64_t T = 4;
    const models::MFMOutput o = m.forward_all(b);
    const std::vector<Tensor> flow = models::mfm_gradient_flow(m, o, T);
    REQUIRE(flow.size() == 3);
    NoGradGuard ng;
    const double eps = 1e-6;
    for (std::size_t i = 0; i < 3; ++i) {
      CAPTURE(i);
      const Tensor fa = v == models::MfmVariant::A ? o.f_a[0] : o.f_a[i];
      Tensor fd;
      for (std::int64_t k = 0; k < c.fy_size; ++k) {
        std::vector<double> e(static_cast<std::size_t>(5 * c.fy_size), 0.0);
        for (std::int64_t r = 0; r < 5; ++r) e[static_cast<std::size_t>(r * c.fy_size + k)] = eps;
        const Tensor de = from_vector(e, {5, c.fy_size}, f64_opts());
        const Tensor xp = m.decode(i, concat({o.f_y + de, fa}, 1), T);
        const Tensor xm = m.decode(i, concat({o.f_y - de, fa}, 1), T);
        const Tensor col = (xp - xm) / (2 * eps);
        const Tensor sq = sum(col * col, 2);  // [B, T]
        fd = fd.defined() ? fd + sq : sq;
      }
      REQUIRE(flow[i].shape() == fd.shape());
      CHECK(sum(abs(flow[i])).item() > 0);
      CHECK(testing::relative_error(flow[i], fd) < 1e-6);
    }
  }
  Generator gen(1);
  models::MFM e(tiny_config(models::MfmVariant::C), gen, TensorOptions{DType::f64});
  CHECK_THROWS_WITH(models::mfm_gradient_flow(e, e.forward_all(tiny_batch(61)), 4), doctest::Contains("variant full or A"));
}

TEST_CASE("interpretation vs the synthetic construction: the truth's peak is the bump's argmax; implied shares; flow-peak hits") {
  // Without nuisance and noise, x_t = e gamma h_t a A z: |x_t| is proportional to h_t, so its
  // argmax over the valid steps is the bump's centre lround(peak * L) (where the modality expresses).
  data::SyntheticConfig c;
  c.train_size = 40, c.valid_size = 2, c.test_size = 2;
  for (auto& m : c.modalities) m.noise_std = 0, m.nuisance_scale = 0;
  const data::SyntheticDataset d = data::make_synthetic_dataset(c);
  const auto peak = d.train_truth.peak.to_vector<float>(), width = d.train_truth.peak_width.to_vector<float>();
  const auto expr = d.train_truth.expression.to_vector<float>();
  const auto len = d.data.train.lengths.to_vector<std::int64_t>();
  const Tensor& x = d.data.train.features[1];  // acoustic [N, T, 5]
  const std::int64_t T = x.size(1), D = x.size(2);
  const auto v = x.to_vector<float>();
  int checked = 0;
  for (std::int64_t i = 0; i < 40; ++i) {
    CHECK(peak[i] >= 0.2f);
    CHECK(peak[i] <= 0.8f);
    CHECK(width[i] >= 0.15f);
    CHECK(width[i] <= 0.35f);
    if (expr[i * 3 + 1] == 0) continue;
    std::int64_t arg = 0;
    double best = -1;
    for (std::int64_t t = 0; t < len[i]; ++t) {
      double n2 = 0;
      for (std::int64_t k = 0; k < D; ++k) n2 += double(v[(i * T + t) * D + k]) * v[(i * T + t) * D + k];
      if (n2 > best) best = n2, arg = t;
    }
    CHECK(arg == std::clamp<std::int64_t>(std::lround(peak[i] * double(len[i])), 0, len[i] - 1));
    ++checked;
  }
  CHECK(checked >= 30);

  // the implied shares by hand for the defaults (w = 1, .8, .7, .6, .6, .5; |w|^2 = 3.1; Lbar = 35)
  const auto implied = models::mfm_synthetic_implied(data::SyntheticConfig{});
  REQUIRE(implied.sentiment_share.size() == 3);
  CHECK(implied.coverage[0] == doctest::Approx(2.49 / 3.1));
  CHECK(implied.coverage[1] == doctest::Approx(1.00 / 3.1));
  CHECK(implied.coverage[2] == doctest::Approx(1.10 / 3.1));
  CHECK(implied.sentiment_share[0] == doctest::Approx(2.49 / 3.1 / 4 / (2 + 9.0 / 35)));
  CHECK(implied.sentiment_share[1] == doctest::Approx(1.00 / 3.1 / 2 / (2 + 2.25 / 35)));
  CHECK(implied.sentiment_share[2] == doctest::Approx(1.10 / 3.1 / 3 / (2 + 4.0 / 35)));

  // flow-peak check on constructed flows: row 0 peaks at its truth (hit), row 1 at step 0
  // (miss), row 2 two steps off (hit with k = 2, miss with k = 1)
  const Tensor flow = from_vector(std::vector<double>{0, 1, 5, 1, 0, 0, 0, 0, 0, 0,  //
                                                      9, 1, 1, 1, 1, 1, 1, 1, 1, 1,  //
                                                      0, 0, 0, 0, 0, 0, 0, 7, 0, 0},
                                  {3, 10}, TensorOptions{DType::f64});
  const std::vector<std::int64_t> L = {10, 10, 10};
  const std::vector<double> p = {0.2, 0.5, 0.5};  // steps 2, 5, 5
  const auto k2 = models::mfm_flow_peak_check(flow, L, p, 2), k1 = models::mfm_flow_peak_check(flow, L, p, 1);
  CHECK(k2.hit_rate == doctest::Approx(2.0 / 3));
  CHECK(k1.hit_rate == doctest::Approx(1.0 / 3));
  CHECK(k2.chance == doctest::Approx(5.0 / 10));  // 5 of 10 steps within 2 of step 2 or 5
  CHECK(k1.chance == doctest::Approx(3.0 / 10));
  CHECK(k2.mean_argmax_fraction == doctest::Approx((0.2 + 0.0 + 0.7) / 3));
  CHECK(k2.mean_peak_fraction == doctest::Approx(0.4));
  CHECK_THROWS_WITH(models::mfm_flow_peak_check(flow, {10, 10}, p, 2), doctest::Contains("3 rows but 2 lengths"));
  CHECK_THROWS_WITH(models::mfm_flow_peak_check(flow, {10, 11, 10}, p, 2), doctest::Contains("row 1 has length 11"));
}
