// kernels/cpu/attention.cpp: CPU reference for fused scaled dot-product attention
// (shapes, formulas and backward math in kernels/attention.h). One (batch, head, query
// row) at a time: scores, mask, softmax, dropout and the weighted sum of values, in
// double, then rounded to the tensor's dtype. The recompute contract (attention_flash_*)
// is written the same plain way: the forward keeps only each row's log-sum-exp, the
// backward rebuilds p and the dropout mask from q, k, lse and the Philox counters.
#include <cmath>
#include <vector>

#include "kernels/attention.h"
#include "kernels/cpu/cpu_util.h"
#include "kernels/cpu/fast/fast_f32.h"
#include "kernels/random.h"

namespace fg::kernels::cpu {

using cpu_detail::dispatch_float;

namespace {

// Whether batch item b attends to key j, and whether it attends to any key at all.
template <class T>
bool key_kept(const T* key_mask, std::int64_t b, std::int64_t kv_len, std::int64_t j) {
  return key_mask == nullptr || key_mask[b * kv_len + j] != T(0);
}

template <class T>
bool any_key_kept(const T* key_mask, std::int64_t b, std::int64_t kv_len) {
  for (std::int64_t j = 0; j < kv_len; ++j)
    if (key_kept(key_mask, b, kv_len, j)) return true;
  return false;
}

}  // namespace

void attention_forward(DType dt, const AttentionDims& d, const void* q, const void* k, const void* v,
                       const void* key_mask, double dropout_p, std::uint64_t seed, std::uint64_t offset, void* out,
                       void* probs, void* drop_mask) {
  // float32: the GEMM version of kernels/cpu/fast/attention_f32.cpp
  if (dt == DType::f32 &&
      fast::attention_forward(d, static_cast<const float*>(q), static_cast<const float*>(k),
                              static_cast<const float*>(v), static_cast<const float*>(key_mask), dropout_p, seed,
                              offset, static_cast<float*>(out), static_cast<float*>(probs),
                              static_cast<float*>(drop_mask)))
    return;
  dispatch_float(dt, "attention_forward", [&](auto tag) {
    using T = decltype(tag);
    const T* qs = static_cast<const T*>(q);
    const T* ks = static_cast<const T*>(k);
    const T* vs = static_cast<const T*>(v);
    const T* mask = static_cast<const T*>(key_mask);
    T* os = static_cast<T*>(out);
    T* ps = static_cast<T*>(probs);
    T* ms = static_cast<T*>(drop_mask);
    const std::int64_t Sq = d.q_len, Sk = d.kv_len, D = d.head_dim;
    const bool use_dropout = dropout_p > 0.0 && ms != nullptr;
    const float p_f32 = static_cast<float>(dropout_p);
    const T keep_scale = T(1) / (T(1) - T(dropout_p));  // as ops dropout: T(1) / (T(1) - T(p))
    std::vector<double> s(static_cast<std::size_t>(Sk)), acc(static_cast<std::size_t>(D));
    for (std::int64_t b = 0; b < d.batch; ++b) {
      const bool any_kept = any_key_kept(mask, b, Sk);
      for (std::int64_t h = 0; h < d.heads; ++h) {
        const std::int64_t bh = b * d.heads + h;
        const T* kb = ks + bh * Sk * D;
        const T* vb = vs + bh * Sk * D;
        for (std::int64_t i = 0; i < Sq; ++i) {
          const T* qi = qs + (bh * Sq + i) * D;
          const std::int64_t row = (bh * Sq + i) * Sk;  // first element of this row in probs
          // scores and softmax over the kept keys (all keys get 1/Sk when none is kept)
          double m = -INFINITY;
          for (std::int64_t j = 0; j < Sk; ++j) {
            if (any_kept && !key_kept(mask, b, Sk, j)) {
              s[j] = -INFINITY;
              continue;
            }
            double dot = 0;
            for (std::int64_t t = 0; t < D; ++t) dot += static_cast<double>(qi[t]) * kb[j * D + t];
            s[j] = any_kept ? d.scale * dot : 0.0;
            m = std::max(m, s[j]);
          }
          double z = 0;
          for (std::int64_t j = 0; j < Sk; ++j) {
            s[j] = s[j] == -INFINITY ? 0.0 : std::exp(s[j] - m);
            z += s[j];
          }
          std::fill(acc.begin(), acc.end(), 0.0);
          for (std::int64_t j = 0; j < Sk; ++j) {
            const T p = static_cast<T>(s[j] / z);
            ps[row + j] = p;
            T pt = p;  // the probability after dropout
            if (use_dropout) {
              const float u = philox_uniform_f32(philox4x32_10(seed, offset + static_cast<std::uint64_t>(row + j)));
              ms[row + j] = u >= p_f32 ? keep_scale : T(0);
              pt = p * ms[row + j];
            }
            if (pt == T(0)) continue;
            for (std::int64_t t = 0; t < D; ++t) acc[t] += static_cast<double>(pt) * vb[j * D + t];
          }
          T* oi = os + (bh * Sq + i) * D;
          for (std::int64_t t = 0; t < D; ++t) oi[t] = static_cast<T>(acc[t]);
        }
      }
    }
  });
}

void attention_backward(DType dt, const AttentionDims& d, const void* q, const void* k, const void* v,
                        const void* key_mask, const void* probs, const void* drop_mask, const void* gout, void* gq,
                        void* gk, void* gv) {
  if (dt == DType::f32 &&
      fast::attention_backward(d, static_cast<const float*>(q), static_cast<const float*>(k),
                               static_cast<const float*>(v), static_cast<const float*>(key_mask),
                               static_cast<const float*>(probs), static_cast<const float*>(drop_mask),
                               static_cast<const float*>(gout), static_cast<float*>(gq), static_cast<float*>(gk),
                               static_cast<float*>(gv)))
    return;
  dispatch_float(dt, "attention_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* qs = static_cast<const T*>(q);
    const T* ks = static_cast<const T*>(k);
    const T* vs = static_cast<const T*>(v);
    const T* mask = static_cast<const T*>(key_mask);
    const T* ps = static_cast<const T*>(probs);
    const T* ms = static_cast<const T*>(drop_mask);
    const T* gos = static_cast<const T*>(gout);
    T* gqs = static_cast<T*>(gq);
    T* gks = static_cast<T*>(gk);
    T* gvs = static_cast<T*>(gv);
    const std::int64_t Sq = d.q_len, Sk = d.kv_len, D = d.head_dim;
    // Key-side gradients are sums over query rows: accumulate one (b, h) slice in double.
    std::vector<double> gk_acc(gks ? Sk * D : 0), gv_acc(gvs ? Sk * D : 0);
    std::vector<double> dp(static_cast<std::size_t>(Sk)), gq_acc(static_cast<std::size_t>(D));
    for (std::int64_t b = 0; b < d.batch; ++b) {
      const bool any_kept = any_key_kept(mask, b, Sk);
      for (std::int64_t h = 0; h < d.heads; ++h) {
        const std::int64_t bh = b * d.heads + h;
        const T* kb = ks + bh * Sk * D;
        const T* vb = vs + bh * Sk * D;
        std::fill(gk_acc.begin(), gk_acc.end(), 0.0);
        std::fill(gv_acc.begin(), gv_acc.end(), 0.0);
        for (std::int64_t i = 0; i < Sq; ++i) {
          const T* qi = qs + (bh * Sq + i) * D;
          const T* goi = gos + (bh * Sq + i) * D;
          const std::int64_t row = (bh * Sq + i) * Sk;
          // dL/dp_ij = m_ij go_i . v_j;  D_i = sum_j p_ij dL/dp_ij;  dL/dv_j += p_ij m_ij go_i
          double d_i = 0;
          for (std::int64_t j = 0; j < Sk; ++j) {
            const double p = ps[row + j];
            const double mj = ms ? static_cast<double>(ms[row + j]) : 1.0;
            if (p == 0.0 || mj == 0.0) {
              dp[j] = 0.0;
              continue;
            }
            double dot = 0;
            for (std::int64_t t = 0; t < D; ++t) dot += static_cast<double>(goi[t]) * vb[j * D + t];
            dp[j] = mj * dot;
            d_i += p * dp[j];
            if (gvs)
              for (std::int64_t t = 0; t < D; ++t) gv_acc[j * D + t] += p * mj * goi[t];
          }
          // dL/ds_ij = p_ij (dL/dp_ij - D_i) (zero for a row with no kept key: s is constant there)
          std::fill(gq_acc.begin(), gq_acc.end(), 0.0);
          for (std::int64_t j = 0; any_kept && j < Sk; ++j) {
            const double p = ps[row + j];
            if (p == 0.0) continue;
            const double ds = d.scale * p * (dp[j] - d_i);  // with the scale folded in
            for (std::int64_t t = 0; t < D; ++t) {
              gq_acc[t] += ds * kb[j * D + t];
              if (gks) gk_acc[j * D + t] += ds * qi[t];
            }
          }
          if (gqs)
            for (std::int64_t t = 0; t < D; ++t) gqs[(bh * Sq + i) * D + t] = static_cast<T>(gq_acc[t]);
        }
        for (std::int64_t e = 0; gks && e < Sk * D; ++e) gks[bh * Sk * D + e] = static_cast<T>(gk_acc[e]);
        for (std::int64_t e = 0; gvs && e < Sk * D; ++e) gvs[bh * Sk * D + e] = static_cast<T>(gv_acc[e]);
      }
    }
  });
}

// ---------------------------------------------------------------- recompute contract

namespace {

// Row i of (b, h): fills s[j] with the masked scores (-inf for padding; all 0 when the item
// has no kept key) and returns the row's log-sum-exp.
template <class T>
double row_scores(const AttentionDims& d, const T* qi, const T* kb, const T* mask, std::int64_t b, bool any_kept,
                  std::vector<double>& s) {
  const std::int64_t Sk = d.kv_len, D = d.head_dim;
  double m = -INFINITY;
  for (std::int64_t j = 0; j < Sk; ++j) {
    if (any_kept && !key_kept(mask, b, Sk, j)) {
      s[j] = -INFINITY;
      continue;
    }
    double dot = 0;
    for (std::int64_t t = 0; t < D; ++t) dot += static_cast<double>(qi[t]) * kb[j * D + t];
    s[j] = any_kept ? d.scale * dot : 0.0;
    m = std::max(m, s[j]);
  }
  double z = 0;
  for (std::int64_t j = 0; j < Sk; ++j) z += s[j] == -INFINITY ? 0.0 : std::exp(s[j] - m);
  return m + std::log(z);
}

// The dropout multiplier of element (row, j): ops dropout's rule.
template <class T>
T drop_multiplier(double dropout_p, std::uint64_t seed, std::uint64_t offset, std::int64_t flat) {
  if (dropout_p <= 0.0) return T(1);
  const float u = philox_uniform_f32(philox4x32_10(seed, offset + static_cast<std::uint64_t>(flat)));
  return u >= static_cast<float>(dropout_p) ? T(1) / (T(1) - T(dropout_p)) : T(0);
}

}  // namespace

void attention_flash_forward(DType dt, const AttentionDims& d, const void* q, const void* k, const void* v,
                             const void* key_mask, double dropout_p, std::uint64_t seed, std::uint64_t offset,
                             void* out, void* lse) {
  dispatch_float(dt, "attention_flash_forward", [&](auto tag) {
    using T = decltype(tag);
    const T* qs = static_cast<const T*>(q);
    const T* ks = static_cast<const T*>(k);
    const T* vs = static_cast<const T*>(v);
    const T* mask = static_cast<const T*>(key_mask);
    T* os = static_cast<T*>(out);
    T* ls = static_cast<T*>(lse);
    const std::int64_t Sq = d.q_len, Sk = d.kv_len, D = d.head_dim;
    std::vector<double> s(static_cast<std::size_t>(Sk)), acc(static_cast<std::size_t>(D));
    for (std::int64_t b = 0; b < d.batch; ++b) {
      const bool any_kept = any_key_kept(mask, b, Sk);
      for (std::int64_t h = 0; h < d.heads; ++h) {
        const std::int64_t bh = b * d.heads + h;
        for (std::int64_t i = 0; i < Sq; ++i) {
          const std::int64_t r = bh * Sq + i;
          const double l = row_scores(d, qs + r * D, ks + bh * Sk * D, mask, b, any_kept, s);
          ls[r] = static_cast<T>(l);
          std::fill(acc.begin(), acc.end(), 0.0);
          for (std::int64_t j = 0; j < Sk; ++j) {
            if (s[j] == -INFINITY) continue;
            // p rounded to T as the saved-probabilities kernel rounds it, so both contracts agree
            const T pt = static_cast<T>(std::exp(s[j] - l)) * drop_multiplier<T>(dropout_p, seed, offset, r * Sk + j);
            for (std::int64_t t = 0; t < D; ++t) acc[t] += static_cast<double>(pt) * vs[(bh * Sk + j) * D + t];
          }
          for (std::int64_t t = 0; t < D; ++t) os[r * D + t] = static_cast<T>(acc[t]);
        }
      }
    }
  });
}

void attention_flash_backward(DType dt, const AttentionDims& d, const void* q, const void* k, const void* v,
                              const void* key_mask, double dropout_p, std::uint64_t seed, std::uint64_t offset,
                              const void* out, const void* lse, const void* gout, void* gq, void* gk, void* gv) {
  dispatch_float(dt, "attention_flash_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* qs = static_cast<const T*>(q);
    const T* ks = static_cast<const T*>(k);
    const T* vs = static_cast<const T*>(v);
    const T* mask = static_cast<const T*>(key_mask);
    const T* os = static_cast<const T*>(out);
    const T* ls = static_cast<const T*>(lse);
    const T* gos = static_cast<const T*>(gout);
    T* gqs = static_cast<T*>(gq);
    T* gks = static_cast<T*>(gk);
    T* gvs = static_cast<T*>(gv);
    const std::int64_t Sq = d.q_len, Sk = d.kv_len, D = d.head_dim;
    std::vector<double> gk_acc(static_cast<std::size_t>(Sk * D)), gv_acc(static_cast<std::size_t>(Sk * D));
    std::vector<double> s(static_cast<std::size_t>(Sk)), gq_acc(static_cast<std::size_t>(D));
    for (std::int64_t b = 0; b < d.batch; ++b) {
      const bool any_kept = any_key_kept(mask, b, Sk);
      for (std::int64_t h = 0; h < d.heads; ++h) {
        const std::int64_t bh = b * d.heads + h;
        const T* kb = ks + bh * Sk * D;
        const T* vb = vs + bh * Sk * D;
        std::fill(gk_acc.begin(), gk_acc.end(), 0.0);
        std::fill(gv_acc.begin(), gv_acc.end(), 0.0);
        for (std::int64_t i = 0; i < Sq; ++i) {
          const std::int64_t r = bh * Sq + i;
          const T* qi = qs + r * D;
          const T* goi = gos + r * D;
          row_scores(d, qi, kb, mask, b, any_kept, s);  // the saved lse is used below, as the GPU does
          double d_i = 0;  // D_i = go_i . o_i
          for (std::int64_t t = 0; t < D; ++t) d_i += static_cast<double>(goi[t]) * os[r * D + t];
          std::fill(gq_acc.begin(), gq_acc.end(), 0.0);
          for (std::int64_t j = 0; j < Sk; ++j) {
            if (s[j] == -INFINITY) continue;
            const double p = std::exp(s[j] - static_cast<double>(ls[r]));
            const double mj = drop_multiplier<T>(dropout_p, seed, offset, r * Sk + j);
            double dot = 0;  // go_i . v_j
            for (std::int64_t t = 0; t < D; ++t) dot += static_cast<double>(goi[t]) * vb[j * D + t];
            for (std::int64_t t = 0; t < D; ++t) gv_acc[j * D + t] += p * mj * goi[t];
            if (!any_kept) continue;  // s is constant there: no gradient to q or k
            const double ds = d.scale * p * (mj * dot - d_i);
            for (std::int64_t t = 0; t < D; ++t) {
              gq_acc[t] += ds * kb[j * D + t];
              gk_acc[j * D + t] += ds * qi[t];
            }
          }
          if (gqs)
            for (std::int64_t t = 0; t < D; ++t) gqs[r * D + t] = static_cast<T>(gq_acc[t]);
        }
        for (std::int64_t e = 0; gks && e < Sk * D; ++e) gks[bh * Sk * D + e] = static_cast<T>(gk_acc[e]);
        for (std::int64_t e = 0; gvs && e < Sk * D; ++e) gvs[bh * Sk * D + e] = static_cast<T>(gv_acc[e]);
      }
    }
  });
}

}  // namespace fg::kernels::cpu
