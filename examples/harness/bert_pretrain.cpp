// examples/harness/bert_pretrain.cpp: masked-language-model pretraining (bert_pretrain.h).
#include "examples/harness/bert_pretrain.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/batching.h"
#include "engine/autograd.h"
#include "engine/io/output_file.h"
#include "engine/nn/init.h"
#include "engine/ops.h"
#include "engine/ops_attention.h"
#include "engine/serialize/safetensors.h"
#include "examples/harness/trainer.h"

namespace fg::harness {

namespace fs = std::filesystem;

// ---------------------------------------------------------------- text
std::vector<LabelledText> read_reviews_csv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  FG_CHECK(in.good(), "{}: cannot open (the reviews csv: bash tools/text_sources.sh writes data/cache/text-sources/pang_lee_reviews.csv)",
           path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (s.rfind("\xEF\xBB\xBF", 0) == 0) s.erase(0, 3);
  std::vector<LabelledText> out;
  std::size_t i = 0, line = 1;
  auto field = [&](std::string& f) {  // one field at i; leaves i at the separator
    f.clear();
    if (i < s.size() && s[i] == '"') {
      const std::size_t start_line = line;
      ++i;
      for (;;) {
        FG_CHECK(i < s.size(), "{}: line {}: a quoted field is not closed", path, start_line);
        if (s[i] == '"') {
          if (i + 1 < s.size() && s[i + 1] == '"') {
            f += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        if (s[i] == '\n') ++line;
        f += s[i++];
      }
    } else {
      while (i < s.size() && s[i] != ',' && s[i] != '\n' && s[i] != '\r') f += s[i++];
    }
  };
  std::string a, b;
  while (i < s.size()) {
    if (s[i] == '\n' || s[i] == '\r') {  // blank line
      if (s[i] == '\n') ++line;
      ++i;
      continue;
    }
    const std::size_t row_line = line;
    field(a);
    FG_CHECK(i < s.size() && s[i] == ',', "{}: line {}: expected two fields \"label\",\"text\"", path, row_line);
    ++i;
    field(b);
    FG_CHECK(i >= s.size() || s[i] == '\n' || s[i] == '\r', "{}: line {}: more than two fields", path, row_line);
    int label = 0;
    try {
      std::size_t used = 0;
      label = std::stoi(a, &used);
      FG_CHECK(used == a.size(), "x");
    } catch (...) {
      FG_FAIL("{}: line {}: the label '{}' is not an integer", path, row_line, a);
    }
    out.push_back({label, b});
  }
  FG_CHECK(!out.empty(), "{}: no rows", path);
  return out;
}

std::vector<std::vector<std::int64_t>> pack_sequences(const std::vector<std::string>& documents,
                                                      const data::WordPieceTokenizer& tok, std::int64_t max_len,
                                                      std::int64_t min_pieces) {
  FG_CHECK(max_len >= 3, "pack_sequences: max_len must be >= 3, got {}", max_len);
  const std::int64_t cls = tok.token_to_id(tok.options().cls_token), sep = tok.token_to_id(tok.options().sep_token);
  const std::int64_t body = max_len - 2;
  std::vector<std::vector<std::int64_t>> out;
  for (const auto& doc : documents) {
    const std::vector<std::string> pieces = tok.tokenize(doc);
    const std::int64_t n = static_cast<std::int64_t>(pieces.size());
    for (std::int64_t start = 0; start < n; start += body) {
      const std::int64_t len = std::min(body, n - start);
      if (len < min_pieces && start > 0) break;
      std::vector<std::int64_t> seq;
      seq.reserve(static_cast<std::size_t>(len + 2));
      seq.push_back(cls);
      for (std::int64_t k = start; k < start + len; ++k) seq.push_back(tok.token_to_id(pieces[static_cast<std::size_t>(k)]));
      seq.push_back(sep);
      out.push_back(std::move(seq));
    }
  }
  return out;
}

data::MultimodalSplit sequences_split(const std::vector<std::vector<std::int64_t>>& seqs, const std::string& name) {
  FG_CHECK(!seqs.empty(), "sequences_split: split '{}' has no sequences", name);
  std::int64_t S = 0;
  for (const auto& q : seqs) S = std::max<std::int64_t>(S, static_cast<std::int64_t>(q.size()));
  const std::int64_t N = static_cast<std::int64_t>(seqs.size());
  std::vector<float> ids(static_cast<std::size_t>(N * S), 0.0f), mask(static_cast<std::size_t>(N * S), 0.0f);
  std::vector<std::int64_t> lengths(static_cast<std::size_t>(N));
  for (std::int64_t r = 0; r < N; ++r) {
    const auto& q = seqs[static_cast<std::size_t>(r)];
    lengths[static_cast<std::size_t>(r)] = static_cast<std::int64_t>(q.size());
    for (std::size_t t = 0; t < q.size(); ++t) {
      FG_CHECK(q[t] >= 0 && q[t] < (1 << 24), "sequences_split: id {} cannot travel as float32", q[t]);
      ids[static_cast<std::size_t>(r * S) + t] = static_cast<float>(q[t]);
      mask[static_cast<std::size_t>(r * S) + t] = 1.0f;
    }
  }
  data::MultimodalSplit sp;
  sp.name = name;
  sp.modality_names = {"tokens"};
  sp.features = {from_vector(ids, {N, S, 1})};
  sp.lengths = from_vector(lengths, {N}, TensorOptions{DType::i64});
  sp.mask = from_vector(mask, {N, S});
  sp.labels = zeros({N});
  sp.validate();
  return sp;
}

// ---------------------------------------------------------------- masking
MlmMasked mlm_mask(const std::vector<std::int64_t>& ids, const std::vector<char>& maskable, std::int64_t mask_id,
                   const std::vector<std::int64_t>& random_pool, Generator& gen, const MlmOptions& o,
                   bool at_least_one) {
  FG_CHECK(ids.size() == maskable.size(), "mlm_mask: {} ids but {} maskable flags", ids.size(), maskable.size());
  FG_CHECK(!random_pool.empty(), "mlm_mask: the random-token pool is empty");
  FG_CHECK(o.mask_prob > 0 && o.mask_prob <= 1 && o.to_mask >= 0 && o.to_random >= 0 && o.to_mask + o.to_random <= 1,
           "mlm_mask: bad probabilities (mask {}, [MASK] {}, random {})", o.mask_prob, o.to_mask, o.to_random);
  MlmMasked m;
  m.input_ids = ids;
  std::vector<std::int64_t> selected;
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (maskable[i] && gen.next_uniform() < o.mask_prob) selected.push_back(static_cast<std::int64_t>(i));
  if (selected.empty() && at_least_one) {
    std::vector<std::int64_t> cand;
    for (std::size_t i = 0; i < ids.size(); ++i)
      if (maskable[i]) cand.push_back(static_cast<std::int64_t>(i));
    if (!cand.empty()) selected.push_back(cand[gen.next_below(cand.size())]);
  }
  for (const std::int64_t p : selected) {
    const auto u = static_cast<std::size_t>(p);
    m.positions.push_back(p);
    m.targets.push_back(ids[u]);
    const double r = gen.next_uniform();
    if (r < o.to_mask) {
      m.input_ids[u] = mask_id;
      m.kind.push_back(0);
    } else if (r < o.to_mask + o.to_random) {
      m.input_ids[u] = random_pool[gen.next_below(random_pool.size())];
      m.kind.push_back(1);
    } else {
      m.kind.push_back(2);
    }
  }
  return m;
}

// ---------------------------------------------------------------- the model
namespace {
std::shared_ptr<nn::Linear> normal_linear(std::int64_t in, std::int64_t out, double std, Generator& gen,
                                          TensorOptions opts) {
  auto l = std::make_shared<nn::Linear>(in, out, gen, true, opts);
  nn::init::normal_(l->weight, gen, 0.0, std);
  nn::init::zeros_(l->bias);
  return l;
}
}  // namespace

BertPredictionHeadTransform::BertPredictionHeadTransform(const models::BertConfig& c, Generator& gen,
                                                         TensorOptions opts)
    : hidden_act(c.hidden_act) {
  dense = register_module("dense", normal_linear(c.hidden_size, c.hidden_size, c.initializer_range, gen, opts));
  LayerNorm = register_module("LayerNorm", std::make_shared<nn::LayerNorm>(c.hidden_size, c.layer_norm_eps, true, opts));
}

Tensor BertPredictionHeadTransform::forward(const Tensor& h) const {
  const Tensor a = hidden_act == "relu" ? relu(dense->forward(h))
                                        : bias_gelu(linear(h, dense->weight), dense->bias, hidden_act != "gelu");
  return LayerNorm->forward(a);
}

BertLMPredictionHead::BertLMPredictionHead(const models::BertConfig& c, Generator& gen, TensorOptions opts) {
  transform = register_module("transform", std::make_shared<BertPredictionHeadTransform>(c, gen, opts));
  bias = register_parameter("bias", zeros({c.vocab_size}, opts));
}

BertOnlyMLMHead::BertOnlyMLMHead(const models::BertConfig& c, Generator& gen, TensorOptions opts) {
  predictions = register_module("predictions", std::make_shared<BertLMPredictionHead>(c, gen, opts));
}

BertForMaskedLM::BertForMaskedLM(const models::BertConfig& config, Generator& init_gen, TensorOptions opts,
                                 std::shared_ptr<Generator> dropout_gen) {
  bert = register_module("bert", std::make_shared<models::BertModel>(config, init_gen, opts, /*pooler=*/false,
                                                                     std::move(dropout_gen)));
  cls = register_module("cls", std::make_shared<BertOnlyMLMHead>(bert->config, init_gen, opts));
}

Tensor BertForMaskedLM::logits_at(const Tensor& hidden, const Tensor& positions) const {
  const std::int64_t H = hidden.size(2);
  const Tensor h = index_select(reshape(hidden, {hidden.size(0) * hidden.size(1), H}), 0, positions);
  const auto& p = *cls->predictions;
  // the decoder is tied to the word embeddings (Hugging Face's tie_word_embeddings)
  return add(linear(p.transform->forward(h), bert->embeddings->word_embeddings->weight), p.bias);
}

Tensor BertForMaskedLM::nll(const Tensor& input_ids, const Tensor& attention_mask, const Tensor& positions,
                            const Tensor& targets) const {
  const Tensor hidden = bert->forward(input_ids, attention_mask).last_hidden_state;
  const Tensor logp = log_softmax(logits_at(hidden, positions), -1);
  return neg(reshape(gather(logp, 1, reshape(targets, {targets.size(0), 1})), {targets.size(0)}));
}

void save_bert_for_masked_lm(const std::string& dir, const BertForMaskedLM& model, const std::vector<std::string>& vocab,
                             const nlohmann::json& info) {
  FG_CHECK(static_cast<std::int64_t>(vocab.size()) == model.bert->config.vocab_size,
           "save_bert_for_masked_lm: {} vocabulary tokens for a model of vocab_size {}", vocab.size(),
           model.bert->config.vocab_size);
  std::error_code ec;
  fs::create_directories(dir, ec);
  FG_CHECK(!ec, "save_bert_for_masked_lm: cannot create folder {}: {}", dir, ec.message());
  fs::remove(fs::path(dir) / "pretraining.json", ec);  // the folder is incomplete until it is written again
  std::map<std::string, Tensor> host;
  for (const auto& [name, t] : model.state_dict()) host[name] = t.detach().to(Device::cpu()).to(DType::f32);
  save_safetensors((fs::path(dir) / "model.safetensors").string(), host, {{"format", "pt"}});
  nlohmann::json cfg = model.bert->config.to_json();
  cfg["architectures"] = {"BertForMaskedLM"};
  cfg["tie_word_embeddings"] = true;
  fg::io::write_output((fs::path(dir) / "config.json").string(), cfg.dump(2) + "\n", "save_bert_for_masked_lm");
  std::string v;
  for (const auto& t : vocab) v += t + "\n";
  fg::io::write_output((fs::path(dir) / "vocab.txt").string(), v, "save_bert_for_masked_lm");
  if (!info.is_null())  // last: its presence marks a complete folder (ensure_pretrained_bert)
    fg::io::write_output((fs::path(dir) / "pretraining.json").string(), info.dump(2) + "\n", "save_bert_for_masked_lm");
}

// ---------------------------------------------------------------- the task
MlmTask::MlmTask(std::shared_ptr<BertForMaskedLM> model, const data::WordPieceTokenizer& tok, std::uint64_t seed,
                 std::shared_ptr<Generator> dropout_gen, MlmOptions options)
    : model_(std::move(model)),
      options_(options),
      seed_(seed),
      mask_gen_(data::derive_seed(seed, 101)),
      dropout_gen_(std::move(dropout_gen)) {
  FG_CHECK(model_ != nullptr, "MlmTask: no model");
  const std::int64_t V = tok.vocab_size();
  FG_CHECK(V == model_->bert->config.vocab_size, "MlmTask: the vocabulary has {} tokens but the model {}", V,
           model_->bert->config.vocab_size);
  const auto& o = tok.options();
  FG_CHECK(tok.contains(o.mask_token), "MlmTask: the vocabulary has no {} token", o.mask_token);
  mask_id_ = tok.token_to_id(o.mask_token);
  special_.assign(static_cast<std::size_t>(V), 0);
  for (const auto& s : {o.unk_token, o.cls_token, o.sep_token, o.pad_token, o.mask_token})
    if (tok.contains(s)) special_[static_cast<std::size_t>(tok.token_to_id(s))] = 1;
  // random replacements: any non-special token, and not the "[unused..]" placeholders
  for (std::int64_t i = 0; i < V; ++i) {
    const std::string& t = tok.id_to_token(i);
    if (!special_[static_cast<std::size_t>(i)] && t.rfind("[unused", 0) != 0) pool_.push_back(i);
  }
  FG_CHECK(!pool_.empty(), "MlmTask: the vocabulary has no ordinary token");
}

MlmTask::Prepared MlmTask::prepare(const data::Batch& batch, bool fixed_masks) {
  const Tensor& f = batch.modality("tokens");
  const std::int64_t B = f.size(0), S = f.size(1);
  const std::vector<float> idf = f.to(Device::cpu()).to_vector<float>();
  const std::vector<float> mk = batch.mask.to(Device::cpu()).to_vector<float>();
  std::vector<std::int64_t> ids(idf.size());
  std::vector<char> maskable(idf.size());
  const auto V = static_cast<std::int64_t>(special_.size());
  for (std::size_t i = 0; i < idf.size(); ++i) {
    ids[i] = static_cast<std::int64_t>(idf[i]);
    FG_CHECK(ids[i] >= 0 && ids[i] < V, "MlmTask: token id {} outside the vocabulary (size {})", ids[i], V);
    maskable[i] = mk[i] > 0 && !special_[static_cast<std::size_t>(ids[i])];
  }
  Prepared p;
  std::vector<std::int64_t> in_ids, positions, targets;
  if (!fixed_masks) {
    MlmMasked m = mlm_mask(ids, maskable, mask_id_, pool_, mask_gen_, options_);
    in_ids = std::move(m.input_ids);
    positions = std::move(m.positions);
    targets = std::move(m.targets);
    for (const auto q : positions) p.row_of.push_back(q / S);
    for (float v : mk) tokens_seen_ += v > 0 ? 1 : 0;
  } else {  // one mask per row, drawn from the row number alone
    in_ids = ids;
    for (std::int64_t b = 0; b < B; ++b) {
      Generator g(data::derive_seed(data::derive_seed(seed_, 202), static_cast<std::uint64_t>(batch.rows[b])));
      const auto lo = ids.begin() + b * S;
      const std::vector<std::int64_t> row(lo, lo + S);
      const std::vector<char> rm(maskable.begin() + b * S, maskable.begin() + (b + 1) * S);
      const MlmMasked m = mlm_mask(row, rm, mask_id_, pool_, g, options_);
      std::copy(m.input_ids.begin(), m.input_ids.end(), in_ids.begin() + b * S);
      for (std::size_t k = 0; k < m.positions.size(); ++k) {
        positions.push_back(b * S + m.positions[k]);
        targets.push_back(m.targets[k]);
        p.row_of.push_back(b);
      }
    }
  }
  FG_CHECK(!positions.empty(), "MlmTask: a batch without a maskable token (rows of specials only)");
  const Device dev = f.device();
  const auto M = static_cast<std::int64_t>(positions.size());
  p.input_ids = from_vector(in_ids, {B, S}, TensorOptions{DType::i64}).to(dev);
  p.attention_mask = batch.mask;
  p.positions = from_vector(positions, {M}, TensorOptions{DType::i64}).to(dev);
  p.targets = from_vector(targets, {M}, TensorOptions{DType::i64}).to(dev);
  return p;
}

Loss MlmTask::loss(const data::Batch& batch) {
  const Prepared p = prepare(batch, false);
  const Tensor hidden = model_->bert->forward(p.input_ids, p.attention_mask).last_hidden_state;
  const Tensor ce = cross_entropy(model_->logits_at(hidden, p.positions), p.targets);
  return {ce, {{"mlm", ce}}};
}

Tensor MlmTask::predict(const data::Batch& batch) {
  const Prepared p = prepare(batch, true);
  const std::vector<double> nll =
      model_->nll(p.input_ids, p.attention_mask, p.positions, p.targets).to(Device::cpu()).to(DType::f64).to_vector<double>();
  std::vector<double> sum(static_cast<std::size_t>(batch.size()), 0.0), cnt(sum.size(), 0.0);
  for (std::size_t k = 0; k < nll.size(); ++k) {
    sum[static_cast<std::size_t>(p.row_of[k])] += nll[k];
    cnt[static_cast<std::size_t>(p.row_of[k])] += 1;
  }
  std::vector<float> out(sum.size());
  for (std::size_t b = 0; b < sum.size(); ++b) out[b] = static_cast<float>(cnt[b] > 0 ? sum[b] / cnt[b] : 0.0);
  return from_vector(out, {batch.size()}).to(batch.labels.device());
}

std::vector<std::pair<std::string, Generator*>> MlmTask::generators() {
  std::vector<std::pair<std::string, Generator*>> g = {{"mlm_mask", &mask_gen_}};
  if (dropout_gen_) g.emplace_back("dropout", dropout_gen_.get());
  return g;
}

MlmTask::Eval MlmTask::evaluate(const data::MultimodalSplit& split, std::int64_t batch_size, Device device) {
  const bool was = model_->is_training();
  model_->eval();
  NoGradGuard ng;
  Eval e;
  double total = 0;
  std::int64_t right = 0;
  for (std::int64_t start = 0; start < split.size(); start += batch_size) {
    std::vector<std::int64_t> rows;
    for (std::int64_t r = start; r < std::min(split.size(), start + batch_size); ++r) rows.push_back(r);
    const data::Batch batch = data::gather_batch(split, rows, true, device);
    const Prepared p = prepare(batch, true);
    const Tensor hidden = model_->bert->forward(p.input_ids, p.attention_mask).last_hidden_state;
    const Tensor logits = model_->logits_at(hidden, p.positions);
    const Tensor logp = log_softmax(logits, -1);
    const std::int64_t M = p.targets.size(0);
    const auto nll = neg(reshape(gather(logp, 1, reshape(p.targets, {M, 1})), {M})).to(Device::cpu()).to(DType::f64).to_vector<double>();
    const auto am = argmax(logits, 1).to(Device::cpu()).to_vector<std::int64_t>();
    const auto tg = p.targets.to(Device::cpu()).to_vector<std::int64_t>();
    for (std::int64_t k = 0; k < M; ++k) {
      total += nll[static_cast<std::size_t>(k)];
      right += am[static_cast<std::size_t>(k)] == tg[static_cast<std::size_t>(k)] ? 1 : 0;
    }
    e.masked += M;
    e.tokens += static_cast<std::int64_t>(sum(batch.mask).item());
  }
  if (was) model_->train();
  e.loss = total / static_cast<double>(e.masked);
  e.perplexity = std::exp(e.loss);
  e.accuracy = static_cast<double>(right) / static_cast<double>(e.masked);
  return e;
}

// ---------------------------------------------------------------- the run
namespace {
nlohmann::json eval_json(const MlmTask::Eval& e) {
  return {{"loss", e.loss}, {"perplexity", e.perplexity}, {"accuracy", e.accuracy}, {"masked", e.masked},
          {"tokens", e.tokens}};
}
}  // namespace

PretrainResult pretrain_bert(const PretrainOptions& o, std::ostream& log, const Observer& observer) {
  const auto t0 = Clock::now();
  FG_CHECK(fs::exists(o.vocab_txt), "{}: vocabulary not found (bert-base-uncased vocab.txt; bash tools/text_sources.sh "
           "writes it)", o.vocab_txt);
  FG_CHECK(fs::exists(o.reviews_csv), "{}: reviews not found (pang_lee_reviews.csv, python3-pattern's 1,500 reviews; "
           "bash tools/text_sources.sh extracts it)", o.reviews_csv);
  const data::WordPieceTokenizer tok = data::WordPieceTokenizer::from_file(o.vocab_txt);
  std::vector<std::string> vocab;
  for (std::int64_t i = 0; i < tok.vocab_size(); ++i) vocab.push_back(tok.id_to_token(i));

  std::vector<LabelledText> rows = read_reviews_csv(o.reviews_csv);
  if (o.max_documents > 0 && static_cast<std::int64_t>(rows.size()) > o.max_documents)
    rows.resize(static_cast<std::size_t>(o.max_documents));
  const auto D = static_cast<std::int64_t>(rows.size());
  FG_CHECK(o.valid_documents >= 1 && o.test_documents >= 1 && o.valid_documents + o.test_documents < D,
           "pretrain_bert: {} documents cannot give {} valid + {} test documents and a training set", D,
           o.valid_documents, o.test_documents);
  // documents to splits by a fixed permutation of the seed (test first, then valid, then train)
  Generator split_gen(data::derive_seed(o.seed, 303));
  std::vector<std::int64_t> perm(static_cast<std::size_t>(D));
  for (std::int64_t i = 0; i < D; ++i) perm[static_cast<std::size_t>(i)] = i;
  for (std::int64_t i = D - 1; i > 0; --i)
    std::swap(perm[static_cast<std::size_t>(i)], perm[split_gen.next_below(static_cast<std::uint64_t>(i + 1))]);
  std::vector<std::string> test_docs, valid_docs, train_docs;
  for (std::int64_t k = 0; k < D; ++k) {
    const std::string& text = rows[static_cast<std::size_t>(perm[static_cast<std::size_t>(k)])].text;
    (k < o.test_documents ? test_docs : k < o.test_documents + o.valid_documents ? valid_docs : train_docs).push_back(text);
  }
  const data::MultimodalSplit train = sequences_split(pack_sequences(train_docs, tok, o.max_len), "train");
  const data::MultimodalSplit valid = sequences_split(pack_sequences(valid_docs, tok, o.max_len), "valid");
  const data::MultimodalSplit test = sequences_split(pack_sequences(test_docs, tok, o.max_len), "test");

  models::BertConfig cfg;
  cfg.vocab_size = tok.vocab_size();
  cfg.hidden_size = o.hidden;
  cfg.num_hidden_layers = o.layers;
  cfg.num_attention_heads = o.heads;
  cfg.intermediate_size = o.intermediate;
  cfg.max_position_embeddings = std::max<std::int64_t>(o.max_len, 128);
  cfg.validate("pretrain_bert");
  const Device device = o.device == "cuda" ? Device::cuda() : Device::cpu();
  Generator init_gen(data::derive_seed(o.seed, 404));
  auto dropout_gen = std::make_shared<Generator>(data::derive_seed(o.seed, 505));
  auto model = std::make_shared<BertForMaskedLM>(cfg, init_gen, TensorOptions{DType::f32, device}, dropout_gen);
  MlmTask task(model, tok, o.seed, dropout_gen);

  PretrainResult res;
  res.train_sequences = train.size();
  res.valid_sequences = valid.size();
  res.test_sequences = test.size();
  for (const auto& p : model->parameters()) res.parameters += p.numel();
  std::int64_t train_tokens = static_cast<std::int64_t>(sum(train.mask).item());
  log << fmt::format("pretrain_bert: {} documents ({} train / {} valid / {} test), {} / {} / {} sequences of <= {} "
                     "pieces, {} training tokens; BERT H={} L={} A={} I={} vocab {}: {} parameters\n",
                     D, train_docs.size(), valid_docs.size(), test_docs.size(), train.size(), valid.size(), test.size(),
                     o.max_len, train_tokens, o.hidden, o.layers, o.heads, o.intermediate, cfg.vocab_size,
                     res.parameters);
  res.test_before = task.evaluate(test, 64, device);

  TrainOptions t;
  t.epochs = o.epochs;
  t.batch_size = o.batch_size;
  t.optimizer = "adamw";
  t.lr = o.lr;
  t.weight_decay = o.weight_decay;
  t.schedule = "linear";
  t.warmup_steps = o.warmup_steps;
  t.clip = o.clip;
  t.seed = o.seed;
  t.device = o.device;
  t.checkpoint = o.checkpoint;
  t.checkpoint_every = o.checkpoint_every;
  t.resume = o.resume;
  t.log = o.log;
  t.quiet = o.quiet;
  t.name = "mlm";
  t.config = {{"model", "bert_mlm"}, {"config", cfg.to_json()}, {"max_len", o.max_len},
              {"documents", D}, {"valid_documents", o.valid_documents}, {"test_documents", o.test_documents},
              {"train_sequences", train.size()}, {"batch_size", o.batch_size}, {"lr", o.lr},
              {"weight_decay", o.weight_decay}, {"warmup_steps", o.warmup_steps}, {"clip", o.clip},
              {"seed", o.seed}, {"device", o.device}};
  const FitResult fr = fit(task, train, valid, t, log, observer);
  res.steps = static_cast<std::int64_t>(fr.step_losses.size());
  res.step_losses = fr.step_losses;
  // tokens seen: each training token once per epoch run (a resumed run counts the whole schedule)
  res.tokens_seen = train_tokens * static_cast<std::int64_t>(fr.history.size());
  res.test_after = task.evaluate(test, 64, device);
  res.seconds = seconds_since(t0);
  res.info = {{"recipe", "masked LM, 15% of non-special tokens, 80/10/10 [MASK]/random/kept, AdamW, linear warmup "
                         "and decay, tied decoder; no next-sentence objective"},
              {"source", fs::path(o.reviews_csv).filename().string()},
              {"config", cfg.to_json()},
              {"max_len", o.max_len},
              {"documents", {{"train", train_docs.size()}, {"valid", valid_docs.size()}, {"test", test_docs.size()}}},
              {"sequences", {{"train", train.size()}, {"valid", valid.size()}, {"test", test.size()}}},
              {"parameters", res.parameters},
              {"epochs", fr.history.size()},
              {"best_epoch", fr.best_epoch},
              {"steps", res.steps},
              {"batch_size", o.batch_size},
              {"lr", o.lr},
              {"tokens_seen", res.tokens_seen},
              {"seconds", res.seconds},
              {"device", o.device},
              {"seed", o.seed},
              {"heldout_before", eval_json(res.test_before)},
              {"heldout", eval_json(res.test_after)}};
  log << fmt::format("pretrain_bert: held-out ({} documents, {} masked tokens): loss {:.4f} -> {:.4f}, perplexity "
                     "{:.1f} -> {:.1f}, masked-token accuracy {:.3f}; {} steps, {} tokens seen, {:.0f} s\n",
                     test_docs.size(), res.test_after.masked, res.test_before.loss, res.test_after.loss,
                     res.test_before.perplexity, res.test_after.perplexity, res.test_after.accuracy, res.steps,
                     res.tokens_seen, res.seconds);
  if (!o.out_dir.empty()) save_bert_for_masked_lm(o.out_dir, *model, vocab, res.info);
  return res;
}

std::string ensure_pretrained_bert(const std::string& cache_dir, const std::string& text_dir, std::ostream& log,
                                   const std::string& device) {
  const std::string dir = (fs::path(cache_dir) / "pretrained-bert").string();
  if (fs::exists(fs::path(dir) / "pretraining.json") && fs::exists(fs::path(dir) / "model.safetensors")) return dir;
  PretrainOptions o;
  o.reviews_csv = (fs::path(text_dir) / "pang_lee_reviews.csv").string();
  o.vocab_txt = (fs::path(text_dir) / "bert-base-uncased" / "vocab.txt").string();
  o.out_dir = dir;
  o.device = device;
  o.checkpoint = (fs::path(cache_dir) / "pretrained-bert.ckpt").string();
  o.resume = true;  // an interrupted first build continues where it stopped
  log << "ensure_pretrained_bert: " << dir << " not built yet; pretraining it now (docs/pretrain-bert.md)\n";
  pretrain_bert(o, log);
  return dir;
}

}  // namespace fg::harness
