// kernels/cpu/fill.cpp: CPU reference for fill_value, fill_arange and cast
// (see kernels/fill.h). No backward: these create or convert data.
#include "kernels/fill.h"

namespace fg::kernels::cpu {

namespace {

// Calls f(T{}) for any of the three dtypes.
template <class F>
void dispatch_any(DType dt, F&& f) {
  switch (dt) {
    case DType::f32: f(float{}); return;
    case DType::f64: f(double{}); return;
    case DType::i64: f(std::int64_t{}); return;
  }
}

}  // namespace

void fill_value(DType dt, std::int64_t n, double value, void* out) {
  dispatch_any(dt, [&](auto tag) {
    using T = decltype(tag);
    T* o = static_cast<T*>(out);
    const T v = static_cast<T>(value);
    for (std::int64_t i = 0; i < n; ++i) o[i] = v;
  });
}

void fill_arange(DType dt, std::int64_t n, void* out) {
  dispatch_any(dt, [&](auto tag) {
    using T = decltype(tag);
    T* o = static_cast<T*>(out);
    for (std::int64_t i = 0; i < n; ++i) o[i] = static_cast<T>(i);
  });
}

void cast(DType src_dt, const void* src, DType dst_dt, void* dst, std::int64_t n) {
  dispatch_any(src_dt, [&](auto stag) {
    using S = decltype(stag);
    dispatch_any(dst_dt, [&](auto dtag) {
      using D = decltype(dtag);
      const S* s = static_cast<const S*>(src);
      D* d = static_cast<D*>(dst);
      for (std::int64_t i = 0; i < n; ++i) d[i] = static_cast<D>(s[i]);
    });
  });
}

}  // namespace fg::kernels::cpu
