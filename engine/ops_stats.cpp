// engine/ops_stats.cpp: rbf_gram and logdet_spd (kernels/gram.h, kernels/spd.h).
#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_helpers.h"
#include "engine/ops.h"
#include "kernels/gram.h"
#include "kernels/spd.h"

namespace fg {

using detail::check_float;
using detail::check_same;

Tensor rbf_gram(const Tensor& x, const Tensor& y, const std::vector<double>& gammas) {
  check_same(x, y, "rbf_gram");
  check_float(x, "rbf_gram");
  FG_CHECK(x.dim() == 2 && y.dim() == 2 && x.size(1) == y.size(1),
           "rbf_gram: expected x [n, d] and y [m, d] with the same d, got {} and {}", x.str(), y.str());
  FG_CHECK(!gammas.empty() && gammas.size() <= static_cast<std::size_t>(kernels::kMaxGammas),
           "rbf_gram: give 1 to {} bandwidths, got {}", kernels::kMaxGammas, gammas.size());
  kernels::GammaList gl;
  gl.count = static_cast<int>(gammas.size());
  for (std::size_t s = 0; s < gammas.size(); ++s) {
    FG_CHECK(gammas[s] > 0, "rbf_gram: bandwidth parameter gamma {} must be positive, got {}", s, gammas[s]);
    gl.value[s] = gammas[s];
  }
  const std::int64_t n = x.size(0), m = y.size(0), d = x.size(1);
  Tensor k = empty({n, m}, x.options());
  FG_DISPATCH(x.device(), rbf_gram_forward, x.dtype(), n, m, d, x.data_ptr(), y.data_ptr(), gl, k.data_ptr());
  autograd::record("rbf_gram", {k}, {x, y}, [x, y, gl, n, m, d](const std::vector<Tensor>& g,
                                                                const std::vector<bool>& need) {
    Tensor gx = need[0] ? empty_like(x) : Tensor();
    Tensor gy = need[1] ? empty_like(y) : Tensor();
    FG_DISPATCH(x.device(), rbf_gram_backward, x.dtype(), n, m, d, x.data_ptr(), y.data_ptr(), gl, g[0].data_ptr(),
                need[0] ? gx.data_ptr() : nullptr, need[1] ? gy.data_ptr() : nullptr);
    return std::vector<Tensor>{gx, gy};
  });
  return k;
}

Tensor logdet_spd(const Tensor& a, double jitter) {
  check_float(a, "logdet_spd");
  FG_CHECK(a.dim() >= 2 && a.size(-1) == a.size(-2), "logdet_spd: expected square matrices [..., k, k], got {}",
           a.str());
  FG_CHECK(jitter >= 0, "logdet_spd: jitter must be non-negative, got {}", jitter);
  const std::int64_t k = a.size(-1);
  const Shape batch_shape(a.shape().begin(), a.shape().end() - 2);
  const std::int64_t batch = shape_numel(batch_shape);
  Tensor l = empty(a.shape(), a.options());
  Tensor out = empty(batch_shape, a.options());
  Tensor info = empty({batch}, TensorOptions{DType::i64, a.device(), false});
  FG_DISPATCH(a.device(), cholesky_logdet_forward, a.dtype(), batch, k, jitter, a.data_ptr(), l.data_ptr(),
              out.data_ptr(), static_cast<std::int64_t*>(info.data_ptr()));
  const std::vector<std::int64_t> status = info.to_vector<std::int64_t>();
  for (std::int64_t b = 0; b < batch; ++b)
    FG_CHECK(status[b] == 0,
             "logdet_spd: matrix {} of {} is not positive definite (pivot {} of {} is <= 0 with jitter {}); "
             "add jitter or check for too few samples in a covariance",
             b, a.str(), status[b] - 1, k, jitter);
  autograd::record("logdet_spd", {out}, {a}, [l, batch, k](const std::vector<Tensor>& g, const std::vector<bool>&) {
    Tensor ga = empty_like(l);
    FG_DISPATCH(l.device(), cholesky_logdet_backward, l.dtype(), batch, k, l.data_ptr(), g[0].data_ptr(),
                ga.data_ptr());
    return std::vector<Tensor>{ga};
  });
  return out;
}

}  // namespace fg
