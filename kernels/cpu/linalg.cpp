// kernels/cpu/linalg.cpp: batched GEMM on the CPU through OpenBLAS (see kernels/linalg.h).
// A loop over the batch calls cblas_sgemm / cblas_dgemm in row-major order.
#include <cblas.h>

#include <algorithm>
#include <stdexcept>

#include "kernels/linalg.h"

namespace fg::kernels::cpu {

void gemm(DType dt, bool trans_a, bool trans_b, std::int64_t batch, std::int64_t m, std::int64_t n, std::int64_t k,
          double alpha, const void* a, std::int64_t stride_a, const void* b, std::int64_t stride_b, double beta,
          void* c, std::int64_t stride_c) {
  if (m == 0 || n == 0) return;
  const blasint lda = static_cast<blasint>(std::max<std::int64_t>(1, trans_a ? m : k));
  const blasint ldb = static_cast<blasint>(std::max<std::int64_t>(1, trans_b ? k : n));
  const blasint ldc = static_cast<blasint>(n);
  const CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
  const CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
  for (std::int64_t i = 0; i < batch; ++i) {
    if (dt == DType::f32) {
      cblas_sgemm(CblasRowMajor, ta, tb, static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k),
                  static_cast<float>(alpha), static_cast<const float*>(a) + i * stride_a, lda,
                  static_cast<const float*>(b) + i * stride_b, ldb, static_cast<float>(beta),
                  static_cast<float*>(c) + i * stride_c, ldc);
    } else if (dt == DType::f64) {
      cblas_dgemm(CblasRowMajor, ta, tb, static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k),
                  alpha, static_cast<const double*>(a) + i * stride_a, lda, static_cast<const double*>(b) + i * stride_b,
                  ldb, beta, static_cast<double*>(c) + i * stride_c, ldc);
    } else {
      throw std::invalid_argument("gemm: expected float32 or float64");
    }
  }
}

}  // namespace fg::kernels::cpu
