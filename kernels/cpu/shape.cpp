// kernels/cpu/shape.cpp: CPU reference for the data-movement kernels of kernels/shape.h.
// Element moves are done by element size (4 or 8 bytes), so every dtype works.
#include <cstring>

#include "kernels/cpu/cpu_util.h"
#include "kernels/cpu/fast/fast_f32.h"
#include "kernels/shape.h"

namespace fg::kernels::cpu {

using cpu_detail::dispatch_float;

namespace {

// Calls f(U{}) with an unsigned integer type of the dtype's width: moving bits
// needs no arithmetic, so one instantiation per width covers all dtypes.
template <class F>
void dispatch_width(DType dt, F&& f) {
  if (dtype_size(dt) == 4) {
    f(std::uint32_t{});
  } else {
    f(std::uint64_t{});
  }
}

}  // namespace

void permute_copy(DType dt, const PermutePlan& plan, const void* x, void* y) {
  // float32 with the last axis kept in place: contiguous runs (kernels/cpu/fast/)
  if (dt == DType::f32 && fast::permute_copy(plan, static_cast<const float*>(x), static_cast<float*>(y))) return;
  dispatch_width(dt, [&](auto tag) {
    using U = decltype(tag);
    const U* xs = static_cast<const U*>(x);
    U* ys = static_cast<U*>(y);
    std::int64_t idx[kMaxDims] = {};
    std::int64_t off = 0;
    for (std::int64_t i = 0; i < plan.numel; ++i) {
      ys[i] = xs[off];
      for (int d = plan.ndim - 1; d >= 0; --d) {
        ++idx[d];
        off += plan.in_stride[d];
        if (idx[d] < plan.out_shape[d]) break;
        off -= plan.in_stride[d] * plan.out_shape[d];
        idx[d] = 0;
      }
    }
  });
}

void axis_copy(DType dt, std::int64_t outer, std::int64_t inner, const void* src, std::int64_t src_n,
               std::int64_t src_start, void* dst, std::int64_t dst_n, std::int64_t dst_start, std::int64_t len) {
  const std::size_t es = dtype_size(dt);
  const char* s = static_cast<const char*>(src);
  char* d = static_cast<char*>(dst);
  const std::size_t block = static_cast<std::size_t>(len * inner) * es;
  for (std::int64_t o = 0; o < outer; ++o) {
    std::memcpy(d + static_cast<std::size_t>((o * dst_n + dst_start) * inner) * es,
                s + static_cast<std::size_t>((o * src_n + src_start) * inner) * es, block);
  }
}

void index_select_forward(DType dt, AxisView v, const void* x, const std::int64_t* idx, std::int64_t m, void* y,
                          std::int64_t* bad_position) {
  for (std::int64_t j = 0; j < m; ++j) {
    if (idx[j] < 0 || idx[j] >= v.n) {
      *bad_position = j;
      return;
    }
  }
  dispatch_width(dt, [&](auto tag) {
    using U = decltype(tag);
    const U* xs = static_cast<const U*>(x);
    U* ys = static_cast<U*>(y);
    for (std::int64_t o = 0; o < v.outer; ++o)
      for (std::int64_t j = 0; j < m; ++j)
        std::memcpy(ys + (o * m + j) * v.inner, xs + (o * v.n + idx[j]) * v.inner,
                    static_cast<std::size_t>(v.inner) * sizeof(U));
  });
}

void index_add(DType dt, AxisView v, const void* gy, const std::int64_t* idx, std::int64_t m, void* gx) {
  dispatch_float(dt, "index_add", [&](auto tag) {
    using T = decltype(tag);
    const T* gys = static_cast<const T*>(gy);
    T* gxs = static_cast<T*>(gx);
    for (std::int64_t o = 0; o < v.outer; ++o)
      for (std::int64_t j = 0; j < m; ++j)
        for (std::int64_t i = 0; i < v.inner; ++i)
          gxs[(o * v.n + idx[j]) * v.inner + i] += gys[(o * m + j) * v.inner + i];
  });
}

void gather_forward(DType dt, AxisView v, const void* x, const std::int64_t* idx, std::int64_t m, void* y,
                    std::int64_t* bad_position) {
  const std::int64_t total = v.outer * m * v.inner;
  for (std::int64_t p = 0; p < total; ++p) {
    if (idx[p] < 0 || idx[p] >= v.n) {
      *bad_position = p;
      return;
    }
  }
  dispatch_width(dt, [&](auto tag) {
    using U = decltype(tag);
    const U* xs = static_cast<const U*>(x);
    U* ys = static_cast<U*>(y);
    for (std::int64_t o = 0; o < v.outer; ++o)
      for (std::int64_t j = 0; j < m; ++j)
        for (std::int64_t i = 0; i < v.inner; ++i) {
          const std::int64_t p = (o * m + j) * v.inner + i;
          ys[p] = xs[(o * v.n + idx[p]) * v.inner + i];
        }
  });
}

void scatter_add_forward(DType dt, AxisView v, const void* src, const std::int64_t* idx, std::int64_t m, void* out,
                         std::int64_t* bad_position) {
  const std::int64_t total = v.outer * m * v.inner;
  for (std::int64_t p = 0; p < total; ++p) {
    if (idx[p] < 0 || idx[p] >= v.n) {
      *bad_position = p;
      return;
    }
  }
  dispatch_float(dt, "scatter_add_forward", [&](auto tag) {
    using T = decltype(tag);
    const T* ss = static_cast<const T*>(src);
    T* os = static_cast<T*>(out);
    for (std::int64_t o = 0; o < v.outer; ++o)
      for (std::int64_t j = 0; j < m; ++j)
        for (std::int64_t i = 0; i < v.inner; ++i) {
          const std::int64_t p = (o * m + j) * v.inner + i;
          os[(o * v.n + idx[p]) * v.inner + i] += ss[p];
        }
  });
}

}  // namespace fg::kernels::cpu
