// tests/test_autograd.cpp: the reverse pass itself: accumulation, shared
// subexpressions, no_grad, detach, graph freeing, multiple outputs, error paths.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "support/gradcheck.h"

using namespace fg;

namespace {
Tensor leaf(std::vector<double> v, Shape s) {
  return from_vector(v, s, f64_opts().with_requires_grad());
}
std::vector<double> vals(const Tensor& t) { return t.to_vector<double>(); }
}  // namespace

TEST_CASE("autograd: a tensor used twice receives the sum of both paths") {
  Tensor x = leaf({2.0, -3.0}, {2});
  // y = x * x + x  ->  dy/dx = 2x + 1
  Tensor y = sum(x * x + x);
  y.backward();
  CHECK(vals(x.grad()) == std::vector<double>{5.0, -5.0});
}

TEST_CASE("autograd: shared subexpression feeding two branches") {
  Tensor x = leaf({0.5, 1.5, -1.0}, {3});
  Tensor h = tanh(x);                     // shared
  Tensor out = sum(h * 3.0) + sum(h * h);  // d/dh = 3 + 2h
  out.backward();
  const auto hx = vals(tanh(x.detach()));
  const auto gx = vals(x.grad());
  for (int i = 0; i < 3; ++i) CHECK(gx[i] == doctest::Approx((3 + 2 * hx[i]) * (1 - hx[i] * hx[i])).epsilon(1e-12));
}

TEST_CASE("autograd: gradients accumulate across backward calls with +=") {
  Tensor x = leaf({1.0, 2.0}, {2});
  sum(x * 2.0).backward();
  sum(x * 3.0).backward();
  CHECK(vals(x.grad()) == std::vector<double>{5.0, 5.0});
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("autograd: a leaf's gradient never aliases another leaf's") {
  // add() passes the same gradient tensor to both inputs; accumulating into one must not change the other
  Tensor a = leaf({1.0}, {1}), b = leaf({1.0}, {1});
  sum(a + b).backward();
  sum(a * 5.0).backward();
  CHECK(vals(a.grad()) == std::vector<double>{6.0});
  CHECK(vals(b.grad()) == std::vector<double>{1.0});
}

TEST_CASE("autograd: no_grad records nothing, and restores the previous mode") {
  Tensor x = leaf({1.0}, {1});
  {
    NoGradGuard ng;
    Tensor y = x * 2.0;
    CHECK_FALSE(y.requires_grad());
    CHECK(y.is_leaf());
    {
      NoGradGuard inner;
    }
    CHECK_FALSE(autograd::grad_enabled());
  }
  CHECK(autograd::grad_enabled());
  CHECK((x * 2.0).requires_grad());
}

TEST_CASE("autograd: detach cuts the graph but shares storage") {
  Tensor x = leaf({1.0, 2.0}, {2});
  Tensor d = (x * 3.0).detach();
  CHECK_FALSE(d.requires_grad());
  Tensor y = sum(x * d);  // d is a constant: dy/dx = d
  y.backward();
  CHECK(vals(x.grad()) == std::vector<double>{3.0, 6.0});
}

TEST_CASE("autograd: the graph is freed after backward unless retained") {
  Tensor x = leaf({1.0}, {1});
  Tensor y = sum(exp(x));
  y.backward(Tensor(), /*retain_graph=*/true);
  y.backward();  // allowed: retained the first time
  CHECK(vals(x.grad())[0] == doctest::Approx(2 * std::exp(1.0)));
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("a second time"), fg::Error);
}

TEST_CASE("autograd: backward on a tensor that does not require grad is an error") {
  Tensor x = from_vector(std::vector<double>{1.0}, {1}, f64_opts());
  CHECK_THROWS_WITH_AS(sum(x).backward(), doctest::Contains("does not require grad"), fg::Error);
  Tensor v = leaf({1.0, 2.0}, {2});
  CHECK_THROWS_WITH_AS((v * 2.0).backward(), doctest::Contains("non-scalar"), fg::Error);
}

TEST_CASE("autograd: requires_grad_ is for leaves only") {
  Tensor x = leaf({1.0}, {1});
  Tensor y = x * 2.0;
  CHECK_THROWS_AS(y.requires_grad_(true), fg::Error);
  Tensor idx = from_vector(std::vector<std::int64_t>{1}, {1}, TensorOptions{DType::i64});
  CHECK_THROWS_AS(idx.requires_grad_(true), fg::Error);
}

TEST_CASE("autograd: autograd::grad returns gradients without touching .grad") {
  Tensor x = leaf({1.0, -2.0}, {2});
  Tensor h = x * x;  // non-leaf target
  Tensor y = sum(h * 3.0);
  auto g = autograd::grad(y, {x, h});
  CHECK(vals(g[0]) == std::vector<double>{6.0, -12.0});
  CHECK(vals(g[1]) == std::vector<double>{3.0, 3.0});
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("autograd: long chains are differentiated iteratively (no recursion limit)") {
  Tensor x = leaf({0.1}, {1});
  Tensor h = x;
  for (int i = 0; i < 20000; ++i) h = h * 1.0 + 0.0;
  sum(h).backward();
  CHECK(vals(x.grad())[0] == doctest::Approx(1.0));
}

TEST_CASE("autograd: split feeds several outputs of one parent; unused outputs get zeros") {
  Tensor x = leaf({1.0, 2.0, 3.0, 4.0}, {4});
  auto parts = split(x, {1, 3}, 0);
  Tensor y = sum(parts[1] * parts[1]);  // parts[0] unused
  y.backward();
  CHECK(vals(x.grad()) == std::vector<double>{0.0, 4.0, 6.0, 8.0});
}

TEST_CASE("gradcheck helper catches a wrong gradient") {
  // A deliberately wrong backward: forward is x^2 but the recorded gradient is 3x.
  auto bad_square = [](const std::vector<Tensor>& in) {
    const Tensor& x = in[0];
    Tensor y = mul(x.detach(), x.detach());
    autograd::record("bad_square", {y}, {x}, [x](const std::vector<Tensor>& g, const std::vector<bool>&) {
      return std::vector<Tensor>{mul(g[0], mul_scalar(x.detach(), 3.0))};
    });
    return y;
  };
  const auto res = testing::gradcheck(bad_square, {testing::rand_input({5}, 7)});
  CHECK_FALSE(res.ok);
  CHECK(res.report.find("FAIL") != std::string::npos);
}
