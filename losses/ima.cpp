// losses/ima.cpp: see ima.h.
#include "losses/ima.h"

#include <cmath>

namespace fg::losses {

Tensor weighted_cross_covariance_loss(const Tensor& z, const Tensor& u, const Tensor& importance) {
  FG_CHECK(z.defined() && u.defined() && z.dim() == 2 && u.dim() == 2 && z.size(0) == u.size(0),
           "weighted_cross_covariance_loss: expected z [B, dz] and u [B, du], got {} and {}", z.str(), u.str());
  const std::int64_t b = z.size(0);
  FG_CHECK(importance.defined() && importance.numel() == b,
           "weighted_cross_covariance_loss: importance must hold {} values, got {}", b, importance.str());
  const Tensor y_comp = 1.0 - reshape(importance, {b, 1});  // y'
  const Tensor w = y_comp / (sum(y_comp) + 1e-12);          // w', sums to 1 over the batch
  const Tensor zc = z - sum(w * z, 0, true);
  const Tensor uc = u - sum(w * u, 0, true);
  const Tensor cross = matmul(transpose(w * zc, 0, 1), uc);  // [dz, du] = sum_i w_i zc_i uc_i^T
  return sum(square(cross));
}

Tensor bernoulli_kl_prior(const Tensor& importance, double rho, double eps) {
  FG_CHECK(rho > 0 && rho < 1, "bernoulli_kl_prior: rho must be in (0, 1), got {}", rho);
  FG_CHECK(importance.defined() && importance.numel() > 0, "bernoulli_kl_prior: empty importance tensor");
  const Tensor ybar = clamp(mean(importance), eps, 1.0 - eps);
  return ybar * log(ybar / rho) + (1.0 - ybar) * log((1.0 - ybar) / (1.0 - rho));
}

Tensor alignment_sse(const Tensor& z, const Tensor& u) {
  FG_CHECK(z.defined() && u.defined() && z.shape() == u.shape() && z.dim() == 2,
           "alignment_sse: expected z and u of one shape [B, d], got {} and {}", z.str(), u.str());
  return mean(sum(square(z - u), 1));
}

Tensor global_norm_regularizer(const Tensor& z) {
  FG_CHECK(z.defined() && z.dim() == 2, "global_norm_regularizer: expected z [B, d], got {}", z.str());
  return mean(sum(square(z), 1));
}

}  // namespace fg::losses
