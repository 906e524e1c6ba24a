// tests/test_reference_lstm.cpp: the LSTM ops and nn::LSTM vs torch.nn.LSTM / LSTMCell
// (PyTorch 1.13, float64), fixtures from tests/reference/ref_lstm.py: outputs, final states
// and the gradients of every input and weight, for one direction each way, packed
// variable-length batches (pack_padded_sequence with enforce_sorted=False), initial states,
// stacked and bidirectional stacks, batch_first and bias-free layers. The module case also
// checks that nn::LSTM names its parameters exactly as PyTorch does (the fixture carries
// PyTorch's names) and that the module, loaded by those names, gives the same output.
#include <doctest/doctest.h>

#include "engine/autograd.h"
#include "engine/nn/lstm.h"
#include "support/reference.h"

using namespace fg;
using Params = nlohmann::json;
using Inputs = std::vector<Tensor>;

namespace {

Tensor flat(const std::vector<Tensor>& ts) {
  std::vector<Tensor> parts;
  for (const Tensor& t : ts) parts.push_back(flatten(t));
  return concat(parts, 0);
}

}  // namespace

FG_REFERENCE_TEST("lstm", "lstm_layer", [](const Inputs& in, const Params& p) {
  std::size_t k = 5;
  const Tensor lengths = p["lengths"].get<bool>() ? in[k++] : Tensor();
  Tensor h0, c0;
  if (p["state"].get<bool>()) {
    h0 = in[k++];
    c0 = in[k++];
  }
  REQUIRE(k == in.size());
  const auto r = lstm_layer(in[0], in[1], in[2], in[3], in[4], lengths, h0, c0, p["reverse"].get<bool>());
  return flat({r.output, r.h_n, r.c_n});
})

FG_REFERENCE_TEST("lstm", "lstm_cell", [](const Inputs& in, const Params& p) {
  const bool state = p["state"].get<bool>(), bias = p["bias"].get<bool>();
  std::size_t k = 1;
  Tensor h, c;
  if (state) {
    h = in[k++];
    c = in[k++];
  }
  const Tensor w_ih = in[k++], w_hh = in[k++];
  const Tensor b_ih = bias ? in[k++] : Tensor(), b_hh = bias ? in[k++] : Tensor();
  REQUIRE(k == in.size());
  const auto r = lstm_cell(in[0], h, c, w_ih, w_hh, b_ih, b_hh);
  return flat({r.h, r.c});
})

FG_REFERENCE_TEST("lstm", "lstm_module", [](const Inputs& in, const Params& p) {
  nn::LSTMOptions o;
  o.input_size = p["input_size"].get<std::int64_t>();
  o.hidden_size = p["hidden_size"].get<std::int64_t>();
  o.num_layers = p["num_layers"].get<std::int64_t>();
  o.bidirectional = p["bidirectional"].get<bool>();
  o.batch_first = p["batch_first"].get<bool>();
  o.bias = p["bias"].get<bool>();
  o.param_options = f64_opts();
  std::size_t k = 1;
  const Tensor lengths = p["lengths"].get<bool>() ? in[k++] : Tensor();
  Tensor h0, c0;
  if (p["state"].get<bool>()) {
    h0 = in[k++];
    c0 = in[k++];
  }
  const auto names = p["names"].get<std::vector<std::string>>();
  REQUIRE(in.size() == k + names.size());

  // the module's parameters are PyTorch's, by name, order and shape
  Generator gen(1);
  nn::LSTM module(o, gen);
  const auto named = module.named_parameters();
  REQUIRE(named.size() == names.size());
  std::map<std::string, Tensor> state;
  for (std::size_t i = 0; i < names.size(); ++i) {
    CHECK(named[i].first == names[i]);
    CHECK(named[i].second.shape() == in[k + i].shape());
    state[names[i]] = in[k + i].detach();
  }

  // the computation under test: the functional form fed the fixture's tensors (so the
  // reference harness sees the gradients of the weights)
  std::vector<nn::LSTMWeights> weights;
  for (std::size_t i = k; i < in.size();) {
    nn::LSTMWeights w;
    w.w_ih = in[i++];
    w.w_hh = in[i++];
    if (o.bias) {
      w.b_ih = in[i++];
      w.b_hh = in[i++];
    }
    weights.push_back(w);
  }
  nn::LSTMRunOptions run;
  run.num_layers = o.num_layers;
  run.bidirectional = o.bidirectional;
  run.batch_first = o.batch_first;
  const auto r = nn::lstm_forward(in[0], weights, run, lengths, h0, c0);
  const Tensor out = flat({r.output, r.h_n, r.c_n});

  // the module loaded with the same weights by name gives the same result
  module.load_state_dict(state);
  {
    NoGradGuard ng;
    const auto m = module.forward(in[0].detach(), lengths, h0.defined() ? h0.detach() : h0,
                                  c0.defined() ? c0.detach() : c0);
    CHECK(testing::relative_error(flat({m.output, m.h_n, m.c_n}), out.detach()) == 0.0);
  }
  return out;
})

TEST_CASE("reference vs PyTorch [lstm]: every fixture case has a C++ op") { testing::check_reference_coverage("lstm"); }
