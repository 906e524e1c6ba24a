// examples/harness/task.h: what the training harness (examples/harness/trainer.h) trains.
//
// A Task adapts one kind of model to the loop: it owns the model (module(): every trained
// and checkpointed tensor), says how a batch becomes a loss (loss(): the total and its
// named terms, each checked by the divergence guard under its own name) and a prediction
// (predict(): [B], scored with data/metrics.h), and lists the random generators whose state
// a checkpoint must carry (generators(): dropout, sampling, masking; their (seed, offset)
// is saved and restored, so a resumed run draws the same numbers).
//
// SentimentTask covers every models::SentimentModel (models/sentiment.h): L1 on the
// prediction, as the papers' regression baselines train.
//
// ---- the extension point: train_step()
//
// The default train_step() is the plain step:
//
//   zero_grad; L = loss(batch); check every term; L.total.backward(); clip; optimizer.step()
//
// Later papers override it, keeping the loop, the checkpoints, the logs and the seeds:
//   - MFM: loss() returns the discriminative term and each reconstruction term by name
//     ({"l1", ...}, {"recon_text", ...}); the default step is enough.
//   - MDM: a critic trained `--unroll` times per model step: override train_step() to run
//     the critic's inner steps on its own optimizer (listed in extra_optimizers(), so its
//     moments are checkpointed), then the model step through ctx.optimizer. Check each term
//     with ctx.check(term, value) so a NaN names it.
//   - MMIM: two optimizers (the CPC/MI estimators and the main model), the same way.
// A critic or estimator that must be checkpointed belongs to module() (a container
// nn::Module registering the model and the critic as children), its optimizer to
// extra_optimizers(), its generators to generators().
//
// Rules for an override: draw random numbers only from generators() (never
// fg::default_generator(), which a checkpoint does not carry), call ctx.check() for every
// term before backward, return the total and the terms as plain numbers.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "data/batching.h"
#include "data/metrics.h"
#include "engine/nn/module.h"
#include "engine/optim/optimizer.h"
#include "engine/random.h"
#include "engine/tensor.h"
#include "models/sentiment.h"

namespace fg::harness {

// A loss and its named parts (total = the sum the step differentiates).
struct Loss {
  Tensor total;
  std::vector<std::pair<std::string, Tensor>> terms;  // e.g. {{"l1", l1}}; may be empty
};

// What one step reports (plain numbers; the loop logs and sums them).
struct StepOutput {
  double total = 0;
  std::vector<std::pair<std::string, double>> terms;
  double grad_norm = -1;  // before clipping; -1 when not measured (no --clip)
};

// What the loop hands a step.
struct StepContext {
  optim::Optimizer& optimizer;  // the main optimizer (--optimizer, --lr, schedules)
  double clip = 0;              // max gradient norm; 0 = no clipping
  // Checks one value (NaN/Inf/blow-up) as "loss term '<name>'"; throws optim::Diverged
  // naming the term and the step.
  std::function<void(const std::string& term, double value)> check;
};

class Task {
 public:
  virtual ~Task() = default;
  // Everything trained and checkpointed (parameters and buffers).
  virtual nn::Module& module() = 0;
  // The loss of one training batch (the module is in training mode).
  virtual Loss loss(const data::Batch& batch) = 0;
  // Predictions [B] for a batch (called in eval mode under NoGradGuard).
  virtual Tensor predict(const data::Batch& batch) = 0;
  // Generators the task draws from, by name, to be checkpointed.
  virtual std::vector<std::pair<std::string, Generator*>> generators() { return {}; }
  // Further optimizers an overridden train_step() uses, by name, to be checkpointed.
  virtual std::vector<std::pair<std::string, optim::Optimizer*>> extra_optimizers() { return {}; }
  // The parameters of the main optimizer (default: all of module()).
  virtual std::vector<Tensor> parameters() { return module().parameters(); }
  // The main optimizer's parameter groups (default: one group of parameters() at --lr). A
  // group with its own lr keeps it (schedules scale each group's own lr), e.g. MAG-BERT's
  // BERT parameters at --bert-lr (models/mag_bert.h).
  virtual std::vector<optim::ParamGroup> param_groups() { return optim::single_group(parameters()); }
  // One optimization step (see the header comment).
  virtual StepOutput train_step(const data::Batch& batch, StepContext& ctx);
};

// Any SentimentModel, trained with L1 on its prediction. `generators` are the model's
// generators to checkpoint (e.g. the dropout generator it was built with).
class SentimentTask : public Task {
 public:
  SentimentTask(std::shared_ptr<models::SentimentModel> model,
                std::vector<std::pair<std::string, std::shared_ptr<Generator>>> generators = {});
  nn::Module& module() override { return *model_; }
  Loss loss(const data::Batch& batch) override;
  Tensor predict(const data::Batch& batch) override;
  std::vector<std::pair<std::string, Generator*>> generators() override;
  models::SentimentModel& model() { return *model_; }

 private:
  std::shared_ptr<models::SentimentModel> model_;
  std::vector<std::pair<std::string, std::shared_ptr<Generator>>> generators_;
};

}  // namespace fg::harness
