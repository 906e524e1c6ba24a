// data/dataset.cpp: the multimodal split container (data/dataset.h).
#include "data/dataset.h"

#include <algorithm>
#include <sstream>

#include "engine/error.h"

namespace fg::data {

namespace {
std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}
}  // namespace

const char* label_kind_name(LabelKind kind) {
  switch (kind) {
    case LabelKind::regression: return "regression";
    case LabelKind::multi_regression: return "multi_regression";
    case LabelKind::multi_label: return "multi_label";
    case LabelKind::class_index: return "class_index";
  }
  return "?";
}

LabelKind parse_label_kind(const std::string& name, const std::string& where) {
  for (LabelKind k : {LabelKind::regression, LabelKind::multi_regression, LabelKind::multi_label, LabelKind::class_index})
    if (name == label_kind_name(k)) return k;
  FG_FAIL("{}: unknown label kind '{}' (expected one of: regression, multi_regression, multi_label, class_index)",
          where, name);
}

std::int64_t MultimodalSplit::size() const { return labels.defined() ? labels.size(0) : 0; }

std::int64_t MultimodalSplit::max_steps() const { return mask.defined() ? mask.size(1) : 0; }

std::int64_t MultimodalSplit::modality_steps(std::int64_t modality) const {
  FG_CHECK(modality >= 0 && modality < num_modalities(), "split '{}': modality index {} out of range [0, {})", name,
           modality, num_modalities());
  return features[static_cast<std::size_t>(modality)].size(1);
}

const Tensor& MultimodalSplit::lengths_of(std::int64_t modality) const {
  FG_CHECK(modality >= 0 && modality < num_modalities(), "split '{}': modality index {} out of range [0, {})", name,
           modality, num_modalities());
  return aligned() ? lengths : modality_lengths[static_cast<std::size_t>(modality)];
}

const Tensor& MultimodalSplit::mask_of(std::int64_t modality) const {
  FG_CHECK(modality >= 0 && modality < num_modalities(), "split '{}': modality index {} out of range [0, {})", name,
           modality, num_modalities());
  return aligned() ? mask : modality_masks[static_cast<std::size_t>(modality)];
}

std::int64_t MultimodalSplit::label_width() const {
  return labels.defined() && labels.dim() == 2 ? labels.size(1) : 1;
}

std::int64_t MultimodalSplit::feature_dim(std::int64_t modality) const {
  FG_CHECK(modality >= 0 && modality < num_modalities(), "split '{}': modality index {} out of range [0, {})", name,
           modality, num_modalities());
  return features[static_cast<std::size_t>(modality)].size(2);
}

std::int64_t MultimodalSplit::modality_index(const std::string& wanted) const {
  for (std::size_t i = 0; i < modality_names.size(); ++i)
    if (modality_names[i] == wanted) return static_cast<std::int64_t>(i);
  FG_FAIL("split '{}': no modality named '{}' (known: {})", name, wanted, join(modality_names));
}

void MultimodalSplit::validate() const {
  const bool two_d = label_kind == LabelKind::multi_regression || label_kind == LabelKind::multi_label;
  FG_CHECK(labels.defined() && labels.dtype() == DType::f32 && labels.dim() == (two_d ? 2 : 1),
           "split '{}': field 'labels' must be float32 {} for label kind '{}', got {}", name, two_d ? "[N, K]" : "[N]",
           label_kind_name(label_kind), labels.defined() ? labels.str() : "undefined");
  const std::int64_t n = labels.size(0);
  if (two_d)
    FG_CHECK(static_cast<std::int64_t>(label_names.size()) == labels.size(1),
             "split '{}': field 'label_names' has {} names for {} label columns", name, label_names.size(),
             labels.size(1));
  if (label_kind == LabelKind::class_index) {
    FG_CHECK(label_names.size() >= 2, "split '{}': label kind 'class_index' needs the class names in 'label_names', got {}",
             name, label_names.size());
    const auto y = labels.to_vector<float>();
    for (std::size_t i = 0; i < y.size(); ++i)
      FG_CHECK(y[i] >= 0 && y[i] < static_cast<float>(label_names.size()) && y[i] == static_cast<float>(static_cast<int>(y[i])),
               "split '{}': labels[{}] = {} is not a class index in [0, {})", name, i, y[i], label_names.size());
  }
  if (label_kind == LabelKind::multi_label) {
    const auto y = labels.to_vector<float>();
    for (std::size_t i = 0; i < y.size(); ++i)
      FG_CHECK(y[i] == 0.0f || y[i] == 1.0f, "split '{}': multi-label labels must be 0 or 1, got {} at flat index {}",
               name, y[i], i);
  }
  FG_CHECK(modality_names.size() == features.size(), "split '{}': {} modality names for {} feature tensors", name,
           modality_names.size(), features.size());
  FG_CHECK(!features.empty(), "split '{}': has no modalities", name);
  if (aligned()) {
    FG_CHECK(lengths.defined() && lengths.dtype() == DType::i64 && lengths.shape() == Shape{n},
             "split '{}': field 'lengths' must be int64 [{}], got {}", name, n,
             lengths.defined() ? lengths.str() : "undefined");
    FG_CHECK(mask.defined() && mask.dtype() == DType::f32 && mask.dim() == 2 && mask.size(0) == n,
             "split '{}': field 'mask' must be float32 [{}, T], got {}", name, n,
             mask.defined() ? mask.str() : "undefined");
    FG_CHECK(modality_masks.empty(), "split '{}': 'modality_masks' is set but 'modality_lengths' is empty", name);
    const std::int64_t t = mask.size(1);
    for (std::size_t m = 0; m < features.size(); ++m) {
      const Tensor& f = features[m];
      FG_CHECK(f.defined() && f.dtype() == DType::f32 && f.dim() == 3 && f.size(0) == n && f.size(1) == t,
               "split '{}': features of modality '{}' must be float32 [{}, {}, D], got {}", name, modality_names[m], n,
               t, f.defined() ? f.str() : "undefined");
    }
    const auto lens = lengths.to_vector<std::int64_t>();
    for (std::size_t i = 0; i < lens.size(); ++i)
      FG_CHECK(lens[i] >= 1 && lens[i] <= t, "split '{}': lengths[{}] = {} is outside [1, {}]", name, i, lens[i], t);
  } else {
    FG_CHECK(!lengths.defined() && !mask.defined(),
             "split '{}': an unaligned split (modality_lengths set) must leave 'lengths' and 'mask' undefined", name);
    FG_CHECK(modality_lengths.size() == features.size() && modality_masks.size() == features.size(),
             "split '{}': unaligned split has {} modalities but {} modality_lengths and {} modality_masks", name,
             features.size(), modality_lengths.size(), modality_masks.size());
    for (std::size_t m = 0; m < features.size(); ++m) {
      const Tensor& f = features[m];
      FG_CHECK(f.defined() && f.dtype() == DType::f32 && f.dim() == 3 && f.size(0) == n,
               "split '{}': features of modality '{}' must be float32 [{}, T_m, D], got {}", name, modality_names[m],
               n, f.defined() ? f.str() : "undefined");
      const std::int64_t t = f.size(1);
      const Tensor& len = modality_lengths[m];
      FG_CHECK(len.defined() && len.dtype() == DType::i64 && len.shape() == Shape{n},
               "split '{}': modality_lengths of '{}' must be int64 [{}], got {}", name, modality_names[m], n,
               len.defined() ? len.str() : "undefined");
      const Tensor& mk = modality_masks[m];
      FG_CHECK(mk.defined() && mk.dtype() == DType::f32 && mk.shape() == (Shape{n, t}),
               "split '{}': modality_masks of '{}' must be float32 [{}, {}], got {}", name, modality_names[m], n, t,
               mk.defined() ? mk.str() : "undefined");
      const auto lens = len.to_vector<std::int64_t>();
      for (std::size_t i = 0; i < lens.size(); ++i)
        FG_CHECK(lens[i] >= 0 && lens[i] <= t, "split '{}': modality_lengths of '{}'[{}] = {} is outside [0, {}]", name,
                 modality_names[m], i, lens[i], t);
    }
  }
  if (present.defined())
    FG_CHECK(present.dtype() == DType::f32 && present.shape() == (Shape{n, num_modalities()}),
             "split '{}': field 'present' must be float32 [{}, {}], got {}", name, n, num_modalities(), present.str());
  FG_CHECK(ids.empty() || static_cast<std::int64_t>(ids.size()) == n, "split '{}': field 'ids' has {} entries for {} rows",
           name, ids.size(), n);
  FG_CHECK(raw_text.empty() || static_cast<std::int64_t>(raw_text.size()) == n,
           "split '{}': field 'raw_text' has {} entries for {} rows", name, raw_text.size(), n);
}

std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * (stream + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

Tensor mask_from_lengths(const Tensor& lengths, std::int64_t max_steps) {
  FG_CHECK(lengths.defined() && lengths.dtype() == DType::i64 && lengths.dim() == 1,
           "mask_from_lengths: lengths must be int64 [N], got {}", lengths.defined() ? lengths.str() : "undefined");
  FG_CHECK(max_steps >= 0, "mask_from_lengths: max_steps must be >= 0, got {}", max_steps);
  const auto lens = lengths.to_vector<std::int64_t>();
  const auto n = static_cast<std::int64_t>(lens.size());
  std::vector<float> m(static_cast<std::size_t>(n * max_steps), 0.0f);
  for (std::int64_t i = 0; i < n; ++i) {
    FG_CHECK(lens[i] >= 0 && lens[i] <= max_steps, "mask_from_lengths: lengths[{}] = {} is outside [0, {}]", i, lens[i],
             max_steps);
    std::fill_n(m.begin() + i * max_steps, lens[i], 1.0f);
  }
  return from_vector(m, {n, max_steps}, TensorOptions{DType::f32, lengths.device(), false});
}

std::vector<std::string> parse_modality_list(const std::string& csv, const std::vector<std::string>& known,
                                             const std::string& what) {
  std::vector<bool> chosen(known.size(), false);
  std::stringstream ss(csv);
  std::string item;
  bool any = false;
  // getline drops a trailing empty field; catch "text," explicitly
  FG_CHECK(csv.empty() || csv.back() != ',', "{}: empty entry in '{}' (expected names from: {})", what, csv,
           join(known));
  while (std::getline(ss, item, ',')) {
    const auto b = item.find_first_not_of(" \t");
    const auto e = item.find_last_not_of(" \t");
    item = b == std::string::npos ? "" : item.substr(b, e - b + 1);
    FG_CHECK(!item.empty(), "{}: empty entry in '{}' (expected names from: {})", what, csv, join(known));
    const auto it = std::find(known.begin(), known.end(), item);
    FG_CHECK(it != known.end(), "{}: unknown modality '{}' (expected names from: {})", what, item, join(known));
    const auto k = static_cast<std::size_t>(it - known.begin());
    FG_CHECK(!chosen[k], "{}: modality '{}' listed twice in '{}'", what, item, csv);
    chosen[k] = true;
    any = true;
  }
  FG_CHECK(any, "{}: no modality given (expected a comma-separated list from: {})", what, join(known));
  std::vector<std::string> out;
  for (std::size_t k = 0; k < known.size(); ++k)
    if (chosen[k]) out.push_back(known[k]);
  return out;
}

}  // namespace fg::data
