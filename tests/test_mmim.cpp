// tests/test_mmim.cpp: MMIM (models/mmim.h) and its two-stage training (examples/harness/mmim_task.h).
//   - every term and every parameter's gradient of L_main (stage 2) and L_lld (stage 1) against
//     the same model in PyTorch from identical weights (tests/reference/mmim_torch_check.py),
//     float64, tiny sizes, both lld forms and both CPC normalisations;
//   - a gradcheck of the paper's CPC normalisation (the one new differentiable piece);
//   - Algorithm 1: stage 1 changes only the predictors q, stage 2 never changes them;
//   - the GMM memory: FIFO over batches, and a class too small for a covariance falls back to
//     H = 0 (counted) instead of NaN, also at batch 2;
//   - Table 4's BA rows (pairs removed or replaced by v->a): exactly which terms and
//     parameters exist; the LSTM text encoder (corpora without word pieces);
//   - the memory's FIFO across epochs and its checkpoint: --resume is bitwise;
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

// The LSTM text encoder's sizes in the tiny model (text = the tiny split's "text" modality).
constexpr std::int64_t kTextDim = 3, kTextHidden = 6;

Tiny tiny_model(std::uint64_t seed = 1, models::MmimConfig c = {}) {
  models::BertConfig b;
  b.vocab_size = kVocab, b.hidden_size = kHidden, b.num_hidden_layers = 1, b.num_attention_heads = 2;
  b.intermediate_size = 12, b.max_position_embeddings = 16, b.hidden_dropout_prob = 0,
  b.attention_probs_dropout_prob = 0;
  b.initializer_range = 0.5;
  Generator g(seed);
  std::shared_ptr<models::BertModel> bert;
  if (c.text_encoder == models::TextEncoder::Bert) bert = std::make_shared<models::BertModel>(b, g, f64_opts());
  else c.text = "text", c.text_dim = kTextDim, c.text_hidden = kTextHidden;
  c.acoustic_dim = kA, c.visual_dim = kV, c.rnn_hidden = 5, c.encoder_out = 4, c.fusion_dim = 6;
  c.encoder_dropout = c.fusion_dropout = 0;
  auto m = std::make_shared<models::Mmim>(c, bert, g, f64_opts());
  return {c, m};
}

// n rows: text_bert [n, 6, 3], acoustic [n, 5, 3], visual [n, 4, 2], text [n, 6, 3] (features
// for the LSTM text encoder), own lengths; labels with both signs and some zeros.
data::MultimodalSplit tiny_split(std::int64_t n, std::uint64_t seed = 7, std::vector<float> labels = {}) {
  data::MultimodalSplit s;
  s.name = "train";
  s.modality_names = {"text_bert", "acoustic", "visual", "text"};
  Generator g(seed);
  const std::int64_t T[4] = {6, 5, 4, 6}, D[4] = {3, kA, kV, kTextDim};
  for (int m = 0; m < 4; ++m) {
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
    bool text_lstm = false;                      // the LSTM text encoder instead of BERT
    std::vector<std::string> pairs = {"tv", "ta"};  // the BA pairs in use (Table 4's rows)
  };
  for (const Variant& var : {Variant{losses::LogLikelihoodForm::Full, models::CpcNormalization::Code, false, "paper-lld/code-cpc"},
                             Variant{losses::LogLikelihoodForm::MmimCode, models::CpcNormalization::Paper, true,
                                     "code-lld/paper-cpc/drop-zero"},
                             Variant{losses::LogLikelihoodForm::Full, models::CpcNormalization::Code, false,
                                     "lstm-text/pairs t->v + v->a", true, {"tv", "va"}}}) {
    CAPTURE(var.name);
    models::MmimConfig c;
    c.lld_form = var.form, c.cpc = var.cpc, c.drop_zero_labels = var.drop_zero;
    auto uses = [&](const char* p) { return std::find(var.pairs.begin(), var.pairs.end(), p) != var.pairs.end(); };
    c.use_ba_tv = uses("tv"), c.use_ba_ta = uses("ta"), c.use_ba_va = uses("va");
    if (var.text_lstm) c.text_encoder = models::TextEncoder::Lstm;
    Tiny t = tiny_model(3, c);
    t.model->eval();  // no dropout anywhere (all 0 anyway)
    const data::MultimodalSplit s = tiny_split(9);
    const data::Batch b = all_rows(s);
    const double alpha = 0.3, beta = 0.7;
    std::map<std::string, Tensor> io;
    for (const auto& [k, v] : t.model->named_parameters()) io["w." + k] = v.detach();
    io["in.text_bert"] = b.modality("text_bert");
    io["in.text"] = b.modality("text");
    io["in.text_len"] = b.modality_lengths[3];
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
                                {"drop_zero", var.drop_zero}, {"alpha", alpha}, {"beta", beta},
                                {"text_encoder", var.text_lstm ? "lstm" : "bert"}, {"text_dim", kTextDim},
                                {"text_hidden", kTextHidden}, {"pairs", var.pairs}};
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
    int terms_compared = 0;
    for (const auto& [name, v] : l.terms) {
      if (!ref.count("out." + name)) continue;
      ++terms_compared;
      const double e = std::abs(v.item() - ref.at("out." + name).item()) / std::max(1.0, std::abs(v.item()));
      CHECK_MESSAGE(e < 1e-9, name, " ours ", v.item(), " torch ", ref.at("out." + name).item());
      worst_term = std::max(worst_term, e);
    }
    CHECK(terms_compared == 1 + 2 * static_cast<int>(var.pairs.size()));  // l1 and each pair's lld and H
    CHECK(std::abs(l.total.item() - ref.at("out.total").item()) < 1e-9 * std::max(1.0, std::abs(l.total.item())));
    for (const char* k : {"cpc_t", "cpc_a", "cpc_v"}) {  // summed in "cpc" by the task: compare the model's own
      const models::MmimTerms mt = t.model->terms(b, t.model->forward(b));
      const Tensor v = std::string(k) == "cpc_t" ? mt.cpc_t : std::string(k) == "cpc_a" ? mt.cpc_a : mt.cpc_v;
      CHECK_MESSAGE(std::abs(v.item() - ref.at(std::string("out.") + k).item()) < 1e-9, k);
    }
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
    CHECK(compared > (var.text_lstm ? 25 : 40));
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

namespace {
// The parameter count of the modules named `prefix` (top-level) of a model.
std::int64_t params_under(const nn::Module& m, const std::string& prefix) {
  std::int64_t n = 0;
  for (const auto& [k, v] : m.named_parameters())
    if (k.rfind(prefix + ".", 0) == 0) n += v.numel();
  return n;
}
std::int64_t all_params(const nn::Module& m) {
  std::int64_t n = 0;
  for (const auto& [k, v] : m.named_parameters()) n += v.numel();
  return n;
}
}  // namespace

TEST_CASE("mmim: Table 4's BA rows (pairs removed or replaced by v->a) change exactly which terms and parameters exist") {
  const data::MultimodalSplit s = tiny_split(12);
  const data::Batch b = all_rows(s);
  const Tiny base = tiny_model(9);
  const auto base_out = base.model->forward(b);
  const models::MmimTerms base_terms = base.model->terms(b, base_out);
  // sizes by hand: GaussianPredictor(i, o) = two MLPs Linear(i, o) ReLU Linear(o, o); projection Linear(4, 1)
  const std::int64_t e = 4, q_t = 2 * (kHidden * e + e + e * e + e), q_v = 2 * (e * e + e + e * e + e), prj = e / 4 * e + e / 4;
  CHECK(params_under(*base.model, "q_tv") == q_t);
  CHECK(params_under(*base.model, "entropy_prj_v") == prj);
  const std::int64_t no_pairs = all_params(*base.model) - 2 * (q_t + prj);
  struct Row {
    const char* name;  // the paper's row
    bool tv, ta, va;
    std::vector<std::string> terms, modules;
    std::int64_t pair_params;
  };
  const std::vector<Row> rows = {
      {"MMIM (t,v + t,a)", true, true, false, {"lld_tv", "h_v", "lld_ta", "h_a"},
       {"q_tv", "entropy_prj_v", "q_ta", "entropy_prj_a"}, 2 * (q_t + prj)},
      {"I_BA^{t,v}", true, false, false, {"lld_tv", "h_v"}, {"q_tv", "entropy_prj_v"}, q_t + prj},
      {"I_BA^{t,a}", false, true, false, {"lld_ta", "h_a"}, {"q_ta", "entropy_prj_a"}, q_t + prj},
      {"I_BA^{v,a}", false, false, true, {"lld_va", "h_va"}, {"q_va", "entropy_prj_va"}, q_v + prj},
      {"I_BA^{t,a} + I_BA^{v,a}", false, true, true, {"lld_ta", "h_a", "lld_va", "h_va"},
       {"q_ta", "entropy_prj_a", "q_va", "entropy_prj_va"}, q_t + q_v + 2 * prj},
      {"I_BA^{t,v} + I_BA^{v,a}", true, false, true, {"lld_tv", "h_v", "lld_va", "h_va"},
       {"q_tv", "entropy_prj_v", "q_va", "entropy_prj_va"}, q_t + q_v + 2 * prj},
      {"all three", true, true, true, {"lld_tv", "h_v", "lld_ta", "h_a", "lld_va", "h_va"},
       {"q_tv", "entropy_prj_v", "q_ta", "entropy_prj_a", "q_va", "entropy_prj_va"}, 2 * q_t + q_v + 3 * prj},
      {"None", false, false, false, {}, {}, 0}};
  const std::set<std::string> pair_modules = {"q_tv", "q_ta", "q_va", "entropy_prj_v", "entropy_prj_a", "entropy_prj_va"};
  for (const Row& r : rows) {
    CAPTURE(r.name);
    models::MmimConfig c;
    c.use_ba_tv = r.tv, c.use_ba_ta = r.ta, c.use_ba_va = r.va;
    Tiny t = tiny_model(9, c);
    // parameters: exactly the row's modules, with their sizes
    std::set<std::string> mods;
    for (const auto& [k, v] : t.model->named_parameters()) {
      const std::string top = k.substr(0, k.find('.'));
      if (pair_modules.count(top)) mods.insert(top);
    }
    CHECK(mods == std::set<std::string>(r.modules.begin(), r.modules.end()));
    CHECK(all_params(*t.model) == no_pairs + r.pair_params);
    std::int64_t predictors = 0;
    for (const Tensor& p : t.model->predictor_parameters()) predictors += p.numel();
    CHECK(predictors == r.pair_params);  // the stage-1 group is exactly the pairs' modules
    // terms: exactly the row's, then the three CPC terms
    auto out = t.model->forward(b);
    const models::MmimTerms terms = t.model->terms(b, out);
    std::vector<std::string> want = r.terms;
    for (const char* k : {"cpc_t", "cpc_a", "cpc_v"}) want.push_back(k);
    CHECK(terms.present == want);
    // the pairs kept from the default have the default's values (same initial weights); v->a by hand
    if (r.tv) CHECK(terms.lld_tv.item() == doctest::Approx(base_terms.lld_tv.item()).epsilon(1e-12));
    if (r.ta) CHECK(terms.h_a.item() == doctest::Approx(base_terms.h_a.item()).epsilon(1e-12));
    if (!r.tv) CHECK(terms.lld_tv.item() == 0.0);
    if (!r.ta) CHECK(terms.h_a.item() == 0.0);
    if (r.va) {
      const Tensor &h_a = out.encodings[1], &h_v = out.encodings[2];
      CHECK(terms.lld_va.item() == doctest::Approx(t.model->q_va->log_likelihood(h_v, h_a, c.lld_form).item()).epsilon(1e-12));
      const losses::GmmEntropy ref(losses::GmmEntropyOptions{1, 1e-6, true});
      CHECK(terms.h_va.item() ==
            doctest::Approx(ref.estimate(tanh(t.model->entropy_prj_va->forward(h_a)), b.labels.to(DType::f64)).item())
                .epsilon(1e-12));
      CHECK(terms.h_va.item() != 0.0);
    } else {
      CHECK(t.model->q_va == nullptr);
      CHECK(terms.lld_va.item() == 0.0);
      CHECK(terms.h_va.item() == 0.0);
    }
    CHECK(terms.bound().item() == doctest::Approx((terms.lld_tv + terms.h_v + terms.lld_ta + terms.h_a + terms.lld_va +
                                                   terms.h_va)
                                                      .item())
                                      .epsilon(1e-12));
    // the task's logged terms: l1, cpc, ba, the row's BA terms, h_skipped
    harness::MmimTask task(t.model, {});
    const harness::Loss l = task.loss(b);
    std::vector<std::string> names;
    for (const auto& [k, v] : l.terms) names.push_back(k);
    std::vector<std::string> want_names = {"l1", "cpc", "ba"};
    for (const char* k : {"lld_tv", "lld_ta", "lld_va", "h_v", "h_a", "h_va"})
      if (std::find(r.terms.begin(), r.terms.end(), k) != r.terms.end()) want_names.push_back(k);
    want_names.push_back("h_skipped");
    CHECK(names == want_names);
    // stage 1 moves exactly the row's predictors q (not the projections: no L_lld gradient)
    const auto before = snapshot(*t.model);
    task.stage1_step(b, 1.0);
    const auto after = snapshot(*t.model);
    std::set<std::string> moved, want_moved;
    for (const auto& [k, v] : before)
      if (fg::test::max_abs_diff(v, after.at(k)) > 0) moved.insert(k.substr(0, k.find('.')));
    for (const auto& m : r.modules)
      if (m.rfind("q_", 0) == 0) want_moved.insert(m);
    CHECK(moved == want_moved);
  }
  // the CPC flags: the term and its G's parameters go
  for (const char* k : {"cpc_t", "cpc_a", "cpc_v"}) {
    CAPTURE(k);
    models::MmimConfig c;
    c.use_cpc_t = std::string(k) != "cpc_t", c.use_cpc_a = std::string(k) != "cpc_a", c.use_cpc_v = std::string(k) != "cpc_v";
    Tiny t = tiny_model(9, c);
    CHECK(params_under(*t.model, k) == 0);
    CHECK(all_params(*t.model) == all_params(*base.model) - params_under(*base.model, k));
    auto out = t.model->forward(b);
    const auto present = t.model->terms(b, out).present;
    CHECK(std::find(present.begin(), present.end(), k) == present.end());
    CHECK(present.size() == base_terms.present.size() - 1);
  }
  // no history (--memory 0): nothing is remembered and the task checkpoints no memory
  models::MmimConfig c;
  c.memory_batches = 0;
  Tiny t = tiny_model(9, c);
  t.model->remember(b, t.model->forward(b));
  CHECK(t.model->memory_size() == 0);
  harness::MmimTask task(t.model, {});
  for (const auto& [k, v] : task.module().state_dict()) CHECK_MESSAGE(k.find("gmm_memory") == std::string::npos, k);
}

TEST_CASE("mmim: the GMM memory is a FIFO across batches and epochs (kept over an epoch's start), held in the task's buffers") {
  models::MmimConfig c;
  c.memory_batches = 2;
  Tiny t = tiny_model(11, c);
  const data::MultimodalSplit s = tiny_split(16);
  harness::MmimTaskOptions o;
  o.stage1_split = &s, o.batch_size = 8;
  harness::MmimTask task(t.model, o);
  REQUIRE(task.steps_per_epoch() == 2);
  optim::Adam main_opt(t.model->main_parameters(), optim::AdamOptions{});
  harness::StepContext ctx{main_opt, 1.0, [](const std::string& k, double v) { REQUIRE_MESSAGE(std::isfinite(v), k); }};
  const std::vector<std::vector<std::int64_t>> rows = {
      {0, 1, 2, 3, 4, 5, 6, 7}, {8, 9, 10, 11, 12, 13, 14, 15}, {15, 3, 9, 0, 12, 6, 1, 10}, {2, 4, 5, 7, 8, 11, 13, 14}};
  std::vector<data::Batch> batches;
  for (const auto& r : rows) batches.push_back(data::gather_batch(s, r));
  // the labels of what each pair remembers, oldest first
  auto remembered = [&] {
    std::vector<std::vector<std::vector<double>>> out;  // pair -> batch -> labels
    for (const auto& m : t.model->memory()) {
      std::vector<std::vector<double>> p;
      for (const auto& [f, l] : m.batches) p.push_back(l.to_vector<double>());
      out.push_back(p);
    }
    return out;
  };
  auto labels = [&](std::size_t i) { return batches[i].labels.to(DType::f64).to_vector<double>(); };
  task.train_step(batches[0], ctx);
  CHECK(remembered() == std::vector<std::vector<std::vector<double>>>(2, {labels(0)}));
  task.train_step(batches[1], ctx);  // the end of epoch 1
  CHECK(remembered() == std::vector<std::vector<std::vector<double>>>(2, {labels(0), labels(1)}));
  task.train_step(batches[2], ctx);  // epoch 2's first step (stage 1 runs first): the oldest goes, epoch 1's last stays
  CHECK(remembered() == std::vector<std::vector<std::vector<double>>>(2, {labels(1), labels(2)}));
  task.train_step(batches[3], ctx);
  CHECK(remembered() == std::vector<std::vector<std::vector<double>>>(2, {labels(2), labels(3)}));
  // the task's buffers hold exactly the model's memory (what a checkpoint saves)
  const auto state = task.module().state_dict();
  REQUIRE(state.count("gmm_memory_tv_rows"));
  CHECK(state.at("gmm_memory_tv_rows").to_vector<std::int64_t>() == std::vector<std::int64_t>{8, 8});
  const auto mem = t.model->memory();
  CHECK(fg::test::max_abs_diff(slice(state.at("gmm_memory_ta_features"), 0, 0, 16),
                               concat({mem[1].batches[0].first, mem[1].batches[1].first}, 0)) == 0);
  CHECK(fg::test::max_abs_diff(slice(state.at("gmm_memory_ta_labels"), 0, 8, 8), batches[3].labels.to(DType::f64)) == 0);
  // set_memory(memory()) restores it exactly; bad restorations are named
  const models::MmimTerms before = t.model->terms(batches[0], t.model->forward(batches[0]));
  t.model->clear_memory();
  t.model->set_memory(mem);
  const models::MmimTerms after = t.model->terms(batches[0], t.model->forward(batches[0]));
  CHECK(after.h_v.item() == before.h_v.item());
  CHECK(after.h_a.item() == before.h_a.item());
  auto bad = mem;
  bad[0].pair = "va";
  CHECK(contains(error_of([&] { t.model->set_memory(bad); }), "pair 'va'"));
  bad = mem;
  bad[0].batches.push_back(bad[0].batches[0]);
  CHECK(contains(error_of([&] { t.model->set_memory(bad); }), "at most 2"));
}

TEST_CASE("mmim: --resume is bitwise identical to an uninterrupted run (the checkpoint holds the GMM memory)") {
  const data::MultimodalSplit train = tiny_split(16, 31);
  data::MultimodalSplit valid = tiny_split(8, 32);
  valid.name = "valid";
  const fs::path dir = fs::temp_directory_path() / fmt::format("fg_mmim_resume_{}", ::getpid());
  fs::create_directories(dir);
  auto fit_for = [&](std::int64_t epochs, const fs::path& ckpt, bool resume) {
    models::MmimConfig c;
    c.memory_batches = 2;
    Tiny t = tiny_model(14, c);
    harness::MmimTaskOptions o;
    o.stage1_split = &train, o.batch_size = 4;
    harness::MmimTask task(t.model, o);
    harness::TrainOptions to;
    to.epochs = epochs, to.batch_size = 4, to.quiet = true, to.clip = 1.0, to.checkpoint = ckpt.string(),
    to.resume = resume;
    std::ostringstream log;
    return harness::fit(task, train, valid, to, log);
  };
  const harness::FitResult full = fit_for(3, dir / "a.safetensors", false);
  fit_for(1, dir / "b.safetensors", false);
  const auto saved = load_safetensors((dir / "b.safetensors").string()).tensors;
  CHECK(saved.count("model/gmm_memory_tv_features"));
  REQUIRE(saved.count("model/gmm_memory_ta_rows"));
  CHECK(saved.at("model/gmm_memory_ta_rows").to_vector<std::int64_t>() == std::vector<std::int64_t>{4, 4});
  const harness::FitResult resumed = fit_for(3, dir / "b.safetensors", true);
  fs::remove_all(dir);
  CHECK(resumed.resumed);
  REQUIRE(resumed.step_losses.size() == full.step_losses.size());
  for (std::size_t i = 0; i < full.step_losses.size(); ++i)
    CHECK_MESSAGE(resumed.step_losses[i] == full.step_losses[i], "step ", i);  // bitwise
  CHECK(resumed.best_valid.mae == full.best_valid.mae);
}

TEST_CASE("mmim: the LSTM text encoder (corpora without word pieces) and its errors") {
  models::MmimConfig c;
  c.text_encoder = models::TextEncoder::Lstm;
  Tiny t = tiny_model(15, c);
  CHECK(t.model->bert == nullptr);
  CHECK(t.model->bert_parameters().empty());
  CHECK(params_under(*t.model, "text_rnn") == 4 * kTextHidden * (kTextDim + kTextHidden + 2));
  CHECK(params_under(*t.model, "bert") == 0);
  const data::MultimodalSplit s = tiny_split(8);
  const data::Batch b = all_rows(s);
  const auto out = t.model->forward(b);
  CHECK(out.encodings[0].size(1) == kTextHidden);
  // training steps through the task (no BERT optimizer parameters) stay finite and move the text LSTM
  harness::MmimTask task(t.model, {});
  optim::Adam main_opt(t.model->main_parameters(), optim::AdamOptions{});
  harness::StepContext ctx{main_opt, 1.0, [](const std::string& k, double v) { REQUIRE_MESSAGE(std::isfinite(v), k); }};
  const auto before = snapshot(*t.model);
  CHECK(std::isfinite(task.train_step(b, ctx).total));
  CHECK(fg::test::max_abs_diff(before.at("text_rnn.weight_ih_l0"), snapshot(*t.model).at("text_rnn.weight_ih_l0")) > 0);
  // errors: the wrong width, BERT asked for without one, a BERT given to the LSTM encoder
  data::MultimodalSplit bad = s;
  bad.features[3] = slice(s.features[3], 2, 0, 2);
  CHECK(contains(error_of([&] { t.model->forward(all_rows(bad)); }), "'text' must be [B, T, 3]"));
  Generator g(1);
  models::MmimConfig cb;
  CHECK(contains(error_of([&] { models::Mmim(cb, nullptr, g, f64_opts()); }), "no BERT"));
  models::BertConfig bc;
  bc.vocab_size = kVocab, bc.hidden_size = kHidden, bc.num_hidden_layers = 1, bc.num_attention_heads = 2;
  bc.intermediate_size = 12, bc.max_position_embeddings = 16;
  auto bert = std::make_shared<models::BertModel>(bc, g, f64_opts());
  CHECK(contains(error_of([&] { models::Mmim(c, bert, g, f64_opts()); }), "text_encoder is Lstm"));
  c.text_hidden = 0;
  CHECK(contains(error_of([&] { c.validate(); }), "--text-hidden"));
}
