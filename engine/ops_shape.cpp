// engine/ops_shape.cpp: reshape, permute, concat, slice, split, index_select, gather and
// scatter_add (kernels/shape.h).
//
// Views: reshape/flatten/(un)squeeze always, and slice/select when nothing precedes
// the axis (outer == 1), share the input's storage. Everything else copies.
// Backward pairs: reshape <-> reshape, permute <-> inverse permute, concat <-> slices,
// slice <-> copy into zeros, index_select <-> index_add, gather <-> scatter_add.
#include <numeric>

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_helpers.h"
#include "engine/ops.h"
#include "kernels/shape.h"

namespace fg {

using detail::axis_view;
using detail::check_float;
using detail::check_index;

namespace {

// A one-element int64 flag on `device` that index kernels set to a bad position.
class BadIndexFlag {
 public:
  explicit BadIndexFlag(Device device) : flag_(full({1}, -1.0, TensorOptions{DType::i64, device, false})) {}
  std::int64_t* ptr() { return static_cast<std::int64_t*>(flag_.data_ptr()); }
  // Throws naming the op, the bad value and the valid range, if the kernel set the flag.
  void check(const Tensor& idx, std::int64_t n, const char* op) const {
    const auto pos = static_cast<std::int64_t>(flag_.item());
    if (pos < 0) return;
    const std::int64_t value = idx.to_vector<std::int64_t>()[static_cast<std::size_t>(pos)];
    FG_FAIL("{}: index {} (at position {} of the index tensor) is out of range [0, {})", op, value, pos, n);
  }

 private:
  Tensor flag_;
};

Tensor view_as(const Tensor& x, const Shape& shape, const char* name) {
  Tensor out = alias_with_shape(x, shape);
  autograd::record(name, {out}, {x}, [in_shape = x.shape()](const std::vector<Tensor>& g, const std::vector<bool>&) {
    return std::vector<Tensor>{alias_with_shape(g[0], in_shape)};
  });
  return out;
}

// Copies g (shaped like the slice) into a zero tensor of `full_shape` at [start, start+len) along axis.
Tensor pad_into_zeros(const Tensor& g, const Shape& full_shape, std::int64_t axis, std::int64_t start) {
  Tensor out = zeros(full_shape, g.options());
  const AxisView v = axis_view(full_shape, axis);
  const std::int64_t len = g.shape()[axis];
  FG_DISPATCH(g.device(), axis_copy, g.dtype(), v.outer, v.inner, g.data_ptr(), len, 0, out.data_ptr(), v.n, start,
              len);
  return out;
}

}  // namespace

Tensor reshape(const Tensor& x, const Shape& shape) {
  FG_CHECK(x.defined(), "reshape: got an undefined tensor");
  Shape s = shape;
  std::int64_t known = 1;
  int infer = -1;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      FG_CHECK(infer < 0, "reshape: more than one -1 in {}", shape_str(shape));
      infer = static_cast<int>(i);
    } else {
      FG_CHECK(s[i] >= 0, "reshape: negative size in {}", shape_str(shape));
      known *= s[i];
    }
  }
  if (infer >= 0) {
    FG_CHECK(known > 0 && x.numel() % known == 0, "reshape: cannot infer -1 reshaping {} to {}", x.str(),
             shape_str(shape));
    s[infer] = x.numel() / known;
  }
  FG_CHECK(shape_numel(s) == x.numel(), "reshape: {} has {} elements, {} has {}", x.str(), x.numel(), shape_str(s),
           shape_numel(s));
  if (s == x.shape()) return x;
  return view_as(x, s, "reshape");
}

Tensor flatten(const Tensor& x, std::int64_t start_axis, std::int64_t end_axis) {
  FG_CHECK(x.defined(), "flatten: got an undefined tensor");
  if (x.dim() == 0) return reshape(x, {1});
  const std::int64_t s = normalize_axis(start_axis, x.dim(), "flatten");
  const std::int64_t e = normalize_axis(end_axis, x.dim(), "flatten");
  FG_CHECK(s <= e, "flatten: start axis {} is after end axis {}", start_axis, end_axis);
  Shape out(x.shape().begin(), x.shape().begin() + s);
  std::int64_t merged = 1;
  for (std::int64_t d = s; d <= e; ++d) merged *= x.shape()[d];
  out.push_back(merged);
  out.insert(out.end(), x.shape().begin() + e + 1, x.shape().end());
  return reshape(x, out);
}

Tensor unsqueeze(const Tensor& x, std::int64_t axis) {
  FG_CHECK(x.defined(), "unsqueeze: got an undefined tensor");
  const std::int64_t a = normalize_axis(axis, x.dim() + 1, "unsqueeze");
  Shape s = x.shape();
  s.insert(s.begin() + a, 1);
  return view_as(x, s, "unsqueeze");
}

Tensor squeeze(const Tensor& x, std::int64_t axis) {
  FG_CHECK(x.defined(), "squeeze: got an undefined tensor");
  const std::int64_t a = normalize_axis(axis, x.dim(), "squeeze");
  FG_CHECK(x.shape()[a] == 1, "squeeze: axis {} of {} has size {}, not 1", axis, x.str(), x.shape()[a]);
  Shape s = x.shape();
  s.erase(s.begin() + a);
  return view_as(x, s, "squeeze");
}

Tensor permute(const Tensor& x, const std::vector<std::int64_t>& perm) {
  FG_CHECK(x.defined(), "permute: got an undefined tensor");
  const std::int64_t nd = x.dim();
  FG_CHECK(static_cast<std::int64_t>(perm.size()) == nd, "permute: {} axes given for a tensor of rank {}", perm.size(),
           nd);
  FG_CHECK(nd <= kMaxDims, "permute: rank {} exceeds the maximum of {}", nd, kMaxDims);
  std::vector<std::int64_t> p(nd), inverse(nd, -1);
  for (std::int64_t d = 0; d < nd; ++d) {
    p[d] = normalize_axis(perm[d], nd, "permute");
    FG_CHECK(inverse[p[d]] < 0, "permute: axis {} appears twice", perm[d]);
    inverse[p[d]] = d;
  }
  std::vector<std::int64_t> in_strides(nd, 1);
  for (std::int64_t d = nd - 2; d >= 0; --d) in_strides[d] = in_strides[d + 1] * x.shape()[d + 1];
  kernels::PermutePlan plan;
  plan.ndim = static_cast<int>(nd);
  plan.numel = x.numel();
  Shape out_shape(nd);
  for (std::int64_t d = 0; d < nd; ++d) {
    out_shape[d] = x.shape()[p[d]];
    plan.out_shape[d] = out_shape[d];
    plan.in_stride[d] = in_strides[p[d]];
  }
  if (std::is_sorted(p.begin(), p.end())) return x;
  Tensor y = empty(out_shape, x.options());
  FG_DISPATCH(x.device(), permute_copy, x.dtype(), plan, x.data_ptr(), y.data_ptr());
  autograd::record("permute", {y}, {x}, [inverse](const std::vector<Tensor>& g, const std::vector<bool>&) {
    return std::vector<Tensor>{permute(g[0], inverse)};
  });
  return y;
}

Tensor transpose(const Tensor& x, std::int64_t axis0, std::int64_t axis1) {
  FG_CHECK(x.defined(), "transpose: got an undefined tensor");
  std::vector<std::int64_t> perm(x.dim());
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[normalize_axis(axis0, x.dim(), "transpose")], perm[normalize_axis(axis1, x.dim(), "transpose")]);
  return permute(x, perm);
}

Tensor concat(const std::vector<Tensor>& xs, std::int64_t axis) {
  FG_CHECK(!xs.empty(), "concat: no tensors given");
  const Tensor& first = xs[0];
  FG_CHECK(first.defined(), "concat: tensor 0 is undefined");
  const std::int64_t a = normalize_axis(axis, first.dim(), "concat");
  Shape out_shape = first.shape();
  out_shape[a] = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    FG_CHECK(xs[i].defined(), "concat: tensor {} is undefined", i);
    FG_CHECK(xs[i].device() == first.device() && xs[i].dtype() == first.dtype(),
             "concat: tensor {} is {} but tensor 0 is {}", i, xs[i].str(), first.str());
    FG_CHECK(xs[i].dim() == first.dim(), "concat: tensor {} has rank {}, tensor 0 has rank {}", i, xs[i].dim(),
             first.dim());
    for (std::int64_t d = 0; d < first.dim(); ++d)
      FG_CHECK(d == a || xs[i].shape()[d] == first.shape()[d], "concat along axis {}: tensor {} is {} but tensor 0 is {}",
               axis, i, shape_str(xs[i].shape()), shape_str(first.shape()));
    out_shape[a] += xs[i].shape()[a];
  }
  Tensor out = empty(out_shape, first.options());
  const AxisView v = axis_view(out_shape, a);
  std::vector<std::int64_t> starts, lens;
  std::int64_t start = 0;
  for (const Tensor& t : xs) {
    const std::int64_t len = t.shape()[a];
    FG_DISPATCH(t.device(), axis_copy, t.dtype(), v.outer, v.inner, t.data_ptr(), len, 0, out.data_ptr(), v.n, start,
                len);
    starts.push_back(start);
    lens.push_back(len);
    start += len;
  }
  autograd::record("concat", {out}, xs, [a, starts, lens](const std::vector<Tensor>& g, const std::vector<bool>& need) {
    std::vector<Tensor> grads(starts.size());
    for (std::size_t i = 0; i < starts.size(); ++i)
      if (need[i]) grads[i] = slice(g[0], a, starts[i], lens[i]);
    return grads;
  });
  return out;
}

Tensor stack(const std::vector<Tensor>& xs, std::int64_t axis) {
  FG_CHECK(!xs.empty() && xs[0].defined(), "stack: no tensors given");
  const std::int64_t a = normalize_axis(axis, xs[0].dim() + 1, "stack");
  std::vector<Tensor> expanded;
  expanded.reserve(xs.size());
  for (const Tensor& t : xs) {
    FG_CHECK(t.defined() && t.shape() == xs[0].shape(), "stack: all tensors must have shape {}",
             shape_str(xs[0].shape()));
    expanded.push_back(unsqueeze(t, a));
  }
  return concat(expanded, a);
}

Tensor slice(const Tensor& x, std::int64_t axis, std::int64_t start, std::int64_t length) {
  FG_CHECK(x.defined(), "slice: got an undefined tensor");
  const std::int64_t a = normalize_axis(axis, x.dim(), "slice");
  const std::int64_t n = x.shape()[a];
  FG_CHECK(start >= 0 && length >= 0 && start + length <= n, "slice: [{}, {}) is outside axis {} of size {} in {}",
           start, start + length, axis, n, x.str());
  if (start == 0 && length == n) return x;
  Shape out_shape = x.shape();
  out_shape[a] = length;
  const AxisView v = axis_view(x.shape(), a);
  Tensor out;
  if (v.outer == 1) {
    out = alias_with_shape(x, out_shape, start * v.inner);  // contiguous sub-block: a view
  } else {
    out = empty(out_shape, x.options());
    FG_DISPATCH(x.device(), axis_copy, x.dtype(), v.outer, v.inner, x.data_ptr(), n, start, out.data_ptr(), length, 0,
                length);
  }
  autograd::record("slice", {out}, {x}, [in_shape = x.shape(), a, start](const std::vector<Tensor>& g,
                                                                         const std::vector<bool>&) {
    return std::vector<Tensor>{pad_into_zeros(g[0], in_shape, a, start)};
  });
  return out;
}

Tensor select(const Tensor& x, std::int64_t axis, std::int64_t index) {
  FG_CHECK(x.defined(), "select: got an undefined tensor");
  const std::int64_t a = normalize_axis(axis, x.dim(), "select");
  const std::int64_t n = x.shape()[a];
  FG_CHECK(index >= -n && index < n, "select: index {} is out of range for axis {} of size {} in {}", index, axis, n,
           x.str());
  const std::int64_t i = index < 0 ? index + n : index;
  return squeeze(slice(x, a, i, 1), a);
}

std::vector<Tensor> split(const Tensor& x, const std::vector<std::int64_t>& sizes, std::int64_t axis) {
  FG_CHECK(x.defined(), "split: got an undefined tensor");
  const std::int64_t a = normalize_axis(axis, x.dim(), "split");
  for (std::int64_t s : sizes) FG_CHECK(s >= 0, "split: sizes must be non-negative, got {}", shape_str(sizes));
  const std::int64_t total = std::accumulate(sizes.begin(), sizes.end(), std::int64_t{0});
  FG_CHECK(total == x.shape()[a], "split: sizes add up to {} but axis {} of {} has size {}", total, axis, x.str(),
           x.shape()[a]);
  std::vector<Tensor> out;
  std::int64_t start = 0;
  for (std::int64_t s : sizes) {
    out.push_back(slice(x, a, start, s));
    start += s;
  }
  return out;
}

Tensor index_select(const Tensor& x, std::int64_t axis, const Tensor& idx) {
  FG_CHECK(x.defined(), "index_select: got an undefined tensor");
  check_index(idx, x.device(), "index_select");
  FG_CHECK(idx.dim() == 1, "index_select: indices must be 1-D, got {}", idx.str());
  const std::int64_t a = normalize_axis(axis, x.dim(), "index_select");
  const AxisView v = axis_view(x.shape(), a);
  const std::int64_t m = idx.numel();
  Shape out_shape = x.shape();
  out_shape[a] = m;
  Tensor out = empty(out_shape, x.options());
  BadIndexFlag bad(x.device());
  FG_DISPATCH(x.device(), index_select_forward, x.dtype(), v, x.data_ptr(),
              static_cast<const std::int64_t*>(idx.data_ptr()), m, out.data_ptr(), bad.ptr());
  bad.check(idx, v.n, "index_select");
  if (x.dtype() == DType::i64) return out;
  autograd::record("index_select", {out}, {x}, [idx, v, m, in_shape = x.shape()](const std::vector<Tensor>& g,
                                                                                 const std::vector<bool>&) {
    Tensor gx = zeros(in_shape, g[0].options());
    FG_DISPATCH(g[0].device(), index_add, g[0].dtype(), v, g[0].data_ptr(),
                static_cast<const std::int64_t*>(idx.data_ptr()), m, gx.data_ptr());
    return std::vector<Tensor>{gx};
  });
  return out;
}

namespace {

// Checks that idx matches x's shape except along axis a and returns m = idx.shape[a].
std::int64_t check_gather_shapes(const Shape& data, const Tensor& idx, std::int64_t a, const char* op) {
  FG_CHECK(idx.dim() == static_cast<std::int64_t>(data.size()), "{}: index rank {} differs from data rank {}", op,
           idx.dim(), data.size());
  for (std::size_t d = 0; d < data.size(); ++d)
    FG_CHECK(static_cast<std::int64_t>(d) == a || idx.shape()[d] == data[d],
             "{}: index {} must match data {} on every axis but {}", op, shape_str(idx.shape()), shape_str(data), a);
  return idx.shape()[a];
}

Tensor scatter_add_impl(const Tensor& src, std::int64_t a, const Tensor& idx, const Shape& out_shape);

Tensor gather_impl(const Tensor& x, std::int64_t a, const Tensor& idx) {
  const std::int64_t m = check_gather_shapes(x.shape(), idx, a, "gather");
  const AxisView v = axis_view(x.shape(), a);
  Tensor out = empty(idx.shape(), x.options());
  BadIndexFlag bad(x.device());
  FG_DISPATCH(x.device(), gather_forward, x.dtype(), v, x.data_ptr(), static_cast<const std::int64_t*>(idx.data_ptr()),
              m, out.data_ptr(), bad.ptr());
  bad.check(idx, v.n, "gather");
  if (x.dtype() == DType::i64) return out;
  autograd::record("gather", {out}, {x}, [idx, a, in_shape = x.shape()](const std::vector<Tensor>& g,
                                                                        const std::vector<bool>&) {
    return std::vector<Tensor>{scatter_add_impl(g[0], a, idx, in_shape)};
  });
  return out;
}

Tensor scatter_add_impl(const Tensor& src, std::int64_t a, const Tensor& idx, const Shape& out_shape) {
  check_float(src, "scatter_add");
  FG_CHECK(idx.shape() == src.shape(), "scatter_add: index {} must have the source's shape {}", shape_str(idx.shape()),
           shape_str(src.shape()));
  const std::int64_t m = check_gather_shapes(out_shape, idx, a, "scatter_add");
  const AxisView v = axis_view(out_shape, a);
  Tensor out = zeros(out_shape, src.options());
  BadIndexFlag bad(src.device());
  FG_DISPATCH(src.device(), scatter_add_forward, src.dtype(), v, src.data_ptr(),
              static_cast<const std::int64_t*>(idx.data_ptr()), m, out.data_ptr(), bad.ptr());
  bad.check(idx, v.n, "scatter_add");
  autograd::record("scatter_add", {out}, {src}, [idx, a](const std::vector<Tensor>& g, const std::vector<bool>&) {
    return std::vector<Tensor>{gather_impl(g[0], a, idx)};
  });
  return out;
}

}  // namespace

Tensor gather(const Tensor& x, std::int64_t axis, const Tensor& idx) {
  FG_CHECK(x.defined(), "gather: got an undefined tensor");
  check_index(idx, x.device(), "gather");
  return gather_impl(x, normalize_axis(axis, x.dim(), "gather"), idx);
}

Tensor scatter_add(const Tensor& src, std::int64_t axis, const Tensor& idx, std::int64_t dim_size) {
  FG_CHECK(src.defined(), "scatter_add: got an undefined tensor");
  check_index(idx, src.device(), "scatter_add");
  const std::int64_t a = normalize_axis(axis, src.dim(), "scatter_add");
  FG_CHECK(dim_size >= 0, "scatter_add: dim_size must be non-negative, got {}", dim_size);
  Shape out_shape = src.shape();
  out_shape[a] = dim_size;
  return scatter_add_impl(src, a, idx, out_shape);
}

}  // namespace fg
