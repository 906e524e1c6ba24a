// engine/nn/spectral_norm.cpp: see spectral_norm.h.
#include "engine/nn/spectral_norm.h"

#include "engine/autograd.h"
#include "engine/nn/init.h"
#include "engine/ops.h"

namespace fg::nn {

namespace {
constexpr double kEps = 1e-12;  // torch's spectral_norm eps
Tensor normalize(const Tensor& v) { return v / (sqrt(sum(v * v)) + kEps); }
}  // namespace

SpectralNormLinear::SpectralNormLinear(std::int64_t in, std::int64_t out, Generator& gen, bool with_bias,
                                       int iterations, TensorOptions opts)
    : in_features(in), out_features(out), power_iterations(iterations) {
  FG_CHECK(iterations >= 1, "SpectralNormLinear: power_iterations must be >= 1, got {}", iterations);
  Linear base(in, out, gen, with_bias, opts);  // PyTorch's Linear initialization
  weight_orig = register_parameter("weight_orig", base.weight.detach().clone());
  if (with_bias) bias = register_parameter("bias", base.bias.detach().clone());
  weight_u = register_buffer("weight_u", normalize(randn({out}, gen, TensorOptions{opts.dtype, opts.device})));
  weight_v = register_buffer("weight_v", normalize(randn({in}, gen, TensorOptions{opts.dtype, opts.device})));
}

Tensor SpectralNormLinear::normalized_weight() {
  if (is_training()) {
    NoGradGuard ng;
    const Tensor w = weight_orig.detach();
    Tensor u = weight_u, v = weight_v;
    for (int i = 0; i < power_iterations; ++i) {
      v = normalize(reshape(matmul(reshape(u, {1, out_features}), w), {in_features}));   // W^T u
      u = normalize(reshape(matmul(w, reshape(v, {in_features, 1})), {out_features}));  // W v
    }
    copy_(weight_u, u);
    copy_(weight_v, v);
  }
  // sigma = u^T W v, differentiable in W (u and v are constants)
  const Tensor wv = matmul(weight_orig, reshape(weight_v.detach(), {in_features, 1}));
  const Tensor sig = sum(reshape(wv, {out_features}) * weight_u.detach());
  return weight_orig / sig;
}

double SpectralNormLinear::sigma() const {
  NoGradGuard ng;
  const Tensor wv = matmul(weight_orig, reshape(weight_v, {in_features, 1}));
  return sum(reshape(wv, {out_features}) * weight_u).item();
}

Tensor SpectralNormLinear::forward(const Tensor& x) { return linear(x, normalized_weight(), bias); }

}  // namespace fg::nn
