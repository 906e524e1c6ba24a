// tests/test_reference_nn.cpp: softmax, log_softmax (every axis), layer_norm (with and
// without gamma/beta) and dropout vs PyTorch 1.13 (float64), fixtures from
// tests/reference/ref_nn.py. Dropout's training path is compared with the documented
// Philox mask rule (an independent Python Philox there), its p = 0 and eval paths with PyTorch.
#include <doctest/doctest.h>

#include "support/reference.h"

using namespace fg;
using Params = nlohmann::json;
using Inputs = std::vector<Tensor>;

FG_REFERENCE_TEST("nn", "softmax",
                  [](const Inputs& in, const Params& p) { return softmax(in[0], p["axis"].get<std::int64_t>()); })
FG_REFERENCE_TEST("nn", "log_softmax",
                  [](const Inputs& in, const Params& p) { return log_softmax(in[0], p["axis"].get<std::int64_t>()); })

FG_REFERENCE_TEST("nn", "layer_norm", [](const Inputs& in, const Params& p) {
  const bool has_gamma = p["gamma"].get<bool>(), has_beta = p["beta"].get<bool>();
  const Tensor gamma = has_gamma ? in[1] : Tensor();
  const Tensor beta = has_beta ? in.back() : Tensor();
  REQUIRE(in.size() == 1u + has_gamma + has_beta);
  return layer_norm(in[0], gamma, beta, p["eps"].get<double>());
})

FG_REFERENCE_TEST("nn", "dropout", [](const Inputs& in, const Params& p) {
  Generator gen(p["seed"].get<std::uint64_t>());
  return dropout(in[0], p["p"].get<double>(), p["training"].get<bool>(), gen);
})

TEST_CASE("reference vs PyTorch [nn]: every fixture case has a C++ op") { testing::check_reference_coverage("nn"); }
