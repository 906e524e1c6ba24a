// models/mmb.h: the multimodal utterance-embedding baselines MMB1 and MMB2 of paper 000
// ("Strong and Simple Baselines for Multimodal Utterance Embeddings", NAACL 2019), with
// defaults from the authors' public code where the paper is silent (docs/models.md, "MMB").
//
// Every utterance i has its own latent embedding m_i (300-d, the word-vector space). A
// generative model explains the utterance from m_i:
//
//   words    (angular variant of Arora et al.'s SIF model) for each word w of the utterance
//              s_w   = 1 - arccos(cos(m, v_w)) / pi            (in [0, 1])
//              Z     = sum over the TRAIN vocabulary of s_w,   alpha = 1 / (1 + a Z)
//              word term = sum_t log[alpha c(w_t) + (1 - alpha) s_{w_t} / Z]
//            with c(w) = p(w), the unigram frequency (the paper's form, default), or
//            c(w) = psi_w = a / (a + p(w)) (the authors' code, MMBWordForm::code); a = 1e-3.
//            Words unseen in train have p(w) = 0 and psi_w = 1.
//   Gaussians one generator per target k: m~ = LayerNorm(m) (or m, MMBNorm::none),
//              mu_k = W_mu m~ + b_mu,  sigma_k = exp(W_s m~ + b_s),
//            one diagonal Gaussian per utterance shared by all its steps; G_k = the masked sum
//            over steps and features of log N(x_t; mu_k, sigma_k^2). Targets: MMB1 audio and
//            visual; MMB2 audio, visual, audio+visual, text+audio, text+visual,
//            text+audio+visual (concatenated features; text = the word vectors).
//   log p_i = lambda_w * word term + (1 - lambda_w) / K * sum_k G_k
//
// Features of the Gaussian targets are rescaled to [-1, 1] per feature with the TRAIN split's
// minimum and maximum over valid steps (the code rescales each split with its own statistics:
// a leak we do not copy); features constant on train are dropped. A missing modality
// (present = 0) removes its Gaussian terms (and the word term when text is missing).
//
// Training (MMBTrainer): the train latents start at the SIF embedding
// sum_t psi_t v_t / L_i with the first principal component (uncentred, as SIF's truncated
// SVD) of the TRAIN embeddings removed; one Adam optimiser over the train latents, the
// generators and a head MLP (Linear-ReLU-Linear) minimises
//   L = lw * mean_i(-log p_i) + (1 - lw) * mean_i |head(m_i) - y_i|.
// Valid and test latents start from their SIF embedding (with the train PC removed) and
// maximise log p alone with the generators frozen (no labels). A fresh head is then trained
// on the fixed train latents (L1, SGD, batch 32) and selected on the validation MAE.
//
// The closed form (paper appendix, eq. 43) is the fast path: one pass, no optimisation,
//   m* proportional to  sum_t psi~_t v_t
//                     + sum_k sum_t alpha_k (W_mu,k^T q1_t + W_s,k^T q2_t),
//   q1 = (x - b_mu) / exp(2 b_s),  q2 = (x - b_mu)^2 / exp(2 b_s) - 1,
// normalised to unit length, with psi~ = lambda_w a / (a + p(w)) and alpha_k = (1 -
// lambda_w) / K (the paper's weights, MMBClosedWeights::paper) or psi~ = psi, alpha_k = 1
// (the code's timing mode). It uses the trained generators' W and b as the code does
// (ignoring the norm layer, which eq. 43's linearisation at m = 0 does not have).
//
// The functional core (mmb_log_likelihood, mmb_closed_form) takes plain tensors so tests can
// drive it with PyTorch's weights; MMBModel holds the parameters; MMBTrainer runs the study.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "data/dataset.h"
#include "engine/nn/nn.h"
#include "engine/tensor.h"
#include "models/sentiment.h"

namespace fg::models {

enum class MMBVariant { mmb1, mmb2 };
enum class MMBWordForm { paper, code };      // alpha p(w) (paper) or alpha psi_w (authors' code)
enum class MMBNorm { layer, none };          // m~ = LayerNorm(m) or m
enum class MMBClosedWeights { paper, code }; // eq. 43 with the modality weights, or unweighted

struct MMBConfig {
  MMBVariant variant = MMBVariant::mmb2;
  std::string text = "text", acoustic = "acoustic", visual = "visual";  // modality names
  double sif_a = 1e-3;             // a of psi_w = a / (a + p(w))
  double word_weight = 0.002;      // lambda_w (code grid {0.001, 0.002})
  double likelihood_weight = 1e-3; // lw (code grid {1e-4, 1e-3})
  MMBWordForm word_form = MMBWordForm::paper;
  MMBNorm norm = MMBNorm::layer;
  MMBClosedWeights closed_weights = MMBClosedWeights::paper;
  std::int64_t head_hidden = 100;  // the head MLP (code grid {100, 150})
};

// The generators' targets of a variant, as lists of modality roles ("text", "acoustic", "visual").
std::vector<std::vector<std::string>> mmb_targets(MMBVariant variant);
const char* mmb_variant_name(MMBVariant variant);  // "mmb1" / "mmb2"

// ---------------------------------------------------------------- prepared data

// Word statistics of the TRAIN corpus (tokens from raw_text, one vector per type read from the
// text features at the token's step: token j of an utterance is step j).
struct MMBVocabulary {
  std::unordered_map<std::string, std::int64_t> index;  // type -> row of `vectors`
  std::vector<double> frequency;                        // p(w) per row (0 for types unseen in train)
  std::int64_t train_types = 0;                         // rows [0, train_types) are the train vocabulary
  std::vector<double> vectors;                          // [rows, D] row-major (grows with unseen types)
  std::int64_t dim = 0;
  // Row of `word`, adding it (frequency 0) with `vector` when unseen.
  std::int64_t lookup_or_add(const std::string& word, const float* vector);
};

// Per-feature rescaling of one modality to [-1, 1] with train statistics.
struct MMBScaler {
  std::vector<std::int64_t> kept;    // features not constant on train
  std::vector<double> lo, hi;        // of the kept features
};

// One split, ready for the model: per utterance the word ids and per-modality sufficient
// statistics of the rescaled features (sum_t x_t, sum_t x_t^2, the number of valid steps).
struct MMBSplitData {
  std::int64_t n = 0;
  Tensor word_ids;     // int64 [N, T_w]: rows of the vocabulary, 0 on padding
  Tensor word_mask;    // f64 [N, T_w]: 1 on tokens
  Tensor word_c;       // f64 [N, T_w]: c(w_t) of the word model (p(w) or psi_w, per the config)
  Tensor word_psi;     // f64 [N, T_w]: psi_w (SIF weights; eq. 43)
  std::vector<Tensor> s1, s2;  // per modality role (text, acoustic, visual): f64 [N, D'_m]
  std::vector<Tensor> count;   // per modality role: f64 [N] valid steps (0 when missing)
  Tensor labels;       // f64 [N]
};

// Everything fitted on the TRAIN split and applied to all splits.
struct MMBCorpus {
  MMBVocabulary vocab;
  std::vector<MMBScaler> scalers;  // per modality role
  Tensor vocab_vectors;            // f64 [rows, D]: all rows (train types first)
  Tensor pc;                       // f64 [D]: the first principal component of the train SIF embeddings
};

// Fits the vocabulary, frequencies and scalers on `train`; the split must have raw_text
// (the words variant of data/synthetic.h, or real transcripts) and aligned text features.
MMBCorpus mmb_fit_corpus(const data::MultimodalSplit& train, const MMBConfig& config);
// Prepares a split with the train-fitted corpus (adds unseen word types to the vocabulary).
MMBSplitData mmb_prepare(const data::MultimodalSplit& split, MMBCorpus& corpus, const MMBConfig& config);
// Refreshes corpus.vocab_vectors after mmb_prepare added types.
void mmb_finish_vocabulary(MMBCorpus& corpus);

// SIF embeddings sum_t psi_t v_t / L_i, f64 [N, D] (zeros for an utterance without words).
Tensor mmb_sif(const MMBSplitData& split, const MMBCorpus& corpus);
// The first principal component (uncentred; power iteration on E^T E), unit length.
Tensor mmb_first_pc(const Tensor& embeddings);
// e - (e . u) u for every row.
Tensor mmb_remove_pc(const Tensor& embeddings, const Tensor& pc);

// ---------------------------------------------------------------- the model

// 1 - arccos(clamp(c, -1, 1)) / pi, elementwise, with its gradient 1 / (pi sqrt(1 - c^2))
// (c clamped to +-(1 - 1e-12) in the derivative).
Tensor angular_similarity(const Tensor& cosine);

// Parameters of the generators for the functional core: per target k, per modality role in
// the target, the rows of W_mu [D'_m, d], b_mu, W_s, b_s.
struct MMBGenerator {
  std::vector<std::int64_t> roles;  // 0 text, 1 acoustic, 2 visual
  std::vector<Tensor> w_mu, b_mu, w_s, b_s;
};

struct MMBTerms {
  Tensor log_p;      // [B]
  Tensor word;       // [B] the word term
  Tensor gaussian;   // [B] sum_k G_k
};

// log p_i of a batch of latents m [B, D] (rows `rows` of `split`). norm_w / norm_b: the
// LayerNorm's parameters (undefined: no norm).
MMBTerms mmb_log_likelihood(const Tensor& m, const MMBSplitData& split, const Tensor& rows, const Tensor& vocab_vectors,
                            std::int64_t train_types, const std::vector<MMBGenerator>& generators,
                            const Tensor& norm_w, const Tensor& norm_b, const MMBConfig& config);

// Eq. 43 for every utterance of `split`: f64 [N, D], unit rows.
Tensor mmb_closed_form(const MMBSplitData& split, const MMBCorpus& corpus, const std::vector<MMBGenerator>& generators,
                       const MMBConfig& config);

// The generators, the norm layer and the head, as named nn parameters:
//   norm.weight / norm.bias, generators.<k>.mu.weight / .bias, generators.<k>.log_sigma.weight / .bias
//   (rows in the target's modality order), head.0.weight ... head.2.bias.
class MMBModel : public nn::Module {
 public:
  MMBModel(const MMBConfig& config, std::int64_t latent_dim, const std::vector<std::int64_t>& role_dims, Generator& gen,
           TensorOptions opts = f64_opts());
  std::string type_name() const override { return "MMB"; }
  std::vector<MMBGenerator> generators() const;
  MMBTerms log_likelihood(const Tensor& m, const MMBSplitData& split, const Tensor& rows, const MMBCorpus& corpus) const;
  Tensor predict(const Tensor& m) const;  // head(m) [B]
  std::vector<Tensor> generator_parameters() const;  // norm + generators (frozen at inference)

  MMBConfig config;
  std::int64_t latent_dim;
  std::vector<std::int64_t> role_dims;
  std::shared_ptr<nn::LayerNorm> norm;
  std::vector<std::shared_ptr<nn::Linear>> mu, log_sigma;
  std::shared_ptr<nn::MLP> head;
};

// ---------------------------------------------------------------- the study

struct MMBTrainOptions {
  std::int64_t epochs = 100;          // end-to-end epochs (code grid {100, 200})
  std::int64_t infer_steps = 100;     // full-batch NLL steps for the valid / test latents
  std::int64_t head_epochs = 400;     // the fresh head on fixed latents (code: up to 400)
  std::int64_t batch_size = 32;
  double lr = 1e-3;                   // Adam, end to end and inference (code grid {1e-3, 1e-4})
  double head_lr = 0.01;              // SGD on fixed latents (code grid {0.1, 0.01})
  std::uint64_t seed = 0;
  bool verbose = false;
};

struct MMBPredictions {
  std::vector<double> valid, test;    // head outputs of the selected head
  std::int64_t best_head_epoch = 0;
  double best_valid_mae = 0;
};

struct MMBResult {
  MMBPredictions optimised, closed_form;
  double train_seconds = 0;           // SIF + end-to-end training + fresh head (optimised path)
  double closed_train_seconds = 0;    // closed-form train embeddings + its head
  double infer_seconds_per_utt = 0;   // test: latent optimisation + head, per utterance
  double closed_infer_seconds_per_utt = 0;  // test: eq. 43 + head, per utterance
  std::vector<double> train_losses;   // per epoch
  Tensor train_latents, valid_latents, test_latents;            // f64 [N, D], the optimised ones
  Tensor train_closed, valid_closed, test_closed;               // eq. 43 embeddings
};

// The whole paper-000 protocol on one dataset (test labels are read once, after selection,
// only to return predictions; nothing is selected on test).
MMBResult mmb_run(const data::MultimodalDataset& data, const MMBConfig& config, const MMBTrainOptions& options);

// Trains a fresh head (Linear-ReLU-Linear, L1, SGD) on fixed embeddings, keeping the epoch with
// the best validation MAE; returns valid and test predictions of that head.
MMBPredictions mmb_fit_head(const Tensor& train_x, const Tensor& train_y, const Tensor& valid_x, const Tensor& valid_y,
                            const Tensor& test_x, const MMBConfig& config, const MMBTrainOptions& options,
                            double* seconds_test_forward = nullptr);

// Latents of a split maximising log p with the model frozen, from `init` (f64 [N, D]).
Tensor mmb_infer_latents(const MMBModel& model, const MMBSplitData& split, const MMBCorpus& corpus, const Tensor& init,
                         const MMBTrainOptions& options);

}  // namespace fg::models
