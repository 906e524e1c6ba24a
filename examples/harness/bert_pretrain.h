// examples/harness/bert_pretrain.h: masked-language-model pretraining of a small BERT on
// the movie reviews of Debian's python3-pattern (issue 12 item 2; docs/pretrain-bert.md).
//
// The pieces, top to bottom:
//   - text: read_reviews_csv() reads `pang_lee_reviews.csv` (1,500 full reviews, python3-pattern's
//     polarity-en-pang&lee1.csv as tools/text_sources.sh extracts it;
//     "label","text" rows, the text quoted over many lines); pack_sequences() tokenizes each
//     document with WordPiece and cuts it into [CLS] piece... [SEP] sequences of at most
//     max_len, never across documents;
//   - masking: mlm_mask() is BERT's recipe (Devlin et al. 2019, sec. 3.1; transformers'
//     DataCollatorForLanguageModeling): every maskable position (a real token that is not a
//     special token: [PAD], [UNK], [CLS], [SEP], [MASK] never are) is selected with
//     probability 0.15; a selected position becomes [MASK] with probability 0.8, a uniformly
//     drawn non-special token with 0.1, and stays as it is with 0.1; the loss is the
//     cross-entropy of the original token at the selected positions only;
//   - the model: BertForMaskedLM, transformers' class of the same name and parameter names
//     (bert.* and cls.predictions.{transform.dense, transform.LayerNorm, bias}; the decoder
//     is tied to bert.embeddings.word_embeddings, as in Hugging Face), without a pooler (no
//     next-sentence objective, so no trained pooler to save);
//   - MlmTask: the Task (task.h) the harness's fit() trains: sequences travel through the
//     loader as a one-modality split ("tokens": float32 ids [N, S, 1], exact below 2^24);
//     predict() returns each sequence's mean masked-token loss under a fixed mask drawn
//     from the row number alone (no training stream is touched), so the harness's "valid
//     MAE" against all-zero labels is the mean held-out MLM loss per sequence, and the best
//     weights are those of the lowest held-out MLM loss;
//   - mlm_evaluate(): the token-weighted loss, perplexity exp(loss) and accuracy on a split;
//   - pretrain_bert(): the whole run (splits by document, fit(), evaluation, output folder);
//     ensure_pretrained_bert(): the cached model later examples use (built on first use).
//
// The output folder is a Hugging Face BertForMaskedLM folder: config.json (architectures
// ["BertForMaskedLM"]), vocab.txt, model.safetensors (float32, HF names; the tied decoder
// weight is not stored, as save_pretrained does), plus pretraining.json (the run's settings
// and measured numbers). models::load_bert(dir) reads the encoder (ignoring cls.*);
// transformers' BertForMaskedLM/BertModel.from_pretrained(dir) read it too.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/dataset.h"
#include "data/wordpiece.h"
#include "engine/random.h"
#include "examples/harness/task.h"
#include "examples/harness/trainer.h"
#include "models/bert.h"

namespace fg::harness {

// ---------------------------------------------------------------- text
struct LabelledText {
  int label = 0;  // the csv's first column (1 / -1)
  std::string text;
};
// Reads a two-column csv ("label","text"; RFC 4180 quoting, "" inside quotes, a UTF-8 BOM
// allowed, quoted fields may span lines). Throws naming the file and line on bad input.
std::vector<LabelledText> read_reviews_csv(const std::string& path);

// Token-id sequences [CLS] pieces [SEP], each at most max_len long, cut from each document in
// order; a document's last piece run shorter than min_pieces is dropped (except when it is
// the document's only one).
std::vector<std::vector<std::int64_t>> pack_sequences(const std::vector<std::string>& documents,
                                                      const data::WordPieceTokenizer& tok, std::int64_t max_len,
                                                      std::int64_t min_pieces = 8);

// The sequences as a split the harness's loader walks: modality "tokens" float32 [N, S, 1]
// (ids), lengths, mask, labels all 0.
data::MultimodalSplit sequences_split(const std::vector<std::vector<std::int64_t>>& seqs, const std::string& name);

// ---------------------------------------------------------------- masking
struct MlmOptions {
  double mask_prob = 0.15;  // share of maskable positions selected
  double to_mask = 0.8;     // of the selected: replaced by [MASK]
  double to_random = 0.1;   // of the selected: replaced by a random non-special token (rest: kept)
};

struct MlmMasked {
  std::vector<std::int64_t> input_ids;  // the corrupted ids (same layout as the input)
  std::vector<std::int64_t> positions;  // flat indices of the selected positions, increasing
  std::vector<std::int64_t> targets;    // the original ids there
  std::vector<int> kind;                // 0 = [MASK], 1 = random token, 2 = kept
};

// Masks `ids` (any layout; maskable[i] = may be selected). Draws from `gen` only (host
// Philox): 1 uniform per maskable position, plus 1 (and 1 for the random token) per selected
// one. `random_pool` is the ids a random replacement is drawn from (uniformly). With
// at_least_one, a draw that selects nothing selects one maskable position (uniformly).
MlmMasked mlm_mask(const std::vector<std::int64_t>& ids, const std::vector<char>& maskable, std::int64_t mask_id,
                   const std::vector<std::int64_t>& random_pool, Generator& gen, const MlmOptions& options = {},
                   bool at_least_one = true);

// ---------------------------------------------------------------- the model
class BertPredictionHeadTransform : public nn::Module {
 public:
  BertPredictionHeadTransform(const models::BertConfig& c, Generator& gen, TensorOptions opts);
  std::string type_name() const override { return "BertPredictionHeadTransform"; }
  Tensor forward(const Tensor& h) const;  // LayerNorm(act(dense(h)))
  std::string hidden_act;
  std::shared_ptr<nn::Linear> dense;
  std::shared_ptr<nn::LayerNorm> LayerNorm;
};

class BertLMPredictionHead : public nn::Module {
 public:
  BertLMPredictionHead(const models::BertConfig& c, Generator& gen, TensorOptions opts);
  std::string type_name() const override { return "BertLMPredictionHead"; }
  std::shared_ptr<BertPredictionHeadTransform> transform;
  Tensor bias;  // [vocab]
};

class BertOnlyMLMHead : public nn::Module {
 public:
  BertOnlyMLMHead(const models::BertConfig& c, Generator& gen, TensorOptions opts);
  std::string type_name() const override { return "BertOnlyMLMHead"; }
  std::shared_ptr<BertLMPredictionHead> predictions;
};

class BertForMaskedLM : public nn::Module {
 public:
  BertForMaskedLM(const models::BertConfig& config, Generator& init_gen, TensorOptions opts = {},
                  std::shared_ptr<Generator> dropout_gen = nullptr);
  std::string type_name() const override { return "BertForMaskedLM"; }
  // Logits [M, vocab] at the flat positions (int64 [M], into [B*S]) of hidden [B, S, H].
  Tensor logits_at(const Tensor& hidden, const Tensor& positions) const;
  // Per-position negative log-likelihoods [M] of `targets` (int64 [M]).
  Tensor nll(const Tensor& input_ids, const Tensor& attention_mask, const Tensor& positions,
             const Tensor& targets) const;

  std::shared_ptr<models::BertModel> bert;
  std::shared_ptr<BertOnlyMLMHead> cls;
};

// Writes the Hugging Face folder described at the top (config.json, vocab.txt,
// model.safetensors) plus pretraining.json = `info` when given.
void save_bert_for_masked_lm(const std::string& dir, const BertForMaskedLM& model,
                             const std::vector<std::string>& vocab, const nlohmann::json& info = nullptr);

// ---------------------------------------------------------------- the task
class MlmTask : public Task {
 public:
  MlmTask(std::shared_ptr<BertForMaskedLM> model, const data::WordPieceTokenizer& tok, std::uint64_t seed,
          std::shared_ptr<Generator> dropout_gen, MlmOptions options = {});
  nn::Module& module() override { return *model_; }
  Loss loss(const data::Batch& batch) override;
  Tensor predict(const data::Batch& batch) override;  // [B] mean masked NLL per sequence (fixed masks)
  std::vector<std::pair<std::string, Generator*>> generators() override;
  BertForMaskedLM& model() { return *model_; }

  struct Eval {
    double loss = 0;        // mean NLL per masked token
    double perplexity = 0;  // exp(loss)
    double accuracy = 0;    // argmax = original token
    std::int64_t masked = 0, tokens = 0;
  };
  // Token-weighted evaluation with the fixed per-row masks (eval mode, no gradients).
  Eval evaluate(const data::MultimodalSplit& split, std::int64_t batch_size, Device device);
  std::int64_t tokens_seen() const { return tokens_seen_; }  // real tokens of the training batches so far

 private:
  struct Prepared {
    Tensor input_ids, attention_mask, positions, targets;
    std::vector<std::int64_t> row_of;  // batch row of each selected position
  };
  Prepared prepare(const data::Batch& batch, bool fixed_masks);

  std::shared_ptr<BertForMaskedLM> model_;
  std::vector<char> special_;  // by id
  std::int64_t mask_id_;
  std::vector<std::int64_t> pool_;
  MlmOptions options_;
  std::uint64_t seed_;
  Generator mask_gen_;
  std::shared_ptr<Generator> dropout_gen_;
  std::int64_t tokens_seen_ = 0;
};

// ---------------------------------------------------------------- the run
struct PretrainOptions {
  std::string reviews_csv;  // pang_lee_reviews.csv (tools/text_sources.sh)
  std::string vocab_txt;    // bert-base-uncased vocab.txt
  std::string out_dir;      // the Hugging Face folder written at the end
  // model (defaults: the size chosen for a 2-core CPU run, docs/pretrain-bert.md)
  std::int64_t hidden = 128, layers = 2, heads = 2, intermediate = 512, max_len = 64;
  // data
  std::int64_t max_documents = 0;     // 0 = all; else the first N (tests)
  std::int64_t valid_documents = 50, test_documents = 75;
  // training (TrainOptions' fields; epochs over the training sequences)
  std::int64_t epochs = 1, batch_size = 32, warmup_steps = 60;
  double lr = 1e-3, weight_decay = 0.01, clip = 1.0;
  std::uint64_t seed = 0;
  std::string device = "cpu";
  std::string checkpoint, log;
  std::int64_t checkpoint_every = 1;
  bool resume = false, quiet = false;
};

struct PretrainResult {
  std::int64_t train_sequences = 0, valid_sequences = 0, test_sequences = 0;
  std::int64_t parameters = 0, steps = 0, tokens_seen = 0;
  double seconds = 0;
  MlmTask::Eval test_before, test_after;  // held-out, before training and with the best weights
  std::vector<double> step_losses;
  nlohmann::json info;  // what pretraining.json holds
};

// Trains and writes out_dir. Throws fg::Error naming a missing or bad input file, and what
// fit() throws (Interrupted after SIGINT/SIGTERM, with the checkpoint written). `observer`
// watches fit()'s steps and epochs.
PretrainResult pretrain_bert(const PretrainOptions& options, std::ostream& log, const Observer& observer = {});

// The default pretrained model in <cache_dir>/pretrained-bert/: returned at once when its
// pretraining.json exists, else pretrained with the defaults from the text sources in
// `text_dir` (pang_lee_reviews.csv, bert-base-uncased/vocab.txt: tools/text_sources.sh) and written there. Returns the folder.
std::string ensure_pretrained_bert(const std::string& cache_dir, const std::string& text_dir, std::ostream& log,
                                   const std::string& device = "cpu");

}  // namespace fg::harness
