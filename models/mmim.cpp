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
}

namespace {
const MmimConfig& validated(const MmimConfig& c) {
  c.validate();
  return c;
}
}  // namespace

Mmim::Mmim(const MmimConfig& config, std::shared_ptr<BertModel> bert_model, Generator& init_gen, TensorOptions opts,
           std::shared_ptr<Generator> dropout_gen)
    : config_(validated(config)),
      ent_v_(losses::GmmEntropyOptions{config.memory_batches, 1e-6,
                                       config.lld_form == losses::LogLikelihoodForm::Full}),
      ent_a_(losses::GmmEntropyOptions{config.memory_batches, 1e-6,
                                       config.lld_form == losses::LogLikelihoodForm::Full}) {
  FG_CHECK(bert_model != nullptr, "Mmim: no BERT text encoder");
  names_ = {config_.text, config_.acoustic, config_.visual};
  bert = register_module("bert", std::move(bert_model));
  const std::int64_t ht = bert->config.hidden_size;
  auto rnn = [&](std::int64_t in) {
    nn::LSTMOptions o;
    o.input_size = in;
    o.hidden_size = config_.rnn_hidden;
    o.batch_first = true;
    o.param_options = opts;
    o.dropout_generator = dropout_gen;
    return std::make_shared<nn::LSTM>(o, init_gen);
  };
  acoustic_rnn = register_module("acoustic_rnn", rnn(config_.acoustic_dim));
  visual_rnn = register_module("visual_rnn", rnn(config_.visual_dim));
  encoder_dropout = register_module("encoder_dropout", std::make_shared<nn::Dropout>(config_.encoder_dropout, dropout_gen));
  fusion_dropout = register_module("fusion_dropout", std::make_shared<nn::Dropout>(config_.fusion_dropout, dropout_gen));
  const std::int64_t e = config_.encoder_out, f = config_.fusion_dim;
  acoustic_out = register_module("acoustic_out", std::make_shared<nn::Linear>(config_.rnn_hidden, e, init_gen, true, opts));
  visual_out = register_module("visual_out", std::make_shared<nn::Linear>(config_.rnn_hidden, e, init_gen, true, opts));
  fusion_1 = register_module("fusion_1", std::make_shared<nn::Linear>(ht + 2 * e, f, init_gen, true, opts));
  fusion_2 = register_module("fusion_2", std::make_shared<nn::Linear>(f, f, init_gen, true, opts));
  head = register_module("head", std::make_shared<nn::Linear>(f, 1, init_gen, true, opts));
  q_tv = register_module("q_tv", std::make_shared<losses::GaussianPredictor>(ht, e, init_gen, 0, opts));
  q_ta = register_module("q_ta", std::make_shared<losses::GaussianPredictor>(ht, e, init_gen, 0, opts));
  entropy_prj_v = register_module("entropy_prj_v", std::make_shared<nn::Linear>(e, e / 4, init_gen, true, opts));
  entropy_prj_a = register_module("entropy_prj_a", std::make_shared<nn::Linear>(e, e / 4, init_gen, true, opts));
  cpc_t = register_module("cpc_t", std::make_shared<losses::CpcLoss>(f, ht, init_gen, 1.0, opts));
  cpc_a = register_module("cpc_a", std::make_shared<losses::CpcLoss>(f, e, init_gen, 1.0, opts));
  cpc_v = register_module("cpc_v", std::make_shared<losses::CpcLoss>(f, e, init_gen, 1.0, opts));
}

std::vector<Tensor> Mmim::encode(const data::Batch& batch) {
  const Tensor& tb = batch.modality(config_.text);
  FG_CHECK(tb.dim() == 3 && tb.size(2) == 3,
           "Mmim: modality '{}' must be BERT token ids [B, L, 3] (ids, attention mask, segment ids; "
           "--corpus reviews-unaligned has it), got {}",
           config_.text, tb.str());
  const Tensor ids = select(tb, 2, 0).to(DType::i64);
  const Tensor mask = select(tb, 2, 1).to(DType::i64);
  const Tensor seg = select(tb, 2, 2).to(DType::i64);
  const Tensor h_t = select(bert->forward(ids, mask, seg).last_hidden_state, 1, 0);  // [CLS] of the last layer
  auto seq = [&](const std::string& name, std::int64_t dim, const nn::LSTM& rnn, const nn::Linear& out) {
    const Tensor& x = batch.modality(name);
    FG_CHECK(x.dim() == 3 && x.size(2) == dim, "Mmim: modality '{}' must be [B, T, {}], got {}", name, dim, x.str());
    const Tensor& len = batch_lengths(batch, name);
    for (std::int64_t l : len.to_vector<std::int64_t>())
      FG_CHECK(l >= 1, "Mmim: modality '{}' has a sequence of length {} in this batch; the LSTM encoder needs at "
                       "least one step",
               name, l);
    const Tensor h = rnn.forward(x.to(h_t.dtype()), len).h_n;  // [1, B, H]
    return out.forward(encoder_dropout->forward(select(h, 0, h.size(0) - 1))) * present_column(batch, name, h_t);
  };
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
  Tensor l = zeros({}, h_t.options());
  if (config_.use_ba_tv) l = l + q_tv->log_likelihood(h_t, h_v, config_.lld_form);
  if (config_.use_ba_ta) l = l + q_ta->log_likelihood(h_t, h_a, config_.lld_form);
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

Tensor Mmim::entropy(const losses::GmmEntropy& ent, const std::deque<std::pair<int, int>>& counts, const Tensor& proj,
                     const Tensor& labels, int& skipped) const {
  const auto [f, l] = split_rows(proj, labels);
  int pos = 0, neg = 0;
  for (double v : l.to_vector<double>()) (v >= 0 ? pos : neg) += 1;
  for (const auto& [p, n] : counts) pos += p, neg += n;
  const std::int64_t k = proj.size(1);
  if (pos <= k || neg <= k || f.size(0) == 0) {  // no full-rank covariance: documented fallback
    ++skipped;
    return zeros({}, proj.options());
  }
  return ent.estimate(f, l);
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
  t.lld_tv = config_.use_ba_tv ? q_tv->log_likelihood(h_t, h_v, config_.lld_form) : zero;
  t.lld_ta = config_.use_ba_ta ? q_ta->log_likelihood(h_t, h_a, config_.lld_form) : zero;
  t.h_v = config_.use_ba_tv ? entropy(ent_v_, counts_v_, tanh(entropy_prj_v->forward(h_v)), batch.labels, t.h_skipped)
                            : zero;
  t.h_a = config_.use_ba_ta ? entropy(ent_a_, counts_a_, tanh(entropy_prj_a->forward(h_a)), batch.labels, t.h_skipped)
                            : zero;
  t.cpc_t = config_.use_cpc_t ? cpc_term(*cpc_t, out.z, h_t) : zero;
  t.cpc_a = config_.use_cpc_a ? cpc_term(*cpc_a, out.z, h_a) : zero;
  t.cpc_v = config_.use_cpc_v ? cpc_term(*cpc_v, out.z, h_v) : zero;
  return t;
}

void Mmim::remember(const data::Batch& batch, const SentimentOutput& out) {
  if (config_.memory_batches == 0) return;
  auto add = [&](losses::GmmEntropy& ent, std::deque<std::pair<int, int>>& counts, const nn::Linear& prj,
                 const Tensor& h) {
    const auto [f, l] = split_rows(tanh(prj.forward(h.detach())), batch.labels);
    int pos = 0, neg = 0;
    for (double v : l.to_vector<double>()) (v >= 0 ? pos : neg) += 1;
    ent.remember(f, l);
    counts.emplace_back(pos, neg);
    while (counts.size() > static_cast<std::size_t>(config_.memory_batches)) counts.pop_front();
  };
  add(ent_v_, counts_v_, *entropy_prj_v, out.encodings[2]);
  add(ent_a_, counts_a_, *entropy_prj_a, out.encodings[1]);
}

void Mmim::clear_memory() {
  ent_v_.clear();
  ent_a_.clear();
  counts_v_.clear();
  counts_a_.clear();
}

std::vector<Tensor> Mmim::bert_parameters() const { return bert->parameters(); }

std::vector<Tensor> Mmim::predictor_parameters() const {
  std::vector<Tensor> p;
  for (const auto* m : std::initializer_list<const nn::Module*>{q_tv.get(), q_ta.get(), entropy_prj_v.get(),
                                                                entropy_prj_a.get()})
    for (const Tensor& t : m->parameters()) p.push_back(t);
  return p;
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
