// tests/test_estimators_known_answer.cpp: estimators against answers known in closed form.
//
// Gaussian pairs: x ~ N(0, I_d), y = rho x + sqrt(1 - rho^2) e with e ~ N(0, I_d) have
//   I(x; y) = -d/2 log(1 - rho^2)
// Training a critic for a few hundred steps must bring the DV, NWJ and InfoNCE estimates
// near it (InfoNCE cannot exceed log B). Also: GMM entropy of Gaussian samples vs the
// analytic entropy; MMD near 0 for one distribution and growing with a mean shift;
// normalized HSIC near 0 for independent samples and 1 for y = x.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/autograd.h"
#include "engine/nn/nn.h"
#include "engine/optim/adam.h"
#include "losses/dependency.h"
#include "losses/gaussian_mi.h"
#include "losses/hsic.h"
#include "losses/mmd.h"
#include "losses/mmim.h"

using namespace fg;

namespace {

double estimate(losses::MiEstimator e, double rho, int steps, std::int64_t batch, std::uint64_t seed) {
  losses::MiTrainingOptions o;
  o.dim = 2;
  o.rho = rho;
  o.steps = steps;
  o.batch = batch;
  o.seed = seed;
  return losses::train_mi_estimator(e, o);
}

}  // namespace

TEST_CASE("known answer: Donsker-Varadhan (MINE) estimate of Gaussian MI") {
  for (double rho : {0.5, 0.8}) {
    const double truth = losses::gaussian_mi(2, rho);
    const double est = estimate(losses::MiEstimator::DonskerVaradhan, rho, 400, 256, 11);
    INFO("rho " << rho << " analytic " << truth << " DV estimate " << est);
    // a lower bound: never far above the truth, and close to it after training
    CHECK(est < truth + 0.1);
    CHECK(est > truth - 0.15 - 0.15 * truth);
  }
}

TEST_CASE("known answer: NWJ (f-divergence) estimate of Gaussian MI") {
  for (double rho : {0.5, 0.8}) {
    const double truth = losses::gaussian_mi(2, rho);
    const double est = estimate(losses::MiEstimator::NWJ, rho, 400, 256, 12);
    INFO("rho " << rho << " analytic " << truth << " NWJ estimate " << est);
    CHECK(est < truth + 0.1);
    CHECK(est > truth - 0.15 - 0.15 * truth);
  }
}

TEST_CASE("known answer: InfoNCE estimate of Gaussian MI, capped by log B") {
  const double rho = 0.8;
  const double truth = losses::gaussian_mi(2, rho);  // 1.02 nats < log 128 = 4.85
  const double est = estimate(losses::MiEstimator::InfoNCE, rho, 300, 128, 13);
  INFO("analytic " << truth << " InfoNCE estimate " << est);
  CHECK(est < truth + 0.1);
  CHECK(est > truth - 0.2);
  // with a tiny batch the estimate cannot exceed log B, whatever the true MI
  const double rho_hi = 0.999;  // I = 6.2 nats
  const double capped = estimate(losses::MiEstimator::InfoNCE, rho_hi, 150, 8, 14);
  INFO("rho 0.999: analytic " << losses::gaussian_mi(2, rho_hi) << ", B = 8 estimate " << capped << " <= log 8");
  CHECK(capped <= std::log(8.0) + 1e-9);
  CHECK(capped > 0.5 * std::log(8.0));
}

TEST_CASE("known answer: GMM entropy of Gaussian samples vs the analytic entropy") {
  // Samples of N(0, Sigma), Sigma = A A^T + I, split into two classes at random: each
  // class has the same Gaussian, so the bound sum_c h_c / 2 equals the true entropy
  //   h = k/2 (1 + log 2 pi) + 1/2 log det Sigma
  Generator gen(21);
  const std::int64_t k = 3, n = 6000;
  const std::vector<double> a = {1.0, 0.0, 0.0, 0.5, 0.8, 0.0, -0.3, 0.2, 0.6};
  const Tensor A = from_vector(a, {k, k});
  const Tensor z = matmul(randn({n, k}, gen), transpose(A, 0, 1)) + randn({n, k}, gen);  // cov A A^T + I
  const Tensor labels = rand({n}, gen, {}, -1.0, 1.0);
  losses::GmmEntropyOptions o;
  o.with_constants = true;
  losses::GmmEntropy gmm(o);
  const double est = gmm.estimate(z, labels).item();
  const Tensor sigma = matmul(A, transpose(A, 0, 1)) + from_vector(std::vector<double>{1, 0, 0, 0, 1, 0, 0, 0, 1}, {k, k});
  const double truth = 0.5 * k * (1.0 + std::log(2 * M_PI)) + 0.5 * logdet_spd(sigma).item();
  INFO("analytic " << truth << " GMM estimate " << est);
  CHECK(std::abs(est - truth) < 0.05);
}

TEST_CASE("GMM entropy: too few samples in a class is a clear error, not NaN") {
  Generator gen(22);
  const Tensor z = randn({6, 4}, gen);
  const Tensor labels = from_vector(std::vector<double>{1, 1, 1, 1, 1, -1}, {6});
  losses::GmmEntropy gmm;
  CHECK_THROWS_WITH_AS(gmm.estimate(z, labels), doctest::Contains("negative class has 1 samples"), fg::Error);
}

TEST_CASE("known answer: MMD is near 0 for one distribution and grows with a mean shift") {
  Generator gen(31);
  const std::int64_t n = 400, d = 3;
  losses::MmdOptions o{{0.5, 1.0, 2.0}, losses::MmdEstimator::Unbiased};
  const Tensor x = randn({n, d}, gen);
  double prev = std::abs(losses::mmd(x, randn({n, d}, gen), o).item());
  CHECK(prev < 0.02);
  for (double shift : {0.25, 0.5, 1.0}) {
    const double v = losses::mmd(x, randn({n, d}, gen) + shift, o).item();
    INFO("shift " << shift << " MMD " << v << " previous " << prev);
    CHECK(v > prev);
    prev = v;
  }
  CHECK(prev > 0.15);
}

TEST_CASE("known answer: normalized HSIC near 0 for independent samples, 1 for y = x") {
  Generator gen(41);
  const Tensor x = randn({300, 4}, gen);
  const Tensor y = randn({300, 2}, gen);
  const double indep = losses::normalized_hsic(x, y).item();
  const double same = losses::normalized_hsic(x, x).item();
  const double dependent = losses::normalized_hsic(x, tanh(slice(x, 1, 0, 2)) + 0.1 * randn({300, 2}, gen)).item();
  INFO("independent " << indep << " dependent " << dependent << " identical " << same);
  CHECK(indep < 0.05);
  CHECK(same == doctest::Approx(1.0).epsilon(1e-9));
  CHECK(dependent > 0.3);
}
