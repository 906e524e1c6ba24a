// models/mag_bert.h: MAG-BERT as a zoo-style models::SentimentModel (MDM's fifth model,
// issue 13 deliverable 2; Rahman et al., ACL 2020; MAG itself is models/mag.h).
//
//   input_ids --BERT embeddings--> e --MAG(e, visual, acoustic)--> BERT encoder --> h
//   z = h[:, 0] (the [CLS] position, width hidden_size);  prediction = Linear(Dropout(z))
//
// The pretrained small BERT (examples/pretrain_bert, MLM only) has no trained pooler, so the
// head reads the [CLS] hidden state itself, not the pooler (the authors' MAG_BertForSequence-
// Classification uses the pooler of bert-base, which NSP trained).
//
// Inputs: MAG-BERT reads word pieces, so its batches come from word_piece_split(): one time
// grid of word pieces, [CLS] w1-pieces ... wn-pieces [SEP], with three modalities:
//   "text"      float32 [N, S, 1], the WordPiece ids (exact in float32; 0 = [PAD])
//   "acoustic"  float32 [N, S, d_a], the word-level features of the word each piece came from
//   "visual"    float32 [N, S, d_v], likewise
// Alignment (as the MAG authors' data preparation does for CMU-MOSI: each word is tokenized on
// its own and its word-level visual/acoustic vector is repeated for every piece of it, with
// zeros at [CLS] and [SEP]): the word-aligned corpus (`--corpus reviews`) has one step per
// spoken word and raw_text = those words joined by single spaces, so word w of raw_text owns
// step w of acoustic/visual; WordPieceTokenizer::encode_words() records each piece's word
// (word_index) and models::expand_word_features() copies the features. A word whose pieces
// would run past max_len is cut (with its features).
//
// `present` (data/batching.h): a missing modality contributes nothing: ids times present[:,
// text] (text absent: every position is [PAD], so the encoder sees position embeddings shifted
// by MAG's acoustic/visual gate only), acoustic and visual times their columns. The attention
// mask is the batch's mask of "text" (shared grid).
//
// BERT's own learning rate: param_groups() puts BERT's parameters (embeddings, encoder,
// pooler) in a group with `bert_lr`, MAG and the head in a group with the optimizer's lr.
// The harness's fit() builds its optimizer from Task::param_groups() (examples/harness/task.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/wordpiece.h"
#include "engine/optim/optimizer.h"
#include "models/mag.h"
#include "models/sentiment.h"

namespace fg::models {

struct MagBertSentimentConfig {
  std::vector<std::string> modalities = {"text", "acoustic", "visual"};
  double head_dropout = 0.1;  // before the [CLS] -> 1 linear head (BERT's hidden_dropout_prob by default)
  double bert_lr = 1e-4;      // the learning rate of BERT's parameters (param_groups)
};

class MagBertSentiment : public SentimentModel {
 public:
  // Takes a built MagBertModel (load_mag_bert for the pretrained one, or a fresh one in tests);
  // the head's weights are drawn from init_gen.
  MagBertSentiment(std::shared_ptr<MagBertModel> bert, const MagBertSentimentConfig& config, Generator& init_gen,
                   TensorOptions opts = {}, std::shared_ptr<Generator> dropout_gen = nullptr);
  std::string type_name() const override { return "MagBertSentiment"; }
  const std::vector<std::string>& modalities() const override { return config_.modalities; }
  std::int64_t fused_dim() const override { return bert->config.hidden_size; }
  SentimentOutput forward(const data::Batch& batch) override;

  // Two groups: {"bert", lr = bert_lr} (every parameter outside "bert.MAG."), {"mag_head",
  // the optimizer's lr} (MAG and the head).
  std::vector<optim::ParamGroup> param_groups() const;
  const MagBertSentimentConfig& config() const { return config_; }

  std::shared_ptr<MagBertModel> bert;  // registered as "bert"
  std::shared_ptr<nn::Dropout> dropout;
  std::shared_ptr<nn::Linear> head;

 private:
  MagBertSentimentConfig config_;
};

// A word-aligned split (one step per word, raw_text = the words joined by spaces; the
// modalities named "text", "acoustic", "visual") -> the word-piece split described above,
// at most max_len pieces per utterance ([CLS] and [SEP] included). Labels, ids, raw_text and
// `present` are kept. Throws naming the split and row when raw_text is missing or its word
// count differs from the row's length.
data::MultimodalSplit word_piece_split(const data::MultimodalSplit& words, const data::WordPieceTokenizer& tok,
                                       std::int64_t max_len);
data::MultimodalDataset word_piece_dataset(const data::MultimodalDataset& words, const data::WordPieceTokenizer& tok,
                                           std::int64_t max_len);

}  // namespace fg::models
