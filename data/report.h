// data/report.h: what a data reader fixed or skipped, as counted warnings.
//
// Real multimodal datasets are messy: COVAREP writes -inf for silent frames, some words
// have no video frame, folds list videos that a release dropped. A reader either stops
// with an fg::Error (the input cannot be used: a missing dataset, a shape mismatch, a NaN
// label) or repairs the input and records a counted warning here (a non-finite feature set
// to 0, a word with no frame, an unknown fold id). Nothing is repaired silently: callers
// print summary() (the examples and tools do) and tests check the counts.
//
//   kind      a short stable key, one of the constants below ("non_finite_feature", ...)
//   location  the file and HDF5 path (or split and field) the warning is about
//   count     how many values / words / ids it covers
//   detail    one human sentence: what was found and what was done, with examples
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fg::data {

namespace warn {
inline constexpr const char* non_finite_feature = "non_finite_feature";  // NaN/+-inf feature replaced by 0
inline constexpr const char* nonzero_padding = "nonzero_padding";        // padding after a length set to 0
inline constexpr const char* duplicate_id = "duplicate_id";              // an id seen twice (within or across splits)
inline constexpr const char* empty_split = "empty_split";                // a split with no utterance (when allowed)
inline constexpr const char* unknown_fold_id = "unknown_fold_id";        // a fold names an id that is not in the data
inline constexpr const char* unassigned_segment = "unassigned_segment";  // a segment in no fold (left out)
inline constexpr const char* missing_video = "missing_video";            // a video absent from a modality's .csd (left out)
inline constexpr const char* word_without_frames = "word_without_frames";  // no frame overlaps a word
inline constexpr const char* zero_length_word = "zero_length_word";      // a word interval shorter than epsilon (dropped)
inline constexpr const char* empty_segment = "empty_segment";            // a segment with no word (left out)
inline constexpr const char* truncated_segment = "truncated_segment";    // a segment longer than max_words (cut)
}  // namespace warn

struct LoadWarning {
  std::string kind;
  std::string location;
  std::int64_t count = 0;
  std::string detail;
};

class LoadReport {
 public:
  // Adds a warning (count <= 0 adds nothing).
  void add(const std::string& kind, const std::string& location, std::int64_t count, const std::string& detail);
  // Appends every warning of `other`.
  void merge(const LoadReport& other);
  // Total count over the warnings of one kind (0 if none).
  std::int64_t count(const std::string& kind) const;
  const std::vector<LoadWarning>& warnings() const { return warnings_; }
  bool empty() const { return warnings_.empty(); }
  // One line per warning: "warning [kind] location: detail (count N)"; "" when empty.
  std::string summary() const;

 private:
  std::vector<LoadWarning> warnings_;
};

}  // namespace fg::data
