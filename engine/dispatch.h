// engine/dispatch.h: choose the CPU or CUDA definition of a kernel by device.
//
//   FG_DISPATCH(x.device(), unary_forward, op, p, dt, n, xp, yp);
// calls fg::kernels::cpu::unary_forward(...) for CPU tensors and
// fg::kernels::cuda::unary_forward(...) for CUDA tensors. In a CPU-only build the
// CUDA branch throws (it never references the CUDA symbol, so it links).
#pragma once

#include "engine/device.h"
#include "engine/error.h"

#ifdef FUSEGRAD_WITH_CUDA
#define FG_CALL_CUDA_KERNEL(name, ...) ::fg::kernels::cuda::name(__VA_ARGS__)
#else
#define FG_CALL_CUDA_KERNEL(name, ...) \
  FG_FAIL("kernel {} was asked to run on CUDA, but this fusegrad was built without CUDA", #name)
#endif

#define FG_DISPATCH(device_expr, name, ...)          \
  do {                                               \
    if ((device_expr).is_cpu()) {                    \
      ::fg::kernels::cpu::name(__VA_ARGS__);         \
    } else {                                         \
      FG_CALL_CUDA_KERNEL(name, __VA_ARGS__);        \
    }                                                \
  } while (0)
