// kernels/cuda/lstm_persistent.cuh: the interface between kernels/cuda/lstm.cu (dispatch,
// the general path, the weight-gradient epilogue) and kernels/cuda/lstm_persistent.cu (the
// persistent kernels for hidden sizes up to 128, which keep W_hh on chip for all steps).
// Shapes and semantics are those of kernels/lstm.h; every pointer is float32 device memory.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/cuda/launch_limits.h"

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

// True when hidden size H fits the persistent kernels on the current device (H <= 128, and
// the smallest configuration's static + dynamic shared memory fits the device's opt-in
// limit and its occupancy probe succeeds). Never throws for a device that cannot run them:
// it logs one line ("fusegrad: note: ...") and returns false.
bool persistent_supported(std::int64_t hidden);

// The whole recurrence, one launch each. The backward writes grad_gates_x, da_first,
// grad_h0 and grad_c0; grad_w_hh and grad_bias are formed afterwards from grad_gates_x
// by the caller (kernels/cuda/lstm.cu), off the serial path.
// Return false, after one logged line and without writing anything, when no persistent
// configuration fits or the launch is refused: the caller then runs the general path.
bool persistent_forward(const RecurrenceForwardArgs& args);
bool persistent_backward(const RecurrenceBackwardArgs& args);

// Every configuration (rows 1, 2, 4, 8) of both kernels at hidden size H, with its launch
// shape, for the resource report of tools/gpu-check.sh (bench/cuda_kernel_report.cpp).
std::vector<launch::KernelLaunchShape> persistent_kernel_reports(int hidden);

}  // namespace fg::kernels::cuda_detail::lstm
