// tests/test_gradcheck_reduce.cpp: float64 gradient checks of the reductions of engine/ops.h
// (sum, mean, max, min, var, logsumexp, each over every axis of a 3-D input, negative
// axes, keepdim both ways, and over all elements) and of sum_to_shape.
#include <doctest/doctest.h>

#include <functional>

#include "support/gradcheck.h"
#include "support/op_inputs.h"

using namespace fg;
using fg::testing::rand_input;
using Inputs = std::vector<Tensor>;

namespace {

const Shape kShape = {2, 3, 4};

void check_grad(const testing::TensorFn& f, const Inputs& in) { CHECK_GRADCHECK(f, in); }

using AxisReduce = std::function<Tensor(const Tensor&, std::int64_t axis, bool keepdim)>;
using AllReduce = std::function<Tensor(const Tensor&)>;

// Checks `over_axis` on every axis (0..2 and -1..-3) with keepdim both ways, and `over_all`;
// `make` draws the input (distinct values for max/min).
void check_reduction(const AxisReduce& over_axis, const AllReduce& over_all,
                     const std::function<Tensor(std::uint64_t)>& make) {
  std::uint64_t seed = 5;
  for (std::int64_t axis = -3; axis < 3; ++axis) {
    for (bool keepdim : {false, true}) {
      CAPTURE(axis);
      CAPTURE(keepdim);
      const Tensor x = make(seed++);
      // the shape is part of the contract: keepdim keeps a size-1 axis
      Shape expect = kShape;
      const std::int64_t a = axis < 0 ? axis + 3 : axis;
      if (keepdim) {
        expect[a] = 1;
      } else {
        expect.erase(expect.begin() + a);
      }
      CHECK(over_axis(x, axis, keepdim).shape() == expect);
      check_grad([&](const Inputs& in) { return over_axis(in[0], axis, keepdim); }, {x});
    }
  }
  INFO("over all elements");
  const Tensor x = make(seed);
  CHECK(over_all(x).dim() == 0);
  check_grad([&](const Inputs& in) { return over_all(in[0]); }, {x});
}

Tensor uniform(std::uint64_t seed) { return rand_input(kShape, seed); }
Tensor distinct(std::uint64_t seed) { return testing::distinct_input(kShape, seed); }

}  // namespace

TEST_CASE("gradcheck: sum") {
  check_reduction([](const Tensor& x, std::int64_t a, bool k) { return sum(x, a, k); },
                  [](const Tensor& x) { return sum(x); }, uniform);
}

TEST_CASE("gradcheck: mean") {
  check_reduction([](const Tensor& x, std::int64_t a, bool k) { return mean(x, a, k); },
                  [](const Tensor& x) { return mean(x); }, uniform);
}

TEST_CASE("gradcheck: max") {
  check_reduction([](const Tensor& x, std::int64_t a, bool k) { return max(x, a, k); },
                  [](const Tensor& x) { return max(x); }, distinct);
}

TEST_CASE("gradcheck: min") {
  check_reduction([](const Tensor& x, std::int64_t a, bool k) { return min(x, a, k); },
                  [](const Tensor& x) { return min(x); }, distinct);
}

TEST_CASE("max and min over an axis send the gradient to the first extreme on ties (as PyTorch)") {
  const Tensor x = from_vector(std::vector<double>{1, 3, 3, 0, -2, -2}, {2, 3}, f64_opts().with_requires_grad());
  sum(max(x, 1) + min(x, 1) * 10.0).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{10, 1, 0, 1, 10, 0});
}

TEST_CASE("max and min over all elements send the gradient to the first extreme on ties (engine/ops.h)") {
  // PyTorch's max()/min() without a dim split it evenly among the ties instead; fusegrad
  // documents one rule for both forms. Either is a valid subgradient.
  const Tensor x = from_vector(std::vector<double>{1, 3, -2, 3, -2}, {5}, f64_opts().with_requires_grad());
  (max(x) + min(x) * 10.0).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{0, 1, 10, 0, 0});
}

TEST_CASE("gradcheck: var") {
  for (std::int64_t correction : {0, 1}) {
    CAPTURE(correction);
    check_reduction([correction](const Tensor& x, std::int64_t a, bool k) { return var(x, a, correction, k); },
                    [correction](const Tensor& x) { return var(x, correction); }, uniform);
  }
  INFO("correction 3 over the last axis (4 elements) and over all");
  check_grad([](const Inputs& in) { return var(in[0], -1, 3, false); }, {uniform(40)});
  check_grad([](const Inputs& in) { return var(in[0], 3); }, {uniform(41)});
}

TEST_CASE("gradcheck: logsumexp") {
  check_reduction([](const Tensor& x, std::int64_t a, bool k) { return logsumexp(x, a, k); },
                  [](const Tensor& x) { return logsumexp(x); },
                  [](std::uint64_t seed) { return rand_input(kShape, seed, -3.0, 3.0); });
}

TEST_CASE("gradcheck: sum_to_shape") {
  const std::vector<Shape> targets = {{2, 3, 4}, {3, 4}, {4}, {1, 4}, {3, 1}, {2, 1, 4}, {2, 3, 1}, {1, 1, 1}, {}};
  std::uint64_t seed = 9;
  for (const Shape& target : targets) {
    CAPTURE(shape_str(target));
    const Tensor x = rand_input(kShape, seed++);
    CHECK(sum_to_shape(x, target).shape() == target);
    check_grad([target](const Inputs& in) { return sum_to_shape(in[0], target); }, {x});
  }
}
