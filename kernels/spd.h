// kernels/spd.h: log-determinants of symmetric positive-definite matrices through a
// Cholesky factorization, batched over many small matrices (GMM entropy, Gaussian
// likelihoods).
//
// Forward, for each batch item b with A_b [k, k] (only the lower triangle is read):
//   A_b + jitter I = L L^T          (Cholesky, accumulated in double)
//   logdet_b = 2 sum_i log L_ii
// info[b] = 0 on success, or i + 1 when the i-th pivot is not positive (the matrix is
// not positive definite even with the jitter); L is then unspecified.
//
// Backward: d logdet / dA = A^{-1} (symmetric), so with g_b = dL/dlogdet_b
//   gA_b = g_b * (L L^T)^{-1} = g_b * L^{-T} L^{-1}
// computed from the saved factor L. The gradient is symmetric: it treats A as a
// symmetric matrix whose upper and lower entries move together, as torch.logdet does
// for symmetric inputs.
#pragma once

#include "kernels/types.h"

namespace fg::kernels {

// a: [batch, k, k], l: [batch, k, k] (lower triangle written, upper zeroed), logdet: [batch],
// info: [batch] int64.
FG_KERNEL(cholesky_logdet_forward, (DType dt, std::int64_t batch, std::int64_t k, double jitter, const void* a,
                                    void* l, void* logdet, std::int64_t* info))
FG_KERNEL(cholesky_logdet_backward, (DType dt, std::int64_t batch, std::int64_t k, const void* l,
                                     const void* glogdet, void* ga))

}  // namespace fg::kernels
