// models/mmim.h: MMIM (paper 003, Han et al. 2021, "Improving Multimodal Fusion with
// Hierarchical Mutual Information Maximization"), sections 3.3-3.6, with the authors' code's
// layout (docs/mmim.md lists where the two differ). The MI estimators themselves live in
// losses/mmim.h (GaussianPredictor, GmmEntropy, CpcLoss) and are reused here.
//
//   text      h_t = BERT(text_bert ids, mask, segments).last_hidden_state[:, 0]   [B, H_bert]
//             or, with text_encoder Lstm (corpora without word pieces, e.g. the synthetic one),
//             h_t = Linear(Dropout(LSTM(x_t, len_t).h_n))                          [B, text_hidden]
//   acoustic  h_a = Linear(Dropout(LSTM(x_a, len_a).h_n))                          [B, enc_out]
//   visual    h_v = Linear(Dropout(LSTM(x_v, len_v).h_n))                          [B, enc_out]
//             (unaligned: each modality packed with its own lengths)
//   fusion    z   = tanh(L2(tanh(L1(Dropout([h_t; h_a; h_v])))))                  [B, fusion_dim]
//   head      y^  = L3(z)                                                          [B]
//
// The MI terms (terms()):
//   lld_tv, lld_ta  E log q(h_v | h_t), E log q(h_a | h_t)   GaussianPredictor (Full: the
//                   paper's log-density with log sigma and log 2 pi; MmimCode: the code's form)
//   lld_va          E log q(h_a | h_v): the third pair of Table 4's replacement rows (the
//                   authors' code's `add_va`), off by default
//   H_v, H_a, H_va  per pair, the GMM entropy of its target (v, a, a) through the pair's own
//                   projection P = tanh(Linear(h, h/4)) and memory (as the code's MMILB
//                   modules), split by label sign, with a FIFO
//                   memory of `memory_batches` batches (GmmEntropy); in nats with constants
//                   when the lld is Full (consistent units), MMIM's 1/4 sum log det otherwise.
//                   Split: >= 0 vs < 0 (paper) or, with drop_zero_labels, > 0 vs < 0 (code).
//                   A class with <= k rows (batch + memory) cannot have a full-rank
//                   covariance: that pair's H is then 0 for the step (h_skipped counts it)
//                   instead of a NaN or an error (documented fallback, docs/mmim.md).
//   bound  = sum over the pairs in use of (lld + H): by default (lld_tv + H_v) + (lld_ta + H_a);
//            L_BA = -bound   (eq. 9)
//   cpc_t, cpc_a, cpc_v  CPC between z and each of h_t, h_a, h_v (eq. 10-12); normalised over
//                   the predictions G(z_j) for each h_i (the code's, default, CpcLoss::forward)
//                   or over the modality vectors h_j for each G(z_i) (the paper's eq. 11).
//
// Parameter groups (Algorithm 1): bert_parameters() (lr_bert), predictor_parameters() (the q
// MLPs and the entropy projections, as in the code where both live in the "mi" modules: the
// projections get no gradient from L_lld, so they keep their initial values, as there) and
// main_parameters() (everything else: LSTMs, encoders' Linears, fusion, head, CPC's G).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "engine/nn/lstm.h"
#include "engine/nn/nn.h"
#include "engine/ops.h"
#include "losses/mmim.h"
#include "models/bert.h"
#include "models/sentiment.h"

namespace fg::models {

enum class CpcNormalization { Code, Paper };
enum class TextEncoder { Bert, Lstm };

struct MmimConfig {
  std::string text = "text_bert", acoustic = "acoustic", visual = "visual";  // modality names
  // Bert: `text` holds word pieces [B, L, 3] and the constructor takes a BertModel; Lstm: `text`
  // holds feature sequences [B, T, text_dim] (own lengths) and no BertModel is given.
  TextEncoder text_encoder = TextEncoder::Bert;
  std::int64_t text_dim = 300, text_hidden = 32;     // Lstm only: input width, LSTM width = h_t width
  std::int64_t acoustic_dim = 15, visual_dim = 20;   // input widths
  std::int64_t rnn_hidden = 16, encoder_out = 16;    // LSTM hidden and encoder output (code: 16)
  std::int64_t fusion_dim = 128;                     // d_prjh: width of z
  double encoder_dropout = 0.1, fusion_dropout = 0.1;
  losses::LogLikelihoodForm lld_form = losses::LogLikelihoodForm::Full;
  bool drop_zero_labels = false;    // code's split (> 0 vs < 0); default: paper's >= 0 vs < 0
  int memory_batches = 1;           // FIFO history of the GMM (0: current batch only)
  CpcNormalization cpc = CpcNormalization::Code;
  // Ablations (Table 4's rows): the BA pairs in use (t->v, t->a and the replacement pair
  // v->a, the code's add_va), each CPC term. A pair not in use has no predictor, projection,
  // memory, lld or H (its modules are built, to keep the other weights' initial values, but
  // not registered: no parameters); a CPC term not in use is 0 and its G is not registered.
  // --memory 0 is "w/o history".
  bool use_ba_tv = true, use_ba_ta = true, use_ba_va = false;
  bool use_cpc_t = true, use_cpc_a = true, use_cpc_v = true;
  // Table 4's "single Gaussian": H = 1/2 log det Sigma of all rows (batch + memory) regardless
  // of polarity (+ k/2 (1 + log 2 pi) with the paper's lld). Computed through GmmEntropy on the
  // rows duplicated, one copy in each class: both covariances are then Sigma_all, and
  // 1/4 (log det + log det) = 1/2 log det Sigma_all, with the same constant.
  bool single_gaussian = false;
  void validate() const;            // throws naming the field
};

struct MmimTerms {
  Tensor lld_tv, lld_ta, lld_va;  // 0-d, mean log-likelihood (higher is better); 0 when not in use
  Tensor h_v, h_a, h_va;          // 0-d entropy estimates of pairs tv, ta, va (0 when skipped or not in use)
  Tensor cpc_t, cpc_a, cpc_v;     // 0-d CPC losses (lower is more MI); 0 when not in use
  int h_skipped = 0;       // pairs whose H fell back to 0 this step (too few rows in a class)
  std::vector<std::string> present;  // the names of the terms in use ("lld_tv", "h_v", ..., "cpc_v")
  Tensor lld() const { return lld_tv + lld_ta + lld_va; }
  Tensor bound() const { return lld_tv + h_v + lld_ta + h_a + lld_va + h_va; }
  Tensor cpc() const { return cpc_t + cpc_a + cpc_v; }
};

// The GMM memory of one BA pair, as plain tensors (for checkpoints): the remembered batches'
// projected features and labels after the split, oldest first.
struct MmimPairMemory {
  std::string pair;  // "tv", "ta", "va"
  std::vector<std::pair<Tensor, Tensor>> batches;
};

class Mmim : public SentimentModel {
 public:
  // `bert`: the text encoder (load_bert(dir) or a fresh BertModel); registered as "bert".
  // nullptr with config.text_encoder Lstm (then a text LSTM "text_rnn" + "text_out").
  Mmim(const MmimConfig& config, std::shared_ptr<BertModel> bert, Generator& init_gen, TensorOptions opts = {},
       std::shared_ptr<Generator> dropout_gen = nullptr);
  std::string type_name() const override { return "Mmim"; }
  const std::vector<std::string>& modalities() const override { return names_; }
  std::int64_t fused_dim() const override { return config_.fusion_dim; }
  // encodings = {h_t, h_a, h_v} (the names' order: text, acoustic, visual).
  SentimentOutput forward(const data::Batch& batch) override;
  // The three unimodal encodings only (stage 1 runs them without gradient).
  std::vector<Tensor> encode(const data::Batch& batch);
  // The MI terms of a forward's output; uses the GMM memory, does not change it.
  MmimTerms terms(const data::Batch& batch, const SentimentOutput& out) const;
  // The sum of the lld of the pairs in use from encodings h_t, h_a, h_v.
  Tensor log_likelihood(const Tensor& h_t, const Tensor& h_a, const Tensor& h_v) const;
  // Appends the batch's projected targets (detached) to each pair's GMM memory (FIFO).
  void remember(const data::Batch& batch, const SentimentOutput& out);
  void clear_memory();
  // Batches remembered (the same for every pair in use; 0 without a pair).
  std::size_t memory_size() const;
  // The memory of the pairs in use (tv, ta, va order) and its restoration (checkpoints):
  // set_memory(memory()) leaves the model's estimates bitwise unchanged.
  std::vector<MmimPairMemory> memory() const;
  void set_memory(const std::vector<MmimPairMemory>& memory);
  // The entropy projection's output width (encoder_out / 4).
  std::int64_t entropy_dim() const { return config_.encoder_out / 4; }

  std::vector<Tensor> bert_parameters() const;
  std::vector<Tensor> predictor_parameters() const;
  std::vector<Tensor> main_parameters() const;
  const MmimConfig& config() const { return config_; }

  std::shared_ptr<BertModel> bert;                  // nullptr with text_encoder Lstm
  std::shared_ptr<nn::LSTM> text_rnn;               // text_encoder Lstm only
  std::shared_ptr<nn::Linear> text_out;             // text_encoder Lstm only
  std::shared_ptr<nn::LSTM> acoustic_rnn, visual_rnn;
  std::shared_ptr<nn::Dropout> encoder_dropout, fusion_dropout;
  std::shared_ptr<nn::Linear> acoustic_out, visual_out, fusion_1, fusion_2, head;
  std::shared_ptr<losses::GaussianPredictor> q_tv, q_ta, q_va;  // q_va: only with use_ba_va
  std::shared_ptr<nn::Linear> entropy_prj_v, entropy_prj_a, entropy_prj_va;
  std::shared_ptr<losses::CpcLoss> cpc_t, cpc_a, cpc_v;

 private:
  // One BA pair: I(from; to) >= H(to) + E log q(to | from); indices into {h_t, h_a, h_v}.
  struct Pair {
    std::string name;  // "tv", "ta", "va"
    bool on = false;
    int from = 0, to = 0;
    losses::GaussianPredictor* q = nullptr;
    nn::Linear* prj = nullptr;
    losses::GmmEntropy ent;
    std::deque<std::pair<int, int>> counts;  // (non-negative, negative) rows per remembered batch
  };
  Tensor entropy(const Pair& p, const Tensor& proj, const Tensor& labels, int& skipped) const;
  Tensor cpc_term(const losses::CpcLoss& cpc, const Tensor& z, const Tensor& h) const;
  // rows kept by the split (all, or the non-zero labels with drop_zero_labels) -> (features, labels)
  std::pair<Tensor, Tensor> split_rows(const Tensor& proj, const Tensor& labels) const;
  void push_memory(Pair& p, const Tensor& features, const Tensor& labels);
  MmimConfig config_;
  std::vector<std::string> names_;
  std::vector<Pair> pairs_;  // tv, ta, va
};

}  // namespace fg::models
