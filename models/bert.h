// models/bert.h: a BERT encoder (Devlin et al., 2019) that loads Hugging Face checkpoints.
//
// The text encoder of MMIM (paper 003) and of MAG-BERT (used by MDM, paper 002). Layout
// and parameter names are exactly those of transformers' BertModel, so a Hugging Face
// folder (config.json + model.safetensors) loads by name:
//
//   embeddings.word_embeddings.weight        [vocab, H]   (row pad_token_id = padding)
//   embeddings.position_embeddings.weight    [max_pos, H]
//   embeddings.token_type_embeddings.weight  [type_vocab, H]
//   embeddings.LayerNorm.{weight,bias}       [H]
//   encoder.layer.<i>.attention.self.{query,key,value}.{weight,bias}   [H, H], [H]
//   encoder.layer.<i>.attention.output.dense.{weight,bias}             [H, H], [H]
//   encoder.layer.<i>.attention.output.LayerNorm.{weight,bias}         [H]
//   encoder.layer.<i>.intermediate.dense.{weight,bias}                 [I, H], [I]
//   encoder.layer.<i>.output.dense.{weight,bias}                       [H, I], [H]
//   encoder.layer.<i>.output.LayerNorm.{weight,bias}                   [H]
//   pooler.dense.{weight,bias}                                         [H, H], [H]
//
// Forward (post-LN, as the original BERT), for ids [B, S], attention_mask [B, S] (1 = token,
// 0 = padding) and token_type_ids [B, S]:
//   e = Dropout(LayerNorm(word[ids] + type[token_type_ids] + pos[0..S-1]))
//   [after_embeddings hook, e.g. MAG (models/mag.h)]
//   per layer:  a = add_layer_norm(Dropout(Wo attention(Wq h, Wk h, Wv h, mask)), h)
//               h = add_layer_norm(Dropout(W2 gelu(W1 a + b1)), a)
//   pooler_output = tanh(Wp h[:, 0] + bp)                           (the [CLS] row)
// Attention is the fused op of engine/ops_attention.h (padding keys masked, dropout on the
// probabilities); "gelu" is the exact erf form as Hugging Face's "gelu".
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/nn/nn.h"
#include "engine/random.h"
#include "engine/tensor.h"

namespace fg::models {

// The fields of a Hugging Face BertConfig that define the network (config.json).
struct BertConfig {
  std::int64_t vocab_size = 30522;
  std::int64_t hidden_size = 768;
  std::int64_t num_hidden_layers = 12;
  std::int64_t num_attention_heads = 12;
  std::int64_t intermediate_size = 3072;
  std::string hidden_act = "gelu";  // "gelu" (erf), "gelu_new" / "gelu_pytorch_tanh" (tanh form), "relu"
  std::int64_t max_position_embeddings = 512;
  std::int64_t type_vocab_size = 2;
  double layer_norm_eps = 1e-12;
  double hidden_dropout_prob = 0.1;
  double attention_probs_dropout_prob = 0.1;
  std::int64_t pad_token_id = 0;      // optional in config.json (default 0)
  double initializer_range = 0.02;    // optional: std of the normal init of fresh weights

  std::int64_t head_dim() const { return hidden_size / num_attention_heads; }
  // Throws fg::Error naming `source` and the first invalid field.
  void validate(const std::string& source = "BertConfig") const;
  // Reads the fields above from a config.json object. The 11 network fields are required;
  // pad_token_id, initializer_range and position_embedding_type ("absolute" only) are
  // optional; other keys are ignored. Errors name `source` and the field.
  static BertConfig from_json(const nlohmann::json& j, const std::string& source);
  static BertConfig from_file(const std::string& config_json_path);
  nlohmann::json to_json() const;  // what from_json reads (plus model_type "bert")
};

// A list of child modules named "0", "1", ... (torch.nn.ModuleList's naming).
template <class M>
class ModuleList : public nn::Module {
 public:
  std::string type_name() const override { return "ModuleList"; }
  std::shared_ptr<M> push_back(std::shared_ptr<M> m) {
    items_.push_back(register_module(std::to_string(items_.size()), std::move(m)));
    return items_.back();
  }
  const std::vector<std::shared_ptr<M>>& items() const { return items_; }
  std::size_t size() const { return items_.size(); }
  const std::shared_ptr<M>& operator[](std::size_t i) const { return items_.at(i); }

 private:
  std::vector<std::shared_ptr<M>> items_;
};

// Everything a BERT module needs to build itself.
struct BertBuild {
  BertConfig config;
  Generator* init_gen = nullptr;               // fresh weights: N(0, initializer_range), biases 0
  TensorOptions opts;                          // dtype and device of the parameters
  std::shared_ptr<Generator> dropout_gen;      // dropout masks (null: fg::default_generator())
};

class BertEmbeddings : public nn::Module {
 public:
  explicit BertEmbeddings(const BertBuild& b);
  std::string type_name() const override { return "BertEmbeddings"; }
  // input_ids, token_type_ids: int64 [B, S] (token_type_ids undefined = all 0) -> [B, S, H]
  Tensor forward(const Tensor& input_ids, const Tensor& token_type_ids = Tensor()) const;

  BertConfig config;
  std::shared_ptr<nn::Embedding> word_embeddings, position_embeddings, token_type_embeddings;
  std::shared_ptr<nn::LayerNorm> LayerNorm;
  std::shared_ptr<nn::Dropout> dropout;
};

class BertSelfAttention : public nn::Module {
 public:
  explicit BertSelfAttention(const BertBuild& b);
  std::string type_name() const override { return "BertSelfAttention"; }
  // h [B, S, H], key_mask [B, S] or undefined -> context [B, S, H] (heads concatenated)
  Tensor forward(const Tensor& h, const Tensor& key_mask) const;

  BertConfig config;
  std::shared_ptr<nn::Linear> query, key, value;
  std::shared_ptr<Generator> dropout_gen;
};

// dense -> dropout -> add_layer_norm(., residual): BertSelfOutput and BertOutput alike.
class BertResidualOutput : public nn::Module {
 public:
  BertResidualOutput(const BertBuild& b, std::int64_t in_features);
  std::string type_name() const override { return "BertResidualOutput"; }
  Tensor forward(const Tensor& h, const Tensor& residual) const;

  double eps;
  std::shared_ptr<nn::Linear> dense;
  std::shared_ptr<nn::LayerNorm> LayerNorm;
  std::shared_ptr<nn::Dropout> dropout;
};

class BertAttention : public nn::Module {
 public:
  explicit BertAttention(const BertBuild& b);
  std::string type_name() const override { return "BertAttention"; }
  Tensor forward(const Tensor& h, const Tensor& key_mask) const;

  std::shared_ptr<BertSelfAttention> self;
  std::shared_ptr<BertResidualOutput> output;
};

class BertIntermediate : public nn::Module {
 public:
  explicit BertIntermediate(const BertBuild& b);
  std::string type_name() const override { return "BertIntermediate"; }
  // [.., H] -> act(dense(.)) [.., I], with the bias + GELU fused
  Tensor forward(const Tensor& h) const;

  std::string hidden_act;
  std::shared_ptr<nn::Linear> dense;
};

class BertLayer : public nn::Module {
 public:
  explicit BertLayer(const BertBuild& b);
  std::string type_name() const override { return "BertLayer"; }
  // h [B, S, H], key_mask [B, S] (1 = token, 0 = padding) or undefined -> [B, S, H]
  Tensor forward(const Tensor& h, const Tensor& key_mask) const;

  std::shared_ptr<BertAttention> attention;
  std::shared_ptr<BertIntermediate> intermediate;
  std::shared_ptr<BertResidualOutput> output;
};

class BertEncoder : public nn::Module {
 public:
  explicit BertEncoder(const BertBuild& b);
  std::string type_name() const override { return "BertEncoder"; }
  Tensor forward(const Tensor& h, const Tensor& key_mask) const;

  std::shared_ptr<ModuleList<BertLayer>> layer;
};

class BertPooler : public nn::Module {
 public:
  explicit BertPooler(const BertBuild& b);
  std::string type_name() const override { return "BertPooler"; }
  // h [B, S, H] -> tanh(dense(h[:, 0])) [B, H]
  Tensor forward(const Tensor& h) const;

  std::shared_ptr<nn::Linear> dense;
};

struct BertOutputs {
  Tensor last_hidden_state;  // [B, S, H]
  Tensor pooler_output;      // [B, H] (undefined without a pooler)
};

class BertModel : public nn::Module {
 public:
  // Fresh weights from init_gen (Hugging Face's init: normal(0, initializer_range) for
  // weights and embeddings, zero biases and padding row, LayerNorm ones/zeros).
  BertModel(const BertConfig& config, Generator& init_gen, TensorOptions opts = {}, bool add_pooling_layer = true,
            std::shared_ptr<Generator> dropout_gen = nullptr);
  std::string type_name() const override { return "BertModel"; }

  // input_ids int64 [B, S]; attention_mask [B, S] (int64 or float, 1 = token, 0 = padding;
  // undefined = no padding); token_type_ids int64 [B, S] (undefined = all 0).
  BertOutputs forward(const Tensor& input_ids, const Tensor& attention_mask = Tensor(),
                      const Tensor& token_type_ids = Tensor()) const;
  // The two halves of forward, for models that change the embeddings (MAG):
  Tensor embed(const Tensor& input_ids, const Tensor& token_type_ids = Tensor()) const;
  BertOutputs encode(const Tensor& embedding_output, const Tensor& attention_mask = Tensor()) const;

  // If set, forward() runs the embedding output through it before the encoder
  // (a module inserted after the embedding layer).
  std::function<Tensor(const Tensor& embedding_output)> after_embeddings;

  BertConfig config;
  std::shared_ptr<BertEmbeddings> embeddings;
  std::shared_ptr<BertEncoder> encoder;
  std::shared_ptr<BertPooler> pooler;  // null without a pooling layer
};

// What load_bert_weights did besides loading.
struct BertLoadReport {
  std::string prefix;                      // "bert." when the checkpoint is a task model's, else ""
  std::vector<std::string> ignored_keys;   // task heads (classifier.*, cls.*) and the position_ids buffer
};

// Loads Hugging Face-named tensors into `model` (converting dtype and device). Accepts a
// "bert." prefix (BertForSequenceClassification and friends: keys outside it, the task
// heads, are ignored and reported), the legacy LayerNorm names gamma/beta, and ignores the
// embeddings.position_ids / token_type_ids buffers. Any other unexpected key, any missing
// key (except under `may_be_missing` prefixes, e.g. {"MAG."}) and any shape mismatch is an
// error naming `source` and the keys.
BertLoadReport load_bert_weights(BertModel& model, const std::map<std::string, Tensor>& tensors,
                                 const std::string& source, const std::vector<std::string>& may_be_missing = {});
BertLoadReport load_bert_weights(BertModel& model, const std::string& safetensors_path,
                                 const std::vector<std::string>& may_be_missing = {});

// A Hugging Face model folder read into memory: <dir>/config.json and <dir>/model.safetensors.
struct BertCheckpoint {
  BertConfig config;
  std::map<std::string, Tensor> tensors;  // as stored (CPU), by name
  std::string weights_path;
  bool has_pooler = false;                // pooler.dense.weight (or bert.pooler...) is present
};
BertCheckpoint read_bert_checkpoint(const std::string& dir);

// Builds a BertModel from <dir>/config.json and loads <dir>/model.safetensors (with a
// pooler if the file has one). Parameters get opts' dtype and device.
std::shared_ptr<BertModel> load_bert(const std::string& dir, TensorOptions opts = {},
                                     std::shared_ptr<Generator> dropout_gen = nullptr);

// Writes <dir>/config.json and <dir>/model.safetensors (Hugging Face names, float32), so
// transformers' BertModel.from_pretrained(dir) reads it.
void save_bert(const std::string& dir, const BertModel& model);

}  // namespace fg::models
