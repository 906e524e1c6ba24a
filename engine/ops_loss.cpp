// engine/ops_loss.cpp: l1_loss, mse_loss, cross_entropy and
// binary_cross_entropy_with_logits (kernels/loss.h). Each returns a 0-d tensor.
#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_helpers.h"
#include "engine/ops.h"
#include "kernels/loss.h"

namespace fg {

using detail::check_float;
using detail::check_index;
using detail::check_same;
using detail::out_ptr;

namespace {

double reduction_scale(Reduction r, std::int64_t count) {
  return r == Reduction::Mean ? 1.0 / static_cast<double>(std::max<std::int64_t>(count, 1)) : 1.0;
}

void check_pair(const Tensor& pred, const Tensor& target, const char* name) {
  check_same(pred, target, name);
  check_float(pred, name);
  FG_CHECK(pred.shape() == target.shape(), "{}: prediction {} and target {} must have the same shape", name,
           shape_str(pred.shape()), shape_str(target.shape()));
}

Tensor regression_loss(const Tensor& pred, const Tensor& target, RegressionLoss kind, Reduction r, const char* name) {
  check_pair(pred, target, name);
  const double scale = reduction_scale(r, pred.numel());
  Tensor out = empty({}, pred.options());
  FG_DISPATCH(pred.device(), regression_loss_forward, kind, pred.dtype(), pred.numel(), scale, pred.data_ptr(),
              target.data_ptr(), out.data_ptr());
  autograd::record(name, {out}, {pred, target}, [pred, target, kind, scale](const std::vector<Tensor>& g,
                                                                            const std::vector<bool>& need) {
    Tensor gp = need[0] ? empty_like(pred) : Tensor();
    Tensor gt = need[1] ? empty_like(target) : Tensor();
    FG_DISPATCH(pred.device(), regression_loss_backward, kind, pred.dtype(), pred.numel(), scale, pred.data_ptr(),
                target.data_ptr(), g[0].data_ptr(), out_ptr(gp), out_ptr(gt));
    return std::vector<Tensor>{gp, gt};
  });
  return out;
}

}  // namespace

Tensor l1_loss(const Tensor& pred, const Tensor& target, Reduction r) {
  return regression_loss(pred, target, RegressionLoss::L1, r, "l1_loss");
}

Tensor mse_loss(const Tensor& pred, const Tensor& target, Reduction r) {
  return regression_loss(pred, target, RegressionLoss::MSE, r, "mse_loss");
}

Tensor cross_entropy(const Tensor& logits, const Tensor& target, Reduction r) {
  check_float(logits, "cross_entropy");
  check_index(target, logits.device(), "cross_entropy (target)");
  FG_CHECK(logits.dim() == 2, "cross_entropy: logits must be [rows, classes], got {}", logits.str());
  FG_CHECK(target.dim() == 1 && target.size(0) == logits.size(0),
           "cross_entropy: target must be int64 [{}] class ids, got {}", logits.size(0), target.str());
  const std::int64_t rows = logits.size(0), classes = logits.size(1);
  FG_CHECK(classes > 0, "cross_entropy: logits have no classes");
  const double scale = reduction_scale(r, rows);
  Tensor out = empty({}, logits.options());
  Tensor lse = empty({rows}, logits.options());
  Tensor bad = full({1}, -1.0, TensorOptions{DType::i64, logits.device(), false});
  FG_DISPATCH(logits.device(), cross_entropy_forward, logits.dtype(), rows, classes, scale, logits.data_ptr(),
              static_cast<const std::int64_t*>(target.data_ptr()), out.data_ptr(), lse.data_ptr(),
              static_cast<std::int64_t*>(bad.data_ptr()));
  const auto bad_row = static_cast<std::int64_t>(bad.item());
  FG_CHECK(bad_row < 0, "cross_entropy: target class {} at row {} is outside [0, {})",
           target.to_vector<std::int64_t>()[static_cast<std::size_t>(std::max<std::int64_t>(bad_row, 0))], bad_row,
           classes);
  autograd::record("cross_entropy", {out}, {logits}, [logits, target, lse, rows, classes, scale](
                                                         const std::vector<Tensor>& g, const std::vector<bool>&) {
    Tensor gx = empty_like(logits);
    FG_DISPATCH(logits.device(), cross_entropy_backward, logits.dtype(), rows, classes, scale, logits.data_ptr(),
                static_cast<const std::int64_t*>(target.data_ptr()), lse.data_ptr(), g[0].data_ptr(), gx.data_ptr());
    return std::vector<Tensor>{gx};
  });
  return out;
}

Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target, Reduction r) {
  check_pair(logits, target, "binary_cross_entropy_with_logits");
  const double scale = reduction_scale(r, logits.numel());
  Tensor out = empty({}, logits.options());
  FG_DISPATCH(logits.device(), bce_logits_forward, logits.dtype(), logits.numel(), scale, logits.data_ptr(),
              target.data_ptr(), out.data_ptr());
  autograd::record("binary_cross_entropy_with_logits", {out}, {logits, target},
                   [logits, target, scale](const std::vector<Tensor>& g, const std::vector<bool>& need) {
                     Tensor gx = need[0] ? empty_like(logits) : Tensor();
                     Tensor gt = need[1] ? empty_like(target) : Tensor();
                     FG_DISPATCH(logits.device(), bce_logits_backward, logits.dtype(), logits.numel(), scale,
                                 logits.data_ptr(), target.data_ptr(), g[0].data_ptr(), out_ptr(gx),
                                 out_ptr(gt));
                     return std::vector<Tensor>{gx, gt};
                   });
  return out;
}

}  // namespace fg
