// kernels/nn.h: softmax / log_softmax along an axis, and layer normalization.
//
// softmax over the middle axis of an [outer, n, inner] view:
//   y_j = exp(x_j - m) / sum_k exp(x_k - m),     m = max_k x_k
//   backward: gx_j = y_j (gy_j - sum_k gy_k y_k)
// log_softmax:
//   y_j = x_j - m - log sum_k exp(x_k - m)
//   backward: gx_j = gy_j - exp(y_j) sum_k gy_k
// layer_norm over the last axis of [rows, n] (gamma, beta: [n], either may be null):
//   mu = mean(x), rstd = 1 / sqrt(var(x) + eps) (biased variance), xhat = (x - mu) rstd
//   y = xhat * gamma + beta
//   backward (g = gy * gamma):
//     gx = rstd * (g - mean(g) - xhat * mean(g * xhat))
//     ggamma = sum_rows gy * xhat,  gbeta = sum_rows gy
// The forward saves mean and rstd per row ([rows]) for the backward.
#pragma once

#include "kernels/types.h"

namespace fg::kernels {

FG_KERNEL(softmax_forward, (DType dt, AxisView v, bool log, const void* x, void* y))
FG_KERNEL(softmax_backward, (DType dt, AxisView v, bool log, const void* y, const void* gy, void* gx))

// mean, rstd: [rows] outputs (same dtype as x).
FG_KERNEL(layer_norm_forward, (DType dt, std::int64_t rows, std::int64_t n, double eps, const void* x,
                               const void* gamma, const void* beta, void* y, void* mean, void* rstd))
// gx, ggamma, gbeta may each be null when not wanted; ggamma/gbeta are overwritten.
FG_KERNEL(layer_norm_backward, (DType dt, std::int64_t rows, std::int64_t n, const void* x, const void* gamma,
                                const void* mean, const void* rstd, const void* gy, void* gx, void* ggamma,
                                void* gbeta))

}  // namespace fg::kernels
