// tests/test_cuda_parity_mfn.cpp: MFN's fused gated memory op (engine/ops_gated_memory.h,
// kernels/cuda/mfn.cu) and the whole models::MFN on CUDA in float32 against the CPU
// reference in float64, forward and backward: batch and sizes in {1, 7, 33}, MOSI's sizes
// (G1 = 256, G2 = 64, M = 128: the kernel's 4-examples-per-block path with a remainder),
// uneven lengths including 0 and T, with and without dropout multipliers. The float32
// inputs are widened exactly for the reference, so differences come only from the
// arithmetic. Without a CUDA device every case prints "SKIPPED: no CUDA device" (ctest: skipped).
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/ops_gated_memory.h"
#include "models/mfn.h"
#include "test_cuda_common.h"

using namespace fg;
using namespace fg::cuda_test;

namespace {

// Forward: each step is a float32 dot product over G (then M) terms plus sigmoids; the
// memory carries the rounding of earlier steps, damped by gamma1 < 1. With inputs of size
// <= 1 and sums over up to 320 terms (MOSI's sizes) the error stays ~1e-5 of values ~1.
constexpr Tol kRecurrentForward{1e-9, 3e-5, 3e-4, "T float32 steps: dots over G and M terms + sigmoids, carried"};
// Backward: the same per step; the weight gradients are GEMM sums over T*B rows of
// products that may cancel to near zero, so the absolute part dominates there.
constexpr Tol kRecurrentBackward{1e-8, 2e-4, 2e-3, "backward through time, sums over T*B float32 terms"};

std::vector<std::int64_t> uneven_lengths(std::int64_t B, std::int64_t T) {
  std::vector<std::int64_t> lens(static_cast<std::size_t>(B));
  for (std::int64_t b = 0; b < B; ++b) lens[static_cast<std::size_t>(b)] = B == 1 ? T - 1 : (b * 5 + 1) % (T + 1);
  if (B > 1) lens[0] = T;
  if (B > 2) lens[2] = 0;
  return lens;
}

// Dropout multipliers 0 or 2 (p = 0.5), the same on both devices.
Tensor drop_multipliers(const Shape& shape, std::uint64_t seed) {
  Generator gen(seed);
  return dropout(ones(shape, TensorOptions{DType::f32}), 0.5, true, gen);
}

}  // namespace

TEST_CASE("CUDA parity: gated_memory_recurrence, sizes 1/7/33 and MOSI's, uneven lengths, dropout") {
  FG_SKIP_WITHOUT_CUDA();
  struct Sizes {
    std::int64_t g1, g2, m;
  };
  const std::int64_t T = 6;
  std::uint64_t seed = 900;
  for (std::int64_t B : {1, 7, 33}) {
    for (const Sizes z : {Sizes{1, 1, 1}, Sizes{7, 5, 7}, Sizes{33, 20, 33}, Sizes{256, 64, 128}}) {
      for (bool with_drop : {false, true}) {
        ++seed;
        const std::string what = "gated_memory B=" + std::to_string(B) + " G1=" + std::to_string(z.g1) +
                                 " G2=" + std::to_string(z.g2) + " M=" + std::to_string(z.m) +
                                 (with_drop ? " dropout" : "");
        CAPTURE(what);
        const std::int64_t G = z.g1 + z.g2;
        // weights scaled like PyTorch's init (1/sqrt(fan_in)) so the gates are not saturated
        const double sw = 1.0 / std::sqrt(static_cast<double>(z.m)), s1 = 1.0 / std::sqrt(static_cast<double>(z.g1)),
                     s2 = 1.0 / std::sqrt(static_cast<double>(z.g2));
        const Pair gx = make_pair_input({T, B, G}, seed * 13 + 1), uh = make_pair_input({T, B, z.m}, seed * 13 + 2),
                   wu = make_pair_input({G, z.m}, seed * 13 + 3, -sw, sw),
                   w1 = make_pair_input({z.m, z.g1}, seed * 13 + 4, -s1, s1),
                   b1 = make_pair_input({z.m}, seed * 13 + 5), w2 = make_pair_input({z.m, z.g2}, seed * 13 + 6, -s2, s2),
                   b2 = make_pair_input({z.m}, seed * 13 + 7);
        const Tensor lengths = from_vector(uneven_lengths(B, T), {B}, TensorOptions{DType::i64});
        const Tensor drop = with_drop ? drop_multipliers({T, B, G}, seed) : Tensor();
        const Tensor u_cpu = gated_memory_recurrence(gx.cpu, uh.cpu, wu.cpu, w1.cpu, b1.cpu, w2.cpu, b2.cpu, lengths,
                                                     with_drop ? drop.to(DType::f64) : Tensor());
        const Tensor u_gpu = gated_memory_recurrence(gx.gpu, uh.gpu, wu.gpu, w1.gpu, b1.gpu, w2.gpu, b2.gpu,
                                                     lengths.to(Device::cuda()),
                                                     with_drop ? drop.to(Device::cuda()) : Tensor());
        compare_run(what, {u_cpu}, {u_gpu}, {gx, uh, wu, w1, b1, w2, b2}, seed, kRecurrentForward, kRecurrentBackward);
      }
    }
  }
}

TEST_CASE("CUDA parity: models::MFN (tiny sizes and MOSI's), uneven lengths, every parameter's gradient") {
  FG_SKIP_WITHOUT_CUDA();
  for (bool mosi : {false, true}) {
    models::MFNConfig c;
    if (!mosi) {
      c.input_sizes = {7, 1, 3};
      c.hidden_sizes = {7, 1, 33};
      c.memory_size = 7;
      c.attention_hidden = 33;
      c.memory_hidden = 7;
      c.gamma1_hidden = 7;
      c.gamma2_hidden = 1;
      c.output_hidden = {7};
      c.output_size = 2;
    }
    Generator g1(11), g2(11);
    models::MFN cpu(c, g1), gpu(c, g2);  // same seed: same float32 weights
    to_parity_devices(cpu, gpu);
    const std::int64_t B = mosi ? 33 : 7, T = mosi ? 20 : 5;
    const Tensor lengths = from_vector(uneven_lengths(B, T), {B}, TensorOptions{DType::i64});
    std::vector<Pair> inputs;
    std::vector<Tensor> xc, xg;
    for (std::size_t m = 0; m < 3; ++m) {
      inputs.push_back(make_pair_input({B, T, c.input_sizes[m]}, 1000 + m));
      xc.push_back(inputs.back().cpu);
      xg.push_back(inputs.back().gpu);
    }
    const auto pc = cpu.parameters(), pg = gpu.parameters();
    for (std::size_t k = 0; k < pc.size(); ++k) inputs.push_back({pc[k], pg[k]});
    const auto r_cpu = cpu.forward(xc, lengths);
    const auto r_gpu = gpu.forward(xg, lengths);
    compare_run(mosi ? "MFN (MOSI sizes)" : "MFN (tiny)", {r_cpu.output, r_cpu.features},
                {r_gpu.output, r_gpu.features}, inputs, mosi ? 1100 : 1200, kRecurrentForward, kRecurrentBackward);
  }
}
