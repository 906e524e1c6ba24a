// tests/test_reference_conv.cpp: conv2d and conv_transpose2d (engine/ops_conv.h) vs PyTorch
// 1.13's F.conv2d / F.conv_transpose2d in float64: the output and the gradients of
// sum(out * R) with respect to input, weight and bias, relative L2 error <= 1e-10, fixtures
// from tests/reference/ref_conv.py (awkward sizes and the MNIST encoder/decoder shapes).
#include <doctest/doctest.h>

#include "support/reference.h"

using namespace fg;
using Params = nlohmann::json;
using Inputs = std::vector<Tensor>;

namespace {

std::array<std::int64_t, 2> pair_of(const Params& p, const char* key) {
  return {p[key][0].get<std::int64_t>(), p[key][1].get<std::int64_t>()};
}

Conv2dOptions options_of(const Params& p) {
  Conv2dOptions o;
  o.stride = pair_of(p, "stride");
  o.padding = pair_of(p, "padding");
  o.dilation = pair_of(p, "dilation");
  if (p.contains("output_padding")) o.output_padding = pair_of(p, "output_padding");
  return o;
}

}  // namespace

FG_REFERENCE_TEST("conv", "conv2d", [](const Inputs& in, const Params& p) {
  const bool has_bias = p["bias"].get<bool>();
  REQUIRE(in.size() == 2u + has_bias);
  return conv2d(in[0], in[1], has_bias ? in[2] : Tensor(), options_of(p));
})

FG_REFERENCE_TEST("conv", "conv_transpose2d", [](const Inputs& in, const Params& p) {
  const bool has_bias = p["bias"].get<bool>();
  REQUIRE(in.size() == 2u + has_bias);
  return conv_transpose2d(in[0], in[1], has_bias ? in[2] : Tensor(), options_of(p));
})

TEST_CASE("reference vs PyTorch [conv]: every fixture case has a C++ op") { testing::check_reference_coverage("conv"); }
