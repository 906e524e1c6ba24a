// losses/mmd.h: maximum mean discrepancy between two samples, the distribution-matching
// penalty MFM puts on its latent factors (paper 001: MMD to a Gaussian prior).
//
// With a characteristic kernel k, MMD^2(P, Q) = E k(x, x') + E k(y, y') - 2 E k(x, y)
// is zero iff P = Q. From samples x_1..x_n ~ P, y_1..y_m ~ Q:
//   biased   = mean_{i,j} Kxx + mean_{i,j} Kyy - 2 mean_{i,j} Kxy       (V-statistic, >= 0)
//   unbiased = sum_{i!=j} Kxx / (n(n-1)) + sum_{i!=j} Kyy / (m(m-1)) - 2 mean Kxy   (U-statistic)
// Kernel: Gaussian, k(x, y) = sum_s exp(-gamma_s ||x - y||^2) (several bandwidths make
// the estimate less sensitive to the choice of one). MFM's public code uses
//   k(x, y) = exp(-mean_d (x_d - y_d)^2 / dim) = exp(-||x - y||^2 / dim^2),
// i.e. gamma = 1 / dim^2 with the biased estimator: mmd_mfm() below.
#pragma once

#include <vector>

#include "engine/ops.h"

namespace fg::losses {

enum class MmdEstimator { Biased, Unbiased };

struct MmdOptions {
  std::vector<double> gammas = {1.0};  // Gaussian bandwidth parameters, k = sum exp(-gamma d^2)
  MmdEstimator estimator = MmdEstimator::Biased;
};

// x [n, d], y [m, d] -> 0-d MMD^2 estimate (differentiable in both).
Tensor mmd(const Tensor& x, const Tensor& y, const MmdOptions& opts = {});

// MFM's variant: gamma = 1 / d^2, biased estimator.
Tensor mmd_mfm(const Tensor& x, const Tensor& y);

// MMD between z [n, d] and n draws from N(0, I) (MFM's prior-matching term).
Tensor mmd_to_standard_normal(const Tensor& z, Generator& gen, const MmdOptions& opts);
Tensor mmd_mfm_to_standard_normal(const Tensor& z, Generator& gen);

}  // namespace fg::losses
