// engine/optim/clip_grad.cpp: see clip_grad.h.
#include "engine/optim/clip_grad.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace fg::optim {

namespace {

// ||x||_p as a 0-d tensor on x's device.
Tensor norm(const Tensor& x, double p) {
  if (x.numel() == 0) return zeros({}, x.options());
  if (std::isinf(p)) return max(abs(x));
  if (p == 2.0) return sqrt(sum(square(x)));
  if (p == 1.0) return sum(abs(x));
  return pow(sum(pow(abs(x), p)), 1.0 / p);
}

}  // namespace

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm, double norm_type, bool error_if_nonfinite) {
  FG_CHECK(max_norm >= 0, "clip_grad_norm: max_norm must be non-negative, got {}", max_norm);
  FG_CHECK(norm_type > 0, "clip_grad_norm: norm_type must be positive (or infinity), got {}", norm_type);
  NoGradGuard no_grad;
  std::vector<Tensor> grads;
  for (const Tensor& p : params)
    if (p.defined() && p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return 0.0;
  const Tensor& first = grads.front();
  std::vector<Tensor> norms;
  for (const Tensor& g : grads) {
    FG_CHECK(g.device() == first.device(), "clip_grad_norm: gradients live on {} and {}; expected one device",
             first.device().str(), g.device().str());
    norms.push_back(norm(g.detach(), norm_type).to(first.dtype()));
  }
  const Tensor total = norm(stack(norms, 0), norm_type);
  const double total_value = total.item();
  FG_CHECK(!error_if_nonfinite || std::isfinite(total_value),
           "clip_grad_norm: the total norm of order {} of the gradients is {}; a gradient holds NaN or Inf",
           norm_type, total_value);
  // coef = min(1, max_norm / (total + 1e-6)), kept on the device
  const Tensor coef = minimum(full({}, max_norm, total.options()) / (total + 1e-6), ones({}, total.options()));
  for (Tensor g : grads) copy_(g, g * coef.to(g.dtype()));
  return total_value;
}

}  // namespace fg::optim
