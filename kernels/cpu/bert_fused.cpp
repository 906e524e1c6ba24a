// kernels/cpu/bert_fused.cpp: CPU reference for bias + GELU and residual add + LayerNorm
// (formulas and backward math in kernels/bert_fused.h). Accumulates in double.
#include <cmath>
#include <vector>

#include "kernels/bert_fused.h"
#include "kernels/cpu/cpu_util.h"
#include "kernels/cpu/fast/fast_f32.h"

namespace fg::kernels::cpu {

using cpu_detail::dispatch_float;

namespace {

constexpr double kSqrt2OverPi = 0.7978845608028654;
constexpr double kGeluK = 0.044715;
constexpr double kInvSqrt2 = 0.7071067811865476;
constexpr double kInvSqrt2Pi = 0.3989422804014327;

double gelu_value(double z, bool tanh_approx) {
  if (tanh_approx) return 0.5 * z * (1.0 + std::tanh(kSqrt2OverPi * (z + kGeluK * z * z * z)));
  return 0.5 * z * (1.0 + std::erf(z * kInvSqrt2));
}

double gelu_slope(double z, bool tanh_approx) {
  if (tanh_approx) {
    const double t = std::tanh(kSqrt2OverPi * (z + kGeluK * z * z * z));
    return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * kSqrt2OverPi * (1.0 + 3.0 * kGeluK * z * z);
  }
  return 0.5 * (1.0 + std::erf(z * kInvSqrt2)) + z * kInvSqrt2Pi * std::exp(-0.5 * z * z);
}

}  // namespace

void bias_gelu_forward(DType dt, std::int64_t rows, std::int64_t n, bool tanh_approx, const void* x, const void* bias,
                       void* y) {
  // float32: vectorised (kernels/cpu/fast/)
  if (dt == DType::f32 && fast::bias_gelu_forward(rows, n, tanh_approx, static_cast<const float*>(x),
                                                  static_cast<const float*>(bias), static_cast<float*>(y)))
    return;
  dispatch_float(dt, "bias_gelu_forward", [&](auto tag) {
    using T = decltype(tag);
    const T* xs = static_cast<const T*>(x);
    const T* bs = static_cast<const T*>(bias);
    T* ys = static_cast<T*>(y);
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t j = 0; j < n; ++j) {
        const T z = xs[r * n + j] + bs[j];  // rounded to T, as an unfused add would be
        ys[r * n + j] = static_cast<T>(gelu_value(z, tanh_approx));
      }
  });
}

void bias_gelu_backward(DType dt, std::int64_t rows, std::int64_t n, bool tanh_approx, const void* x, const void* bias,
                        const void* gy, void* gx, void* gbias) {
  if (dt == DType::f32 && fast::bias_gelu_backward(rows, n, tanh_approx, static_cast<const float*>(x),
                                                   static_cast<const float*>(bias), static_cast<const float*>(gy),
                                                   static_cast<float*>(gx), static_cast<float*>(gbias)))
    return;
  dispatch_float(dt, "bias_gelu_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* xs = static_cast<const T*>(x);
    const T* bs = static_cast<const T*>(bias);
    const T* gys = static_cast<const T*>(gy);
    T* gxs = static_cast<T*>(gx);
    T* gbs = static_cast<T*>(gbias);
    std::vector<double> acc(gbs ? n : 0, 0.0);
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t j = 0; j < n; ++j) {
        const T z = xs[r * n + j] + bs[j];
        const double g = static_cast<double>(gys[r * n + j]) * gelu_slope(z, tanh_approx);
        if (gxs) gxs[r * n + j] = static_cast<T>(g);
        if (gbs) acc[j] += g;
      }
    for (std::int64_t j = 0; gbs && j < n; ++j) gbs[j] = static_cast<T>(acc[j]);
  });
}

void add_layer_norm_forward(DType dt, std::int64_t rows, std::int64_t n, double eps, const void* x,
                            const void* residual, const void* gamma, const void* beta, void* y, void* mean,
                            void* rstd) {
  dispatch_float(dt, "add_layer_norm_forward", [&](auto tag) {
    using T = decltype(tag);
    const T* xs = static_cast<const T*>(x);
    const T* rs = static_cast<const T*>(residual);
    const T* gs = static_cast<const T*>(gamma);
    const T* bs = static_cast<const T*>(beta);
    T* ys = static_cast<T*>(y);
    T* ms = static_cast<T*>(mean);
    T* rstds = static_cast<T*>(rstd);
    std::vector<T> u(static_cast<std::size_t>(n));
    for (std::int64_t r = 0; r < rows; ++r) {
      double mu = 0;
      for (std::int64_t j = 0; j < n; ++j) {
        u[j] = xs[r * n + j] + rs[r * n + j];  // rounded to T, as an unfused add would be
        mu += u[j];
      }
      mu /= static_cast<double>(n);
      double var = 0;
      for (std::int64_t j = 0; j < n; ++j) var += (u[j] - mu) * (u[j] - mu);
      var /= static_cast<double>(n);
      const double rstd_r = 1.0 / std::sqrt(var + eps);
      ms[r] = static_cast<T>(mu);
      rstds[r] = static_cast<T>(rstd_r);
      for (std::int64_t j = 0; j < n; ++j) {
        double val = (u[j] - mu) * rstd_r;
        if (gs) val *= gs[j];
        if (bs) val += bs[j];
        ys[r * n + j] = static_cast<T>(val);
      }
    }
  });
}

void add_layer_norm_backward(DType dt, std::int64_t rows, std::int64_t n, const void* x, const void* residual,
                             const void* gamma, const void* mean, const void* rstd, const void* gy, void* gsum,
                             void* ggamma, void* gbeta) {
  dispatch_float(dt, "add_layer_norm_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* xs = static_cast<const T*>(x);
    const T* rs = static_cast<const T*>(residual);
    const T* gs = static_cast<const T*>(gamma);
    const T* ms = static_cast<const T*>(mean);
    const T* rstds = static_cast<const T*>(rstd);
    const T* gys = static_cast<const T*>(gy);
    T* gus = static_cast<T*>(gsum);
    T* ggs = static_cast<T*>(ggamma);
    T* gbs = static_cast<T*>(gbeta);
    std::vector<double> acc_gamma(ggs ? n : 0, 0.0), acc_beta(gbs ? n : 0, 0.0);
    std::vector<double> uhat(static_cast<std::size_t>(n));
    for (std::int64_t r = 0; r < rows; ++r) {
      const T* gyr = gys + r * n;
      const double mu = ms[r], rsd = rstds[r];
      double mean_g = 0, mean_gu = 0;
      for (std::int64_t j = 0; j < n; ++j) {
        const T u = xs[r * n + j] + rs[r * n + j];
        uhat[j] = (u - mu) * rsd;
        const double g = gyr[j] * (gs ? static_cast<double>(gs[j]) : 1.0);
        mean_g += g;
        mean_gu += g * uhat[j];
        if (ggs) acc_gamma[j] += gyr[j] * uhat[j];
        if (gbs) acc_beta[j] += gyr[j];
      }
      mean_g /= static_cast<double>(n);
      mean_gu /= static_cast<double>(n);
      for (std::int64_t j = 0; gus && j < n; ++j) {
        const double g = gyr[j] * (gs ? static_cast<double>(gs[j]) : 1.0);
        gus[r * n + j] = static_cast<T>(rsd * (g - mean_g - uhat[j] * mean_gu));
      }
    }
    for (std::int64_t j = 0; ggs && j < n; ++j) ggs[j] = static_cast<T>(acc_gamma[j]);
    for (std::int64_t j = 0; gbs && j < n; ++j) gbs[j] = static_cast<T>(acc_beta[j]);
  });
}

}  // namespace fg::kernels::cpu
