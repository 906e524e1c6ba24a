// examples/harness/mdm_task.h: paper 002's MDM penalty as a training add-on for any
// models::SentimentModel (docs/mdm.md), a harness Task (task.h) that overrides train_step().
//
// The critic T_theta (losses/dependency.h StatisticNetwork: supplement Table 4, sigmoid
// output; spectrally normalised for the Wasserstein losses, which makes it 1-Lipschitz)
// scores the model's FUSED representation z ([B, d_z], SentimentOutput::z).
//   joint samples              z of the batch
//   product-of-marginals       z computed by the SAME model from the batch with every
//                              modality permuted by its own permutation (data/permute.h:
//                              lengths, masks and `present` travel with their modality).
// Never z itself shuffled: that keeps each fused vector intact and is no marginal sample.
//
// One train_step (Algorithm 1; losses::DependencyMaximizer does the critic part):
//   stage 1  z_j = model(batch) without gradient; `unroll` times: fresh permutations,
//            z_m = model(permuted batch) without gradient, one AdamW step of T_theta alone
//            maximising bound(T(z_j), T(z_m)) (the critic's own optimizer, critic_lr)
//   stage 2  z_j = model(batch), z_m = model(freshly permuted batch) with gradient;
//            total = L1(prediction, label) - lambda * bound(T(z_j), T(z_m));
//            the main optimizer (ctx.optimizer, over the model's parameters only) steps.
//            T_theta's gradients from stage 2 are discarded.
// Paper: each unrolled critic step samples a fresh batch of the data set; here the joint
// batch is the model step's batch and each unrolled step draws fresh permutations of it
// (the harness hands a step one batch). loss "null" is the plain L1 step (no critic).
//
// Bounds (losses/dependency.h): kl = Donsker-Varadhan (eq. 6), f = NWJ (eq. 7),
// w = Wasserstein (eq. 8 without the log: the Kantorovich-Rubinstein dual), w-log = eq. 8
// exactly as printed (mean T_j - log mean T_m).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "examples/harness/task.h"
#include "losses/dependency.h"
#include "models/sentiment.h"
#include "models/zoo.h"

namespace fg::harness {

struct MdmOptions {
  std::string loss = "null";        // null | kl | f | w | w-log
  double lambda = 0.1;              // weight of the bound in L_task - lambda * bound
  int unroll = 10;                  // critic steps per model step (paper: Unroll = 10)
  double critic_lr = 1e-4;          // AdamW lr of T_theta
  double critic_weight_decay = 0;
  double critic_dropout = 0.4;      // Table 4 (off when spectrally normalised)
  std::vector<std::int64_t> critic_hidden;  // empty: Table 4's din/2, din, din, din/4, din/4
  bool shared_grid = false;         // permuted batches on one time grid (EF-LSTM, MFN)
};

// The losses mdm knows, in table order.
std::vector<std::string> mdm_loss_names();  // null, kl, f, w, w-log
// Throws naming `flag` for an unknown loss.
void check_mdm_loss(const std::string& loss, const std::string& flag = "--losses");

// What the critic was shown, for tests: stage (1 = critic step, 2 = model step), the joint
// and marginal features, and the permutations that produced the marginal batch.
struct CriticView {
  int stage = 0;
  Tensor joint, marginal;
  std::vector<std::vector<std::int64_t>> permutations;
};

class MdmTask : public Task {
 public:
  // `generators`: the model's own (its dropout), checkpointed beside the task's.
  MdmTask(std::shared_ptr<models::SentimentModel> model, const MdmOptions& options, std::uint64_t seed,
          std::vector<std::pair<std::string, std::shared_ptr<Generator>>> generators = {});
  nn::Module& module() override { return *container_; }
  Loss loss(const data::Batch& batch) override;  // stage 2's loss (fresh permutations)
  Tensor predict(const data::Batch& batch) override;
  std::vector<std::pair<std::string, Generator*>> generators() override;
  std::vector<std::pair<std::string, optim::Optimizer*>> extra_optimizers() override;
  std::vector<Tensor> parameters() override { return model_->parameters(); }
  // MAG-BERT: BERT's group at its own lr (models/mag_bert.h); other models: one group.
  std::vector<optim::ParamGroup> param_groups() override;
  StepOutput train_step(const data::Batch& batch, StepContext& ctx) override;

  models::SentimentModel& model() { return *model_; }
  bool has_critic() const { return maximizer_ != nullptr; }
  losses::StatisticNetwork& critic();
  const MdmOptions& options() const { return opts_; }
  // T_theta(z) per row [B] in eval mode without gradient (Table 3's interpretation).
  Tensor critic_scores(const data::Batch& batch);
  // The product-of-marginals batch for given permutations (data/permute.h, this task's grid).
  data::Batch marginal_batch(const data::Batch& batch, const std::vector<std::vector<std::int64_t>>& perms) const;
  // Observer of every (joint, marginal) pair the critic scores (tests).
  std::function<void(const CriticView&)> on_critic_input;

 private:
  std::shared_ptr<models::SentimentModel> model_;
  MdmOptions opts_;
  std::shared_ptr<nn::Module> container_;
  std::shared_ptr<losses::StatisticNetwork> critic_;
  std::unique_ptr<losses::DependencyMaximizer> maximizer_;
  std::shared_ptr<Generator> permute_gen_, critic_dropout_gen_;
  std::vector<std::pair<std::string, std::shared_ptr<Generator>>> generators_;
  std::pair<Tensor, CriticView> penalty_terms(const data::Batch& batch, Tensor& l1);
};

// A zoo model (models/zoo.h) wrapped in an MdmTask, seeded like the harness's zoo tasks:
// weights from derive_seed(seed, 1000), model dropout derive_seed(seed, 2000), critic
// weights derive_seed(seed, 3000), critic dropout 3001, permutations 3002. `config` keys as
// the harness's (hidden, fused_hidden, dropout, text_out, rank, num_layers). EF-LSTM and MFN
// get shared_grid.
std::unique_ptr<MdmTask> make_mdm_task(const std::string& model, const std::vector<std::string>& modalities,
                                       const std::vector<std::int64_t>& input_dims, const nlohmann::json& config,
                                       MdmOptions options, std::uint64_t seed, Device device = Device::cpu());

}  // namespace fg::harness
