// models/mfn.h: the Memory Fusion Network (Zadeh et al., AAAI 2018), the multimodal
// encoder of MFM (paper 001) and one of MDM's (paper 002) models.
//
// One LSTM per modality m reads its own features x_m (hidden h_m, cell c_m). A shared
// memory u of size `memory_size` is updated at every step t from the cell states of all
// modalities at t-1 and t (the "Delta-memory attention" and the "multi-view gated memory"):
//   c*     = [c_{t-1} ; c_t]                  the CELL states of all modalities, [2S] (S = sum H_m)
//   a      = softmax(att1(c*))                over all 2S dimensions
//   att    = a * c*                           (attended)
//   u_hat  = tanh(att2(att))                  candidate memory, [memory_size]
//   gamma1 = sigmoid(gamma1([att, u_{t-1}]))  retain gate
//   gamma2 = sigmoid(gamma2([att, u_{t-1}]))  update gate
//   u_t    = gamma1 * u_{t-1} + gamma2 * u_hat
// with c_{-1} = 0 and u_{-1} = 0. The output is out([h_T of every modality, u_T]).
// att1, att2, gamma1, gamma2 are Linear -> ReLU -> Dropout -> Linear (one hidden layer, as
// the authors' code); `out` is an MLP with hidden sizes `output_hidden` (ReLU, dropout).
//
// How it runs (the structure, exploited): the modality LSTMs never read the memory, so each
// runs over the whole sequence first with the fused recurrence (fg::lstm_layer: one GEMM for
// the input projections of all steps, one op for the steps), keeping every cell state. The
// attention and u_hat depend only on those cell states, so they are computed for all steps
// at once as batched ops over [T, B, ...]. Even the first Linear of each gamma network is
// split: its columns acting on `att` are applied to all steps at once; only the columns
// acting on u_{t-1} stay in the loop. The serial loop is therefore just
//   u_{t-1} W_u^T (both gates at once) + ReLU + the two second Linears + the gated update,
// and it runs as ONE fused op (fg::gated_memory_recurrence, engine/ops_gated_memory.h: one
// kernel launch for all T steps forward and one backward; kernels/mfn.h). docs/mfn.md
// explains the split. Dropout inside the gamma networks (training) is drawn for all steps
// up front and handed to the fused op as multipliers.
//
// Lengths (padded batches, int64 [B]): sequence b is valid at t < lengths[b]. Each modality's
// final h is the one at its sequence's own length (the fused op's h_n), and the memory is
// frozen after the last valid step: u_t = u_{t-1} for t >= lengths[b] (the update is
// masked), so padding never reaches the output. A length of 0 gives h = 0 and u = 0.
// All modalities share one length per example (the aligned setting, as MOSI's word-aligned
// features).
//
// Parameter names follow the authors' code for the LSTMs (lstm_l.weight_ih, ... with the
// modality names as suffixes) and nn.Sequential numbering inside the networks:
//   lstm_<name>.{weight_ih, weight_hh, bias_ih, bias_hh}   (one nn::LSTMCell per modality)
//   att1.0.*, att1.{2|3}.*     (index 3 when the network has dropout, as nn.Sequential)
//   att2.*, gamma1.*, gamma2.*, out.*
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/nn/lstm.h"
#include "engine/nn/nn.h"

namespace fg::models {

// Defaults: MOSI, the best-MAE configuration recorded in the authors' MFN code (GloVe text
// 300, COVAREP 5, FACET 20; hidden [88, 48, 16]; memory 128; network widths and dropouts
// from the same record).
struct MFNConfig {
  std::vector<std::string> modality_names = {"l", "a", "v"};
  std::vector<std::int64_t> input_sizes = {300, 5, 20};
  std::vector<std::int64_t> hidden_sizes = {88, 48, 16};
  std::int64_t memory_size = 128;
  std::int64_t attention_hidden = 128;  // att1 (Delta-memory attention)
  double attention_dropout = 0.0;
  std::int64_t memory_hidden = 64;      // att2 (candidate memory u_hat)
  double memory_dropout = 0.2;
  std::int64_t gamma1_hidden = 256;
  double gamma1_dropout = 0.0;
  std::int64_t gamma2_hidden = 64;
  double gamma2_dropout = 0.2;
  std::vector<std::int64_t> output_hidden = {64};  // hidden sizes of `out` ({} = one Linear)
  double output_dropout = 0.5;
  std::int64_t output_size = 1;
  bool batch_first = true;  // inputs [B, T, D_m] (fusegrad's data batches) or [T, B, D_m]

  // Throws naming the field when sizes are missing, mismatched or not positive.
  void validate() const;
  std::int64_t total_hidden() const;  // S = sum of hidden_sizes
};

struct MFNOutput {
  Tensor output;    // [B, output_size]
  Tensor features;  // [B, S + memory_size]: [h_T of each modality, u_T], the input of `out`
};

class MFN : public nn::Module {
 public:
  // opts: dtype and device of the parameters; dropout_gen: where dropout masks come from
  // (null: fg::default_generator()).
  MFN(const MFNConfig& config, Generator& init_gen, TensorOptions opts = {},
      std::shared_ptr<Generator> dropout_gen = nullptr);
  std::string type_name() const override { return "MFN"; }
  // inputs[m]: [B, T, input_sizes[m]] (or [T, B, ...] without batch_first), one per modality,
  // sharing B and T; lengths: int64 [B] with values in [0, T], or undefined (all T).
  MFNOutput forward(const std::vector<Tensor>& inputs, const Tensor& lengths = Tensor()) const;

  const MFNConfig& config() const { return config_; }

  std::vector<std::shared_ptr<nn::LSTMCell>> lstms;  // "lstm_<name>", one per modality
  std::shared_ptr<nn::MLP> att1, att2, gamma1, gamma2, out;

 private:
  MFNConfig config_;
  std::shared_ptr<Generator> dropout_gen_;
};

}  // namespace fg::models
