// tests/support/op_inputs.h: deterministic float64 inputs for the op tests
// (tests/test_gradcheck_*.cpp, tests/test_op_errors.cpp).
//
// Central differences are only meaningful where the function is smooth in a ball of
// radius eps around the input, so inputs for ops with kinks (abs, relu, clamp, max,
// maximum, ...) are drawn away from the kinks and ties. All helpers are seeded, so a
// test sees the same numbers on every run and every machine.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/random.h"

namespace fg::testing {

// Float64 leaf (requires grad), uniform in [lo, hi), every value at least `margin`
// away from each point of `kinks` (rejection sampling).
inline Tensor input_avoiding(const Shape& shape, std::uint64_t seed, double lo, double hi,
                             const std::vector<double>& kinks, double margin = 0.05) {
  Generator gen(seed);
  std::vector<double> v(static_cast<std::size_t>(shape_numel(shape)));
  for (double& x : v) {
    for (;;) {
      x = lo + (hi - lo) * gen.next_uniform();
      bool ok = true;
      for (double k : kinks) ok = ok && std::abs(x - k) >= margin;
      if (ok) break;
    }
  }
  return from_vector(v, shape, f64_opts().with_requires_grad());
}

// Float64 leaf (requires grad) of pairwise distinct values in random order: the
// values are (k - numel/2) * 0.1 + u with u in [0, 0.04), so any two differ by at
// least 0.06 (no ties for max/min/argmax, whatever the axis).
inline Tensor distinct_input(const Shape& shape, std::uint64_t seed) {
  Generator gen(seed);
  const std::int64_t n = shape_numel(shape);
  const std::vector<std::int64_t> perm = randperm(n, gen).to_vector<std::int64_t>();
  std::vector<double> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    v[static_cast<std::size_t>(i)] =
        (static_cast<double>(perm[static_cast<std::size_t>(i)]) - static_cast<double>(n) / 2) * 0.1 +
        0.04 * gen.next_uniform();
  return from_vector(v, shape, f64_opts().with_requires_grad());
}

// Int64 index tensor (never requires grad).
inline Tensor index_tensor(const std::vector<std::int64_t>& v, const Shape& shape) {
  return from_vector(v, shape, TensorOptions{DType::i64});
}

// Float64 constant (no grad) from values.
inline Tensor const_f64(const std::vector<double>& v, const Shape& shape) { return from_vector(v, shape, f64_opts()); }

// Smallest |a - b| over the broadcast pair (to assert that inputs of maximum/minimum have no near-ties).
inline double min_gap(const Tensor& a, const Tensor& b) {
  NoGradGuard ng;
  return min(abs(sub(a.detach(), b.detach()))).item();
}

}  // namespace fg::testing
