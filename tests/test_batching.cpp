// tests/test_batching.cpp: epoch orders, batch gathering with padding and masks, the last
// partial batch, and dropping modalities (data/batching.h).
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "data/batching.h"
#include "engine/device.h"
#include "engine/error.h"
#include "engine/ops.h"

using namespace fg;
using namespace fg::data;

namespace {

// A hand-made split of n rows, T = 6 steps, modalities "a" (D = 2) and "b" (D = 1).
// Valid step t of row i holds feature value 100 i + 10 t + j (+ 0.5 for "b"); padding is 0.
MultimodalSplit toy_split(std::int64_t n) {
  const std::int64_t t_max = 6;
  std::vector<std::int64_t> lens(n);
  std::vector<float> labels(n);
  for (std::int64_t i = 0; i < n; ++i) lens[i] = 1 + (i * 7) % t_max, labels[i] = static_cast<float>(i) / 10.0f;
  MultimodalSplit s;
  s.name = "toy";
  s.modality_names = {"a", "b"};
  for (std::int64_t d : {2, 1}) {
    std::vector<float> v(n * t_max * d, 0.0f);
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t t = 0; t < lens[i]; ++t)
        for (std::int64_t j = 0; j < d; ++j)
          v[(i * t_max + t) * d + j] = static_cast<float>(100 * i + 10 * t + j) + (d == 1 ? 0.5f : 0.0f);
    s.features.push_back(from_vector(v, {n, t_max, d}));
  }
  s.lengths = from_vector(lens, {n}, TensorOptions{DType::i64});
  s.mask = mask_from_lengths(s.lengths, t_max);
  s.labels = from_vector(labels, {n});
  s.validate();
  return s;
}

}  // namespace

TEST_CASE("batching: epoch orders are seeded permutations, different every epoch") {
  const auto plain = epoch_order(10, false, 1, 3);
  for (std::int64_t i = 0; i < 10; ++i) CHECK(plain[i] == i);

  const auto e0 = epoch_order(50, true, 1, 0);
  const auto e1 = epoch_order(50, true, 1, 1);
  auto sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  for (std::int64_t i = 0; i < 50; ++i) REQUIRE(sorted[i] == i);  // a permutation
  CHECK(e0 != plain);                           // actually shuffled
  CHECK(e0 != e1);                              // epochs differ
  CHECK(e0 == epoch_order(50, true, 1, 0));     // reproducible from (seed, epoch)
  CHECK(e0 != epoch_order(50, true, 2, 0));     // seeds differ
  CHECK(epoch_order(0, true, 1, 0).empty());
}

TEST_CASE("batching: every row once per epoch, last partial batch kept") {
  const MultimodalSplit s = toy_split(10);
  BatchLoader loader(s, BatchOptions{4, true, 5});
  CHECK(loader.num_batches() == 3);
  for (std::int64_t epoch = 0; epoch < 2; ++epoch) {
    loader.set_epoch(epoch);
    std::multiset<std::int64_t> seen;
    std::vector<std::int64_t> sizes;
    for (std::int64_t b = 0; b < loader.num_batches(); ++b) {
      const Batch batch = loader.batch(b);
      sizes.push_back(batch.size());
      seen.insert(batch.rows.begin(), batch.rows.end());
    }
    CHECK(sizes == std::vector<std::int64_t>{4, 4, 2});
    CHECK(seen.size() == 10);
    for (std::int64_t i = 0; i < 10; ++i) CHECK(seen.count(i) == 1);
  }
  CHECK_THROWS_WITH_AS(loader.batch(3), doctest::Contains("batch 3 is outside [0, 3)"), fg::Error);
  CHECK_THROWS_WITH_AS(BatchLoader(s, BatchOptions{0}), doctest::Contains("batch_size must be >= 1"), fg::Error);
}

TEST_CASE("batching: gathered rows carry their features, labels, lengths and masks") {
  const MultimodalSplit s = toy_split(10);
  // lengths of rows 3, 8, 1: 1 + 21 % 6 = 4, 1 + 56 % 6 = 3, 1 + 7 % 6 = 2
  const Batch b = gather_batch(s, {3, 8, 1});
  CHECK(b.lengths.to_vector<std::int64_t>() == std::vector<std::int64_t>{4, 3, 2});
  CHECK(b.labels.to_vector<float>() == std::vector<float>{0.3f, 0.8f, 0.1f});
  // trimmed to the longest utterance of the batch: 4 steps
  CHECK(b.features[0].shape() == Shape{3, 4, 2});
  CHECK(b.modality("b").shape() == Shape{3, 4, 1});
  CHECK(b.mask.shape() == Shape{3, 4});
  CHECK(b.mask.to_vector<float>() == std::vector<float>{1, 1, 1, 1, /**/ 1, 1, 1, 0, /**/ 1, 1, 0, 0});
  const auto a = b.features[0].to_vector<float>();
  const auto bb = b.features[1].to_vector<float>();
  const std::int64_t rows[3] = {3, 8, 1}, lens[3] = {4, 3, 2};
  for (std::int64_t r = 0; r < 3; ++r)
    for (std::int64_t t = 0; t < 4; ++t) {
      for (std::int64_t j = 0; j < 2; ++j)
        CHECK(a[(r * 4 + t) * 2 + j] == (t < lens[r] ? float(100 * rows[r] + 10 * t + j) : 0.0f));
      CHECK(bb[r * 4 + t] == (t < lens[r] ? float(100 * rows[r] + 10 * t) + 0.5f : 0.0f));
    }

  const Batch full = gather_batch(s, {3, 8, 1}, /*trim_padding=*/false);
  CHECK(full.features[0].shape() == Shape{3, 6, 2});
  CHECK(full.mask.shape() == Shape{3, 6});

  CHECK_THROWS_WITH_AS(gather_batch(s, {2, 10}), doctest::Contains("rows[1] = 10 is outside split 'toy' of 10 rows"),
                       fg::Error);
  CHECK_THROWS_WITH_AS(gather_batch(s, {}), doctest::Contains("no rows requested"), fg::Error);
}

TEST_CASE("batching: an unshuffled loader walks the rows in order") {
  const MultimodalSplit s = toy_split(7);
  BatchLoader loader(s, BatchOptions{3, false});
  CHECK(loader.batch(0).rows == std::vector<std::int64_t>{0, 1, 2});
  CHECK(loader.batch(2).rows == std::vector<std::int64_t>{6});
  loader.set_epoch(4);
  CHECK(loader.batch(1).rows == std::vector<std::int64_t>{3, 4, 5});
}

TEST_CASE("batching: dropping modalities zeroes them and nothing else") {
  const MultimodalSplit s = toy_split(5);
  Batch b = gather_batch(s, {0, 1, 2, 3, 4});
  const auto a_before = b.features[0].to_vector<float>();
  zero_modalities(b, {"b"});
  for (float v : b.features[1].to_vector<float>()) CHECK(v == 0.0f);
  CHECK(b.features[1].shape() == Shape{5, 5, 1});  // lengths 1..5: trimmed to 5 steps
  CHECK(b.features[0].to_vector<float>() == a_before);
  CHECK(b.labels.numel() == 5);
  // the split itself is untouched
  CHECK(s.features[1].to_vector<float>()[0] == 0.5f);
  CHECK_THROWS_WITH_AS(zero_modalities(b, {"visual"}), doctest::Contains("no modality named 'visual' (known: a, b)"),
                       fg::Error);
}

TEST_CASE("batching: a CUDA batch in a CPU-only build is a clear error") {
  if (device::built_with_cuda()) {
    if (!device::cuda_available()) {
      MESSAGE("SKIPPED: no CUDA device");
      return;
    }
    const Batch b = gather_batch(toy_split(4), {0, 2}, true, Device::cuda());
    CHECK(b.features[0].device().is_cuda());
    CHECK(b.labels.to_vector<float>() == std::vector<float>{0.0f, 0.2f});
    return;
  }
  CHECK_THROWS_WITH_AS(gather_batch(toy_split(4), {0, 2}, true, Device::cuda()), doctest::Contains("CUDA"), fg::Error);
}

TEST_CASE("modalities: parsing a --modalities list") {
  const std::vector<std::string> known = {"text", "acoustic", "visual"};
  CHECK(parse_modality_list("text,acoustic,visual", known, "--modalities") == known);
  CHECK(parse_modality_list("visual, text", known, "--modalities") == std::vector<std::string>{"text", "visual"});
  CHECK(parse_modality_list("acoustic", known, "--modalities") == std::vector<std::string>{"acoustic"});
  CHECK_THROWS_WITH_AS(parse_modality_list("text,audio", known, "--modalities"),
                       doctest::Contains("--modalities: unknown modality 'audio'"), fg::Error);
  CHECK_THROWS_WITH_AS(parse_modality_list("text,,visual", known, "--modalities"), doctest::Contains("empty entry"),
                       fg::Error);
  CHECK_THROWS_WITH_AS(parse_modality_list("text,", known, "--modalities"), doctest::Contains("empty entry"), fg::Error);
  CHECK_THROWS_WITH_AS(parse_modality_list("", known, "--modalities"), doctest::Contains("no modality given"),
                       fg::Error);
  CHECK_THROWS_WITH_AS(parse_modality_list("text,text", known, "--modalities"), doctest::Contains("listed twice"),
                       fg::Error);
}
