// engine/ops.h: the differentiable op API of fusegrad.
//
// Every function here takes and returns Tensors, runs its forward kernel on the
// tensors' device (engine/dispatch.h), and, when an input requires grad, records
// a backward closure (engine/autograd.h). Inputs of one op must share a device;
// floating-point ops need float32 or float64 and the same dtype on all inputs.
//
// Implementations, one file per family: engine/ops_elementwise.cpp,
// ops_reduce.cpp, ops_linalg.cpp, ops_shape.cpp, ops_nn.cpp, ops_loss.cpp,
// ops_random.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/random.h"
#include "engine/tensor.h"

namespace fg {

// ---------------------------------------------------------------- unary
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
// GELU, exact (erf) form by default; tanh_approx = true gives BERT's tanh form.
Tensor gelu(const Tensor& x, bool tanh_approx = false);
// log(1 + exp(beta x)) / beta, linear where beta x > threshold (PyTorch's convention).
Tensor softplus(const Tensor& x, double beta = 1.0, double threshold = 20.0);
Tensor clamp(const Tensor& x, double lo, double hi);
Tensor pow(const Tensor& x, double exponent);
Tensor square(const Tensor& x);
Tensor reciprocal(const Tensor& x);
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
Tensor log1p(const Tensor& x);
Tensor expm1(const Tensor& x);
Tensor add_scalar(const Tensor& x, double s);
Tensor mul_scalar(const Tensor& x, double s);

// ---------------------------------------------------------------- binary (NumPy broadcasting)
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
// Comparisons: 1 where true, 0 where false, in the operands' dtype; never differentiable.
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, const Tensor& b);
// cond != 0 ? a : b, broadcasting all three. cond is a float tensor of 0/1 (e.g. from gt);
// gradients flow to a and b, never to cond.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
// x where mask == 0, value where mask != 0.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);
// The shape NumPy broadcasting gives; throws naming `op` if incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// Copies x to `shape` by broadcasting (differentiable: the gradient is summed back).
Tensor broadcast_to(const Tensor& x, const Shape& shape);

// In place, no graph: dst += src (same shape). Used for gradient accumulation and optimizers.
void add_(Tensor& dst, const Tensor& src);
// In place, no graph: dst = src (same shape, dtype may differ only if both are floating).
void copy_(Tensor& dst, const Tensor& src);

// Operators (tensor-tensor and tensor-scalar).
Tensor operator-(const Tensor& x);
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double s);
Tensor operator+(double s, const Tensor& a);
Tensor operator-(const Tensor& a, double s);
Tensor operator-(double s, const Tensor& a);
Tensor operator*(const Tensor& a, double s);
Tensor operator*(double s, const Tensor& a);
Tensor operator/(const Tensor& a, double s);
Tensor operator/(double s, const Tensor& a);

// ---------------------------------------------------------------- reductions
// Over one axis (negative counts from the end), optionally keeping it with size 1;
// the versions without axis reduce over all elements to a 0-d tensor.
Tensor sum(const Tensor& x);
Tensor sum(const Tensor& x, std::int64_t axis, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, std::int64_t axis, bool keepdim = false);
// Maximum; the gradient goes to the first position of the maximum (as PyTorch's max(dim)).
Tensor max(const Tensor& x);
Tensor max(const Tensor& x, std::int64_t axis, bool keepdim = false);
Tensor min(const Tensor& x);
Tensor min(const Tensor& x, std::int64_t axis, bool keepdim = false);
// Index of the maximum along axis (int64, no gradient).
Tensor argmax(const Tensor& x, std::int64_t axis, bool keepdim = false);
// Variance with `correction` subtracted from the count (1 = unbiased, as torch.var).
Tensor var(const Tensor& x, std::int64_t correction = 1);
Tensor var(const Tensor& x, std::int64_t axis, std::int64_t correction, bool keepdim = false);
Tensor logsumexp(const Tensor& x);
Tensor logsumexp(const Tensor& x, std::int64_t axis, bool keepdim = false);
// Sums x down to `shape` (the inverse of broadcasting), as broadcast ops' backward needs.
Tensor sum_to_shape(const Tensor& x, const Shape& shape);

// ---------------------------------------------------------------- linear algebra
// Matrix product. a: [..., m, k], b: [k, n] or [..., k, n] with the same leading dims.
// 1-D operands are not promoted: use reshape.
Tensor matmul(const Tensor& a, const Tensor& b);
// Batched [B, m, k] x [B, k, n].
Tensor bmm(const Tensor& a, const Tensor& b);
// x @ w^T + b for x [..., in], w [out, in], b [out] or undefined (nn.Linear's layout).
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b = Tensor());

// ---------------------------------------------------------------- shape
// Same storage, new shape (one -1 is inferred).
Tensor reshape(const Tensor& x, const Shape& shape);
Tensor flatten(const Tensor& x, std::int64_t start_axis = 0, std::int64_t end_axis = -1);
Tensor unsqueeze(const Tensor& x, std::int64_t axis);
Tensor squeeze(const Tensor& x, std::int64_t axis);
// Copies: out.shape[i] = x.shape[perm[i]].
Tensor permute(const Tensor& x, const std::vector<std::int64_t>& perm);
Tensor transpose(const Tensor& x, std::int64_t axis0, std::int64_t axis1);
Tensor concat(const std::vector<Tensor>& xs, std::int64_t axis);
Tensor stack(const std::vector<Tensor>& xs, std::int64_t axis);
// Elements [start, start + length) along axis.
Tensor slice(const Tensor& x, std::int64_t axis, std::int64_t start, std::int64_t length);
// Index `index` along axis, removing the axis.
Tensor select(const Tensor& x, std::int64_t axis, std::int64_t index);
// Splits into pieces of the given sizes (they must add up to the axis size).
std::vector<Tensor> split(const Tensor& x, const std::vector<std::int64_t>& sizes, std::int64_t axis);
// out = x taken at positions idx (1-D int64) along axis; backward scatter-adds (rows may repeat).
Tensor index_select(const Tensor& x, std::int64_t axis, const Tensor& idx);
// out[.., j, ..] = x[.., idx[.., j, ..], ..] along axis; idx has x's shape except along axis.
Tensor gather(const Tensor& x, std::int64_t axis, const Tensor& idx);
// out = zeros with `dim_size` along axis, then out[.., idx[.., j, ..], ..] += src[.., j, ..].
Tensor scatter_add(const Tensor& src, std::int64_t axis, const Tensor& idx, std::int64_t dim_size);

// ---------------------------------------------------------------- neural-network ops
Tensor softmax(const Tensor& x, std::int64_t axis = -1);
Tensor log_softmax(const Tensor& x, std::int64_t axis = -1);
// Normalizes over the last axis; gamma and beta ([last]) may be undefined.
Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps = 1e-5);
// Inverted dropout: zero with probability p, scale survivors by 1/(1-p). Identity when
// !training or p == 0. The mask comes from `gen` (Philox), so one seed gives one mask
// on CPU and CUDA alike.
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen);
Tensor dropout(const Tensor& x, double p, bool training);  // uses default_generator()

// ---------------------------------------------------------------- losses (mean over elements / rows)
enum class Reduction { Mean, Sum };
Tensor l1_loss(const Tensor& pred, const Tensor& target, Reduction r = Reduction::Mean);
Tensor mse_loss(const Tensor& pred, const Tensor& target, Reduction r = Reduction::Mean);
// logits [N, C], target int64 [N] with class ids in [0, C).
Tensor cross_entropy(const Tensor& logits, const Tensor& target, Reduction r = Reduction::Mean);
// Elementwise max(x,0) - x*t + log(1 + exp(-|x|)), targets in [0, 1] with the logits' shape.
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target, Reduction r = Reduction::Mean);

// ---------------------------------------------------------------- random
// Uniform in [lo, hi) and normal(mean, std), drawn from a Philox generator.
Tensor rand(const Shape& shape, Generator& gen, TensorOptions opts = {}, double lo = 0.0, double hi = 1.0);
Tensor randn(const Shape& shape, Generator& gen, TensorOptions opts = {}, double mean = 0.0, double std = 1.0);
// A random permutation of 0..n-1 (int64, on opts.device), drawn on the host.
Tensor randperm(std::int64_t n, Generator& gen, TensorOptions opts = TensorOptions{DType::i64});

}  // namespace fg

// Statistics ops used by the dependency estimators (engine/ops_stats.cpp).
#include "engine/ops_stats.h"
#include "engine/ops_attention.h"  // fused Transformer ops: attention, bias + GELU, add + LayerNorm

// LSTM ops: the fused recurrence, the layer and the cell (engine/ops_lstm.cpp).
#include "engine/ops_lstm.h"

// 2-D convolutions, NCHW: conv2d and conv_transpose2d (engine/ops_conv.cpp, docs/conv.md).
#include "engine/ops_conv.h"
