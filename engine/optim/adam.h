// engine/optim/adam.h: Adam and AdamW, PyTorch's semantics (torch.optim.Adam / AdamW).
// With g the gradient, p the parameter, t the parameter's step count (from 1):
//   Adam:   g = g + weight_decay * p                 (L2 penalty folded into the gradient)
//   AdamW:  p = p * (1 - lr * weight_decay)          (decoupled weight decay)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g^2
//   v_max = max(v_max, v),  v' = v_max if amsgrad else v
//   p = p - lr / (1 - beta1^t) * m / (sqrt(v') / sqrt(1 - beta2^t) + eps)
// State slots: "exp_avg" (m), "exp_avg_sq" (v), "max_exp_avg_sq" (v_max, amsgrad only).
#pragma once

#include "engine/optim/optimizer.h"

namespace fg::optim {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // default for groups that set none (AdamW's default is 1e-2)
  bool amsgrad = false;
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, const AdamOptions& options = {});
  Adam(std::vector<ParamGroup> groups, const AdamOptions& options = {});
  std::string type_name() const override { return decoupled_ ? "AdamW" : "Adam"; }
  const AdamOptions& options() const { return opts_; }

 protected:
  Adam(std::vector<ParamGroup> groups, const AdamOptions& options, bool decoupled_weight_decay);
  void update(const ParamGroup& group, Tensor& param, const Tensor& grad, ParamState& state) override;
  std::string hyper_json() const override;
  void load_hyper_json(const std::string& json) override;
  std::vector<std::string> slot_names() const override { return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}; }

 private:
  AdamOptions opts_;  // lr and weight_decay live in the groups
  bool decoupled_;
};

// AdamW's options: Adam's, with PyTorch's AdamW default weight_decay of 1e-2.
struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
};

class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> params, const AdamWOptions& options = {});
  AdamW(std::vector<ParamGroup> groups, const AdamWOptions& options = {});
};

}  // namespace fg::optim
