// engine/ops_attention.cpp: scaled_dot_product_attention, bias_gelu and add_layer_norm
// (engine/ops_attention.h; kernels/attention.h and kernels/bert_fused.h).
#include "engine/ops_attention.h"

#include <cmath>
#include <string>

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_helpers.h"
#include "engine/ops.h"
#include "kernels/attention.h"
#include "kernels/bert_fused.h"

namespace fg {

using detail::check_float;
using detail::check_same;
using detail::out_ptr;
using detail::ptr_or_null;

namespace {

}  // namespace

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask,
                                    const AttentionOptions& opts, Generator* gen) {
  const char* op = "scaled_dot_product_attention";
  check_float(q, op);
  check_same(q, k, op);
  check_same(q, v, op);
  FG_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4,
           "{}: q, k and v must be [batch, heads, seq, head_dim], got q {}, k {}, v {}", op, q.str(), k.str(), v.str());
  FG_CHECK(k.shape() == v.shape(), "{}: k and v must have one shape, got k {} and v {}", op, k.str(), v.str());
  FG_CHECK(q.size(0) == k.size(0) && q.size(1) == k.size(1) && q.size(3) == k.size(3),
           "{}: q [B, H, Sq, D] and k [B, H, Sk, D] must agree on B, H and D, got q {} and k {}", op, q.str(), k.str());
  kernels::AttentionDims d;
  d.batch = q.size(0);
  d.heads = q.size(1);
  d.q_len = q.size(2);
  d.kv_len = k.size(2);
  d.head_dim = q.size(3);
  FG_CHECK(d.kv_len > 0 && d.head_dim > 0, "{}: needs at least one key and head_dim > 0, got k {}", op, k.str());
  FG_CHECK(std::isfinite(opts.scale), "{}: scale must be finite, got {}", op, opts.scale);
  d.scale = opts.scale == 0.0 ? 1.0 / std::sqrt(static_cast<double>(d.head_dim)) : opts.scale;
  FG_CHECK(opts.dropout_p >= 0.0 && opts.dropout_p < 1.0, "{}: dropout_p must be in [0, 1), got {}", op,
           opts.dropout_p);

  Tensor mask;  // in q's dtype, never part of a graph
  if (key_mask.defined()) {
    FG_CHECK(key_mask.device() == q.device(), "{}: key_mask is on {} but q is on {}", op, key_mask.device().str(),
             q.device().str());
    FG_CHECK(key_mask.dim() == 2 && key_mask.size(0) == d.batch && key_mask.size(1) == d.kv_len,
             "{}: key_mask must be [batch, kv_len] = [{}, {}] (1 = attend, 0 = padding), got {}", op, d.batch,
             d.kv_len, key_mask.str());
    mask = key_mask.dtype() == q.dtype() ? key_mask.detach() : key_mask.detach().to(q.dtype());
  }

  const bool dropout = opts.training && opts.dropout_p > 0.0;
  std::uint64_t seed = 0, offset = 0;
  const auto reserve_dropout = [&](std::int64_t n) {
    if (!dropout) return;
    Generator& g = gen ? *gen : default_generator();
    seed = g.seed();
    offset = g.reserve(static_cast<std::uint64_t>(n));
  };
  const bool on_cuda = q.device().is_cuda();
  const bool recompute =
      opts.impl == AttentionImpl::Recompute ||
      (opts.impl == AttentionImpl::Auto && on_cuda && kernels::attention_flash_supported(true, d.head_dim));
  FG_CHECK(!recompute || kernels::attention_flash_supported(on_cuda, d.head_dim),
           "{}: AttentionImpl::Recompute on CUDA needs head_dim 64 (the tiled kernel), got {}; use Saved or Auto", op,
           d.head_dim);
  Tensor out = empty({d.batch, d.heads, d.q_len, d.head_dim}, q.options());

  if (recompute) {
    Tensor lse = empty({d.batch, d.heads, d.q_len}, q.options());
    reserve_dropout(d.batch * d.heads * d.q_len * d.kv_len);  // the same counters as the Saved path
    const double p = dropout ? opts.dropout_p : 0.0;
    if (out.numel() > 0)
      FG_DISPATCH(q.device(), attention_flash_forward, q.dtype(), d, q.data_ptr(), k.data_ptr(), v.data_ptr(),
                  ptr_or_null(mask), p, seed, offset, out.data_ptr(), lse.data_ptr());
    autograd::record(op, {out}, {q, k, v},
                     [q, k, v, mask, p, seed, offset, d, out_s = out.detach(), lse](const std::vector<Tensor>& g,
                                                                                    const std::vector<bool>& need) {
                       Tensor gq = need[0] ? empty_like(q) : Tensor();
                       Tensor gk = need[1] ? empty_like(k) : Tensor();
                       Tensor gv = need[2] ? empty_like(v) : Tensor();
                       if (q.numel() > 0) {
                         FG_DISPATCH(q.device(), attention_flash_backward, q.dtype(), d, q.data_ptr(), k.data_ptr(),
                                     v.data_ptr(), ptr_or_null(mask), p, seed, offset, out_s.data_ptr(),
                                     lse.data_ptr(), g[0].data_ptr(), out_ptr(gq), out_ptr(gk), out_ptr(gv));
                       } else {  // no query rows: nothing reaches k and v
                         if (gk.defined()) gk = zeros_like(k);
                         if (gv.defined()) gv = zeros_like(v);
                       }
                       return std::vector<Tensor>{gq, gk, gv};
                     });
    return out;
  }

  Tensor probs = empty({d.batch, d.heads, d.q_len, d.kv_len}, q.options());
  Tensor drop_mask = dropout ? empty(probs.shape(), q.options()) : Tensor();
  reserve_dropout(probs.numel());
  if (out.numel() > 0 || probs.numel() > 0)
    FG_DISPATCH(q.device(), attention_forward, q.dtype(), d, q.data_ptr(), k.data_ptr(), v.data_ptr(),
                ptr_or_null(mask), dropout ? opts.dropout_p : 0.0, seed, offset, out.data_ptr(), probs.data_ptr(),
                out_ptr(drop_mask));

  autograd::record(op, {out}, {q, k, v}, [q, k, v, mask, probs, drop_mask, d](const std::vector<Tensor>& g,
                                                                             const std::vector<bool>& need) {
    Tensor gq = need[0] ? empty_like(q) : Tensor();
    Tensor gk = need[1] ? empty_like(k) : Tensor();
    Tensor gv = need[2] ? empty_like(v) : Tensor();
    if (q.numel() > 0) {
      FG_DISPATCH(q.device(), attention_backward, q.dtype(), d, q.data_ptr(), k.data_ptr(), v.data_ptr(),
                  ptr_or_null(mask), probs.data_ptr(), ptr_or_null(drop_mask), g[0].data_ptr(), out_ptr(gq),
                  out_ptr(gk), out_ptr(gv));
    } else {  // no query rows: nothing reaches k and v
      if (gk.defined()) gk = zeros_like(k);
      if (gv.defined()) gv = zeros_like(v);
    }
    return std::vector<Tensor>{gq, gk, gv};
  });
  return out;
}

Tensor bias_gelu(const Tensor& x, const Tensor& bias, bool tanh_approx) {
  const char* op = "bias_gelu";
  check_float(x, op);
  check_same(x, bias, op);
  FG_CHECK(bias.dim() == 1 && x.dim() >= 1 && x.size(-1) == bias.size(0),
           "{}: x must be [..., n] and bias [n], got x {} and bias {}", op, x.str(), bias.str());
  const std::int64_t n = bias.size(0);
  const std::int64_t rows = n == 0 ? 0 : x.numel() / n;
  Tensor y = empty_like(x);
  if (y.numel() > 0)
    FG_DISPATCH(x.device(), bias_gelu_forward, x.dtype(), rows, n, tanh_approx, x.data_ptr(), bias.data_ptr(),
                y.data_ptr());
  autograd::record(op, {y}, {x, bias}, [x, bias, rows, n, tanh_approx](const std::vector<Tensor>& g,
                                                                      const std::vector<bool>& need) {
    Tensor gx = need[0] ? empty_like(x) : Tensor();
    Tensor gb = need[1] ? empty_like(bias) : Tensor();
    if (rows > 0 && n > 0) {
      FG_DISPATCH(x.device(), bias_gelu_backward, x.dtype(), rows, n, tanh_approx, x.data_ptr(), bias.data_ptr(),
                  g[0].data_ptr(), out_ptr(gx), out_ptr(gb));
    } else if (gb.defined()) {
      gb = zeros_like(bias);
    }
    return std::vector<Tensor>{gx, gb};
  });
  return y;
}

Tensor add_layer_norm(const Tensor& x, const Tensor& residual, const Tensor& gamma, const Tensor& beta, double eps) {
  const char* op = "add_layer_norm";
  check_float(x, op);
  check_same(x, residual, op);
  FG_CHECK(x.dim() >= 1 && x.shape() == residual.shape(), "{}: x and residual must share a shape [..., n], got {} and {}",
           op, x.str(), residual.str());
  const std::int64_t n = x.size(-1);
  const std::int64_t rows = n == 0 ? 0 : x.numel() / n;
  for (const Tensor* p : {&gamma, &beta}) {
    if (!p->defined()) continue;
    check_same(x, *p, "add_layer_norm (gamma/beta)");
    FG_CHECK(p->dim() == 1 && p->size(0) == n, "{}: gamma and beta must be [{}], got {}", op, n, p->str());
  }
  FG_CHECK(eps >= 0, "{}: eps must be non-negative, got {}", op, eps);
  FG_CHECK(n > 0, "{}: the normalized axis is empty in {}", op, x.str());
  Tensor y = empty_like(x);
  Tensor mu = empty({rows}, x.options()), rstd = empty({rows}, x.options());
  if (rows > 0)
    FG_DISPATCH(x.device(), add_layer_norm_forward, x.dtype(), rows, n, eps, x.data_ptr(), residual.data_ptr(),
                ptr_or_null(gamma), ptr_or_null(beta), y.data_ptr(), mu.data_ptr(), rstd.data_ptr());
  autograd::record(op, {y}, {x, residual, gamma, beta}, [x, residual, gamma, mu, rstd, rows, n](
                                                            const std::vector<Tensor>& g, const std::vector<bool>& need) {
    Tensor gsum = (need[0] || need[1]) ? empty_like(x) : Tensor();
    Tensor gg = need[2] ? empty({n}, x.options()) : Tensor();
    Tensor gb = need[3] ? empty({n}, x.options()) : Tensor();
    if (rows > 0) {
      FG_DISPATCH(x.device(), add_layer_norm_backward, x.dtype(), rows, n, x.data_ptr(), residual.data_ptr(),
                  ptr_or_null(gamma), mu.data_ptr(), rstd.data_ptr(), g[0].data_ptr(), out_ptr(gsum), out_ptr(gg),
                  out_ptr(gb));
    } else {
      if (gg.defined()) gg = zeros({n}, x.options());
      if (gb.defined()) gb = zeros({n}, x.options());
    }
    // x and residual enter as a sum: both receive the same gradient (autograd never
    // writes into a returned gradient in place, so sharing the tensor is safe)
    return std::vector<Tensor>{need[0] ? gsum : Tensor(), need[1] ? gsum : Tensor(), gg, gb};
  });
  return y;
}

}  // namespace fg
