// models/mag.h: the Multimodal Adaptation Gate (Rahman et al., ACL 2020) and MAG-BERT,
// the model MDM (paper 002) builds on.
//
// MAG shifts each word piece's text embedding e by a gated mix of its visual (v) and
// acoustic (a) features, per position:
//   g_v = relu(W_hv [v; e] + b_hv),   g_a = relu(W_ha [a; e] + b_ha)       (gates, [.., H])
//   H   = g_v * (W_v v + b_v) + g_a * (W_a a + b_a)                          (the shift)
//   alpha = min(||e||_2 / (||H||_2 + eps) * beta_shift, 1)                  (a zero ||H|| counts as 1)
//   out = Dropout(LayerNorm(e + alpha H))
// Norms are over the hidden axis, one alpha per position. The cap keeps the shift no
// larger than beta_shift times the embedding itself. Parameter names follow the authors'
// code (W_hv, W_ha, W_v, W_a, LayerNorm), as does the zero-norm rule: there the gradient
// through ||H|| is 0 (a constant replaced it); at ||e|| = 0 the norm's gradient is taken
// as 0, as PyTorch's norm does.
//
// MAG-BERT inserts MAG between BERT's embedding layer and its encoder
// (MagBertModel: BertModel's parameters plus "MAG.*", the authors' MAG_BertModel naming).
// Word-level features are repeated for every word piece of their word, with zeros at
// [CLS], [SEP] and padding (expand_word_features, fed by the tokenizer's word_index).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/nn/nn.h"
#include "models/bert.h"

namespace fg::models {

struct MagConfig {
  std::int64_t text_dim = 768;      // H, the embedding size (MagBertModel sets BERT's hidden_size)
  std::int64_t visual_dim = 47;
  std::int64_t acoustic_dim = 74;
  double beta_shift = 1.0;
  double dropout = 0.5;             // on MAG's output (authors' default 0.5)
  double eps = 1e-6;                // in ||e|| / (||H|| + eps)
  double layer_norm_eps = 1e-5;     // torch.nn.LayerNorm's default, as in the authors' code
  double init_std = 0.0;            // > 0: weights N(0, init_std), biases 0 (what MAG-BERT's init gives);
                                    // 0: torch.nn.Linear's default init
  void validate() const;
};

class MAG : public nn::Module {
 public:
  MAG(const MagConfig& config, Generator& init_gen, TensorOptions opts = {},
      std::shared_ptr<Generator> dropout_gen = nullptr);
  std::string type_name() const override { return "MAG"; }
  // text_embedding [B, S, H], visual [B, S, visual_dim], acoustic [B, S, acoustic_dim] -> [B, S, H]
  Tensor forward(const Tensor& text_embedding, const Tensor& visual, const Tensor& acoustic) const;
  // The two halves of forward, for inspection and tests:
  // H [B, S, H], the gated visual/acoustic shift before scaling;
  Tensor shift(const Tensor& text_embedding, const Tensor& visual, const Tensor& acoustic) const;
  // alpha [B, S], the scale of the shift at each position.
  Tensor alpha(const Tensor& text_embedding, const Tensor& shift) const;

  MagConfig config;
  std::shared_ptr<nn::Linear> W_hv, W_ha, W_v, W_a;
  std::shared_ptr<nn::LayerNorm> LayerNorm;
  std::shared_ptr<nn::Dropout> dropout;
};

// BertModel with MAG after the embedding layer. Names: embeddings.*, encoder.*, pooler.*, MAG.*
class MagBertModel : public BertModel {
 public:
  // mag.text_dim is set to bert.hidden_size; a mag.init_std of 0 becomes bert.initializer_range.
  MagBertModel(const BertConfig& bert, MagConfig mag, Generator& init_gen, TensorOptions opts = {},
               bool add_pooling_layer = true, std::shared_ptr<Generator> dropout_gen = nullptr);
  std::string type_name() const override { return "MagBertModel"; }
  // input_ids [B, S]; visual [B, S, dv] and acoustic [B, S, da] aligned to the word pieces
  // (expand_word_features); attention_mask and token_type_ids as in BertModel::forward.
  BertOutputs forward(const Tensor& input_ids, const Tensor& visual, const Tensor& acoustic,
                      const Tensor& attention_mask = Tensor(), const Tensor& token_type_ids = Tensor()) const;

  std::shared_ptr<MAG> mag;  // registered as "MAG"
};

// MagBertModel with BERT's weights from a Hugging Face folder (models/bert.h load_bert) and
// MAG freshly initialized from init_gen.
std::shared_ptr<MagBertModel> load_mag_bert(const std::string& bert_dir, const MagConfig& mag, Generator& init_gen,
                                            TensorOptions opts = {}, std::shared_ptr<Generator> dropout_gen = nullptr);

// Word-level features -> word-piece-level features: out[b, s] = word_features[b, w] where
// w = word_index[b][s] >= 0, and zeros where w = -1 ([CLS], [SEP], padding).
// word_features [B, W, d]; word_index: B rows of S entries in [-1, W). Differentiable.
Tensor expand_word_features(const Tensor& word_features, const std::vector<std::vector<std::int64_t>>& word_index);

}  // namespace fg::models
