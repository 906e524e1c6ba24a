// tests/test_batching.cpp: epoch orders, batch gathering with padding and masks, the last
// partial batch, and dropping modalities (data/batching.h).
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "data/batching.h"
#include "engine/device.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "support/data_fixtures.h"

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

TEST_CASE("batching: bucketing sorts chunks of batches by length and still visits every row once") {
  // lengths 1 + (7 i) % 6 for i = 0..19
  const MultimodalSplit s = toy_split(20);
  const auto lens = s.lengths.to_vector<std::int64_t>();
  BatchLoader loader(s, BatchOptions{.batch_size = 3, .shuffle = true, .seed = 9, .bucket_size = 2});
  // chunks of 6 rows: 6, 6, 6, 2 -> batches 2 + 2 + 2 + 1
  CHECK(loader.num_batches() == 7);
  for (std::int64_t epoch = 0; epoch < 3; ++epoch) {
    loader.set_epoch(epoch);
    std::multiset<std::int64_t> seen;
    std::int64_t padding = 0;
    for (std::int64_t b = 0; b < loader.num_batches(); ++b) {
      const auto& rows = loader.batch_rows(b);
      seen.insert(rows.begin(), rows.end());
      std::int64_t longest = 0;
      for (std::int64_t r : rows) longest = std::max(longest, lens[r]);
      for (std::int64_t r : rows) padding += longest - lens[r];
    }
    CHECK(seen.size() == 20);
    for (std::int64_t i = 0; i < 20; ++i) CHECK(seen.count(i) == 1);
    // without bucketing the same epoch pads more (the rows are not sorted)
    BatchLoader plain(s, BatchOptions{.batch_size = 3, .shuffle = true, .seed = 9});
    plain.set_epoch(epoch);
    std::int64_t plain_padding = 0;
    for (std::int64_t b = 0; b < plain.num_batches(); ++b) {
      std::int64_t longest = 0;
      for (std::int64_t r : plain.batch_rows(b)) longest = std::max(longest, lens[r]);
      for (std::int64_t r : plain.batch_rows(b)) plain_padding += longest - lens[r];
    }
    CHECK(padding < plain_padding);
  }
  CHECK(loader.order().size() == 20);
  CHECK_THROWS_WITH_AS(BatchLoader(s, BatchOptions{.batch_size = 2, .bucket_size = -1}),
                       doctest::Contains("bucket_size must be >= 0"), fg::Error);
}

TEST_CASE("batching: bucketed_batches by hand") {
  // rows 0..6 with lengths; order as given; batch 2, bucket 2 -> chunks {5, 1, 3, 0} and {2, 6, 4}
  const std::vector<std::int64_t> length = {4, 9, 1, 7, 3, 2, 8};
  const std::vector<std::int64_t> order = {5, 1, 3, 0, 2, 6, 4};
  const auto plain = bucketed_batches(length, order, 2, 2, /*shuffle=*/false, 0, 0);
  // chunk 1 sorted longest first: 1 (9), 3 (7), 0 (4), 5 (2); chunk 2: 6 (8), 4 (3), 2 (1)
  const std::vector<std::vector<std::int64_t>> want = {{1, 3}, {0, 5}, {6, 4}, {2}};
  CHECK(plain == want);
  // shuffled: the same batches in a seeded order
  auto shuffled = bucketed_batches(length, order, 2, 2, true, 4, 1);
  CHECK(shuffled == bucketed_batches(length, order, 2, 2, true, 4, 1));
  std::sort(shuffled.begin(), shuffled.end());
  auto sorted_want = want;
  std::sort(sorted_want.begin(), sorted_want.end());
  CHECK(shuffled == sorted_want);
  // equal lengths keep the epoch's order (stable)
  CHECK(bucketed_batches({5, 5, 5}, {2, 0, 1}, 3, 1, false, 0, 0) == std::vector<std::vector<std::int64_t>>{{2, 0, 1}});
}

TEST_CASE("batching: unaligned splits trim each modality to its own longest sequence") {
  const MultimodalSplit s = testing::toy_unaligned_split("train", 9);
  // text lengths 1 + i % 3, video lengths i % 8 (T 3 and 7)
  const Batch b = gather_batch(s, {1, 4, 8});
  CHECK(!b.lengths.defined());
  CHECK(!b.mask.defined());
  REQUIRE(b.modality_lengths.size() == 2);
  CHECK(b.modality_lengths[0].to_vector<std::int64_t>() == std::vector<std::int64_t>{2, 2, 3});
  CHECK(b.modality_lengths[1].to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 4, 0});
  CHECK(b.features[0].shape() == Shape{3, 3, 2});
  CHECK(b.features[1].shape() == Shape{3, 4, 1});  // longest video in the batch: 4
  CHECK(b.modality_masks[1].to_vector<float>() == std::vector<float>{1, 0, 0, 0, /**/ 1, 1, 1, 1, /**/ 0, 0, 0, 0});
  CHECK(b.labels.shape() == Shape{3, 2});
  CHECK(b.ids == std::vector<std::string>{"train#1", "train#4", "train#8"});
  // present: video missing on rows i % 3 == 2 (row 8)
  CHECK(b.present.to_vector<float>() == std::vector<float>{1, 1, 1, 1, 1, 0});
  CHECK(b.features[1].to_vector<float>()[4] == testing::toy_value(1, 4, 0, 0));
  // a batch of rows whose video is empty keeps one step (a [B, 0, D] tensor is no use to a model)
  const Batch empty_video = gather_batch(s, {0, 8});
  CHECK(empty_video.features[1].shape() == Shape{2, 1, 1});
  // bucketing uses the sum of the modality lengths
  BatchLoader loader(s, BatchOptions{.batch_size = 2, .shuffle = false, .bucket_size = 5});
  CHECK(loader.batch_rows(0) == std::vector<std::int64_t>{7, 5});  // text + video: 2 + 7 = 9, 3 + 5 = 8
}

TEST_CASE("batching: dropping a modality also marks it absent in `present`") {
  const MultimodalSplit s = testing::toy_unaligned_split("train", 4);
  Batch b = gather_batch(s, {0, 1, 2, 3});
  zero_modalities(b, {"text"});
  CHECK(b.present.to_vector<float>() == std::vector<float>{0, 1, 0, 1, 0, 0, 0, 1});
  for (float v : b.features[0].to_vector<float>()) CHECK(v == 0.0f);
  CHECK(b.features[1].to_vector<float>()[0] == 0.0f);  // row 0 video has length 0
  CHECK(b.modality_lengths[0].to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 2, 3, 1});  // unchanged
}
