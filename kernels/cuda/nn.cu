// kernels/cuda/nn.cu: CUDA softmax / log_softmax along an axis and layer normalization,
// forward and backward (kernels/nn.h; math and CPU reference in kernels/cpu/nn.cpp).
//
// softmax over the middle axis of [outer, n, inner]:
//   y = exp(x - lse) (or x - lse for log_softmax), lse = m + log sum exp(x - m)
//   backward: gx = y (gy - sum gy y);  log: gx = gy - exp(y) sum gy
// layer_norm over the last axis of [rows, n]:
//   y = (x - mu) rstd gamma + beta, rstd = 1 / sqrt(var + eps) (biased var); saves mu, rstd
//   backward: gx = rstd (g - mean(g) - xhat mean(g xhat)), g = gy gamma;
//             ggamma = sum_rows gy xhat, gbeta = sum_rows gy
//
// Softmax paths: rows contiguous (inner == 1) and n <= 1024: one warp per row; longer
// rows: one block per row; inner > 1: one thread per (outer, inner) column. The max and
// the sum of exponentials come from one pass with an online rescaling ((m, s) pairs,
// merged by s_a e^(m_a - m) + s_b e^(m_b - m), s in double); a second pass writes y.
// The backward's row sums are in double too.
// Layer norm forward: one warp (n <= 1024) or block per row, two-pass mean and variance
// over the row, one pass writing y. Backward, fused: each block owns a contiguous range
// of rows; per row it reduces sum(g) and sum(g xhat), writes gx, and accumulates
// gy xhat and gy for its columns into a per-block partial row (in shared memory when
// 2 n floats fit beside the kernel's static shared memory in the default 48 KiB, else in
// its own row of a global buffer; each column belongs to one
// thread, so no atomics). A second kernel adds the blocks' partial rows in block order
// (in double): ggamma and gbeta are deterministic.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kernel_limits.h"
#include "kernels/nn.h"

namespace fg::kernels::cuda {

using namespace cuda_detail;

namespace {

// ---------------------------------------------------------------- softmax
template <bool WARP>
__global__ void softmax_rows_kernel(long long rows, long long n, bool log, const float* x, float* y) {
  const RowGroup g = row_group<WARP>();
  for (long long row = g.first; row < rows; row += g.step) {
    const float* xr = x + row * n;
    float* yr = y + row * n;
    MaxSum a = max_sum_identity();
    for (long long j = g.lane; j < n; j += g.lanes) max_sum_update(a, xr[j]);
    a = group_allreduce<WARP>(a, MaxSumCombine{}, max_sum_identity());
    const float lse = max_sum_lse(a);
    for (long long j = g.lane; j < n; j += g.lanes) {
      const float z = xr[j] - lse;
      yr[j] = log ? z : expf(z);
    }
  }
}

__global__ void softmax_cols_kernel(long long outer, long long n, long long inner, bool log, const float* x,
                                    float* y) {
  const long long cols = outer * inner;
  const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long t = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; t < cols; t += stride) {
    const long long o = t / inner, i = t - o * inner;
    const float* xc = x + o * n * inner + i;
    float* yc = y + o * n * inner + i;
    MaxSum a = max_sum_identity();
    for (long long j = 0; j < n; ++j) max_sum_update(a, xc[j * inner]);
    const float lse = max_sum_lse(a);
    for (long long j = 0; j < n; ++j) {
      const float z = xc[j * inner] - lse;
      yc[j * inner] = log ? z : expf(z);
    }
  }
}

template <bool WARP>
__global__ void softmax_backward_rows_kernel(long long rows, long long n, bool log, const float* y, const float* gy,
                                             float* gx) {
  const RowGroup g = row_group<WARP>();
  for (long long row = g.first; row < rows; row += g.step) {
    const float* yr = y + row * n;
    const float* gr = gy + row * n;
    float* gxr = gx + row * n;
    double acc = 0.0;  // log: sum gy; softmax: sum gy y (in double, like the row sums of the forward)
    for (long long j = g.lane; j < n; j += g.lanes) acc += log ? gr[j] : gr[j] * yr[j];
    const float s = static_cast<float>(group_allreduce<WARP>(acc, SumOp{}, 0.0));
    for (long long j = g.lane; j < n; j += g.lanes) gxr[j] = log ? gr[j] - expf(yr[j]) * s : yr[j] * (gr[j] - s);
  }
}

__global__ void softmax_backward_cols_kernel(long long outer, long long n, long long inner, bool log, const float* y,
                                             const float* gy, float* gx) {
  const long long cols = outer * inner;
  const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long t = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; t < cols; t += stride) {
    const long long o = t / inner, i = t - o * inner;
    const long long base = o * n * inner + i;
    double acc = 0.0;
    for (long long j = 0; j < n; ++j) {
      const long long p = base + j * inner;
      acc += log ? gy[p] : gy[p] * y[p];
    }
    const float s = static_cast<float>(acc);
    for (long long j = 0; j < n; ++j) {
      const long long p = base + j * inner;
      gx[p] = log ? gy[p] - expf(y[p]) * s : y[p] * (gy[p] - s);
    }
  }
}

// ---------------------------------------------------------------- layer norm
template <bool WARP>
__global__ void layer_norm_forward_kernel(long long rows, long long n, float eps, const float* x, const float* gamma,
                                          const float* beta, float* y, float* mean, float* rstd) {
  const RowGroup g = row_group<WARP>();
  const float inv_n = 1.0f / static_cast<float>(n);
  for (long long row = g.first; row < rows; row += g.step) {
    const float* xr = x + row * n;
    float* yr = y + row * n;
    float s = 0.0f;
    for (long long j = g.lane; j < n; j += g.lanes) s += xr[j];
    const float mu = group_allreduce<WARP>(s, SumOp{}, 0.0f) * inv_n;
    float sq = 0.0f;
    for (long long j = g.lane; j < n; j += g.lanes) {
      const float d = xr[j] - mu;
      sq += d * d;
    }
    const float var = group_allreduce<WARP>(sq, SumOp{}, 0.0f) * inv_n;
    const float rs = 1.0f / sqrtf(var + eps);
    if (g.lane == 0) {
      mean[row] = mu;
      rstd[row] = rs;
    }
    for (long long j = g.lane; j < n; j += g.lanes) {
      float v = (xr[j] - mu) * rs;
      if (gamma) v *= gamma[j];
      if (beta) v += beta[j];
      yr[j] = v;
    }
  }
}

struct Float2Sum {
  __device__ float2 operator()(const float2& a, const float2& b) const { return make_float2(a.x + b.x, a.y + b.y); }
};

// Block b handles rows [b rows_per_block, (b + 1) rows_per_block). part_gamma/part_beta:
// [gridDim.x, n] partial sums of gy xhat and gy (null when no parameter grads are wanted).
__global__ void layer_norm_backward_kernel(long long rows, long long n, long long rows_per_block, bool use_smem,
                                           const float* x, const float* gamma, const float* mean, const float* rstd,
                                           const float* gy, float* gx, float* part_gamma, float* part_beta) {
  extern __shared__ float smem[];
  const bool want_params = part_gamma != nullptr;
  float* pg = nullptr;
  float* pb = nullptr;
  if (want_params) {
    pg = use_smem ? smem : part_gamma + static_cast<long long>(blockIdx.x) * n;
    pb = use_smem ? smem + n : part_beta + static_cast<long long>(blockIdx.x) * n;
    for (long long j = threadIdx.x; j < n; j += blockDim.x) {  // each column belongs to one thread throughout
      pg[j] = 0.0f;
      pb[j] = 0.0f;
    }
  }
  const float inv_n = 1.0f / static_cast<float>(n);
  const long long r0 = static_cast<long long>(blockIdx.x) * rows_per_block;
  const long long r1 = min(rows, r0 + rows_per_block);
  for (long long r = r0; r < r1; ++r) {
    const float mu = mean[r], rs = rstd[r];
    const float* xr = x + r * n;
    const float* gr = gy + r * n;
    float sg = 0.0f, sgx = 0.0f;
    for (long long j = threadIdx.x; j < n; j += blockDim.x) {
      const float xhat = (xr[j] - mu) * rs;
      const float g = gamma ? gr[j] * gamma[j] : gr[j];
      sg += g;
      sgx += g * xhat;
      if (want_params) {
        pg[j] += gr[j] * xhat;
        pb[j] += gr[j];
      }
    }
    if (gx) {
      const float2 tot = block_allreduce(make_float2(sg, sgx), Float2Sum{}, make_float2(0.0f, 0.0f));
      const float mean_g = tot.x * inv_n, mean_gx = tot.y * inv_n;
      float* gxr = gx + r * n;
      for (long long j = threadIdx.x; j < n; j += blockDim.x) {
        const float xhat = (xr[j] - mu) * rs;
        const float g = gamma ? gr[j] * gamma[j] : gr[j];
        gxr[j] = rs * (g - mean_g - xhat * mean_gx);
      }
    }
  }
  if (want_params && use_smem) {
    for (long long j = threadIdx.x; j < n; j += blockDim.x) {
      part_gamma[static_cast<long long>(blockIdx.x) * n + j] = pg[j];
      part_beta[static_cast<long long>(blockIdx.x) * n + j] = pb[j];
    }
  }
}

// Dynamic shared memory the layer-norm backward may take without opting in: 48 KiB less
// the kernel's static shared memory (block_allreduce's scratch, 272 bytes on sm_90).
std::size_t layer_norm_backward_smem_limit() {
  return launch::dynamic_smem_limit(launch::kDefaultSmemPerBlock,
                                    static_smem_bytes(reinterpret_cast<const void*>(layer_norm_backward_kernel)));
}

// ggamma[j] = sum_b part_gamma[b, j], gbeta likewise, in block order.
__global__ void layer_norm_param_grads_kernel(long long n, long long blocks, const float* part_gamma,
                                              const float* part_beta, float* ggamma, float* gbeta) {
  const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long j = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; j < n; j += stride) {
    double sg = 0.0, sb = 0.0;
    for (long long b = 0; b < blocks; ++b) {
      sg += part_gamma[b * n + j];
      sb += part_beta[b * n + j];
    }
    if (ggamma) ggamma[j] = static_cast<float>(sg);
    if (gbeta) gbeta[j] = static_cast<float>(sb);
  }
}

}  // namespace

void softmax_forward(DType dt, AxisView v, bool log, const void* x, void* y) {
  require_f32(dt, "softmax_forward");
  const long long rows = v.outer * v.inner;
  if (rows <= 0 || v.n <= 0) return;
  const cudaStream_t s = ::fg::cuda::current_stream();
  const auto* xf = static_cast<const float*>(x);
  auto* yf = static_cast<float*>(y);
  if (v.inner == 1) {
    const RowsLaunch l = rows_launch(rows, v.n);
    if (l.warp) {
      softmax_rows_kernel<true><<<l.grid, l.threads, 0, s>>>(rows, v.n, log, xf, yf);
    } else {
      softmax_rows_kernel<false><<<l.grid, l.threads, 0, s>>>(rows, v.n, log, xf, yf);
    }
    CUDA_CHECK_LAUNCH("softmax_rows_kernel");
    return;
  }
  softmax_cols_kernel<<<grid_for(rows), kThreads, 0, s>>>(v.outer, v.n, v.inner, log, xf, yf);
  CUDA_CHECK_LAUNCH("softmax_cols_kernel");
}

void softmax_backward(DType dt, AxisView v, bool log, const void* y, const void* gy, void* gx) {
  require_f32(dt, "softmax_backward");
  const long long rows = v.outer * v.inner;
  if (rows <= 0 || v.n <= 0) return;
  const cudaStream_t s = ::fg::cuda::current_stream();
  const auto* yf = static_cast<const float*>(y);
  const auto* gf = static_cast<const float*>(gy);
  auto* gxf = static_cast<float*>(gx);
  if (v.inner == 1) {
    const RowsLaunch l = rows_launch(rows, v.n);
    if (l.warp) {
      softmax_backward_rows_kernel<true><<<l.grid, l.threads, 0, s>>>(rows, v.n, log, yf, gf, gxf);
    } else {
      softmax_backward_rows_kernel<false><<<l.grid, l.threads, 0, s>>>(rows, v.n, log, yf, gf, gxf);
    }
    CUDA_CHECK_LAUNCH("softmax_backward_rows_kernel");
    return;
  }
  softmax_backward_cols_kernel<<<grid_for(rows), kThreads, 0, s>>>(v.outer, v.n, v.inner, log, yf, gf, gxf);
  CUDA_CHECK_LAUNCH("softmax_backward_cols_kernel");
}

void layer_norm_forward(DType dt, std::int64_t rows, std::int64_t n, double eps, const void* x, const void* gamma,
                        const void* beta, void* y, void* mean, void* rstd) {
  require_f32(dt, "layer_norm_forward");
  if (rows <= 0 || n <= 0) return;
  const cudaStream_t s = ::fg::cuda::current_stream();
  const RowsLaunch l = rows_launch(rows, n);
  const auto* xf = static_cast<const float*>(x);
  const auto* gf = static_cast<const float*>(gamma);
  const auto* bf = static_cast<const float*>(beta);
  if (l.warp) {
    layer_norm_forward_kernel<true><<<l.grid, l.threads, 0, s>>>(rows, n, static_cast<float>(eps), xf, gf, bf,
                                                                 static_cast<float*>(y), static_cast<float*>(mean),
                                                                 static_cast<float*>(rstd));
  } else {
    layer_norm_forward_kernel<false><<<l.grid, l.threads, 0, s>>>(rows, n, static_cast<float>(eps), xf, gf, bf,
                                                                  static_cast<float*>(y), static_cast<float*>(mean),
                                                                  static_cast<float*>(rstd));
  }
  CUDA_CHECK_LAUNCH("layer_norm_forward_kernel");
}

void layer_norm_backward(DType dt, std::int64_t rows, std::int64_t n, const void* x, const void* gamma,
                         const void* mean, const void* rstd, const void* gy, void* gx, void* ggamma, void* gbeta) {
  require_f32(dt, "layer_norm_backward");
  if (n <= 0) return;
  const cudaStream_t s = ::fg::cuda::current_stream();
  const bool want_params = ggamma != nullptr || gbeta != nullptr;
  if (rows <= 0) {  // no rows: the parameter gradients are sums over nothing
    if (ggamma) CUDA_CHECK(cudaMemsetAsync(ggamma, 0, static_cast<std::size_t>(n) * sizeof(float), s));
    if (gbeta) CUDA_CHECK(cudaMemsetAsync(gbeta, 0, static_cast<std::size_t>(n) * sizeof(float), s));
    return;
  }
  if (!gx && !want_params) return;
  const long long sms = ::fg::cuda::sm_count();
  const long long blocks = std::min<long long>(rows, sms * 8);
  const long long rows_per_block = ceil_div(rows, blocks);
  const long long used_blocks = ceil_div(rows, rows_per_block);
  const int threads = static_cast<int>(std::min<long long>(kThreads, (n + 31) / 32 * 32));
  const std::size_t partial_bytes = want_params ? static_cast<std::size_t>(used_blocks * n) * sizeof(float) : 0;
  ::fg::cuda::DeviceBuffer part_gamma(partial_bytes), part_beta(partial_bytes);
  const std::size_t smem_bytes = static_cast<std::size_t>(2 * n) * sizeof(float);
  const bool use_smem = want_params && smem_bytes <= layer_norm_backward_smem_limit();
  layer_norm_backward_kernel<<<static_cast<unsigned>(used_blocks), threads, use_smem ? smem_bytes : 0, s>>>(
      rows, n, rows_per_block, use_smem, static_cast<const float*>(x), static_cast<const float*>(gamma),
      static_cast<const float*>(mean), static_cast<const float*>(rstd), static_cast<const float*>(gy),
      static_cast<float*>(gx), part_gamma.as<float>(), part_beta.as<float>());
  CUDA_CHECK_LAUNCH("layer_norm_backward_kernel");
  if (want_params) {
    layer_norm_param_grads_kernel<<<grid_for(n), kThreads, 0, s>>>(n, used_blocks, part_gamma.as<float>(),
                                                                   part_beta.as<float>(), static_cast<float*>(ggamma),
                                                                   static_cast<float*>(gbeta));
    CUDA_CHECK_LAUNCH("layer_norm_param_grads_kernel");
  }
}

std::int64_t layer_norm_backward_max_smem_n() {
  return static_cast<std::int64_t>(layer_norm_backward_smem_limit() / (2 * sizeof(float)));
}

std::vector<launch::KernelLaunchShape> nn_launch_shapes() {
  std::vector<launch::KernelLaunchShape> out;
  const std::int64_t n_max = layer_norm_backward_max_smem_n();
  for (std::int64_t n : {std::int64_t{768}, n_max}) {
    const int threads = static_cast<int>(std::min<std::int64_t>(kThreads, (n + 31) / 32 * 32));
    out.push_back({"layer_norm_backward n=" + std::to_string(n) + " (partials in shared memory)",
                   reinterpret_cast<const void*>(layer_norm_backward_kernel), threads,
                   static_cast<std::size_t>(2 * n) * sizeof(float)});
  }
  return out;
}

}  // namespace fg::kernels::cuda
