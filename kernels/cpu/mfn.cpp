// kernels/cpu/mfn.cpp: CPU reference of MFN's gated memory recurrence (equations, shapes
// and the backward in kernels/mfn.h). Plain loops, one example at a time, arithmetic in
// double; each example's steps run in order, which is the only serial dependence.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/cpu_util.h"
#include "kernels/cpu/fast/fast_f32.h"
#include "kernels/mfn.h"

namespace fg::kernels::cpu {

using cpu_detail::dispatch_float;

namespace {

inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

template <class T>
void forward(const GatedMemoryShape& s, const T* gate_x, const T* u_hat, const T* w_u, const T* w1, const T* b1,
             const T* w2, const T* b2, const T* drop, const std::int64_t* lengths, T* u_all, T* pre, T* gammas) {
  const std::int64_t T_ = s.steps, B = s.batch, G1 = s.gate1, G2 = s.gate2, G = G1 + G2, M = s.memory;
  std::vector<double> u(static_cast<std::size_t>(M)), hid(static_cast<std::size_t>(G));
  for (std::int64_t b = 0; b < B; ++b) {
    const std::int64_t len = lengths ? lengths[b] : T_;
    std::fill(u.begin(), u.end(), 0.0);
    for (std::int64_t t = 0; t < T_; ++t) {
      const std::int64_t row = t * B + b;
      T* pre_r = pre + row * G;
      T* gam_r = gammas + row * 2 * M;
      T* u_r = u_all + row * M;
      if (t >= len) {  // frozen
        std::fill(pre_r, pre_r + G, T(0));
        std::fill(gam_r, gam_r + 2 * M, T(0));
        for (std::int64_t m = 0; m < M; ++m) u_r[m] = static_cast<T>(u[m]);
        continue;
      }
      for (std::int64_t g = 0; g < G; ++g) {
        double a = gate_x[row * G + g];
        for (std::int64_t m = 0; m < M; ++m) a += static_cast<double>(w_u[g * M + m]) * u[m];
        pre_r[g] = static_cast<T>(a);
        hid[g] = a > 0.0 ? a * (drop ? static_cast<double>(drop[row * G + g]) : 1.0) : 0.0;
      }
      for (std::int64_t m = 0; m < M; ++m) {
        double z1 = b1[m], z2 = b2[m];
        for (std::int64_t g = 0; g < G1; ++g) z1 += static_cast<double>(w1[m * G1 + g]) * hid[g];
        for (std::int64_t g = 0; g < G2; ++g) z2 += static_cast<double>(w2[m * G2 + g]) * hid[G1 + g];
        const double g1 = sigmoid(z1), g2 = sigmoid(z2);
        gam_r[m] = static_cast<T>(g1);
        gam_r[M + m] = static_cast<T>(g2);
        u[m] = g1 * u[m] + g2 * static_cast<double>(u_hat[row * M + m]);  // u[m] is read before it is written
        u_r[m] = static_cast<T>(u[m]);
      }
    }
  }
}

template <class T>
void backward(const GatedMemoryShape& s, const T* u_hat, const T* w_u, const T* w1, const T* w2, const T* drop,
              const std::int64_t* lengths, const T* u_all, const T* pre, const T* gammas, const T* grad_u_all,
              T* grad_gate_x, T* grad_u_hat, T* grad_z) {
  const std::int64_t T_ = s.steps, B = s.batch, G1 = s.gate1, G2 = s.gate2, G = G1 + G2, M = s.memory;
  std::vector<double> du(static_cast<std::size_t>(M)), dz(static_cast<std::size_t>(2 * M)),
      dpre(static_cast<std::size_t>(G));
  for (std::int64_t b = 0; b < B; ++b) {
    const std::int64_t len = lengths ? lengths[b] : T_;
    std::fill(du.begin(), du.end(), 0.0);
    for (std::int64_t t = T_ - 1; t >= 0; --t) {
      const std::int64_t row = t * B + b;
      T* ggx = grad_gate_x + row * G;
      T* guh = grad_u_hat + row * M;
      T* gz = grad_z + row * 2 * M;
      if (grad_u_all)
        for (std::int64_t m = 0; m < M; ++m) du[m] += grad_u_all[row * M + m];
      if (t >= len) {  // u_t = u_{t-1}: du passes unchanged
        std::fill(ggx, ggx + G, T(0));
        std::fill(guh, guh + M, T(0));
        std::fill(gz, gz + 2 * M, T(0));
        continue;
      }
      const T* gam = gammas + row * 2 * M;
      const T* u_prev = t > 0 ? u_all + (row - B) * M : nullptr;
      for (std::int64_t m = 0; m < M; ++m) {
        const double g1 = gam[m], g2 = gam[M + m];
        const double up = u_prev ? static_cast<double>(u_prev[m]) : 0.0;
        guh[m] = static_cast<T>(du[m] * g2);
        dz[m] = du[m] * up * g1 * (1.0 - g1);
        dz[M + m] = du[m] * static_cast<double>(u_hat[row * M + m]) * g2 * (1.0 - g2);
        gz[m] = static_cast<T>(dz[m]);
        gz[M + m] = static_cast<T>(dz[M + m]);
      }
      // dhid = [W1^T dz1 ; W2^T dz2], rows of W1 and W2 read in order
      std::fill(dpre.begin(), dpre.end(), 0.0);
      for (std::int64_t m = 0; m < M; ++m) {
        for (std::int64_t g = 0; g < G1; ++g) dpre[g] += static_cast<double>(w1[m * G1 + g]) * dz[m];
        for (std::int64_t g = 0; g < G2; ++g) dpre[G1 + g] += static_cast<double>(w2[m * G2 + g]) * dz[M + m];
      }
      for (std::int64_t g = 0; g < G; ++g) {
        const double keep = drop ? static_cast<double>(drop[row * G + g]) : 1.0;
        dpre[g] = pre[row * G + g] > T(0) ? dpre[g] * keep : 0.0;
        ggx[g] = static_cast<T>(dpre[g]);
      }
      // du = du * g1 + W_u^T dpre, rows of W_u read in order
      for (std::int64_t m = 0; m < M; ++m) du[m] *= static_cast<double>(gam[m]);
      for (std::int64_t g = 0; g < G; ++g)
        for (std::int64_t m = 0; m < M; ++m) du[m] += static_cast<double>(w_u[g * M + m]) * dpre[g];
    }
  }
}

}  // namespace

void gated_memory_forward(DType dt, GatedMemoryShape s, const void* gate_x, const void* u_hat, const void* w_u,
                          const void* w1, const void* b1, const void* w2, const void* b2, const void* drop,
                          const std::int64_t* lengths, void* u_all, void* pre, void* gammas) {
  // float32: the per-step products as GEMMs over the batch (kernels/cpu/fast/mfn_f32.cpp)
  auto f = [](const void* p) { return static_cast<const float*>(p); };
  if (dt == DType::f32 &&
      fast::gated_memory_forward(s, f(gate_x), f(u_hat), f(w_u), f(w1), f(b1), f(w2), f(b2), f(drop), lengths,
                                 static_cast<float*>(u_all), static_cast<float*>(pre), static_cast<float*>(gammas)))
    return;
  dispatch_float(dt, "gated_memory_forward", [&](auto tag) {
    using T = decltype(tag);
    auto c = [](const void* p) { return static_cast<const T*>(p); };
    auto m = [](void* p) { return static_cast<T*>(p); };
    forward<T>(s, c(gate_x), c(u_hat), c(w_u), c(w1), c(b1), c(w2), c(b2), c(drop), lengths, m(u_all), m(pre),
               m(gammas));
  });
}

void gated_memory_backward(DType dt, GatedMemoryShape s, const void* u_hat, const void* w_u, const void* w1,
                           const void* w2, const void* drop, const std::int64_t* lengths, const void* u_all,
                           const void* pre, const void* gammas, const void* grad_u_all, void* grad_gate_x,
                           void* grad_u_hat, void* grad_z) {
  auto f = [](const void* p) { return static_cast<const float*>(p); };
  if (dt == DType::f32 &&
      fast::gated_memory_backward(s, f(u_hat), f(w_u), f(w1), f(w2), f(drop), lengths, f(u_all), f(pre), f(gammas),
                                  f(grad_u_all), static_cast<float*>(grad_gate_x), static_cast<float*>(grad_u_hat),
                                  static_cast<float*>(grad_z)))
    return;
  dispatch_float(dt, "gated_memory_backward", [&](auto tag) {
    using T = decltype(tag);
    auto c = [](const void* p) { return static_cast<const T*>(p); };
    auto m = [](void* p) { return static_cast<T*>(p); };
    backward<T>(s, c(u_hat), c(w_u), c(w1), c(w2), c(drop), lengths, c(u_all), c(pre), c(gammas), c(grad_u_all),
                m(grad_gate_x), m(grad_u_hat), m(grad_z));
  });
}

}  // namespace fg::kernels::cpu
