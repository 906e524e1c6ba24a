// models/sentiment.cpp: the shared helpers of models/sentiment.h.
#include "models/sentiment.h"

#include "engine/error.h"
#include "engine/ops.h"

namespace fg::models {

namespace {

std::size_t modality_slot(const data::Batch& batch, const std::string& name) {
  for (std::size_t m = 0; m < batch.modality_names.size(); ++m)
    if (batch.modality_names[m] == name) return m;
  (void)batch.modality(name);  // throws naming the modality and the known ones
  return 0;
}

}  // namespace

const Tensor& batch_lengths(const data::Batch& batch, const std::string& name) {
  const std::size_t m = modality_slot(batch, name);
  if (!batch.modality_lengths.empty()) return batch.modality_lengths.at(m);
  FG_CHECK(batch.lengths.defined(), "batch: no lengths for modality '{}' (neither shared nor per modality)", name);
  return batch.lengths;
}

const Tensor& batch_mask(const data::Batch& batch, const std::string& name) {
  const std::size_t m = modality_slot(batch, name);
  if (!batch.modality_masks.empty()) return batch.modality_masks.at(m);
  FG_CHECK(batch.mask.defined(), "batch: no mask for modality '{}' (neither shared nor per modality)", name);
  return batch.mask;
}

Tensor masked_time_mean(const Tensor& x, const Tensor& mask) {
  const Tensor weights = unsqueeze(mask, 2);                 // [B, T, 1]
  const Tensor total = sum(x * weights, 1);                  // [B, D]
  const Tensor count = sum(mask, 1, /*keepdim=*/true);       // [B, 1]
  return total / clamp(count, 1.0, 1e30);                    // length 0: 0 / 1 = 0
}

Tensor present_column(const data::Batch& batch, const std::string& name, const Tensor& like) {
  const std::size_t m = modality_slot(batch, name);
  if (!batch.present.defined()) return full({batch.size(), 1}, 1.0, TensorOptions{like.dtype(), like.device(), false});
  const Tensor col = slice(batch.present, 1, static_cast<std::int64_t>(m), 1);  // [B, 1]
  return col.to(like.device()).to(like.dtype());
}

}  // namespace fg::models
