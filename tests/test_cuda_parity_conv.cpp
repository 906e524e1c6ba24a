// tests/test_cuda_parity_conv.cpp: conv2d and conv_transpose2d on CUDA (kernels/cuda/conv.cu:
// im2col/col2im + cuBLAS) in float32 against the CPU float64 loops, forward and the gradients
// of a random projection with respect to input, weight and bias: batch, channels and spatial
// sizes 1, 7 and 33, 1x1 / 3x3 / 4x4 kernels, stride 1 and 2, padding 0..2, dilation 2,
// output_padding, no bias; the MNIST encoder/decoder shapes at batch 64; and a case larger
// than the column budget (several image chunks, partial weight sums added across chunks).
// The float32 inputs are widened exactly for the reference, so differences come only from
// the arithmetic. Without a CUDA device every case prints "SKIPPED: no CUDA device".
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "test_cuda_common.h"

using namespace fg;
using namespace fg::cuda_test;

namespace {

// Forward: each output is a float32 dot product over C KH KW terms (up to 33 * 16 = 528)
// of values <= 1 (cuBLAS, TF32 off), plus the bias.
constexpr Tol kConvForward{1e-10, 1e-5, 1e-4, "float32 dots over C*KH*KW <= 528 terms of values <= 1"};
// Backward: the input gradient sums K KH KW terms like the forward; the weight gradient sums
// N HO WO terms (up to 64 * 14 * 14 = 12544 at the MNIST shapes) that may cancel, so the
// absolute part dominates there; the bias gradient is a double sum, rounded once.
constexpr Tol kConvBackward{1e-9, 1e-3, 1e-3, "float32 sums over up to N*HO*WO = 12544 products that may cancel"};

struct Case {
  std::int64_t n, cin, cout, h, w, k;
  std::int64_t s, p, d, op;
  bool bias;
};

std::string describe(const char* op, const Case& c) {
  return fmt::format("{} N={} C_in={} C_out={} {}x{} k={} s={} p={} d={} op={}{}", op, c.n, c.cin, c.cout, c.h, c.w,
                     c.k, c.s, c.p, c.d, c.op, c.bias ? "" : " no bias");
}

Conv2dOptions options(const Case& c) {
  Conv2dOptions o;
  o.stride = {c.s, c.s};
  o.padding = {c.p, c.p};
  o.dilation = {c.d, c.d};
  o.output_padding = {c.op, c.op};
  return o;
}

void run_case(bool transpose, const Case& c, std::uint64_t seed) {
  const std::string what = describe(transpose ? "conv_transpose2d" : "conv2d", c);
  CAPTURE(what);
  const double wb = 1.0 / std::sqrt(static_cast<double>((transpose ? c.cout : c.cin) * c.k * c.k));
  const Pair x = make_pair_input({c.n, c.cin, c.h, c.w}, seed * 5 + 1);
  const Pair w = transpose ? make_pair_input({c.cin, c.cout, c.k, c.k}, seed * 5 + 2, -wb, wb)
                           : make_pair_input({c.cout, c.cin, c.k, c.k}, seed * 5 + 2, -wb, wb);
  const Pair b = c.bias ? make_pair_input({c.cout}, seed * 5 + 3) : Pair{};
  const Conv2dOptions o = options(c);
  const Tensor y_cpu = transpose ? conv_transpose2d(x.cpu, w.cpu, b.cpu, o) : conv2d(x.cpu, w.cpu, b.cpu, o);
  const Tensor y_gpu = transpose ? conv_transpose2d(x.gpu, w.gpu, b.gpu, o) : conv2d(x.gpu, w.gpu, b.gpu, o);
  compare_run(what, {y_cpu}, {y_gpu}, {x, w, b}, seed, kConvForward, kConvBackward);
}

}  // namespace

TEST_CASE("CUDA parity: conv2d, sizes 1/7/33 (batch, channels, spatial), kernels 1/3/4, stride, padding, dilation") {
  FG_SKIP_WITHOUT_CUDA();
  std::uint64_t seed = 1400;
  for (std::int64_t n : {1, 7}) {
    for (std::int64_t ch : {1, 7, 33}) {
      for (std::int64_t hw : {1, 7, 33}) {
        // a kernel that fits the image (with padding): 1x1 always; 3x3 / 4x4 when the image allows
        run_case(false, Case{n, ch, 7, hw, hw, 1, 1, 0, 1, 0, true}, ++seed);
        if (hw >= 3) run_case(false, Case{n, ch, ch, hw, hw, 3, 2, 1, 1, 0, true}, ++seed);
        if (hw >= 7) run_case(false, Case{n, 7, ch, hw, hw + 2, 4, 2, 2, 1, 0, false}, ++seed);
      }
    }
  }
  run_case(false, Case{33, 7, 33, 33, 7, 3, 1, 2, 2, 0, true}, ++seed);  // dilation 2, batch 33
  run_case(false, Case{1, 1, 1, 1, 1, 3, 1, 1, 1, 0, true}, ++seed);     // a 1x1 image, padding makes room
}

TEST_CASE("CUDA parity: conv_transpose2d, sizes 1/7/33, kernels 1/3/4, stride, padding, output_padding") {
  FG_SKIP_WITHOUT_CUDA();
  std::uint64_t seed = 1500;
  for (std::int64_t n : {1, 7}) {
    for (std::int64_t ch : {1, 7, 33}) {
      for (std::int64_t hw : {1, 7, 33}) {
        run_case(true, Case{n, ch, 7, hw, hw, 1, 1, 0, 1, 0, true}, ++seed);
        run_case(true, Case{n, 7, ch, hw, hw, 4, 2, 1, 1, 0, true}, ++seed);
        run_case(true, Case{n, ch, ch, hw, hw + 1, 3, 2, 0, 1, 1, false}, ++seed);
      }
    }
  }
  run_case(true, Case{33, 7, 33, 7, 33, 3, 1, 1, 2, 1, true}, ++seed);  // dilation 2, output_padding 1
}

TEST_CASE("CUDA parity: the MNIST encoder and decoder shapes at batch 64") {
  FG_SKIP_WITHOUT_CUDA();
  run_case(false, Case{64, 1, 32, 28, 28, 4, 2, 1, 1, 0, true}, 1601);
  run_case(false, Case{64, 32, 64, 14, 14, 4, 2, 1, 1, 0, true}, 1602);
  run_case(true, Case{64, 64, 32, 7, 7, 4, 2, 1, 1, 0, true}, 1603);
  run_case(true, Case{64, 32, 1, 14, 14, 4, 2, 1, 1, 0, true}, 1604);
}

TEST_CASE("CUDA parity: conv2d with more columns than one chunk holds (several image chunks)") {
  FG_SKIP_WITHOUT_CUDA();
  // C KH KW * HO WO = 64 * 9 * 128 * 128 = 9.4 Mi floats per image: the 64 Mi-float budget
  // holds 7 images, so a batch of 9 runs as chunks of 7 and 2 (weight partials summed across).
  run_case(false, Case{9, 64, 2, 128, 128, 3, 1, 1, 1, 0, true}, 1701);
  run_case(true, Case{9, 2, 64, 128, 128, 3, 1, 1, 1, 0, true}, 1702);
}
