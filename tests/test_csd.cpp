// tests/test_csd.cpp: CMU-MultimodalSDK computational sequences (data/csd.h). The .csd files
// here are laid out per the SDK's schema with the raw HDF5 C API (not our writer), as the
// SDK's h5py code writes them:
//
//   /<root>/data/<video>/features    float32 (n, d), or fixed-length byte strings (n, 1)
//   /<root>/data/<video>/intervals   float64 (n, 2)
//   /<root>/metadata/<key>           variable-length string (1,)
//
// A small three-video corpus goes through alignment into fusegrad's format and back, and every
// aligned value is checked against numbers worked out by hand in the comments. Then each kind
// of bad input: an error naming file and field, or a counted warning.
#include <doctest/doctest.h>

#include <hdf5.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <map>

#include "data/csd.h"
#include "data/h5_dataset.h"
#include "engine/error.h"
#include "support/data_fixtures.h"

using namespace fg;
using namespace fg::data;
using fg::testing::ScratchDir;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// One video of a sequence: numeric features (rows x dim) or words, and intervals (rows x 2).
struct Video {
  std::vector<double> intervals;
  std::vector<float> features;
  std::int64_t dim = 0;
  std::vector<std::string> words;
};

// A raw-HDF5 .csd writer, deliberately independent of data/h5_util.
class RawCsd {
 public:
  explicit RawCsd(const std::string& path) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    file_ = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(file_ >= 0);
  }
  ~RawCsd() { H5Fclose(file_); }
  hid_t file() const { return file_; }

  void group(const std::string& path) {
    const hid_t g = H5Gcreate2(file_, path.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(g >= 0);
    H5Gclose(g);
  }
  void doubles(const std::string& path, std::vector<hsize_t> shape, const std::vector<double>& v) {
    write(path, shape, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, v.data());
  }
  void floats(const std::string& path, std::vector<hsize_t> shape, const std::vector<float>& v) {
    write(path, shape, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, v.data());
  }
  // Fixed-length byte strings of shape (n, 1), as h5py stores numpy's |S dtype.
  void fixed_strings(const std::string& path, const std::vector<std::string>& v) {
    std::size_t width = 1;
    for (const auto& s : v) width = std::max(width, s.size());
    std::vector<char> buf(v.size() * width, '\0');
    for (std::size_t i = 0; i < v.size(); ++i) std::copy(v[i].begin(), v[i].end(), buf.begin() + i * width);
    const hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, width);
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    write(path, {v.size(), 1}, t, t, buf.data());
    H5Tclose(t);
  }
  // One variable-length string of shape (1,), as the SDK's metadata.
  void vlen_string(const std::string& path, const std::string& value) {
    const hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    const char* p = value.c_str();
    write(path, {1}, t, t, &p);
    H5Tclose(t);
  }
  // A whole sequence: /root/data/<video>/{features, intervals} and /root/metadata.
  void sequence(const std::string& root, const std::map<std::string, Video>& videos,
                const std::map<std::string, std::string>& metadata = {}) {
    group(root);
    group(root + "/data");
    for (const auto& [id, v] : videos) {
      const std::string g = root + "/data/" + id;
      group(g);
      const auto rows = static_cast<hsize_t>(v.intervals.size() / 2);
      doubles(g + "/intervals", {rows, 2}, v.intervals);
      if (!v.words.empty()) fixed_strings(g + "/features", v.words);
      else floats(g + "/features", {v.features.size() / static_cast<hsize_t>(v.dim), static_cast<hsize_t>(v.dim)},
                  v.features);
    }
    group(root + "/metadata");
    for (const auto& [k, value] : metadata) vlen_string(root + "/metadata/" + k, value);
  }

 private:
  void write(const std::string& path, const std::vector<hsize_t>& shape, hid_t file_type, hid_t mem_type,
             const void* data) {
    const hid_t space = H5Screate_simple(static_cast<int>(shape.size()), shape.data(), nullptr);
    const hid_t d = H5Dcreate2(file_, path.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(d >= 0);
    REQUIRE(H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
    H5Dclose(d);
    H5Sclose(space);
  }
  hid_t file_ = -1;
};

void write_sequence(const std::string& path, const std::string& root, const std::map<std::string, Video>& videos,
                    const std::map<std::string, std::string>& metadata = {}) {
  RawCsd f(path);
  f.sequence(root, videos, metadata);
}

// The hand-made corpus (times in seconds).
//
// video v1 (two labelled segments: [0, 2.5] label 1.5 and [2.5, 5] label -0.5)
//   words:    hello [0, 1], sp [1, 2], x [2, 2] (zero length), world [2, 3.5], again [4, 5]
//   acoustic: 10 frames of 0.5 s, frame k = [k/2, k/2 + 0.5] holds (k, 10k), except
//             frame 1 col 0 = -inf and frame 9 col 1 = NaN (both become 0; COVAREP style)
//   visual:   [0, 0.4] -> 1, [0.5, 1.6] -> 2, [3.0, 3.2] -> 3 (gaps; nothing after 3.2)
// video v2 (segments [0, 2] label 3 and [5, 6] label 0: the second has no word)
//   words a [0, 1], b [1, 2]; acoustic one frame [0, 2] -> (7, 70); visual [0, 2] -> 9
// video v3: labelled, with words and acoustic, but absent from visual (left out)
// video v4 (segment [0, 1] label -3): word c [0, 1]; acoustic [0, 1] -> (1, 1); visual [0, 1] -> 4
struct Corpus {
  std::string words, acoustic, visual, labels;
};

Corpus write_corpus(const ScratchDir& dir) {
  Corpus c{dir.file("words.csd"), dir.file("covarep.csd"), dir.file("facet.csd"), dir.file("labels.csd")};
  std::map<std::string, Video> words, acoustic, visual, labels;
  words["v1"] = {{0, 1, 1, 2, 2, 2, 2, 3.5, 4, 5}, {}, 1, {"hello", "sp", "x", "world", "again"}};
  words["v2"] = {{0, 1, 1, 2}, {}, 1, {"a", "b"}};
  words["v3"] = {{0, 1}, {}, 1, {"lost"}};
  words["v4"] = {{0, 1}, {}, 1, {"c"}};

  Video a1;
  a1.dim = 2;
  for (int k = 0; k < 10; ++k) {
    a1.intervals.push_back(k * 0.5), a1.intervals.push_back(k * 0.5 + 0.5);
    a1.features.push_back(static_cast<float>(k)), a1.features.push_back(static_cast<float>(10 * k));
  }
  a1.features[1 * 2 + 0] = -kInf;
  a1.features[9 * 2 + 1] = kNaN;
  acoustic["v1"] = a1;
  acoustic["v2"] = {{0, 2}, {7, 70}, 2, {}};
  acoustic["v3"] = {{0, 1}, {5, 5}, 2, {}};
  acoustic["v4"] = {{0, 1}, {1, 1}, 2, {}};

  visual["v1"] = {{0, 0.4, 0.5, 1.6, 3.0, 3.2}, {1, 2, 3}, 1, {}};
  visual["v2"] = {{0, 2}, {9}, 1, {}};
  visual["v4"] = {{0, 1}, {4}, 1, {}};

  labels["v1"] = {{0, 2.5, 2.5, 5}, {1.5f, -0.5f}, 1, {}};
  labels["v2"] = {{0, 2, 5, 6}, {3.0f, 0.0f}, 1, {}};
  labels["v3"] = {{0, 1}, {1.0f}, 1, {}};
  labels["v4"] = {{0, 1}, {-3.0f}, 1, {}};

  write_sequence(c.words, "words", words, {{"root name", "\"words\""}, {"dimension names", "[\"word\"]"}});
  write_sequence(c.acoustic, "COVAREP", acoustic, {{"root name", "\"COVAREP\""}});
  write_sequence(c.visual, "FACET_4.2", visual);
  write_sequence(c.labels, "Opinion Segment Labels", labels);
  return c;
}

CsdAlignOptions corpus_options(const Corpus& c) {
  CsdAlignOptions o;
  o.words_path = c.words;
  o.modalities = {{"acoustic", c.acoustic}, {"visual", c.visual}};
  o.labels_path = c.labels;
  o.folds.train = {"v1"};
  o.folds.valid = {"v2[0]", "v3"};  // v3 is known (labelled) but left out: not an unknown id
  o.folds.test = {"v4"};
  o.max_words = 3;
  return o;
}

std::vector<float> values(const Tensor& t) { return t.to_vector<float>(); }

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("csd: reading an SDK-layout file: entries, words, metadata, -inf and NaN counted") {
  ScratchDir dir("csd");
  const Corpus c = write_corpus(dir);

  const CsdFile words = CsdFile::open(c.words);
  CHECK(words.root_name() == "words");
  CHECK(words.ids() == std::vector<std::string>{"v1", "v2", "v3", "v4"});
  CHECK(words.metadata().at("root name") == "\"words\"");
  CHECK(words.metadata().at("dimension names") == "[\"word\"]");
  LoadReport report;
  const CsdEntry w = words.read("v1", report);
  CHECK(w.is_text());
  CHECK(w.words == std::vector<std::string>{"hello", "sp", "x", "world", "again"});
  CHECK(w.intervals == std::vector<double>{0, 1, 1, 2, 2, 2, 2, 3.5, 4, 5});

  const CsdFile acoustic = CsdFile::open(c.acoustic);
  CHECK(acoustic.root_name() == "COVAREP");
  const CsdEntry a = acoustic.read("v1", report);
  CHECK(a.rows == 10);
  CHECK(a.dim == 2);
  CHECK(a.features[2] == 0.0f);  // frame 1 col 0 was -inf
  CHECK(a.features[4] == 2.0f);
  CHECK(a.features[3] == 10.0f);
  CHECK(a.features[19] == 0.0f);  // frame 9 col 1 was NaN
  CHECK(report.count(warn::non_finite_feature) == 2);
  CHECK(report.summary().find("COVAREP/data/v1/features") != std::string::npos);

  // the same from a file image
  const CsdFile image = CsdFile::open_image(testing::read_bytes(c.visual), "<memory>");
  CHECK(image.root_name() == "FACET_4.2");
  CHECK(image.ids() == std::vector<std::string>{"v1", "v2", "v4"});
  CHECK(!image.contains("v3"));
  CHECK(image.metadata().empty());
  CHECK_THROWS_WITH_AS(image.read("v3", report), doctest::Contains("video id 'v3' is not in this computational sequence"),
                       Error);
}

TEST_CASE("csd: averaging over a word, uniform (the SDK's) and overlap-weighted") {
  CsdEntry e;
  e.id = "v";
  e.rows = 3;
  e.dim = 1;
  e.intervals = {0, 0.4, 0.5, 1.6, 3.0, 3.2};
  e.features = {1, 2, 3};
  float out = -1;
  // word [0, 1]: frames 0 (overlap 0.4) and 1 (overlap 0.5)
  REQUIRE(average_over_word(e, 0, 1, 1e-5, WordWeighting::uniform, &out));
  CHECK(out == doctest::Approx(1.5));                      // (1 + 2) / 2
  REQUIRE(average_over_word(e, 0, 1, 1e-5, WordWeighting::overlap, &out));
  CHECK(out == doctest::Approx((0.4 + 0.5 * 2) / 0.9));    // 1.5556
  // word [1.6, 3.0] touches frames 1 and 2 at single points only: no frame
  out = -1;
  CHECK(!average_over_word(e, 1.6, 3.0, 1e-5, WordWeighting::uniform, &out));
  CHECK(out == -1);
  // an overlap of 0.05 s counts with epsilon 1e-5 but not with epsilon 0.1
  CHECK(average_over_word(e, 1.55, 2.0, 1e-5, WordWeighting::uniform, &out));
  CHECK(out == 2.0f);
  CHECK(!average_over_word(e, 1.55, 2.0, 0.1, WordWeighting::uniform, &out));
  // frames need not be sorted, and a long frame that starts early still counts
  CsdEntry u;
  u.id = "u";
  u.rows = 3;
  u.dim = 2;
  u.intervals = {2, 3, 0, 10, 1, 2};
  u.features = {20, 200, 0, 0, 10, 100};
  float two[2];
  REQUIRE(average_over_word(u, 2.5, 2.75, 1e-5, WordWeighting::uniform, two));
  CHECK(two[0] == 10.0f);  // frames [2, 3] -> 20 and [0, 10] -> 0
  CHECK(two[1] == 100.0f);
}

TEST_CASE("csd: a corpus laid out per the SDK's schema aligns to words and round-trips through our format") {
  ScratchDir dir("csd");
  const Corpus c = write_corpus(dir);
  const CsdAlignOptions opt = corpus_options(c);
  const CsdAlignResult r = align_csd(opt);
  const LoadReport& rep = r.report;
  INFO(rep.summary());

  // train = v1: two segments, words (sp and the zero-length x dropped):
  //   v1[0] [0, 2.5]: hello [0, 1], world [2, 3.5] (overlaps by 0.5)
  //   v1[1] [2.5, 5]: world, again
  const MultimodalSplit& train = r.data.train;
  CHECK(train.ids == std::vector<std::string>{"v1[0]", "v1[1]"});
  CHECK(train.raw_text == std::vector<std::string>{"hello world", "world again"});
  CHECK(train.lengths.to_vector<std::int64_t>() == std::vector<std::int64_t>{2, 2});
  CHECK(values(train.labels) == std::vector<float>{1.5f, -0.5f});
  CHECK(train.modality_names == std::vector<std::string>{"acoustic", "visual"});
  REQUIRE(train.features[0].shape() == Shape{2, 3, 2});  // T = max_words = 3
  REQUIRE(train.features[1].shape() == Shape{2, 3, 1});
  // acoustic, uniform mean of the frames overlapping each word by more than epsilon:
  //   hello [0, 1]:   frames 0, 1 -> ((0 + 0) / 2, (0 + 10) / 2) = (0, 5)   (frame 1 col 0: -inf -> 0)
  //   world [2, 3.5]: frames 4, 5, 6 -> (5, 50)
  //   again [4, 5]:   frames 8, 9 -> ((8 + 9) / 2, (80 + 0) / 2) = (8.5, 40)  (frame 9 col 1: NaN -> 0)
  CHECK(values(train.features[0]) == std::vector<float>{0, 5, 5, 50, 0, 0, /**/ 5, 50, 8.5f, 40, 0, 0});
  // visual: hello -> frames [0, 0.4] and [0.5, 1.6]: (1 + 2) / 2 = 1.5; world -> [3.0, 3.2]: 3;
  //   again -> no frame: zeros (counted)
  CHECK(values(train.features[1]) == std::vector<float>{1.5f, 3, 0, /**/ 3, 0, 0});

  // valid = v2[0]: words a, b (both in [0, 2]); v3 is left out (no visual)
  const MultimodalSplit& valid = r.data.valid;
  CHECK(valid.ids == std::vector<std::string>{"v2[0]"});
  CHECK(valid.raw_text == std::vector<std::string>{"a b"});
  CHECK(values(valid.features[0]) == std::vector<float>{7, 70, 7, 70, 0, 0});
  CHECK(values(valid.features[1]) == std::vector<float>{9, 9, 0});
  CHECK(values(valid.labels) == std::vector<float>{3.0f});
  // test = v4
  CHECK(r.data.test.ids == std::vector<std::string>{"v4[0]"});
  CHECK(values(r.data.test.features[1]) == std::vector<float>{4, 0, 0});
  CHECK(values(r.data.test.labels) == std::vector<float>{-3.0f});

  // every repair and omission is counted
  CHECK(rep.count(warn::non_finite_feature) == 2);   // -inf and NaN in COVAREP v1
  CHECK(rep.count(warn::zero_length_word) == 1);     // x [2, 2]
  CHECK(rep.count(warn::word_without_frames) == 1);  // again in visual
  CHECK(rep.count(warn::missing_video) == 1);        // v3
  CHECK(rep.count(warn::empty_segment) == 1);        // v2[1] [5, 6]
  CHECK(rep.count(warn::unassigned_segment) == 0);
  CHECK(rep.count(warn::unknown_fold_id) == 0);
  CHECK(rep.summary().find("v3") != std::string::npos);

  // convert_csd writes it; our reader gives back the same splits
  const std::string out = dir.file("mosi_like.h5");
  const LoadReport conv = convert_csd(opt, out);
  CHECK(conv.count(warn::non_finite_feature) == 2);
  const H5Dataset back = read_h5_dataset(out);
  CHECK(back.report.empty());
  CHECK(back.source.find("uniform weighting") != std::string::npos);
  for (const auto* pair : {&train, &valid, &r.data.test}) {
    const MultimodalSplit& got = pair == &train ? back.data.train : pair == &valid ? back.data.valid : back.data.test;
    CHECK(got.ids == pair->ids);
    CHECK(got.raw_text == pair->raw_text);
    CHECK(got.label_kind == LabelKind::regression);
    CHECK(values(got.labels) == values(pair->labels));
    CHECK(got.lengths.to_vector<std::int64_t>() == pair->lengths.to_vector<std::int64_t>());
    for (std::size_t m = 0; m < 2; ++m) CHECK(values(got.features[m]) == values(pair->features[m]));
  }
}

TEST_CASE("csd: alignment options: overlap weighting, dropping words, max_words, skip words, label columns") {
  ScratchDir dir("csd");
  const Corpus c = write_corpus(dir);
  CsdAlignOptions opt = corpus_options(c);

  SUBCASE("overlap weighting") {
    opt.weighting = WordWeighting::overlap;
    const CsdAlignResult r = align_csd(opt);
    // visual hello: (0.4 * 1 + 0.5 * 2) / 0.9; acoustic frames are whole inside each word: unchanged
    CHECK(values(r.data.train.features[1])[0] == doctest::Approx(1.4 / 0.9));
    CHECK(values(r.data.train.features[0])[1] == 5.0f);
  }
  SUBCASE("a word without frames is dropped from every modality") {
    opt.empty_words = EmptyWordPolicy::drop_word;
    const CsdAlignResult r = align_csd(opt);
    CHECK(r.data.train.raw_text == std::vector<std::string>{"hello world", "world"});
    CHECK(r.data.train.lengths.to_vector<std::int64_t>() == std::vector<std::int64_t>{2, 1});
    CHECK(r.report.count(warn::word_without_frames) == 1);
    CHECK(r.report.summary().find("word dropped") != std::string::npos);
  }
  SUBCASE("max_words cuts long segments (counted); 0 takes the longest") {
    opt.max_words = 1;
    CsdAlignResult r = align_csd(opt);
    CHECK(r.data.train.raw_text == std::vector<std::string>{"hello", "world"});
    CHECK(r.data.train.features[0].shape() == Shape{2, 1, 2});
    CHECK(r.report.count(warn::truncated_segment) == 3);  // v1[0], v1[1], v2[0]
    opt.max_words = 0;
    r = align_csd(opt);
    CHECK(r.data.train.features[0].shape() == Shape{2, 2, 2});
    CHECK(r.report.count(warn::truncated_segment) == 0);
  }
  SUBCASE("skip_words empty keeps the sp token") {
    opt.skip_words = {};
    const CsdAlignResult r = align_csd(opt);
    CHECK(r.data.train.raw_text[0] == "hello sp world");
    // sp [1, 2]: acoustic frames 2, 3 -> (2.5, 25); visual frame [0.5, 1.6] -> 2
    CHECK(values(r.data.train.features[0])[2] == 2.5f);
    CHECK(values(r.data.train.features[1])[1] == 2.0f);
  }
  SUBCASE("segment ids in folds, unassigned segments counted") {
    opt.folds.train = {"v1[1]"};
    const CsdAlignResult r = align_csd(opt);
    CHECK(r.data.train.ids == std::vector<std::string>{"v1[1]"});
    CHECK(r.report.count(warn::unassigned_segment) == 1);  // v1[0]
  }
  SUBCASE("unknown fold ids: an error by default, a counted warning when allowed") {
    opt.folds.test = {"v4", "v9", "v1[7]"};
    const std::string msg = error_of([&] { align_csd(opt); });
    CHECK(msg.find("fold 'test' names 2 id(s) that match no video or segment") != std::string::npos);
    CHECK(msg.find("'v9', 'v1[7]'") != std::string::npos);
    CHECK(msg.find("labels.csd") != std::string::npos);
    opt.allow_unknown_fold_ids = true;
    const CsdAlignResult r = align_csd(opt);
    CHECK(r.report.count(warn::unknown_fold_id) == 2);
    CHECK(r.data.test.ids == std::vector<std::string>{"v4[0]"});
  }
  SUBCASE("folds from a JSON file") {
    const std::string path = dir.file("folds.json");
    std::ofstream(path) << R"({"train": ["v1"], "valid": ["v2"], "test": ["v4"]})";
    opt.folds = read_folds_json(path);
    CHECK(opt.folds.valid == std::vector<std::string>{"v2"});
    CHECK(align_csd(opt).data.valid.ids == std::vector<std::string>{"v2[0]"});
    std::ofstream(path) << R"({"train": ["v1"], "valid": "v2", "test": []})";
    CHECK(error_of([&] { read_folds_json(path); }).find("key 'valid' must be a list of ids") != std::string::npos);
    std::ofstream(path) << "{not json";
    CHECK(error_of([&] { read_folds_json(path); }).find("not valid JSON") != std::string::npos);
    CHECK(error_of([&] { read_folds_json(dir.file("none.json")); }).find("cannot be opened") != std::string::npos);
  }
}

TEST_CASE("csd: multi-column labels (MOSEI's sentiment + six emotions) choose columns and a kind") {
  ScratchDir dir("csd");
  const Corpus c = write_corpus(dir);
  // Rewrite the labels with three columns: sentiment, happy, sad.
  std::map<std::string, Video> labels;
  labels["v1"] = {{0, 2.5, 2.5, 5}, {1.5f, 1, 0, -0.5f, 0, 1}, 3, {}};
  labels["v2"] = {{0, 2}, {3.0f, 1, 1}, 3, {}};
  labels["v4"] = {{0, 1}, {-3.0f, 0, 0}, 3, {}};
  write_sequence(c.labels, "All Labels", labels);
  CsdAlignOptions opt = corpus_options(c);
  opt.folds.valid = {"v2"};

  const CsdAlignResult all = align_csd(opt);
  CHECK(all.data.train.label_kind == LabelKind::multi_regression);
  CHECK(all.data.train.label_names == std::vector<std::string>{"label0", "label1", "label2"});
  CHECK(all.data.train.labels.shape() == Shape{2, 3});

  opt.label_columns = {1, 2};
  opt.label_kind_set = true;
  opt.label_kind = LabelKind::multi_label;
  opt.label_names = {"happy", "sad"};
  const CsdAlignResult emo = align_csd(opt);
  CHECK(values(emo.data.train.labels) == std::vector<float>{1, 0, 0, 1});
  CHECK(emo.data.train.label_names == std::vector<std::string>{"happy", "sad"});

  opt.label_columns = {0};
  opt.label_kind_set = false;
  opt.label_names = {};
  CHECK(values(align_csd(opt).data.valid.labels) == std::vector<float>{3.0f});
  opt.label_columns = {3};
  CHECK(error_of([&] { align_csd(opt); }).find("label column 3 is outside the 3 columns") != std::string::npos);
}

TEST_CASE("csd: bad files are errors naming the file and the HDF5 path") {
  ScratchDir dir("csd");
  const std::string path = dir.file("bad.csd");
  LoadReport report;
  auto open_error = [&] { return error_of([&] { CsdFile::open(path); }); };
  auto read_error = [&](const std::string& id) {
    return error_of([&] { CsdFile::open(path).read(id, report); });
  };

  CHECK(error_of([&] { CsdFile::open(dir.file("missing.csd")); }).find("missing.csd") != std::string::npos);
  std::ofstream(path) << "not an HDF5 file";
  CHECK(open_error().find("bad.csd") != std::string::npos);

  {  // two top-level groups
    RawCsd f(path);
    f.group("/a");
    f.group("/b");
  }
  CHECK(open_error().find("expected exactly one top-level group") != std::string::npos);
  CHECK(error_of([&] { CsdFile::open(path, {.root_name = "a"}); }).find("/a/data") != std::string::npos);
  {  // no data group
    RawCsd f(path);
    f.group("/seq");
    f.group("/seq/metadata");
  }
  CHECK(open_error().find("/seq/data") != std::string::npos);
  {  // a video without features
    RawCsd f(path);
    f.group("/seq");
    f.group("/seq/data");
    f.group("/seq/data/v");
    f.doubles("/seq/data/v/intervals", {1, 2}, {0, 1});
  }
  CHECK(read_error("v").find("/seq/data/v/features") != std::string::npos);
  auto one_video = [&](const Video& v) { write_sequence(path, "seq", {{"v", v}}); };

  one_video({{0, 1, 1, 2}, {1, 2, 3}, 1, {}});  // 2 intervals, 3 feature rows
  CHECK(read_error("v").find("has 3 rows but intervals has 2") != std::string::npos);
  one_video({{1, 0}, {1}, 1, {}});  // reversed
  CHECK(read_error("v").find("/seq/data/v/intervals: row 0 is [1, 0]; an interval must not end before it starts") !=
        std::string::npos);
  one_video({{0, std::numeric_limits<double>::infinity()}, {1}, 1, {}});
  CHECK(read_error("v").find("intervals must be finite") != std::string::npos);
  {  // intervals of shape (2, 3)
    RawCsd f(path);
    f.sequence("seq", {});
    f.group("/seq/data/v");
    f.doubles("/seq/data/v/intervals", {2, 3}, {0, 1, 2, 3, 4, 5});
    f.floats("/seq/data/v/features", {2, 1}, {1, 2});
  }
  CHECK(read_error("v").find("expected intervals of shape (n, 2), got rank 2 shape (2, 3)") != std::string::npos);
  {  // features of rank 3
    RawCsd f(path);
    f.sequence("seq", {});
    f.group("/seq/data/v");
    f.doubles("/seq/data/v/intervals", {1, 2}, {0, 1});
    f.floats("/seq/data/v/features", {1, 1, 1}, {1});
  }
  CHECK(read_error("v").find("expected features of shape (n, d), got rank 3") != std::string::npos);
}

TEST_CASE("csd: inconsistent corpora are errors naming the file, the video and the field") {
  ScratchDir dir("csd");
  const Corpus c = write_corpus(dir);
  CsdAlignOptions opt = corpus_options(c);

  SUBCASE("a feature size that changes between videos") {
    write_sequence(c.visual, "FACET_4.2",
                   {{"v1", {{0, 1}, {1}, 1, {}}}, {"v2", {{0, 1}, {1, 2}, 2, {}}}, {"v4", {{0, 1}, {1}, 1, {}}}});
    const std::string msg = error_of([&] { align_csd(opt); });
    CHECK(msg.find("facet.csd") != std::string::npos);
    CHECK(msg.find("/FACET_4.2/data/v2/features: has d = 2 features but video 'v1' has d = 1") != std::string::npos);
  }
  SUBCASE("a non-finite label") {
    write_sequence(c.labels, "L", {{"v1", {{0, 5}, {kNaN}, 1, {}}}, {"v2", {{0, 2}, {1}, 1, {}}}, {"v4", {{0, 1}, {1}, 1, {}}}});
    const std::string msg = error_of([&] { align_csd(opt); });
    CHECK(msg.find("labels.csd") != std::string::npos);
    CHECK(msg.find("/L/data/v1/features: 1 non-finite label value(s)") != std::string::npos);
  }
  SUBCASE("a modality sequence holding words") {
    opt.modalities[1].path = c.words;
    CHECK(error_of([&] { align_csd(opt); }).find("modality 'visual' holds strings") != std::string::npos);
  }
  SUBCASE("a fold that selects nothing is an empty split") {
    opt.folds.test = {"v3"};  // known, but left out
    const std::string msg = error_of([&] { align_csd(opt); });
    CHECK(msg.find("fold 'test' selects no segment (1 ids given: 'v3')") != std::string::npos);
  }
  SUBCASE("a segment in two folds") {
    opt.folds.test = {"v4", "v1[0]"};
    CHECK(error_of([&] { align_csd(opt); }).find("segment 'v1[0]' is in fold 'train' and in fold 'test'") !=
          std::string::npos);
  }
  SUBCASE("no folds, no modalities, a modality twice") {
    opt.folds = {};
    CHECK(error_of([&] { align_csd(opt); }).find("no folds given") != std::string::npos);
    opt = corpus_options(c);
    opt.modalities = {};
    CHECK(error_of([&] { align_csd(opt); }).find("no modality sequences given") != std::string::npos);
    opt = corpus_options(c);
    opt.modalities[1].name = "acoustic";
    CHECK(error_of([&] { align_csd(opt); }).find("modality 'acoustic' given twice") != std::string::npos);
  }
}
