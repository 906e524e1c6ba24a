// kernels/cuda/common.cuh: helpers shared by the CUDA kernel files.
//
// - require_f32 / require_f32_or_i64: the dtype checks (CUDA tensors are float32, plus
//   int64 for indices); a float64 tensor on CUDA gets an error that says what to do.
// - grid_for: grid size for grid-stride loops (enough blocks to fill the device, capped).
// - warp_allreduce / block_allreduce: butterfly reductions of any trivially copyable
//   accumulator with a combine functor. The order of combination is fixed by the launch
//   shape, so results are the same on every run on a given device.
// - IndexT choice: kernels whose index math is div/mod heavy use 32-bit indices when
//   every index fits, 64-bit otherwise. For a grid-stride loop that means the largest
//   index the loop FORMS, (numel - 1) + grid * threads, not just numel
//   (grid_stride_int32_ok; the rule and its test: kernels/cuda/launch_limits.h).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "engine/cuda/check.h"
#include "engine/cuda/runtime.h"
#include "kernels/cuda/launch_limits.h"
#include "kernels/types.h"

namespace fg::kernels::cuda_detail {

constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kThreads = 256;

inline void require_f32(DType dt, const char* kernel) {
  if (dt == DType::f32) return;
  ::fg::cuda::detail::fail(__FILE__, __LINE__,
                           std::string(kernel) + ": CUDA kernels compute in float32, got a " + dtype_name(dt) +
                               " tensor (convert it on the CPU with .to(DType::f32) before moving it to CUDA)");
}

inline void require_f32_or_i64(DType dt, const char* kernel) {
  if (dt == DType::f32 || dt == DType::i64) return;
  ::fg::cuda::detail::fail(__FILE__, __LINE__,
                           std::string(kernel) + ": CUDA tensors are float32 or int64, got a " + dtype_name(dt) +
                               " tensor (convert it on the CPU with .to(DType::f32) before moving it to CUDA)");
}

// Blocks for a grid-stride loop over `work` items with `threads` per block: one block
// per `threads` items, at most 32 blocks per multiprocessor (plenty to hide latency).
inline unsigned grid_for(std::int64_t work, int threads = kThreads) {
  const std::int64_t want = (work + threads - 1) / threads;
  const std::int64_t cap = static_cast<std::int64_t>(::fg::cuda::sm_count()) * 32;
  return static_cast<unsigned>(want < 1 ? 1 : (want < cap ? want : cap));
}

inline bool fits_int32(std::int64_t n) { return n >= 0 && n <= 0x7fffffff; }

// True when a grid-stride loop over `numel` items, launched with grid_for(numel, threads)
// blocks, may count with a 32-bit signed index: i += gridDim.x * blockDim.x must not pass
// INT32_MAX before the loop test stops it.
inline bool grid_stride_int32_ok(std::int64_t numel, int threads = kThreads) {
  return launch::grid_stride_fits_int32(numel, grid_for(numel, threads), threads);
}

// Static shared memory (the kernel's own __shared__ arrays, cudaFuncGetAttributes'
// sharedSizeBytes) of a __global__ function, cached per device. A launch's dynamic shared
// memory must fit beside it: launch::dynamic_smem_limit(block limit, this).
inline std::size_t static_smem_bytes(const void* kernel) {
  static std::mutex mu;
  static std::map<std::pair<int, const void*>, std::size_t> cache;
  const auto key = std::make_pair(::fg::cuda::current_device(), kernel);
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  cudaFuncAttributes attr{};
  CUDA_CHECK(cudaFuncGetAttributes(&attr, kernel));
  cache[key] = attr.sharedSizeBytes;
  return attr.sharedSizeBytes;
}

// The device's per-block shared-memory limit with opt-in
// (cudaDevAttrMaxSharedMemoryPerBlockOptin: 227 KiB on sm_90), cached per device.
inline std::size_t smem_optin_bytes() {
  static std::mutex mu;
  static std::map<int, std::size_t> cache;
  const int device = ::fg::cuda::current_device();
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(device);
  if (it != cache.end()) return it->second;
  int v = 0;
  CUDA_CHECK(cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  cache[device] = static_cast<std::size_t>(v);
  return cache[device];
}

inline bool aligned16(const void* p) { return (reinterpret_cast<std::uintptr_t>(p) & 15u) == 0; }

inline std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// Shuffles any trivially copyable value (a float, a double, a small struct) word by word.
template <class T>
__device__ __forceinline__ T shfl_xor(T v, int lane_mask) {
  static_assert(sizeof(T) % 4 == 0, "shuffled types must be a whole number of 32-bit words");
  constexpr int kWords = sizeof(T) / 4;
  unsigned words[kWords];
  memcpy(words, &v, sizeof(T));
#pragma unroll
  for (int w = 0; w < kWords; ++w) words[w] = __shfl_xor_sync(kFullMask, words[w], lane_mask);
  memcpy(&v, words, sizeof(T));
  return v;
}

// Combines the values of the 32 lanes of a warp; every lane gets the result. Needs all
// 32 lanes active. For a commutative combine every lane holds the same bits.
template <class T, class Combine>
__device__ __forceinline__ T warp_allreduce(T v, Combine combine) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v = combine(v, shfl_xor(v, offset));
  return v;
}

// Combines one value per thread of the block (blockDim.x a multiple of 32, at most 1024);
// every thread gets the result. `identity` fills the unused warp slots. Every thread of
// the block must call it (it synchronizes), and may call it again right away.
template <class T, class Combine>
__device__ T block_allreduce(T v, Combine combine, T identity) {
  __shared__ alignas(16) unsigned char raw[32 * sizeof(T)];
  __shared__ alignas(16) unsigned char raw_result[sizeof(T)];
  T* partial = reinterpret_cast<T*>(raw);
  T* result = reinterpret_cast<T*>(raw_result);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int warps = blockDim.x >> 5;
  v = warp_allreduce(v, combine);
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  if (warp == 0) {
    T w = lane < warps ? partial[lane] : identity;
    w = warp_allreduce(w, combine);
    if (lane == 0) *result = w;
  }
  __syncthreads();
  const T out = *result;
  __syncthreads();  // the next call may overwrite partial/result
  return out;
}

struct SumOp {
  template <class T>
  __device__ __forceinline__ T operator()(T a, T b) const {
    return a + b;
  }
};

// Online log-sum-exp state of a row (softmax, cross entropy): the running maximum m and
// the sum of exp(x - m) over what was seen (in double, so long rows lose nothing to the
// summation), rescaled whenever m grows.
struct MaxSum {
  float m;   // running maximum (-inf: nothing but -inf seen)
  float pad;
  double s;  // sum of exp(x - m)
};

__device__ __forceinline__ MaxSum max_sum_identity() { return MaxSum{-INFINITY, 0.0f, 0.0}; }

__device__ __forceinline__ void max_sum_update(MaxSum& a, float x) {
  if (x == -INFINITY) return;
  if (x > a.m) {
    a.s = a.s * static_cast<double>(expf(a.m - x)) + 1.0;
    a.m = x;
  } else {
    a.s += static_cast<double>(expf(x - a.m));  // a NaN x makes s NaN: the whole row becomes NaN, as on the CPU
  }
}

struct MaxSumCombine {
  __device__ MaxSum operator()(const MaxSum& a, const MaxSum& b) const {
    const float m = a.m > b.m ? a.m : b.m;
    if (m == -INFINITY) return MaxSum{m, 0.0f, a.s + b.s};
    const double sa = a.m == -INFINITY ? a.s : a.s * static_cast<double>(expf(a.m - m));
    const double sb = b.m == -INFINITY ? b.s : b.s * static_cast<double>(expf(b.m - m));
    return MaxSum{m, 0.0f, sa + sb};
  }
};

// log-sum-exp of a row; a row holding +inf gives NaN, as the CPU's exp(inf - inf) does.
__device__ __forceinline__ float max_sum_lse(const MaxSum& a) {
  return a.m == INFINITY ? NAN : static_cast<float>(static_cast<double>(a.m) + log(a.s));
}

// ---------------------------------------------------------------- row groups
// Row kernels give each row to a warp (WARP, for rows of at most 1024 elements) or to a
// whole block (longer rows); row_group() says which rows this thread's group visits.
// Lanes that share one row: a warp (WARP) or the whole block.
struct RowGroup {
  int lanes, lane;
  long long first, step;
};

template <bool WARP>
__device__ __forceinline__ RowGroup row_group() {
  RowGroup g;
  if (WARP) {
    const long long warps = blockDim.x / 32;
    g.lanes = 32;
    g.lane = static_cast<int>(threadIdx.x & 31);
    g.first = static_cast<long long>(blockIdx.x) * warps + threadIdx.x / 32;
    g.step = static_cast<long long>(gridDim.x) * warps;
  } else {
    g.lanes = static_cast<int>(blockDim.x);
    g.lane = static_cast<int>(threadIdx.x);
    g.first = blockIdx.x;
    g.step = gridDim.x;
  }
  return g;
}

template <bool WARP, class T, class Combine>
__device__ __forceinline__ T group_allreduce(T v, Combine combine, T identity) {
  if constexpr (WARP) {
    return warp_allreduce(v, combine);
  } else {
    return block_allreduce(v, combine, identity);
  }
}

// Grid and block for a rows kernel: warps for short rows, blocks for long ones.
struct RowsLaunch {
  bool warp;
  unsigned grid;
  int threads;
};

inline RowsLaunch rows_launch(long long rows, long long n) {
  const long long cap = static_cast<long long>(::fg::cuda::sm_count()) * 32;
  if (n <= 1024) {
    const long long warps = kThreads / 32;
    return RowsLaunch{true, static_cast<unsigned>(std::min<long long>(ceil_div(rows, warps), cap)), kThreads};
  }
  return RowsLaunch{false, static_cast<unsigned>(std::min<long long>(rows, cap)), n <= 8192 ? 256 : 512};
}

// Records `pos` in *bad (an int64 that holds -1 until a bad index is seen), keeping the
// smallest reported position, so the error names the first bad index as on the CPU.
__device__ __forceinline__ void report_bad_position(std::int64_t* bad, std::int64_t pos) {
  if (bad == nullptr) return;
  auto* word = reinterpret_cast<unsigned long long*>(bad);
  long long cur = *reinterpret_cast<volatile long long*>(bad);
  while (cur < 0 || pos < cur) {
    const long long prev = static_cast<long long>(
        atomicCAS(word, static_cast<unsigned long long>(cur), static_cast<unsigned long long>(pos)));
    if (prev == cur) break;
    cur = prev;
  }
}

}  // namespace fg::kernels::cuda_detail
