// engine/ops_linalg.cpp: matmul, bmm and linear on top of the gemm kernel (kernels/linalg.h).
//
// matmul(a [..., m, k], b [k, n])       folds a's leading dims into m: one GEMM.
// matmul(a [..., m, k], b [..., k, n])  same leading dims: a strided batched GEMM.
// linear(x [..., in], w [out, in], b)   y = x w^T + b, with w read transposed in place and b
//                                       written by a rank-1 GEMM the main one adds to (beta = 1).
// Backward uses the transpose flags: dA = dC B^T, dB = A^T dC (summed over the batch
// when B was shared by all batch items, which folding does for free).
#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_helpers.h"
#include "engine/ops.h"
#include "kernels/linalg.h"

namespace fg {

using detail::check_float;
using detail::check_same;

namespace {

void run_gemm(bool ta, bool tb, std::int64_t batch, std::int64_t m, std::int64_t n, std::int64_t k, const Tensor& a,
              std::int64_t sa, const Tensor& b, std::int64_t sb, double beta, Tensor& c, std::int64_t sc) {
  FG_DISPATCH(c.device(), gemm, c.dtype(), ta, tb, batch, m, n, k, 1.0, a.data_ptr(), sa, b.data_ptr(), sb, beta,
              c.data_ptr(), sc);
}

// C[batch, m, n] = A[batch, m, k] B[batch, k, n]; `shared_b` means B is one [k, n]
// matrix and A's batch was folded into m by the caller (batch == 1).
Tensor batched_product(const Tensor& a, const Tensor& b, std::int64_t batch, std::int64_t m, std::int64_t k,
                       std::int64_t n, const Shape& out_shape, const char* name) {
  Tensor c = empty(out_shape, a.options());
  run_gemm(false, false, batch, m, n, k, a, m * k, b, k * n, 0.0, c, m * n);
  autograd::record(name, {c}, {a, b}, [a, b, batch, m, k, n](const std::vector<Tensor>& g,
                                                             const std::vector<bool>& need) {
    const Tensor& gc = g[0];
    Tensor ga, gb;
    if (need[0]) {  // dA = dC B^T
      ga = empty_like(a);
      run_gemm(false, true, batch, m, k, n, gc, m * n, b, k * n, 0.0, ga, m * k);
    }
    if (need[1]) {  // dB = A^T dC
      gb = empty_like(b);
      run_gemm(true, false, batch, k, n, m, a, m * k, gc, m * n, 0.0, gb, k * n);
    }
    return std::vector<Tensor>{ga, gb};
  });
  return c;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_same(a, b, "matmul");
  check_float(a, "matmul");
  FG_CHECK(a.dim() >= 2 && b.dim() >= 2, "matmul: both operands need at least 2 dims, got {} and {}", a.str(), b.str());
  const std::int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  FG_CHECK(b.size(-2) == k, "matmul: inner dimensions differ: {} x {}", shape_str(a.shape()), shape_str(b.shape()));
  Shape out_shape = a.shape();
  out_shape.back() = n;
  if (b.dim() == 2) {
    // fold all of a's leading dims into the rows: one [M, k] x [k, n] product
    const std::int64_t rows = shape_numel(Shape(a.shape().begin(), a.shape().end() - 1));
    return batched_product(a, b, 1, rows, k, n, out_shape, "matmul");
  }
  FG_CHECK(a.dim() == b.dim() && std::equal(a.shape().begin(), a.shape().end() - 2, b.shape().begin()),
           "matmul: batch dimensions must match: {} x {} (use a 2-D right operand to share it)", shape_str(a.shape()),
           shape_str(b.shape()));
  const std::int64_t batch = shape_numel(Shape(a.shape().begin(), a.shape().end() - 2));
  return batched_product(a, b, batch, m, k, n, out_shape, "matmul");
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  FG_CHECK(a.defined() && b.defined() && a.dim() == 3 && b.dim() == 3, "bmm: expected two 3-D tensors, got {} and {}",
           a.str(), b.str());
  FG_CHECK(a.size(0) == b.size(0), "bmm: batch sizes differ: {} and {}", a.size(0), b.size(0));
  return matmul(a, b);
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias) {
  check_same(x, w, "linear");
  check_float(x, "linear");
  FG_CHECK(w.dim() == 2, "linear: weight must be [out, in], got {}", w.str());
  FG_CHECK(x.dim() >= 1 && x.size(-1) == w.size(1), "linear: input {} does not end in the weight's in-size {}",
           x.str(), w.size(1));
  const std::int64_t in = w.size(1), out_f = w.size(0);
  const std::int64_t rows = shape_numel(Shape(x.shape().begin(), x.shape().end() - 1));
  const bool has_bias = bias.defined();
  if (has_bias) {
    check_same(x, bias, "linear (bias)");
    FG_CHECK(bias.dim() == 1 && bias.size(0) == out_f, "linear: bias must be [{}], got {}", out_f, bias.str());
  }
  Shape out_shape = x.shape();
  out_shape.back() = out_f;
  Tensor y = empty(out_shape, x.options());
  double beta = 0.0;
  if (has_bias) {
    // the bias folded into the GEMM: y = 1 b^T (a rank-1 product writes b into every row),
    // then y += x w^T (beta = 1); no separate broadcast add and no second output tensor
    const Tensor ones_col = ones({rows, 1}, x.options());
    run_gemm(false, false, 1, rows, out_f, 1, ones_col, 0, bias, 0, 0.0, y, 0);
    beta = 1.0;
  }
  // y[rows, out] (+)= x[rows, in] w^T
  run_gemm(false, true, 1, rows, out_f, in, x, 0, w, 0, beta, y, 0);
  auto backward = [x, w, rows, in, out_f, has_bias](const std::vector<Tensor>& g, const std::vector<bool>& need) {
    const Tensor& gy = g[0];
    Tensor gx, gw, gb;
    if (need[0]) {  // dx[rows, in] = dy[rows, out] w[out, in]
      gx = empty_like(x);
      run_gemm(false, false, 1, rows, in, out_f, gy, 0, w, 0, 0.0, gx, 0);
    }
    if (need[1]) {  // dw[out, in] = dy^T[out, rows] x[rows, in]
      gw = empty_like(w);
      run_gemm(true, false, 1, out_f, in, rows, gy, 0, x, 0, 0.0, gw, 0);
    }
    if (has_bias && need[2]) gb = sum_to_shape(gy, {out_f});  // the bias gradient: column sums of dy
    return has_bias ? std::vector<Tensor>{gx, gw, gb} : std::vector<Tensor>{gx, gw};
  };
  if (has_bias) autograd::record("linear", {y}, {x, w, bias}, backward);
  else autograd::record("linear", {y}, {x, w}, backward);
  return y;
}

}  // namespace fg
