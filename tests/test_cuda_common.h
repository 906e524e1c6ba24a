// tests/test_cuda_common.h: helpers shared by the CUDA test files (tests/test_cuda_*.cpp).
//
// - FG_SKIP_WITHOUT_CUDA(): at the top of every GPU test case. Without a visible device
//   (or in a CPU-only build) it prints "SKIPPED: no CUDA device" and returns before any
//   assertion, which ctest reports as skipped (SKIP_REGULAR_EXPRESSION, tests/CMakeLists.txt).
// - Tol + compare(): CUDA float32 results against the CPU float64 reference. A result
//   passes when (1) NaN and +-inf sit at the same positions, (2) the normalized MSE
//   sum (cuda - ref)^2 / sum ref^2 is at most max_nmse and (3) when atol or rtol is set,
//   every element has |cuda - ref| <= atol + rtol |ref|. A Tol with a per-element bound
//   sets max_nmse = INFINITY: for short vectors (one-element results) the normalized MSE
//   is only the relative error of one value, which the per-element bound already judges
//   (with atol for values near 0). Each Tol says why its numbers
//   are what they are; a failure message names the op, the worst element and the reason.
//   FG_CHECK_MATCH(got, want, tol, what) takes value vectors or tensors (compared on the
//   host through values()).
// - f32_input(): random float32 values; the float64 reference gets exactly the same
//   values (float32 -> float64 is exact), so differences come only from the arithmetic.
// - with_grad(t): a detached copy of t that is a leaf requiring grad.
// - Pair / make_pair_input(): one f32_input as a float64 CPU leaf (.cpu) and a float32
//   CUDA leaf (.gpu), both requiring grad: the two sides of a parity case.
// - projected_loss(outs, rs): sum_k <outs[k], R_k>, the scalar whose gradients are
//   compared (a random projection, never a plain sum: see house rule 1); R_k are float32
//   values, moved to each output's device and dtype, so both sides use the same R.
// - compare_run(): a whole parity case: compares each output pair (tolerance fwd), draws
//   one R_k per output, then compares the gradients of projected_loss with respect to
//   every defined input Pair (tolerance bwd).
// - to_parity_devices(cpu, gpu): two copies of a module built with the same seed (same
//   float32 weights) become the float64 CPU reference and the float32 CUDA copy, both in
//   eval mode.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/device.h"
#include "engine/ops.h"
#include "engine/random.h"
#include "engine/tensor.h"

namespace fg::cuda_test {

inline bool skip_without_cuda() {
  if (device::cuda_available()) return false;
  std::cout << "SKIPPED: no CUDA device" << std::endl;
  return true;
}

#define FG_SKIP_WITHOUT_CUDA()                          \
  do {                                                  \
    if (::fg::cuda_test::skip_without_cuda()) return;   \
  } while (0)

struct Tol {
  double max_nmse;  // bound on sum (cuda - ref)^2 / sum ref^2
  double atol;      // elementwise |cuda - ref| <= atol + rtol |ref| (checked when atol or rtol > 0,
  double rtol;      //   or when max_nmse == 0, i.e. exact)
  const char* why;
};

// Data movement: float32 values are copied, never rounded, so they must match exactly.
inline constexpr Tol kExact{0.0, 0.0, 0.0, "pure data movement: every value is copied, never rounded"};

// Returns "" when `got` (CUDA) matches `want` (CPU float64 reference), else a description.
inline std::string compare(const std::vector<double>& got, const std::vector<double>& want, const Tol& tol,
                           const std::string& what) {
  std::ostringstream msg;
  msg.precision(9);
  if (got.size() != want.size()) {
    msg << what << ": CUDA gave " << got.size() << " elements, the reference " << want.size();
    return msg.str();
  }
  const bool elementwise = tol.atol > 0 || tol.rtol > 0 || tol.max_nmse == 0;
  double err2 = 0, ref2 = 0, worst_ratio = 0;
  std::size_t worst = 0, violations = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double a = got[i], b = want[i];
    if (!std::isfinite(a) || !std::isfinite(b)) {
      const bool same = (std::isnan(a) && std::isnan(b)) || a == b;
      if (!same) {
        msg << what << ": non-finite mismatch at element " << i << ": CUDA " << a << ", reference " << b;
        return msg.str();
      }
      continue;
    }
    const double d = std::abs(a - b);
    err2 += d * d;
    ref2 += b * b;
    if (elementwise) {
      const double bound = tol.atol + tol.rtol * std::abs(b);
      if (d > bound) {
        ++violations;
        const double ratio = bound > 0 ? d / bound : INFINITY;
        if (ratio > worst_ratio || violations == 1) {
          worst_ratio = ratio;
          worst = i;
        }
      }
    }
  }
  const double nmse = ref2 > 0 ? err2 / ref2 : err2;
  if (nmse > tol.max_nmse || violations > 0) {
    msg << what << ": normalized MSE " << nmse << " (bound " << tol.max_nmse << "), " << violations
        << " elements outside atol " << tol.atol << " + rtol " << tol.rtol;
    if (violations > 0) msg << "; worst element " << worst << ": CUDA " << got[worst] << ", reference " << want[worst];
    msg << " [tolerance: " << tol.why << "]";
    return msg.str();
  }
  return "";
}

inline std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

inline std::string compare(const Tensor& got, const Tensor& want, const Tol& tol, const std::string& what) {
  return compare(values(got), values(want), tol, what);
}

#define FG_CHECK_MATCH(got, want, tol, what)                                        \
  do {                                                                              \
    const std::string fg_match_msg_ = ::fg::cuda_test::compare((got), (want), (tol), (what)); \
    INFO(fg_match_msg_);                                                            \
    CHECK(fg_match_msg_.empty());                                                   \
  } while (0)

// Random float32 values in [lo, hi) on the CPU (seeded Philox).
inline Tensor f32_input(const Shape& shape, std::uint64_t seed, double lo = -2.0, double hi = 2.0) {
  Generator gen(seed);
  return rand(shape, gen, TensorOptions{DType::f32, Device::cpu(), false}, lo, hi);
}

inline std::string describe(const std::string& op, const std::vector<Shape>& shapes) {
  std::string s = op;
  s += " on";
  for (const Shape& sh : shapes) {
    s += ' ';
    s += shape_str(sh);
  }
  return s;
}

inline Tensor with_grad(const Tensor& t) {
  Tensor c = t.detach();
  c.requires_grad_(true);
  return c;
}

// The same float32 values as a float64 CPU leaf and a float32 CUDA leaf (both with grad).
// A default Pair{} holds undefined tensors: an absent optional input.
struct Pair {
  Tensor cpu, gpu;
};

inline Pair make_pair_input(const Shape& shape, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  const Tensor x32 = f32_input(shape, seed, lo, hi);
  return {with_grad(x32.to(DType::f64)), with_grad(x32.to(Device::cuda()))};
}

// sum_k <outs[k], R_k> with R_k drawn once (float32 values, widened for the CPU).
inline Tensor projected_loss(const std::vector<Tensor>& outs, const std::vector<Tensor>& rs) {
  Tensor loss;
  for (std::size_t k = 0; k < outs.size(); ++k) {
    const Tensor r = rs[k].to(outs[k].device()).to(outs[k].dtype());
    const Tensor term = sum(mul(outs[k], r));
    loss = loss.defined() ? add(loss, term) : term;
  }
  return loss;
}

// Compares outputs (fwd), then the gradients of the projected loss with respect to the
// defined `inputs` (bwd). R_k is f32_input(shape of output k, seed * 7 + k, -1, 1).
inline void compare_run(const std::string& what, const std::vector<Tensor>& out_cpu,
                        const std::vector<Tensor>& out_gpu, const std::vector<Pair>& inputs, std::uint64_t seed,
                        const Tol& fwd, const Tol& bwd) {
  REQUIRE(out_cpu.size() == out_gpu.size());
  std::vector<Tensor> rs;
  for (std::size_t k = 0; k < out_cpu.size(); ++k) {
    REQUIRE(out_cpu[k].shape() == out_gpu[k].shape());
    FG_CHECK_MATCH(values(out_gpu[k]), values(out_cpu[k]), fwd, what + " output " + std::to_string(k));
    rs.push_back(f32_input(out_cpu[k].shape(), seed * 7 + k, -1.0, 1.0));
  }
  std::vector<Tensor> in_cpu, in_gpu;
  for (const Pair& p : inputs) {
    if (!p.cpu.defined()) continue;
    in_cpu.push_back(p.cpu);
    in_gpu.push_back(p.gpu);
  }
  const auto g_cpu = autograd::grad(projected_loss(out_cpu, rs), in_cpu);
  const auto g_gpu = autograd::grad(projected_loss(out_gpu, rs), in_gpu);
  for (std::size_t k = 0; k < g_cpu.size(); ++k)
    FG_CHECK_MATCH(values(g_gpu[k]), values(g_cpu[k]), bwd, what + " gradient " + std::to_string(k));
}

template <class Module>
void to_parity_devices(Module& cpu, Module& gpu) {
  cpu.to(DType::f64);
  gpu.to(Device::cuda());
  cpu.eval();
  gpu.eval();
}

// Bits of a host float / double vector, for exact (bitwise) comparisons.
inline std::vector<std::uint32_t> bits_of(const std::vector<float>& v) {
  std::vector<std::uint32_t> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) std::memcpy(&out[i], &v[i], 4);
  return out;
}

}  // namespace fg::cuda_test
