// kernels/cuda/spd.cu: batched Cholesky log-determinant on CUDA (math in kernels/spd.h;
// reference kernels/cpu/spd.cpp).
//
// One thread block per matrix (the matrices are small: covariances of projected
// features). Forward, column by column (left-looking Cholesky):
//   thread 0 forms the pivot L_jj = sqrt(A_jj + jitter - sum_p L_jp^2), then the threads
//   split the rows i > j: L_ij = (A_ij - sum_p L_ip L_jp) / L_jj,
// with a barrier between columns; dot products accumulate in double. log det = 2 sum log L_jj.
// Backward: thread c computes column c of L^{-1} by forward substitution (columns are
// independent), then the threads fill G = g L^{-T} L^{-1}. float32 storage, double sums.
#include <cuda_runtime.h>

#include <string>

#include "engine/cuda/check.h"
#include "engine/cuda/runtime.h"
#include "kernels/spd.h"

namespace fg::kernels::cuda {

namespace {

constexpr int kThreads = 128;

__global__ void cholesky_logdet_kernel(const float* a, std::int64_t k, double jitter, float* l, float* logdet,
                                       std::int64_t* info) {
  const std::int64_t b = blockIdx.x;
  const float* A = a + b * k * k;
  float* L = l + b * k * k;
  __shared__ int failed;
  __shared__ double diag_shared;
  __shared__ double logdet_acc;
  if (threadIdx.x == 0) {
    failed = 0;
    logdet_acc = 0.0;
  }
  for (std::int64_t p = threadIdx.x; p < k * k; p += blockDim.x) L[p] = 0.f;
  __syncthreads();
  for (std::int64_t j = 0; j < k; ++j) {
    if (threadIdx.x == 0) {
      double d = static_cast<double>(A[j * k + j]) + jitter;
      for (std::int64_t p = 0; p < j; ++p) d -= static_cast<double>(L[j * k + p]) * L[j * k + p];
      if (!(d > 0.0)) {
        failed = static_cast<int>(j + 1);
      } else {
        diag_shared = sqrt(d);
        L[j * k + j] = static_cast<float>(diag_shared);
        logdet_acc += 2.0 * log(diag_shared);
      }
    }
    __syncthreads();
    if (failed) break;  // uniform: every thread read the same shared flag after the barrier
    const double ljj = diag_shared;
    for (std::int64_t i = j + 1 + threadIdx.x; i < k; i += blockDim.x) {
      double s = A[i * k + j];
      for (std::int64_t p = 0; p < j; ++p) s -= static_cast<double>(L[i * k + p]) * L[j * k + p];
      L[i * k + j] = static_cast<float>(s / ljj);
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    info[b] = failed;
    logdet[b] = failed ? __int_as_float(0x7fc00000) : static_cast<float>(logdet_acc);  // NaN on failure
  }
}

__global__ void cholesky_logdet_backward_kernel(const float* l, std::int64_t k, const float* glogdet, float* linv,
                                                float* ga) {
  const std::int64_t b = blockIdx.x;
  const float* L = l + b * k * k;
  float* Li = linv + b * k * k;
  float* G = ga + b * k * k;
  // column c of L^{-1}: rows c..k-1 by forward substitution
  for (std::int64_t c = threadIdx.x; c < k; c += blockDim.x) {
    for (std::int64_t i = 0; i < c; ++i) Li[i * k + c] = 0.f;
    for (std::int64_t i = c; i < k; ++i) {
      double s = (i == c) ? 1.0 : 0.0;
      for (std::int64_t p = c; p < i; ++p) s -= static_cast<double>(L[i * k + p]) * Li[p * k + c];
      Li[i * k + c] = static_cast<float>(s / L[i * k + i]);
    }
  }
  __syncthreads();
  const double g = glogdet[b];
  for (std::int64_t e = threadIdx.x; e < k * k; e += blockDim.x) {
    const std::int64_t i = e / k, j = e % k;
    double s = 0.0;
    for (std::int64_t p = (i > j ? i : j); p < k; ++p) s += static_cast<double>(Li[p * k + i]) * Li[p * k + j];
    G[e] = static_cast<float>(g * s);
  }
}

void require_f32(DType dt, const char* kernel) {
  FG_CUDA_REQUIRE(dt == DType::f32, std::string(kernel) + ": CUDA tensors must be float32");
}

}  // namespace

void cholesky_logdet_forward(DType dt, std::int64_t batch, std::int64_t k, double jitter, const void* a, void* l,
                             void* logdet, std::int64_t* info) {
  require_f32(dt, "cholesky_logdet_forward");
  if (batch == 0) return;
  cholesky_logdet_kernel<<<static_cast<unsigned>(batch), kThreads, 0, fg::cuda::current_stream()>>>(
      static_cast<const float*>(a), k, jitter, static_cast<float*>(l), static_cast<float*>(logdet), info);
  CUDA_CHECK_LAUNCH("cholesky_logdet_kernel");
}

void cholesky_logdet_backward(DType dt, std::int64_t batch, std::int64_t k, const void* l, const void* glogdet,
                              void* ga) {
  require_f32(dt, "cholesky_logdet_backward");
  if (batch == 0 || k == 0) return;
  fg::cuda::DeviceBuffer linv(sizeof(float) * batch * k * k);
  cholesky_logdet_backward_kernel<<<static_cast<unsigned>(batch), kThreads, 0, fg::cuda::current_stream()>>>(
      static_cast<const float*>(l), k, static_cast<const float*>(glogdet), linv.as<float>(), static_cast<float*>(ga));
  CUDA_CHECK_LAUNCH("cholesky_logdet_backward_kernel");
}

}  // namespace fg::kernels::cuda
