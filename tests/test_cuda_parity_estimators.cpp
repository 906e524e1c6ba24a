// tests/test_cuda_parity_estimators.cpp: the dependency estimators of losses/ on CUDA
// (float32) against the CPU reference (float64), value and gradients, end to end through
// the engine's ops (issue 5, item 10):
//   - Donsker-Varadhan: the marginal batch is drawn by shuffling each modality with
//     randperm + index_select on the device, then logsumexp over the shuffled scores
//     (the reduce kernel); one seed gives the same permutations on both devices;
//   - InfoNCE: row-wise logsumexp over the B x B score matrix, positives by gather;
//   - MMD (biased and unbiased) and HSIC / normalized HSIC on the fused rbf_gram kernel;
//   - NWJ and Wasserstein bounds (exp and means).
// Batch sizes 1, 7, 33 and 1025 (HSIC from 3: see there).
// Each case first checks that every intermediate tensor stayed on the device (no silent
// host round trip), then compares with the tolerances below.
// Without a CUDA device every case prints "SKIPPED: no CUDA device" (ctest: skipped).
#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "losses/dependency.h"
#include "losses/hsic.h"
#include "losses/mmd.h"
#include "test_cuda_common.h"

using namespace fg;
using namespace fg::cuda_test;

namespace {

// The estimate: a scalar built from means or logsumexps (accumulated in double on the GPU)
// of O(1) float32 terms; MMD and HSIC subtract terms of similar size (MMD is a difference
// of three Gram means, HSIC double-centres a Gram matrix), so the float32 rounding of the
// terms (relative 6e-8, ~1e-7 after __expf) shows up against a smaller result: absolute
// 1e-5 plus relative 1e-4 leaves a factor of 10 over that cancellation at B = 1025.
constexpr Tol kEstimate{INFINITY, 1e-5, 1e-4, "scalar from double-accumulated means of float32 terms, with cancellation"};
// Gradients [B, d]: each entry sums B float32 terms (GEMMs, row sums, broadcast sums), some
// cancelling: normalized MSE only. Rounding gives ~1e-10; a wrong or missing term among
// 1025 gives more than 1e-4.
constexpr Tol kEstimateGrad{1e-7, 0.0, 0.0, "sums of B float32 terms per entry, cancellation: normalized MSE"};

struct Input {
  Shape shape;
  double lo, hi;
};

using EstimatorFn = std::function<Tensor(const std::vector<Tensor>&, Device)>;

// Runs f on float64 CPU copies and on float32 CUDA copies of the same values, compares the
// scalar and the gradient of every input (the scalar itself is the loss: no random R is
// needed for a 0-d output).
void check_estimator(const std::string& name, const EstimatorFn& f, const std::vector<Input>& ins,
                     std::uint64_t seed = 5) {
  std::vector<Tensor> cpu_in, gpu_in;
  std::vector<Shape> shapes;
  for (std::size_t k = 0; k < ins.size(); ++k) {
    const Tensor x32 = f32_input(ins[k].shape, seed * 17 + k, ins[k].lo, ins[k].hi);
    Tensor c = x32.to(DType::f64).detach(), g = x32.to(Device::cuda()).detach();
    c.requires_grad_();
    g.requires_grad_();
    cpu_in.push_back(c);
    gpu_in.push_back(g);
    shapes.push_back(ins[k].shape);
  }
  const std::string what = describe(name, shapes);
  INFO(what);
  const Tensor vc = f(cpu_in, Device::cpu());
  const Tensor vg = f(gpu_in, Device::cuda());
  REQUIRE(vg.device().is_cuda());
  REQUIRE(vc.dim() == 0);
  REQUIRE(vg.dim() == 0);
  FG_CHECK_MATCH(values(vg), values(vc), kEstimate, what + ", value");
  vc.backward();
  vg.backward();
  for (std::size_t k = 0; k < ins.size(); ++k) {
    REQUIRE(cpu_in[k].grad().defined());
    REQUIRE(gpu_in[k].grad().defined());
    CHECK(gpu_in[k].grad().device().is_cuda());
    FG_CHECK_MATCH(values(gpu_in[k].grad()), values(cpu_in[k].grad()), kEstimateGrad,
                   what + ", gradient of input " + std::to_string(k));
  }
}

// A small critic T(x, y) = tanh([x, y] W) v, differentiable in x, y, W and v: [B] scores.
// It must mix x and y: a separable critic f(x) + g(y) has the same mean over shuffled
// pairs as over joint ones, so the Wasserstein bound would be 0 up to rounding (a CPU
// float32 dry run caught that).
Tensor critic(const Tensor& x, const Tensor& y, const Tensor& w, const Tensor& v) {
  const std::int64_t b = x.size(0);
  return reshape(matmul(fg::tanh(matmul(concat({x, y}, 1), w)), v), {b});
}

// Joint scores, and scores of the product of marginals from shuffle_modalities (randperm
// from a fresh generator with one seed: the same permutations on both devices).
std::pair<Tensor, Tensor> joint_and_marginal(const std::vector<Tensor>& in, Device d) {
  Generator gen(4242);
  const std::vector<Tensor> shuffled = losses::shuffle_modalities({in[0], in[1]}, gen);
  for (const Tensor& s : shuffled) REQUIRE(s.device() == d);  // index_select ran on the inputs' device
  return {critic(in[0], in[1], in[2], in[3]), critic(shuffled[0], shuffled[1], in[2], in[3])};
}

const std::vector<std::int64_t> kBatches = {1, 7, 33, 1025};

}  // namespace

TEST_CASE("cuda parity (estimators): DV, NWJ and Wasserstein bounds over shuffled pairs") {
  FG_SKIP_WITHOUT_CUDA();
  for (std::int64_t b : kBatches) {
    const std::vector<Input> in = {{{b, 6}, -2, 2}, {{b, 3}, -2, 2}, {{9, 4}, -1, 1}, {{4, 1}, -1.5, 1.5}};
    check_estimator("donsker_varadhan_bound", [](const std::vector<Tensor>& x, Device d) {
      const auto [tj, tm] = joint_and_marginal(x, d);
      return losses::donsker_varadhan_bound(tj, tm);
    }, in);
    check_estimator("nwj_bound", [](const std::vector<Tensor>& x, Device d) {
      const auto [tj, tm] = joint_and_marginal(x, d);
      return losses::nwj_bound(tj, tm);
    }, in);
    check_estimator("wasserstein_bound", [](const std::vector<Tensor>& x, Device d) {
      const auto [tj, tm] = joint_and_marginal(x, d);
      return losses::wasserstein_bound(tj, tm);
    }, in);
  }
  // large scores: logsumexp must subtract the maximum (exp(60) overflows float32)
  check_estimator("donsker_varadhan_bound (scores near 60)", [](const std::vector<Tensor>& x, Device d) {
    const auto [tj, tm] = joint_and_marginal(x, d);
    return losses::donsker_varadhan_bound(tj + 60.0, tm + 60.0);
  }, {{{33, 6}, -2, 2}, {{33, 3}, -2, 2}, {{9, 4}, -1, 1}, {{4, 1}, -1.5, 1.5}});
}

TEST_CASE("cuda parity (estimators): InfoNCE over a B x B score matrix") {
  FG_SKIP_WITHOUT_CUDA();
  for (std::int64_t b : kBatches) {
    // S = x W y^T / 2: positives on the diagonal
    check_estimator("info_nce_bound", [](const std::vector<Tensor>& x, Device) {
      const Tensor s = matmul(matmul(x[0], x[2]), transpose(x[1], 0, 1)) * 0.5;
      return losses::info_nce_bound(s);
    }, {{{b, 8}, -1, 1}, {{b, 8}, -1, 1}, {{8, 8}, -1, 1}});
  }
}

TEST_CASE("cuda parity (estimators): MMD on rbf_gram, biased and unbiased") {
  FG_SKIP_WITHOUT_CUDA();
  for (std::int64_t b : kBatches) {
    losses::MmdOptions biased;
    biased.gammas = {0.1, 1.0};
    // y is shifted against x (ranges differ), so MMD is O(0.1), not a cancellation to ~1/B
    const std::vector<Input> in = {{{b, 4}, -1, 1}, {{b + 2, 4}, -0.5, 1.5}};
    check_estimator("mmd (biased)", [biased](const std::vector<Tensor>& x, Device) {
      return losses::mmd(x[0], x[1], biased);
    }, in);
    if (b >= 2) {
      losses::MmdOptions unbiased = biased;
      unbiased.estimator = losses::MmdEstimator::Unbiased;
      check_estimator("mmd (unbiased)", [unbiased](const std::vector<Tensor>& x, Device) {
        return losses::mmd(x[0], x[1], unbiased);
      }, in);
    }
    check_estimator("mmd_mfm", [](const std::vector<Tensor>& x, Device) { return losses::mmd_mfm(x[0], x[1]); },
                    in);
  }
}

TEST_CASE("cuda parity (estimators): HSIC and normalized HSIC") {
  FG_SKIP_WITHOUT_CUDA();
  // from 3 samples: with 2, both double-centred Gram matrices have rank 1 and normalized
  // HSIC is exactly 1 (a zero gradient, compared as pure rounding noise)
  for (std::int64_t b : {std::int64_t{3}, std::int64_t{7}, std::int64_t{33}, std::int64_t{1025}}) {
    // y depends on x (its first columns plus noise), so HSIC is well above its rounding
    const EstimatorFn dependent = [](const std::vector<Tensor>& x, Device) {
      return losses::hsic(x[0], slice(x[0], 1, 0, 2) + x[1] * 0.3, 1.0, 1.5);
    };
    check_estimator("hsic (fixed bandwidths)", dependent, {{{b, 5}, -1, 1}, {{b, 2}, -1, 1}});
    check_estimator("normalized_hsic", [](const std::vector<Tensor>& x, Device) {
      return losses::normalized_hsic(x[0], slice(x[0], 1, 0, 2) + x[1] * 0.3, 1.0, 1.5);
    }, {{{b, 5}, -1, 1}, {{b, 2}, -1, 1}});
  }
  // median heuristic: the bandwidth is read on the host (one device-to-host copy, no
  // gradient), then everything else runs on the device
  check_estimator("hsic (median heuristic)", [](const std::vector<Tensor>& x, Device) {
    return losses::hsic(x[0], x[1]);
  }, {{{40, 5}, -1, 1}, {{40, 3}, -1, 1}});
}
