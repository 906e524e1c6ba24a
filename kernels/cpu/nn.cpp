// kernels/cpu/nn.cpp: CPU reference for softmax, log_softmax and layer_norm
// (formulas and backward math in kernels/nn.h). Accumulates in double.
#include <cmath>
#include <vector>

#include "kernels/cpu/cpu_util.h"
#include "kernels/nn.h"

namespace fg::kernels::cpu {

using cpu_detail::dispatch_float;

void softmax_forward(DType dt, AxisView v, bool log, const void* x, void* y) {
  dispatch_float(dt, "softmax_forward", [&](auto tag) {
    using T = decltype(tag);
    const T* xs = static_cast<const T*>(x);
    T* ys = static_cast<T*>(y);
    for (std::int64_t o = 0; o < v.outer; ++o)
      for (std::int64_t i = 0; i < v.inner; ++i) {
        const T* xr = xs + o * v.n * v.inner + i;
        T* yr = ys + o * v.n * v.inner + i;
        double m = -INFINITY;
        for (std::int64_t j = 0; j < v.n; ++j) m = std::max(m, static_cast<double>(xr[j * v.inner]));
        double s = 0;
        for (std::int64_t j = 0; j < v.n; ++j) s += std::exp(xr[j * v.inner] - m);
        const double lse = m + std::log(s);
        for (std::int64_t j = 0; j < v.n; ++j) {
          const double z = xr[j * v.inner] - lse;
          yr[j * v.inner] = static_cast<T>(log ? z : std::exp(z));
        }
      }
  });
}

void softmax_backward(DType dt, AxisView v, bool log, const void* y, const void* gy, void* gx) {
  dispatch_float(dt, "softmax_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* ys = static_cast<const T*>(y);
    const T* gys = static_cast<const T*>(gy);
    T* gxs = static_cast<T*>(gx);
    for (std::int64_t o = 0; o < v.outer; ++o)
      for (std::int64_t i = 0; i < v.inner; ++i) {
        const std::int64_t base = o * v.n * v.inner + i;
        double s = 0;  // log: sum gy; softmax: sum gy*y
        for (std::int64_t j = 0; j < v.n; ++j) {
          const std::int64_t p = base + j * v.inner;
          s += log ? gys[p] : gys[p] * ys[p];
        }
        for (std::int64_t j = 0; j < v.n; ++j) {
          const std::int64_t p = base + j * v.inner;
          gxs[p] = static_cast<T>(log ? gys[p] - std::exp(static_cast<double>(ys[p])) * s : ys[p] * (gys[p] - s));
        }
      }
  });
}

void layer_norm_forward(DType dt, std::int64_t rows, std::int64_t n, double eps, const void* x, const void* gamma,
                        const void* beta, void* y, void* mean, void* rstd) {
  dispatch_float(dt, "layer_norm_forward", [&](auto tag) {
    using T = decltype(tag);
    const T* xs = static_cast<const T*>(x);
    const T* gs = static_cast<const T*>(gamma);
    const T* bs = static_cast<const T*>(beta);
    T* ys = static_cast<T*>(y);
    T* ms = static_cast<T*>(mean);
    T* rs = static_cast<T*>(rstd);
    for (std::int64_t r = 0; r < rows; ++r) {
      const T* xr = xs + r * n;
      double mu = 0;
      for (std::int64_t j = 0; j < n; ++j) mu += xr[j];
      mu /= static_cast<double>(n);
      double var = 0;
      for (std::int64_t j = 0; j < n; ++j) var += (xr[j] - mu) * (xr[j] - mu);
      var /= static_cast<double>(n);
      const double rstd_r = 1.0 / std::sqrt(var + eps);
      ms[r] = static_cast<T>(mu);
      rs[r] = static_cast<T>(rstd_r);
      for (std::int64_t j = 0; j < n; ++j) {
        double v = (xr[j] - mu) * rstd_r;
        if (gs) v *= gs[j];
        if (bs) v += bs[j];
        ys[r * n + j] = static_cast<T>(v);
      }
    }
  });
}

void layer_norm_backward(DType dt, std::int64_t rows, std::int64_t n, const void* x, const void* gamma,
                         const void* mean, const void* rstd, const void* gy, void* gx, void* ggamma, void* gbeta) {
  dispatch_float(dt, "layer_norm_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* xs = static_cast<const T*>(x);
    const T* gs = static_cast<const T*>(gamma);
    const T* ms = static_cast<const T*>(mean);
    const T* rs = static_cast<const T*>(rstd);
    const T* gys = static_cast<const T*>(gy);
    T* gxs = static_cast<T*>(gx);
    T* ggs = static_cast<T*>(ggamma);
    T* gbs = static_cast<T*>(gbeta);
    std::vector<double> acc_gamma(ggs ? n : 0, 0.0), acc_beta(gbs ? n : 0, 0.0);
    for (std::int64_t r = 0; r < rows; ++r) {
      const T* xr = xs + r * n;
      const T* gyr = gys + r * n;
      const double mu = ms[r], rsd = rs[r];
      double mean_g = 0, mean_gx = 0;
      for (std::int64_t j = 0; j < n; ++j) {
        const double xhat = (xr[j] - mu) * rsd;
        const double g = gyr[j] * (gs ? static_cast<double>(gs[j]) : 1.0);
        mean_g += g;
        mean_gx += g * xhat;
        if (ggs) acc_gamma[j] += gyr[j] * xhat;
        if (gbs) acc_beta[j] += gyr[j];
      }
      mean_g /= static_cast<double>(n);
      mean_gx /= static_cast<double>(n);
      if (gxs) {
        for (std::int64_t j = 0; j < n; ++j) {
          const double xhat = (xr[j] - mu) * rsd;
          const double g = gyr[j] * (gs ? static_cast<double>(gs[j]) : 1.0);
          gxs[r * n + j] = static_cast<T>(rsd * (g - mean_g - xhat * mean_gx));
        }
      }
    }
    for (std::int64_t j = 0; ggs && j < n; ++j) ggs[j] = static_cast<T>(acc_gamma[j]);
    for (std::int64_t j = 0; gbs && j < n; ++j) gbs[j] = static_cast<T>(acc_beta[j]);
  });
}

}  // namespace fg::kernels::cpu
