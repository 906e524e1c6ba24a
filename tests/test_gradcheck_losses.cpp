// tests/test_gradcheck_losses.cpp: float64 gradient checks of the statistics ops
// (rbf_gram, logdet_spd) and of every differentiable estimator and loss in losses/.
#include <doctest/doctest.h>

#include <cmath>

#include "losses/dependency.h"
#include "losses/hsic.h"
#include "losses/ima.h"
#include "losses/mmd.h"
#include "losses/mmim.h"
#include "losses/vae.h"
#include "support/gradcheck.h"

using namespace fg;
using fg::testing::rand_input;
using Inputs = std::vector<Tensor>;

namespace {
void check_grad(const testing::TensorFn& f, const Inputs& in) { CHECK_GRADCHECK(f, in); }

// A symmetric positive-definite [b, k, k] batch built from S: S S^T + k I (differentiable in S).
Tensor make_spd(const Tensor& s) {
  const std::int64_t k = s.size(-1);
  std::vector<double> eye(static_cast<std::size_t>(k * k), 0.0);
  for (std::int64_t i = 0; i < k; ++i) eye[i * k + i] = static_cast<double>(k);
  return matmul(s, transpose(s, -1, -2)) + from_vector(eye, {k, k}, f64_opts());
}
}  // namespace

TEST_CASE("gradcheck: rbf_gram") {
  // one and several bandwidths, x != y and x == y (the same tensor on both sides)
  check_grad([](const Inputs& in) { return rbf_gram(in[0], in[1], {0.7}); },
             {rand_input({4, 3}, 1), rand_input({5, 3}, 2)});
  check_grad([](const Inputs& in) { return rbf_gram(in[0], in[1], {0.1, 1.0, 3.0}); },
             {rand_input({3, 2}, 3), rand_input({6, 2}, 4)});
  check_grad([](const Inputs& in) { return rbf_gram(in[0], in[0], {0.5, 2.0}); }, {rand_input({5, 4}, 5)});
  const Tensor x = from_vector(std::vector<double>{0, 0, 1, 2}, {2, 2}, f64_opts());
  const auto k = rbf_gram(x, x, {0.5, 1.0}).to_vector<double>();
  CHECK(k[0] == doctest::Approx(2.0));                                        // exp(0) twice
  CHECK(k[1] == doctest::Approx(std::exp(-2.5) + std::exp(-5.0)).epsilon(1e-14));  // d^2 = 5
}

TEST_CASE("gradcheck: logdet_spd") {
  // through a symmetric parameterization (the op reads the lower triangle of a symmetric input)
  check_grad([](const Inputs& in) { return logdet_spd(make_spd(in[0])); }, {rand_input({3, 3}, 6)});
  check_grad([](const Inputs& in) { return logdet_spd(make_spd(in[0]), 0.1); }, {rand_input({2, 4, 4}, 7)});
  check_grad([](const Inputs& in) { return logdet_spd(make_spd(in[0])); }, {rand_input({1, 1}, 8)});
  // value: diag(2, 3) has log det log 6
  const Tensor d = from_vector(std::vector<double>{2, 0, 0, 3}, {2, 2}, f64_opts());
  CHECK(logdet_spd(d).item() == doctest::Approx(std::log(6.0)).epsilon(1e-14));
  const Tensor bad = from_vector(std::vector<double>{1, 2, 2, 1}, {2, 2}, f64_opts());  // eigenvalues 3, -1
  CHECK_THROWS_WITH_AS(logdet_spd(bad), doctest::Contains("not positive definite"), fg::Error);
}

TEST_CASE("gradcheck: mmd (biased, unbiased, MFM kernel)") {
  for (auto est : {losses::MmdEstimator::Biased, losses::MmdEstimator::Unbiased}) {
    check_grad([est](const Inputs& in) { return losses::mmd(in[0], in[1], {{0.5, 2.0}, est}); },
               {rand_input({5, 3}, 10), rand_input({4, 3}, 11)});
  }
  check_grad([](const Inputs& in) { return losses::mmd_mfm(in[0], in[1]); },
             {rand_input({5, 3}, 12), rand_input({5, 3}, 13)});
}

TEST_CASE("gradcheck: hsic and normalized hsic") {
  check_grad([](const Inputs& in) { return losses::hsic(in[0], in[1], 0.8, 1.3); },
             {rand_input({6, 3}, 20), rand_input({6, 2}, 21)});
  check_grad([](const Inputs& in) { return losses::normalized_hsic(in[0], in[1], 0.8, 1.3); },
             {rand_input({6, 3}, 22), rand_input({6, 2}, 23)});
}

TEST_CASE("gradcheck: dependency bounds (DV, NWJ, Wasserstein, InfoNCE)") {
  for (auto b : {losses::DependencyBound::DonskerVaradhan, losses::DependencyBound::NWJ,
                 losses::DependencyBound::Wasserstein}) {
    check_grad([b](const Inputs& in) { return losses::dependency_lower_bound(b, in[0], in[1]); },
               {rand_input({6}, 30), rand_input({5}, 31)});
  }
  check_grad([](const Inputs& in) { return losses::info_nce_bound(in[0]); }, {rand_input({5, 5}, 32, -2, 2)});
}

TEST_CASE("gradcheck: Gaussian log-likelihood (full and MMIM-code forms), covariance, l2_normalize") {
  for (auto form : {losses::LogLikelihoodForm::Full, losses::LogLikelihoodForm::MmimCode}) {
    check_grad([form](const Inputs& in) { return losses::gaussian_log_likelihood(in[0], in[1], in[2], form); },
               {rand_input({4, 3}, 40), rand_input({4, 3}, 41), rand_input({4, 3}, 42)});
  }
  check_grad([](const Inputs& in) { return losses::covariance(in[0]); }, {rand_input({6, 3}, 43)});
  check_grad([](const Inputs& in) { return losses::l2_normalize(in[0]); }, {rand_input({3, 4}, 44)});
}

TEST_CASE("gradcheck: GMM entropy with history") {
  losses::GmmEntropy gmm({/*memory_batches=*/1, /*jitter=*/1e-6, /*with_constants=*/false});
  const Tensor labels = from_vector(std::vector<double>{1, -1, 0.5, -2, 3, -0.5, 1, -1, 2, -3}, {10});
  gmm.remember(rand_input({10, 2}, 50).detach(), labels);
  check_grad([&](const Inputs& in) { return gmm.estimate(in[0], labels); }, {rand_input({10, 2}, 51)});
}

TEST_CASE("gradcheck: CPC loss") {
  Generator gen(60);
  losses::CpcLoss cpc(4, 3, gen, 0.5, f64_opts());
  check_grad([&](const Inputs& in) { return cpc.forward(in[0], in[1]); }, {rand_input({5, 4}, 61), rand_input({5, 3}, 62)});
}

TEST_CASE("gradcheck: IMA losses") {
  const Tensor imp = testing::rand_input({6}, 70, 0.1, 0.9);
  check_grad([](const Inputs& in) { return losses::weighted_cross_covariance_loss(in[0], in[1], in[2]); },
             {rand_input({6, 3}, 71), rand_input({6, 2}, 72), imp});
  check_grad([](const Inputs& in) { return losses::bernoulli_kl_prior(in[0], 0.3); },
             {testing::rand_input({8}, 73, 0.2, 0.9)});
  check_grad([](const Inputs& in) { return losses::alignment_sse(in[0], in[1]); },
             {rand_input({4, 3}, 74), rand_input({4, 3}, 75)});
  check_grad([](const Inputs& in) { return losses::global_norm_regularizer(in[0]); }, {rand_input({4, 3}, 76)});
}

TEST_CASE("gradcheck: VAE pieces") {
  const Tensor lengths = from_vector(std::vector<std::int64_t>{3, 1}, {2}, TensorOptions{DType::i64});
  check_grad([&](const Inputs& in) { return losses::masked_sequence_sse(in[0], in[1], lengths); },
             {rand_input({2, 3, 2}, 80), rand_input({2, 3, 2}, 81)});
  check_grad([](const Inputs& in) { return losses::gaussian_kl_standard(in[0], in[1]); },
             {rand_input({3, 4}, 82), rand_input({3, 4}, 83)});
  check_grad([](const Inputs& in) { return losses::gaussian_kl(in[0], in[1], in[2], in[3]); },
             {rand_input({3, 2}, 84), rand_input({3, 2}, 85), rand_input({3, 2}, 86), rand_input({3, 2}, 87)});
  check_grad(
      [](const Inputs& in) {
        auto p = losses::product_of_experts({{in[0], in[1]}, {in[2], in[3]}}, true);
        return p.mu * 2.0 + p.logvar;  // both outputs in one function
      },
      {rand_input({3, 2}, 88), rand_input({3, 2}, 89), rand_input({3, 2}, 90), rand_input({3, 2}, 91)});
  Generator gen(92);
  check_grad(
      [&](const Inputs& in) {
        Generator g = gen;  // the same noise on every call
        return losses::reparameterize(in[0], in[1], g);
      },
      {rand_input({3, 2}, 93), rand_input({3, 2}, 94)});
}

TEST_CASE("losses: hand-computed values") {
  // Bernoulli KL: ybar = 0.5, rho = 0.25: 0.5 log 2 + 0.5 log(2/3)
  const Tensor y = from_vector(std::vector<double>{0.25, 0.75}, {2}, f64_opts());
  CHECK(losses::bernoulli_kl_prior(y, 0.25).item() ==
        doctest::Approx(0.5 * std::log(2.0) + 0.5 * std::log(2.0 / 3.0)).epsilon(1e-12));
  // DV with t_j = [1, 3], t_m = [0, log 3]: mean 2 - log((1 + 3) / 2)
  const Tensor tj = from_vector(std::vector<double>{1, 3}, {2}, f64_opts());
  const Tensor tm = from_vector(std::vector<double>{0, std::log(3.0)}, {2}, f64_opts());
  CHECK(losses::donsker_varadhan_bound(tj, tm).item() == doctest::Approx(2.0 - std::log(2.0)).epsilon(1e-14));
  CHECK(losses::nwj_bound(tj, tm).item() == doctest::Approx(2.0 - (std::exp(-1.0) + 3 * std::exp(-1.0)) / 2).epsilon(1e-14));
  CHECK(losses::wasserstein_bound(tj, tm).item() == doctest::Approx(2.0 - std::log(3.0) / 2).epsilon(1e-14));
  // KL(N(mu, 1) || N(0, 1)) = mu^2 / 2
  const Tensor mu = from_vector(std::vector<double>{2.0}, {1, 1}, f64_opts());
  CHECK(losses::gaussian_kl_standard(mu, zeros({1, 1}, f64_opts())).item() == doctest::Approx(2.0));
  // product of two unit experts and the prior: precision 3, mean (m1 + m2) / 3
  auto p = losses::product_of_experts({{from_vector(std::vector<double>{1.0}, {1, 1}, f64_opts()), zeros({1, 1}, f64_opts())},
                                       {from_vector(std::vector<double>{2.0}, {1, 1}, f64_opts()), zeros({1, 1}, f64_opts())}},
                                      true, 0.0);
  CHECK(p.mu.item() == doctest::Approx(1.0));
  CHECK(p.logvar.item() == doctest::Approx(-std::log(3.0)));
}
