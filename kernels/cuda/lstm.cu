// kernels/cuda/lstm.cu: the LSTM recurrence and the fused LSTM cell on CUDA (equations,
// shapes and the backward through time in kernels/lstm.h; the reference is
// kernels/cpu/lstm.cpp, which this file follows step for step).
//
// Deliberately simple, one launch sequence per time step (a persistent kernel that keeps
// W_hh on chip for all steps is the planned fast version; it implements the same
// declarations):
//   forward, per step s:   hw = h W_hh^T  (cuBLAS, [B, 4H])
//                          step kernel: one thread per (b, j) of [B, H] computes the four
//                          gates of unit j of row b, updates c, h and writes the outputs at
//                          position p(s) (rows with s >= lengths[b] do nothing)
//   backward, per step s:  step kernel: one thread per (b, j) adds the incoming gradients,
//                          forms the four da entries of unit j, carries dc, and stages
//                          h_prev for the weight gradient (zeros for inactive rows)
//                          grad_w_hh += da^T h_prev, dh_new = da W_hh  (cuBLAS)
//                          copy kernel: dh = dh_new on active rows
//   then grad_bias = column sums of grad_gates_x (one thread per column, double sum).
// The running state (h, c forward; dh, dc backward) stays in float32 device buffers.
// float32 only (float64 tensors live on the CPU).
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "engine/cuda/check.h"
#include "engine/cuda/runtime.h"
#include "kernels/linalg.h"
#include "kernels/lstm.h"

namespace fg::kernels::cuda {

namespace {

void require_f32(DType dt, const char* kernel) {
  FG_CUDA_REQUIRE(dt == DType::f32, std::string(kernel) + ": CUDA tensors must be float32, got " + dtype_name(dt) +
                                        " (convert on the CPU with .to(DType::f32) before moving to CUDA)");
}

constexpr int kBlock = 256;

unsigned blocks_for(std::int64_t n) { return static_cast<unsigned>((n + kBlock - 1) / kBlock); }

__device__ __forceinline__ float sigmoidf(float x) { return 1.f / (1.f + expf(-x)); }

__device__ __forceinline__ std::int64_t length_of(const std::int64_t* lengths, std::int64_t b, std::int64_t steps) {
  return lengths ? lengths[b] : steps;
}

__device__ __forceinline__ std::int64_t position(std::int64_t s, std::int64_t len, bool reverse) {
  return reverse ? len - 1 - s : s;
}

// h = h0 (or 0), c = c0 (or 0) over n = B * H elements.
__global__ void init_state_kernel(std::int64_t n, const float* h0, const float* c0, float* h, float* c) {
  const std::int64_t k = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= n) return;
  h[k] = h0 ? h0[k] : 0.f;
  c[k] = c0 ? c0[k] : 0.f;
}

__global__ void forward_step_kernel(LSTMShape s, std::int64_t step, const float* gx, const float* hw,
                                    const float* bias, const std::int64_t* lengths, float* h, float* c, float* out,
                                    float* cells, float* gates) {
  const std::int64_t k = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const std::int64_t B = s.batch, H = s.hidden, G = 4 * H;
  if (k >= B * H) return;
  const std::int64_t b = k / H, j = k % H;
  const std::int64_t len = length_of(lengths, b, s.steps);
  if (step >= len) return;
  const std::int64_t p = position(step, len, s.reverse);
  const float* gxr = gx + (p * B + b) * G;
  const float* hwr = hw + b * G;
  float a[4];
#pragma unroll
  for (int q = 0; q < 4; ++q) a[q] = gxr[q * H + j] + hwr[q * H + j] + (bias ? bias[q * H + j] : 0.f);
  const float i = sigmoidf(a[0]), f = sigmoidf(a[1]), g = tanhf(a[2]), o = sigmoidf(a[3]);
  const float c_new = f * c[k] + i * g;
  const float h_new = o * tanhf(c_new);
  c[k] = c_new;
  h[k] = h_new;
  float* gr = gates + (p * B + b) * G;
  gr[j] = i;
  gr[H + j] = f;
  gr[2 * H + j] = g;
  gr[3 * H + j] = o;
  out[(p * B + b) * H + j] = h_new;
  cells[(p * B + b) * H + j] = c_new;
}

__global__ void backward_step_kernel(LSTMShape s, std::int64_t step, const std::int64_t* lengths, const float* h0,
                                     const float* c0, const float* out, const float* cells, const float* gates,
                                     const float* g_out, const float* g_cells, float* dh, float* dc, float* da,
                                     float* h_prev, float* g_gx) {
  const std::int64_t k = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const std::int64_t B = s.batch, H = s.hidden, G = 4 * H;
  if (k >= B * H) return;
  const std::int64_t b = k / H, j = k % H;
  const std::int64_t len = length_of(lengths, b, s.steps);
  float* dar = da + b * G;
  if (step >= len) {  // not started yet (in reverse time): contributes nothing to the GEMMs
#pragma unroll
    for (int q = 0; q < 4; ++q) dar[q * H + j] = 0.f;
    h_prev[k] = 0.f;
    return;
  }
  const std::int64_t p = position(step, len, s.reverse);
  const std::int64_t pp = step == 0 ? -1 : position(step - 1, len, s.reverse);
  const std::int64_t at = (p * B + b) * H + j;
  const float dh_t = dh[k] + (g_out ? g_out[at] : 0.f);
  const float* gr = gates + (p * B + b) * G;
  const float i = gr[j], f = gr[H + j], g = gr[2 * H + j], o = gr[3 * H + j];
  const float tc = tanhf(cells[at]);
  const float cp = pp >= 0 ? cells[(pp * B + b) * H + j] : (c0 ? c0[k] : 0.f);
  const float dc_t = dc[k] + (g_cells ? g_cells[at] : 0.f) + dh_t * o * (1.f - tc * tc);
  const float d_i = dc_t * g * i * (1.f - i);
  const float d_f = dc_t * cp * f * (1.f - f);
  const float d_g = dc_t * i * (1.f - g * g);
  const float d_o = dh_t * tc * o * (1.f - o);
  dar[j] = d_i;
  dar[H + j] = d_f;
  dar[2 * H + j] = d_g;
  dar[3 * H + j] = d_o;
  float* ggr = g_gx + (p * B + b) * G;
  ggr[j] = d_i;
  ggr[H + j] = d_f;
  ggr[2 * H + j] = d_g;
  ggr[3 * H + j] = d_o;
  dc[k] = dc_t * f;
  h_prev[k] = pp >= 0 ? out[(pp * B + b) * H + j] : (h0 ? h0[k] : 0.f);
}

// dh = dh_new on the rows active at `step`.
__global__ void carry_dh_kernel(LSTMShape s, std::int64_t step, const std::int64_t* lengths, const float* dh_new,
                                float* dh) {
  const std::int64_t k = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= s.batch * s.hidden) return;
  if (step < length_of(lengths, k / s.hidden, s.steps)) dh[k] = dh_new[k];
}

// out[col] = sum over rows of m[rows, cols] (double accumulation).
__global__ void column_sum_kernel(const float* m, std::int64_t rows, std::int64_t cols, float* out) {
  const std::int64_t col = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (col >= cols) return;
  double acc = 0.0;
  for (std::int64_t r = 0; r < rows; ++r) acc += m[r * cols + col];
  out[col] = static_cast<float>(acc);
}

__global__ void cell_forward_kernel(std::int64_t B, std::int64_t H, const float* gx, const float* gh, const float* c,
                                    float* h_out, float* c_out, float* gates) {
  const std::int64_t k = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= B * H) return;
  const std::int64_t b = k / H, j = k % H, G = 4 * H;
  float a[4];
#pragma unroll
  for (int q = 0; q < 4; ++q) a[q] = gx[b * G + q * H + j] + gh[b * G + q * H + j];
  const float i = sigmoidf(a[0]), f = sigmoidf(a[1]), g = tanhf(a[2]), o = sigmoidf(a[3]);
  const float c_new = f * c[k] + i * g;
  c_out[k] = c_new;
  h_out[k] = o * tanhf(c_new);
  float* gr = gates + b * G;
  gr[j] = i;
  gr[H + j] = f;
  gr[2 * H + j] = g;
  gr[3 * H + j] = o;
}

__global__ void cell_backward_kernel(std::int64_t B, std::int64_t H, const float* c, const float* c_out,
                                     const float* gates, const float* g_h, const float* g_c, float* g_pre,
                                     float* g_c_prev) {
  const std::int64_t k = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= B * H) return;
  const std::int64_t b = k / H, j = k % H, G = 4 * H;
  const float* gr = gates + b * G;
  const float i = gr[j], f = gr[H + j], g = gr[2 * H + j], o = gr[3 * H + j];
  const float tc = tanhf(c_out[k]);
  const float dh = g_h ? g_h[k] : 0.f;
  const float dc = (g_c ? g_c[k] : 0.f) + dh * o * (1.f - tc * tc);
  float* pr = g_pre + b * G;
  pr[j] = dc * g * i * (1.f - i);
  pr[H + j] = dc * c[k] * f * (1.f - f);
  pr[2 * H + j] = dc * i * (1.f - g * g);
  pr[3 * H + j] = dh * tc * o * (1.f - o);
  if (g_c_prev) g_c_prev[k] = dc * f;
}

const float* cf(const void* p) { return static_cast<const float*>(p); }
float* mf(void* p) { return static_cast<float*>(p); }

void zero_async(void* p, std::int64_t count) {
  if (p && count > 0) CUDA_CHECK(cudaMemsetAsync(p, 0, sizeof(float) * count, fg::cuda::current_stream()));
}

}  // namespace

void lstm_recurrence_forward(DType dt, LSTMShape s, const void* gates_x, const void* w_hh, const void* bias,
                             const std::int64_t* lengths, const void* h0, const void* c0, void* out, void* cells,
                             void* h_n, void* c_n, void* gates) {
  require_f32(dt, "lstm_recurrence_forward");
  const std::int64_t B = s.batch, H = s.hidden, G = 4 * H, BH = B * H;
  zero_async(out, s.steps * BH);
  zero_async(cells, s.steps * BH);
  zero_async(gates, s.steps * B * G);
  if (BH == 0) return;
  cudaStream_t stream = fg::cuda::current_stream();
  // h_n / c_n hold the running state; at the end they are each sequence's final state
  init_state_kernel<<<blocks_for(BH), kBlock, 0, stream>>>(BH, cf(h0), cf(c0), mf(h_n), mf(c_n));
  CUDA_CHECK_LAUNCH("init_state_kernel");
  fg::cuda::DeviceBuffer hw(sizeof(float) * B * G);
  for (std::int64_t step = 0; step < s.max_length; ++step) {
    gemm(DType::f32, false, true, 1, B, G, H, 1.0, h_n, 0, w_hh, 0, 0.0, hw.data(), 0);  // hw = h W_hh^T
    forward_step_kernel<<<blocks_for(BH), kBlock, 0, stream>>>(s, step, cf(gates_x), hw.as<float>(), cf(bias),
                                                               lengths, mf(h_n), mf(c_n), mf(out), mf(cells),
                                                               mf(gates));
    CUDA_CHECK_LAUNCH("forward_step_kernel");
  }
}

void lstm_recurrence_backward(DType dt, LSTMShape s, const void* w_hh, const std::int64_t* lengths, const void* h0,
                              const void* c0, const void* out, const void* cells, const void* gates,
                              const void* grad_out, const void* grad_cells, const void* grad_h_n,
                              const void* grad_c_n, void* grad_gates_x, void* grad_w_hh, void* grad_bias,
                              void* grad_h0, void* grad_c0) {
  require_f32(dt, "lstm_recurrence_backward");
  const std::int64_t B = s.batch, H = s.hidden, G = 4 * H, BH = B * H;
  cudaStream_t stream = fg::cuda::current_stream();
  zero_async(grad_gates_x, s.steps * B * G);
  zero_async(grad_w_hh, G * H);
  if (BH > 0) {
    fg::cuda::DeviceBuffer dh(sizeof(float) * BH), dc(sizeof(float) * BH), dh_new(sizeof(float) * BH),
        h_prev(sizeof(float) * BH), da(sizeof(float) * B * G);
    init_state_kernel<<<blocks_for(BH), kBlock, 0, stream>>>(BH, cf(grad_h_n), cf(grad_c_n), dh.as<float>(),
                                                             dc.as<float>());
    CUDA_CHECK_LAUNCH("init_state_kernel");
    for (std::int64_t step = s.max_length - 1; step >= 0; --step) {
      backward_step_kernel<<<blocks_for(BH), kBlock, 0, stream>>>(
          s, step, lengths, cf(h0), cf(c0), cf(out), cf(cells), cf(gates), cf(grad_out), cf(grad_cells),
          dh.as<float>(), dc.as<float>(), da.as<float>(), h_prev.as<float>(), mf(grad_gates_x));
      CUDA_CHECK_LAUNCH("backward_step_kernel");
      // grad_w_hh[4H, H] += da^T [4H, B] h_prev [B, H];  dh_new [B, H] = da [B, 4H] W_hh [4H, H]
      if (grad_w_hh) gemm(DType::f32, true, false, 1, G, H, B, 1.0, da.data(), 0, h_prev.data(), 0, 1.0, grad_w_hh, 0);
      gemm(DType::f32, false, false, 1, B, H, G, 1.0, da.data(), 0, w_hh, 0, 0.0, dh_new.data(), 0);
      carry_dh_kernel<<<blocks_for(BH), kBlock, 0, stream>>>(s, step, lengths, dh_new.as<float>(), dh.as<float>());
      CUDA_CHECK_LAUNCH("carry_dh_kernel");
    }
    if (grad_h0) CUDA_CHECK(cudaMemcpyAsync(grad_h0, dh.data(), sizeof(float) * BH, cudaMemcpyDeviceToDevice, stream));
    if (grad_c0) CUDA_CHECK(cudaMemcpyAsync(grad_c0, dc.data(), sizeof(float) * BH, cudaMemcpyDeviceToDevice, stream));
  }
  if (grad_bias) {
    column_sum_kernel<<<blocks_for(G), kBlock, 0, stream>>>(cf(grad_gates_x), s.steps * B, G, mf(grad_bias));
    CUDA_CHECK_LAUNCH("column_sum_kernel");
  }
}

void lstm_cell_forward(DType dt, std::int64_t batch, std::int64_t hidden, const void* gates_x, const void* gates_h,
                       const void* c, void* h_out, void* c_out, void* gates) {
  require_f32(dt, "lstm_cell_forward");
  const std::int64_t n = batch * hidden;
  if (n == 0) return;
  cell_forward_kernel<<<blocks_for(n), kBlock, 0, fg::cuda::current_stream()>>>(
      batch, hidden, cf(gates_x), cf(gates_h), cf(c), mf(h_out), mf(c_out), mf(gates));
  CUDA_CHECK_LAUNCH("cell_forward_kernel");
}

void lstm_cell_backward(DType dt, std::int64_t batch, std::int64_t hidden, const void* c, const void* c_out,
                        const void* gates, const void* grad_h_out, const void* grad_c_out, void* grad_pre,
                        void* grad_c) {
  require_f32(dt, "lstm_cell_backward");
  const std::int64_t n = batch * hidden;
  if (n == 0) return;
  cell_backward_kernel<<<blocks_for(n), kBlock, 0, fg::cuda::current_stream()>>>(
      batch, hidden, cf(c), cf(c_out), cf(gates), cf(grad_h_out), cf(grad_c_out), mf(grad_pre), mf(grad_c));
  CUDA_CHECK_LAUNCH("cell_backward_kernel");
}

}  // namespace fg::kernels::cuda
