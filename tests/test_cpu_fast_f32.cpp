// tests/test_cpu_fast_f32.cpp: the float32 fast CPU kernels (kernels/cpu/fast/) against the
// float64 reference loops (kernels/cpu/*.cpp, which gradchecks and the PyTorch fixtures
// check), for every instruction set this CPU has (SSE2 base, AVX2, AVX-512, forced one by
// one) and at 1 and 2 threads. Awkward sizes (1, 7, 33, 1025, and sizes past the threading
// grain), broadcasts (rows, columns, scalars, middle axes) and inputs that went through a
// permute. Each case runs the op on float64 inputs rounded to float32 values (the reference)
// and on the same values in float32 (the fast path), forward and backward of
// sum(out * R), and requires for every output and gradient
//   max_i |fast_i - ref_i| <= tol * (max_i |ref_i| + 1e-30)
// with tol stated per case (float32 rounding of a few operations: 1e-5 unless noted).
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <memory>
#include <functional>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/ops_attention.h"
#include "engine/ops_gated_memory.h"
#include "engine/ops_lstm.h"
#include "engine/optim/adam.h"
#include "engine/threads.h"
#include "kernels/cpu/fast/fast_f32.h"

using namespace fg;

namespace {

using Inputs = std::vector<Tensor>;
using Fn = std::function<Tensor(const Inputs&)>;

const std::vector<std::string>& isas() {
  static const std::vector<std::string> all = [] {
    std::vector<std::string> v;
    for (const char* n : {"base", "avx2", "avx512"})
      if (kernels::fast::force_isa(n)) v.push_back(n);
    kernels::fast::force_isa("");
    return v;
  }();
  return all;
}

// float64 values that are exactly float32 numbers, uniform in [lo, hi).
Tensor values(const Shape& s, std::uint64_t seed, double lo = -2.0, double hi = 2.0) {
  Generator g(seed);
  return rand(s, g, TensorOptions{DType::f32}, lo, hi).to(DType::f64);
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to(DType::f64).to_vector<double>()) m = std::max(m, std::abs(v));
  return m;
}

void expect_close(const Tensor& fast, const Tensor& ref, double tol, const std::string& what) {
  REQUIRE(fast.shape() == ref.shape());
  const std::vector<double> a = fast.to(DType::f64).to_vector<double>(), b = ref.to_vector<double>();
  const double scale = max_abs(ref) + 1e-30;
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  INFO(what << ": max |fast - ref| = " << worst << ", max |ref| = " << scale << ", tol " << tol);
  CHECK(worst <= tol * scale);
}

// Runs fn on the float64 inputs (reference) and their float32 copies (fast path) under every
// instruction set and thread count; compares the output and the gradients of sum(out * R)
// of every input that requires a gradient.
void check_case(const std::string& name, const Fn& fn, const Inputs& inputs, double tol = 1e-5) {
  const Tensor ref_out = fn(inputs);
  Generator rg(99);
  const Tensor r64 = rand(ref_out.shape(), rg, TensorOptions{DType::f32}, -1.0, 1.0).to(DType::f64);
  std::vector<Tensor> ref_grads;
  std::vector<Tensor> leaves;
  for (const Tensor& t : inputs)
    if (t.requires_grad()) leaves.push_back(t);
  if (!leaves.empty()) ref_grads = autograd::grad(sum(mul(ref_out, r64)), leaves);
  for (const std::string& isa : isas()) {
    for (int threads : {1, 2}) {
      REQUIRE(kernels::fast::force_isa(isa.c_str()));
      set_num_threads(threads);
      Inputs in32;
      std::vector<Tensor> leaves32;
      for (const Tensor& t : inputs) {
        Tensor c = t.dtype() == DType::f64 ? t.detach().to(DType::f32) : t;
        if (t.requires_grad()) {
          c.requires_grad_(true);
          leaves32.push_back(c);
        }
        in32.push_back(c);
      }
      const Tensor out = fn(in32);
      const std::string where = name + " [" + isa + ", " + std::to_string(threads) + " threads]";
      CHECK(std::string(kernels::fast::isa_name()) == isa);
      REQUIRE(out.dtype() == DType::f32);
      expect_close(out, ref_out, tol, where + " output");
      if (!leaves32.empty()) {
        const std::vector<Tensor> g = autograd::grad(sum(mul(out, r64.to(DType::f32))), leaves32);
        for (std::size_t i = 0; i < g.size(); ++i)
          expect_close(g[i], ref_grads[i], tol, where + " gradient " + std::to_string(i));
      }
    }
  }
  kernels::fast::force_isa("");
  set_num_threads(1);
}

Tensor leaf(const Shape& s, std::uint64_t seed, double lo = -2.0, double hi = 2.0) {
  return values(s, seed, lo, hi).requires_grad_(true);
}

const std::vector<std::int64_t> kSizes = {1, 7, 33, 1025, 70001};  // 70001: past the threading grain

}  // namespace

TEST_CASE("fast f32: at least the base instruction set is available, and the automatic choice is the best") {
  REQUIRE(!isas().empty());
  CHECK(isas().front() == "base");
  kernels::fast::force_isa("");
  CHECK(std::string(kernels::fast::isa_name()) == isas().back());
  CHECK_FALSE(kernels::fast::force_isa("sse9"));
}

TEST_CASE("fast f32: unary ops forward and backward vs float64 on awkward sizes") {
  struct U {
    const char* name;
    Fn fn;
    double lo, hi;
  };
  const std::vector<U> ops = {
      {"exp", [](const Inputs& x) { return exp(x[0]); }, -5, 5},
      {"log", [](const Inputs& x) { return log(x[0]); }, 0.1, 5},
      {"tanh", [](const Inputs& x) { return tanh(x[0]); }, -5, 5},
      {"sigmoid", [](const Inputs& x) { return sigmoid(x[0]); }, -20, 20},
      {"relu", [](const Inputs& x) { return relu(x[0]); }, -2, 2},
      {"gelu erf", [](const Inputs& x) { return gelu(x[0]); }, -6, 6},
      {"gelu tanh", [](const Inputs& x) { return gelu(x[0], true); }, -6, 6},
      {"abs", [](const Inputs& x) { return abs(x[0]); }, -2, 2},
      {"neg", [](const Inputs& x) { return neg(x[0]); }, -2, 2},
      {"square", [](const Inputs& x) { return square(x[0]); }, -2, 2},
      {"add_scalar", [](const Inputs& x) { return add_scalar(x[0], 0.3); }, -2, 2},
      {"mul_scalar", [](const Inputs& x) { return mul_scalar(x[0], -1.7); }, -2, 2},
  };
  for (const U& op : ops)
    for (std::int64_t n : kSizes) check_case(std::string(op.name) + " n=" + std::to_string(n), op.fn,
                                             {leaf({n}, 1 + n, op.lo, op.hi)});
}

TEST_CASE("fast f32: binary ops with broadcasts and permuted inputs vs float64") {
  const std::vector<std::pair<const char*, Fn>> ops = {
      {"add", [](const Inputs& x) { return add(x[0], x[1]); }},
      {"sub", [](const Inputs& x) { return sub(x[0], x[1]); }},
      {"mul", [](const Inputs& x) { return mul(x[0], x[1]); }},
      {"div", [](const Inputs& x) { return div(x[0], x[1]); }},
  };
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{1}, {1}},          {{7}, {7}},          {{33, 7}, {33, 7}},     {{1025}, {1}},     {{1}, {1025}},
      {{7, 33}, {33}},     {{33, 7}, {33, 1}},  {{3, 1, 1025}, {3, 7, 1025}}, {{5, 33}, {7, 5, 1}},
      {{70001}, {70001}},  {{300, 1025}, {1025}}, {{1, 1}, {33, 1025}},
  };
  for (const auto& [name, fn] : ops)
    for (const auto& [sa, sb] : shapes) {
      // the divisor stays away from 0
      const bool div_op = std::string(name) == "div";
      check_case(std::string(name) + " " + shape_str(sa) + " by " + shape_str(sb), fn,
                 {leaf(sa, 3), leaf(sb, 4, div_op ? 0.5 : -2.0, 2.0)});
    }
  // non-contiguous inputs: a permuted view materialised by permute, then broadcast
  check_case("mul of permuted [33, 7] by [7, 1]",
             [](const Inputs& x) { return mul(permute(x[0], {1, 0}), x[1]); }, {leaf({33, 7}, 5), leaf({7, 1}, 6)});
  check_case("add of permuted [4, 33, 1025] -> [1025, 4, 33] and [33]",
             [](const Inputs& x) { return add(permute(x[0], {2, 0, 1}), x[1]); }, {leaf({4, 33, 7}, 7), leaf({33}, 8)});
}

TEST_CASE("fast f32: permutes keeping the last axis (contiguous runs) vs float64") {
  const std::vector<std::pair<Shape, std::vector<std::int64_t>>> cases = {
      {{2, 7, 3, 33}, {0, 2, 1, 3}}, {{3, 1025}, {0, 1}}, {{5, 4, 8}, {1, 0, 2}}, {{7, 2, 9}, {1, 0, 2}},
      {{2, 70001 / 7 + 1, 3, 8}, {2, 0, 1, 3}}, {{33, 7}, {1, 0}}};  // the last: a transpose (reference loop)
  for (const auto& [shape, perm] : cases)
    check_case("permute " + shape_str(shape), [perm](const Inputs& x) { return permute(x[0], perm); },
               {leaf(shape, 80)}, 0.0);
}

TEST_CASE("fast f32: sum and mean along every axis vs float64") {
  const std::vector<std::pair<Shape, std::int64_t>> cases = {
      {{1}, 0},       {{7}, 0},          {{1025}, 0},       {{33, 7}, 0},    {{33, 7}, 1},      {{3, 1025, 7}, 1},
      {{3, 7, 1025}, 2}, {{3, 7, 1025}, 0}, {{4096, 33}, 0},  {{140001}, 0},   {{2, 70001}, 1},   {{70001, 2}, 0},
  };
  for (const auto& [shape, axis] : cases) {
    check_case("sum " + shape_str(shape) + " axis " + std::to_string(axis),
               [axis](const Inputs& x) { return sum(x[0], axis); }, {leaf(shape, 9)});
    check_case("mean " + shape_str(shape) + " axis " + std::to_string(axis),
               [axis](const Inputs& x) { return mean(x[0], axis); }, {leaf(shape, 10)});
  }
  check_case("sum of all of a permuted [33, 1025]", [](const Inputs& x) { return sum(permute(x[0], {1, 0})); },
             {leaf({33, 1025}, 11)});
}

TEST_CASE("fast f32: linear with its folded bias vs float64") {
  for (std::int64_t rows : {1, 7, 33, 1025})
    check_case("linear rows " + std::to_string(rows),
               [](const Inputs& x) { return linear(x[0], x[1], x[2]); },
               {leaf({rows, 33}, 12), leaf({7, 33}, 13, -0.5, 0.5), leaf({7}, 14)});
  check_case("linear [3, 5, 33] (leading dims folded)", [](const Inputs& x) { return linear(x[0], x[1], x[2]); },
             {leaf({3, 5, 33}, 15), leaf({1025, 33}, 16, -0.5, 0.5), leaf({1025}, 17)});
}

TEST_CASE("fast f32: bias + GELU (BERT's fused op) vs float64") {
  for (bool tanh_form : {false, true})
    for (const Shape& s : std::vector<Shape>{{1, 1}, {7, 33}, {33, 1025}, {2, 3, 7}})
      check_case(std::string("bias_gelu ") + (tanh_form ? "tanh " : "erf ") + shape_str(s),
                 [tanh_form](const Inputs& x) { return bias_gelu(x[0], x[1], tanh_form); },
                 {leaf(s, 18, -4, 4), leaf({s.back()}, 19)});
}

TEST_CASE("fast f32: attention (saved probabilities) on GEMMs vs float64, with a padding mask") {
  AttentionOptions o;
  o.impl = AttentionImpl::Saved;
  for (const auto& [B, H, Sq, Sk, D] : std::vector<std::array<std::int64_t, 5>>{
           {1, 1, 1, 1, 1}, {2, 3, 7, 33, 5}, {1, 2, 33, 7, 16}, {3, 1, 5, 9, 64}}) {
    const Inputs in = {leaf({B, H, Sq, D}, 20), leaf({B, H, Sk, D}, 21), leaf({B, H, Sk, D}, 22)};
    check_case("attention " + shape_str({B, H, Sq, Sk, D}),
               [o](const Inputs& x) { return scaled_dot_product_attention(x[0], x[1], x[2], Tensor(), o); }, in);
    // the last item's keys all padding (uniform attention), the first's partly
    std::vector<double> mask(static_cast<std::size_t>(B * Sk), 1.0);
    for (std::int64_t j = 0; j < Sk; ++j) {
      if (j % 3 == 2) mask[j] = 0.0;
      if (B > 1) mask[(B - 1) * Sk + j] = 0.0;
    }
    if (Sk > 1) mask[0] = 1.0;
    const Tensor m64 = from_vector(mask, {B, Sk}, TensorOptions{DType::f64});
    check_case("masked attention " + shape_str({B, H, Sq, Sk, D}),
               [o, m64](const Inputs& x) {
                 return scaled_dot_product_attention(x[0], x[1], x[2], m64.to(x[0].dtype()), o);
               },
               in);
  }
  // a permuted input: [B, S, H, D] -> [B, H, S, D], as BERT's heads
  check_case("attention of permuted q",
             [o](const Inputs& x) {
               return scaled_dot_product_attention(permute(x[0], {0, 2, 1, 3}), x[1], x[2], Tensor(), o);
             },
             {leaf({2, 7, 3, 5}, 23), leaf({2, 3, 7, 5}, 24), leaf({2, 3, 7, 5}, 25)});
}

TEST_CASE("fast f32: MFN gated memory on batched GEMMs vs float64, with lengths and dropout multipliers") {
  struct Dims {
    std::int64_t T, B, G1, G2, M;
  };
  for (const Dims& d : std::vector<Dims>{{1, 1, 1, 1, 1}, {5, 7, 3, 2, 4}, {20, 33, 16, 8, 7}}) {
    const std::int64_t G = d.G1 + d.G2;
    const Inputs in = {leaf({d.T, d.B, G}, 60), leaf({d.T, d.B, d.M}, 61), leaf({G, d.M}, 62, -0.5, 0.5),
                       leaf({d.M, d.G1}, 63, -0.5, 0.5), leaf({d.M}, 64), leaf({d.M, d.G2}, 65, -0.5, 0.5),
                       leaf({d.M}, 66)};
    const std::string dims = shape_str({d.T, d.B, d.G1, d.G2, d.M});
    check_case("gated memory " + dims, [](const Inputs& x) {
      return gated_memory_recurrence(x[0], x[1], x[2], x[3], x[4], x[5], x[6]);
    }, in);
    std::vector<std::int64_t> lens(static_cast<std::size_t>(d.B));
    for (std::int64_t b = 0; b < d.B; ++b) lens[b] = (b * 3) % (d.T + 1);  // 0 .. T, some examples empty
    const Tensor lengths = from_vector(lens, {d.B}, TensorOptions{DType::i64});
    Generator dg(67);
    const Tensor keep = gt(rand({d.T, d.B, G}, dg, TensorOptions{DType::f64}), full({1}, 0.3, TensorOptions{DType::f64}));
    const Tensor drop64 = div(keep, full({1}, 0.7, TensorOptions{DType::f64}));
    check_case("gated memory with lengths and dropout " + dims, [lengths, drop64](const Inputs& x) {
      return gated_memory_recurrence(x[0], x[1], x[2], x[3], x[4], x[5], x[6], lengths, drop64.to(x[0].dtype()));
    }, in);
  }
}

TEST_CASE("fast f32: LSTM cell math (SLEEF sigmoid/tanh) in the recurrence and the fused cell vs float64") {
  for (const auto& [T, B, H] : std::vector<std::array<std::int64_t, 3>>{{1, 1, 1}, {5, 7, 33}, {3, 2, 17}}) {
    const std::int64_t I = 7;
    const Inputs in = {leaf({T, B, I}, 70), leaf({4 * H, I}, 71, -0.5, 0.5), leaf({4 * H, H}, 72, -0.5, 0.5),
                       leaf({4 * H}, 73), leaf({4 * H}, 74)};
    const std::string dims = shape_str({T, B, H});
    check_case("lstm_layer output " + dims, [](const Inputs& x) {
      return lstm_layer(x[0], x[1], x[2], x[3], x[4]).output;
    }, in);
    std::vector<std::int64_t> lens(static_cast<std::size_t>(B));
    for (std::int64_t b = 0; b < B; ++b) lens[b] = (b * 2) % (T + 1);
    const Tensor lengths = from_vector(lens, {B}, TensorOptions{DType::i64});
    check_case("reversed lstm_layer with lengths, c_n " + dims, [lengths](const Inputs& x) {
      return lstm_layer(x[0], x[1], x[2], x[3], x[4], lengths, Tensor(), Tensor(), true).c_n;
    }, in);
    check_case("lstm_cell h' " + dims, [](const Inputs& x) {
      return lstm_cell(select(x[0], 0, 0), Tensor(), Tensor(), x[1], x[2], x[3], x[4]).h;
    }, in);
  }
  check_case("lstm_cell_fused c' and h' [7, 33]", [](const Inputs& x) {
    const LSTMCellOutput o = lstm_cell_fused(x[0], x[1], x[2]);
    return add(o.h, o.c);
  }, {leaf({7, 4 * 33}, 75), leaf({7, 4 * 33}, 76), leaf({7, 33}, 77)});
}

TEST_CASE("fast f32: Adam, AdamW and AMSGrad steps vs the float64 reference") {
  for (const char* kind : {"adam", "adamw", "amsgrad", "adam_l2"}) {
    for (std::int64_t n : kSizes) {
      auto run = [&](DType dt, std::vector<double>& out) {
        Tensor p = values({n}, 30).to(dt).requires_grad_(true);
        const std::string k = kind;
        std::unique_ptr<optim::Optimizer> opt;
        if (k == "adamw") {
          optim::AdamWOptions o;
          o.lr = 1e-2;
          opt = std::make_unique<optim::AdamW>(std::vector<Tensor>{p}, o);
        } else {
          optim::AdamOptions o;
          o.lr = 1e-2;
          o.amsgrad = k == "amsgrad";
          o.weight_decay = k == "adam_l2" ? 0.1 : 0.0;
          opt = std::make_unique<optim::Adam>(std::vector<Tensor>{p}, o);
        }
        for (int step = 0; step < 3; ++step) {
          const Tensor target = values({n}, 40 + step).to(dt);
          sum(square(sub(p, target))).backward();
          opt->step();
          opt->zero_grad();
        }
        out = p.detach().to(DType::f64).to_vector<double>();
      };
      std::vector<double> ref, fast;
      run(DType::f64, ref);
      for (const std::string& isa : isas())
        for (int threads : {1, 2}) {
          REQUIRE(kernels::fast::force_isa(isa.c_str()));
          set_num_threads(threads);
          run(DType::f32, fast);
          double worst = 0;
          for (std::size_t i = 0; i < ref.size(); ++i) worst = std::max(worst, std::abs(fast[i] - ref[i]));
          INFO(kind << " n=" << n << " [" << isa << ", " << threads << " threads]: max |fast - ref| = " << worst);
          CHECK(worst <= 1e-5);  // |p| <= 2.1: a few float32 roundings of the parameter and moments
        }
      kernels::fast::force_isa("");
      set_num_threads(1);
    }
  }
}

TEST_CASE("fast f32: FG_FAST_ISA=off runs the reference loops, and they agree with the fast path") {
  const Tensor x = values({1025}, 50).to(DType::f32);
  REQUIRE(kernels::fast::force_isa("off"));
  CHECK(std::string(kernels::fast::isa_name()) == "off");
  const Tensor slow = gelu(x);
  kernels::fast::force_isa("");
  const Tensor fast = gelu(x);
  expect_close(fast, slow.to(DType::f64), 1e-6, "gelu fast vs reference loop");
}

TEST_CASE("large CPU blocks (> 32 MB, huge pages, reused from the cache) hold what is written to them") {
  const std::int64_t n = 9 << 20;  // 36 MB of float32
  for (int round = 0; round < 3; ++round) {  // the second and third allocations come from the cache
    const Tensor z = zeros({n}, TensorOptions{DType::f32});
    CHECK(sum(z).item() == 0.0);
    const Tensor o = full({n}, 0.5, TensorOptions{DType::f32});
    CHECK(sum(o).item() == doctest::Approx(0.5 * static_cast<double>(n)).epsilon(1e-12));
    const Tensor v = values({n}, 90 + round).to(DType::f32);
    const std::vector<float> host = v.to_vector<float>();
    double ref = 0;
    for (float f : host) ref += f;
    CHECK(sum(v).item() == doctest::Approx(ref).epsilon(1e-6));
  }
}

TEST_CASE("set_num_threads: checks its argument and sets the count the kernels use") {
  CHECK_THROWS_WITH_AS(set_num_threads(0), doctest::Contains("at least 1 thread"), Error);
  set_num_threads(2);
  CHECK(num_threads() == 2);
  set_num_threads(1);
  CHECK(num_threads() == 1);
}
