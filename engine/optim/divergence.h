// engine/optim/divergence.h: divergence is an error, not a result.
//
// Every training loop (examples/late_fusion.cpp, and the shared training harness the later
// examples use) passes each loss term and each monitored metric through one
// DivergenceGuard. A value that is NaN or +-Inf, or whose magnitude exceeds
// `explode_factor` times the first magnitude seen for that term (floored at `floor`, so a
// loss that starts near 0 is not held to a tiny bound), stops the run with a Diverged error:
//
//   late_fusion: loss term 'l1' is 4.1e+07 at epoch 2, step 3 (global step 9): more than
//   1000 x its first value 1.31 (the run diverged); training stopped. Lower --lr (now 10),
//   or check the inputs and labels for NaN/Inf.
//
// The example programs map the error to exit status 1 (examples/common/cli.h).
#pragma once

#include <map>
#include <string>

#include "engine/error.h"

namespace fg::optim {

// Thrown when a loss term or metric is non-finite or explodes; the message names the
// program, the term, its value, the step and a hint.
class Diverged : public fg::Error {
 public:
  using fg::Error::Error;
};

struct DivergenceOptions {
  // A term diverged when |value| > explode_factor * max(|first value|, floor).
  double explode_factor = 1000.0;
  double floor = 1.0;
  // The advice at the end of the message, e.g. "lower --lr (now 10)".
  std::string hint = "lower the learning rate";
};

class DivergenceGuard {
 public:
  explicit DivergenceGuard(std::string who, DivergenceOptions options = {});

  // Checks `value` of `term` (named as the message should say it: "loss term 'l1'",
  // "validation metric 'mae'") at `where` ("epoch 2, step 3 (global step 9)"); records the
  // first value of each term. Throws Diverged.
  void check(const std::string& term, double value, const std::string& where);

  // The bound a term is held to from now on (+inf before its first value).
  double limit(const std::string& term) const;

 private:
  std::string who_;
  DivergenceOptions options_;
  std::map<std::string, double> first_;  // |first value| per term
};

}  // namespace fg::optim
