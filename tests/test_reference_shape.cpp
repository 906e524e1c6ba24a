// tests/test_reference_shape.cpp: the shape ops vs PyTorch 1.13 (float64), fixtures from
// tests/reference/ref_shape.py: transpose, permute, reshape, flatten, unsqueeze, squeeze,
// concat, stack, split, slice (view and copy), select, index_select, gather, scatter_add.
#include <doctest/doctest.h>

#include "support/reference.h"

using namespace fg;
using Params = nlohmann::json;
using Inputs = std::vector<Tensor>;

namespace {
std::int64_t get_int(const Params& p, const char* key) { return p[key].get<std::int64_t>(); }
}  // namespace

FG_REFERENCE_TEST("shape", "transpose", [](const Inputs& in, const Params& p) {
  return transpose(in[0], get_int(p, "axis0"), get_int(p, "axis1"));
})
FG_REFERENCE_TEST("shape", "permute", [](const Inputs& in, const Params& p) {
  return permute(in[0], p["perm"].get<std::vector<std::int64_t>>());
})
FG_REFERENCE_TEST("shape", "reshape",
                  [](const Inputs& in, const Params& p) { return reshape(in[0], p["shape"].get<Shape>()); })
FG_REFERENCE_TEST("shape", "flatten", [](const Inputs& in, const Params& p) {
  return flatten(in[0], get_int(p, "start"), get_int(p, "end"));
})
FG_REFERENCE_TEST("shape", "unsqueeze",
                  [](const Inputs& in, const Params& p) { return unsqueeze(in[0], get_int(p, "axis")); })
FG_REFERENCE_TEST("shape", "squeeze", [](const Inputs& in, const Params& p) { return squeeze(in[0], get_int(p, "axis")); })
FG_REFERENCE_TEST("shape", "concat", [](const Inputs& in, const Params& p) { return concat(in, get_int(p, "axis")); })
FG_REFERENCE_TEST("shape", "stack", [](const Inputs& in, const Params& p) { return stack(in, get_int(p, "axis")); })
FG_REFERENCE_TEST("shape", "split", [](const Inputs& in, const Params& p) {
  std::vector<Tensor> flat;
  for (const Tensor& piece : split(in[0], p["sizes"].get<std::vector<std::int64_t>>(), get_int(p, "axis")))
    flat.push_back(reshape(piece, {-1}));
  return concat(flat, 0);
})
FG_REFERENCE_TEST("shape", "slice", [](const Inputs& in, const Params& p) {
  return slice(in[0], get_int(p, "axis"), get_int(p, "start"), get_int(p, "length"));
})
FG_REFERENCE_TEST("shape", "select", [](const Inputs& in, const Params& p) {
  return select(in[0], get_int(p, "axis"), get_int(p, "index"));
})
FG_REFERENCE_TEST("shape", "index_select", [](const Inputs& in, const Params& p) {
  REQUIRE(in[1].dtype() == DType::i64);
  return index_select(in[0], get_int(p, "axis"), in[1]);
})
FG_REFERENCE_TEST("shape", "gather", [](const Inputs& in, const Params& p) {
  REQUIRE(in[1].dtype() == DType::i64);
  return gather(in[0], get_int(p, "axis"), in[1]);
})
FG_REFERENCE_TEST("shape", "scatter_add", [](const Inputs& in, const Params& p) {
  REQUIRE(in[1].dtype() == DType::i64);
  return scatter_add(in[0], get_int(p, "axis"), in[1], get_int(p, "dim_size"));
})

TEST_CASE("reference vs PyTorch [shape]: every fixture case has a C++ op") {
  testing::check_reference_coverage("shape");
}
