// tests/test_mag.cpp: the Multimodal Adaptation Gate and MAG-BERT (models/mag.h).
//   - float64 gradchecks of MAG in the inputs and every parameter, in eval mode and with
//     dropout (re-seeded), with positions below and at the alpha cap and a zero shift;
//   - alpha: the cap at 1, beta_shift's scaling, the zero-||H|| rule (alpha from ||H|| = 1
//     and no gradient through the norm there);
//   - expand_word_features: repeats per word piece, zeros at [CLS]/[SEP]/padding, gradient
//     summed back per word, errors; the tokenizer -> MAG-BERT pipeline end to end;
//   - MagBertModel's names (BERT's plus MAG.*) and load_mag_bert (BERT weights loaded, MAG fresh).
// The comparison with the authors' PyTorch code is in tests/test_reference_bert.cpp.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "data/wordpiece.h"
#include "engine/autograd.h"
#include "models/mag.h"
#include "support/gradcheck.h"
#include "support/reference.h"

using namespace fg;
using namespace fg::models;
namespace fs = std::filesystem;

namespace {

MagConfig small_mag() {
  MagConfig m;
  m.text_dim = 6;
  m.visual_dim = 3;
  m.acoustic_dim = 4;
  m.beta_shift = 0.5;
  m.dropout = 0.3;
  return m;
}

// ||x|| over the last axis, as plain numbers.
std::vector<double> row_norms(const Tensor& x) {
  const auto v = x.to_vector<double>();
  const std::int64_t n = x.size(-1);
  std::vector<double> out;
  for (std::size_t r = 0; r < v.size() / n; ++r) {
    double s = 0;
    for (std::int64_t j = 0; j < n; ++j) s += v[r * n + j] * v[r * n + j];
    out.push_back(std::sqrt(s));
  }
  return out;
}

}  // namespace

TEST_CASE("gradcheck: MAG in its inputs and parameters (eval, and dropout re-seeded)") {
  Generator gen(1);
  auto dg = std::make_shared<Generator>(2);
  MAG mag(small_mag(), gen, f64_opts(), dg);
  // inputs: text embeddings small enough that some alphas stay below the cap of 1
  const Tensor e = testing::rand_input({2, 3, 6}, 3, -0.6, 0.6);
  const Tensor v = testing::rand_input({2, 3, 3}, 4, -2, 2), a = testing::rand_input({2, 3, 4}, 5, -2, 2);
  {
    NoGradGuard ng;
    const auto alpha = mag.alpha(e, mag.shift(e, v, a)).to_vector<double>();
    int capped = 0;
    for (double x : alpha) capped += x == 1.0;
    INFO("alphas: " << alpha[0] << " " << alpha[1] << " " << alpha[2] << " " << alpha[3] << " " << alpha[4] << " "
                    << alpha[5]);
    REQUIRE(capped > 0);
    REQUIRE(capped < 6);
  }
  std::vector<Tensor> inputs = {e, v, a};
  for (const Tensor& p : mag.parameters()) inputs.push_back(p);
  mag.eval();
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return mag.forward(in[0], in[1], in[2]); }, inputs);
  mag.train();
  CHECK_GRADCHECK(
      [&](const std::vector<Tensor>& in) {
        dg->manual_seed(7);
        return mag.forward(in[0], in[1], in[2]);
      },
      inputs);
}

TEST_CASE("MAG: alpha = min(||e|| / (||H|| + eps) * beta_shift, 1), a zero shift counts as norm 1") {
  Generator gen(2);
  MagConfig cfg = small_mag();
  cfg.beta_shift = 0.25;
  MAG mag(cfg, gen, f64_opts());
  mag.eval();
  {  // zero biases of W_v and W_a: zero visual and acoustic features give H = 0
    NoGradGuard ng;
    Tensor bv = mag.W_v->bias, ba = mag.W_a->bias;
    copy_(bv, zeros_like(bv));
    copy_(ba, zeros_like(ba));
  }
  Tensor e = testing::rand_input({1, 3, 6}, 6, -1, 1);
  Tensor v = testing::rand_input({1, 3, 3}, 7, -2, 2), a = testing::rand_input({1, 3, 4}, 8, -2, 2);
  {
    NoGradGuard ng;
    double* pv = v.data<double>();
    double* pa = a.data<double>();
    for (int j = 0; j < 3; ++j) pv[1 * 3 + j] = 0.0;  // position 1: no visual, no acoustic signal
    for (int j = 0; j < 4; ++j) pa[1 * 4 + j] = 0.0;
  }
  const Tensor h = mag.shift(e, v, a);
  const auto hn = row_norms(h), en = row_norms(e);
  CHECK(hn[1] == 0.0);
  const auto alpha = mag.alpha(e, h).to_vector<double>();
  for (int s = 0; s < 3; ++s) {
    CAPTURE(s);
    const double denom = (hn[s] == 0.0 ? 1.0 : hn[s]) + cfg.eps;
    CHECK(alpha[s] == doctest::Approx(std::min(en[s] / denom * cfg.beta_shift, 1.0)).epsilon(1e-14));
  }
  // at the zero shift the output is LayerNorm(e) and nothing flows into the gates' inputs there
  const Tensor out = mag.forward(e, v, a);
  const Tensor ln_e = layer_norm(e, mag.LayerNorm->weight, mag.LayerNorm->bias, cfg.layer_norm_eps);
  CHECK(testing::relative_error(select(select(out, 0, 0), 0, 1), select(select(ln_e, 0, 0), 0, 1).detach()) < 1e-15);
  const auto g = autograd::grad(sum(out * testing::rand_input({1, 3, 6}, 9).detach()), {v, a});
  for (const Tensor& gi : g) CHECK(std::isfinite(sum(square(gi)).item()));
  // a larger beta_shift caps more positions
  MagConfig big = cfg;
  big.beta_shift = 1e6;
  Generator gen2(2);
  MAG capped(big, gen2, f64_opts());
  for (double x : capped.alpha(e, capped.shift(e, v, a)).to_vector<double>()) CHECK(x == 1.0);
}

TEST_CASE("expand_word_features: one row per word piece, zeros at specials and padding") {
  const Tensor words = testing::rand_input({2, 3, 2}, 10);  // 2 utterances, 3 words, 2 features
  const std::vector<std::vector<std::int64_t>> index = {{-1, 0, 0, 1, 2, -1}, {-1, 2, -1, -1, -1, -1}};
  const Tensor out = expand_word_features(words, index);
  CHECK(out.shape() == Shape{2, 6, 2});
  const auto w = words.to_vector<double>(), o = out.to_vector<double>();
  for (int b = 0; b < 2; ++b)
    for (int s = 0; s < 6; ++s)
      for (int d = 0; d < 2; ++d) {
        const std::int64_t k = index[b][s];
        CHECK(o[(b * 6 + s) * 2 + d] == (k < 0 ? 0.0 : w[(b * 3 + k) * 2 + d]));
      }
  // the gradient of a word is the sum over its pieces
  const auto g = autograd::grad(sum(out), {words})[0].to_vector<double>();
  CHECK(g == std::vector<double>{2, 2, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1});
  auto error_of = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const std::exception& e) {
      return e.what();
    }
    return "";
  };
  CHECK(error_of([&] { expand_word_features(words, {{0, 3}, {0, 1}}); }).find("word_index[0][1] = 3") !=
        std::string::npos);
  CHECK(error_of([&] { expand_word_features(words, {{0, 1}}); }).find("1 rows for a batch of 2") !=
        std::string::npos);
  CHECK(error_of([&] { expand_word_features(words, {{0, 1}, {0}}); }).find("row 1 has 1 entries") !=
        std::string::npos);
}

TEST_CASE("MAG-BERT: names, the tokenizer pipeline, and loading BERT weights with a fresh MAG") {
  BertConfig bc;
  bc.vocab_size = 10;
  bc.hidden_size = 8;
  bc.num_hidden_layers = 1;
  bc.num_attention_heads = 2;
  bc.intermediate_size = 12;
  bc.max_position_embeddings = 8;
  MagConfig mc;
  mc.visual_dim = 3;
  mc.acoustic_dim = 2;
  Generator gen(11);
  MagBertModel model(bc, mc, gen, f64_opts());
  model.eval();
  const auto state = model.state_dict();
  for (const char* name : {"MAG.W_hv.weight", "MAG.W_ha.bias", "MAG.W_v.weight", "MAG.W_a.weight",
                           "MAG.LayerNorm.weight", "embeddings.word_embeddings.weight", "pooler.dense.bias"})
    CHECK_MESSAGE(state.count(name) == 1, name);
  CHECK(state.at("MAG.W_hv.weight").shape() == Shape{8, 11});
  CHECK(sum(abs(state.at("MAG.W_v.bias"))).item() == 0.0);  // BERT's init (normal weights, zero biases)

  // words -> word pieces -> features per piece -> MAG-BERT
  const data::WordPieceTokenizer tok({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "so", "un", "##real", "!"});
  const data::Encoding enc = tok.encode_words({"So", "unreal!"}, 8);
  CHECK(enc.tokens == std::vector<std::string>{"[CLS]", "so", "un", "##real", "!", "[SEP]", "[PAD]", "[PAD]"});
  const data::EncodedBatch batch = data::WordPieceTokenizer::batch({enc});
  const Tensor visual_words = testing::rand_input({1, 2, 3}, 12).detach();
  const Tensor acoustic_words = testing::rand_input({1, 2, 2}, 13).detach();
  const Tensor visual = expand_word_features(visual_words, batch.word_index);
  const Tensor acoustic = expand_word_features(acoustic_words, batch.word_index);
  const BertOutputs out = model.forward(batch.input_ids, visual, acoustic, batch.attention_mask);
  CHECK(out.last_hidden_state.shape() == Shape{1, 8, 8});
  CHECK(std::isfinite(sum(square(out.pooler_output)).item()));
  // MAG-BERT = BERT with MAG between embed() and encode()
  const Tensor e = model.mag->forward(model.embed(batch.input_ids), visual, acoustic);
  CHECK(testing::relative_error(model.encode(e, batch.attention_mask).pooler_output, out.pooler_output) == 0.0);

  // load_mag_bert: BERT's weights from a Hugging Face folder, MAG initialized afresh
  const fs::path dir = fs::temp_directory_path() / ("fg_mag_" + std::to_string(::getpid()));
  Generator g2(12);
  BertModel bert(bc, g2, f64_opts());
  save_bert(dir.string(), bert);
  Generator g3(13);
  const auto loaded = load_mag_bert(dir.string(), mc, g3, f64_opts());
  const auto ls = loaded->state_dict(), bs = bert.state_dict();
  for (const auto& [name, t] : bs) {
    CAPTURE(name);
    CHECK(testing::relative_error(ls.at(name), t) == 0.0);
  }
  CHECK(ls.count("MAG.W_hv.weight") == 1);
  std::error_code ec;
  fs::remove_all(dir, ec);
}
