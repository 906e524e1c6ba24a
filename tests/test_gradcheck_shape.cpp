// tests/test_gradcheck_shape.cpp: float64 gradient checks of the shape ops of engine/ops.h:
// transpose/permute, reshape, flatten, unsqueeze, squeeze, concat, stack, split, slice
// (leading axis = a view, inner axis = a copy), select, index_select (repeated indices),
// gather and scatter_add, each along every axis.
#include <doctest/doctest.h>

#include <array>

#include "support/gradcheck.h"
#include "support/op_inputs.h"

using namespace fg;
using fg::testing::index_tensor;
using fg::testing::rand_input;
using Inputs = std::vector<Tensor>;

namespace {

void check_grad(const testing::TensorFn& f, const Inputs& in) { CHECK_GRADCHECK(f, in); }

bool shares_storage(const Tensor& a, const Tensor& b) { return a.impl()->storage == b.impl()->storage; }

// Random int64 indices in [0, n) with the given shape (seeded; small n makes repeats certain).
Tensor random_indices(const Shape& shape, std::int64_t n, std::uint64_t seed) {
  Generator gen(seed);
  std::vector<std::int64_t> v(static_cast<std::size_t>(shape_numel(shape)));
  for (auto& i : v) i = static_cast<std::int64_t>(gen.next_below(static_cast<std::uint64_t>(n)));
  return index_tensor(v, shape);
}

}  // namespace

TEST_CASE("gradcheck: transpose") {
  const std::vector<std::pair<std::int64_t, std::int64_t>> pairs = {{0, 2}, {1, -1}, {0, 1}, {-3, -2}, {1, 1}};
  for (const auto& [a0, a1] : pairs) {
    CAPTURE(a0);
    CAPTURE(a1);
    check_grad([a0 = a0, a1 = a1](const Inputs& in) { return transpose(in[0], a0, a1); }, {rand_input({2, 3, 4}, 1)});
  }
  CHECK(transpose(rand_input({2, 3, 4}, 1), 0, 2).shape() == Shape{4, 3, 2});
}

TEST_CASE("gradcheck: permute") {
  const std::vector<std::pair<Shape, std::vector<std::int64_t>>> cases = {
      {{2, 3, 4}, {2, 0, 1}}, {{2, 3, 4}, {1, 2, 0}}, {{2, 3, 4}, {0, 2, 1}}, {{2, 3, 2, 2}, {3, 1, 0, 2}},
      {{2, 3, 4}, {-1, 0, -2}}, {{2, 3}, {0, 1}}};
  std::uint64_t seed = 2;
  for (const auto& [shape, perm] : cases) {
    CAPTURE(shape_str(shape));
    CAPTURE(shape_str(perm));
    const Tensor x = rand_input(shape, seed++);
    const Tensor y = permute(x, perm);
    for (std::size_t d = 0; d < perm.size(); ++d)
      CHECK(y.shape()[d] == x.size(perm[d]));
    check_grad([perm = perm](const Inputs& in) { return permute(in[0], perm); }, {x});
  }
  // values: y[i, j, k] = x[j, k, i] for perm {2, 0, 1}
  const Tensor x = from_vector(std::vector<double>{0, 1, 2, 3, 4, 5}, {1, 2, 3});
  CHECK(permute(x, {2, 0, 1}).to_vector<double>() == std::vector<double>{0, 3, 1, 4, 2, 5});
}

TEST_CASE("gradcheck: reshape") {
  const std::vector<Shape> targets = {{6, 4}, {4, -1}, {24}, {2, 2, 2, 3}, {-1}, {1, 24, 1}};
  std::uint64_t seed = 3;
  for (const Shape& target : targets) {
    CAPTURE(shape_str(target));
    const Tensor x = rand_input({2, 3, 4}, seed++);
    CHECK(shares_storage(reshape(x, target), x));
    check_grad([target](const Inputs& in) { return reshape(in[0], target); }, {x});
  }
  INFO("one element to 0-d and back");
  check_grad([](const Inputs& in) { return reshape(reshape(in[0], {}), {1, 1}); }, {rand_input({1}, 9)});
}

TEST_CASE("gradcheck: flatten") {
  const std::vector<std::pair<std::int64_t, std::int64_t>> ranges = {{0, -1}, {1, 2}, {0, 1}, {-2, -1}, {2, 2}};
  for (const auto& [s, e] : ranges) {
    CAPTURE(s);
    CAPTURE(e);
    check_grad([s = s, e = e](const Inputs& in) { return flatten(in[0], s, e); }, {rand_input({2, 3, 2, 2}, 4)});
  }
  CHECK(flatten(rand_input({2, 3, 2, 2}, 4), 1, 2).shape() == Shape{2, 6, 2});
  INFO("0-d input becomes [1]");
  check_grad([](const Inputs& in) { return flatten(in[0]); }, {rand_input({}, 5)});
}

TEST_CASE("gradcheck: unsqueeze") {
  for (std::int64_t axis = -3; axis <= 2; ++axis) {
    CAPTURE(axis);
    const Tensor x = rand_input({2, 3}, 6);
    Shape expect = {2, 3};
    expect.insert(expect.begin() + (axis < 0 ? axis + 3 : axis), 1);
    CHECK(unsqueeze(x, axis).shape() == expect);
    check_grad([axis](const Inputs& in) { return unsqueeze(in[0], axis); }, {x});
  }
}

TEST_CASE("gradcheck: squeeze") {
  for (std::int64_t axis : {1, 3, -1, -3}) {
    CAPTURE(axis);
    const Tensor x = rand_input({2, 1, 3, 1}, 7);
    CHECK(squeeze(x, axis).dim() == 3);
    check_grad([axis](const Inputs& in) { return squeeze(in[0], axis); }, {x});
  }
}

TEST_CASE("gradcheck: concat") {
  for (std::int64_t axis = -3; axis <= 2; ++axis) {
    CAPTURE(axis);
    const std::int64_t a = axis < 0 ? axis + 3 : axis;
    Shape s0 = {2, 3, 2}, s1 = s0, s2 = s0;
    s1[a] = 1;
    s2[a] = 3;
    const Tensor x0 = rand_input(s0, 1), x1 = rand_input(s1, 2), x2 = rand_input(s2, 3);
    Shape expect = s0;
    expect[a] = s0[a] + 1 + 3;
    CHECK(concat({x0, x1, x2}, axis).shape() == expect);
    check_grad([axis](const Inputs& in) { return concat({in[0], in[1], in[2]}, axis); }, {x0, x1, x2});
  }
  INFO("a constant among the inputs");
  const Tensor c = testing::const_f64({1, 2, 3, 4}, {2, 2});
  check_grad([&](const Inputs& in) { return concat({c, in[0]}, 1); }, {rand_input({2, 3}, 4)});
}

TEST_CASE("gradcheck: stack") {
  for (std::int64_t axis = -3; axis <= 2; ++axis) {
    CAPTURE(axis);
    const Tensor x0 = rand_input({2, 3}, 1), x1 = rand_input({2, 3}, 2);
    Shape expect = {2, 3};
    expect.insert(expect.begin() + (axis < 0 ? axis + 3 : axis), 2);
    CHECK(stack({x0, x1}, axis).shape() == expect);
    check_grad([axis](const Inputs& in) { return stack({in[0], in[1]}, axis); }, {x0, x1});
  }
}

TEST_CASE("gradcheck: split") {
  struct Case {
    Shape shape;
    std::vector<std::int64_t> sizes;
    std::int64_t axis;
  };
  const std::vector<Case> cases = {
      {{5, 4}, {2, 3}, 0}, {{5, 4}, {1, 3}, 1}, {{2, 3, 4}, {1, 1, 2}, -1}, {{2, 3, 4}, {0, 3}, 1}};
  std::uint64_t seed = 8;
  for (const Case& c : cases) {
    CAPTURE(shape_str(c.shape));
    CAPTURE(shape_str(c.sizes));
    CAPTURE(c.axis);
    const Tensor x = rand_input(c.shape, seed++);
    const auto parts = split(x, c.sizes, c.axis);
    REQUIRE(parts.size() == c.sizes.size());
    for (std::size_t i = 0; i < parts.size(); ++i) CHECK(parts[i].size(c.axis) == c.sizes[i]);
    // every piece enters the checked output (flattened and joined)
    check_grad(
        [c](const Inputs& in) {
          std::vector<Tensor> flat;
          for (const Tensor& p : split(in[0], c.sizes, c.axis)) flat.push_back(reshape(p, {-1}));
          return concat(flat, 0);
        },
        {x});
  }
}

TEST_CASE("gradcheck: slice") {
  SUBCASE("leading axis: a view of the input") {
    const Tensor x = rand_input({5, 3}, 1);
    const Tensor y = slice(x, 0, 1, 3);
    CHECK(shares_storage(y, x));
    CHECK(y.shape() == Shape{3, 3});
    check_grad([](const Inputs& in) { return slice(in[0], 0, 1, 3); }, {x});
    check_grad([](const Inputs& in) { return slice(in[0], 0, 4, 1); }, {x});
    INFO("every axis before the sliced one has size 1: still a view");
    const Tensor z = rand_input({1, 4, 2}, 2);
    CHECK(shares_storage(slice(z, 1, 1, 2), z));
    check_grad([](const Inputs& in) { return slice(in[0], 1, 1, 2); }, {z});
  }
  SUBCASE("inner axis: a copy") {
    const Tensor x = rand_input({2, 5, 3}, 3);
    CHECK_FALSE(shares_storage(slice(x, 1, 1, 3), x));
    const std::vector<std::array<std::int64_t, 3>> cases = {{1, 1, 3}, {2, 0, 2}, {-1, 1, 2}, {-2, 4, 1}};
    for (const auto& [axis, start, len] : cases) {
      CAPTURE(axis);
      CAPTURE(start);
      CAPTURE(len);
      check_grad([axis = axis, start = start, len = len](const Inputs& in) { return slice(in[0], axis, start, len); },
                 {x});
    }
  }
  SUBCASE("values") {
    const Tensor x = from_vector(std::vector<double>{0, 1, 2, 3, 4, 5, 6, 7}, {2, 4});
    CHECK(slice(x, 1, 1, 2).to_vector<double>() == std::vector<double>{1, 2, 5, 6});
    CHECK(slice(x, 0, 1, 1).to_vector<double>() == std::vector<double>{4, 5, 6, 7});
  }
}

TEST_CASE("gradcheck: select") {
  const std::vector<std::pair<std::int64_t, std::int64_t>> cases = {{0, 1}, {1, -1}, {2, 0}, {-2, 2}, {0, -3}};
  for (const auto& [axis, index] : cases) {
    CAPTURE(axis);
    CAPTURE(index);
    const Tensor x = rand_input({3, 4, 2}, 4);
    CHECK(select(x, axis, index).dim() == 2);
    check_grad([axis = axis, index = index](const Inputs& in) { return select(in[0], axis, index); }, {x});
  }
  const Tensor x = from_vector(std::vector<double>{0, 1, 2, 3, 4, 5}, {2, 3});
  CHECK(select(x, 1, -1).to_vector<double>() == std::vector<double>{2, 5});
}

TEST_CASE("gradcheck: index_select") {
  const Shape shape = {4, 3, 2};
  const std::vector<std::pair<std::int64_t, std::vector<std::int64_t>>> cases = {
      {0, {3, 0, 3, 1, 0}}, {1, {2, 2, 0}}, {2, {1, 1, 0, 1}}, {-1, {0}}, {-3, {2, 2, 2}}};
  for (const auto& [axis, ids] : cases) {
    CAPTURE(axis);
    CAPTURE(shape_str(ids));
    const Tensor idx = index_tensor(ids, {static_cast<std::int64_t>(ids.size())});
    const Tensor x = rand_input(shape, 5);
    CHECK(index_select(x, axis, idx).size(axis) == static_cast<std::int64_t>(ids.size()));
    check_grad([axis = axis, idx](const Inputs& in) { return index_select(in[0], axis, idx); }, {x});
  }
  // repeated rows accumulate: d/dx sum(index_select(x, 0, [1, 1, 0])) = [1, 2]
  const Tensor x = from_vector(std::vector<double>{1, 2}, {2}, f64_opts().with_requires_grad());
  sum(index_select(x, 0, index_tensor({1, 1, 0}, {3}))).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{1, 2});
}

TEST_CASE("gradcheck: gather") {
  const Shape shape = {3, 4, 2};
  std::uint64_t seed = 20;
  for (std::int64_t axis = -3; axis <= 2; ++axis) {
    CAPTURE(axis);
    const std::int64_t a = axis < 0 ? axis + 3 : axis;
    Shape idx_shape = shape;
    idx_shape[a] = 5;  // more picks than positions: repeats guaranteed
    const Tensor idx = random_indices(idx_shape, shape[a], seed++);
    const Tensor x = rand_input(shape, seed++);
    CHECK(gather(x, axis, idx).shape() == idx_shape);
    check_grad([axis, idx](const Inputs& in) { return gather(in[0], axis, idx); }, {x});
  }
  const Tensor x = from_vector(std::vector<double>{0, 1, 2, 3, 4, 5}, {2, 3});
  CHECK(gather(x, 1, index_tensor({2, 0, 1, 1}, {2, 2})).to_vector<double>() == std::vector<double>{2, 0, 4, 4});
}

TEST_CASE("gradcheck: scatter_add") {
  const Shape shape = {3, 4, 2};
  std::uint64_t seed = 40;
  for (std::int64_t axis = -3; axis <= 2; ++axis) {
    CAPTURE(axis);
    const std::int64_t a = axis < 0 ? axis + 3 : axis;
    const std::int64_t dim_size = shape[a] == 2 ? 3 : shape[a] - 1;  // fewer or more slots than sources
    const Tensor idx = random_indices(shape, dim_size, seed++);
    const Tensor src = rand_input(shape, seed++);
    Shape expect = shape;
    expect[a] = dim_size;
    CHECK(scatter_add(src, axis, idx, dim_size).shape() == expect);
    check_grad([axis, idx, dim_size](const Inputs& in) { return scatter_add(in[0], axis, idx, dim_size); }, {src});
  }
  const Tensor src = from_vector(std::vector<double>{1, 2, 3, 4}, {4});
  CHECK(scatter_add(src, 0, index_tensor({1, 0, 1, 1}, {4}), 3).to_vector<double>() == std::vector<double>{2, 8, 0});
}
