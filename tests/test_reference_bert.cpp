// tests/test_reference_bert.cpp: the BERT pieces vs PyTorch 1.13 (float64), fixtures from
// tests/reference/ref_bert.py:
//   - ops: scaled_dot_product_attention (Hugging Face's additive-mask formula, padded keys,
//     Sq != Sk, a custom scale), bias_gelu (erf and tanh), add_layer_norm;
//   - modules, built in PyTorch after transformers' modeling_bert.py and the MAG authors'
//     code: one BertLayer with padding, a whole tiny BertModel (embeddings, 2 layers,
//     pooler), MAG (both alpha regimes and the zero-||H|| rule) and MAG-BERT. The fixture
//     passes every parameter under its Hugging Face name; we load them with
//     load_state_dict (strict: the names must match exactly), run, backpropagate
//     sum(out * R) and compare the output, the data inputs' gradients and every
//     parameter's gradient with relative error <= 1e-10.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <set>

#include "engine/serialize/safetensors.h"
#include "models/bert.h"
#include "models/mag.h"
#include "models/mag_bert.h"
#include "support/reference.h"

using namespace fg;
using namespace fg::models;
using Params = nlohmann::json;
using Inputs = std::vector<Tensor>;

// ---------------------------------------------------------------- fused ops
FG_REFERENCE_TEST("bert", "attention", [](const Inputs& in, const Params& p) {
  AttentionOptions opts;
  opts.scale = p["scale"].get<double>();
  return scaled_dot_product_attention(in[0], in[1], in[2], in[3], opts);
})

FG_REFERENCE_TEST("bert", "bias_gelu",
                  [](const Inputs& in, const Params& p) { return bias_gelu(in[0], in[1], p["tanh"].get<bool>()); })

FG_REFERENCE_TEST("bert", "add_layer_norm", [](const Inputs& in, const Params& p) {
  return add_layer_norm(in[0], in[1], in[2], in[3], p["eps"].get<double>());
})

// ---------------------------------------------------------------- modules
namespace {

const SafetensorsFile& bert_fixture() {
#if !FG_HAVE_TORCH
  FAIL("PyTorch reference fixtures are missing: " FG_PYTHON " could not import torch when this build was "
       "configured. Install python3-torch and python3-numpy (tools/setup.sh) and re-run cmake.");
#endif
  static const SafetensorsFile f = load_safetensors(std::string(FG_REFERENCE_DIR) + "/bert.safetensors");
  return f;
}

const Tensor& fixture_tensor(const std::string& name) {
  const auto& t = bert_fixture().tensors;
  const auto it = t.find(name);
  if (it == t.end()) FAIL("fixture tensor " << name << " is missing");
  return it->second;
}

using Build = std::function<std::shared_ptr<nn::Module>(const Params& params)>;
using Run = std::function<Tensor(nn::Module& module, const Inputs& data)>;

const std::set<std::string> kModuleOps = {"module:bert_layer", "module:bert_model", "module:mag", "module:mag_bert",
                                          "module:mag_bert_sentiment"};

void check_module_cases(const std::string& op, const Build& build, const Run& run) {
  const auto cases = nlohmann::json::parse(bert_fixture().metadata.at("cases"));
  int ran = 0;
  for (const auto& c : cases) {
    if (c["op"] != op) continue;
    ++ran;
    const std::string name = c["name"];
    CAPTURE(name);
    const auto names = c["params"]["names"].get<std::vector<std::string>>();
    const auto grads = c["grads"].get<std::vector<int>>();
    const std::set<int> with_grad(grads.begin(), grads.end());
    Inputs data;
    std::vector<int> data_slot(names.size(), -1);
    std::map<std::string, Tensor> state;
    for (std::size_t k = 0; k < names.size(); ++k) {
      const Tensor& t = fixture_tensor(fmt::format("{}.in.{}", name, k));
      if (names[k].rfind("input:", 0) == 0) {
        Tensor x = t.clone();
        if (with_grad.count(static_cast<int>(k))) x.requires_grad_(true);
        data_slot[k] = static_cast<int>(data.size());
        data.push_back(x);
      } else {
        state[names[k]] = t;
      }
    }
    std::shared_ptr<nn::Module> module = build(c["params"]);
    module->eval();
    module->load_state_dict(state);  // strict: every Hugging Face name must exist, and no other
    const Tensor out = run(*module, data);
    const Tensor& ref_out = fixture_tensor(name + ".out");
    REQUIRE(out.shape() == ref_out.shape());
    const double out_err = testing::relative_error(out, ref_out);
    INFO("output relative error " << out_err);
    CHECK(out_err <= 1e-10);
    sum(out * fixture_tensor(name + ".R")).backward();
    std::map<std::string, Tensor> params;
    for (const auto& [pname, p] : module->named_parameters()) params[pname] = p;
    for (int k : grads) {
      const std::string what = names[static_cast<std::size_t>(k)];
      CAPTURE(what);
      const Tensor g = data_slot[k] >= 0 ? data[static_cast<std::size_t>(data_slot[k])].grad() : params.at(what).grad();
      const Tensor& ref_g = fixture_tensor(fmt::format("{}.grad.{}", name, k));
      if (!g.defined()) {  // not in our graph: allowed only where PyTorch's gradient is exactly 0 (an unread pooler)
        CHECK_MESSAGE(sum(square(ref_g)).item() == 0.0, "no gradient reached " << what);
        continue;
      }
      const double ref_norm = std::sqrt(sum(square(ref_g)).item());
      if (ref_norm < 1e-12) {
        // a gradient that is exactly 0 in exact arithmetic, left with rounding noise: the
        // key bias (softmax ignores a shift shared by a row's scores, and q . b_k is one).
        // Relative error means nothing there; both must be noise-sized.
        const double our_norm = std::sqrt(sum(square(g)).item());
        INFO("gradient norm " << our_norm << " where PyTorch has " << ref_norm);
        CHECK(our_norm < 1e-12);
        continue;
      }
      const double err = testing::relative_error(g, ref_g);
      INFO("gradient relative error " << err);
      CHECK(err <= 1e-10);
    }
  }
  CHECK_MESSAGE(ran > 0, "no fixture case for " << op);
}

BertConfig config_of(const Params& p) { return BertConfig::from_json(p.at("config"), "ref_bert.py config"); }

MagConfig mag_config_of(const Params& p) {
  MagConfig m;
  m.visual_dim = p.at("visual_dim").get<std::int64_t>();
  m.acoustic_dim = p.at("acoustic_dim").get<std::int64_t>();
  m.beta_shift = p.at("beta_shift").get<double>();
  return m;
}

}  // namespace

TEST_CASE("reference vs PyTorch [bert]: one BertLayer (Hugging Face names, padding mask)") {
  check_module_cases(
      "module:bert_layer",
      [](const Params& p) {
        Generator gen(1);
        return std::make_shared<BertLayer>(BertBuild{config_of(p), &gen, f64_opts(), nullptr});
      },
      [](nn::Module& m, const Inputs& d) { return dynamic_cast<BertLayer&>(m).forward(d[0], d[1]); });
}

TEST_CASE("reference vs PyTorch [bert]: a tiny BertModel (embeddings, 2 layers, pooler)") {
  check_module_cases(
      "module:bert_model",
      [](const Params& p) {
        Generator gen(2);
        return std::make_shared<BertModel>(config_of(p), gen, f64_opts());
      },
      [](nn::Module& m, const Inputs& d) {
        const BertOutputs o = dynamic_cast<BertModel&>(m).forward(d[0], d[1], d[2]);
        return concat({reshape(o.last_hidden_state, {-1}), reshape(o.pooler_output, {-1})}, 0);
      });
}

TEST_CASE("reference vs PyTorch [bert]: MAG (alpha below and at the cap, a zero shift)") {
  check_module_cases(
      "module:mag",
      [](const Params& p) {
        Generator gen(3);
        MagConfig m = mag_config_of(p);
        m.text_dim = 8;
        return std::make_shared<MAG>(m, gen, f64_opts());
      },
      [](nn::Module& m, const Inputs& d) { return dynamic_cast<MAG&>(m).forward(d[0], d[1], d[2]); });
}

TEST_CASE("reference vs PyTorch [bert]: MAG-BERT (MAG after the embeddings)") {
  check_module_cases(
      "module:mag_bert",
      [](const Params& p) {
        Generator gen(4);
        return std::make_shared<MagBertModel>(config_of(p), mag_config_of(p), gen, f64_opts());
      },
      [](nn::Module& m, const Inputs& d) {
        const BertOutputs o = dynamic_cast<MagBertModel&>(m).forward(d[0], d[1], d[2], d[3], d[4]);
        return concat({reshape(o.last_hidden_state, {-1}), reshape(o.pooler_output, {-1})}, 0);
      });
}

// MDM's fifth model: MagBertSentiment (models/mag_bert.h) = the MAG-BERT above, z = [CLS]'s
// last hidden state, Linear head; the output is the L1 loss against the fixture's labels, so
// the loss and every parameter's gradient (and the visual/acoustic inputs') are compared.
TEST_CASE("reference vs PyTorch [bert]: MAG-BERT's sentiment model (loss and every parameter gradient)") {
  std::vector<double> labels;
  check_module_cases(
      "module:mag_bert_sentiment",
      [&](const Params& p) {
        labels = p.at("labels").get<std::vector<double>>();
        Generator gen(5);
        auto bert = std::make_shared<MagBertModel>(config_of(p), mag_config_of(p), gen, f64_opts());
        return std::make_shared<MagBertSentiment>(bert, MagBertSentimentConfig{}, gen, f64_opts());
      },
      [&](nn::Module& m, const Inputs& d) {
        // d: input_ids int64 [B, S], visual, acoustic float64 [B, S, d], attention_mask int64 [B, S]
        data::Batch b;
        b.modality_names = {"text", "acoustic", "visual"};
        b.features = {unsqueeze(d[0].to(DType::f64), 2), d[2], d[1]};
        b.mask = d[3].to(DType::f64);
        b.lengths = sum(d[3].to(DType::f64), 1).to(DType::i64);
        b.labels = from_vector(labels, {static_cast<std::int64_t>(labels.size())}, f64_opts());
        for (std::int64_t i = 0; i < d[0].size(0); ++i) b.rows.push_back(i);
        const SentimentOutput o = dynamic_cast<MagBertSentiment&>(m).forward(b);
        REQUIRE(o.z.shape() == Shape{d[0].size(0), 8});
        return l1_loss(o.prediction, b.labels);
      });
}

TEST_CASE("reference vs PyTorch [bert]: every fixture case has a C++ test") {
  const auto cases = nlohmann::json::parse(bert_fixture().metadata.at("cases"));
  const std::set<std::string> op_tests = {"attention", "bias_gelu", "add_layer_norm"};
  for (const auto& c : cases) {
    const std::string op = c["op"];
    CHECK_MESSAGE((op_tests.count(op) == 1 || kModuleOps.count(op) == 1),
                  "fixture case " << c["name"] << " uses op '" << op << "' with no C++ test");
  }
}
