// kernels/cuda/loss.cu: the four task losses on CUDA (kernels/loss.h), float32.
//
// Forward: out[0] = scale * sum_i l_i, a one-element device buffer.
//   l1: |p - t|   mse: (p - t)^2   cross entropy (logits [rows, C], int64 class ids):
//   lse_r - x[r, t_r] (lse [rows] saved)   bce with logits: max(x, 0) - x t + log(1 + e^-|x|)
// Backward (gout: the upstream gradient, one element in device memory, read on the
// device so no host round trip): d/dinput = gout * scale * dl_i with
//   l1: sign(p - t), mse: 2 (p - t), targets get the negation; cross entropy:
//   softmax(x_r) - onehot(t_r); bce: sigmoid(x) - t for x, -x for t.
// (kernels/cpu/loss.cpp has the same formulas.)
//
// The sums are deterministic: each block adds a fixed, grid-strided slice of the terms
// in double, block totals are written to a partial buffer, and one block adds those in
// a fixed tree order. Cross entropy: one warp (C <= 1024) or block per row computes lse
// with the online max/sum (kernels/cuda/common.cuh) and the row's loss; a class id
// outside [0, C) is reported through bad_position (smallest row) and its row adds 0.
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/loss.h"

namespace fg::kernels::cuda {

using namespace cuda_detail;

namespace {

constexpr int kMaxSumBlocks = 1024;

template <class Term>
__global__ void sum_terms_kernel(long long n, Term term, double* partial) {
  double acc = 0.0;
  const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) acc += term(i);
  acc = block_allreduce(acc, SumOp{}, 0.0);
  if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

__global__ void finish_sum_kernel(const double* partial, int parts, double scale, float* out) {
  double acc = 0.0;
  for (int i = threadIdx.x; i < parts; i += blockDim.x) acc += partial[i];
  acc = block_allreduce(acc, SumOp{}, 0.0);
  if (threadIdx.x == 0) out[0] = static_cast<float>(scale * acc);
}

// out[0] = scale * sum_{i < n} term(i), deterministic.
template <class Term>
void deterministic_sum(long long n, Term term, double scale, float* out) {
  const cudaStream_t s = ::fg::cuda::current_stream();
  const int parts = static_cast<int>(std::min<long long>(grid_for(n), kMaxSumBlocks));
  ::fg::cuda::DeviceBuffer partial(static_cast<std::size_t>(parts) * sizeof(double));
  sum_terms_kernel<Term><<<parts, kThreads, 0, s>>>(n, term, partial.as<double>());
  CUDA_CHECK_LAUNCH("sum_terms_kernel");
  finish_sum_kernel<<<1, kThreads, 0, s>>>(partial.as<double>(), parts, scale, out);
  CUDA_CHECK_LAUNCH("finish_sum_kernel");
}

struct RegressionTerm {
  bool l1;
  const float* pred;
  const float* target;
  __device__ double operator()(long long i) const {
    const double d = static_cast<double>(pred[i]) - static_cast<double>(target[i]);
    return l1 ? fabs(d) : d * d;
  }
};

struct BceTerm {
  const float* logits;
  const float* target;
  __device__ double operator()(long long i) const {
    const double x = logits[i];
    return (x < 0.0 ? 0.0 : x) - x * static_cast<double>(target[i]) + log1p(exp(-fabs(x)));
  }
};

struct DoubleArrayTerm {
  const double* values;
  __device__ double operator()(long long i) const { return values[i]; }
};

__global__ void regression_backward_kernel(long long n, bool l1, double scale, const float* pred, const float* target,
                                           const float* gout, float* gpred, float* gtarget) {
  const float g = static_cast<float>(scale * static_cast<double>(gout[0]));
  const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float d = pred[i] - target[i];
    const float dl = l1 ? (d > 0.0f ? 1.0f : (d < 0.0f ? -1.0f : 0.0f)) : 2.0f * d;
    if (gpred) gpred[i] = g * dl;
    if (gtarget) gtarget[i] = -g * dl;
  }
}

template <bool WARP>
__global__ void cross_entropy_rows_kernel(long long rows, long long classes, const float* logits,
                                          const std::int64_t* target, float* lse, double* row_loss,
                                          std::int64_t* bad) {
  const RowGroup g = row_group<WARP>();
  for (long long row = g.first; row < rows; row += g.step) {
    const float* xr = logits + row * classes;
    MaxSum a = max_sum_identity();
    for (long long c = g.lane; c < classes; c += g.lanes) max_sum_update(a, xr[c]);
    a = group_allreduce<WARP>(a, MaxSumCombine{}, max_sum_identity());
    if (g.lane == 0) {
      const float lse_r = max_sum_lse(a);
      lse[row] = lse_r;
      const long long t = target[row];
      if (t < 0 || t >= classes) {
        report_bad_position(bad, row);
        row_loss[row] = 0.0;
      } else {
        row_loss[row] = static_cast<double>(lse_r) - static_cast<double>(xr[t]);
      }
    }
  }
}

__global__ void cross_entropy_backward_kernel(long long total, long long classes, double scale, const float* logits,
                                              const std::int64_t* target, const float* lse, const float* gout,
                                              float* glogits) {
  const float g = static_cast<float>(scale * static_cast<double>(gout[0]));
  const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long p = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; p < total; p += stride) {
    const long long r = p / classes, c = p - r * classes;
    const float prob = expf(logits[p] - lse[r]);
    glogits[p] = g * (prob - (c == target[r] ? 1.0f : 0.0f));
  }
}

__global__ void bce_backward_kernel(long long n, double scale, const float* logits, const float* target,
                                    const float* gout, float* glogits, float* gtarget) {
  const float g = static_cast<float>(scale * static_cast<double>(gout[0]));
  const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float x = logits[i];
    const float sig = x >= 0.0f ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x));
    if (glogits) glogits[i] = g * (sig - target[i]);
    if (gtarget) gtarget[i] = -g * x;
  }
}

}  // namespace

void regression_loss_forward(RegressionLoss kind, DType dt, std::int64_t n, double scale, const void* pred,
                             const void* target, void* out) {
  require_f32(dt, "regression_loss_forward");
  deterministic_sum(std::max<std::int64_t>(n, 0),
                    RegressionTerm{kind == RegressionLoss::L1, static_cast<const float*>(pred),
                                   static_cast<const float*>(target)},
                    scale, static_cast<float*>(out));
}

void regression_loss_backward(RegressionLoss kind, DType dt, std::int64_t n, double scale, const void* pred,
                              const void* target, const void* gout, void* gpred, void* gtarget) {
  require_f32(dt, "regression_loss_backward");
  if (n <= 0 || (!gpred && !gtarget)) return;
  regression_backward_kernel<<<grid_for(n), kThreads, 0, ::fg::cuda::current_stream()>>>(
      n, kind == RegressionLoss::L1, scale, static_cast<const float*>(pred), static_cast<const float*>(target),
      static_cast<const float*>(gout), static_cast<float*>(gpred), static_cast<float*>(gtarget));
  CUDA_CHECK_LAUNCH("regression_backward_kernel");
}

void cross_entropy_forward(DType dt, std::int64_t rows, std::int64_t classes, double scale, const void* logits,
                           const std::int64_t* target, void* out, void* lse, std::int64_t* bad_position) {
  require_f32(dt, "cross_entropy_forward");
  FG_CUDA_REQUIRE(classes > 0, "cross_entropy_forward: logits have no classes");
  const cudaStream_t s = ::fg::cuda::current_stream();
  ::fg::cuda::DeviceBuffer row_loss(static_cast<std::size_t>(std::max<std::int64_t>(rows, 0)) * sizeof(double));
  if (rows > 0) {
    const RowsLaunch l = rows_launch(rows, classes);
    const auto* xf = static_cast<const float*>(logits);
    auto* lf = static_cast<float*>(lse);
    if (l.warp) {
      cross_entropy_rows_kernel<true><<<l.grid, l.threads, 0, s>>>(rows, classes, xf, target, lf,
                                                                   row_loss.as<double>(), bad_position);
    } else {
      cross_entropy_rows_kernel<false><<<l.grid, l.threads, 0, s>>>(rows, classes, xf, target, lf,
                                                                    row_loss.as<double>(), bad_position);
    }
    CUDA_CHECK_LAUNCH("cross_entropy_rows_kernel");
  }
  deterministic_sum(std::max<std::int64_t>(rows, 0), DoubleArrayTerm{row_loss.as<double>()}, scale,
                    static_cast<float*>(out));
}

void cross_entropy_backward(DType dt, std::int64_t rows, std::int64_t classes, double scale, const void* logits,
                            const std::int64_t* target, const void* lse, const void* gout, void* glogits) {
  require_f32(dt, "cross_entropy_backward");
  const std::int64_t total = rows * classes;
  if (total <= 0) return;
  cross_entropy_backward_kernel<<<grid_for(total), kThreads, 0, ::fg::cuda::current_stream()>>>(
      total, classes, scale, static_cast<const float*>(logits), target, static_cast<const float*>(lse),
      static_cast<const float*>(gout), static_cast<float*>(glogits));
  CUDA_CHECK_LAUNCH("cross_entropy_backward_kernel");
}

void bce_logits_forward(DType dt, std::int64_t n, double scale, const void* logits, const void* target, void* out) {
  require_f32(dt, "bce_logits_forward");
  deterministic_sum(std::max<std::int64_t>(n, 0),
                    BceTerm{static_cast<const float*>(logits), static_cast<const float*>(target)}, scale,
                    static_cast<float*>(out));
}

void bce_logits_backward(DType dt, std::int64_t n, double scale, const void* logits, const void* target,
                         const void* gout, void* glogits, void* gtarget) {
  require_f32(dt, "bce_logits_backward");
  if (n <= 0 || (!glogits && !gtarget)) return;
  bce_backward_kernel<<<grid_for(n), kThreads, 0, ::fg::cuda::current_stream()>>>(
      n, scale, static_cast<const float*>(logits), static_cast<const float*>(target), static_cast<const float*>(gout),
      static_cast<float*>(glogits), static_cast<float*>(gtarget));
  CUDA_CHECK_LAUNCH("bce_backward_kernel");
}

}  // namespace fg::kernels::cuda
