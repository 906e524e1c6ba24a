// data/h5_dataset.cpp: reader and atomic writer of fusegrad's HDF5 dataset format
// (data/h5_dataset.h, docs/data-format.md).
#include "data/h5_dataset.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include <fmt/format.h>

#include "data/h5_util.h"
#include "engine/error.h"
#include "engine/io/output_file.h"

namespace fg::data {

namespace {

const char* const kSplitNames[3] = {"train", "valid", "test"};

std::string first_few(const std::vector<std::string>& v, std::size_t k = 3) {
  std::string out;
  for (std::size_t i = 0; i < v.size() && i < k; ++i) out += (i ? ", '" : "'") + v[i] + "'";
  if (v.size() > k) out += ", ...";
  return out;
}

// What the root attributes say; the splits are checked against it.
struct Header {
  std::int64_t version = 0;
  bool aligned = true;
  LabelKind label_kind = LabelKind::regression;
  std::vector<std::string> label_names, modalities;
  std::string source;
};

Header read_header(hid_t file, const h5::Where& root) {
  Header h;
  const std::string format = h5::read_string_attribute(file, "format", root);
  FG_CHECK(format == kH5FormatName, "{}: attribute 'format' is '{}', expected '{}' (not a fusegrad dataset file)",
           root.str(), format, kH5FormatName);
  h.version = h5::read_int_attribute(file, "format_version", root);
  FG_CHECK(h.version <= kH5FormatVersion,
           "{}: format_version {} was written by a newer fusegrad; this build reads version {} at most", root.str(),
           h.version, kH5FormatVersion);
  FG_CHECK(h.version >= 1, "{}: format_version must be >= 1, got {}", root.str(), h.version);
  const std::int64_t aligned = h5::read_int_attribute(file, "aligned", root);
  FG_CHECK(aligned == 0 || aligned == 1, "{}: attribute 'aligned' must be 0 or 1, got {}", root.str(), aligned);
  h.aligned = aligned == 1;
  h.label_kind = parse_label_kind(h5::read_string_attribute(file, "label_kind", root),
                                  root.str() + ": attribute 'label_kind'");
  if (h5::has_attribute(file, "label_names")) h.label_names = h5::read_string_array_attribute(file, "label_names", root);
  if (h.label_kind == LabelKind::multi_regression || h.label_kind == LabelKind::multi_label)
    FG_CHECK(!h.label_names.empty(), "{}: label kind '{}' needs attribute 'label_names' (one name per label column)",
             root.str(), label_kind_name(h.label_kind));
  if (h.label_kind == LabelKind::class_index)
    FG_CHECK(h.label_names.size() >= 2, "{}: label kind 'class_index' needs the class names in 'label_names' (>= 2), got {}",
             root.str(), h.label_names.size());
  h.modalities = h5::read_string_array_attribute(file, "modalities", root);
  FG_CHECK(!h.modalities.empty(), "{}: attribute 'modalities' is empty; expected at least one modality name", root.str());
  std::set<std::string> seen;
  for (const auto& m : h.modalities) {
    FG_CHECK(!m.empty() && m.find('/') == std::string::npos && m != "." && m != "..",
             "{}: attribute 'modalities' holds the invalid name '{}'", root.str(), m);
    FG_CHECK(seen.insert(m).second, "{}: attribute 'modalities' lists '{}' twice", root.str(), m);
  }
  if (h5::has_attribute(file, "source")) h.source = h5::read_string_attribute(file, "source", root);
  return h;
}

void read_labels(hid_t group, const Header& h, const h5::Where& where, const H5ReadOptions& opt, MultimodalSplit& s) {
  h5::Handle d = h5::open_dataset(group, "labels", where);
  const auto shape = h5::shape_of(d.get(), where);
  const bool two_d = h.label_kind == LabelKind::multi_regression || h.label_kind == LabelKind::multi_label;
  const auto k = static_cast<std::int64_t>(h.label_names.size());
  if (two_d)
    FG_CHECK(shape.size() == 2 && shape[1] == k, "{}: expected float32 [N, {}] labels (label kind '{}', {} label_names), got rank {}{}",
             where.str(), k, label_kind_name(h.label_kind), k, shape.size(),
             shape.size() == 2 ? fmt::format(" shape [{}, {}]", shape[0], shape[1]) : "");
  else
    FG_CHECK(shape.size() == 1, "{}: expected float32 [N] labels (label kind '{}'), got rank {}", where.str(),
             label_kind_name(h.label_kind), shape.size());
  const auto y = h5::read_floats(d.get(), where, opt.max_dataset_bytes);
  for (std::size_t i = 0; i < y.size(); ++i) {
    const std::size_t row = two_d ? i / static_cast<std::size_t>(k) : i;
    FG_CHECK(std::isfinite(y[i]), "{}: label of row {} is {}; labels must be finite", where.str(), row, y[i]);
    if (h.label_kind == LabelKind::multi_label)
      FG_CHECK(y[i] == 0.0f || y[i] == 1.0f, "{}: multi-label labels must be 0 or 1, row {} column '{}' is {}",
               where.str(), row, h.label_names[i % static_cast<std::size_t>(k)], y[i]);
    if (h.label_kind == LabelKind::class_index)
      FG_CHECK(y[i] >= 0 && y[i] < static_cast<float>(k) && y[i] == std::floor(y[i]),
               "{}: row {} holds {}, expected a class index in [0, {})", where.str(), row, y[i], k);
  }
  s.labels = two_d ? from_vector(y, {shape[0], k}) : from_vector(y, {shape[0]});
  s.label_kind = h.label_kind;
  s.label_names = h.label_names;
}

// One modality of one split: features (repaired in place) and lengths.
struct ModalityData {
  Tensor features;
  std::vector<std::int64_t> lengths;
};

ModalityData read_modality(hid_t modalities, const std::string& name, std::int64_t n, bool aligned,
                           const h5::Where& where, const H5ReadOptions& opt, LoadReport& report) {
  h5::Handle g = h5::open_group(modalities, name, where);
  const h5::Where fw = where.child("features"), lw = where.child("lengths");
  h5::Handle fd = h5::open_dataset(g.get(), "features", fw);
  const auto shape = h5::shape_of(fd.get(), fw);
  FG_CHECK(shape.size() == 3, "{}: expected float32 [N, T, D] features, got rank {}", fw.str(), shape.size());
  FG_CHECK(shape[0] == n, "{}: has {} rows, expected {} (the number of labels)", fw.str(), shape[0], n);
  FG_CHECK(shape[2] >= 1, "{}: feature size D must be >= 1, got 0", fw.str());
  h5::checked_numel(shape, sizeof(float), opt.max_dataset_bytes, fw);
  ModalityData out;
  out.features = empty({shape[0], shape[1], shape[2]}, f32_opts());
  h5::read_floats_into(fd.get(), out.features.data<float>(), out.features.numel(), fw);

  h5::Handle ld = h5::open_dataset(g.get(), "lengths", lw);
  const auto lshape = h5::shape_of(ld.get(), lw);
  FG_CHECK(lshape.size() == 1 && lshape[0] == n, "{}: expected int64 [{}] lengths, got rank {} with {} entries",
           lw.str(), n, lshape.size(), lshape.empty() ? 0 : lshape[0]);
  out.lengths = h5::read_int64s(ld.get(), lw, opt.max_dataset_bytes);
  const std::int64_t t = shape[1], d = shape[2];
  const std::int64_t min_len = aligned ? 1 : 0;
  for (std::int64_t i = 0; i < n; ++i)
    FG_CHECK(out.lengths[i] >= min_len && out.lengths[i] <= t, "{}: lengths[{}] = {} is outside [{}, {}] (T = {})",
             lw.str(), i, out.lengths[i], min_len, t, t);

  // Repairs: non-finite values become 0; padding after a length becomes 0.
  float* x = out.features.data<float>();
  std::int64_t non_finite = 0, padding = 0;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t s = 0; s < t; ++s) {
      float* row = x + (i * t + s) * d;
      const bool pad = s >= out.lengths[i];
      for (std::int64_t j = 0; j < d; ++j) {
        if (!std::isfinite(row[j])) {
          row[j] = 0.0f;
          ++non_finite;
        } else if (pad && row[j] != 0.0f) {
          row[j] = 0.0f;
          ++padding;
        }
      }
    }
  report.add(warn::non_finite_feature, fw.str(), non_finite, "non-finite feature values (NaN or +-inf) replaced by 0");
  report.add(warn::nonzero_padding, fw.str(), padding, "non-zero values after an utterance's length set to 0");
  return out;
}

MultimodalSplit read_split(hid_t file, const char* split_name, const Header& h, const h5::Where& root,
                           const H5ReadOptions& opt, LoadReport& report) {
  const h5::Where where = root.child(split_name);
  h5::Handle g = h5::open_group(file, split_name, where);
  MultimodalSplit s;
  s.name = split_name;
  read_labels(g.get(), h, where.child("labels"), opt, s);
  const std::int64_t n = s.labels.size(0);
  if (n == 0) {
    FG_CHECK(opt.allow_empty_splits, "{}: split '{}' has no utterances (0 labels); expected at least one",
             where.str(), split_name);
    report.add(warn::empty_split, where.str(), 1, "split has no utterances");
  }

  const h5::Where iw = where.child("ids");
  h5::Handle ids = h5::open_dataset(g.get(), "ids", iw);
  const auto ishape = h5::shape_of(ids.get(), iw);
  FG_CHECK(ishape.size() == 1 && ishape[0] == n, "{}: expected {} string ids (one per label), got rank {} with {} entries",
           iw.str(), n, ishape.size(), ishape.empty() ? 0 : ishape[0]);
  s.ids = h5::read_strings(ids.get(), iw, opt.max_dataset_bytes);

  if (h5::kind_of(g.get(), "raw_text") != h5::Kind::missing) {
    const h5::Where tw = where.child("raw_text");
    h5::Handle t = h5::open_dataset(g.get(), "raw_text", tw);
    const auto tshape = h5::shape_of(t.get(), tw);
    FG_CHECK(tshape.size() == 1 && tshape[0] == n, "{}: expected {} strings (one per label), got rank {} with {} entries",
             tw.str(), n, tshape.size(), tshape.empty() ? 0 : tshape[0]);
    s.raw_text = h5::read_strings(t.get(), tw, opt.max_dataset_bytes);
  }

  const h5::Where mw = where.child("modalities");
  h5::Handle mods = h5::open_group(g.get(), "modalities", mw);
  std::vector<ModalityData> data;
  for (const std::string& m : h.modalities) {
    data.push_back(read_modality(mods.get(), m, n, h.aligned, mw.child(m), opt, report));
    s.modality_names.push_back(m);
    s.features.push_back(data.back().features);
  }
  if (h.aligned) {
    for (std::size_t m = 1; m < data.size(); ++m) {
      FG_CHECK(data[m].features.size(1) == data[0].features.size(1),
               "{}: file is word-aligned but modality '{}' has T = {} steps and '{}' has T = {}", mw.str(),
               h.modalities[m], data[m].features.size(1), h.modalities[0], data[0].features.size(1));
      for (std::int64_t i = 0; i < n; ++i)
        FG_CHECK(data[m].lengths[i] == data[0].lengths[i],
                 "{}: file is word-aligned but row {} has length {} in modality '{}' and {} in '{}'", mw.str(), i,
                 data[m].lengths[i], h.modalities[m], data[0].lengths[i], h.modalities[0]);
    }
    s.lengths = from_vector(data[0].lengths, {n}, TensorOptions{DType::i64});
    s.mask = mask_from_lengths(s.lengths, data[0].features.size(1));
  } else {
    for (const ModalityData& md : data) {
      s.modality_lengths.push_back(from_vector(md.lengths, {n}, TensorOptions{DType::i64}));
      s.modality_masks.push_back(mask_from_lengths(s.modality_lengths.back(), md.features.size(1)));
    }
  }

  if (h5::kind_of(g.get(), "present") != h5::Kind::missing) {
    const h5::Where pw = where.child("present");
    h5::Handle p = h5::open_dataset(g.get(), "present", pw);
    const auto pshape = h5::shape_of(p.get(), pw);
    const auto m = static_cast<std::int64_t>(h.modalities.size());
    FG_CHECK(pshape == (std::vector<std::int64_t>{n, m}), "{}: expected float32 [{}, {}] (rows x modalities)", pw.str(),
             n, m);
    const auto v = h5::read_floats(p.get(), pw, opt.max_dataset_bytes);
    for (std::size_t i = 0; i < v.size(); ++i)
      FG_CHECK(v[i] == 0.0f || v[i] == 1.0f, "{}: row {} modality '{}' holds {}, expected 0 or 1", pw.str(),
               i / static_cast<std::size_t>(m), h.modalities[i % static_cast<std::size_t>(m)], v[i]);
    s.present = from_vector(v, {n, m});
  }
  s.validate();
  return s;
}

H5Dataset read_file(hid_t file, const std::string& name, const H5ReadOptions& opt) {
  const h5::Where root{name, "/"};
  H5Dataset out;
  const Header h = read_header(file, root);
  out.format_version = h.version;
  out.source = h.source;
  MultimodalSplit* splits[3] = {&out.data.train, &out.data.valid, &out.data.test};
  for (int i = 0; i < 3; ++i) *splits[i] = read_split(file, kSplitNames[i], h, root, opt, out.report);

  // Feature sizes must agree across splits (a model is built for one D_m).
  for (int i = 1; i < 3; ++i)
    for (std::size_t m = 0; m < h.modalities.size(); ++m)
      FG_CHECK(splits[i]->features[m].size(2) == splits[0]->features[m].size(2),
               "{}: modality '{}' has D = {} features in split '{}' but D = {} in split 'train'",
               root.child(kSplitNames[i]).child("modalities").child(h.modalities[m]).child("features").str(),
               h.modalities[m], splits[i]->features[m].size(2), kSplitNames[i], splits[0]->features[m].size(2));

  // Duplicated ids, within a split and across splits (a leak between train and test).
  std::map<std::string, const char*> first_split;
  for (int i = 0; i < 3; ++i) {
    std::vector<std::string> within, across;
    std::set<std::string> seen;
    for (const std::string& id : splits[i]->ids) {
      if (!seen.insert(id).second) {
        within.push_back(id);
        continue;
      }
      auto [it, inserted] = first_split.emplace(id, kSplitNames[i]);
      if (!inserted) across.push_back(id + " (also in " + it->second + ")");
    }
    const std::string loc = root.child(kSplitNames[i]).child("ids").str();
    out.report.add(warn::duplicate_id, loc, static_cast<std::int64_t>(within.size()),
                   "ids repeated within the split: " + first_few(within));
    out.report.add(warn::duplicate_id, loc, static_cast<std::int64_t>(across.size()),
                   "ids also present in an earlier split (a possible train/test leak): " + first_few(across));
  }
  return out;
}

void check_consistent(const MultimodalDataset& data) {
  const MultimodalSplit* splits[3] = {&data.train, &data.valid, &data.test};
  for (const MultimodalSplit* s : splits) s->validate();
  const MultimodalSplit& a = data.train;
  for (int i = 1; i < 3; ++i) {
    const MultimodalSplit& b = *splits[i];
    FG_CHECK(b.modality_names == a.modality_names, "write_h5_dataset: split '{}' has other modalities than 'train'",
             b.name);
    for (std::size_t m = 0; m < a.features.size(); ++m)
      FG_CHECK(b.features[m].size(2) == a.features[m].size(2),
               "write_h5_dataset: modality '{}' has D = {} in split '{}' but D = {} in 'train'", a.modality_names[m],
               b.features[m].size(2), b.name, a.features[m].size(2));
    FG_CHECK(b.aligned() == a.aligned(), "write_h5_dataset: split '{}' is {} but 'train' is not", b.name,
             b.aligned() ? "aligned" : "unaligned");
    FG_CHECK(b.label_kind == a.label_kind && b.label_names == a.label_names,
             "write_h5_dataset: split '{}' has other labels (kind or names) than 'train'", b.name);
    FG_CHECK(b.present.defined() == a.present.defined(),
             "write_h5_dataset: field 'present' is set in some splits but not in others ('{}' vs 'train')", b.name);
    FG_CHECK(b.raw_text.empty() == a.raw_text.empty(),
             "write_h5_dataset: field 'raw_text' is set in some splits but not in others ('{}' vs 'train')", b.name);
  }
}

void write_split(hid_t file, const MultimodalSplit& s, const std::string& path, const H5WriteOptions& opt) {
  const h5::Where where{path, "/" + s.name};
  h5::Handle g = h5::create_group(file, s.name, where);
  const std::int64_t n = s.size();
  std::vector<std::string> ids = s.ids;
  if (ids.empty())
    for (std::int64_t i = 0; i < n; ++i) ids.push_back(fmt::format("{}/{}", s.name, i));
  h5::write_strings(g.get(), "ids", ids, where.child("ids"));
  const Tensor labels = s.labels.to(Device::cpu()).to(DType::f32);
  h5::write_floats(g.get(), "labels", labels.shape(), labels.data<float>(), 0, where.child("labels"));
  if (!s.raw_text.empty()) h5::write_strings(g.get(), "raw_text", s.raw_text, where.child("raw_text"));
  if (s.present.defined()) {
    const Tensor p = s.present.to(Device::cpu());
    h5::write_floats(g.get(), "present", p.shape(), p.data<float>(), 0, where.child("present"));
  }
  h5::Handle mods = h5::create_group(g.get(), "modalities", where.child("modalities"));
  for (std::size_t m = 0; m < s.features.size(); ++m) {
    const h5::Where mw = where.child("modalities").child(s.modality_names[m]);
    h5::Handle mg = h5::create_group(mods.get(), s.modality_names[m], mw);
    const Tensor x = s.features[m].to(Device::cpu());
    const float* p = x.data<float>();
    for (std::int64_t i = 0; i < x.numel(); ++i)
      FG_CHECK(std::isfinite(p[i]), "write_h5_dataset: split '{}' modality '{}' holds a non-finite value at flat index {}",
               s.name, s.modality_names[m], i);
    h5::write_floats(mg.get(), "features", x.shape(), p, opt.compression_level, mw.child("features"));
    const Tensor len = s.lengths_of(static_cast<std::int64_t>(m)).to(Device::cpu());
    h5::write_int64s(mg.get(), "lengths", len.shape(), len.data<std::int64_t>(), mw.child("lengths"));
  }
}

}  // namespace

H5Dataset read_h5_dataset(const std::string& path, const H5ReadOptions& options) {
  h5::Handle f = h5::open_file_readonly(path);
  return read_file(f.get(), path, options);
}

H5Dataset read_h5_dataset_image(const std::string& bytes, const std::string& name, const H5ReadOptions& options) {
  h5::Handle f = h5::open_file_image(bytes, name);
  return read_file(f.get(), name, options);
}

void write_h5_dataset(const std::string& path, const MultimodalDataset& data, const H5WriteOptions& options) {
  FG_CHECK(!path.empty(), "write_h5_dataset: empty output path");
  check_consistent(data);
  fg::io::TempOutputFile out(path, "write_h5_dataset");  // refuses "-", devices and FIFOs: HDF5 needs a file
  const std::string& tmp = out.temp_path();
  {
    {
      h5::Handle f = h5::create_file(tmp);
      const h5::Where root{path, "/"};
      const MultimodalSplit& t = data.train;
      h5::write_string_attribute(f.get(), "format", kH5FormatName, root);
      h5::write_int_attribute(f.get(), "format_version", kH5FormatVersion, root);
      h5::write_int_attribute(f.get(), "aligned", t.aligned() ? 1 : 0, root);
      h5::write_string_attribute(f.get(), "label_kind", label_kind_name(t.label_kind), root);
      if (!t.label_names.empty()) h5::write_string_array_attribute(f.get(), "label_names", t.label_names, root);
      h5::write_string_array_attribute(f.get(), "modalities", t.modality_names, root);
      h5::write_string_attribute(f.get(), "source", options.source, root);
      for (const MultimodalSplit* s : {&data.train, &data.valid, &data.test}) write_split(f.get(), *s, path, options);
      FG_CHECK(H5Fflush(f.get(), H5F_SCOPE_GLOBAL) >= 0, "write_h5_dataset: cannot flush '{}'", tmp);
    }
    out.commit();  // fsync, rename over the target, fsync the folder; on an error the destructor removes tmp
  }
}

}  // namespace fg::data
