// models/mag_bert.cpp: see mag_bert.h.
#include "models/mag_bert.h"

#include <algorithm>
#include <sstream>

#include "engine/error.h"
#include "engine/ops.h"

namespace fg::models {

MagBertSentiment::MagBertSentiment(std::shared_ptr<MagBertModel> bert_model, const MagBertSentimentConfig& config,
                                   Generator& init_gen, TensorOptions opts, std::shared_ptr<Generator> dropout_gen)
    : config_(config) {
  FG_CHECK(bert_model != nullptr, "MagBertSentiment: no MagBertModel given");
  FG_CHECK(config.modalities.size() == 3,
           "MagBertSentiment: modalities must be the three names (text, acoustic, visual), got {}",
           config.modalities.size());
  FG_CHECK(config.head_dropout >= 0 && config.head_dropout < 1, "MagBertSentiment: head_dropout {} is outside [0, 1)",
           config.head_dropout);
  bert = register_module("bert", std::move(bert_model));
  dropout = register_module("dropout", std::make_shared<nn::Dropout>(config.head_dropout, std::move(dropout_gen)));
  head = register_module("head", std::make_shared<nn::Linear>(bert->config.hidden_size, 1, init_gen, true, opts));
}

SentimentOutput MagBertSentiment::forward(const data::Batch& batch) {
  const std::string& tn = config_.modalities[0];
  const std::string& an = config_.modalities[1];
  const std::string& vn = config_.modalities[2];
  const Tensor& w = head->weight;
  const Tensor& text = batch.modality(tn);
  FG_CHECK(text.dim() == 3 && text.size(2) == 1,
           "MagBertSentiment: modality '{}' must hold WordPiece ids [B, S, 1] (models::word_piece_split), got {}", tn,
           text.str());
  Tensor ids = squeeze(text.to(w.device()).to(DType::f64), 2);  // [B, S]
  ids = mul(ids, present_column(batch, tn, ids));                 // text absent: all [PAD]
  ids = ids.to(DType::i64);
  const Tensor a_in = batch.modality(an).to(w.device()).to(w.dtype());
  const Tensor v_in = batch.modality(vn).to(w.device()).to(w.dtype());
  FG_CHECK(a_in.dim() == 3 && v_in.dim() == 3 && a_in.size(1) == ids.size(1) && v_in.size(1) == ids.size(1),
           "MagBertSentiment: acoustic {} and visual {} must be aligned to the {} word pieces", a_in.str(), v_in.str(),
           ids.size(1));
  const Tensor acoustic = mul(a_in, unsqueeze(present_column(batch, an, a_in), 2));
  const Tensor visual = mul(v_in, unsqueeze(present_column(batch, vn, v_in), 2));
  const Tensor mask = batch_mask(batch, tn).to(w.device()).to(w.dtype());
  const BertOutputs h = bert->forward(ids, visual, acoustic, mask);
  SentimentOutput out;
  out.z = select(h.last_hidden_state, 1, 0);  // [CLS]
  out.prediction = squeeze(head->forward(dropout->forward(out.z)), 1);
  out.encodings = std::vector<Tensor>(3);  // no unimodal encodings (text and MAG fuse at the input)
  return out;
}

std::vector<optim::ParamGroup> MagBertSentiment::param_groups() const {
  optim::ParamGroup b, m;
  b.name = "bert", b.lr = config_.bert_lr;
  m.name = "mag_head";
  for (const auto& [name, p] : named_parameters()) {
    const bool is_mag_or_head = name.rfind("bert.MAG.", 0) == 0 || name.rfind("bert.", 0) != 0;
    (is_mag_or_head ? m : b).params.push_back(p);
  }
  return {b, m};
}

namespace {

std::vector<std::string> split_words(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

}  // namespace

data::MultimodalSplit word_piece_split(const data::MultimodalSplit& words, const data::WordPieceTokenizer& tok,
                                       std::int64_t max_len) {
  FG_CHECK(max_len >= 3, "word_piece_split: max_len {} is below 3", max_len);
  FG_CHECK(words.aligned(), "word_piece_split: split '{}' is not word-aligned (MAG-BERT needs --corpus reviews, "
                            "one step per word)", words.name);
  const std::int64_t N = words.size();
  FG_CHECK(static_cast<std::int64_t>(words.raw_text.size()) == N,
           "word_piece_split: split '{}' has no raw_text (the words of each utterance)", words.name);
  const std::int64_t ti = words.modality_index("text"), ai = words.modality_index("acoustic"),
                     vi = words.modality_index("visual");
  const std::int64_t T = words.max_steps(), da = words.feature_dim(ai), dv = words.feature_dim(vi);
  const auto len = words.lengths.to(DType::i64).to_vector<std::int64_t>();
  const auto av = words.features[static_cast<std::size_t>(ai)].to(DType::f32).to_vector<float>();
  const auto vv = words.features[static_cast<std::size_t>(vi)].to(DType::f32).to_vector<float>();
  std::vector<float> ids(static_cast<std::size_t>(N * max_len), 0.f), ao(static_cast<std::size_t>(N * max_len * da), 0.f),
      vo(static_cast<std::size_t>(N * max_len * dv), 0.f);
  std::vector<std::int64_t> plen(static_cast<std::size_t>(N));
  for (std::int64_t r = 0; r < N; ++r) {
    auto ws = split_words(words.raw_text[static_cast<std::size_t>(r)]);
    const std::int64_t L = len[static_cast<std::size_t>(r)];
    FG_CHECK(static_cast<std::int64_t>(ws.size()) >= L,
             "word_piece_split: split '{}' row {}: raw_text has {} words for {} steps", words.name, r, ws.size(), L);
    ws.resize(static_cast<std::size_t>(L));
    const data::Encoding e = tok.encode_words(ws, max_len);
    std::int64_t n = 0;
    for (std::int64_t s = 0; s < max_len; ++s) {
      const auto ss = static_cast<std::size_t>(s);
      if (e.attention_mask[ss] == 0) continue;
      n = s + 1;
      ids[static_cast<std::size_t>(r * max_len + s)] = static_cast<float>(e.input_ids[ss]);
      const std::int64_t w = e.word_index[ss];
      if (w < 0) continue;  // [CLS], [SEP]: zeros
      std::copy_n(av.begin() + (r * T + w) * da, da, ao.begin() + (r * max_len + s) * da);
      std::copy_n(vv.begin() + (r * T + w) * dv, dv, vo.begin() + (r * max_len + s) * dv);
    }
    plen[static_cast<std::size_t>(r)] = n;
  }
  (void)ti;
  data::MultimodalSplit out;
  out.name = words.name;
  out.modality_names = {"text", "acoustic", "visual"};
  out.features = {from_vector(ids, {N, max_len, 1}, f32_opts()), from_vector(ao, {N, max_len, da}, f32_opts()),
                  from_vector(vo, {N, max_len, dv}, f32_opts())};
  out.lengths = from_vector(plen, {N}, TensorOptions{DType::i64});
  out.mask = data::mask_from_lengths(out.lengths, max_len);
  out.labels = words.labels;
  out.label_kind = words.label_kind;
  out.label_names = words.label_names;
  if (words.present.defined()) {  // reorder its columns to text, acoustic, visual
    out.present = index_select(words.present, 1, from_vector(std::vector<std::int64_t>{ti, ai, vi}, {3},
                                                             TensorOptions{DType::i64}));
  }
  out.ids = words.ids;
  out.raw_text = words.raw_text;
  out.validate();
  return out;
}

data::MultimodalDataset word_piece_dataset(const data::MultimodalDataset& words, const data::WordPieceTokenizer& tok,
                                           std::int64_t max_len) {
  data::MultimodalDataset out = words;
  out.train = word_piece_split(words.train, tok, max_len);
  out.valid = word_piece_split(words.valid, tok, max_len);
  out.test = word_piece_split(words.test, tok, max_len);
  return out;
}

}  // namespace fg::models
