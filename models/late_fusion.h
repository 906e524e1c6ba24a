// models/late_fusion.h: the late-fusion ("deep fusion", DF) baseline of the multimodal
// sentiment papers, moved out of examples/late_fusion.cpp (same architecture and parameter
// names as its LateFusionModel), implementing models::SentimentModel.
//
//   x_m  [B, T_m, D_m] --masked mean over t < len_m--> p_m [B, D_m]
//   e_m = present_m * enc_m(p_m)                       [B, h_m]   enc_m = MLP D_m -> h_m -> h_m,
//                                                                 ReLU and dropout after each Linear
//   z   = [e_1; ...; e_M]                              [B, sum h_m]   (the input of the head)
//   y^  = head(z)                                      [B]        head = MLP sum h_m -> head_hidden -> 1,
//                                                                 ReLU and dropout after the first Linear
// encodings = e_m. Parameter names: "<modality>_encoder.{0,3}.{weight,bias}" (".{0,2}." without
// dropout, as nn.Sequential numbers them) and "head.{0,3}.*".
//
// Defaults (LateFusionConfig): hidden {64, 16, 32} (text, acoustic, visual), head_hidden 64,
// dropout 0.1: the late_fusion example's defaults (ours, chosen for the synthetic corpus).
// MMSA's LF_DNN differs: a text LSTM subnetwork, BatchNorm + 3-layer MLPs for acoustic/visual,
// 3 post-fusion layers; this model keeps the papers' simpler DF baseline on time means.
// Differences from the example's class: the mean is per modality (unaligned batches work;
// a length-0 modality gives zeros, not NaN) and a missing modality's encoding is zeroed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/nn/nn.h"
#include "models/sentiment.h"

namespace fg::models {

struct LateFusionConfig {
  std::vector<std::string> modalities = {"text", "acoustic", "visual"};
  std::vector<std::int64_t> input_dims = {300, 5, 20};
  std::vector<std::int64_t> hidden = {64, 16, 32};
  std::int64_t head_hidden = 64;
  double dropout = 0.1;
  void validate() const;  // throws naming the field
};

class LateFusion : public SentimentModel {
 public:
  LateFusion(const LateFusionConfig& config, Generator& init_gen, TensorOptions opts = {},
             std::shared_ptr<Generator> dropout_gen = nullptr);
  std::string type_name() const override { return "LateFusion"; }
  const std::vector<std::string>& modalities() const override { return config_.modalities; }
  std::int64_t fused_dim() const override;
  SentimentOutput forward(const data::Batch& batch) override;
  const LateFusionConfig& config() const { return config_; }

  std::vector<std::shared_ptr<nn::MLP>> encoders;
  std::shared_ptr<nn::MLP> head;

 private:
  LateFusionConfig config_;
};

}  // namespace fg::models
