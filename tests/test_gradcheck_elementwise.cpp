// tests/test_gradcheck_elementwise.cpp: float64 central-difference gradient checks of every
// elementwise op of engine/ops.h (unary, binary with NumPy broadcasting, where,
// masked_fill, broadcast_to, dtype conversion and clone). One TEST_CASE per op; ops with
// kinks get inputs drawn away from them (tests/support/op_inputs.h).
#include <doctest/doctest.h>

#include <string>

#include "support/gradcheck.h"
#include "support/op_inputs.h"

using namespace fg;
using fg::testing::input_avoiding;
using fg::testing::rand_input;
using Inputs = std::vector<Tensor>;

namespace {

const Shape kShape = {3, 4};

void check_grad(const testing::TensorFn& f, const Inputs& in) { CHECK_GRADCHECK(f, in); }

// Gradcheck of a unary op on [3, 4] inputs uniform in [lo, hi) away from `kinks`.
template <class F>
void check_unary(F op, double lo, double hi, const std::vector<double>& kinks = {}, std::uint64_t seed = 7) {
  check_grad([op](const Inputs& in) { return op(in[0]); }, {input_avoiding(kShape, seed, lo, hi, kinks)});
}

// The broadcasting pairs every binary op is checked on (both inputs require grad).
const std::vector<std::pair<Shape, Shape>> kBroadcastPairs = {
    {{3, 4}, {3, 4}}, {{2, 3, 4}, {4}}, {{3, 1}, {1, 5}}, {{2, 1, 4}, {3, 1}}, {{}, {3, 2}}, {{3, 2}, {}},
    {{2, 3, 1}, {2, 1, 3}},
};

template <class F>
void check_binary(F op, double lo_b = -1.0, double hi_b = 1.0, const std::vector<double>& b_kinks = {},
                  double lo_a = -1.0, double hi_a = 1.0) {
  std::uint64_t seed = 11;
  for (const auto& [sa, sb] : kBroadcastPairs) {
    CAPTURE(shape_str(sa));
    CAPTURE(shape_str(sb));
    const Tensor a = input_avoiding(sa, seed++, lo_a, hi_a, {});
    const Tensor b = input_avoiding(sb, seed++, lo_b, hi_b, b_kinks, 0.3);
    check_grad([op](const Inputs& in) { return op(in[0], in[1]); }, {a, b});
  }
}

}  // namespace

// ---------------------------------------------------------------- unary
TEST_CASE("gradcheck: neg") { check_unary([](const Tensor& x) { return neg(x); }, -1, 1); }
TEST_CASE("gradcheck: exp") { check_unary([](const Tensor& x) { return exp(x); }, -2, 2); }
TEST_CASE("gradcheck: log") { check_unary([](const Tensor& x) { return log(x); }, 0.1, 3); }
TEST_CASE("gradcheck: sqrt") { check_unary([](const Tensor& x) { return sqrt(x); }, 0.1, 3); }
TEST_CASE("gradcheck: abs") { check_unary([](const Tensor& x) { return abs(x); }, -1, 1, {0.0}); }
TEST_CASE("gradcheck: tanh") { check_unary([](const Tensor& x) { return tanh(x); }, -2, 2); }
TEST_CASE("gradcheck: sigmoid") { check_unary([](const Tensor& x) { return sigmoid(x); }, -6, 6); }
TEST_CASE("gradcheck: relu") { check_unary([](const Tensor& x) { return relu(x); }, -1, 1, {0.0}); }
TEST_CASE("gradcheck: leaky_relu") {
  check_unary([](const Tensor& x) { return leaky_relu(x); }, -1, 1, {0.0});
  check_unary([](const Tensor& x) { return leaky_relu(x, 0.2); }, -1, 1, {0.0}, 8);
}
TEST_CASE("gradcheck: gelu (erf)") { check_unary([](const Tensor& x) { return gelu(x, false); }, -4, 4); }
TEST_CASE("gradcheck: gelu (tanh)") { check_unary([](const Tensor& x) { return gelu(x, true); }, -4, 4); }
TEST_CASE("gradcheck: softplus") {
  check_unary([](const Tensor& x) { return softplus(x); }, -5, 5);
  // beta = 2, threshold = 3: linear past x = 1.5 (a jump in value there, so stay away)
  check_unary([](const Tensor& x) { return softplus(x, 2.0, 3.0); }, -3, 3, {1.5}, 8);
}
TEST_CASE("gradcheck: clamp") {
  check_unary([](const Tensor& x) { return clamp(x, -0.5, 0.7); }, -1.5, 1.5, {-0.5, 0.7});
}
TEST_CASE("gradcheck: pow (scalar exponent)") {
  check_unary([](const Tensor& x) { return pow(x, 2.5); }, 0.2, 2);
  check_unary([](const Tensor& x) { return pow(x, -1.5); }, 0.2, 2, {}, 8);
  check_unary([](const Tensor& x) { return pow(x, 0.5); }, 0.2, 2, {}, 9);
  check_unary([](const Tensor& x) { return pow(x, 3.0); }, -1.5, 1.5, {}, 10);  // integer exponent: x < 0 is fine
  check_unary([](const Tensor& x) { return pow(x, 0.0); }, -1.5, 1.5, {}, 11);  // constant 1: gradient 0
  INFO("x^0 is the constant 1 at x = 0 too: its gradient is 0 there (PyTorch's as well), not 0 * 0^-1");
  const Tensor with_zero = from_vector(std::vector<double>{0.0, 0.5, -1.5, 0.0}, {4}, f64_opts().with_requires_grad());
  check_grad([](const Inputs& in) { return pow(in[0], 0.0); }, {with_zero});
  check_grad([](const Inputs& in) { return pow(in[0], 2.0); }, {with_zero});
}
TEST_CASE("gradcheck: square") { check_unary([](const Tensor& x) { return square(x); }, -2, 2); }
TEST_CASE("gradcheck: reciprocal") { check_unary([](const Tensor& x) { return reciprocal(x); }, -3, 3, {0.0}, 7); }
TEST_CASE("gradcheck: sin") { check_unary([](const Tensor& x) { return sin(x); }, -3, 3); }
TEST_CASE("gradcheck: cos") { check_unary([](const Tensor& x) { return cos(x); }, -3, 3); }
TEST_CASE("gradcheck: log1p") { check_unary([](const Tensor& x) { return log1p(x); }, -0.5, 3); }
TEST_CASE("gradcheck: expm1") { check_unary([](const Tensor& x) { return expm1(x); }, -2, 2); }
TEST_CASE("gradcheck: add_scalar") { check_unary([](const Tensor& x) { return add_scalar(x, 1.25); }, -1, 1); }
TEST_CASE("gradcheck: mul_scalar") { check_unary([](const Tensor& x) { return mul_scalar(x, -0.75); }, -1, 1); }
TEST_CASE("gradcheck: scalar operators (s - x, s / x, x / s)") {
  check_unary([](const Tensor& x) { return (2.0 - x) * (3.0 / x) + x / 4.0 - 1.0; }, -2, 2, {0.0});
}

// ---------------------------------------------------------------- binary (broadcasting)
TEST_CASE("gradcheck: add") { check_binary([](const Tensor& a, const Tensor& b) { return add(a, b); }); }
TEST_CASE("gradcheck: sub") { check_binary([](const Tensor& a, const Tensor& b) { return sub(a, b); }); }
TEST_CASE("gradcheck: mul") { check_binary([](const Tensor& a, const Tensor& b) { return mul(a, b); }); }
TEST_CASE("gradcheck: div") {
  // divisors in [-2, 2) at least 0.3 away from 0
  check_binary([](const Tensor& a, const Tensor& b) { return div(a, b); }, -2.0, 2.0, {0.0});
}
TEST_CASE("gradcheck: pow (tensor exponent)") {
  check_binary([](const Tensor& a, const Tensor& b) { return pow(a, b); }, -1.5, 1.5, {}, 0.2, 2.0);
  INFO("a = 0 with exponent 0 (constant 1 in a) and 1; the exponent is a constant here, since a^b is not");
  INFO("differentiable in b at a = 0, b = 0 (0^-eps is infinite)");
  const Tensor a = from_vector(std::vector<double>{0.0, 0.0, 1.5, 0.7}, {4}, f64_opts().with_requires_grad());
  const Tensor b = testing::const_f64({0.0, 1.0, 2.0, 0.0}, {4});
  check_grad([b](const Inputs& in) { return pow(in[0], b); }, {a});
}

namespace {
// maximum/minimum: the inputs of each pair must not (nearly) tie anywhere.
template <class F>
void check_extreme_binary(F op) {
  std::uint64_t seed = 31;
  for (const auto& [sa, sb] : kBroadcastPairs) {
    CAPTURE(shape_str(sa));
    CAPTURE(shape_str(sb));
    const Tensor a = rand_input(sa, seed++);
    const Tensor b = rand_input(sb, seed++);
    REQUIRE(testing::min_gap(a, b) > 1e-3);  // precondition: no kink within eps of the inputs
    check_grad([op](const Inputs& in) { return op(in[0], in[1]); }, {a, b});
  }
}
}  // namespace

TEST_CASE("gradcheck: maximum") { check_extreme_binary([](const Tensor& a, const Tensor& b) { return maximum(a, b); }); }
TEST_CASE("gradcheck: minimum") { check_extreme_binary([](const Tensor& a, const Tensor& b) { return minimum(a, b); }); }

TEST_CASE("maximum and minimum split the gradient evenly on ties (as PyTorch)") {
  // not a finite-difference check (a tie is a kink): the documented subgradient
  const TensorOptions leaf = f64_opts().with_requires_grad();
  const Tensor a = from_vector(std::vector<double>{1.0, 2.0, 3.0}, {3}, leaf);
  const Tensor a2 = from_vector(std::vector<double>{1.0, 2.0, 3.0}, {3}, leaf);
  const Tensor b = from_vector(std::vector<double>{1.0, 5.0, 0.0}, {3}, leaf);
  sum(maximum(a, b) + minimum(a2, b) * 10.0).backward();
  CHECK(a.grad().to_vector<double>() == std::vector<double>{0.5, 0.0, 1.0});
  CHECK(a2.grad().to_vector<double>() == std::vector<double>{5.0, 10.0, 0.0});
  CHECK(b.grad().to_vector<double>() == std::vector<double>{5.5, 1.0, 10.0});
}

// ---------------------------------------------------------------- where, masked_fill, broadcast_to
TEST_CASE("gradcheck: where") {
  const Tensor cond_full = testing::const_f64({1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1}, {3, 4});
  const Tensor cond_col = testing::const_f64({1, 0, 1}, {3, 1});
  {
    INFO("cond [3, 4], a [3, 4], b [4]");
    check_grad([&](const Inputs& in) { return where(cond_full, in[0], in[1]); },
               {rand_input({3, 4}, 1), rand_input({4}, 2)});
  }
  {
    INFO("cond [3, 1], a [2, 1, 4], b []");
    check_grad([&](const Inputs& in) { return where(cond_col, in[0], in[1]); },
               {rand_input({2, 1, 4}, 3), rand_input({}, 4)});
  }
  {
    INFO("only b requires grad");
    const Tensor a_const = testing::const_f64({9, 8, 7, 6}, {4});
    check_grad([&](const Inputs& in) { return where(cond_full, a_const, in[0]); }, {rand_input({3, 4}, 5)});
  }
}

TEST_CASE("gradcheck: masked_fill") {
  const Tensor mask_full = testing::const_f64({1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1}, {3, 4});
  const Tensor mask_row = testing::const_f64({0, 1, 0, 0}, {4});
  check_grad([&](const Inputs& in) { return masked_fill(in[0], mask_full, -2.5); }, {rand_input({3, 4}, 1)});
  check_grad([&](const Inputs& in) { return masked_fill(in[0], mask_row, 7.0); }, {rand_input({2, 3, 4}, 2)});
}

TEST_CASE("gradcheck: broadcast_to") {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{3, 1}, {2, 3, 4}}, {{4}, {3, 4}}, {{}, {2, 2}}, {{1, 4}, {1, 4}}, {{2, 1, 3}, {2, 5, 3}}};
  std::uint64_t seed = 3;
  for (const auto& [from, to] : cases) {
    CAPTURE(shape_str(from));
    CAPTURE(shape_str(to));
    check_grad([to = to](const Inputs& in) { return broadcast_to(in[0], to); }, {rand_input(from, seed++)});
  }
}

// ---------------------------------------------------------------- conversions
TEST_CASE("gradcheck: to(dtype)") {
  // through float32 and back: the value is rounded to float32 (relative 6e-8), the
  // gradient is the identity. Central differences need a step well above float32's
  // rounding for that: eps = 1e-3 leaves a relative error of ~1e-4, under rtol = 1e-3.
  testing::GradcheckOptions opts;
  opts.eps = 1e-3;
  const auto res = testing::gradcheck([](const Inputs& in) { return in[0].to(DType::f32).to(DType::f64); },
                                      {rand_input({3, 4}, 1)}, opts);
  INFO(res.report);
  CHECK(res.ok);
  CHECK(res.checked == 12);
  // and the plain float64 -> float64 conversion is the tensor itself
  const Tensor x = rand_input({2}, 2);
  CHECK(x.to(DType::f64).impl() == x.impl());
}

TEST_CASE("gradcheck: clone") {
  check_grad([](const Inputs& in) { return in[0].clone() * in[0]; }, {rand_input({3, 4}, 1)});
  // clone copies: writing into the clone leaves the original untouched
  const Tensor x = rand_input({3}, 2);
  const Tensor c = x.detach().clone();
  c.data<double>()[0] = 42.0;
  CHECK(x.to_vector<double>()[0] != 42.0);
}
