// engine/ops_gated_memory.cpp: gated_memory_recurrence (engine/ops_gated_memory.h,
// kernels/mfn.h). The serial loop is one kernel call each way; the weight gradients are
// sums of outer products over all T*B rows, so the backward forms them with GEMMs after
// the kernel (fg::matmul under the backward's NoGradGuard).
#include "engine/ops_gated_memory.h"

#include <string>

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_helpers.h"
#include "engine/ops.h"
#include "kernels/mfn.h"

namespace fg {

using detail::check_float;
using detail::check_same;
using detail::out_ptr;
using detail::ptr_or_null;

namespace {

// Throws unless t is defined, shares ref's dtype and device, and has shape `want`.
void check_shape(const Tensor& t, const Tensor& ref, const Shape& want, const char* op, const char* what) {
  FG_CHECK(t.defined() && t.shape() == want, "{}: {} must be {}, got {}", op, what, shape_str(want), t.str());
  check_same(ref, t, op);
}

}  // namespace

Tensor gated_memory_recurrence(const Tensor& gate_x, const Tensor& u_hat, const Tensor& w_u, const Tensor& w1,
                               const Tensor& b1, const Tensor& w2, const Tensor& b2, const Tensor& lengths,
                               const Tensor& drop) {
  const char* op = "gated_memory_recurrence";
  check_float(gate_x, op);
  FG_CHECK(gate_x.dim() == 3, "{}: gate_x must be [T, B, G1 + G2], got {}", op, gate_x.str());
  FG_CHECK(w1.defined() && w1.dim() == 2 && w2.defined() && w2.dim() == 2,
           "{}: w1 and w2 must be [M, G1] and [M, G2], got {} and {}", op, w1.str(), w2.str());
  const std::int64_t T = gate_x.size(0), B = gate_x.size(1), G = gate_x.size(2);
  const std::int64_t M = w1.size(0), G1 = w1.size(1), G2 = w2.size(1);
  FG_CHECK(M > 0 && G1 > 0 && G2 > 0 && G1 + G2 == G,
           "{}: w1 [M, G1] and w2 [M, G2] must split gate_x's last axis ({} = G1 + G2), got w1 {} and w2 {}", op, G,
           w1.str(), w2.str());
  check_shape(u_hat, gate_x, {T, B, M}, op, "u_hat");
  check_shape(w_u, gate_x, {G, M}, op, "w_u");
  check_shape(w1, gate_x, {M, G1}, op, "w1");
  check_shape(b1, gate_x, {M}, op, "b1");
  check_shape(w2, gate_x, {M, G2}, op, "w2");
  check_shape(b2, gate_x, {M}, op, "b2");
  if (drop.defined()) check_shape(drop, gate_x, {T, B, G}, op, "drop");
  Tensor len_dev;
  if (lengths.defined()) {
    FG_CHECK(lengths.dtype() == DType::i64 && lengths.dim() == 1 && lengths.size(0) == B,
             "{}: lengths must be int64 [{}] (one per sequence), got {}", op, B, lengths.str());
    const auto host = lengths.to_vector<std::int64_t>();
    for (std::size_t b = 0; b < host.size(); ++b)
      FG_CHECK(host[b] >= 0 && host[b] <= T, "{}: lengths[{}] = {} is outside [0, {}]", op, b, host[b], T);
    len_dev = lengths.device() == gate_x.device() ? lengths.detach() : lengths.detach().to(gate_x.device());
  }
  const Tensor drop_s = drop.defined() ? drop.detach() : Tensor();
  const auto* len_ptr = len_dev.defined() ? static_cast<const std::int64_t*>(len_dev.data_ptr()) : nullptr;

  const kernels::GatedMemoryShape shape{T, B, G1, G2, M};
  const TensorOptions opts = gate_x.options();
  Tensor u_all = empty({T, B, M}, opts), pre = empty({T, B, G}, opts), gammas = empty({T, B, 2 * M}, opts);
  if (T * B > 0)
    FG_DISPATCH(gate_x.device(), gated_memory_forward, gate_x.dtype(), shape, gate_x.data_ptr(), u_hat.data_ptr(),
                w_u.data_ptr(), w1.data_ptr(), b1.data_ptr(), w2.data_ptr(), b2.data_ptr(),
                ptr_or_null(drop_s), len_ptr, u_all.data_ptr(), pre.data_ptr(),
                gammas.data_ptr());

  autograd::record(
      op, {u_all}, {gate_x, u_hat, w_u, w1, b1, w2, b2},
      [shape, opts, u_hat = u_hat.detach(), w_u = w_u.detach(), w1 = w1.detach(), w2 = w2.detach(), drop_s, len_dev,
       u_all_s = u_all.detach(), pre, gammas](const std::vector<Tensor>& g, const std::vector<bool>& need) {
        const std::int64_t T = shape.steps, B = shape.batch, M = shape.memory, G1 = shape.gate1, G2 = shape.gate2;
        const std::int64_t G = G1 + G2;
        Tensor g_gx = empty({T, B, G}, opts), g_uh = empty({T, B, M}, opts), g_z = empty({T, B, 2 * M}, opts);
        const auto* lp = len_dev.defined() ? static_cast<const std::int64_t*>(len_dev.data_ptr()) : nullptr;
        if (T * B > 0)
          FG_DISPATCH(opts.device, gated_memory_backward, opts.dtype, shape, u_hat.data_ptr(), w_u.data_ptr(),
                      w1.data_ptr(), w2.data_ptr(), ptr_or_null(drop_s), lp,
                      u_all_s.data_ptr(), pre.data_ptr(), gammas.data_ptr(), g[0].data_ptr(), g_gx.data_ptr(),
                      g_uh.data_ptr(), g_z.data_ptr());
        // the weight gradients: sums over the T*B rows, as GEMMs
        const std::int64_t R = T * B;
        Tensor g_wu, g_w1, g_b1, g_w2, g_b2;
        if (need[2]) {  // grad_W_u [G, M] = dpre^T u_prev, u_prev[t] = u_{t-1} (0 at t = 0)
          const Tensor u_prev =
              T > 1 ? concat({zeros({1, B, M}, opts), slice(u_all_s, 0, 0, T - 1)}, 0) : zeros({T, B, M}, opts);
          g_wu = matmul(transpose(reshape(g_gx, {R, G}), 0, 1), reshape(u_prev, {R, M}));
        }
        if (need[3] || need[4] || need[5] || need[6]) {
          Tensor hid = relu(pre);
          if (drop_s.defined()) hid = mul(hid, drop_s);
          const Tensor hid2 = reshape(hid, {R, G}), gz2 = reshape(g_z, {R, 2 * M});
          const Tensor dz1 = slice(gz2, 1, 0, M), dz2 = slice(gz2, 1, M, M);
          if (need[3]) g_w1 = matmul(transpose(dz1, 0, 1), slice(hid2, 1, 0, G1));
          if (need[4]) g_b1 = sum(dz1, 0);
          if (need[5]) g_w2 = matmul(transpose(dz2, 0, 1), slice(hid2, 1, G1, G2));
          if (need[6]) g_b2 = sum(dz2, 0);
        }
        return std::vector<Tensor>{need[0] ? g_gx : Tensor(), need[1] ? g_uh : Tensor(), g_wu, g_w1, g_b1, g_w2,
                                   g_b2};
      });
  return u_all;
}

}  // namespace fg
