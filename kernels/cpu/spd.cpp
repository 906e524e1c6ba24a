// kernels/cpu/spd.cpp: CPU reference for the batched Cholesky log-determinant
// (math in kernels/spd.h). Everything accumulates in double.
#include <cmath>
#include <vector>

#include "kernels/cpu/cpu_util.h"
#include "kernels/spd.h"

namespace fg::kernels::cpu {

using cpu_detail::dispatch_float;

void cholesky_logdet_forward(DType dt, std::int64_t batch, std::int64_t k, double jitter, const void* a, void* l,
                             void* logdet, std::int64_t* info) {
  dispatch_float(dt, "cholesky_logdet_forward", [&](auto tag) {
    using T = decltype(tag);
    std::vector<double> L(static_cast<std::size_t>(k * k));
    for (std::int64_t b = 0; b < batch; ++b) {
      const T* A = static_cast<const T*>(a) + b * k * k;
      T* Lout = static_cast<T*>(l) + b * k * k;
      std::fill(L.begin(), L.end(), 0.0);
      info[b] = 0;
      double ld = 0;
      for (std::int64_t j = 0; j < k && info[b] == 0; ++j) {
        double diag = static_cast<double>(A[j * k + j]) + jitter;
        for (std::int64_t p = 0; p < j; ++p) diag -= L[j * k + p] * L[j * k + p];
        if (!(diag > 0.0)) {  // also catches NaN
          info[b] = j + 1;
          break;
        }
        const double ljj = std::sqrt(diag);
        L[j * k + j] = ljj;
        ld += 2.0 * std::log(ljj);
        for (std::int64_t i = j + 1; i < k; ++i) {
          double s = A[i * k + j];
          for (std::int64_t p = 0; p < j; ++p) s -= L[i * k + p] * L[j * k + p];
          L[i * k + j] = s / ljj;
        }
      }
      for (std::int64_t p = 0; p < k * k; ++p) Lout[p] = static_cast<T>(L[p]);
      static_cast<T*>(logdet)[b] = static_cast<T>(info[b] == 0 ? ld : NAN);
    }
  });
}

void cholesky_logdet_backward(DType dt, std::int64_t batch, std::int64_t k, const void* l, const void* glogdet,
                              void* ga) {
  dispatch_float(dt, "cholesky_logdet_backward", [&](auto tag) {
    using T = decltype(tag);
    std::vector<double> Linv(static_cast<std::size_t>(k * k));
    for (std::int64_t b = 0; b < batch; ++b) {
      const T* L = static_cast<const T*>(l) + b * k * k;
      const double g = static_cast<const T*>(glogdet)[b];
      T* G = static_cast<T*>(ga) + b * k * k;
      // Linv = L^{-1} by forward substitution, column by column (lower triangular)
      std::fill(Linv.begin(), Linv.end(), 0.0);
      for (std::int64_t c = 0; c < k; ++c) {
        for (std::int64_t i = c; i < k; ++i) {
          double s = (i == c) ? 1.0 : 0.0;
          for (std::int64_t p = c; p < i; ++p) s -= static_cast<double>(L[i * k + p]) * Linv[p * k + c];
          Linv[i * k + c] = s / static_cast<double>(L[i * k + i]);
        }
      }
      // A^{-1} = Linv^T Linv: (i, j) = sum_p Linv[p, i] Linv[p, j], p >= max(i, j)
      for (std::int64_t i = 0; i < k; ++i)
        for (std::int64_t j = 0; j < k; ++j) {
          double s = 0;
          for (std::int64_t p = std::max(i, j); p < k; ++p) s += Linv[p * k + i] * Linv[p * k + j];
          G[i * k + j] = static_cast<T>(g * s);
        }
    }
  });
}

}  // namespace fg::kernels::cpu
