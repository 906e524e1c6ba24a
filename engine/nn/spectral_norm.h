// engine/nn/spectral_norm.h: a Linear layer whose weight is divided by its largest
// singular value (Miyato et al., 2018), making the layer 1-Lipschitz. Used by the
// Wasserstein dependency estimator, whose critic must be 1-Lipschitz (losses/).
//
//   forward (training):  v = normalize(W^T u),  u = normalize(W v)    (power_iterations times,
//                                                                      no gradient; u persists)
//                        sigma = u^T W v        (with gradient through W, as torch's spectral_norm)
//                        y = x (W / sigma)^T + b
//   forward (eval):      the same with the stored u and no power iteration.
// Names follow torch.nn.utils.spectral_norm: weight_orig, bias, and buffers weight_u and
// weight_v, so the state_dict loads into a PyTorch Linear wrapped with spectral_norm.
#pragma once

#include "engine/nn/layers.h"

namespace fg::nn {

class SpectralNormLinear : public Module {
 public:
  SpectralNormLinear(std::int64_t in_features, std::int64_t out_features, Generator& gen, bool bias = true,
                     int power_iterations = 1, TensorOptions opts = {});
  std::string type_name() const override { return "SpectralNormLinear"; }
  Tensor forward(const Tensor& x);
  // The current normalized weight W / sigma (with gradient to weight_orig).
  Tensor normalized_weight();
  // Largest singular value estimate sigma = u^T W v for the current u, v (no gradient).
  double sigma() const;

  std::int64_t in_features, out_features;
  int power_iterations;
  Tensor weight_orig;  // [out, in]
  Tensor bias;         // [out]
  Tensor weight_u;     // [out] buffer
  Tensor weight_v;     // [in] buffer
};

}  // namespace fg::nn
