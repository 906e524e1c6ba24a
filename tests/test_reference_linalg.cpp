// tests/test_reference_linalg.cpp: matmul (2-D, folded N-D x 2-D, batched), bmm and linear
// vs PyTorch 1.13 (float64), fixtures from tests/reference/ref_linalg.py.
#include <doctest/doctest.h>

#include "support/reference.h"

using namespace fg;
using Params = nlohmann::json;
using Inputs = std::vector<Tensor>;

FG_REFERENCE_TEST("linalg", "matmul", [](const Inputs& in, const Params&) { return matmul(in[0], in[1]); })
FG_REFERENCE_TEST("linalg", "bmm", [](const Inputs& in, const Params&) { return bmm(in[0], in[1]); })
FG_REFERENCE_TEST("linalg", "linear", [](const Inputs& in, const Params& p) {
  return p["bias"].get<bool>() ? linear(in[0], in[1], in[2]) : linear(in[0], in[1]);
})

TEST_CASE("reference vs PyTorch [linalg]: every fixture case has a C++ op") {
  testing::check_reference_coverage("linalg");
}
