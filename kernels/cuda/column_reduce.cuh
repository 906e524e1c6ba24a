// kernels/cuda/column_reduce.cuh: deterministic column sums of a row-major [rows, cols]
// expression, in two stages, for the bias and norm-parameter gradients (the LSTM's
// grad_bias in kernels/cuda/lstm.cu, bias + GELU's and add + LayerNorm's parameter
// gradients in kernels/cuda/bert_fused.cu).
//
//   out_v[c] = sum_{r < rows} term_v(r, c)      for v < NV (NV = 1 or 2 sums at once)
//
// Stage 1: grid (col_blocks, row_blocks), block 32 x 8 threads. Block (bx, by) owns
//   columns [32 bx, 32 bx + 32) and rows [by R, by R + R) (R = rows_per_block); thread
//   (tx, ty) sums rows ty, ty + 8, ... of that range for column 32 bx + tx in double
//   (adjacent threads read adjacent columns: coalesced), then thread ty = 0 adds the 8
//   lane sums in lane order and writes partial[v][by][c].
// Stage 2: one thread per column adds partial[v][0..row_blocks)[c] in row-block order.
// The split (launch::column_split) depends on the shape alone, and every addition happens
// in a fixed order, so the result has the same bits on every run and every device. No
// backward: these ARE backward kernels (their inputs are gradients).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "engine/cuda/check.h"
#include "engine/cuda/runtime.h"
#include "kernels/cuda/launch_limits.h"

namespace fg::kernels::cuda_detail {

inline constexpr int kColumnLanes = 8;  // row lanes per block (blockDim.y)

// Term: a functor with `__device__ void operator()(long long r, long long c, double* v) const`
// that ADDS its NV values at (r, c) into v[0..NV).
template <int NV, class Term>
__global__ void column_partial_kernel(long long rows, long long cols, long long rows_per_block, Term term,
                                      double* partial) {
  static_assert(NV == 1 || NV == 2, "column sums of one or two expressions");
  __shared__ double lane_sum[NV][kColumnLanes][launch::kColumnTile + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const long long c = static_cast<long long>(blockIdx.x) * launch::kColumnTile + tx;
  const long long r0 = static_cast<long long>(blockIdx.y) * rows_per_block;
  const long long r1 = r0 + rows_per_block < rows ? r0 + rows_per_block : rows;
  double acc[NV];
#pragma unroll
  for (int v = 0; v < NV; ++v) acc[v] = 0.0;
  if (c < cols)
    for (long long r = r0 + ty; r < r1; r += kColumnLanes) term(r, c, acc);
#pragma unroll
  for (int v = 0; v < NV; ++v) lane_sum[v][ty][tx] = acc[v];
  __syncthreads();
  if (ty == 0 && c < cols) {
#pragma unroll
    for (int v = 0; v < NV; ++v) {
      double total = 0.0;
      for (int l = 0; l < kColumnLanes; ++l) total += lane_sum[v][l][tx];
      partial[(static_cast<long long>(v) * gridDim.y + blockIdx.y) * cols + c] = total;
    }
  }
}

// out0[c] (and out1[c] when NV == 2; either may be null) = the column's partials in order.
template <int NV>
__global__ void column_combine_kernel(long long cols, long long row_blocks, const double* partial, float* out0,
                                      float* out1) {
  const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long c = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; c < cols; c += stride) {
#pragma unroll
    for (int v = 0; v < NV; ++v) {
      double total = 0.0;
      for (long long b = 0; b < row_blocks; ++b) total += partial[(v * row_blocks + b) * cols + c];
      float* out = v == 0 ? out0 : out1;
      if (out) out[c] = static_cast<float>(total);
    }
  }
}

// Runs both stages on the current stream. rows, cols > 0.
template <int NV, class Term>
void column_reduce(std::int64_t rows, std::int64_t cols, Term term, float* out0, float* out1, const char* what) {
  const launch::ColumnSplit split = launch::column_split(rows, cols);
  const cudaStream_t stream = ::fg::cuda::current_stream();
  ::fg::cuda::DeviceBuffer partial(sizeof(double) * static_cast<std::size_t>(NV * split.row_blocks * cols));
  const dim3 grid(static_cast<unsigned>(split.col_blocks), static_cast<unsigned>(split.row_blocks));
  const dim3 block(static_cast<unsigned>(launch::kColumnTile), kColumnLanes);
  column_partial_kernel<NV><<<grid, block, 0, stream>>>(rows, cols, split.rows_per_block, term,
                                                         partial.as<double>());
  CUDA_CHECK_LAUNCH(what);
  const long long threads = 256;
  const long long blocks = (cols + threads - 1) / threads;
  column_combine_kernel<NV><<<static_cast<unsigned>(blocks < 65535 ? blocks : 65535), threads, 0, stream>>>(
      cols, split.row_blocks, partial.as<double>(), out0, out1);
  CUDA_CHECK_LAUNCH(what);
}

}  // namespace fg::kernels::cuda_detail
