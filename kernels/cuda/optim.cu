// kernels/cuda/optim.cu: fused Adam/AdamW step and global-norm gradient clipping on CUDA
// (kernels/optim.h has the math; kernels/cpu/optim.cpp is the reference).
//
// One launch updates every parameter tensor: the host builds a table with one row per
// tensor (its pointers and its precomputed float32 scalars: 1 - lr wd, step size
// lr / (1 - beta1^t), sqrt(1 - beta2^t), ...) and a list of chunks (tensor, first
// element) of at most kChunk elements, uploads both in one copy through the pinned
// staging buffers, and each block walks chunks. The per-element arithmetic is
// PyTorch's, in float32: m.lerp_(g, 1 - beta1), v.mul_(beta2).addcmul_(g, g, 1 - beta2),
// denom = sqrt(v) / sqrt(bias2) + eps, p.addcdiv_(m, denom, -step_size).
// No backward: optimizer updates are not differentiated.
//
// Clipping: grad_total_norm sums |g|^q (q = 2: g^2; q = inf: max |g|) in double per
// block over the same chunk list, one block combines the block results in a fixed
// order (deterministic) and writes the norm (float32) to device memory;
// clip_grads_by_norm reads it there and scales every gradient by
// min(1, max_norm / (total + 1e-6)). NaN propagates through sum, max and the scale.
#include <cmath>
#include <vector>

#include "kernels/cuda/common.cuh"
#include "kernels/optim.h"

namespace fg::kernels::cuda {

using namespace cuda_detail;

namespace {

constexpr long long kChunk = 16384;

struct AdamDeviceParam {
  float* p;
  const float* g;
  float* m;
  float* v;
  float* vmax;
  long long numel;
  float decay;             // AdamW: 1 - lr * weight_decay
  float weight_decay;      // Adam: L2 term folded into the gradient
  float lerp_weight;       // 1 - beta1
  float beta1;             // 1 - lerp_weight, as torch.lerp uses it
  float beta2;
  float one_minus_beta2;
  float bias2_sqrt;        // sqrt(1 - beta2^t)
  float eps;
  float neg_step_size;     // -lr / (1 - beta1^t)
};

struct Chunk {
  long long start;
  long long tensor;
};

struct GradDevice {
  float* g;
  long long numel;
};

// Host tables uploaded with one copy: [rows of Row][chunks].
template <class Row>
struct ChunkedTable {
  ::fg::cuda::DeviceBuffer buffer;
  const Row* rows = nullptr;
  const Chunk* chunks = nullptr;
  long long nchunks = 0;
};

template <class Row>
ChunkedTable<Row> upload(const std::vector<Row>& rows, const std::vector<long long>& numels) {
  std::vector<Chunk> chunks;
  for (std::size_t t = 0; t < rows.size(); ++t)
    for (long long start = 0; start < numels[t]; start += kChunk)
      chunks.push_back(Chunk{start, static_cast<long long>(t)});
  ChunkedTable<Row> table;
  table.nchunks = static_cast<long long>(chunks.size());
  if (chunks.empty()) return table;
  const std::size_t rows_bytes = (rows.size() * sizeof(Row) + 15) / 16 * 16;
  const std::size_t chunk_bytes = chunks.size() * sizeof(Chunk);
  std::vector<unsigned char> host(rows_bytes + chunk_bytes);
  std::memcpy(host.data(), rows.data(), rows.size() * sizeof(Row));
  std::memcpy(host.data() + rows_bytes, chunks.data(), chunk_bytes);
  table.buffer = ::fg::cuda::DeviceBuffer(host.size());
  ::fg::cuda::copy_to_device(table.buffer.data(), host.data(), host.size());
  table.rows = static_cast<const Row*>(table.buffer.data());
  table.chunks = reinterpret_cast<const Chunk*>(static_cast<const unsigned char*>(table.buffer.data()) + rows_bytes);
  return table;
}

__device__ __forceinline__ float nan_max(float a, float b) { return (isnan(a) || isnan(b)) ? NAN : (a > b ? a : b); }

__global__ void adam_kernel(const AdamDeviceParam* params, const Chunk* chunks, long long nchunks, bool decoupled,
                            bool amsgrad) {
  for (long long c = blockIdx.x; c < nchunks; c += gridDim.x) {
    const Chunk ch = chunks[c];
    const AdamDeviceParam P = params[ch.tensor];
    const long long end = min(P.numel, ch.start + kChunk);
    for (long long i = ch.start + threadIdx.x; i < end; i += blockDim.x) {
      float g = P.g[i], p = P.p[i];
      if (decoupled) {
        p = p * P.decay;
      } else if (P.weight_decay != 0.0f) {
        g = g + P.weight_decay * p;
      }
      float m = P.m[i];
      m = P.lerp_weight < 0.5f ? m + P.lerp_weight * (g - m) : g - (g - m) * P.beta1;  // torch.lerp
      const float v = P.v[i] * P.beta2 + P.one_minus_beta2 * (g * g);
      float v_used = v;
      if (amsgrad) {
        v_used = nan_max(P.vmax[i], v);
        P.vmax[i] = v_used;
      }
      const float denom = sqrtf(v_used) / P.bias2_sqrt + P.eps;
      P.m[i] = m;
      P.v[i] = v;
      P.p[i] = p + P.neg_step_size * (m / denom);
    }
  }
}

struct NormCombine {
  bool inf_norm;
  __device__ double operator()(double a, double b) const {
    if (isnan(a) || isnan(b)) return NAN;
    return inf_norm ? (a > b ? a : b) : a + b;
  }
};

__global__ void norm_partials_kernel(const GradDevice* grads, const Chunk* chunks, long long nchunks, double q,
                                     bool inf_norm, double* partial) {
  const NormCombine combine{inf_norm};
  double acc = 0.0;
  for (long long c = blockIdx.x; c < nchunks; c += gridDim.x) {
    const Chunk ch = chunks[c];
    const GradDevice G = grads[ch.tensor];
    const long long end = min(G.numel, ch.start + kChunk);
    for (long long i = ch.start + threadIdx.x; i < end; i += blockDim.x) {
      const double a = fabs(static_cast<double>(G.g[i]));
      acc = combine(acc, inf_norm ? a : (q == 2.0 ? a * a : pow(a, q)));
    }
  }
  acc = block_allreduce(acc, combine, 0.0);
  if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

__global__ void norm_finish_kernel(const double* partial, int parts, double q, bool inf_norm, float* total) {
  const NormCombine combine{inf_norm};
  double acc = 0.0;
  for (int i = threadIdx.x; i < parts; i += blockDim.x) acc = combine(acc, partial[i]);
  acc = block_allreduce(acc, combine, 0.0);
  if (threadIdx.x == 0) {
    const double norm = inf_norm ? acc : (q == 2.0 ? sqrt(acc) : pow(acc, 1.0 / q));
    total[0] = static_cast<float>(norm);
  }
}

__global__ void clip_kernel(const GradDevice* grads, const Chunk* chunks, long long nchunks, float max_norm,
                            const float* total) {
  float coef = max_norm / (total[0] + 1e-6f);
  if (coef > 1.0f) coef = 1.0f;  // NaN stays NaN, as torch.clamp(max=1)
  for (long long c = blockIdx.x; c < nchunks; c += gridDim.x) {
    const Chunk ch = chunks[c];
    const GradDevice G = grads[ch.tensor];
    const long long end = min(G.numel, ch.start + kChunk);
    for (long long i = ch.start + threadIdx.x; i < end; i += blockDim.x) G.g[i] = G.g[i] * coef;
  }
}

ChunkedTable<GradDevice> grad_table(const GradRef* grads, std::int64_t count) {
  std::vector<GradDevice> rows;
  std::vector<long long> numels;
  for (std::int64_t t = 0; t < count; ++t) {
    rows.push_back(GradDevice{static_cast<float*>(grads[t].grad), grads[t].numel});
    numels.push_back(grads[t].numel);
  }
  return upload(rows, numels);
}

unsigned chunk_grid(long long nchunks) {
  return static_cast<unsigned>(std::min<long long>(nchunks, static_cast<long long>(::fg::cuda::sm_count()) * 8));
}

}  // namespace

void adam_step(DType dt, bool decoupled_weight_decay, bool amsgrad, const AdamParamRef* params, std::int64_t count) {
  require_f32(dt, "adam_step");
  std::vector<AdamDeviceParam> rows;
  std::vector<long long> numels;
  for (std::int64_t t = 0; t < count; ++t) {
    const AdamParamRef& r = params[t];
    FG_CUDA_REQUIRE(r.step >= 1, "adam_step: tensor " + std::to_string(t) + " has step " + std::to_string(r.step) +
                                     " (steps count from 1)");
    FG_CUDA_REQUIRE(!amsgrad || r.max_exp_avg_sq != nullptr || r.numel == 0,
                    "adam_step: amsgrad needs max_exp_avg_sq for tensor " + std::to_string(t));
    const double bias1 = 1.0 - std::pow(r.beta1, static_cast<double>(r.step));
    const double bias2 = 1.0 - std::pow(r.beta2, static_cast<double>(r.step));
    AdamDeviceParam d{};
    d.p = static_cast<float*>(r.param);
    d.g = static_cast<const float*>(r.grad);
    d.m = static_cast<float*>(r.exp_avg);
    d.v = static_cast<float*>(r.exp_avg_sq);
    d.vmax = static_cast<float*>(r.max_exp_avg_sq);
    d.numel = r.numel;
    d.decay = static_cast<float>(1.0 - r.lr * r.weight_decay);
    d.weight_decay = static_cast<float>(r.weight_decay);
    d.lerp_weight = static_cast<float>(1.0 - r.beta1);
    d.beta1 = 1.0f - d.lerp_weight;
    d.beta2 = static_cast<float>(r.beta2);
    d.one_minus_beta2 = static_cast<float>(1.0 - r.beta2);
    d.bias2_sqrt = static_cast<float>(std::sqrt(bias2));
    d.eps = static_cast<float>(r.eps);
    d.neg_step_size = static_cast<float>(-r.lr / bias1);
    rows.push_back(d);
    numels.push_back(r.numel);
  }
  const ChunkedTable<AdamDeviceParam> table = upload(rows, numels);
  if (table.nchunks == 0) return;
  adam_kernel<<<chunk_grid(table.nchunks), kThreads, 0, ::fg::cuda::current_stream()>>>(
      table.rows, table.chunks, table.nchunks, decoupled_weight_decay, amsgrad);
  CUDA_CHECK_LAUNCH("adam_kernel");
}

void grad_total_norm(DType dt, const GradRef* grads, std::int64_t count, double norm_type, void* total_norm) {
  require_f32(dt, "grad_total_norm");
  FG_CUDA_REQUIRE(norm_type > 0.0, "grad_total_norm: norm_type must be positive (or infinity), got " +
                                       std::to_string(norm_type));
  const cudaStream_t s = ::fg::cuda::current_stream();
  const ChunkedTable<GradDevice> table = grad_table(grads, count);
  const bool inf_norm = std::isinf(norm_type);
  const unsigned parts = table.nchunks > 0 ? chunk_grid(table.nchunks) : 1;
  ::fg::cuda::DeviceBuffer partial(parts * sizeof(double));
  if (table.nchunks > 0) {
    norm_partials_kernel<<<parts, kThreads, 0, s>>>(table.rows, table.chunks, table.nchunks, norm_type, inf_norm,
                                                    partial.as<double>());
    CUDA_CHECK_LAUNCH("norm_partials_kernel");
  } else {
    CUDA_CHECK(cudaMemsetAsync(partial.data(), 0, sizeof(double), s));
  }
  norm_finish_kernel<<<1, kThreads, 0, s>>>(partial.as<double>(), static_cast<int>(parts), norm_type, inf_norm,
                                            static_cast<float*>(total_norm));
  CUDA_CHECK_LAUNCH("norm_finish_kernel");
}

void clip_grads_by_norm(DType dt, const GradRef* grads, std::int64_t count, double max_norm, const void* total_norm) {
  require_f32(dt, "clip_grads_by_norm");
  const ChunkedTable<GradDevice> table = grad_table(grads, count);
  if (table.nchunks == 0) return;
  clip_kernel<<<chunk_grid(table.nchunks), kThreads, 0, ::fg::cuda::current_stream()>>>(
      table.rows, table.chunks, table.nchunks, static_cast<float>(max_norm), static_cast<const float*>(total_norm));
  CUDA_CHECK_LAUNCH("clip_kernel");
}

}  // namespace fg::kernels::cuda
