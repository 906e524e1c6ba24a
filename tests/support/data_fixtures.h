// tests/support/data_fixtures.h: small hand-made datasets and scratch folders for the data
// reader / writer tests (test_h5_dataset, test_csd, test_mmsa_convert, test_fuzz_smoke).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "engine/tensor.h"

namespace fg::testing {

// A fresh empty folder under the system temp dir, removed by the destructor.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& tag) {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("fusegrad-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(path_)) out.push_back(e.path().filename().string());
    return out;
  }

 private:
  std::filesystem::path path_;
};

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Feature value of row i, step t, feature j of modality m: distinct and exactly
// representable, so round trips can compare with ==.
inline float toy_value(std::int64_t m, std::int64_t i, std::int64_t t, std::int64_t j) {
  return static_cast<float>(1000 * m + 100 * i + 10 * t + j) + 0.25f;
}

// An aligned split: n rows, T steps, modalities "text" (D 3) and "audio" (D 2), lengths
// 1 + (i * 5) % T, regression labels (i - 1) / 2, ids "<name>_<i>", raw text "words of <i>".
inline data::MultimodalSplit toy_aligned_split(const std::string& name, std::int64_t n, std::int64_t t_max = 4) {
  data::MultimodalSplit s;
  s.name = name;
  s.modality_names = {"text", "audio"};
  std::vector<std::int64_t> lens(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) lens[i] = 1 + (i * 5) % t_max;
  const std::int64_t dims[2] = {3, 2};
  for (std::int64_t m = 0; m < 2; ++m) {
    const std::int64_t d = dims[m];
    std::vector<float> v(static_cast<std::size_t>(n * t_max * d), 0.0f);
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t t = 0; t < lens[i]; ++t)
        for (std::int64_t j = 0; j < d; ++j) v[(i * t_max + t) * d + j] = toy_value(m, i, t, j);
    s.features.push_back(from_vector(v, {n, t_max, d}));
  }
  s.lengths = from_vector(lens, {n}, TensorOptions{DType::i64});
  s.mask = data::mask_from_lengths(s.lengths, t_max);
  std::vector<float> y;
  for (std::int64_t i = 0; i < n; ++i) {
    y.push_back(static_cast<float>(i - 1) / 2.0f);
    s.ids.push_back(name + "_" + std::to_string(i));
    s.raw_text.push_back("words of " + std::to_string(i));
  }
  s.labels = from_vector(y, {n});
  s.validate();
  return s;
}

// An unaligned split: modality "text" (T 3, D 2) and "video" (T 7, D 1), per-modality
// lengths (text 1 + i % 3, video i % 8 capped at 7, so 0 occurs), multi-label labels over
// {"happy", "sad"} (row i: happy = i % 2, sad = (i / 2) % 2), `present` with video missing
// (zero features) on rows i % 3 == 2.
inline data::MultimodalSplit toy_unaligned_split(const std::string& name, std::int64_t n) {
  data::MultimodalSplit s;
  s.name = name;
  s.modality_names = {"text", "video"};
  const std::int64_t steps[2] = {3, 7}, dims[2] = {2, 1};
  std::vector<float> present;
  for (std::int64_t i = 0; i < n; ++i) present.push_back(1.0f), present.push_back(i % 3 == 2 ? 0.0f : 1.0f);
  for (std::int64_t m = 0; m < 2; ++m) {
    std::vector<std::int64_t> lens;
    for (std::int64_t i = 0; i < n; ++i) lens.push_back(m == 0 ? 1 + i % 3 : std::min<std::int64_t>(i % 8, 7));
    const std::int64_t t_max = steps[m], d = dims[m];
    std::vector<float> v(static_cast<std::size_t>(n * t_max * d), 0.0f);
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t t = 0; t < lens[i]; ++t)
        for (std::int64_t j = 0; j < d; ++j)
          v[(i * t_max + t) * d + j] = present[i * 2 + m] == 0.0f ? 0.0f : toy_value(m, i, t, j);
    s.features.push_back(from_vector(v, {n, t_max, d}));
    s.modality_lengths.push_back(from_vector(lens, {n}, TensorOptions{DType::i64}));
    s.modality_masks.push_back(data::mask_from_lengths(s.modality_lengths.back(), t_max));
  }
  std::vector<float> y;
  for (std::int64_t i = 0; i < n; ++i) {
    y.push_back(static_cast<float>(i % 2));
    y.push_back(static_cast<float>((i / 2) % 2));
    s.ids.push_back(name + "#" + std::to_string(i));
  }
  s.labels = from_vector(y, {n, 2});
  s.label_kind = data::LabelKind::multi_label;
  s.label_names = {"happy", "sad"};
  s.present = from_vector(present, {n, 2});
  s.validate();
  return s;
}

inline data::MultimodalDataset toy_aligned_dataset() {
  return {toy_aligned_split("train", 5), toy_aligned_split("valid", 2), toy_aligned_split("test", 3)};
}

inline data::MultimodalDataset toy_unaligned_dataset() {
  return {toy_unaligned_split("train", 9), toy_unaligned_split("valid", 3), toy_unaligned_split("test", 4)};
}

}  // namespace fg::testing
