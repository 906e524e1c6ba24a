// tests/support/gradcheck.h: float64 central-difference gradient check.
//
// gradcheck(f, inputs) evaluates out = f(inputs), draws a random R shaped like out,
// and compares the analytic gradient of  L = sum(out * R)  (a random projection, never a
// plain sum, so every output element and its sign matter) with central differences
//   dL/dx_j ~ (L(x + eps e_j) - L(x - eps e_j)) / (2 eps)
// for every element of every input that requires grad. An element passes when
//   |analytic - numeric| <= atol + rtol * |numeric|      (PyTorch's gradcheck tolerances)
// The report names the worst element (input, flat index, both values).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/ops.h"

namespace fg::testing {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
  std::uint64_t seed = 1234;
};

struct GradcheckResult {
  bool ok = true;
  std::string report;  // always filled: worst element, and the failures if any
  double worst_error = 0;  // |analytic - numeric| at the worst element
  std::int64_t checked = 0;
};

using TensorFn = std::function<Tensor(const std::vector<Tensor>&)>;

// inputs: CPU float64 tensors; those with requires_grad are checked (others are constants).
GradcheckResult gradcheck(const TensorFn& f, const std::vector<Tensor>& inputs, const GradcheckOptions& opts = {});

// Random float64 leaf with requires_grad, values uniform in [lo, hi).
Tensor rand_input(const Shape& shape, std::uint64_t seed, double lo = -1.0, double hi = 1.0);

}  // namespace fg::testing

// doctest helper: runs gradcheck and fails with its report.
#define CHECK_GRADCHECK(f, inputs)                                   \
  do {                                                               \
    const auto _gc = ::fg::testing::gradcheck((f), (inputs));        \
    INFO(_gc.report);                                                \
    CHECK(_gc.ok);                                                   \
    CHECK(_gc.checked > 0);                                          \
  } while (0)
