// data/permute.h: a batch whose modalities are permuted independently along the batch, the
// product-of-marginals sample of paper 002's Algorithm 1 (MDM): row i of the result holds
// modality m of row sigma_m(i) of the input, for every modality m with its own permutation.
//
// Everything that describes a modality travels with it: its features, its length and mask
// (per modality), and its column of `present`. Labels, rows and ids stay those of the input
// (they describe no modality; a marginal sample has no label).
//
// Time grid of the result:
//   per modality (default): modality_lengths[m] = lengths of the rows sigma_m picked,
//       modality_masks[m] likewise, shared lengths/mask undefined: the layout of an unaligned
//       batch, which TFN, LMF and late fusion read exactly (each encoder sees exactly the
//       utterance it would see alone).
//   shared grid (shared_grid = true; for EF-LSTM and MFN, which need one time grid): lengths
//       = the longest of the row's modalities, mask their union; a modality shorter than
//       that is zero past its own length (the batch's padding is zero), i.e. silent there.
//       An input that is already unaligned is refused in this mode.
// The input's padding after trimming is the same (the same rows are in the batch), so the
// time axis keeps its size.
#pragma once

#include <cstdint>
#include <vector>

#include "data/batching.h"
#include "engine/random.h"

namespace fg::data {

// One permutation of 0..B-1 per modality, drawn from `gen` (modality order of the batch).
std::vector<std::vector<std::int64_t>> draw_modality_permutations(std::int64_t batch_size, std::size_t modalities,
                                                                  Generator& gen);

// The batch with modality m's rows taken in the order perms[m] (see above). Throws naming
// the modality when a permutation has the wrong size or is not a permutation.
Batch permute_modalities(const Batch& batch, const std::vector<std::vector<std::int64_t>>& perms,
                         bool shared_grid = false);

}  // namespace fg::data
