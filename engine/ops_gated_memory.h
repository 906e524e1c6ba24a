// engine/ops_gated_memory.h: the multi-view gated memory of the Memory Fusion Network
// (models/mfn.h) as one fused op over all time steps: the only serial part of MFN.
// kernels/mfn.h has the equations, the saved tensors and the backward; docs/mfn.md
// explains why everything else of MFN runs for all steps at once.
//
//   u_all = gated_memory_recurrence(gate_x, u_hat, w_u, w1, b1, w2, b2, lengths, drop)
//
// equals (and the tests check it against) this loop of basic ops, with u = 0 at the start:
//   for t in 0 .. T-1:
//     hid = relu(gate_x[t] + linear(u, w_u)) * drop[t]            [B, G1 + G2]
//     g1  = sigmoid(linear(hid[:, :G1], w1, b1))                   [B, M]
//     g2  = sigmoid(linear(hid[:, G1:], w2, b2))
//     u   = where(t < lengths, g1 * u + g2 * u_hat[t], u);  u_all[t] = u
// In MFN, gate_x = attended W_att^T + bias: the first layers of the two gamma networks
// applied to the attended vector for all steps at once; w_u holds the same layers' columns
// acting on u_{t-1}; (w1, b1) and (w2, b2) are their second layers.
#pragma once

#include "engine/tensor.h"

namespace fg {

// gate_x [T, B, G1 + G2], u_hat [T, B, M], w_u [G1 + G2, M], w1 [M, G1], b1 [M], w2 [M, G2],
// b2 [M]; lengths int64 [B] in [0, T] (any device) or undefined (all T); drop [T, B, G1 + G2]
// dropout multipliers (0 or 1/(1-p)) or undefined (no dropout); never differentiated.
// G1 is w1.size(1). Returns u_all [T, B, M]. Differentiable in all seven float inputs.
Tensor gated_memory_recurrence(const Tensor& gate_x, const Tensor& u_hat, const Tensor& w_u, const Tensor& w1,
                               const Tensor& b1, const Tensor& w2, const Tensor& b2, const Tensor& lengths = Tensor(),
                               const Tensor& drop = Tensor());

}  // namespace fg
