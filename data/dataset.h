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
//
// Optional fields (real data and the synthetic variants; their defaults keep the case above):
//
//   label_kind, label_names   what `labels` holds (LabelKind below): one regression score
//                             [N], K regression targets [N, K] (POM's traits), K per-class 0/1
//                             labels [N, K] (IEMOCAP's emotions) or a class index [N] (0..C-1)
//   modality_lengths[m]       UNALIGNED splits only (MMSA's unaligned_50, MulT's *_noalign):
//   modality_masks[m]         each modality has its own steps: features[m] [N, T_m, D_m],
//                             int64 [N] lengths (0 <= len <= T_m) and a float32 [N, T_m] mask.
//                             `lengths` and `mask` are then undefined (there is no shared T).
//                             Empty vectors mean the split is word-aligned.
//   present                   float32 [N, M]: 1 where modality m of utterance i was observed,
//                             0 where it is missing (its features are all zero); undefined
//                             means every modality is present
//   ids, raw_text             one string per utterance ("video[segment]" ids, the transcript),
//                             or empty
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace fg::data {

// What the labels of a split are (data/dataset.h, docs/data-format.md).
enum class LabelKind {
  regression,        // float32 [N]: one score (sentiment in [-3, 3])
  multi_regression,  // float32 [N, K]: K scores, named by label_names (POM's 16 traits)
  multi_label,       // float32 [N, K] of 0/1: class k present or not (IEMOCAP's emotions)
  class_index,       // float32 [N] holding 0..C-1: one of C exclusive classes (label_names)
};
// "regression", "multi_regression", "multi_label", "class_index".
const char* label_kind_name(LabelKind kind);
// The inverse; throws naming `where` and the known names.
LabelKind parse_label_kind(const std::string& name, const std::string& where);

struct MultimodalSplit {
  std::string name;                          // "train", "valid" or "test"
  std::vector<std::string> modality_names;   // one per entry of `features`
  std::vector<Tensor> features;              // float32 [N, T, D_m] each
  Tensor lengths;                            // int64 [N]
  Tensor mask;                               // float32 [N, T]
  Tensor labels;                             // float32 [N], or [N, K] (see label_kind)

  // --- optional (see the top of this file) ---
  LabelKind label_kind = LabelKind::regression;
  std::vector<std::string> label_names;      // K target / class names; may be empty for regression
  std::vector<Tensor> modality_lengths;      // unaligned only: int64 [N] per modality
  std::vector<Tensor> modality_masks;        // unaligned only: float32 [N, T_m] per modality
  Tensor present;                            // float32 [N, M] or undefined
  std::vector<std::string> ids;              // N or empty
  std::vector<std::string> raw_text;         // N or empty

  // True when every modality shares `lengths` (modality_lengths is empty).
  bool aligned() const { return modality_lengths.empty(); }
  // Steps T_m of one modality (aligned or not).
  std::int64_t modality_steps(std::int64_t modality) const;
  // Lengths of one modality: `lengths` when aligned, else modality_lengths[modality].
  const Tensor& lengths_of(std::int64_t modality) const;
  // Mask of one modality: `mask` when aligned, else modality_masks[modality].
  const Tensor& mask_of(std::int64_t modality) const;
  // Number of label columns: 1 for [N] labels, K for [N, K].
  std::int64_t label_width() const;

  std::int64_t size() const;                 // N
  std::int64_t max_steps() const;            // T (0 for an unaligned split)
  std::int64_t num_modalities() const { return static_cast<std::int64_t>(features.size()); }
  // Feature size D_m of a modality.
  std::int64_t feature_dim(std::int64_t modality) const;
  // Index of a modality by name; throws naming `name` and the known names.
  std::int64_t modality_index(const std::string& name) const;
  // Throws naming the split and the field when shapes, dtypes or lengths disagree
  // (the optional fields included).
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
