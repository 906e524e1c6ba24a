// kernels/fill.h: filling and converting dense buffers.
//
//   fill_value(dt, n, v, out):   out[i] = v (converted to dt)
//   fill_arange(dt, n, out):     out[i] = i
//   cast(src_dt, src, dst_dt, dst, n): dst[i] = (dst type) src[i]
// Not differentiable on their own; the engine's to(dtype) op differentiates cast
// by casting the gradient back.
#pragma once

#include "kernels/types.h"

namespace fg::kernels {

FG_KERNEL(fill_value, (DType dt, std::int64_t n, double value, void* out))
FG_KERNEL(fill_arange, (DType dt, std::int64_t n, void* out))
FG_KERNEL(cast, (DType src_dt, const void* src, DType dst_dt, void* dst, std::int64_t n))

}  // namespace fg::kernels
