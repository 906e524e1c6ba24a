// losses/hsic.h: the Hilbert-Schmidt independence criterion, MFM's measure of how much
// two representations depend on each other (paper 001, Section on interpretation).
//
// With Gram matrices K = k(x_i, x_j), L = l(y_i, y_j) over n paired samples and the
// centering matrix H = I - 11^T / n, the biased estimator (Gretton et al., 2005) is
//   HSIC(x, y) = tr(K H L H) / (n - 1)^2 = sum_ij (H K H)_ij L_ij / (n - 1)^2
// It is 0 for independent x and y in the population limit (characteristic kernels) and
// grows with dependence. The normalized form
//   nHSIC(x, y) = HSIC(x, y) / sqrt(HSIC(x, x) HSIC(y, y))   in [0, 1]
// is 1 for y = x (any bandwidths, since then K = L). Kernels are Gaussian,
// k(a, b) = exp(-||a - b||^2 / (2 sigma^2)); sigma <= 0 selects the median heuristic
// (sigma = median pairwise distance of that sample, computed without gradient).
#pragma once

#include "engine/ops.h"

namespace fg::losses {

// x [n, dx], y [n, dy] -> 0-d biased HSIC (differentiable).
Tensor hsic(const Tensor& x, const Tensor& y, double sigma_x = -1.0, double sigma_y = -1.0);
Tensor normalized_hsic(const Tensor& x, const Tensor& y, double sigma_x = -1.0, double sigma_y = -1.0);

// Median pairwise Euclidean distance between the rows of x [n, d] (n >= 2), no gradient.
double median_pairwise_distance(const Tensor& x);

// Mean over valid time steps: x [n, T, d], lengths int64 [n] (1..T) -> [n, d]. With an
// undefined `lengths`, every step counts. (MFM computes HSIC on time-averaged sequences.)
Tensor time_average(const Tensor& x, const Tensor& lengths = Tensor());

}  // namespace fg::losses
