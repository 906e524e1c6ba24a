// engine/op_helpers.h: argument checks and layout helpers shared by the op families
// (engine/ops_*.cpp). Internal to the engine.
#pragma once

#include <vector>

#include "engine/error.h"
#include "engine/tensor.h"
#include "kernels/types.h"

namespace fg::detail {

// Throws unless x is a defined float32/float64 tensor.
void check_float(const Tensor& x, const char* op);
// Throws unless a and b are defined, on one device, with one dtype.
void check_same(const Tensor& a, const Tensor& b, const char* op);
// Throws unless idx is a defined int64 tensor on `device`.
void check_index(const Tensor& idx, Device device, const char* op);

// Kernel arguments for optional operands and outputs: the data, or nullptr when the
// tensor is undefined (an absent bias, mask or initial state; a gradient not asked for).
inline const void* ptr_or_null(const Tensor& t) { return t.defined() ? t.data_ptr() : nullptr; }
inline void* out_ptr(Tensor& t) { return t.defined() ? t.data_ptr() : nullptr; }

// Plan for reading inputs of shapes `ins` broadcast against output shape `out`
// (each input right-aligned, size-1 dims read with stride 0).
BroadcastPlan make_broadcast_plan(const Shape& out, const std::vector<const Shape*>& ins, const char* op);

// [outer, n, inner] view of `shape` around `axis` (already normalized).
AxisView axis_view(const Shape& shape, std::int64_t axis);

// shape with `axis` removed (keepdim = false) or set to 1 (keepdim = true).
Shape reduced_shape(const Shape& shape, std::int64_t axis, bool keepdim);

}  // namespace fg::detail
