// engine/ops_stats.h: ops for the dependency estimators of losses/ (MMD, HSIC, GMM
// entropy). Kernels: kernels/gram.h and kernels/spd.h.
#pragma once

#include <vector>

#include "engine/tensor.h"

namespace fg {

// Gaussian Gram matrix K[i, j] = sum_s exp(-gamma_s ||x_i - y_j||^2) for x [n, d] and
// y [m, d], with 1 to 8 bandwidth parameters gamma_s > 0. Differentiable in x and y.
Tensor rbf_gram(const Tensor& x, const Tensor& y, const std::vector<double>& gammas);

// log det(A + jitter I) for symmetric positive-definite A [..., k, k] (lower triangle
// read), by a Cholesky factorization accumulated in double; result [...]. The gradient
// is A^{-1}. A matrix that is not positive definite throws, naming the batch item.
Tensor logdet_spd(const Tensor& a, double jitter = 0.0);

}  // namespace fg
