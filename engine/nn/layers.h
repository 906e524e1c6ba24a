// engine/nn/layers.h: the basic layers, with PyTorch's parameter names, shapes and
// default initializations, so their checkpoints load into torch.nn by name.
//
//   Linear     weight [out, in], bias [out]     y = x W^T + b
//              init: weight kaiming_uniform_(a = sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)),
//                    bias U(-1/sqrt(in), 1/sqrt(in))                   (torch.nn.Linear)
//   Embedding  weight [num, dim]                 y[..., :] = W[idx[...], :]
//              init: N(0, 1); the padding_idx row is zeroed, and it never gets a gradient
//   LayerNorm  weight [n] (ones), bias [n] (zeros), over the last axis of size n
//   Dropout    no parameters: zeroes with probability p in training mode, identity in eval
//   ActivationLayer  no parameters: relu, tanh, leaky_relu, gelu, sigmoid or identity
//
// Parameters are float32 unless the TensorOptions say float64 (e.g. for gradient
// checks), and are created on opts.device. Initial values come from the Generator
// passed in, so a seed fixes the model.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "engine/nn/module.h"
#include "engine/random.h"

namespace fg::nn {

class Linear : public Module {
 public:
  Linear(std::int64_t in_features, std::int64_t out_features, Generator& gen, bool bias = true,
         TensorOptions opts = {});
  std::string type_name() const override { return "Linear"; }
  // x: [..., in_features] -> [..., out_features]
  Tensor forward(const Tensor& x) const;

  std::int64_t in_features, out_features;
  Tensor weight;  // [out, in]
  Tensor bias;    // [out], undefined without bias
};

class Embedding : public Module {
 public:
  // padding_idx may be negative (counted from the end), as in PyTorch.
  Embedding(std::int64_t num_embeddings, std::int64_t embedding_dim, Generator& gen,
            std::optional<std::int64_t> padding_idx = std::nullopt, TensorOptions opts = {});
  std::string type_name() const override { return "Embedding"; }
  // idx: int64 of any shape with values in [0, num_embeddings) -> [*idx.shape, embedding_dim]
  Tensor forward(const Tensor& idx) const;

  std::int64_t num_embeddings, embedding_dim;
  std::optional<std::int64_t> padding_idx;  // normalized to [0, num_embeddings)
  Tensor weight;                            // [num, dim]
};

class LayerNorm : public Module {
 public:
  LayerNorm(std::int64_t normalized_size, double eps = 1e-5, bool elementwise_affine = true,
            TensorOptions opts = {});
  std::string type_name() const override { return "LayerNorm"; }
  // x: [..., normalized_size], normalized over the last axis.
  Tensor forward(const Tensor& x) const;

  std::int64_t normalized_size;
  double eps;
  Tensor weight;  // [n] or undefined without elementwise_affine
  Tensor bias;
};

class Dropout : public Module {
 public:
  // gen: where the masks come from (shared, so one seed drives every dropout of a model);
  // null means fg::default_generator().
  explicit Dropout(double p, std::shared_ptr<Generator> gen = nullptr);
  std::string type_name() const override { return "Dropout"; }
  Tensor forward(const Tensor& x) const;

  double p;
  std::shared_ptr<Generator> generator;
};

enum class Activation { None, ReLU, Tanh, LeakyReLU, GELU, Sigmoid };
// "none" (or "identity", ""), "relu", "tanh", "leaky_relu", "gelu", "sigmoid"; throws otherwise.
Activation parse_activation(const std::string& name);
std::string activation_name(Activation a);
// Applies `a` (leaky_relu uses `negative_slope`; gelu is the exact erf form).
Tensor apply_activation(const Tensor& x, Activation a, double negative_slope = 0.01);

class ActivationLayer : public Module {
 public:
  explicit ActivationLayer(Activation kind, double negative_slope = 0.01) : kind(kind), negative_slope(negative_slope) {}
  std::string type_name() const override { return "ActivationLayer(" + activation_name(kind) + ")"; }
  Tensor forward(const Tensor& x) const { return apply_activation(x, kind, negative_slope); }

  Activation kind;
  double negative_slope;
};

}  // namespace fg::nn
