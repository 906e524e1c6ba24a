// kernels/mfn.h: the serial part of the Memory Fusion Network (models/mfn.h), the gated
// memory recurrence, as one fused op: all T steps in one call forward, one call backward.
//
// Everything of MFN that does not depend on the memory u is computed before, for all steps
// at once (the modality LSTMs, the Delta-memory attention, the candidate memory u_hat, and
// the part of the gamma networks' first layers that acts on the attended vector). What is
// left for step t and example b (G = G1 + G2 hidden units of the two gamma networks,
// M = memory size):
//   pre_t   = gate_x[t, b] + W_u u_{t-1}              [G]    W_u [G, M]: the gamma networks'
//                                                            first-layer columns acting on u
//   hid_t   = relu(pre_t) * drop[t, b]                [G]    drop: dropout multipliers
//                                                            (0 or 1/(1-p)), or null (all 1)
//   z1_t    = W1 hid_t[:G1] + b1,  z2_t = W2 hid_t[G1:] + b2   [M]  (second layers)
//   g1, g2  = sigmoid(z1_t), sigmoid(z2_t)
//   u_t     = g1 * u_{t-1} + g2 * u_hat[t, b]          for t < lengths[b]
//   u_t     = u_{t-1}                                   for t >= lengths[b] (frozen: padding
//                                                       never reaches the memory)
// with u_{-1} = 0. Output: u_all [T, B, M] (u_t at every t; u_all[T-1] is each example's
// memory at its own length).
//
// Backward (per example b, carrying du = dL/du_t, starting at 0; for t = T-1 down to 0):
//   du += grad_u_all[t, b]
//   invalid step (t >= lengths[b]): u_t = u_{t-1}, so du passes unchanged; the step's
//     gradients (grad_gate_x, grad_u_hat, grad_z) are 0
//   valid step:
//     grad_u_hat[t, b] = du * g2
//     dz1 = du * u_{t-1} * g1 (1 - g1),   dz2 = du * u_hat * g2 (1 - g2)      -> grad_z[t, b]
//     dhid[:G1] = W1^T dz1,  dhid[G1:] = W2^T dz2
//     dpre = dhid * drop * [pre > 0]                                           -> grad_gate_x[t, b]
//     du = du * g1 + W_u^T dpre                                                (to u_{t-1})
// The weight gradients are sums over all (t, b) of outer products, so the engine computes
// them after the serial loop as GEMMs over the T*B rows (nothing in them is serial):
//   grad_W_u = grad_gate_x^T u_prev   (u_prev[t] = u_{t-1}, zeros at t = 0)
//   grad_W1  = grad_z1^T hid[:, :G1],  grad_b1 = sum grad_z1   (and W2, b2 alike)
// The kernels therefore only produce grad_gate_x [T, B, G], grad_u_hat [T, B, M] and
// grad_z [T, B, 2M] (= [dz1 | dz2]).
//
// Saved by the forward for the backward: pre [T, B, G] (before the ReLU) and gammas
// [T, B, 2M] (= [g1 | g2]); both 0 at invalid steps. u_all is the output.
//
// Shapes: gate_x [T, B, G], u_hat [T, B, M], w_u [G, M], w1 [M, G1], b1 [M], w2 [M, G2],
// b2 [M], drop [T, B, G] or null, lengths int64 [B] (on the kernel's device) or null (all T).
// Every output is fully written (padding included).
#pragma once

#include <cstdint>

#include "kernels/types.h"

namespace fg::kernels {

struct GatedMemoryShape {
  std::int64_t steps = 0;   // T
  std::int64_t batch = 0;   // B
  std::int64_t gate1 = 0;   // G1: hidden units of the first gate network (retain, gamma1)
  std::int64_t gate2 = 0;   // G2: hidden units of the second gate network (update, gamma2)
  std::int64_t memory = 0;  // M
};

FG_KERNEL(gated_memory_forward,
          (DType dt, GatedMemoryShape s, const void* gate_x, const void* u_hat, const void* w_u, const void* w1,
           const void* b1, const void* w2, const void* b2, const void* drop, const std::int64_t* lengths, void* u_all,
           void* pre, void* gammas))

FG_KERNEL(gated_memory_backward,
          (DType dt, GatedMemoryShape s, const void* u_hat, const void* w_u, const void* w1, const void* w2,
           const void* drop, const std::int64_t* lengths, const void* u_all, const void* pre, const void* gammas,
           const void* grad_u_all, void* grad_gate_x, void* grad_u_hat, void* grad_z))

}  // namespace fg::kernels
