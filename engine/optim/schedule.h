// engine/optim/schedule.h: learning-rate schedules, PyTorch's semantics.
//
// LambdaSchedule (torch.optim.lr_scheduler.LambdaLR): group g's lr is
//   base_lr[g] * factor(t)
// where base_lr is the group's lr when the schedule was made and t counts step() calls.
// Construction applies factor(0). Call step() once per optimizer step, after it:
//   opt.step(); sched.step();
//   ConstantSchedule:      factor(t) = 1
//   LinearWarmupSchedule:  factor(t) = t / max(1, W)                      for t < W
//                                      max(0, (T - t) / max(1, T - W))    for t >= W
//   (transformers' get_linear_schedule_with_warmup, W warmup steps, T training steps)
//
// ReduceLROnPlateau (torch.optim.lr_scheduler.ReduceLROnPlateau): call step(metric) once
// per evaluation. A metric is "better" than the best so far when
//   min/rel: m < best * (1 - threshold)     min/abs: m < best - threshold
//   max/rel: m > best * (1 + threshold)     max/abs: m > best + threshold
// Otherwise it counts as a bad epoch (during cooldown the count stays 0). When more than
// `patience` bad epochs accumulate, each lr becomes max(lr * factor, min_lr) (changes
// smaller than eps are skipped), the cooldown starts and the count resets.
//
// Schedules hold a reference to their optimizer, which must outlive them.
// state_json()/load_state_json() save and restore a schedule's position (e.g. in a
// checkpoint's metadata) so training resumes where it stopped.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/optim/optimizer.h"

namespace fg::optim {

class LambdaSchedule {
 public:
  LambdaSchedule(Optimizer& optimizer, std::function<double(std::int64_t)> factor);
  virtual ~LambdaSchedule() = default;

  // t += 1, then lr[g] = base_lr[g] * factor(t).
  void step();
  std::int64_t last_step() const { return last_step_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  // The lr of each group as set by the last step (or construction).
  std::vector<double> last_lr() const;
  double factor(std::int64_t t) const { return factor_(t); }

  std::string state_json() const;                // {"last_step", "base_lrs"}
  void load_state_json(const std::string& json);  // restores them and re-applies the lr

 private:
  void apply();
  Optimizer& opt_;
  std::function<double(std::int64_t)> factor_;
  std::vector<double> base_lrs_;
  std::int64_t last_step_ = 0;
};

class ConstantSchedule : public LambdaSchedule {
 public:
  explicit ConstantSchedule(Optimizer& optimizer);
};

// The factor of get_linear_schedule_with_warmup at step t (see above).
double linear_warmup_decay_factor(std::int64_t t, std::int64_t warmup_steps, std::int64_t total_steps);

class LinearWarmupSchedule : public LambdaSchedule {
 public:
  LinearWarmupSchedule(Optimizer& optimizer, std::int64_t warmup_steps, std::int64_t total_steps);
};

struct PlateauOptions {
  enum class Mode { Min, Max };
  enum class ThresholdMode { Rel, Abs };
  Mode mode = Mode::Min;
  double factor = 0.1;        // in [0, 1)
  std::int64_t patience = 10;
  double threshold = 1e-4;
  ThresholdMode threshold_mode = ThresholdMode::Rel;
  std::int64_t cooldown = 0;
  std::vector<double> min_lr = {0.0};  // one entry, or one per parameter group
  double eps = 1e-8;
};

class ReduceLROnPlateau {
 public:
  ReduceLROnPlateau(Optimizer& optimizer, PlateauOptions options = {});

  // Records one evaluation's metric; lowers the lrs when it has plateaued. Throws for NaN.
  void step(double metric);
  double best() const { return best_; }
  std::int64_t num_bad_epochs() const { return num_bad_epochs_; }
  bool in_cooldown() const { return cooldown_counter_ > 0; }
  std::int64_t last_epoch() const { return last_epoch_; }
  std::vector<double> last_lr() const;

  std::string state_json() const;  // {"best", "num_bad_epochs", "cooldown_counter", "last_epoch"}
  void load_state_json(const std::string& json);

 private:
  bool is_better(double a) const;
  Optimizer& opt_;
  PlateauOptions o_;
  std::vector<double> min_lrs_;
  double best_;
  std::int64_t num_bad_epochs_ = 0;
  std::int64_t cooldown_counter_ = 0;
  std::int64_t last_epoch_ = 0;
};

}  // namespace fg::optim
