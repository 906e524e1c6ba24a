// engine/optim/sgd.h: stochastic gradient descent with momentum, PyTorch's semantics
// (torch.optim.SGD). With g the gradient, p the parameter, b the momentum buffer:
//   g = g + weight_decay * p                          (if weight_decay != 0)
//   b = g                         on the first step   (if momentum != 0)
//   b = momentum * b + (1 - dampening) * g   later
//   g = g + momentum * b  (nesterov)   or   g = b
//   p = p - lr * g
// State slot: "momentum_buffer".
#pragma once

#include "engine/optim/optimizer.h"

namespace fg::optim {

struct SGDOptions {
  double lr = 0.01;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;  // default for groups that set none
  bool nesterov = false;      // needs momentum > 0 and dampening == 0
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, const SGDOptions& options);
  SGD(std::vector<ParamGroup> groups, const SGDOptions& options);
  std::string type_name() const override { return "SGD"; }
  const SGDOptions& options() const { return opts_; }

 protected:
  void update(const ParamGroup& group, Tensor& param, const Tensor& grad, ParamState& state) override;
  std::string hyper_json() const override;
  void load_hyper_json(const std::string& json) override;
  std::vector<std::string> slot_names() const override { return {"momentum_buffer"}; }

 private:
  SGDOptions opts_;  // lr and weight_decay live in the groups
};

}  // namespace fg::optim
