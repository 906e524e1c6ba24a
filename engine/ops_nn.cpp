// engine/ops_nn.cpp: softmax, log_softmax, layer_norm and dropout (kernels/nn.h,
// kernels/random.h).
#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_helpers.h"
#include "engine/ops.h"
#include "kernels/nn.h"
#include "kernels/random.h"

namespace fg {

using detail::axis_view;
using detail::check_float;
using detail::check_same;
using detail::out_ptr;
using detail::ptr_or_null;

namespace {

Tensor softmax_impl(const Tensor& x, std::int64_t axis, bool log, const char* name) {
  check_float(x, name);
  const std::int64_t a = normalize_axis(axis, x.dim(), name);
  const AxisView v = axis_view(x.shape(), a);
  FG_CHECK(v.n > 0, "{}: empty axis in {}", name, x.str());
  Tensor y = empty_like(x);
  FG_DISPATCH(x.device(), softmax_forward, x.dtype(), v, log, x.data_ptr(), y.data_ptr());
  autograd::record(name, {y}, {x}, [y_saved = y.detach(), v, log](const std::vector<Tensor>& g,
                                                                  const std::vector<bool>&) {
    Tensor gx = empty_like(y_saved);
    FG_DISPATCH(y_saved.device(), softmax_backward, y_saved.dtype(), v, log, y_saved.data_ptr(), g[0].data_ptr(),
                gx.data_ptr());
    return std::vector<Tensor>{gx};
  });
  return y;
}

}  // namespace

Tensor softmax(const Tensor& x, std::int64_t axis) { return softmax_impl(x, axis, false, "softmax"); }
Tensor log_softmax(const Tensor& x, std::int64_t axis) { return softmax_impl(x, axis, true, "log_softmax"); }

Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps) {
  check_float(x, "layer_norm");
  FG_CHECK(x.dim() >= 1, "layer_norm: needs at least one dim, got {}", x.str());
  const std::int64_t n = x.size(-1);
  const std::int64_t rows = n == 0 ? 0 : x.numel() / n;
  for (const Tensor* p : {&gamma, &beta}) {
    if (!p->defined()) continue;
    check_same(x, *p, "layer_norm (gamma/beta)");
    FG_CHECK(p->dim() == 1 && p->size(0) == n, "layer_norm: gamma and beta must be [{}], got {}", n, p->str());
  }
  FG_CHECK(eps >= 0, "layer_norm: eps must be non-negative, got {}", eps);
  Tensor y = empty_like(x);
  Tensor mu = empty({rows}, x.options()), rstd = empty({rows}, x.options());
  FG_DISPATCH(x.device(), layer_norm_forward, x.dtype(), rows, n, eps, x.data_ptr(), ptr_or_null(gamma),
              ptr_or_null(beta), y.data_ptr(), mu.data_ptr(), rstd.data_ptr());
  autograd::record("layer_norm", {y}, {x, gamma, beta}, [x, gamma, mu, rstd, rows, n](
                                                            const std::vector<Tensor>& g, const std::vector<bool>& need) {
    Tensor gx = need[0] ? empty_like(x) : Tensor();
    Tensor gg = need[1] ? empty({n}, x.options()) : Tensor();
    Tensor gb = need[2] ? empty({n}, x.options()) : Tensor();
    FG_DISPATCH(x.device(), layer_norm_backward, x.dtype(), rows, n, x.data_ptr(), ptr_or_null(gamma), mu.data_ptr(),
                rstd.data_ptr(), g[0].data_ptr(), out_ptr(gx), out_ptr(gg), out_ptr(gb));
    return std::vector<Tensor>{gx, gg, gb};
  });
  return y;
}

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  check_float(x, "dropout");
  FG_CHECK(p >= 0.0 && p < 1.0, "dropout: p must be in [0, 1), got {}", p);
  if (!training || p == 0.0) return x;
  Tensor y = empty_like(x);
  Tensor mask = empty_like(x);
  const std::uint64_t offset = gen.reserve(static_cast<std::uint64_t>(x.numel()));
  FG_DISPATCH(x.device(), dropout_forward, x.dtype(), x.numel(), p, gen.seed(), offset, x.data_ptr(), y.data_ptr(),
              mask.data_ptr());
  autograd::record("dropout", {y}, {x}, [mask](const std::vector<Tensor>& g, const std::vector<bool>&) {
    return std::vector<Tensor>{mul(g[0], mask)};  // the saved mask already holds 0 or 1/(1-p)
  });
  return y;
}

Tensor dropout(const Tensor& x, double p, bool training) { return dropout(x, p, training, default_generator()); }

}  // namespace fg
