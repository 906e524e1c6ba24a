// tests/test_lstm.cpp: what the LSTM ops and modules promise beyond their gradients:
// packed-sequence semantics (each sequence of a padded batch gives exactly what it gives
// alone, forward and reverse; zeros past each length), the fused recurrence equals the cell
// unrolled step by step, float32 agrees with float64, nn::LSTM's names, shapes, init range
// and dropout between layers, and clear errors for bad arguments.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "engine/autograd.h"
#include "engine/nn/lstm.h"
#include "engine/ops.h"
#include "support/gradcheck.h"
#include "support/op_inputs.h"
#include "support/test_util.h"

using namespace fg;
using fg::testing::index_tensor;
using fg::testing::rand_input;

namespace {

using namespace fg::test;  // contains, error_of, max_abs_diff

nn::LSTMOptions lstm_options(std::int64_t input, std::int64_t hidden, std::int64_t layers = 1) {
  nn::LSTMOptions o;
  o.input_size = input;
  o.hidden_size = hidden;
  o.num_layers = layers;
  return o;
}

double max_abs(const Tensor& a) {
  double m = 0;
  for (double v : a.to_vector<double>()) m = std::max(m, std::abs(v));
  return m;
}

}  // namespace

TEST_CASE("lstm_recurrence: each sequence of a padded batch equals the sequence run alone") {
  NoGradGuard ng;
  const std::int64_t T = 5, B = 4, H = 3;
  const std::vector<std::int64_t> lens = {5, 2, 0, 4};
  const Tensor gx = rand_input({T, B, 4 * H}, 1, -2, 2).detach(), w = rand_input({4 * H, H}, 2).detach();
  const Tensor bias = rand_input({4 * H}, 3).detach(), h0 = rand_input({B, H}, 4).detach(),
               c0 = rand_input({B, H}, 5).detach();
  for (bool reverse : {false, true}) {
    CAPTURE(reverse);
    const auto r = lstm_recurrence(gx, w, bias, index_tensor(lens, {B}), h0, c0, reverse);
    for (std::int64_t b = 0; b < B; ++b) {
      CAPTURE(b);
      const std::int64_t L = lens[static_cast<std::size_t>(b)];
      const Tensor hb = slice(h0, 0, b, 1), cb = slice(c0, 0, b, 1);
      if (L == 0) {  // nothing runs: the state passes through, the outputs are zero
        CHECK(max_abs_diff(slice(r.h_n, 0, b, 1), hb) == 0.0);
        CHECK(max_abs_diff(slice(r.c_n, 0, b, 1), cb) == 0.0);
        CHECK(max_abs(slice(r.output, 1, b, 1)) == 0.0);
        continue;
      }
      const auto alone = lstm_recurrence(slice(slice(gx, 1, b, 1), 0, 0, L), w, bias, Tensor(), hb, cb, reverse);
      CHECK(max_abs_diff(slice(slice(r.output, 1, b, 1), 0, 0, L), alone.output) < 1e-14);
      CHECK(max_abs_diff(slice(slice(r.cells, 1, b, 1), 0, 0, L), alone.cells) < 1e-14);
      CHECK(max_abs_diff(slice(r.h_n, 0, b, 1), alone.h_n) < 1e-14);
      CHECK(max_abs_diff(slice(r.c_n, 0, b, 1), alone.c_n) < 1e-14);
      if (L < T) {
        CHECK(max_abs(slice(slice(r.output, 1, b, 1), 0, L, T - L)) == 0.0);
        CHECK(max_abs(slice(slice(r.cells, 1, b, 1), 0, L, T - L)) == 0.0);
      }
    }
  }
}

TEST_CASE("lstm_recurrence: reverse equals forward over the flipped sequence") {
  NoGradGuard ng;
  const std::int64_t T = 4, H = 2;
  const Tensor gx = rand_input({T, 1, 4 * H}, 6, -2, 2).detach(), w = rand_input({4 * H, H}, 7).detach();
  const Tensor flip_idx = index_tensor({3, 2, 1, 0}, {T});
  const auto rev = lstm_recurrence(gx, w, Tensor(), Tensor(), Tensor(), Tensor(), true);
  const auto fwd = lstm_recurrence(index_select(gx, 0, flip_idx), w);
  CHECK(max_abs_diff(rev.output, index_select(fwd.output, 0, flip_idx)) < 1e-14);
  CHECK(max_abs_diff(rev.h_n, fwd.h_n) < 1e-14);
  // the final reverse state is the one at position 0
  CHECK(max_abs_diff(rev.h_n, select(rev.output, 0, 0)) == 0.0);
  CHECK(max_abs_diff(rev.c_n, select(rev.cells, 0, 0)) == 0.0);
}

TEST_CASE("lstm_layer equals lstm_cell unrolled step by step (values and gradients)") {
  const std::int64_t T = 4, B = 3, I = 5, H = 3;
  const Tensor x = rand_input({T, B, I}, 8), w_ih = rand_input({4 * H, I}, 9), w_hh = rand_input({4 * H, H}, 10);
  const Tensor b_ih = rand_input({4 * H}, 11), b_hh = rand_input({4 * H}, 12), h0 = rand_input({B, H}, 13);
  Generator gen(3);
  const Tensor R = randn({T, B, H}, gen, f64_opts());
  const auto fused = lstm_layer(x, w_ih, w_hh, b_ih, b_hh, Tensor(), h0);
  const auto g_fused = autograd::grad(sum(mul(fused.output, R)) + sum(fused.c_n), {x, w_ih, w_hh, b_ih, b_hh, h0});

  Tensor h = h0, c;
  std::vector<Tensor> hs;
  for (std::int64_t t = 0; t < T; ++t) {
    const auto s = lstm_cell(select(x, 0, t), h, c, w_ih, w_hh, b_ih, b_hh);
    h = s.h;
    c = s.c;
    hs.push_back(h);
  }
  const Tensor unrolled = stack(hs, 0);
  CHECK(max_abs_diff(fused.output, unrolled) < 1e-14);
  CHECK(max_abs_diff(fused.c_n, c) < 1e-14);
  const auto g_cell = autograd::grad(sum(mul(unrolled, R)) + sum(c), {x, w_ih, w_hh, b_ih, b_hh, h0});
  for (std::size_t k = 0; k < g_cell.size(); ++k) {
    CAPTURE(k);
    CHECK(max_abs_diff(g_fused[k], g_cell[k]) < 1e-12);
  }
}

TEST_CASE("lstm_layer: float32 agrees with float64") {
  const std::int64_t T = 6, B = 3, I = 4, H = 5;
  const Tensor lengths = index_tensor({6, 3, 5}, {B});
  std::vector<Tensor> in64 = {rand_input({T, B, I}, 14), rand_input({4 * H, I}, 15), rand_input({4 * H, H}, 16),
                              rand_input({4 * H}, 17), rand_input({4 * H}, 18)};
  std::vector<Tensor> in32;
  for (const Tensor& t : in64) in32.push_back(t.detach().to(DType::f32).requires_grad_());
  for (bool reverse : {false, true}) {
    CAPTURE(reverse);
    auto run = [&](const std::vector<Tensor>& in) {
      const auto r = lstm_layer(in[0], in[1], in[2], in[3], in[4], lengths, Tensor(), Tensor(), reverse);
      const Tensor all = concat({flatten(r.output), flatten(r.h_n), flatten(r.c_n)}, 0);
      return std::make_pair(all, autograd::grad(sum(mul(all, all)), in));
    };
    const auto [y64, g64] = run(in64);
    const auto [y32, g32] = run(in32);
    CHECK(max_abs_diff(y32, y64) < 1e-5);
    for (std::size_t k = 0; k < g64.size(); ++k) {
      CAPTURE(k);
      CHECK(max_abs_diff(g32[k], g64[k]) < 1e-4 * (1 + max_abs(g64[k])));
    }
  }
}

TEST_CASE("nn::LSTM: PyTorch's parameter names, shapes, init range and result shapes") {
  Generator gen(1);
  nn::LSTMOptions o;
  o.input_size = 5;
  o.hidden_size = 4;
  o.num_layers = 2;
  o.bidirectional = true;
  nn::LSTM lstm(o, gen);
  const std::vector<std::pair<std::string, Shape>> want = {
      {"weight_ih_l0", {16, 5}},         {"weight_hh_l0", {16, 4}},         {"bias_ih_l0", {16}},
      {"bias_hh_l0", {16}},              {"weight_ih_l0_reverse", {16, 5}}, {"weight_hh_l0_reverse", {16, 4}},
      {"bias_ih_l0_reverse", {16}},      {"bias_hh_l0_reverse", {16}},      {"weight_ih_l1", {16, 8}},
      {"weight_hh_l1", {16, 4}},         {"bias_ih_l1", {16}},              {"bias_hh_l1", {16}},
      {"weight_ih_l1_reverse", {16, 8}}, {"weight_hh_l1_reverse", {16, 4}}, {"bias_ih_l1_reverse", {16}},
      {"bias_hh_l1_reverse", {16}}};
  const auto named = lstm.named_parameters();
  REQUIRE(named.size() == want.size());
  for (std::size_t k = 0; k < want.size(); ++k) {
    CHECK(named[k].first == want[k].first);
    CHECK(named[k].second.shape() == want[k].second);
    // U(-1/sqrt(H), 1/sqrt(H)) = U(-0.5, 0.5), and it really spreads over the range
    const auto v = named[k].second.to_vector<double>();
    double lo = 1, hi = -1;
    for (double e : v) lo = std::min(lo, e), hi = std::max(hi, e);
    CHECK(lo >= -0.5);
    CHECK(hi <= 0.5);
    CHECK(hi - lo > 0.5);
  }
  NoGradGuard ng;
  const auto r = lstm.forward(rand(Shape{7, 3, 5}, gen));
  CHECK(r.output.shape() == Shape{7, 3, 8});
  CHECK(r.h_n.shape() == Shape{4, 3, 4});
  CHECK(r.c_n.shape() == Shape{4, 3, 4});
  // the last layer's final states are the ends of its output halves
  CHECK(max_abs_diff(select(r.h_n, 0, 2), slice(select(r.output, 0, 6), 1, 0, 4)) == 0.0);
  CHECK(max_abs_diff(select(r.h_n, 0, 3), slice(select(r.output, 0, 0), 1, 4, 4)) == 0.0);

  nn::LSTMCell cell(3, 2, gen);
  const auto cnames = cell.named_parameters();
  REQUIRE(cnames.size() == 4u);
  CHECK(cnames[0].first == "weight_ih");
  CHECK(cnames[1].first == "weight_hh");
  CHECK(cnames[2].first == "bias_ih");
  CHECK(cnames[3].first == "bias_hh");
  CHECK(cnames[0].second.shape() == Shape{8, 3});
}

TEST_CASE("nn::LSTM: batch_first is the transpose of time-major; dropout between layers only in training") {
  Generator gen(2);
  nn::LSTMOptions o;
  o.input_size = 3;
  o.hidden_size = 4;
  o.num_layers = 2;
  o.dropout = 0.5;
  o.dropout_generator = std::make_shared<Generator>(11);
  nn::LSTM tm(o, gen);
  o.batch_first = true;
  Generator gen2(2);
  nn::LSTM bf(o, gen2);  // same seed: same weights
  NoGradGuard ng;
  tm.eval();
  bf.eval();
  const Tensor x = rand(Shape{5, 2, 3}, gen);
  const Tensor lengths = index_tensor({5, 3}, {2});
  const auto a = tm.forward(x, lengths), b = bf.forward(transpose(x, 0, 1), lengths);
  CHECK(max_abs_diff(a.output, transpose(b.output, 0, 1)) == 0.0);
  CHECK(max_abs_diff(a.h_n, b.h_n) == 0.0);
  // eval twice: identical; training: dropout changes the second layer's input
  CHECK(max_abs_diff(tm.forward(x, lengths).output, a.output) == 0.0);
  tm.train();
  const auto t1 = tm.forward(x, lengths);
  CHECK(max_abs_diff(t1.output, a.output) > 1e-3);
  CHECK(max_abs(slice(select(t1.output, 1, 1), 0, 3, 2)) == 0.0);  // padding stays zero
}

TEST_CASE("LSTM ops: bad arguments give errors naming the op and the argument") {
  const Tensor gx = zeros({3, 2, 8}, f64_opts()), w = zeros({8, 2}, f64_opts());
  CHECK(contains(error_of([&] { lstm_recurrence(gx, w, Tensor(), index_tensor({3, 4}, {2})); }), "lengths[1] = 4"));
  CHECK(contains(error_of([&] { lstm_recurrence(gx, w, Tensor(), index_tensor({-1, 2}, {2})); }), "lengths[0] = -1"));
  CHECK(contains(error_of([&] { lstm_recurrence(gx, w, Tensor(), index_tensor({1, 2, 3}, {3})); }),
                 "lstm_recurrence: lengths must be [2]"));
  CHECK(contains(error_of([&] { lstm_recurrence(gx, w, Tensor(), zeros({2}, f64_opts())); }),
                 "lengths must be int64"));
  CHECK(contains(error_of([&] { lstm_recurrence(gx, zeros({8, 3}, f64_opts())); }), "lstm_recurrence: w_hh must be"));
  CHECK(contains(error_of([&] { lstm_recurrence(zeros({3, 2, 6}, f64_opts()), w); }), "gates_x must be [T, B, 4H]"));
  CHECK(contains(error_of([&] { lstm_recurrence(gx, w, zeros({7}, f64_opts())); }), "bias must be [8]"));
  CHECK(contains(error_of([&] { lstm_recurrence(gx, w, Tensor(), Tensor(), zeros({2, 3}, f64_opts())); }),
                 "h0 must be [2, 2]"));
  CHECK(contains(error_of([&] { lstm_recurrence(gx, w.to(DType::f32)); }), "different dtypes"));
  CHECK(contains(error_of([&] { lstm_layer(zeros({3, 2, 5}, f64_opts()), zeros({8, 4}, f64_opts()), w); }),
                 "lstm_layer: w_ih must be [4H, 5]"));
  CHECK(contains(error_of([&] { lstm_cell(zeros({2, 4}, f64_opts()), Tensor(), zeros({3, 2}, f64_opts()),
                                          zeros({8, 4}, f64_opts()), w); }),
                 "lstm_cell: c must be [2, 2]"));
  Generator gen(1);
  nn::LSTM lstm(lstm_options(4, 2, 2), gen);
  CHECK(contains(error_of([&] { lstm.forward(zeros({3, 2, 5})); }), "input_size 4"));
  CHECK(contains(error_of([&] { lstm.forward(zeros({3, 2, 4}), Tensor(), zeros({1, 2, 2})); }),
                 "h0 must be [num_layers * num_directions, B, H] = [2, 2, 2]"));
  CHECK(contains(error_of([&] { nn::LSTM(lstm_options(4, 0), gen); }), "must be positive"));
}
