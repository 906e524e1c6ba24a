// engine/ops_random.cpp: rand, randn and randperm from a Philox Generator
// (kernels/random.h). Factories: the results are leaves.
#include "engine/dispatch.h"
#include "engine/op_helpers.h"
#include "engine/ops.h"
#include "kernels/random.h"

namespace fg {

Tensor rand(const Shape& shape, Generator& gen, TensorOptions opts, double lo, double hi) {
  FG_CHECK(opts.dtype != DType::i64, "rand: needs a floating dtype");
  Tensor t = empty(shape, TensorOptions{opts.dtype, opts.device, false});
  const std::uint64_t offset = gen.reserve(static_cast<std::uint64_t>(t.numel()));
  FG_DISPATCH(opts.device, random_uniform, opts.dtype, t.numel(), gen.seed(), offset, lo, hi, t.data_ptr());
  if (opts.requires_grad) t.requires_grad_(true);
  return t;
}

Tensor randn(const Shape& shape, Generator& gen, TensorOptions opts, double mean, double std) {
  FG_CHECK(opts.dtype != DType::i64, "randn: needs a floating dtype");
  Tensor t = empty(shape, TensorOptions{opts.dtype, opts.device, false});
  const std::uint64_t offset = gen.reserve(static_cast<std::uint64_t>(t.numel()));
  FG_DISPATCH(opts.device, random_normal, opts.dtype, t.numel(), gen.seed(), offset, mean, std, t.data_ptr());
  if (opts.requires_grad) t.requires_grad_(true);
  return t;
}

Tensor randperm(std::int64_t n, Generator& gen, TensorOptions opts) {
  FG_CHECK(n >= 0, "randperm: n must be non-negative, got {}", n);
  std::vector<std::int64_t> p(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) p[i] = i;
  // Fisher-Yates with unbiased draws
  for (std::int64_t i = n - 1; i > 0; --i)
    std::swap(p[i], p[gen.next_below(static_cast<std::uint64_t>(i + 1))]);
  return from_vector(p, {n}, TensorOptions{DType::i64, opts.device, false}).to(opts.dtype);
}

}  // namespace fg
