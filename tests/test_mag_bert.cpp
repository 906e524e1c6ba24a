// tests/test_mag_bert.cpp: MAG-BERT as a SentimentModel (models/mag_bert.h): the word-piece
// alignment of word-level features, gradchecks at tiny sizes (float64), BERT's own
// learning-rate group, and `present` (text absent = every position [PAD]).
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/wordpiece.h"
#include "engine/ops.h"
#include "models/mag_bert.h"
#include "support/gradcheck.h"

using fg::Tensor;

namespace {

fg::data::WordPieceTokenizer tiny_tokenizer() {
  return fg::data::WordPieceTokenizer({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "un", "##believ", "##able",
                                       "film", "good"});
}

std::shared_ptr<fg::models::MagBertSentiment> tiny_model(fg::Generator& g) {
  fg::models::BertConfig bc;
  bc.vocab_size = 11, bc.hidden_size = 4, bc.num_hidden_layers = 1, bc.num_attention_heads = 2;
  bc.intermediate_size = 6, bc.max_position_embeddings = 16;
  bc.hidden_dropout_prob = 0, bc.attention_probs_dropout_prob = 0;
  bc.initializer_range = 0.5;  // large enough that every path carries a visible gradient
  fg::models::MagConfig mc;
  mc.acoustic_dim = 3, mc.visual_dim = 2, mc.dropout = 0, mc.beta_shift = 0.7;
  const fg::TensorOptions o{fg::DType::f64};
  auto bert = std::make_shared<fg::models::MagBertModel>(bc, mc, g, o, false);
  fg::models::MagBertSentimentConfig sc;
  sc.head_dropout = 0, sc.bert_lr = 3e-5;
  return std::make_shared<fg::models::MagBertSentiment>(bert, sc, g, o);
}

// A word-piece batch: ids [B, S, 1] (float64), acoustic [B, S, 3], visual [B, S, 2].
fg::data::Batch piece_batch(const Tensor& acoustic, const Tensor& visual, const Tensor& present = Tensor()) {
  fg::data::Batch b;
  b.modality_names = {"text", "acoustic", "visual"};
  const std::vector<double> ids = {2, 5, 6, 7, 8, 3, /**/ 2, 9, 10, 3, 0, 0};
  b.features = {fg::from_vector(ids, {2, 6, 1}, fg::f64_opts()), acoustic, visual};
  b.lengths = fg::from_vector(std::vector<std::int64_t>{6, 4}, {2}, fg::TensorOptions{fg::DType::i64});
  b.mask = fg::data::mask_from_lengths(b.lengths, 6).to(fg::DType::f64);
  b.rows = {0, 1};
  b.labels = fg::zeros({2}, fg::f64_opts());
  b.present = present;
  return b;
}

}  // namespace

TEST_CASE("word_piece_split: each piece carries its word's features, zeros at [CLS]/[SEP]") {
  fg::data::MultimodalSplit w;
  w.name = "train";
  w.modality_names = {"text", "acoustic", "visual"};
  // two utterances, 3 steps: "hello unbelievable" (2 words) and "good film good"
  w.features = {fg::zeros({2, 3, 2}, fg::f32_opts()),
                fg::from_vector(std::vector<float>{1, 2, 0, /**/ 4, 5, 6}, {2, 3, 1}, fg::f32_opts()),
                fg::from_vector(std::vector<float>{10, 20, 0, /**/ 40, 50, 60}, {2, 3, 1}, fg::f32_opts())};
  w.lengths = fg::from_vector(std::vector<std::int64_t>{2, 3}, {2}, fg::TensorOptions{fg::DType::i64});
  w.mask = fg::data::mask_from_lengths(w.lengths, 3);
  w.labels = fg::from_vector(std::vector<float>{0.5f, -1.f}, {2}, fg::f32_opts());
  w.raw_text = {"hello unbelievable", "good film good"};
  w.ids = {"a", "b"};
  const auto p = fg::models::word_piece_split(w, tiny_tokenizer(), 8);
  CHECK(p.lengths.to_vector<std::int64_t>() == std::vector<std::int64_t>{6, 5});
  const auto ids = p.features[0].to_vector<float>();
  CHECK(std::vector<float>(ids.begin(), ids.begin() + 8) == std::vector<float>{2, 5, 6, 7, 8, 3, 0, 0});
  CHECK(std::vector<float>(ids.begin() + 8, ids.end()) == std::vector<float>{2, 10, 9, 10, 3, 0, 0, 0});
  const auto a = p.features[1].to_vector<float>(), v = p.features[2].to_vector<float>();
  CHECK(std::vector<float>(a.begin(), a.begin() + 8) == std::vector<float>{0, 1, 2, 2, 2, 0, 0, 0});
  CHECK(std::vector<float>(v.begin() + 8, v.end()) == std::vector<float>{0, 40, 50, 60, 0, 0, 0, 0});
  CHECK(p.raw_text == w.raw_text);
  w.raw_text = {"hello", "good film good"};
  CHECK_THROWS_WITH_AS(fg::models::word_piece_split(w, tiny_tokenizer(), 8),
                       doctest::Contains("raw_text has 1 words for 2 steps"), fg::Error);
}

TEST_CASE("gradcheck: MAG-BERT's prediction and [CLS] z through MAG and the encoder (float64, tiny)") {
  fg::Generator g(7);
  auto model = tiny_model(g);
  const Tensor a = fg::testing::rand_input({2, 6, 3}, 11), v = fg::testing::rand_input({2, 6, 2}, 12);
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return model->forward(piece_batch(in[0], in[1])).prediction; },
                  (std::vector<Tensor>{a, v}));
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return model->forward(piece_batch(in[0], in[1])).z; },
                  (std::vector<Tensor>{a, v}));
  // parameters: the head, a MAG gate and BERT's word embeddings, each as the checked input
  for (const std::string name : {"head.weight", "bert.MAG.W_hv.weight", "bert.embeddings.word_embeddings.weight"}) {
    Tensor param;
    for (const auto& [n, t] : model->named_parameters())
      if (n == name) param = t;
    REQUIRE_MESSAGE(param.defined(), name);
    CHECK_GRADCHECK([&](const std::vector<Tensor>&) { return model->forward(piece_batch(a.detach(), v.detach())).prediction; },
                    (std::vector<Tensor>{param}));
  }
}

TEST_CASE("MAG-BERT: BERT's parameters in their own lr group; text absent = all [PAD]") {
  fg::Generator g(8);
  auto model = tiny_model(g);
  const auto groups = model->param_groups();
  REQUIRE(groups.size() == 2);
  CHECK(groups[0].name == "bert");
  CHECK(*groups[0].lr == doctest::Approx(3e-5));
  CHECK_FALSE(groups[1].lr.has_value());
  CHECK(groups[0].params.size() + groups[1].params.size() == model->parameters().size());
  std::size_t mag = 0;
  for (const auto& [n, t] : model->named_parameters()) mag += n.rfind("bert.MAG.", 0) == 0 || n.rfind("head.", 0) == 0;
  CHECK(groups[1].params.size() == mag);
  model->eval();
  const Tensor a = fg::testing::rand_input({2, 6, 3}, 1).detach(), v = fg::testing::rand_input({2, 6, 2}, 2).detach();
  const Tensor absent = fg::from_vector(std::vector<double>{0, 1, 1, 0, 1, 1}, {2, 3}, fg::f64_opts());
  const auto p_absent = model->forward(piece_batch(a, v, absent)).prediction.to_vector<double>();
  auto zero_ids = piece_batch(a, v);
  zero_ids.features[0] = fg::zeros({2, 6, 1}, fg::f64_opts());
  const auto p_zero = model->forward(zero_ids).prediction.to_vector<double>();
  const auto p_all = model->forward(piece_batch(a, v)).prediction.to_vector<double>();
  for (int i = 0; i < 2; ++i) {
    CHECK(p_absent[i] == doctest::Approx(p_zero[i]).epsilon(1e-12));
    CHECK(std::abs(p_absent[i] - p_all[i]) > 1e-9);
  }
}
