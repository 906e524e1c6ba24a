// tests/test_cuda_gemm_precision.cpp: the cuBLAS GEMM precision switches of
// engine/cuda/cuda_api.h (set_allow_tf32, set_allow_bf16). On a GPU: a batched matmul and a
// linear layer at awkward sizes (1, 7, 33, 1025) in float32, TF32 and BF16 against the
// float64 CPU reference, each with a tolerance derived from the format's input rounding;
// BF16 must actually change the result (the switch is applied), and switching back must
// give the float32 result again bit for bit. Without a GPU the switches are still plain
// flags (the CPU-only stubs), which the first case checks.
#include <doctest/doctest.h>

#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/cuda/cuda_api.h"
#include "engine/device.h"
#include "engine/ops.h"

using namespace fg;

namespace {

bool skip_without_cuda() {
  if (device::cuda_available()) return false;
  std::cout << "SKIPPED: no CUDA device" << std::endl;
  return true;
}

// Restores both switches when a case ends, whatever it did.
struct RestoreSwitches {
  bool tf32 = fg::cuda::allow_tf32(), bf16 = fg::cuda::allow_bf16();
  ~RestoreSwitches() {
    fg::cuda::set_allow_tf32(tf32);
    fg::cuda::set_allow_bf16(bf16);
  }
};

// sum (got - want)^2 / sum want^2
double nmse(const Tensor& got, const Tensor& want) {
  const auto g = got.to_vector<double>(), w = want.to_vector<double>();
  REQUIRE(g.size() == w.size());
  double e = 0, r = 0;
  for (std::size_t i = 0; i < g.size(); ++i) {
    e += (g[i] - w[i]) * (g[i] - w[i]);
    r += w[i] * w[i];
  }
  return r > 0 ? e / r : e;
}

Tensor f32_values(const Shape& shape, std::uint64_t seed) {
  Generator gen(seed);
  return rand(shape, gen, TensorOptions{DType::f32}, -1.0, 1.0);
}

// Tolerances on the normalized MSE. Each input of a product is rounded to the format:
// relative error up to u (BF16: 2^-9 = 2.0e-3, TF32: 2^-11 = 4.9e-4, float32: 2^-24), so
// a product carries up to ~2u and a sum of K such terms with random signs has a relative
// error ~2u / sqrt(3) in the mean square: nmse ~ (2u)^2 / 3. Bounds are 10x that.
constexpr double kNmseBf16 = 10 * (4.0 * 2.0e-3 * 2.0e-3) / 3;   // 5.3e-5
constexpr double kNmseTf32 = 10 * (4.0 * 4.9e-4 * 4.9e-4) / 3;   // 3.2e-6
constexpr double kNmseFp32 = 1e-11;  // float32 accumulation over <= 1025 terms

}  // namespace

TEST_CASE("GEMM precision switches are plain flags, off by default, BF16 independent of TF32") {
  RestoreSwitches restore;
  fg::cuda::set_allow_bf16(false);
  fg::cuda::set_allow_tf32(false);
  CHECK_FALSE(fg::cuda::allow_bf16());
  fg::cuda::set_allow_bf16(true);
  CHECK(fg::cuda::allow_bf16());
  CHECK_FALSE(fg::cuda::allow_tf32());
  fg::cuda::set_allow_bf16(false);
  CHECK_FALSE(fg::cuda::allow_bf16());
}

TEST_CASE("CUDA GEMM precision: float32, TF32 and BF16 against float64 at sizes 1, 7, 33, 1025") {
  if (skip_without_cuda()) return;
  RestoreSwitches restore;
  struct Case {
    std::int64_t batch, m, k, n;
  };
  std::uint64_t seed = 40;
  for (const Case c : {Case{1, 1, 1, 1}, Case{3, 7, 33, 7}, Case{2, 33, 1025, 7}, Case{1, 1025, 33, 33}}) {
    CAPTURE(c.batch);
    CAPTURE(c.m);
    CAPTURE(c.k);
    CAPTURE(c.n);
    const Tensor a = f32_values({c.batch, c.m, c.k}, ++seed), b = f32_values({c.batch, c.k, c.n}, ++seed);
    const Tensor want = matmul(a.to(DType::f64), b.to(DType::f64));
    const Tensor ag = a.to(Device::cuda()), bg = b.to(Device::cuda());

    fg::cuda::set_allow_tf32(false);
    fg::cuda::set_allow_bf16(false);
    const Tensor fp32 = matmul(ag, bg);
    CHECK(nmse(fp32, want) <= kNmseFp32);

    fg::cuda::set_allow_tf32(true);
    const Tensor tf32 = matmul(ag, bg);
    CHECK(nmse(tf32, want) <= kNmseTf32);

    fg::cuda::set_allow_tf32(false);
    fg::cuda::set_allow_bf16(true);
    const Tensor bf16 = matmul(ag, bg);
    const double e_bf16 = nmse(bf16, want);
    INFO("BF16 normalized MSE " << e_bf16);
    CHECK(e_bf16 <= kNmseBf16);
    // the switch took effect: rounding the inputs to 8 mantissa bits changes the result
    // (skipped for the 1 x 1 x 1 case, where a lucky value may be exact)
    if (c.k > 1) CHECK(nmse(bf16, fp32) > 1e-9);

    fg::cuda::set_allow_bf16(false);
    CHECK(nmse(matmul(ag, bg), fp32) == 0.0);  // back to float32, bit for bit
  }
}

TEST_CASE("CUDA GEMM precision: BF16 gradients of a linear layer (backward GEMMs use the switch too)") {
  if (skip_without_cuda()) return;
  RestoreSwitches restore;
  const Tensor x = f32_values({33, 65}, 1), w = f32_values({7, 65}, 2), bias = f32_values({7}, 3),
               r = f32_values({33, 7}, 4);
  auto grads = [&](Device dev, DType dt) {
    Tensor xs = x.to(dt).to(dev), ws = w.to(dt).to(dev), bs = bias.to(dt).to(dev);
    xs.requires_grad_(true);
    ws.requires_grad_(true);
    bs.requires_grad_(true);
    const Tensor loss = sum(mul(linear(xs, ws, bs), r.to(dt).to(dev)));
    return autograd::grad(loss, {xs, ws, bs});
  };
  const auto want = grads(Device::cpu(), DType::f64);
  fg::cuda::set_allow_bf16(true);
  const auto got = grads(Device::cuda(), DType::f32);
  for (std::size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    // the bias gradient is a column sum (no GEMM): float32 accuracy
    CHECK(nmse(got[i], want[i]) <= (i == 2 ? kNmseFp32 : kNmseBf16));
  }
}
