// models/tfn.h: the Tensor Fusion Network (Zadeh et al., EMNLP 2017), as MMSA implements it
// (thuiar/MMSA models/singleTask/TFN.py and subNets/FeatureNets.py), one of MDM's base models;
// and the two subnetworks TFN and LMF (models/lmf.h) share.
//
// Subnetworks (one per modality, registered as "<modality>_subnet"):
//   sequence modalities (default {"text"}): SequenceSubNet
//     h_m = linear_1(h_{len}) [B, out_m]   h_{len} = a 1-layer LSTM's final hidden state at each
//                                          sequence's own length (packed)            (MMSA TextSubNet)
//   the others: FeatureSubNet on the time mean (masked_time_mean over t < len_m)
//     h_m = relu(linear_3(relu(linear_2(relu(linear_1(dropout(mean_t x_m))))))) [B, H_m]  (MMSA SubNet)
//   A missing modality (present = 0): h_m := present_m * h_m = 0.
//
// Fusion and head:
//   Z   = flatten([1; h_1] (x) [1; h_2] (x) ... (x) [1; h_M])       [B, prod_m (d_m + 1)]
//   y_1 = relu(post_fusion_layer_1(dropout(Z)))                      [B, P]
//   y_2 = relu(post_fusion_layer_2(y_1))                             [B, P]   = z (d_z = P)
//   y^  = 6 sigmoid(post_fusion_layer_3(y_2)) - 3                    [B]      (MMSA: output_range 6,
//                                                                              output_shift -3)
// The flatten order is the modality order (the last modality varies fastest); MMSA fuses
// a (x) v (x) t, a permutation of the same tensor (only post_fusion_layer_1's column order
// differs). z is y_2, the input of the last layer, not the flattened Z (MMSA's Feature_f):
// Z has 140,481 entries at the MOSI defaults, too wide for the penalties that attach to z.
// encodings = h_m (after the present mask).
//
// Parameters at the MOSI defaults (text 300 -> LSTM 128 -> 32, acoustic 5 -> 32, visual 20 ->
// 128, P = 64): see docs/models.md (about 9.3 M, almost all in post_fusion_layer_1: 33*33*129*64).
//
// Defaults (TFNConfig), MMSA config_regression.json "tfn" / mosi: hidden_dims [128, 32, 128]
// (text, audio, video), text_out 32, post_fusion_dim 64, dropouts [0.3, 0.3, 0.3, 0.5]
// (audio, video, text, post-fusion). Where ours differs from MMSA and why:
//   - no BatchNorm1d at the start of the acoustic/visual subnetworks: batch statistics make a
//     prediction depend on the other rows of the batch (and a batch of 1 degenerate);
//     standardize features in the data pipeline instead.
//   - the time mean is masked (MMSA's need_normalized averages over all 50 steps, padding
//     included) and the text LSTM is packed, so padding never changes an output.
//   - the text subnetwork has no dropout: MMSA's TextSubNet sets dropout = 0 for a 1-layer
//     LSTM before building its Dropout, so MMSA's text dropout is 0 too (its config value is
//     unused); ours says so instead of carrying an unused number.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/nn/lstm.h"
#include "engine/nn/nn.h"
#include "models/sentiment.h"

namespace fg::models {

// MMSA's TextSubNet: a 1-layer LSTM, its final hidden state at each length, a Linear.
class SequenceSubNet : public nn::Module {
 public:
  SequenceSubNet(std::int64_t in, std::int64_t hidden, std::int64_t out, Generator& gen, TensorOptions opts);
  std::string type_name() const override { return "SequenceSubNet"; }
  // x [B, T, in], lengths int64 [B] -> [B, out]
  Tensor forward(const Tensor& x, const Tensor& lengths) const;
  std::shared_ptr<nn::LSTM> rnn;
  std::shared_ptr<nn::Linear> linear_1;
};

// MMSA's SubNet without its BatchNorm: dropout, then three Linear + ReLU.
class FeatureSubNet : public nn::Module {
 public:
  FeatureSubNet(std::int64_t in, std::int64_t hidden, double dropout, Generator& gen, TensorOptions opts,
                std::shared_ptr<Generator> dropout_gen);
  std::string type_name() const override { return "FeatureSubNet"; }
  // x [B, in] -> [B, hidden]
  Tensor forward(const Tensor& x) const;
  std::shared_ptr<nn::Linear> linear_1, linear_2, linear_3;
  double dropout;

 private:
  std::shared_ptr<Generator> dropout_gen_;
};

// The subnetworks of TFN/LMF over a batch: h_m for every modality (present mask applied).
// Built by TFN and LMF from the same settings; `out_dims()[m]` is the width of h_m.
struct SubNetSettings {
  std::vector<std::string> modalities;
  std::vector<std::int64_t> input_dims, hidden;
  std::vector<std::string> sequence_modalities;
  std::int64_t text_out = 0;
  std::vector<double> dropouts;  // per modality (unused for sequence modalities: see above)
  void validate(const char* model) const;
  bool is_sequence(std::size_t m) const;
  std::vector<std::int64_t> out_dims() const;
};

class SubNets {
 public:
  // Registers "<modality>_subnet" children on `owner`.
  SubNets(nn::Module& owner, const SubNetSettings& s, Generator& gen, TensorOptions opts,
          std::shared_ptr<Generator> dropout_gen);
  std::vector<Tensor> forward(const data::Batch& batch, const char* model) const;
  std::vector<std::shared_ptr<nn::Module>> nets;

 private:
  SubNetSettings s_;
};

// flatten([1; h_1] (x) ... (x) [1; h_M]) -> [B, prod (d_m + 1)], the last modality fastest.
Tensor tensor_fusion(const std::vector<Tensor>& hs);

struct TFNConfig {
  std::vector<std::string> modalities = {"text", "acoustic", "visual"};
  std::vector<std::int64_t> input_dims = {300, 5, 20};
  std::vector<std::int64_t> hidden = {128, 32, 128};
  std::vector<std::string> sequence_modalities = {"text"};
  std::int64_t text_out = 32;
  std::int64_t post_fusion_dim = 64;
  std::vector<double> dropouts = {0.3, 0.3, 0.3};  // per modality (text: unused, see above)
  double post_fusion_dropout = 0.5;
  SubNetSettings subnet_settings() const;
  void validate() const;
};

class TFN : public SentimentModel {
 public:
  TFN(const TFNConfig& config, Generator& init_gen, TensorOptions opts = {},
      std::shared_ptr<Generator> dropout_gen = nullptr);
  std::string type_name() const override { return "TFN"; }
  const std::vector<std::string>& modalities() const override { return config_.modalities; }
  std::int64_t fused_dim() const override { return config_.post_fusion_dim; }
  SentimentOutput forward(const data::Batch& batch) override;
  const TFNConfig& config() const { return config_; }
  // The width of Z, prod_m (d_m + 1).
  std::int64_t tensor_width() const;

  std::unique_ptr<SubNets> subnets;
  std::shared_ptr<nn::Linear> post_fusion_layer_1, post_fusion_layer_2, post_fusion_layer_3;

 private:
  TFNConfig config_;
  std::shared_ptr<Generator> dropout_gen_;
};

}  // namespace fg::models
