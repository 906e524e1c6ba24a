// losses/ima.h: the losses of IMA, the importance-based multimodal autoencoder (paper 004).
//
// Modality j has a unimodal representation u_j [B, d] and an importance y_j [B] in [0, 1];
// the multimodal representation is z = sum_j y_j u_j with sum_j y_j = 1 (eq. 1).
//   alignment (eq. 2):   L_align^(j) = ||z - u_j||^2                       per sample
//   global (eq. 2):      L_glob = ||z||^2                                  per sample
//   weighted cross-covariance (eq. 3), trained into the importance networks:
//     y'_i = 1 - y_ij,  w'_i = y'_i / sum_i y'_i
//     mu_z = sum_i w'_i z_i,  mu_u = sum_i w'_i u_ij
//     L_corr^(j) = || sum_i w'_i (z_i - mu_z)(u_ij - mu_u)^T ||_F^2
//   (minimizing it drives y' up, i.e. importance down, for samples whose u_j is
//   uncorrelated with z)
//   importance prior (L_local): KL(Bernoulli(ybar_j) || Bernoulli(rho_j)),
//     ybar_j = mean_i y_ij, rho_j the prior share of important samples in modality j.
// The per-sample terms are averaged over the batch here (the paper sums over N; the
// mean keeps learning rates independent of the batch size).
#pragma once

#include "engine/ops.h"

namespace fg::losses {

// z [B, dz], u [B, du], importance [B] (or [B, 1]) in [0, 1] -> 0-d.
Tensor weighted_cross_covariance_loss(const Tensor& z, const Tensor& u, const Tensor& importance);
// importance [B] in [0, 1], rho in (0, 1) -> 0-d KL(Bern(mean) || Bern(rho)).
Tensor bernoulli_kl_prior(const Tensor& importance, double rho, double eps = 1e-6);
// mean_i ||z_i - u_i||^2
Tensor alignment_sse(const Tensor& z, const Tensor& u);
// mean_i ||z_i||^2
Tensor global_norm_regularizer(const Tensor& z);

}  // namespace fg::losses
