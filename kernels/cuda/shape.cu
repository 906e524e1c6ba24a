// kernels/cuda/shape.cu: CUDA data movement (kernels/shape.h): permute, axis copy
// (concat/slice and their backwards), index_select / index_add, gather / scatter_add.
//
//   permute_copy:  y[i] = x[plan offset of i]
//   axis_copy:     dst[o, dst_start + j, i] = src[o, src_start + j, i], j < len
//   index_select:  y[o, j, i] = x[o, idx[j], i]              backward: index_add
//   index_add:     gx[o, idx[j], i] += gy[o, j, i]
//   gather:        y[o, j, i] = x[o, idx[o, j, i], i]         backward: scatter_add
//   scatter_add:   out[o, idx[o, j, i], i] += src[o, j, i]    backward: gather
// (views [outer, n, inner] as in kernels/cpu/shape.cpp). The copy kernels move 4- or
// 8-byte words, so float32 and int64 tensors use the same code; float64 is rejected.
//
// Bad indices: a thread that meets an index outside [0, n) records its position with
// report_bad_position (the smallest position wins, like the CPU's first) and reads or
// writes nothing for it; the engine reads the flag back and throws.
//
// Accumulation (index_add, scatter_add): by default one float atomicAdd per source
// element: fast, but the order of additions, and so the rounding, varies from run to
// run. With fg::cuda::set_deterministic(true): every source element p gets the key
// dest(p) (its flat destination index); a stable radix sort (CUB) of (key, p) groups
// the contributions of each destination in increasing p; one thread per destination
// then adds them in that order and writes out[dest] += sum. The additions happen in the
// same order as the CPU loop, so the result is bitwise repeatable, and bitwise equal
// to the CPU float32 kernel when out starts at zero (as the engine does).
#include <cub/cub.cuh>

#include <bit>

#include "engine/cuda/cuda_api.h"
#include "kernels/cuda/common.cuh"
#include "kernels/shape.h"

namespace fg::kernels::cuda {

using namespace cuda_detail;

namespace {

// ---------------------------------------------------------------- permute and axis copy
template <class U, class I>
__global__ void permute_kernel(PermutePlan plan, I numel, const U* x, U* y) {
  const I stride = static_cast<I>(gridDim.x) * blockDim.x;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < numel; i += stride) {
    I rest = i, off = 0;
    for (int d = plan.ndim - 1; d >= 1; --d) {
      const I size = static_cast<I>(plan.out_shape[d]);
      const I q = rest / size;
      off += (rest - q * size) * static_cast<I>(plan.in_stride[d]);
      rest = q;
    }
    off += rest * static_cast<I>(plan.in_stride[0]);
    y[i] = x[off];
  }
}

template <class U, class I>
__global__ void axis_copy_kernel(I total, I block_len, const U* src, I src_row, I src_first, U* dst, I dst_row,
                                 I dst_first) {
  // block_len = len * inner elements per outer index; *_row = n * inner; *_first = start * inner
  const I stride = static_cast<I>(gridDim.x) * blockDim.x;
  for (I p = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; p < total; p += stride) {
    const I o = p / block_len;
    const I q = p - o * block_len;
    dst[o * dst_row + dst_first + q] = src[o * src_row + src_first + q];
  }
}

// Calls f(U{}) with an unsigned word of the dtype's width.
template <class F>
void with_word(DType dt, F&& f) {
  if (dtype_size(dt) == 4) {
    f(std::uint32_t{});
  } else {
    f(std::uint64_t{});
  }
}

// ---------------------------------------------------------------- index kernels
template <class U>
__global__ void index_select_kernel(long long outer, long long n, long long inner, const U* x,
                                    const std::int64_t* idx, long long m, U* y, std::int64_t* bad) {
  const long long total = outer * m * inner;
  const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long p = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; p < total; p += stride) {
    const long long o = p / (m * inner);
    const long long rem = p - o * m * inner;
    const long long j = rem / inner;
    const long long i = rem - j * inner;
    const long long s = idx[j];
    if (s < 0 || s >= n) {
      report_bad_position(bad, j);
      continue;
    }
    y[p] = x[(o * n + s) * inner + i];
  }
}

template <class U>
__global__ void gather_kernel(long long outer, long long n, long long inner, const U* x, const std::int64_t* idx,
                              long long m, U* y, std::int64_t* bad) {
  const long long total = outer * m * inner;
  const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long p = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; p < total; p += stride) {
    const long long o = p / (m * inner);
    const long long i = p % inner;
    const long long s = idx[p];
    if (s < 0 || s >= n) {
      report_bad_position(bad, p);
      continue;
    }
    y[p] = x[(o * n + s) * inner + i];
  }
}

// Destination of source element p: idx is per element (gather/scatter) or per j (index_add).
struct ScatterShape {
  long long outer, n, inner, m;
  bool per_element;
};

__device__ __forceinline__ long long scatter_target(const ScatterShape& sh, const std::int64_t* idx, long long p,
                                                    long long& position) {
  const long long o = p / (sh.m * sh.inner);
  const long long rem = p - o * sh.m * sh.inner;
  const long long j = rem / sh.inner;
  const long long i = rem - j * sh.inner;
  position = sh.per_element ? p : j;
  const long long s = idx[position];
  if (s < 0 || s >= sh.n) return -1;
  return (o * sh.n + s) * sh.inner + i;
}

__global__ void scatter_add_atomic_kernel(ScatterShape sh, const float* src, const std::int64_t* idx, float* out,
                                          std::int64_t* bad) {
  const long long total = sh.outer * sh.m * sh.inner;
  const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long p = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; p < total; p += stride) {
    long long position = 0;
    const long long d = scatter_target(sh, idx, p, position);
    if (d < 0) {
      report_bad_position(bad, position);
      continue;
    }
    atomicAdd(out + d, src[p]);
  }
}

// keys[p] = destination of p (or dest_total for a bad index, sorting it last), vals[p] = p.
__global__ void scatter_keys_kernel(ScatterShape sh, const std::int64_t* idx, unsigned dest_total, unsigned* keys,
                                    unsigned* vals, std::int64_t* bad) {
  const long long total = sh.outer * sh.m * sh.inner;
  const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long p = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; p < total; p += stride) {
    long long position = 0;
    const long long d = scatter_target(sh, idx, p, position);
    if (d < 0) report_bad_position(bad, position);
    keys[p] = d < 0 ? dest_total : static_cast<unsigned>(d);
    vals[p] = static_cast<unsigned>(p);
  }
}

// One thread per run of equal keys: sums the run's sources in order and adds the sum.
__global__ void scatter_segments_kernel(long long total, unsigned dest_total, const unsigned* keys,
                                        const unsigned* vals, const float* src, float* out) {
  const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long q = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; q < total; q += stride) {
    const unsigned key = keys[q];
    if (key >= dest_total || (q > 0 && keys[q - 1] == key)) continue;
    float sum = 0.0f;
    for (long long r = q; r < total && keys[r] == key; ++r) sum += src[vals[r]];
    out[key] += sum;
  }
}

void scatter_add_launch(const ScatterShape& sh, const float* src, const std::int64_t* idx, float* out,
                        std::int64_t* bad) {
  const long long total = sh.outer * sh.m * sh.inner;
  if (total <= 0) return;
  const cudaStream_t s = ::fg::cuda::current_stream();
  if (!::fg::cuda::deterministic()) {
    scatter_add_atomic_kernel<<<grid_for(total), kThreads, 0, s>>>(sh, src, idx, out, bad);
    CUDA_CHECK_LAUNCH("scatter_add_atomic_kernel");
    return;
  }
  const long long dest_total = sh.outer * sh.n * sh.inner;
  FG_CUDA_REQUIRE(total <= 0x7fffffffLL && dest_total < 0xffffffffLL,
                  "scatter_add/index_add in deterministic mode handle at most 2^31 - 1 sources and 2^32 - 1 "
                  "destinations, got " + std::to_string(total) + " and " + std::to_string(dest_total) +
                      " (turn deterministic mode off with fg::cuda::set_deterministic(false))");
  const int n_items = static_cast<int>(total);
  const unsigned dest_u = static_cast<unsigned>(dest_total);
  const int end_bit = std::max(1, static_cast<int>(std::bit_width(dest_u)));  // keys are <= dest_total
  ::fg::cuda::DeviceBuffer keys(static_cast<std::size_t>(total) * sizeof(unsigned));
  ::fg::cuda::DeviceBuffer vals(static_cast<std::size_t>(total) * sizeof(unsigned));
  ::fg::cuda::DeviceBuffer keys_sorted(static_cast<std::size_t>(total) * sizeof(unsigned));
  ::fg::cuda::DeviceBuffer vals_sorted(static_cast<std::size_t>(total) * sizeof(unsigned));
  scatter_keys_kernel<<<grid_for(total), kThreads, 0, s>>>(sh, idx, dest_u, keys.as<unsigned>(), vals.as<unsigned>(),
                                                           bad);
  CUDA_CHECK_LAUNCH("scatter_keys_kernel");
  std::size_t temp_bytes = 0;
  CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, keys.as<unsigned>(), keys_sorted.as<unsigned>(),
                                             vals.as<unsigned>(), vals_sorted.as<unsigned>(), n_items, 0, end_bit, s));
  ::fg::cuda::DeviceBuffer temp(std::max<std::size_t>(temp_bytes, 1));
  CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp.data(), temp_bytes, keys.as<unsigned>(), keys_sorted.as<unsigned>(),
                                             vals.as<unsigned>(), vals_sorted.as<unsigned>(), n_items, 0, end_bit, s));
  scatter_segments_kernel<<<grid_for(total), kThreads, 0, s>>>(total, dest_u, keys_sorted.as<unsigned>(),
                                                               vals_sorted.as<unsigned>(), src, out);
  CUDA_CHECK_LAUNCH("scatter_segments_kernel");
}

}  // namespace

void permute_copy(DType dt, const PermutePlan& plan, const void* x, void* y) {
  require_f32_or_i64(dt, "permute_copy");
  if (plan.numel <= 0) return;
  const cudaStream_t s = ::fg::cuda::current_stream();
  with_word(dt, [&](auto word) {
    using U = decltype(word);
    if (grid_stride_int32_ok(plan.numel)) {
      permute_kernel<U, int><<<grid_for(plan.numel), kThreads, 0, s>>>(plan, static_cast<int>(plan.numel),
                                                                       static_cast<const U*>(x), static_cast<U*>(y));
    } else {
      permute_kernel<U, long long><<<grid_for(plan.numel), kThreads, 0, s>>>(plan, plan.numel, static_cast<const U*>(x),
                                                                             static_cast<U*>(y));
    }
    CUDA_CHECK_LAUNCH("permute_kernel");
  });
}

void axis_copy(DType dt, std::int64_t outer, std::int64_t inner, const void* src, std::int64_t src_n,
               std::int64_t src_start, void* dst, std::int64_t dst_n, std::int64_t dst_start, std::int64_t len) {
  require_f32_or_i64(dt, "axis_copy");
  const std::int64_t block_len = len * inner, total = outer * block_len;
  if (total <= 0) return;
  const cudaStream_t s = ::fg::cuda::current_stream();
  with_word(dt, [&](auto word) {
    using U = decltype(word);
    const auto* sp = static_cast<const U*>(src);
    auto* dp = static_cast<U*>(dst);
    if (outer == 1) {  // one contiguous block
      CUDA_CHECK(cudaMemcpyAsync(dp + dst_start * inner, sp + src_start * inner,
                                 static_cast<std::size_t>(block_len) * sizeof(U), cudaMemcpyDeviceToDevice, s));
      return;
    }
    const std::int64_t largest = std::max(outer * src_n * inner, outer * dst_n * inner);
    if (fits_int32(largest) && grid_stride_int32_ok(total)) {
      axis_copy_kernel<U, int><<<grid_for(total), kThreads, 0, s>>>(
          static_cast<int>(total), static_cast<int>(block_len), sp, static_cast<int>(src_n * inner),
          static_cast<int>(src_start * inner), dp, static_cast<int>(dst_n * inner), static_cast<int>(dst_start * inner));
    } else {
      axis_copy_kernel<U, long long><<<grid_for(total), kThreads, 0, s>>>(total, block_len, sp, src_n * inner,
                                                                          src_start * inner, dp, dst_n * inner,
                                                                          dst_start * inner);
    }
    CUDA_CHECK_LAUNCH("axis_copy_kernel");
  });
}

void index_select_forward(DType dt, AxisView v, const void* x, const std::int64_t* idx, std::int64_t m, void* y,
                          std::int64_t* bad_position) {
  require_f32_or_i64(dt, "index_select_forward");
  const std::int64_t total = v.outer * m * v.inner;
  if (total <= 0) return;
  const cudaStream_t s = ::fg::cuda::current_stream();
  with_word(dt, [&](auto word) {
    using U = decltype(word);
    index_select_kernel<U><<<grid_for(total), kThreads, 0, s>>>(v.outer, v.n, v.inner, static_cast<const U*>(x), idx,
                                                                m, static_cast<U*>(y), bad_position);
    CUDA_CHECK_LAUNCH("index_select_kernel");
  });
}

void index_add(DType dt, AxisView v, const void* gy, const std::int64_t* idx, std::int64_t m, void* gx) {
  require_f32(dt, "index_add");
  // indices were checked by the forward; a bad one is skipped here, never written through
  scatter_add_launch(ScatterShape{v.outer, v.n, v.inner, m, false}, static_cast<const float*>(gy), idx,
                     static_cast<float*>(gx), nullptr);
}

void gather_forward(DType dt, AxisView v, const void* x, const std::int64_t* idx, std::int64_t m, void* y,
                    std::int64_t* bad_position) {
  require_f32_or_i64(dt, "gather_forward");
  const std::int64_t total = v.outer * m * v.inner;
  if (total <= 0) return;
  const cudaStream_t s = ::fg::cuda::current_stream();
  with_word(dt, [&](auto word) {
    using U = decltype(word);
    gather_kernel<U><<<grid_for(total), kThreads, 0, s>>>(v.outer, v.n, v.inner, static_cast<const U*>(x), idx, m,
                                                          static_cast<U*>(y), bad_position);
    CUDA_CHECK_LAUNCH("gather_kernel");
  });
}

void scatter_add_forward(DType dt, AxisView v, const void* src, const std::int64_t* idx, std::int64_t m, void* out,
                         std::int64_t* bad_position) {
  require_f32(dt, "scatter_add_forward");
  scatter_add_launch(ScatterShape{v.outer, v.n, v.inner, m, true}, static_cast<const float*>(src), idx,
                     static_cast<float*>(out), bad_position);
}

}  // namespace fg::kernels::cuda
