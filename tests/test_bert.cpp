// tests/test_bert.cpp: models/bert.h.
//   - config.json parsing (bert-base-uncased's file; errors naming the missing or bad field);
//   - parameter names and shapes exactly as transformers' BertModel state dict;
//   - float64 gradchecks on a tiny config (hidden 8, 2 heads, 2 layers, seq 5, padding):
//     every parameter, the encoder's input, and training mode with dropout (re-seeded);
//   - padding: the tokens at padded positions cannot change the real positions' outputs;
//   - save_bert/load_bert round trip, the "bert." prefix of task checkpoints, legacy
//     gamma/beta names, position_ids buffers, a checkpoint without pooler, and named errors
//     for missing/unexpected keys and shape mismatches;
//   - the after_embeddings hook, dropout in training vs eval, float32 vs float64.
// The comparison with PyTorch is tests/test_reference_bert.cpp.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "engine/serialize/safetensors.h"
#include "models/bert.h"
#include "support/gradcheck.h"
#include "support/reference.h"

using namespace fg;
using namespace fg::models;
namespace fs = std::filesystem;

namespace {

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

#define CHECK_ERROR_HAS(expr, needle)                      \
  do {                                                     \
    const std::string _msg = error_of([&] { expr; });      \
    INFO("error: " << _msg);                               \
    CHECK(_msg.find(needle) != std::string::npos);         \
  } while (0)

// bert-base-uncased's config.json, as published.
const char* kBertBaseConfig = R"({
  "architectures": ["BertForMaskedLM"],
  "attention_probs_dropout_prob": 0.1,
  "gradient_checkpointing": false,
  "hidden_act": "gelu",
  "hidden_dropout_prob": 0.1,
  "hidden_size": 768,
  "initializer_range": 0.02,
  "intermediate_size": 3072,
  "layer_norm_eps": 1e-12,
  "max_position_embeddings": 512,
  "model_type": "bert",
  "num_attention_heads": 12,
  "num_hidden_layers": 12,
  "pad_token_id": 0,
  "position_embedding_type": "absolute",
  "transformers_version": "4.6.0.dev0",
  "type_vocab_size": 2,
  "use_cache": true,
  "vocab_size": 30522
})";

BertConfig tiny_config() {
  BertConfig c;
  c.vocab_size = 12;
  c.hidden_size = 8;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.intermediate_size = 16;
  c.max_position_embeddings = 7;
  c.type_vocab_size = 2;
  c.hidden_dropout_prob = 0.2;
  c.attention_probs_dropout_prob = 0.3;
  c.initializer_range = 0.3;  // large enough that every path matters in a gradient check
  return c;
}

Tensor ids_of(const std::vector<std::int64_t>& v, std::int64_t batch, std::int64_t seq) {
  return from_vector(v, {batch, seq}, TensorOptions{DType::i64});
}

// Batch of 2, seq 5: the second row is padded after 3 tokens (ids there are not the pad id,
// so the padding row of the word embeddings, which never gets a gradient, stays unused).
const std::vector<std::int64_t> kIds = {1, 4, 7, 9, 2, 1, 5, 2, 3, 3};
const std::vector<std::int64_t> kMask = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
const std::vector<std::int64_t> kTypes = {0, 0, 0, 1, 1, 0, 0, 0, 0, 0};

Tensor flat_outputs(const BertOutputs& o) {
  return concat({reshape(o.last_hidden_state, {-1}), reshape(o.pooler_output, {-1})}, 0);
}

struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() / ("fg_bert_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string str() const { return path.string(); }
};

}  // namespace

TEST_CASE("bert: config.json of bert-base-uncased parses; bad fields are named") {
  const BertConfig c = BertConfig::from_json(nlohmann::json::parse(kBertBaseConfig), "config.json");
  CHECK(c.vocab_size == 30522);
  CHECK(c.hidden_size == 768);
  CHECK(c.num_hidden_layers == 12);
  CHECK(c.num_attention_heads == 12);
  CHECK(c.head_dim() == 64);
  CHECK(c.intermediate_size == 3072);
  CHECK(c.hidden_act == "gelu");
  CHECK(c.max_position_embeddings == 512);
  CHECK(c.type_vocab_size == 2);
  CHECK(c.layer_norm_eps == 1e-12);
  CHECK(c.hidden_dropout_prob == 0.1);
  CHECK(c.attention_probs_dropout_prob == 0.1);
  // round trip through to_json
  const BertConfig back = BertConfig::from_json(c.to_json(), "to_json");
  CHECK(back.to_json() == c.to_json());

  auto with = [](const char* field, const nlohmann::json& value) {
    auto j = nlohmann::json::parse(kBertBaseConfig);
    if (value.is_null()) {
      j.erase(field);
    } else {
      j[field] = value;
    }
    return j;
  };
  CHECK_ERROR_HAS(BertConfig::from_json(with("num_hidden_layers", nullptr), "cfg.json"),
                  "cfg.json: missing field \"num_hidden_layers\"");
  CHECK_ERROR_HAS(BertConfig::from_json(with("layer_norm_eps", nullptr), "cfg.json"), "\"layer_norm_eps\"");
  CHECK_ERROR_HAS(BertConfig::from_json(with("hidden_size", "768"), "cfg.json"),
                  "field \"hidden_size\" must be an integer");
  CHECK_ERROR_HAS(BertConfig::from_json(with("hidden_size", 100), "cfg.json"),
                  "\"hidden_size\" (100) must be a multiple of \"num_attention_heads\" (12)");
  CHECK_ERROR_HAS(BertConfig::from_json(with("hidden_act", "swish"), "cfg.json"), "\"hidden_act\" must be");
  CHECK_ERROR_HAS(BertConfig::from_json(with("hidden_dropout_prob", 1.5), "cfg.json"), "\"hidden_dropout_prob\"");
  CHECK_ERROR_HAS(BertConfig::from_json(with("vocab_size", -3), "cfg.json"), "\"vocab_size\" must be positive");
  CHECK_ERROR_HAS(BertConfig::from_json(with("position_embedding_type", "relative_key"), "cfg.json"),
                  "\"position_embedding_type\"");
  CHECK_ERROR_HAS(BertConfig::from_json(nlohmann::json::array(), "cfg.json"), "expected a JSON object");
  CHECK_ERROR_HAS(BertConfig::from_file("/nonexistent/config.json"), "/nonexistent/config.json: cannot open");
  TempDir dir;
  const std::string bad = (dir.path / "config.json").string();
  std::ofstream(bad) << "{\"vocab_size\": 3,";
  CHECK_ERROR_HAS(BertConfig::from_file(bad), "not valid JSON");
}

TEST_CASE("bert: parameter names and shapes are transformers' BertModel state dict") {
  BertConfig c = tiny_config();
  c.num_hidden_layers = 1;
  Generator gen(1);
  const BertModel model(c, gen);
  std::map<std::string, Shape> want = {
      {"embeddings.word_embeddings.weight", {12, 8}},
      {"embeddings.position_embeddings.weight", {7, 8}},
      {"embeddings.token_type_embeddings.weight", {2, 8}},
      {"embeddings.LayerNorm.weight", {8}},
      {"embeddings.LayerNorm.bias", {8}},
      {"pooler.dense.weight", {8, 8}},
      {"pooler.dense.bias", {8}},
  };
  const std::string l = "encoder.layer.0.";
  for (const char* m : {"query", "key", "value"}) {
    want[l + "attention.self." + m + ".weight"] = {8, 8};
    want[l + "attention.self." + m + ".bias"] = {8};
  }
  want[l + "attention.output.dense.weight"] = {8, 8};
  want[l + "attention.output.dense.bias"] = {8};
  want[l + "attention.output.LayerNorm.weight"] = {8};
  want[l + "attention.output.LayerNorm.bias"] = {8};
  want[l + "intermediate.dense.weight"] = {16, 8};
  want[l + "intermediate.dense.bias"] = {16};
  want[l + "output.dense.weight"] = {8, 16};
  want[l + "output.dense.bias"] = {8};
  want[l + "output.LayerNorm.weight"] = {8};
  want[l + "output.LayerNorm.bias"] = {8};
  const auto state = model.state_dict();
  CHECK(state.size() == want.size());
  for (const auto& [name, shape] : want) {
    CAPTURE(name);
    REQUIRE(state.count(name) == 1);
    CHECK(state.at(name).shape() == shape);
  }
  // Hugging Face's init: zero biases, LayerNorm ones/zeros, a zero padding row
  CHECK(sum(abs(state.at(l + "attention.self.query.bias"))).item() == 0.0);
  CHECK(sum(state.at("embeddings.LayerNorm.weight")).item() == 8.0);
  CHECK(sum(abs(select(state.at("embeddings.word_embeddings.weight"), 0, 0))).item() == 0.0);
  CHECK(sum(abs(select(state.at("embeddings.word_embeddings.weight"), 0, 1))).item() > 0.0);
}

TEST_CASE("gradcheck: tiny BertModel, every parameter, with padding (eval mode)") {
  Generator gen(2);
  BertModel model(tiny_config(), gen, f64_opts());
  model.eval();
  const Tensor ids = ids_of(kIds, 2, 5), mask = ids_of(kMask, 2, 5), types = ids_of(kTypes, 2, 5);
  CHECK_GRADCHECK([&](const std::vector<Tensor>&) { return flat_outputs(model.forward(ids, mask, types)); },
                  model.parameters());
}

TEST_CASE("gradcheck: the encoder's input, and training mode with dropout (re-seeded masks)") {
  auto dropout_gen = std::make_shared<Generator>(5);
  Generator gen(3);
  BertModel model(tiny_config(), gen, f64_opts(), true, dropout_gen);
  const Tensor mask = ids_of(kMask, 2, 5);
  model.eval();
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return flat_outputs(model.encode(in[0], mask)); },
                  std::vector<Tensor>{testing::rand_input({2, 5, 8}, 4)});
  model.train();
  const Tensor ids = ids_of(kIds, 2, 5);
  std::vector<Tensor> params;
  for (const auto& [name, p] : model.named_parameters())
    if (name.find("layer.1.") != std::string::npos || name.find("embeddings.LayerNorm") != std::string::npos)
      params.push_back(p);
  CHECK_GRADCHECK(
      [&](const std::vector<Tensor>&) {
        dropout_gen->manual_seed(11);  // every evaluation draws the same masks
        return flat_outputs(model.forward(ids, mask));
      },
      params);
}

TEST_CASE("bert: padded positions cannot change the real positions; training draws dropout") {
  Generator gen(4);
  BertModel model(tiny_config(), gen, f64_opts());
  model.eval();
  const Tensor mask = ids_of(kMask, 2, 5);
  const BertOutputs a = model.forward(ids_of(kIds, 2, 5), mask);
  std::vector<std::int64_t> other = kIds;
  other[8] = 11;  // row 1, padded positions 3 and 4
  other[9] = 0;
  const BertOutputs b = model.forward(ids_of(other, 2, 5), mask);
  const Tensor real_a = slice(select(a.last_hidden_state, 0, 1), 0, 0, 3);
  const Tensor real_b = slice(select(b.last_hidden_state, 0, 1), 0, 0, 3);
  CHECK(testing::relative_error(real_b, real_a) == 0.0);
  CHECK(testing::relative_error(b.pooler_output, a.pooler_output) == 0.0);
  CHECK(testing::relative_error(slice(select(b.last_hidden_state, 0, 1), 0, 3, 2),
                                slice(select(a.last_hidden_state, 0, 1), 0, 3, 2)) > 1e-3);  // padded rows differ
  // without a mask the padded tokens do matter
  const BertOutputs c = model.forward(ids_of(kIds, 2, 5));
  CHECK(testing::relative_error(c.pooler_output, a.pooler_output) > 1e-6);
  // dropout: training differs from eval and between draws; eval is deterministic
  auto dg = std::make_shared<Generator>(1);
  Generator gen2(4);
  BertModel m2(tiny_config(), gen2, f64_opts(), true, dg);
  m2.eval();
  CHECK(testing::relative_error(m2.forward(ids_of(kIds, 2, 5), mask).pooler_output, a.pooler_output) == 0.0);
  m2.train();
  const Tensor t1 = m2.forward(ids_of(kIds, 2, 5), mask).pooler_output;
  const Tensor t2 = m2.forward(ids_of(kIds, 2, 5), mask).pooler_output;
  CHECK(testing::relative_error(t1, a.pooler_output) > 1e-3);
  CHECK(testing::relative_error(t1, t2) > 1e-3);
  dg->manual_seed(1);
  CHECK(testing::relative_error(m2.forward(ids_of(kIds, 2, 5), mask).pooler_output, t1) == 0.0);
}

TEST_CASE("bert: the after_embeddings hook runs between the embeddings and the encoder") {
  Generator gen(5);
  BertModel model(tiny_config(), gen, f64_opts());
  model.eval();
  const Tensor ids = ids_of(kIds, 2, 5), mask = ids_of(kMask, 2, 5);
  const Tensor e = model.embed(ids);
  int calls = 0;
  model.after_embeddings = [&](const Tensor& x) {
    ++calls;
    CHECK(testing::relative_error(x, e) == 0.0);
    return x * 2.0;
  };
  const BertOutputs hooked = model.forward(ids, mask);
  CHECK(calls == 1);
  CHECK(testing::relative_error(hooked.last_hidden_state, model.encode(e * 2.0, mask).last_hidden_state) == 0.0);
}

TEST_CASE("bert: save_bert / load_bert round trip, float32 vs float64") {
  Generator gen(6);
  BertModel model(tiny_config(), gen, f64_opts());
  model.eval();
  TempDir dir;
  save_bert(dir.str(), model);
  CHECK(fs::exists(dir.path / "config.json"));
  CHECK(fs::exists(dir.path / "model.safetensors"));
  const auto loaded = load_bert(dir.str(), f64_opts());
  loaded->eval();
  const Tensor ids = ids_of(kIds, 2, 5), mask = ids_of(kMask, 2, 5);
  CHECK(testing::relative_error(flat_outputs(loaded->forward(ids, mask)), flat_outputs(model.forward(ids, mask))) ==
        0.0);
  CHECK(loaded->config.to_json() == model.config.to_json());
  // float32 parameters: the same network to float32 rounding
  const auto f32 = load_bert(dir.str());
  f32->eval();
  CHECK(f32->embeddings->word_embeddings->weight.dtype() == DType::f32);
  const double err = testing::relative_error(flat_outputs(f32->forward(ids, mask)).to(DType::f64),
                                             flat_outputs(model.forward(ids, mask)));
  INFO("float32 vs float64 relative error " << err);
  CHECK(err < 1e-5);
}

TEST_CASE("bert: Hugging Face checkpoint variants load; mismatches are named errors") {
  Generator gen(7);
  BertModel model(tiny_config(), gen, f64_opts());
  model.eval();
  const auto state = model.state_dict();
  const Tensor ids = ids_of(kIds, 2, 5), mask = ids_of(kMask, 2, 5);
  const Tensor want = flat_outputs(model.forward(ids, mask));

  SUBCASE("a task model's keys: bert. prefix, classifier head, position_ids buffer, gamma/beta") {
    std::map<std::string, Tensor> hf;
    for (const auto& [name, t] : state) {
      std::string key = "bert." + name;
      if (name == "embeddings.LayerNorm.weight") key = "bert.embeddings.LayerNorm.gamma";
      if (name == "embeddings.LayerNorm.bias") key = "bert.embeddings.LayerNorm.beta";
      hf[key] = t.to(DType::f32).to(DType::f64);  // exact: the model is compared with itself below
    }
    hf["bert.embeddings.position_ids"] = reshape(arange(7, TensorOptions{DType::i64}), {1, 7});
    hf["classifier.weight"] = zeros({3, 8}, f64_opts());
    hf["classifier.bias"] = zeros({3}, f64_opts());
    Generator g2(99);
    BertModel fresh(tiny_config(), g2, f64_opts());
    fresh.eval();
    const BertLoadReport r = load_bert_weights(fresh, hf, "task.safetensors");
    CHECK(r.prefix == "bert.");
    CHECK(r.ignored_keys ==
          std::vector<std::string>{"bert.embeddings.position_ids", "classifier.bias", "classifier.weight"});
    BertModel rounded(tiny_config(), g2, f64_opts());
    rounded.eval();
    std::map<std::string, Tensor> r32;
    for (const auto& [name, t] : state) r32[name] = t.to(DType::f32).to(DType::f64);
    rounded.load_state_dict(r32);
    CHECK(testing::relative_error(flat_outputs(fresh.forward(ids, mask)), flat_outputs(rounded.forward(ids, mask))) ==
          0.0);
  }
  SUBCASE("missing, unexpected and misshapen keys") {
    auto broken = state;
    broken.erase("encoder.layer.1.output.dense.bias");
    broken["encoder.layer.2.output.dense.bias"] = zeros({8}, f64_opts());
    Generator g2(1);
    BertModel fresh(tiny_config(), g2, f64_opts());
    const std::string msg = error_of([&] { load_bert_weights(fresh, broken, "broken.safetensors"); });
    INFO(msg);
    CHECK(msg.find("broken.safetensors") != std::string::npos);
    CHECK(msg.find("missing keys: encoder.layer.1.output.dense.bias") != std::string::npos);
    CHECK(msg.find("unexpected keys: encoder.layer.2.output.dense.bias") != std::string::npos);
    auto misshapen = state;
    misshapen["pooler.dense.weight"] = zeros({8, 4}, f64_opts());
    CHECK_ERROR_HAS(load_bert_weights(fresh, misshapen, "shape.safetensors"), "'pooler.dense.weight' has shape [8, 4]");
    // nothing was loaded by the failed attempts
    CHECK(testing::relative_error(fresh.state_dict().at("pooler.dense.bias"), zeros({8}, f64_opts())) == 0.0);
  }
  SUBCASE("a checkpoint without pooler builds a model without pooler") {
    TempDir dir;
    std::map<std::string, Tensor> no_pooler;
    for (const auto& [name, t] : state)
      if (name.rfind("pooler.", 0) != 0) no_pooler[name] = t;
    save_safetensors((dir.path / "model.safetensors").string(), no_pooler, {{"format", "pt"}});
    std::ofstream(dir.path / "config.json") << model.config.to_json().dump();
    const auto loaded = load_bert(dir.str(), f64_opts());
    CHECK(loaded->pooler == nullptr);
    loaded->eval();
    const BertOutputs o = loaded->forward(ids, mask);
    CHECK_FALSE(o.pooler_output.defined());
    CHECK(testing::relative_error(o.last_hidden_state, model.forward(ids, mask).last_hidden_state) == 0.0);
  }
  SUBCASE("missing files") {
    TempDir dir;
    CHECK_ERROR_HAS(load_bert(dir.str()), "config.json not found");
    std::ofstream(dir.path / "config.json") << model.config.to_json().dump();
    CHECK_ERROR_HAS(load_bert(dir.str()), "model.safetensors not found");
  }
}

TEST_CASE("bert: bad inputs are named errors") {
  Generator gen(8);
  BertModel model(tiny_config(), gen, f64_opts());
  CHECK_ERROR_HAS(model.forward(ids_of({1, 2, 3, 4, 5, 6, 7, 8}, 1, 8)), "sequence length 8 exceeds");
  CHECK_ERROR_HAS(model.forward(ones({2, 3}, f64_opts())), "input_ids must be int64 [batch, seq]");
  CHECK_ERROR_HAS(model.forward(ids_of(kIds, 2, 5), ids_of({1, 1, 1}, 1, 3)), "attention_mask must be [batch, seq]");
  CHECK_ERROR_HAS(model.forward(ids_of(kIds, 2, 5), Tensor(), ids_of({0, 1}, 1, 2)), "token_type_ids must be int64");
  CHECK_ERROR_HAS(model.forward(ids_of({1, 2, 30}, 1, 3)), "index");
}
