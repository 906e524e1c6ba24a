// losses/gaussian_mi.h: the textbook sanity check for MI estimators, as a reusable
// experiment (used by tests/test_estimators_known_answer.cpp and examples/estimators.cpp).
//
// x ~ N(0, I_d), y = rho x + sqrt(1 - rho^2) e, e ~ N(0, I_d): each coordinate pair has
// correlation rho and
//   I(x; y) = -d/2 log(1 - rho^2)   nats.
// train_mi_estimator() trains a critic on fresh batches for `steps` Adam steps, maximizing
// the chosen bound, and returns the bound on a large fresh evaluation sample.
//   DV, NWJ, Wasserstein: a concat critic T([x, y]) (StatisticNetwork, linear output;
//                         spectral norm for Wasserstein); negatives by shuffling y.
//   InfoNCE:              a separable critic f(x, y) = g(x)^T h(y) / sqrt(k), all B x B
//                         pairs of a batch scored at once; estimate <= log B.
#pragma once

#include <cstdint>

#include "engine/random.h"
#include "engine/tensor.h"

namespace fg::losses {

enum class MiEstimator { DonskerVaradhan, NWJ, InfoNCE, Wasserstein };
const char* mi_estimator_name(MiEstimator e);

struct CorrelatedGaussians {
  Tensor x, y;  // [n, d] each
};
CorrelatedGaussians sample_correlated_gaussians(std::int64_t n, std::int64_t d, double rho, Generator& gen);
double gaussian_mi(std::int64_t d, double rho);

struct MiTrainingOptions {
  std::int64_t dim = 2;
  double rho = 0.5;
  int steps = 400;
  std::int64_t batch = 256;
  std::int64_t hidden = 64;
  double lr = 2e-3;
  std::int64_t eval_samples = 8192;  // InfoNCE: averaged over eval_samples / batch batches
  std::uint64_t seed = 0;
};

double train_mi_estimator(MiEstimator estimator, const MiTrainingOptions& options);

}  // namespace fg::losses
