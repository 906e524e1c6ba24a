// kernels/cuda/gram.cu: RBF Gram matrices on CUDA (math and shapes in kernels/gram.h;
// the reference is kernels/cpu/gram.cpp).
//
// Forward: one 16 x 16 thread block per 16 x 16 tile of K. The block walks the feature
// axis in chunks of 16, staging 16 rows of x and 16 rows of y in shared memory, so each
// element of x and y is read from global memory once per tile instead of once per pair;
// distance, exponentials and the bandwidth sum happen in registers (no n x m distance
// matrix is ever written).
// Backward: with C[i, j] = G[i, j] * sum_s (-2 gamma_s) exp(-gamma_s d_ij) (same tiling),
//   dL/dx = rowsum(C) .* x - C y,       dL/dy = colsum(C) .* y - C^T x
// so the O(n m d) work is two cuBLAS GEMMs plus a row/column sum.
// float32 only (float64 tensors live on the CPU).
#include <cuda_runtime.h>

#include <string>

#include "engine/cuda/check.h"
#include "engine/cuda/runtime.h"
#include "kernels/gram.h"

namespace fg::kernels::cuda {

namespace {

constexpr int kTile = 16;

struct GammasF {
  int count;
  float value[kMaxGammas];
};

GammasF to_float(const GammaList& g) {
  GammasF out{};
  out.count = g.count;
  for (int s = 0; s < g.count; ++s) out.value[s] = static_cast<float>(g.value[s]);
  return out;
}

// Squared distance ||x_i - y_j||^2 for i = tile row of this thread, j = tile column.
// Every thread of the block must call it (it synchronizes), in range or not.
__device__ float tile_sq_dist(const float* x, const float* y, std::int64_t n, std::int64_t m, std::int64_t d) {
  __shared__ float xs[kTile][kTile + 1];
  __shared__ float ys[kTile][kTile + 1];
  float acc = 0.f;
  for (std::int64_t k0 = 0; k0 < d; k0 += kTile) {
    // thread (ty, tx) loads x[row0 + ty, k0 + tx] and y[col0 + ty, k0 + tx]
    const std::int64_t xr = blockIdx.y * kTile + threadIdx.y, yr = blockIdx.x * kTile + threadIdx.y;
    const std::int64_t kc = k0 + threadIdx.x;
    xs[threadIdx.y][threadIdx.x] = (xr < n && kc < d) ? x[xr * d + kc] : 0.f;
    ys[threadIdx.y][threadIdx.x] = (yr < m && kc < d) ? y[yr * d + kc] : 0.f;
    __syncthreads();
    const int kmax = static_cast<int>(d - k0 < kTile ? d - k0 : kTile);
    for (int k = 0; k < kmax; ++k) {
      const float diff = xs[threadIdx.y][k] - ys[threadIdx.x][k];
      acc += diff * diff;
    }
    __syncthreads();
  }
  return acc;
}

__global__ void rbf_gram_forward_kernel(const float* x, const float* y, std::int64_t n, std::int64_t m,
                                        std::int64_t d, GammasF g, float* k) {
  const std::int64_t i = blockIdx.y * kTile + threadIdx.y;
  const std::int64_t j = blockIdx.x * kTile + threadIdx.x;
  const float dist = tile_sq_dist(x, y, n, m, d);  // every thread joins the barriers
  if (i >= n || j >= m) return;
  float v = 0.f;
  for (int s = 0; s < g.count; ++s) v += __expf(-g.value[s] * dist);
  k[i * m + j] = v;
}

__global__ void rbf_gram_coeff_kernel(const float* x, const float* y, std::int64_t n, std::int64_t m, std::int64_t d,
                                      GammasF g, const float* gk, float* c) {
  const std::int64_t i = blockIdx.y * kTile + threadIdx.y;
  const std::int64_t j = blockIdx.x * kTile + threadIdx.x;
  const float dist = tile_sq_dist(x, y, n, m, d);
  if (i >= n || j >= m) return;
  float v = 0.f;
  for (int s = 0; s < g.count; ++s) v += -2.f * g.value[s] * __expf(-g.value[s] * dist);
  c[i * m + j] = v * gk[i * m + j];
}

// out[r] = sum over the row (rows = true) or column of C [n, m]; one warp per output.
__global__ void line_sum_kernel(const float* c, std::int64_t n, std::int64_t m, bool rows, float* out) {
  const std::int64_t r = (static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  const std::int64_t count = rows ? n : m, len = rows ? m : n;
  if (r >= count) return;
  float acc = 0.f;
  for (std::int64_t t = lane; t < len; t += 32) acc += rows ? c[r * m + t] : c[t * m + r];
  for (int off = 16; off > 0; off >>= 1) acc += __shfl_down_sync(0xffffffffu, acc, off);
  if (lane == 0) out[r] = acc;
}

// g[r, :] += s[r] * v[r, :]
__global__ void add_row_scaled_kernel(const float* s, const float* v, std::int64_t rows, std::int64_t d, float* g) {
  const std::int64_t p = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (p >= rows * d) return;
  g[p] += s[p / d] * v[p];
}

void require_f32(DType dt, const char* kernel) {
  FG_CUDA_REQUIRE(dt == DType::f32, std::string(kernel) + ": CUDA tensors must be float32");
}

unsigned blocks_for(std::int64_t threads, int per_block) {
  return static_cast<unsigned>((threads + per_block - 1) / per_block);
}

}  // namespace

void rbf_gram_forward(DType dt, std::int64_t n, std::int64_t m, std::int64_t d, const void* x, const void* y,
                      const GammaList& gammas, void* k) {
  require_f32(dt, "rbf_gram_forward");
  if (n == 0 || m == 0) return;
  const dim3 block(kTile, kTile), grid(blocks_for(m, kTile), blocks_for(n, kTile));
  rbf_gram_forward_kernel<<<grid, block, 0, fg::cuda::current_stream()>>>(
      static_cast<const float*>(x), static_cast<const float*>(y), n, m, d, to_float(gammas), static_cast<float*>(k));
  CUDA_CHECK_LAUNCH("rbf_gram_forward_kernel");
}

void rbf_gram_backward(DType dt, std::int64_t n, std::int64_t m, std::int64_t d, const void* x, const void* y,
                       const GammaList& gammas, const void* gk, void* gx, void* gy) {
  require_f32(dt, "rbf_gram_backward");
  if (n == 0 || m == 0 || d == 0 || (!gx && !gy)) {
    if (gx && n * d > 0) CUDA_CHECK(cudaMemsetAsync(gx, 0, sizeof(float) * n * d, fg::cuda::current_stream()));
    if (gy && m * d > 0) CUDA_CHECK(cudaMemsetAsync(gy, 0, sizeof(float) * m * d, fg::cuda::current_stream()));
    return;
  }
  cudaStream_t stream = fg::cuda::current_stream();
  const auto* xs = static_cast<const float*>(x);
  const auto* ys = static_cast<const float*>(y);
  fg::cuda::DeviceBuffer c(sizeof(float) * n * m);
  const dim3 block(kTile, kTile), grid(blocks_for(m, kTile), blocks_for(n, kTile));
  rbf_gram_coeff_kernel<<<grid, block, 0, stream>>>(xs, ys, n, m, d, to_float(gammas), static_cast<const float*>(gk),
                                                   c.as<float>());
  CUDA_CHECK_LAUNCH("rbf_gram_coeff_kernel");
  cublasHandle_t h = fg::cuda::cublas_handle();
  const float minus_one = -1.f, zero = 0.f;
  const int in = static_cast<int>(n), im = static_cast<int>(m), id = static_cast<int>(d);
  if (gx) {
    // gx[n, d] = -C[n, m] y[m, d] (row-major), then += rowsum(C) .* x
    CUBLAS_CHECK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, id, in, im, &minus_one, ys, id, c.as<float>(), im, &zero,
                             static_cast<float*>(gx), id));
    fg::cuda::DeviceBuffer rs(sizeof(float) * n);
    line_sum_kernel<<<blocks_for(n * 32, 256), 256, 0, stream>>>(c.as<float>(), n, m, true, rs.as<float>());
    CUDA_CHECK_LAUNCH("line_sum_kernel");
    add_row_scaled_kernel<<<blocks_for(n * d, 256), 256, 0, stream>>>(rs.as<float>(), xs, n, d,
                                                                      static_cast<float*>(gx));
    CUDA_CHECK_LAUNCH("add_row_scaled_kernel");
  }
  if (gy) {
    // dL/dy_j = -sum_i c_ij (x_i - y_j) = colsum_j(C) y_j - (C^T x)_j:
    // gy[m, d] = -C^T[m, n] x[n, d] (row-major), then += colsum(C) .* y
    CUBLAS_CHECK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_T, id, im, in, &minus_one, xs, id, c.as<float>(), im, &zero,
                             static_cast<float*>(gy), id));
    fg::cuda::DeviceBuffer cs(sizeof(float) * m);
    line_sum_kernel<<<blocks_for(m * 32, 256), 256, 0, stream>>>(c.as<float>(), n, m, false, cs.as<float>());
    CUDA_CHECK_LAUNCH("line_sum_kernel");
    add_row_scaled_kernel<<<blocks_for(m * d, 256), 256, 0, stream>>>(cs.as<float>(), ys, m, d,
                                                                      static_cast<float*>(gy));
    CUDA_CHECK_LAUNCH("add_row_scaled_kernel");
  }
}

}  // namespace fg::kernels::cuda
