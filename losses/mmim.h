// losses/mmim.h: the three MI terms of MMIM (paper 003).
//
// 1. Barber-Agakov bound between modality pairs (text -> visual, text -> acoustic):
//      I(X; Y) >= H(Y) + E log q(y | x),   q(y | x) = N(mu(x), diag sigma^2(x))
//    GaussianPredictor holds the two MLPs (mu, log sigma^2). Its log-likelihood per
//    sample, summed over the k dimensions, is
//      Full (the bound's true form, default):
//        -1/2 sum_d [ (y_d - mu_d)^2 / sigma_d^2 + log sigma_d^2 + log 2 pi ]
//      MmimCode (what the public MMIM code computes; the authors confirmed it drops the
//      log sigma term, which makes it no longer a log-density):
//        -1/2 sum_d (y_d - mu_d)^2 / sigma_d^2
// 2. The entropy H(Y) by a two-component Gaussian mixture split by label sign
//    (non-negative vs negative sentiment), each component's mean and full covariance
//    estimated by maximum likelihood from the current batch plus a FIFO memory of the
//    last `memory_batches` batches (detached). With equal weights 1/2 the GMM entropy's
//    lower bound is sum_c h_c / 2, h_c = k/2 (1 + log 2 pi) + 1/2 log det Sigma_c, which MMIM
//    uses without the constants: H = 1/4 (log det Sigma_pos + log det Sigma_neg).
//    log det comes from logdet_spd (Cholesky with jitter, float64 accumulation). A class
//    with too few samples for a full-rank covariance raises an error, never a NaN.
// 3. CPC between the fusion vector z and each modality's representation h_m:
//      h_hat = G(z), both L2-normalized, S_ij = <h_i, h_hat_j> / temperature,
//      L = -mean_i (S_ii - logsumexp_j S_ij)
//    (MMIM: G a Linear layer, temperature 1).
#pragma once

#include <deque>

#include "engine/nn/nn.h"

namespace fg::losses {

enum class LogLikelihoodForm { Full, MmimCode };

class GaussianPredictor : public nn::Module {
 public:
  // mu and log sigma^2 MLPs: Linear(in, out) - ReLU - Linear(out, out) each (MMIM's layout),
  // or with `hidden` units in the middle when hidden > 0.
  GaussianPredictor(std::int64_t in_dim, std::int64_t out_dim, Generator& gen, std::int64_t hidden = 0,
                    TensorOptions opts = {});
  std::string type_name() const override { return "GaussianPredictor"; }
  // x [B, in] -> (mu [B, out], logvar [B, out])
  std::pair<Tensor, Tensor> forward(const Tensor& x) const;
  // Mean over the batch of log q(y | x), summed over dimensions.
  Tensor log_likelihood(const Tensor& x, const Tensor& y, LogLikelihoodForm form = LogLikelihoodForm::Full) const;

  std::shared_ptr<nn::MLP> mu_net, logvar_net;
};

// Gaussian log-density of y under N(mu, diag exp(logvar)), summed over the last axis,
// averaged over rows (the formula above).
Tensor gaussian_log_likelihood(const Tensor& y, const Tensor& mu, const Tensor& logvar,
                               LogLikelihoodForm form = LogLikelihoodForm::Full);

struct GmmEntropyOptions {
  int memory_batches = 1;     // batches kept in the FIFO history (MMIM: 1)
  double jitter = 1e-6;       // added to each covariance's diagonal before the Cholesky
  bool with_constants = false;  // true: the lower bound sum_c h_c / 2 in nats; false: MMIM's 1/4 sum log det
};

class GmmEntropy {
 public:
  explicit GmmEntropy(const GmmEntropyOptions& options = {});
  // features [B, k] (with gradient), labels [B] (float, sign splits the classes: >= 0 is
  // the non-negative class). Uses the history plus this batch; does not change the history.
  Tensor estimate(const Tensor& features, const Tensor& labels) const;
  // Appends the batch (detached) to the FIFO history, dropping the oldest beyond memory_batches.
  void remember(const Tensor& features, const Tensor& labels);
  void clear() { history_.clear(); }
  std::size_t history_size() const { return history_.size(); }
  // The remembered (features, labels), oldest first (checkpoints read it and remember() it back).
  const std::deque<std::pair<Tensor, Tensor>>& history() const { return history_; }

 private:
  GmmEntropyOptions opts_;
  std::deque<std::pair<Tensor, Tensor>> history_;
};

// The unbiased-by-ML covariance (divide by N) of rows x [N, k] -> [k, k].
Tensor covariance(const Tensor& x);

// x / ||x||_2 along `axis` (eps avoids dividing by zero).
Tensor l2_normalize(const Tensor& x, std::int64_t axis = -1, double eps = 1e-12);

class CpcLoss : public nn::Module {
 public:
  // G: Linear(fusion_dim -> modality_dim), as MMIM.
  CpcLoss(std::int64_t fusion_dim, std::int64_t modality_dim, Generator& gen, double temperature = 1.0,
          TensorOptions opts = {});
  std::string type_name() const override { return "CpcLoss"; }
  // fusion [B, fusion_dim], modality [B, modality_dim] -> 0-d loss (lower is more MI).
  Tensor forward(const Tensor& fusion, const Tensor& modality) const;
  std::shared_ptr<nn::Linear> predictor;
  double temperature;
};

}  // namespace fg::losses
