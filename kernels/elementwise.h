// kernels/elementwise.h: unary, binary (broadcasting) and ternary (where) kernels.
//
// Forward and backward of every elementwise op of the engine. The math of each
// op and of its derivative is written out in kernels/cpu/elementwise.cpp, which
// is the reference the CUDA file is tested against.
#pragma once

#include "kernels/types.h"

namespace fg {

// y = f(x) elementwise. UnaryParams carries the scalar operands:
//   LeakyRelu: a = negative slope; Clamp: a = lo, b = hi; PowScalar: a = exponent;
//   AddScalar: a; MulScalar: a; Softplus: a = beta, b = threshold.
enum class UnaryOp : std::uint8_t {
  Neg, Exp, Log, Sqrt, Abs, Tanh, Sigmoid, Relu, LeakyRelu, GeluTanh, GeluErf,
  Softplus, Clamp, PowScalar, AddScalar, MulScalar, Reciprocal, Square, Sin, Cos, Log1p,
  Expm1,
};

// out = a (op) b with NumPy broadcasting. The comparison ops give 1 or 0 in the
// operands' dtype and have no gradient.
enum class BinaryOp : std::uint8_t { Add, Sub, Mul, Div, Maximum, Minimum, Pow, Gt, Ge, Lt, Le, Eq };

namespace kernels {

// y[i] = f(x[i]) for i < n.
FG_KERNEL(unary_forward, (UnaryOp op, UnaryParams p, DType dt, std::int64_t n, const void* x, void* y))
// gx[i] = gy[i] * f'(x[i]); y is the forward output (some derivatives read it).
FG_KERNEL(unary_backward, (UnaryOp op, UnaryParams p, DType dt, std::int64_t n, const void* x, const void* y,
                           const void* gy, void* gx))

// out[i] = a[plan.offset(0, i)] (op) b[plan.offset(1, i)].
FG_KERNEL(binary_forward, (BinaryOp op, const BroadcastPlan& plan, DType dt, const void* a, const void* b, void* out))
// Full-size (output-shaped) partial gradients: ga_full[i] = gy[i] * d(out)/da at element i,
// likewise gb_full. Either may be null when not wanted. The engine then sums them down
// to the inputs' shapes (reduce over broadcast axes).
FG_KERNEL(binary_backward, (BinaryOp op, const BroadcastPlan& plan, DType dt, const void* a, const void* b,
                            const void* gy, void* ga_full, void* gb_full))

// out[i] = cond[i] != 0 ? a[i] : b[i], broadcasting cond (input 0), a (1), b (2).
FG_KERNEL(where_forward, (const BroadcastPlan& plan, DType dt, const void* cond, const void* a, const void* b, void* out))
// ga_full[i] = cond ? gy[i] : 0;  gb_full[i] = cond ? 0 : gy[i] (full output shape; either may be null).
FG_KERNEL(where_backward, (const BroadcastPlan& plan, DType dt, const void* cond, const void* gy, void* ga_full,
                           void* gb_full))

}  // namespace kernels
}  // namespace fg
