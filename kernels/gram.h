// kernels/gram.h: Gaussian (RBF) Gram matrices, the core of MMD and HSIC.
//
//   K[i, j] = sum_s exp(-gamma_s * ||x_i - y_j||^2),   x: [n, d], y: [m, d], K: [n, m]
// with up to kMaxGammas bandwidths (a multi-bandwidth kernel is the sum of single ones).
// Distances and exponentials are computed in one pass (no n x m distance matrix in
// memory), which is the fusion the CUDA version tiles through shared memory.
//
// Backward, with G = dL/dK and E_s[i, j] = exp(-gamma_s ||x_i - y_j||^2):
//   dL/dx_i = sum_j sum_s G[i, j] * E_s[i, j] * (-2 gamma_s) (x_i - y_j)
//   dL/dy_j = sum_i sum_s G[i, j] * E_s[i, j] * (+2 gamma_s) (x_i - y_j)
#pragma once

#include "kernels/types.h"

namespace fg::kernels {

constexpr int kMaxGammas = 8;

struct GammaList {
  int count = 0;
  double value[kMaxGammas] = {};
};

FG_KERNEL(rbf_gram_forward, (DType dt, std::int64_t n, std::int64_t m, std::int64_t d, const void* x, const void* y,
                             const GammaList& gammas, void* k))
// gx [n, d] and gy [m, d] are overwritten; either may be null.
FG_KERNEL(rbf_gram_backward, (DType dt, std::int64_t n, std::int64_t m, std::int64_t d, const void* x, const void* y,
                              const GammaList& gammas, const void* gk, void* gx, void* gy))

}  // namespace fg::kernels
