// tests/support/reference.h: compare our ops with PyTorch fixtures.
//
// tests/reference/generate_all.py writes <build>/reference/<family>.safetensors with,
// per case, the float64 inputs, the output, a random R and the gradients of
// sum(out * R). A C++ test registers, per op name, how to call our op on the case's
// inputs; check_reference_op runs every case of that op and requires
//   ||ours - torch||_2 <= tol * ||torch||_2      (tol = 1e-10 in float64)
// for the output and for each input gradient.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/ops.h"
#include "engine/serialize/safetensors.h"

namespace fg::testing {

using RefOp = std::function<Tensor(const std::vector<Tensor>& inputs, const nlohmann::json& params)>;

// Registers `fn` as the C++ side of fixture op `op` in `family` (returns true, for static init).
bool register_reference_op(const std::string& family, const std::string& op, RefOp fn);
// Runs all cases of `op` (fails if there are none) and checks outputs and gradients.
void check_reference_op(const std::string& family, const std::string& op, double tol = 1e-10);
// Fails if a fixture case of `family` names an op that no test registered.
void check_reference_coverage(const std::string& family);

// Relative L2 error ||a - b|| / ||b|| (||a|| when b is all zeros).
double relative_error(const Tensor& a, const Tensor& b);

// <build>/reference/<family>.safetensors, written by tests/reference/ref_<family>.py; the test
// fails (never skips) when PyTorch was missing at configure time or the file is absent.
SafetensorsFile load_fixture(const std::string& family);

// Tensor `name` of a fixture file; the test fails naming it when it is missing.
const Tensor& fixture_tensor(const SafetensorsFile& f, const std::string& name);

}  // namespace fg::testing

#define FG_REF_CAT2(a, b) a##b
#define FG_REF_CAT(a, b) FG_REF_CAT2(a, b)
// FG_REFERENCE_TEST("elementwise", "tanh", [](auto& in, auto& p) { return fg::tanh(in[0]); })
#define FG_REFERENCE_TEST(family, op, ...)                                                                  \
  static const bool FG_REF_CAT(fg_ref_reg_, __LINE__) = ::fg::testing::register_reference_op(family, op, __VA_ARGS__); \
  TEST_CASE("reference vs PyTorch [" family "]: " op) { ::fg::testing::check_reference_op(family, op); }
