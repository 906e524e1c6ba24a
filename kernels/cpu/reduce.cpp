// kernels/cpu/reduce.cpp: CPU reference for the reductions of kernels/reduce.h.
// Sums accumulate in double whatever the dtype, so this is the accurate baseline.
#include <cmath>
#include <limits>

#include "kernels/cpu/cpu_util.h"
#include "kernels/cpu/fast/fast_f32.h"
#include "kernels/reduce.h"

namespace fg::kernels::cpu {

using cpu_detail::dispatch_float;

namespace {

template <class T>
void reduce_row(ReduceOp op, const T* x, std::int64_t n, std::int64_t stride, std::int64_t correction, T& out,
                std::int64_t* idx) {
  switch (op) {
    case ReduceOp::Sum:
    case ReduceOp::Mean: {
      double acc = 0;
      for (std::int64_t j = 0; j < n; ++j) acc += x[j * stride];
      out = static_cast<T>(op == ReduceOp::Mean ? acc / static_cast<double>(n) : acc);
      return;
    }
    case ReduceOp::Max:
    case ReduceOp::Min: {
      std::int64_t best = 0;
      for (std::int64_t j = 1; j < n; ++j) {
        const T v = x[j * stride], b = x[best * stride];
        // NaN propagates: a NaN is taken as the extreme and kept
        if (std::isnan(b)) break;
        if (std::isnan(v) || (op == ReduceOp::Max ? v > b : v < b)) best = j;
      }
      out = x[best * stride];
      if (idx) *idx = best;
      return;
    }
    case ReduceOp::LogSumExp: {
      double m = -std::numeric_limits<double>::infinity();
      for (std::int64_t j = 0; j < n; ++j) m = std::max(m, static_cast<double>(x[j * stride]));
      if (std::isinf(m)) {  // all -inf (or +inf present): the answer is m itself
        out = static_cast<T>(m);
        return;
      }
      double acc = 0;
      for (std::int64_t j = 0; j < n; ++j) acc += std::exp(static_cast<double>(x[j * stride]) - m);
      out = static_cast<T>(m + std::log(acc));
      return;
    }
    case ReduceOp::Var: {
      double mean = 0;
      for (std::int64_t j = 0; j < n; ++j) mean += x[j * stride];
      mean /= static_cast<double>(n);
      double acc = 0;
      for (std::int64_t j = 0; j < n; ++j) {
        const double d = x[j * stride] - mean;
        acc += d * d;
      }
      out = static_cast<T>(acc / static_cast<double>(n - correction));
      return;
    }
  }
}

}  // namespace

void reduce_forward(ReduceOp op, DType dt, AxisView v, std::int64_t correction, const void* x, void* out,
                    std::int64_t* idx) {
  // float32 sums and means: the vectorised kernels of kernels/cpu/fast/ (also double accumulation)
  if (dt == DType::f32 && (op == ReduceOp::Sum || op == ReduceOp::Mean) &&
      fast::reduce_sum(op == ReduceOp::Mean, v, static_cast<const float*>(x), static_cast<float*>(out)))
    return;
  dispatch_float(dt, "reduce_forward", [&](auto tag) {
    using T = decltype(tag);
    const T* xs = static_cast<const T*>(x);
    T* os = static_cast<T*>(out);
    for (std::int64_t o = 0; o < v.outer; ++o)
      for (std::int64_t i = 0; i < v.inner; ++i) {
        const std::int64_t r = o * v.inner + i;
        reduce_row<T>(op, xs + o * v.n * v.inner + i, v.n, v.inner, correction, os[r], idx ? idx + r : nullptr);
      }
  });
}

void reduce_backward(ReduceOp op, DType dt, AxisView v, std::int64_t correction, const void* x, const void* out,
                     const std::int64_t* idx, const void* gout, void* gx) {
  if (dt == DType::f32 && (op == ReduceOp::Sum || op == ReduceOp::Mean) &&
      fast::reduce_sum_backward(op == ReduceOp::Mean, v, static_cast<const float*>(gout), static_cast<float*>(gx)))
    return;
  dispatch_float(dt, "reduce_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* xs = static_cast<const T*>(x);
    const T* os = static_cast<const T*>(out);
    const T* gs = static_cast<const T*>(gout);
    T* gxs = static_cast<T*>(gx);
    for (std::int64_t o = 0; o < v.outer; ++o)
      for (std::int64_t i = 0; i < v.inner; ++i) {
        const std::int64_t r = o * v.inner + i;
        const T* xr = xs + o * v.n * v.inner + i;
        T* gr = gxs + o * v.n * v.inner + i;
        const T g = gs[r];
        double mean = 0;
        if (op == ReduceOp::Var) {
          for (std::int64_t j = 0; j < v.n; ++j) mean += xr[j * v.inner];
          mean /= static_cast<double>(v.n);
        }
        for (std::int64_t j = 0; j < v.n; ++j) {
          T d = T(0);
          switch (op) {
            case ReduceOp::Sum: d = g; break;
            case ReduceOp::Mean: d = g / static_cast<T>(v.n); break;
            case ReduceOp::Max:
            case ReduceOp::Min: d = j == idx[r] ? g : T(0); break;
            case ReduceOp::LogSumExp: d = g * std::exp(xr[j * v.inner] - os[r]); break;
            case ReduceOp::Var:
              d = static_cast<T>(g * 2.0 * (xr[j * v.inner] - mean) / static_cast<double>(v.n - correction));
              break;
          }
          gr[j * v.inner] = d;
        }
      }
  });
}

}  // namespace fg::kernels::cpu
