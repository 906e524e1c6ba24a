// kernels/cpu/cpu_util.h: helpers shared by the CPU reference kernels.
//
// - dispatch_float: call a generic lambda with float or double per DType.
// - for_each_broadcast: walk a BroadcastPlan in row-major order, handing the
//   body the flat output index and the matching offset of each input (an
//   odometer instead of a div/mod per element).
#pragma once

#include <stdexcept>
#include <string>

#include "kernels/types.h"

namespace fg::kernels::cpu_detail {

// Calls f(T{}) with T = float or double. Integer tensors are not accepted by
// floating-point kernels: the engine checks dtypes before dispatch, so reaching
// the throw is a bug in the engine, reported with the kernel's name.
template <class F>
void dispatch_float(DType dt, const char* kernel, F&& f) {
  switch (dt) {
    case DType::f32: f(float{}); return;
    case DType::f64: f(double{}); return;
    default: break;
  }
  throw std::invalid_argument(std::string(kernel) + ": expected a float32 or float64 tensor, got " + dtype_name(dt));
}

// body(i, off0, off1, off2) for every output element i of the plan.
template <class Body>
void for_each_broadcast(const BroadcastPlan& plan, Body&& body) {
  std::int64_t idx[kMaxDims] = {};
  std::int64_t off[3] = {0, 0, 0};
  for (std::int64_t i = 0; i < plan.numel; ++i) {
    body(i, off[0], off[1], off[2]);
    // advance the odometer over the last dimension first
    for (int d = plan.ndim - 1; d >= 0; --d) {
      ++idx[d];
      for (int k = 0; k < 3; ++k) off[k] += plan.stride[k][d];
      if (idx[d] < plan.shape[d]) break;
      for (int k = 0; k < 3; ++k) off[k] -= plan.stride[k][d] * plan.shape[d];
      idx[d] = 0;
    }
  }
}

}  // namespace fg::kernels::cpu_detail
