// models/mfn_model.h: the Memory Fusion Network (models/mfn.h) behind the SentimentModel
// interface. Nothing of MFN is duplicated: MFNModel owns one models::MFN (child "mfn", so
// parameters are "mfn.lstm_<modality>.*", "mfn.att1.*", ..., "mfn.out.*") and maps a
// data::Batch onto it:
//
//   x_m' = present_m * x_m              a missing modality's input is zeroed (its LSTM then
//                                       runs on zeros: its contribution no longer depends on
//                                       its features; see below)
//   [h_T of each modality, u_T] = MFN features   [B, S + memory]   = z  (the input of MFN's
//                                                                     output MLP, d_z = S + mem)
//   y^ = MFN output                     [B]
//   encodings[m] = present_m * h_T of modality m   [B, H_m]
//
// Aligned input only: the Delta-memory attention reads the cell states of all modalities at
// the same step, so MFN needs one time grid (MMSA's need_data_aligned = true for MFN). An
// unaligned batch is refused with an error naming MFN.
//
// Defaults: MFNConfig's (the authors' best MOSI configuration, see models/mfn.h), with the
// modality names of the batch ("text", "acoustic", "visual") instead of "l", "a", "v".
// Where ours differs: the missing-modality rule. MFN has no notion of a missing modality;
// zeroing the input makes the output independent of that modality's features, but its LSTM
// still feeds bias-driven (constant) cell states to the memory. Masking those inside the
// memory would change MFN itself; we leave MFN as the authors built it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/mfn.h"
#include "models/sentiment.h"

namespace fg::models {

class MFNModel : public SentimentModel {
 public:
  // config.output_size must be 1 and config.batch_first true (checked).
  MFNModel(const MFNConfig& config, Generator& init_gen, TensorOptions opts = {},
           std::shared_ptr<Generator> dropout_gen = nullptr);
  std::string type_name() const override { return "MFNModel"; }
  const std::vector<std::string>& modalities() const override { return mfn->config().modality_names; }
  std::int64_t fused_dim() const override { return mfn->config().total_hidden() + mfn->config().memory_size; }
  SentimentOutput forward(const data::Batch& batch) override;

  std::shared_ptr<MFN> mfn;
};

}  // namespace fg::models
