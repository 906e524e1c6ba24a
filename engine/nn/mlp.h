// engine/nn/mlp.h: a multilayer perceptron laid out like torch.nn.Sequential.
//
// sizes = {in, h1, ..., out} gives sizes.size() - 1 Linear layers. After Linear layer i
// come, in this order and only if present, its activation (unless None) and its Dropout
// (if p > 0); the last Linear gets them only with activate_last. Every one of these is
// a child named by its position, exactly as nn.Sequential numbers its children, so the
// parameter names are predictable and match PyTorch. For example
//
//   MLP({.sizes = {4, 8, 8, 2}, .activations = {Activation::ReLU}, .dropout = {0.1}}, gen)
//
// has children  0 Linear(4,8)  1 relu  2 Dropout  3 Linear(8,8)  4 relu  5 Dropout  6 Linear(8,2)
// and parameters 0.weight, 0.bias, 3.weight, 3.bias, 6.weight, 6.bias: the state_dict of
//   nn.Sequential(nn.Linear(4,8), nn.ReLU(), nn.Dropout(0.1), nn.Linear(8,8), nn.ReLU(),
//                 nn.Dropout(0.1), nn.Linear(8,2))
// Without dropout the indices close up: 0 Linear, 1 relu, 2 Linear, 3 relu, 4 Linear.
#pragma once

#include <cstdint>
#include <memory>
#include <variant>
#include <vector>

#include "engine/nn/layers.h"

namespace fg::nn {

struct MLPOptions {
  std::vector<std::int64_t> sizes;  // {in, hidden..., out}, at least two entries
  // One entry per Linear layer, or a single entry used for every layer.
  std::vector<Activation> activations = {Activation::ReLU};
  std::vector<double> dropout = {0.0};
  bool activate_last = false;     // also apply activation (and dropout) after the last Linear
  double negative_slope = 0.01;   // for LeakyReLU
  bool bias = true;
  TensorOptions param_options;    // dtype (float32 or float64) and device of the parameters
  std::shared_ptr<Generator> dropout_generator;  // null: fg::default_generator()
};

class MLP : public Module {
 public:
  // Parameters are initialized from `gen` layer by layer (Linear's PyTorch default init).
  MLP(const MLPOptions& options, Generator& gen);
  std::string type_name() const override { return "MLP"; }
  // x: [..., sizes.front()] -> [..., sizes.back()]
  Tensor forward(const Tensor& x) const;

  // The Linear layers in order (linears()[i] is the child named sequential_index(i)).
  const std::vector<std::shared_ptr<Linear>>& linears() const { return linears_; }
  // The child index (name) of Linear layer i.
  std::int64_t sequential_index(std::size_t i) const { return linear_index_.at(i); }

 private:
  using Step = std::variant<std::shared_ptr<Linear>, std::shared_ptr<ActivationLayer>, std::shared_ptr<Dropout>>;
  std::vector<Step> steps_;
  std::vector<std::shared_ptr<Linear>> linears_;
  std::vector<std::int64_t> linear_index_;
};

}  // namespace fg::nn
