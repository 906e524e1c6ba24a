// data/csd.h: CMU-MultimodalSDK computational sequences (.csd) and their word-level
// alignment into fusegrad's dataset format (data/h5_dataset.h, docs/data-format.md).
//
// A .csd file is HDF5 with one top-level group, the sequence's root name:
//
//   /<root>/data/<video_id>/features    (n, d) numbers, or (n,) / (n, 1) strings (the "words")
//   /<root>/data/<video_id>/intervals   (n, 2) start and end time of each row, in seconds
//   /<root>/metadata/<key>              (1,) string, JSON-encoded by the SDK
//
// Alignment (align_csd) follows the SDK's recipe (mmdatasdk.mmdataset.align to the words
// with a mean collapse, then align to the labels, then get_tensors over the folds):
//
//   1. Words. The reference sequence (the SDK's word-level "words" or GloVe sequence) gives
//      each video's word intervals [a, b]. Words shorter than epsilon are dropped (as the SDK
//      does), and so are the tokens in skip_words (default: the "sp" silence marker, which
//      MMSA's and MulT's releases do not keep) when the reference holds strings.
//   2. Per word and modality, the frames k whose interval [s_k, e_k] overlaps the word by more
//      than epsilon seconds, o_k = min(b, e_k) - max(a, s_k) > epsilon, are averaged:
//         uniform weighting (DEFAULT, what the SDK does: its intersect keeps exactly these
//         frames and the tutorial's collapse function is numpy.average(features, axis=0)):
//                                    x_word = mean_k f_k
//         overlap weighting (option): x_word = sum_k o_k f_k / sum_k o_k
//      Overlap weighting is the exact expected feature value over the part of the word the
//      frames cover (each frame holding its value over its interval); for frames of equal
//      length that lie inside the word the two agree, and they differ only by the partial
//      frames at the word's edges. Gaps between frames are ignored, not counted as zeros.
//      Frames of zero duration never overlap anything. Non-finite feature values (COVAREP's
//      -inf) are set to 0 before averaging, and counted (non_finite_feature).
//   3. A word no frame overlaps gets zeros in that modality (empty_words = zeros, the
//      default; the SDK's impute(numpy.zeros)) or is dropped from every modality (drop_word,
//      the SDK's behaviour after hard_unify); either way it is counted (word_without_frames).
//   4. Segments. The labels sequence gives each video's segments (intervals) and labels
//      (rows). Segment j of video v has id "v[j]" and holds, in time order, every kept word
//      that overlaps it by more than epsilon (a word straddling two segments goes to both,
//      as in the SDK). Segments with no word are left out (empty_segment); segments longer
//      than max_words keep their first max_words words (truncated_segment; the SDK's
//      get_tensors keeps the first when right-padding, the last when left-padding; our
//      splits are always right-padded). A video missing from
//      the words or any modality sequence is left out (missing_video). One simplification:
//      the SDK intersects each modality's collapsed interval with the segment, we use the
//      word's interval for every modality, so a word is in a segment for all or none.
//   5. Folds. Each split lists ids: a video id takes all of its segments, a segment id
//      "v[j]" that segment. An id that matches no video or segment of the labels sequence is
//      an error naming the fold and the ids (a typo or the wrong dataset's folds), unless
//      allow_unknown_fold_ids, which reports them (unknown_fold_id). Ids of videos left out in
//      step 4 are known, not unknown. Segments in no fold are left out and reported
//      (unassigned_segment); a segment in two folds is an error (a train/test leak).
//
// Errors (an fg::Error naming the file, the HDF5 path and the expectation): a file that is
// not HDF5, no or several top-level groups (when root_name is not given), a missing 'data'
// group, 'features' or 'intervals' dataset, wrong ranks, row counts that disagree, a
// non-finite or reversed interval, a non-finite label, a feature size that changes between
// videos, a split that ends up empty.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/h5_dataset.h"
#include "data/report.h"

namespace fg::data {

// One entry (a video, or an aligned segment) of a computational sequence.
struct CsdEntry {
  std::string id;
  std::int64_t rows = 0, dim = 0;
  std::vector<double> intervals;   // rows x 2: start, end in seconds (start <= end)
  std::vector<float> features;     // rows x dim, numeric sequences
  std::vector<std::string> words;  // rows, string sequences (then dim = 1 and features is empty)
  bool is_text() const { return !words.empty() || (rows == 0 && dim == 0); }
};

struct CsdReadOptions {
  std::string root_name;  // "" = the file's only top-level group
  std::int64_t max_dataset_bytes = std::int64_t{1} << 34;
};

// An open .csd file. Entries are read one at a time (a MOSEI sequence has gigabytes).
class CsdFile {
 public:
  static CsdFile open(const std::string& path, const CsdReadOptions& options = {});
  // The same from an in-memory file image; `name` stands for the file in messages.
  static CsdFile open_image(const std::string& bytes, const std::string& name, const CsdReadOptions& options = {});

  const std::string& name() const;
  const std::string& root_name() const;
  // Metadata values as stored (JSON text for SDK files), by key; empty if the file has none.
  const std::map<std::string, std::string>& metadata() const;
  // The video (entry) ids, in name order.
  const std::vector<std::string>& ids() const;
  bool contains(const std::string& id) const;
  // Reads one entry, checking its shapes and intervals; non-finite features become 0 and are
  // counted in `report`.
  CsdEntry read(const std::string& id, LoadReport& report) const;

  struct Impl;  // opaque (keeps hdf5.h out of this header)

 private:
  std::shared_ptr<Impl> impl_;
};

// Reads every entry of a small file (tests, tools). Large files: use CsdFile.
std::vector<CsdEntry> read_csd(const std::string& path, LoadReport& report, const CsdReadOptions& options = {});

struct CsdFolds {
  std::vector<std::string> train, valid, test;
};
// {"train": [ids], "valid": [ids], "test": [ids]}; throws naming the file and the key.
CsdFolds read_folds_json(const std::string& path);

enum class WordWeighting { uniform, overlap };
enum class EmptyWordPolicy { zeros, drop_word };

struct CsdModalitySource {
  std::string name;  // "text", "acoustic", ...
  std::string path;  // its .csd file
};

struct CsdAlignOptions {
  std::string words_path;                      // reference: word intervals (and words, if strings)
  std::vector<CsdModalitySource> modalities;   // each averaged over the words
  std::string labels_path;                     // segment intervals and label rows
  CsdFolds folds;
  std::vector<std::int64_t> label_columns;     // columns of the label rows to keep; empty = all
  // regression when one column is kept, multi_regression otherwise, unless set here
  bool label_kind_set = false;
  LabelKind label_kind = LabelKind::regression;
  std::vector<std::string> label_names;        // default: "label0", "label1", ... (multi kinds)
  std::int64_t max_words = 50;                 // T; 0 = the longest segment
  double epsilon = 1e-5;                       // seconds; the SDK's tolerance
  WordWeighting weighting = WordWeighting::uniform;  // the SDK's mean collapse
  EmptyWordPolicy empty_words = EmptyWordPolicy::zeros;
  std::vector<std::string> skip_words = {"sp"};
  bool allow_unknown_fold_ids = false;        // true: unknown fold ids are a counted warning
  CsdReadOptions read;
};

struct CsdAlignResult {
  MultimodalDataset data;
  LoadReport report;
};

// Steps 1-5 above: word-aligned train / valid / test splits with ids "video[segment]",
// raw text when the reference holds words, and the chosen labels.
CsdAlignResult align_csd(const CsdAlignOptions& options);

// align_csd, then write_h5_dataset (atomic). Returns the report (the caller prints it).
LoadReport convert_csd(const CsdAlignOptions& options, const std::string& out_path, H5WriteOptions write = {});

// The averaging of step 2 for one word [a, b] over one entry's frames; exposed for tests.
// Returns false (and leaves `out` untouched) when no frame overlaps the word by more than
// epsilon. `out` has entry.dim values.
bool average_over_word(const CsdEntry& entry, double a, double b, double epsilon, WordWeighting weighting,
                       float* out);

}  // namespace fg::data
