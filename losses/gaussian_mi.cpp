// losses/gaussian_mi.cpp: see gaussian_mi.h.
#include "losses/gaussian_mi.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/nn/nn.h"
#include "engine/ops.h"
#include "engine/optim/adam.h"
#include "losses/dependency.h"

namespace fg::losses {

const char* mi_estimator_name(MiEstimator e) {
  switch (e) {
    case MiEstimator::DonskerVaradhan: return "DV (MINE)";
    case MiEstimator::NWJ: return "NWJ (f)";
    case MiEstimator::InfoNCE: return "InfoNCE";
    case MiEstimator::Wasserstein: return "Wasserstein";
  }
  return "?";
}

CorrelatedGaussians sample_correlated_gaussians(std::int64_t n, std::int64_t d, double rho, Generator& gen) {
  FG_CHECK(rho > -1.0 && rho < 1.0, "sample_correlated_gaussians: rho must be in (-1, 1), got {}", rho);
  NoGradGuard ng;
  const Tensor x = randn({n, d}, gen);
  const Tensor e = randn({n, d}, gen);
  return {x, x * rho + e * std::sqrt(1.0 - rho * rho)};
}

double gaussian_mi(std::int64_t d, double rho) { return -0.5 * static_cast<double>(d) * std::log(1.0 - rho * rho); }

namespace {

double train_concat_critic(MiEstimator estimator, const MiTrainingOptions& o) {
  Generator gen(o.seed);
  const DependencyBound bound = estimator == MiEstimator::DonskerVaradhan ? DependencyBound::DonskerVaradhan
                                : estimator == MiEstimator::NWJ           ? DependencyBound::NWJ
                                                                          : DependencyBound::Wasserstein;
  StatisticNetworkOptions so;
  so.input_dim = 2 * o.dim;
  so.hidden = {o.hidden, o.hidden};
  so.dropout = 0.0;
  so.output = CriticOutput::Linear;
  so.spectral_norm = bound == DependencyBound::Wasserstein;
  auto critic = std::make_shared<StatisticNetwork>(so, gen);
  optim::AdamOptions ao;
  ao.lr = o.lr;
  optim::Adam opt(critic->parameters(), ao);
  auto score = [&](const CorrelatedGaussians& p) {
    const Tensor shuffled_y = shuffle_modalities({p.y}, gen)[0];
    return dependency_lower_bound(bound, critic->forward({p.x, p.y}), critic->forward({p.x, shuffled_y}));
  };
  for (int s = 0; s < o.steps; ++s) {
    const Tensor est = score(sample_correlated_gaussians(o.batch, o.dim, o.rho, gen));
    opt.zero_grad();
    neg(est).backward();
    opt.step();
  }
  NoGradGuard ng;
  critic->eval();
  return score(sample_correlated_gaussians(o.eval_samples, o.dim, o.rho, gen)).item();
}

double train_separable_infonce(const MiTrainingOptions& o) {
  Generator gen(o.seed);
  nn::MLPOptions mo;
  mo.sizes = {o.dim, o.hidden, 32};
  nn::MLP g(mo, gen), h(mo, gen);
  std::vector<Tensor> params = g.parameters();
  for (const Tensor& p : h.parameters()) params.push_back(p);
  optim::AdamOptions ao;
  ao.lr = o.lr;
  optim::Adam opt(params, ao);
  auto score = [&](const CorrelatedGaussians& p) {
    return info_nce_bound(matmul(g.forward(p.x), transpose(h.forward(p.y), 0, 1)) / std::sqrt(32.0));
  };
  for (int s = 0; s < o.steps; ++s) {
    const Tensor est = score(sample_correlated_gaussians(o.batch, o.dim, o.rho, gen));
    opt.zero_grad();
    neg(est).backward();
    opt.step();
  }
  NoGradGuard ng;
  const std::int64_t rounds = std::max<std::int64_t>(1, o.eval_samples / o.batch);
  double total = 0;
  for (std::int64_t r = 0; r < rounds; ++r) total += score(sample_correlated_gaussians(o.batch, o.dim, o.rho, gen)).item();
  return total / static_cast<double>(rounds);
}

}  // namespace

double train_mi_estimator(MiEstimator estimator, const MiTrainingOptions& options) {
  FG_CHECK(options.dim > 0 && options.batch > 1 && options.steps >= 0,
           "train_mi_estimator: needs dim > 0, batch > 1, steps >= 0 (got {}, {}, {})", options.dim, options.batch,
           options.steps);
  if (estimator == MiEstimator::InfoNCE) return train_separable_infonce(options);
  return train_concat_critic(estimator, options);
}

}  // namespace fg::losses
