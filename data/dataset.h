// data/dataset.h: the in-memory container every multimodal sentiment dataset of fusegrad
// fills (the built-in synthetic one in data/synthetic.h, loaders of real data later).
//
// One split (train, valid or test) of N utterances holds, for each modality m, a float32
// tensor [N, T, D_m] of per-step features, right-padded with zeros after each utterance's
// length. All modalities are word-aligned (as MMSA's aligned_50 data), so they share one
// length per utterance:
//
//   features[m]  float32 [N, T, D_m]   step t of utterance i is valid iff t < lengths[i]
//   lengths      int64   [N]           1 <= lengths[i] <= T
//   mask         float32 [N, T]        1 on valid steps, 0 on padding (derived from lengths)
//   labels       float32 [N]           sentiment in [-3, 3] (CMU-MOSI's scale)
//
// Modalities are named ("text", "acoustic", "visual"); look one up with modality_index(),
// which throws listing the known names.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace fg::data {

struct MultimodalSplit {
  std::string name;                          // "train", "valid" or "test"
  std::vector<std::string> modality_names;   // one per entry of `features`
  std::vector<Tensor> features;              // float32 [N, T, D_m] each
  Tensor lengths;                            // int64 [N]
  Tensor mask;                               // float32 [N, T]
  Tensor labels;                             // float32 [N]

  std::int64_t size() const;                 // N
  std::int64_t max_steps() const;            // T
  std::int64_t num_modalities() const { return static_cast<std::int64_t>(features.size()); }
  // Feature size D_m of a modality.
  std::int64_t feature_dim(std::int64_t modality) const;
  // Index of a modality by name; throws naming `name` and the known names.
  std::int64_t modality_index(const std::string& name) const;
  // Throws naming the split and the field when shapes, dtypes or lengths disagree.
  void validate() const;
};

struct MultimodalDataset {
  MultimodalSplit train, valid, test;
};

// A float32 mask [N, T] with 1 where t < lengths[i] (lengths: int64 [N]).
Tensor mask_from_lengths(const Tensor& lengths, std::int64_t max_steps);

// A well-mixed 64-bit seed for stream `stream` of `seed` (splitmix64): gives the Philox
// streams of the synthetic splits and of each epoch's shuffle independent seeds.
std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream);

// Parses a comma-separated list of modality names ("text,visual"), checking each against
// `known`; throws naming `what` (e.g. "--modalities"), the bad entry and the known names.
// Empty entries, duplicates and an empty list are errors. The result keeps the order of `known`.
std::vector<std::string> parse_modality_list(const std::string& csv, const std::vector<std::string>& known,
                                             const std::string& what);

}  // namespace fg::data
