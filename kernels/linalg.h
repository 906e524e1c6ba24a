// kernels/linalg.h: batched general matrix product (row-major).
//
//   C[b] = alpha * op(A[b]) * op(B[b]) + beta * C[b],   b < batch
// op(A) is m x k: A is stored [m, k], or [k, m] when trans_a. op(B) is k x n: B is
// stored [k, n], or [n, k] when trans_b. C is [m, n]. stride_* is the element
// distance between consecutive batch items (0 reuses one matrix for all items).
// Backward of C = A B (no transposes): dA = dC B^T, dB = A^T dC, which the engine
// expresses with the transpose flags, so no transposed copies are ever made.
// The CPU version calls OpenBLAS (sgemm/dgemm); the CUDA version calls cuBLAS.
#pragma once

#include "kernels/types.h"

namespace fg::kernels {

FG_KERNEL(gemm, (DType dt, bool trans_a, bool trans_b, std::int64_t batch, std::int64_t m, std::int64_t n,
                 std::int64_t k, double alpha, const void* a, std::int64_t stride_a, const void* b,
                 std::int64_t stride_b, double beta, void* c, std::int64_t stride_c))

}  // namespace fg::kernels
