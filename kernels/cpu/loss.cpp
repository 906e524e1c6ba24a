// kernels/cpu/loss.cpp: CPU reference for the losses of kernels/loss.h
// (formulas and derivatives there). Sums accumulate in double.
#include <cmath>

#include "kernels/cpu/cpu_util.h"
#include "kernels/loss.h"

namespace fg::kernels::cpu {

using cpu_detail::dispatch_float;

void regression_loss_forward(RegressionLoss kind, DType dt, std::int64_t n, double scale, const void* pred,
                             const void* target, void* out) {
  dispatch_float(dt, "regression_loss_forward", [&](auto tag) {
    using T = decltype(tag);
    const T* p = static_cast<const T*>(pred);
    const T* t = static_cast<const T*>(target);
    double acc = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      const double d = static_cast<double>(p[i]) - t[i];
      acc += kind == RegressionLoss::L1 ? std::abs(d) : d * d;
    }
    *static_cast<T*>(out) = static_cast<T>(scale * acc);
  });
}

void regression_loss_backward(RegressionLoss kind, DType dt, std::int64_t n, double scale, const void* pred,
                              const void* target, const void* gout, void* gpred, void* gtarget) {
  dispatch_float(dt, "regression_loss_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* p = static_cast<const T*>(pred);
    const T* t = static_cast<const T*>(target);
    const double g = scale * static_cast<double>(*static_cast<const T*>(gout));
    T* gp = static_cast<T*>(gpred);
    T* gt = static_cast<T*>(gtarget);
    for (std::int64_t i = 0; i < n; ++i) {
      const double d = static_cast<double>(p[i]) - t[i];
      const double dl = kind == RegressionLoss::L1 ? (d > 0 ? 1.0 : (d < 0 ? -1.0 : 0.0)) : 2.0 * d;
      if (gp) gp[i] = static_cast<T>(g * dl);
      if (gt) gt[i] = static_cast<T>(-g * dl);
    }
  });
}

void cross_entropy_forward(DType dt, std::int64_t rows, std::int64_t classes, double scale, const void* logits,
                           const std::int64_t* target, void* out, void* lse, std::int64_t* bad_position) {
  for (std::int64_t r = 0; r < rows; ++r) {
    if (target[r] < 0 || target[r] >= classes) {
      *bad_position = r;
      return;
    }
  }
  dispatch_float(dt, "cross_entropy_forward", [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(logits);
    T* l = static_cast<T*>(lse);
    double acc = 0;
    for (std::int64_t r = 0; r < rows; ++r) {
      const T* xr = x + r * classes;
      double m = -INFINITY;
      for (std::int64_t c = 0; c < classes; ++c) m = std::max(m, static_cast<double>(xr[c]));
      double s = 0;
      for (std::int64_t c = 0; c < classes; ++c) s += std::exp(xr[c] - m);
      const double lse_r = m + std::log(s);
      l[r] = static_cast<T>(lse_r);
      acc += lse_r - xr[target[r]];
    }
    *static_cast<T*>(out) = static_cast<T>(scale * acc);
  });
}

void cross_entropy_backward(DType dt, std::int64_t rows, std::int64_t classes, double scale, const void* logits,
                            const std::int64_t* target, const void* lse, const void* gout, void* glogits) {
  dispatch_float(dt, "cross_entropy_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(logits);
    const T* l = static_cast<const T*>(lse);
    const double g = scale * static_cast<double>(*static_cast<const T*>(gout));
    T* gx = static_cast<T*>(glogits);
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < classes; ++c) {
        const double p = std::exp(static_cast<double>(x[r * classes + c]) - l[r]);
        gx[r * classes + c] = static_cast<T>(g * (p - (c == target[r] ? 1.0 : 0.0)));
      }
  });
}

void bce_logits_forward(DType dt, std::int64_t n, double scale, const void* logits, const void* target, void* out) {
  dispatch_float(dt, "bce_logits_forward", [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(logits);
    const T* t = static_cast<const T*>(target);
    double acc = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      const double xi = x[i];
      acc += std::max(xi, 0.0) - xi * t[i] + std::log1p(std::exp(-std::abs(xi)));
    }
    *static_cast<T*>(out) = static_cast<T>(scale * acc);
  });
}

void bce_logits_backward(DType dt, std::int64_t n, double scale, const void* logits, const void* target,
                         const void* gout, void* glogits, void* gtarget) {
  dispatch_float(dt, "bce_logits_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(logits);
    const T* t = static_cast<const T*>(target);
    const double g = scale * static_cast<double>(*static_cast<const T*>(gout));
    T* gx = static_cast<T*>(glogits);
    T* gt = static_cast<T*>(gtarget);
    for (std::int64_t i = 0; i < n; ++i) {
      const double xi = x[i];
      const double sig = xi >= 0 ? 1.0 / (1.0 + std::exp(-xi)) : std::exp(xi) / (1.0 + std::exp(xi));
      if (gx) gx[i] = static_cast<T>(g * (sig - t[i]));
      if (gt) gt[i] = static_cast<T>(-g * xi);
    }
  });
}

}  // namespace fg::kernels::cpu
