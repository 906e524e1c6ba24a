// data/batching.h: mini-batches of a MultimodalSplit (data/dataset.h).
//
// An epoch visits every row once. With shuffling, epoch e visits the rows in the order of a
// permutation drawn from a Philox stream seeded by (seed, e), so each epoch has its own
// order and a run is reproducible from its seed alone, whatever happened in earlier epochs.
// Batches are consecutive slices of that order of batch_size rows; the last one keeps what
// is left (a partial batch is never dropped, so every row is seen).
//
// A batch is gathered with index_select along the rows:
//
//   features[m]  float32 [B, T_b, D_m]   T_b = the longest utterance in the batch when
//   mask         float32 [B, T_b]        trim_padding is on (the default), else the split's T
//   lengths      int64   [B]
//   labels       float32 [B]
//   rows         the split's rows, in batch order
//
// Shorter utterances stay padded with zeros after their length; models must use the mask
// (e.g. a masked mean over time), never assume every step is real.
//
// Optional fields follow the split (data/dataset.h): labels keep their width ([B] or [B, K]);
// an unaligned split gives modality_lengths[m] int64 [B] and modality_masks[m] float32
// [B, T_m,b] per modality, each trimmed to the batch's longest sequence of that modality (at
// least 1 step), with `lengths` and `mask` undefined; `present` float32 [B, M] and `ids`
// come along when the split has them.
//
// Bucketing (optional, bucket_size > 0) cuts padding: each epoch the shuffled order is cut into
// chunks of bucket_size * batch_size rows, each chunk is sorted by length (stable, longest
// first) and cut into batches, and the batches are then visited in a seeded random order (in
// chunk order without shuffling). Rows of a batch then have similar lengths, and every row is
// still seen once per epoch; only the last batch of the last chunk may be partial. The length
// of a row is `lengths` when aligned and the sum of its modality lengths when unaligned.
//
// Robustness experiments drop modalities at inference: zero_modalities() replaces the
// named modalities' features with zeros and marks them absent in `present` when the batch
// has it (shapes, lengths, masks and labels unchanged).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "engine/device.h"
#include "engine/tensor.h"

namespace fg::data {

struct Batch {
  std::vector<std::string> modality_names;
  std::vector<Tensor> features;  // float32 [B, T_b, D_m] each
  Tensor mask;                   // float32 [B, T_b]
  Tensor lengths;                // int64 [B]
  Tensor labels;                 // float32 [B]
  std::vector<std::int64_t> rows;
  // --- optional (see above) ---
  std::vector<Tensor> modality_lengths;  // unaligned splits: int64 [B] per modality
  std::vector<Tensor> modality_masks;    // unaligned splits: float32 [B, T_m,b] per modality
  Tensor present;                        // float32 [B, M] when the split has it
  std::vector<std::string> ids;          // when the split has them

  std::int64_t size() const { return static_cast<std::int64_t>(rows.size()); }
  // Features of a modality by name; throws naming it and the known names.
  const Tensor& modality(const std::string& name) const;
};

struct BatchOptions {
  std::int64_t batch_size = 32;
  bool shuffle = true;         // false: rows in order 0..N-1 every epoch (for evaluation)
  std::uint64_t seed = 0;
  bool trim_padding = true;    // cut the time axis to the batch's longest utterance
  Device device = Device::cpu();
  std::int64_t bucket_size = 0;  // 0: no bucketing; k: sort chunks of k batches by length (above)
};

// The rows in the order epoch `epoch` visits them: 0..n-1 without shuffling, else a
// permutation drawn from derive_seed(seed, epoch).
std::vector<std::int64_t> epoch_order(std::int64_t n, bool shuffle, std::uint64_t seed, std::int64_t epoch);

// The batches of one epoch with bucketing (see above): `length[r]` is row r's length, `order`
// the epoch's row order (epoch_order). Batch order is shuffled from derive_seed(seed, epoch)
// when `shuffle`. Returns the rows of each batch.
std::vector<std::vector<std::int64_t>> bucketed_batches(const std::vector<std::int64_t>& length,
                                                        const std::vector<std::int64_t>& order,
                                                        std::int64_t batch_size, std::int64_t bucket_size,
                                                        bool shuffle, std::uint64_t seed, std::int64_t epoch);

// Gathers the given rows of `split` into a batch on `device`. Throws naming the split and
// the bad row if a row is out of range, or if `rows` is empty.
Batch gather_batch(const MultimodalSplit& split, const std::vector<std::int64_t>& rows, bool trim_padding = true,
                   Device device = Device::cpu());

// Walks a split in mini-batches. Holds tensor handles of the split (no copy of the data).
class BatchLoader {
 public:
  BatchLoader(const MultimodalSplit& split, const BatchOptions& options);

  // ceil(N / batch_size) (the last, partial batch is kept); with bucketing, one partial batch
  // per chunk at most, so possibly a few more.
  std::int64_t num_batches() const;
  // Selects the order of epoch `epoch` (epoch 0 until called).
  void set_epoch(std::int64_t epoch);
  std::int64_t epoch() const { return epoch_; }
  // The rows in the order the epoch visits them (all batches, concatenated).
  const std::vector<std::int64_t>& order() const { return order_; }
  // The rows of batch i of the current epoch.
  const std::vector<std::int64_t>& batch_rows(std::int64_t i) const;
  // Batch i of the current epoch, 0 <= i < num_batches().
  Batch batch(std::int64_t i) const;
  const MultimodalSplit& split() const { return split_; }
  const BatchOptions& options() const { return options_; }

 private:
  MultimodalSplit split_;
  BatchOptions options_;
  std::int64_t epoch_ = 0;
  std::vector<std::int64_t> order_;
  std::vector<std::vector<std::int64_t>> batches_;
  std::vector<std::int64_t> row_length_;  // for bucketing
};

// A random subset of n rows of a split (rows kept in their order; every per-row field, the
// strings included, follows its row); the whole split when n <= 0 or n >= N. The rows are
// epoch_order(N, true, seed, 0)'s first n.
MultimodalSplit random_subset(const MultimodalSplit& split, std::int64_t n, std::uint64_t seed);

// Replaces the features of each named modality by zeros (a missing modality). Throws
// naming an unknown modality and the known ones.
void zero_modalities(Batch& batch, const std::vector<std::string>& names);

}  // namespace fg::data
