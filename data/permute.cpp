// data/permute.cpp: see permute.h.
#include "data/permute.h"

#include <algorithm>

#include "engine/error.h"
#include "engine/ops.h"

namespace fg::data {

std::vector<std::vector<std::int64_t>> draw_modality_permutations(std::int64_t batch_size, std::size_t modalities,
                                                                  Generator& gen) {
  FG_CHECK(batch_size > 0, "draw_modality_permutations: batch size must be positive, got {}", batch_size);
  std::vector<std::vector<std::int64_t>> out;
  for (std::size_t m = 0; m < modalities; ++m)
    out.push_back(randperm(batch_size, gen, TensorOptions{DType::i64}).to_vector<std::int64_t>());
  return out;
}

Batch permute_modalities(const Batch& batch, const std::vector<std::vector<std::int64_t>>& perms, bool shared_grid) {
  const std::size_t nm = batch.features.size();
  const std::int64_t b = batch.size();
  FG_CHECK(perms.size() == nm, "permute_modalities: {} permutations for {} modalities", perms.size(), nm);
  const bool unaligned = !batch.modality_lengths.empty();
  FG_CHECK(!(shared_grid && unaligned),
           "permute_modalities: a shared time grid was asked for, but the batch is unaligned (per-modality lengths)");
  Batch out = batch;
  out.modality_lengths.assign(nm, Tensor());
  out.modality_masks.assign(nm, Tensor());
  std::vector<std::int64_t> longest;
  Tensor shared_mask;
  std::vector<Tensor> present_cols;
  for (std::size_t m = 0; m < nm; ++m) {
    const auto& p = perms[m];
    const std::string& name = m < batch.modality_names.size() ? batch.modality_names[m] : std::to_string(m);
    FG_CHECK(static_cast<std::int64_t>(p.size()) == b, "permute_modalities: the permutation of '{}' has {} entries, the batch {}",
             name, p.size(), b);
    std::vector<char> seen(static_cast<std::size_t>(b), 0);
    for (const std::int64_t r : p) {
      FG_CHECK(r >= 0 && r < b && !seen[static_cast<std::size_t>(r)],
               "permute_modalities: the permutation of '{}' is not a permutation of 0..{} (entry {})", name, b - 1, r);
      seen[static_cast<std::size_t>(r)] = 1;
    }
    const Tensor idx = from_vector(p, {b}, TensorOptions{DType::i64, batch.features[m].device()});
    out.features[m] = index_select(batch.features[m], 0, idx);
    const Tensor& len = unaligned ? batch.modality_lengths[m] : batch.lengths;
    const Tensor& mask = unaligned ? batch.modality_masks[m] : batch.mask;
    FG_CHECK(len.defined() && mask.defined(), "permute_modalities: the batch has no lengths/mask for '{}'", name);
    out.modality_lengths[m] = index_select(len, 0, idx);
    out.modality_masks[m] = index_select(mask, 0, idx);
    if (batch.present.defined())
      present_cols.push_back(index_select(slice(batch.present, 1, static_cast<std::int64_t>(m), 1), 0, idx));
    if (shared_grid) {
      const auto l = out.modality_lengths[m].to(Device::cpu()).to_vector<std::int64_t>();
      if (longest.empty()) longest = l;
      for (std::size_t i = 0; i < l.size(); ++i) longest[i] = std::max(longest[i], l[i]);
      shared_mask = shared_mask.defined() ? maximum(shared_mask, out.modality_masks[m]) : out.modality_masks[m];
    }
  }
  if (batch.present.defined()) out.present = concat(present_cols, 1);
  if (shared_grid) {
    out.lengths = from_vector(longest, {b}, TensorOptions{DType::i64, batch.lengths.device()});
    out.mask = shared_mask;
    out.modality_lengths.clear();
    out.modality_masks.clear();
  } else {
    out.lengths = Tensor();
    out.mask = Tensor();
  }
  return out;
}

}  // namespace fg::data
