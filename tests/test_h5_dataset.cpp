// tests/test_h5_dataset.cpp: fusegrad's HDF5 dataset format (data/h5_dataset.h): round
// trips of every label kind, aligned and unaligned; the atomic writer; and every kind of bad
// input the reader must refuse (error naming file, path and expectation) or repair (counted
// warning).
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <limits>

#include "data/h5_dataset.h"
#include "data/h5_util.h"
#include "engine/error.h"
#include "support/data_fixtures.h"

using namespace fg;
using namespace fg::data;
using fg::testing::ScratchDir;

namespace {

bool same(const Tensor& a, const Tensor& b) {
  return a.defined() && b.defined() && a.dtype() == b.dtype() && a.shape() == b.shape() &&
         a.to_vector<double>() == b.to_vector<double>();
}

void check_same_split(const MultimodalSplit& a, const MultimodalSplit& b) {
  CHECK(a.name == b.name);
  CHECK(a.modality_names == b.modality_names);
  REQUIRE(a.features.size() == b.features.size());
  for (std::size_t m = 0; m < a.features.size(); ++m) CHECK(same(a.features[m], b.features[m]));
  CHECK(a.aligned() == b.aligned());
  if (a.aligned()) {
    CHECK(same(a.lengths, b.lengths));
    CHECK(same(a.mask, b.mask));
  } else {
    for (std::size_t m = 0; m < a.features.size(); ++m) {
      CHECK(same(a.modality_lengths[m], b.modality_lengths[m]));
      CHECK(same(a.modality_masks[m], b.modality_masks[m]));
    }
  }
  CHECK(same(a.labels, b.labels));
  CHECK(a.label_kind == b.label_kind);
  CHECK(a.label_names == b.label_names);
  CHECK(a.ids == b.ids);
  CHECK(a.raw_text == b.raw_text);
  CHECK(a.present.defined() == b.present.defined());
  if (a.present.defined()) CHECK(same(a.present, b.present));
}

// Opens a written file read-write and lets `fn` damage it with raw HDF5 calls.
void edit(const std::string& path, const std::function<void(hid_t)>& fn) {
  h5::silence_hdf5_errors();
  h5::Handle f(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
  REQUIRE(f.valid());
  fn(f.get());
}

void remove_link(hid_t f, const std::string& path) { REQUIRE(H5Ldelete(f, path.c_str(), H5P_DEFAULT) >= 0); }

// Replaces dataset `path` (its parent group must exist) by float32 `values` of `shape`.
void put_floats(hid_t f, const std::string& path, const std::vector<std::int64_t>& shape, const std::vector<float>& values) {
  if (h5::kind_of(f, path) != h5::Kind::missing) remove_link(f, path);
  h5::write_floats(f, path, shape, values.data(), 0, {"edit", path});
}

void put_int64s(hid_t f, const std::string& path, const std::vector<std::int64_t>& shape,
                const std::vector<std::int64_t>& values) {
  if (h5::kind_of(f, path) != h5::Kind::missing) remove_link(f, path);
  h5::write_int64s(f, path, shape, values.data(), {"edit", path});
}

// Reads `path` and returns the error message ("" if it read fine).
std::string read_error(const std::string& path, const H5ReadOptions& opt = {}) {
  try {
    read_h5_dataset(path, opt);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string written_toy(const ScratchDir& dir, bool aligned = true) {
  const std::string path = dir.file(aligned ? "aligned.h5" : "unaligned.h5");
  write_h5_dataset(path, aligned ? testing::toy_aligned_dataset() : testing::toy_unaligned_dataset(),
                   {.compression_level = 0, .source = "toy"});
  return path;
}

}  // namespace

TEST_CASE("h5 dataset: an aligned regression dataset round-trips every field") {
  ScratchDir dir("h5");
  const MultimodalDataset data = testing::toy_aligned_dataset();
  const std::string path = dir.file("toy.h5");
  write_h5_dataset(path, data, {.compression_level = 4, .source = "unit test"});
  const H5Dataset back = read_h5_dataset(path);
  CHECK(back.format_version == kH5FormatVersion);
  CHECK(back.source == "unit test");
  CHECK(back.report.empty());
  check_same_split(data.train, back.data.train);
  check_same_split(data.valid, back.data.valid);
  check_same_split(data.test, back.data.test);
  // a spot check against the fixture's formula, not only against the writer's input
  CHECK(back.data.train.features[1].data<float>()[((3 * 4) + 0) * 2 + 1] == testing::toy_value(1, 3, 0, 1));
  CHECK(back.data.valid.ids == std::vector<std::string>{"valid_0", "valid_1"});
}

TEST_CASE("h5 dataset: an unaligned multi-label dataset with missing modalities round-trips") {
  ScratchDir dir("h5");
  const MultimodalDataset data = testing::toy_unaligned_dataset();
  const std::string path = dir.file("toy.h5");
  write_h5_dataset(path, data);
  const H5Dataset back = read_h5_dataset(path);
  CHECK(back.report.empty());
  check_same_split(data.train, back.data.train);
  check_same_split(data.test, back.data.test);
  CHECK_FALSE(back.data.train.aligned());
  CHECK(back.data.train.features[1].shape() == Shape{9, 7, 1});
  CHECK(back.data.train.modality_lengths[1].to_vector<std::int64_t>()[0] == 0);  // an empty video sequence
  CHECK_FALSE(back.data.train.lengths.defined());
}

TEST_CASE("h5 dataset: multi_regression and class_index labels round-trip") {
  ScratchDir dir("h5");
  MultimodalDataset data = testing::toy_aligned_dataset();
  for (MultimodalSplit* s : {&data.train, &data.valid, &data.test}) {
    const std::int64_t n = s->size();
    std::vector<float> y;
    for (std::int64_t i = 0; i < n * 3; ++i) y.push_back(1.0f + static_cast<float>(i % 7));
    s->labels = from_vector(y, {n, 3});
    s->label_kind = LabelKind::multi_regression;
    s->label_names = {"confident", "passionate", "vivid"};
  }
  write_h5_dataset(dir.file("traits.h5"), data);
  const H5Dataset traits = read_h5_dataset(dir.file("traits.h5"));
  check_same_split(data.train, traits.data.train);
  CHECK(traits.data.valid.labels.shape() == Shape{2, 3});

  for (MultimodalSplit* s : {&data.train, &data.valid, &data.test}) {
    std::vector<float> y;
    for (std::int64_t i = 0; i < s->size(); ++i) y.push_back(static_cast<float>(i % 3));
    s->labels = from_vector(y, {s->size()});
    s->label_kind = LabelKind::class_index;
    s->label_names = {"negative", "neutral", "positive"};
  }
  write_h5_dataset(dir.file("classes.h5"), data);
  const H5Dataset classes = read_h5_dataset(dir.file("classes.h5"));
  check_same_split(data.test, classes.data.test);
  CHECK(classes.data.test.labels.to_vector<float>() == std::vector<float>{0, 1, 2});
}

TEST_CASE("h5 dataset: reading an in-memory file image gives what reading the file gives") {
  ScratchDir dir("h5");
  const std::string path = written_toy(dir, false);
  const H5Dataset a = read_h5_dataset(path);
  const H5Dataset b = read_h5_dataset_image(testing::read_bytes(path), "<memory>");
  check_same_split(a.data.train, b.data.train);
  check_same_split(a.data.valid, b.data.valid);
  CHECK_THROWS_WITH_AS(read_h5_dataset_image("not an hdf5 file at all", "<memory>"),
                       doctest::Contains("file '<memory>'"), Error);
  CHECK_THROWS_WITH_AS(read_h5_dataset_image("", "<memory>"), doctest::Contains("empty file image"), Error);
}

TEST_CASE("h5 dataset: the writer is atomic (a failed write leaves the old file and no temp file)") {
  ScratchDir dir("h5");
  const std::string path = dir.file("data.h5");
  write_h5_dataset(path, testing::toy_aligned_dataset(), {.source = "first"});
  MultimodalDataset bad = testing::toy_aligned_dataset();
  bad.valid.features[0].data<float>()[4] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH_AS(write_h5_dataset(path, bad, {.source = "second"}),
                       doctest::Contains("split 'valid' modality 'text' holds a non-finite value at flat index 4"), Error);
  CHECK(dir.entries() == std::vector<std::string>{"data.h5"});
  CHECK(read_h5_dataset(path).source == "first");
  // overwriting with good data replaces the file
  write_h5_dataset(path, testing::toy_unaligned_dataset(), {.source = "third"});
  CHECK(read_h5_dataset(path).source == "third");
  CHECK(dir.entries() == std::vector<std::string>{"data.h5"});
  CHECK_THROWS_WITH_AS(write_h5_dataset(dir.file("no/such/folder/x.h5"), testing::toy_aligned_dataset()),
                       doctest::Contains("write_h5_dataset: the folder"), Error);
}

TEST_CASE("h5 dataset: the writer refuses splits that disagree") {
  ScratchDir dir("h5");
  MultimodalDataset data = testing::toy_aligned_dataset();
  data.test = testing::toy_unaligned_split("test", 3);
  CHECK_THROWS_WITH_AS(write_h5_dataset(dir.file("x.h5"), data), doctest::Contains("split 'test' has other modalities"),
                       Error);
  data = testing::toy_aligned_dataset();
  data.valid.raw_text.clear();
  CHECK_THROWS_WITH_AS(write_h5_dataset(dir.file("x.h5"), data), doctest::Contains("'raw_text' is set in some splits"),
                       Error);
  data = testing::toy_aligned_dataset();
  data.valid.ids.pop_back();
  CHECK_THROWS_WITH_AS(write_h5_dataset(dir.file("x.h5"), data), doctest::Contains("field 'ids' has 1 entries for 2 rows"),
                       Error);
  CHECK(dir.entries().empty());
}

TEST_CASE("h5 dataset: a missing file, a non-HDF5 file and a foreign HDF5 file are clear errors") {
  ScratchDir dir("h5");
  CHECK_THROWS_WITH_AS(read_h5_dataset(dir.file("absent.h5")), doctest::Contains("absent.h5': cannot be opened"), Error);
  {
    std::ofstream(dir.file("text.h5")) << "hello, not HDF5";
  }
  CHECK_THROWS_WITH_AS(read_h5_dataset(dir.file("text.h5")), doctest::Contains("is not an HDF5 file"), Error);
  const std::string path = written_toy(dir);
  edit(path, [](hid_t f) { h5::write_string_attribute(f, "format", "something.else", {"edit", "/"}); });
  CHECK(read_error(path).find("attribute 'format' is 'something.else', expected 'fusegrad.multimodal'") != std::string::npos);
  edit(path, [](hid_t f) {
    h5::write_string_attribute(f, "format", kH5FormatName, {"edit", "/"});
    h5::write_int_attribute(f, "format_version", 7, {"edit", "/"});
  });
  CHECK(read_error(path).find("format_version 7 was written by a newer fusegrad") != std::string::npos);
  edit(path, [](hid_t f) { REQUIRE(H5Adelete(f, "format_version") >= 0); });
  CHECK(read_error(path).find("missing attribute 'format_version'") != std::string::npos);
}

TEST_CASE("h5 dataset: missing groups, datasets and attributes name the HDF5 path") {
  ScratchDir dir("h5");
  struct Case {
    const char* remove;
    const char* expect;
  };
  const Case cases[] = {
      {"/valid", "toy': /valid: missing group"},
      {"/train/ids", "/train/ids: missing dataset"},
      {"/train/labels", "/train/labels: missing dataset"},
      {"/test/modalities", "/test/modalities: missing group"},
      {"/test/modalities/audio", "/test/modalities/audio: missing group"},
      {"/valid/modalities/text/lengths", "/valid/modalities/text/lengths: missing dataset"},
      {"/train/modalities/audio/features", "/train/modalities/audio/features: missing dataset"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.remove);
    const std::string path = dir.file("toy");
    write_h5_dataset(path, testing::toy_aligned_dataset(), {.compression_level = 0, .source = ""});
    edit(path, [&](hid_t f) { remove_link(f, c.remove); });
    const std::string err = read_error(path);
    CHECK(err.find(c.expect) != std::string::npos);
    if (err.find(c.expect) == std::string::npos) MESSAGE(err);
  }
  const std::string path = written_toy(dir);
  edit(path, [](hid_t f) { REQUIRE(H5Adelete(f, "modalities") >= 0); });
  CHECK(read_error(path).find("/: missing attribute 'modalities'") != std::string::npos);
  // a dataset where a group belongs
  const std::string p2 = written_toy(dir);
  edit(p2, [](hid_t f) {
    remove_link(f, "/valid/modalities/text");
    put_floats(f, "/valid/modalities/text", {2}, {1, 2});
  });
  CHECK(read_error(p2).find("/valid/modalities/text: expected a group, found a dataset") != std::string::npos);
}

TEST_CASE("h5 dataset: shape and length mismatches are errors naming the field and the expectation") {
  ScratchDir dir("h5");
  struct Case {
    std::function<void(hid_t)> damage;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {[](hid_t f) { put_floats(f, "/train/modalities/text/features", {5, 12}, std::vector<float>(60, 1.0f)); },
       "/train/modalities/text/features: expected float32 [N, T, D] features, got rank 2"},
      {[](hid_t f) { put_floats(f, "/train/modalities/text/features", {4, 4, 3}, std::vector<float>(48, 0.0f)); },
       "/train/modalities/text/features: has 4 rows, expected 5 (the number of labels)"},
      {[](hid_t f) { put_int64s(f, "/valid/modalities/audio/lengths", {2}, {1, 9}); },
       "/valid/modalities/audio/lengths: lengths[1] = 9 is outside [1, 4]"},
      {[](hid_t f) { put_int64s(f, "/valid/modalities/audio/lengths", {2}, {0, 1}); },
       "/valid/modalities/audio/lengths: lengths[0] = 0 is outside [1, 4]"},
      {[](hid_t f) { put_int64s(f, "/valid/modalities/audio/lengths", {3}, {1, 1, 1}); },
       "/valid/modalities/audio/lengths: expected int64 [2] lengths, got rank 1 with 3 entries"},
      {[](hid_t f) { put_floats(f, "/valid/modalities/audio/lengths", {2}, {1, 1}); },
       "/valid/modalities/audio/lengths: expected an integer dataset, found type class 'float'"},
      {[](hid_t f) { put_int64s(f, "/test/modalities/audio/lengths", {3}, {1, 1, 1}); },
       "file is word-aligned but row 1 has length 1 in modality 'audio' and 2 in 'text'"},  // test lengths: 1, 2, 3
      {[](hid_t f) { put_floats(f, "/test/modalities/audio/features", {3, 5, 2}, std::vector<float>(30, 0.0f)); },
       "file is word-aligned but modality 'audio' has T = 5 steps and 'text' has T = 4"},
      {[](hid_t f) { put_floats(f, "/valid/modalities/audio/features", {2, 4, 5}, std::vector<float>(40, 0.0f)); },
       "modality 'audio' has D = 5 features in split 'valid' but D = 2 in split 'train'"},
      {[](hid_t f) { put_floats(f, "/train/labels", {5, 1}, std::vector<float>(5, 0.0f)); },
       "/train/labels: expected float32 [N] labels (label kind 'regression'), got rank 2"},
      {[](hid_t f) {
         remove_link(f, "/test/ids");
         h5::write_strings(f, "/test/ids", {"a", "b"}, {"edit", "/test/ids"});
       },
       "/test/ids: expected 3 string ids (one per label), got rank 1 with 2 entries"},
      {[](hid_t f) { put_floats(f, "/test/ids", {3}, {1, 2, 3}); },
       "/test/ids: expected a string dataset, found type class 'float'"},
      {[](hid_t f) {
         remove_link(f, "/test/raw_text");
         h5::write_strings(f, "/test/raw_text", {"a"}, {"edit", "/test/raw_text"});
       },
       "/test/raw_text: expected 3 strings (one per label)"},
      {[](hid_t f) { h5::write_int_attribute(f, "aligned", 2, {"edit", "/"}); }, "attribute 'aligned' must be 0 or 1, got 2"},
      {[](hid_t f) { h5::write_string_attribute(f, "label_kind", "ordinal", {"edit", "/"}); },
       "attribute 'label_kind': unknown label kind 'ordinal'"},
      {[](hid_t f) { h5::write_string_array_attribute(f, "modalities", {"text", "text"}, {"edit", "/"}); },
       "attribute 'modalities' lists 'text' twice"},
  };
  int k = 0;
  for (const Case& c : cases) {
    CAPTURE(k++);
    const std::string path = written_toy(dir);
    edit(path, c.damage);
    const std::string err = read_error(path);
    CHECK(err.find(c.expect) != std::string::npos);
    if (err.find(c.expect) == std::string::npos) MESSAGE(err);
    CHECK(err.find("aligned.h5") != std::string::npos);  // the file is named
  }
}

TEST_CASE("h5 dataset: NaN and -inf features become 0 and non-zero padding is cleared, both counted") {
  ScratchDir dir("h5");
  const std::string path = written_toy(dir);
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  // train row 0 has length 1 (T = 4, D = 2 for audio): steps 1..3 are padding
  const MultimodalSplit train = testing::toy_aligned_split("train", 5);
  std::vector<float> audio = train.features[1].to_vector<float>();
  audio[0] = nan;            // valid step: counted as non-finite
  audio[1] = -inf;           // valid step
  audio[2 * 2 + 1] = 7.0f;   // row 0, step 2: padding
  audio[3 * 2 + 0] = inf;    // row 0, step 3: padding and non-finite: counted once, as non-finite
  edit(path, [&](hid_t f) { put_floats(f, "/train/modalities/audio/features", {5, 4, 2}, audio); });
  const H5Dataset back = read_h5_dataset(path);
  CHECK(back.report.count(warn::non_finite_feature) == 3);
  CHECK(back.report.count(warn::nonzero_padding) == 1);
  REQUIRE(back.report.warnings().size() == 2);
  CHECK(back.report.warnings()[0].location.find("/train/modalities/audio/features") != std::string::npos);
  CHECK(back.report.summary().find("replaced by 0") != std::string::npos);
  const auto x = back.data.train.features[1].to_vector<float>();
  CHECK(x[0] == 0.0f);
  CHECK(x[1] == 0.0f);
  CHECK(x[5] == 0.0f);
  CHECK(x[6] == 0.0f);
  for (std::size_t i = 8; i < x.size(); ++i) CHECK(x[i] == audio[i]);  // the rest untouched
}

TEST_CASE("h5 dataset: non-finite, non-binary and out-of-range labels are errors") {
  ScratchDir dir("h5");
  std::string path = written_toy(dir);
  edit(path, [](hid_t f) { put_floats(f, "/valid/labels", {2}, {0.5f, -std::numeric_limits<float>::infinity()}); });
  CHECK(read_error(path).find("/valid/labels: label of row 1 is -inf; labels must be finite") != std::string::npos);

  path = written_toy(dir, false);
  edit(path, [](hid_t f) { put_floats(f, "/test/labels", {4, 2}, {0, 1, 1, 0, 0.5f, 0, 1, 1}); });
  CHECK(read_error(path).find("/test/labels: multi-label labels must be 0 or 1, row 2 column 'happy' is 0.5") !=
        std::string::npos);
  edit(path, [](hid_t f) { put_floats(f, "/test/labels", {4, 3}, std::vector<float>(12, 0.0f)); });
  CHECK(read_error(path).find("expected float32 [N, 2] labels (label kind 'multi_label', 2 label_names)") !=
        std::string::npos);

  path = written_toy(dir);
  edit(path, [](hid_t f) {
    h5::write_string_attribute(f, "label_kind", "class_index", {"edit", "/"});
    h5::write_string_array_attribute(f, "label_names", {"neg", "pos"}, {"edit", "/"});
  });
  // train labels are (i - 1) / 2 = -0.5, 0, 0.5, ...
  CHECK(read_error(path).find("/train/labels: row 0 holds -0.5, expected a class index in [0, 2)") != std::string::npos);
}

TEST_CASE("h5 dataset: an empty split is an error unless allowed, then a counted warning") {
  ScratchDir dir("h5");
  const std::string path = written_toy(dir);
  edit(path, [](hid_t f) {
    put_floats(f, "/valid/labels", {0}, {});
    remove_link(f, "/valid/ids");
    h5::write_strings(f, "/valid/ids", {}, {"edit", "/valid/ids"});
    remove_link(f, "/valid/raw_text");
    h5::write_strings(f, "/valid/raw_text", {}, {"edit", "/valid/raw_text"});
    put_floats(f, "/valid/modalities/text/features", {0, 4, 3}, {});
    put_floats(f, "/valid/modalities/audio/features", {0, 4, 2}, {});
    put_int64s(f, "/valid/modalities/text/lengths", {0}, {});
    put_int64s(f, "/valid/modalities/audio/lengths", {0}, {});
  });
  CHECK(read_error(path).find("/valid: split 'valid' has no utterances (0 labels); expected at least one") !=
        std::string::npos);
  H5ReadOptions opt;
  opt.allow_empty_splits = true;
  const H5Dataset back = read_h5_dataset(path, opt);
  CHECK(back.report.count(warn::empty_split) == 1);
  CHECK(back.data.valid.size() == 0);
  CHECK(back.data.train.size() == 5);
}

TEST_CASE("h5 dataset: repeated ids within and across splits are counted warnings") {
  ScratchDir dir("h5");
  MultimodalDataset data = testing::toy_aligned_dataset();
  data.train.ids[3] = "train_1";    // twice within train
  data.test.ids[0] = "train_0";     // leaks from train into test
  data.test.ids[2] = "valid_1";
  write_h5_dataset(dir.file("dup.h5"), data);
  const H5Dataset back = read_h5_dataset(dir.file("dup.h5"));
  CHECK(back.report.count(warn::duplicate_id) == 3);
  CHECK(back.report.summary().find("'train_0 (also in train)'") != std::string::npos);
}

TEST_CASE("h5 dataset: a dataset larger than the reader's byte limit is refused before allocation") {
  ScratchDir dir("h5");
  const std::string path = written_toy(dir);
  H5ReadOptions opt;
  opt.max_dataset_bytes = 100;  // train text features are 5 * 4 * 3 * 4 = 240 bytes
  CHECK(read_error(path, opt).find("more data than the reader's limit of 100 bytes") != std::string::npos);
}

TEST_CASE("h5 dataset: numbers stored with more than 8 bytes each are refused before HDF5 sizes buffers by them") {
  ScratchDir dir("h5");
  const std::string path = written_toy(dir);
  edit(path, [](hid_t f) {
    remove_link(f, "train/modalities/audio/lengths");
    h5::Handle t(H5Tcopy(H5T_STD_I64LE), H5Tclose);
    REQUIRE(H5Tset_size(t.get(), 16) >= 0);  // a 128-bit integer
    const hsize_t n = 5;
    h5::Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose);
    h5::Handle d(H5Dcreate2(f, "train/modalities/audio/lengths", t.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT,
                            H5P_DEFAULT),
                 H5Dclose);
    REQUIRE(d.valid());
  });
  const std::string msg = read_error(path);
  CHECK(msg.find("/train/modalities/audio/lengths: numbers of 16 bytes each are not supported") != std::string::npos);
}

// libhdf5 1.10 loops forever on a global heap collection (where variable-length strings live)
// whose free-space object declares size 0 (found by fuzz/fuzz_h5_dataset); the reader walks
// the collections first and refuses such a file, from disk and from memory.
TEST_CASE("h5 dataset: a damaged global heap (vlen strings) is refused instead of hanging libhdf5") {
  ScratchDir dir("h5");
  const std::string path = written_toy(dir);
  std::string bytes = testing::read_bytes(path);
  const std::size_t gcol = bytes.find("GCOL");
  REQUIRE(gcol != std::string::npos);
  auto le = [&](std::size_t at, int n) {
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
    return v;
  };
  // walk the objects (16-byte headers, 8-byte lengths) to the free-space object, index 0
  const std::uint64_t size = le(gcol + 8, 8);
  std::uint64_t off = 16;
  while (off + 16 <= size && le(gcol + off, 2) != 0) off += 16 + ((le(gcol + off + 8, 8) + 7) & ~std::uint64_t{7});
  REQUIRE(off + 16 <= size);
  CHECK(le(gcol + off + 8, 8) == size - off);  // a sound file: the free space runs to the end
  for (int i = 0; i < 8; ++i) bytes[gcol + off + 8 + i] = 0;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;

  std::string msg = read_error(path);
  CHECK(msg.find("damaged HDF5 file: a global heap collection") != std::string::npos);
  CHECK(msg.find("free-space object of size 0") != std::string::npos);
  try {
    read_h5_dataset_image(bytes, "<memory>");
    FAIL("expected an error");
  } catch (const Error& e) {
    msg = e.what();
  }
  CHECK(msg.find("file '<memory>': damaged HDF5 file") != std::string::npos);

  // an object claiming more bytes than its collection holds is refused too
  bytes[gcol + 16 + 8 + 7] = 0x40;  // first object's size: about 2^62 bytes
  try {
    read_h5_dataset_image(bytes, "<memory>");
    FAIL("expected an error");
  } catch (const Error& e) {
    msg = e.what();
  }
  CHECK(msg.find("bytes where only") != std::string::npos);
}
