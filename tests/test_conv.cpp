// tests/test_conv.cpp: the rest of the convolution checks (engine/ops_conv.h, engine/nn/conv.h):
// - the float32 CPU fast path (im2col + OpenBLAS GEMM, kernels/cpu/conv.cpp) against the
//   float64 plain loops on the same values: output and the gradients of sum(out * R),
//   relative L2 error <= 1e-5, at awkward sizes and at the MNIST encoder/decoder shapes;
// - bad input: an fg::Error naming the op, the argument and the shape expected;
// - nn::Conv2d / nn::ConvTranspose2d: PyTorch's parameter names and shapes, the default
//   init's bounds (kaiming_uniform(a = sqrt(5)) = U(+-1/sqrt(fan_in)), bias the same), the
//   output shapes of the MNIST encoder (28 -> 14 -> 7) and decoder (7 -> 14 -> 28).
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "engine/nn/conv.h"
#include "support/gradcheck.h"
#include "support/op_inputs.h"
#include "support/reference.h"

using namespace fg;
using doctest::Contains;
using fg::testing::rand_input;

namespace {

Conv2dOptions opts(std::int64_t s, std::int64_t p, std::int64_t d = 1, std::int64_t op = 0) {
  Conv2dOptions o;
  o.stride = {s, s};
  o.padding = {p, p};
  o.dilation = {d, d};
  o.output_padding = {op, op};
  return o;
}

Tensor leaf_f32(const Tensor& t64) {
  Tensor c = t64.detach().to(DType::f32);
  c.requires_grad_(true);
  return c;
}

Tensor leaf_f64_rounded(const Tensor& t64) {
  Tensor c = t64.detach().to(DType::f32).to(DType::f64);
  c.requires_grad_(true);
  return c;
}

// f(x, w, b) in float64 (plain loops) and float32 (im2col + GEMM) on the same float32 values.
template <class F>
void check_f32_path(const std::string& what, const Shape& xs, const Shape& ws, std::int64_t nb, F f,
                    std::uint64_t seed) {
  CAPTURE(what);
  const Tensor x0 = rand_input(xs, seed), w0 = rand_input(ws, seed + 1, -0.5, 0.5);
  const Tensor b0 = nb > 0 ? rand_input({nb}, seed + 2) : Tensor();
  const Tensor x64 = leaf_f64_rounded(x0), w64 = leaf_f64_rounded(w0), x32 = leaf_f32(x0), w32 = leaf_f32(w0);
  const Tensor b64 = nb > 0 ? leaf_f64_rounded(b0) : Tensor(), b32 = nb > 0 ? leaf_f32(b0) : Tensor();
  const Tensor y64 = f(x64, w64, b64), y32 = f(x32, w32, b32);
  REQUIRE(y32.dtype() == DType::f32);
  REQUIRE(y32.shape() == y64.shape());
  const double out_err = testing::relative_error(y32.to(DType::f64), y64);
  INFO("output relative error " << out_err);
  CHECK(out_err <= 1e-5);
  Generator gen(seed + 3);
  const Tensor R = randn(y64.shape(), gen, f64_opts());
  sum(mul(y64, R)).backward();
  sum(mul(y32, R.to(DType::f32))).backward();
  const Tensor pairs[3][2] = {{x32, x64}, {w32, w64}, {b32, b64}};
  for (int k = 0; k < (nb > 0 ? 3 : 2); ++k) {
    CAPTURE(k);
    const double g_err = testing::relative_error(pairs[k][0].grad().to(DType::f64), pairs[k][1].grad());
    INFO("gradient relative error " << g_err);
    CHECK(g_err <= 1e-5);
  }
}

}  // namespace

TEST_CASE("conv2d: the float32 fast path (im2col + GEMM) matches the float64 loops") {
  struct C {
    Shape x, w;
    Conv2dOptions o;
    bool bias;
  };
  Conv2dOptions rect;
  rect.stride = {2, 1};
  rect.padding = {1, 0};
  const C cases[] = {
      {{1, 1, 5, 5}, {2, 1, 3, 3}, opts(1, 0), true},     {{3, 2, 7, 6}, {3, 2, 3, 3}, opts(2, 1), true},
      {{3, 3, 7, 7}, {2, 3, 4, 4}, opts(2, 2), false},    {{3, 2, 5, 5}, {2, 2, 1, 1}, opts(2, 1), true},
      {{1, 2, 9, 8}, {2, 2, 3, 3}, opts(1, 2, 2), true},  {{3, 2, 6, 5}, {3, 2, 2, 3}, rect, true},
      {{4, 1, 28, 28}, {32, 1, 4, 4}, opts(2, 1), true},  {{4, 32, 14, 14}, {64, 32, 4, 4}, opts(2, 1), true},
  };
  std::uint64_t seed = 300;
  for (const C& c : cases) {
    const Conv2dOptions o = c.o;
    check_f32_path("conv2d x" + shape_str(c.x) + " w" + shape_str(c.w), c.x, c.w, c.bias ? c.w[0] : 0,
                   [o](const Tensor& x, const Tensor& w, const Tensor& b) { return conv2d(x, w, b, o); }, seed += 5);
  }
}

TEST_CASE("conv_transpose2d: the float32 fast path (GEMM + col2im) matches the float64 loops") {
  struct C {
    Shape x, w;
    Conv2dOptions o;
    bool bias;
  };
  const C cases[] = {
      {{1, 2, 4, 4}, {2, 3, 4, 4}, opts(2, 1), true},        {{3, 3, 5, 3}, {3, 2, 3, 3}, opts(2, 0, 1, 1), true},
      {{3, 2, 5, 5}, {2, 2, 1, 1}, opts(1, 0), false},       {{1, 2, 7, 6}, {2, 3, 3, 3}, opts(1, 2), true},
      {{3, 1, 4, 5}, {1, 2, 3, 3}, opts(1, 1, 2, 1), true},  {{4, 64, 7, 7}, {64, 32, 4, 4}, opts(2, 1), true},
      {{4, 32, 14, 14}, {32, 1, 4, 4}, opts(2, 1), true},
  };
  std::uint64_t seed = 400;
  for (const C& c : cases) {
    const Conv2dOptions o = c.o;
    check_f32_path("conv_transpose2d x" + shape_str(c.x) + " w" + shape_str(c.w), c.x, c.w, c.bias ? c.w[1] : 0,
                   [o](const Tensor& x, const Tensor& w, const Tensor& b) { return conv_transpose2d(x, w, b, o); },
                   seed += 5);
  }
}

TEST_CASE("conv2d / conv_transpose2d: bad input names the argument and the expected shape") {
  const TensorOptions f64o = f64_opts();
  const Tensor x = zeros({2, 3, 8, 8}, f64o), w = zeros({4, 3, 3, 3}, f64o);
  // ranks
  CHECK_THROWS_WITH(conv2d(zeros({3, 8, 8}, f64o), w), Contains("conv2d: input must be 4-D [N, C_in, H, W]"));
  CHECK_THROWS_WITH(conv2d(x, zeros({4, 3, 3}, f64o)), Contains("conv2d: weight must be 4-D [C_out, C_in, KH, KW]"));
  CHECK_THROWS_WITH(conv_transpose2d(x, zeros({3, 4, 3}, f64o)),
                    Contains("conv_transpose2d: weight must be 4-D [C_in, C_out, KH, KW]"));
  // channels
  CHECK_THROWS_WITH(conv2d(x, zeros({4, 5, 3, 3}, f64o)), Contains("expects C_in = 5 input channels, but the input"));
  CHECK_THROWS_WITH(conv_transpose2d(x, zeros({4, 3, 3, 3}, f64o)),
                    Contains("expects C_in = 4 input channels, but the input"));
  // bias
  CHECK_THROWS_WITH(conv2d(x, w, zeros({3}, f64o)), Contains("conv2d: bias must be [C_out] = [4]"));
  CHECK_THROWS_WITH(conv_transpose2d(x, zeros({3, 5, 3, 3}, f64o), zeros({3}, f64o)),
                    Contains("conv_transpose2d: bias must be [C_out] = [5]"));
  // hyper-parameters
  CHECK_THROWS_WITH(conv2d(x, w, Tensor(), 0), Contains("conv2d: stride must be >= 1, got 0"));
  CHECK_THROWS_WITH(conv2d(x, w, Tensor(), 1, -1), Contains("conv2d: padding must be >= 0, got -1"));
  CHECK_THROWS_WITH(conv2d(x, w, Tensor(), 1, 0, 0), Contains("conv2d: dilation must be >= 1, got 0"));
  CHECK_THROWS_WITH(conv2d(x, w, Tensor(), opts(1, 0, 1, 1)), Contains("output_padding is for conv_transpose2d only"));
  CHECK_THROWS_WITH(conv_transpose2d(x, zeros({3, 4, 3, 3}, f64o), Tensor(), 2, 0, 2),
                    Contains("output_padding must be >= 0 and smaller than stride or dilation"));
  // output size <= 0
  CHECK_THROWS_WITH(conv2d(zeros({1, 3, 2, 8}, f64o), w), Contains("conv2d: output size would be 0 x 6"));
  CHECK_THROWS_WITH(conv_transpose2d(zeros({1, 3, 1, 1}, f64o), zeros({3, 4, 1, 1}, f64o), Tensor(), 1, 1),
                    Contains("conv_transpose2d: output size would be -1 x -1"));
  // dtypes, undefined, empty
  CHECK_THROWS_WITH(conv2d(x, zeros({4, 3, 3, 3}, f32_opts())), Contains("conv2d: operands have different dtypes"));
  CHECK_THROWS_WITH(conv2d(x, Tensor()), Contains("conv2d: weight is undefined; expected [C_out, C_in, KH, KW]"));
  CHECK_THROWS_WITH(conv2d(zeros({0, 3, 8, 8}, f64o), w), Contains("conv2d: input has a zero-sized dimension"));
  // the modules name themselves and the channel count they expect
  Generator gen(1);
  nn::Conv2d conv(3, 4, 3, gen);
  CHECK_THROWS_WITH(conv.forward(zeros({2, 5, 8, 8}, f32_opts())), Contains("Conv2d: the input must be [N, 3, H, W]"));
  nn::ConvTranspose2d deconv(3, 4, 3, gen);
  CHECK_THROWS_WITH(deconv.forward(zeros({2, 5, 8, 8}, f32_opts())),
                    Contains("ConvTranspose2d: the input must be [N, 3, H, W]"));
  CHECK_THROWS_WITH(nn::Conv2d(0, 4, 3, gen), Contains("Conv2d: in_channels and out_channels must be positive"));
}

TEST_CASE("nn::Conv2d / nn::ConvTranspose2d: PyTorch's names, shapes and default init; MNIST shapes") {
  Generator gen(14);
  nn::Conv2d enc1(1, 32, 4, gen, 2, 1), enc2(32, 64, 4, gen, 2, 1);
  nn::ConvTranspose2d dec1(64, 32, 4, gen, 2, 1), dec2(32, 1, 4, gen, 2, 1);
  const auto names = enc1.named_parameters();
  REQUIRE(names.size() == 2);
  CHECK(names[0].first == "weight");
  CHECK(names[1].first == "bias");
  CHECK(enc2.weight.shape() == Shape{64, 32, 4, 4});
  CHECK(enc2.bias.shape() == Shape{64});
  CHECK(dec1.weight.shape() == Shape{64, 32, 4, 4});  // [in, out, KH, KW]
  CHECK(dec1.bias.shape() == Shape{32});
  // bounds: 1/sqrt(fan_in), fan_in = weight.size(1) * KH * KW (torch's rule for both)
  struct B {
    const Tensor* w;
    const Tensor* b;
    double fan_in;
  };
  for (const B& c : {B{&enc1.weight, &enc1.bias, 1 * 16}, B{&enc2.weight, &enc2.bias, 32 * 16},
                     B{&dec1.weight, &dec1.bias, 32 * 16}, B{&dec2.weight, &dec2.bias, 1 * 16}}) {
    const double bound = 1.0 / std::sqrt(c.fan_in);
    CAPTURE(c.fan_in);
    for (const Tensor* t : {c.w, c.b}) {
      const double mx = max(abs(*t)).item();
      CHECK(mx <= bound);
      CHECK(mx >= 0.5 * bound);  // spread over the interval, not collapsed near 0
    }
    // the weights' standard deviation is that of U(-bound, bound): bound / sqrt(3)
    if (c.w->numel() >= 512) CHECK(std::sqrt(var(*c.w).item()) == doctest::Approx(bound / std::sqrt(3.0)).epsilon(0.1));
  }
  const Tensor x = zeros({2, 1, 28, 28}, f32_opts());
  const Tensor h1 = enc1.forward(x), h2 = enc2.forward(h1);
  CHECK(h1.shape() == Shape{2, 32, 14, 14});
  CHECK(h2.shape() == Shape{2, 64, 7, 7});
  const Tensor d1 = dec1.forward(h2), d2 = dec2.forward(d1);
  CHECK(d1.shape() == Shape{2, 32, 14, 14});
  CHECK(d2.shape() == Shape{2, 1, 28, 28});
  // without bias: no bias parameter
  nn::Conv2d nobias(2, 3, 3, gen, 1, 0, false);
  CHECK(nobias.named_parameters().size() == 1);
  CHECK(!nobias.bias.defined());
}
