// engine/optim/schedule.cpp: see schedule.h.
#include "engine/optim/schedule.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "engine/error.h"

namespace fg::optim {

using json = nlohmann::json;

namespace {

std::vector<double> group_lrs(const Optimizer& opt) {
  std::vector<double> out;
  for (const ParamGroup& g : opt.param_groups()) out.push_back(*g.lr);
  return out;
}

json parse_state(const std::string& text, const char* who) {
  try {
    json j = json::parse(text);
    FG_CHECK(j.is_object(), "{}::load_state_json: expected a JSON object, got {}", who, text);
    return j;
  } catch (const json::exception& e) {
    FG_FAIL("{}::load_state_json: not valid JSON ({}): {}", who, e.what(), text);
  }
}

}  // namespace

// ---------------------------------------------------------------- LambdaSchedule
LambdaSchedule::LambdaSchedule(Optimizer& optimizer, std::function<double(std::int64_t)> factor)
    : opt_(optimizer), factor_(std::move(factor)), base_lrs_(group_lrs(optimizer)) {
  FG_CHECK(factor_ != nullptr, "LambdaSchedule: the factor function is empty");
  apply();
}

void LambdaSchedule::apply() {
  auto& groups = opt_.param_groups();
  FG_CHECK(groups.size() == base_lrs_.size(), "LambdaSchedule: the optimizer has {} groups, the schedule {}",
           groups.size(), base_lrs_.size());
  const double f = factor_(last_step_);
  FG_CHECK(std::isfinite(f) && f >= 0, "LambdaSchedule: factor({}) = {}, expected a non-negative number", last_step_, f);
  for (std::size_t g = 0; g < groups.size(); ++g) groups[g].lr = base_lrs_[g] * f;
}

void LambdaSchedule::step() {
  ++last_step_;
  apply();
}

std::vector<double> LambdaSchedule::last_lr() const { return group_lrs(opt_); }

std::string LambdaSchedule::state_json() const {
  return json{{"last_step", last_step_}, {"base_lrs", base_lrs_}}.dump();
}

void LambdaSchedule::load_state_json(const std::string& text) {
  const json j = parse_state(text, "LambdaSchedule");
  FG_CHECK(j.contains("last_step") && j["last_step"].is_number_integer() && j["last_step"].get<std::int64_t>() >= 0 &&
               j.contains("base_lrs") && j["base_lrs"].is_array(),
           "LambdaSchedule::load_state_json: needs last_step (integer >= 0) and base_lrs (array), got {}", text);
  std::vector<double> base;
  for (const json& v : j["base_lrs"]) {
    FG_CHECK(v.is_number() && v.get<double>() >= 0, "LambdaSchedule::load_state_json: base_lrs must be numbers >= 0");
    base.push_back(v.get<double>());
  }
  FG_CHECK(base.size() == opt_.param_groups().size(),
           "LambdaSchedule::load_state_json: {} base_lrs for an optimizer with {} groups", base.size(),
           opt_.param_groups().size());
  base_lrs_ = base;
  last_step_ = j["last_step"].get<std::int64_t>();
  apply();
}

ConstantSchedule::ConstantSchedule(Optimizer& optimizer)
    : LambdaSchedule(optimizer, [](std::int64_t) { return 1.0; }) {}

double linear_warmup_decay_factor(std::int64_t t, std::int64_t warmup, std::int64_t total) {
  if (t < warmup) return static_cast<double>(t) / static_cast<double>(std::max<std::int64_t>(1, warmup));
  return std::max(0.0, static_cast<double>(total - t) / static_cast<double>(std::max<std::int64_t>(1, total - warmup)));
}

namespace {
std::int64_t checked_warmup(std::int64_t warmup, std::int64_t total) {
  FG_CHECK(warmup >= 0 && total >= 0, "LinearWarmupSchedule: warmup_steps ({}) and total_steps ({}) must be >= 0",
           warmup, total);
  FG_CHECK(warmup <= total, "LinearWarmupSchedule: warmup_steps ({}) exceeds total_steps ({})", warmup, total);
  return warmup;
}
}  // namespace

LinearWarmupSchedule::LinearWarmupSchedule(Optimizer& optimizer, std::int64_t warmup, std::int64_t total)
    : LambdaSchedule(optimizer, [w = checked_warmup(warmup, total), total](std::int64_t t) {
        return linear_warmup_decay_factor(t, w, total);
      }) {}

// ---------------------------------------------------------------- ReduceLROnPlateau
ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, PlateauOptions o) : opt_(optimizer), o_(std::move(o)) {
  FG_CHECK(o_.factor >= 0 && o_.factor < 1, "ReduceLROnPlateau: factor must be in [0, 1), got {}", o_.factor);
  FG_CHECK(o_.patience >= 0, "ReduceLROnPlateau: patience must be >= 0, got {}", o_.patience);
  FG_CHECK(o_.cooldown >= 0, "ReduceLROnPlateau: cooldown must be >= 0, got {}", o_.cooldown);
  FG_CHECK(std::isfinite(o_.threshold) && o_.threshold >= 0, "ReduceLROnPlateau: threshold must be >= 0, got {}",
           o_.threshold);
  const std::size_t groups = opt_.param_groups().size();
  FG_CHECK(o_.min_lr.size() == 1 || o_.min_lr.size() == groups,
           "ReduceLROnPlateau: min_lr needs 1 entry or one per parameter group ({}), got {}", groups,
           o_.min_lr.size());
  min_lrs_ = o_.min_lr.size() == 1 ? std::vector<double>(groups, o_.min_lr[0]) : o_.min_lr;
  for (double m : min_lrs_) FG_CHECK(m >= 0, "ReduceLROnPlateau: min_lr must be >= 0, got {}", m);
  best_ = o_.mode == PlateauOptions::Mode::Min ? std::numeric_limits<double>::infinity()
                                                : -std::numeric_limits<double>::infinity();
}

bool ReduceLROnPlateau::is_better(double a) const {
  const bool rel = o_.threshold_mode == PlateauOptions::ThresholdMode::Rel;
  if (o_.mode == PlateauOptions::Mode::Min) return rel ? a < best_ * (1.0 - o_.threshold) : a < best_ - o_.threshold;
  return rel ? a > best_ * (o_.threshold + 1.0) : a > best_ + o_.threshold;
}

void ReduceLROnPlateau::step(double metric) {
  FG_CHECK(!std::isnan(metric), "ReduceLROnPlateau::step: the metric at epoch {} is NaN", last_epoch_ + 1);
  ++last_epoch_;
  if (is_better(metric)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    ++num_bad_epochs_;
  }
  if (in_cooldown()) {
    --cooldown_counter_;
    num_bad_epochs_ = 0;  // bad epochs during the cooldown do not count
  }
  if (num_bad_epochs_ > o_.patience) {
    auto& groups = opt_.param_groups();
    for (std::size_t g = 0; g < groups.size(); ++g) {
      const double old_lr = *groups[g].lr;
      const double new_lr = std::max(old_lr * o_.factor, min_lrs_[g]);
      if (old_lr - new_lr > o_.eps) groups[g].lr = new_lr;
    }
    cooldown_counter_ = o_.cooldown;
    num_bad_epochs_ = 0;
  }
}

std::vector<double> ReduceLROnPlateau::last_lr() const { return group_lrs(opt_); }

std::string ReduceLROnPlateau::state_json() const {
  json j{{"num_bad_epochs", num_bad_epochs_}, {"cooldown_counter", cooldown_counter_}, {"last_epoch", last_epoch_}};
  j["best"] = std::isfinite(best_) ? json(best_) : json(nullptr);  // null: no metric seen yet
  return j.dump();
}

void ReduceLROnPlateau::load_state_json(const std::string& text) {
  const json j = parse_state(text, "ReduceLROnPlateau");
  for (const char* key : {"num_bad_epochs", "cooldown_counter", "last_epoch"})
    FG_CHECK(j.contains(key) && j[key].is_number_integer() && j[key].get<std::int64_t>() >= 0,
             "ReduceLROnPlateau::load_state_json: '{}' must be an integer >= 0, got {}", key, text);
  FG_CHECK(j.contains("best") && (j["best"].is_number() || j["best"].is_null()),
           "ReduceLROnPlateau::load_state_json: 'best' must be a number or null, got {}", text);
  best_ = j["best"].is_null() ? (o_.mode == PlateauOptions::Mode::Min ? std::numeric_limits<double>::infinity()
                                                                        : -std::numeric_limits<double>::infinity())
                              : j["best"].get<double>();
  num_bad_epochs_ = j["num_bad_epochs"].get<std::int64_t>();
  cooldown_counter_ = j["cooldown_counter"].get<std::int64_t>();
  last_epoch_ = j["last_epoch"].get<std::int64_t>();
}

}  // namespace fg::optim
