// tests/test_gradcheck_linalg.cpp: float64 gradient checks of matmul (2-D, N-D x 2-D folded
// into one GEMM, batched N-D x N-D), bmm and linear (with and without bias, 1-D and 3-D input).
#include <doctest/doctest.h>

#include "support/gradcheck.h"
#include "support/op_inputs.h"

using namespace fg;
using fg::testing::rand_input;
using Inputs = std::vector<Tensor>;

namespace {

void check_grad(const testing::TensorFn& f, const Inputs& in) { CHECK_GRADCHECK(f, in); }

// a @ b for every (a, b) shape pair, both requiring grad; also checks the output shape.
void check_matmul(const std::vector<std::pair<Shape, Shape>>& pairs) {
  std::uint64_t seed = 3;
  for (const auto& [sa, sb] : pairs) {
    CAPTURE(shape_str(sa));
    CAPTURE(shape_str(sb));
    const Tensor a = rand_input(sa, seed++), b = rand_input(sb, seed++);
    Shape expect = sa;
    expect.back() = sb.back();
    CHECK(matmul(a, b).shape() == expect);
    check_grad([](const Inputs& in) { return matmul(in[0], in[1]); }, {a, b});
  }
}

}  // namespace

TEST_CASE("gradcheck: matmul") {
  SUBCASE("2-D") { check_matmul({{{3, 4}, {4, 5}}, {{1, 3}, {3, 1}}, {{4, 1}, {1, 3}}}); }
  SUBCASE("N-D x 2-D (leading dims folded into the rows)") { check_matmul({{{2, 3, 4}, {4, 5}}, {{2, 2, 3, 2}, {2, 3}}}); }
  SUBCASE("batched N-D x N-D") { check_matmul({{{2, 3, 4}, {2, 4, 5}}, {{2, 2, 3, 2}, {2, 2, 2, 3}}}); }
  SUBCASE("only one operand requires grad") {
    const Tensor w = testing::const_f64({1, -2, 0.5, 3, 0.25, -1}, {3, 2});
    check_grad([&](const Inputs& in) { return matmul(in[0], w); }, {rand_input({2, 2, 3}, 1)});
    check_grad([&](const Inputs& in) { return matmul(w, in[0]); }, {rand_input({2, 4}, 2)});
  }
}

TEST_CASE("gradcheck: bmm") {
  const Tensor a = rand_input({3, 2, 4}, 1), b = rand_input({3, 4, 5}, 2);
  CHECK(bmm(a, b).shape() == Shape{3, 2, 5});
  check_grad([](const Inputs& in) { return bmm(in[0], in[1]); }, {a, b});
}

TEST_CASE("gradcheck: linear") {
  const Tensor w = rand_input({3, 4}, 1), b = rand_input({3}, 2);
  SUBCASE("2-D input, no bias") {
    check_grad([](const Inputs& in) { return linear(in[0], in[1]); }, {rand_input({5, 4}, 3), w});
  }
  SUBCASE("2-D input, bias") {
    check_grad([](const Inputs& in) { return linear(in[0], in[1], in[2]); }, {rand_input({5, 4}, 3), w, b});
  }
  SUBCASE("3-D input, bias") {
    const Tensor x = rand_input({2, 3, 4}, 4);
    CHECK(linear(x, w, b).shape() == Shape{2, 3, 3});
    check_grad([](const Inputs& in) { return linear(in[0], in[1], in[2]); }, {x, w, b});
  }
  SUBCASE("1-D input, bias") {
    const Tensor x = rand_input({4}, 5);
    CHECK(linear(x, w, b).shape() == Shape{3});
    check_grad([](const Inputs& in) { return linear(in[0], in[1], in[2]); }, {x, w, b});
  }
}
