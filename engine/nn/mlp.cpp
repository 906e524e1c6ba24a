// engine/nn/mlp.cpp: see mlp.h.
#include "engine/nn/mlp.h"

#include <string>

#include "engine/error.h"

namespace fg::nn {

MLP::MLP(const MLPOptions& o, Generator& gen) {
  FG_CHECK(o.sizes.size() >= 2, "MLP: sizes needs at least {{in, out}}, got {} entries", o.sizes.size());
  const std::size_t layers = o.sizes.size() - 1;
  auto per_layer_ok = [&](std::size_t n) { return n == 1 || n == layers; };
  FG_CHECK(per_layer_ok(o.activations.size()),
           "MLP: activations needs 1 entry or one per Linear layer ({}), got {}", layers, o.activations.size());
  FG_CHECK(per_layer_ok(o.dropout.size()), "MLP: dropout needs 1 entry or one per Linear layer ({}), got {}", layers,
           o.dropout.size());
  for (std::size_t i = 0; i < o.sizes.size(); ++i)
    FG_CHECK(o.sizes[i] > 0, "MLP: sizes[{}] must be positive, got {}", i, o.sizes[i]);

  auto add = [&](auto module) {
    register_module(std::to_string(steps_.size()), module);
    steps_.emplace_back(module);
  };
  for (std::size_t i = 0; i < layers; ++i) {
    linear_index_.push_back(static_cast<std::int64_t>(steps_.size()));
    auto lin = std::make_shared<Linear>(o.sizes[i], o.sizes[i + 1], gen, o.bias, o.param_options);
    linears_.push_back(lin);
    add(lin);
    if (i + 1 == layers && !o.activate_last) break;
    const Activation act = o.activations[o.activations.size() == 1 ? 0 : i];
    const double p = o.dropout[o.dropout.size() == 1 ? 0 : i];
    FG_CHECK(p >= 0.0 && p < 1.0, "MLP: dropout of layer {} must be in [0, 1), got {}", i, p);
    if (act != Activation::None) add(std::make_shared<ActivationLayer>(act, o.negative_slope));
    if (p > 0.0) add(std::make_shared<Dropout>(p, o.dropout_generator));
  }
}

Tensor MLP::forward(const Tensor& x) const {
  Tensor h = x;
  for (const Step& step : steps_) h = std::visit([&](const auto& m) { return m->forward(h); }, step);
  return h;
}

}  // namespace fg::nn
