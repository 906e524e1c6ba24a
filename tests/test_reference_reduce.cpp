// tests/test_reference_reduce.cpp: reductions vs PyTorch 1.13 (float64), fixtures from
// tests/reference/ref_reduce.py: sum, mean, max, min, logsumexp, var over every axis
// (keepdim both ways, negative axes) and over all elements, sum_to_shape and argmax.
#include <doctest/doctest.h>

#include "support/reference.h"

using namespace fg;
using Params = nlohmann::json;
using Inputs = std::vector<Tensor>;

namespace {

// params {"axis": int or null, "keepdim": bool}: the axis version or the all-element one.
template <class AxisFn, class AllFn>
Tensor reduce_by_params(const Tensor& x, const Params& p, AxisFn over_axis, AllFn over_all) {
  if (p["axis"].is_null()) return over_all(x);
  return over_axis(x, p["axis"].get<std::int64_t>(), p["keepdim"].get<bool>());
}

}  // namespace

#define REDUCE_REF(name, fn)                                                                                     \
  FG_REFERENCE_TEST("reduce", name, [](const Inputs& in, const Params& p) {                                     \
    return reduce_by_params(                                                                                     \
        in[0], p, [](const Tensor& x, std::int64_t a, bool k) { return fn(x, a, k); },                          \
        [](const Tensor& x) { return fn(x); });                                                                  \
  })

REDUCE_REF("sum", fg::sum)
REDUCE_REF("mean", fg::mean)
REDUCE_REF("max", fg::max)
REDUCE_REF("min", fg::min)
REDUCE_REF("logsumexp", fg::logsumexp)

FG_REFERENCE_TEST("reduce", "var", [](const Inputs& in, const Params& p) {
  const auto c = p["correction"].get<std::int64_t>();
  return reduce_by_params(
      in[0], p, [c](const Tensor& x, std::int64_t a, bool k) { return var(x, a, c, k); },
      [c](const Tensor& x) { return var(x, c); });
})

FG_REFERENCE_TEST("reduce", "sum_to_shape", [](const Inputs& in, const Params& p) {
  return sum_to_shape(in[0], p["shape"].get<Shape>());
})

FG_REFERENCE_TEST("reduce", "argmax", [](const Inputs& in, const Params& p) {
  return argmax(in[0], p["axis"].get<std::int64_t>(), p["keepdim"].get<bool>()).to(DType::f64);
})

TEST_CASE("reference vs PyTorch [reduce]: every fixture case has a C++ op") {
  testing::check_reference_coverage("reduce");
}
