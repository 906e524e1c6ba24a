// engine/nn/layers.cpp: see layers.h.
#include "engine/nn/layers.h"

#include <cmath>

#include "engine/error.h"
#include "engine/nn/init.h"
#include "engine/ops.h"

namespace fg::nn {

namespace {

TensorOptions param_options(TensorOptions opts, const char* layer) {
  FG_CHECK(opts.dtype == DType::f32 || opts.dtype == DType::f64, "{}: parameters must be float32 or float64, got {}",
           layer, dtype_name(opts.dtype));
  opts.requires_grad = false;  // register_parameter turns it on once initialized
  return opts;
}

}  // namespace

// ---------------------------------------------------------------- Linear
Linear::Linear(std::int64_t in, std::int64_t out, Generator& gen, bool with_bias, TensorOptions opts)
    : in_features(in), out_features(out) {
  FG_CHECK(in > 0 && out > 0, "Linear: in_features and out_features must be positive, got {} and {}", in, out);
  opts = param_options(opts, "Linear");
  Tensor w = empty({out, in}, opts);
  init::kaiming_uniform_(w, gen, std::sqrt(5.0));  // = U(-1/sqrt(in), 1/sqrt(in)), as torch.nn.Linear
  weight = register_parameter("weight", w);
  if (with_bias) {
    Tensor b = empty({out}, opts);
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    init::uniform_(b, gen, -bound, bound);
    bias = register_parameter("bias", b);
  }
}

Tensor Linear::forward(const Tensor& x) const {
  FG_CHECK(x.defined() && x.dim() >= 1 && x.size(-1) == in_features,
           "Linear({}, {}): the input must be [..., {}], got {}", in_features, out_features, in_features,
           x.defined() ? x.str() : std::string("an undefined tensor"));
  return linear(x, weight, bias);
}

// ---------------------------------------------------------------- Embedding
Embedding::Embedding(std::int64_t num, std::int64_t dim, Generator& gen, std::optional<std::int64_t> pad,
                     TensorOptions opts)
    : num_embeddings(num), embedding_dim(dim) {
  FG_CHECK(num > 0 && dim > 0, "Embedding: num_embeddings and embedding_dim must be positive, got {} and {}", num, dim);
  if (pad) {
    FG_CHECK(*pad >= -num && *pad < num, "Embedding: padding_idx {} is outside [-{}, {})", *pad, num, num);
    padding_idx = *pad < 0 ? *pad + num : *pad;
  }
  opts = param_options(opts, "Embedding");
  Tensor w = empty({num, dim}, opts);
  init::normal_(w, gen);
  if (padding_idx) {  // zero the padding row (on the parameter's device, no host loop)
    const Tensor is_pad =
        reshape(eq(arange(num, opts), full({}, static_cast<double>(*padding_idx), opts)), {num, 1});
    copy_(w, where(is_pad, zeros({}, opts), w));
  }
  weight = register_parameter("weight", w);
}

Tensor Embedding::forward(const Tensor& idx) const {
  FG_CHECK(idx.defined() && idx.dtype() == DType::i64, "Embedding({}, {}): indices must be int64, got {}",
           num_embeddings, embedding_dim, idx.defined() ? idx.str() : std::string("an undefined tensor"));
  Shape out_shape = idx.shape();
  out_shape.push_back(embedding_dim);
  const Tensor flat = reshape(idx, {idx.numel()});
  Tensor rows = index_select(weight, 0, flat);
  if (padding_idx) {
    // PyTorch: the padding row is returned as is but receives no gradient. where() sends
    // the gradient only to the branch it picked, and the padding branch is detached.
    const Tensor is_pad = reshape(
        eq(flat.to(weight.dtype()), full({}, static_cast<double>(*padding_idx), weight.options())), {idx.numel(), 1});
    rows = where(is_pad, index_select(weight.detach(), 0, flat), rows);
  }
  return reshape(rows, out_shape);
}

// ---------------------------------------------------------------- LayerNorm
LayerNorm::LayerNorm(std::int64_t n, double eps_, bool affine, TensorOptions opts) : normalized_size(n), eps(eps_) {
  FG_CHECK(n > 0, "LayerNorm: normalized_size must be positive, got {}", n);
  FG_CHECK(eps_ >= 0, "LayerNorm: eps must be non-negative, got {}", eps_);
  opts = param_options(opts, "LayerNorm");
  if (affine) {
    weight = register_parameter("weight", ones({n}, opts));
    bias = register_parameter("bias", zeros({n}, opts));
  }
}

Tensor LayerNorm::forward(const Tensor& x) const {
  FG_CHECK(x.defined() && x.dim() >= 1 && x.size(-1) == normalized_size,
           "LayerNorm({}): the input must be [..., {}], got {}", normalized_size, normalized_size,
           x.defined() ? x.str() : std::string("an undefined tensor"));
  return layer_norm(x, weight, bias, eps);
}

// ---------------------------------------------------------------- Dropout
Dropout::Dropout(double p_, std::shared_ptr<Generator> gen) : p(p_), generator(std::move(gen)) {
  FG_CHECK(p_ >= 0.0 && p_ < 1.0, "Dropout: p must be in [0, 1), got {}", p_);
}

Tensor Dropout::forward(const Tensor& x) const {
  if (!is_training() || p == 0.0) return x;
  return dropout(x, p, true, generator ? *generator : default_generator());
}

// ---------------------------------------------------------------- activations
Activation parse_activation(const std::string& name) {
  if (name == "none" || name == "identity" || name.empty()) return Activation::None;
  if (name == "relu") return Activation::ReLU;
  if (name == "tanh") return Activation::Tanh;
  if (name == "leaky_relu") return Activation::LeakyReLU;
  if (name == "gelu") return Activation::GELU;
  if (name == "sigmoid") return Activation::Sigmoid;
  FG_FAIL("unknown activation '{}' (expected relu, tanh, leaky_relu, gelu, sigmoid or none)", name);
}

std::string activation_name(Activation a) {
  switch (a) {
    case Activation::None: return "none";
    case Activation::ReLU: return "relu";
    case Activation::Tanh: return "tanh";
    case Activation::LeakyReLU: return "leaky_relu";
    case Activation::GELU: return "gelu";
    case Activation::Sigmoid: return "sigmoid";
  }
  return "?";
}

Tensor apply_activation(const Tensor& x, Activation a, double negative_slope) {
  switch (a) {
    case Activation::None: return x;
    case Activation::ReLU: return relu(x);
    case Activation::Tanh: return tanh(x);
    case Activation::LeakyReLU: return leaky_relu(x, negative_slope);
    case Activation::GELU: return gelu(x);
    case Activation::Sigmoid: return sigmoid(x);
  }
  FG_FAIL("apply_activation: invalid activation {}", static_cast<int>(a));
}

}  // namespace fg::nn
