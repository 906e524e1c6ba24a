// data/csd.cpp: .csd reader, word-level alignment and conversion (data/csd.h).
#include "data/csd.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "data/h5_util.h"
#include "engine/error.h"

namespace fg::data {

// ------------------------------------------------------------------------- reading

struct CsdFile::Impl {
  h5::Handle file;
  std::string name, root;
  std::map<std::string, std::string> metadata;
  std::vector<std::string> ids;
  CsdReadOptions options;
};

namespace {

std::string first_few(const std::vector<std::string>& v, std::size_t k = 5) {
  std::string out;
  for (std::size_t i = 0; i < v.size() && i < k; ++i) out += (i ? ", '" : "'") + v[i] + "'";
  if (v.size() > k) out += fmt::format(", ... ({} in all)", v.size());
  return out;
}

std::shared_ptr<CsdFile::Impl> open_impl(h5::Handle file, const std::string& name, const CsdReadOptions& opt) {
  auto impl = std::make_shared<CsdFile::Impl>();
  impl->file = std::move(file);
  impl->name = name;
  impl->options = opt;
  const hid_t f = impl->file.get();
  const h5::Where top{name, "/"};
  if (opt.root_name.empty()) {
    h5::Handle root_group(H5Gopen2(f, "/", H5P_DEFAULT), H5Gclose);
    FG_CHECK(root_group.valid(), "{}: cannot open the root group{}", top.str(), h5::error_stack());
    const auto children = h5::child_names(root_group.get(), top);
    FG_CHECK(children.size() == 1,
             "{}: expected exactly one top-level group (the computational sequence's root name), found {}{}{}",
             top.str(), children.size(), children.empty() ? "" : ": ", first_few(children));
    impl->root = children[0];
  } else {
    impl->root = opt.root_name;
  }
  const h5::Where rw = top.child(impl->root);
  h5::Handle root = h5::open_group(f, impl->root, rw);
  h5::Handle data = h5::open_group(root.get(), "data", rw.child("data"));
  impl->ids = h5::child_names(data.get(), rw.child("data"));
  if (h5::kind_of(root.get(), "metadata") == h5::Kind::group) {
    const h5::Where mw = rw.child("metadata");
    h5::Handle meta = h5::open_group(root.get(), "metadata", mw);
    for (const std::string& key : h5::child_names(meta.get(), mw)) {
      if (h5::kind_of(meta.get(), key) != h5::Kind::dataset) continue;  // the SDK stores datasets only
      h5::Handle d = h5::open_dataset(meta.get(), key, mw.child(key));
      const auto values = h5::read_strings(d.get(), mw.child(key), 1 << 24);
      impl->metadata[key] = values.empty() ? "" : values[0];
    }
  }
  return impl;
}

}  // namespace

CsdFile CsdFile::open(const std::string& path, const CsdReadOptions& options) {
  CsdFile f;
  f.impl_ = open_impl(h5::open_file_readonly(path), path, options);
  return f;
}

CsdFile CsdFile::open_image(const std::string& bytes, const std::string& name, const CsdReadOptions& options) {
  CsdFile f;
  f.impl_ = open_impl(h5::open_file_image(bytes, name), name, options);
  return f;
}

const std::string& CsdFile::name() const { return impl_->name; }
const std::string& CsdFile::root_name() const { return impl_->root; }
const std::map<std::string, std::string>& CsdFile::metadata() const { return impl_->metadata; }
const std::vector<std::string>& CsdFile::ids() const { return impl_->ids; }

bool CsdFile::contains(const std::string& id) const {
  return std::binary_search(impl_->ids.begin(), impl_->ids.end(), id);
}

CsdEntry CsdFile::read(const std::string& id, LoadReport& report) const {
  const Impl& im = *impl_;
  const h5::Where ew = h5::Where{im.name, "/" + im.root + "/data"}.child(id);
  FG_CHECK(contains(id), "{}: no such entry (video id '{}' is not in this computational sequence)", ew.str(), id);
  h5::Handle data = h5::open_group(im.file.get(), im.root + "/data", {im.name, "/" + im.root + "/data"});
  h5::Handle g = h5::open_group(data.get(), id, ew);
  CsdEntry e;
  e.id = id;

  const h5::Where iw = ew.child("intervals");
  h5::Handle di = h5::open_dataset(g.get(), "intervals", iw);
  const auto ishape = h5::shape_of(di.get(), iw);
  FG_CHECK(ishape.size() == 2 && ishape[1] == 2, "{}: expected intervals of shape (n, 2), got rank {}{}", iw.str(),
           ishape.size(), ishape.size() == 2 ? fmt::format(" shape ({}, {})", ishape[0], ishape[1]) : "");
  e.rows = ishape[0];
  e.intervals = h5::read_doubles(di.get(), iw, im.options.max_dataset_bytes);
  for (std::int64_t r = 0; r < e.rows; ++r) {
    const double a = e.intervals[2 * r], b = e.intervals[2 * r + 1];
    FG_CHECK(std::isfinite(a) && std::isfinite(b), "{}: row {} is [{}, {}]; intervals must be finite", iw.str(), r, a, b);
    FG_CHECK(a <= b, "{}: row {} is [{}, {}]; an interval must not end before it starts", iw.str(), r, a, b);
  }

  const h5::Where fw = ew.child("features");
  h5::Handle df = h5::open_dataset(g.get(), "features", fw);
  const auto fshape = h5::shape_of(df.get(), fw);
  const H5T_class_t cls = h5::type_class(df.get(), fw);
  if (cls == H5T_STRING) {
    FG_CHECK((fshape.size() == 1 || (fshape.size() == 2 && fshape[1] == 1)) && fshape[0] == e.rows,
             "{}: expected {} strings, shape ({},) or ({}, 1), one per interval, got rank {} with {} rows", fw.str(),
             e.rows, e.rows, e.rows, fshape.size(), fshape.empty() ? 0 : fshape[0]);
    e.words = h5::read_strings(df.get(), fw, im.options.max_dataset_bytes);
    e.dim = 1;
    return e;
  }
  FG_CHECK(fshape.size() == 2, "{}: expected features of shape (n, d), got rank {}", fw.str(), fshape.size());
  FG_CHECK(fshape[0] == e.rows, "{}: has {} rows but intervals has {}; expected one feature row per interval", fw.str(),
           fshape[0], e.rows);
  FG_CHECK(fshape[1] >= 1, "{}: feature size d must be >= 1, got 0", fw.str());
  e.dim = fshape[1];
  e.features = h5::read_floats(df.get(), fw, im.options.max_dataset_bytes);
  std::int64_t bad = 0;
  for (float& v : e.features)
    if (!std::isfinite(v)) v = 0.0f, ++bad;
  report.add(warn::non_finite_feature, fw.str(), bad, "non-finite feature values (NaN or +-inf) replaced by 0");
  return e;
}

std::vector<CsdEntry> read_csd(const std::string& path, LoadReport& report, const CsdReadOptions& options) {
  const CsdFile f = CsdFile::open(path, options);
  std::vector<CsdEntry> out;
  for (const std::string& id : f.ids()) out.push_back(f.read(id, report));
  return out;
}

CsdFolds read_folds_json(const std::string& path) {
  std::ifstream in(path);
  FG_CHECK(in.good(), "folds file '{}': cannot be opened", path);
  nlohmann::json j;
  try {
    in >> j;
  } catch (const std::exception& e) {
    FG_FAIL("folds file '{}': not valid JSON ({})", path, e.what());
  }
  FG_CHECK(j.is_object(), "folds file '{}': expected an object {{\"train\": [...], \"valid\": [...], \"test\": [...]}}",
           path);
  CsdFolds folds;
  for (auto [key, dst] : {std::pair{"train", &folds.train}, {"valid", &folds.valid}, {"test", &folds.test}}) {
    FG_CHECK(j.contains(key) && j[key].is_array(), "folds file '{}': key '{}' must be a list of ids", path, key);
    for (const auto& id : j[key]) {
      FG_CHECK(id.is_string(), "folds file '{}': key '{}' holds a non-string id {}", path, key, id.dump());
      dst->push_back(id.get<std::string>());
    }
  }
  return folds;
}

// ------------------------------------------------------------------------- averaging

namespace {

// Frames sorted by start, with the running maximum of their ends, so the frames that can
// overlap [a, b] are found by two binary searches whatever the frames' layout.
struct FrameIndex {
  std::vector<std::int64_t> order;
  std::vector<double> start, max_end;

  explicit FrameIndex(const CsdEntry& e) {
    order.resize(static_cast<std::size_t>(e.rows));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::int64_t x, std::int64_t y) { return e.intervals[2 * x] < e.intervals[2 * y]; });
    double m = -INFINITY;
    for (std::int64_t k : order) {
      start.push_back(e.intervals[2 * k]);
      m = std::max(m, e.intervals[2 * k + 1]);
      max_end.push_back(m);
    }
  }
};

bool average_indexed(const CsdEntry& e, const FrameIndex& ix, double a, double b, double eps, WordWeighting w,
                     float* out) {
  // frames before `first` all end by a + eps; frames from `last` on all start at or after b - eps
  const auto first = std::upper_bound(ix.max_end.begin(), ix.max_end.end(), a + eps) - ix.max_end.begin();
  const auto last = std::lower_bound(ix.start.begin(), ix.start.end(), b - eps) - ix.start.begin();
  const auto d = static_cast<std::size_t>(e.dim);
  std::vector<double> acc(d, 0.0);
  double total = 0;
  for (auto p = first; p < last; ++p) {
    const std::int64_t k = ix.order[static_cast<std::size_t>(p)];
    const double o = std::min(b, e.intervals[2 * k + 1]) - std::max(a, e.intervals[2 * k]);
    if (!(o > eps)) continue;
    const double weight = w == WordWeighting::overlap ? o : 1.0;
    const float* f = e.features.data() + static_cast<std::size_t>(k) * d;
    for (std::size_t j = 0; j < d; ++j) acc[j] += weight * static_cast<double>(f[j]);
    total += weight;
  }
  if (total <= 0) return false;
  for (std::size_t j = 0; j < d; ++j) out[j] = static_cast<float>(acc[j] / total);
  return true;
}

}  // namespace

bool average_over_word(const CsdEntry& entry, double a, double b, double epsilon, WordWeighting weighting,
                       float* out) {
  FG_CHECK(!entry.is_text() || entry.rows == 0, "average_over_word: entry '{}' holds strings, not features", entry.id);
  return average_indexed(entry, FrameIndex(entry), a, b, epsilon, weighting, out);
}

// ------------------------------------------------------------------------- alignment

namespace {

// A word kept for alignment: its interval, its text (if any), its feature rows per modality.
struct Word {
  double a = 0, b = 0;
  std::string text;
  std::vector<std::vector<float>> values;  // per modality: dim values
};

// Non-finite feature values per file, summed over its videos: one warning per file, not one
// per video (a MOSEI COVAREP file has -inf in thousands of videos).
struct NonFiniteTally {
  struct PerFile {
    std::int64_t values = 0;
    std::vector<std::string> videos;
  };
  std::map<std::string, PerFile> files;
  void note(const std::string& file, const std::string& video, std::int64_t count) {
    if (count <= 0) return;
    files[file].values += count;
    files[file].videos.push_back(video);
  }
  void report_to(LoadReport& report) const {
    for (const auto& [file, t] : files)
      report.add(warn::non_finite_feature, "file '" + file + "'", t.values,
                 fmt::format("non-finite feature values (NaN or +-inf) replaced by 0 in {} video(s): {}",
                             t.videos.size(), first_few(t.videos)));
  }
};

// One output segment before it is assigned to a split.
struct Segment {
  std::string id, video;
  std::vector<const Word*> words;
  std::vector<float> label;
};

}  // namespace

CsdAlignResult align_csd(const CsdAlignOptions& opt) {
  FG_CHECK(!opt.words_path.empty(), "align_csd: no words (reference) sequence given");
  FG_CHECK(!opt.labels_path.empty(), "align_csd: no labels sequence given");
  FG_CHECK(!opt.modalities.empty(), "align_csd: no modality sequences given");
  FG_CHECK(opt.max_words >= 0, "align_csd: max_words must be >= 0 (0 = no limit), got {}", opt.max_words);
  FG_CHECK(opt.epsilon >= 0 && std::isfinite(opt.epsilon), "align_csd: epsilon must be a finite value >= 0, got {}",
           opt.epsilon);
  {
    std::set<std::string> names;
    for (const auto& m : opt.modalities) {
      FG_CHECK(!m.name.empty() && m.name.find('/') == std::string::npos, "align_csd: invalid modality name '{}'", m.name);
      FG_CHECK(names.insert(m.name).second, "align_csd: modality '{}' given twice", m.name);
    }
  }
  CsdAlignResult result;
  LoadReport& report = result.report;
  const CsdFile words = CsdFile::open(opt.words_path, opt.read);
  const CsdFile labels = CsdFile::open(opt.labels_path, opt.read);
  std::vector<CsdFile> mods;
  for (const auto& m : opt.modalities) mods.push_back(CsdFile::open(m.path, opt.read));
  const std::size_t n_mod = mods.size();
  std::vector<std::int64_t> dims(n_mod, -1);
  std::vector<std::string> dim_source(n_mod);
  std::int64_t label_width = -1;
  std::vector<std::int64_t> columns = opt.label_columns;

  // Everything is kept in memory until the folds are applied: words own their values.
  std::vector<std::unique_ptr<std::vector<Word>>> video_words;
  std::vector<Segment> segments;
  std::vector<std::string> missing;
  std::int64_t zero_len = 0, no_frames = 0, empty_segs = 0, truncated = 0;
  std::vector<std::string> empty_examples, truncated_examples, no_frame_examples;

  NonFiniteTally non_finite;
  std::set<std::string> known_ids;  // every video and segment id of the labels sequence
  for (const std::string& vid : labels.ids()) {
    LoadReport label_report;
    const CsdEntry lab = labels.read(vid, label_report);
    const std::string lab_where = h5::Where{labels.name(), "/" + labels.root_name() + "/data/" + vid + "/features"}.str();
    FG_CHECK(label_report.count(warn::non_finite_feature) == 0, "{}: {} non-finite label value(s); labels must be finite",
             lab_where, label_report.count(warn::non_finite_feature));
    FG_CHECK(!lab.is_text() || lab.rows == 0, "{}: labels must be numbers, found strings", lab_where);
    known_ids.insert(vid);
    for (std::int64_t j = 0; j < lab.rows; ++j) known_ids.insert(fmt::format("{}[{}]", vid, j));
    bool complete = words.contains(vid);
    for (const CsdFile& m : mods) complete = complete && m.contains(vid);
    if (!complete) {
      missing.push_back(vid);
      continue;
    }
    if (label_width < 0) {
      label_width = lab.dim;
      if (columns.empty()) {
        columns.resize(static_cast<std::size_t>(label_width));
        std::iota(columns.begin(), columns.end(), 0);
      }
      for (std::int64_t c : columns)
        FG_CHECK(c >= 0 && c < label_width, "align_csd: label column {} is outside the {} columns of '{}'", c,
                 label_width, labels.name());
    }
    FG_CHECK(lab.dim == label_width || lab.rows == 0,
             "file '{}': /{}/data/{}/features: label rows have {} columns here but {} in earlier videos", labels.name(),
             labels.root_name(), vid, lab.dim, label_width);

    // 1. words of the video
    LoadReport entry_report;
    const CsdEntry ref = words.read(vid, entry_report);
    non_finite.note(words.name(), vid, entry_report.count(warn::non_finite_feature));
    std::vector<CsdEntry> frames;
    std::vector<FrameIndex> index;
    for (std::size_t m = 0; m < n_mod; ++m) {
      entry_report = {};
      frames.push_back(mods[m].read(vid, entry_report));
      non_finite.note(mods[m].name(), vid, entry_report.count(warn::non_finite_feature));
      const CsdEntry& fe = frames.back();
      FG_CHECK(!fe.is_text() || fe.rows == 0, "file '{}': /{}/data/{}/features: modality '{}' holds strings; expected numeric features",
               mods[m].name(), mods[m].root_name(), vid, opt.modalities[m].name);
      if (fe.rows > 0) {
        if (dims[m] < 0) dims[m] = fe.dim, dim_source[m] = vid;
        FG_CHECK(fe.dim == dims[m],
                 "file '{}': /{}/data/{}/features: has d = {} features but video '{}' has d = {}; the feature size must not change",
                 mods[m].name(), mods[m].root_name(), vid, fe.dim, dim_source[m], dims[m]);
      }
      index.emplace_back(frames.back());
    }
    auto kept = std::make_unique<std::vector<Word>>();
    std::vector<std::int64_t> order(static_cast<std::size_t>(ref.rows));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::int64_t x, std::int64_t y) { return ref.intervals[2 * x] < ref.intervals[2 * y]; });
    for (std::int64_t r : order) {
      Word w;
      w.a = ref.intervals[2 * r];
      w.b = ref.intervals[2 * r + 1];
      if (w.b - w.a < opt.epsilon) {
        ++zero_len;
        continue;
      }
      if (!ref.words.empty()) {
        w.text = ref.words[static_cast<std::size_t>(r)];
        if (std::find(opt.skip_words.begin(), opt.skip_words.end(), w.text) != opt.skip_words.end()) continue;
      }
      // 2-3. average each modality over the word
      bool drop = false;
      for (std::size_t m = 0; m < n_mod; ++m) {
        // dims[m] may still be unknown if every video so far had no frame: fill in later
        std::vector<float> v(static_cast<std::size_t>(std::max<std::int64_t>(frames[m].dim, 0)), 0.0f);
        const bool hit = frames[m].rows > 0 &&
                         average_indexed(frames[m], index[m], w.a, w.b, opt.epsilon, opt.weighting, v.data());
        if (!hit) {
          ++no_frames;
          if (no_frame_examples.size() < 5)
            no_frame_examples.push_back(fmt::format("{} [{:.3f}, {:.3f}] in '{}'", vid, w.a, w.b, opt.modalities[m].name));
          if (opt.empty_words == EmptyWordPolicy::drop_word) drop = true;
        }
        w.values.push_back(std::move(v));
      }
      if (!drop) kept->push_back(std::move(w));
    }

    // 4. segments
    for (std::int64_t j = 0; j < lab.rows; ++j) {
      const double sa = lab.intervals[2 * j], sb = lab.intervals[2 * j + 1];
      Segment s;
      s.video = vid;
      s.id = fmt::format("{}[{}]", vid, j);
      for (const Word& w : *kept)
        if (std::min(sb, w.b) - std::max(sa, w.a) > opt.epsilon) s.words.push_back(&w);
      if (s.words.empty()) {
        ++empty_segs;
        if (empty_examples.size() < 5) empty_examples.push_back(s.id);
        continue;
      }
      if (opt.max_words > 0 && static_cast<std::int64_t>(s.words.size()) > opt.max_words) {
        ++truncated;
        if (truncated_examples.size() < 5)
          truncated_examples.push_back(fmt::format("{} ({} words)", s.id, s.words.size()));
        s.words.resize(static_cast<std::size_t>(opt.max_words));
      }
      for (std::int64_t c : columns) {
        const float y = lab.features[static_cast<std::size_t>(j * lab.dim + c)];
        s.label.push_back(y);
      }
      segments.push_back(std::move(s));
    }
    video_words.push_back(std::move(kept));
  }
  non_finite.report_to(report);
  const std::string wname = "file '" + opt.words_path + "'";
  report.add(warn::missing_video, "file '" + opt.labels_path + "'", static_cast<std::int64_t>(missing.size()),
             "videos with labels but absent from the words or a modality sequence, left out: " + first_few(missing));
  report.add(warn::zero_length_word, wname, zero_len,
             fmt::format("word intervals shorter than epsilon = {} s dropped", opt.epsilon));
  report.add(warn::word_without_frames, wname, no_frames,
             std::string("(word, modality) pairs with no overlapping frame, ") +
                 (opt.empty_words == EmptyWordPolicy::zeros ? "filled with zeros" : "word dropped") + ": " +
                 first_few(no_frame_examples));
  report.add(warn::empty_segment, "file '" + opt.labels_path + "'", empty_segs,
             "segments with no word, left out: " + first_few(empty_examples));
  report.add(warn::truncated_segment, "file '" + opt.labels_path + "'", truncated,
             fmt::format("segments longer than max_words = {} cut to their first words: ", opt.max_words) +
                 first_few(truncated_examples));

  // 5. folds
  std::map<std::string, std::vector<std::size_t>> by_video;
  std::map<std::string, std::size_t> by_id;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    by_video[segments[i].video].push_back(i);
    by_id[segments[i].id] = i;
  }
  std::vector<int> split_of(segments.size(), -1);
  const char* split_names[3] = {"train", "valid", "test"};
  const std::vector<std::string>* fold_lists[3] = {&opt.folds.train, &opt.folds.valid, &opt.folds.test};
  FG_CHECK(!opt.folds.train.empty() || !opt.folds.valid.empty() || !opt.folds.test.empty(),
           "align_csd: no folds given (train, valid and test id lists are all empty)");
  for (int s = 0; s < 3; ++s) {
    std::vector<std::string> unknown;
    for (const std::string& id : *fold_lists[s]) {
      std::vector<std::size_t> hits;
      if (auto v = by_video.find(id); v != by_video.end()) hits = v->second;
      else if (auto g = by_id.find(id); g != by_id.end()) hits = {g->second};
      else if (!known_ids.count(id)) unknown.push_back(id);  // known but left out: reported above
      for (std::size_t i : hits) {
        FG_CHECK(split_of[i] < 0 || split_of[i] == s,
                 "align_csd: segment '{}' is in fold '{}' and in fold '{}' (a segment must be in one split only)",
                 segments[i].id, split_names[split_of[i]], split_names[s]);
        split_of[i] = s;
      }
    }
    FG_CHECK(unknown.empty() || opt.allow_unknown_fold_ids,
             "align_csd: fold '{}' names {} id(s) that match no video or segment of '{}': {} (expected a video id "
             "like 'v' or a segment id like 'v[3]'; allow_unknown_fold_ids turns this into a counted warning)",
             split_names[s], unknown.size(), opt.labels_path, first_few(unknown));
    report.add(warn::unknown_fold_id, std::string("fold '") + split_names[s] + "'",
               static_cast<std::int64_t>(unknown.size()),
               "ids matching no video or segment of the labels sequence: " + first_few(unknown));
  }
  std::vector<std::string> unassigned;
  for (std::size_t i = 0; i < segments.size(); ++i)
    if (split_of[i] < 0) unassigned.push_back(segments[i].id);
  report.add(warn::unassigned_segment, "folds", static_cast<std::int64_t>(unassigned.size()),
             "segments in no fold, left out: " + first_few(unassigned));

  // Assemble the splits.
  for (std::size_t m = 0; m < n_mod; ++m)
    FG_CHECK(dims[m] >= 1, "align_csd: modality '{}' ('{}') has no frame in any kept video; cannot tell its feature size",
             opt.modalities[m].name, opt.modalities[m].path);
  std::int64_t t_max = opt.max_words;
  if (t_max == 0) {
    t_max = 1;
    for (const Segment& s : segments) t_max = std::max<std::int64_t>(t_max, static_cast<std::int64_t>(s.words.size()));
  }
  LabelKind kind = columns.size() == 1 ? LabelKind::regression : LabelKind::multi_regression;
  if (opt.label_kind_set) kind = opt.label_kind;
  std::vector<std::string> label_names = opt.label_names;
  if (label_names.empty() && kind != LabelKind::regression)
    for (std::int64_t c : columns) label_names.push_back(fmt::format("label{}", c));
  const bool two_d = kind == LabelKind::multi_regression || kind == LabelKind::multi_label;
  FG_CHECK(two_d || columns.size() == 1, "align_csd: label kind '{}' needs one label column, {} chosen",
           label_kind_name(kind), columns.size());
  FG_CHECK(!two_d || label_names.size() == columns.size(), "align_csd: {} label names for {} label columns",
           label_names.size(), columns.size());
  const bool has_text = [&] {
    for (const auto& vw : video_words)
      for (const Word& w : *vw)
        if (!w.text.empty()) return true;
    return false;
  }();

  MultimodalSplit* outs[3] = {&result.data.train, &result.data.valid, &result.data.test};
  for (int s = 0; s < 3; ++s) {
    std::vector<const Segment*> rows;
    for (std::size_t i = 0; i < segments.size(); ++i)
      if (split_of[i] == s) rows.push_back(&segments[i]);
    FG_CHECK(!rows.empty(), "align_csd: fold '{}' selects no segment ({} ids given{}{}); expected at least one",
             split_names[s], fold_lists[s]->size(), fold_lists[s]->empty() ? "" : ": ", first_few(*fold_lists[s]));
    const auto n = static_cast<std::int64_t>(rows.size());
    MultimodalSplit& out = *outs[s];
    out.name = split_names[s];
    std::vector<std::int64_t> lens;
    std::vector<float> y;
    for (const Segment* seg : rows) {
      lens.push_back(static_cast<std::int64_t>(seg->words.size()));
      y.insert(y.end(), seg->label.begin(), seg->label.end());
      out.ids.push_back(seg->id);
      if (has_text) {
        std::string text;
        for (const Word* w : seg->words) text += (text.empty() ? "" : " ") + w->text;
        out.raw_text.push_back(text);
      }
    }
    for (std::size_t m = 0; m < n_mod; ++m) {
      const std::int64_t d = dims[m];
      std::vector<float> x(static_cast<std::size_t>(n * t_max * d), 0.0f);
      for (std::int64_t i = 0; i < n; ++i)
        for (std::size_t t = 0; t < rows[i]->words.size(); ++t) {
          const std::vector<float>& v = rows[i]->words[t]->values[m];
          if (static_cast<std::int64_t>(v.size()) == d)  // empty when the video had no frame at all: zeros
            std::copy(v.begin(), v.end(), x.begin() + (i * t_max + static_cast<std::int64_t>(t)) * d);
        }
      out.modality_names.push_back(opt.modalities[m].name);
      out.features.push_back(from_vector(x, {n, t_max, d}));
    }
    out.lengths = from_vector(lens, {n}, TensorOptions{DType::i64});
    out.mask = mask_from_lengths(out.lengths, t_max);
    out.labels = two_d ? from_vector(y, {n, static_cast<std::int64_t>(columns.size())}) : from_vector(y, {n});
    out.label_kind = kind;
    out.label_names = label_names;
    out.validate();
  }
  return result;
}

LoadReport convert_csd(const CsdAlignOptions& options, const std::string& out_path, H5WriteOptions write) {
  CsdAlignResult r = align_csd(options);
  if (write.source.empty())
    write.source = fmt::format("convert_csd: words '{}', labels '{}', {} modalities, max_words {}, {} weighting",
                               options.words_path, options.labels_path, options.modalities.size(), options.max_words,
                               options.weighting == WordWeighting::overlap ? "overlap" : "uniform");
  write_h5_dataset(out_path, r.data, write);
  return r.report;
}

}  // namespace fg::data
