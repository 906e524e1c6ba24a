// models/mag.cpp: see mag.h.
#include "models/mag.h"

#include "engine/error.h"
#include "engine/nn/init.h"
#include "engine/ops.h"

namespace fg::models {

namespace {

// ||x||_2 over the last axis [..., n] -> [...], with the gradient taken as 0 where the norm
// is 0 (PyTorch's convention; sqrt alone would give 0/0 there).
Tensor safe_norm(const Tensor& x) {
  const Tensor sq = sum(square(x), -1);
  const Tensor zero = zeros({}, sq.options());
  const Tensor is_zero = eq(sq, zero);
  return where(is_zero, zero, sqrt(where(is_zero, ones({}, sq.options()), sq)));
}

}  // namespace

void MagConfig::validate() const {
  FG_CHECK(text_dim > 0 && visual_dim > 0 && acoustic_dim > 0,
           "MAG: text_dim, visual_dim and acoustic_dim must be positive, got {}, {}, {}", text_dim, visual_dim,
           acoustic_dim);
  FG_CHECK(beta_shift > 0, "MAG: beta_shift must be positive, got {}", beta_shift);
  FG_CHECK(dropout >= 0 && dropout < 1, "MAG: dropout must be in [0, 1), got {}", dropout);
  FG_CHECK(eps >= 0 && layer_norm_eps >= 0 && init_std >= 0,
           "MAG: eps, layer_norm_eps and init_std must be non-negative, got {}, {}, {}", eps, layer_norm_eps,
           init_std);
}

MAG::MAG(const MagConfig& cfg, Generator& init_gen, TensorOptions opts, std::shared_ptr<Generator> dropout_gen)
    : config(cfg) {
  config.validate();
  const std::int64_t H = config.text_dim;
  auto linear = [&](std::int64_t in) {
    auto l = std::make_shared<nn::Linear>(in, H, init_gen, true, opts);
    if (config.init_std > 0) {
      nn::init::normal_(l->weight, init_gen, 0.0, config.init_std);
      nn::init::zeros_(l->bias);
    }
    return l;
  };
  W_hv = register_module("W_hv", linear(config.visual_dim + H));
  W_ha = register_module("W_ha", linear(config.acoustic_dim + H));
  W_v = register_module("W_v", linear(config.visual_dim));
  W_a = register_module("W_a", linear(config.acoustic_dim));
  LayerNorm = register_module("LayerNorm", std::make_shared<nn::LayerNorm>(H, config.layer_norm_eps, true, opts));
  dropout = register_module("dropout", std::make_shared<nn::Dropout>(config.dropout, std::move(dropout_gen)));
}

Tensor MAG::shift(const Tensor& e, const Tensor& visual, const Tensor& acoustic) const {
  FG_CHECK(e.defined() && e.dim() >= 2 && e.size(-1) == config.text_dim,
           "MAG: text_embedding must be [..., {}], got {}", config.text_dim, e.str());
  Shape lead(e.shape().begin(), e.shape().end() - 1);
  auto check_modality = [&](const Tensor& x, std::int64_t dim, const char* name) {
    Shape want = lead;
    want.push_back(dim);
    FG_CHECK(x.defined() && x.shape() == want, "MAG: {} features must be {} (aligned with the text), got {}", name,
             shape_str(want), x.str());
  };
  check_modality(visual, config.visual_dim, "visual");
  check_modality(acoustic, config.acoustic_dim, "acoustic");
  const Tensor g_v = relu(W_hv->forward(concat({visual, e}, -1)));
  const Tensor g_a = relu(W_ha->forward(concat({acoustic, e}, -1)));
  return g_v * W_v->forward(visual) + g_a * W_a->forward(acoustic);
}

Tensor MAG::alpha(const Tensor& e, const Tensor& h) const {
  const Tensor e_norm = safe_norm(e);
  Tensor h_norm = safe_norm(h);
  h_norm = where(eq(h_norm, zeros({}, h_norm.options())), ones({}, h_norm.options()), h_norm);  // 0 counts as 1
  const Tensor threshold = e_norm / (h_norm + config.eps) * config.beta_shift;
  return minimum(threshold, ones({}, threshold.options()));
}

Tensor MAG::forward(const Tensor& e, const Tensor& visual, const Tensor& acoustic) const {
  const Tensor h = shift(e, visual, acoustic);
  const Tensor a = unsqueeze(alpha(e, h), -1);
  return dropout->forward(add_layer_norm(a * h, e, LayerNorm->weight, LayerNorm->bias, config.layer_norm_eps));
}

// ---------------------------------------------------------------- MAG-BERT
namespace {

MagConfig mag_for_bert(const BertConfig& bert, MagConfig mag) {
  mag.text_dim = bert.hidden_size;
  if (mag.init_std == 0) mag.init_std = bert.initializer_range;
  return mag;
}

}  // namespace

MagBertModel::MagBertModel(const BertConfig& bert, MagConfig mag_config, Generator& init_gen, TensorOptions opts,
                           bool add_pooling_layer, std::shared_ptr<Generator> dropout_gen)
    : BertModel(bert, init_gen, opts, add_pooling_layer, dropout_gen) {
  mag = register_module("MAG", std::make_shared<MAG>(mag_for_bert(bert, mag_config), init_gen, opts, dropout_gen));
}

BertOutputs MagBertModel::forward(const Tensor& input_ids, const Tensor& visual, const Tensor& acoustic,
                                  const Tensor& attention_mask, const Tensor& token_type_ids) const {
  return encode(mag->forward(embed(input_ids, token_type_ids), visual, acoustic), attention_mask);
}

std::shared_ptr<MagBertModel> load_mag_bert(const std::string& bert_dir, const MagConfig& mag, Generator& init_gen,
                                            TensorOptions opts, std::shared_ptr<Generator> dropout_gen) {
  const BertCheckpoint ck = read_bert_checkpoint(bert_dir);
  auto model = std::make_shared<MagBertModel>(ck.config, mag, init_gen, opts, ck.has_pooler, std::move(dropout_gen));
  load_bert_weights(*model, ck.tensors, ck.weights_path, {"MAG."});  // MAG keeps its fresh weights
  return model;
}

Tensor expand_word_features(const Tensor& word_features, const std::vector<std::vector<std::int64_t>>& word_index) {
  FG_CHECK(word_features.defined() && word_features.dim() == 3,
           "expand_word_features: word_features must be [batch, words, dim], got {}", word_features.str());
  const std::int64_t B = word_features.size(0), W = word_features.size(1), d = word_features.size(2);
  FG_CHECK(static_cast<std::int64_t>(word_index.size()) == B,
           "expand_word_features: word_index has {} rows for a batch of {}", word_index.size(), B);
  const std::int64_t S = B == 0 ? 0 : static_cast<std::int64_t>(word_index[0].size());
  std::vector<std::int64_t> rows;  // into [B * W word rows ; one zero row]
  rows.reserve(static_cast<std::size_t>(B * S));
  for (std::int64_t b = 0; b < B; ++b) {
    FG_CHECK(static_cast<std::int64_t>(word_index[b].size()) == S,
             "expand_word_features: word_index row {} has {} entries, row 0 has {}", b, word_index[b].size(), S);
    for (std::int64_t s = 0; s < S; ++s) {
      const std::int64_t w = word_index[b][s];
      FG_CHECK(w >= -1 && w < W, "expand_word_features: word_index[{}][{}] = {} is outside [-1, {})", b, s, w, W);
      rows.push_back(w < 0 ? B * W : b * W + w);
    }
  }
  const Tensor table = concat({reshape(word_features, {B * W, d}), zeros({1, d}, word_features.options())}, 0);
  const Tensor idx = from_vector(rows, {B * S}, TensorOptions{DType::i64, word_features.device()});
  return reshape(index_select(table, 0, idx), {B, S, d});
}

}  // namespace fg::models
