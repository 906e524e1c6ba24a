// kernels/lstm.h: the LSTM recurrence over a whole sequence, and one fused LSTM cell.
//
// Gates (PyTorch's order and equations, torch.nn.LSTM / LSTMCell). For hidden size H the
// pre-activation a = x W_ih^T + b_ih + h W_hh^T + b_hh has 4H entries, in chunks
//   a = [a_i | a_f | a_g | a_o]
//   i = sigmoid(a_i)   f = sigmoid(a_f)   g = tanh(a_g)   o = sigmoid(a_o)
//   c' = f * c + i * g
//   h' = o * tanh(c')
// Backward of one cell, given dh' and dc' (the gradients arriving at h' and c'):
//   dc  = dc' + dh' * o * (1 - tanh(c')^2)             (total gradient at c')
//   da_o = dh' * tanh(c') * o (1 - o)
//   da_i = dc * g * i (1 - i)
//   da_f = dc * c * f (1 - f)
//   da_g = dc * i * (1 - g^2)
//   d(c) = dc * f                                       (to the previous cell state)
//   d(h) = da W_hh         d(x) = da W_ih                (the two GEMMs)
//   dW_hh += da^T h        dW_ih += da^T x       db_ih = db_hh = sum da
//
// ---- lstm_recurrence_*: all time steps of one layer, one direction, in one call.
// The input projection is NOT part of it: the engine computes it for all steps at once
// as one GEMM (gates_x = x W_ih^T + b_ih, [T, B, 4H]); the recurrence adds h W_hh^T + bias.
// Shapes (T = time axis, B = batch, H = hidden), all dense row-major:
//   gates_x  [T, B, 4H]   w_hh [4H, H]   bias [4H] or null (zero)
//   lengths  int64 [B] in [0, T], on the kernel's device, or null (every length is T)
//   h0, c0   [B, H] or null (zeros)
//   out      [T, B, H]    h of every valid position, 0 at positions t >= lengths[b]
//   cells    [T, B, H]    c of every valid position, 0 at positions t >= lengths[b]
//   h_n, c_n [B, H]       the state after each sequence's own last step (h0/c0 if length 0)
//   gates    [T, B, 4H]   saved for the backward: the ACTIVATED gates [i | f | g | o],
//                         0 at positions t >= lengths[b]
// Sequence b runs lengths[b] steps s = 0, 1, ..., lengths[b] - 1 at positions
//   p(s) = s                       forward
//   p(s) = lengths[b] - 1 - s      reverse (each sequence reversed within its own length,
//                                  as PyTorch's packed bidirectional LSTM)
// and step s reads gates_x[p(s), b] and writes out/cells/gates at [p(s), b]. Steps are
// run for s < max_length = max_b lengths[b] (computed by the engine on the host).
//
// Backward through time (per sequence b, carries dh, dc [H]):
//   dh = grad_h_n[b], dc = grad_c_n[b]
//   for s = lengths[b] - 1 down to 0, at p = p(s), with c_prev = cells at p(s - 1) (c0 at s = 0):
//     dh += grad_out[p]; dc += grad_cells[p]
//     da = the cell backward above with (dh, dc) as (dh', dc')  -> grad_gates_x[p] = da
//     dc = dc * f;  dh = da W_hh
//   grad_h0[b] = dh, grad_c0[b] = dc
//   grad_w_hh = sum over valid (s, b) of da^T h_prev (h_prev = out at p(s - 1), h0 at s = 0)
//   grad_bias = sum over valid (s, b) of da
// grad_gates_x is also the gradient of the pre-activations, so the engine's GEMM for the
// input projection turns it into dx and dW_ih. Nothing but out, cells and gates is saved:
// tanh(c) is recomputed. Cost per step: the forward does one [B, H] x [H, 4H] product, the
// backward two (dh and dW_hh), plus O(B H) pointwise work.
//
// Contract for implementations (the CUDA one in kernels/cuda/lstm.cu, which may run the
// whole recurrence as one persistent kernel with W_hh resident on chip): every output is
// fully written, padding included; grad_w_hh, grad_bias, grad_h0 and grad_c0 may each be
// null (not wanted) and are overwritten, not accumulated; the incoming gradients grad_out,
// grad_cells, grad_h_n and grad_c_n may each be null (zero).
//
// ---- lstm_cell_*: one step for B rows, the two GEMMs done by the engine:
//   gates_x = x W_ih^T + b_ih  [B, 4H],  gates_h = h W_hh^T + b_hh  [B, 4H],  c [B, H]
//   forward: a = gates_x + gates_h, then the cell above -> h_out, c_out [B, H], and the
//            activated gates [B, 4H] saved for the backward.
//   backward: from grad_h_out, grad_c_out (either may be null = zero) -> grad_pre [B, 4H]
//            (= d gates_x = d gates_h) and grad_c [B, H] (may be null).
#pragma once

#include <cstdint>

#include "kernels/types.h"

namespace fg::kernels {

struct LSTMShape {
  std::int64_t steps = 0;       // T: the time axis of gates_x, out, cells, gates
  std::int64_t batch = 0;       // B
  std::int64_t hidden = 0;      // H
  std::int64_t max_length = 0;  // max over lengths (T without lengths): the steps actually run
  bool reverse = false;
};

FG_KERNEL(lstm_recurrence_forward,
          (DType dt, LSTMShape s, const void* gates_x, const void* w_hh, const void* bias,
           const std::int64_t* lengths, const void* h0, const void* c0, void* out, void* cells, void* h_n,
           void* c_n, void* gates))

FG_KERNEL(lstm_recurrence_backward,
          (DType dt, LSTMShape s, const void* w_hh, const std::int64_t* lengths, const void* h0, const void* c0,
           const void* out, const void* cells, const void* gates, const void* grad_out, const void* grad_cells,
           const void* grad_h_n, const void* grad_c_n, void* grad_gates_x, void* grad_w_hh, void* grad_bias,
           void* grad_h0, void* grad_c0))

FG_KERNEL(lstm_cell_forward, (DType dt, std::int64_t batch, std::int64_t hidden, const void* gates_x,
                              const void* gates_h, const void* c, void* h_out, void* c_out, void* gates))

FG_KERNEL(lstm_cell_backward, (DType dt, std::int64_t batch, std::int64_t hidden, const void* c, const void* c_out,
                               const void* gates, const void* grad_h_out, const void* grad_c_out, void* grad_pre,
                               void* grad_c))

}  // namespace fg::kernels
