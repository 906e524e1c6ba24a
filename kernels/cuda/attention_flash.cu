// kernels/cuda/attention_flash.cu: tiled, on-chip ("flash-style") scaled dot-product
// attention for head_dim 64, forward and backward: the recompute contract of
// kernels/attention.h (the forward keeps one log-sum-exp per query row; the backward
// recomputes the probabilities and regenerates the dropout mask from its Philox counters).
// The reference is attention_flash_* in kernels/cpu/attention.cpp; docs/attention.md
// derives the math and the tiling. float32, CUDA cores (no tensor cores yet).
//
// Tiles: 64 query rows x 64 keys x head_dim 64, 256 threads per block. Thread (ty, tx)
// (threadIdx.x = 16 ty + tx) owns a 4 x 4 micro-tile of every 64 x 64 product: rows
// ty + 16 i and columns tx + 16 j (i, j < 4). Tiles sit in shared memory with rows padded
// to 65 floats, so a warp's reads hit 32 different banks (or broadcast). The 16 threads
// holding one row of a micro-tile are lanes of one half-warp: row reductions are four
// shuffles.
//
// forward, one block per (64 query rows, head, batch item):
//   Q tile in shared memory; per key tile: K, V tiles in; S = scale Q K^T (registers);
//   padded keys -inf; running row max m and sum l (online softmax):
//     m' = max(m, rowmax S);  P = exp(S - m');  l = l e^(m - m') + rowsum P;  O = O e^(m - m')
//   P times the dropout multipliers to shared memory; O += P V (registers). At the end
//   O / l and lse = m + log l are written. Shared memory: Q, K, V, P: 66.5 KiB.
// backward, D_i = go_i . o_i first (one warp per row), then two kernels, no atomics
// (deterministic):
//   dK/dV: one block per (64 keys, head, batch item); K, V tiles stay; per query tile:
//     recompute S^T and dP^T = V dO^T, P = exp(S - lse), Pt = P M, dS = scale P (M dP - D);
//     dV += Pt^T dO, dK += dS^T Q. Shared memory: K, V, Q, dO, Pt^T, dS^T: 100 KiB.
//   dQ: one block per (64 query rows, head, batch item); per key tile: recompute S and dP,
//     dS as above, dQ += dS K. Shared memory: Q, dO, K, V, dS: 83 KiB.
// The kernels opt in to more than 48 KiB of shared memory (cudaFuncSetAttribute), which
// every device from sm_80 on grants; the request is checked against the opt-in limit less
// the kernels' static shared memory (block_any_kept's flag).
// Without keys (kv_len 0) the forward writes o = 0 and lse = -inf and the backward gq = 0,
// as the CPU reference does.
// A batch item whose keys are all padding attends uniformly (all scores 0) and gets dS = 0,
// as kernels/attention.h specifies.
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

constexpr int kD = 64;         // head_dim handled here
constexpr int kTile = 64;      // query rows and keys per tile
constexpr int kStride = kD + 1;  // padded row of a shared-memory tile
constexpr int kTileFloats = kTile * kStride;
constexpr int kFlashThreads = 256;
constexpr unsigned kFull = 0xffffffffu;

// Row reductions over the 16 lanes (one half-warp) that hold a micro-tile row.
__device__ __forceinline__ float half_warp_max(float v) {
  for (int off = 8; off > 0; off >>= 1) v = fmaxf(v, __shfl_xor_sync(kFull, v, off));
  return v;
}
__device__ __forceinline__ float half_warp_sum(float v) {
  for (int off = 8; off > 0; off >>= 1) v += __shfl_xor_sync(kFull, v, off);
  return v;
}

// Whether batch item b attends to at least one key (mask null: yes). Every thread calls it.
__device__ bool block_any_kept(const float* mask, long long b, long long Sk) {
  __shared__ int any;
  if (threadIdx.x == 0) any = 0;
  __syncthreads();
  if (mask == nullptr) return true;
  bool mine = false;
  for (long long j = threadIdx.x; j < Sk; j += blockDim.x) mine = mine || mask[b * Sk + j] != 0.0f;
  if (mine) atomicOr(&any, 1);
  __syncthreads();
  return any != 0;
}

// rows [0, valid) of a [*, 64] row-major block into a padded tile; rows >= valid are 0.
__device__ void load_tile(float* tile, const float* src, long long valid) {
  for (int idx = threadIdx.x; idx < kTile * kD; idx += blockDim.x) {
    const int r = idx / kD, c = idx % kD;
    tile[r * kStride + c] = r < valid ? src[static_cast<long long>(r) * kD + c] : 0.0f;
  }
}

// acc[i][j] = sum_t A[ra + 16 i][t] B[rb + 16 j][t]  (rows of two padded tiles: A B^T)
__device__ __forceinline__ void tile_dot(const float* A, int ra, const float* B, int rb, float acc[4][4]) {
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;
#pragma unroll 8
  for (int t = 0; t < kD; ++t) {
    float a[4], bb[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) a[i] = A[(ra + 16 * i) * kStride + t];
#pragma unroll
    for (int j = 0; j < 4; ++j) bb[j] = B[(rb + 16 * j) * kStride + t];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) acc[i][j] += a[i] * bb[j];
  }
}

// acc[i][j] += sum_c P[rp + 16 i][c] V[c][cv + 16 j]  (P V with both padded tiles)
__device__ __forceinline__ void tile_mul_acc(const float* P, int rp, const float* V, int cv, float acc[4][4]) {
#pragma unroll 8
  for (int c = 0; c < kTile; ++c) {
    float a[4], bb[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) a[i] = P[(rp + 16 * i) * kStride + c];
#pragma unroll
    for (int j = 0; j < 4; ++j) bb[j] = V[c * kStride + cv + 16 * j];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) acc[i][j] += a[i] * bb[j];
  }
}

// Dropout multiplier of flat probability index `flat` (ops dropout's Philox rule).
__device__ __forceinline__ float drop_mult(float p_drop, float keep_scale, std::uint64_t seed, std::uint64_t offset,
                                           long long flat) {
  if (p_drop <= 0.0f) return 1.0f;
  const float u = philox_uniform_f32(philox4x32_10(seed, offset + static_cast<std::uint64_t>(flat)));
  return u >= p_drop ? keep_scale : 0.0f;
}

// kept[c] = 1 for the tile's keys that are attended (all in-range keys when none is kept).
__device__ void load_kept(float* kept, const float* mask, long long b, long long Sk, long long k0, long long nk,
                          bool any_kept) {
  if (threadIdx.x < kTile) {
    const long long c = threadIdx.x;
    kept[c] = c < nk && (!any_kept || mask == nullptr || mask[b * Sk + k0 + c] != 0.0f) ? 1.0f : 0.0f;
  }
}

struct FlashArgs {
  AttentionDims d;
  float scale, p_drop, keep_scale;
  std::uint64_t seed, offset;
};

__global__ void __launch_bounds__(kFlashThreads)
    flash_forward_kernel(FlashArgs a, const float* __restrict__ q, const float* __restrict__ k,
                         const float* __restrict__ v, const float* __restrict__ mask, float* __restrict__ out,
                         float* __restrict__ lse) {
  extern __shared__ float sm[];
  float* Qs = sm;
  float* Ks = Qs + kTileFloats;
  float* Vs = Ks + kTileFloats;
  float* Ps = Vs + kTileFloats;
  float* kept = Ps + kTileFloats;  // [64]
  const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;
  const long long Sq = a.d.q_len, Sk = a.d.kv_len;
  const long long q0 = static_cast<long long>(blockIdx.x) * kTile, h = blockIdx.y, b = blockIdx.z;
  const long long bh = b * a.d.heads + h;
  const long long nq = Sq - q0 < kTile ? Sq - q0 : kTile;
  const bool any_kept = block_any_kept(mask, b, Sk);
  load_tile(Qs, q + (bh * Sq + q0) * kD, nq);
  float m[4], l[4], o[4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    m[i] = -INFINITY;
    l[i] = 0.0f;
#pragma unroll
    for (int j = 0; j < 4; ++j) o[i][j] = 0.0f;
  }
  for (long long k0 = 0; k0 < Sk; k0 += kTile) {
    const long long nk = Sk - k0 < kTile ? Sk - k0 : kTile;
    load_tile(Ks, k + (bh * Sk + k0) * kD, nk);
    load_tile(Vs, v + (bh * Sk + k0) * kD, nk);
    load_kept(kept, mask, b, Sk, k0, nk, any_kept);
    __syncthreads();
    float s[4][4];
    tile_dot(Qs, ty, Ks, tx, s);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      float row_max = -INFINITY;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        s[i][j] = kept[tx + 16 * j] != 0.0f ? (any_kept ? a.scale * s[i][j] : 0.0f) : -INFINITY;
        row_max = fmaxf(row_max, s[i][j]);
      }
      row_max = half_warp_max(row_max);
      const float m_new = fmaxf(m[i], row_max);
      const float alpha = m[i] == -INFINITY ? 0.0f : expf(m[i] - m_new);
      float row_sum = 0.0f;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        s[i][j] = s[i][j] == -INFINITY ? 0.0f : expf(s[i][j] - m_new);
        row_sum += s[i][j];
      }
      row_sum = half_warp_sum(row_sum);
      l[i] = l[i] * alpha + row_sum;
      m[i] = m_new;
      const long long r = ty + 16 * i;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        o[i][j] *= alpha;
        const long long c = tx + 16 * j;
        float pt = s[i][j];
        if (pt != 0.0f && r < nq)
          pt *= drop_mult(a.p_drop, a.keep_scale, a.seed, a.offset, (bh * Sq + q0 + r) * Sk + k0 + c);
        Ps[r * kStride + c] = pt;
      }
    }
    __syncthreads();
    tile_mul_acc(Ps, ty, Vs, tx, o);
    __syncthreads();  // Ks, Vs, Ps are overwritten by the next tile
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const long long r = ty + 16 * i;
    if (r >= nq) continue;
    // l = 0 only without keys (kv_len 0): the output is an empty sum, 0, as on the CPU
    // (and lse = -inf + log 0 = -inf, as the CPU's max of nothing plus log 0)
    const float inv_l = l[i] > 0.0f ? 1.0f / l[i] : 0.0f;
    const long long row = bh * Sq + q0 + r;
#pragma unroll
    for (int j = 0; j < 4; ++j) out[row * kD + tx + 16 * j] = o[i][j] * inv_l;
    if (tx == 0) lse[row] = m[i] + logf(l[i]);
  }
}

// Dv[row] = go_row . o_row, one warp per row.
__global__ void flash_row_dot_kernel(long long rows, const float* __restrict__ gout, const float* __restrict__ out,
                                     float* __restrict__ dv) {
  const long long row = static_cast<long long>(blockIdx.x) * (blockDim.x / 32) + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (row >= rows) return;
  float acc = 0.0f;
  for (int t = lane; t < kD; t += 32) acc += gout[row * kD + t] * out[row * kD + t];
  for (int off = 16; off > 0; off >>= 1) acc += __shfl_xor_sync(kFull, acc, off);
  if (lane == 0) dv[row] = acc;
}

__global__ void __launch_bounds__(kFlashThreads)
    flash_backward_dkdv_kernel(FlashArgs a, const float* __restrict__ q, const float* __restrict__ k,
                               const float* __restrict__ v, const float* __restrict__ mask,
                               const float* __restrict__ gout, const float* __restrict__ lse,
                               const float* __restrict__ dvec, float* __restrict__ gk, float* __restrict__ gv) {
  extern __shared__ float sm[];
  float* Ks = sm;
  float* Vs = Ks + kTileFloats;
  float* Qs = Vs + kTileFloats;
  float* dOs = Qs + kTileFloats;
  float* PtT = dOs + kTileFloats;  // [key][query]
  float* dST = PtT + kTileFloats;  // [key][query]
  float* lse_s = dST + kTileFloats;
  float* d_s = lse_s + kTile;
  float* kept = d_s + kTile;
  const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;
  const long long Sq = a.d.q_len, Sk = a.d.kv_len;
  const long long k0 = static_cast<long long>(blockIdx.x) * kTile, h = blockIdx.y, b = blockIdx.z;
  const long long bh = b * a.d.heads + h;
  const long long nk = Sk - k0 < kTile ? Sk - k0 : kTile;
  const bool any_kept = block_any_kept(mask, b, Sk);
  load_tile(Ks, k + (bh * Sk + k0) * kD, nk);
  load_tile(Vs, v + (bh * Sk + k0) * kD, nk);
  load_kept(kept, mask, b, Sk, k0, nk, any_kept);
  float dk[4][4], dvv[4][4];  // rows: keys ty + 16 i; columns: head dims tx + 16 j
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) dk[i][j] = dvv[i][j] = 0.0f;
  for (long long q0 = 0; q0 < Sq; q0 += kTile) {
    const long long nq = Sq - q0 < kTile ? Sq - q0 : kTile;
    load_tile(Qs, q + (bh * Sq + q0) * kD, nq);
    load_tile(dOs, gout + (bh * Sq + q0) * kD, nq);
    if (threadIdx.x < kTile) {
      const long long r = threadIdx.x;
      lse_s[r] = r < nq ? lse[bh * Sq + q0 + r] : 0.0f;
      d_s[r] = r < nq ? dvec[bh * Sq + q0 + r] : 0.0f;
    }
    __syncthreads();
    float s[4][4], dp[4][4];  // rows: keys ty + 16 i; columns: queries tx + 16 j
    tile_dot(Ks, ty, Qs, tx, s);
    tile_dot(Vs, ty, dOs, tx, dp);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const long long c = ty + 16 * i;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const long long r = tx + 16 * j;
        const bool valid = kept[c] != 0.0f && r < nq;
        const float p = valid ? expf((any_kept ? a.scale * s[i][j] : 0.0f) - lse_s[r]) : 0.0f;
        const float mult =
            valid ? drop_mult(a.p_drop, a.keep_scale, a.seed, a.offset, (bh * Sq + q0 + r) * Sk + k0 + c) : 0.0f;
        PtT[c * kStride + r] = p * mult;
        dST[c * kStride + r] = any_kept ? a.scale * p * (mult * dp[i][j] - d_s[r]) : 0.0f;
      }
    }
    __syncthreads();
    tile_mul_acc(PtT, ty, dOs, tx, dvv);
    tile_mul_acc(dST, ty, Qs, tx, dk);
    __syncthreads();  // Qs, dOs, PtT, dST are overwritten by the next query tile
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const long long c = ty + 16 * i;
    if (c >= nk) continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const long long at = (bh * Sk + k0 + c) * kD + tx + 16 * j;
      if (gk) gk[at] = dk[i][j];
      if (gv) gv[at] = dvv[i][j];
    }
  }
}

__global__ void __launch_bounds__(kFlashThreads)
    flash_backward_dq_kernel(FlashArgs a, const float* __restrict__ q, const float* __restrict__ k,
                             const float* __restrict__ v, const float* __restrict__ mask,
                             const float* __restrict__ gout, const float* __restrict__ lse,
                             const float* __restrict__ dvec, float* __restrict__ gq) {
  extern __shared__ float sm[];
  float* Qs = sm;
  float* dOs = Qs + kTileFloats;
  float* Ks = dOs + kTileFloats;
  float* Vs = Ks + kTileFloats;
  float* dSs = Vs + kTileFloats;  // [query][key]
  float* lse_s = dSs + kTileFloats;
  float* d_s = lse_s + kTile;
  float* kept = d_s + kTile;
  const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;
  const long long Sq = a.d.q_len, Sk = a.d.kv_len;
  const long long q0 = static_cast<long long>(blockIdx.x) * kTile, h = blockIdx.y, b = blockIdx.z;
  const long long bh = b * a.d.heads + h;
  const long long nq = Sq - q0 < kTile ? Sq - q0 : kTile;
  const bool any_kept = block_any_kept(mask, b, Sk);
  load_tile(Qs, q + (bh * Sq + q0) * kD, nq);
  load_tile(dOs, gout + (bh * Sq + q0) * kD, nq);
  if (threadIdx.x < kTile) {
    const long long r = threadIdx.x;
    lse_s[r] = r < nq ? lse[bh * Sq + q0 + r] : 0.0f;
    d_s[r] = r < nq ? dvec[bh * Sq + q0 + r] : 0.0f;
  }
  float dq[4][4];  // rows: queries ty + 16 i; columns: head dims tx + 16 j
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) dq[i][j] = 0.0f;
  for (long long k0 = 0; any_kept && k0 < Sk; k0 += kTile) {  // no kept key: dS = 0, dQ = 0
    const long long nk = Sk - k0 < kTile ? Sk - k0 : kTile;
    load_tile(Ks, k + (bh * Sk + k0) * kD, nk);
    load_tile(Vs, v + (bh * Sk + k0) * kD, nk);
    load_kept(kept, mask, b, Sk, k0, nk, any_kept);
    __syncthreads();
    float s[4][4], dp[4][4];  // rows: queries ty + 16 i; columns: keys tx + 16 j
    tile_dot(Qs, ty, Ks, tx, s);
    tile_dot(dOs, ty, Vs, tx, dp);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const long long r = ty + 16 * i;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const long long c = tx + 16 * j;
        const bool valid = kept[c] != 0.0f && r < nq;
        const float p = valid ? expf(a.scale * s[i][j] - lse_s[r]) : 0.0f;
        const float mult =
            valid ? drop_mult(a.p_drop, a.keep_scale, a.seed, a.offset, (bh * Sq + q0 + r) * Sk + k0 + c) : 0.0f;
        dSs[r * kStride + c] = a.scale * p * (mult * dp[i][j] - d_s[r]);
      }
    }
    __syncthreads();
    tile_mul_acc(dSs, ty, Ks, tx, dq);
    __syncthreads();  // Ks, Vs, dSs are overwritten by the next key tile
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const long long r = ty + 16 * i;
    if (r >= nq) continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) gq[(bh * Sq + q0 + r) * kD + tx + 16 * j] = dq[i][j];
  }
}

void require_flash(DType dt, const AttentionDims& d, const char* kernel) {
  FG_CUDA_REQUIRE(dt == DType::f32, std::string(kernel) + ": CUDA kernels compute in float32, got a " +
                                        dtype_name(dt) + " tensor (convert it on the CPU with .to(DType::f32) first)");
  FG_CUDA_REQUIRE(d.head_dim == kD, std::string(kernel) + ": the tiled CUDA kernel is compiled for head_dim 64, got " +
                                        std::to_string(d.head_dim) + " (use AttentionImpl::Saved)");
  FG_CUDA_REQUIRE(d.heads <= 65535 && d.batch <= 65535 && (d.q_len + kTile - 1) / kTile <= 0x7fffffff &&
                      (d.kv_len + kTile - 1) / kTile <= 0x7fffffff,
                  std::string(kernel) + ": batch and heads must be at most 65535");
}

dim3 tiles_grid(const AttentionDims& d, std::int64_t len) {
  return dim3(static_cast<unsigned>((len + kTile - 1) / kTile), static_cast<unsigned>(d.heads),
              static_cast<unsigned>(d.batch));
}

// Opts `kernel` in to `bytes` of dynamic shared memory (above the default 48 KiB). CUDA
// counts the kernel's static __shared__ bytes against the same per-block limit, so the
// dynamic request must fit in what the opt-in limit leaves beside them.
template <class Kernel>
void allow_smem(Kernel kernel, std::size_t bytes, const char* name) {
  const std::size_t limit = launch::dynamic_smem_limit(cuda_detail::smem_optin_bytes(),
                                                       cuda_detail::static_smem_bytes(reinterpret_cast<const void*>(kernel)));
  FG_CUDA_REQUIRE(bytes <= limit, std::string(name) + ": needs " + std::to_string(bytes) +
                                      " bytes of dynamic shared memory, this device leaves " + std::to_string(limit) +
                                      " beside the kernel's static shared memory; use AttentionImpl::Saved");
  CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
}

constexpr std::size_t kForwardSmem = (4 * kTileFloats + kTile) * sizeof(float);
constexpr std::size_t kDkDvSmem = (6 * kTileFloats + 3 * kTile) * sizeof(float);
constexpr std::size_t kDqSmem = (5 * kTileFloats + 3 * kTile) * sizeof(float);

FlashArgs flash_args(const AttentionDims& d, double dropout_p, std::uint64_t seed, std::uint64_t offset) {
  FlashArgs a;
  a.d = d;
  a.scale = static_cast<float>(d.scale);
  a.p_drop = static_cast<float>(dropout_p);
  a.keep_scale = dropout_p > 0.0 ? 1.0f / (1.0f - static_cast<float>(dropout_p)) : 1.0f;  // as the CPU
  a.seed = seed;
  a.offset = offset;
  return a;
}

}  // namespace

void attention_flash_forward(DType dt, const AttentionDims& d, const void* q, const void* k, const void* v,
                             const void* key_mask, double dropout_p, std::uint64_t seed, std::uint64_t offset,
                             void* out, void* lse) {
  require_flash(dt, d, "attention_flash_forward");
  if (d.batch == 0 || d.heads == 0 || d.q_len == 0) return;
  const std::size_t smem = kForwardSmem;
  allow_smem(flash_forward_kernel, smem, "attention_flash_forward");
  flash_forward_kernel<<<tiles_grid(d, d.q_len), kFlashThreads, smem, ::fg::cuda::current_stream()>>>(
      flash_args(d, dropout_p, seed, offset), static_cast<const float*>(q), static_cast<const float*>(k),
      static_cast<const float*>(v), static_cast<const float*>(key_mask), static_cast<float*>(out),
      static_cast<float*>(lse));
  CUDA_CHECK_LAUNCH("flash_forward_kernel");
}

void attention_flash_backward(DType dt, const AttentionDims& d, const void* q, const void* k, const void* v,
                              const void* key_mask, double dropout_p, std::uint64_t seed, std::uint64_t offset,
                              const void* out, const void* lse, const void* gout, void* gq, void* gk, void* gv) {
  require_flash(dt, d, "attention_flash_backward");
  const cudaStream_t stream = ::fg::cuda::current_stream();
  if (d.batch == 0 || d.heads == 0) return;
  if (d.kv_len == 0) {  // no keys: the outputs are empty sums, so gq = 0 (k and v are empty)
    const std::size_t query_bytes = static_cast<std::size_t>(d.batch * d.heads * d.q_len * kD) * sizeof(float);
    if (gq && query_bytes > 0) CUDA_CHECK(cudaMemsetAsync(gq, 0, query_bytes, stream));
    return;
  }
  if (d.q_len == 0) {  // no query rows: nothing reaches k and v
    const std::size_t key_bytes = static_cast<std::size_t>(d.batch * d.heads * d.kv_len * kD) * sizeof(float);
    if (gk) CUDA_CHECK(cudaMemsetAsync(gk, 0, key_bytes, stream));
    if (gv) CUDA_CHECK(cudaMemsetAsync(gv, 0, key_bytes, stream));
    return;
  }
  const FlashArgs a = flash_args(d, dropout_p, seed, offset);
  const auto f = [](const void* p) { return static_cast<const float*>(p); };
  const long long rows = d.batch * d.heads * d.q_len;
  ::fg::cuda::DeviceBuffer dvec(static_cast<std::size_t>(rows) * sizeof(float));
  flash_row_dot_kernel<<<static_cast<unsigned>((rows + 7) / 8), 256, 0, stream>>>(rows, f(gout), f(out),
                                                                                  dvec.as<float>());
  CUDA_CHECK_LAUNCH("flash_row_dot_kernel");
  if (gk || gv) {
    const std::size_t smem = kDkDvSmem;
    allow_smem(flash_backward_dkdv_kernel, smem, "attention_flash_backward (dK, dV)");
    flash_backward_dkdv_kernel<<<tiles_grid(d, d.kv_len), kFlashThreads, smem, stream>>>(
        a, f(q), f(k), f(v), f(key_mask), f(gout), f(lse), dvec.as<float>(), static_cast<float*>(gk),
        static_cast<float*>(gv));
    CUDA_CHECK_LAUNCH("flash_backward_dkdv_kernel");
  }
  if (gq) {
    const std::size_t smem = kDqSmem;
    allow_smem(flash_backward_dq_kernel, smem, "attention_flash_backward (dQ)");
    flash_backward_dq_kernel<<<tiles_grid(d, d.q_len), kFlashThreads, smem, stream>>>(
        a, f(q), f(k), f(v), f(key_mask), f(gout), f(lse), dvec.as<float>(), static_cast<float*>(gq));
    CUDA_CHECK_LAUNCH("flash_backward_dq_kernel");
  }
}

std::vector<launch::KernelLaunchShape> flash_attention_launch_shapes() {
  return {{"flash_forward D=64", reinterpret_cast<const void*>(flash_forward_kernel), kFlashThreads, kForwardSmem},
          {"flash_backward_dkdv D=64", reinterpret_cast<const void*>(flash_backward_dkdv_kernel), kFlashThreads,
           kDkDvSmem},
          {"flash_backward_dq D=64", reinterpret_cast<const void*>(flash_backward_dq_kernel), kFlashThreads, kDqSmem}};
}

}  // namespace fg::kernels::cuda
