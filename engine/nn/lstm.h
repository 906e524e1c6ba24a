// engine/nn/lstm.h: torch.nn.LSTM and torch.nn.LSTMCell, with PyTorch's parameter names,
// shapes, initialization and result layout, on the fused LSTM ops (engine/ops_lstm.h).
//
//   LSTM      per layer k and direction (suffix "" or "_reverse"):
//               weight_ih_l{k}{sfx} [4H, in_k]   weight_hh_l{k}{sfx} [4H, H]
//               bias_ih_l{k}{sfx}   [4H]         bias_hh_l{k}{sfx}   [4H]
//             in_0 = input_size, in_k = H * num_directions; registration order is PyTorch's
//             (layer by layer, forward direction first, then w_ih, w_hh, b_ih, b_hh).
//   LSTMCell  weight_ih [4H, I], weight_hh [4H, H], bias_ih [4H], bias_hh [4H].
//   init: every parameter U(-1/sqrt(H), 1/sqrt(H)), as PyTorch's reset_parameters.
//
// LSTM::forward(x, lengths, h0, c0) -> {output, h_n, c_n}:
//   x        [T, B, I], or [B, T, I] with batch_first
//   lengths  int64 [B] or undefined: sequence b is x[:lengths[b]] (a packed sequence, as
//            pack_padded_sequence(x, lengths, enforce_sorted=False) in PyTorch); every value
//            in [0, T]
//   h0, c0   [num_layers * num_directions, B, H] or undefined (zeros)
//   output   [T, B, D * H] (or [B, T, D * H]): the last layer's h, forward half first; zero
//            past each length (as pad_packed_sequence(..., total_length = T))
//   h_n, c_n [num_layers * num_directions, B, H]: the state after each sequence's own last
//            step (for the reverse direction: after reading back to position 0)
// Each layer and direction is one lstm_layer op: one GEMM for the input projection of all
// steps, one fused recurrence op for the T serial steps. Dropout (p = dropout) is applied to
// the output of every layer but the last, in training mode only, as PyTorch does.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/nn/module.h"
#include "engine/ops_lstm.h"
#include "engine/random.h"

namespace fg::nn {

struct LSTMOptions {
  std::int64_t input_size = 0;
  std::int64_t hidden_size = 0;
  std::int64_t num_layers = 1;
  bool bias = true;
  bool batch_first = false;
  double dropout = 0.0;  // between layers, training mode only
  bool bidirectional = false;
  TensorOptions param_options;                   // dtype (float32/float64) and device of the parameters
  std::shared_ptr<Generator> dropout_generator;  // null: fg::default_generator()
};

// The four tensors of one layer and direction (biases undefined without bias).
struct LSTMWeights {
  Tensor w_ih, w_hh, b_ih, b_hh;
};

struct LSTMResult {
  Tensor output;  // [T, B, D * H] ([B, T, D * H] with batch_first)
  Tensor h_n;     // [L * D, B, H]
  Tensor c_n;     // [L * D, B, H]
};

// How lstm_forward stacks layers; the module fills it from its options and mode.
struct LSTMRunOptions {
  std::int64_t num_layers = 1;
  bool bidirectional = false;
  bool batch_first = false;
  double dropout = 0.0;
  bool training = false;
  Generator* generator = nullptr;  // for dropout; null: fg::default_generator()
};

// The functional form of LSTM::forward (as torch._VF.lstm): weights[layer * D + direction].
LSTMResult lstm_forward(const Tensor& x, const std::vector<LSTMWeights>& weights, const LSTMRunOptions& options,
                        const Tensor& lengths = Tensor(), const Tensor& h0 = Tensor(), const Tensor& c0 = Tensor());

class LSTM : public Module {
 public:
  LSTM(const LSTMOptions& options, Generator& gen);
  std::string type_name() const override { return "LSTM"; }
  LSTMResult forward(const Tensor& x, const Tensor& lengths = Tensor(), const Tensor& h0 = Tensor(),
                     const Tensor& c0 = Tensor()) const;

  std::int64_t num_directions() const { return options_.bidirectional ? 2 : 1; }
  const LSTMOptions& options() const { return options_; }
  // weights()[layer * num_directions() + direction]: the registered parameters.
  const std::vector<LSTMWeights>& weights() const { return weights_; }

 private:
  LSTMOptions options_;
  std::vector<LSTMWeights> weights_;
};

class LSTMCell : public Module {
 public:
  LSTMCell(std::int64_t input_size, std::int64_t hidden_size, Generator& gen, bool bias = true,
           TensorOptions opts = {});
  std::string type_name() const override { return "LSTMCell"; }
  // x [B, I], h/c [B, H] or undefined (zeros) -> {h', c'}
  LSTMCellOutput forward(const Tensor& x, const Tensor& h = Tensor(), const Tensor& c = Tensor()) const;

  std::int64_t input_size, hidden_size;
  Tensor weight_ih, weight_hh;  // [4H, I], [4H, H]
  Tensor bias_ih, bias_hh;      // [4H] or undefined
};

}  // namespace fg::nn
