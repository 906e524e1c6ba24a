// kernels/cuda/lstm_persistent.cuh: the interface between kernels/cuda/lstm.cu (dispatch,
// the general path, the weight-gradient epilogue) and kernels/cuda/lstm_persistent.cu (the
// persistent kernels for hidden sizes up to 128, which keep W_hh on chip for all steps).
// Shapes and semantics are those of kernels/lstm.h; every pointer is float32 device memory.
#pragma once

#include <cstdint>

namespace fg::kernels::cuda_detail::lstm {

// Largest hidden size the persistent kernels handle (4H = 512 threads, one per gate row).
constexpr int kMaxPersistentHidden = 128;

struct RecurrenceForwardArgs {
  std::int64_t steps = 0;  // T: the time axis of gates_x, out, cells, gates
  std::int64_t batch = 0;  // B
  int hidden = 0;          // H
  bool reverse = false;
  const float* gates_x = nullptr;        // [T, B, 4H]
  const float* w_hh = nullptr;           // [4H, H]
  const float* bias = nullptr;           // [4H] or null
  const std::int64_t* lengths = nullptr; // [B] or null (all T)
  const float* h0 = nullptr;             // [B, H] or null
  const float* c0 = nullptr;             // [B, H] or null
  float* out = nullptr;                  // [T, B, H]
  float* cells = nullptr;                // [T, B, H]
  float* h_n = nullptr;                  // [B, H]
  float* c_n = nullptr;                  // [B, H]
  float* gates = nullptr;                // [T, B, 4H] activated gates
};

struct RecurrenceBackwardArgs {
  std::int64_t steps = 0;
  std::int64_t batch = 0;
  int hidden = 0;
  bool reverse = false;
  const float* w_hh = nullptr;           // [4H, H]
  const std::int64_t* lengths = nullptr; // [B] or null
  const float* c0 = nullptr;             // [B, H] or null: the cell state before step 0
  const float* cells = nullptr;          // [T, B, H] saved by the forward
  const float* gates = nullptr;          // [T, B, 4H] saved by the forward
  const float* grad_out = nullptr;       // [T, B, H] or null
  const float* grad_cells = nullptr;     // [T, B, H] or null
  const float* grad_h_n = nullptr;       // [B, H] or null
  const float* grad_c_n = nullptr;       // [B, H] or null
  float* grad_gates_x = nullptr;         // [T, B, 4H]: da at every position, 0 at padding
  float* da_first = nullptr;             // [B, 4H] or null: da of each sequence's step 0 (0 if length 0)
  float* grad_h0 = nullptr;              // [B, H] or null
  float* grad_c0 = nullptr;              // [B, H] or null
};

// True when hidden size H fits the persistent kernels on the current device (H <= 128 and
// the shared memory of the smallest configuration fits the device's per-block limit).
bool persistent_supported(std::int64_t hidden);

// The whole recurrence, one launch each. The backward writes grad_gates_x, da_first,
// grad_h0 and grad_c0; grad_w_hh and grad_bias are formed afterwards from grad_gates_x
// by the caller (kernels/cuda/lstm.cu), off the serial path.
void persistent_forward(const RecurrenceForwardArgs& args);
void persistent_backward(const RecurrenceBackwardArgs& args);

}  // namespace fg::kernels::cuda_detail::lstm
