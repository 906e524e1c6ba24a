// tests/test_gradcheck_conv.cpp: float64 central-difference gradient checks of conv2d and
// conv_transpose2d (engine/ops_conv.h) with respect to input, weight and bias, at awkward
// sizes: batch 1 and 3, odd and non-square images, 1x1, 3x3, 4x4 and 2x3 kernels, stride 1
// and 2 (and (2, 1)), padding 0, 1 and 2, dilation 2, output_padding 1, with and without
// bias. Plus the identity that defines the transpose: <conv2d(x, w), y> = <x, conv_transpose2d(y, w)>.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include <fmt/format.h>

#include "support/gradcheck.h"
#include "support/op_inputs.h"

using namespace fg;
using fg::testing::rand_input;
using Inputs = std::vector<Tensor>;

namespace {

struct ConvCase {
  std::int64_t n, cin, cout, h, w, kh, kw;
  Conv2dOptions o;
  bool bias;
};

Conv2dOptions opts(std::int64_t s, std::int64_t p, std::int64_t d = 1, std::int64_t op = 0) {
  Conv2dOptions o;
  o.stride = {s, s};
  o.padding = {p, p};
  o.dilation = {d, d};
  o.output_padding = {op, op};
  return o;
}

std::string describe(const char* op, const ConvCase& c) {
  return fmt::format("{} N={} C_in={} C_out={} {}x{} k={}x{} s=({},{}) p=({},{}) d={} op={} {}", op, c.n, c.cin, c.cout,
                     c.h, c.w, c.kh, c.kw, c.o.stride[0], c.o.stride[1], c.o.padding[0], c.o.padding[1],
                     c.o.dilation[0], c.o.output_padding[0], c.bias ? "bias" : "no bias");
}

// Runs the check; returns the worst |analytic - numeric| (printed per op family at the end).
double check_grad(const testing::TensorFn& f, const Inputs& in) {
  const auto r = testing::gradcheck(f, in);
  INFO(r.report);
  CHECK(r.ok);
  CHECK(r.checked > 0);
  return r.worst_error;
}

}  // namespace

TEST_CASE("gradcheck: conv2d (input, weight, bias)") {
  Conv2dOptions rect;  // a 2x3 kernel, stride (2, 1), padding (1, 0)
  rect.stride = {2, 1};
  rect.padding = {1, 0};
  const ConvCase cases[] = {
      {1, 1, 2, 5, 5, 3, 3, opts(1, 0), true},      // batch 1, one channel, valid
      {3, 2, 3, 7, 6, 3, 3, opts(2, 1), true},      // batch 3, stride 2, padding 1, non-square
      {3, 3, 2, 7, 7, 4, 4, opts(2, 2), true},      // 4x4 kernel, stride 2, padding 2 (odd image)
      {1, 2, 3, 5, 4, 1, 1, opts(1, 0), true},      // 1x1
      {3, 2, 2, 5, 5, 1, 1, opts(2, 1), false},     // 1x1 with stride 2 and padding (padding ring reads zeros)
      {1, 2, 2, 9, 8, 3, 3, opts(1, 2, 2), true},   // dilation 2
      {3, 2, 3, 6, 5, 2, 3, rect, true},            // rectangular kernel, per-axis stride and padding
      {1, 3, 4, 28 / 4, 28 / 4, 4, 4, opts(2, 1), false},  // the MNIST encoder's second layer, scaled down
  };
  std::uint64_t seed = 100;
  double worst = 0;
  for (const ConvCase& c : cases) {
    const std::string what = describe("conv2d", c);
    CAPTURE(what);
    Inputs in = {rand_input({c.n, c.cin, c.h, c.w}, ++seed), rand_input({c.cout, c.cin, c.kh, c.kw}, ++seed)};
    if (c.bias) in.push_back(rand_input({c.cout}, ++seed));
    const Conv2dOptions o = c.o;
    const bool has_bias = c.bias;
    worst = std::max(worst, check_grad([o, has_bias](const Inputs& i) {
                       return conv2d(i[0], i[1], has_bias ? i[2] : Tensor(), o);
                     }, in));
  }
  MESSAGE("conv2d gradcheck: worst |analytic - numeric| over all cases " << worst);
}

TEST_CASE("gradcheck: conv_transpose2d (input, weight, bias)") {
  Conv2dOptions rect;
  rect.stride = {2, 1};
  rect.padding = {0, 1};
  rect.output_padding = {1, 0};
  const ConvCase cases[] = {
      {1, 2, 3, 4, 4, 4, 4, opts(2, 1), true},       // the decoder's 4x4 stride 2 padding 1 (doubles the size)
      {3, 3, 2, 5, 3, 3, 3, opts(2, 0, 1, 1), true},  // output_padding 1, non-square
      {3, 2, 2, 5, 5, 1, 1, opts(1, 0), false},       // 1x1
      {1, 2, 3, 7, 6, 3, 3, opts(1, 2), true},        // padding 2 crops: output smaller than input
      {3, 1, 2, 4, 5, 3, 3, opts(1, 1, 2, 1), true},  // dilation 2 with output_padding 1 (< dilation)
      {1, 2, 2, 3, 4, 2, 3, rect, true},              // rectangular kernel, per-axis parameters
      {3, 4, 1, 7, 7, 4, 4, opts(2, 1), true},        // the MNIST decoder's last layer, scaled down
  };
  std::uint64_t seed = 200;
  double worst = 0;
  for (const ConvCase& c : cases) {
    const std::string what = describe("conv_transpose2d", c);
    CAPTURE(what);
    Inputs in = {rand_input({c.n, c.cin, c.h, c.w}, ++seed), rand_input({c.cin, c.cout, c.kh, c.kw}, ++seed)};
    if (c.bias) in.push_back(rand_input({c.cout}, ++seed));
    const Conv2dOptions o = c.o;
    const bool has_bias = c.bias;
    worst = std::max(worst, check_grad([o, has_bias](const Inputs& i) {
                       return conv_transpose2d(i[0], i[1], has_bias ? i[2] : Tensor(), o);
                     }, in));
  }
  MESSAGE("conv_transpose2d gradcheck: worst |analytic - numeric| over all cases " << worst);
}

TEST_CASE("conv_transpose2d is the adjoint of conv2d: <conv2d(x, w), y> = <x, conv_transpose2d(y, w)>") {
  struct Geo {
    std::int64_t h, w, k, s, p, d;
  };
  for (const Geo g : {Geo{7, 7, 3, 2, 1, 1}, Geo{8, 5, 4, 2, 2, 1}, Geo{9, 9, 3, 1, 2, 2}, Geo{5, 6, 1, 3, 0, 1}}) {
    CAPTURE(g.h);
    CAPTURE(g.k);
    const Tensor x = rand_input({2, 3, g.h, g.w}, 7).detach();
    const Tensor w = rand_input({4, 3, g.k, g.k}, 8).detach();
    const Tensor cx = conv2d(x, w, Tensor(), g.s, g.p, g.d);
    const Tensor y = rand_input(cx.shape(), 9).detach();
    // conv_transpose2d's output size may fall short of x's by up to stride - 1: output_padding fills it.
    const std::int64_t base = (cx.size(2) - 1) * g.s - 2 * g.p + g.d * (g.k - 1) + 1;
    Conv2dOptions o = opts(g.s, g.p, g.d);
    o.output_padding = {g.h - base, g.w - ((cx.size(3) - 1) * g.s - 2 * g.p + g.d * (g.k - 1) + 1)};
    const Tensor ty = conv_transpose2d(y, w, Tensor(), o);
    REQUIRE(ty.shape() == x.shape());
    const double lhs = sum(mul(cx, y)).item(), rhs = sum(mul(x, ty)).item();
    CHECK(std::abs(lhs - rhs) <= 1e-12 * (1.0 + std::abs(lhs)));
  }
}
