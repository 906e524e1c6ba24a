// tests/test_reference_loss.cpp: l1_loss, mse_loss, cross_entropy and
// binary_cross_entropy_with_logits (mean and sum) vs PyTorch 1.13 (float64), gradients
// w.r.t. predictions and float targets; fixtures from tests/reference/ref_loss.py.
#include <doctest/doctest.h>

#include "support/reference.h"

using namespace fg;
using Params = nlohmann::json;
using Inputs = std::vector<Tensor>;

namespace {
Reduction reduction_of(const Params& p) {
  const std::string r = p["reduction"].get<std::string>();
  REQUIRE((r == "mean" || r == "sum"));
  return r == "mean" ? Reduction::Mean : Reduction::Sum;
}
}  // namespace

FG_REFERENCE_TEST("loss", "l1_loss",
                  [](const Inputs& in, const Params& p) { return l1_loss(in[0], in[1], reduction_of(p)); })
FG_REFERENCE_TEST("loss", "mse_loss",
                  [](const Inputs& in, const Params& p) { return mse_loss(in[0], in[1], reduction_of(p)); })
FG_REFERENCE_TEST("loss", "cross_entropy", [](const Inputs& in, const Params& p) {
  REQUIRE(in[1].dtype() == DType::i64);
  CHECK_FALSE(in[1].requires_grad());
  return cross_entropy(in[0], in[1], reduction_of(p));
})
FG_REFERENCE_TEST("loss", "binary_cross_entropy_with_logits", [](const Inputs& in, const Params& p) {
  return binary_cross_entropy_with_logits(in[0], in[1], reduction_of(p));
})

TEST_CASE("reference vs PyTorch [loss]: every fixture case has a C++ op") { testing::check_reference_coverage("loss"); }
