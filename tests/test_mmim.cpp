// tests/test_mmim.cpp: MMIM (models/mmim.h) and its two-stage training (examples/harness/mmim_task.h).
//   - every term and every parameter's gradient of L_main (stage 2) and L_lld (stage 1) against
//     the same model in PyTorch from identical weights (tests/reference/mmim_torch_check.py),
//     float64, tiny sizes, both lld forms and both CPC normalisations;
//   - a gradcheck of the paper's CPC normalisation (the one new differentiable piece);
//   - Algorithm 1: stage 1 changes only the predictors q, stage 2 never changes them;
//   - the GMM memory: FIFO over batches, and a class too small for a covariance falls back to
//     H = 0 (counted) instead of NaN, also at batch 2;
//   - bad input: clear errors.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/optim/adam.h"
#include "engine/serialize/safetensors.h"
#include "examples/harness/mmim_task.h"
#include "examples/harness/trainer.h"
#include "models/mmim.h"
#include "support/gradcheck.h"
#include "support/test_util.h"

#ifndef FG_PYTHON
#define FG_PYTHON "python3"
#endif

using namespace fg;
using fg::test::contains;
using fg::test::error_of;
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kVocab = 20, kHidden = 8, kA = 3, kV = 2;

struct Tiny {
  models::MmimConfig config;
  std::shared_ptr<models::Mmim> model;
};

Tiny tiny_model(std::uint64_t seed = 1, models::MmimConfig c = {}) {
  models::BertConfig b;
  b.vocab_size = kVocab, b.hidden_size = kHidden, b.num_hidden_layers = 1, b.num_attention_heads = 2;
  b.intermediate_size = 12, b.max_position_embeddings = 16, b.hidden_dropout_prob = 0,
  b.attention_probs_dropout_prob = 0;
  b.initializer_range = 0.5;
  Generator g(seed);
  auto bert = std::make_shared<models::BertModel>(b, g, f64_opts());
  c.acoustic_dim = kA, c.visual_dim = kV, c.rnn_hidden = 5, c.encoder_out = 4, c.fusion_dim = 6;
  c.encoder_dropout = c.fusion_dropout = 0;
  auto m = std::make_shared<models::Mmim>(c, bert, g, f64_opts());
  return {c, m};
}

// n rows: text_bert [n, 6, 3], acoustic [n, 5, 3], visual [n, 4, 2], own lengths; labels with
// both signs and some zeros.
data::MultimodalSplit tiny_split(std::int64_t n, std::uint64_t seed = 7, std::vector<float> labels = {}) {
  data::MultimodalSplit s;
  s.name = "train";
  s.modality_names = {"text_bert", "acoustic", "visual"};
  Generator g(seed);
  const std::int64_t T[3] = {6, 5, 4}, D[3] = {3, kA, kV};
  for (int m = 0; m < 3; ++m) {
    std::vector<std::int64_t> lens;
    std::vector<float> v(static_cast<std::size_t>(n * T[m] * D[m]), 0.0f);
    const Tensor r = rand({n, T[m], D[m]}, g);
    const auto rv = r.to_vector<double>();
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t len = m == 0 ? 3 + (i * 7 + 1) % 4 : 1 + (i * 5 + m) % T[m];
      lens.push_back(len);
      for (std::int64_t t = 0; t < len; ++t)
        for (std::int64_t j = 0; j < D[m]; ++j) {
          const std::size_t k = static_cast<std::size_t>((i * T[m] + t) * D[m] + j);
          if (m == 0) v[k] = j == 0 ? static_cast<float>(t == 0 ? 1 : 2 + (i * 3 + t * 5) % (kVocab - 2)) : j == 1 ? 1.0f : 0.0f;
          else v[k] = static_cast<float>(2 * rv[k] - 1);
        }
    }
    s.features.push_back(from_vector(v, {n, T[m], D[m]}));
    s.modality_lengths.push_back(from_vector(lens, {n}, TensorOptions{DType::i64}));
    s.modality_masks.push_back(data::mask_from_lengths(s.modality_lengths.back(), T[m]));
  }
  if (labels.empty())
    for (std::int64_t i = 0; i < n; ++i) labels.push_back(i % 5 == 4 ? 0.0f : (i % 2 ? -1.0f : 1.0f) * (0.3f + i % 3));
  s.labels = from_vector(labels, {n});
  s.validate();
  return s;
}

data::Batch all_rows(const data::MultimodalSplit& s) {
  std::vector<std::int64_t> rows;
  for (std::int64_t i = 0; i < s.size(); ++i) rows.push_back(i);
  return data::gather_batch(s, rows, false);
}

std::map<std::string, Tensor> snapshot(const nn::Module& m) {
  std::map<std::string, Tensor> out;
  for (const auto& [k, v] : m.named_parameters()) out[k] = v.detach().to(DType::f64) * 1.0;
  return out;
}

}  // namespace

TEST_CASE("mmim: terms and every gradient match PyTorch from identical weights (float64)") {
  if (!FG_HAVE_TORCH) FAIL("PyTorch is missing: " FG_PYTHON " could not import torch when this build was configured");
  struct Variant {
    losses::LogLikelihoodForm form;
    models::CpcNormalization cpc;
    bool drop_zero;
    const char* name;
  };
  for (const Variant& var : {Variant{losses::LogLikelihoodForm::Full, models::CpcNormalization::Code, false, "paper-lld/code-cpc"},
                             Variant{losses::LogLikelihoodForm::MmimCode, models::CpcNormalization::Paper, true,
                                     "code-lld/paper-cpc/drop-zero"}}) {
    CAPTURE(var.name);
    models::MmimConfig c;
    c.lld_form = var.form, c.cpc = var.cpc, c.drop_zero_labels = var.drop_zero;
    Tiny t = tiny_model(3, c);
    t.model->eval();  // no dropout anywhere (all 0 anyway)
    const data::MultimodalSplit s = tiny_split(9);
    const data::Batch b = all_rows(s);
    const double alpha = 0.3, beta = 0.7;
    std::map<std::string, Tensor> io;
    for (const auto& [k, v] : t.model->named_parameters()) io["w." + k] = v.detach();
    io["in.text_bert"] = b.modality("text_bert");
    io["in.acoustic"] = b.modality("acoustic");
    io["in.visual"] = b.modality("visual");
    io["in.acoustic_len"] = b.modality_lengths[1];
    io["in.visual_len"] = b.modality_lengths[2];
    io["in.labels"] = b.labels;
    const nlohmann::json cfg = {{"hidden", kHidden}, {"layers", 1}, {"heads", 2}, {"intermediate", 12},
                                {"vocab", kVocab}, {"max_pos", 16}, {"acoustic_dim", kA}, {"visual_dim", kV},
                                {"rnn_hidden", 5}, {"encoder_out", 4}, {"fusion_dim", 6},
                                {"lld_form", var.form == losses::LogLikelihoodForm::Full ? "full" : "code"},
                                {"cpc", var.cpc == models::CpcNormalization::Code ? "code" : "paper"},
                                {"drop_zero", var.drop_zero}, {"alpha", alpha}, {"beta", beta}};
    const fs::path dir = fs::temp_directory_path() / fmt::format("fg_mmim_ref_{}", ::getpid());
    fs::create_directories(dir);
    save_safetensors((dir / "in.safetensors").string(), io, {{"config", cfg.dump()}});
    const std::string cmd = fmt::format("{} {}/tests/reference/mmim_torch_check.py {} {}", FG_PYTHON, FG_SOURCE_DIR,
                                        (dir / "in.safetensors").string(), (dir / "out.safetensors").string());
    REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, cmd);
    const auto ref = load_safetensors((dir / "out.safetensors").string()).tensors;
    fs::remove_all(dir);

    // stage 2: L_main
    harness::MmimTaskOptions o;
    o.alpha = alpha, o.beta = beta;
    harness::MmimTask task(t.model, o);
    t.model->train();
    const harness::Loss l = task.loss(b);
    double worst_term = 0, worst_grad = 0;
    for (const auto& [name, v] : l.terms) {
      if (!ref.count("out." + name)) continue;
      const double e = std::abs(v.item() - ref.at("out." + name).item()) / std::max(1.0, std::abs(v.item()));
      CHECK_MESSAGE(e < 1e-9, name, " ours ", v.item(), " torch ", ref.at("out." + name).item());
      worst_term = std::max(worst_term, e);
    }
    CHECK(std::abs(l.total.item() - ref.at("out.total").item()) < 1e-9 * std::max(1.0, std::abs(l.total.item())));
    l.total.backward();
    int compared = 0;
    for (const auto& [name, p] : t.model->named_parameters()) {
      const auto it = ref.find("g2." + name);
      if (it == ref.end()) {  // no gradient in PyTorch (the pooler): none or zero here
        if (p.grad().defined()) CHECK_MESSAGE(fg::test::max_abs_diff(p.grad(), p.grad() * 0.0) == 0, name);
        continue;
      }
      REQUIRE_MESSAGE(p.grad().defined(), name);
      const double e = fg::test::max_abs_diff(p.grad(), it->second) / std::max(1.0, fg::test::max_abs_diff(it->second, it->second * 0.0));
      CHECK_MESSAGE(e < 1e-8, name, " relative error ", e);
      worst_grad = std::max(worst_grad, e);
      ++compared;
    }
    CHECK(compared > 40);
    // stage 1: L_lld's gradients reach only q
    for (const Tensor& p : t.model->parameters()) p.zero_grad();
    std::vector<Tensor> h;
    {
      NoGradGuard ng;
      h = t.model->encode(b);
    }
    const Tensor s1 = neg(t.model->log_likelihood(h[0], h[1], h[2]));
    CHECK(std::abs(s1.item() - ref.at("out.stage1").item()) < 1e-9 * std::max(1.0, std::abs(s1.item())));
    s1.backward();
    for (const auto& [name, p] : t.model->named_parameters()) {
      const auto it = ref.find("g1." + name);
      if (it == ref.end()) continue;
      const double e = fg::test::max_abs_diff(p.grad(), it->second) / std::max(1.0, fg::test::max_abs_diff(it->second, it->second * 0.0));
      CHECK_MESSAGE(e < 1e-8, name, " stage 1 relative error ", e);
      worst_grad = std::max(worst_grad, e);
    }
    MESSAGE(fmt::format("{}: worst term error {:.2e}, worst gradient error {:.2e} over {} parameters", var.name,
                        worst_term, worst_grad, compared));
  }
}

TEST_CASE("mmim: gradcheck of the paper's CPC normalisation (eq. 11)") {
  Generator g(5);
  losses::CpcLoss cpc(4, 3, g, 1.0, f64_opts());
  const Tensor z = fg::testing::rand_input({5, 4}, 11), h = fg::testing::rand_input({5, 3}, 12);
  auto f = [&](const std::vector<Tensor>& in) {
    const Tensor hn = losses::l2_normalize(in[1], -1), pn = losses::l2_normalize(cpc.predictor->forward(in[0]), -1);
    return neg(mean(sum(pn * hn, 1) - logsumexp(matmul(pn, transpose(hn, 0, 1)), 1)));
  };
  // the same expression as the model's (checked against PyTorch above); here its gradient numerically
  const auto r = fg::testing::gradcheck(f, {z, h});
  CHECK_MESSAGE(r.ok, r.report);
}

TEST_CASE("mmim: stage 1 changes only the predictors q, stage 2 never changes them (Algorithm 1)") {
  Tiny t = tiny_model(4);
  const data::MultimodalSplit s = tiny_split(16);
  harness::MmimTaskOptions o;
  o.stage1_split = &s, o.batch_size = 8, o.lr_bert = 1e-3;
  harness::MmimTask task(t.model, o);
  REQUIRE(task.steps_per_epoch() == 2);
  std::set<std::string> q;
  for (const auto& [k, v] : t.model->q_tv->named_parameters()) q.insert("q_tv." + k);
  for (const auto& [k, v] : t.model->q_ta->named_parameters()) q.insert("q_ta." + k);
  auto changed = [](const std::map<std::string, Tensor>& a, const std::map<std::string, Tensor>& b) {
    std::set<std::string> out;
    for (const auto& [k, v] : a)
      if (fg::test::max_abs_diff(v, b.at(k)) > 0) out.insert(k);
    return out;
  };
  // stage 1 alone
  auto before = snapshot(*t.model);
  task.stage1_step(all_rows(s), 1.0);
  auto after = snapshot(*t.model);
  const auto c1 = changed(before, after);
  CHECK(c1 == q);  // every q parameter moved, nothing else
  // a full step of epoch 1 runs stage 1 over D_sub then stage 2; the second step is stage 2 only
  optim::Adam main_opt(t.model->main_parameters(), optim::AdamOptions{});
  harness::StepContext ctx{main_opt, 1.0, [](const std::string&, double v) { REQUIRE(std::isfinite(v)); }};
  std::vector<std::int64_t> rows = {0, 1, 2, 3, 4, 5, 6, 7};
  task.train_step(data::gather_batch(s, rows), ctx);
  before = snapshot(*t.model);
  rows = {8, 9, 10, 11, 12, 13, 14, 15};
  const harness::StepOutput out = task.train_step(data::gather_batch(s, rows), ctx);
  after = snapshot(*t.model);
  const auto c2 = changed(before, after);
  for (const auto& k : q) CHECK_MESSAGE(!c2.count(k), k);
  CHECK(c2.count("fusion_1.weight"));
  CHECK(c2.count("bert.encoder.layer.0.attention.self.query.weight"));
  CHECK(c2.count("cpc_t.net.weight"));
  CHECK(c2.count("acoustic_rnn.weight_ih_l0"));
  CHECK(!c2.count("entropy_prj_v.weight"));  // as in the authors' code: in q's group, no L_lld gradient
  bool has_l1 = false;
  for (const auto& [k, v] : out.terms) has_l1 = has_l1 || k == "l1";
  CHECK(has_l1);
  // the next step starts epoch 2: stage 1 runs again and moves q
  before = snapshot(*t.model);
  rows = {0, 1, 2, 3, 4, 5, 6, 7};
  task.train_step(data::gather_batch(s, rows), ctx);
  after = snapshot(*t.model);
  CHECK(changed(before, after).count("q_tv.mlp_mu.0.weight"));
}

TEST_CASE("mmim: the GMM memory is a FIFO of --memory batches, a small class falls back to H = 0, never NaN") {
  models::MmimConfig c;
  c.memory_batches = 2;
  Tiny t = tiny_model(6, c);
  const data::MultimodalSplit s = tiny_split(12);
  std::vector<std::int64_t> r1 = {0, 1, 2, 3}, r2 = {4, 5, 6, 7}, r3 = {8, 9, 10, 11};
  const data::Batch b1 = data::gather_batch(s, r1), b2 = data::gather_batch(s, r2), b3 = data::gather_batch(s, r3);
  // k = 1 (encoder_out 4 / 4): a class needs > 1 row. b1 has 2 non-negative, 2 negative? count via the model's terms
  auto o1 = t.model->forward(b1);
  const models::MmimTerms t_empty = t.model->terms(b1, o1);
  t.model->remember(b1, o1);
  CHECK(t.model->memory_size() == 1);
  t.model->remember(b2, t.model->forward(b2));
  CHECK(t.model->memory_size() == 2);
  t.model->remember(b3, t.model->forward(b3));
  CHECK(t.model->memory_size() == 2);  // the oldest dropped
  // with memory the estimate differs from the batch-only one
  const models::MmimTerms t_mem = t.model->terms(b1, o1);
  CHECK(std::isfinite(t_mem.h_v.item()));
  CHECK(t_mem.h_skipped == 0);
  CHECK(t_mem.h_v.item() != doctest::Approx(t_empty.h_v.item()).epsilon(1e-12));
  // equals GmmEntropy on memory (b2, b3) + b1 computed directly
  losses::GmmEntropy ref(losses::GmmEntropyOptions{2, 1e-6, true});
  for (const data::Batch* b : {&b2, &b3}) {
    auto o = t.model->forward(*b);
    ref.remember(tanh(t.model->entropy_prj_v->forward(o.encodings[2])), b->labels.to(DType::f64));
  }
  const double want = ref.estimate(tanh(t.model->entropy_prj_v->forward(o1.encodings[2])), b1.labels.to(DType::f64)).item();
  CHECK(t_mem.h_v.item() == doctest::Approx(want).epsilon(1e-12));
  t.model->clear_memory();
  CHECK(t.model->memory_size() == 0);
  // batch 2, one class absent: documented fallback
  const data::MultimodalSplit two = tiny_split(2, 9, {1.0f, 2.0f});
  const data::Batch bb = all_rows(two);
  auto ob = t.model->forward(bb);
  const models::MmimTerms tb = t.model->terms(bb, ob);
  CHECK(tb.h_skipped == 2);
  CHECK(tb.h_v.item() == 0.0);
  for (const Tensor& v : {tb.lld_tv, tb.lld_ta, tb.cpc_t, tb.cpc_a, tb.cpc_v}) CHECK(std::isfinite(v.item()));
  // a full training step at batch 2 stays finite
  harness::MmimTask task(t.model, {});
  optim::Adam main_opt(t.model->main_parameters(), optim::AdamOptions{});
  harness::StepContext ctx{main_opt, 1.0, [](const std::string& k, double v) { REQUIRE_MESSAGE(std::isfinite(v), k); }};
  const auto out = task.train_step(bb, ctx);
  CHECK(std::isfinite(out.total));
}

TEST_CASE("mmim: bad input gives clear errors") {
  Tiny t = tiny_model(8);
  data::MultimodalSplit s = tiny_split(4);
  // text_bert of the wrong width
  data::MultimodalSplit bad = s;
  bad.features[0] = slice(s.features[0], 2, 0, 2);
  CHECK(contains(error_of([&] { t.model->forward(all_rows(bad)); }), "text_bert"));
  // a modality missing
  data::MultimodalSplit no_v = s;
  no_v.modality_names[2] = "video";
  CHECK(contains(error_of([&] { t.model->forward(all_rows(no_v)); }), "visual"));
  // an empty sequence
  data::MultimodalSplit empty = s;
  empty.modality_lengths[1] = from_vector(std::vector<std::int64_t>{0, 1, 2, 3}, {4}, TensorOptions{DType::i64});
  empty.modality_masks[1] = data::mask_from_lengths(empty.modality_lengths[1], 5);
  CHECK(contains(error_of([&] { t.model->forward(all_rows(empty)); }), "length 0"));
  // bad configs
  models::MmimConfig c;
  c.memory_batches = -1;
  CHECK(contains(error_of([&] { tiny_model(1, c); }), "--memory"));
  c = {};
  c.encoder_out = 3;
  CHECK(contains(error_of([&] { c.validate(); }), "encoder_out"));
  harness::MmimTaskOptions o;
  o.alpha = -1;
  CHECK(contains(error_of([&] { harness::MmimTask(t.model, o); }), "alpha"));
}

TEST_CASE("mmim: each ablation flag removes exactly its term") {
  const data::MultimodalSplit s = tiny_split(12);
  const data::Batch b = all_rows(s);
  auto run = [&](const std::function<void(models::MmimConfig&)>& edit) {
    models::MmimConfig c;
    edit(c);
    Tiny t = tiny_model(9, c);
    auto out = t.model->forward(b);
    return t.model->terms(b, out);
  };
  const models::MmimTerms full = run([](models::MmimConfig&) {});
  for (const Tensor& v : {full.lld_tv, full.lld_ta, full.h_v, full.h_a, full.cpc_t, full.cpc_a, full.cpc_v})
    CHECK(v.item() != 0.0);
  struct Row {
    std::function<void(models::MmimConfig&)> edit;
    std::vector<int> zeroed;  // indices into {lld_tv, lld_ta, h_v, h_a, cpc_t, cpc_a, cpc_v}
  };
  const std::vector<Row> rows = {{[](auto& c) { c.use_ba_tv = false; }, {0, 2}},
                                 {[](auto& c) { c.use_ba_ta = false; }, {1, 3}},
                                 {[](auto& c) { c.use_cpc_t = false; }, {4}},
                                 {[](auto& c) { c.use_cpc_a = false; }, {5}},
                                 {[](auto& c) { c.use_cpc_v = false; }, {6}}};
  for (const Row& r : rows) {
    const models::MmimTerms t = run(r.edit);
    const Tensor a[7] = {t.lld_tv, t.lld_ta, t.h_v, t.h_a, t.cpc_t, t.cpc_a, t.cpc_v};
    const Tensor f[7] = {full.lld_tv, full.lld_ta, full.h_v, full.h_a, full.cpc_t, full.cpc_a, full.cpc_v};
    for (int i = 0; i < 7; ++i) {
      const bool zero = std::find(r.zeroed.begin(), r.zeroed.end(), i) != r.zeroed.end();
      if (zero) CHECK(a[i].item() == 0.0);
      else CHECK(a[i].item() == doctest::Approx(f[i].item()).epsilon(1e-12));  // same weights: same value
    }
  }
}

TEST_CASE("mmim: trains through the harness fit(), whose checkpoint holds both extra optimizers and the stage counter") {
  Tiny t = tiny_model(10);
  const data::MultimodalSplit train = tiny_split(16, 21);
  data::MultimodalSplit valid = tiny_split(8, 22);
  valid.name = "valid";
  harness::MmimTaskOptions o;
  o.stage1_split = &train, o.batch_size = 8;
  harness::MmimTask task(t.model, o);
  const fs::path ckpt = fs::temp_directory_path() / fmt::format("fg_mmim_fit_{}.safetensors", ::getpid());
  harness::TrainOptions to;
  to.epochs = 2, to.batch_size = 8, to.quiet = true, to.clip = 1.0, to.checkpoint = ckpt.string();
  std::ostringstream log;
  const harness::FitResult r = harness::fit(task, train, valid, to, log);
  CHECK(r.history.size() == 2);
  CHECK(r.step_losses.size() == 4);
  for (double v : r.step_losses) CHECK(std::isfinite(v));
  CHECK(r.history[0].train_terms.count("cpc"));
  CHECK(r.history[0].train_terms.count("lld_tv"));
  const auto f = load_safetensors(ckpt.string());
  fs::remove(ckpt);
  bool pred = false, bert = false;
  for (const auto& [k, v] : f.tensors) {
    pred = pred || k.rfind("extra/predictors/", 0) == 0;
    bert = bert || k.rfind("extra/bert/", 0) == 0;
  }
  CHECK(pred);
  CHECK(bert);
  REQUIRE(f.tensors.count("model/mmim_task_steps"));
  CHECK(f.tensors.at("model/mmim_task_steps").item() == 4.0);
}

TEST_CASE("mmim: the single-Gaussian ablation's H is 1/2 log det of all rows' covariance (+ the constant)") {
  models::MmimConfig c;
  c.single_gaussian = true;
  Tiny u = tiny_model(12, c);  // encoder_out 4: k = 1
  const data::MultimodalSplit s = tiny_split(10);
  const data::Batch b = all_rows(s);
  auto out = u.model->forward(b);
  const models::MmimTerms terms = u.model->terms(b, out);
  const Tensor p = tanh(u.model->entropy_prj_v->forward(out.encodings[2]));
  const double k = static_cast<double>(p.size(1));
  const double want = 0.5 * logdet_spd(losses::covariance(p), 1e-6).item() + 0.5 * k * (1.0 + std::log(2 * M_PI));
  CHECK(terms.h_v.item() == doctest::Approx(want).epsilon(1e-10));
  CHECK(terms.h_skipped == 0);
  // and its gradient reaches the encodings
  terms.h_v.backward();
  CHECK(u.model->visual_out->weight.grad().defined());
}
