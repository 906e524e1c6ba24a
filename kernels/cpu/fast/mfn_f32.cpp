// kernels/cpu/fast/mfn_f32.cpp: float32 MFN gated memory recurrence on GEMMs batched over
// the B examples (see fast_f32.h; the math and the plain reference in kernels/mfn.h and
// kernels/cpu/mfn.cpp). Per step t, for all examples at once:
//   pre = gate_x[t] + U W_u^T (one GEMM), hid = relu(pre) drop, Z1 = hid[:, :G1] W1^T,
//   Z2 = hid[:, G1:] W2^T (two GEMMs), then the gates and the memory update row by row;
// backward per step: dhid = [dZ1 W1 | dZ2 W2] (two GEMMs), dU_prev = dU g1 + dpre W_u (one).
// Examples past their length keep their memory (forward) and pass dU unchanged (backward),
// exactly as the reference; the carries are float here.
#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/fast/fast_f32.h"

namespace fg::kernels::fast {

namespace {

// C[m, n] (ldc) = alpha op(A) op(B) + beta C with explicit leading dimensions (row-major).
void gemm_ld(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda,
             const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc) {
  if (m == 0 || n == 0) return;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<blasint>(m),
              static_cast<blasint>(n), static_cast<blasint>(k), 1.0f, a, static_cast<blasint>(lda), b,
              static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

}  // namespace

bool gated_memory_forward(const GatedMemoryShape& s, const float* gate_x, const float* u_hat, const float* w_u,
                          const float* w1, const float* b1, const float* w2, const float* b2, const float* drop,
                          const std::int64_t* lengths, float* u_all, float* pre, float* gammas) {
  const IsaTable* t = active_table();
  if (!t) return false;
  const std::int64_t T = s.steps, B = s.batch, G1 = s.gate1, G2 = s.gate2, G = G1 + G2, M = s.memory;
  if (T == 0 || B == 0) return false;
  std::vector<float> U(static_cast<std::size_t>(B * M), 0.0f), hid(static_cast<std::size_t>(B * G)),
      Z(static_cast<std::size_t>(B * 2 * M));
  for (std::int64_t step = 0; step < T; ++step) {
    float* P = pre + step * B * G;
    float* gam = gammas + step * B * 2 * M;
    float* out = u_all + step * B * M;
    std::memcpy(P, gate_x + step * B * G, static_cast<std::size_t>(B * G) * sizeof(float));
    gemm_ld(false, true, B, G, M, U.data(), M, w_u, M, 1.0f, P, G);  // pre = gate_x + U W_u^T
    for (std::int64_t e = 0; e < B * G; ++e) {
      const float keep = drop ? drop[step * B * G + e] : 1.0f;
      hid[e] = P[e] > 0.0f ? P[e] * keep : 0.0f;
    }
    gemm_ld(false, true, B, M, G1, hid.data(), G, w1, G1, 0.0f, Z.data(), 2 * M);           // Z1 = hid1 W1^T
    gemm_ld(false, true, B, M, G2, hid.data() + G1, G, w2, G2, 0.0f, Z.data() + M, 2 * M);  // Z2 = hid2 W2^T
    for (std::int64_t b = 0; b < B; ++b) {
      float* zr = Z.data() + b * 2 * M;
      float* ur = U.data() + b * M;
      if (lengths && step >= lengths[b]) {  // frozen: the reference's zeros and the kept memory
        std::fill(P + b * G, P + (b + 1) * G, 0.0f);
        std::fill(gam + b * 2 * M, gam + (b + 1) * 2 * M, 0.0f);
        std::memcpy(out + b * M, ur, static_cast<std::size_t>(M) * sizeof(float));
        continue;
      }
      t->binary_fwd(BinaryOp::Add, M, zr, 1, b1, 1, zr);
      t->binary_fwd(BinaryOp::Add, M, zr + M, 1, b2, 1, zr + M);
      t->unary_fwd(UnaryOp::Sigmoid, UnaryParams{}, 2 * M, zr, gam + b * 2 * M);
      const float* g1 = gam + b * 2 * M;
      const float* g2 = g1 + M;
      const float* uh = u_hat + (step * B + b) * M;
      for (std::int64_t m = 0; m < M; ++m) ur[m] = g1[m] * ur[m] + g2[m] * uh[m];
      std::memcpy(out + b * M, ur, static_cast<std::size_t>(M) * sizeof(float));
    }
  }
  return true;
}

bool gated_memory_backward(const GatedMemoryShape& s, const float* u_hat, const float* w_u, const float* w1,
                           const float* w2, const float* drop, const std::int64_t* lengths, const float* u_all,
                           const float* pre, const float* gammas, const float* grad_u_all, float* grad_gate_x,
                           float* grad_u_hat, float* grad_z) {
  if (!active_table()) return false;
  const std::int64_t T = s.steps, B = s.batch, G1 = s.gate1, G2 = s.gate2, G = G1 + G2, M = s.memory;
  if (T == 0 || B == 0) return false;
  std::vector<float> dU(static_cast<std::size_t>(B * M), 0.0f), back(static_cast<std::size_t>(B * M));
  for (std::int64_t step = T - 1; step >= 0; --step) {
    const std::int64_t row0 = step * B;
    float* ggx = grad_gate_x + row0 * G;
    float* guh = grad_u_hat + row0 * M;
    float* gz = grad_z + row0 * 2 * M;
    const float* gam = gammas + row0 * 2 * M;
    if (grad_u_all)
      for (std::int64_t e = 0; e < B * M; ++e) dU[e] += grad_u_all[row0 * M + e];
    for (std::int64_t b = 0; b < B; ++b) {
      const bool valid = !lengths || step < lengths[b];
      float* du = dU.data() + b * M;
      const float* g1 = gam + b * 2 * M;
      const float* g2 = g1 + M;
      const float* up = step > 0 ? u_all + (row0 - B + b) * M : nullptr;
      const float* uh = u_hat + (row0 + b) * M;
      for (std::int64_t m = 0; m < M; ++m) {
        if (!valid) {
          guh[b * M + m] = 0.0f;
          gz[b * 2 * M + m] = gz[b * 2 * M + M + m] = 0.0f;
          continue;
        }
        guh[b * M + m] = du[m] * g2[m];
        gz[b * 2 * M + m] = du[m] * (up ? up[m] : 0.0f) * g1[m] * (1.0f - g1[m]);
        gz[b * 2 * M + M + m] = du[m] * uh[m] * g2[m] * (1.0f - g2[m]);
      }
    }
    // dhid = [dZ1 W1 | dZ2 W2] straight into grad_gate_x, then the ReLU and dropout
    gemm_ld(false, false, B, G1, M, gz, 2 * M, w1, G1, 0.0f, ggx, G);
    gemm_ld(false, false, B, G2, M, gz + M, 2 * M, w2, G2, 0.0f, ggx + G1, G);
    for (std::int64_t e = 0; e < B * G; ++e) {
      const float keep = drop ? drop[row0 * G + e] : 1.0f;
      ggx[e] = pre[row0 * G + e] > 0.0f ? ggx[e] * keep : 0.0f;
    }
    // to u_{t-1}: dU g1 + dpre W_u for the examples at a valid step, unchanged for the others
    gemm_ld(false, false, B, M, G, ggx, G, w_u, M, 0.0f, back.data(), M);
    for (std::int64_t b = 0; b < B; ++b) {
      if (lengths && step >= lengths[b]) continue;
      float* du = dU.data() + b * M;
      const float* g1 = gam + b * 2 * M;
      for (std::int64_t m = 0; m < M; ++m) du[m] = du[m] * g1[m] + back[b * M + m];
    }
  }
  return true;
}

}  // namespace fg::kernels::fast
