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
#include <string>
#include <tuple>

#include "engine/cuda/check.h"
#include "engine/cuda/runtime.h"
#include "kernels/cuda/lstm_persistent.cuh"

namespace fg::kernels::cuda_detail::lstm {

namespace {

constexpr int kMaxThreads = 4 * kMaxPersistentHidden;  // 512
constexpr int kStageCols = 8;                          // W_hh columns per staging pass (forward)
constexpr int kStagePitch = kStageCols + 1;            // padded row of the staging tile

__host__ __device__ __forceinline__ int padded_hidden(int H) { return (H + 7) / 8 * 8; }

// Register-resident weight columns per thread for hidden size H.
__host__ __device__ __forceinline__ int register_columns(int H) { return H <= 32 ? 32 : 64; }

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
__global__ void __launch_bounds__(kMaxThreads, 1) persistent_forward_kernel(const RecurrenceForwardArgs a) {
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
__global__ void __launch_bounds__(kMaxThreads, 1) persistent_backward_kernel(const RecurrenceBackwardArgs a) {
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
  const std::size_t HP = padded_hidden(H), NT = 4 * HP, kreg = register_columns(H);
  const std::size_t KT = HP > kreg ? HP - kreg : 0;
  return sizeof(float) * (rows * (2 * HP + NT) + KT * NT + NT * kStagePitch);
}

std::size_t backward_smem_bytes(int H, int rows) {
  const std::size_t HP = padded_hidden(H), NT = 4 * HP, kreg = register_columns(H);
  const std::size_t KT = HP > kreg ? HP - kreg : 0;
  return sizeof(float) * (rows * (2 * HP + 2 * NT) + KT * NT);
}

using ForwardKernel = void (*)(RecurrenceForwardArgs);
using BackwardKernel = void (*)(RecurrenceBackwardArgs);

template <int KREG>
ForwardKernel forward_kernel_rows(int rows) {
  switch (rows) {
    case 1: return persistent_forward_kernel<KREG, 1>;
    case 2: return persistent_forward_kernel<KREG, 2>;
    case 4: return persistent_forward_kernel<KREG, 4>;
    default: return persistent_forward_kernel<KREG, 8>;
  }
}

template <int KREG>
BackwardKernel backward_kernel_rows(int rows) {
  switch (rows) {
    case 1: return persistent_backward_kernel<KREG, 1>;
    case 2: return persistent_backward_kernel<KREG, 2>;
    case 4: return persistent_backward_kernel<KREG, 4>;
    default: return persistent_backward_kernel<KREG, 8>;
  }
}

ForwardKernel forward_kernel(int H, int rows) {
  return register_columns(H) == 32 ? forward_kernel_rows<32>(rows) : forward_kernel_rows<64>(rows);
}
BackwardKernel backward_kernel(int H, int rows) {
  return register_columns(H) == 32 ? backward_kernel_rows<32>(rows) : backward_kernel_rows<64>(rows);
}

// Per-block shared-memory limit (opt-in) of the current device, cached per device.
int smem_optin_bytes() {
  static std::mutex mu;
  static std::map<int, int> cache;
  const int device = ::fg::cuda::current_device();
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(device);
  if (it != cache.end()) return it->second;
  int v = 0;
  CUDA_CHECK(cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  cache[device] = v;
  return v;
}

// Resident blocks per multiprocessor of `kernel` at this launch shape, cached per device
// and shape. First raises the kernel's dynamic shared-memory limit to the device's opt-in
// maximum (needed for launches above 48 KB; the same value every time, so a launch of any
// size that passed this check may follow).
template <class Kernel>
int blocks_per_sm(Kernel kernel, int threads, std::size_t smem) {
  static std::mutex mu;
  static std::map<std::tuple<int, const void*, int, std::size_t>, int> cache;
  const int device = ::fg::cuda::current_device();
  const auto key = std::make_tuple(device, reinterpret_cast<const void*>(kernel), threads, smem);
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem_optin_bytes()));
  int n = 0;
  CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, kernel, threads, smem));
  cache[key] = n;
  return n;
}

template <class Kernel>
struct Plan {
  Kernel kernel = nullptr;
  int rows = 0, threads = 0;
  unsigned blocks = 0;
  std::size_t smem = 0;
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

// The fewest rows per block (1, 2, 4, 8) whose blocks all fit on the device at once (one
// wave: every step of every block runs concurrently); if even 8 rows need several waves,
// 8 rows. A plan with rows == 0 means nothing fits (the caller falls back).
template <class Kernel>
Plan<Kernel> choose_plan(int H, std::int64_t B, Kernel (*kernel_for)(int, int), std::size_t (*smem_for)(int, int)) {
  Plan<Kernel> best;
  const int threads = 4 * padded_hidden(H);
  const int forced = forced_rows();
  for (int rows : {1, 2, 4, 8}) {
    if (forced > 0 && rows != forced) continue;
    const std::size_t smem = smem_for(H, rows);
    if (smem > static_cast<std::size_t>(smem_optin_bytes())) break;
    Kernel kernel = kernel_for(H, rows);
    const int per_sm = blocks_per_sm(kernel, threads, smem);
    if (per_sm <= 0) break;
    const std::int64_t blocks = (B + rows - 1) / rows;
    best = Plan<Kernel>{kernel, rows, threads, static_cast<unsigned>(blocks), smem};
    if (blocks <= static_cast<std::int64_t>(per_sm) * ::fg::cuda::sm_count()) break;
  }
  return best;
}

void require_int_sizes(std::int64_t steps, std::int64_t batch, const char* what) {
  FG_CUDA_REQUIRE(steps <= 0x7fffffff && batch <= 0x7fffffff,
                  std::string(what) + ": the persistent LSTM kernel takes fewer than 2^31 steps and sequences, got T = " +
                      std::to_string(steps) + ", B = " + std::to_string(batch));
}

}  // namespace

bool persistent_supported(std::int64_t hidden) {
  if (hidden < 1 || hidden > kMaxPersistentHidden) return false;
  const int H = static_cast<int>(hidden);
  const std::size_t optin = static_cast<std::size_t>(smem_optin_bytes());
  if (forward_smem_bytes(H, 1) > optin || backward_smem_bytes(H, 1) > optin) return false;
  const int threads = 4 * padded_hidden(H);
  return blocks_per_sm(forward_kernel(H, 1), threads, forward_smem_bytes(H, 1)) > 0 &&
         blocks_per_sm(backward_kernel(H, 1), threads, backward_smem_bytes(H, 1)) > 0;
}

void persistent_forward(const RecurrenceForwardArgs& args) {
  if (args.batch == 0) return;
  require_int_sizes(args.steps, args.batch, "lstm_recurrence_forward");
  const auto plan = choose_plan<ForwardKernel>(args.hidden, args.batch, forward_kernel, forward_smem_bytes);
  FG_CUDA_REQUIRE(plan.rows > 0, "lstm_recurrence_forward: the persistent kernel does not fit hidden size " +
                                     std::to_string(args.hidden) + " on this device");
  plan.kernel<<<plan.blocks, plan.threads, plan.smem, ::fg::cuda::current_stream()>>>(args);
  CUDA_CHECK_LAUNCH("lstm persistent_forward_kernel");
}

void persistent_backward(const RecurrenceBackwardArgs& args) {
  if (args.batch == 0) return;
  require_int_sizes(args.steps, args.batch, "lstm_recurrence_backward");
  const auto plan = choose_plan<BackwardKernel>(args.hidden, args.batch, backward_kernel, backward_smem_bytes);
  FG_CUDA_REQUIRE(plan.rows > 0, "lstm_recurrence_backward: the persistent kernel does not fit hidden size " +
                                     std::to_string(args.hidden) + " on this device");
  plan.kernel<<<plan.blocks, plan.threads, plan.smem, ::fg::cuda::current_stream()>>>(args);
  CUDA_CHECK_LAUNCH("lstm persistent_backward_kernel");
}

}  // namespace fg::kernels::cuda_detail::lstm
