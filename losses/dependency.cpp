// losses/dependency.cpp: see dependency.h.
#include "losses/dependency.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/ops.h"

namespace fg::losses {

DependencyBound parse_dependency_bound(const std::string& name) {
  if (name == "kl" || name == "dv") return DependencyBound::DonskerVaradhan;
  if (name == "f" || name == "nwj") return DependencyBound::NWJ;
  if (name == "w" || name == "wasserstein") return DependencyBound::Wasserstein;
  if (name == "w-log") return DependencyBound::WassersteinLog;
  FG_FAIL("unknown dependency bound '{}': expected kl (dv), f (nwj), w (wasserstein) or w-log", name);
}

std::string dependency_bound_name(DependencyBound b) {
  switch (b) {
    case DependencyBound::DonskerVaradhan: return "kl";
    case DependencyBound::NWJ: return "f";
    case DependencyBound::Wasserstein: return "w";
    case DependencyBound::WassersteinLog: return "w-log";
  }
  return "?";
}

namespace {
void check_scores(const Tensor& tj, const Tensor& tm, const char* op) {
  FG_CHECK(tj.defined() && tm.defined() && tj.dim() == 1 && tm.dim() == 1 && tj.numel() > 0 && tm.numel() > 0,
           "{}: expected critic scores as two non-empty 1-D tensors, got {} and {}", op, tj.str(), tm.str());
}
}  // namespace

Tensor donsker_varadhan_bound(const Tensor& tj, const Tensor& tm) {
  check_scores(tj, tm, "donsker_varadhan_bound");
  // log mean exp(t) = logsumexp(t) - log B, stable for large scores
  return mean(tj) - (logsumexp(tm) - std::log(static_cast<double>(tm.numel())));
}

Tensor nwj_bound(const Tensor& tj, const Tensor& tm) {
  check_scores(tj, tm, "nwj_bound");
  return mean(tj) - mean(exp(tm - 1.0));
}

Tensor wasserstein_bound(const Tensor& tj, const Tensor& tm) {
  check_scores(tj, tm, "wasserstein_bound");
  return mean(tj) - mean(tm);
}

Tensor wasserstein_log_bound(const Tensor& tj, const Tensor& tm) {
  check_scores(tj, tm, "wasserstein_log_bound");
  return mean(tj) - log(mean(tm));
}

Tensor dependency_lower_bound(DependencyBound bound, const Tensor& tj, const Tensor& tm) {
  switch (bound) {
    case DependencyBound::DonskerVaradhan: return donsker_varadhan_bound(tj, tm);
    case DependencyBound::NWJ: return nwj_bound(tj, tm);
    case DependencyBound::Wasserstein: return wasserstein_bound(tj, tm);
    case DependencyBound::WassersteinLog: return wasserstein_log_bound(tj, tm);
  }
  FG_FAIL("dependency_lower_bound: unknown bound");
}

Tensor info_nce_bound(const Tensor& scores) {
  FG_CHECK(scores.defined() && scores.dim() == 2 && scores.size(0) == scores.size(1) && scores.size(0) > 0,
           "info_nce_bound: expected a square score matrix [B, B], got {}", scores.str());
  const std::int64_t b = scores.size(0);
  // diagonal S_ii through a gather of column i in row i
  const Tensor idx = reshape(arange(b, TensorOptions{DType::i64, scores.device()}), {b, 1});
  const Tensor positives = reshape(gather(scores, 1, idx), {b});
  return std::log(static_cast<double>(b)) + mean(positives - logsumexp(scores, 1));
}

std::vector<Tensor> shuffle_modalities(const std::vector<Tensor>& modalities, Generator& gen) {
  FG_CHECK(!modalities.empty(), "shuffle_modalities: no modalities given");
  const std::int64_t b = modalities[0].size(0);
  std::vector<Tensor> out;
  out.reserve(modalities.size());
  for (std::size_t m = 0; m < modalities.size(); ++m) {
    FG_CHECK(modalities[m].size(0) == b, "shuffle_modalities: modality {} has batch {} but modality 0 has {}", m,
             modalities[m].size(0), b);
    out.push_back(index_select(modalities[m], 0, randperm(b, gen, TensorOptions{DType::i64, modalities[m].device()})));
  }
  return out;
}

StatisticNetwork::StatisticNetwork(const StatisticNetworkOptions& options, Generator& gen) : opts_(options) {
  const std::int64_t din = opts_.input_dim;
  FG_CHECK(din > 0, "StatisticNetwork: input_dim must be positive, got {}", din);
  std::vector<std::int64_t> sizes = opts_.hidden;
  if (sizes.empty()) {
    auto at_least_1 = [](std::int64_t v) { return std::max<std::int64_t>(v, 1); };
    sizes = {at_least_1(din / 2), din, din, at_least_1(din / 4), at_least_1(din / 4)};
  }
  sizes.insert(sizes.begin(), din);
  sizes.push_back(1);
  const bool use_dropout = !opts_.spectral_norm && opts_.dropout > 0;
  for (std::size_t i = 0; i + 1 < sizes.size(); ++i) {
    const std::string name = std::to_string(i);
    if (opts_.spectral_norm) {
      sn_linears_.push_back(register_module(
          "layer" + name,
          std::make_shared<nn::SpectralNormLinear>(sizes[i], sizes[i + 1], gen, true, 1, opts_.param_options)));
    } else {
      linears_.push_back(register_module(
          "layer" + name, std::make_shared<nn::Linear>(sizes[i], sizes[i + 1], gen, true, opts_.param_options)));
    }
    if (use_dropout && i + 2 < sizes.size())
      dropouts_.push_back(
          register_module("dropout" + name, std::make_shared<nn::Dropout>(opts_.dropout, opts_.dropout_generator)));
  }
}

Tensor StatisticNetwork::forward(const Tensor& features) {
  FG_CHECK(features.defined() && features.dim() == 2 && features.size(1) == opts_.input_dim,
           "StatisticNetwork: expected features [B, {}], got {}", opts_.input_dim, features.str());
  const std::size_t layers = opts_.spectral_norm ? sn_linears_.size() : linears_.size();
  Tensor h = features;
  for (std::size_t i = 0; i < layers; ++i) {
    h = opts_.spectral_norm ? sn_linears_[i]->forward(h) : linears_[i]->forward(h);
    if (i + 1 < layers) {
      h = leaky_relu(h, opts_.negative_slope);
      if (!dropouts_.empty()) h = dropouts_[i]->forward(h);
    }
  }
  if (opts_.output == CriticOutput::Sigmoid) h = sigmoid(h);
  return reshape(h, {h.size(0)});
}

Tensor StatisticNetwork::forward(const std::vector<Tensor>& modalities) { return forward(concat(modalities, 1)); }

DependencyMaximizer::DependencyMaximizer(std::shared_ptr<StatisticNetwork> critic, const Options& options)
    : critic_(std::move(critic)), opts_(options) {
  FG_CHECK(critic_ != nullptr, "DependencyMaximizer: no critic given");
  FG_CHECK(opts_.unroll >= 1, "DependencyMaximizer: unroll must be >= 1, got {}", opts_.unroll);
  optim::AdamWOptions ao;
  ao.lr = opts_.lr;
  ao.weight_decay = opts_.weight_decay;
  optimizer_ = std::make_unique<optim::AdamW>(critic_->parameters(), ao);
}

double DependencyMaximizer::train_critic(const PairSampler& sample) {
  double last = NAN;
  for (int i = 0; i < opts_.unroll; ++i) {
    auto [joint, marginal] = sample();
    // the encoder is frozen in stage 1: only T_theta learns
    const Tensor bound = dependency_lower_bound(opts_.bound, critic_->forward(joint.detach()),
                                                critic_->forward(marginal.detach()));
    last = bound.item();
    FG_CHECK(std::isfinite(last), "DependencyMaximizer: the {} bound became {} at unrolled step {}",
             dependency_bound_name(opts_.bound), last, i);
    optimizer_->zero_grad();
    neg(bound).backward();  // maximize the bound
    optimizer_->step();
  }
  optimizer_->zero_grad();
  return last;
}

Tensor DependencyMaximizer::penalty(const Tensor& joint, const Tensor& marginal) {
  return dependency_lower_bound(opts_.bound, critic_->forward(joint), critic_->forward(marginal));
}

}  // namespace fg::losses
