// losses/mmim.cpp: see mmim.h.
#include "losses/mmim.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "losses/dependency.h"

namespace fg::losses {

GaussianPredictor::GaussianPredictor(std::int64_t in_dim, std::int64_t out_dim, Generator& gen, std::int64_t hidden,
                                     TensorOptions opts) {
  const std::int64_t mid = hidden > 0 ? hidden : out_dim;
  nn::MLPOptions o;
  o.sizes = {in_dim, mid, out_dim};
  o.activations = {nn::Activation::ReLU};
  o.param_options = opts;
  mu_net = register_module("mlp_mu", std::make_shared<nn::MLP>(o, gen));
  logvar_net = register_module("mlp_logvar", std::make_shared<nn::MLP>(o, gen));
}

std::pair<Tensor, Tensor> GaussianPredictor::forward(const Tensor& x) const {
  return {mu_net->forward(x), logvar_net->forward(x)};
}

Tensor gaussian_log_likelihood(const Tensor& y, const Tensor& mu, const Tensor& logvar, LogLikelihoodForm form) {
  FG_CHECK(y.defined() && y.dim() == 2 && y.shape() == mu.shape() && y.shape() == logvar.shape(),
           "gaussian_log_likelihood: y, mu and logvar must be [B, k] alike, got {}, {}, {}", y.str(), mu.str(),
           logvar.str());
  const Tensor sq = square(y - mu) * exp(neg(logvar));
  if (form == LogLikelihoodForm::MmimCode) return mean(sum(sq, 1)) * -0.5;
  constexpr double kLog2Pi = 1.8378770664093453;
  return mean(sum(sq + logvar + kLog2Pi, 1)) * -0.5;
}

Tensor GaussianPredictor::log_likelihood(const Tensor& x, const Tensor& y, LogLikelihoodForm form) const {
  auto [mu, logvar] = forward(x);
  return gaussian_log_likelihood(y, mu, logvar, form);
}

Tensor covariance(const Tensor& x) {
  FG_CHECK(x.defined() && x.dim() == 2 && x.size(0) > 0, "covariance: expected rows [N, k], got {}", x.str());
  const Tensor centered = x - mean(x, 0, true);
  return matmul(transpose(centered, 0, 1), centered) / static_cast<double>(x.size(0));
}

GmmEntropy::GmmEntropy(const GmmEntropyOptions& options) : opts_(options) {
  FG_CHECK(opts_.memory_batches >= 0, "GmmEntropy: memory_batches must be >= 0, got {}", opts_.memory_batches);
}

Tensor GmmEntropy::estimate(const Tensor& features, const Tensor& labels) const {
  FG_CHECK(features.defined() && features.dim() == 2, "GmmEntropy: features must be [B, k], got {}", features.str());
  FG_CHECK(labels.defined() && labels.numel() == features.size(0),
           "GmmEntropy: labels must hold one value per row ({}), got {}", features.size(0), labels.str());
  const std::int64_t k = features.size(1);
  std::vector<Tensor> feats{features};
  std::vector<double> labs = labels.to_vector<double>();
  for (const auto& [f, l] : history_) {
    FG_CHECK(f.size(1) == k, "GmmEntropy: history features have {} dims, the batch has {}", f.size(1), k);
    feats.push_back(f);
    const auto lv = l.to_vector<double>();
    labs.insert(labs.end(), lv.begin(), lv.end());
  }
  const Tensor all = concat(feats, 0);
  std::vector<std::int64_t> pos, negs;
  for (std::size_t i = 0; i < labs.size(); ++i) {
    FG_CHECK(std::isfinite(labs[i]), "GmmEntropy: label {} is {}", i, labs[i]);
    (labs[i] >= 0 ? pos : negs).push_back(static_cast<std::int64_t>(i));
  }
  Tensor logdets[2];
  const std::vector<std::int64_t>* classes[2] = {&pos, &negs};
  const char* names[2] = {"non-negative", "negative"};
  for (int c = 0; c < 2; ++c) {
    const auto n = static_cast<std::int64_t>(classes[c]->size());
    FG_CHECK(n > k, "GmmEntropy: the {} class has {} samples (batch plus {} remembered batches) but a full {}x{} "
                    "covariance needs more than {}; use larger batches, more memory_batches, or a smaller projection",
             names[c], n, history_.size(), k, k, k);
    const Tensor rows = index_select(all, 0, from_vector(*classes[c], {n}, TensorOptions{DType::i64, all.device()}));
    logdets[c] = logdet_spd(covariance(rows), opts_.jitter);
  }
  const Tensor h = (logdets[0] + logdets[1]) * 0.25;
  if (!opts_.with_constants) return h;
  constexpr double kLog2Pi = 1.8378770664093453;
  return h + 0.5 * static_cast<double>(k) * (1.0 + kLog2Pi);
}

void GmmEntropy::remember(const Tensor& features, const Tensor& labels) {
  if (opts_.memory_batches == 0) return;
  history_.emplace_back(features.detach(), labels.detach());
  while (history_.size() > static_cast<std::size_t>(opts_.memory_batches)) history_.pop_front();
}

Tensor l2_normalize(const Tensor& x, std::int64_t axis, double eps) {
  return x / (sqrt(sum(square(x), axis, true)) + eps);
}

CpcLoss::CpcLoss(std::int64_t fusion_dim, std::int64_t modality_dim, Generator& gen, double temp, TensorOptions opts)
    : temperature(temp) {
  FG_CHECK(temp > 0, "CpcLoss: temperature must be positive, got {}", temp);
  predictor = register_module("net", std::make_shared<nn::Linear>(fusion_dim, modality_dim, gen, true, opts));
}

Tensor CpcLoss::forward(const Tensor& fusion, const Tensor& modality) const {
  FG_CHECK(fusion.defined() && modality.defined() && fusion.dim() == 2 && modality.dim() == 2 &&
               fusion.size(0) == modality.size(0),
           "CpcLoss: expected fusion [B, df] and modality [B, dm] with one B, got {} and {}", fusion.str(),
           modality.str());
  const Tensor pred = l2_normalize(predictor->forward(fusion));
  const Tensor x = l2_normalize(modality);
  const Tensor scores = matmul(x, transpose(pred, 0, 1)) / temperature;  // S_ij = <x_i, pred_j>
  // -(mean_i S_ii - logsumexp_j S_ij) = log B - InfoNCE bound
  return std::log(static_cast<double>(fusion.size(0))) - info_nce_bound(scores);
}

}  // namespace fg::losses
