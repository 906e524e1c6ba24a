// kernels/cuda/mfn.cu: MFN's gated memory recurrence on CUDA, all T steps in ONE kernel
// launch forward and one backward (equations, saved tensors and the backward in
// kernels/mfn.h; the reference is kernels/cpu/mfn.cpp). float32 only.
//
// Why one launch: the recurrence is the only serial part of MFN (everything else runs for
// all steps at once before it), and per step it is tiny (for MOSI's sizes, two
// [G = 320] x [M = 128] matrix-vector products per example). Launched step by step it
// would be T * (a few launches) of ~5 us each; fused, a step costs two block barriers.
//
// Layout: one thread block owns kExamples (NB) examples of the batch for the whole
// sequence; their memory vectors u [NB, M] and the step's hidden units [NB, G] live in
// shared memory, so no grid-wide barrier is ever needed (examples are independent). The
// weights (W_u [G, M], W1 [M, G1], W2 [M, G2]) are read from global memory at every step,
// where they stay in L2/L1 (MOSI: 320 KiB in float32, too big for one block's shared
// memory; NB examples per block share each read).
//
// Forward, per step t (two barriers):
//   phase 1, one warp per hidden unit g (lanes across m: coalesced rows of W_u):
//     pre[e, g] = gate_x[t, b_e, g] + W_u[g, :] . u[e, :]   for the NB examples e at once
//     hid[e, g] = relu(pre) * drop                            (shared memory)
//   phase 2, one warp per memory unit m (lanes across g: coalesced rows of W1, W2):
//     z1 = W1[m, :] . hid[e, :G1] + b1[m],  z2 = W2[m, :] . hid[e, G1:] + b2[m]
//     u[e, m] = g1 u[e, m] + g2 u_hat[t, b_e, m]  (in place: only this warp touches u[:, m]
//     in phase 2, and phase 1 of the next step starts after a barrier)
// Backward, per step t = T-1 .. 0 (three barriers), one thread per output element:
//   A (e, m): du += grad_u_all; grad_u_hat = du g2; dz1, dz2 (shared + global)
//   B (e, g): dhid = W1[:, g] . dz1 (or W2 and dz2): threads across g read rows of W1
//             coalesced; dpre = dhid * drop * [pre > 0] -> grad_gate_x (shared + global)
//   C (e, m): du = du g1 + W_u[:, m] . dpre: threads across m, rows of W_u coalesced
// Steps at t >= lengths[b] copy u forward (forward) or pass du unchanged (backward) and
// write zeros to the step's saved values and gradients, as the CPU does. Sums run in
// float32 in a fixed order: results are deterministic.
#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kernel_limits.h"
#include "kernels/mfn.h"

namespace fg::kernels::cuda {

using namespace cuda_detail;

namespace {

constexpr int kMfnThreads = 256;  // 8 warps

__device__ __forceinline__ float sigmoid_f(float x) { return 1.f / (1.f + expf(-x)); }

__device__ __forceinline__ float warp_sum_f(float v) {
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(kFullMask, v, off);
  return v;
}

// Whether step t of example b is valid (b < B is checked by the caller).
__device__ __forceinline__ bool valid_step(const std::int64_t* lengths, std::int64_t b, std::int64_t t,
                                           std::int64_t steps) {
  return t < (lengths ? lengths[b] : steps);
}

template <int NB>
__global__ void __launch_bounds__(kMfnThreads)
    gated_memory_forward_kernel(GatedMemoryShape s, const float* __restrict__ gate_x, const float* __restrict__ u_hat,
                                const float* __restrict__ w_u, const float* __restrict__ w1,
                                const float* __restrict__ b1, const float* __restrict__ w2,
                                const float* __restrict__ b2, const float* __restrict__ drop,
                                const std::int64_t* __restrict__ lengths, float* __restrict__ u_all,
                                float* __restrict__ pre, float* __restrict__ gammas) {
  extern __shared__ float smem[];
  const std::int64_t T = s.steps, B = s.batch, G1 = s.gate1, G2 = s.gate2, G = G1 + G2, M = s.memory;
  float* u = smem;            // [NB, M]
  float* hid = smem + NB * M;  // [NB, G]
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  const std::int64_t b0 = static_cast<std::int64_t>(blockIdx.x) * NB;
  for (std::int64_t k = threadIdx.x; k < NB * M; k += blockDim.x) u[k] = 0.f;
  __syncthreads();
  for (std::int64_t t = 0; t < T; ++t) {
    bool valid[NB];
#pragma unroll
    for (int e = 0; e < NB; ++e) valid[e] = b0 + e < B && valid_step(lengths, b0 + e, t, T);
    // phase 1: pre = gate_x + W_u u, hid = relu(pre) * drop
    for (std::int64_t g = warp; g < G; g += warps) {
      float acc[NB];
#pragma unroll
      for (int e = 0; e < NB; ++e) acc[e] = 0.f;
      const float* wr = w_u + g * M;
      for (std::int64_t m = lane; m < M; m += 32) {
        const float w = wr[m];
#pragma unroll
        for (int e = 0; e < NB; ++e) acc[e] += w * u[e * M + m];
      }
#pragma unroll
      for (int e = 0; e < NB; ++e) acc[e] = warp_sum_f(acc[e]);
      if (lane < NB) {  // lane e writes example e (registers indexed by a constant below)
#pragma unroll
        for (int e = 0; e < NB; ++e) {
          if (e != lane || b0 + e >= B) continue;
          const std::int64_t at = ((t * B) + b0 + e) * G + g;
          if (!valid[e]) {
            pre[at] = 0.f;
            hid[e * G + g] = 0.f;
            continue;
          }
          const float a = gate_x[at] + acc[e];
          pre[at] = a;
          hid[e * G + g] = a > 0.f ? a * (drop ? drop[at] : 1.f) : 0.f;
        }
      }
    }
    __syncthreads();
    // phase 2: the gates and the memory update
    for (std::int64_t m = warp; m < M; m += warps) {
      float z1[NB], z2[NB];
#pragma unroll
      for (int e = 0; e < NB; ++e) z1[e] = z2[e] = 0.f;
      const float* r1 = w1 + m * G1;
      const float* r2 = w2 + m * G2;
      for (std::int64_t g = lane; g < G1; g += 32) {
        const float w = r1[g];
#pragma unroll
        for (int e = 0; e < NB; ++e) z1[e] += w * hid[e * G + g];
      }
      for (std::int64_t g = lane; g < G2; g += 32) {
        const float w = r2[g];
#pragma unroll
        for (int e = 0; e < NB; ++e) z2[e] += w * hid[e * G + G1 + g];
      }
#pragma unroll
      for (int e = 0; e < NB; ++e) {
        z1[e] = warp_sum_f(z1[e]);
        z2[e] = warp_sum_f(z2[e]);
      }
      if (lane < NB) {
#pragma unroll
        for (int e = 0; e < NB; ++e) {
          if (e != lane || b0 + e >= B) continue;
          const std::int64_t row = t * B + b0 + e;
          float* gam = gammas + row * 2 * M;
          if (!valid[e]) {
            gam[m] = gam[M + m] = 0.f;
            u_all[row * M + m] = u[e * M + m];
            continue;
          }
          const float g1 = sigmoid_f(z1[e] + b1[m]), g2 = sigmoid_f(z2[e] + b2[m]);
          gam[m] = g1;
          gam[M + m] = g2;
          const float un = g1 * u[e * M + m] + g2 * u_hat[row * M + m];
          u[e * M + m] = un;
          u_all[row * M + m] = un;
        }
      }
    }
    __syncthreads();
  }
}

template <int NB>
__global__ void __launch_bounds__(kMfnThreads)
    gated_memory_backward_kernel(GatedMemoryShape s, const float* __restrict__ u_hat, const float* __restrict__ w_u,
                                 const float* __restrict__ w1, const float* __restrict__ w2,
                                 const float* __restrict__ drop, const std::int64_t* __restrict__ lengths,
                                 const float* __restrict__ u_all, const float* __restrict__ pre,
                                 const float* __restrict__ gammas, const float* __restrict__ grad_u_all,
                                 float* __restrict__ grad_gate_x, float* __restrict__ grad_u_hat,
                                 float* __restrict__ grad_z) {
  extern __shared__ float smem[];
  const std::int64_t T = s.steps, B = s.batch, G1 = s.gate1, G2 = s.gate2, G = G1 + G2, M = s.memory;
  float* du = smem;                  // [NB, M]
  float* dz = smem + NB * M;         // [NB, 2M]
  float* dpre = smem + 3 * NB * M;   // [NB, G]
  const std::int64_t b0 = static_cast<std::int64_t>(blockIdx.x) * NB;
  for (std::int64_t k = threadIdx.x; k < NB * M; k += blockDim.x) du[k] = 0.f;
  __syncthreads();
  for (std::int64_t t = T - 1; t >= 0; --t) {
    // A: (e, m)
    for (std::int64_t k = threadIdx.x; k < NB * M; k += blockDim.x) {
      const int e = static_cast<int>(k / M);
      const std::int64_t m = k % M, b = b0 + e;
      if (b >= B) continue;
      const std::int64_t row = t * B + b;
      if (grad_u_all) du[k] += grad_u_all[row * M + m];
      float* gz = grad_z + row * 2 * M;
      if (!valid_step(lengths, b, t, T)) {
        grad_u_hat[row * M + m] = 0.f;
        gz[m] = gz[M + m] = 0.f;
        dz[e * 2 * M + m] = dz[e * 2 * M + M + m] = 0.f;
        continue;
      }
      const float g1 = gammas[row * 2 * M + m], g2 = gammas[row * 2 * M + M + m];
      const float up = t > 0 ? u_all[(row - B) * M + m] : 0.f;
      const float d = du[k];
      grad_u_hat[row * M + m] = d * g2;
      const float dz1 = d * up * g1 * (1.f - g1), dz2 = d * u_hat[row * M + m] * g2 * (1.f - g2);
      gz[m] = dz1;
      gz[M + m] = dz2;
      dz[e * 2 * M + m] = dz1;
      dz[e * 2 * M + M + m] = dz2;
    }
    __syncthreads();
    // B: (e, g)
    for (std::int64_t k = threadIdx.x; k < NB * G; k += blockDim.x) {
      const int e = static_cast<int>(k / G);
      const std::int64_t g = k % G, b = b0 + e;
      if (b >= B) continue;
      const std::int64_t at = (t * B + b) * G + g;
      if (!valid_step(lengths, b, t, T)) {
        grad_gate_x[at] = 0.f;
        dpre[k] = 0.f;
        continue;
      }
      float dh = 0.f;
      if (g < G1) {
        const float* dz1 = dz + e * 2 * M;
        for (std::int64_t m = 0; m < M; ++m) dh += w1[m * G1 + g] * dz1[m];
      } else {
        const float* dz2 = dz + e * 2 * M + M;
        for (std::int64_t m = 0; m < M; ++m) dh += w2[m * G2 + (g - G1)] * dz2[m];
      }
      const float d = pre[at] > 0.f ? dh * (drop ? drop[at] : 1.f) : 0.f;
      grad_gate_x[at] = d;
      dpre[k] = d;
    }
    __syncthreads();
    // C: (e, m)
    for (std::int64_t k = threadIdx.x; k < NB * M; k += blockDim.x) {
      const int e = static_cast<int>(k / M);
      const std::int64_t m = k % M, b = b0 + e;
      if (b >= B || !valid_step(lengths, b, t, T)) continue;
      const float* dp = dpre + e * G;
      float d = du[k] * gammas[(t * B + b) * 2 * M + m];
      for (std::int64_t g = 0; g < G; ++g) d += w_u[g * M + m] * dp[g];
      du[k] = d;
    }
    __syncthreads();
  }
}

// Examples per block: as many as fit (4, 2 or 1) in the shared memory every device grants
// (48 KiB) beside the kernel's own static shared memory. kernel_for(nb) is the kernel
// that would run with nb examples per block.
template <class KernelFor>
int examples_per_block(std::int64_t floats_per_example, KernelFor kernel_for, const char* kernel) {
  std::size_t limit = 0;
  for (int nb : {4, 2, 1}) {
    limit = launch::dynamic_smem_limit(launch::kDefaultSmemPerBlock,
                                       static_smem_bytes(reinterpret_cast<const void*>(kernel_for(nb))));
    if (static_cast<std::size_t>(nb * floats_per_example) * sizeof(float) <= limit) return nb;
  }
  FG_CUDA_REQUIRE(false, std::string(kernel) + ": the memory and gate sizes need " +
                             std::to_string(floats_per_example * 4) +
                             " bytes of shared memory per example, more than the " + std::to_string(limit) +
                             " bytes one block has beside the kernel's own");
  return 1;
}

auto forward_kernel_for(int nb) {
  return nb == 4 ? gated_memory_forward_kernel<4> : nb == 2 ? gated_memory_forward_kernel<2> : gated_memory_forward_kernel<1>;
}
auto backward_kernel_for(int nb) {
  return nb == 4 ? gated_memory_backward_kernel<4>
                 : nb == 2 ? gated_memory_backward_kernel<2> : gated_memory_backward_kernel<1>;
}

}  // namespace

void gated_memory_forward(DType dt, GatedMemoryShape s, const void* gate_x, const void* u_hat, const void* w_u,
                          const void* w1, const void* b1, const void* w2, const void* b2, const void* drop,
                          const std::int64_t* lengths, void* u_all, void* pre, void* gammas) {
  require_f32(dt, "gated_memory_forward");
  if (s.steps == 0 || s.batch == 0) return;
  const std::int64_t G = s.gate1 + s.gate2;
  const int nb = examples_per_block(s.memory + G, forward_kernel_for, "gated_memory_forward");
  const unsigned blocks = static_cast<unsigned>(ceil_div(s.batch, nb));
  const std::size_t smem = static_cast<std::size_t>(nb * (s.memory + G)) * sizeof(float);
  auto f = [](const void* p) { return static_cast<const float*>(p); };
  auto launch = [&](auto kernel) {
    kernel<<<blocks, kMfnThreads, smem, ::fg::cuda::current_stream()>>>(
        s, f(gate_x), f(u_hat), f(w_u), f(w1), f(b1), f(w2), f(b2), f(drop), lengths, static_cast<float*>(u_all),
        static_cast<float*>(pre), static_cast<float*>(gammas));
  };
  launch(forward_kernel_for(nb));
  CUDA_CHECK_LAUNCH("gated_memory_forward_kernel");
}

void gated_memory_backward(DType dt, GatedMemoryShape s, const void* u_hat, const void* w_u, const void* w1,
                           const void* w2, const void* drop, const std::int64_t* lengths, const void* u_all,
                           const void* pre, const void* gammas, const void* grad_u_all, void* grad_gate_x,
                           void* grad_u_hat, void* grad_z) {
  require_f32(dt, "gated_memory_backward");
  if (s.steps == 0 || s.batch == 0) return;
  const std::int64_t G = s.gate1 + s.gate2;
  const int nb = examples_per_block(3 * s.memory + G, backward_kernel_for, "gated_memory_backward");
  const unsigned blocks = static_cast<unsigned>(ceil_div(s.batch, nb));
  const std::size_t smem = static_cast<std::size_t>(nb * (3 * s.memory + G)) * sizeof(float);
  auto f = [](const void* p) { return static_cast<const float*>(p); };
  auto launch = [&](auto kernel) {
    kernel<<<blocks, kMfnThreads, smem, ::fg::cuda::current_stream()>>>(
        s, f(u_hat), f(w_u), f(w1), f(w2), f(drop), lengths, f(u_all), f(pre), f(gammas), f(grad_u_all),
        static_cast<float*>(grad_gate_x), static_cast<float*>(grad_u_hat), static_cast<float*>(grad_z));
  };
  launch(backward_kernel_for(nb));
  CUDA_CHECK_LAUNCH("gated_memory_backward_kernel");
}

std::vector<launch::KernelLaunchShape> mfn_launch_shapes() {
  // MOSI sizes of MFN (memory 128, gates 2 x 64 hidden): the shapes the example trains with
  const std::int64_t M = 128, G = 128;
  std::vector<launch::KernelLaunchShape> out;
  for (int nb : {4, 2, 1}) {
    out.push_back({"gated_memory_forward M=128 G=128 examples/block=" + std::to_string(nb),
                   reinterpret_cast<const void*>(forward_kernel_for(nb)), kMfnThreads,
                   static_cast<std::size_t>(nb * (M + G)) * sizeof(float)});
    out.push_back({"gated_memory_backward M=128 G=128 examples/block=" + std::to_string(nb),
                   reinterpret_cast<const void*>(backward_kernel_for(nb)), kMfnThreads,
                   static_cast<std::size_t>(nb * (3 * M + G)) * sizeof(float)});
  }
  return out;
}

}  // namespace fg::kernels::cuda
