// data/h5_dataset.h: fusegrad's HDF5 dataset format (docs/data-format.md has the full
// layout and the rules the reader enforces).
//
// One file holds the three splits of a multimodal dataset as fg::data::MultimodalSplit
// (data/dataset.h) describes them: per modality a float32 [N, T_m, D_m] feature array with
// int64 [N] lengths, labels (a score, several scores, per-class 0/1 labels or a class
// index), string ids and, optionally, the raw text. Files are written by this module, by
// tools/convert_mmsa.py (MMSA and MulT pickles) and by convert_csd() (data/csd.h).
//
//   /                      attrs: format = "fusegrad.multimodal", format_version = 1,
//                                 aligned (0/1), label_kind, label_names, modalities, source
//   /<split>/ids           string [N]              split = train, valid, test
//   /<split>/labels        float32 [N] or [N, K]
//   /<split>/raw_text      string [N]              optional
//   /<split>/modalities/<name>/features  float32 [N, T_m, D_m]
//   /<split>/modalities/<name>/lengths   int64 [N]
//   /<split>/present       float32 [N, M]          optional (missing modalities)
//
// Reading never returns garbage: a missing group or dataset, a wrong rank, dtype or size, a
// length outside [0, T_m] (aligned: [1, T]), a non-finite or out-of-range label, disagreeing
// modality sets or feature sizes across splits are errors naming the file, the HDF5 path
// and what was expected. Repairable problems are fixed and counted in the LoadReport: a
// non-finite feature becomes 0, non-zero padding after a length becomes 0, a duplicated id
// is reported, an empty split is reported (or refused, by default).
//
// Writing is atomic (fg::io::TempOutputFile, engine/io/output_file.h): a temporary file in
// the same folder, closed and fsync'ed, then renamed over the target (through symbolic
// links); on error the temporary file is removed and the target is untouched. "-", devices
// and FIFOs are refused: libhdf5 needs a regular file.
#pragma once

#include <cstdint>
#include <string>

#include "data/dataset.h"
#include "data/report.h"

namespace fg::data {

inline constexpr const char* kH5FormatName = "fusegrad.multimodal";
inline constexpr std::int64_t kH5FormatVersion = 1;

struct H5ReadOptions {
  bool allow_empty_splits = false;  // false: a split with no utterance is an error
  // Largest dataset (in bytes, after conversion) the reader allocates; larger ones are an error.
  std::int64_t max_dataset_bytes = std::int64_t{1} << 36;
};

struct H5WriteOptions {
  int compression_level = 4;  // deflate level for the feature arrays; 0 stores them raw
  std::string source;         // free text stored in the root attribute 'source'
};

struct H5Dataset {
  MultimodalDataset data;
  LoadReport report;
  std::string source;               // the root attribute 'source' ("" if absent)
  std::int64_t format_version = 0;
};

H5Dataset read_h5_dataset(const std::string& path, const H5ReadOptions& options = {});
// The same from an in-memory file image; `name` stands for the file in messages.
H5Dataset read_h5_dataset_image(const std::string& bytes, const std::string& name, const H5ReadOptions& options = {});

// Writes the three splits. Every split must validate() and the splits must agree on the
// modalities (names, order, feature sizes), alignment and label kind / names. Features must
// be finite (the converters replace and count non-finite values before writing). Splits
// without ids get "<split>/<row>". Throws naming the split and field otherwise.
void write_h5_dataset(const std::string& path, const MultimodalDataset& data, const H5WriteOptions& options = {});

}  // namespace fg::data
