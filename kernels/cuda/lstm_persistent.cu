// kernels/cuda/lstm_persistent.cu: the LSTM recurrence as ONE persistent kernel per
// direction of the pass (forward, backward through time), for float32 and hidden sizes
// H <= 128. Equations, shapes and the backward through time: kernels/lstm.h; the
// reference: kernels/cpu/lstm.cpp; dispatch and the general path (H > 128):
// kernels/cuda/lstm.cu; the derivation and the floor arithmetic: docs/lstm.md.
//
// What it computes (per sequence b, steps s = 0 .. lengths[b]-1 at positions p(s)):
//   forward   a = gates_x[p, b] + bias + W_hh h;  [i f g o] = [sig sig tanh sig](a)
//             c = f c + i g;  h = o tanh(c);  out/cells/gates at [p, b] (0 at padding);
//             h_n, c_n = the state after the sequence's own last step.
//   backward  with carries dh, dc (from grad_h_n, grad_c_n), for s = len-1 down to 0:
//             dh += grad_out[p]; dc += grad_cells[p]; tc = tanh(cells[p])
//             dc' = dc + dh o (1 - tc^2)
//             da = [dc' g i(1-i), dc' c_prev f(1-f), dc' i (1-g^2), dh tc o(1-o)]
//             grad_gates_x[p] = da;  dc = dc' f;  dh = W_hh^T da       (the serial part)
//             grad_h0 = dh, grad_c0 = dc after step 0.
//   grad_w_hh = sum da^T h_prev and grad_bias = sum da are NOT formed here: every da is
//   already in grad_gates_x, so kernels/cuda/lstm.cu forms them afterwards with one GEMM
//   and one column sum (deterministic, and off the serial path, where per-block
//   accumulation would double each step's work).
//
// Work split: the batch is cut into groups of ROWS sequences (ROWS in {1, 2, 4, 8}); one
// thread block owns a group and runs ALL its steps, so blocks never wait for each other
// (no grid-wide barrier, any number of waves). ROWS is the fewest that puts every block
// on the device at once (FG_CUDA_LSTM_ROWS=1|2|4|8 forces it, for tests). The block's
// state h, c (forward) or dh, dc (backward) lives in shared memory. With HP = H rounded
// up to a multiple of 8, the block has NT = 4 HP threads; W_hh is loaded once, before step 0:
//   forward   thread t = q HP + j (gate q, unit j) owns ROW q H + j of W_hh and computes
//             a[q H + j] = W_hh[q H + j, :] . h for each row of its group, then applies
//             its gate's activation. A second phase (thread per (row, unit)) updates c, h.
//   backward  thread t = q HP + k owns COLUMN k of the gate block q, W_hh[q H : q H + H, k],
//             and computes part_q[k] = sum_j da[q H + j] W_hh[q H + j, k]; the phase that
//             forms da for step s-1 first adds dh[k] = part_0 + part_1 + part_2 + part_3
//             (a fixed order: bitwise reproducible).
//   Padding threads (j or k >= H) hold zero weights and write nothing.
//
// On-chip layout (the arithmetic is in docs/lstm.md). W_hh is 4H x H floats = 16 H^2
// bytes: 16 KB at H = 32, 64 KB at H = 64, 256 KB at H = 128. An H100 SM has 256 KB of
// registers and at most 227 KB of shared memory per block, so at H = 128 it fits in
// neither alone. Each thread keeps the first KREG = 64 of its H weights in registers
// (KREG = 32 when H <= 32) and the rest in shared memory, column-major by thread
// ([k - KREG][t]: a warp reads 32 consecutive words, no bank conflicts):
//   H = 128: 512 threads x 64 registers = 128 KB of registers (half the file),
//            64 x 512 floats = 128 KB of shared memory (+ the small state buffers);
//   H <= 64: everything in registers, shared memory holds only the state.
// Rejected: all of W_hh in shared memory (256 KB > 227 KB); all in registers (the whole
// register file, nothing left to compute with); bf16/fp16 weights in shared memory (8 or
// 11 mantissa bits: ~1e-3 relative error in every pre-activation, far outside the parity
// tolerance against the float64 reference); a 2-CTA cluster sharing h through distributed
// shared memory (fits, but adds a cluster barrier and remote stores to every step's
// latency and ties the code to sm_90).
// Shared memory per block (floats; the forward adds a staging tile, see below):
//   forward   h, c [ROWS][HP]; pre/activated gates [ROWS][NT]; W tail [HP-KREG][NT];
//             staging [NT][kStageCols + 1] (only used while loading W_hh)
//   backward  dc, dh_init [ROWS][HP]; da, partial dh [ROWS][NT]; W tail [HP-KREG][NT]
// e.g. H = 128, ROWS = 1: forward 149 KB, backward 133 KB (cudaFuncSetAttribute raises the
// 48 KB default); the dispatcher checks the device's opt-in limit and falls back to the
// general path where it does not fit.
// Loading W_hh: the backward's column ownership reads W_hh rows coalesced directly. The
// forward's row ownership would read with a stride of H floats, so it stages 8 columns
// at a time through a padded shared tile (rows of 9: conflict-free), read coalesced.
//
// Per step the forward does 2 block barriers (gates -> state update -> next step), the
// backward 2 (da -> W^T da -> next step); the inputs of the next step (gates_x forward;
// saved gates, cells and incoming gradients backward) are prefetched into registers one
// step ahead, so global-memory latency is off the serial path.
// Numerics: float32 throughout, each dot product summed in two interleaved partial sums;
// expf/tanhf (full precision, no fast-math intrinsics).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <vector>
#include <cstdio>
#include <string>
#include <tuple>

#include "engine/cuda/check.h"
#include "engine/cuda/runtime.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/launch_limits.h"
#include "kernels/cuda/lstm_persistent.cuh"

namespace fg::kernels::cuda_detail::lstm {

namespace {

constexpr int kMaxThreads = 4 * kMaxPersistentHidden;  // 512
constexpr int kStageCols = 8;                          // W_hh columns per staging pass (forward)
constexpr int kStagePitch = kStageCols + 1;            // padded row of the staging tile

__host__ __device__ __forceinline__ int padded_hidden(int H) { return (H + 7) / 8 * 8; }

// Register-resident weight columns per thread for hidden size H and `rows` sequences per
// block. Eight rows keep 16 accumulators and 8 prefetched inputs live per thread; at 512
// threads (128 registers each) they spill even with fewer weight columns in registers
// (ptxas, sm_90: 64 columns 28-116 bytes, 48 columns 24-32, 40 columns 32-100; measure with
// tools/ptxas_report.py --filter persistent). 48 spills least, so the 8-row variants for
// H > 32 keep 48; being spilling, they are never chosen automatically (the plan checks the
// compiled kernel's local memory: launch::choose_persistent_rows), only with
// FG_CUDA_LSTM_ROWS=8. docs/lstm.md says what this costs.
__host__ __device__ __forceinline__ int register_columns(int H, int rows) {
  return H <= 32 ? 32 : (rows == 8 ? 48 : 64);
}

// Threads per block the kernels are compiled for: 4 HP <= 128 when H <= 32 (KREG = 32), so
// those variants may use up to 255 registers per thread; else up to 512 threads (128 each).
constexpr int max_threads_for(int kreg) { return kreg == 32 ? 128 : kMaxThreads; }

__device__ __forceinline__ float sigmoid_f(float x) { return 1.f / (1.f + expf(-x)); }

// Position of step s of a sequence of length len.
__device__ __forceinline__ std::int64_t position(int s, int len, bool reverse) {
  return reverse ? static_cast<std::int64_t>(len - 1 - s) : static_cast<std::int64_t>(s);
}

// Zeroes positions [len, T) of sequence b in a [T, B, width] tensor (all threads of the block).
__device__ void zero_padding(float* x, std::int64_t T, std::int64_t B, std::int64_t b, int len, int width) {
  const std::int64_t n = (T - len) * width;
  for (std::int64_t e = threadIdx.x; e < n; e += blockDim.x) {
    const std::int64_t p = len + e / width, c = e % width;
    x[(p * B + b) * width + c] = 0.f;
  }
}

// Loads columns [c0, c0 + kStageCols) of the 4H rows of W_hh into stage[t][c], t = q HP + j
// standing for row q H + j (zero for padding rows and columns >= H). Consecutive threads
// read consecutive columns of a row: 32-byte pieces, full sectors.
__device__ void stage_weight_columns(const float* __restrict__ w_hh, int H, int HP, int c0, float* stage) {
  __syncthreads();  // everyone has read the previous tile
  const int NT = 4 * HP;
  for (int e = threadIdx.x; e < NT * kStageCols; e += blockDim.x) {
    const int r = e / kStageCols, c = e - r * kStageCols;
    const int q = r / HP, j = r - q * HP, k = c0 + c;
    stage[r * kStagePitch + c] =
        (j < H && k < H) ? __ldg(w_hh + (static_cast<std::int64_t>(q) * H + j) * H + k) : 0.f;
  }
  __syncthreads();
}

// ============================================================ forward
template <int KREG, int ROWS>
__global__ void __launch_bounds__(max_threads_for(KREG), 1) persistent_forward_kernel(const RecurrenceForwardArgs a) {
  extern __shared__ float4 smem_raw[];
  __shared__ int len_s[ROWS];
  const int H = a.hidden, HP = padded_hidden(H), NT = 4 * HP, KT = HP > KREG ? HP - KREG : 0;
  const std::int64_t T = a.steps, B = a.batch, G = 4 * static_cast<std::int64_t>(H);
  const std::int64_t b0 = static_cast<std::int64_t>(blockIdx.x) * ROWS;  // first sequence of the group
  float* h_s = reinterpret_cast<float*>(smem_raw);  // [ROWS][HP] hidden state
  float* c_s = h_s + ROWS * HP;                     // [ROWS][HP] cell state
  float* g_s = c_s + ROWS * HP;                     // [ROWS][NT] activated gates of the step
  float* w_tail = g_s + ROWS * NT;                  // [KT][NT]   weight columns >= KREG
  float* stage = w_tail + KT * NT;                  // [NT][kStagePitch]
  const int t = threadIdx.x, q = t / HP, j = t - q * HP;
  const bool unit_ok = j < H;
  const std::int64_t wrow = static_cast<std::int64_t>(q) * H + j;  // W_hh row = gate column

  // ---- lengths and initial state of the group (rows past the batch: length 0)
  if (t < ROWS) {
    const std::int64_t b = b0 + t;
    len_s[t] = b < B ? static_cast<int>(a.lengths ? a.lengths[b] : T) : 0;
  }
  for (int e = t; e < ROWS * HP; e += NT) {
    const int r = e / HP, k = e - r * HP;
    const std::int64_t b = b0 + r;
    const bool ok = k < H && b < B;
    h_s[e] = ok && a.h0 ? __ldg(a.h0 + b * H + k) : 0.f;
    c_s[e] = ok && a.c0 ? __ldg(a.c0 + b * H + k) : 0.f;
  }

  // ---- W_hh onto the chip: columns < KREG into registers, the rest into w_tail
  float w[KREG];
#pragma unroll
  for (int c0 = 0; c0 < KREG; c0 += kStageCols) {
    if (c0 < HP) {  // uniform over the block: the barriers inside are safe
      stage_weight_columns(a.w_hh, H, HP, c0, stage);
#pragma unroll
      for (int c = 0; c < kStageCols; ++c) w[c0 + c] = stage[t * kStagePitch + c];
    } else {
#pragma unroll
      for (int c = 0; c < kStageCols; ++c) w[c0 + c] = 0.f;
    }
  }
  for (int c0 = KREG; c0 < HP; c0 += kStageCols) {
    stage_weight_columns(a.w_hh, H, HP, c0, stage);
    for (int c = 0; c < kStageCols; ++c) w_tail[(c0 - KREG + c) * NT + t] = stage[t * kStagePitch + c];
  }
  __syncthreads();  // len_s, h_s, c_s, w_tail complete

  int steps_here = 0;
  for (int r = 0; r < ROWS; ++r) steps_here = max(steps_here, len_s[r]);
  for (int r = 0; r < ROWS; ++r) {
    const std::int64_t b = b0 + r;
    if (b >= B) break;
    zero_padding(a.out, T, B, b, len_s[r], H);
    zero_padding(a.cells, T, B, b, len_s[r], H);
    zero_padding(a.gates, T, B, b, len_s[r], static_cast<int>(G));
  }

  const float bias_v = unit_ok && a.bias ? __ldg(a.bias + wrow) : 0.f;
  // input gates of the next step, loaded one step ahead
  float gx[ROWS];
#pragma unroll
  for (int r = 0; r < ROWS; ++r) {
    const int len = len_s[r];
    gx[r] = unit_ok && 0 < len ? __ldg(a.gates_x + (position(0, len, a.reverse) * B + b0 + r) * G + wrow) : 0.f;
  }

  for (int s = 0; s < steps_here; ++s) {
    // ---- phase 1: a = W_hh[wrow, :] . h for every row of the group (two partial sums)
    float acc0[ROWS], acc1[ROWS];
#pragma unroll
    for (int r = 0; r < ROWS; ++r) acc0[r] = acc1[r] = 0.f;
#pragma unroll
    for (int k0 = 0; k0 < KREG; k0 += 4) {
      if (k0 < HP) {
#pragma unroll
        for (int r = 0; r < ROWS; ++r) {
          const float4 hv = *reinterpret_cast<const float4*>(h_s + r * HP + k0);  // broadcast read
          acc0[r] = fmaf(w[k0], hv.x, acc0[r]);
          acc1[r] = fmaf(w[k0 + 1], hv.y, acc1[r]);
          acc0[r] = fmaf(w[k0 + 2], hv.z, acc0[r]);
          acc1[r] = fmaf(w[k0 + 3], hv.w, acc1[r]);
        }
      }
    }
    for (int k0 = KREG; k0 < HP; k0 += 4) {  // columns kept in shared memory (H > KREG)
      const float* wt = w_tail + (k0 - KREG) * NT + t;
      const float w0 = wt[0], w1 = wt[NT], w2 = wt[2 * NT], w3 = wt[3 * NT];
#pragma unroll
      for (int r = 0; r < ROWS; ++r) {
        const float4 hv = *reinterpret_cast<const float4*>(h_s + r * HP + k0);
        acc0[r] = fmaf(w0, hv.x, acc0[r]);
        acc1[r] = fmaf(w1, hv.y, acc1[r]);
        acc0[r] = fmaf(w2, hv.z, acc0[r]);
        acc1[r] = fmaf(w3, hv.w, acc1[r]);
      }
    }
    // ---- activation of this thread's gate; prefetch the next step's input gate
#pragma unroll
    for (int r = 0; r < ROWS; ++r) {
      const int len = len_s[r];
      if (unit_ok && s < len) {
        const float pre = (acc0[r] + acc1[r]) + gx[r] + bias_v;
        const float act = q == 2 ? tanhf(pre) : sigmoid_f(pre);
        g_s[r * NT + t] = act;
        a.gates[(position(s, len, a.reverse) * B + b0 + r) * G + wrow] = act;
        gx[r] = s + 1 < len ? __ldg(a.gates_x + (position(s + 1, len, a.reverse) * B + b0 + r) * G + wrow) : 0.f;
      }
    }
    __syncthreads();  // gates of the step complete; every read of h_s is done
    // ---- phase 2: one thread per (row, unit): c = f c + i g, h = o tanh(c)
    for (int e = t; e < ROWS * HP; e += NT) {
      const int r = e / HP, k = e - r * HP;
      const int len = len_s[r];
      if (k < H && s < len) {
        const float* gr = g_s + r * NT;
        const float ig = gr[k], fg = gr[HP + k], gg = gr[2 * HP + k], og = gr[3 * HP + k];
        const float c = fg * c_s[e] + ig * gg;
        const float h = og * tanhf(c);
        c_s[e] = c;
        h_s[e] = h;
        const std::int64_t at = (position(s, len, a.reverse) * B + b0 + r) * H + k;
        a.out[at] = h;
        a.cells[at] = c;
      }
    }
    __syncthreads();  // the new state is visible to the next step's phase 1
  }

  // ---- each sequence's final state (untouched past its length: h0/c0 for length 0)
  for (int e = t; e < ROWS * HP; e += NT) {
    const int r = e / HP, k = e - r * HP;
    const std::int64_t b = b0 + r;
    if (k < H && b < B) {
      a.h_n[b * H + k] = h_s[e];
      a.c_n[b * H + k] = c_s[e];
    }
  }
}

// ============================================================ backward
// The saved values one (row, unit) item needs at one step, prefetched a step ahead.
struct CellInputs {
  float i, f, g, o, c, c_prev, g_out, g_cell;
};

__device__ __forceinline__ CellInputs load_cell_inputs(const RecurrenceBackwardArgs& a, int s, int len,
                                                       std::int64_t b, int k) {
  CellInputs in{0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
  if (s < 0 || s >= len) return in;
  const std::int64_t B = a.batch, H = a.hidden, G = 4 * H;
  const std::int64_t p = position(s, len, a.reverse);
  const std::int64_t gb = (p * B + b) * G + k, at = (p * B + b) * H + k;
  in.i = __ldg(a.gates + gb);
  in.f = __ldg(a.gates + gb + H);
  in.g = __ldg(a.gates + gb + 2 * H);
  in.o = __ldg(a.gates + gb + 3 * H);
  in.c = __ldg(a.cells + at);
  if (s > 0) {
    in.c_prev = __ldg(a.cells + (position(s - 1, len, a.reverse) * B + b) * H + k);
  } else {
    in.c_prev = a.c0 ? __ldg(a.c0 + b * H + k) : 0.f;
  }
  in.g_out = a.grad_out ? __ldg(a.grad_out + at) : 0.f;
  in.g_cell = a.grad_cells ? __ldg(a.grad_cells + at) : 0.f;
  return in;
}

template <int KREG, int ROWS>
__global__ void __launch_bounds__(max_threads_for(KREG), 1) persistent_backward_kernel(const RecurrenceBackwardArgs a) {
  extern __shared__ float4 smem_raw[];
  __shared__ int len_s[ROWS];
  constexpr int kItems = (ROWS + 3) / 4;  // (row, unit) items per thread: ROWS HP items over 4 HP threads
  const int H = a.hidden, HP = padded_hidden(H), NT = 4 * HP;
  const std::int64_t T = a.steps, B = a.batch, G = 4 * static_cast<std::int64_t>(H);
  const std::int64_t b0 = static_cast<std::int64_t>(blockIdx.x) * ROWS;
  float* dc_s = reinterpret_cast<float*>(smem_raw);  // [ROWS][HP] carried dc
  float* dh0_s = dc_s + ROWS * HP;                   // [ROWS][HP] grad_h_n (dh before a row's first step)
  float* da_s = dh0_s + ROWS * HP;                   // [ROWS][NT] da of the step, [q HP + j]
  float* part_s = da_s + ROWS * NT;                  // [ROWS][NT] partial dh, [q HP + k]
  float* w_tail = part_s + ROWS * NT;                // [HP - KREG][NT] weight rows j >= KREG
  const int t = threadIdx.x, q = t / HP, k_col = t - q * HP;
  const bool col_ok = k_col < H;

  if (t < ROWS) {
    const std::int64_t b = b0 + t;
    len_s[t] = b < B ? static_cast<int>(a.lengths ? a.lengths[b] : T) : 0;
  }
  for (int e = t; e < ROWS * HP; e += NT) {
    const int r = e / HP, k = e - r * HP;
    const std::int64_t b = b0 + r;
    const bool ok = k < H && b < B;
    dh0_s[e] = ok && a.grad_h_n ? __ldg(a.grad_h_n + b * H + k) : 0.f;
    dc_s[e] = ok && a.grad_c_n ? __ldg(a.grad_c_n + b * H + k) : 0.f;
  }
  for (int e = t; e < ROWS * NT; e += NT) da_s[e] = 0.f;  // rows not yet started contribute nothing

  // ---- W_hh onto the chip: w[j] = W_hh[q H + j, k_col] (rows < KREG), the rest into w_tail.
  // Consecutive threads read consecutive columns of one row: coalesced.
  float w[KREG];
#pragma unroll
  for (int jj = 0; jj < KREG; ++jj)
    w[jj] = (jj < H && col_ok) ? __ldg(a.w_hh + (static_cast<std::int64_t>(q) * H + jj) * H + k_col) : 0.f;
  for (int jj = KREG; jj < HP; ++jj)
    w_tail[(jj - KREG) * NT + t] =
        (jj < H && col_ok) ? __ldg(a.w_hh + (static_cast<std::int64_t>(q) * H + jj) * H + k_col) : 0.f;
  __syncthreads();

  int steps_here = 0;
  for (int r = 0; r < ROWS; ++r) steps_here = max(steps_here, len_s[r]);
  for (int r = 0; r < ROWS; ++r) {
    const std::int64_t b = b0 + r;
    if (b >= B) break;
    zero_padding(a.grad_gates_x, T, B, b, len_s[r], static_cast<int>(G));
    if (a.da_first && len_s[r] == 0)
      for (int e = t; e < G; e += NT) a.da_first[b * G + e] = 0.f;
  }

  CellInputs in[kItems];
#pragma unroll
  for (int u = 0; u < kItems; ++u) {
    const int e = t + u * NT, r = e / HP, k = e - r * HP;
    in[u] = CellInputs{0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
    if (e < ROWS * HP && k < H) in[u] = load_cell_inputs(a, steps_here - 1, len_s[r], b0 + r, k);
  }

  for (int s = steps_here - 1; s >= 0; --s) {
    // ---- phase 1: one thread per (row, unit): da of step s; dc carried; next inputs prefetched
#pragma unroll
    for (int u = 0; u < kItems; ++u) {
      const int e = t + u * NT;
      if (e >= ROWS * HP) continue;
      const int r = e / HP, k = e - r * HP;
      const int len = len_s[r];
      if (k >= H || s >= len) {
        // not started yet (in reverse time); its first step's inputs may be next
        if (k < H) in[u] = load_cell_inputs(a, s - 1, len, b0 + r, k);
        continue;
      }
      const std::int64_t b = b0 + r;
      const float* pr = part_s + r * NT;
      // dh arriving at this step's h: W_hh^T da of step s+1 if the row ran it, else grad_h_n
      const float dh = (s + 1 < len ? ((pr[k] + pr[HP + k]) + pr[2 * HP + k]) + pr[3 * HP + k] : dh0_s[e]) +
                       in[u].g_out;
      const float dc = dc_s[e] + in[u].g_cell;
      const float ig = in[u].i, fg = in[u].f, gg = in[u].g, og = in[u].o;
      const float tc = tanhf(in[u].c);
      const float dct = dc + dh * og * (1.f - tc * tc);
      const float d_i = dct * gg * ig * (1.f - ig);
      const float d_f = dct * in[u].c_prev * fg * (1.f - fg);
      const float d_g = dct * ig * (1.f - gg * gg);
      const float d_o = dh * tc * og * (1.f - og);
      float* dr = da_s + r * NT;
      dr[k] = d_i;
      dr[HP + k] = d_f;
      dr[2 * HP + k] = d_g;
      dr[3 * HP + k] = d_o;
      float* dgx = a.grad_gates_x + (position(s, len, a.reverse) * B + b) * G + k;
      dgx[0] = d_i;
      dgx[H] = d_f;
      dgx[2 * H] = d_g;
      dgx[3 * H] = d_o;
      if (s == 0 && a.da_first) {
        float* df = a.da_first + b * G + k;
        df[0] = d_i;
        df[H] = d_f;
        df[2 * H] = d_g;
        df[3 * H] = d_o;
      }
      dc_s[e] = dct * fg;
      in[u] = load_cell_inputs(a, s - 1, len, b, k);  // in flight during phase 2
    }
    __syncthreads();  // da of step s complete; part_s of step s+1 fully read
    // ---- phase 2: part[q HP + k] = sum_j da[q HP + j] W_hh[q H + j, k] (two partial sums)
    float acc0[ROWS], acc1[ROWS];
#pragma unroll
    for (int r = 0; r < ROWS; ++r) acc0[r] = acc1[r] = 0.f;
    const float* da_q = da_s + q * HP;
#pragma unroll
    for (int j0 = 0; j0 < KREG; j0 += 4) {
      if (j0 < HP) {
#pragma unroll
        for (int r = 0; r < ROWS; ++r) {
          const float4 dv = *reinterpret_cast<const float4*>(da_q + r * NT + j0);
          acc0[r] = fmaf(w[j0], dv.x, acc0[r]);
          acc1[r] = fmaf(w[j0 + 1], dv.y, acc1[r]);
          acc0[r] = fmaf(w[j0 + 2], dv.z, acc0[r]);
          acc1[r] = fmaf(w[j0 + 3], dv.w, acc1[r]);
        }
      }
    }
    for (int j0 = KREG; j0 < HP; j0 += 4) {
      const float* wt = w_tail + (j0 - KREG) * NT + t;
      const float w0 = wt[0], w1 = wt[NT], w2 = wt[2 * NT], w3 = wt[3 * NT];
#pragma unroll
      for (int r = 0; r < ROWS; ++r) {
        const float4 dv = *reinterpret_cast<const float4*>(da_q + r * NT + j0);
        acc0[r] = fmaf(w0, dv.x, acc0[r]);
        acc1[r] = fmaf(w1, dv.y, acc1[r]);
        acc0[r] = fmaf(w2, dv.z, acc0[r]);
        acc1[r] = fmaf(w3, dv.w, acc1[r]);
      }
    }
#pragma unroll
    for (int r = 0; r < ROWS; ++r) part_s[r * NT + t] = acc0[r] + acc1[r];
    __syncthreads();  // part_s of step s complete; da_s may be overwritten
  }

  // ---- gradients of the initial state: dh after step 0 (grad_h_n for length 0), dc
  for (int e = t; e < ROWS * HP; e += NT) {
    const int r = e / HP, k = e - r * HP;
    const std::int64_t b = b0 + r;
    if (k >= H || b >= B) continue;
    const float* pr = part_s + r * NT;
    const float dh = len_s[r] >= 1 ? ((pr[k] + pr[HP + k]) + pr[2 * HP + k]) + pr[3 * HP + k] : dh0_s[e];
    if (a.grad_h0) a.grad_h0[b * H + k] = dh;
    if (a.grad_c0) a.grad_c0[b * H + k] = dc_s[e];
  }
}

// ============================================================ host side: plans
std::size_t forward_smem_bytes(int H, int rows) {
  const std::size_t HP = padded_hidden(H), NT = 4 * HP, kreg = register_columns(H, rows);
  const std::size_t KT = HP > kreg ? HP - kreg : 0;
  return sizeof(float) * (rows * (2 * HP + NT) + KT * NT + NT * kStagePitch);
}

std::size_t backward_smem_bytes(int H, int rows) {
  const std::size_t HP = padded_hidden(H), NT = 4 * HP, kreg = register_columns(H, rows);
  const std::size_t KT = HP > kreg ? HP - kreg : 0;
  return sizeof(float) * (rows * (2 * HP + 2 * NT) + KT * NT);
}

using ForwardKernel = void (*)(RecurrenceForwardArgs);
using BackwardKernel = void (*)(RecurrenceBackwardArgs);

// The instantiated kernels: KREG = 32 (H <= 32) with 1, 2, 4 or 8 rows; KREG = 64 with 1,
// 2 or 4 rows and KREG = 48 with 8 rows (H > 32; see register_columns).
ForwardKernel forward_kernel(int H, int rows) {
  if (register_columns(H, rows) == 32) {
    switch (rows) {
      case 1: return persistent_forward_kernel<32, 1>;
      case 2: return persistent_forward_kernel<32, 2>;
      case 4: return persistent_forward_kernel<32, 4>;
      default: return persistent_forward_kernel<32, 8>;
    }
  }
  switch (rows) {
    case 1: return persistent_forward_kernel<64, 1>;
    case 2: return persistent_forward_kernel<64, 2>;
    case 4: return persistent_forward_kernel<64, 4>;
    default: return persistent_forward_kernel<48, 8>;
  }
}

BackwardKernel backward_kernel(int H, int rows) {
  if (register_columns(H, rows) == 32) {
    switch (rows) {
      case 1: return persistent_backward_kernel<32, 1>;
      case 2: return persistent_backward_kernel<32, 2>;
      case 4: return persistent_backward_kernel<32, 4>;
      default: return persistent_backward_kernel<32, 8>;
    }
  }
  switch (rows) {
    case 1: return persistent_backward_kernel<64, 1>;
    case 2: return persistent_backward_kernel<64, 2>;
    case 4: return persistent_backward_kernel<64, 4>;
    default: return persistent_backward_kernel<48, 8>;
  }
}


// Probes one configuration on the current device, cached per device, kernel and shape:
// the kernel's static shared memory and local memory (cudaFuncGetAttributes), then raises
// its dynamic limit to what the opt-in size leaves beside the static bytes (CUDA refuses a
// limit whose sum with them exceeds the opt-in size), then asks the occupancy calculator.
// A failing CUDA call does not throw: the option gets blocks_per_sm = -1 and the error is
// cleared, so the caller falls back to the general path.
template <class Kernel>
launch::PersistentOption probe(Kernel kernel, int rows, int threads, std::size_t dynamic_bytes) {
  static std::mutex mu;
  static std::map<std::tuple<int, const void*, int, std::size_t>, launch::PersistentOption> cache;
  const int device = ::fg::cuda::current_device();
  const auto key = std::make_tuple(device, reinterpret_cast<const void*>(kernel), threads, dynamic_bytes);
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  launch::PersistentOption o;
  o.rows = rows;
  o.dynamic_bytes = dynamic_bytes;
  o.blocks_per_sm = -1;
  cudaFuncAttributes attr{};
  if (cudaFuncGetAttributes(&attr, kernel) == cudaSuccess) {
    o.static_bytes = attr.sharedSizeBytes;
    o.spills = attr.localSizeBytes > 0;
    const std::size_t optin = static_cast<std::size_t>(cuda_detail::smem_optin_bytes());
    const std::size_t limit = launch::dynamic_smem_limit(optin, o.static_bytes);
    int n = 0;
    if (dynamic_bytes <= limit &&
        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(limit)) ==
            cudaSuccess &&
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, kernel, threads, dynamic_bytes) == cudaSuccess) {
      o.blocks_per_sm = n;
    }
  }
  if (o.blocks_per_sm < 0) (void)cudaGetLastError();  // a failed probe must not fail the next launch's check
  cache[key] = o;
  return o;
}

template <class Kernel>
struct Plan {
  Kernel kernel = nullptr;
  int rows = 0, threads = 0;
  unsigned blocks = 0;
  std::size_t smem = 0;
  std::string why;  // rows == 0: why nothing fits
};

// Rows per block forced by FG_CUDA_LSTM_ROWS (1, 2, 4 or 8; tests use it to reach every
// configuration with small batches), or 0 when unset.
int forced_rows() {
  const char* env = std::getenv("FG_CUDA_LSTM_ROWS");
  if (env == nullptr || *env == '\0') return 0;
  const std::string v = env;
  FG_CUDA_REQUIRE(v == "1" || v == "2" || v == "4" || v == "8",
                  "FG_CUDA_LSTM_ROWS must be 1, 2, 4 or 8 (sequences per thread block of the persistent LSTM "
                  "kernels), got '" + v + "'");
  return std::stoi(v);
}

// The configuration to launch (launch::choose_persistent_rows says which; every rule is
// tested host-side in tests/test_launch_limits.cpp). rows == 0: nothing fits.
template <class Kernel>
Plan<Kernel> choose_plan(int H, std::int64_t B, int forced, Kernel (*kernel_for)(int, int),
                         std::size_t (*smem_for)(int, int)) {
  const int threads = 4 * padded_hidden(H);
  std::vector<launch::PersistentOption> options;
  for (int rows : {1, 2, 4, 8}) {
    if (forced > 0 && rows != forced) continue;
    options.push_back(probe(kernel_for(H, rows), rows, threads, smem_for(H, rows)));
  }
  const launch::PersistentChoice c = launch::choose_persistent_rows(
      options, static_cast<std::size_t>(cuda_detail::smem_optin_bytes()), ::fg::cuda::sm_count(), B, forced);
  Plan<Kernel> plan;
  plan.why = c.why;
  if (c.rows == 0) return plan;
  plan.kernel = kernel_for(H, c.rows);
  plan.rows = c.rows;
  plan.threads = threads;
  plan.blocks = static_cast<unsigned>((B + c.rows - 1) / c.rows);
  plan.smem = smem_for(H, c.rows);
  return plan;
}

// One line on stderr per distinct message: the persistent path was not taken.
void note_fallback(const std::string& message) {
  static std::mutex mu;
  static std::set<std::string> said;
  std::lock_guard<std::mutex> lock(mu);
  if (said.insert(message).second) std::fprintf(stderr, "fusegrad: note: %s\n", message.c_str());
}

bool require_int_sizes(std::int64_t steps, std::int64_t batch) { return steps <= 0x7fffffff && batch <= 0x7fffffff; }

// Launches a plan's kernel; false (after one logged line) when the launch was refused.
template <class Kernel, class Args>
bool launch_plan(const Plan<Kernel>& plan, const Args& args, const char* what) {
  plan.kernel<<<plan.blocks, plan.threads, plan.smem, ::fg::cuda::current_stream()>>>(args);
  const cudaError_t err = cudaGetLastError();  // launch-configuration errors surface here, at once
  if (err != cudaSuccess) {
    note_fallback(std::string(what) + ": the persistent kernel's launch was refused (" + cudaGetErrorName(err) +
                  ": " + cudaGetErrorString(err) + ", hidden size " + std::to_string(args.hidden) + ", " +
                  std::to_string(plan.rows) + " rows per block, " + std::to_string(plan.smem) +
                  " bytes of shared memory); using the general path");
    return false;
  }
  CUDA_CHECK_LAUNCH(what);  // with FG_CUDA_LAUNCH_BLOCKING=1, waits and reports errors inside the kernel
  return true;
}

}  // namespace

bool persistent_supported(std::int64_t hidden) {
  if (hidden < 1 || hidden > kMaxPersistentHidden) return false;
  const int H = static_cast<int>(hidden);
  const int threads = 4 * padded_hidden(H);
  const std::size_t optin = static_cast<std::size_t>(cuda_detail::smem_optin_bytes());
  const auto f = probe(forward_kernel(H, 1), 1, threads, forward_smem_bytes(H, 1));
  const auto b = probe(backward_kernel(H, 1), 1, threads, backward_smem_bytes(H, 1));
  if (launch::persistent_option_fits(f, optin) && launch::persistent_option_fits(b, optin)) return true;
  note_fallback("the persistent LSTM kernels cannot run at hidden size " + std::to_string(H) +
                " on this device (forward: " + std::to_string(f.dynamic_bytes + f.static_bytes) +
                " bytes of shared memory, " + std::to_string(f.blocks_per_sm) + " blocks/SM; backward: " +
                std::to_string(b.dynamic_bytes + b.static_bytes) + " bytes, " + std::to_string(b.blocks_per_sm) +
                " blocks/SM; opt-in limit " + std::to_string(optin) + " bytes); using the general path");
  return false;
}

bool persistent_forward(const RecurrenceForwardArgs& args) {
  if (args.batch == 0) return true;
  if (!require_int_sizes(args.steps, args.batch)) {
    note_fallback("lstm_recurrence_forward: T = " + std::to_string(args.steps) + ", B = " + std::to_string(args.batch) +
                  " exceed the persistent kernel's 2^31 limit; using the general path");
    return false;
  }
  const auto plan = choose_plan<ForwardKernel>(args.hidden, args.batch, forced_rows(), forward_kernel,
                                               forward_smem_bytes);
  if (plan.rows == 0) {
    note_fallback("lstm_recurrence_forward: no persistent configuration fits hidden size " +
                  std::to_string(args.hidden) + " (" + plan.why + "); using the general path");
    return false;
  }
  return launch_plan(plan, args, "lstm persistent_forward_kernel");
}

bool persistent_backward(const RecurrenceBackwardArgs& args) {
  if (args.batch == 0) return true;
  if (!require_int_sizes(args.steps, args.batch)) {
    note_fallback("lstm_recurrence_backward: T = " + std::to_string(args.steps) + ", B = " +
                  std::to_string(args.batch) + " exceed the persistent kernel's 2^31 limit; using the general path");
    return false;
  }
  const auto plan = choose_plan<BackwardKernel>(args.hidden, args.batch, forced_rows(), backward_kernel,
                                                backward_smem_bytes);
  if (plan.rows == 0) {
    note_fallback("lstm_recurrence_backward: no persistent configuration fits hidden size " +
                  std::to_string(args.hidden) + " (" + plan.why + "); using the general path");
    return false;
  }
  return launch_plan(plan, args, "lstm persistent_backward_kernel");
}

std::vector<launch::KernelLaunchShape> persistent_kernel_reports(int hidden) {
  std::vector<launch::KernelLaunchShape> out;
  const int threads = 4 * padded_hidden(hidden);
  for (int rows : {1, 2, 4, 8}) {
    const auto f = probe(forward_kernel(hidden, rows), rows, threads, forward_smem_bytes(hidden, rows));
    const auto b = probe(backward_kernel(hidden, rows), rows, threads, backward_smem_bytes(hidden, rows));
    out.push_back({"lstm persistent_forward H=" + std::to_string(hidden) + " rows=" + std::to_string(rows),
                   reinterpret_cast<const void*>(forward_kernel(hidden, rows)), threads, f.dynamic_bytes});
    out.push_back({"lstm persistent_backward H=" + std::to_string(hidden) + " rows=" + std::to_string(rows),
                   reinterpret_cast<const void*>(backward_kernel(hidden, rows)), threads, b.dynamic_bytes});
  }
  return out;
}

}  // namespace fg::kernels::cuda_detail::lstm
