// kernels/cuda/reduce.cu: CUDA reductions along the middle axis of an [outer, n, inner]
// view (kernels/reduce.h): Sum, Mean, Max/Min (value and first index), LogSumExp, Var.
//
// Shapes: x [outer, n, inner] -> out [outer, inner] (+ idx [outer, inner] int64 for
// Max/Min); "over all elements" is the view [1, numel, 1]. Backward: gx [outer, n, inner]
// from gout [outer, inner]:
//   Sum gx = g;  Mean gx = g / n;  Max/Min gx = g at idx, 0 elsewhere;
//   LogSumExp gx = g exp(x - out);  Var gx = g 2 (x - mean) / (n - correction)
// (kernels/reduce.h and kernels/cpu/reduce.cpp have the formulas).
//
// Accumulators, all combined with an associative rule so a reduction can be split:
//   Sum/Mean: a double sum.   Max/Min: (value, index), NaN wins, ties keep the smaller
//   index (so the first extreme wins, as on the CPU).   LogSumExp: online (max m, sum
//   of exp(x - m)) in double.   Var: Welford (count, mean, M2) in double, merged with
//   Chan's formula.
// Paths (inner == 1 means each reduced row is contiguous):
//   * inner == 1, n <= 1024: one warp per row, 8 rows per block.
//   * inner == 1, n > 1024: one block (256 threads) per row, float4 loads when rows are
//     16-byte aligned; when there are few rows and they are long (the all-element sum),
//     each row is split over several blocks that write partial accumulators, and a
//     second kernel combines each row's partials in a fixed order.
//   * inner > 1: one thread per output column walking down n (consecutive threads read
//     consecutive addresses); few columns and a long n split n the same way.
// No atomics anywhere: the result is the same on every run on a given device.
// The backward is one elementwise pass over gx (Var first computes the row means with
// the forward kernels).
#include <algorithm>
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/reduce.h"

namespace fg::kernels::cuda {

using namespace cuda_detail;

namespace {

// ---------------------------------------------------------------- accumulators
template <ReduceOp OP>
struct Traits;

template <bool MEAN>
struct SumTraits {
  using Acc = double;
  __device__ static Acc identity() { return 0.0; }
  __device__ static void update(Acc& a, float x, long long) { a += static_cast<double>(x); }
  __device__ static Acc combine(const Acc& a, const Acc& b) { return a + b; }
  __device__ static void finalize(const Acc& a, long long n, long long, float* out, std::int64_t*) {
    *out = static_cast<float>(MEAN ? a / static_cast<double>(n) : a);
  }
};
template <>
struct Traits<ReduceOp::Sum> : SumTraits<false> {};
template <>
struct Traits<ReduceOp::Mean> : SumTraits<true> {};

struct ArgAcc {
  float v;
  int pad;
  long long i;
};

template <bool MAX>
struct ArgTraits {
  using Acc = ArgAcc;
  __device__ static Acc identity() { return ArgAcc{MAX ? -INFINITY : INFINITY, 0, 0x7fffffffffffffffLL}; }
  __device__ static Acc combine(const Acc& a, const Acc& b) {
    const bool a_nan = isnan(a.v), b_nan = isnan(b.v);
    if (a_nan || b_nan) {
      if (a_nan && b_nan) return a.i < b.i ? a : b;
      return a_nan ? a : b;
    }
    if (a.v == b.v) return a.i < b.i ? a : b;
    if (MAX) return a.v > b.v ? a : b;
    return a.v < b.v ? a : b;
  }
  __device__ static void update(Acc& a, float x, long long j) { a = combine(a, ArgAcc{x, 0, j}); }
  __device__ static void finalize(const Acc& a, long long, long long, float* out, std::int64_t* idx) {
    *out = a.v;
    if (idx) *idx = a.i;
  }
};
template <>
struct Traits<ReduceOp::Max> : ArgTraits<true> {};
template <>
struct Traits<ReduceOp::Min> : ArgTraits<false> {};

struct LseAcc {
  double m;  // running maximum (-inf: nothing seen but -inf or NaN)
  double s;  // sum of exp(x - m)
};

template <>
struct Traits<ReduceOp::LogSumExp> {
  using Acc = LseAcc;
  __device__ static Acc identity() { return LseAcc{-INFINITY, 0.0}; }
  __device__ static void update(Acc& a, float xf, long long) {
    const double x = xf;
    if (x == -INFINITY) return;  // exp(-inf - m) = 0
    if (x > a.m) {
      a.s = a.s * exp(a.m - x) + 1.0;
      a.m = x;
    } else {
      a.s += exp(x - a.m);  // NaN x makes s NaN, as on the CPU
    }
  }
  __device__ static Acc combine(const Acc& a, const Acc& b) {
    const double m = a.m > b.m ? a.m : b.m;
    if (m == -INFINITY) return LseAcc{m, a.s + b.s};  // 0, or NaN carried along
    const double sa = a.m == -INFINITY ? a.s : a.s * exp(a.m - m);
    const double sb = b.m == -INFINITY ? b.s : b.s * exp(b.m - m);
    return LseAcc{m, sa + sb};
  }
  __device__ static void finalize(const Acc& a, long long, long long, float* out, std::int64_t*) {
    *out = static_cast<float>(isinf(a.m) ? a.m : a.m + log(a.s));  // all -inf, or +inf present: m itself
  }
};

struct VarAcc {
  double n;
  double mean;
  double m2;
};

template <>
struct Traits<ReduceOp::Var> {
  using Acc = VarAcc;
  __device__ static Acc identity() { return VarAcc{0.0, 0.0, 0.0}; }
  __device__ static void update(Acc& a, float xf, long long) {
    const double x = xf;
    a.n += 1.0;
    const double d = x - a.mean;
    a.mean += d / a.n;
    a.m2 += d * (x - a.mean);
  }
  __device__ static Acc combine(const Acc& a, const Acc& b) {
    if (a.n == 0.0) return b;
    if (b.n == 0.0) return a;
    const double n = a.n + b.n;
    const double d = b.mean - a.mean;
    return VarAcc{n, a.mean + d * (b.n / n), a.m2 + b.m2 + d * d * (a.n * b.n / n)};
  }
  __device__ static void finalize(const Acc& a, long long n, long long correction, float* out, std::int64_t*) {
    *out = static_cast<float>(a.m2 / static_cast<double>(n - correction));
  }
};

template <class Tr>
struct CombineWith {
  __device__ typename Tr::Acc operator()(const typename Tr::Acc& a, const typename Tr::Acc& b) const {
    return Tr::combine(a, b);
  }
};

// ---------------------------------------------------------------- forward kernels
// Rows are contiguous (inner == 1). Work item = (row, split); WARP: one warp per item,
// else one block per item. vec: rows and chunks start 16-byte aligned.
template <class Tr, bool WARP>
__global__ void reduce_rows_kernel(const float* x, long long rows, long long n, long long splits, long long chunk,
                                   bool vec, typename Tr::Acc* partial, float* out, std::int64_t* idx,
                                   long long correction) {
  using Acc = typename Tr::Acc;
  const int lanes = WARP ? 32 : static_cast<int>(blockDim.x);
  const int lane = WARP ? static_cast<int>(threadIdx.x & 31) : static_cast<int>(threadIdx.x);
  const long long groups = WARP ? blockDim.x / 32 : 1;
  const long long items = rows * splits;
  const long long first = static_cast<long long>(blockIdx.x) * groups + (WARP ? threadIdx.x / 32 : 0);
  for (long long item = first; item < items; item += static_cast<long long>(gridDim.x) * groups) {
    const long long row = item / splits, s = item - row * splits;
    const long long j0 = s * chunk, j1 = min(n, j0 + chunk);
    const float* xr = x + row * n;
    Acc a = Tr::identity();
    if (vec) {
      const long long q1 = j1 / 4;
      for (long long q = j0 / 4 + lane; q < q1; q += lanes) {
        const float4 v = reinterpret_cast<const float4*>(xr)[q];
        Tr::update(a, v.x, 4 * q);
        Tr::update(a, v.y, 4 * q + 1);
        Tr::update(a, v.z, 4 * q + 2);
        Tr::update(a, v.w, 4 * q + 3);
      }
      for (long long j = q1 * 4 + lane; j < j1; j += lanes) Tr::update(a, xr[j], j);
    } else {
      for (long long j = j0 + lane; j < j1; j += lanes) Tr::update(a, xr[j], j);
    }
    if constexpr (WARP) {
      a = warp_allreduce(a, CombineWith<Tr>{});
    } else {
      a = block_allreduce(a, CombineWith<Tr>{}, Tr::identity());
    }
    if (lane == 0) {
      if (splits == 1) {
        Tr::finalize(a, n, correction, out + row, idx ? idx + row : nullptr);
      } else {
        partial[item] = a;
      }
    }
  }
}

// inner > 1: thread per (column, split), walking down n with stride inner.
template <class Tr>
__global__ void reduce_cols_kernel(const float* x, long long outer, long long n, long long inner, long long splits,
                                   long long chunk, typename Tr::Acc* partial, float* out, std::int64_t* idx,
                                   long long correction) {
  using Acc = typename Tr::Acc;
  const long long cols = outer * inner, total = cols * splits;
  const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long t = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += stride) {
    const long long s = t / cols, col = t - s * cols;
    const long long o = col / inner, i = col - o * inner;
    const long long j0 = s * chunk, j1 = min(n, j0 + chunk);
    const float* xc = x + o * n * inner + i;
    Acc a = Tr::identity();
    for (long long j = j0; j < j1; ++j) Tr::update(a, xc[j * inner], j);
    if (splits == 1) {
      Tr::finalize(a, n, correction, out + col, idx ? idx + col : nullptr);
    } else {
      partial[col * splits + s] = a;
    }
  }
}

// Combines each row's partials in split order (deterministic) and writes the result.
template <class Tr>
__global__ void reduce_combine_kernel(const typename Tr::Acc* partial, long long rows, long long splits, long long n,
                                      long long correction, float* out, std::int64_t* idx) {
  const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long r = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; r < rows; r += stride) {
    typename Tr::Acc a = partial[r * splits];
    for (long long s = 1; s < splits; ++s) a = Tr::combine(a, partial[r * splits + s]);
    Tr::finalize(a, n, correction, out + r, idx ? idx + r : nullptr);
  }
}

template <class Tr>
void reduce_launch(AxisView v, std::int64_t correction, const float* x, float* out, std::int64_t* idx) {
  using Acc = typename Tr::Acc;
  const std::int64_t rows = v.outer * v.inner;
  if (rows <= 0) return;
  const std::int64_t n = v.n;
  const std::int64_t sms = ::fg::cuda::sm_count();
  const cudaStream_t stream = ::fg::cuda::current_stream();
  std::int64_t splits = 1, chunk = n;
  if (v.inner == 1) {
    if (rows < 2 * sms && n > 16384) {
      splits = std::min(ceil_div(4 * sms, rows), ceil_div(n, 8192));
      chunk = (ceil_div(n, splits) + 3) / 4 * 4;  // chunks start 16-byte aligned
      splits = ceil_div(n, chunk);
    }
    const bool vec = aligned16(x) && n % 4 == 0;
    ::fg::cuda::DeviceBuffer partial(splits > 1 ? static_cast<std::size_t>(rows * splits) * sizeof(Acc) : 0);
    if (splits == 1 && n <= 1024) {
      constexpr int kWarpsPerBlock = kThreads / 32;
      const unsigned grid = static_cast<unsigned>(std::min(ceil_div(rows, kWarpsPerBlock), sms * 32));
      reduce_rows_kernel<Tr, true><<<grid, kThreads, 0, stream>>>(x, rows, n, 1, std::max<std::int64_t>(chunk, 1), vec, nullptr,
                                                                 out, idx, correction);
      CUDA_CHECK_LAUNCH("reduce_rows_kernel (warp per row)");
    } else {
      const unsigned grid = static_cast<unsigned>(std::min(rows * splits, sms * 32));
      reduce_rows_kernel<Tr, false><<<grid, kThreads, 0, stream>>>(x, rows, n, splits, chunk, vec, partial.as<Acc>(),
                                                                  out, idx, correction);
      CUDA_CHECK_LAUNCH("reduce_rows_kernel (block per row)");
    }
    if (splits > 1) {
      reduce_combine_kernel<Tr><<<grid_for(rows), kThreads, 0, stream>>>(partial.as<Acc>(), rows, splits, n,
                                                                         correction, out, idx);
      CUDA_CHECK_LAUNCH("reduce_combine_kernel");
    }
    return;
  }
  const std::int64_t target_threads = sms * 1024;
  if (rows < target_threads / 4 && n > 64) {
    splits = std::min(ceil_div(target_threads, rows), ceil_div(n, 32));
    chunk = ceil_div(n, splits);
    splits = ceil_div(n, chunk);
  }
  ::fg::cuda::DeviceBuffer partial(splits > 1 ? static_cast<std::size_t>(rows * splits) * sizeof(Acc) : 0);
  reduce_cols_kernel<Tr><<<grid_for(rows * splits), kThreads, 0, stream>>>(x, v.outer, n, v.inner, splits, chunk,
                                                                           partial.as<Acc>(), out, idx, correction);
  CUDA_CHECK_LAUNCH("reduce_cols_kernel");
  if (splits > 1) {
    reduce_combine_kernel<Tr><<<grid_for(rows), kThreads, 0, stream>>>(partial.as<Acc>(), rows, splits, n, correction,
                                                                       out, idx);
    CUDA_CHECK_LAUNCH("reduce_combine_kernel");
  }
}

// ---------------------------------------------------------------- backward
template <class I>
__global__ void reduce_backward_kernel(ReduceOp op, I n, I inner, I total, float count, float var_denominator,
                                       const float* x, const float* out, const std::int64_t* idx, const float* gout,
                                       const float* mean, float* gx) {
  const I stride = static_cast<I>(gridDim.x) * blockDim.x;
  const I row_len = n * inner;
  for (I p = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; p < total; p += stride) {
    const I o = p / row_len;
    const I rem = p - o * row_len;
    const I j = rem / inner;
    const I i = rem - j * inner;
    const I r = o * inner + i;
    const float g = gout[r];
    float d = 0.0f;
    switch (op) {
      case ReduceOp::Sum: d = g; break;
      case ReduceOp::Mean: d = g / count; break;
      case ReduceOp::Max:
      case ReduceOp::Min: d = static_cast<long long>(j) == idx[r] ? g : 0.0f; break;
      case ReduceOp::LogSumExp: d = g * expf(x[p] - out[r]); break;
      case ReduceOp::Var: d = g * 2.0f * (x[p] - mean[r]) / var_denominator; break;
    }
    gx[p] = d;
  }
}

template <class F>
void with_reduce_traits(ReduceOp op, F&& f) {
  switch (op) {
    case ReduceOp::Sum: f(Traits<ReduceOp::Sum>{}); return;
    case ReduceOp::Mean: f(Traits<ReduceOp::Mean>{}); return;
    case ReduceOp::Max: f(Traits<ReduceOp::Max>{}); return;
    case ReduceOp::Min: f(Traits<ReduceOp::Min>{}); return;
    case ReduceOp::LogSumExp: f(Traits<ReduceOp::LogSumExp>{}); return;
    case ReduceOp::Var: f(Traits<ReduceOp::Var>{}); return;
  }
  ::fg::cuda::detail::fail(__FILE__, __LINE__, "reduce: unknown ReduceOp " + std::to_string(static_cast<int>(op)));
}

}  // namespace

void reduce_forward(ReduceOp op, DType dt, AxisView v, std::int64_t correction, const void* x, void* out,
                    std::int64_t* idx) {
  require_f32(dt, "reduce_forward");
  with_reduce_traits(op, [&](auto traits) {
    reduce_launch<decltype(traits)>(v, correction, static_cast<const float*>(x), static_cast<float*>(out),
                                    idx);
  });
}

void reduce_backward(ReduceOp op, DType dt, AxisView v, std::int64_t correction, const void* x, const void* out,
                     const std::int64_t* idx, const void* gout, void* gx) {
  require_f32(dt, "reduce_backward");
  const std::int64_t total = v.outer * v.n * v.inner;
  if (total <= 0) return;
  FG_CUDA_REQUIRE((op != ReduceOp::Max && op != ReduceOp::Min) || idx != nullptr,
                  "reduce_backward: Max/Min need the indices saved by the forward");
  const auto* xf = static_cast<const float*>(x);
  ::fg::cuda::DeviceBuffer mean;
  if (op == ReduceOp::Var) {
    mean = ::fg::cuda::DeviceBuffer(static_cast<std::size_t>(v.outer * v.inner) * sizeof(float));
    reduce_launch<Traits<ReduceOp::Mean>>(v, 0, xf, mean.as<float>(), nullptr);
  }
  const float count = static_cast<float>(v.n);
  const float var_denominator = static_cast<float>(v.n - correction);
  const cudaStream_t s = ::fg::cuda::current_stream();
  const auto* of = static_cast<const float*>(out);
  const std::int64_t* ip = idx;
  const auto* gf = static_cast<const float*>(gout);
  auto* gxf = static_cast<float*>(gx);
  if (grid_stride_int32_ok(total)) {
    reduce_backward_kernel<int><<<grid_for(total), kThreads, 0, s>>>(
        op, static_cast<int>(v.n), static_cast<int>(v.inner), static_cast<int>(total), count, var_denominator, xf, of,
        ip, gf, mean.as<float>(), gxf);
  } else {
    reduce_backward_kernel<long long><<<grid_for(total), kThreads, 0, s>>>(
        op, v.n, v.inner, total, count, var_denominator, xf, of, ip, gf, mean.as<float>(), gxf);
  }
  CUDA_CHECK_LAUNCH("reduce_backward_kernel");
}

}  // namespace fg::kernels::cuda
