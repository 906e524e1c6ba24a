// kernels/cuda/linalg.cu: batched row-major GEMM through cuBLAS (kernels/linalg.h).
//
//   C[b] = alpha op(A[b]) op(B[b]) + beta C[b],  b < batch, float32 only.
// Shapes (row-major): op(A) m x k (A stored [m, k], or [k, m] when trans_a), op(B) k x n
// (B stored [k, n], or [n, k] when trans_b), C [m, n]; stride_* = elements between batch
// items (0 shares one matrix). Backward (done by the engine with the transpose flags):
// dA = dC B^T, dB = A^T dC.
//
// cuBLAS is column-major. A row-major [r, c] buffer read column-major is the c x r matrix
// M^T, so the row-major product C = op(A) op(B) is computed as the column-major product
//   C^T (n x m) = op(B)^T (n x k) * op(A)^T (k x m),
// i.e. cublasSgemmStridedBatched with the operands swapped (B first), m and n swapped,
// each operand transposed iff its row-major flag is set, and leading dimensions equal
// to the row lengths of the stored row-major buffers: ldb = trans_b ? k : n,
// lda = trans_a ? m : k, ldc = n.
// Math mode: pure float32 unless fg::cuda::set_allow_tf32(true) (TF32 tensor cores, set
// on the handle) or fg::cuda::set_allow_bf16(true) (engine/cuda/cuda_api.h): then the
// same product goes through cublasGemmStridedBatchedEx with float32 storage and compute
// type CUBLAS_COMPUTE_32F_FAST_16BF (inputs rounded to bfloat16, float32 accumulation).
#include <algorithm>
#include <limits>

#include "engine/cuda/cuda_api.h"
#include "kernels/cuda/common.cuh"
#include "kernels/linalg.h"

namespace fg::kernels::cuda {

using namespace cuda_detail;

void gemm(DType dt, bool trans_a, bool trans_b, std::int64_t batch, std::int64_t m, std::int64_t n, std::int64_t k,
          double alpha, const void* a, std::int64_t stride_a, const void* b, std::int64_t stride_b, double beta,
          void* c, std::int64_t stride_c) {
  require_f32(dt, "gemm");
  if (batch <= 0 || m <= 0 || n <= 0) return;
  constexpr std::int64_t kIntMax = std::numeric_limits<int>::max();
  FG_CUDA_REQUIRE(m <= kIntMax && n <= kIntMax && k <= kIntMax && batch <= kIntMax,
                  "gemm: cuBLAS takes 32-bit sizes, got batch " + std::to_string(batch) + ", m " + std::to_string(m) +
                      ", n " + std::to_string(n) + ", k " + std::to_string(k));
  const int lda = static_cast<int>(std::max<std::int64_t>(1, trans_a ? m : k));
  const int ldb = static_cast<int>(std::max<std::int64_t>(1, trans_b ? k : n));
  const int ldc = static_cast<int>(n);
  const float alpha_f = static_cast<float>(alpha), beta_f = static_cast<float>(beta);
  if (::fg::cuda::allow_bf16()) {
    CUBLAS_CHECK(cublasGemmStridedBatchedEx(
        ::fg::cuda::cublas_handle(), trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
        static_cast<int>(n), static_cast<int>(m), static_cast<int>(k), &alpha_f, b, CUDA_R_32F, ldb,
        static_cast<long long>(stride_b), a, CUDA_R_32F, lda, static_cast<long long>(stride_a), &beta_f, c, CUDA_R_32F,
        ldc, static_cast<long long>(stride_c), static_cast<int>(batch), CUBLAS_COMPUTE_32F_FAST_16BF,
        CUBLAS_GEMM_DEFAULT));
    return;
  }
  CUBLAS_CHECK(cublasSgemmStridedBatched(
      ::fg::cuda::cublas_handle(), trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
      static_cast<int>(n), static_cast<int>(m), static_cast<int>(k), &alpha_f, static_cast<const float*>(b), ldb,
      static_cast<long long>(stride_b), static_cast<const float*>(a), lda, static_cast<long long>(stride_a), &beta_f,
      static_cast<float*>(c), ldc, static_cast<long long>(stride_c), static_cast<int>(batch)));
}

}  // namespace fg::kernels::cuda
