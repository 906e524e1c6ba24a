// examples/harness/mmim_task.h: MMIM's training (paper 003, Algorithm 1) as a harness Task
// (task.h): the loop, checkpoints, logs and seeds stay the harness's (docs/mmim.md).
//
// Per epoch (Algorithm 1):
//   stage 1  (at the first step of each epoch) a pass over D_sub: `stage1_batches` batches
//            (0 = all) of the training split, shuffled per epoch from the run's seed
//            (data::BatchLoader, seed + 7919: no training stream is touched); the encoders run without gradient and only the
//            predictors q (models::Mmim::predictor_parameters) are updated on
//            L_lld = -(lld_tv + lld_ta), with their own Adam (lr_lld) and the same clipping.
//            Without a stage-1 split (tests) stage 1 runs on the current batch before stage 2.
//   stage 2  (every step the harness hands over) L_main = L_task + alpha L_CPC + beta L_BA
//            (eq. 14), L_task = L1, L_CPC = cpc_t + cpc_a + cpc_v, L_BA = -(lld_tv + H_v +
//            lld_ta + H_a); everything but q is updated: the main network with the harness's
//            optimizer (--lr, parameters() = Mmim::main_parameters()), BERT with its own Adam
//            (lr_bert); gradients clipped jointly (--clip); q's stage-2 gradients are dropped.
//            Then the GMM memory takes this batch (FIFO of --memory batches).
// Extra optimizers "predictors" and "bert" are checkpointed; the epoch counter of stage 1 is
// the buffer "mmim_task_steps" of module() (so a resumed run knows where its epoch starts).
// The GMM memory is checkpointed too, as buffers of module() per BA pair in use:
// "gmm_memory_<pair>_features" [memory * cap, k] (model dtype), "..._labels" [memory * cap]
// (f64) and "..._rows" [memory] (int64, rows of each remembered batch oldest first, -1 =
// empty), cap = batch_size (twice that with the single Gaussian, whose rows are duplicated).
// Each step writes the memory there; a step that finds the step counter changed behind its
// back (a checkpoint was loaded: --resume) first restores the memory from them, so a resumed
// run is bitwise identical to an uninterrupted one on the CPU.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/optim/adam.h"
#include "examples/harness/task.h"
#include "models/mmim.h"

namespace fg::harness {

struct MmimTaskOptions {
  double alpha = 0.1, beta = 0.1;   // eq. 14 weights of L_CPC and L_BA
  double lr_bert = 5e-5;            // BERT fine-tuning (the main lr is --lr)
  double lr_lld = 1e-3;             // the predictors q (stage 1)
  double weight_decay = 0;          // of the bert and predictor optimizers (main: --weight-decay)
  const data::MultimodalSplit* stage1_split = nullptr;  // D_sub's source (the training split)
  std::int64_t batch_size = 32;
  std::int64_t stage1_batches = 0;  // 0: the whole split
  std::uint64_t seed = 0;
  Device device = Device::cpu();
};

class MmimTask : public Task {
 public:
  MmimTask(std::shared_ptr<models::Mmim> model, const MmimTaskOptions& options,
           std::shared_ptr<Generator> dropout_gen = nullptr);
  nn::Module& module() override { return *container_; }
  Loss loss(const data::Batch& batch) override;  // stage 2's L_main and its terms
  Tensor predict(const data::Batch& batch) override;
  std::vector<std::pair<std::string, Generator*>> generators() override;
  std::vector<std::pair<std::string, optim::Optimizer*>> extra_optimizers() override;
  std::vector<Tensor> parameters() override { return model_->main_parameters(); }
  StepOutput train_step(const data::Batch& batch, StepContext& ctx) override;

  // Stage 1 on one batch: returns L_lld. Public for tests.
  double stage1_step(const data::Batch& batch, double clip);
  // Stage 1 over D_sub (see above); returns the mean L_lld.
  double stage1_pass(double clip);
  models::Mmim& model() { return *model_; }
  std::int64_t steps_per_epoch() const { return steps_per_epoch_; }
  // The last stage-2 step's terms (for traces).
  const StepOutput& last_step() const { return last_; }

 private:
  std::shared_ptr<models::Mmim> model_;
  std::shared_ptr<nn::Module> container_;
  MmimTaskOptions opts_;
  std::shared_ptr<Generator> dropout_gen_;
  std::unique_ptr<optim::Adam> opt_q_, opt_bert_;
  Tensor steps_;  // int64 scalar buffer: stage-2 steps done
  std::int64_t steps_per_epoch_ = 0;
  // the GMM memory's buffers (see the header comment)
  struct MemoryBuffers {
    std::string pair;
    Tensor features, labels, rows;
  };
  std::vector<MemoryBuffers> memory_;
  std::int64_t memory_cap_ = 0;
  std::int64_t synced_step_ = 0;  // the step counter when the buffers last matched the model's memory
  void save_memory();
  void restore_memory();
  models::SentimentOutput last_out_;
  StepOutput last_;
};

}  // namespace fg::harness
