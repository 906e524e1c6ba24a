// tests/test_reference_losses.cpp: statistics ops and losses/ vs the same formulas
// written in PyTorch (float64), fixtures from tests/reference/ref_losses.py.
#include <doctest/doctest.h>

#include "losses/dependency.h"
#include "losses/hsic.h"
#include "losses/ima.h"
#include "losses/mmd.h"
#include "losses/mmim.h"
#include "losses/vae.h"
#include "support/reference.h"

using namespace fg;
using Params = nlohmann::json;
using Inputs = std::vector<Tensor>;

FG_REFERENCE_TEST("losses", "rbf_gram", [](const Inputs& in, const Params& p) {
  return rbf_gram(in[0], in[1], p["gammas"].get<std::vector<double>>());
})
FG_REFERENCE_TEST("losses", "logdet_spd",
                  [](const Inputs& in, const Params& p) { return logdet_spd(in[0], p["jitter"].get<double>()); })
FG_REFERENCE_TEST("losses", "mmd", [](const Inputs& in, const Params& p) {
  const auto est = p["unbiased"].get<bool>() ? losses::MmdEstimator::Unbiased : losses::MmdEstimator::Biased;
  return losses::mmd(in[0], in[1], {p["gammas"].get<std::vector<double>>(), est});
})
FG_REFERENCE_TEST("losses", "mmd_mfm", [](const Inputs& in, const Params&) { return losses::mmd_mfm(in[0], in[1]); })
FG_REFERENCE_TEST("losses", "hsic", [](const Inputs& in, const Params& p) {
  return losses::hsic(in[0], in[1], p["sx"].get<double>(), p["sy"].get<double>());
})
FG_REFERENCE_TEST("losses", "normalized_hsic", [](const Inputs& in, const Params& p) {
  return losses::normalized_hsic(in[0], in[1], p["sx"].get<double>(), p["sy"].get<double>());
})
FG_REFERENCE_TEST("losses", "dv",
                  [](const Inputs& in, const Params&) { return losses::donsker_varadhan_bound(in[0], in[1]); })
FG_REFERENCE_TEST("losses", "nwj", [](const Inputs& in, const Params&) { return losses::nwj_bound(in[0], in[1]); })
FG_REFERENCE_TEST("losses", "wasserstein",
                  [](const Inputs& in, const Params&) { return losses::wasserstein_bound(in[0], in[1]); })
FG_REFERENCE_TEST("losses", "info_nce", [](const Inputs& in, const Params&) { return losses::info_nce_bound(in[0]); })
FG_REFERENCE_TEST("losses", "gauss_ll", [](const Inputs& in, const Params& p) {
  const auto form = p["full"].get<bool>() ? losses::LogLikelihoodForm::Full : losses::LogLikelihoodForm::MmimCode;
  return losses::gaussian_log_likelihood(in[0], in[1], in[2], form);
})
FG_REFERENCE_TEST("losses", "gmm_entropy", [](const Inputs& in, const Params& p) {
  losses::GmmEntropy gmm({0, p["jitter"].get<double>(), false});
  return gmm.estimate(in[0], in[1]);
})
FG_REFERENCE_TEST("losses", "cpc", [](const Inputs& in, const Params& p) {
  Generator gen(0);
  losses::CpcLoss cpc(in[0].size(1), in[1].size(1), gen, p["temperature"].get<double>(), f64_opts());
  cpc.predictor->weight = in[2];  // the fixture's weights, so their gradients are compared too
  cpc.predictor->bias = in[3];
  return cpc.forward(in[0], in[1]);
})
FG_REFERENCE_TEST("losses", "weighted_cross_cov", [](const Inputs& in, const Params&) {
  return losses::weighted_cross_covariance_loss(in[0], in[1], in[2]);
})
FG_REFERENCE_TEST("losses", "bernoulli_kl",
                  [](const Inputs& in, const Params& p) { return losses::bernoulli_kl_prior(in[0], p["rho"].get<double>()); })
FG_REFERENCE_TEST("losses", "alignment_sse",
                  [](const Inputs& in, const Params&) { return losses::alignment_sse(in[0], in[1]); })
FG_REFERENCE_TEST("losses", "global_norm",
                  [](const Inputs& in, const Params&) { return losses::global_norm_regularizer(in[0]); })
FG_REFERENCE_TEST("losses", "masked_sse",
                  [](const Inputs& in, const Params&) { return losses::masked_sequence_sse(in[0], in[1], in[2]); })
FG_REFERENCE_TEST("losses", "kl_standard",
                  [](const Inputs& in, const Params&) { return losses::gaussian_kl_standard(in[0], in[1]); })
FG_REFERENCE_TEST("losses", "kl_gaussians",
                  [](const Inputs& in, const Params&) { return losses::gaussian_kl(in[0], in[1], in[2], in[3]); })
FG_REFERENCE_TEST("losses", "poe_mu", [](const Inputs& in, const Params&) {
  return losses::product_of_experts({{in[0], in[1]}, {in[2], in[3]}}, true).mu;
})
FG_REFERENCE_TEST("losses", "poe_logvar", [](const Inputs& in, const Params&) {
  return losses::product_of_experts({{in[0], in[1]}, {in[2], in[3]}}, true).logvar;
})

TEST_CASE("reference vs PyTorch [losses]: every fixture case has a C++ op") {
  testing::check_reference_coverage("losses");
}
