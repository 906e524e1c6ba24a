// models/ef_lstm.h: EF-LSTM, early fusion: the modalities are concatenated at every word and
// read by one LSTM (the base model of MDM, paper 002; MMSA's EF_LSTM).
//
//   x_t   = [p_1 x_{1,t}; ...; p_M x_{M,t}]          [B, T, sum D_m]   p_m = present[:, m]: a
//                                                                    missing modality's slice is zeroed
//   h     = LSTM(x)  (num_layers, dropout between layers; packed: step t < len_b only)
//   z     = h_{len_b} of the last layer               [B, H]   the final hidden state at each
//                                                              sequence's own length (= d_z)
//   y^    = out(dropout(relu(linear(dropout(z)))))    [B]      linear H -> H, out H -> 1
// encodings: one undefined Tensor per modality (fusion happens at the input).
//
// Shapes: every modality must share one time grid (word-aligned batches: batch.lengths /
// batch.mask); an unaligned batch (per-modality lengths) is refused with an error naming
// EF-LSTM and saying it needs word-aligned data.
//
// Parameters: lstm.{weight_ih,weight_hh,bias_ih,bias_hh}_l{k} (PyTorch nn.LSTM names),
// linear.{weight,bias}, out.{weight,bias}. At the MOSI defaults (D = 325, H = 128, 4 layers):
// LSTM 4H (D + H) + 8H = 232,960 for layer 0 and 4H (2H) + 8H = 132,096 for each other layer,
// linear 16,512, out 129: 645,889 in all.
//
// Defaults (EFLSTMConfig), from MMSA's config_regression.json ("ef_lstm", mosi):
// hidden 128, num_layers 4, dropout 0.5; the structure (LSTM -> dropout -> Linear(H, H) ->
// ReLU -> dropout -> Linear(H, 1)) is MMSA's EF_LSTM.py. Where ours differs:
//   - MMSA applies BatchNorm1d over the time axis (channels = the 50 time steps) before the
//     LSTM. We do not: it mixes statistics across the batch (a batch of 1 in training is
//     degenerate), normalizes padding steps together with real ones, and ties the model to a
//     fixed sequence length. Features should be standardized by the data pipeline instead.
//   - MMSA reads final_states of an unpacked LSTM (the state after the last, possibly padded,
//     step); ours is packed, so padding never reaches z (padding invariance).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/nn/lstm.h"
#include "engine/nn/nn.h"
#include "models/sentiment.h"

namespace fg::models {

struct EFLSTMConfig {
  std::vector<std::string> modalities = {"text", "acoustic", "visual"};
  std::vector<std::int64_t> input_dims = {300, 5, 20};
  std::int64_t hidden = 128;
  std::int64_t num_layers = 4;
  double dropout = 0.5;
  void validate() const;  // throws naming the field
};

class EFLSTM : public SentimentModel {
 public:
  EFLSTM(const EFLSTMConfig& config, Generator& init_gen, TensorOptions opts = {},
         std::shared_ptr<Generator> dropout_gen = nullptr);
  std::string type_name() const override { return "EFLSTM"; }
  const std::vector<std::string>& modalities() const override { return config_.modalities; }
  std::int64_t fused_dim() const override { return config_.hidden; }
  SentimentOutput forward(const data::Batch& batch) override;
  const EFLSTMConfig& config() const { return config_; }

  std::shared_ptr<nn::LSTM> lstm;
  std::shared_ptr<nn::Linear> linear, out;

 private:
  EFLSTMConfig config_;
  std::shared_ptr<Generator> dropout_gen_;
};

}  // namespace fg::models
