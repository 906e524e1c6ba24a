// models/mmim.cpp: see mmim.h.
#include "models/mmim.h"

#include <set>

#include "engine/error.h"
#include "engine/ops.h"

namespace fg::models {

void MmimConfig::validate() const {
  FG_CHECK(acoustic_dim > 0 && visual_dim > 0, "Mmim: acoustic_dim and visual_dim must be positive, got {} and {}",
           acoustic_dim, visual_dim);
  FG_CHECK(rnn_hidden > 0 && encoder_out > 0 && fusion_dim > 0,
           "Mmim: rnn_hidden, encoder_out and fusion_dim must be positive, got {}, {}, {}", rnn_hidden, encoder_out,
           fusion_dim);
  FG_CHECK(encoder_out >= 4, "Mmim: encoder_out must be at least 4 (the entropy projects to encoder_out / 4), got {}",
           encoder_out);
  FG_CHECK(encoder_dropout >= 0 && encoder_dropout < 1 && fusion_dropout >= 0 && fusion_dropout < 1,
           "Mmim: dropouts must be in [0, 1), got {} and {}", encoder_dropout, fusion_dropout);
  FG_CHECK(memory_batches >= 0, "Mmim: memory_batches (--memory) must be >= 0, got {}", memory_batches);
  FG_CHECK(text_encoder == TextEncoder::Bert || (text_dim > 0 && text_hidden > 0),
           "Mmim: text_dim and text_hidden (--text-hidden) must be positive with the LSTM text encoder, got {} and {}",
           text_dim, text_hidden);
}

namespace {
const MmimConfig& validated(const MmimConfig& c) {
  c.validate();
  return c;
}
}  // namespace

Mmim::Mmim(const MmimConfig& config, std::shared_ptr<BertModel> bert_model, Generator& init_gen, TensorOptions opts,
           std::shared_ptr<Generator> dropout_gen)
    : config_(validated(config)) {
  const bool use_bert = config_.text_encoder == TextEncoder::Bert;
  FG_CHECK(!use_bert || bert_model != nullptr, "Mmim: no BERT text encoder (text_encoder is Bert)");
  FG_CHECK(use_bert || bert_model == nullptr, "Mmim: a BERT was given but text_encoder is Lstm");
  names_ = {config_.text, config_.acoustic, config_.visual};
  auto rnn = [&](std::int64_t in, std::int64_t hidden) {
    nn::LSTMOptions o;
    o.input_size = in;
    o.hidden_size = hidden;
    o.batch_first = true;
    o.param_options = opts;
    o.dropout_generator = dropout_gen;
    return std::make_shared<nn::LSTM>(o, init_gen);
  };
  if (use_bert) {
    bert = register_module("bert", std::move(bert_model));
  } else {
    text_rnn = register_module("text_rnn", rnn(config_.text_dim, config_.text_hidden));
    text_out = register_module(
        "text_out", std::make_shared<nn::Linear>(config_.text_hidden, config_.text_hidden, init_gen, true, opts));
  }
  const std::int64_t ht = use_bert ? bert->config.hidden_size : config_.text_hidden;
  acoustic_rnn = register_module("acoustic_rnn", rnn(config_.acoustic_dim, config_.rnn_hidden));
  visual_rnn = register_module("visual_rnn", rnn(config_.visual_dim, config_.rnn_hidden));
  encoder_dropout = register_module("encoder_dropout", std::make_shared<nn::Dropout>(config_.encoder_dropout, dropout_gen));
  fusion_dropout = register_module("fusion_dropout", std::make_shared<nn::Dropout>(config_.fusion_dropout, dropout_gen));
  const std::int64_t e = config_.encoder_out, f = config_.fusion_dim;
  acoustic_out = register_module("acoustic_out", std::make_shared<nn::Linear>(config_.rnn_hidden, e, init_gen, true, opts));
  visual_out = register_module("visual_out", std::make_shared<nn::Linear>(config_.rnn_hidden, e, init_gen, true, opts));
  fusion_1 = register_module("fusion_1", std::make_shared<nn::Linear>(ht + 2 * e, f, init_gen, true, opts));
  fusion_2 = register_module("fusion_2", std::make_shared<nn::Linear>(f, f, init_gen, true, opts));
  head = register_module("head", std::make_shared<nn::Linear>(f, 1, init_gen, true, opts));
  // Every module below is built in the same order whatever the flags (the same initial
  // weights for the terms kept), and registered only when its term is in use.
  auto maybe = [&](bool on, const std::string& name, auto module) { return on ? register_module(name, module) : module; };
  q_tv = maybe(config_.use_ba_tv, "q_tv", std::make_shared<losses::GaussianPredictor>(ht, e, init_gen, 0, opts));
  q_ta = maybe(config_.use_ba_ta, "q_ta", std::make_shared<losses::GaussianPredictor>(ht, e, init_gen, 0, opts));
  entropy_prj_v = maybe(config_.use_ba_tv, "entropy_prj_v", std::make_shared<nn::Linear>(e, e / 4, init_gen, true, opts));
  entropy_prj_a = maybe(config_.use_ba_ta, "entropy_prj_a", std::make_shared<nn::Linear>(e, e / 4, init_gen, true, opts));
  cpc_t = maybe(config_.use_cpc_t, "cpc_t", std::make_shared<losses::CpcLoss>(f, ht, init_gen, 1.0, opts));
  cpc_a = maybe(config_.use_cpc_a, "cpc_a", std::make_shared<losses::CpcLoss>(f, e, init_gen, 1.0, opts));
  cpc_v = maybe(config_.use_cpc_v, "cpc_v", std::make_shared<losses::CpcLoss>(f, e, init_gen, 1.0, opts));
  if (config_.use_ba_va) {  // the replacement pair, built last (the others' initial weights stay)
    q_va = register_module("q_va", std::make_shared<losses::GaussianPredictor>(e, e, init_gen, 0, opts));
    entropy_prj_va = register_module("entropy_prj_va", std::make_shared<nn::Linear>(e, e / 4, init_gen, true, opts));
  }
  const losses::GmmEntropyOptions eo{config_.memory_batches, 1e-6,
                                     config_.lld_form == losses::LogLikelihoodForm::Full};
  // encodings are {h_t, h_a, h_v}: t = 0, a = 1, v = 2
  pairs_.resize(3);
  pairs_[0].name = "tv", pairs_[0].on = config_.use_ba_tv, pairs_[0].from = 0, pairs_[0].to = 2;
  pairs_[0].q = q_tv.get(), pairs_[0].prj = entropy_prj_v.get();
  pairs_[1].name = "ta", pairs_[1].on = config_.use_ba_ta, pairs_[1].from = 0, pairs_[1].to = 1;
  pairs_[1].q = q_ta.get(), pairs_[1].prj = entropy_prj_a.get();
  pairs_[2].name = "va", pairs_[2].on = config_.use_ba_va, pairs_[2].from = 2, pairs_[2].to = 1;
  pairs_[2].q = q_va.get(), pairs_[2].prj = entropy_prj_va.get();
  for (Pair& p : pairs_) p.ent = losses::GmmEntropy(eo);
}

std::vector<Tensor> Mmim::encode(const data::Batch& batch) {
  const Tensor& like = head->weight;  // dtype and device of the model
  auto seq = [&](const std::string& name, std::int64_t dim, const nn::LSTM& rnn, const nn::Linear& out) {
    const Tensor& x = batch.modality(name);
    FG_CHECK(x.dim() == 3 && x.size(2) == dim, "Mmim: modality '{}' must be [B, T, {}], got {}", name, dim, x.str());
    const Tensor& len = batch_lengths(batch, name);
    for (std::int64_t l : len.to_vector<std::int64_t>())
      FG_CHECK(l >= 1, "Mmim: modality '{}' has a sequence of length {} in this batch; the LSTM encoder needs at "
                       "least one step",
               name, l);
    const Tensor h = rnn.forward(x.to(like.dtype()), len).h_n;  // [1, B, H]
    return out.forward(encoder_dropout->forward(select(h, 0, h.size(0) - 1))) * present_column(batch, name, like);
  };
  Tensor h_t;
  if (bert) {
    const Tensor& tb = batch.modality(config_.text);
    FG_CHECK(tb.dim() == 3 && tb.size(2) == 3,
             "Mmim: modality '{}' must be BERT token ids [B, L, 3] (ids, attention mask, segment ids; "
             "--corpus reviews-unaligned has it), got {}",
             config_.text, tb.str());
    const Tensor ids = select(tb, 2, 0).to(DType::i64);
    const Tensor mask = select(tb, 2, 1).to(DType::i64);
    const Tensor seg = select(tb, 2, 2).to(DType::i64);
    h_t = select(bert->forward(ids, mask, seg).last_hidden_state, 1, 0);  // [CLS] of the last layer
  } else {
    h_t = seq(config_.text, config_.text_dim, *text_rnn, *text_out);
  }
  const Tensor h_a = seq(config_.acoustic, config_.acoustic_dim, *acoustic_rnn, *acoustic_out);
  const Tensor h_v = seq(config_.visual, config_.visual_dim, *visual_rnn, *visual_out);
  return {h_t, h_a, h_v};
}

SentimentOutput Mmim::forward(const data::Batch& batch) {
  SentimentOutput out;
  out.encodings = encode(batch);
  const Tensor x = concat(out.encodings, 1);
  out.z = tanh(fusion_2->forward(tanh(fusion_1->forward(fusion_dropout->forward(x)))));
  out.prediction = reshape(head->forward(out.z), {batch.size()});
  return out;
}

Tensor Mmim::log_likelihood(const Tensor& h_t, const Tensor& h_a, const Tensor& h_v) const {
  const Tensor* h[3] = {&h_t, &h_a, &h_v};
  Tensor l = zeros({}, h_t.options());
  for (const Pair& p : pairs_)
    if (p.on) l = l + p.q->log_likelihood(*h[p.from], *h[p.to], config_.lld_form);
  return l;
}

std::pair<Tensor, Tensor> Mmim::split_rows(const Tensor& proj, const Tensor& labels) const {
  const Tensor lab = reshape(labels, {labels.numel()}).to(DType::f64);
  if (config_.single_gaussian) {  // every row twice, once per class (see mmim.h)
    const std::int64_t n = lab.numel();
    std::vector<double> two(static_cast<std::size_t>(2 * n), 1.0);
    for (std::int64_t i = n; i < 2 * n; ++i) two[static_cast<std::size_t>(i)] = -1.0;
    return {concat({proj, proj}, 0), from_vector(two, {2 * n}, TensorOptions{DType::f64, lab.device()})};
  }
  if (!config_.drop_zero_labels) return {proj, lab};
  std::vector<std::int64_t> keep;
  const auto lv = lab.to_vector<double>();
  for (std::size_t i = 0; i < lv.size(); ++i)
    if (lv[i] != 0) keep.push_back(static_cast<std::int64_t>(i));
  const Tensor idx = from_vector(keep, {static_cast<std::int64_t>(keep.size())}, TensorOptions{DType::i64, proj.device()});
  return {index_select(proj, 0, idx), index_select(lab, 0, idx.to(lab.device()))};
}

Tensor Mmim::entropy(const Pair& pair, const Tensor& proj, const Tensor& labels, int& skipped) const {
  const auto [f, l] = split_rows(proj, labels);
  int pos = 0, neg = 0;
  for (double v : l.to_vector<double>()) (v >= 0 ? pos : neg) += 1;
  for (const auto& [p, n] : pair.counts) pos += p, neg += n;
  const std::int64_t k = proj.size(1);
  if (pos <= k || neg <= k || f.size(0) == 0) {  // no full-rank covariance: documented fallback
    ++skipped;
    return zeros({}, proj.options());
  }
  return pair.ent.estimate(f, l);
}

Tensor Mmim::cpc_term(const losses::CpcLoss& cpc, const Tensor& z, const Tensor& h) const {
  if (config_.cpc == CpcNormalization::Code) return cpc.forward(z, h);
  // The paper's eq. 11: for prediction G(z_i), normalise over the modality vectors h_j.
  const Tensor hn = losses::l2_normalize(h, -1), pn = losses::l2_normalize(cpc.predictor->forward(z), -1);
  const Tensor s = matmul(pn, transpose(hn, 0, 1)) * (1.0 / cpc.temperature);  // s[i, j] = <G(z_i), h_j>
  const Tensor pos = sum(pn * hn, 1) * (1.0 / cpc.temperature);
  return neg(mean(pos - logsumexp(s, 1)));
}

MmimTerms Mmim::terms(const data::Batch& batch, const SentimentOutput& out) const {
  FG_CHECK(out.encodings.size() == 3, "Mmim::terms: expects the output of Mmim::forward");
  const Tensor &h_t = out.encodings[0], &h_a = out.encodings[1], &h_v = out.encodings[2];
  MmimTerms t;
  const Tensor zero = zeros({}, out.z.options());
  Tensor* lld[3] = {&t.lld_tv, &t.lld_ta, &t.lld_va};
  Tensor* ent[3] = {&t.h_v, &t.h_a, &t.h_va};
  const char* ent_names[3] = {"h_v", "h_a", "h_va"};
  for (std::size_t i = 0; i < pairs_.size(); ++i) {
    const Pair& p = pairs_[i];
    if (!p.on) {
      *lld[i] = *ent[i] = zero;
      continue;
    }
    const Tensor& from = out.encodings[static_cast<std::size_t>(p.from)];
    const Tensor& to = out.encodings[static_cast<std::size_t>(p.to)];
    *lld[i] = p.q->log_likelihood(from, to, config_.lld_form);
    *ent[i] = entropy(p, tanh(p.prj->forward(to)), batch.labels, t.h_skipped);
    t.present.push_back("lld_" + p.name);
    t.present.push_back(ent_names[i]);
  }
  auto cpc = [&](bool on, const losses::CpcLoss& c, const Tensor& h, const char* name) {
    if (!on) return zero;
    t.present.push_back(name);
    return cpc_term(c, out.z, h);
  };
  t.cpc_t = cpc(config_.use_cpc_t, *cpc_t, h_t, "cpc_t");
  t.cpc_a = cpc(config_.use_cpc_a, *cpc_a, h_a, "cpc_a");
  t.cpc_v = cpc(config_.use_cpc_v, *cpc_v, h_v, "cpc_v");
  return t;
}

void Mmim::push_memory(Pair& p, const Tensor& features, const Tensor& labels) {
  int pos = 0, neg = 0;
  for (double v : labels.to_vector<double>()) (v >= 0 ? pos : neg) += 1;
  p.ent.remember(features, labels);
  p.counts.emplace_back(pos, neg);
  while (p.counts.size() > static_cast<std::size_t>(config_.memory_batches)) p.counts.pop_front();
}

void Mmim::remember(const data::Batch& batch, const SentimentOutput& out) {
  if (config_.memory_batches == 0) return;
  for (Pair& p : pairs_) {
    if (!p.on) continue;
    const auto [f, l] = split_rows(tanh(p.prj->forward(out.encodings[static_cast<std::size_t>(p.to)].detach())),
                                   batch.labels);
    push_memory(p, f, l);
  }
}

void Mmim::clear_memory() {
  for (Pair& p : pairs_) {
    p.ent.clear();
    p.counts.clear();
  }
}

std::size_t Mmim::memory_size() const {
  for (const Pair& p : pairs_)
    if (p.on) return p.ent.history_size();
  return 0;
}

std::vector<MmimPairMemory> Mmim::memory() const {
  std::vector<MmimPairMemory> out;
  for (const Pair& p : pairs_) {
    if (!p.on) continue;
    MmimPairMemory m{p.name, {}};
    for (const auto& fl : p.ent.history()) m.batches.push_back(fl);
    out.push_back(std::move(m));
  }
  return out;
}

void Mmim::set_memory(const std::vector<MmimPairMemory>& memory) {
  std::size_t used = 0;
  for (const Pair& p : pairs_) used += p.on ? 1 : 0;
  FG_CHECK(memory.size() == used, "Mmim::set_memory: {} pairs given, the model uses {}", memory.size(), used);
  clear_memory();
  std::size_t k = 0;
  for (Pair& p : pairs_) {
    if (!p.on) continue;
    const MmimPairMemory& m = memory[k++];
    FG_CHECK(m.pair == p.name, "Mmim::set_memory: pair '{}' given where the model has '{}'", m.pair, p.name);
    FG_CHECK(m.batches.size() <= static_cast<std::size_t>(config_.memory_batches),
             "Mmim::set_memory: {} batches for pair '{}', the memory holds at most {} (--memory)", m.batches.size(),
             p.name, config_.memory_batches);
    for (const auto& [f, l] : m.batches) {
      FG_CHECK(f.dim() == 2 && f.size(1) == entropy_dim() && l.dim() == 1 && l.size(0) == f.size(0),
               "Mmim::set_memory: pair '{}': features must be [n, {}] with labels [n], got {} and {}", p.name,
               entropy_dim(), f.str(), l.str());
      push_memory(p, f, l);
    }
  }
}

std::vector<Tensor> Mmim::bert_parameters() const { return bert ? bert->parameters() : std::vector<Tensor>{}; }

std::vector<Tensor> Mmim::predictor_parameters() const {
  std::vector<Tensor> out;  // q_tv, q_ta, then their projections, then the va pair (registration order)
  for (const Pair& p : pairs_)
    if (p.on && p.name != "va")
      for (const Tensor& t : p.q->parameters()) out.push_back(t);
  for (const Pair& p : pairs_)
    if (p.on && p.name != "va")
      for (const Tensor& t : p.prj->parameters()) out.push_back(t);
  for (const Pair& p : pairs_)
    if (p.on && p.name == "va") {
      for (const Tensor& t : p.q->parameters()) out.push_back(t);
      for (const Tensor& t : p.prj->parameters()) out.push_back(t);
    }
  return out;
}

std::vector<Tensor> Mmim::main_parameters() const {
  std::set<const void*> skip;
  for (const Tensor& t : bert_parameters()) skip.insert(t.impl());
  for (const Tensor& t : predictor_parameters()) skip.insert(t.impl());
  std::vector<Tensor> p;
  for (const Tensor& t : parameters())
    if (!skip.count(t.impl())) p.push_back(t);
  return p;
}

}  // namespace fg::models
