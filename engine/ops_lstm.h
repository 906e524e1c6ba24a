// engine/ops_lstm.h: LSTM ops (kernels/lstm.h has the equations and the backward through time).
//
//   lstm_layer       one layer, one direction, a whole (padded) sequence: the input projection
//                    of all steps as ONE GEMM (x W_ih^T + b_ih, through fg::linear), then
//                    lstm_recurrence for the T serial steps.
//   lstm_recurrence  the serial part alone: all steps in one op (one kernel call forward, one
//                    backward), from precomputed input gates.
//   lstm_cell        one step for a batch (decoders, step-by-step models): two GEMMs through
//                    fg::linear and one fused pointwise op for the gates (lstm_cell_fused).
//
// Gate order and equations are PyTorch's (i, f, g, o; c' = f c + i g; h' = o tanh(c')), so
// weights copied from torch.nn.LSTM / LSTMCell give the same numbers. Layouts are time-major
// ([T, B, ...]); nn::LSTM (engine/nn/lstm.h) adds batch_first, stacking and directions.
//
// Variable lengths (packed sequences): `lengths` is int64 [B] with values in [0, T] (on any
// device: it is copied to the data's device when needed). Sequence b uses positions
// t < lengths[b]; outputs past its length are zero, and h_n/c_n are the state after its own
// last step. With reverse = true each sequence is read backwards within its own length
// (positions lengths[b]-1, ..., 0), as the reverse half of PyTorch's packed bidirectional LSTM.
#pragma once

#include "engine/tensor.h"

namespace fg {

struct LSTMSequenceOutput {
  Tensor output;  // [T, B, H]: h at every position (0 past each sequence's length)
  Tensor h_n;     // [B, H]: final hidden state of each sequence
  Tensor c_n;     // [B, H]: final cell state of each sequence
  Tensor cells;   // [T, B, H]: c at every position (0 past each length); MFN's attention reads it
};

struct LSTMCellOutput {
  Tensor h;  // [B, H]
  Tensor c;  // [B, H]
};

// gates_x [T, B, 4H] (x W_ih^T + b_ih, precomputed), w_hh [4H, H], bias [4H] (b_hh) or
// undefined, lengths int64 [B] or undefined (all T), h0/c0 [B, H] or undefined (zeros).
// Differentiable in gates_x, w_hh, bias, h0 and c0 through all four outputs.
LSTMSequenceOutput lstm_recurrence(const Tensor& gates_x, const Tensor& w_hh, const Tensor& bias = Tensor(),
                                   const Tensor& lengths = Tensor(), const Tensor& h0 = Tensor(),
                                   const Tensor& c0 = Tensor(), bool reverse = false);

// x [T, B, I], w_ih [4H, I], w_hh [4H, H], b_ih/b_hh [4H] or undefined; the rest as lstm_recurrence.
LSTMSequenceOutput lstm_layer(const Tensor& x, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih = Tensor(),
                              const Tensor& b_hh = Tensor(), const Tensor& lengths = Tensor(),
                              const Tensor& h0 = Tensor(), const Tensor& c0 = Tensor(), bool reverse = false);

// x [B, I], h/c [B, H] or undefined (zeros), weights as lstm_layer -> (h', c').
LSTMCellOutput lstm_cell(const Tensor& x, const Tensor& h, const Tensor& c, const Tensor& w_ih, const Tensor& w_hh,
                         const Tensor& b_ih = Tensor(), const Tensor& b_hh = Tensor());

// The cell's pointwise part alone: gates_x, gates_h [B, 4H] (the two projections, biases
// included), c [B, H] -> (h', c'). Differentiable in all three.
LSTMCellOutput lstm_cell_fused(const Tensor& gates_x, const Tensor& gates_h, const Tensor& c);

}  // namespace fg
