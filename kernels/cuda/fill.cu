// kernels/cuda/fill.cu: CUDA fill_value, fill_arange and cast (kernels/fill.h).
//
//   fill_value:  out[i] = v          (float32 or int64)
//   fill_arange: out[i] = i          (float32 or int64)
//   cast:        dst[i] = (D) src[i] between float32 and int64 (float -> int truncates
//                toward zero, as static_cast on the CPU; kernels/cpu/fill.cpp)
// No backward: the engine differentiates to(dtype) by casting the gradient back.
// Shapes: flat buffers of n elements. float64 on CUDA is rejected with a clear error.
#include "kernels/cuda/common.cuh"
#include "kernels/fill.h"

namespace fg::kernels::cuda {

using namespace cuda_detail;

namespace {

template <class T>
__global__ void fill_value_kernel(std::int64_t n, T v, T* out) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    out[i] = v;
}

template <class T>
__global__ void fill_arange_kernel(std::int64_t n, T* out) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    out[i] = static_cast<T>(i);
}

template <class S, class D>
__global__ void cast_kernel(std::int64_t n, const S* src, D* dst) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    dst[i] = static_cast<D>(src[i]);
}

}  // namespace

void fill_value(DType dt, std::int64_t n, double value, void* out) {
  require_f32_or_i64(dt, "fill_value");
  if (n <= 0) return;
  const cudaStream_t s = ::fg::cuda::current_stream();
  if (dt == DType::f32) {
    fill_value_kernel<float><<<grid_for(n), kThreads, 0, s>>>(n, static_cast<float>(value), static_cast<float*>(out));
  } else {
    fill_value_kernel<long long><<<grid_for(n), kThreads, 0, s>>>(n, static_cast<long long>(value),
                                                                    static_cast<long long*>(out));
  }
  CUDA_CHECK_LAUNCH("fill_value_kernel");
}

void fill_arange(DType dt, std::int64_t n, void* out) {
  require_f32_or_i64(dt, "fill_arange");
  if (n <= 0) return;
  const cudaStream_t s = ::fg::cuda::current_stream();
  if (dt == DType::f32) {
    fill_arange_kernel<float><<<grid_for(n), kThreads, 0, s>>>(n, static_cast<float*>(out));
  } else {
    fill_arange_kernel<long long><<<grid_for(n), kThreads, 0, s>>>(n, static_cast<long long*>(out));
  }
  CUDA_CHECK_LAUNCH("fill_arange_kernel");
}

void cast(DType src_dt, const void* src, DType dst_dt, void* dst, std::int64_t n) {
  require_f32_or_i64(src_dt, "cast (source)");
  require_f32_or_i64(dst_dt, "cast (destination)");
  if (n <= 0) return;
  const cudaStream_t s = ::fg::cuda::current_stream();
  if (src_dt == dst_dt) {
    CUDA_CHECK(cudaMemcpyAsync(dst, src, static_cast<std::size_t>(n) * dtype_size(src_dt), cudaMemcpyDeviceToDevice, s));
    return;
  }
  if (src_dt == DType::f32) {
    cast_kernel<float, long long><<<grid_for(n), kThreads, 0, s>>>(n, static_cast<const float*>(src),
                                                                    static_cast<long long*>(dst));
  } else {
    cast_kernel<long long, float><<<grid_for(n), kThreads, 0, s>>>(n, static_cast<const long long*>(src),
                                                                    static_cast<float*>(dst));
  }
  CUDA_CHECK_LAUNCH("cast_kernel");
}

}  // namespace fg::kernels::cuda
