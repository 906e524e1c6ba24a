// tests/test_mfn.cpp: the Memory Fusion Network (models/mfn.h): a float64 gradient check of
// every input and parameter on a tiny configuration with uneven lengths; padding never
// reaches the result (each example of a padded batch equals the example run alone); the
// batched implementation equals a plain step-by-step MFN written here with lstm_cell;
// parameter names, shapes, config errors, dropout only in training. And the fused serial
// op, gated_memory_recurrence: gradcheck (uneven lengths, dropout multipliers) and equality
// with the same loop written with basic ops, values and gradients.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/ops_gated_memory.h"
#include "models/mfn.h"
#include "support/gradcheck.h"
#include "support/op_inputs.h"
#include "support/test_util.h"

using namespace fg;
using fg::models::MFN;
using fg::models::MFNConfig;
using fg::testing::index_tensor;
using fg::testing::rand_input;

namespace {

using namespace fg::test;  // contains, error_of, max_abs_diff

MFNConfig tiny_config() {
  MFNConfig c;
  c.modality_names = {"l", "a", "v"};
  c.input_sizes = {3, 2, 2};
  c.hidden_sizes = {2, 2, 1};
  c.memory_size = 3;
  c.attention_hidden = 5;
  c.memory_hidden = 4;
  c.gamma1_hidden = 5;
  c.gamma2_hidden = 4;
  c.output_hidden = {6};
  c.output_size = 2;
  c.attention_dropout = c.memory_dropout = c.gamma1_dropout = c.gamma2_dropout = c.output_dropout = 0.0;
  return c;
}

// The MFN equations written the plain way (the authors' loop): cells step by step, the
// attention and gates recomputed at every step, memory and states frozen past each length.
Tensor step_by_step(const MFN& mfn, const std::vector<Tensor>& xs, const std::vector<std::int64_t>& lengths) {
  const MFNConfig& c = mfn.config();
  const std::int64_t B = xs[0].size(0), T = xs[0].size(1);
  std::vector<Tensor> h(xs.size()), cs(xs.size());
  for (std::size_t m = 0; m < xs.size(); ++m)
    h[m] = cs[m] = zeros({B, c.hidden_sizes[m]}, xs[0].options());
  Tensor u = zeros({B, c.memory_size}, xs[0].options());
  std::vector<double> mv(static_cast<std::size_t>(B));
  for (std::int64_t t = 0; t < T; ++t) {
    for (std::int64_t b = 0; b < B; ++b) mv[static_cast<std::size_t>(b)] = t < lengths[static_cast<std::size_t>(b)];
    const Tensor mask = from_vector(mv, {B, 1}, xs[0].options());
    std::vector<Tensor> prev_c = cs, new_c;
    for (std::size_t m = 0; m < xs.size(); ++m) {
      const auto& cell = *mfn.lstms[m];
      const auto s = lstm_cell(select(xs[m], 1, t), h[m], cs[m], cell.weight_ih, cell.weight_hh, cell.bias_ih,
                               cell.bias_hh);
      new_c.push_back(s.c);
      h[m] = where(mask, s.h, h[m]);
      cs[m] = where(mask, s.c, cs[m]);
    }
    const Tensor c_star = concat({concat(prev_c, 1), concat(new_c, 1)}, 1);
    const Tensor att = mul(softmax(mfn.att1->forward(c_star), -1), c_star);
    const Tensor u_hat = tanh(mfn.att2->forward(att));
    const Tensor both = concat({att, u}, 1);
    const Tensor g1 = sigmoid(mfn.gamma1->forward(both)), g2 = sigmoid(mfn.gamma2->forward(both));
    u = where(mask, add(mul(g1, u), mul(g2, u_hat)), u);
  }
  std::vector<Tensor> feats = h;
  feats.push_back(u);
  return mfn.out->forward(concat(feats, 1));
}

}  // namespace

TEST_CASE("MFN: gradcheck of every input and parameter (tiny config, uneven lengths)") {
  Generator gen(3);
  MFN mfn(tiny_config(), gen, f64_opts());
  const std::int64_t B = 3, T = 4;
  const Tensor lengths = index_tensor({4, 2, 3}, {B});
  std::vector<Tensor> in = {rand_input({B, T, 3}, 1), rand_input({B, T, 2}, 2), rand_input({B, T, 2}, 3)};
  for (const Tensor& p : mfn.parameters()) in.push_back(p);
  // every input and parameter matters here (no ReLU of the small networks is dead), so the
  // check below compares real gradients, never zeros with zeros
  const Tensor y = mfn.forward({in[0], in[1], in[2]}, lengths).output;
  const auto g = autograd::grad(sum(mul(y, y)), in);
  for (std::size_t k = 0; k < g.size(); ++k) {
    CAPTURE(k);
    CHECK(max(abs(g[k])).item() > 0.0);
  }
  CHECK_GRADCHECK([&](const std::vector<Tensor>& v) { return mfn.forward({v[0], v[1], v[2]}, lengths).output; }, in);
}

TEST_CASE("MFN: the batched implementation equals the step-by-step equations (values and gradients)") {
  Generator gen(4);
  MFN mfn(tiny_config(), gen, f64_opts());
  const std::int64_t B = 4, T = 5;
  const std::vector<std::int64_t> lens = {5, 1, 3, 4};
  const std::vector<Tensor> xs = {rand_input({B, T, 3}, 4), rand_input({B, T, 2}, 5), rand_input({B, T, 2}, 6)};
  std::vector<Tensor> wrt = xs;
  for (const Tensor& p : mfn.parameters()) wrt.push_back(p);
  const Tensor fast = mfn.forward(xs, index_tensor(lens, {B})).output;
  const Tensor plain = step_by_step(mfn, xs, lens);
  CHECK(max_abs_diff(fast, plain) < 1e-14);
  const auto g_fast = autograd::grad(sum(mul(fast, fast)), wrt);
  const auto g_plain = autograd::grad(sum(mul(plain, plain)), wrt);
  for (std::size_t k = 0; k < wrt.size(); ++k) {
    CAPTURE(k);
    CHECK(max_abs_diff(g_fast[k], g_plain[k]) < 1e-13);
  }
}

TEST_CASE("MFN: padding never reaches the result, and lengths all T equal no lengths") {
  NoGradGuard ng;
  Generator gen(5);
  MFN mfn(tiny_config(), gen, f64_opts());
  const std::int64_t B = 3, T = 6;
  const std::vector<std::int64_t> lens = {6, 2, 4};
  std::vector<Tensor> xs = {rand_input({B, T, 3}, 7).detach(), rand_input({B, T, 2}, 8).detach(),
                            rand_input({B, T, 2}, 9).detach()};
  const auto batch = mfn.forward(xs, index_tensor(lens, {B}));
  CHECK(batch.output.shape() == Shape{B, 2});
  CHECK(batch.features.shape() == Shape{B, 5 + 3});
  for (std::int64_t b = 0; b < B; ++b) {
    CAPTURE(b);
    const std::int64_t L = lens[static_cast<std::size_t>(b)];
    std::vector<Tensor> alone;
    for (const Tensor& x : xs) alone.push_back(slice(slice(x, 0, b, 1), 1, 0, L));
    const auto r = mfn.forward(alone);
    CHECK(max_abs_diff(slice(batch.features, 0, b, 1), r.features) < 1e-14);
    CHECK(max_abs_diff(slice(batch.output, 0, b, 1), r.output) < 1e-14);
  }
  // garbage in the padding changes nothing
  std::vector<Tensor> noisy;
  for (const Tensor& x : xs) {
    Tensor y = x.clone();
    double* p = y.data<double>();
    for (std::int64_t t = 2; t < T; ++t)
      for (std::int64_t d = 0; d < y.size(2); ++d) p[(1 * T + t) * y.size(2) + d] = 1e3;  // example 1, t >= 2
    noisy.push_back(y);
  }
  CHECK(max_abs_diff(mfn.forward(noisy, index_tensor(lens, {B})).output, batch.output) == 0.0);
  CHECK(max_abs_diff(mfn.forward(xs, index_tensor({6, 6, 6}, {B})).output, mfn.forward(xs).output) == 0.0);
}

TEST_CASE("MFN: names, default MOSI sizes, time-major layout, dropout only in training") {
  Generator gen(6);
  MFN mosi(MFNConfig{}, gen);
  const auto names = mosi.named_parameters();
  std::map<std::string, Shape> shape_of;
  for (const auto& [n, t] : names) shape_of[n] = t.shape();
  CHECK(shape_of.at("lstm_l.weight_ih") == Shape{4 * 88, 300});
  CHECK(shape_of.at("lstm_a.weight_hh") == Shape{4 * 48, 48});
  CHECK(shape_of.at("lstm_v.bias_ih") == Shape{4 * 16});
  CHECK(shape_of.at("att1.0.weight") == Shape{128, 2 * 152});
  CHECK(shape_of.at("att1.2.weight") == Shape{2 * 152, 128});  // no dropout: Linear, ReLU, Linear
  CHECK(shape_of.at("att2.3.weight") == Shape{128, 64});       // dropout: Linear, ReLU, Dropout, Linear
  CHECK(shape_of.at("gamma1.0.weight") == Shape{256, 2 * 152 + 128});
  CHECK(shape_of.at("gamma2.3.bias") == Shape{128});
  CHECK(shape_of.at("out.0.weight") == Shape{64, 152 + 128});
  CHECK(shape_of.at("out.3.weight") == Shape{1, 64});
  CHECK(names.size() == 3 * 4 + 4 * 4 + 4);

  MFNConfig c = tiny_config();
  c.batch_first = false;
  c.gamma1_dropout = c.output_dropout = 0.5;
  Generator g1(7), g2(7);
  MFNConfig cb = c;
  cb.batch_first = true;
  MFN tm(c, g1, f64_opts(), std::make_shared<Generator>(1)), bf(cb, g2, f64_opts(), std::make_shared<Generator>(1));
  NoGradGuard ng;
  tm.eval();
  bf.eval();
  const std::vector<Tensor> xs = {rand_input({4, 2, 3}, 10).detach(), rand_input({4, 2, 2}, 11).detach(),
                                  rand_input({4, 2, 2}, 12).detach()};
  const Tensor a = tm.forward(xs).output;
  CHECK(max_abs_diff(a, bf.forward({transpose(xs[0], 0, 1), transpose(xs[1], 0, 1), transpose(xs[2], 0, 1)}).output) ==
        0.0);
  CHECK(max_abs_diff(tm.forward(xs).output, a) == 0.0);
  tm.train();
  CHECK(max_abs_diff(tm.forward(xs).output, a) > 1e-6);
}

TEST_CASE("MFN: bad config and inputs give errors naming the field") {
  Generator gen(8);
  MFNConfig c = tiny_config();
  c.hidden_sizes = {2, 2};
  CHECK(contains(error_of([&] { MFN(c, gen); }), "one entry per modality"));
  c = tiny_config();
  c.memory_size = 0;
  CHECK(contains(error_of([&] { MFN(c, gen); }), "memory_size must be positive"));
  c = tiny_config();
  c.modality_names = {"l", "l", "v"};
  CHECK(contains(error_of([&] { MFN(c, gen); }), "is repeated"));
  c = tiny_config();
  c.gamma2_dropout = 1.0;
  CHECK(contains(error_of([&] { MFN(c, gen); }), "gamma2_dropout"));
  MFN mfn(tiny_config(), gen);
  const Tensor xl = zeros({2, 4, 3}), xa = zeros({2, 4, 2}), xv = zeros({2, 4, 2});
  CHECK(contains(error_of([&] { mfn.forward({xl, xa}); }), "expected 3 inputs"));
  CHECK(contains(error_of([&] { mfn.forward({xl, zeros({2, 4, 3}), xv}); }), "input 1 ('a') must be [B, T, D] with D = 2"));
  CHECK(contains(error_of([&] { mfn.forward({xl, zeros({2, 5, 2}), xv}); }), "same B and T"));
  CHECK(contains(error_of([&] { mfn.forward({xl, xa, xv}, index_tensor({4, 5}, {2})); }), "lengths[1] = 5"));
  CHECK(contains(error_of([&] { mfn.forward({xl, xa, xv}, index_tensor({4}, {1})); }), "lengths must be int64 [2]"));
}

namespace {

// gated_memory_recurrence's documented loop, written with basic ops.
Tensor memory_loop(const std::vector<Tensor>& v, const std::vector<std::int64_t>& lengths, const Tensor& drop) {
  const Tensor &gate_x = v[0], &u_hat = v[1], &w_u = v[2], &w1 = v[3], &b1 = v[4], &w2 = v[5], &b2 = v[6];
  const std::int64_t T = gate_x.size(0), B = gate_x.size(1), M = w1.size(0), G1 = w1.size(1), G2 = w2.size(1);
  Tensor u = zeros({B, M}, gate_x.options());
  std::vector<Tensor> all;
  std::vector<double> mv(static_cast<std::size_t>(B));
  for (std::int64_t t = 0; t < T; ++t) {
    for (std::int64_t b = 0; b < B; ++b)
      mv[static_cast<std::size_t>(b)] = lengths.empty() || t < lengths[static_cast<std::size_t>(b)];
    Tensor hid = relu(add(select(gate_x, 0, t), linear(u, w_u)));
    if (drop.defined()) hid = mul(hid, select(drop, 0, t));
    const Tensor g1 = sigmoid(linear(slice(hid, 1, 0, G1), w1, b1));
    const Tensor g2 = sigmoid(linear(slice(hid, 1, G1, G2), w2, b2));
    u = where(from_vector(mv, {B, 1}, gate_x.options()), add(mul(g1, u), mul(g2, select(u_hat, 0, t))), u);
    all.push_back(u);
  }
  return stack(all, 0);
}

// Inputs of the op: gate_x, u_hat, w_u, w1, b1, w2, b2 (float64 leaves).
std::vector<Tensor> memory_inputs(std::int64_t T, std::int64_t B, std::int64_t G1, std::int64_t G2, std::int64_t M,
                                  std::uint64_t seed) {
  return {rand_input({T, B, G1 + G2}, seed), rand_input({T, B, M}, seed + 1), rand_input({G1 + G2, M}, seed + 2),
          rand_input({M, G1}, seed + 3),     rand_input({M}, seed + 4),        rand_input({M, G2}, seed + 5),
          rand_input({M}, seed + 6)};
}

Tensor call_memory(const std::vector<Tensor>& v, const Tensor& lengths, const Tensor& drop) {
  return gated_memory_recurrence(v[0], v[1], v[2], v[3], v[4], v[5], v[6], lengths, drop);
}

}  // namespace

TEST_CASE("gated_memory_recurrence: gradcheck of all seven inputs (uneven lengths, with and without dropout)") {
  const std::int64_t T = 4, B = 3, G1 = 3, G2 = 2, M = 3;
  const std::vector<Tensor> in = memory_inputs(T, B, G1, G2, M, 20);
  const Tensor lengths = index_tensor({4, 0, 2}, {B});
  // multipliers as dropout draws them: 0 or 1 / (1 - p)
  std::vector<double> dv(static_cast<std::size_t>(T * B * (G1 + G2)));
  for (std::size_t k = 0; k < dv.size(); ++k) dv[k] = k % 3 == 1 ? 0.0 : 2.0;
  const Tensor drop = from_vector(dv, {T, B, G1 + G2}, f64_opts());
  for (const Tensor& d : {Tensor(), drop}) {
    CAPTURE(d.defined());
    // the gradients are real (not zeros compared with zeros)
    const auto g = autograd::grad(sum(mul(call_memory(in, lengths, d), call_memory(in, lengths, d))), in);
    for (std::size_t k = 0; k < g.size(); ++k) {
      CAPTURE(k);
      CHECK(max(abs(g[k])).item() > 0.0);
    }
    CHECK_GRADCHECK([&](const std::vector<Tensor>& v) { return call_memory(v, lengths, d); }, in);
    CHECK_GRADCHECK([&](const std::vector<Tensor>& v) { return call_memory(v, Tensor(), d); }, in);
  }
}

TEST_CASE("gated_memory_recurrence: equals its loop of basic ops (values and gradients, float64 and float32)") {
  const std::int64_t T = 5, B = 4, G1 = 4, G2 = 3, M = 5;
  const std::vector<std::int64_t> lens = {5, 1, 0, 3};
  std::vector<double> dv(static_cast<std::size_t>(T * B * (G1 + G2)));
  for (std::size_t k = 0; k < dv.size(); ++k) dv[k] = k % 4 == 2 ? 0.0 : 1.25;
  for (DType dt : {DType::f64, DType::f32}) {
    CAPTURE(dtype_name(dt));
    std::vector<Tensor> in;
    for (const Tensor& t : memory_inputs(T, B, G1, G2, M, 30)) {
      Tensor c = t.detach().to(dt);
      c.requires_grad_(true);
      in.push_back(c);
    }
    const Tensor drop = from_vector(dv, {T, B, G1 + G2}, TensorOptions{dt});
    const double tol = dt == DType::f64 ? 1e-13 : 2e-5;
    for (const Tensor& d : {Tensor(), drop}) {
      CAPTURE(d.defined());
      const Tensor fused = call_memory(in, index_tensor(lens, {B}), d);
      const Tensor plain = memory_loop(in, lens, d);
      CHECK(max_abs_diff(fused, plain) < tol);
      const Tensor r = rand_input(fused.shape(), 31).detach().to(dt);
      const auto gf = autograd::grad(sum(mul(fused, r)), in);
      const auto gp = autograd::grad(sum(mul(plain, r)), in);
      for (std::size_t k = 0; k < in.size(); ++k) {
        CAPTURE(k);
        CHECK(max_abs_diff(gf[k], gp[k]) < tol);
      }
    }
  }
}

TEST_CASE("gated_memory_recurrence: bad shapes and lengths give errors naming the argument") {
  const std::vector<Tensor> in = memory_inputs(3, 2, 2, 2, 3, 40);
  auto with = [&](std::size_t k, const Tensor& t) {
    std::vector<Tensor> v = in;
    v[k] = t;
    return v;
  };
  CHECK(contains(error_of([&] { call_memory(with(1, zeros({3, 2, 4}, f64_opts())), Tensor(), Tensor()); }),
                 "u_hat must be [3, 2, 3]"));
  CHECK(contains(error_of([&] { call_memory(with(2, zeros({4, 2}, f64_opts())), Tensor(), Tensor()); }),
                 "w_u must be [4, 3]"));
  CHECK(contains(error_of([&] { call_memory(with(5, zeros({3, 3}, f64_opts())), Tensor(), Tensor()); }),
                 "must split gate_x's last axis"));
  CHECK(contains(error_of([&] { call_memory(in, index_tensor({3, 4}, {2}), Tensor()); }), "lengths[1] = 4"));
  CHECK(contains(error_of([&] { call_memory(in, Tensor(), zeros({3, 2, 3}, f64_opts())); }), "drop must be"));
}
