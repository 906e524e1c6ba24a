// losses/dependency.h: neural lower bounds on the dependency between modalities, the
// penalties of paper 002 ("mutual dependency maximisation", MDM) and the classic MI
// estimators they generalize.
//
// A statistic network (critic) T scores samples. Joint samples (x_a, x_v, x_l) come from
// the data; samples of the product of marginals come from shuffling each modality with
// its own permutation within the batch (shuffle_modalities). With t_j = T(joint) and
// t_m = T(marginal), each bound is a difference of two batch averages:
//   Donsker-Varadhan, KL (eq. 6, MINE):   I_kl >= mean(t_j) - log mean(exp(t_m))
//   f-divergence, NWJ (eq. 7):            I_f  >= mean(t_j) - mean(exp(t_m - 1))
//   Wasserstein (eq. 8, Kantorovich-Rubinstein dual, T 1-Lipschitz):
//                                         I_W  >= mean(t_j) - mean(t_m)
//   InfoNCE (van den Oord et al.), from a [B, B] score matrix S_ij = f(x_i, y_j):
//                                         I >= log B + mean_i (S_ii - logsumexp_j S_ij)
// (Paper 002 prints eq. 8 with a log around the second term; the Kantorovich-Rubinstein
// duality it cites has none, and that is what we implement.)
// Known biases: DV's minibatch gradient is biased (the log of a batch mean; MINE corrects
// it with a moving average); NWJ is unbiased but has high variance; InfoNCE can never
// exceed log B; the Wasserstein bound is not an MI value at all, only a dependency score.
// docs/estimators.md derives each one.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "engine/nn/nn.h"
#include "engine/nn/spectral_norm.h"
#include "engine/optim/adam.h"

namespace fg::losses {

// WassersteinLog: eq. 8 exactly as paper 002 prints it, mean(t_j) - log mean(t_m) (needs
// positive scores: a sigmoid critic); an option of the mdm example, not the default.
enum class DependencyBound { DonskerVaradhan, NWJ, Wasserstein, WassersteinLog };
DependencyBound parse_dependency_bound(const std::string& name);  // "kl"/"dv", "f"/"nwj", "w"/"wasserstein", "w-log"
std::string dependency_bound_name(DependencyBound b);

// The bound's value from critic scores on joint [B] and marginal [B'] samples (0-d).
Tensor dependency_lower_bound(DependencyBound bound, const Tensor& t_joint, const Tensor& t_marginal);
Tensor donsker_varadhan_bound(const Tensor& t_joint, const Tensor& t_marginal);
Tensor nwj_bound(const Tensor& t_joint, const Tensor& t_marginal);
Tensor wasserstein_bound(const Tensor& t_joint, const Tensor& t_marginal);
Tensor wasserstein_log_bound(const Tensor& t_joint, const Tensor& t_marginal);  // eq. 8 as printed
// scores [B, B], positives on the diagonal.
Tensor info_nce_bound(const Tensor& scores);

// Each modality [B, ...] permuted along the batch with its own permutation: a sample of
// the product of the marginals (Algorithm 1's negative batch).
std::vector<Tensor> shuffle_modalities(const std::vector<Tensor>& modalities, Generator& gen);

enum class CriticOutput { Sigmoid, Linear };

// Statistic network T_theta of paper 002 (supplement Table 4): dense layers of din/2,
// din, din, din/4, din/4 units with LeakyReLU and dropout 0.4 after each, then one
// output unit with a sigmoid. `hidden` overrides the layer sizes. With spectral_norm,
// every layer is a SpectralNormLinear and dropout is off, which makes T 1-Lipschitz
// (LeakyReLU and sigmoid are 1-Lipschitz): that is how we meet the Wasserstein bound's
// constraint (docs/estimators.md says why we chose it over a gradient penalty).
// Note: a sigmoid output caps DV/NWJ estimates (T <= 1 implies I_kl estimate <= 1);
// use CriticOutput::Linear to estimate larger MI values.
struct StatisticNetworkOptions {
  std::int64_t input_dim = 0;
  std::vector<std::int64_t> hidden;  // empty: {din/2, din, din, din/4, din/4} (at least 1 each)
  double dropout = 0.4;
  double negative_slope = 0.01;
  CriticOutput output = CriticOutput::Sigmoid;
  bool spectral_norm = false;
  TensorOptions param_options;
  std::shared_ptr<Generator> dropout_generator;
};

class StatisticNetwork : public nn::Module {
 public:
  StatisticNetwork(const StatisticNetworkOptions& options, Generator& gen);
  std::string type_name() const override { return "StatisticNetwork"; }
  // features [B, input_dim] -> scores [B]
  Tensor forward(const Tensor& features);
  // Concatenates the modalities' representations [B, d_m] along features, then scores.
  Tensor forward(const std::vector<Tensor>& modalities);
  const StatisticNetworkOptions& options() const { return opts_; }

 private:
  StatisticNetworkOptions opts_;
  std::vector<std::shared_ptr<nn::Linear>> linears_;
  std::vector<std::shared_ptr<nn::SpectralNormLinear>> sn_linears_;
  std::vector<std::shared_ptr<nn::Dropout>> dropouts_;
};

// Algorithm 1 of paper 002 as a reusable helper. Per classifier step:
//   stage 1: `unroll` updates of T_theta alone, each maximizing the bound on a fresh
//            (joint, marginal) pair of feature batches from `sample` (computed without
//            gradient to the encoder);
//   stage 2: penalty(joint, marginal) returns the bound with T_theta's current weights,
//            differentiable in the features, for the classifier's loss L_down - lambda * bound.
// T_theta has its own AdamW optimizer; its gradients from stage 2 are discarded.
class DependencyMaximizer {
 public:
  struct Options {
    DependencyBound bound = DependencyBound::DonskerVaradhan;
    int unroll = 10;
    double lr = 1e-4;
    double weight_decay = 0.0;
  };
  using PairSampler = std::function<std::pair<Tensor, Tensor>()>;  // (joint features, marginal features)

  DependencyMaximizer(std::shared_ptr<StatisticNetwork> critic, const Options& options);
  // Stage 1; returns the bound's value at the last unrolled step.
  double train_critic(const PairSampler& sample);
  // Stage 2.
  Tensor penalty(const Tensor& joint, const Tensor& marginal);
  StatisticNetwork& critic() { return *critic_; }
  optim::AdamW& optimizer() { return *optimizer_; }  // to checkpoint its moments
  const Options& options() const { return opts_; }

 private:
  std::shared_ptr<StatisticNetwork> critic_;
  Options opts_;
  std::unique_ptr<optim::AdamW> optimizer_;
};

}  // namespace fg::losses
