// examples/harness/trainer.h: the one training loop of the examples (docs/harness.md).
//
// fit() trains a Task (task.h) on a train split, scores the valid split after every epoch
// and keeps the weights of the best validation score (lower is better: MAE by default).
// It never sees the test split: the caller scores test once, after fit(), with the best
// weights fit() leaves in the module (run.h's run_one does exactly that).
//
// The loop, top to bottom (one place; observers can only watch):
//
//   restore the checkpoint if resuming (weights, optimizer, schedule, generators, position)
//   for each epoch:  set the loader's epoch (batch order = f(seed, epoch): resume seeks)
//     for each batch: task.train_step (check terms; backward; clip; step); schedule.step
//                     progress bar; stop requested (SIGINT/SIGTERM)? checkpoint, Interrupted
//     evaluate valid; check the metric; best? snapshot weights; patience counter
//     JSONL lines (epoch, eval); checkpoint if due; early stop when patience runs out
//   restore the best weights
//
// Checkpoints (one safetensors file, written atomically through engine/io/output_file.h):
//   model/<name>             the module's state_dict        best/<name>  the best weights
//   optimizer/...            the main optimizer's state     extra/<k>/... extra optimizers
//   trainer/step_losses      f64 [steps] every step's loss so far
//   metadata "harness/state" JSON: epoch and batch reached, global step, best metric (bit
//            pattern) and epoch, early-stop counter, every generator's (seed, offset), the
//            schedule's state, the epoch's running sums (bit patterns), the divergence
//            guard's first values, the history; "harness/config" the frozen run config
//            (a resume with a different config is refused, naming the key), "harness/git".
// Resuming from it continues bitwise identically on the CPU (tests/test_harness.cpp).
#pragma once

#include <chrono>
#include <csignal>
#include <cstdint>
#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/dataset.h"
#include "data/metrics.h"
#include "engine/device.h"
#include "engine/error.h"
#include "examples/harness/task.h"

namespace fg::harness {

struct TrainOptions {
  std::int64_t epochs = 25;
  std::int64_t batch_size = 32;
  std::string optimizer = "adam";  // adam | adamw
  double lr = 1e-3;
  double weight_decay = 0;         // Adam: L2 in the gradient; AdamW: decoupled
  std::string schedule = "constant";  // constant | linear (warmup, then linear decay to 0) | plateau
  std::int64_t warmup_steps = 0;      // linear
  double plateau_factor = 0.5;        // plateau: lr *= factor after plateau_patience bad epochs
  std::int64_t plateau_patience = 2;
  double clip = 0;            // max global gradient norm; 0 = none
  std::int64_t patience = 0;  // early stopping: epochs without a better valid score; 0 = never
  std::uint64_t seed = 0;     // the shuffles' seed (the task's generators carry their own)
  std::string device = "cpu";
  bool deterministic = false;  // fg::cuda deterministic kernels during the run
  std::string checkpoint;      // checkpoint file ("" = none)
  std::string interrupt_checkpoint;  // written on SIGINT/SIGTERM when `checkpoint` is ""
  std::int64_t checkpoint_every = 1;  // epochs between checkpoints
  bool resume = false;         // continue from `checkpoint` when it exists
  std::string log;             // JSONL log ("" = none); appended on resume
  bool quiet = false;          // no progress bar and no per-epoch lines
  // The task's predict() returns a per-example loss against label-0 targets (unsupervised tasks such
  // as IMA's autoencoders): the epoch line then says "valid loss X" (= the valid MAE used for
  // selection) instead of regression metrics that mean nothing there (corr nan, acc2 1.0).
  bool valid_is_loss = false;
  std::string name = "run";    // the run's name in messages, bars and logs
  std::string hint;            // divergence advice ("lower --lr (now X)" by default)
  nlohmann::json config;       // the frozen config stored in checkpoints and compared on resume
};

struct EpochRecord {
  std::int64_t epoch = 0;  // 1-based
  double train_loss = 0;   // mean total loss over the epoch's steps
  std::map<std::string, double> train_terms;  // mean of each named term
  data::RegressionMetrics valid;
  double lr = 0;           // at the end of the epoch
  double seconds = 0;
  double samples_per_second = 0;
};

struct FitResult {
  std::vector<EpochRecord> history;
  std::vector<double> step_losses;  // every step's total loss, in order
  std::int64_t best_epoch = 0;      // 1-based; its weights are in the module after fit()
  data::RegressionMetrics best_valid;
  bool stopped_early = false;
  bool resumed = false;             // continued from a checkpoint
  std::int64_t parameters = 0;
  double seconds = 0;
};

// Events for observers (tests, displays). They may only watch; the loop decides.
struct Observer {
  std::function<void(std::int64_t epoch, std::int64_t global_step, const StepOutput&)> on_step;
  std::function<void(const EpochRecord&, bool improved)> on_epoch;
  std::function<void(const std::string& path)> on_checkpoint;
};

// Thrown after SIGINT/SIGTERM once the current step finished and the checkpoint (when the
// run has one) is written. The program writes its partial results and exits 128 + signal.
class Interrupted : public fg::Error {
 public:
  Interrupted(int signal, std::string message) : fg::Error(std::move(message)), signal_(signal) {}
  int signal() const { return signal_; }
  FitResult partial;  // what was trained so far

 private:
  int signal_;
};

// Trains `task`; see the header comment. Throws optim::Diverged (NaN/Inf/blow-up, naming
// the step and the term), Interrupted, or fg::Error (a checkpoint that does not match).
FitResult fit(Task& task, const data::MultimodalSplit& train, const data::MultimodalSplit& valid,
              const TrainOptions& options, std::ostream& log, const Observer& observer = {});

// Scores `task` on a whole split in row order (eval mode, no gradients), with `drop`
// modalities zeroed. Restores the module's training mode afterwards.
data::RegressionMetrics evaluate(Task& task, const data::MultimodalSplit& split, std::int64_t batch_size,
                                 Device device, const std::vector<std::string>& drop = {});
// The predictions behind evaluate(): one per row of `split`, in row order.
std::vector<double> predict_split(Task& task, const data::MultimodalSplit& split, std::int64_t batch_size,
                                  Device device, const std::vector<std::string>& drop = {});

// The constant predictor: every prediction is the mean training label. Its MAE is the
// yardstick of every results table.
data::RegressionMetrics constant_predictor(const data::MultimodalSplit& train, const data::MultimodalSplit& split);

// ---- signals: SIGINT/SIGTERM set a flag the loop reads after each step (a second signal
// kills at once). fit() installs the handlers for its duration.
int stop_signal();        // 0 when none arrived
void clear_stop_signal();

// ---- small pieces the examples share

// FNV-1a over the bit patterns of the step losses: two runs print the same fingerprint
// exactly when every loss of one is bitwise equal to the other's.
std::string loss_fingerprint(const std::vector<double>& losses);

// Sets fg::cuda's deterministic mode for a scope and restores it after.
class DeterministicScope {
 public:
  explicit DeterministicScope(bool on);
  ~DeterministicScope();
  DeterministicScope(const DeterministicScope&) = delete;
  DeterministicScope& operator=(const DeterministicScope&) = delete;

 private:
  bool was_;
};

// One line per epoch on stderr, only ever appended to (no carriage returns), so it reads
// the same in a terminal and a log file:
//   "fused    epoch  3/30 [==============================] train loss 0.7712  (0.41 s, 3130 utt/s)"
class ProgressBar {
 public:
  ProgressBar(bool enabled, std::int64_t epoch, std::int64_t epochs, std::int64_t total, const std::string& label);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;
  void advance(std::int64_t done);  // after batch `done` (1-based) of `total`
  void finish(const std::string& summary);

 private:
  static constexpr std::int64_t kWidth = 30;
  bool enabled_;
  std::int64_t total_;
  std::int64_t drawn_ = 0;
  bool finished_ = false;
};

using Clock = std::chrono::steady_clock;
inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// {"mae": ..., "corr": ...} (NaN becomes null).
nlohmann::json metrics_json(const data::RegressionMetrics& m);
// The inverse (null becomes NaN); throws nlohmann::json's errors on a missing or mistyped field.
data::RegressionMetrics metrics_from_json(const nlohmann::json& j);
nlohmann::json epoch_json(const EpochRecord& e);

}  // namespace fg::harness
