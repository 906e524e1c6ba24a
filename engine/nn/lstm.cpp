// engine/nn/lstm.cpp: see lstm.h.
#include "engine/nn/lstm.h"

#include <cmath>

#include "engine/error.h"
#include "engine/nn/init.h"
#include "engine/ops.h"

namespace fg::nn {

namespace {

// A fresh U(-1/sqrt(H), 1/sqrt(H)) parameter tensor (PyTorch's RNN init).
Tensor uniform_param(const Shape& shape, std::int64_t hidden, Generator& gen, TensorOptions opts) {
  Tensor t = empty(shape, opts);
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden));
  init::uniform_(t, gen, -bound, bound);
  return t;
}

TensorOptions checked_param_options(TensorOptions opts, const char* layer) {
  FG_CHECK(opts.dtype == DType::f32 || opts.dtype == DType::f64, "{}: parameters must be float32 or float64, got {}",
           layer, dtype_name(opts.dtype));
  opts.requires_grad = false;  // register_parameter turns it on
  return opts;
}

// Checks an optional initial state [L * D, B, H] and returns its slice k ([B, H]) or undefined.
Tensor initial_state(const Tensor& s, const char* name, std::int64_t k, std::int64_t layers_dirs, std::int64_t B,
                     std::int64_t H) {
  if (!s.defined()) return Tensor();
  FG_CHECK(s.dim() == 3 && s.size(0) == layers_dirs && s.size(1) == B && s.size(2) == H,
           "LSTM: {} must be [num_layers * num_directions, B, H] = [{}, {}, {}], got {}", name, layers_dirs, B, H,
           s.str());
  return select(s, 0, k);
}

}  // namespace

LSTMResult lstm_forward(const Tensor& x, const std::vector<LSTMWeights>& weights, const LSTMRunOptions& o,
                        const Tensor& lengths, const Tensor& h0, const Tensor& c0) {
  FG_CHECK(o.num_layers >= 1, "LSTM: num_layers must be at least 1, got {}", o.num_layers);
  const std::int64_t D = o.bidirectional ? 2 : 1;
  FG_CHECK(static_cast<std::int64_t>(weights.size()) == o.num_layers * D,
           "LSTM: expected num_layers * num_directions = {} weight sets, got {}", o.num_layers * D, weights.size());
  FG_CHECK(x.defined() && x.dim() == 3, "LSTM: the input must be {} (3-D), got {}",
           o.batch_first ? "[B, T, input_size]" : "[T, B, input_size]", x.str());
  FG_CHECK(weights[0].w_hh.defined() && weights[0].w_hh.dim() == 2, "LSTM: weight_hh_l0 must be [4H, H], got {}",
           weights[0].w_hh.str());
  const std::int64_t H = weights[0].w_hh.size(1);
  Tensor layer_in = o.batch_first ? transpose(x, 0, 1) : x;  // time-major from here on
  const std::int64_t B = layer_in.size(1);
  FG_CHECK(o.dropout >= 0.0 && o.dropout < 1.0, "LSTM: dropout must be in [0, 1), got {}", o.dropout);
  Generator& gen = o.generator ? *o.generator : default_generator();

  std::vector<Tensor> h_n, c_n;
  for (std::int64_t layer = 0; layer < o.num_layers; ++layer) {
    std::vector<Tensor> outs;
    for (std::int64_t dir = 0; dir < D; ++dir) {
      const std::int64_t k = layer * D + dir;
      const LSTMWeights& w = weights[static_cast<std::size_t>(k)];
      const LSTMSequenceOutput r =
          lstm_layer(layer_in, w.w_ih, w.w_hh, w.b_ih, w.b_hh, lengths, initial_state(h0, "h0", k, o.num_layers * D, B, H),
                     initial_state(c0, "c0", k, o.num_layers * D, B, H), dir == 1);
      outs.push_back(r.output);
      h_n.push_back(r.h_n);
      c_n.push_back(r.c_n);
    }
    layer_in = D == 1 ? outs[0] : concat(outs, 2);
    if (layer + 1 < o.num_layers && o.training && o.dropout > 0.0) layer_in = dropout(layer_in, o.dropout, true, gen);
  }
  Tensor output = o.batch_first ? transpose(layer_in, 0, 1) : layer_in;
  return {output, stack(h_n, 0), stack(c_n, 0)};
}

// ---------------------------------------------------------------- LSTM
LSTM::LSTM(const LSTMOptions& o, Generator& gen) : options_(o) {
  FG_CHECK(o.input_size > 0 && o.hidden_size > 0, "LSTM: input_size and hidden_size must be positive, got {} and {}",
           o.input_size, o.hidden_size);
  FG_CHECK(o.num_layers >= 1, "LSTM: num_layers must be at least 1, got {}", o.num_layers);
  FG_CHECK(o.dropout >= 0.0 && o.dropout < 1.0, "LSTM: dropout must be in [0, 1), got {}", o.dropout);
  const TensorOptions opts = checked_param_options(o.param_options, "LSTM");
  const std::int64_t H = o.hidden_size, D = num_directions();
  for (std::int64_t layer = 0; layer < o.num_layers; ++layer) {
    const std::int64_t in = layer == 0 ? o.input_size : H * D;
    for (std::int64_t dir = 0; dir < D; ++dir) {
      const std::string sfx = std::to_string(layer) + (dir == 1 ? "_reverse" : "");
      LSTMWeights w;
      w.w_ih = register_parameter("weight_ih_l" + sfx, uniform_param({4 * H, in}, H, gen, opts));
      w.w_hh = register_parameter("weight_hh_l" + sfx, uniform_param({4 * H, H}, H, gen, opts));
      if (o.bias) {
        w.b_ih = register_parameter("bias_ih_l" + sfx, uniform_param({4 * H}, H, gen, opts));
        w.b_hh = register_parameter("bias_hh_l" + sfx, uniform_param({4 * H}, H, gen, opts));
      }
      weights_.push_back(w);
    }
  }
}

LSTMResult LSTM::forward(const Tensor& x, const Tensor& lengths, const Tensor& h0, const Tensor& c0) const {
  FG_CHECK(x.defined() && x.dim() == 3 && x.size(2) == options_.input_size,
           "LSTM({}, {}): the input must be {} with input_size {}, got {}", options_.input_size, options_.hidden_size,
           options_.batch_first ? "[B, T, input_size]" : "[T, B, input_size]", options_.input_size, x.str());
  LSTMRunOptions run;
  run.num_layers = options_.num_layers;
  run.bidirectional = options_.bidirectional;
  run.batch_first = options_.batch_first;
  run.dropout = options_.dropout;
  run.training = is_training();
  run.generator = options_.dropout_generator.get();
  return lstm_forward(x, weights_, run, lengths, h0, c0);
}

// ---------------------------------------------------------------- LSTMCell
LSTMCell::LSTMCell(std::int64_t in, std::int64_t hidden, Generator& gen, bool with_bias, TensorOptions opts)
    : input_size(in), hidden_size(hidden) {
  FG_CHECK(in > 0 && hidden > 0, "LSTMCell: input_size and hidden_size must be positive, got {} and {}", in, hidden);
  opts = checked_param_options(opts, "LSTMCell");
  weight_ih = register_parameter("weight_ih", uniform_param({4 * hidden, in}, hidden, gen, opts));
  weight_hh = register_parameter("weight_hh", uniform_param({4 * hidden, hidden}, hidden, gen, opts));
  if (with_bias) {
    bias_ih = register_parameter("bias_ih", uniform_param({4 * hidden}, hidden, gen, opts));
    bias_hh = register_parameter("bias_hh", uniform_param({4 * hidden}, hidden, gen, opts));
  }
}

LSTMCellOutput LSTMCell::forward(const Tensor& x, const Tensor& h, const Tensor& c) const {
  FG_CHECK(x.defined() && x.dim() == 2 && x.size(1) == input_size,
           "LSTMCell({}, {}): the input must be [B, {}], got {}", input_size, hidden_size, input_size, x.str());
  return lstm_cell(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh);
}

}  // namespace fg::nn
