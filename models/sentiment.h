// models/sentiment.h: the one interface every multimodal sentiment model of the zoo
// implements (EF-LSTM, TFN, LMF, MFN, late fusion, MMB, and the models of MFM, MDM, MMIM
// built on them), and the small helpers their encoders share.
//
// A model reads a data::Batch (data/batching.h): per-modality padded sequences
// features[m] float32 [B, T_m, D_m], their lengths and masks (shared `lengths`/`mask` when
// the split is word-aligned, `modality_lengths`/`modality_masks` when it is not) and, when
// the split has it, `present` [B, M] (1 = the modality was observed). It returns
//
//   z            [B, d_z]  the FUSED representation, the input of the prediction head. The
//                          penalties of later papers attach here without knowing the model:
//                          MDM's critic T_theta scores z, MMIM's CPC predicts from it.
//   prediction   [B]       the predicted sentiment (regression, MOSI scale)
//   encodings    one entry per modality the model reads, [B, d_m] (the unimodal encoding
//                before fusion) where the model has one, an undefined Tensor where not
//                (EF-LSTM fuses at the input and has none).
//
// Contract on the `present` mask: a missing modality contributes nothing. Its features are
// zeros (data/synthetic.h, zero_modalities), but a model must not rely on that: an encoder
// with biases maps zeros to something, so each model multiplies a missing modality's
// encoding (or input) by present[:, m] (present_column) before fusing.
// Padding invariance: outputs never depend on values past a sequence's length (masked means,
// packed LSTMs); tests pad batches further and compare.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/batching.h"
#include "engine/nn/module.h"
#include "engine/tensor.h"

namespace fg::models {

struct SentimentOutput {
  Tensor z;                     // [B, d_z]
  Tensor prediction;            // [B]
  std::vector<Tensor> encodings;  // per modality read: [B, d_m] or undefined
};

class SentimentModel : public nn::Module {
 public:
  // The modalities the model reads, in the order of `encodings`.
  virtual const std::vector<std::string>& modalities() const = 0;
  // d_z, the width of z.
  virtual std::int64_t fused_dim() const = 0;
  virtual SentimentOutput forward(const data::Batch& batch) = 0;
};

// ---------------------------------------------------------------- shared helpers

// Lengths int64 [B] and mask float32 [B, T_m] of modality `name` in `batch`, aligned or not.
const Tensor& batch_lengths(const data::Batch& batch, const std::string& name);
const Tensor& batch_mask(const data::Batch& batch, const std::string& name);

// Mean over the valid steps: x [B, T, D], mask [B, T] (1 valid, 0 pad) -> [B, D]. A row with
// no valid step (length 0: a missing modality of an unaligned split) gives zeros, not NaN.
Tensor masked_time_mean(const Tensor& x, const Tensor& mask);

// present[:, m] as a [B, 1] float column on x's device and dtype (all ones when the batch
// has no `present`), for multiplying a modality's encoding [B, d] or input.
Tensor present_column(const data::Batch& batch, const std::string& name, const Tensor& like);

}  // namespace fg::models
