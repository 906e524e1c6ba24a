// tests/test_divergence.cpp: engine/optim/divergence.h, the guard every training loop passes
// its loss terms and metrics through: NaN/Inf and a blow-up past explode_factor x the first
// value (floored) stop the run with a message naming who, the term, the step and the hint.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "engine/optim/divergence.h"
#include "support/test_util.h"

using fg::optim::Diverged;
using fg::optim::DivergenceGuard;
using fg::test::contains;
using fg::test::error_of;

TEST_CASE("divergence guard: NaN and Inf stop the run, naming the term, the step and the hint") {
  DivergenceGuard guard("run 'fused'", {.hint = "lower --lr (now 10)"});
  guard.check("loss term 'l1'", 1.5, "step 1");
  CHECK_THROWS_WITH_AS(guard.check("loss term 'l1'", std::nan(""), "epoch 2, step 7"),
                       "run 'fused': loss term 'l1' is nan at epoch 2, step 7; training stopped. Check the inputs and "
                       "labels for NaN/Inf, or lower --lr (now 10).",
                       Diverged);
  CHECK_THROWS_WITH_AS(guard.check("validation metric 'mae'", INFINITY, "the end of epoch 1"),
                       doctest::Contains("validation metric 'mae' is inf at the end of epoch 1"), Diverged);
  // a NaN as the very first value is caught too
  DivergenceGuard fresh("x");
  CHECK_THROWS_AS(fresh.check("loss term 'kl'", -INFINITY, "step 1"), Diverged);
}

TEST_CASE("divergence guard: a value beyond explode_factor x its first value (floored) stops the run") {
  DivergenceGuard guard("", {.explode_factor = 1000, .floor = 1.0, .hint = "lower --lr (now 3)"});
  CHECK(std::isinf(guard.limit("loss term 'l1'")));
  guard.check("loss term 'l1'", 2.0, "step 1");
  CHECK(guard.limit("loss term 'l1'") == 2000.0);
  guard.check("loss term 'l1'", 1999.0, "step 2");  // large, but within the bound
  guard.check("loss term 'l1'", -1999.0, "step 3");  // magnitudes: negative losses (-MI) too
  const std::string err = error_of([&] { guard.check("loss term 'l1'", 2001.0, "epoch 1, step 4 (global step 4)"); });
  CHECK(err == "loss term 'l1' is 2001 at epoch 1, step 4 (global step 4): more than 1000 x its first value 2 (the run "
               "diverged); training stopped. Lower --lr (now 3).");
  // a term that starts near 0 is held to the floor, not to 1000 x 1e-6
  guard.check("loss term 'kl'", 1e-6, "step 1");
  CHECK(guard.limit("loss term 'kl'") == 1000.0);
  guard.check("loss term 'kl'", 5.0, "step 2");
  CHECK_THROWS_AS(guard.check("loss term 'kl'", 1000.5, "step 3"), Diverged);
  // terms are tracked separately
  CHECK(guard.limit("loss term 'l1'") == 2000.0);
  // bad options are refused
  CHECK(contains(error_of([] { DivergenceGuard g("x", {.explode_factor = 1}); }), "explode_factor must be"));
  CHECK(contains(error_of([] { DivergenceGuard g("x", {.floor = 0}); }), "floor must be"));
}
