// losses/mmd.cpp: see mmd.h. The Gram matrices come from the fused rbf_gram op.
#include "losses/mmd.h"

namespace fg::losses {

Tensor mmd(const Tensor& x, const Tensor& y, const MmdOptions& opts) {
  FG_CHECK(x.defined() && y.defined() && x.dim() == 2 && y.dim() == 2 && x.size(1) == y.size(1),
           "mmd: expected x [n, d] and y [m, d] with the same d, got {} and {}", x.str(), y.str());
  FG_CHECK(x.size(0) > 0 && y.size(0) > 0, "mmd: empty sample ({} and {})", x.str(), y.str());
  const Tensor kxx = rbf_gram(x, x, opts.gammas);
  const Tensor kyy = rbf_gram(y, y, opts.gammas);
  const Tensor kxy = rbf_gram(x, y, opts.gammas);
  if (opts.estimator == MmdEstimator::Biased) return mean(kxx) + mean(kyy) - 2.0 * mean(kxy);
  const auto n = static_cast<double>(x.size(0)), m = static_cast<double>(y.size(0));
  FG_CHECK(n >= 2 && m >= 2, "mmd (unbiased): needs at least 2 samples on each side, got {} and {}", n, m);
  // k(x, x) = number of bandwidths exactly, so the diagonal sums are constants
  const double diag = static_cast<double>(opts.gammas.size());
  const Tensor xx = (sum(kxx) - n * diag) / (n * (n - 1));
  const Tensor yy = (sum(kyy) - m * diag) / (m * (m - 1));
  return xx + yy - 2.0 * mean(kxy);
}

Tensor mmd_mfm(const Tensor& x, const Tensor& y) {
  FG_CHECK(x.defined() && x.dim() == 2, "mmd_mfm: expected x [n, d], got {}", x.str());
  const double d = static_cast<double>(x.size(1));
  return mmd(x, y, MmdOptions{{1.0 / (d * d)}, MmdEstimator::Biased});
}

Tensor mmd_to_standard_normal(const Tensor& z, Generator& gen, const MmdOptions& opts) {
  FG_CHECK(z.defined() && z.dim() == 2, "mmd_to_standard_normal: expected z [n, d], got {}", z.str());
  const Tensor prior = randn(z.shape(), gen, z.options());
  return mmd(z, prior, opts);
}

Tensor mmd_mfm_to_standard_normal(const Tensor& z, Generator& gen) {
  FG_CHECK(z.defined() && z.dim() == 2, "mmd_mfm_to_standard_normal: expected z [n, d], got {}", z.str());
  const Tensor prior = randn(z.shape(), gen, z.options());
  return mmd_mfm(z, prior);
}

}  // namespace fg::losses
