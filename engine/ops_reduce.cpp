// engine/ops_reduce.cpp: sum, mean, max, min, var, logsumexp and sum_to_shape
// (kernels/reduce.h). Each reduces one axis of an [outer, n, inner] view; the
// all-element versions use the view [1, numel, 1].
#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_helpers.h"
#include "engine/ops.h"
#include "kernels/reduce.h"

namespace fg {

using detail::axis_view;
using detail::check_float;
using detail::reduced_shape;

namespace {

// Reduces x viewed as v into a tensor of shape out_shape.
Tensor reduce(const Tensor& x, ReduceOp op, AxisView v, const Shape& out_shape, std::int64_t correction,
              const char* name) {
  check_float(x, name);
  FG_CHECK(v.n > 0 || op == ReduceOp::Sum || op == ReduceOp::Mean, "{}: cannot reduce over an empty axis of {}", name,
           x.str());
  if (op == ReduceOp::Var)
    FG_CHECK(v.n - correction > 0, "{}: {} elements with correction {} leave no degrees of freedom", name, v.n,
             correction);
  Tensor out = empty(out_shape, x.options());
  const bool has_idx = op == ReduceOp::Max || op == ReduceOp::Min;
  Tensor idx = has_idx ? empty(out_shape, TensorOptions{DType::i64, x.device(), false}) : Tensor();
  FG_DISPATCH(x.device(), reduce_forward, op, x.dtype(), v, correction, x.data_ptr(), out.data_ptr(),
              has_idx ? static_cast<std::int64_t*>(idx.data_ptr()) : nullptr);
  autograd::record(name, {out}, {x}, [x, out_saved = out.detach(), idx, op, v, correction](
                                         const std::vector<Tensor>& g, const std::vector<bool>&) {
    Tensor gx = empty_like(x);
    FG_DISPATCH(x.device(), reduce_backward, op, x.dtype(), v, correction, x.data_ptr(), out_saved.data_ptr(),
                idx.defined() ? static_cast<const std::int64_t*>(idx.data_ptr()) : nullptr, g[0].data_ptr(),
                gx.data_ptr());
    return std::vector<Tensor>{gx};
  });
  return out;
}

Tensor reduce_all(const Tensor& x, ReduceOp op, std::int64_t correction, const char* name) {
  FG_CHECK(x.defined(), "{}: got an undefined tensor", name);
  return reduce(x, op, AxisView{1, x.numel(), 1}, Shape{}, correction, name);
}

Tensor reduce_axis(const Tensor& x, ReduceOp op, std::int64_t axis, bool keepdim, std::int64_t correction,
                   const char* name) {
  FG_CHECK(x.defined(), "{}: got an undefined tensor", name);
  const std::int64_t a = normalize_axis(axis, x.dim(), name);
  return reduce(x, op, axis_view(x.shape(), a), reduced_shape(x.shape(), a, keepdim), correction, name);
}

}  // namespace

Tensor sum(const Tensor& x) { return reduce_all(x, ReduceOp::Sum, 0, "sum"); }
Tensor sum(const Tensor& x, std::int64_t axis, bool keepdim) { return reduce_axis(x, ReduceOp::Sum, axis, keepdim, 0, "sum"); }
Tensor mean(const Tensor& x) { return reduce_all(x, ReduceOp::Mean, 0, "mean"); }
Tensor mean(const Tensor& x, std::int64_t axis, bool keepdim) {
  return reduce_axis(x, ReduceOp::Mean, axis, keepdim, 0, "mean");
}
Tensor max(const Tensor& x) { return reduce_all(x, ReduceOp::Max, 0, "max"); }
Tensor max(const Tensor& x, std::int64_t axis, bool keepdim) { return reduce_axis(x, ReduceOp::Max, axis, keepdim, 0, "max"); }
Tensor min(const Tensor& x) { return reduce_all(x, ReduceOp::Min, 0, "min"); }
Tensor min(const Tensor& x, std::int64_t axis, bool keepdim) { return reduce_axis(x, ReduceOp::Min, axis, keepdim, 0, "min"); }
Tensor var(const Tensor& x, std::int64_t correction) { return reduce_all(x, ReduceOp::Var, correction, "var"); }
Tensor var(const Tensor& x, std::int64_t axis, std::int64_t correction, bool keepdim) {
  return reduce_axis(x, ReduceOp::Var, axis, keepdim, correction, "var");
}
Tensor logsumexp(const Tensor& x) { return reduce_all(x, ReduceOp::LogSumExp, 0, "logsumexp"); }
Tensor logsumexp(const Tensor& x, std::int64_t axis, bool keepdim) {
  return reduce_axis(x, ReduceOp::LogSumExp, axis, keepdim, 0, "logsumexp");
}

Tensor argmax(const Tensor& x, std::int64_t axis, bool keepdim) {
  check_float(x, "argmax");
  const std::int64_t a = normalize_axis(axis, x.dim(), "argmax");
  const AxisView v = axis_view(x.shape(), a);
  FG_CHECK(v.n > 0, "argmax: empty axis in {}", x.str());
  const Shape out_shape = reduced_shape(x.shape(), a, keepdim);
  Tensor values = empty(out_shape, x.options());
  Tensor idx = empty(out_shape, TensorOptions{DType::i64, x.device(), false});
  FG_DISPATCH(x.device(), reduce_forward, ReduceOp::Max, x.dtype(), v, 0, x.data_ptr(), values.data_ptr(),
              static_cast<std::int64_t*>(idx.data_ptr()));
  return idx;
}

Tensor sum_to_shape(const Tensor& x, const Shape& shape) {
  FG_CHECK(x.defined(), "sum_to_shape: got an undefined tensor");
  if (x.shape() == shape) return x;
  FG_CHECK(shape.size() <= x.shape().size(), "sum_to_shape: cannot sum {} down to {}", shape_str(x.shape()),
           shape_str(shape));
  const std::size_t lead = x.shape().size() - shape.size();
  Tensor cur = x;
  // drop the leading dims that `shape` does not have, then sum size-1 dims with keepdim
  for (std::size_t i = 0; i < lead; ++i) cur = sum(cur, 0, false);
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == cur.shape()[d]) continue;
    FG_CHECK(shape[d] == 1, "sum_to_shape: cannot sum {} down to {}", shape_str(x.shape()), shape_str(shape));
    cur = sum(cur, static_cast<std::int64_t>(d), true);
  }
  return cur;
}

}  // namespace fg
