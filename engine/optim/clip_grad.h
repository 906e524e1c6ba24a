// engine/optim/clip_grad.h: gradient norm clipping, PyTorch's semantics
// (torch.nn.utils.clip_grad_norm_ in 1.13).
//
//   total = || (||g_1||_p, ..., ||g_k||_p) ||_p    over the parameters that have a gradient
//           (p = infinity: the largest |g| element)
//   every g_i *= min(1, max_norm / (total + 1e-6))
// The gradients are scaled in place on their device (the clip factor never leaves it);
// only the returned norm is copied to the host.
#pragma once

#include <limits>
#include <vector>

#include "engine/tensor.h"

namespace fg::optim {

// Returns the total norm before clipping (0 when no parameter has a gradient). With
// error_if_nonfinite, a NaN or infinite total throws (naming it) and nothing is scaled.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0,
                      bool error_if_nonfinite = false);

constexpr double kInfNorm = std::numeric_limits<double>::infinity();

}  // namespace fg::optim
