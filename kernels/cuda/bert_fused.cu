// kernels/cuda/bert_fused.cu: bias + GELU and residual add + LayerNorm on CUDA, forward and
// backward (math in kernels/bert_fused.h; CPU reference kernels/cpu/bert_fused.cpp).
// float32 only.
//
// bias + GELU: forward and the input gradient are elementwise (grid-stride loops); the
//   bias gradient is a column sum of gy gelu'(x + b) over the rows, in two stages (row
//   blocks of 32 columns, then a fixed-order sum of their partials: column_reduce.cuh),
//   accumulated in double: deterministic, no atomics, and enough blocks to fill the device.
// add + LayerNorm: one block per row reads x and residual once per pass (mean, variance,
//   output), so u = x + residual is never written to memory; the backward's row kernel
//   reduces sum(g) and sum(g uhat) and writes the shared input gradient; ggamma and gbeta
//   are column sums (column_reduce.cuh: two stages, double, deterministic).
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "engine/cuda/check.h"
#include "engine/cuda/runtime.h"
#include "kernels/bert_fused.h"
#include "kernels/cuda/column_reduce.cuh"

namespace fg::kernels::cuda {

namespace {

constexpr int kThreads = 256;
constexpr unsigned kFull = 0xffffffffu;
constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kGeluK = 0.044715f;
constexpr float kInvSqrt2 = 0.7071067811865476f;
constexpr float kInvSqrt2Pi = 0.3989422804014327f;

__device__ float gelu_value(float z, bool tanh_approx) {
  if (tanh_approx) return 0.5f * z * (1.0f + tanhf(kSqrt2OverPi * (z + kGeluK * z * z * z)));
  return 0.5f * z * (1.0f + erff(z * kInvSqrt2));
}

__device__ float gelu_slope(float z, bool tanh_approx) {
  if (tanh_approx) {
    const float t = tanhf(kSqrt2OverPi * (z + kGeluK * z * z * z));
    return 0.5f * (1.0f + t) + 0.5f * z * (1.0f - t * t) * kSqrt2OverPi * (1.0f + 3.0f * kGeluK * z * z);
  }
  return 0.5f * (1.0f + erff(z * kInvSqrt2)) + z * kInvSqrt2Pi * expf(-0.5f * z * z);
}

// Block-wide sum (blockDim.x a multiple of 32); every thread gets it; all must call it.
__device__ float block_sum(float v) {
  __shared__ float partial[32];
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(kFull, v, off);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  __syncthreads();  // a previous call may still be reading partial
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  float t = lane < warps ? partial[lane] : 0.0f;
  for (int off = 16; off > 0; off >>= 1) t += __shfl_xor_sync(kFull, t, off);
  return t;
}

unsigned blocks_for(long long work, int threads) {
  const long long want = (work + threads - 1) / threads;
  const long long cap = static_cast<long long>(::fg::cuda::sm_count()) * 32;
  return static_cast<unsigned>(want < 1 ? 1 : (want < cap ? want : cap));
}

// ---------------------------------------------------------------- bias + GELU
__global__ void bias_gelu_forward_kernel(long long rows, long long n, bool tanh_approx, const float* x,
                                         const float* bias, float* y) {
  const long long total = rows * n, stride = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long e = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += stride)
    y[e] = gelu_value(x[e] + bias[e % n], tanh_approx);
}

__global__ void bias_gelu_input_grad_kernel(long long rows, long long n, bool tanh_approx, const float* x,
                                            const float* bias, const float* gy, float* gx) {
  const long long total = rows * n, stride = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long e = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += stride)
    gx[e] = gy[e] * gelu_slope(x[e] + bias[e % n], tanh_approx);
}

// Column term of the bias gradient: gy gelu'(x + b).
struct BiasGeluGradTerm {
  long long n;
  bool tanh_approx;
  const float *x, *bias, *gy;
  __device__ void operator()(long long r, long long j, double* v) const {
    v[0] += gy[r * n + j] * gelu_slope(x[r * n + j] + bias[j], tanh_approx);
  }
};

// ---------------------------------------------------------------- add + LayerNorm
__global__ void add_layer_norm_forward_kernel(long long rows, long long n, float eps, const float* x,
                                              const float* residual, const float* gamma, const float* beta, float* y,
                                              float* mean, float* rstd) {
  const float inv_n = 1.0f / static_cast<float>(n);
  for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* xr = x + r * n;
    const float* rr = residual + r * n;
    float s = 0.0f;
    for (long long j = threadIdx.x; j < n; j += blockDim.x) s += xr[j] + rr[j];
    const float mu = block_sum(s) * inv_n;
    float sq = 0.0f;
    for (long long j = threadIdx.x; j < n; j += blockDim.x) {
      const float dlt = (xr[j] + rr[j]) - mu;
      sq += dlt * dlt;
    }
    const float rs = rsqrtf(block_sum(sq) * inv_n + eps);
    if (threadIdx.x == 0) {
      mean[r] = mu;
      rstd[r] = rs;
    }
    for (long long j = threadIdx.x; j < n; j += blockDim.x) {
      float val = ((xr[j] + rr[j]) - mu) * rs;
      if (gamma) val *= gamma[j];
      if (beta) val += beta[j];
      y[r * n + j] = val;
    }
  }
}

__global__ void add_layer_norm_input_grad_kernel(long long rows, long long n, const float* x, const float* residual,
                                                 const float* gamma, const float* mean, const float* rstd,
                                                 const float* gy, float* gsum) {
  const float inv_n = 1.0f / static_cast<float>(n);
  for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
    const float mu = mean[r], rs = rstd[r];
    const float* xr = x + r * n;
    const float* rr = residual + r * n;
    const float* gr = gy + r * n;
    float sg = 0.0f, sgu = 0.0f;
    for (long long j = threadIdx.x; j < n; j += blockDim.x) {
      const float uhat = ((xr[j] + rr[j]) - mu) * rs;
      const float g = gamma ? gr[j] * gamma[j] : gr[j];
      sg += g;
      sgu += g * uhat;
    }
    const float mean_g = block_sum(sg) * inv_n;
    const float mean_gu = block_sum(sgu) * inv_n;
    for (long long j = threadIdx.x; j < n; j += blockDim.x) {
      const float uhat = ((xr[j] + rr[j]) - mu) * rs;
      const float g = gamma ? gr[j] * gamma[j] : gr[j];
      gsum[r * n + j] = rs * (g - mean_g - uhat * mean_gu);
    }
  }
}

// Column terms of ggamma and gbeta: gy uhat and gy, uhat = (x + residual - mean) rstd.
struct AddLayerNormParamTerm {
  long long n;
  const float *x, *residual, *mean, *rstd, *gy;
  __device__ void operator()(long long r, long long j, double* v) const {
    const float uhat = ((x[r * n + j] + residual[r * n + j]) - mean[r]) * rstd[r];
    v[0] += gy[r * n + j] * uhat;
    v[1] += gy[r * n + j];
  }
};

void require_f32(DType dt, const char* kernel) {
  FG_CUDA_REQUIRE(dt == DType::f32, std::string(kernel) + ": CUDA kernels compute in float32, got a " +
                                        dtype_name(dt) + " tensor (convert it on the CPU with .to(DType::f32) first)");
}

unsigned row_blocks(long long rows) {
  const long long cap = static_cast<long long>(::fg::cuda::sm_count()) * 16;
  return static_cast<unsigned>(rows < cap ? rows : cap);
}

int row_threads(long long n) { return n >= 256 ? 256 : static_cast<int>((n + 31) / 32 * 32); }

}  // namespace

void bias_gelu_forward(DType dt, std::int64_t rows, std::int64_t n, bool tanh_approx, const void* x, const void* bias,
                       void* y) {
  require_f32(dt, "bias_gelu_forward");
  if (rows <= 0 || n <= 0) return;
  bias_gelu_forward_kernel<<<blocks_for(rows * n, kThreads), kThreads, 0, ::fg::cuda::current_stream()>>>(
      rows, n, tanh_approx, static_cast<const float*>(x), static_cast<const float*>(bias), static_cast<float*>(y));
  CUDA_CHECK_LAUNCH("bias_gelu_forward_kernel");
}

void bias_gelu_backward(DType dt, std::int64_t rows, std::int64_t n, bool tanh_approx, const void* x, const void* bias,
                        const void* gy, void* gx, void* gbias) {
  require_f32(dt, "bias_gelu_backward");
  if (n <= 0) return;
  const cudaStream_t stream = ::fg::cuda::current_stream();
  if (rows <= 0) {
    if (gbias) CUDA_CHECK(cudaMemsetAsync(gbias, 0, static_cast<std::size_t>(n) * sizeof(float), stream));
    return;
  }
  const auto* xf = static_cast<const float*>(x);
  const auto* bf = static_cast<const float*>(bias);
  const auto* gf = static_cast<const float*>(gy);
  if (gx) {
    bias_gelu_input_grad_kernel<<<blocks_for(rows * n, kThreads), kThreads, 0, stream>>>(rows, n, tanh_approx, xf,
                                                                                          bf, gf,
                                                                                          static_cast<float*>(gx));
    CUDA_CHECK_LAUNCH("bias_gelu_input_grad_kernel");
  }
  if (gbias) {
    cuda_detail::column_reduce<1>(rows, n, BiasGeluGradTerm{n, tanh_approx, xf, bf, gf}, static_cast<float*>(gbias),
                                  nullptr, "bias_gelu bias-gradient column_reduce");
  }
}

void add_layer_norm_forward(DType dt, std::int64_t rows, std::int64_t n, double eps, const void* x,
                            const void* residual, const void* gamma, const void* beta, void* y, void* mean,
                            void* rstd) {
  require_f32(dt, "add_layer_norm_forward");
  if (rows <= 0 || n <= 0) return;
  add_layer_norm_forward_kernel<<<row_blocks(rows), row_threads(n), 0, ::fg::cuda::current_stream()>>>(
      rows, n, static_cast<float>(eps), static_cast<const float*>(x), static_cast<const float*>(residual),
      static_cast<const float*>(gamma), static_cast<const float*>(beta), static_cast<float*>(y),
      static_cast<float*>(mean), static_cast<float*>(rstd));
  CUDA_CHECK_LAUNCH("add_layer_norm_forward_kernel");
}

void add_layer_norm_backward(DType dt, std::int64_t rows, std::int64_t n, const void* x, const void* residual,
                             const void* gamma, const void* mean, const void* rstd, const void* gy, void* gsum,
                             void* ggamma, void* gbeta) {
  require_f32(dt, "add_layer_norm_backward");
  if (n <= 0) return;
  const cudaStream_t stream = ::fg::cuda::current_stream();
  if (rows <= 0) {
    if (ggamma) CUDA_CHECK(cudaMemsetAsync(ggamma, 0, static_cast<std::size_t>(n) * sizeof(float), stream));
    if (gbeta) CUDA_CHECK(cudaMemsetAsync(gbeta, 0, static_cast<std::size_t>(n) * sizeof(float), stream));
    return;
  }
  const auto* xf = static_cast<const float*>(x);
  const auto* rf = static_cast<const float*>(residual);
  const auto* mf = static_cast<const float*>(mean);
  const auto* sf = static_cast<const float*>(rstd);
  const auto* gf = static_cast<const float*>(gy);
  if (gsum) {
    add_layer_norm_input_grad_kernel<<<row_blocks(rows), row_threads(n), 0, stream>>>(
        rows, n, xf, rf, static_cast<const float*>(gamma), mf, sf, gf, static_cast<float*>(gsum));
    CUDA_CHECK_LAUNCH("add_layer_norm_input_grad_kernel");
  }
  if (ggamma || gbeta) {
    cuda_detail::column_reduce<2>(rows, n, AddLayerNormParamTerm{n, xf, rf, mf, sf, gf}, static_cast<float*>(ggamma),
                                  static_cast<float*>(gbeta), "add_layer_norm parameter-gradient column_reduce");
  }
}

}  // namespace fg::kernels::cuda
