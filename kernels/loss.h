// kernels/loss.h: the four task losses, each reduced to one number.
//
// Every forward writes out[0] = scale * sum_i l_i (scale = 1/count for a mean, 1 for
// a sum); every backward reads the upstream gradient gout[0] (a one-element buffer on
// the same device) and writes d(loss)/d(input) = gout * scale * dl_i.
//   l1:   l_i = |p_i - t_i|                      dl/dp = sign(p - t) (0 at 0), dl/dt = -dl/dp
//   mse:  l_i = (p_i - t_i)^2                    dl/dp = 2 (p - t),            dl/dt = -dl/dp
//   cross entropy over rows r of logits [rows, C], class ids t_r:
//         l_r = logsumexp_c x_rc - x_r,t_r        dl/dx_rc = softmax_c(x_r) - [c == t_r]
//   binary cross entropy with logits x and targets t in [0, 1]:
//         l_i = max(x, 0) - x t + log(1 + exp(-|x|))   dl/dx = sigmoid(x) - t, dl/dt = -x
#pragma once

#include "kernels/types.h"

namespace fg {

enum class RegressionLoss : std::uint8_t { L1, MSE };

namespace kernels {

FG_KERNEL(regression_loss_forward, (RegressionLoss kind, DType dt, std::int64_t n, double scale, const void* pred,
                                    const void* target, void* out))
// gpred / gtarget may be null.
FG_KERNEL(regression_loss_backward, (RegressionLoss kind, DType dt, std::int64_t n, double scale, const void* pred,
                                     const void* target, const void* gout, void* gpred, void* gtarget))

// lse: [rows] saved for the backward. bad_position: set to a row whose class id is outside [0, C).
FG_KERNEL(cross_entropy_forward, (DType dt, std::int64_t rows, std::int64_t classes, double scale, const void* logits,
                                  const std::int64_t* target, void* out, void* lse, std::int64_t* bad_position))
FG_KERNEL(cross_entropy_backward, (DType dt, std::int64_t rows, std::int64_t classes, double scale,
                                   const void* logits, const std::int64_t* target, const void* lse, const void* gout,
                                   void* glogits))

FG_KERNEL(bce_logits_forward, (DType dt, std::int64_t n, double scale, const void* logits, const void* target,
                               void* out))
// glogits / gtarget may be null.
FG_KERNEL(bce_logits_backward, (DType dt, std::int64_t n, double scale, const void* logits, const void* target,
                                const void* gout, void* glogits, void* gtarget))

}  // namespace kernels
}  // namespace fg
