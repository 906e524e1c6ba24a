// kernels/cpu/random.cpp: CPU reference for the Philox draws of kernels/random.h
// (uniform, normal, dropout mask). Element i always uses counter offset + i.
#include <cmath>

#include "kernels/cpu/cpu_util.h"
#include "kernels/random.h"

namespace fg::kernels::cpu {

using cpu_detail::dispatch_float;

void random_uniform(DType dt, std::int64_t n, std::uint64_t seed, std::uint64_t offset, double lo, double hi,
                    void* out) {
  dispatch_float(dt, "random_uniform", [&](auto tag) {
    using T = decltype(tag);
    T* o = static_cast<T*>(out);
    for (std::int64_t i = 0; i < n; ++i) {
      const Philox4 r = philox4x32_10(seed, offset + static_cast<std::uint64_t>(i));
      if constexpr (std::is_same_v<T, float>) {
        o[i] = static_cast<float>(lo) + static_cast<float>(hi - lo) * philox_uniform_f32(r);
      } else {
        o[i] = lo + (hi - lo) * philox_uniform_f64(r);
      }
    }
  });
}

void random_normal(DType dt, std::int64_t n, std::uint64_t seed, std::uint64_t offset, double mean, double std,
                   void* out) {
  dispatch_float(dt, "random_normal", [&](auto tag) {
    using T = decltype(tag);
    T* o = static_cast<T*>(out);
    for (std::int64_t i = 0; i < n; ++i) {
      const Philox4 r = philox4x32_10(seed, offset + static_cast<std::uint64_t>(i));
      const double u1 = (static_cast<double>(r.w[0]) + 1.0) * (1.0 / 4294967296.0);  // (0, 1]
      const double u2 = static_cast<double>(r.w[1]) * (1.0 / 4294967296.0);          // [0, 1)
      const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
      o[i] = static_cast<T>(mean + std * z);
    }
  });
}

void dropout_forward(DType dt, std::int64_t n, double p, std::uint64_t seed, std::uint64_t offset, const void* x,
                     void* y, void* mask) {
  dispatch_float(dt, "dropout_forward", [&](auto tag) {
    using T = decltype(tag);
    const T* xs = static_cast<const T*>(x);
    T* ys = static_cast<T*>(y);
    T* ms = static_cast<T*>(mask);
    const float pf = static_cast<float>(p);
    const T scale = T(1) / (T(1) - T(p));
    for (std::int64_t i = 0; i < n; ++i) {
      const float u = philox_uniform_f32(philox4x32_10(seed, offset + static_cast<std::uint64_t>(i)));
      ms[i] = u >= pf ? scale : T(0);
      ys[i] = xs[i] * ms[i];
    }
  });
}

}  // namespace fg::kernels::cpu
