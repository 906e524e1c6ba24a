// kernels/optim.h: fused optimizer kernels: one Adam/AdamW step over a list of parameter
// tensors, and gradient clipping by the global norm. Not differentiable (they update
// parameters in place under no-grad).
//
// Adam / AdamW (PyTorch's torch.optim.Adam / AdamW, single-tensor path), per element of
// parameter p with gradient g, moments m (exp_avg), v (exp_avg_sq), step t >= 1:
//   Adam (L2):      g = g + weight_decay * p
//   AdamW:          p = p * (1 - lr * weight_decay)          (decoupled weight decay)
//   m = m + (1 - beta1) (g - m)                              (= beta1 m + (1 - beta1) g)
//   v = beta2 v + (1 - beta2) g^2
//   amsgrad:        v_max = max(v_max, v), and v_max replaces v below
//   denom = sqrt(v) / sqrt(1 - beta2^t) + eps                (eps after the square root)
//   p = p - lr / (1 - beta1^t) * m / denom
// Each tensor carries its own hyper-parameters and step (parameter groups, per-tensor
// step counts), so one launch serves every group.
//
// Clipping (torch.nn.utils.clip_grad_norm_):
//   total = (sum over all gradients of |g|^q)^(1/q), q = norm_type (q = inf: max |g|)
//   clip_grads_by_norm: every g *= min(1, max_norm / (total + 1e-6)), reading `total`
//   from the buffer that grad_total_norm wrote (on CUDA it never leaves the device).
//   A NaN total propagates into the gradients, as in PyTorch.
//
// The arrays of AdamParamRef / GradRef live in host memory; the pointers inside them
// point to the tensors' memory (device memory on CUDA). The CPU reference is
// kernels/cpu/optim.cpp (plain loops, double arithmetic), the CUDA version
// kernels/cuda/optim.cu (one launch over a device table of all tensors).
#pragma once

#include "kernels/types.h"

namespace fg::kernels {

struct AdamParamRef {
  void* param = nullptr;
  const void* grad = nullptr;
  void* exp_avg = nullptr;
  void* exp_avg_sq = nullptr;
  void* max_exp_avg_sq = nullptr;  // amsgrad only
  std::int64_t numel = 0;
  std::int64_t step = 1;  // the step being taken (1 for the first)
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

struct GradRef {
  void* grad = nullptr;
  std::int64_t numel = 0;
};

FG_KERNEL(adam_step, (DType dt, bool decoupled_weight_decay, bool amsgrad, const AdamParamRef* params,
                      std::int64_t count))
// total_norm: one element of dtype dt on the gradients' device.
FG_KERNEL(grad_total_norm, (DType dt, const GradRef* grads, std::int64_t count, double norm_type, void* total_norm))
FG_KERNEL(clip_grads_by_norm, (DType dt, const GradRef* grads, std::int64_t count, double max_norm,
                               const void* total_norm))

}  // namespace fg::kernels
