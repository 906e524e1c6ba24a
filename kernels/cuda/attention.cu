// kernels/cuda/attention.cu: fused scaled dot-product attention on CUDA, forward and
// backward (shapes, math and the backward derivation in kernels/attention.h; the CPU
// reference is kernels/cpu/attention.cpp). float32 only.
//
// Plan (correct first; docs/attention.md plans the tiled, flash-style version):
//   forward: one block per (query row i, head h, batch b). The block stages q_i in shared
//     memory, computes the row of scores s_ij = scale q_i . k_j with one warp per key
//     (lanes across head_dim: coalesced reads of k_j), masks padded keys, takes the row's
//     max and sum of exponentials by block reductions, writes p_ij (saved for the
//     backward) and the dropout mask m_ij (Philox counter offset + row * Sk + j, the CPU's
//     rule, so masks are identical), keeps p_ij m_ij in shared memory and finally writes
//     o_i = sum_j p_ij m_ij v_j with threads across head_dim (coalesced rows of v).
//     The scores never touch global memory; shared memory holds D + Sk floats.
//   backward, two kernels, no atomics (deterministic):
//     rows: one block per query row: dp_ij = m_ij go_i . v_j (warp per key), the row's
//       D_i = sum_j p_ij dp_ij, ds_ij = scale p_ij (dp_ij - D_i) (written to a scratch
//       [B, H, Sq, Sk] buffer) and gq_i = sum_j ds_ij k_j.
//     keys: one block per key row j: gk_j = sum_i ds_ij q_i and gv_j = sum_i p_ij m_ij go_i,
//       threads across head_dim.
// A batch item whose keys are all padding gets uniform probabilities and ds = 0, as on the CPU.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/cuda/check.h"
#include "engine/cuda/runtime.h"
#include "kernels/attention.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kernel_limits.h"
#include "kernels/random.h"

namespace fg::kernels::cuda {

namespace {

constexpr int kThreads = 128;  // 4 warps per block
constexpr unsigned kFull = 0xffffffffu;

__device__ float warp_sum(float v) {
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(kFull, v, off);
  return v;
}

__device__ float warp_max(float v) {
  for (int off = 16; off > 0; off >>= 1) v = fmaxf(v, __shfl_xor_sync(kFull, v, off));
  return v;
}

// Block-wide sum / max (blockDim.x a multiple of 32, at most 1024); every thread gets the
// result. Every thread of the block must call it.
__device__ float block_sum(float v) {
  __shared__ float partial[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // partial may still be read by a previous call
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  float t = lane < warps ? partial[lane] : 0.0f;
  return warp_sum(t);
}

__device__ float block_max(float v) {
  __shared__ float partial[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  float t = lane < warps ? partial[lane] : -INFINITY;
  return warp_max(t);
}

// Whether batch item b attends to at least one key (mask null: yes).
__device__ bool any_key_kept(const float* mask, long long b, long long Sk) {
  if (mask == nullptr) return true;
  float any = 0.0f;
  for (long long j = threadIdx.x; j < Sk; j += blockDim.x) any = fmaxf(any, mask[b * Sk + j] != 0.0f ? 1.0f : 0.0f);
  return block_max(any) > 0.0f;
}

// dot(a, b_row) over D elements by one warp (every lane gets the sum); a in shared memory.
__device__ float warp_dot(const float* a, const float* b_row, long long D, int lane) {
  float acc = 0.0f;
  for (long long t = lane; t < D; t += 32) acc += a[t] * b_row[t];
  return warp_sum(acc);
}

__global__ void attention_forward_kernel(AttentionDims d, float scale, const float* q, const float* k, const float* v,
                                         const float* mask, float p_drop, float keep_scale, std::uint64_t seed,
                                         std::uint64_t offset, float* out, float* probs, float* drop_mask) {
  extern __shared__ float smem[];
  const long long D = d.head_dim, Sq = d.q_len, Sk = d.kv_len;
  const long long i = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const long long bh = b * d.heads + h;
  const long long row = bh * Sq + i;
  float* qs = smem;      // [D]
  float* s = smem + D;   // [Sk]: scores, then exponentials, then p m
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  for (long long t = threadIdx.x; t < D; t += blockDim.x) qs[t] = q[row * D + t];
  __syncthreads();
  const bool any_kept = any_key_kept(mask, b, Sk);
  const float* kb = k + bh * Sk * D;
  const float* vb = v + bh * Sk * D;
  for (long long j = warp; j < Sk; j += warps) {
    const bool kept = mask == nullptr || mask[b * Sk + j] != 0.0f;
    const float dot = warp_dot(qs, kb + j * D, D, lane);
    if (lane == 0) s[j] = !any_kept ? 0.0f : (kept ? scale * dot : -INFINITY);
  }
  __syncthreads();
  float m = -INFINITY;
  for (long long j = threadIdx.x; j < Sk; j += blockDim.x) m = fmaxf(m, s[j]);
  m = block_max(m);
  float z = 0.0f;
  for (long long j = threadIdx.x; j < Sk; j += blockDim.x) {
    const float e = s[j] == -INFINITY ? 0.0f : expf(s[j] - m);
    s[j] = e;
    z += e;
  }
  z = block_sum(z);
  const float inv_z = 1.0f / z;
  for (long long j = threadIdx.x; j < Sk; j += blockDim.x) {
    const float p = s[j] * inv_z;
    probs[row * Sk + j] = p;
    float pt = p;
    if (drop_mask != nullptr) {
      const float u = philox_uniform_f32(philox4x32_10(seed, offset + static_cast<std::uint64_t>(row * Sk + j)));
      const float mj = u >= p_drop ? keep_scale : 0.0f;
      drop_mask[row * Sk + j] = mj;
      pt = p * mj;
    }
    s[j] = pt;
  }
  __syncthreads();
  for (long long t = threadIdx.x; t < D; t += blockDim.x) {
    float acc = 0.0f;
    for (long long j = 0; j < Sk; ++j) acc += s[j] * vb[j * D + t];
    out[row * D + t] = acc;
  }
}

__global__ void attention_backward_rows_kernel(AttentionDims d, float scale, const float* k, const float* v,
                                               const float* mask, const float* probs, const float* drop_mask,
                                               const float* gout, float* ds_out, float* gq) {
  extern __shared__ float smem[];
  const long long D = d.head_dim, Sq = d.q_len, Sk = d.kv_len;
  const long long i = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const long long bh = b * d.heads + h;
  const long long row = bh * Sq + i;
  float* go = smem;      // [D]
  float* dp = smem + D;  // [Sk]: dL/dp, then dL/ds
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  for (long long t = threadIdx.x; t < D; t += blockDim.x) go[t] = gout[row * D + t];
  __syncthreads();
  const bool any_kept = any_key_kept(mask, b, Sk);
  const float* kb = k + bh * Sk * D;
  const float* vb = v + bh * Sk * D;
  const float* pr = probs + row * Sk;
  const float* mr = drop_mask ? drop_mask + row * Sk : nullptr;
  for (long long j = warp; j < Sk; j += warps) {
    const float p = pr[j], mj = mr ? mr[j] : 1.0f;
    if (p == 0.0f || mj == 0.0f) {  // the whole warp takes the same branch
      if (lane == 0) dp[j] = 0.0f;
      continue;
    }
    const float dot = warp_dot(go, vb + j * D, D, lane);
    if (lane == 0) dp[j] = mj * dot;
  }
  __syncthreads();
  float di = 0.0f;
  for (long long j = threadIdx.x; j < Sk; j += blockDim.x) di += pr[j] * dp[j];
  di = block_sum(di);
  for (long long j = threadIdx.x; j < Sk; j += blockDim.x) {
    const float ds = any_kept ? scale * pr[j] * (dp[j] - di) : 0.0f;
    dp[j] = ds;
    ds_out[row * Sk + j] = ds;
  }
  __syncthreads();
  if (gq == nullptr) return;
  for (long long t = threadIdx.x; t < D; t += blockDim.x) {
    float acc = 0.0f;
    for (long long j = 0; j < Sk; ++j) acc += dp[j] * kb[j * D + t];
    gq[row * D + t] = acc;
  }
}

__global__ void attention_backward_keys_kernel(AttentionDims d, const float* q, const float* probs,
                                               const float* drop_mask, const float* gout, const float* ds,
                                               float* gk, float* gv) {
  const long long D = d.head_dim, Sq = d.q_len, Sk = d.kv_len;
  const long long j = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const long long bh = b * d.heads + h;
  const float* qb = q + bh * Sq * D;
  const float* gob = gout + bh * Sq * D;
  const float* pb = probs + bh * Sq * Sk;
  const float* mb = drop_mask ? drop_mask + bh * Sq * Sk : nullptr;
  const float* dsb = ds + bh * Sq * Sk;
  for (long long t = threadIdx.x; t < D; t += blockDim.x) {
    float acc_k = 0.0f, acc_v = 0.0f;
    for (long long i = 0; i < Sq; ++i) {
      acc_k += dsb[i * Sk + j] * qb[i * D + t];
      const float pt = mb ? pb[i * Sk + j] * mb[i * Sk + j] : pb[i * Sk + j];
      acc_v += pt * gob[i * D + t];
    }
    if (gk) gk[(bh * Sk + j) * D + t] = acc_k;
    if (gv) gv[(bh * Sk + j) * D + t] = acc_v;
  }
}

void require_f32(DType dt, const char* kernel) {
  FG_CUDA_REQUIRE(dt == DType::f32, std::string(kernel) +
                                        ": CUDA kernels compute in float32, got a " + dtype_name(dt) +
                                        " tensor (convert it on the CPU with .to(DType::f32) first)");
}

// Dynamic shared memory the row kernel `kernel` may take: the 48 KiB every device grants
// without opting in, less the kernel's static __shared__ arrays (block_sum / block_max
// scratch: CUDA counts both against the block's limit).
std::size_t row_smem_limit(const void* kernel) {
  return launch::dynamic_smem_limit(launch::kDefaultSmemPerBlock, cuda_detail::static_smem_bytes(kernel));
}

// Shared memory of the row kernels (head_dim + kv_len floats), checked against that limit.
std::size_t row_smem_bytes(const AttentionDims& d, const void* kernel, const char* name) {
  const std::size_t bytes = static_cast<std::size_t>(d.head_dim + d.kv_len) * sizeof(float);
  const std::size_t limit = row_smem_limit(kernel);
  FG_CUDA_REQUIRE(bytes <= limit, std::string(name) + ": head_dim + kv_len = " +
                                      std::to_string(d.head_dim + d.kv_len) + " floats exceed the " +
                                      std::to_string(limit) + " bytes of shared memory this kernel has beside its own " +
                                      "(at most " + std::to_string(limit / sizeof(float)) +
                                      " floats); use the flash attention kernel (head_dim 64) for longer sequences");
  return bytes;
}

dim3 grid_of(const AttentionDims& d, std::int64_t rows, const char* kernel) {
  FG_CUDA_REQUIRE(d.heads <= 65535 && d.batch <= 65535 && rows <= 0x7fffffff,
                  std::string(kernel) + ": batch and heads must be at most 65535 and sequences shorter than 2^31");
  return dim3(static_cast<unsigned>(rows), static_cast<unsigned>(d.heads), static_cast<unsigned>(d.batch));
}

}  // namespace

void attention_forward(DType dt, const AttentionDims& d, const void* q, const void* k, const void* v,
                       const void* key_mask, double dropout_p, std::uint64_t seed, std::uint64_t offset, void* out,
                       void* probs, void* drop_mask) {
  require_f32(dt, "attention_forward");
  if (d.batch == 0 || d.heads == 0 || d.q_len == 0) return;
  const std::size_t smem =
      row_smem_bytes(d, reinterpret_cast<const void*>(attention_forward_kernel), "attention_forward");
  const bool dropout = dropout_p > 0.0 && drop_mask != nullptr;
  const float keep_scale = 1.0f / (1.0f - static_cast<float>(dropout_p));  // as the CPU: T(1) / (T(1) - T(p))
  attention_forward_kernel<<<grid_of(d, d.q_len, "attention_forward"), kThreads, smem,
                             ::fg::cuda::current_stream()>>>(
      d, static_cast<float>(d.scale), static_cast<const float*>(q), static_cast<const float*>(k),
      static_cast<const float*>(v), static_cast<const float*>(key_mask), static_cast<float>(dropout_p), keep_scale,
      seed, offset, static_cast<float*>(out), static_cast<float*>(probs),
      dropout ? static_cast<float*>(drop_mask) : nullptr);
  CUDA_CHECK_LAUNCH("attention_forward_kernel");
}

void attention_backward(DType dt, const AttentionDims& d, const void* q, const void* k, const void* v,
                        const void* key_mask, const void* probs, const void* drop_mask, const void* gout, void* gq,
                        void* gk, void* gv) {
  require_f32(dt, "attention_backward");
  const cudaStream_t stream = ::fg::cuda::current_stream();
  const std::size_t key_bytes = static_cast<std::size_t>(d.batch * d.heads * d.kv_len * d.head_dim) * sizeof(float);
  if (d.batch == 0 || d.heads == 0 || d.head_dim == 0) return;
  if (d.kv_len == 0) {  // no keys: the outputs are empty sums, so gq = 0 (k and v are empty)
    const std::size_t query_bytes = static_cast<std::size_t>(d.batch * d.heads * d.q_len * d.head_dim) * sizeof(float);
    if (gq && query_bytes > 0) CUDA_CHECK(cudaMemsetAsync(gq, 0, query_bytes, stream));
    return;
  }
  if (d.q_len == 0) {  // no query rows: nothing reaches k and v
    if (gk) CUDA_CHECK(cudaMemsetAsync(gk, 0, key_bytes, stream));
    if (gv) CUDA_CHECK(cudaMemsetAsync(gv, 0, key_bytes, stream));
    return;
  }
  const std::size_t smem =
      row_smem_bytes(d, reinterpret_cast<const void*>(attention_backward_rows_kernel), "attention_backward");
  ::fg::cuda::DeviceBuffer ds(static_cast<std::size_t>(d.batch * d.heads * d.q_len * d.kv_len) * sizeof(float));
  attention_backward_rows_kernel<<<grid_of(d, d.q_len, "attention_backward"), kThreads, smem, stream>>>(
      d, static_cast<float>(d.scale), static_cast<const float*>(k), static_cast<const float*>(v),
      static_cast<const float*>(key_mask), static_cast<const float*>(probs), static_cast<const float*>(drop_mask),
      static_cast<const float*>(gout), ds.as<float>(), static_cast<float*>(gq));
  CUDA_CHECK_LAUNCH("attention_backward_rows_kernel");
  if (gk == nullptr && gv == nullptr) return;
  const int threads = static_cast<int>(d.head_dim >= 128 ? 128 : (d.head_dim + 31) / 32 * 32);
  attention_backward_keys_kernel<<<grid_of(d, d.kv_len, "attention_backward"), threads, 0, stream>>>(
      d, static_cast<const float*>(q), static_cast<const float*>(probs), static_cast<const float*>(drop_mask),
      static_cast<const float*>(gout), ds.as<float>(), static_cast<float*>(gk), static_cast<float*>(gv));
  CUDA_CHECK_LAUNCH("attention_backward_keys_kernel");
}

std::int64_t attention_rows_max_kv_len(std::int64_t head_dim, bool backward) {
  const void* kernel = backward ? reinterpret_cast<const void*>(attention_backward_rows_kernel)
                                : reinterpret_cast<const void*>(attention_forward_kernel);
  return static_cast<std::int64_t>(row_smem_limit(kernel) / sizeof(float)) - head_dim;
}

std::vector<launch::KernelLaunchShape> attention_launch_shapes() {
  std::vector<launch::KernelLaunchShape> out;
  for (bool backward : {false, true}) {
    const void* kernel = backward ? reinterpret_cast<const void*>(attention_backward_rows_kernel)
                                  : reinterpret_cast<const void*>(attention_forward_kernel);
    const char* name = backward ? "attention_backward_rows" : "attention_forward";
    for (std::int64_t D : {std::int64_t{32}, std::int64_t{64}}) {
      const std::int64_t at_edge = attention_rows_max_kv_len(D, backward);
      for (std::int64_t Sk : {std::int64_t{128}, at_edge})
        out.push_back({std::string(name) + " D=" + std::to_string(D) + " Sk=" + std::to_string(Sk), kernel, kThreads,
                       static_cast<std::size_t>(D + Sk) * sizeof(float)});
    }
  }
  return out;
}

}  // namespace fg::kernels::cuda
