// kernels/cuda/random.cu: CUDA Philox draws (kernels/random.h): uniform, normal, dropout.
//
// Element i uses philox4x32_10(seed, offset + i), the same host/device function the CPU
// reference calls (kernels/cpu/random.cpp), so the CPU and CUDA streams are identical:
//   uniform (float32): u = (w0 >> 8) 2^-24 is exact; out = lo + (hi - lo) u is computed
//       with __fmul_rn/__fadd_rn so nvcc cannot fuse it into an FMA: the result is
//       bitwise equal to the CPU's float32 result.
//   dropout: the mask tests the same exact float32 uniform against p and the scale
//       1/(1 - p) is computed on the host exactly as the CPU does: mask and output are
//       bitwise equal to the CPU's. Backward (gx = gy * mask) is a plain multiply in the
//       engine.
//   normal: Box-Muller in double (u1 = (w0 + 1) 2^-32, u2 = w1 2^-32, z = sqrt(-2 ln u1)
//       cos(2 pi u2)), then mean + std z rounded to float32, as on the CPU. CUDA's double
//       log/cos/sqrt are within 1-2 ulp of glibc's in double, so the float32 results
//       agree except when the double lands within ~1e-16 (relative) of a float32
//       rounding boundary: then they differ by 1 float32 ulp. Tolerance: |diff| <= 1 ulp
//       of the value (tests/test_cuda_parity.cpp checks <= 2^-22 |v| + 1e-30 and that
//       nearly all elements are bitwise equal).
// Shapes: flat buffers of n elements; float32 only on CUDA.
#include "kernels/cuda/common.cuh"
#include "kernels/random.h"

namespace fg::kernels::cuda {

using namespace cuda_detail;

namespace {

__global__ void uniform_kernel(std::int64_t n, std::uint64_t seed, std::uint64_t offset, float lo, float range,
                               float* out) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const Philox4 r = philox4x32_10(seed, offset + static_cast<std::uint64_t>(i));
    out[i] = __fadd_rn(lo, __fmul_rn(range, philox_uniform_f32(r)));
  }
}

__global__ void normal_kernel(std::int64_t n, std::uint64_t seed, std::uint64_t offset, double mean, double stdev,
                              float* out) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const Philox4 r = philox4x32_10(seed, offset + static_cast<std::uint64_t>(i));
    const double u1 = (static_cast<double>(r.w[0]) + 1.0) * (1.0 / 4294967296.0);  // (0, 1]
    const double u2 = static_cast<double>(r.w[1]) * (1.0 / 4294967296.0);          // [0, 1)
    const double z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
    out[i] = static_cast<float>(__dadd_rn(mean, __dmul_rn(stdev, z)));
  }
}

__global__ void dropout_kernel(std::int64_t n, float p, float scale, std::uint64_t seed, std::uint64_t offset,
                               const float* x, float* y, float* mask) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float u = philox_uniform_f32(philox4x32_10(seed, offset + static_cast<std::uint64_t>(i)));
    const float m = u >= p ? scale : 0.0f;
    mask[i] = m;
    y[i] = __fmul_rn(x[i], m);
  }
}

}  // namespace

void random_uniform(DType dt, std::int64_t n, std::uint64_t seed, std::uint64_t offset, double lo, double hi,
                    void* out) {
  require_f32(dt, "random_uniform");
  if (n <= 0) return;
  // the CPU computes static_cast<float>(lo) + static_cast<float>(hi - lo) * u
  uniform_kernel<<<grid_for(n), kThreads, 0, ::fg::cuda::current_stream()>>>(
      n, seed, offset, static_cast<float>(lo), static_cast<float>(hi - lo), static_cast<float*>(out));
  CUDA_CHECK_LAUNCH("uniform_kernel");
}

void random_normal(DType dt, std::int64_t n, std::uint64_t seed, std::uint64_t offset, double mean, double std,
                   void* out) {
  require_f32(dt, "random_normal");
  if (n <= 0) return;
  normal_kernel<<<grid_for(n), kThreads, 0, ::fg::cuda::current_stream()>>>(n, seed, offset, mean, std,
                                                                            static_cast<float*>(out));
  CUDA_CHECK_LAUNCH("normal_kernel");
}

void dropout_forward(DType dt, std::int64_t n, double p, std::uint64_t seed, std::uint64_t offset, const void* x,
                     void* y, void* mask) {
  require_f32(dt, "dropout_forward");
  if (n <= 0) return;
  const float pf = static_cast<float>(p);
  const float scale = 1.0f / (1.0f - static_cast<float>(p));  // as the CPU: T(1) / (T(1) - T(p))
  dropout_kernel<<<grid_for(n), kThreads, 0, ::fg::cuda::current_stream()>>>(
      n, pf, scale, seed, offset, static_cast<const float*>(x), static_cast<float*>(y), static_cast<float*>(mask));
  CUDA_CHECK_LAUNCH("dropout_kernel");
}

}  // namespace fg::kernels::cuda
