// tests/test_reference_elementwise.cpp: elementwise ops vs PyTorch 1.13 (float64),
// fixtures from tests/reference/ref_elementwise.py.
#include <doctest/doctest.h>

#include "support/reference.h"

using namespace fg;
using Params = nlohmann::json;
using Inputs = std::vector<Tensor>;

#define UNARY_REF(name, call) \
  FG_REFERENCE_TEST("elementwise", name, [](const Inputs& in, const Params&) { return call(in[0]); })

UNARY_REF("neg", fg::neg)
UNARY_REF("exp", fg::exp)
UNARY_REF("log", fg::log)
UNARY_REF("sqrt", fg::sqrt)
UNARY_REF("abs", fg::abs)
UNARY_REF("tanh", fg::tanh)
UNARY_REF("sigmoid", fg::sigmoid)
UNARY_REF("relu", fg::relu)
UNARY_REF("square", fg::square)
UNARY_REF("reciprocal", fg::reciprocal)
UNARY_REF("sin", fg::sin)
UNARY_REF("cos", fg::cos)
UNARY_REF("log1p", fg::log1p)
UNARY_REF("expm1", fg::expm1)
FG_REFERENCE_TEST("elementwise", "gelu", [](const Inputs& in, const Params&) { return gelu(in[0], false); })
FG_REFERENCE_TEST("elementwise", "gelu_tanh", [](const Inputs& in, const Params&) { return gelu(in[0], true); })
FG_REFERENCE_TEST("elementwise", "leaky_relu",
                  [](const Inputs& in, const Params& p) { return leaky_relu(in[0], p["slope"].get<double>()); })
FG_REFERENCE_TEST("elementwise", "softplus", [](const Inputs& in, const Params& p) {
  return softplus(in[0], p["beta"].get<double>(), p["threshold"].get<double>());
})
FG_REFERENCE_TEST("elementwise", "clamp", [](const Inputs& in, const Params& p) {
  return clamp(in[0], p["lo"].get<double>(), p["hi"].get<double>());
})
FG_REFERENCE_TEST("elementwise", "pow_scalar",
                  [](const Inputs& in, const Params& p) { return pow(in[0], p["exponent"].get<double>()); })
FG_REFERENCE_TEST("elementwise", "add_scalar",
                  [](const Inputs& in, const Params& p) { return add_scalar(in[0], p["s"].get<double>()); })
FG_REFERENCE_TEST("elementwise", "mul_scalar",
                  [](const Inputs& in, const Params& p) { return mul_scalar(in[0], p["s"].get<double>()); })

#define BINARY_REF(name, call) \
  FG_REFERENCE_TEST("elementwise", name, [](const Inputs& in, const Params&) { return call(in[0], in[1]); })

BINARY_REF("add", fg::add)
BINARY_REF("sub", fg::sub)
BINARY_REF("mul", fg::mul)
BINARY_REF("div", fg::div)
BINARY_REF("maximum", fg::maximum)
BINARY_REF("minimum", fg::minimum)
FG_REFERENCE_TEST("elementwise", "pow", [](const Inputs& in, const Params&) { return pow(in[0], in[1]); })
BINARY_REF("gt", fg::gt)
BINARY_REF("ge", fg::ge)
BINARY_REF("lt", fg::lt)
BINARY_REF("le", fg::le)
BINARY_REF("eq", fg::eq)
FG_REFERENCE_TEST("elementwise", "where", [](const Inputs& in, const Params&) { return where(in[0], in[1], in[2]); })

FG_REFERENCE_TEST("elementwise", "masked_fill",
                  [](const Inputs& in, const Params& p) { return masked_fill(in[0], in[1], p["value"].get<double>()); })
FG_REFERENCE_TEST("elementwise", "broadcast_to",
                  [](const Inputs& in, const Params& p) { return broadcast_to(in[0], p["shape"].get<Shape>()); })
FG_REFERENCE_TEST("elementwise", "to_dtype",
                  [](const Inputs& in, const Params&) { return in[0].to(DType::f32).to(DType::f64); })
FG_REFERENCE_TEST("elementwise", "clone", [](const Inputs& in, const Params&) { return in[0].clone(); })

TEST_CASE("reference vs PyTorch [elementwise]: every fixture case has a C++ op") {
  testing::check_reference_coverage("elementwise");
}
