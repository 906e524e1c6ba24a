// tests/test_mmsa_convert.cpp: tools/convert_mmsa.py, end to end. tests/scripts/
// make_fake_pickles.py writes tiny pickles with the keys and layouts of MMSA's aligned_50.pkl
// / unaligned_50.pkl and MulT's mosi_data.pkl / iemocap_data_noalign.pkl; the script converts
// each; our C++ reader (data/h5_dataset.h) reads the result, and the values are checked
// against the fixture's formula. Needs python3 with numpy and h5py (Debian packages); without
// them the tests print "SKIPPED: no python3-h5py" and ctest reports them as skipped.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "data/h5_dataset.h"
#include "support/data_fixtures.h"

using namespace fg;
using namespace fg::data;
using fg::testing::ScratchDir;

#ifndef FG_PYTHON
#define FG_PYTHON "python3"
#endif

namespace {

// Runs a shell command; returns its exit status and puts stdout + stderr in `output`.
int run(const std::string& cmd, std::string& output) {
  output.clear();
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, n);
  const int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool have_h5py() {
  std::string out;
  return run(fmt::format("'{}' -c 'import numpy, h5py'", FG_PYTHON), out) == 0;
}

// The fixtures' feature value (make_fake_pickles.py): modality m (text 0, audio 1, vision 2),
// row i, valid step t, feature j.
float value(int m, int i, int t, int j) { return static_cast<float>(1000 * m + 100 * i + 10 * t + j + 1); }

// Makes the pickles once per test case in `dir`.
void make_pickles(const ScratchDir& dir) {
  std::string out;
  const int rc = run(fmt::format("'{}' '{}/tests/scripts/make_fake_pickles.py' '{}'", FG_PYTHON, FG_SOURCE_DIR,
                                 dir.file("")),
                     out);
  INFO(out);
  REQUIRE(rc == 0);
}

// Converts dir/<name>.pkl to dir/<name>.h5; returns the script's output.
std::string convert(const ScratchDir& dir, const std::string& name, const std::string& flags = "",
                    int expected_rc = 0) {
  std::string out;
  const int rc = run(fmt::format("'{}' '{}/tools/convert_mmsa.py' '{}' '{}' {}", FG_PYTHON, FG_SOURCE_DIR,
                                 dir.file(name + ".pkl"), dir.file(name + ".h5"), flags),
                     out);
  INFO(out);
  CHECK(rc == expected_rc);
  return out;
}

// Checks features [N, T, D] of modality m against the formula for the given lengths.
void check_features(const Tensor& x, int m, const std::vector<std::int64_t>& lengths) {
  const auto v = x.to_vector<float>();
  const std::int64_t n = x.size(0), steps = x.size(1), d = x.size(2);
  REQUIRE(static_cast<std::int64_t>(lengths.size()) == n);
  for (int i = 0; i < n; ++i)
    for (int t = 0; t < steps; ++t)
      for (int j = 0; j < d; ++j) {
        const float want = t < lengths[i] ? value(m, i, t, j) : 0.0f;
        const float got = v[(i * steps + t) * d + j];
        if (got != want && !(m == 1 && i == 1 && t == 0 && j == 0))  // the -inf cell (checked apart)
          FAIL_CHECK(fmt::format("modality {} row {} step {} feature {}: got {}, want {}", m, i, t, j, got, want));
      }
}

std::vector<std::int64_t> i64(const Tensor& t) { return t.to_vector<std::int64_t>(); }

#define SKIP_WITHOUT_H5PY()                      \
  if (!have_h5py()) {                            \
    MESSAGE("SKIPPED: no python3-h5py (" FG_PYTHON " cannot import numpy and h5py)"); \
    return;                                      \
  }

}  // namespace

TEST_CASE("convert_mmsa: MMSA aligned_50 (BERT mask lengths, ids, -inf and padding repaired)") {
  SKIP_WITHOUT_H5PY();
  ScratchDir dir("mmsa");
  make_pickles(dir);
  const std::string out = convert(dir, "aligned_50");
  CHECK(out.find("[non_finite_feature]") != std::string::npos);
  CHECK(out.find("[nonzero_padding]") != std::string::npos);
  const H5Dataset h = read_h5_dataset(dir.file("aligned_50.h5"));
  CHECK(h.report.empty());  // the converter left nothing to repair
  CHECK(h.source.find("MMSA pickle 'aligned_50.pkl'") != std::string::npos);
  const MultimodalSplit& tr = h.data.train;
  CHECK(tr.aligned());
  CHECK(tr.modality_names == std::vector<std::string>{"text", "acoustic", "visual"});
  CHECK(tr.ids == std::vector<std::string>{"vidtrain0[0]", "vidtrain0[1]", "vidtrain1[2]"});
  CHECK(tr.raw_text == std::vector<std::string>{"train words 0", "train words 1", "train words 2"});
  CHECK(tr.label_kind == LabelKind::regression);
  CHECK(tr.labels.to_vector<float>() == std::vector<float>{-1.2f, 0.0f, 2.4f});
  CHECK(i64(tr.lengths) == std::vector<std::int64_t>{2, 4, 3});  // text_bert's mask
  for (int m = 0; m < 3; ++m) check_features(tr.features[static_cast<std::size_t>(m)], m, {2, 4, 3});
  CHECK(tr.features[1].to_vector<float>()[(1 * 4 + 0) * 2 + 0] == 0.0f);  // was -inf
  CHECK(tr.features[2].to_vector<float>()[(0 * 4 + 3) * 2 + 1] == 0.0f);  // was 7 in the padding
  CHECK(h.data.test.ids == std::vector<std::string>{"vidtest0[0]", "vidtest0[1]"});
  CHECK(h.data.valid.size() == 2);

  SUBCASE("options: classification labels, text_bert kept, ids as they are") {
    convert(dir, "aligned_50", "--label-field classification --keep-text-bert --keep-ids --compression 0");
    const H5Dataset c = read_h5_dataset(dir.file("aligned_50.h5"));
    const MultimodalSplit& s = c.data.train;
    CHECK(s.label_kind == LabelKind::class_index);
    CHECK(s.label_names == std::vector<std::string>{"Negative", "Neutral", "Positive"});
    CHECK(s.labels.to_vector<float>() == std::vector<float>{0, 1, 2});
    CHECK(s.ids[0] == "vidtrain0$_$0");
    REQUIRE(s.modality_names.back() == "text_bert");
    CHECK(s.features.back().shape() == Shape{3, 4, 3});
    // row 1 (4 tokens): ids 101..104, mask 1, segment 0 at every step
    const auto tb = s.features.back().to_vector<float>();
    CHECK(tb[(1 * 4 + 3) * 3 + 0] == 104.0f);
    CHECK(tb[(1 * 4 + 3) * 3 + 1] == 1.0f);
    CHECK(tb[(0 * 4 + 2) * 3 + 0] == 0.0f);  // row 0 has 2 tokens
  }
}

TEST_CASE("convert_mmsa: MMSA unaligned_50 keeps each modality's own lengths") {
  SKIP_WITHOUT_H5PY();
  ScratchDir dir("mmsa");
  make_pickles(dir);
  convert(dir, "unaligned_50");
  const H5Dataset h = read_h5_dataset(dir.file("unaligned_50.h5"));
  const MultimodalSplit& tr = h.data.train;
  REQUIRE(!tr.aligned());
  CHECK(i64(tr.modality_lengths[0]) == std::vector<std::int64_t>{2, 4, 3});  // text: BERT mask
  CHECK(i64(tr.modality_lengths[1]) == std::vector<std::int64_t>{0, 6, 2});  // audio_lengths (0 allowed)
  CHECK(i64(tr.modality_lengths[2]) == std::vector<std::int64_t>{5, 1, 3});  // vision_lengths
  CHECK(tr.features[1].shape() == Shape{3, 6, 2});
  check_features(tr.features[0], 0, {2, 4, 3});
  check_features(tr.features[1], 1, {0, 6, 2});
  // vision row 0 step 3 feature 1 was set to 7 inside the valid steps: kept
  const auto vis = tr.features[2].to_vector<float>();
  CHECK(vis[(0 * 5 + 3) * 2 + 1] == 7.0f);
  CHECK(vis[(2 * 5 + 2) * 2 + 0] == value(2, 2, 2, 0));
}

TEST_CASE("convert_mmsa: MulT mosi_data (left padding moved to the right, (N,1,1) labels, 2-D ids)") {
  SKIP_WITHOUT_H5PY();
  ScratchDir dir("mmsa");
  make_pickles(dir);
  convert(dir, "mosi_data");
  const H5Dataset h = read_h5_dataset(dir.file("mosi_data.h5"));
  CHECK(h.report.empty());
  const MultimodalSplit& tr = h.data.train;
  CHECK(tr.aligned());
  CHECK(i64(tr.lengths) == std::vector<std::int64_t>{3, 5, 1});
  for (int m = 0; m < 3; ++m) check_features(tr.features[static_cast<std::size_t>(m)], m, {3, 5, 1});
  CHECK(tr.labels.to_vector<float>() == std::vector<float>{0.5f, -3.0f, 1.0f});
  CHECK(tr.ids == std::vector<std::string>{"vtrain0[0.5_1.5]", "vtrain1[1.5_2.5]", "vtrain2[2.5_3.5]"});
  CHECK(tr.raw_text.empty());
}

TEST_CASE("convert_mmsa: MulT iemocap_data_noalign ((N,4,2) one-hot -> 4 multi-label emotions, per-modality lengths)") {
  SKIP_WITHOUT_H5PY();
  ScratchDir dir("mmsa");
  make_pickles(dir);
  convert(dir, "iemocap_data_noalign");
  const H5Dataset h = read_h5_dataset(dir.file("iemocap_data_noalign.h5"));
  const MultimodalSplit& tr = h.data.train;
  REQUIRE(!tr.aligned());
  CHECK(tr.label_kind == LabelKind::multi_label);
  CHECK(tr.label_names == std::vector<std::string>{"Neutral", "Happy", "Sad", "Angry"});
  // emotion k of row i is present iff (i + k) % 3 == 0
  CHECK(tr.labels.to_vector<float>() == std::vector<float>{1, 0, 0, 1, /**/ 0, 0, 1, 0, /**/ 0, 1, 0, 0});
  CHECK(i64(tr.modality_lengths[0]) == std::vector<std::int64_t>{4, 2, 1});
  CHECK(i64(tr.modality_lengths[1]) == std::vector<std::int64_t>{6, 0, 3});
  CHECK(i64(tr.modality_lengths[2]) == std::vector<std::int64_t>{1, 3, 2});
  check_features(tr.features[0], 0, {4, 2, 1});
  check_features(tr.features[2], 2, {1, 3, 2});
  CHECK(tr.ids == std::vector<std::string>{"train/0", "train/1", "train/2"});
}

TEST_CASE("convert_mmsa: bad input is a clear error naming the file, split and key") {
  SKIP_WITHOUT_H5PY();
  ScratchDir dir("mmsa");
  make_pickles(dir);
  std::string out = convert(dir, "bad_aligned_50", "", 1);
  CHECK(out.find("bad_aligned_50.pkl': split 'valid': missing key 'regression_labels'") != std::string::npos);
  CHECK(testing::read_bytes(dir.file("bad_aligned_50.h5")).empty());  // nothing written
  std::FILE* f = std::fopen(dir.file("junk.pkl").c_str(), "wb");
  std::fputs("not a pickle", f);
  std::fclose(f);
  out = convert(dir, "junk", "", 1);
  CHECK(out.find("junk.pkl': not a readable pickle") != std::string::npos);
  out = convert(dir, "aligned_50", "--modalities text,audio,smell", 1);
  CHECK(out.find("missing key 'smell'") != std::string::npos);
  out = convert(dir, "empty_aligned_50", "", 1);
  CHECK(out.find("empty_aligned_50.pkl': split 'test': no utterances (0 rows in 'text')") != std::string::npos);
}

TEST_CASE("docs/data-format.md: the h5py snippet writes a file our reader accepts without a warning") {
  SKIP_WITHOUT_H5PY();
  ScratchDir dir("snippet");
  const std::string doc = testing::read_bytes(std::string(FG_SOURCE_DIR) + "/docs/data-format.md");
  const std::size_t begin = doc.find("<!-- snippet: write_example -->");
  const std::size_t end = doc.find("<!-- end snippet -->");
  REQUIRE(begin != std::string::npos);
  REQUIRE(end != std::string::npos);
  std::string code = doc.substr(begin, end - begin);
  code = code.substr(code.find("```python") + 9);
  code = code.substr(0, code.rfind("```"));
  {
    std::FILE* f = std::fopen(dir.file("snippet.py").c_str(), "wb");
    REQUIRE(f != nullptr);
    std::fputs(code.c_str(), f);
    std::fclose(f);
  }
  std::string out;
  const int rc = run(fmt::format("cd '{}' && '{}' snippet.py", dir.file(""), FG_PYTHON), out);
  INFO(out);
  REQUIRE(rc == 0);
  const H5Dataset h = read_h5_dataset(dir.file("tiny.h5"));
  CHECK(h.report.empty());
  CHECK(h.source == "written by hand with h5py");
  CHECK(h.data.train.size() == 5);
  CHECK(h.data.valid.size() == 2);
  CHECK(h.data.test.size() == 3);
  CHECK(h.data.train.modality_names == std::vector<std::string>{"text", "acoustic"});
  CHECK(h.data.train.ids[1] == "vidtrain[1]");
}
