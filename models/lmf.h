// models/lmf.h: Low-rank Multimodal Fusion (Liu et al., ACL 2018), as MMSA implements it
// (thuiar/MMSA models/singleTask/LMF.py, from the authors' Justin1904/Low-rank-Multimodal-Fusion),
// one of MDM's base models.
//
// Subnetworks: TFN's (models/tfn.h): h_m [B, d_m], a missing modality's h_m = 0.
// Fusion, with z_m = [1; h_m] [B, d_m + 1] and per modality a factor W_m [r, d_m + 1, d_h]:
//   f_m^(i) = z_m W_m^(i)                               [B, d_h]   i = 1..r
//   h       = sum_i w_i prod_m f_m^(i) + b              [B, d_h]   w = fusion_weights [1, r],
//                                                                  b = fusion_bias [1, d_h]
//   z       = h                                         (d_z = d_h)
//   y^      = out(h)                                    [B]        out = Linear(d_h, 1)
// This is TFN's first post-fusion layer with a weight of rank r (Liu et al., eq. 6-8):
//   h = W . flatten((x)_m z_m) + b   with   W = sum_i w_i (x)_m W_m^(i)
// (tests/test_zoo.cpp builds W from the factors and checks the identity in float64.)
// encodings = h_m.
//
// Parameters: "<modality>_subnet.*" (TFN's), "<modality>_factor" [r, d_m + 1, d_h],
// fusion_weights [1, r], fusion_bias [1, d_h], out.{weight,bias}. Counts at the MOSI
// defaults in docs/models.md.
//
// Defaults (LMFConfig), MMSA config_regression.json "lmf" / mosi: hidden_dims [128, 16, 128]
// (text, audio, video), rank 3, dropouts [0.3, 0.3, 0.3, 0.3]; text_out = text_hidden / 2 = 64
// as LMF.py computes it. Init as LMF.py: xavier_normal_ factors and fusion weights, zero bias.
// Where ours differs from MMSA and why:
//   - MMSA's fused output IS the prediction (output_dim 1: d_h = 1, no head, no sigmoid).
//     We fuse into d_h = fusion_dim = 32 dimensions (ours) and predict with one Linear, so
//     that z, the representation MDM's critic and MMIM's CPC read, is more than one number.
//     fusion_dim = 1 without the head would be MMSA's model; with d_h = 1 ours adds a
//     scale and shift only.
//   - TFN's subnetwork differences apply (no BatchNorm, masked means, packed LSTM, no text
//     dropout; see models/tfn.h). MMSA builds a post-fusion Dropout but never applies it;
//     we have none.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/tfn.h"

namespace fg::models {

struct LMFConfig {
  std::vector<std::string> modalities = {"text", "acoustic", "visual"};
  std::vector<std::int64_t> input_dims = {300, 5, 20};
  std::vector<std::int64_t> hidden = {128, 16, 128};
  std::vector<std::string> sequence_modalities = {"text"};
  std::int64_t text_out = 64;
  std::int64_t rank = 3;
  std::int64_t fusion_dim = 32;  // d_h
  std::vector<double> dropouts = {0.3, 0.3, 0.3};
  SubNetSettings subnet_settings() const;
  void validate() const;
};

class LMF : public SentimentModel {
 public:
  LMF(const LMFConfig& config, Generator& init_gen, TensorOptions opts = {},
      std::shared_ptr<Generator> dropout_gen = nullptr);
  std::string type_name() const override { return "LMF"; }
  const std::vector<std::string>& modalities() const override { return config_.modalities; }
  std::int64_t fused_dim() const override { return config_.fusion_dim; }
  SentimentOutput forward(const data::Batch& batch) override;
  const LMFConfig& config() const { return config_; }
  // The low-rank fusion alone: hs[m] [B, d_m] -> h [B, d_h].
  Tensor fuse(const std::vector<Tensor>& hs) const;

  std::unique_ptr<SubNets> subnets;
  std::vector<Tensor> factors;  // "<modality>_factor" [r, d_m + 1, d_h]
  Tensor fusion_weights;        // [1, r]
  Tensor fusion_bias;           // [1, d_h]
  std::shared_ptr<nn::Linear> out;

 private:
  LMFConfig config_;
};

}  // namespace fg::models
