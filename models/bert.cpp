// models/bert.cpp: see bert.h.
#include "models/bert.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/io/output_file.h"
#include "engine/nn/init.h"
#include "engine/ops.h"
#include "engine/serialize/safetensors.h"

namespace fg::models {

// ---------------------------------------------------------------- config
namespace {

std::int64_t read_int(const nlohmann::json& j, const char* field, const std::string& source) {
  FG_CHECK(j.contains(field), "{}: missing field \"{}\" (a Hugging Face BERT config.json has it)", source, field);
  const auto& v = j.at(field);
  FG_CHECK(v.is_number_integer(), "{}: field \"{}\" must be an integer, got {}", source, field, v.dump());
  return v.get<std::int64_t>();
}

double read_number(const nlohmann::json& j, const char* field, const std::string& source) {
  FG_CHECK(j.contains(field), "{}: missing field \"{}\" (a Hugging Face BERT config.json has it)", source, field);
  const auto& v = j.at(field);
  FG_CHECK(v.is_number(), "{}: field \"{}\" must be a number, got {}", source, field, v.dump());
  return v.get<double>();
}

bool is_gelu_erf(const std::string& act) { return act == "gelu"; }
bool is_gelu_tanh(const std::string& act) { return act == "gelu_new" || act == "gelu_pytorch_tanh"; }

}  // namespace

void BertConfig::validate(const std::string& source) const {
  auto positive = [&](std::int64_t v, const char* field) {
    FG_CHECK(v > 0, "{}: \"{}\" must be positive, got {}", source, field, v);
  };
  positive(vocab_size, "vocab_size");
  positive(hidden_size, "hidden_size");
  positive(num_hidden_layers, "num_hidden_layers");
  positive(num_attention_heads, "num_attention_heads");
  positive(intermediate_size, "intermediate_size");
  positive(max_position_embeddings, "max_position_embeddings");
  positive(type_vocab_size, "type_vocab_size");
  FG_CHECK(hidden_size % num_attention_heads == 0,
           "{}: \"hidden_size\" ({}) must be a multiple of \"num_attention_heads\" ({})", source, hidden_size,
           num_attention_heads);
  FG_CHECK(is_gelu_erf(hidden_act) || is_gelu_tanh(hidden_act) || hidden_act == "relu",
           "{}: \"hidden_act\" must be \"gelu\", \"gelu_new\", \"gelu_pytorch_tanh\" or \"relu\", got \"{}\"", source,
           hidden_act);
  FG_CHECK(layer_norm_eps > 0, "{}: \"layer_norm_eps\" must be positive, got {}", source, layer_norm_eps);
  FG_CHECK(hidden_dropout_prob >= 0 && hidden_dropout_prob < 1,
           "{}: \"hidden_dropout_prob\" must be in [0, 1), got {}", source, hidden_dropout_prob);
  FG_CHECK(attention_probs_dropout_prob >= 0 && attention_probs_dropout_prob < 1,
           "{}: \"attention_probs_dropout_prob\" must be in [0, 1), got {}", source, attention_probs_dropout_prob);
  FG_CHECK(pad_token_id >= 0 && pad_token_id < vocab_size, "{}: \"pad_token_id\" must be in [0, {}), got {}", source,
           vocab_size, pad_token_id);
  FG_CHECK(initializer_range > 0, "{}: \"initializer_range\" must be positive, got {}", source, initializer_range);
}

BertConfig BertConfig::from_json(const nlohmann::json& j, const std::string& source) {
  FG_CHECK(j.is_object(), "{}: expected a JSON object (a Hugging Face config.json), got {}", source,
           j.type_name());
  BertConfig c;
  c.vocab_size = read_int(j, "vocab_size", source);
  c.hidden_size = read_int(j, "hidden_size", source);
  c.num_hidden_layers = read_int(j, "num_hidden_layers", source);
  c.num_attention_heads = read_int(j, "num_attention_heads", source);
  c.intermediate_size = read_int(j, "intermediate_size", source);
  FG_CHECK(j.contains("hidden_act"), "{}: missing field \"hidden_act\" (a Hugging Face BERT config.json has it)",
           source);
  FG_CHECK(j.at("hidden_act").is_string(), "{}: field \"hidden_act\" must be a string, got {}", source,
           j.at("hidden_act").dump());
  c.hidden_act = j.at("hidden_act").get<std::string>();
  c.max_position_embeddings = read_int(j, "max_position_embeddings", source);
  c.type_vocab_size = read_int(j, "type_vocab_size", source);
  c.layer_norm_eps = read_number(j, "layer_norm_eps", source);
  c.hidden_dropout_prob = read_number(j, "hidden_dropout_prob", source);
  c.attention_probs_dropout_prob = read_number(j, "attention_probs_dropout_prob", source);
  if (j.contains("pad_token_id") && !j.at("pad_token_id").is_null()) c.pad_token_id = read_int(j, "pad_token_id", source);
  if (j.contains("initializer_range")) c.initializer_range = read_number(j, "initializer_range", source);
  if (j.contains("position_embedding_type")) {
    const auto& p = j.at("position_embedding_type");
    FG_CHECK(p.is_string() && p.get<std::string>() == "absolute",
             "{}: \"position_embedding_type\" {} is not supported (only \"absolute\")", source, p.dump());
  }
  if (j.contains("is_decoder"))
    FG_CHECK(!j.at("is_decoder").is_boolean() || !j.at("is_decoder").get<bool>(),
             "{}: \"is_decoder\": true is not supported (this is the encoder-only BertModel)", source);
  c.validate(source);
  return c;
}

BertConfig BertConfig::from_file(const std::string& path) {
  std::ifstream in(path);
  FG_CHECK(in, "{}: cannot open the BERT config (expected a Hugging Face config.json)", path);
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    FG_FAIL("{}: not valid JSON: {}", path, e.what());
  }
  return from_json(j, path);
}

nlohmann::json BertConfig::to_json() const {
  return nlohmann::json{{"architectures", {"BertModel"}},
                        {"model_type", "bert"},
                        {"vocab_size", vocab_size},
                        {"hidden_size", hidden_size},
                        {"num_hidden_layers", num_hidden_layers},
                        {"num_attention_heads", num_attention_heads},
                        {"intermediate_size", intermediate_size},
                        {"hidden_act", hidden_act},
                        {"max_position_embeddings", max_position_embeddings},
                        {"type_vocab_size", type_vocab_size},
                        {"layer_norm_eps", layer_norm_eps},
                        {"hidden_dropout_prob", hidden_dropout_prob},
                        {"attention_probs_dropout_prob", attention_probs_dropout_prob},
                        {"pad_token_id", pad_token_id},
                        {"initializer_range", initializer_range},
                        {"position_embedding_type", "absolute"}};
}

// ---------------------------------------------------------------- building blocks
namespace {

// A Linear with Hugging Face's init: weight N(0, initializer_range), bias 0.
std::shared_ptr<nn::Linear> bert_linear(const BertBuild& b, std::int64_t in, std::int64_t out) {
  auto l = std::make_shared<nn::Linear>(in, out, *b.init_gen, true, b.opts);
  nn::init::normal_(l->weight, *b.init_gen, 0.0, b.config.initializer_range);
  nn::init::zeros_(l->bias);
  return l;
}

std::shared_ptr<nn::Embedding> bert_embedding(const BertBuild& b, std::int64_t num, std::optional<std::int64_t> pad) {
  auto e = std::make_shared<nn::Embedding>(num, b.config.hidden_size, *b.init_gen, pad, b.opts);
  nn::init::normal_(e->weight, *b.init_gen, 0.0, b.config.initializer_range);
  if (pad) {  // the padding row stays zero (as nn.Embedding's padding_idx after HF's init)
    NoGradGuard ng;
    Tensor row = slice(e->weight, 0, *pad, 1);  // a view of the row
    copy_(row, zeros_like(row));
  }
  return e;
}

}  // namespace

BertEmbeddings::BertEmbeddings(const BertBuild& b) : config(b.config) {
  word_embeddings =
      register_module("word_embeddings", bert_embedding(b, config.vocab_size, config.pad_token_id));
  position_embeddings =
      register_module("position_embeddings", bert_embedding(b, config.max_position_embeddings, std::nullopt));
  token_type_embeddings =
      register_module("token_type_embeddings", bert_embedding(b, config.type_vocab_size, std::nullopt));
  LayerNorm = register_module("LayerNorm",
                              std::make_shared<nn::LayerNorm>(config.hidden_size, config.layer_norm_eps, true, b.opts));
  dropout = register_module("dropout", std::make_shared<nn::Dropout>(config.hidden_dropout_prob, b.dropout_gen));
}

Tensor BertEmbeddings::forward(const Tensor& input_ids, const Tensor& token_type_ids) const {
  FG_CHECK(input_ids.defined() && input_ids.dtype() == DType::i64 && input_ids.dim() == 2,
           "BertEmbeddings: input_ids must be int64 [batch, seq], got {}", input_ids.str());
  const std::int64_t B = input_ids.size(0), S = input_ids.size(1);
  FG_CHECK(S <= config.max_position_embeddings,
           "BertEmbeddings: sequence length {} exceeds max_position_embeddings = {}", S,
           config.max_position_embeddings);
  Tensor types = token_type_ids;
  if (types.defined()) {
    FG_CHECK(types.dtype() == DType::i64 && types.shape() == input_ids.shape(),
             "BertEmbeddings: token_type_ids must be int64 {} like input_ids, got {}", shape_str(input_ids.shape()),
             types.str());
  } else {
    types = zeros({B, S}, TensorOptions{DType::i64, input_ids.device()});
  }
  const Tensor positions = arange(S, TensorOptions{DType::i64, input_ids.device()});
  // Hugging Face's order: (words + token types) + positions
  Tensor e = word_embeddings->forward(input_ids) + token_type_embeddings->forward(types);
  e = e + position_embeddings->forward(positions);
  return dropout->forward(LayerNorm->forward(e));
}

BertSelfAttention::BertSelfAttention(const BertBuild& b) : config(b.config), dropout_gen(b.dropout_gen) {
  query = register_module("query", bert_linear(b, config.hidden_size, config.hidden_size));
  key = register_module("key", bert_linear(b, config.hidden_size, config.hidden_size));
  value = register_module("value", bert_linear(b, config.hidden_size, config.hidden_size));
}

Tensor BertSelfAttention::forward(const Tensor& h, const Tensor& key_mask) const {
  FG_CHECK(h.defined() && h.dim() == 3 && h.size(2) == config.hidden_size,
           "BertSelfAttention: hidden states must be [batch, seq, {}], got {}", config.hidden_size, h.str());
  const std::int64_t B = h.size(0), S = h.size(1), nh = config.num_attention_heads, dh = config.head_dim();
  // [B, S, H] -> [B, nh, S, dh]
  auto heads = [&](const Tensor& x) { return permute(reshape(x, {B, S, nh, dh}), {0, 2, 1, 3}); };
  AttentionOptions opts;
  opts.dropout_p = config.attention_probs_dropout_prob;
  opts.training = is_training();
  const Tensor ctx = scaled_dot_product_attention(heads(query->forward(h)), heads(key->forward(h)),
                                                  heads(value->forward(h)), key_mask, opts, dropout_gen.get());
  return reshape(permute(ctx, {0, 2, 1, 3}), {B, S, config.hidden_size});
}

BertResidualOutput::BertResidualOutput(const BertBuild& b, std::int64_t in_features) : eps(b.config.layer_norm_eps) {
  dense = register_module("dense", bert_linear(b, in_features, b.config.hidden_size));
  LayerNorm = register_module(
      "LayerNorm", std::make_shared<nn::LayerNorm>(b.config.hidden_size, b.config.layer_norm_eps, true, b.opts));
  dropout = register_module("dropout", std::make_shared<nn::Dropout>(b.config.hidden_dropout_prob, b.dropout_gen));
}

Tensor BertResidualOutput::forward(const Tensor& h, const Tensor& residual) const {
  return add_layer_norm(dropout->forward(dense->forward(h)), residual, LayerNorm->weight, LayerNorm->bias, eps);
}

BertAttention::BertAttention(const BertBuild& b) {
  self = register_module("self", std::make_shared<BertSelfAttention>(b));
  output = register_module("output", std::make_shared<BertResidualOutput>(b, b.config.hidden_size));
}

Tensor BertAttention::forward(const Tensor& h, const Tensor& key_mask) const {
  return output->forward(self->forward(h, key_mask), h);
}

BertIntermediate::BertIntermediate(const BertBuild& b) : hidden_act(b.config.hidden_act) {
  dense = register_module("dense", bert_linear(b, b.config.hidden_size, b.config.intermediate_size));
}

Tensor BertIntermediate::forward(const Tensor& h) const {
  if (hidden_act == "relu") return relu(dense->forward(h));
  // x W^T without the bias, then gelu(. + b) in one fused kernel
  return bias_gelu(linear(h, dense->weight), dense->bias, is_gelu_tanh(hidden_act));
}

BertLayer::BertLayer(const BertBuild& b) {
  attention = register_module("attention", std::make_shared<BertAttention>(b));
  intermediate = register_module("intermediate", std::make_shared<BertIntermediate>(b));
  output = register_module("output", std::make_shared<BertResidualOutput>(b, b.config.intermediate_size));
}

Tensor BertLayer::forward(const Tensor& h, const Tensor& key_mask) const {
  const Tensor a = attention->forward(h, key_mask);
  return output->forward(intermediate->forward(a), a);
}

BertEncoder::BertEncoder(const BertBuild& b) {
  layer = register_module("layer", std::make_shared<ModuleList<BertLayer>>());
  for (std::int64_t i = 0; i < b.config.num_hidden_layers; ++i) layer->push_back(std::make_shared<BertLayer>(b));
}

Tensor BertEncoder::forward(const Tensor& h, const Tensor& key_mask) const {
  Tensor x = h;
  for (const auto& l : layer->items()) x = l->forward(x, key_mask);
  return x;
}

BertPooler::BertPooler(const BertBuild& b) {
  dense = register_module("dense", bert_linear(b, b.config.hidden_size, b.config.hidden_size));
}

Tensor BertPooler::forward(const Tensor& h) const { return tanh(dense->forward(select(h, 1, 0))); }

// ---------------------------------------------------------------- the model
BertModel::BertModel(const BertConfig& cfg, Generator& init_gen, TensorOptions opts, bool add_pooling_layer,
                     std::shared_ptr<Generator> dropout_gen)
    : config(cfg) {
  config.validate("BertModel");
  const BertBuild b{config, &init_gen, opts, std::move(dropout_gen)};
  embeddings = register_module("embeddings", std::make_shared<BertEmbeddings>(b));
  encoder = register_module("encoder", std::make_shared<BertEncoder>(b));
  if (add_pooling_layer) pooler = register_module("pooler", std::make_shared<BertPooler>(b));
}

Tensor BertModel::embed(const Tensor& input_ids, const Tensor& token_type_ids) const {
  return embeddings->forward(input_ids, token_type_ids);
}

BertOutputs BertModel::encode(const Tensor& embedding_output, const Tensor& attention_mask) const {
  FG_CHECK(embedding_output.defined() && embedding_output.dim() == 3,
           "BertModel: embedding output must be [batch, seq, hidden], got {}", embedding_output.str());
  if (attention_mask.defined())
    FG_CHECK(attention_mask.dim() == 2 && attention_mask.size(0) == embedding_output.size(0) &&
                 attention_mask.size(1) == embedding_output.size(1),
             "BertModel: attention_mask must be [batch, seq] = [{}, {}] (1 = token, 0 = padding), got {}",
             embedding_output.size(0), embedding_output.size(1), attention_mask.str());
  BertOutputs out;
  out.last_hidden_state = encoder->forward(embedding_output, attention_mask);
  if (pooler) out.pooler_output = pooler->forward(out.last_hidden_state);
  return out;
}

BertOutputs BertModel::forward(const Tensor& input_ids, const Tensor& attention_mask,
                               const Tensor& token_type_ids) const {
  Tensor e = embed(input_ids, token_type_ids);
  if (after_embeddings) e = after_embeddings(e);
  return encode(e, attention_mask);
}

// ---------------------------------------------------------------- loading and saving
namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

BertLoadReport load_bert_weights(BertModel& model, const std::map<std::string, Tensor>& tensors,
                                 const std::string& source, const std::vector<std::string>& may_be_missing) {
  BertLoadReport report;
  bool prefixed = false;
  for (const auto& [name, t] : tensors) prefixed = prefixed || starts_with(name, "bert.");
  report.prefix = prefixed ? "bert." : "";
  std::map<std::string, Tensor> state;
  for (const auto& [raw, t] : tensors) {
    if (prefixed && !starts_with(raw, "bert.")) {  // a task head (classifier.*, cls.*, qa_outputs.*)
      report.ignored_keys.push_back(raw);
      continue;
    }
    std::string name = raw.substr(report.prefix.size());
    if (name == "embeddings.position_ids" || name == "embeddings.token_type_ids") {  // buffers, not weights
      report.ignored_keys.push_back(raw);
      continue;
    }
    // TensorFlow-era checkpoints name LayerNorm's parameters gamma and beta (Hugging Face renames them too)
    if (name.find("LayerNorm.") != std::string::npos) {
      if (ends_with(name, ".gamma")) name = name.substr(0, name.size() - 6) + ".weight";
      if (ends_with(name, ".beta")) name = name.substr(0, name.size() - 5) + ".bias";
    }
    FG_CHECK(state.emplace(name, t).second, "{}: tensor '{}' appears twice (after renaming '{}')", source, name, raw);
  }
  const std::map<std::string, Tensor> own = model.state_dict();
  std::vector<std::string> missing, unexpected;
  for (const auto& [name, t] : own) {
    if (state.count(name)) continue;
    bool allowed = false;
    for (const auto& p : may_be_missing) allowed = allowed || starts_with(name, p);
    if (!allowed) missing.push_back(name);
  }
  for (const auto& [name, t] : state)
    if (!own.count(name)) unexpected.push_back(report.prefix + name);
  FG_CHECK(missing.empty() && unexpected.empty(),
           "{}: the checkpoint does not match this BertModel ({} layers, hidden {}, {}pooler):{}{}", source,
           model.config.num_hidden_layers, model.config.hidden_size, model.pooler ? "" : "no ",
           missing.empty() ? std::string() : "\n  missing keys: " + join(missing),
           unexpected.empty() ? std::string() : "\n  unexpected keys: " + join(unexpected));
  try {
    model.load_state_dict(state, /*strict=*/false);
  } catch (const Error& e) {
    FG_FAIL("{}: {}", source, e.message());
  }
  return report;
}

BertLoadReport load_bert_weights(BertModel& model, const std::string& safetensors_path,
                                 const std::vector<std::string>& may_be_missing) {
  return load_bert_weights(model, load_safetensors(safetensors_path).tensors, safetensors_path, may_be_missing);
}

BertCheckpoint read_bert_checkpoint(const std::string& dir) {
  namespace fs = std::filesystem;
  const std::string config_path = (fs::path(dir) / "config.json").string();
  BertCheckpoint ck;
  ck.weights_path = (fs::path(dir) / "model.safetensors").string();
  FG_CHECK(fs::exists(config_path), "load_bert: {} not found (expected a Hugging Face model folder with config.json "
           "and model.safetensors)", config_path);
  FG_CHECK(fs::exists(ck.weights_path), "load_bert: {} not found (convert pytorch_model.bin with "
           "safetensors.torch.save_file(torch.load(path), 'model.safetensors'))", ck.weights_path);
  ck.config = BertConfig::from_file(config_path);
  ck.tensors = load_safetensors(ck.weights_path).tensors;
  ck.has_pooler = ck.tensors.count("pooler.dense.weight") > 0 || ck.tensors.count("bert.pooler.dense.weight") > 0;
  return ck;
}

std::shared_ptr<BertModel> load_bert(const std::string& dir, TensorOptions opts, std::shared_ptr<Generator> dropout_gen) {
  const BertCheckpoint ck = read_bert_checkpoint(dir);
  Generator init_gen(0);  // every weight is overwritten by the checkpoint
  auto model = std::make_shared<BertModel>(ck.config, init_gen, opts, ck.has_pooler, std::move(dropout_gen));
  load_bert_weights(*model, ck.tensors, ck.weights_path);
  return model;
}

void save_bert(const std::string& dir, const BertModel& model) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  FG_CHECK(!ec, "save_bert: cannot create folder {}: {}", dir, ec.message());
  std::map<std::string, Tensor> host;
  for (const auto& [name, t] : model.state_dict()) host[name] = t.detach().to(Device::cpu());
  save_safetensors((fs::path(dir) / "model.safetensors").string(), host, {{"format", "pt"}});
  fg::io::write_output((fs::path(dir) / "config.json").string(), model.config.to_json().dump(2) + "\n", "save_bert");
}

}  // namespace fg::models
