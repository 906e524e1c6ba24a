// data/batching.cpp: epoch orders, batch gathering and modality dropping (data/batching.h).
#include "data/batching.h"

#include <algorithm>

#include "engine/error.h"
#include "engine/ops.h"
#include "engine/random.h"

namespace fg::data {

const Tensor& Batch::modality(const std::string& name) const {
  for (std::size_t m = 0; m < modality_names.size(); ++m)
    if (modality_names[m] == name) return features[m];
  std::string known;
  for (const auto& n : modality_names) known += (known.empty() ? "" : ", ") + n;
  FG_FAIL("batch: no modality named '{}' (known: {})", name, known);
}

std::vector<std::int64_t> epoch_order(std::int64_t n, bool shuffle, std::uint64_t seed, std::int64_t epoch) {
  FG_CHECK(n >= 0, "epoch_order: n must be >= 0, got {}", n);
  FG_CHECK(epoch >= 0, "epoch_order: epoch must be >= 0, got {}", epoch);
  if (!shuffle) {
    std::vector<std::int64_t> order(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) order[i] = i;
    return order;
  }
  Generator gen(derive_seed(seed, static_cast<std::uint64_t>(epoch)));
  return randperm(n, gen).to_vector<std::int64_t>();
}

std::vector<std::vector<std::int64_t>> bucketed_batches(const std::vector<std::int64_t>& length,
                                                        const std::vector<std::int64_t>& order,
                                                        std::int64_t batch_size, std::int64_t bucket_size,
                                                        bool shuffle, std::uint64_t seed, std::int64_t epoch) {
  FG_CHECK(batch_size >= 1 && bucket_size >= 1, "bucketed_batches: batch_size and bucket_size must be >= 1, got {} and {}",
           batch_size, bucket_size);
  FG_CHECK(order.size() == length.size(), "bucketed_batches: order has {} rows but length has {}", order.size(),
           length.size());
  std::vector<std::vector<std::int64_t>> batches;
  const auto n = static_cast<std::int64_t>(order.size());
  const std::int64_t chunk = batch_size * bucket_size;
  for (std::int64_t begin = 0; begin < n; begin += chunk) {
    std::vector<std::int64_t> rows(order.begin() + begin, order.begin() + std::min(n, begin + chunk));
    std::stable_sort(rows.begin(), rows.end(),
                     [&](std::int64_t a, std::int64_t b) { return length[a] > length[b]; });
    for (std::size_t b = 0; b < rows.size(); b += static_cast<std::size_t>(batch_size))
      batches.emplace_back(rows.begin() + static_cast<std::ptrdiff_t>(b),
                           rows.begin() + static_cast<std::ptrdiff_t>(std::min(rows.size(), b + batch_size)));
  }
  if (shuffle && batches.size() > 1) {
    Generator gen(derive_seed(derive_seed(seed, static_cast<std::uint64_t>(epoch)), 1));
    const auto perm = randperm(static_cast<std::int64_t>(batches.size()), gen).to_vector<std::int64_t>();
    std::vector<std::vector<std::int64_t>> shuffled;
    for (std::int64_t p : perm) shuffled.push_back(std::move(batches[static_cast<std::size_t>(p)]));
    batches = std::move(shuffled);
  }
  return batches;
}

Batch gather_batch(const MultimodalSplit& split, const std::vector<std::int64_t>& rows, bool trim_padding,
                   Device device) {
  const std::int64_t n = split.size();
  FG_CHECK(!rows.empty(), "gather_batch: no rows requested from split '{}'", split.name);
  for (std::size_t i = 0; i < rows.size(); ++i)
    FG_CHECK(rows[i] >= 0 && rows[i] < n, "gather_batch: rows[{}] = {} is outside split '{}' of {} rows", i, rows[i],
             split.name, n);
  const auto b = static_cast<std::int64_t>(rows.size());
  const Tensor idx = from_vector(rows, {b}, TensorOptions{DType::i64});

  Batch out;
  out.rows = rows;
  out.modality_names = split.modality_names;
  out.labels = index_select(split.labels, 0, idx);
  if (split.present.defined()) out.present = index_select(split.present, 0, idx);
  if (!split.ids.empty())
    for (std::int64_t r : rows) out.ids.push_back(split.ids[static_cast<std::size_t>(r)]);
  if (!split.aligned()) {
    // Each modality keeps its own time axis, trimmed to its longest sequence in the batch.
    for (std::size_t m = 0; m < split.features.size(); ++m) {
      const std::int64_t t_max = split.features[m].size(1);
      Tensor len = index_select(split.modality_lengths[m], 0, idx);
      Tensor mk = index_select(split.modality_masks[m], 0, idx);
      Tensor x = index_select(split.features[m], 0, idx);
      std::int64_t steps = t_max;
      if (trim_padding) {
        const auto lens = len.to_vector<std::int64_t>();
        steps = std::min(t_max, std::max<std::int64_t>(1, *std::max_element(lens.begin(), lens.end())));
      }
      if (steps != t_max) {
        mk = slice(mk, 1, 0, steps);
        x = slice(x, 1, 0, steps);
      }
      out.modality_lengths.push_back(len);
      out.modality_masks.push_back(mk);
      out.features.push_back(x);
    }
    if (!device.is_cpu()) {
      for (Tensor& f : out.features) f = f.to(device);
      for (Tensor& f : out.modality_lengths) f = f.to(device);
      for (Tensor& f : out.modality_masks) f = f.to(device);
      out.labels = out.labels.to(device);
      if (out.present.defined()) out.present = out.present.to(device);
    }
    return out;
  }
  out.lengths = index_select(split.lengths, 0, idx);
  std::int64_t steps = split.max_steps();
  if (trim_padding) {
    const auto lens = out.lengths.to_vector<std::int64_t>();
    steps = *std::max_element(lens.begin(), lens.end());
  }
  out.mask = index_select(split.mask, 0, idx);
  if (steps != split.max_steps()) out.mask = slice(out.mask, 1, 0, steps);
  for (const Tensor& f : split.features) {
    Tensor x = index_select(f, 0, idx);
    if (steps != split.max_steps()) x = slice(x, 1, 0, steps);
    out.features.push_back(x);
  }
  if (!device.is_cpu()) {
    for (Tensor& f : out.features) f = f.to(device);
    out.mask = out.mask.to(device);
    out.lengths = out.lengths.to(device);
    out.labels = out.labels.to(device);
    if (out.present.defined()) out.present = out.present.to(device);
  }
  return out;
}

BatchLoader::BatchLoader(const MultimodalSplit& split, const BatchOptions& options) : split_(split), options_(options) {
  FG_CHECK(options.batch_size >= 1, "BatchLoader: batch_size must be >= 1, got {}", options.batch_size);
  FG_CHECK(options.bucket_size >= 0, "BatchLoader: bucket_size must be >= 0 (0 = no bucketing), got {}",
           options.bucket_size);
  split_.validate();
  if (options_.bucket_size > 0) {
    row_length_.assign(static_cast<std::size_t>(split_.size()), 0);
    for (std::int64_t m = 0; m < (split_.aligned() ? 1 : split_.num_modalities()); ++m) {
      const auto lens = split_.lengths_of(m).to_vector<std::int64_t>();
      for (std::size_t r = 0; r < lens.size(); ++r) row_length_[r] += lens[r];
    }
  }
  set_epoch(0);
}

std::int64_t BatchLoader::num_batches() const { return static_cast<std::int64_t>(batches_.size()); }

void BatchLoader::set_epoch(std::int64_t epoch) {
  epoch_ = epoch;
  const std::vector<std::int64_t> rows = epoch_order(split_.size(), options_.shuffle, options_.seed, epoch);
  batches_.clear();
  if (options_.bucket_size > 0) {
    batches_ = bucketed_batches(row_length_, rows, options_.batch_size, options_.bucket_size, options_.shuffle,
                                options_.seed, epoch);
  } else {
    for (std::size_t b = 0; b < rows.size(); b += static_cast<std::size_t>(options_.batch_size))
      batches_.emplace_back(rows.begin() + static_cast<std::ptrdiff_t>(b),
                            rows.begin() + static_cast<std::ptrdiff_t>(
                                               std::min(rows.size(), b + static_cast<std::size_t>(options_.batch_size))));
  }
  order_.clear();
  for (const auto& b : batches_) order_.insert(order_.end(), b.begin(), b.end());
}

const std::vector<std::int64_t>& BatchLoader::batch_rows(std::int64_t i) const {
  FG_CHECK(i >= 0 && i < num_batches(), "BatchLoader: batch {} is outside [0, {}) for split '{}'", i, num_batches(),
           split_.name);
  return batches_[static_cast<std::size_t>(i)];
}

Batch BatchLoader::batch(std::int64_t i) const {
  return gather_batch(split_, batch_rows(i), options_.trim_padding, options_.device);
}

MultimodalSplit random_subset(const MultimodalSplit& s, std::int64_t n, std::uint64_t seed) {
  if (n <= 0 || n >= s.size()) return s;
  auto order = epoch_order(s.size(), true, seed, 0);
  order.resize(static_cast<std::size_t>(n));
  std::sort(order.begin(), order.end());
  const Tensor idx = from_vector(order, {n}, TensorOptions{DType::i64, Device::cpu()});
  auto pick = [&](const Tensor& t) { return t.defined() ? index_select(t, 0, idx) : t; };
  MultimodalSplit r = s;
  for (auto& f : r.features) f = pick(f);
  r.lengths = pick(s.lengths), r.mask = pick(s.mask), r.labels = pick(s.labels), r.present = pick(s.present);
  for (auto& t : r.modality_lengths) t = pick(t);
  for (auto& t : r.modality_masks) t = pick(t);
  auto pick_str = [&](const std::vector<std::string>& v) {
    std::vector<std::string> out;
    if (v.empty()) return out;
    for (std::int64_t i : order) out.push_back(v[static_cast<std::size_t>(i)]);
    return out;
  };
  r.ids = pick_str(s.ids), r.raw_text = pick_str(s.raw_text);
  return r;
}

void zero_modalities(Batch& batch, const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    const Tensor& f = batch.modality(name);  // throws on an unknown name
    const auto m = static_cast<std::size_t>(&f - batch.features.data());
    batch.features[m] = zeros_like(f);
    if (batch.present.defined()) {  // present[:, m] = 0
      const Device device = batch.present.device();
      std::vector<float> p = batch.present.to(Device::cpu()).to_vector<float>();
      const std::size_t n_mod = batch.features.size();
      for (std::size_t i = m; i < p.size(); i += n_mod) p[i] = 0.0f;
      batch.present = from_vector(p, batch.present.shape()).to(device);
    }
  }
}

}  // namespace fg::data
