// losses/vae.h: autoencoder and VAE pieces shared by MFM, JMVAE-KL and MVAE.
//
//   masked_sequence_sse: sum over valid time steps and features of (x - x_hat)^2, averaged
//                        over the batch (MFM's reconstruction term for sequences)
//   gaussian_kl_standard(mu, logvar) = 1/2 sum_d (exp(logvar) + mu^2 - 1 - logvar)
//                        KL(N(mu, diag e^logvar) || N(0, I)), averaged over rows
//   gaussian_kl(mu1, lv1, mu2, lv2) = 1/2 sum_d (lv2 - lv1 + (e^lv1 + (mu1 - mu2)^2) / e^lv2 - 1)
//                        KL between two diagonal Gaussians, averaged over rows
//   product_of_experts: the Gaussian with precision T = sum_i T_i (T_i = e^-lv_i) and mean
//                        mu = sum_i T_i mu_i / T, optionally including a N(0, I) prior expert
//                        (MVAE, Wu & Goodman 2018)
//   reparameterize(mu, logvar) = mu + e^(logvar / 2) * eps, eps ~ N(0, I)
#pragma once

#include <vector>

#include "engine/ops.h"

namespace fg::losses {

// x, x_hat [B, T, D]; lengths int64 [B] in [0, T] (undefined: all steps count).
Tensor masked_sequence_sse(const Tensor& x, const Tensor& x_hat, const Tensor& lengths = Tensor());
Tensor gaussian_kl_standard(const Tensor& mu, const Tensor& logvar);
Tensor gaussian_kl(const Tensor& mu1, const Tensor& logvar1, const Tensor& mu2, const Tensor& logvar2);

struct GaussianParams {
  Tensor mu, logvar;
};
// experts: each {mu [B, d], logvar [B, d]}; at least one expert, or the prior alone.
GaussianParams product_of_experts(const std::vector<GaussianParams>& experts, bool include_prior = true,
                                  double eps = 1e-8);
Tensor reparameterize(const Tensor& mu, const Tensor& logvar, Generator& gen);

}  // namespace fg::losses
