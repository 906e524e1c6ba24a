// kernels/types.h: the plain-data vocabulary shared by the CPU and CUDA kernels.
//
// Kernels know nothing of engine::Tensor. They take raw pointers, a DType tag and
// the few integers that describe the layout (all tensors are dense row-major).
// Every kernel family header declares its functions once with FG_KERNEL, which
// produces the same signature in namespace fg::kernels::cpu and fg::kernels::cuda.
// The engine's FG_DISPATCH (engine/dispatch.h) picks one by the tensor's device.
#pragma once

#include <cstddef>
#include <cstdint>

#if defined(__CUDACC__)
#define FG_HOST_DEVICE __host__ __device__
#else
#define FG_HOST_DEVICE
#endif

namespace fg {

// Element types. f32 and f64 are differentiable; i64 holds indices and labels.
enum class DType : std::uint8_t { f32 = 0, f64 = 1, i64 = 2 };

inline const char* dtype_name(DType d) {
  switch (d) {
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::i64: return "int64";
  }
  return "?";
}

inline std::size_t dtype_size(DType d) { return d == DType::f32 ? 4 : 8; }

// Largest rank a kernel accepts. Broadcast plans and permutations are passed by
// value (they fit in a CUDA kernel's parameter space).
constexpr int kMaxDims = 8;

// Index plan for an elementwise op over up to three broadcast inputs.
// out has `ndim` dims of sizes `shape`; input k is read at
//   sum_d idx_d * stride[k][d], where stride is 0 along broadcast dims.
struct BroadcastPlan {
  int ndim = 0;
  int ninputs = 0;
  std::int64_t numel = 0;
  std::int64_t shape[kMaxDims] = {};
  std::int64_t stride[3][kMaxDims] = {};

  // Offset into input k of the element with flat (row-major) output index i.
  FG_HOST_DEVICE std::int64_t offset(int k, std::int64_t i) const {
    std::int64_t off = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      const std::int64_t idx = i % shape[d];
      i /= shape[d];
      off += idx * stride[k][d];
    }
    return off;
  }
};

// The same plan with size-1 axes dropped and neighbouring axes merged wherever they are
// contiguous for all of the first `nin` inputs (fewer, longer axes: cheaper index math, and
// contiguous rows for the CPU fast path). A single element becomes one axis of length 1
// with stride 0. Host code; used by the CPU fast path and the CUDA launchers alike.
inline BroadcastPlan coalesce_broadcast_plan(const BroadcastPlan& in, int nin) {
  BroadcastPlan out;
  out.ninputs = nin;
  out.numel = in.numel;
  out.ndim = 0;
  for (int d = 0; d < in.ndim; ++d) {
    if (in.shape[d] == 1) continue;
    if (out.ndim > 0) {
      const int last = out.ndim - 1;
      bool mergeable = true;
      for (int k = 0; k < nin; ++k)
        if (out.stride[k][last] != in.stride[k][d] * in.shape[d]) mergeable = false;
      if (mergeable) {
        out.shape[last] *= in.shape[d];
        for (int k = 0; k < nin; ++k) out.stride[k][last] = in.stride[k][d];
        continue;
      }
    }
    out.shape[out.ndim] = in.shape[d];
    for (int k = 0; k < nin; ++k) out.stride[k][out.ndim] = in.stride[k][d];
    ++out.ndim;
  }
  if (out.ndim == 0) {  // a single element
    out.ndim = 1;
    out.shape[0] = in.numel;
    for (int k = 0; k < nin; ++k) out.stride[k][0] = 0;
  }
  return out;
}

// A reduction or axis-wise op views its input as [outer, n, inner] and works
// along the middle axis. Reducing over all elements is outer = inner = 1.
struct AxisView {
  std::int64_t outer = 1;
  std::int64_t n = 1;
  std::int64_t inner = 1;
};

// Parameters shared by the unary family (scalar operands, slopes, bounds).
struct UnaryParams {
  double a = 0.0;
  double b = 0.0;
};

}  // namespace fg

// Declare a kernel once for both devices. The CPU definition lives in
// kernels/cpu/<family>.cpp, the CUDA one in kernels/cuda/<family>.cu.
#define FG_KERNEL(name, params)  \
  namespace cpu {                \
  void name params;              \
  }                              \
  namespace cuda {               \
  void name params;              \
  }
