// kernels/bert_fused.h: the two elementwise fusions of a BERT layer (besides attention).
//
// bias + GELU (the feed-forward's first Linear is computed without its bias, then):
//   x [rows, n], bias [n]:  z = x + bias,  y = gelu(z)
//     erf form (Hugging Face "gelu"):   gelu(z) = z Phi(z),            gelu'(z) = Phi(z) + z phi(z)
//     tanh form ("gelu_new"):           gelu(z) = z/2 (1 + tanh(u)),  u = c (z + k z^3),
//                                       gelu'(z) = (1 + t)/2 + z/2 (1 - t^2) c (1 + 3 k z^2), t = tanh(u)
//                                       c = sqrt(2/pi), k = 0.044715
//   backward: gx = gy gelu'(z),  gbias = sum_rows gx
//   Saves x (not z); z is recomputed in the backward.
//
// residual add + LayerNorm (the post-LN of every BERT sub-layer, y = LN(x + residual)):
//   x, residual [rows, n]; gamma, beta [n] (either may be null)
//   u = x + residual, mu = mean(u), rstd = 1 / sqrt(var(u) + eps) (biased), uhat = (u - mu) rstd
//   y = uhat gamma + beta
//   backward (g = gy gamma):  gu = rstd (g - mean(g) - uhat mean(g uhat)) = gx = gresidual
//                             ggamma = sum_rows gy uhat,  gbeta = sum_rows gy
//   Saves mean and rstd ([rows]); u is recomputed from x and residual in the backward.
// One pass over memory each way instead of two (add, then normalize): the point of the
// fusion on the GPU, where both are bandwidth bound.
#pragma once

#include <cstdint>

#include "kernels/types.h"

namespace fg::kernels {

FG_KERNEL(bias_gelu_forward, (DType dt, std::int64_t rows, std::int64_t n, bool tanh_approx, const void* x,
                              const void* bias, void* y))
// gx and gbias are overwritten; either may be null.
FG_KERNEL(bias_gelu_backward, (DType dt, std::int64_t rows, std::int64_t n, bool tanh_approx, const void* x,
                               const void* bias, const void* gy, void* gx, void* gbias))

// mean, rstd: [rows] outputs.
FG_KERNEL(add_layer_norm_forward, (DType dt, std::int64_t rows, std::int64_t n, double eps, const void* x,
                                   const void* residual, const void* gamma, const void* beta, void* y, void* mean,
                                   void* rstd))
// gsum (the gradient of x and of residual, which are equal), ggamma, gbeta are overwritten;
// any may be null.
FG_KERNEL(add_layer_norm_backward, (DType dt, std::int64_t rows, std::int64_t n, const void* x, const void* residual,
                                    const void* gamma, const void* mean, const void* rstd, const void* gy, void* gsum,
                                    void* ggamma, void* gbeta))

}  // namespace fg::kernels
