// tests/test_cuda_parity.cpp: every op of engine/ops.h on CUDA (float32) against the CPU
// reference (float64), forward and backward, in the spirit of ggml's test-backend-ops.
//
// check_op runs an op on the same input values on both devices (the float32 inputs are
// widened exactly for the reference), compares the outputs, then backpropagates
// L = sum(out * R) with one random R on both devices and compares every input gradient.
// Sizes 1, 7, 33 and 1025 (odd sizes hit the vector-load tails and partial warps) plus
// broadcast and multi-axis shapes. Each tolerance (Tol) says why it is what it is
// (tests/test_cuda_common.h). Raw kernels with guard regions, the fused optimizer
// kernels and determinism are in tests/test_cuda_kernels.cpp; the allocator, copies and
// switches in tests/test_cuda_runtime.cpp.
// Without a CUDA device every case prints "SKIPPED: no CUDA device" (ctest: skipped).
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/cuda/cuda_api.h"
#include "engine/ops.h"
#include "test_cuda_common.h"
#ifdef FUSEGRAD_WITH_CUDA
#include "kernels/cuda/kernel_limits.h"
#endif

using namespace fg;
using namespace fg::cuda_test;

namespace {

// Elementwise math: a few float32 operations, each correctly rounded or (CUDA's expf,
// logf, tanhf, erff, powf...) within 1-2 ulp: relative error ~10 ulp (1.2e-6) at most.
// rtol 1e-5 leaves margin; atol 1e-6 covers values produced by cancellation near zero
// (1 - y^2 for |y| near 1, sin near 0). No normalized-MSE bound (test_cuda_common.h): a
// one-element sigmoid gradient near 0 had relative error 2.4e-5 (nmse 6e-10) in a float32
// dry run, well inside atol + rtol.
constexpr Tol kElementwise{INFINITY, 1e-6, 1e-5, "float32 formula of a few ops, each within 2 ulp"};
// Reductions accumulate in double on the GPU: only the final float32 rounding remains
// (Var's backward also uses a float32 row mean: absolute error ~1e-7 |mean|).
constexpr Tol kReduce{INFINITY, 1e-6, 1e-5, "double accumulation, one float32 rounding at the end"};
// GEMM: cuBLAS float32 FMAs over k terms; the error grows like sqrt(k) eps |a||b|, i.e.
// ~4e-6 relative rms at k = 1025 (nmse ~2e-11). No per-element bound: entries that
// cancel to near zero are relatively noisy.
constexpr Tol kGemm{1e-10, 0.0, 0.0, "float32 FMA accumulation over k, error ~ sqrt(k) eps"};
// Softmax: float32 online max/sum of exp over the row, error ~ log2(n) eps relative.
constexpr Tol kSoftmax{INFINITY, 1e-6, 1e-5, "float32 exp and row sums (tree order), ~log2(n) eps"};
// Layer norm forward: float32 row mean/variance, then (x - mu) rstd: errors ~1e-6
// relative to |xhat| (~2). Its backward subtracts row means and sums over rows: kSummed.
constexpr Tol kNorm{INFINITY, 1e-5, 1e-4, "float32 row statistics, then one elementwise formula"};
// Losses: terms summed in double on the GPU (float32 lse for cross entropy).
constexpr Tol kLoss{INFINITY, 1e-6, 1e-5, "double sums of float32 terms; cross entropy's lse in float32"};
// Scatter/index adds: a handful of float32 additions per destination, order varying with atomics.
constexpr Tol kAtomicSum{INFINITY, 1e-6, 1e-5, "a few float32 additions in a varying (atomic) order"};
// Results that are sums of many float32 terms (gradients summed over broadcast axes or
// rows, scatter_add with hundreds of sources per slot, layer norm's backward): a sum that
// cancels to near zero keeps the absolute error of its terms (~6e-8 sqrt(k) |term|, about
// 1e-5 for k = 1025 terms of size 5), so neither a relative bound nor the normalized MSE
// of a short vector can hold. Bound: atol 1e-4 + rtol 1e-4 per element, 10x above that
// error and far below the size of a term, so a missing or misplaced term still fails.
constexpr Tol kSummed{INFINITY, 1e-4, 1e-4, "sums of many float32 terms: absolute error of the terms"};

// rbf_gram forward: squared distances summed in float32 over d features, then CUDA's fast
// __expf (a few ulp, growing with |argument|, here <= ~20): relative 1e-4 per entry with
// margin; atol 1e-6 for entries that underflow towards 0.
constexpr Tol kGram{INFINITY, 1e-6, 1e-4, "float32 distance sums and __expf (a few ulp) per entry"};
// rbf_gram backward: dL/dx_i = sum_j C_ij (x_i - y_j), formed on the GPU as
// rowsum(C) x_i - (C y)_i with two cuBLAS GEMMs, so entries that cancel keep the absolute
// error of the m terms (~eps sqrt(m) |C| |y|). Normalized MSE only (like kGemm): a missing
// or wrong term of 1025 moves it by ~1e-3, eight orders above the rounding (~1e-11).
constexpr Tol kGramGrad{1e-8, 0.0, 0.0, "float32 GEMM + row sums over m terms with cancellation"};
// logdet_spd: Cholesky with double dot products but the factor L stored in float32, so each
// column sees the previous columns rounded (relative 6e-8 each); for the well-conditioned
// matrices used here (eigenvalues in [1, 1.7]) the log-determinant and A^{-1} (the
// gradient, formed from float32 L^{-1}) keep a relative rms error ~1e-6 at k = 1025.
constexpr Tol kCholesky{1e-9, 0.0, 0.0, "float32-stored Cholesky factor, double sums, condition ~2"};

const std::vector<std::int64_t> kSizes = {1, 7, 33, 1025};

// A [batch..., k, k] of symmetric positive-definite float32 matrices, A = I + B B^T / (2k)
// with B uniform in [-1, 1): eigenvalues in about [1, 1.7] for every k.
std::vector<float> spd_values(std::int64_t batch, std::int64_t k, std::uint64_t seed) {
  const auto b = f32_input({batch, k, k}, seed, -1.0, 1.0).to_vector<double>();
  std::vector<float> a(static_cast<std::size_t>(batch * k * k));
  for (std::int64_t t = 0; t < batch; ++t)
    for (std::int64_t i = 0; i < k; ++i)
      for (std::int64_t j = 0; j <= i; ++j) {
        double s = i == j ? 1.0 : 0.0;
        for (std::int64_t p = 0; p < k; ++p) s += b[(t * k + i) * k + p] * b[(t * k + j) * k + p] / (2.0 * k);
        a[(t * k + i) * k + j] = a[(t * k + j) * k + i] = static_cast<float>(s);
      }
  return a;
}

struct In {
  Shape shape;
  double lo = -2.0;
  double hi = 2.0;
  bool grad = true;
  std::vector<float> values = {};  // explicit values (exact zeros, SPD matrices), else uniform in [lo, hi)
};

using OpFn = std::function<Tensor(const std::vector<Tensor>&, Device)>;

// Runs f on the CPU in float64 and on CUDA in float32 with identical input values and
// compares the outputs and (when an input wants a gradient) the gradients of sum(out * R).
void check_op(const std::string& name, const OpFn& f, const std::vector<In>& ins, const Tol& fwd, const Tol& bwd,
              std::uint64_t seed = 17) {
  std::vector<Tensor> cpu_in, gpu_in;
  std::vector<Shape> shapes;
  bool any_grad = false;
  for (std::size_t k = 0; k < ins.size(); ++k) {
    const Tensor x32 = ins[k].values.empty() ? f32_input(ins[k].shape, seed * 131 + k, ins[k].lo, ins[k].hi)
                                             : from_vector(ins[k].values, ins[k].shape, f32_opts());
    Tensor c = x32.to(DType::f64).detach();
    Tensor g = x32.to(Device::cuda()).detach();
    if (ins[k].grad) {
      c.requires_grad_();
      g.requires_grad_();
      any_grad = true;
    }
    cpu_in.push_back(c);
    gpu_in.push_back(g);
    shapes.push_back(ins[k].shape);
  }
  const std::string what = describe(name, shapes);
  INFO(what);
  const Tensor yc = f(cpu_in, Device::cpu());
  const Tensor yg = f(gpu_in, Device::cuda());
  REQUIRE(yg.device().is_cuda());
  REQUIRE(yg.shape() == yc.shape());
  FG_CHECK_MATCH(values(yg), values(yc), fwd, what + ", forward");
  if (!any_grad || yc.dtype() == DType::i64) return;
  const Tensor r32 = f32_input(yc.shape(), seed + 99, -1.0, 1.0);
  sum(mul(yc, r32.to(DType::f64))).backward();
  sum(mul(yg, r32.to(Device::cuda()))).backward();
  for (std::size_t k = 0; k < ins.size(); ++k) {
    if (!ins[k].grad) continue;
    const Tensor gc = cpu_in[k].grad(), gg = gpu_in[k].grad();
    if (!gc.defined()) {
      CHECK_FALSE(gg.defined());
      continue;
    }
    REQUIRE(gg.defined());
    CHECK(gg.device().is_cuda());
    FG_CHECK_MATCH(values(gg), values(gc), bwd, what + ", gradient of input " + std::to_string(k));
  }
}

// An op of one input, its float range, and the tolerance of both directions.
struct UnaryCase {
  const char* name;
  std::function<Tensor(const Tensor&)> f;
  double lo, hi;
};

const std::vector<UnaryCase>& unary_cases() {
  static const std::vector<UnaryCase> cases = {
      {"neg", [](const Tensor& x) { return fg::neg(x); }, -2, 2},
      {"exp", [](const Tensor& x) { return fg::exp(x); }, -2, 2},
      {"log", [](const Tensor& x) { return fg::log(x); }, 0.1, 3},
      {"sqrt", [](const Tensor& x) { return fg::sqrt(x); }, 0.1, 3},
      {"abs", [](const Tensor& x) { return fg::abs(x); }, -2, 2},
      {"tanh", [](const Tensor& x) { return fg::tanh(x); }, -3, 3},
      {"sigmoid", [](const Tensor& x) { return fg::sigmoid(x); }, -6, 6},
      {"relu", [](const Tensor& x) { return fg::relu(x); }, -2, 2},
      {"leaky_relu", [](const Tensor& x) { return fg::leaky_relu(x, 0.1); }, -2, 2},
      {"gelu_erf", [](const Tensor& x) { return fg::gelu(x, false); }, -3, 3},
      {"gelu_tanh", [](const Tensor& x) { return fg::gelu(x, true); }, -3, 3},
      {"softplus", [](const Tensor& x) { return fg::softplus(x, 2.0, 3.0); }, -2, 2},  // crosses the threshold
      {"clamp", [](const Tensor& x) { return fg::clamp(x, -0.5, 0.75); }, -2, 2},
      {"pow_scalar", [](const Tensor& x) { return fg::pow(x, 1.5); }, 0.1, 3},
      {"square", [](const Tensor& x) { return fg::square(x); }, -2, 2},
      {"reciprocal", [](const Tensor& x) { return fg::reciprocal(x); }, 0.2, 3},
      {"sin", [](const Tensor& x) { return fg::sin(x); }, -3, 3},
      {"cos", [](const Tensor& x) { return fg::cos(x); }, -3, 3},
      {"log1p", [](const Tensor& x) { return fg::log1p(x); }, -0.5, 3},
      {"expm1", [](const Tensor& x) { return fg::expm1(x); }, -2, 2},
      {"add_scalar", [](const Tensor& x) { return fg::add_scalar(x, 0.3); }, -2, 2},
      {"mul_scalar", [](const Tensor& x) { return fg::mul_scalar(x, -1.7); }, -2, 2},
  };
  return cases;
}

OpFn unary(const std::function<Tensor(const Tensor&)>& f) {
  return [f](const std::vector<Tensor>& x, Device) { return f(x[0]); };
}

OpFn binary(Tensor (*f)(const Tensor&, const Tensor&)) {
  return [f](const std::vector<Tensor>& x, Device) { return f(x[0], x[1]); };
}

// Host index values in [0, n), the same on both devices.
std::vector<std::int64_t> index_values(std::int64_t count, std::int64_t n, std::uint64_t seed) {
  Generator gen(seed);
  std::vector<std::int64_t> v(static_cast<std::size_t>(count));
  for (auto& e : v) e = static_cast<std::int64_t>(gen.next_below(static_cast<std::uint64_t>(n)));
  return v;
}

Tensor index_tensor(const std::vector<std::int64_t>& v, const Shape& shape, Device d) {
  return from_vector(v, shape, TensorOptions{DType::i64, d, false});
}

}  // namespace

TEST_CASE("cuda parity: unary ops, forward and backward") {
  FG_SKIP_WITHOUT_CUDA();
  for (const UnaryCase& c : unary_cases())
    for (std::int64_t s : kSizes) {
      check_op(c.name, unary(c.f), {In{{s}, c.lo, c.hi}}, kElementwise, kElementwise);
      check_op(c.name, unary(c.f), {In{{3, s}, c.lo, c.hi}}, kElementwise, kElementwise);
    }
}

TEST_CASE("cuda parity: binary ops with broadcasting, forward and backward") {
  FG_SKIP_WITHOUT_CUDA();
  struct BinaryCase {
    const char* name;
    Tensor (*f)(const Tensor&, const Tensor&);
    double alo, ahi, blo, bhi;
  };
  const std::vector<BinaryCase> cases = {
      {"add", fg::add, -2, 2, -2, 2},         {"sub", fg::sub, -2, 2, -2, 2},
      {"mul", fg::mul, -2, 2, -2, 2},         {"div", fg::div, -2, 2, 0.5, 2},
      {"maximum", fg::maximum, -2, 2, -2, 2}, {"minimum", fg::minimum, -2, 2, -2, 2},
      {"pow", static_cast<Tensor (*)(const Tensor&, const Tensor&)>(fg::pow), 0.2, 2, -2, 2},
  };
  for (const BinaryCase& c : cases)
    for (std::int64_t s : kSizes) {
      const std::vector<std::pair<Shape, Shape>> shapes = {
          {{s}, {s}}, {{3, s}, {s}}, {{s, 1}, {1, 4}}, {{2, 1, s}, {3, 1}}, {{}, {s}}, {{s, 2}, {}}};
      for (const auto& [sa, sb] : shapes)
        check_op(c.name, binary(c.f), {In{sa, c.alo, c.ahi}, In{sb, c.blo, c.bhi}}, kElementwise,
                 sa == sb ? kElementwise : kSummed);
    }
}

TEST_CASE("cuda parity: pow with a zero exponent has gradient 0, not NaN, at x = 0") {
  FG_SKIP_WITHOUT_CUDA();
  // d/dx x^0 = 0 everywhere, also at x = 0 where b x^(b-1) is 0 * inf = NaN (the CPU fix of
  // f4a6578, the CUDA one in kernels/cuda/elementwise.cu). Neighbouring exponents keep their
  // usual values at 0: b = 2 gives 0, b = 0.5 gives +inf (checked for the same position on
  // both devices), and d/db = x^b log x is taken as 0 at x = 0.
  const std::vector<float> x = {0.0f, 0.0f, 1.5f, 0.0f, 0.25f, 2.0f, 0.0f};
  const std::vector<float> e = {0.0f, 0.0f, 0.0f, 2.0f, 0.0f, 0.5f, 0.5f};
  const std::int64_t n = static_cast<std::int64_t>(x.size());
  const OpFn pow_tt = [](const std::vector<Tensor>& t, Device) { return fg::pow(t[0], t[1]); };
  check_op("pow(a, b), b == 0 at a == 0", pow_tt, {In{{n}, 0, 0, true, x}, In{{n}, 0, 0, true, e}}, kElementwise,
           kElementwise);
  // broadcast: a [3, 7] with zeros against a zero exponent [1, 1] (the gradient of b is summed)
  std::vector<float> x3;
  for (int r = 0; r < 3; ++r) x3.insert(x3.end(), x.begin(), x.end());
  check_op("pow(a, b), b == 0 broadcast", pow_tt, {In{{3, n}, 0, 0, true, x3}, In{{1, 1}, 0, 0, true, {0.0f}}},
           kElementwise, kSummed);
  for (std::int64_t s : kSizes) {
    std::vector<float> xs(static_cast<std::size_t>(s));
    for (std::int64_t i = 0; i < s; ++i) xs[i] = i % 3 == 0 ? 0.0f : 0.1f * static_cast<float>(i % 17);
    check_op("pow(x, 0)", unary([](const Tensor& t) { return fg::pow(t, 0.0); }), {In{{s}, 0, 0, true, xs}},
             kElementwise, kElementwise);
    check_op("pow(x, 2) at zeros", unary([](const Tensor& t) { return fg::pow(t, 2.0); }), {In{{s}, 0, 0, true, xs}},
             kElementwise, kElementwise);
  }
  // and the value the gradient must have: exactly 0 at x = 0, on the device
  Tensor xg = from_vector(x, {n}, f32_opts(Device::cuda())).detach();
  xg.requires_grad_();
  fg::sum(fg::pow(xg, 0.0)).backward();
  const auto g = xg.grad().to_vector<float>();
  for (std::int64_t i = 0; i < n; ++i) CHECK(g[i] == 0.0f);
}

TEST_CASE("cuda parity: tensor-scalar operators") {
  FG_SKIP_WITHOUT_CUDA();
  const std::vector<std::pair<const char*, std::function<Tensor(const Tensor&)>>> ops = {
      {"-x", [](const Tensor& x) { return -x; }},           {"x + 0.5", [](const Tensor& x) { return x + 0.5; }},
      {"0.5 + x", [](const Tensor& x) { return 0.5 + x; }}, {"x - 0.5", [](const Tensor& x) { return x - 0.5; }},
      {"0.5 - x", [](const Tensor& x) { return 0.5 - x; }}, {"x * 3", [](const Tensor& x) { return x * 3.0; }},
      {"3 * x", [](const Tensor& x) { return 3.0 * x; }},   {"x / 3", [](const Tensor& x) { return x / 3.0; }},
      {"3 / x", [](const Tensor& x) { return 3.0 / x; }},
  };
  for (const auto& [name, f] : ops)
    for (std::int64_t s : kSizes) check_op(name, unary(f), {In{{2, s}, 0.25, 2.0}}, kElementwise, kElementwise);
  const OpFn tensor_ops = [](const std::vector<Tensor>& x, Device) { return (x[0] + x[1]) * x[0] / x[1] - x[1]; };
  for (std::int64_t s : kSizes)
    check_op("(a + b) * a / b - b", tensor_ops, {In{{3, s}, 0.25, 2.0}, In{{s}, 0.5, 2.0}}, kElementwise, kSummed);
}

TEST_CASE("cuda parity: comparisons, where, masked_fill, broadcast_to, add_ and copy_") {
  FG_SKIP_WITHOUT_CUDA();
  const std::vector<std::pair<const char*, Tensor (*)(const Tensor&, const Tensor&)>> comparisons = {
      {"gt", fg::gt}, {"ge", fg::ge}, {"lt", fg::lt}, {"le", fg::le}, {"eq", fg::eq}};
  for (std::int64_t s : kSizes) {
    for (const auto& [name, f] : comparisons) {
      check_op(name, binary(f), {In{{3, s}, -1, 1, false}, In{{s}, -1, 1, false}}, kExact, kExact);
      // eq/ge/le on equal values: compare a tensor with itself
      check_op(std::string(name) + " (self)", [f = f](const std::vector<Tensor>& x, Device) { return f(x[0], x[0]); },
               {In{{s}, -1, 1, false}}, kExact, kExact);
    }
    check_op("where",
             [](const std::vector<Tensor>& x, Device) { return where(gt(x[0], zeros_like(x[0])), x[1], x[2]); },
             {In{{3, s}, -1, 1, false}, In{{3, s}}, In{{s}}}, kExact, kSummed);
    check_op("masked_fill",
             [](const std::vector<Tensor>& x, Device) { return masked_fill(x[0], gt(x[1], zeros_like(x[1])), -3.5); },
             {In{{3, s}}, In{{s}, -1, 1, false}}, kExact, kExact);
    check_op("broadcast_to", [s](const std::vector<Tensor>& x, Device) { return broadcast_to(x[0], {2, 3, s}); },
             {In{{3, 1}}}, kExact, kReduce);
    check_op("sum_to_shape", [](const std::vector<Tensor>& x, Device) { return sum_to_shape(x[0], {1, x[0].size(-1)}); },
             {In{{4, 3, s}}}, kReduce, kExact);
    // in place, no graph
    const Tensor a32 = f32_input({3, s}, 5), b32 = f32_input({3, s}, 6);
    Tensor ac = a32.to(DType::f64), ag = a32.to(Device::cuda());
    add_(ac, b32.to(DType::f64));
    add_(ag, b32.to(Device::cuda()));
    FG_CHECK_MATCH(values(ag), values(ac), kElementwise, "add_ in place");
    Tensor dst = zeros({3, s}, f32_opts(Device::cuda()));
    copy_(dst, b32);
    FG_CHECK_MATCH(values(dst), values(b32), kExact, "copy_ from the CPU");
  }
}

TEST_CASE("cuda parity: reductions over all elements and over an axis") {
  FG_SKIP_WITHOUT_CUDA();
  for (std::int64_t s : kSizes) {
    const std::vector<std::pair<Shape, std::int64_t>> axis_cases = {
        {{3, s}, 1}, {{s, 5}, 0}, {{2, s, 3}, 1}, {{2, s, 3}, -1}, {{s}, 0}};
    const std::vector<std::pair<const char*, std::function<Tensor(const Tensor&)>>> all = {
        {"sum", [](const Tensor& x) { return fg::sum(x); }},
        {"mean", [](const Tensor& x) { return fg::mean(x); }},
        {"max", [](const Tensor& x) { return fg::max(x); }},
        {"min", [](const Tensor& x) { return fg::min(x); }},
        {"logsumexp", [](const Tensor& x) { return fg::logsumexp(x); }},
        {"var (correction 0)", [](const Tensor& x) { return fg::var(x, 0); }},
    };
    for (const auto& [name, f] : all) check_op(name, unary(f), {In{{s}}}, kReduce, kReduce);
    if (s > 1) check_op("var", unary([](const Tensor& x) { return fg::var(x, 1); }), {In{{s}}}, kReduce, kReduce);
    for (const auto& [shape, axis] : axis_cases) {
      for (bool keep : {false, true}) {
        const std::int64_t a = axis;
        check_op("sum(axis)", unary([a, keep](const Tensor& x) { return fg::sum(x, a, keep); }), {In{shape}}, kReduce,
                 kReduce);
        check_op("mean(axis)", unary([a, keep](const Tensor& x) { return fg::mean(x, a, keep); }), {In{shape}},
                 kReduce, kReduce);
        check_op("max(axis)", unary([a, keep](const Tensor& x) { return fg::max(x, a, keep); }), {In{shape}}, kReduce,
                 kReduce);
        check_op("min(axis)", unary([a, keep](const Tensor& x) { return fg::min(x, a, keep); }), {In{shape}}, kReduce,
                 kReduce);
        check_op("logsumexp(axis)", unary([a, keep](const Tensor& x) { return fg::logsumexp(x, a, keep); }),
                 {In{shape}}, kReduce, kReduce);
        check_op("var(axis, 0)", unary([a, keep](const Tensor& x) { return fg::var(x, a, 0, keep); }), {In{shape}},
                 kReduce, kReduce);
        check_op("argmax", unary([a, keep](const Tensor& x) { return fg::argmax(x, a, keep); }),
                 {In{shape, -2, 2, false}}, kExact, kExact);
      }
    }
  }
}

TEST_CASE("cuda parity: long reductions split across blocks") {
  FG_SKIP_WITHOUT_CUDA();
  // all-element reductions long enough to be split over many blocks (partials + combine),
  // and a column reduction with few columns and a long axis
  for (std::int64_t n : {std::int64_t{(1 << 17) + 3}, std::int64_t{1 << 20}}) {
    check_op("sum (split)", unary([](const Tensor& x) { return fg::sum(x); }), {In{{n}}}, kReduce, kReduce);
    check_op("max (split)", unary([](const Tensor& x) { return fg::max(x); }), {In{{n}}}, kReduce, kReduce);
    check_op("var (split)", unary([](const Tensor& x) { return fg::var(x, 1); }), {In{{n}}}, kReduce, kReduce);
    check_op("logsumexp (split)", unary([](const Tensor& x) { return fg::logsumexp(x); }), {In{{n}}}, kReduce,
             kReduce);
  }
  check_op("sum(axis 0) of few columns", unary([](const Tensor& x) { return fg::sum(x, 0, false); }),
           {In{{100003, 3}}}, kReduce, kReduce);
  check_op("argmax(axis 0) of few columns", unary([](const Tensor& x) { return fg::argmax(x, 0, false); }),
           {In{{100003, 3}, -2, 2, false}}, kExact, kExact);
  check_op("mean(axis 1) of two long rows", unary([](const Tensor& x) { return fg::mean(x, 1, false); }),
           {In{{2, 300001}}}, kReduce, kReduce);
}

TEST_CASE("cuda parity: matmul, bmm and linear") {
  FG_SKIP_WITHOUT_CUDA();
  const OpFn mm = [](const std::vector<Tensor>& x, Device) { return matmul(x[0], x[1]); };
  for (std::int64_t s : kSizes) {
    check_op("matmul", mm, {In{{s, 7}}, In{{7, 5}}}, kGemm, kGemm);
    check_op("matmul", mm, {In{{3, s}}, In{{s, 4}}}, kGemm, kGemm);
    check_op("matmul", mm, {In{{2, 5}}, In{{5, s}}}, kGemm, kGemm);
    check_op("matmul (batched)", mm, {In{{2, s, 3}}, In{{2, 3, 4}}}, kGemm, kGemm);
    check_op("matmul (folded batch)", mm, {In{{2, s, 3}}, In{{3, 4}}}, kGemm, kGemm);
    check_op("bmm", [](const std::vector<Tensor>& x, Device) { return bmm(x[0], x[1]); },
             {In{{3, 4, s}}, In{{3, s, 2}}}, kGemm, kGemm);
    check_op("linear", [](const std::vector<Tensor>& x, Device) { return linear(x[0], x[1], x[2]); },
             {In{{s, 6}}, In{{5, 6}}, In{{5}}}, kGemm, kGemm);
    check_op("linear (no bias)", [](const std::vector<Tensor>& x, Device) { return linear(x[0], x[1]); },
             {In{{2, 3, s}}, In{{4, s}}}, kGemm, kGemm);
  }
  check_op("matmul (large)", mm, {In{{257, 513}}, In{{513, 129}}}, kGemm, kGemm);
}

TEST_CASE("cuda parity: reshape, permute, transpose, concat, stack, slice, select, split") {
  FG_SKIP_WITHOUT_CUDA();
  for (std::int64_t s : kSizes) {
    check_op("reshape", [s](const std::vector<Tensor>& x, Device) { return reshape(x[0], {s, 3}); }, {In{{3, s}}},
             kExact, kExact);
    check_op("flatten+unsqueeze+squeeze",
             [](const std::vector<Tensor>& x, Device) { return squeeze(unsqueeze(flatten(x[0]), 0), 0); },
             {In{{2, s, 3}}}, kExact, kExact);
    check_op("permute", [](const std::vector<Tensor>& x, Device) { return permute(x[0], {2, 0, 1}); },
             {In{{2, s, 3}}}, kExact, kExact);
    check_op("permute (4-d)", [](const std::vector<Tensor>& x, Device) { return permute(x[0], {3, 1, 0, 2}); },
             {In{{2, 3, s, 2}}}, kExact, kExact);
    check_op("transpose", [](const std::vector<Tensor>& x, Device) { return transpose(x[0], 0, 1); }, {In{{s, 5}}},
             kExact, kExact);
    check_op("concat (axis 1)", [](const std::vector<Tensor>& x, Device) { return concat({x[0], x[1], x[2]}, 1); },
             {In{{2, s}}, In{{2, 3}}, In{{2, s}}}, kExact, kExact);
    check_op("concat (axis 0)", [](const std::vector<Tensor>& x, Device) { return concat({x[0], x[1]}, 0); },
             {In{{s, 2}}, In{{1, 2}}}, kExact, kExact);
    check_op("stack", [](const std::vector<Tensor>& x, Device) { return stack({x[0], x[1]}, 1); },
             {In{{3, s}}, In{{3, s}}}, kExact, kExact);
    check_op("slice (middle axis)",
             [s](const std::vector<Tensor>& x, Device) { return slice(x[0], 1, s / 3, s - s / 3); }, {In{{2, s, 3}}},
             kExact, kExact);
    check_op("slice (leading axis view)", [s](const std::vector<Tensor>& x, Device) { return slice(x[0], 0, 0, s); },
             {In{{s + 2, 3}}}, kExact, kExact);
    check_op("select", [s](const std::vector<Tensor>& x, Device) { return select(x[0], 1, s - 1); }, {In{{2, s}}},
             kExact, kExact);
    check_op("split", [s](const std::vector<Tensor>& x, Device) { return split(x[0], {1, s, 2}, 1)[1]; },
             {In{{2, s + 3}}}, kExact, kExact);
  }
}

TEST_CASE("cuda parity: index_select, gather, scatter_add") {
  FG_SKIP_WITHOUT_CUDA();
  for (std::int64_t s : kSizes) {
    const auto rows = index_values(2 * s + 1, s, 7);  // repeats: index_add accumulates
    check_op("index_select (axis 0)",
             [&rows](const std::vector<Tensor>& x, Device d) {
               return index_select(x[0], 0, index_tensor(rows, {static_cast<std::int64_t>(rows.size())}, d));
             },
             {In{{s, 5}}}, kExact, kAtomicSum);
    check_op("index_select (axis 1)",
             [&rows](const std::vector<Tensor>& x, Device d) {
               return index_select(x[0], 1, index_tensor(rows, {static_cast<std::int64_t>(rows.size())}, d));
             },
             {In{{3, s, 2}}}, kExact, kAtomicSum);
    const auto g = index_values(3 * 4 * 2, s, 8);
    check_op("gather (axis 1)",
             [&g](const std::vector<Tensor>& x, Device d) { return gather(x[0], 1, index_tensor(g, {3, 4, 2}, d)); },
             {In{{3, s, 2}}}, kExact, kAtomicSum);
    const auto sc = index_values(3 * s, 4, 9);
    check_op("scatter_add (axis 1)",
             [&sc, s](const std::vector<Tensor>& x, Device d) {
               return scatter_add(x[0], 1, index_tensor(sc, {3, s}, d), 4);
             },
             {In{{3, s}}}, kSummed, kExact);
  }
}

TEST_CASE("cuda parity: softmax and log_softmax") {
  FG_SKIP_WITHOUT_CUDA();
  for (std::int64_t s : kSizes) {
    const std::vector<std::pair<Shape, std::int64_t>> cases = {
        {{s}, 0}, {{3, s}, -1}, {{s, 4}, 0}, {{2, s, 3}, 1}, {{4, s}, 0}};
    for (const auto& [shape, axis] : cases) {
      const std::int64_t a = axis;
      check_op("softmax", unary([a](const Tensor& x) { return softmax(x, a); }), {In{shape, -4, 4}}, kSoftmax,
               kSoftmax);
      check_op("log_softmax", unary([a](const Tensor& x) { return log_softmax(x, a); }), {In{shape, -4, 4}},
               kSoftmax, kSoftmax);
    }
  }
  check_op("softmax (long rows)", unary([](const Tensor& x) { return softmax(x, -1); }), {In{{3, 20000}, -4, 4}},
           kSoftmax, kSoftmax);
}

TEST_CASE("cuda parity: layer_norm") {
  FG_SKIP_WITHOUT_CUDA();
  const OpFn ln = [](const std::vector<Tensor>& x, Device) { return layer_norm(x[0], x[1], x[2], 1e-5); };
  const OpFn ln_plain = [](const std::vector<Tensor>& x, Device) { return layer_norm(x[0], Tensor(), Tensor(), 1e-5); };
  const OpFn ln_gamma = [](const std::vector<Tensor>& x, Device) { return layer_norm(x[0], x[1], Tensor(), 1e-5); };
  for (std::int64_t s : kSizes) {
    check_op("layer_norm", ln, {In{{3, s}}, In{{s}, 0.5, 1.5}, In{{s}}}, kNorm, kSummed);
    check_op("layer_norm", ln, {In{{s, 4}}, In{{4}, 0.5, 1.5}, In{{4}}}, kNorm, kSummed);
    check_op("layer_norm (no affine)", ln_plain, {In{{2, 3, s}}}, kNorm, kSummed);
    check_op("layer_norm (gamma only)", ln_gamma, {In{{5, s}}, In{{s}, 0.5, 1.5}}, kNorm, kSummed);
  }
  // wide rows: the parameter-gradient partials live in global memory instead of shared memory
  check_op("layer_norm (wide rows)", ln, {In{{3, 7000}}, In{{7000}, 0.5, 1.5}, In{{7000}}}, kNorm, kSummed);
  // many rows: each block of the backward handles a range of rows
  check_op("layer_norm (many rows)", ln, {In{{4099, 33}}, In{{33}, 0.5, 1.5}, In{{33}}}, kNorm, kSummed);
}

TEST_CASE("cuda bitwise repeat: reductions split across blocks give the same bits twice") {
  FG_SKIP_WITHOUT_CUDA();
  // partials per block, then a fixed-order combine: no atomics, so every run is bitwise equal
  const Tensor x = f32_input({(1 << 20) + 3}, 1400).to(Device::cuda());
  const Tensor cols = f32_input({100003, 3}, 1401).to(Device::cuda());
  const Tensor rows = f32_input({2, 300001}, 1402).to(Device::cuda());
  const std::vector<std::function<Tensor()>> reductions = {
      [&] { return fg::sum(x); },           [&] { return fg::var(x, 1); },
      [&] { return fg::logsumexp(x); },     [&] { return fg::sum(cols, 0, false); },
      [&] { return fg::mean(rows, 1, false); }};
  for (std::size_t i = 0; i < reductions.size(); ++i) {
    CAPTURE(i);
    const std::vector<float> a = reductions[i]().to_vector<float>(), b = reductions[i]().to_vector<float>();
    CHECK(bits_of(a) == bits_of(b));
  }
}

TEST_CASE("cuda parity: layer_norm backward exactly at the shared-memory edge (static bytes counted)") {
  FG_SKIP_WITHOUT_CUDA();
  // the largest n whose 2 n partial sums fit beside the kernel's static shared memory in
  // 48 KiB; one more float and the partials go to global memory. Before issue 10 the
  // limit ignored the static bytes, and n just under 6144 failed to launch.
#ifdef FUSEGRAD_WITH_CUDA
  const std::int64_t edge = kernels::cuda::layer_norm_backward_max_smem_n();
  CHECK(edge < 6144);  // 48 KiB / 8 bytes, less the static scratch
  CHECK(edge > 6000);
  const OpFn ln = [](const std::vector<Tensor>& x, Device) { return layer_norm(x[0], x[1], x[2], 1e-5); };
  for (std::int64_t n : {edge, edge + 1, std::int64_t{6144}}) {
    CAPTURE(n);
    check_op("layer_norm at the shared-memory edge", ln, {In{{5, n}}, In{{n}, 0.5, 1.5}, In{{n}}}, kNorm, kSummed);
  }
#endif
}

TEST_CASE("cuda parity: a broadcast op near 2^31 elements takes 64-bit indices (no grid-stride overflow)") {
  FG_SKIP_WITHOUT_CUDA();
  // [2^21 - 1, 1024] + [1024]: numel = 2^31 - 1024 fits int32, but numel + grid * threads
  // does not, so the 32-bit loop would wrap past INT32_MAX. Needs ~17 GB of device memory.
  cuda::empty_cache();
  std::size_t free_bytes = 0, total_bytes = 0;
  cuda::mem_get_info(&free_bytes, &total_bytes);
  if (free_bytes < (std::size_t{20} << 30)) {
    std::cout << "SKIPPED: not enough GPU memory (" << (free_bytes >> 20) << " MiB free, 20 GiB needed)" << std::endl;
    return;
  }
  const std::int64_t rows = (std::int64_t{1} << 21) - 1, cols = 1024;
  const TensorOptions o{DType::f32, Device::cuda(), false};
  Tensor a = full({rows, 1}, 1.0, o);
  const Tensor b = arange(cols, TensorOptions{DType::f32, Device::cpu(), false}).to(Device::cuda());
  Tensor y = add(a, b);  // y[r, c] = 1 + c
  a = Tensor();
  REQUIRE(y.numel() == rows * cols);
  // every row equals 1 + c: check the sum over rows of the last columns and the last rows
  const std::vector<double> last_row = values(slice(y, 0, rows - 1, 1));
  const std::vector<double> first_row = values(slice(y, 0, 0, 1));
  for (std::int64_t c = 0; c < cols; ++c) {
    REQUIRE(last_row[static_cast<std::size_t>(c)] == 1.0 + static_cast<double>(c));
    REQUIRE(first_row[static_cast<std::size_t>(c)] == 1.0 + static_cast<double>(c));
  }
  const double total = values(sum(y))[0];  // rows * sum_c (1 + c) = rows * 1024 * 1025 / 2
  CHECK(total == doctest::Approx(static_cast<double>(rows) * 1024.0 * 1025.0 / 2.0).epsilon(1e-6));
}

TEST_CASE("cuda parity: rbf_gram (kernels/cuda/gram.cu)") {
  FG_SKIP_WITHOUT_CUDA();
  const OpFn gram = [](const std::vector<Tensor>& x, Device) { return rbf_gram(x[0], x[1], {0.05, 0.5}); };
  const OpFn gram_self = [](const std::vector<Tensor>& x, Device) { return rbf_gram(x[0], x[0], {0.1}); };
  for (std::int64_t s : kSizes) {
    // n, m and d each take the awkward size (tiles of 16 with partial edges); d = 5 keeps
    // the arguments of exp in [0, ~40]
    check_op("rbf_gram (n = s)", gram, {In{{s, 5}, -1, 1}, In{{7, 5}, -1, 1}}, kGram, kGramGrad);
    check_op("rbf_gram (m = s)", gram, {In{{33, 3}, -1, 1}, In{{s, 3}, -1, 1}}, kGram, kGramGrad);
    check_op("rbf_gram (d = s)", [s](const std::vector<Tensor>& x, Device) {
      return rbf_gram(x[0], x[1], {0.5 / static_cast<double>(s)});
    }, {In{{9, s}, -1, 1}, In{{6, s}, -1, 1}}, kGram, kGramGrad);
    check_op("rbf_gram (x with itself)", gram_self, {In{{s, 4}, -1, 1}}, kGram, kGramGrad);
  }
  // eight bandwidths (the most a GammaList holds), and an input without gradient
  check_op("rbf_gram (8 bandwidths)", [](const std::vector<Tensor>& x, Device) {
    return rbf_gram(x[0], x[1], {0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0});
  }, {In{{40, 6}, -1, 1}, In{{17, 6}, -1, 1}}, kGram, kGramGrad);
  check_op("rbf_gram (y without gradient)", gram, {In{{20, 5}, -1, 1}, In{{30, 5}, -1, 1, false}}, kGram, kGramGrad);
}

TEST_CASE("cuda parity: logdet_spd (kernels/cuda/spd.cu)") {
  FG_SKIP_WITHOUT_CUDA();
  const OpFn logdet = [](const std::vector<Tensor>& x, Device) { return logdet_spd(x[0]); };
  for (std::int64_t k : kSizes) {
    // k = 1025 is one large matrix (the O(k^3) float64 CPU reference takes about a second)
    const std::int64_t batch = k > 100 ? 1 : 6;
    const Shape shape = k > 100 ? Shape{k, k} : Shape{2, 3, k, k};  // batch axes are kept in the result
    check_op("logdet_spd", logdet, {In{shape, 0, 0, true, spd_values(batch, k, 90 + k)}}, kCholesky, kCholesky);
  }
  // jitter: A + 0.5 I
  check_op("logdet_spd (jitter 0.5)", [](const std::vector<Tensor>& x, Device) { return logdet_spd(x[0], 0.5); },
           {In{{4, 9, 9}, 0, 0, true, spd_values(4, 9, 77)}}, kCholesky, kCholesky);
  // a matrix that is not positive definite is a clear error naming the batch item, on CUDA too
  std::vector<float> bad = spd_values(3, 4, 78);
  bad[2 * 16 + 2 * 4 + 2] = -5.0f;  // item 2, diagonal entry 2
  std::string msg;
  try {
    (void)logdet_spd(from_vector(bad, {3, 4, 4}, f32_opts(Device::cuda())));
  } catch (const Error& e) {
    msg = e.what();
  }
  INFO(msg);
  CHECK(msg.find("matrix 2 of") != std::string::npos);
  CHECK(msg.find("not positive definite") != std::string::npos);
}

TEST_CASE("cuda parity: losses") {
  FG_SKIP_WITHOUT_CUDA();
  for (std::int64_t s : kSizes) {
    for (Reduction r : {Reduction::Mean, Reduction::Sum}) {
      const char* red = r == Reduction::Mean ? " (mean)" : " (sum)";
      check_op(std::string("l1_loss") + red,
               [r](const std::vector<Tensor>& x, Device) { return l1_loss(x[0], x[1], r); }, {In{{3, s}}, In{{3, s}}},
               kLoss, kLoss);
      check_op(std::string("mse_loss") + red,
               [r](const std::vector<Tensor>& x, Device) { return mse_loss(x[0], x[1], r); }, {In{{s}}, In{{s}}},
               kLoss, kLoss);
      check_op(std::string("bce_with_logits") + red,
               [r](const std::vector<Tensor>& x, Device) { return binary_cross_entropy_with_logits(x[0], x[1], r); },
               {In{{s, 2}, -4, 4}, In{{s, 2}, 0, 1}}, kLoss, kLoss);
      const auto t1 = index_values(s, 5, 21), t2 = index_values(3, s, 22);
      check_op(std::string("cross_entropy") + red,
               [r, &t1, s](const std::vector<Tensor>& x, Device d) {
                 return cross_entropy(x[0], index_tensor(t1, {s}, d), r);
               },
               {In{{s, 5}, -4, 4}}, kLoss, kLoss);
      check_op(std::string("cross_entropy, classes = s") + red,
               [r, &t2](const std::vector<Tensor>& x, Device d) {
                 return cross_entropy(x[0], index_tensor(t2, {3}, d), r);
               },
               {In{{3, s}, -4, 4}}, kLoss, kLoss);
    }
  }
  const auto t = index_values(64, 5000, 23);
  check_op("cross_entropy (long rows)",
           [&t](const std::vector<Tensor>& x, Device d) { return cross_entropy(x[0], index_tensor(t, {64}, d)); },
           {In{{64, 5000}, -4, 4}}, kLoss, kLoss);
}

TEST_CASE("cuda parity: dropout gives the CPU's mask for the same seed") {
  FG_SKIP_WITHOUT_CUDA();
  for (std::int64_t s : kSizes) {
    const Tensor x32 = f32_input({3, s}, 31, 0.5, 1.5);  // no zeros: y != 0 exactly where the mask keeps
    Generator gc(1234), gg(1234);
    gc.reserve(11);  // a nonzero offset
    gg.reserve(11);
    Tensor xc = x32.detach(), xg = x32.to(Device::cuda()).detach();
    xc.requires_grad_();
    xg.requires_grad_();
    const Tensor yc = dropout(xc, 0.3, true, gc), yg = dropout(xg, 0.3, true, gg);
    // float32 on both sides: the same uniforms, threshold and scale give bitwise equal outputs
    CHECK(bits_of(yg.to_vector<float>()) == bits_of(yc.to_vector<float>()));
    CHECK(gc.offset() == gg.offset());
    sum(yc).backward();
    sum(yg).backward();
    CHECK(bits_of(xg.grad().to_vector<float>()) == bits_of(xc.grad().to_vector<float>()));
  }
}

TEST_CASE("cuda parity: rand, randn and randperm follow the CPU's Philox stream") {
  FG_SKIP_WITHOUT_CUDA();
  for (std::int64_t s : kSizes) {
    Generator gc(99), gg(99);
    const Tensor uc = rand({3, s}, gc, f32_opts(), -1.5, 2.5);
    const Tensor ug = rand({3, s}, gg, f32_opts(Device::cuda()), -1.5, 2.5);
    CHECK(bits_of(ug.to_vector<float>()) == bits_of(uc.to_vector<float>()));
    // normal: Box-Muller in double on both devices, rounded to float32: equal to 1 ulp
    // (log/cos of glibc and CUDA may differ in the last double bits)
    const Tensor nc = randn({3, s}, gc, f32_opts(), 0.5, 2.0);
    const Tensor ng = randn({3, s}, gg, f32_opts(Device::cuda()), 0.5, 2.0);
    const auto a = ng.to_vector<float>(), b = nc.to_vector<float>();
    std::size_t bitwise_equal = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
      CHECK(std::abs(static_cast<double>(a[i]) - b[i]) <= std::ldexp(std::abs(static_cast<double>(b[i])), -22) + 1e-30);
      bitwise_equal += bits_of({a[i]}) == bits_of({b[i]});
    }
    CHECK(bitwise_equal * 100 >= a.size() * 99);
    const Tensor pc = randperm(s, gc), pg = randperm(s, gg, TensorOptions{DType::i64, Device::cuda(), false});
    CHECK(pg.device().is_cuda());
    CHECK(pg.to_vector<std::int64_t>() == pc.to_vector<std::int64_t>());
  }
}

TEST_CASE("cuda parity: int64 tensors: fill, arange, casts and data movement") {
  FG_SKIP_WITHOUT_CUDA();
  const TensorOptions i64_cuda{DType::i64, Device::cuda(), false};
  for (std::int64_t s : kSizes) {
    CHECK(arange(s, i64_cuda).to_vector<std::int64_t>() == arange(s, TensorOptions{DType::i64}).to_vector<std::int64_t>());
    CHECK(full({s}, -7.0, i64_cuda).to_vector<std::int64_t>() == std::vector<std::int64_t>(s, -7));
    CHECK(arange(s, f32_opts(Device::cuda())).to_vector<double>() == arange(s, f64_opts()).to_vector<double>());
    // float32 -> int64 truncates toward zero, int64 -> float32 rounds, as on the CPU
    const Tensor x32 = f32_input({s}, 41, -50, 50);
    CHECK(x32.to(Device::cuda()).to(DType::i64).to_vector<std::int64_t>() == x32.to(DType::i64).to_vector<std::int64_t>());
    const auto big = index_values(s, std::int64_t{1} << 40, 42);
    const Tensor bc = from_vector(big, {s}, TensorOptions{DType::i64});
    CHECK(bits_of(bc.to(Device::cuda()).to(DType::f32).to_vector<float>()) ==
          bits_of(bc.to(DType::f32).to_vector<float>()));
    // int64 through the shape kernels (labels are shuffled with them)
    const Tensor lab = from_vector(big, {s, 1}, TensorOptions{DType::i64}).to(Device::cuda());
    const auto pick = index_values(2 * s, s, 43);
    const Tensor picked = index_select(lab, 0, index_tensor(pick, {2 * s}, Device::cuda()));
    const auto got = picked.to_vector<std::int64_t>();
    for (std::size_t j = 0; j < pick.size(); ++j) CHECK(got[j] == big[static_cast<std::size_t>(pick[j])]);
    const Tensor both = concat({lab, lab}, 1);
    CHECK(transpose(both, 0, 1).to_vector<std::int64_t>() ==
          transpose(concat({lab.to(Device::cpu()), lab.to(Device::cpu())}, 1), 0, 1).to_vector<std::int64_t>());
  }
}

TEST_CASE("cuda parity: float64 tensors on CUDA are refused with a clear error") {
  FG_SKIP_WITHOUT_CUDA();
  const Tensor x = f32_input({5}, 51).to(DType::f64).to(Device::cuda());  // moving bytes works
  CHECK(x.dtype() == DType::f64);
  CHECK(x.device().is_cuda());
  for (const auto& op : std::vector<std::function<void()>>{[&] { (void)fg::exp(x); }, [&] { (void)fg::sum(x); },
                                                           [&] { (void)softmax(x, 0); },
                                                           [&] { (void)x.to(DType::f32); }}) {
    std::string msg;
    try {
      op();
    } catch (const Error& e) {
      msg = e.what();
    }
    INFO(msg);
    CHECK(msg.find("float64") != std::string::npos);
    CHECK(msg.find("float32") != std::string::npos);
  }
}

TEST_CASE("cuda parity: out-of-range indices are reported with their position") {
  FG_SKIP_WITHOUT_CUDA();
  const Tensor x = f32_input({4, 3}, 61).to(Device::cuda());
  const Device d = Device::cuda();
  auto message = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  std::string m = message([&] { (void)index_select(x, 0, index_tensor({0, 2, 4, 1, -1}, {5}, d)); });
  INFO(m);
  CHECK(m.find("index 4 (at position 2") != std::string::npos);
  m = message([&] { (void)gather(x, 1, index_tensor({0, 1, 2, 0, 1, 2, 7, 0}, {4, 2}, d)); });
  CHECK(m.find("index 7 (at position 6") != std::string::npos);
  m = message([&] { (void)scatter_add(x, 0, index_tensor({0, 1, 2, 0, 1, 9, 3, 3, 3, 2, 2, 2}, {4, 3}, d), 4); });
  CHECK(m.find("index 9 (at position 5") != std::string::npos);
  m = message([&] { (void)cross_entropy(x, index_tensor({0, 2, 3, 1}, {4}, d)); });
  CHECK(m.find("row 2") != std::string::npos);
  // the device still works after a reported error
  CHECK(fg::sum(x).item() == doctest::Approx(fg::sum(x.to(Device::cpu())).item()).epsilon(1e-6));
}

TEST_CASE("cuda parity: one training step of a small network") {
  FG_SKIP_WITHOUT_CUDA();
  // linear -> gelu -> layer_norm -> linear -> cross entropy + mse, all parameters checked
  const auto targets = index_values(33, 7, 71);
  const OpFn net = [&targets](const std::vector<Tensor>& p, Device d) {
    Tensor h = gelu(linear(p[0], p[1], p[2]));
    h = layer_norm(h, p[3], p[4]);
    Tensor logits = linear(dropout(h, 0.0, true), p[5], p[6]);
    Tensor ce = cross_entropy(logits, index_tensor(targets, {33}, d));
    return add(ce, mse_loss(softmax(logits, -1), p[7]));
  };
  check_op("network", net,
           {In{{33, 20}}, In{{64, 20}, -0.3, 0.3}, In{{64}}, In{{64}, 0.5, 1.5}, In{{64}}, In{{7, 64}, -0.3, 0.3},
            In{{7}}, In{{33, 7}, 0, 0.3}},
           kSummed, kSummed);
}
