// kernels/cpu/fast/attention_f32.cpp: float32 attention on GEMMs (see fast_f32.h and the
// math in kernels/attention.h; the plain reference is kernels/cpu/attention.cpp).
#include <cblas.h>
#include <omp.h>

#include <cmath>
#include <vector>

#include "kernels/cpu/fast/fast_f32.h"
#include "kernels/random.h"

namespace fg::kernels::fast {

namespace {

bool any_key_kept(const float* mask, std::int64_t b, std::int64_t Sk) {
  if (mask == nullptr) return true;
  for (std::int64_t j = 0; j < Sk; ++j)
    if (mask[b * Sk + j] != 0.0f) return true;
  return false;
}

// C[m, n] = alpha op(A) op(B) (+ beta C), row-major, contiguous.
void sgemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, float alpha, const float* a,
           const float* b, float beta, float* c) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, static_cast<blasint>(m),
              static_cast<blasint>(n), static_cast<blasint>(k), alpha, a, static_cast<blasint>(ta ? m : k), b,
              static_cast<blasint>(tb ? k : n), beta, c, static_cast<blasint>(n));
}

// body(bh) for every (batch, head) pair, over OpenMP's threads when there are several.
template <class Body>
void for_heads(std::int64_t count, Body&& body) {
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (threads <= 1 || count < 2) {
    for (std::int64_t i = 0; i < count; ++i) body(i);
    return;
  }
#pragma omp parallel for schedule(static) num_threads(threads)
  for (std::int64_t i = 0; i < count; ++i) body(i);
}

}  // namespace

bool attention_forward(const AttentionDims& d, const float* q, const float* k, const float* v, const float* key_mask,
                       double dropout_p, std::uint64_t seed, std::uint64_t offset, float* out, float* probs,
                       float* drop_mask) {
  const IsaTable* t = active_table();
  if (!t || probs == nullptr) return false;
  const std::int64_t Sq = d.q_len, Sk = d.kv_len, D = d.head_dim, H = d.heads;
  if (Sq == 0 || D == 0) return false;
  if (Sk == 0) return false;  // the reference defines the empty case
  const bool use_dropout = dropout_p > 0.0 && drop_mask != nullptr;
  const float p_f32 = static_cast<float>(dropout_p);
  const float keep_scale = 1.0f / (1.0f - static_cast<float>(dropout_p));
  for_heads(d.batch * H, [&](std::int64_t bh) {
    const std::int64_t b = bh / H;
    const bool any_kept = any_key_kept(key_mask, b, Sk);
    float* P = probs + bh * Sq * Sk;
    if (any_kept) {
      sgemm(false, true, Sq, Sk, D, static_cast<float>(d.scale), q + bh * Sq * D, k + bh * Sk * D, 0.0f, P);
      if (key_mask)
        for (std::int64_t i = 0; i < Sq; ++i)
          for (std::int64_t j = 0; j < Sk; ++j)
            if (key_mask[b * Sk + j] == 0.0f) P[i * Sk + j] = -INFINITY;
      for (std::int64_t i = 0; i < Sq; ++i) t->softmax_row(Sk, P + i * Sk);
    } else {  // no kept key: uniform probabilities, as the reference
      const float u = static_cast<float>(1.0 / static_cast<double>(Sk));
      for (std::int64_t e = 0; e < Sq * Sk; ++e) P[e] = u;
    }
    const float* Pt = P;
    std::vector<float> dropped;
    if (use_dropout) {
      dropped.resize(static_cast<std::size_t>(Sq * Sk));
      float* M = drop_mask + bh * Sq * Sk;
      for (std::int64_t e = 0; e < Sq * Sk; ++e) {
        const std::int64_t flat = bh * Sq * Sk + e;
        const float u = philox_uniform_f32(philox4x32_10(seed, offset + static_cast<std::uint64_t>(flat)));
        M[e] = u >= p_f32 ? keep_scale : 0.0f;
        dropped[e] = P[e] * M[e];
      }
      Pt = dropped.data();
    }
    sgemm(false, false, Sq, D, Sk, 1.0f, Pt, v + bh * Sk * D, 0.0f, out + bh * Sq * D);
  });
  return true;
}

bool attention_backward(const AttentionDims& d, const float* q, const float* k, const float* v, const float* key_mask,
                        const float* probs, const float* drop_mask, const float* gout, float* gq, float* gk,
                        float* gv) {
  if (!active_table()) return false;
  const std::int64_t Sq = d.q_len, Sk = d.kv_len, D = d.head_dim, H = d.heads;
  if (Sq == 0 || Sk == 0 || D == 0) return false;
  for_heads(d.batch * H, [&](std::int64_t bh) {
    const std::int64_t b = bh / H;
    const bool any_kept = any_key_kept(key_mask, b, Sk);
    const float* P = probs + bh * Sq * Sk;
    const float* M = drop_mask ? drop_mask + bh * Sq * Sk : nullptr;
    const float* go = gout + bh * Sq * D;
    std::vector<float> dS(static_cast<std::size_t>(Sq * Sk)), Pt;
    if (M) {
      Pt.resize(static_cast<std::size_t>(Sq * Sk));
      for (std::int64_t e = 0; e < Sq * Sk; ++e) Pt[e] = P[e] * M[e];
    }
    if (gv) sgemm(true, false, Sk, D, Sq, 1.0f, M ? Pt.data() : P, go, 0.0f, gv + bh * Sk * D);  // dV = P~^T dO
    if (!gq && !gk) return;
    if (!any_kept) {  // the scores are constant there: no gradient to q or k
      if (gq) std::fill(gq + bh * Sq * D, gq + (bh + 1) * Sq * D, 0.0f);
      if (gk) std::fill(gk + bh * Sk * D, gk + (bh + 1) * Sk * D, 0.0f);
      return;
    }
    sgemm(false, true, Sq, Sk, D, 1.0f, go, v + bh * Sk * D, 0.0f, dS.data());  // dP~ = dO V^T
    const float c = static_cast<float>(d.scale);
    for (std::int64_t i = 0; i < Sq; ++i) {
      float* ds = dS.data() + i * Sk;
      const float* p = P + i * Sk;
      double di = 0;  // D_i = sum_j p_ij dL/dp_ij, dL/dp_ij = m_ij dP~_ij
      if (M) {
        const float* m = M + i * Sk;
        for (std::int64_t j = 0; j < Sk; ++j) {
          ds[j] *= m[j];
          di += static_cast<double>(p[j]) * ds[j];
        }
      } else {
        for (std::int64_t j = 0; j < Sk; ++j) di += static_cast<double>(p[j]) * ds[j];
      }
      const float dif = static_cast<float>(di);
      for (std::int64_t j = 0; j < Sk; ++j) ds[j] = c * p[j] * (ds[j] - dif);
    }
    if (gq) sgemm(false, false, Sq, D, Sk, 1.0f, dS.data(), k + bh * Sk * D, 0.0f, gq + bh * Sq * D);  // dQ = dS K
    if (gk) sgemm(true, false, Sk, D, Sq, 1.0f, dS.data(), q + bh * Sq * D, 0.0f, gk + bh * Sk * D);  // dK = dS^T Q
  });
  return true;
}

}  // namespace fg::kernels::fast
