// tests/test_ops_float32.cpp: the float32 path of every differentiable op agrees with its
// float64 path (checked against PyTorch and by central differences elsewhere) to float32
// precision: the same inputs, rounded to float32, give outputs and gradients of
// sum(out * R) within a relative L2 error of 1e-5. The kernels are templates over the
// element type, so this catches float32-only slips (a constant or parameter cast to the
// wrong type, a float accumulator, a branch on the dtype).
#include <doctest/doctest.h>

#include <functional>
#include <string>

#include "support/op_inputs.h"
#include "support/reference.h"

using namespace fg;
using fg::testing::index_tensor;
using fg::testing::input_avoiding;
using Inputs = std::vector<Tensor>;

namespace {

using Fn = std::function<Tensor(const Inputs&)>;

struct OpCase {
  std::string name;
  Fn fn;
  Inputs inputs;  // float64 leaves (those requiring grad are compared)
};

Tensor u(const Shape& s, std::uint64_t seed, double lo = -2.0, double hi = 2.0,
         const std::vector<double>& kinks = {}) {
  return input_avoiding(s, seed, lo, hi, kinks);
}

// Converts each float64 input to a float32 leaf with the same requires_grad.
Inputs to_f32(const Inputs& in) {
  Inputs out;
  for (const Tensor& t : in) {
    if (t.dtype() != DType::f64) {
      out.push_back(t);
      continue;
    }
    Tensor c = t.detach().to(DType::f32);
    if (t.requires_grad()) c.requires_grad_(true);
    out.push_back(c);
  }
  return out;
}

// Rounds float64 inputs to float32 values first, so both paths see the same numbers.
Inputs round_to_f32(const Inputs& in) {
  Inputs out;
  for (const Tensor& t : in) {
    if (t.dtype() != DType::f64) {
      out.push_back(t);
      continue;
    }
    Tensor c = t.detach().to(DType::f32).to(DType::f64);
    if (t.requires_grad()) c.requires_grad_(true);
    out.push_back(c);
  }
  return out;
}

void check_float32_matches_float64(const OpCase& c) {
  CAPTURE(c.name);
  const Inputs in64 = round_to_f32(c.inputs);
  const Inputs in32 = to_f32(in64);
  const Tensor out64 = c.fn(in64);
  const Tensor out32 = c.fn(in32);
  REQUIRE(out32.dtype() == DType::f32);
  REQUIRE(out32.shape() == out64.shape());
  const double out_err = testing::relative_error(out32.to(DType::f64), out64);
  INFO("output relative error " << out_err);
  CHECK(out_err <= 1e-5);
  Generator gen(99);
  const Tensor R = randn(out64.shape(), gen, f64_opts());
  sum(mul(out64, R)).backward();
  sum(mul(out32, R.to(DType::f32))).backward();
  for (std::size_t k = 0; k < in64.size(); ++k) {
    if (!in64[k].requires_grad()) continue;
    CAPTURE(k);
    REQUIRE(in32[k].grad().defined());
    CHECK(in32[k].grad().dtype() == DType::f32);
    const double g_err = testing::relative_error(in32[k].grad().to(DType::f64), in64[k].grad());
    INFO("gradient relative error " << g_err);
    CHECK(g_err <= 1e-5);
  }
}

const Shape S = {3, 4};

}  // namespace

TEST_CASE("float32 matches float64: elementwise") {
  const Tensor cond = testing::const_f64({1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1}, S);
  const std::vector<OpCase> cases = {
      {"neg", [](const Inputs& i) { return neg(i[0]); }, {u(S, 1)}},
      {"exp", [](const Inputs& i) { return exp(i[0]); }, {u(S, 2)}},
      {"log", [](const Inputs& i) { return log(i[0]); }, {u(S, 3, 0.1, 3)}},
      {"sqrt", [](const Inputs& i) { return sqrt(i[0]); }, {u(S, 4, 0.1, 3)}},
      {"abs", [](const Inputs& i) { return abs(i[0]); }, {u(S, 5, -2, 2, {0.0})}},
      {"tanh", [](const Inputs& i) { return tanh(i[0]); }, {u(S, 6)}},
      {"sigmoid", [](const Inputs& i) { return sigmoid(i[0]); }, {u(S, 7, -8, 8)}},
      {"relu", [](const Inputs& i) { return relu(i[0]); }, {u(S, 8, -2, 2, {0.0})}},
      {"leaky_relu", [](const Inputs& i) { return leaky_relu(i[0], 0.2); }, {u(S, 9, -2, 2, {0.0})}},
      {"gelu", [](const Inputs& i) { return gelu(i[0]); }, {u(S, 10, -4, 4)}},
      {"gelu_tanh", [](const Inputs& i) { return gelu(i[0], true); }, {u(S, 11, -4, 4)}},
      {"softplus", [](const Inputs& i) { return softplus(i[0], 2.0, 3.0); }, {u(S, 12, -3, 3, {1.5})}},
      {"clamp", [](const Inputs& i) { return clamp(i[0], -0.5, 0.7); }, {u(S, 13, -2, 2, {-0.5, 0.7})}},
      {"pow_scalar", [](const Inputs& i) { return pow(i[0], 2.5); }, {u(S, 14, 0.2, 2)}},
      {"square", [](const Inputs& i) { return square(i[0]); }, {u(S, 15)}},
      {"reciprocal", [](const Inputs& i) { return reciprocal(i[0]); }, {u(S, 16, 0.3, 3)}},
      {"sin", [](const Inputs& i) { return sin(i[0]); }, {u(S, 17)}},
      {"cos", [](const Inputs& i) { return cos(i[0]); }, {u(S, 18)}},
      {"log1p", [](const Inputs& i) { return log1p(i[0]); }, {u(S, 19, -0.5, 3)}},
      {"expm1", [](const Inputs& i) { return expm1(i[0]); }, {u(S, 20)}},
      {"add_scalar", [](const Inputs& i) { return add_scalar(i[0], 1.25); }, {u(S, 21)}},
      {"mul_scalar", [](const Inputs& i) { return mul_scalar(i[0], -0.75); }, {u(S, 22)}},
      {"add", [](const Inputs& i) { return add(i[0], i[1]); }, {u({2, 3, 4}, 23), u({4}, 24)}},
      {"sub", [](const Inputs& i) { return sub(i[0], i[1]); }, {u({3, 1}, 25), u({1, 5}, 26)}},
      {"mul", [](const Inputs& i) { return mul(i[0], i[1]); }, {u({2, 1, 4}, 27), u({3, 1}, 28)}},
      {"div", [](const Inputs& i) { return div(i[0], i[1]); }, {u(S, 29), u({4}, 30, 0.5, 2)}},
      {"maximum", [](const Inputs& i) { return maximum(i[0], i[1]); }, {u(S, 31, -2, 2, {0.0}), u({4}, 32, -0.01, 0.01)}},
      {"minimum", [](const Inputs& i) { return minimum(i[0], i[1]); }, {u(S, 33, -2, 2, {0.0}), u({4}, 34, -0.01, 0.01)}},
      {"pow", [](const Inputs& i) { return pow(i[0], i[1]); }, {u(S, 35, 0.2, 2), u({4}, 36, -1.5, 1.5)}},
      {"where", [cond](const Inputs& i) { return where(cond.to(i[0].dtype()), i[0], i[1]); }, {u(S, 37), u({4}, 38)}},
      {"masked_fill", [cond](const Inputs& i) { return masked_fill(i[0], cond.to(i[0].dtype()), -2.5); }, {u(S, 39)}},
      {"broadcast_to", [](const Inputs& i) { return broadcast_to(i[0], {2, 3, 4}); }, {u({3, 1}, 40)}},
      {"clone", [](const Inputs& i) { return i[0].clone(); }, {u(S, 41)}},
  };
  for (const OpCase& c : cases) check_float32_matches_float64(c);
}

TEST_CASE("float32 matches float64: reductions") {
  const Shape X = {2, 3, 4};
  std::vector<OpCase> cases;
  for (std::int64_t axis : {0, 1, -1}) {
    const std::string a = std::to_string(axis);
    cases.push_back({"sum " + a, [axis](const Inputs& i) { return sum(i[0], axis, true); }, {u(X, 1)}});
    cases.push_back({"mean " + a, [axis](const Inputs& i) { return mean(i[0], axis); }, {u(X, 2)}});
    cases.push_back({"max " + a, [axis](const Inputs& i) { return max(i[0], axis); }, {testing::distinct_input(X, 3)}});
    cases.push_back({"min " + a, [axis](const Inputs& i) { return min(i[0], axis, true); }, {testing::distinct_input(X, 4)}});
    cases.push_back({"var " + a, [axis](const Inputs& i) { return var(i[0], axis, 1); }, {u(X, 5)}});
    cases.push_back({"logsumexp " + a, [axis](const Inputs& i) { return logsumexp(i[0], axis); }, {u(X, 6)}});
  }
  cases.push_back({"sum all", [](const Inputs& i) { return sum(i[0]); }, {u(X, 7)}});
  cases.push_back({"mean all", [](const Inputs& i) { return mean(i[0]); }, {u(X, 8)}});
  cases.push_back({"max all", [](const Inputs& i) { return max(i[0]); }, {testing::distinct_input(X, 9)}});
  cases.push_back({"min all", [](const Inputs& i) { return min(i[0]); }, {testing::distinct_input(X, 10)}});
  cases.push_back({"var all", [](const Inputs& i) { return var(i[0], 0); }, {u(X, 11)}});
  cases.push_back({"logsumexp all", [](const Inputs& i) { return logsumexp(i[0]); }, {u(X, 12)}});
  cases.push_back({"sum_to_shape", [](const Inputs& i) { return sum_to_shape(i[0], {3, 1}); }, {u(X, 13)}});
  for (const OpCase& c : cases) check_float32_matches_float64(c);
}

TEST_CASE("float32 matches float64: linear algebra") {
  const std::vector<OpCase> cases = {
      {"matmul 2-D", [](const Inputs& i) { return matmul(i[0], i[1]); }, {u({3, 4}, 1), u({4, 5}, 2)}},
      {"matmul folded", [](const Inputs& i) { return matmul(i[0], i[1]); }, {u({2, 3, 4}, 3), u({4, 5}, 4)}},
      {"matmul batched", [](const Inputs& i) { return matmul(i[0], i[1]); }, {u({2, 3, 4}, 5), u({2, 4, 5}, 6)}},
      {"bmm", [](const Inputs& i) { return bmm(i[0], i[1]); }, {u({3, 2, 4}, 7), u({3, 4, 5}, 8)}},
      {"linear", [](const Inputs& i) { return linear(i[0], i[1], i[2]); }, {u({2, 3, 4}, 9), u({6, 4}, 10), u({6}, 11)}},
      {"linear no bias", [](const Inputs& i) { return linear(i[0], i[1]); }, {u({5, 4}, 12), u({6, 4}, 13)}},
  };
  for (const OpCase& c : cases) check_float32_matches_float64(c);
}

TEST_CASE("float32 matches float64: shape ops") {
  const Shape X = {3, 4, 2};
  const Tensor idx1 = index_tensor({2, 0, 2, 1}, {4});
  const Tensor gidx = index_tensor({0, 1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 0, 1, 1, 0, 1, 0, 0, 0, 1, 1, 1, 1}, X);
  const std::vector<OpCase> cases = {
      {"transpose", [](const Inputs& i) { return transpose(i[0], 0, 2); }, {u(X, 1)}},
      {"permute", [](const Inputs& i) { return permute(i[0], {1, 2, 0}); }, {u(X, 2)}},
      {"reshape", [](const Inputs& i) { return reshape(i[0], {4, -1}); }, {u(X, 3)}},
      {"flatten", [](const Inputs& i) { return flatten(i[0], 1, 2); }, {u(X, 4)}},
      {"unsqueeze", [](const Inputs& i) { return unsqueeze(i[0], -1); }, {u(X, 5)}},
      {"squeeze", [](const Inputs& i) { return squeeze(i[0], 1); }, {u({3, 1, 2}, 6)}},
      {"concat", [](const Inputs& i) { return concat({i[0], i[1]}, 1); }, {u(X, 7), u({3, 1, 2}, 8)}},
      {"stack", [](const Inputs& i) { return stack({i[0], i[1]}, 2); }, {u(X, 9), u(X, 10)}},
      {"split", [](const Inputs& i) { return split(i[0], {1, 3}, 1)[1]; }, {u(X, 11)}},
      {"slice view", [](const Inputs& i) { return slice(i[0], 0, 1, 2); }, {u(X, 12)}},
      {"slice copy", [](const Inputs& i) { return slice(i[0], 1, 1, 2); }, {u(X, 13)}},
      {"select", [](const Inputs& i) { return select(i[0], 1, -1); }, {u(X, 14)}},
      {"index_select", [idx1](const Inputs& i) { return index_select(i[0], 1, idx1); }, {u(X, 15)}},
      {"gather", [gidx](const Inputs& i) { return gather(i[0], 2, gidx); }, {u(X, 16)}},
      {"scatter_add", [gidx](const Inputs& i) { return scatter_add(i[0], 2, gidx, 2); }, {u(X, 17)}},
  };
  for (const OpCase& c : cases) check_float32_matches_float64(c);
}

TEST_CASE("float32 matches float64: nn ops and losses") {
  const Tensor classes = index_tensor({2, 0, 3, 1, 2}, {5});
  const std::vector<OpCase> cases = {
      {"softmax", [](const Inputs& i) { return softmax(i[0], 1); }, {u({2, 3, 4}, 1)}},
      {"log_softmax", [](const Inputs& i) { return log_softmax(i[0], 0); }, {u({2, 3, 4}, 2)}},
      {"layer_norm", [](const Inputs& i) { return layer_norm(i[0], i[1], i[2]); },
       {u({2, 3, 5}, 3), u({5}, 4, 0.5, 1.5), u({5}, 5)}},
      {"dropout",
       [](const Inputs& i) {
         Generator gen(7);
         return dropout(i[0], 0.3, true, gen);
       },
       {u({4, 6}, 6)}},
      {"l1_loss", [](const Inputs& i) { return l1_loss(i[0], add(i[0].detach(), i[1])); },
       {u(S, 7), u(S, 8, -1, 1, {0.0})}},
      {"mse_loss", [](const Inputs& i) { return mse_loss(i[0], i[1], Reduction::Sum); }, {u(S, 9), u(S, 10)}},
      {"cross_entropy", [classes](const Inputs& i) { return cross_entropy(i[0], classes); }, {u({5, 4}, 11, -3, 3)}},
      {"bce_with_logits", [](const Inputs& i) { return binary_cross_entropy_with_logits(i[0], i[1]); },
       {u(S, 12, -4, 4), u(S, 13, 0, 1)}},
  };
  for (const OpCase& c : cases) check_float32_matches_float64(c);
}
