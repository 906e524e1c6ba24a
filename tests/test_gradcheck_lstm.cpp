// tests/test_gradcheck_lstm.cpp: float64 gradient checks of the LSTM ops (engine/ops_lstm.h)
// and modules (engine/nn/lstm.h): the fused recurrence (forward and reverse, lengths that
// differ within the batch including 0 and T, initial states, with and without bias), the
// whole layer, the cell and its fused pointwise part, and nn::LSTM stacked and
// bidirectional with lengths, initial states and batch_first. Every output of an op (h
// sequence, h_n, c_n and the cell sequence) enters the loss through one random projection.
#include <doctest/doctest.h>

#include "engine/nn/lstm.h"
#include "support/gradcheck.h"
#include "support/op_inputs.h"

using namespace fg;
using fg::testing::index_tensor;
using fg::testing::rand_input;
using Inputs = std::vector<Tensor>;

namespace {

void check_grad(const testing::TensorFn& f, const Inputs& in) { CHECK_GRADCHECK(f, in); }

// All outputs of a sequence op as one vector, so one random R weighs each of them.
Tensor flat(const LSTMSequenceOutput& r) {
  return concat({flatten(r.output), flatten(r.h_n), flatten(r.c_n), flatten(r.cells)}, 0);
}
Tensor flat(const LSTMCellOutput& r) { return concat({flatten(r.h), flatten(r.c)}, 0); }
Tensor flat(const nn::LSTMResult& r) { return concat({flatten(r.output), flatten(r.h_n), flatten(r.c_n)}, 0); }

}  // namespace

TEST_CASE("gradcheck: lstm_recurrence with lengths, initial states and bias, both directions") {
  const std::int64_t T = 4, B = 4, H = 3;
  // lengths differ within the batch, with the extremes 0 (state passes straight through) and T
  const Tensor lengths = index_tensor({3, 4, 0, 1}, {B});
  for (bool reverse : {false, true}) {
    CAPTURE(reverse);
    check_grad(
        [&](const Inputs& in) { return flat(lstm_recurrence(in[0], in[1], in[2], lengths, in[3], in[4], reverse)); },
        {rand_input({T, B, 4 * H}, 1, -1.5, 1.5), rand_input({4 * H, H}, 2), rand_input({4 * H}, 3),
         rand_input({B, H}, 4), rand_input({B, H}, 5)});
  }
}

TEST_CASE("gradcheck: lstm_recurrence without lengths, states or bias") {
  for (bool reverse : {false, true}) {
    CAPTURE(reverse);
    check_grad([&](const Inputs& in) { return flat(lstm_recurrence(in[0], in[1], Tensor(), Tensor(), Tensor(),
                                                                   Tensor(), reverse)); },
               {rand_input({5, 2, 8}, 6, -1.5, 1.5), rand_input({8, 2}, 7)});
  }
}

TEST_CASE("gradcheck: lstm_recurrence, only some inputs require grad") {
  const Tensor w = rand_input({8, 2}, 8).detach(), h0 = rand_input({3, 2}, 9).detach();
  const Tensor lengths = index_tensor({2, 3, 1}, {3});
  check_grad([&](const Inputs& in) { return flat(lstm_recurrence(in[0], w, Tensor(), lengths, h0, in[1], true)); },
             {rand_input({3, 3, 8}, 10), rand_input({3, 2}, 11)});
}

TEST_CASE("gradcheck: lstm_layer (input projection + recurrence)") {
  const Tensor lengths = index_tensor({2, 4, 3}, {3});
  for (bool reverse : {false, true}) {
    CAPTURE(reverse);
    check_grad(
        [&](const Inputs& in) {
          return flat(lstm_layer(in[0], in[1], in[2], in[3], in[4], lengths, in[5], in[6], reverse));
        },
        {rand_input({4, 3, 3}, 12), rand_input({8, 3}, 13), rand_input({8, 2}, 14), rand_input({8}, 15),
         rand_input({8}, 16), rand_input({3, 2}, 17), rand_input({3, 2}, 18)});
  }
}

TEST_CASE("gradcheck: lstm_cell") {
  SUBCASE("with states and biases") {
    check_grad([](const Inputs& in) { return flat(lstm_cell(in[0], in[1], in[2], in[3], in[4], in[5], in[6])); },
               {rand_input({3, 4}, 19), rand_input({3, 2}, 20), rand_input({3, 2}, 21), rand_input({8, 4}, 22),
                rand_input({8, 2}, 23), rand_input({8}, 24), rand_input({8}, 25)});
  }
  SUBCASE("zero initial state, no bias") {
    check_grad([](const Inputs& in) { return flat(lstm_cell(in[0], Tensor(), Tensor(), in[1], in[2])); },
               {rand_input({2, 3}, 26), rand_input({12, 3}, 27), rand_input({12, 3}, 28)});
  }
  SUBCASE("fused pointwise part") {
    check_grad([](const Inputs& in) { return flat(lstm_cell_fused(in[0], in[1], in[2])); },
               {rand_input({3, 8}, 29, -2, 2), rand_input({3, 8}, 30, -2, 2), rand_input({3, 2}, 31)});
  }
}

TEST_CASE("gradcheck: nn::LSTM stacked, bidirectional, lengths, initial states, batch_first") {
  Generator gen(7);
  nn::LSTMOptions o;
  o.input_size = 3;
  o.hidden_size = 2;
  o.num_layers = 2;
  o.bidirectional = true;
  o.batch_first = true;
  o.dropout = 0.3;  // inactive in eval mode
  o.param_options = f64_opts();
  nn::LSTM lstm(o, gen);
  lstm.eval();
  const Tensor lengths = index_tensor({4, 2, 3}, {3});
  Inputs in = {rand_input({3, 4, 3}, 32), rand_input({4, 3, 2}, 33), rand_input({4, 3, 2}, 34)};
  for (const Tensor& p : lstm.parameters()) in.push_back(p);
  check_grad([&](const Inputs& v) { return flat(lstm.forward(v[0], lengths, v[1], v[2])); }, in);
}

TEST_CASE("gradcheck: nn::LSTM single layer without bias, nn::LSTMCell") {
  Generator gen(8);
  SUBCASE("LSTM") {
    nn::LSTMOptions o;
    o.input_size = 2;
    o.hidden_size = 3;
    o.bias = false;
    o.param_options = f64_opts();
    nn::LSTM lstm(o, gen);
    Inputs in = {rand_input({3, 2, 2}, 35)};
    for (const Tensor& p : lstm.parameters()) in.push_back(p);
    check_grad([&](const Inputs& v) { return flat(lstm.forward(v[0])); }, in);
  }
  SUBCASE("LSTMCell") {
    nn::LSTMCell cell(3, 2, gen, true, f64_opts());
    Inputs in = {rand_input({2, 3}, 36), rand_input({2, 2}, 37), rand_input({2, 2}, 38)};
    for (const Tensor& p : cell.parameters()) in.push_back(p);
    check_grad([&](const Inputs& v) { return flat(cell.forward(v[0], v[1], v[2])); }, in);
  }
}
