// kernels/cuda/conv.cu: 2-D convolution on CUDA, float32 (kernels/conv.h has the shapes and
// the math, docs/conv.md the derivation and the layout).
//
// im2col + cuBLAS GEMM (kernels/cuda/linalg.cu's gemm), over chunks of images so the
// column buffer stays under kColumnBudget floats:
//   forward          col[b] = im2col(x[n0 + b]);  y[n0 + b] = W col[b]   (one strided-batched
//                    GEMM, W shared: stride 0), then + bias[k]
//   backward input   col[b] = W^T gy[n0 + b]  (batched GEMM), then col2im gathers each
//                    pixel's entries (+ bias[c]): one thread per pixel, no atomics
//   backward weight  part[b] = gy[n0 + b] col[b]^T (batched GEMM), then gw = sum_b part[b]
//                    in image order (fixed: the same bits on every run)
//   bias gradient    one block per channel, a double sum over the batch and pixels through
//                    block_allreduce (fixed order)
// Launch rules (docs/architecture.md section 3): no dynamic shared memory; the element-wise
// kernels run grid-stride loops with 32-bit indices only when grid_stride_int32_ok says
// the loop's last step cannot wrap (and the index fits), 64-bit ones otherwise; every
// launch is checked with CUDA_CHECK_LAUNCH.
#include <algorithm>
#include <string>

#include "kernels/conv.h"
#include "kernels/cuda/common.cuh"
#include "kernels/linalg.h"

namespace fg::kernels::cuda {

using namespace cuda_detail;

namespace {

// Floats of column buffer (plus weight partials) one chunk of images may use: 64 Mi floats,
// 256 MiB. A single image larger than this still runs, as a chunk of one.
constexpr std::int64_t kColumnBudget = std::int64_t{1} << 26;

// col[b][(c KH + u) KW + v][i WO + j] = x[n0 + b, c, i s_h - p_h + u d_h, j s_w - p_w + v d_w] (0 in the padding)
template <class IndexT>
__global__ void im2col_kernel(Conv2dGeom g, long long n0, IndexT total, const float* __restrict__ x,
                              float* __restrict__ col) {
  const IndexT pixels = static_cast<IndexT>(g.ho * g.wo);
  const IndexT kw = static_cast<IndexT>(g.kw), khw = static_cast<IndexT>(g.kh * g.kw);
  const IndexT patch = static_cast<IndexT>(g.c) * khw;
  const IndexT step = static_cast<IndexT>(gridDim.x) * blockDim.x;
  for (IndexT idx = static_cast<IndexT>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total; idx += step) {
    const IndexT p = idx % pixels;
    const IndexT row = (idx / pixels) % patch;
    const IndexT b = idx / (pixels * patch);
    const IndexT c = row / khw, u = (row % khw) / kw, v = row % kw;
    const IndexT i = p / static_cast<IndexT>(g.wo), j = p % static_cast<IndexT>(g.wo);
    const long long hh = static_cast<long long>(i) * g.stride_h - g.pad_h + static_cast<long long>(u) * g.dil_h;
    const long long ww = static_cast<long long>(j) * g.stride_w - g.pad_w + static_cast<long long>(v) * g.dil_w;
    float val = 0.0f;
    if (hh >= 0 && hh < g.h && ww >= 0 && ww < g.w)
      val = x[(((n0 + static_cast<long long>(b)) * g.c + c) * g.h + hh) * g.w + ww];
    col[idx] = val;
  }
}

// Which feature row i reads image row hh through tap u: i s - p + u d = hh, 0 <= i < size.
__device__ __forceinline__ bool source_index(long long hh, long long pad, long long u, long long dil,
                                             long long stride, long long size, long long& i) {
  const long long t = hh + pad - u * dil;
  if (t < 0 || t % stride != 0) return false;
  i = t / stride;
  return i < size;
}

// gx[n0 + b, c, hh, ww] = bias[c] + sum of col[b][(c KH + u) KW + v][i WO + j] over the taps
// (u, v) and feature pixels (i, j) that read (hh, ww). One thread per image pixel.
template <class IndexT>
__global__ void col2im_kernel(Conv2dGeom g, long long n0, IndexT total, const float* __restrict__ col,
                              const float* __restrict__ bias, float* __restrict__ gx) {
  const IndexT hw = static_cast<IndexT>(g.h * g.w);
  const IndexT width = static_cast<IndexT>(g.w), channels = static_cast<IndexT>(g.c);
  const long long pixels = g.ho * g.wo, patch = g.c * g.kh * g.kw;
  const IndexT step = static_cast<IndexT>(gridDim.x) * blockDim.x;
  for (IndexT idx = static_cast<IndexT>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total; idx += step) {
    const IndexT ww = idx % width, hh = (idx / width) % static_cast<IndexT>(g.h);
    const IndexT c = (idx / hw) % channels, b = idx / (hw * channels);
    const float* cb = col + static_cast<long long>(b) * patch * pixels;
    float acc = bias ? bias[c] : 0.0f;
    for (long long u = 0; u < g.kh; ++u) {
      long long i = 0;
      if (!source_index(hh, g.pad_h, u, g.dil_h, g.stride_h, g.ho, i)) continue;
      for (long long v = 0; v < g.kw; ++v) {
        long long j = 0;
        if (!source_index(ww, g.pad_w, v, g.dil_w, g.stride_w, g.wo, j)) continue;
        acc += cb[((static_cast<long long>(c) * g.kh + u) * g.kw + v) * pixels + i * g.wo + j];
      }
    }
    gx[n0 * channels * hw + static_cast<long long>(idx)] = acc;
  }
}

// y[e] += bias[(e / pixels) % channels] over `total` elements of y.
template <class IndexT>
__global__ void add_bias_kernel(IndexT total, IndexT pixels, IndexT channels, const float* __restrict__ bias,
                                float* __restrict__ y) {
  const IndexT step = static_cast<IndexT>(gridDim.x) * blockDim.x;
  for (IndexT idx = static_cast<IndexT>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total; idx += step)
    y[idx] += bias[(idx / pixels) % channels];
}

// gw[e] (+)= sum_{b < nb} part[b * per + e], added in image order.
__global__ void sum_partials_kernel(long long nb, long long per, bool accumulate, const float* __restrict__ part,
                                    float* __restrict__ gw) {
  const long long step = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long e = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; e < per; e += step) {
    float acc = accumulate ? gw[e] : 0.0f;
    for (long long b = 0; b < nb; ++b) acc += part[b * per + e];
    gw[e] = acc;
  }
}

// gb[c] = sum_{b, p} g[b, c, p]: block c (grid-stride over channels) sums in double.
__global__ void bias_grad_kernel(long long n, long long channels, long long pixels, const float* __restrict__ g,
                                 float* __restrict__ gb) {
  const long long count = n * pixels;
  for (long long c = blockIdx.x; c < channels; c += gridDim.x) {
    double acc = 0.0;
    for (long long e = threadIdx.x; e < count; e += blockDim.x) {
      const long long b = e / pixels, p = e % pixels;
      acc += static_cast<double>(g[(b * channels + c) * pixels + p]);
    }
    acc = block_allreduce(acc, SumOp{}, 0.0);
    if (threadIdx.x == 0) gb[c] = static_cast<float>(acc);
  }
}

// ---------------------------------------------------------------- launches
void launch_im2col(const Conv2dGeom& g, std::int64_t n0, std::int64_t nb, const float* x, float* col) {
  const std::int64_t total = nb * g.patch() * g.out_pixels();
  const cudaStream_t s = ::fg::cuda::current_stream();
  if (grid_stride_int32_ok(total)) {
    im2col_kernel<int><<<grid_for(total), kThreads, 0, s>>>(g, n0, static_cast<int>(total), x, col);
  } else {
    im2col_kernel<long long><<<grid_for(total), kThreads, 0, s>>>(g, n0, total, x, col);
  }
  CUDA_CHECK_LAUNCH("im2col_kernel");
}

void launch_col2im(const Conv2dGeom& g, std::int64_t n0, std::int64_t nb, const float* col, const float* bias,
                   float* gx) {
  const std::int64_t total = nb * g.c * g.h * g.w;
  const cudaStream_t s = ::fg::cuda::current_stream();
  if (grid_stride_int32_ok(total)) {
    col2im_kernel<int><<<grid_for(total), kThreads, 0, s>>>(g, n0, static_cast<int>(total), col, bias, gx);
  } else {
    col2im_kernel<long long><<<grid_for(total), kThreads, 0, s>>>(g, n0, total, col, bias, gx);
  }
  CUDA_CHECK_LAUNCH("col2im_kernel");
}

// Images per chunk: as many as fit `per_image` floats each in the budget, at least one.
std::int64_t chunk_images(std::int64_t n, std::int64_t per_image) {
  return std::max<std::int64_t>(1, std::min<std::int64_t>(n, kColumnBudget / std::max<std::int64_t>(1, per_image)));
}

void require_geom(const Conv2dGeom& g, const char* kernel) {
  FG_CUDA_REQUIRE(g.n > 0 && g.c > 0 && g.h > 0 && g.w > 0 && g.k > 0 && g.kh > 0 && g.kw > 0 && g.ho > 0 &&
                      g.wo > 0 && g.stride_h > 0 && g.stride_w > 0 && g.dil_h > 0 && g.dil_w > 0 && g.pad_h >= 0 &&
                      g.pad_w >= 0,
                  std::string(kernel) + ": invalid convolution sizes (the engine checks them before dispatch)");
}

}  // namespace

void conv2d_forward(DType dt, const Conv2dGeom& g, const void* x, const void* w, const void* bias, void* y) {
  require_f32(dt, "conv2d_forward");
  require_geom(g, "conv2d_forward");
  const std::int64_t patch = g.patch(), pixels = g.out_pixels();
  const std::int64_t nb_max = chunk_images(g.n, patch * pixels);
  ::fg::cuda::DeviceBuffer col(sizeof(float) * static_cast<std::size_t>(nb_max * patch * pixels));
  const float* xf = static_cast<const float*>(x);
  float* yf = static_cast<float*>(y);
  for (std::int64_t n0 = 0; n0 < g.n; n0 += nb_max) {
    const std::int64_t nb = std::min(nb_max, g.n - n0);
    launch_im2col(g, n0, nb, xf, col.as<float>());
    // y[n0 + b] [K, HO WO] = W [K, C KH KW] col[b] [C KH KW, HO WO]
    gemm(DType::f32, false, false, nb, g.k, pixels, patch, 1.0, w, 0, col.as<float>(), patch * pixels, 0.0,
         yf + n0 * g.k * pixels, g.k * pixels);
  }
  if (bias) {
    const std::int64_t total = g.n * g.k * pixels;
    const cudaStream_t s = ::fg::cuda::current_stream();
    if (grid_stride_int32_ok(total)) {
      add_bias_kernel<int><<<grid_for(total), kThreads, 0, s>>>(static_cast<int>(total), static_cast<int>(pixels),
                                                                static_cast<int>(g.k), static_cast<const float*>(bias),
                                                                yf);
    } else {
      add_bias_kernel<long long><<<grid_for(total), kThreads, 0, s>>>(total, pixels, g.k,
                                                                      static_cast<const float*>(bias), yf);
    }
    CUDA_CHECK_LAUNCH("add_bias_kernel");
  }
}

void conv2d_backward_input(DType dt, const Conv2dGeom& g, const void* gy, const void* w, const void* bias, void* gx) {
  require_f32(dt, "conv2d_backward_input");
  require_geom(g, "conv2d_backward_input");
  const std::int64_t patch = g.patch(), pixels = g.out_pixels();
  const std::int64_t nb_max = chunk_images(g.n, patch * pixels);
  ::fg::cuda::DeviceBuffer col(sizeof(float) * static_cast<std::size_t>(nb_max * patch * pixels));
  const float* gyf = static_cast<const float*>(gy);
  for (std::int64_t n0 = 0; n0 < g.n; n0 += nb_max) {
    const std::int64_t nb = std::min(nb_max, g.n - n0);
    // col[b] [C KH KW, HO WO] = W^T gy[n0 + b]
    gemm(DType::f32, true, false, nb, patch, pixels, g.k, 1.0, w, 0, gyf + n0 * g.k * pixels, g.k * pixels, 0.0,
         col.as<float>(), patch * pixels);
    launch_col2im(g, n0, nb, col.as<float>(), static_cast<const float*>(bias), static_cast<float*>(gx));
  }
}

void conv2d_backward_weight(DType dt, const Conv2dGeom& g, const void* x, const void* gy, void* gw) {
  require_f32(dt, "conv2d_backward_weight");
  require_geom(g, "conv2d_backward_weight");
  const std::int64_t patch = g.patch(), pixels = g.out_pixels(), per = g.k * patch;
  const std::int64_t nb_max = chunk_images(g.n, patch * pixels + per);
  ::fg::cuda::DeviceBuffer col(sizeof(float) * static_cast<std::size_t>(nb_max * patch * pixels));
  ::fg::cuda::DeviceBuffer part(sizeof(float) * static_cast<std::size_t>(nb_max * per));
  const float* gyf = static_cast<const float*>(gy);
  const cudaStream_t s = ::fg::cuda::current_stream();
  for (std::int64_t n0 = 0; n0 < g.n; n0 += nb_max) {
    const std::int64_t nb = std::min(nb_max, g.n - n0);
    launch_im2col(g, n0, nb, static_cast<const float*>(x), col.as<float>());
    // part[b] [K, C KH KW] = gy[n0 + b] [K, HO WO] col[b]^T
    gemm(DType::f32, false, true, nb, g.k, patch, pixels, 1.0, gyf + n0 * g.k * pixels, g.k * pixels, col.as<float>(),
         patch * pixels, 0.0, part.as<float>(), per);
    sum_partials_kernel<<<grid_for(per), kThreads, 0, s>>>(nb, per, n0 > 0, part.as<float>(), static_cast<float*>(gw));
    CUDA_CHECK_LAUNCH("sum_partials_kernel");
  }
}

void conv_bias_grad(DType dt, std::int64_t n, std::int64_t channels, std::int64_t pixels, const void* g, void* gb) {
  require_f32(dt, "conv_bias_grad");
  if (channels <= 0) return;
  const unsigned blocks = static_cast<unsigned>(std::min<std::int64_t>(channels, 65535));
  bias_grad_kernel<<<blocks, kThreads, 0, ::fg::cuda::current_stream()>>>(n, channels, pixels,
                                                                          static_cast<const float*>(g),
                                                                          static_cast<float*>(gb));
  CUDA_CHECK_LAUNCH("bias_grad_kernel");
}

}  // namespace fg::kernels::cuda
