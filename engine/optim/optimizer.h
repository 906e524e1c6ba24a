// engine/optim/optimizer.h: the base of SGD, Adam and AdamW: parameter groups, the step
// loop, per-parameter state and its (de)serialization.
//
// An optimizer holds handles to the parameters (leaves with requires_grad) in groups,
// each group with its own learning rate and weight decay. step() visits every parameter
// that has a gradient and calls the subclass's update(), which changes the parameter in
// place under NoGradGuard with engine ops only (add_, copy_ and the arithmetic ops), so
// the same code runs on the CPU and on CUDA and a fused kernel can replace it later.
//
// Per-parameter state (momentum buffers, Adam moments, step counts) is keyed by the
// parameter's position over all groups, in order, as PyTorch numbers it. state_dict()
// gives the tensors as "state/<index>/<slot>" (the step count as an int64 scalar
// "state/<index>/step") and a JSON string with the optimizer's kind, hyperparameters and
// groups; engine/serialize/checkpoint.h stores both in a safetensors checkpoint.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace fg::optim {

// e.g. ParamGroup{.params = head->parameters(), .lr = 1e-3}
struct ParamGroup {
  std::vector<Tensor> params = {};
  std::optional<double> lr = std::nullopt;            // unset: the optimizer's default
  std::optional<double> weight_decay = std::nullopt;  // unset: the optimizer's default
  std::string name = {};                              // optional, for messages
};

// One group holding `params`, with the optimizer's default lr and weight decay.
inline std::vector<ParamGroup> single_group(std::vector<Tensor> params) {
  ParamGroup g;
  g.params = std::move(params);
  return {std::move(g)};
}

// The state of one parameter.
struct ParamState {
  std::int64_t step = 0;                 // updates applied so far
  std::map<std::string, Tensor> slots;   // e.g. "momentum_buffer", "exp_avg", "exp_avg_sq"
};

struct OptimizerState {
  std::map<std::string, Tensor> tensors;  // "state/<index>/<slot>"
  std::string config;                     // JSON: {"type", "hyper", "groups": [{"name","lr","weight_decay","params"}]}
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  virtual std::string type_name() const = 0;  // "SGD", "Adam", "AdamW"

  // Updates every parameter that has a gradient (parameters without one are skipped).
  void step();
  // Drops the gradient of every parameter.
  void zero_grad();

  // Resolved groups: lr and weight_decay are always set here. Schedules change lr.
  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  double lr(std::size_t group = 0) const;
  void set_lr(double lr);  // every group
  std::size_t num_params() const;
  // State of parameter `index` (position over all groups); empty before its first update.
  const ParamState& state(std::size_t index) const;

  OptimizerState state_dict() const;
  // Restores state, group lrs and weight decays, and hyperparameters saved by an optimizer
  // of the same kind over parameters of the same shapes. Everything is checked before
  // anything changes; errors name the key and what was expected. State tensors are moved
  // to their parameter's device and dtype.
  void load_state_dict(const OptimizerState& state);

 protected:
  // groups: at least one parameter overall; each a float leaf with requires_grad, in one group only.
  Optimizer(std::vector<ParamGroup> groups, double default_lr, double default_weight_decay, const char* type);
  // One parameter's update. `state.step` was already incremented for this step.
  virtual void update(const ParamGroup& group, Tensor& param, const Tensor& grad, ParamState& state) = 0;
  // The optimizer's own hyperparameters as a JSON object string, and their restoration.
  virtual std::string hyper_json() const = 0;
  virtual void load_hyper_json(const std::string& json) = 0;
  // The slot names update() creates (load_state_dict accepts only these).
  virtual std::vector<std::string> slot_names() const = 0;

 private:
  std::vector<ParamGroup> groups_;
  std::vector<ParamState> state_;  // by global index
};

}  // namespace fg::optim
