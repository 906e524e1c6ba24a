// losses/vae.cpp: see vae.h.
#include "losses/vae.h"

namespace fg::losses {

namespace {
void check_same_shape(const Tensor& a, const Tensor& b, const char* op) {
  FG_CHECK(a.defined() && b.defined() && a.shape() == b.shape(), "{}: tensors must have one shape, got {} and {}", op,
           a.str(), b.str());
}
}  // namespace

Tensor masked_sequence_sse(const Tensor& x, const Tensor& x_hat, const Tensor& lengths) {
  check_same_shape(x, x_hat, "masked_sequence_sse");
  FG_CHECK(x.dim() == 3, "masked_sequence_sse: expected [B, T, D], got {}", x.str());
  const std::int64_t b = x.size(0), t = x.size(1);
  const Tensor sq = sum(square(x - x_hat), 2);  // [B, T]
  if (!lengths.defined()) return mean(sum(sq, 1));
  FG_CHECK(lengths.dtype() == DType::i64 && lengths.numel() == b,
           "masked_sequence_sse: lengths must be int64 [{}], got {}", b, lengths.str());
  const auto len = lengths.to_vector<std::int64_t>();
  std::vector<double> mask(static_cast<std::size_t>(b * t));
  for (std::int64_t i = 0; i < b; ++i) {
    FG_CHECK(len[i] >= 0 && len[i] <= t, "masked_sequence_sse: length {} of row {} outside [0, {}]", len[i], i, t);
    for (std::int64_t s = 0; s < t; ++s) mask[i * t + s] = s < len[i] ? 1.0 : 0.0;
  }
  return mean(sum(sq * from_vector(mask, {b, t}, sq.options()), 1));
}

Tensor gaussian_kl_standard(const Tensor& mu, const Tensor& logvar) {
  check_same_shape(mu, logvar, "gaussian_kl_standard");
  const std::int64_t last = mu.dim() - 1;
  return mean(sum(exp(logvar) + square(mu) - 1.0 - logvar, last)) * 0.5;
}

Tensor gaussian_kl(const Tensor& mu1, const Tensor& lv1, const Tensor& mu2, const Tensor& lv2) {
  check_same_shape(mu1, lv1, "gaussian_kl");
  check_same_shape(mu1, mu2, "gaussian_kl");
  check_same_shape(mu1, lv2, "gaussian_kl");
  const std::int64_t last = mu1.dim() - 1;
  return mean(sum(lv2 - lv1 + (exp(lv1) + square(mu1 - mu2)) * exp(neg(lv2)) - 1.0, last)) * 0.5;
}

GaussianParams product_of_experts(const std::vector<GaussianParams>& experts, bool include_prior, double eps) {
  FG_CHECK(!experts.empty(), "product_of_experts: no experts given (the prior alone needs a shape: pass one expert)");
  const Tensor& ref = experts[0].mu;
  Tensor precision = include_prior ? ones_like(ref.detach()) : zeros_like(ref.detach());
  Tensor weighted_mu = zeros_like(ref.detach());  // the prior's mean is 0
  for (std::size_t i = 0; i < experts.size(); ++i) {
    check_same_shape(experts[i].mu, experts[i].logvar, "product_of_experts");
    check_same_shape(experts[i].mu, ref, "product_of_experts");
    const Tensor t = 1.0 / (exp(experts[i].logvar) + eps);
    precision = precision + t;
    weighted_mu = weighted_mu + experts[i].mu * t;
  }
  GaussianParams out;
  out.mu = weighted_mu / precision;
  out.logvar = neg(log(precision));
  return out;
}

Tensor reparameterize(const Tensor& mu, const Tensor& logvar, Generator& gen) {
  check_same_shape(mu, logvar, "reparameterize");
  return mu + exp(logvar * 0.5) * randn(mu.shape(), gen, mu.options());
}

}  // namespace fg::losses
