// kernels/reduce.h: reductions along one axis of an [outer, n, inner] view.
//
// out has outer * inner elements: out[o, i] = R_{j < n} x[o, j, i].
//   Sum        out = sum_j x                      gx = gout
//   Mean       out = sum_j x / n                  gx = gout / n
//   Max / Min  out = x[o, idx, i], idx the first position of the extreme (saved as int64)
//                                                 gx = gout at idx, 0 elsewhere
//   LogSumExp  out = m + log sum_j exp(x - m), m = max_j x
//                                                 gx = gout * exp(x - out)
//   Var        out = sum_j (x - mean)^2 / (n - correction)
//                                                 gx = gout * 2 (x - mean) / (n - correction)
// Reducing over all elements is the view outer = inner = 1, n = numel.
#pragma once

#include "kernels/types.h"

namespace fg {

enum class ReduceOp : std::uint8_t { Sum, Mean, Max, Min, LogSumExp, Var };

namespace kernels {

// idx (int64, outer*inner) is written for Max/Min and may be null otherwise.
FG_KERNEL(reduce_forward, (ReduceOp op, DType dt, AxisView v, std::int64_t correction, const void* x, void* out,
                           std::int64_t* idx))
// gx ([outer, n, inner]) from gout ([outer, inner]); x, out and idx as saved by the forward.
FG_KERNEL(reduce_backward, (ReduceOp op, DType dt, AxisView v, std::int64_t correction, const void* x, const void* out,
                            const std::int64_t* idx, const void* gout, void* gx))

}  // namespace kernels
}  // namespace fg
