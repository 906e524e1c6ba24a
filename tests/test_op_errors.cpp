// tests/test_op_errors.cpp: bad input to the ops of engine/ops.h gets an fg::Error whose
// message names the op (and says what was expected), never a crash or silent garbage:
// mismatched shapes, dtypes and devices, bad axes, out-of-range indices, wrong sizes,
// undefined tensors.
//
// Devices: with a CUDA device present the "other device" operand is a real CUDA tensor.
// Without one, it is a CPU tensor whose storage is labelled cuda:0 for the duration of the
// test: every op checks devices before touching data, so the label is all a check sees
// (and a missing check would reach the kernel dispatch, which throws in a CPU-only build).
#include <doctest/doctest.h>

#include <memory>

#include "engine/device.h"
#include "support/op_inputs.h"

using namespace fg;
using doctest::Contains;
using fg::testing::index_tensor;

namespace {

Tensor f64(const Shape& s) { return full(s, 0.5, f64_opts()); }
Tensor f32(const Shape& s) { return full(s, 0.5, f32_opts()); }
Tensor i64(const Shape& s) { return zeros(s, TensorOptions{DType::i64}); }

// A tensor that reports being on cuda:0 (see the file comment); restores the label when done.
class OnOtherDevice {
 public:
  explicit OnOtherDevice(const Tensor& cpu_tensor) {
    if (device::cuda_available()) {
      t_ = cpu_tensor.to(Device::cuda(0));
      return;
    }
    t_ = cpu_tensor.clone();
    storage_ = t_.impl()->storage;
    storage_->device = Device::cuda(0);
  }
  ~OnOtherDevice() {
    if (storage_) storage_->device = Device::cpu();  // freed as the host memory it is
  }
  OnOtherDevice(const OnOtherDevice&) = delete;
  OnOtherDevice& operator=(const OnOtherDevice&) = delete;
  const Tensor& get() const { return t_; }

 private:
  Tensor t_;
  std::shared_ptr<Storage> storage_;
};

}  // namespace

// ---------------------------------------------------------------- elementwise
TEST_CASE("op errors: elementwise shapes, dtypes and undefined inputs") {
  CHECK_THROWS_WITH_AS(add(f64({2, 3}), f64({4})), Contains("add: shapes [2, 3] and [4] cannot be broadcast"), Error);
  CHECK_THROWS_WITH_AS(sub(f64({2, 3}), f64({3, 2})), Contains("sub:"), Error);
  CHECK_THROWS_WITH_AS(mul(f64({3}), f32({3})), Contains("mul: operands have different dtypes"), Error);
  CHECK_THROWS_WITH_AS(div(i64({3}), i64({3})), Contains("div: expected a float32 or float64"), Error);
  CHECK_THROWS_WITH_AS(maximum(f64({2}), f64({3})), Contains("maximum:"), Error);
  CHECK_THROWS_WITH_AS(minimum(f32({2}), f64({2})), Contains("minimum:"), Error);
  CHECK_THROWS_WITH_AS(pow(f64({2, 2}), f64({3})), Contains("pow:"), Error);
  CHECK_THROWS_WITH_AS(exp(i64({3})), Contains("exp: expected a float32 or float64"), Error);
  CHECK_THROWS_WITH_AS(gelu(i64({3}), true), Contains("gelu"), Error);
  CHECK_THROWS_WITH_AS(tanh(Tensor()), Contains("tanh: got an undefined tensor"), Error);
  CHECK_THROWS_WITH_AS(add(Tensor(), f64({1})), Contains("add: got an undefined tensor"), Error);
  CHECK_THROWS_WITH_AS(clamp(f64({2}), 1.0, -1.0), Contains("clamp: lo (1) must not exceed hi (-1)"), Error);
  CHECK_THROWS_WITH_AS(softplus(f64({2}), 0.0), Contains("softplus: beta must be positive"), Error);
}

TEST_CASE("op errors: where, masked_fill and broadcast_to") {
  CHECK_THROWS_WITH_AS(where(f64({2, 3}), f64({4}), f64({4})), Contains("where:"), Error);
  CHECK_THROWS_WITH_AS(where(f32({3}), f64({3}), f64({3})), Contains("where"), Error);
  CHECK_THROWS_WITH_AS(where(f64({3}), f64({3}), f32({3})), Contains("where:"), Error);
  CHECK_THROWS_WITH_AS(masked_fill(f64({2, 3}), f64({4}), 0.0), Contains("masked_fill:"), Error);
  CHECK_THROWS_WITH_AS(masked_fill(f64({3}), f32({3}), 0.0), Contains("masked_fill:"), Error);
  CHECK_THROWS_WITH_AS(masked_fill(Tensor(), f64({3}), 0.0), Contains("masked_fill:"), Error);
  // masked_fill keeps x's shape: a mask that would enlarge it is an error (as in PyTorch)
  CHECK_THROWS_WITH_AS(masked_fill(f64({3}), f64({2, 3}), 0.0), Contains("masked_fill:"), Error);
  CHECK_THROWS_WITH_AS(broadcast_to(f64({2, 3}), {3, 3}), Contains("broadcast_to:"), Error);
  CHECK_THROWS_WITH_AS(broadcast_to(f64({2, 3}), {3}), Contains("broadcast_to: cannot broadcast [2, 3] to [3]"), Error);
  CHECK_THROWS_WITH_AS(broadcast_to(Tensor(), {3}), Contains("broadcast_to:"), Error);
}

TEST_CASE("op errors: operands on different devices") {
  const OnOtherDevice other(f32({2, 3}));
  const Tensor& g = other.get();
  REQUIRE(g.device().is_cuda());
  const OnOtherDevice other_idx(index_tensor({0, 1}, {2}));
  const OnOtherDevice other_vec(f32({3}));
  CHECK_THROWS_WITH_AS(add(f32({2, 3}), g), Contains("add: operands are on different devices"), Error);
  CHECK_THROWS_WITH_AS(mul(g, f32({2, 3})), Contains("mul: operands are on different devices"), Error);
  CHECK_THROWS_WITH_AS(where(f32({2, 3}), g, f32({2, 3})), Contains("where"), Error);
  CHECK_THROWS_WITH_AS(masked_fill(g, f32({2, 3}), 1.0), Contains("masked_fill:"), Error);
  CHECK_THROWS_WITH_AS(matmul(f32({3, 2}), g), Contains("matmul: operands are on different devices"), Error);
  CHECK_THROWS_WITH_AS(linear(f32({4, 3}), g), Contains("linear: operands are on different devices"), Error);
  CHECK_THROWS_WITH_AS(linear(f32({4, 3}), f32({2, 3}), other_vec.get()), Contains("linear (bias)"), Error);
  CHECK_THROWS_WITH_AS(concat({f32({2, 3}), g}, 0), Contains("concat: tensor 1"), Error);
  CHECK_THROWS_WITH_AS(layer_norm(f32({2, 3}), other_vec.get(), Tensor()), Contains("layer_norm"), Error);
  CHECK_THROWS_WITH_AS(index_select(f32({2, 3}), 0, other_idx.get()), Contains("index_select: indices are on cuda:0"),
                       Error);
  CHECK_THROWS_WITH_AS(cross_entropy(f32({2, 3}), other_idx.get()), Contains("cross_entropy"), Error);
  CHECK_THROWS_WITH_AS(mse_loss(f32({2, 3}), g), Contains("mse_loss: operands are on different devices"), Error);
  CHECK_THROWS_WITH_AS(binary_cross_entropy_with_logits(g, f32({2, 3})),
                       Contains("binary_cross_entropy_with_logits:"), Error);
}

// ---------------------------------------------------------------- reductions
TEST_CASE("op errors: reductions") {
  const Tensor x = f64({2, 3});
  CHECK_THROWS_WITH_AS(sum(x, 2), Contains("sum: axis 2 is out of range for a tensor of rank 2"), Error);
  CHECK_THROWS_WITH_AS(mean(x, -3), Contains("mean: axis -3 is out of range"), Error);
  CHECK_THROWS_WITH_AS(max(x, 5, true), Contains("max: axis 5"), Error);
  CHECK_THROWS_WITH_AS(min(x, -7), Contains("min: axis -7"), Error);
  CHECK_THROWS_WITH_AS(logsumexp(x, 2), Contains("logsumexp: axis 2"), Error);
  CHECK_THROWS_WITH_AS(var(x, 2, 1), Contains("var: axis 2"), Error);
  CHECK_THROWS_WITH_AS(argmax(x, 2), Contains("argmax: axis 2"), Error);
  CHECK_THROWS_WITH_AS(var(x, 1, 3), Contains("var: 3 elements with correction 3 leave no degrees of freedom"), Error);
  CHECK_THROWS_WITH_AS(var(f64({1}), 1), Contains("var:"), Error);
  CHECK_THROWS_WITH_AS(max(f64({0, 3}), 0), Contains("max: cannot reduce over an empty axis"), Error);
  CHECK_THROWS_WITH_AS(min(f64({0})), Contains("min: cannot reduce over an empty axis"), Error);
  CHECK_THROWS_WITH_AS(sum(i64({3})), Contains("sum: expected a float32 or float64"), Error);
  CHECK_THROWS_WITH_AS(sum(Tensor()), Contains("sum:"), Error);
  CHECK_THROWS_WITH_AS(mean(Tensor()), Contains("mean:"), Error);
  CHECK_THROWS_WITH_AS(sum(Tensor(), 0), Contains("sum:"), Error);
  CHECK_THROWS_WITH_AS(sum_to_shape(x, {4}), Contains("sum_to_shape: cannot sum [2, 3] down to [4]"), Error);
  CHECK_THROWS_WITH_AS(sum_to_shape(x, {1, 2, 3}), Contains("sum_to_shape:"), Error);
  CHECK_THROWS_WITH_AS(sum_to_shape(Tensor(), {1}), Contains("sum_to_shape:"), Error);
}

// ---------------------------------------------------------------- linear algebra
TEST_CASE("op errors: matmul, bmm and linear") {
  CHECK_THROWS_WITH_AS(matmul(f64({2, 3}), f64({4, 5})), Contains("matmul: inner dimensions differ: [2, 3] x [4, 5]"),
                       Error);
  CHECK_THROWS_WITH_AS(matmul(f64({3}), f64({3, 2})), Contains("matmul: both operands need at least 2 dims"), Error);
  CHECK_THROWS_WITH_AS(matmul(f64({2, 2, 3}), f64({3, 3, 2})), Contains("matmul: batch dimensions must match"), Error);
  CHECK_THROWS_WITH_AS(matmul(f64({2, 3}), f32({3, 2})), Contains("matmul: operands have different dtypes"), Error);
  CHECK_THROWS_WITH_AS(matmul(i64({2, 3}), i64({3, 2})), Contains("matmul: expected a float32 or float64"), Error);
  CHECK_THROWS_WITH_AS(bmm(f64({2, 3}), f64({3, 2})), Contains("bmm: expected two 3-D tensors"), Error);
  CHECK_THROWS_WITH_AS(bmm(f64({2, 2, 3}), f64({3, 3, 2})), Contains("bmm: batch sizes differ: 2 and 3"), Error);
  CHECK_THROWS_WITH_AS(bmm(f64({2, 2, 3}), f64({2, 4, 2})), Contains("matmul: inner dimensions differ"), Error);
  CHECK_THROWS_WITH_AS(linear(f64({4, 3}), f64({2, 5})), Contains("linear: input float64[4, 3] on cpu does not end in the weight's in-size 5"), Error);
  CHECK_THROWS_WITH_AS(linear(f64({4, 3}), f64({3})), Contains("linear: weight must be [out, in]"), Error);
  CHECK_THROWS_WITH_AS(linear(f64({4, 3}), f64({2, 3}), f64({3})), Contains("linear: bias must be [2]"), Error);
  CHECK_THROWS_WITH_AS(linear(f64({4, 3}), f64({2, 3}), f32({2})), Contains("linear (bias)"), Error);
  CHECK_THROWS_WITH_AS(linear(f64({4, 3}), f32({2, 3})), Contains("linear: operands have different dtypes"), Error);
}

// ---------------------------------------------------------------- shape
TEST_CASE("op errors: reshape, flatten, squeeze, unsqueeze, permute, transpose") {
  const Tensor x = f64({2, 3, 4});
  CHECK_THROWS_WITH_AS(reshape(x, {5, 5}), Contains("reshape: float64[2, 3, 4] on cpu has 24 elements, [5, 5] has 25"), Error);
  CHECK_THROWS_WITH_AS(reshape(x, {-1, 5}), Contains("reshape: cannot infer -1"), Error);
  CHECK_THROWS_WITH_AS(reshape(x, {-1, -1}), Contains("reshape: more than one -1"), Error);
  CHECK_THROWS_WITH_AS(reshape(x, {-2, -12}), Contains("reshape: negative size"), Error);
  CHECK_THROWS_WITH_AS(flatten(x, 2, 1), Contains("flatten: start axis 2 is after end axis 1"), Error);
  CHECK_THROWS_WITH_AS(flatten(x, 0, 3), Contains("flatten: axis 3"), Error);
  CHECK_THROWS_WITH_AS(squeeze(x, 1), Contains("squeeze: axis 1 of float64[2, 3, 4] on cpu has size 3, not 1"), Error);
  CHECK_THROWS_WITH_AS(squeeze(x, 3), Contains("squeeze: axis 3"), Error);
  CHECK_THROWS_WITH_AS(unsqueeze(x, 4), Contains("unsqueeze: axis 4"), Error);
  CHECK_THROWS_WITH_AS(unsqueeze(x, -5), Contains("unsqueeze: axis -5"), Error);
  CHECK_THROWS_WITH_AS(permute(x, {0, 1}), Contains("permute: 2 axes given for a tensor of rank 3"), Error);
  CHECK_THROWS_WITH_AS(permute(x, {0, 1, 1}), Contains("permute: axis 1 appears twice"), Error);
  CHECK_THROWS_WITH_AS(permute(x, {0, 1, 3}), Contains("permute: axis 3"), Error);
  CHECK_THROWS_WITH_AS(transpose(x, 0, 3), Contains("transpose: axis 3"), Error);
  CHECK_THROWS_WITH_AS(transpose(Tensor(), 0, 1), Contains("transpose: got an undefined tensor"), Error);
}

TEST_CASE("op errors: concat, stack, split, slice, select") {
  const Tensor x = f64({2, 3});
  CHECK_THROWS_WITH_AS(concat({}, 0), Contains("concat: no tensors given"), Error);
  CHECK_THROWS_WITH_AS(concat({x, f64({3, 3})}, 1), Contains("concat along axis 1: tensor 1 is [3, 3]"), Error);
  CHECK_THROWS_WITH_AS(concat({x, f64({2, 3, 1})}, 0), Contains("concat: tensor 1 has rank 3"), Error);
  CHECK_THROWS_WITH_AS(concat({x, f32({2, 3})}, 0), Contains("concat: tensor 1 is float32[2, 3]"), Error);
  CHECK_THROWS_WITH_AS(concat({x, x}, 2), Contains("concat: axis 2"), Error);
  CHECK_THROWS_WITH_AS(stack({x, f64({3, 2})}, 0), Contains("stack: all tensors must have shape [2, 3]"), Error);
  CHECK_THROWS_WITH_AS(stack({x, x}, 3), Contains("stack: axis 3"), Error);
  CHECK_THROWS_WITH_AS(stack({}, 0), Contains("stack: no tensors given"), Error);
  CHECK_THROWS_WITH_AS(split(x, {1, 1}, 1), Contains("split: sizes add up to 2 but axis 1"), Error);
  CHECK_THROWS_WITH_AS(split(x, {4, -1}, 1), Contains("split:"), Error);
  CHECK_THROWS_WITH_AS(split(x, {3}, 2), Contains("split: axis 2"), Error);
  CHECK_THROWS_WITH_AS(slice(x, 1, 2, 2), Contains("slice: [2, 4) is outside axis 1 of size 3"), Error);
  CHECK_THROWS_WITH_AS(slice(x, 0, -1, 1), Contains("slice:"), Error);
  CHECK_THROWS_WITH_AS(slice(x, 2, 0, 1), Contains("slice: axis 2"), Error);
  CHECK_THROWS_WITH_AS(select(x, 1, 3), Contains("select: index 3 is out of range for axis 1 of size 3"), Error);
  CHECK_THROWS_WITH_AS(select(x, 0, -3), Contains("select: index -3"), Error);
  CHECK_THROWS_WITH_AS(select(x, 2, 0), Contains("select: axis 2"), Error);
}

TEST_CASE("op errors: index_select, gather and scatter_add") {
  const Tensor x = f64({4, 3});
  // out of range, both ends, with the bad value, its position and the valid range
  CHECK_THROWS_WITH_AS(index_select(x, 0, index_tensor({0, 4, 1}, {3})),
                       Contains("index_select: index 4 (at position 1 of the index tensor) is out of range [0, 4)"),
                       Error);
  CHECK_THROWS_WITH_AS(index_select(x, 1, index_tensor({-1}, {1})), Contains("index_select: index -1"), Error);
  CHECK_THROWS_WITH_AS(index_select(x, 0, f64({2})), Contains("index_select: indices must be int64"), Error);
  CHECK_THROWS_WITH_AS(index_select(x, 0, i64({2, 1})), Contains("index_select: indices must be 1-D"), Error);
  CHECK_THROWS_WITH_AS(index_select(x, 2, i64({1})), Contains("index_select: axis 2"), Error);
  CHECK_THROWS_WITH_AS(index_select(x, 0, Tensor()), Contains("index_select: the index tensor is undefined"), Error);

  CHECK_THROWS_WITH_AS(gather(x, 1, index_tensor({0, 1, 3, 0}, {4, 1})),
                       Contains("gather: index 3 (at position 2 of the index tensor) is out of range [0, 3)"), Error);
  CHECK_THROWS_WITH_AS(gather(x, 0, index_tensor({-2, 0, 0}, {1, 3})), Contains("gather: index -2"), Error);
  CHECK_THROWS_WITH_AS(gather(x, 1, i64({4})), Contains("gather: index rank 1 differs from data rank 2"), Error);
  CHECK_THROWS_WITH_AS(gather(x, 1, i64({3, 2})), Contains("gather: index [3, 2] must match data [4, 3]"), Error);
  CHECK_THROWS_WITH_AS(gather(x, 1, f64({4, 2})), Contains("gather: indices must be int64"), Error);
  CHECK_THROWS_WITH_AS(gather(x, -3, i64({4, 2})), Contains("gather: axis -3"), Error);

  const Tensor src = f64({2, 3});
  CHECK_THROWS_WITH_AS(scatter_add(src, 1, index_tensor({0, 1, 2, 0, 5, 1}, {2, 3}), 3),
                       Contains("scatter_add: index 5 (at position 4 of the index tensor) is out of range [0, 3)"),
                       Error);
  CHECK_THROWS_WITH_AS(scatter_add(src, 0, index_tensor({0, 0, -1, 0, 0, 0}, {2, 3}), 2),
                       Contains("scatter_add: index -1"), Error);
  CHECK_THROWS_WITH_AS(scatter_add(src, 1, i64({2, 2}), 3), Contains("scatter_add: index [2, 2] must have the source"),
                       Error);
  CHECK_THROWS_WITH_AS(scatter_add(src, 1, i64({2, 3}), -1), Contains("scatter_add: dim_size must be non-negative"),
                       Error);
  CHECK_THROWS_WITH_AS(scatter_add(src, 2, i64({2, 3}), 3), Contains("scatter_add: axis 2"), Error);
  CHECK_THROWS_WITH_AS(scatter_add(i64({2, 3}), 1, i64({2, 3}), 3), Contains("scatter_add: expected a float32"), Error);
}

// ---------------------------------------------------------------- nn
TEST_CASE("op errors: softmax, log_softmax, layer_norm, dropout") {
  const Tensor x = f64({2, 3});
  CHECK_THROWS_WITH_AS(softmax(x, 2), Contains("softmax: axis 2"), Error);
  CHECK_THROWS_WITH_AS(log_softmax(x, -3), Contains("log_softmax: axis -3"), Error);
  CHECK_THROWS_WITH_AS(softmax(i64({3})), Contains("softmax: expected a float32 or float64"), Error);
  CHECK_THROWS_WITH_AS(softmax(f64({2, 0}), 1), Contains("softmax: empty axis"), Error);
  CHECK_THROWS_WITH_AS(layer_norm(x, f64({2}), Tensor()), Contains("layer_norm: gamma and beta must be [3]"), Error);
  CHECK_THROWS_WITH_AS(layer_norm(x, Tensor(), f64({3, 1})), Contains("layer_norm: gamma and beta must be [3]"), Error);
  CHECK_THROWS_WITH_AS(layer_norm(x, f32({3}), Tensor()), Contains("layer_norm (gamma/beta)"), Error);
  CHECK_THROWS_WITH_AS(layer_norm(f64({}), Tensor(), Tensor()), Contains("layer_norm: needs at least one dim"), Error);
  CHECK_THROWS_WITH_AS(layer_norm(x, Tensor(), Tensor(), -1.0), Contains("layer_norm: eps must be non-negative"),
                       Error);
  Generator gen(1);
  CHECK_THROWS_WITH_AS(dropout(x, 1.0, true, gen), Contains("dropout: p must be in [0, 1), got 1"), Error);
  CHECK_THROWS_WITH_AS(dropout(x, -0.1, true, gen), Contains("dropout: p must be in [0, 1)"), Error);
  CHECK_THROWS_WITH_AS(dropout(i64({3}), 0.5, true, gen), Contains("dropout: expected a float32 or float64"), Error);
}

// ---------------------------------------------------------------- losses
TEST_CASE("op errors: losses") {
  CHECK_THROWS_WITH_AS(l1_loss(f64({2, 3}), f64({3, 2})),
                       Contains("l1_loss: prediction [2, 3] and target [3, 2] must have the same shape"), Error);
  CHECK_THROWS_WITH_AS(mse_loss(f64({3}), f64({1})), Contains("mse_loss: prediction [3] and target [1]"), Error);
  CHECK_THROWS_WITH_AS(mse_loss(f64({3}), f32({3})), Contains("mse_loss: operands have different dtypes"), Error);
  CHECK_THROWS_WITH_AS(l1_loss(i64({3}), i64({3})), Contains("l1_loss: expected a float32 or float64"), Error);
  CHECK_THROWS_WITH_AS(binary_cross_entropy_with_logits(f64({2, 2}), f64({4})),
                       Contains("binary_cross_entropy_with_logits: prediction [2, 2] and target [4]"), Error);

  const Tensor logits = f64({3, 4});
  CHECK_THROWS_WITH_AS(cross_entropy(logits, index_tensor({0, 4, 1}, {3})),
                       Contains("cross_entropy: target class 4 at row 1 is outside [0, 4)"), Error);
  CHECK_THROWS_WITH_AS(cross_entropy(logits, index_tensor({0, 1, -1}, {3})),
                       Contains("cross_entropy: target class -1 at row 2 is outside [0, 4)"), Error);
  CHECK_THROWS_WITH_AS(cross_entropy(logits, index_tensor({0, 1}, {2})),
                       Contains("cross_entropy: target must be int64 [3] class ids"), Error);
  CHECK_THROWS_WITH_AS(cross_entropy(logits, f64({3})), Contains("cross_entropy (target): indices must be int64"),
                       Error);
  CHECK_THROWS_WITH_AS(cross_entropy(f64({4}), i64({4})), Contains("cross_entropy: logits must be [rows, classes]"),
                       Error);
  CHECK_THROWS_WITH_AS(cross_entropy(f64({3, 0}), i64({3})), Contains("cross_entropy: logits have no classes"), Error);
}
