// kernels/shape.h: data movement for permute, concat/slice, index_select, gather and
// scatter_add. These work for every dtype (they move elements of dtype_size bytes),
// so int64 labels and indices can be shuffled with the same kernels as features.
//
// Layouts (all dense row-major):
//   permute_copy:  y[i] = x[plan.offset(i)], the plan mapping output positions to input offsets
//   axis_copy:     dst[o, dst_start + j, i] = src[o, src_start + j, i]  for j < len
//                  (concat forward, slice forward, and both of their backwards)
//   index_select:  y[o, j, i] = x[o, idx[j], i]          idx: [m]
//   index_add:     gx[o, idx[j], i] += gy[o, j, i]       (index_select's backward; gx pre-zeroed)
//   gather:        y[o, j, i] = x[o, idx[o, j, i], i]     idx: [outer, m, inner]
//   scatter_add:   out[o, idx[o, j, i], i] += src[o, j, i] (gather's backward and its adjoint; out pre-zeroed)
// Index kernels check 0 <= idx < n and report a bad index through
// `bad_position` (host pointer on CPU; the CUDA version gets a device pointer
// and the engine reads it back), leaving the output unspecified.
#pragma once

#include "kernels/types.h"

namespace fg::kernels {

// out index -> input offset: stride[0] of a BroadcastPlan-like walk over the output
struct PermutePlan {
  int ndim = 0;
  std::int64_t numel = 0;
  std::int64_t out_shape[kMaxDims] = {};
  std::int64_t in_stride[kMaxDims] = {};  // input stride of the axis that lands at output dim d
};

FG_KERNEL(permute_copy, (DType dt, const PermutePlan& plan, const void* x, void* y))
FG_KERNEL(axis_copy, (DType dt, std::int64_t outer, std::int64_t inner, const void* src, std::int64_t src_n,
                      std::int64_t src_start, void* dst, std::int64_t dst_n, std::int64_t dst_start, std::int64_t len))
// bad_position: set to the position (in idx) of an out-of-range index; untouched when all are valid.
FG_KERNEL(index_select_forward, (DType dt, AxisView src_view, const void* x, const std::int64_t* idx, std::int64_t m,
                                 void* y, std::int64_t* bad_position))
FG_KERNEL(index_add, (DType dt, AxisView dst_view, const void* gy, const std::int64_t* idx, std::int64_t m, void* gx))
FG_KERNEL(gather_forward, (DType dt, AxisView src_view, const void* x, const std::int64_t* idx, std::int64_t m, void* y,
                           std::int64_t* bad_position))
FG_KERNEL(scatter_add_forward, (DType dt, AxisView dst_view, const void* src, const std::int64_t* idx, std::int64_t m,
                                void* out, std::int64_t* bad_position))

}  // namespace fg::kernels
