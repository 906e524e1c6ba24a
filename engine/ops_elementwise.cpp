// engine/ops_elementwise.cpp: unary, binary, where and the operators (kernels/elementwise.h).
//
// Pattern of every op in the engine:
//   1. check the arguments (dtype, device, shapes) with a message naming the op;
//   2. allocate the output and run the forward kernel through FG_DISPATCH;
//   3. autograd::record(name, outputs, inputs, closure): the closure gets dL/d(out)
//      and returns dL/d(input) for each input, running the backward kernel.
#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_helpers.h"
#include "engine/ops.h"
#include "kernels/elementwise.h"

namespace fg {

using detail::check_float;
using detail::check_same;
using detail::make_broadcast_plan;

// ---------------------------------------------------------------- unary
namespace {

Tensor unary(const Tensor& x, UnaryOp op, UnaryParams p, const char* name) {
  check_float(x, name);
  Tensor y = empty_like(x);
  FG_DISPATCH(x.device(), unary_forward, op, p, x.dtype(), x.numel(), x.data_ptr(), y.data_ptr());
  autograd::record(name, {y}, {x}, [x, y_saved = y.detach(), op, p](const std::vector<Tensor>& g,
                                                                    const std::vector<bool>&) {
    Tensor gx = empty_like(x);
    FG_DISPATCH(x.device(), unary_backward, op, p, x.dtype(), x.numel(), x.data_ptr(), y_saved.data_ptr(),
                g[0].data_ptr(), gx.data_ptr());
    return std::vector<Tensor>{gx};
  });
  return y;
}

}  // namespace

Tensor neg(const Tensor& x) { return unary(x, UnaryOp::Neg, {}, "neg"); }
Tensor exp(const Tensor& x) { return unary(x, UnaryOp::Exp, {}, "exp"); }
Tensor log(const Tensor& x) { return unary(x, UnaryOp::Log, {}, "log"); }
Tensor sqrt(const Tensor& x) { return unary(x, UnaryOp::Sqrt, {}, "sqrt"); }
Tensor abs(const Tensor& x) { return unary(x, UnaryOp::Abs, {}, "abs"); }
Tensor tanh(const Tensor& x) { return unary(x, UnaryOp::Tanh, {}, "tanh"); }
Tensor sigmoid(const Tensor& x) { return unary(x, UnaryOp::Sigmoid, {}, "sigmoid"); }
Tensor relu(const Tensor& x) { return unary(x, UnaryOp::Relu, {}, "relu"); }
Tensor leaky_relu(const Tensor& x, double slope) { return unary(x, UnaryOp::LeakyRelu, {slope, 0.0}, "leaky_relu"); }
Tensor gelu(const Tensor& x, bool tanh_approx) {
  return tanh_approx ? unary(x, UnaryOp::GeluTanh, {}, "gelu_tanh") : unary(x, UnaryOp::GeluErf, {}, "gelu");
}
Tensor softplus(const Tensor& x, double beta, double threshold) {
  FG_CHECK(beta > 0, "softplus: beta must be positive, got {}", beta);
  return unary(x, UnaryOp::Softplus, {beta, threshold}, "softplus");
}
Tensor clamp(const Tensor& x, double lo, double hi) {
  FG_CHECK(lo <= hi, "clamp: lo ({}) must not exceed hi ({})", lo, hi);
  return unary(x, UnaryOp::Clamp, {lo, hi}, "clamp");
}
Tensor pow(const Tensor& x, double exponent) { return unary(x, UnaryOp::PowScalar, {exponent, 0.0}, "pow"); }
Tensor square(const Tensor& x) { return unary(x, UnaryOp::Square, {}, "square"); }
Tensor reciprocal(const Tensor& x) { return unary(x, UnaryOp::Reciprocal, {}, "reciprocal"); }
Tensor sin(const Tensor& x) { return unary(x, UnaryOp::Sin, {}, "sin"); }
Tensor cos(const Tensor& x) { return unary(x, UnaryOp::Cos, {}, "cos"); }
Tensor log1p(const Tensor& x) { return unary(x, UnaryOp::Log1p, {}, "log1p"); }
Tensor expm1(const Tensor& x) { return unary(x, UnaryOp::Expm1, {}, "expm1"); }
Tensor add_scalar(const Tensor& x, double s) { return unary(x, UnaryOp::AddScalar, {s, 0.0}, "add_scalar"); }
Tensor mul_scalar(const Tensor& x, double s) { return unary(x, UnaryOp::MulScalar, {s, 0.0}, "mul_scalar"); }

// ---------------------------------------------------------------- binary
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const std::size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const std::int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    FG_CHECK(da == db || da == 1 || db == 1, "{}: shapes {} and {} cannot be broadcast together", op, shape_str(a),
             shape_str(b));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

namespace {

bool is_comparison(BinaryOp op) {
  return op == BinaryOp::Gt || op == BinaryOp::Ge || op == BinaryOp::Lt || op == BinaryOp::Le || op == BinaryOp::Eq;
}

Tensor binary(const Tensor& a, const Tensor& b, BinaryOp op, const char* name) {
  check_same(a, b, name);
  check_float(a, name);
  const Shape out_shape = broadcast_shapes(a.shape(), b.shape(), name);
  const BroadcastPlan plan = make_broadcast_plan(out_shape, {&a.shape(), &b.shape()}, name);
  Tensor out = empty(out_shape, a.options());
  FG_DISPATCH(a.device(), binary_forward, op, plan, a.dtype(), a.data_ptr(), b.data_ptr(), out.data_ptr());
  if (is_comparison(op)) return out;
  autograd::record(name, {out}, {a, b}, [a, b, op, plan](const std::vector<Tensor>& g, const std::vector<bool>& need) {
    const Tensor& gy = g[0];
    Tensor ga_full = need[0] ? empty_like(gy) : Tensor();
    Tensor gb_full = need[1] ? empty_like(gy) : Tensor();
    FG_DISPATCH(gy.device(), binary_backward, op, plan, gy.dtype(), a.data_ptr(), b.data_ptr(), gy.data_ptr(),
                need[0] ? ga_full.data_ptr() : nullptr, need[1] ? gb_full.data_ptr() : nullptr);
    return std::vector<Tensor>{need[0] ? sum_to_shape(ga_full, a.shape()) : Tensor(),
                               need[1] ? sum_to_shape(gb_full, b.shape()) : Tensor()};
  });
  return out;
}

// Scalar operand as a 0-d tensor of x's dtype and device.
Tensor scalar_like(const Tensor& x, double v) { return scalar_tensor(v, x.options()); }

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return binary(a, b, BinaryOp::Add, "add"); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary(a, b, BinaryOp::Sub, "sub"); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(a, b, BinaryOp::Mul, "mul"); }
Tensor div(const Tensor& a, const Tensor& b) { return binary(a, b, BinaryOp::Div, "div"); }
Tensor maximum(const Tensor& a, const Tensor& b) { return binary(a, b, BinaryOp::Maximum, "maximum"); }
Tensor minimum(const Tensor& a, const Tensor& b) { return binary(a, b, BinaryOp::Minimum, "minimum"); }
Tensor pow(const Tensor& a, const Tensor& b) { return binary(a, b, BinaryOp::Pow, "pow"); }
Tensor gt(const Tensor& a, const Tensor& b) { return binary(a, b, BinaryOp::Gt, "gt"); }
Tensor ge(const Tensor& a, const Tensor& b) { return binary(a, b, BinaryOp::Ge, "ge"); }
Tensor lt(const Tensor& a, const Tensor& b) { return binary(a, b, BinaryOp::Lt, "lt"); }
Tensor le(const Tensor& a, const Tensor& b) { return binary(a, b, BinaryOp::Le, "le"); }
Tensor eq(const Tensor& a, const Tensor& b) { return binary(a, b, BinaryOp::Eq, "eq"); }

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_same(a, b, "where");
  check_same(cond, a, "where (condition)");
  check_float(a, "where");
  const Shape out_shape = broadcast_shapes(cond.shape(), broadcast_shapes(a.shape(), b.shape(), "where"), "where");
  const BroadcastPlan plan = make_broadcast_plan(out_shape, {&cond.shape(), &a.shape(), &b.shape()}, "where");
  Tensor out = empty(out_shape, a.options());
  FG_DISPATCH(a.device(), where_forward, plan, a.dtype(), cond.data_ptr(), a.data_ptr(), b.data_ptr(), out.data_ptr());
  const Tensor cond_saved = cond.detach();
  autograd::record("where", {out}, {a, b}, [cond_saved, plan, sa = a.shape(), sb = b.shape()](
                                               const std::vector<Tensor>& g, const std::vector<bool>& need) {
    const Tensor& gy = g[0];
    Tensor ga_full = need[0] ? empty_like(gy) : Tensor();
    Tensor gb_full = need[1] ? empty_like(gy) : Tensor();
    FG_DISPATCH(gy.device(), where_backward, plan, gy.dtype(), cond_saved.data_ptr(), gy.data_ptr(),
                need[0] ? ga_full.data_ptr() : nullptr, need[1] ? gb_full.data_ptr() : nullptr);
    return std::vector<Tensor>{need[0] ? sum_to_shape(ga_full, sa) : Tensor(),
                               need[1] ? sum_to_shape(gb_full, sb) : Tensor()};
  });
  return out;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  check_float(x, "masked_fill");
  check_same(x, mask, "masked_fill");
  // the result has x's shape: the mask may broadcast to it, never enlarge it (as PyTorch)
  FG_CHECK(broadcast_shapes(mask.shape(), x.shape(), "masked_fill") == x.shape(),
           "masked_fill: mask {} does not broadcast to the input's shape {}", shape_str(mask.shape()),
           shape_str(x.shape()));
  return where(mask, scalar_like(x, value), x);
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  FG_CHECK(x.defined(), "broadcast_to: got an undefined tensor");
  if (x.shape() == shape) return x;
  check_float(x, "broadcast_to");
  FG_CHECK(broadcast_shapes(x.shape(), shape, "broadcast_to") == shape, "broadcast_to: cannot broadcast {} to {}",
           shape_str(x.shape()), shape_str(shape));
  // x + 0 broadcast: the binary kernel already knows how to read x with broadcast strides
  const Tensor zero = zeros(shape, x.options());
  return add(x, zero);
}

void add_(Tensor& dst, const Tensor& src) {
  check_same(dst, src, "add_");
  FG_CHECK(dst.shape() == src.shape(), "add_: shapes {} and {} differ", shape_str(dst.shape()), shape_str(src.shape()));
  const BroadcastPlan plan = make_broadcast_plan(dst.shape(), {&dst.shape(), &src.shape()}, "add_");
  // out aliases input 0 elementwise: every element is read before it is written
  FG_DISPATCH(dst.device(), binary_forward, BinaryOp::Add, plan, dst.dtype(), dst.data_ptr(), src.data_ptr(),
              dst.data_ptr());
}

void copy_(Tensor& dst, const Tensor& src) {
  FG_CHECK(dst.defined() && src.defined(), "copy_: undefined tensor");
  FG_CHECK(dst.shape() == src.shape(), "copy_: shapes {} and {} differ", shape_str(dst.shape()),
           shape_str(src.shape()));
  Tensor s = src.detach();
  if (s.device() != dst.device()) s = s.to(dst.device());
  if (s.dtype() != dst.dtype()) s = s.to(dst.dtype());
  device::copy(dst.device(), dst.data_ptr(), s.device(), s.data_ptr(),
               static_cast<std::size_t>(dst.numel()) * dtype_size(dst.dtype()));
}

// ---------------------------------------------------------------- operators
Tensor operator-(const Tensor& x) { return neg(x); }
Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double s) { return add_scalar(a, s); }
Tensor operator+(double s, const Tensor& a) { return add_scalar(a, s); }
Tensor operator-(const Tensor& a, double s) { return add_scalar(a, -s); }
Tensor operator-(double s, const Tensor& a) { return add_scalar(neg(a), s); }
Tensor operator*(const Tensor& a, double s) { return mul_scalar(a, s); }
Tensor operator*(double s, const Tensor& a) { return mul_scalar(a, s); }
Tensor operator/(const Tensor& a, double s) { return mul_scalar(a, 1.0 / s); }
Tensor operator/(double s, const Tensor& a) { return mul_scalar(reciprocal(a), s); }

}  // namespace fg
