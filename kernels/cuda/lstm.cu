// kernels/cuda/lstm.cu: the LSTM recurrence and the fused LSTM cell on CUDA (equations,
// shapes and the backward through time in kernels/lstm.h; the reference is
// kernels/cpu/lstm.cpp, which both paths below follow step for step; derivations and the
// performance reasoning in docs/lstm.md).
//
// Two paths for the recurrence, chosen by the hidden size H:
//   persistent (H <= 128, kernels/cuda/lstm_persistent.cu): ONE kernel for all steps,
//       W_hh held on chip, one thread block per group of sequences (no grid barrier).
//   general (H > 128, or where the persistent kernel does not fit the device): per step
//       forward:  hw = h W_hh^T (cuBLAS, [B, 4H]); step kernel: one thread per (b, j)
//                 computes the four gates of unit j of row b, updates c and h and writes
//                 the outputs at position p(s) (rows with s >= lengths[b] do nothing)
//       backward: step kernel: one thread per (b, j) takes dh (grad_h_n before the row's
//                 first step, else the previous GEMM's result), adds the incoming
//                 gradients, forms the four da entries, carries dc; then dh = da W_hh
//                 (cuBLAS)
// The environment variable FG_CUDA_LSTM=general (or =persistent) forces a path, for
// benchmarks and tests; unset or "auto" chooses as above.
//
// Both backward paths leave grad_w_hh and grad_bias to one epilogue, off the serial path:
// every da is in grad_gates_x (0 at padding), and h_prev of position p is out at p - 1
// (forward) or p + 1 (reverse), or h0 at each sequence's step 0, so
//   grad_w_hh = grad_gates_x[1:T]^T out[0:T-1] + da_first^T h0     (forward)
//   grad_w_hh = grad_gates_x[0:T-1]^T out[1:T] + da_first^T h0     (reverse)
// (padding positions pair with zeros on one side or the other; da_first [B, 4H] is each
// sequence's da at its step 0), two cuBLAS GEMMs; grad_bias = column sums of
// grad_gates_x (kernels/cuda/column_reduce.cuh: row blocks, then a fixed-order sum).
// float32 only (float64 tensors live on the CPU).
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "engine/cuda/check.h"
#include "engine/cuda/runtime.h"
#include "kernels/cuda/column_reduce.cuh"
#include "kernels/cuda/kernel_limits.h"
#include "kernels/cuda/lstm_persistent.cuh"
#include "kernels/linalg.h"
#include "kernels/lstm.h"

namespace fg::kernels::cuda {

namespace {

namespace lstm = cuda_detail::lstm;

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

// ---------------------------------------------------------------- path choice
enum class Path { General, Persistent, PersistentForced };

// The persistent kernels where they fit, else the general path. FG_CUDA_LSTM=general|
// persistent overrides the choice (persistent where it cannot run is an error naming the
// limit, never a silent fallback: tests pin the path so).
Path choose_path(std::int64_t hidden, const char* kernel) {
  const char* env = std::getenv("FG_CUDA_LSTM");
  const std::string want = env ? env : "";
  FG_CUDA_REQUIRE(want.empty() || want == "auto" || want == "general" || want == "persistent",
                  std::string(kernel) + ": FG_CUDA_LSTM must be auto, general or persistent, got '" + want + "'");
  if (want == "general") return Path::General;
  const bool supported = lstm::persistent_supported(hidden);
  if (want == "persistent") {
    FG_CUDA_REQUIRE(supported, std::string(kernel) + ": FG_CUDA_LSTM=persistent, but hidden size " +
                                   std::to_string(hidden) + " is outside the persistent kernel's range (H <= " +
                                   std::to_string(lstm::kMaxPersistentHidden) +
                                   " and its shared memory must fit the device); unset FG_CUDA_LSTM");
    return Path::PersistentForced;
  }
  return supported ? Path::Persistent : Path::General;
}

// After a persistent launch returned false (nothing fits this batch, or the launch was
// refused; one line was logged): the general path runs instead, unless the persistent
// path was forced.
void require_unforced(Path path, const char* kernel, std::int64_t hidden) {
  FG_CUDA_REQUIRE(path != Path::PersistentForced,
                  std::string(kernel) + ": FG_CUDA_LSTM=persistent, but the persistent kernel could not be launched "
                                        "at hidden size " + std::to_string(hidden) +
                                        " (see the note above); unset FG_CUDA_LSTM or FG_CUDA_LSTM_ROWS");
}

// ---------------------------------------------------------------- general path kernels
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

// One backward step for every (b, j). dh arriving at the step's h is dh_gemm (W_hh^T da of
// step + 1, from the previous GEMM) when the row ran step + 1, else grad_h_n. da rows of
// inactive sequences are zeroed so that the GEMM reads finite values.
__global__ void backward_step_kernel(LSTMShape s, std::int64_t step, const std::int64_t* lengths, const float* c0,
                                     const float* cells, const float* gates, const float* g_out,
                                     const float* g_cells, const float* g_hn, const float* dh_gemm, float* dc,
                                     float* da, float* g_gx, float* da_first) {
  const std::int64_t k = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const std::int64_t B = s.batch, H = s.hidden, G = 4 * H;
  if (k >= B * H) return;
  const std::int64_t b = k / H, j = k % H;
  const std::int64_t len = length_of(lengths, b, s.steps);
  float* dar = da + b * G;
  if (step >= len) {  // not started yet (in reverse time): contributes nothing to the GEMM
#pragma unroll
    for (int q = 0; q < 4; ++q) dar[q * H + j] = 0.f;
    return;
  }
  const std::int64_t p = position(step, len, s.reverse);
  const std::int64_t pp = step == 0 ? -1 : position(step - 1, len, s.reverse);
  const std::int64_t at = (p * B + b) * H + j;
  const float dh_in = step + 1 < len ? dh_gemm[k] : (g_hn ? g_hn[k] : 0.f);
  const float dh_t = dh_in + (g_out ? g_out[at] : 0.f);
  const float* gr = gates + (p * B + b) * G;
  const float i = gr[j], f = gr[H + j], g = gr[2 * H + j], o = gr[3 * H + j];
  const float tc = tanhf(cells[at]);
  const float cp = pp >= 0 ? cells[(pp * B + b) * H + j] : (c0 ? c0[k] : 0.f);
  const float dc_t = dc[k] + (g_cells ? g_cells[at] : 0.f) + dh_t * o * (1.f - tc * tc);
  const float d[4] = {dc_t * g * i * (1.f - i), dc_t * cp * f * (1.f - f), dc_t * i * (1.f - g * g),
                      dh_t * tc * o * (1.f - o)};
  float* ggr = g_gx + (p * B + b) * G;
#pragma unroll
  for (int q = 0; q < 4; ++q) {
    dar[q * H + j] = d[q];
    ggr[q * H + j] = d[q];
    if (step == 0 && da_first) da_first[b * G + q * H + j] = d[q];
  }
  dc[k] = dc_t * f;
}

// After the last (s = 0) step: grad_h0 = dh after step 0 (grad_h_n for length-0 rows), grad_c0 = dc.
__global__ void initial_state_grad_kernel(LSTMShape s, const std::int64_t* lengths, const float* g_hn,
                                          const float* dh_gemm, const float* dc, float* g_h0, float* g_c0) {
  const std::int64_t k = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= s.batch * s.hidden) return;
  const bool ran = s.max_length > 0 && length_of(lengths, k / s.hidden, s.steps) >= 1;
  if (g_h0) g_h0[k] = ran ? dh_gemm[k] : (g_hn ? g_hn[k] : 0.f);
  if (g_c0) g_c0[k] = dc[k];
}

// ---------------------------------------------------------------- epilogue
// grad_bias[col] = sum over the T B rows of grad_gates_x[row, col] (column_reduce.cuh:
// two stages, double sums in a fixed order, the same bits on every run).
struct GradGatesTerm {
  const float* m;
  long long cols;
  __device__ void operator()(long long r, long long c, double* v) const { v[0] += m[r * cols + c]; }
};

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

// ---------------------------------------------------------------- the two paths
void general_forward(const LSTMShape& s, const void* gates_x, const void* w_hh, const void* bias,
                     const std::int64_t* lengths, const void* h0, const void* c0, void* out, void* cells, void* h_n,
                     void* c_n, void* gates) {
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

void general_backward(const LSTMShape& s, const void* w_hh, const std::int64_t* lengths, const void* c0,
                      const void* cells, const void* gates, const void* grad_out, const void* grad_cells,
                      const void* grad_h_n, const void* grad_c_n, void* grad_gates_x, float* da_first, void* grad_h0,
                      void* grad_c0) {
  const std::int64_t B = s.batch, H = s.hidden, G = 4 * H, BH = B * H;
  cudaStream_t stream = fg::cuda::current_stream();
  zero_async(grad_gates_x, s.steps * B * G);
  zero_async(da_first, B * G);
  if (BH == 0) return;
  fg::cuda::DeviceBuffer dc(sizeof(float) * BH), dh_gemm(sizeof(float) * BH), da(sizeof(float) * B * G);
  // dc = grad_c_n (or 0); dh_gemm = 0 (read only where a GEMM has written it)
  init_state_kernel<<<blocks_for(BH), kBlock, 0, stream>>>(BH, nullptr, cf(grad_c_n), dh_gemm.as<float>(),
                                                           dc.as<float>());
  CUDA_CHECK_LAUNCH("init_state_kernel");
  for (std::int64_t step = s.max_length - 1; step >= 0; --step) {
    backward_step_kernel<<<blocks_for(BH), kBlock, 0, stream>>>(
        s, step, lengths, cf(c0), cf(cells), cf(gates), cf(grad_out), cf(grad_cells), cf(grad_h_n),
        dh_gemm.as<float>(), dc.as<float>(), da.as<float>(), mf(grad_gates_x), da_first);
    CUDA_CHECK_LAUNCH("backward_step_kernel");
    // dh [B, H] = da [B, 4H] W_hh [4H, H]: the gradient at h of the previous step
    gemm(DType::f32, false, false, 1, B, H, G, 1.0, da.data(), 0, w_hh, 0, 0.0, dh_gemm.data(), 0);
  }
  if (grad_h0 || grad_c0) {
    initial_state_grad_kernel<<<blocks_for(BH), kBlock, 0, stream>>>(s, lengths, cf(grad_h_n), dh_gemm.as<float>(),
                                                                     dc.as<float>(), mf(grad_h0), mf(grad_c0));
    CUDA_CHECK_LAUNCH("initial_state_grad_kernel");
  }
}

// grad_w_hh and grad_bias from grad_gates_x (see the file comment).
void weight_and_bias_grads(const LSTMShape& s, const void* grad_gates_x, const void* out, const void* h0,
                           const float* da_first, void* grad_w_hh, void* grad_bias) {
  const std::int64_t T = s.steps, B = s.batch, H = s.hidden, G = 4 * H;
  cudaStream_t stream = fg::cuda::current_stream();
  if (grad_w_hh) {
    const std::int64_t K = T >= 1 ? (T - 1) * B : 0;  // (position, sequence) pairs with h_prev in `out`
    if (K > 0) {
      const float* da = cf(grad_gates_x) + (s.reverse ? 0 : B * G);  // positions 1.. (forward), ..T-2 (reverse)
      const float* hp = cf(out) + (s.reverse ? B * H : 0);            // positions ..T-2 (forward), 1.. (reverse)
      gemm(DType::f32, true, false, 1, G, H, K, 1.0, da, 0, hp, 0, 0.0, grad_w_hh, 0);
    } else {
      zero_async(grad_w_hh, G * H);
    }
    if (h0 && da_first && B > 0) gemm(DType::f32, true, false, 1, G, H, B, 1.0, da_first, 0, h0, 0, 1.0, grad_w_hh, 0);
  }
  if (grad_bias) {
    if (T * B > 0) {
      cuda_detail::column_reduce<1>(T * B, G, GradGatesTerm{cf(grad_gates_x), G}, mf(grad_bias), nullptr,
                                    "lstm grad_bias column_reduce");
    } else {
      zero_async(grad_bias, G);
    }
  }
}

}  // namespace

void lstm_recurrence_forward(DType dt, LSTMShape s, const void* gates_x, const void* w_hh, const void* bias,
                             const std::int64_t* lengths, const void* h0, const void* c0, void* out, void* cells,
                             void* h_n, void* c_n, void* gates) {
  require_f32(dt, "lstm_recurrence_forward");
  const Path path = choose_path(s.hidden, "lstm_recurrence_forward");
  if (path == Path::General) {
    general_forward(s, gates_x, w_hh, bias, lengths, h0, c0, out, cells, h_n, c_n, gates);
    return;
  }
  lstm::RecurrenceForwardArgs a;
  a.steps = s.steps;
  a.batch = s.batch;
  a.hidden = static_cast<int>(s.hidden);
  a.reverse = s.reverse;
  a.gates_x = cf(gates_x);
  a.w_hh = cf(w_hh);
  a.bias = cf(bias);
  a.lengths = lengths;
  a.h0 = cf(h0);
  a.c0 = cf(c0);
  a.out = mf(out);
  a.cells = mf(cells);
  a.h_n = mf(h_n);
  a.c_n = mf(c_n);
  a.gates = mf(gates);
  if (!lstm::persistent_forward(a)) {
    require_unforced(path, "lstm_recurrence_forward", s.hidden);
    general_forward(s, gates_x, w_hh, bias, lengths, h0, c0, out, cells, h_n, c_n, gates);
  }
}

void lstm_recurrence_backward(DType dt, LSTMShape s, const void* w_hh, const std::int64_t* lengths, const void* h0,
                              const void* c0, const void* out, const void* cells, const void* gates,
                              const void* grad_out, const void* grad_cells, const void* grad_h_n,
                              const void* grad_c_n, void* grad_gates_x, void* grad_w_hh, void* grad_bias,
                              void* grad_h0, void* grad_c0) {
  require_f32(dt, "lstm_recurrence_backward");
  // da at each sequence's step 0, for the h0 term of grad_w_hh
  fg::cuda::DeviceBuffer da_first;
  if (grad_w_hh && h0 && s.batch > 0) da_first = fg::cuda::DeviceBuffer(sizeof(float) * s.batch * 4 * s.hidden);
  const Path path = choose_path(s.hidden, "lstm_recurrence_backward");
  if (path == Path::General) {
    general_backward(s, w_hh, lengths, c0, cells, gates, grad_out, grad_cells, grad_h_n, grad_c_n, grad_gates_x,
                     da_first.as<float>(), grad_h0, grad_c0);
  } else {
    lstm::RecurrenceBackwardArgs a;
    a.steps = s.steps;
    a.batch = s.batch;
    a.hidden = static_cast<int>(s.hidden);
    a.reverse = s.reverse;
    a.w_hh = cf(w_hh);
    a.lengths = lengths;
    a.c0 = cf(c0);
    a.cells = cf(cells);
    a.gates = cf(gates);
    a.grad_out = cf(grad_out);
    a.grad_cells = cf(grad_cells);
    a.grad_h_n = cf(grad_h_n);
    a.grad_c_n = cf(grad_c_n);
    a.grad_gates_x = mf(grad_gates_x);
    a.da_first = da_first.as<float>();
    a.grad_h0 = mf(grad_h0);
    a.grad_c0 = mf(grad_c0);
    if (!lstm::persistent_backward(a)) {
      require_unforced(path, "lstm_recurrence_backward", s.hidden);
      general_backward(s, w_hh, lengths, c0, cells, gates, grad_out, grad_cells, grad_h_n, grad_c_n, grad_gates_x,
                       da_first.as<float>(), grad_h0, grad_c0);
    }
  }
  weight_and_bias_grads(s, grad_gates_x, out, h0, da_first.as<float>(), grad_w_hh, grad_bias);
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

std::vector<launch::KernelLaunchShape> lstm_launch_shapes() {
  std::vector<launch::KernelLaunchShape> out;
  for (int H : {33, 64, 128}) {
    const auto r = lstm::persistent_kernel_reports(H);
    out.insert(out.end(), r.begin(), r.end());
  }
  return out;
}

}  // namespace fg::kernels::cuda
