// kernels/cpu/gram.cpp: CPU reference for the RBF Gram kernels (math in kernels/gram.h).
#include <cmath>
#include <vector>

#include "kernels/cpu/cpu_util.h"
#include "kernels/gram.h"

namespace fg::kernels::cpu {

using cpu_detail::dispatch_float;

namespace {

template <class T>
double sq_dist(const T* a, const T* b, std::int64_t d) {
  double s = 0;
  for (std::int64_t k = 0; k < d; ++k) {
    const double diff = static_cast<double>(a[k]) - b[k];
    s += diff * diff;
  }
  return s;
}

}  // namespace

void rbf_gram_forward(DType dt, std::int64_t n, std::int64_t m, std::int64_t d, const void* x, const void* y,
                      const GammaList& gammas, void* k) {
  dispatch_float(dt, "rbf_gram_forward", [&](auto tag) {
    using T = decltype(tag);
    const T* xs = static_cast<const T*>(x);
    const T* ys = static_cast<const T*>(y);
    T* ks = static_cast<T*>(k);
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < m; ++j) {
        const double dist = sq_dist(xs + i * d, ys + j * d, d);
        double v = 0;
        for (int s = 0; s < gammas.count; ++s) v += std::exp(-gammas.value[s] * dist);
        ks[i * m + j] = static_cast<T>(v);
      }
  });
}

void rbf_gram_backward(DType dt, std::int64_t n, std::int64_t m, std::int64_t d, const void* x, const void* y,
                       const GammaList& gammas, const void* gk, void* gx, void* gy) {
  dispatch_float(dt, "rbf_gram_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* xs = static_cast<const T*>(x);
    const T* ys = static_cast<const T*>(y);
    const T* gks = static_cast<const T*>(gk);
    std::vector<double> ax(gx ? n * d : 0, 0.0), ay(gy ? m * d : 0, 0.0);
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < m; ++j) {
        const double dist = sq_dist(xs + i * d, ys + j * d, d);
        // c = G_ij * sum_s (-2 gamma_s) exp(-gamma_s dist): the factor of (x_i - y_j)
        double c = 0;
        for (int s = 0; s < gammas.count; ++s) c += -2.0 * gammas.value[s] * std::exp(-gammas.value[s] * dist);
        c *= gks[i * m + j];
        for (std::int64_t k = 0; k < d; ++k) {
          const double diff = static_cast<double>(xs[i * d + k]) - ys[j * d + k];
          if (gx) ax[i * d + k] += c * diff;
          if (gy) ay[j * d + k] -= c * diff;
        }
      }
    if (gx)
      for (std::int64_t p = 0; p < n * d; ++p) static_cast<T*>(gx)[p] = static_cast<T>(ax[p]);
    if (gy)
      for (std::int64_t p = 0; p < m * d; ++p) static_cast<T*>(gy)[p] = static_cast<T>(ay[p]);
  });
}

}  // namespace fg::kernels::cpu
