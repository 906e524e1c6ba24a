// engine/optim/divergence.cpp: see divergence.h.
#include "engine/optim/divergence.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

namespace fg::optim {

DivergenceGuard::DivergenceGuard(std::string who, DivergenceOptions options)
    : who_(std::move(who)), options_(std::move(options)) {
  FG_CHECK(options_.explode_factor > 1 && std::isfinite(options_.explode_factor),
           "DivergenceGuard: explode_factor must be a finite number > 1, got {}", options_.explode_factor);
  if (options_.hint.empty()) options_.hint = DivergenceOptions{}.hint;
  FG_CHECK(options_.floor > 0 && std::isfinite(options_.floor), "DivergenceGuard: floor must be finite and > 0, got {}",
           options_.floor);
}

double DivergenceGuard::limit(const std::string& term) const {
  const auto it = first_.find(term);
  if (it == first_.end()) return std::numeric_limits<double>::infinity();
  return options_.explode_factor * std::max(it->second, options_.floor);
}

void DivergenceGuard::check(const std::string& term, double value, const std::string& where) {
  const std::string prefix = who_.empty() ? std::string() : who_ + ": ";
  if (!std::isfinite(value))
    throw Diverged(fmt::format("{}{} is {} at {}; training stopped. Check the inputs and labels for "
                               "NaN/Inf, or {}.",
                               prefix, term, value, where, options_.hint));
  const auto it = first_.find(term);
  if (it == first_.end()) {
    first_[term] = std::abs(value);
    return;
  }
  const double bound = limit(term);
  if (std::abs(value) > bound)
    throw Diverged(fmt::format("{}{} is {:.4g} at {}: more than {:g} x its first value {:.4g} (the run "
                               "diverged); training stopped. {}{}.",
                               prefix, term, value, where, options_.explode_factor, it->second,
                               static_cast<char>(std::toupper(options_.hint[0])), options_.hint.substr(1)));
}

}  // namespace fg::optim
