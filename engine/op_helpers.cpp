// engine/op_helpers.cpp: see engine/op_helpers.h.
#include "engine/op_helpers.h"

namespace fg::detail {

void check_float(const Tensor& x, const char* op) {
  FG_CHECK(x.defined(), "{}: got an undefined tensor", op);
  FG_CHECK(x.dtype() == DType::f32 || x.dtype() == DType::f64, "{}: expected a float32 or float64 tensor, got {}", op,
           x.str());
}

void check_same(const Tensor& a, const Tensor& b, const char* op) {
  FG_CHECK(a.defined() && b.defined(), "{}: got an undefined tensor", op);
  FG_CHECK(a.device() == b.device(), "{}: operands are on different devices ({} and {})", op, a.str(), b.str());
  FG_CHECK(a.dtype() == b.dtype(), "{}: operands have different dtypes ({} and {}); convert one with .to(dtype)", op,
           a.str(), b.str());
}

void check_index(const Tensor& idx, Device device, const char* op) {
  FG_CHECK(idx.defined(), "{}: the index tensor is undefined", op);
  FG_CHECK(idx.dtype() == DType::i64, "{}: indices must be int64, got {}", op, idx.str());
  FG_CHECK(idx.device() == device, "{}: indices are on {} but the data is on {}", op, idx.device().str(), device.str());
}

BroadcastPlan make_broadcast_plan(const Shape& out, const std::vector<const Shape*>& ins, const char* op) {
  BroadcastPlan plan;
  FG_CHECK(out.size() <= static_cast<std::size_t>(kMaxDims), "{}: rank {} exceeds the maximum of {}", op, out.size(),
           kMaxDims);
  FG_CHECK(ins.size() <= 3, "{}: at most three broadcast inputs", op);
  plan.ndim = static_cast<int>(out.size());
  plan.ninputs = static_cast<int>(ins.size());
  plan.numel = shape_numel(out);
  for (int d = 0; d < plan.ndim; ++d) plan.shape[d] = out[d];
  for (std::size_t k = 0; k < ins.size(); ++k) {
    const Shape& s = *ins[k];
    FG_CHECK(s.size() <= out.size(), "{}: input {} has more dims than the output {}", op, shape_str(s), shape_str(out));
    const int lead = plan.ndim - static_cast<int>(s.size());
    std::int64_t stride = 1;
    for (int d = plan.ndim - 1; d >= 0; --d) {
      if (d < lead) {
        plan.stride[k][d] = 0;
        continue;
      }
      const std::int64_t size = s[d - lead];
      FG_CHECK(size == out[d] || size == 1, "{}: cannot broadcast {} to {}", op, shape_str(s), shape_str(out));
      plan.stride[k][d] = (size == 1 && out[d] != 1) ? 0 : stride;
      stride *= size;
    }
  }
  return plan;
}

AxisView axis_view(const Shape& shape, std::int64_t axis) {
  AxisView v;
  for (std::int64_t d = 0; d < axis; ++d) v.outer *= shape[d];
  v.n = shape[axis];
  for (std::size_t d = axis + 1; d < shape.size(); ++d) v.inner *= shape[d];
  return v;
}

Shape reduced_shape(const Shape& shape, std::int64_t axis, bool keepdim) {
  Shape out = shape;
  if (keepdim) {
    out[axis] = 1;
  } else {
    out.erase(out.begin() + axis);
  }
  return out;
}

}  // namespace fg::detail
