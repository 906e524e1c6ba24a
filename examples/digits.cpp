// examples/digits.cpp: the embedded digit datasets (data/digits.h, docs/digits.md).
//
//   digits                         # load the cache, print the IMA and MFM sets, write PNGs
//   digits --noise-factor 0.3 --out pictures/
//   digits plan  --cache DIR       # set-up step 1: the espeak-ng calls (tools/build_digits.sh)
//   digits build --cache DIR       # set-up step 3: cut, resample, MFCCs, MNIST -> digits.h5
//   digits export --file F.h5 [--mfm] [--noise-factor R]   # a pair set in the dataset format
//   digits describe                # the feature pipeline's settings (the set-up's cache key)
//   digits --help                  # every flag
//
// The default mode prints the pools (images, spoken digits, speakers, held-out speaker),
// then for the IMA pairs (noise factor R) and the MFM pairs each split's size, its pairs per
// digit and per kind and its noise share, and writes three pictures:
//   digits_images.png        image side: per digit (column) three real images and one noise
//                            image (the image side of an image_noise pair), 3x scaled
//   digits_spectrograms.png  log-mel spectrograms of "zero" .. "nine" (left to right) from
//                            one training speaker, the held-out real speaker (if built) and
//                            one noise utterance; time runs right, frequency up
//   digits_mfcc.png          the 696-d model inputs (58 frames x 12 coefficients) of the same
//                            utterances, before scaling
#include <CLI/CLI.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "data/audio_features.h"
#include "data/bitmap_font.h"
#include "data/digits.h"
#include "data/digits_build.h"
#include "data/digits_png.h"
#include "data/h5_dataset.h"
#include "engine/error.h"
#include "engine/io/output_file.h"
#include "engine/ops.h"
#include "examples/common/cli.h"

namespace {

namespace dg = fg::data::digits;
namespace audio = fg::data::audio;
namespace fs = std::filesystem;

// ---------------------------------------------------------------- pictures
// An RGB canvas.
struct Canvas {
  std::int64_t width = 0, height = 0;
  std::vector<std::uint8_t> rgb;
  Canvas(std::int64_t w, std::int64_t h, std::uint8_t fill) : width(w), height(h), rgb(static_cast<std::size_t>(w * h * 3), fill) {}
  void set(std::int64_t x, std::int64_t y, const std::array<std::uint8_t, 3>& c) {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    std::copy(c.begin(), c.end(), rgb.begin() + (y * width + x) * 3);
  }
  void block(std::int64_t x, std::int64_t y, std::int64_t s, const std::array<std::uint8_t, 3>& c) {
    for (std::int64_t dy = 0; dy < s; ++dy)
      for (std::int64_t dx = 0; dx < s; ++dx) set(x + dx, y + dy, c);
  }
  // A label in the 5 x 7 bitmap font (data/bitmap_font.h), top-left corner at (x, y).
  void text(std::int64_t x, std::int64_t y, const std::string& s, int scale,
            const std::array<std::uint8_t, 3>& c = {0, 0, 0}) {
    fg::data::font::draw_text(rgb, width, height, 3, x, y, s, scale, c.data());
  }
  // The same, centred on x.
  void text_centred(std::int64_t x, std::int64_t y, const std::string& s, int scale,
                    const std::array<std::uint8_t, 3>& c = {0, 0, 0}) {
    text(x - fg::data::font::text_width(s, scale) / 2, y, s, scale, c);
  }
};

// Label strips: a line of text at `scale` with 3 px above and below it per scale step.
std::int64_t strip_height(int scale) { return fg::data::font::text_height(scale) + 6 * scale; }
// The largest scale (at most 2) at which `s` fits in `room` pixels.
int fitting_scale(const std::string& s, std::int64_t room) {
  return fg::data::font::text_width(s, 2) <= room ? 2 : 1;
}

// A dark-to-bright colour map (black, purple, red, orange, pale yellow) for t in [0, 1].
std::array<std::uint8_t, 3> heat(double t) {
  static const double stops[5][3] = {{0, 0, 4}, {80, 18, 123}, {183, 55, 121}, {251, 136, 97}, {252, 253, 191}};
  t = std::clamp(t, 0.0, 1.0) * 4.0;
  const int i = std::min(3, static_cast<int>(t));
  const double f = t - i;
  std::array<std::uint8_t, 3> c{};
  for (int k = 0; k < 3; ++k) c[k] = static_cast<std::uint8_t>(std::lround(stops[i][k] + f * (stops[i + 1][k] - stops[i][k])));
  return c;
}

// Draws a [rows, cols] matrix (row 0 at the bottom when flip) into the canvas with cell size s,
// normalized to [lo, hi].
void draw_matrix(Canvas& cv, std::int64_t x0, std::int64_t y0, const std::vector<float>& m, std::int64_t rows,
                 std::int64_t cols, std::int64_t sx, std::int64_t sy, double lo, double hi, bool flip) {
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) {
      const auto color = heat((m[r * cols + c] - lo) / std::max(hi - lo, 1e-9));
      const std::int64_t y = y0 + (flip ? rows - 1 - r : r) * sy;
      for (std::int64_t dy = 0; dy < sy; ++dy)
        for (std::int64_t dx = 0; dx < sx; ++dx) cv.set(x0 + c * sx + dx, y + dy, color);
    }
}

void write_canvas(const Canvas& cv, const fs::path& path) {
  fg::data::png::write(path.string(), cv.rgb, cv.width, cv.height, 3);
  std::cout << fmt::format("wrote {} ({} x {})\n", path.string(), cv.width, cv.height);
}

// Per digit: three real images and one noise image from the IMA training pairs.
void picture_images(const dg::DigitPairs& pairs, const fs::path& path) {
  constexpr std::int64_t scale = 3, pad = 4, side = dg::kImageSide * scale;
  const auto labels = pairs.labels.to_vector<std::int64_t>();
  const auto kinds = pairs.kind.to_vector<std::int64_t>();
  std::vector<std::vector<std::int64_t>> picked(dg::kNumClasses);  // rows: real, real, real, noise
  for (std::int64_t c = 0; c < dg::kNumClasses; ++c) {
    std::vector<std::int64_t> real, noise;
    for (std::int64_t i = 0; i < pairs.size(); ++i) {
      if (labels[i] != c) continue;
      if (kinds[i] == static_cast<std::int64_t>(dg::PairKind::image_noise)) {
        if (noise.empty()) noise.push_back(i);
      } else if (real.size() < 3) {
        real.push_back(i);
      }
    }
    picked[c] = real;
    if (!noise.empty()) picked[c].push_back(noise[0]);
  }
  // labels: a title strip, the digit class above each column, the kind of each row at the left
  const std::int64_t left = fg::data::font::text_width("noise", 2) + 2 * pad, title_h = strip_height(2),
                     head_h = strip_height(2), top = title_h + head_h;
  Canvas cv(left + dg::kNumClasses * (side + pad), top + 4 * (side + pad), 255);
  cv.text(pad, 6, fmt::format("MNIST digits 0-9 in the IMA training pairs ({}x)", scale), 2);
  for (std::int64_t c = 0; c < dg::kNumClasses; ++c)
    cv.text_centred(left + c * (side + pad) + side / 2, title_h + 6, std::to_string(c), 2);
  for (int r = 0; r < 4; ++r)
    cv.text(pad, top + r * (side + pad) + side / 2 - fg::data::font::text_height(2) / 2, r < 3 ? "real" : "noise", 2,
            r < 3 ? std::array<std::uint8_t, 3>{0, 0, 0} : std::array<std::uint8_t, 3>{170, 30, 30});
  const float* px = pairs.image.data<float>();
  for (std::int64_t c = 0; c < dg::kNumClasses; ++c)
    for (std::size_t k = 0; k < picked[c].size(); ++k) {
      const std::int64_t row = picked[c][k];
      const bool noise = kinds[row] == static_cast<std::int64_t>(dg::PairKind::image_noise);
      const std::int64_t x0 = left + c * (side + pad), y0 = top + static_cast<std::int64_t>(noise ? 3 : k) * (side + pad);
      for (std::int64_t y = 0; y < dg::kImageSide; ++y)
        for (std::int64_t x = 0; x < dg::kImageSide; ++x) {
          const auto v = static_cast<std::uint8_t>(255 - std::lround(255.0 * px[row * dg::kImageDim + y * 28 + x]));
          cv.block(x0 + x * scale, y0 + y * scale, scale, {v, v, v});
        }
    }
  write_canvas(cv, path);
}

struct Utterance {
  std::string label;
  std::vector<float> samples;  // at the feature rate
};

// The word of an utterance id ("m3.2/seven" -> "seven").
std::string tile_label(const std::string& id) { return id.substr(id.rfind('/') == std::string::npos ? 0 : id.rfind('/') + 1); }

// Label strips of an audio picture: a title at the top, then per group a strip with the
// group's title above its row of tiles and a strip with each tile's word below it.
struct AudioLayout {
  std::int64_t pad, cell_w, cell_h, title_h, row_title_h, tile_label_h;
  std::int64_t row_y(std::size_t g) const {  // top of group g's tiles
    return title_h + static_cast<std::int64_t>(g) * (row_title_h + cell_h + tile_label_h) + row_title_h;
  }
  std::int64_t height(std::size_t groups) const { return row_y(groups) - row_title_h; }
};

void label_audio(Canvas& cv, const AudioLayout& l, const std::string& title, const std::vector<std::string>& titles,
                 const std::vector<std::vector<Utterance>>& groups) {
  cv.text(l.pad, 6, title, fitting_scale(title, cv.width - 2 * l.pad));
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const std::string t = g < titles.size() ? titles[g] : "";
    cv.text(l.pad, l.row_y(g) - l.row_title_h + 6, t, 2, {40, 40, 140});
    for (std::size_t k = 0; k < groups[g].size(); ++k) {
      const std::string w = tile_label(groups[g][k].label);
      const int sc = fitting_scale(w, l.cell_w);
      // under the tile's left edge: tiles are left-aligned in their cells
      cv.text(l.pad + static_cast<std::int64_t>(k) * (l.cell_w + l.pad), l.row_y(g) + l.cell_h + 4, w, sc);
    }
  }
}

// Spectrogram rows and MFCC rows: one row of utterances per group, titled by `titles`.
void picture_audio(const std::vector<std::vector<Utterance>>& groups, const std::vector<std::string>& titles,
                   const audio::MfccConfig& cfg, std::int64_t window_frames, const fs::path& spec_path,
                   const fs::path& mfcc_path) {
  constexpr std::int64_t pad = 6;
  // log-mel spectrograms, 2 px per frame, 3 px per filter
  std::int64_t max_frames = 1;
  std::vector<std::vector<audio::Frames>> spec(groups.size());
  double lo = 1e30, hi = -1e30;
  for (std::size_t g = 0; g < groups.size(); ++g)
    for (const auto& u : groups[g]) {
      spec[g].push_back(audio::log_mel_frames(u.samples, cfg));
      max_frames = std::max(max_frames, spec[g].back().num_frames);
      for (float v : spec[g].back().values) lo = std::min<double>(lo, v), hi = std::max<double>(hi, v);
    }
  lo = std::max(lo, hi - 16.0);  // ~70 dB of range
  std::size_t max_cols = 1;
  for (const auto& g : groups) max_cols = std::max(max_cols, g.size());
  const std::int64_t cell_w = max_frames * 2, cell_h = cfg.num_filters * 3;
  const AudioLayout sl{pad, cell_w, cell_h, strip_height(2), strip_height(2), strip_height(2)};
  Canvas cv(pad + static_cast<std::int64_t>(max_cols) * (cell_w + pad), sl.height(groups.size()), 255);
  label_audio(cv, sl,
              fmt::format("log-mel spectrograms: {} mel bands {:g}-{:g} Hz (up) x time in {:g} ms steps (right)",
                          cfg.num_filters, cfg.low_hz, cfg.upper_hz(), cfg.hop_ms),
              titles, groups);
  for (std::size_t g = 0; g < groups.size(); ++g)
    for (std::size_t k = 0; k < spec[g].size(); ++k) {
      const auto& f = spec[g][k];
      // transpose to [filters, frames] so frequency runs up
      std::vector<float> m(static_cast<std::size_t>(f.dim * f.num_frames));
      for (std::int64_t t = 0; t < f.num_frames; ++t)
        for (std::int64_t j = 0; j < f.dim; ++j) m[j * f.num_frames + t] = f.at(t, j);
      draw_matrix(cv, pad + static_cast<std::int64_t>(k) * (cell_w + pad), sl.row_y(g), m, f.dim, f.num_frames, 2, 3, lo,
                  hi, true);
    }
  write_canvas(cv, spec_path);

  // 696-d vectors as [12 coefficients, 58 frames], 3 px per cell, one colour range over all
  std::vector<std::vector<std::vector<float>>> vecs(groups.size());
  double vlo = 1e30, vhi = -1e30;
  for (std::size_t g = 0; g < groups.size(); ++g)
    for (const auto& u : groups[g]) {
      vecs[g].push_back(audio::utterance_features(u.samples, cfg, window_frames).vector);
      for (float v : vecs[g].back()) vlo = std::min<double>(vlo, v), vhi = std::max<double>(vhi, v);
    }
  const std::int64_t nc = cfg.num_coeffs, mw = window_frames * 3, mh = nc * 3;
  const AudioLayout ml{pad, mw, mh, strip_height(2), strip_height(2), strip_height(2)};
  Canvas mv(pad + static_cast<std::int64_t>(max_cols) * (mw + pad), ml.height(groups.size()), 255);
  label_audio(mv, ml,
              fmt::format("model inputs: {} frames (right) x MFCC c1-c{} (up), one colour scale", window_frames, nc),
              titles, groups);
  for (std::size_t g = 0; g < groups.size(); ++g)
    for (std::size_t k = 0; k < vecs[g].size(); ++k) {
      std::vector<float> m(static_cast<std::size_t>(nc * window_frames));
      for (std::int64_t t = 0; t < window_frames; ++t)
        for (std::int64_t j = 0; j < nc; ++j) m[j * window_frames + t] = vecs[g][k][t * nc + j];
      draw_matrix(mv, pad + static_cast<std::int64_t>(k) * (mw + pad), ml.row_y(g), m, nc, window_frames, 3, 3, vlo, vhi,
                  true);
    }
  write_canvas(mv, mfcc_path);
}

// ---------------------------------------------------------------- printing
void print_pairs(const std::string& title, const dg::DigitPairDataset& ds) {
  std::cout << "\n" << title << " (speech scaling: " << dg::speech_scaling_name(ds.scaling) << ")\n";
  std::cout << fmt::format("  {:<8} {:>6}  {:>8} {:>12} {:>11}  {:>6}   pairs per digit 0..9\n", "split", "pairs",
                           "matched", "speech_noise", "image_noise", "noise");
  for (const dg::DigitPairs* p : {&ds.train, &ds.valid, &ds.test, &ds.heldout}) {
    if (p->size() == 0) continue;
    std::vector<std::int64_t> per(dg::kNumClasses, 0);
    for (std::int64_t y : p->labels.to_vector<std::int64_t>()) ++per[static_cast<std::size_t>(y)];
    std::cout << fmt::format("  {:<8} {:>6}  {:>8} {:>12} {:>11}  {:>5.1f}%   {}\n", p->name, p->size(),
                             p->count(dg::PairKind::matched), p->count(dg::PairKind::speech_noise),
                             p->count(dg::PairKind::image_noise), 100.0 * p->noise_share(), fmt::join(per, " "));
  }
}

int run_show(const std::string& cache, double noise_factor, std::uint64_t seed, std::int64_t pairs_per_image,
             const std::string& scaling_name, const std::string& out_dir) {
  const auto t0 = std::chrono::steady_clock::now();
  const dg::DigitSources src = dg::load_digit_sources(cache);
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "digit cache: " << cache << " (loaded in " << fmt::format("{:.2f}", load_s) << " s)\n";
  std::cout << "  " << src.source << "\n";
  std::cout << "  features: " << src.mfcc.describe() << ", " << src.window_frames << " frames -> "
            << src.speech.dim << " values\n";
  auto per_class = [](const std::vector<std::int64_t>& labels) {
    std::vector<std::int64_t> n(dg::kNumClasses, 0);
    for (std::int64_t y : labels) ++n[static_cast<std::size_t>(y)];
    return fmt::format("{}", fmt::join(n, " "));
  };
  std::map<std::string, int> speakers;
  for (const auto& s : src.speech.speakers) ++speakers[s];
  std::cout << fmt::format("  images   {:>6}  per digit {}\n", src.images.size(), per_class(src.images.labels));
  std::cout << fmt::format("  speech   {:>6}  per digit {}  ({} speakers)\n", src.speech.size(),
                           per_class(src.speech.labels), speakers.size());
  std::cout << fmt::format("  heldout  {:>6}  per digit {}  (real speaker, test only)\n", src.heldout.size(),
                           per_class(src.heldout.labels));

  dg::ImaConfig ima;
  ima.noise_factor = noise_factor;
  ima.seed = seed;
  ima.split.seed = seed;
  ima.scaling = dg::parse_speech_scaling(scaling_name, "--scaling");
  const dg::DigitPairDataset ima_set = dg::make_ima_pairs(src, ima);
  std::cout << fmt::format("\nsplits (seed {}): images {} / {} / {}, speakers {} / {} / {}, utterances {} / {} / {}\n",
                           seed, ima_set.splits.images[0].size(), ima_set.splits.images[1].size(),
                           ima_set.splits.images[2].size(), ima_set.splits.speakers[0].size(),
                           ima_set.splits.speakers[1].size(), ima_set.splits.speakers[2].size(),
                           ima_set.splits.speech[0].size(), ima_set.splits.speech[1].size(),
                           ima_set.splits.speech[2].size());
  std::cout << "  test speakers: " << fmt::format("{}", fmt::join(ima_set.splits.speakers[2], " ")) << "\n";
  print_pairs(fmt::format("IMA pairs, noise factor R = {} (noise share 2R/(1+R) = {:.1f}%)", noise_factor,
                          200.0 * noise_factor / (1.0 + noise_factor)),
              ima_set);
  dg::MfmConfig mfm;
  mfm.seed = seed;
  mfm.split.seed = seed;
  mfm.pairs_per_image = pairs_per_image;
  mfm.scaling = ima.scaling;
  print_pairs(fmt::format("MFM pairs (image + spoken digit of the same class, {} per image)", pairs_per_image),
              dg::make_mfm_pairs(src, mfm));

  if (out_dir.empty()) return 0;
  fs::create_directories(out_dir);
  std::cout << "\n";
  picture_images(ima_set.train, fs::path(out_dir) / "digits_images.png");
  // one training speaker's ten digits, the held-out speaker's, one noise utterance
  std::vector<std::vector<Utterance>> groups(1);
  // A plain espeak-ng voice when the training split has one (the split is drawn from the seed).
  std::string speaker = ima_set.splits.speakers[0].front();
  for (const char* plain : {"m3", "m1", "f1", "m4", "f2", "klatt"})
    if (std::count(ima_set.splits.speakers[0].begin(), ima_set.splits.speakers[0].end(), plain) > 0) {
      speaker = plain;
      break;
    }
  for (std::int64_t c = 0; c < dg::kNumClasses; ++c)
    for (std::int64_t i = 0; i < src.speech.size(); ++i)
      if (src.speech.speakers[i] == speaker && src.speech.labels[i] == c) {
        const auto w = audio::read_wav((fs::path(cache) / src.speech.wav_files[i]).string());
        groups[0].push_back({src.speech.ids[i], audio::resample(w.samples, w.sample_rate, src.mfcc.sample_rate)});
        break;
      }
  if (src.heldout.size() > 0) {
    groups.emplace_back();
    for (std::int64_t i = 0; i < src.heldout.size(); ++i) {
      const auto w = audio::read_wav((fs::path(cache) / src.heldout.wav_files[i]).string());
      groups.back().push_back({src.heldout.ids[i], audio::resample(w.samples, w.sample_rate, src.mfcc.sample_rate)});
    }
  }
  fg::Generator gen(seed);
  groups.push_back({{"noise", fg::randn({src.mfcc.sample_rate}, gen).to_vector<float>()}});
  std::vector<std::string> titles = {fmt::format("training speaker {} (espeak-ng)", speaker)};
  if (src.heldout.size() > 0) titles.push_back(fmt::format("held-out real speaker ({})", src.heldout.speakers.front()));
  titles.push_back("white noise, 1 s");
  picture_audio(groups, titles, src.mfcc, src.window_frames, fs::path(out_dir) / "digits_spectrograms.png",
                fs::path(out_dir) / "digits_mfcc.png");
  std::cout << "  spectrogram rows: " << speaker << " (training speaker)"
            << (src.heldout.size() > 0 ? ", held-out real speaker" : "") << ", white noise\n";
  return 0;
}

int run_plan(const std::string& cache, std::uint64_t seed, std::int64_t renderings, const std::string& variants_dir) {
  dg::BuildConfig cfg;
  cfg.seed = seed;
  cfg.renderings_per_speaker = renderings;
  if (!variants_dir.empty()) {  // keep the variants this espeak-ng installation has
    std::vector<std::string> kept;
    for (const auto& s : cfg.speakers)
      if (fs::exists(fs::path(variants_dir) / s)) kept.push_back(s);
      else std::cerr << "digits plan: espeak-ng variant '" << s << "' not found in " << variants_dir << ", skipped\n";
    cfg.speakers = kept;
  }
  const auto plan = dg::plan_renderings(cfg);
  fs::create_directories(cache);
  const fs::path path = fs::path(cache) / "plan.tsv";
  fg::io::write_output(path.string(), dg::format_plan(plan, cfg.gap_ms), "digits plan");
  std::cout << fmt::format("digits plan: {} renderings ({} speakers x {}) -> {}\n", plan.size(), cfg.speakers.size(),
                           renderings, path.string());
  return 0;
}

int run_build(const std::string& cache, bool heldout) {
  const auto t0 = std::chrono::steady_clock::now();
  dg::BuildPaths paths = dg::BuildPaths::under(cache);
  if (!heldout) paths.heldout_dir.clear();
  const dg::BuildReport r = dg::build_digit_cache(paths);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << fmt::format(
      "digits build: {} images, {} utterances from {} of {} renderings ({} speakers), {} held-out utterances "
      "-> {}/{} in {:.1f} s\n",
      r.images, r.utterances, r.renderings_used, r.renderings, r.speakers, r.heldout_utterances, cache,
      dg::kCacheFileName, s);
  std::cout << fmt::format("  word length: mean {:.2f} s, min {:.2f} s, max {:.2f} s; {} words have more active "
                           "frames than the {}-frame window (their edges are cut)\n",
                           r.mean_word_seconds, r.min_word_seconds, r.max_word_seconds, r.words_longer_than_window,
                           dg::kWindowFrames);
  for (const auto& p : r.problems) std::cout << "  left out: " << p << "\n";
  return 0;
}

int run_export(const std::string& cache, const std::string& file, bool mfm_set, double noise_factor,
               std::uint64_t seed, std::int64_t pairs_per_image, const std::string& scaling_name) {
  FG_CHECK(!file.empty(), "digits export: --file is required");
  const auto t0 = std::chrono::steady_clock::now();
  const dg::DigitSources src = dg::load_digit_sources(cache);
  const dg::SpeechScaling scaling = dg::parse_speech_scaling(scaling_name, "--scaling");
  dg::DigitPairDataset ds;
  std::string what;
  if (mfm_set) {
    dg::MfmConfig cfg;
    cfg.seed = cfg.split.seed = seed;
    cfg.pairs_per_image = pairs_per_image;
    cfg.scaling = scaling;
    ds = dg::make_mfm_pairs(src, cfg);
    what = fmt::format("MFM digit pairs (image + spoken digit of the same class, {} per image)", pairs_per_image);
  } else {
    dg::ImaConfig cfg;
    cfg.noise_factor = noise_factor;
    cfg.seed = cfg.split.seed = seed;
    cfg.scaling = scaling;
    ds = dg::make_ima_pairs(src, cfg);
    what = fmt::format("IMA digit pairs, noise factor R = {} (ids <split>/<row>/<matched|speech_noise|image_noise>)",
                       noise_factor);
  }
  const fg::data::MultimodalDataset out{dg::to_multimodal_split(ds.train), dg::to_multimodal_split(ds.valid),
                                        dg::to_multimodal_split(ds.test)};
  fg::data::H5WriteOptions opts;
  opts.source = fmt::format("fusegrad digits: {}; seed {}; speech scaling {} (fitted on train); {}", what, seed,
                            dg::speech_scaling_name(scaling), src.source);
  fg::data::write_h5_dataset(file, out, opts);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << fmt::format("digits export: {} / {} / {} pairs -> {} ({:.1f} MB) in {:.1f} s\n", ds.train.size(),
                           ds.valid.size(), ds.test.size(), file,
                           static_cast<double>(fs::file_size(file)) / 1e6, s);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fusegrad's embedded digit datasets (MNIST images + spoken digits): print them and draw pictures, or "
               "build the cache (tools/build_digits.sh runs `plan` and `build`)"};
  fg::cli::setup(app, "digits");  // examples/common/cli.h: --version, exit codes 0/1/2, defaults in --help
  app.require_subcommand(0, 1);
  app.fallthrough();  // `digits plan --cache DIR`: the subcommands take the main options too
  std::string cache = dg::default_cache_dir();
  app.add_option("--cache", cache, "cache folder holding digits.h5 (default: $FUSEGRAD_DATA/digits, else "
                                   "<source>/data/cache/digits)")
      ->capture_default_str();
  double noise_factor = 0.1;
  std::uint64_t seed = 0;
  std::int64_t pairs_per_image = 1;
  std::string scaling = "unit_range", out_dir = "digits_out";
  app.add_option("--noise-factor", noise_factor, "IMA noise factor R in [0, 1]: per digit N R image+noise-speech and "
                                                 "N R noise-image+speech pairs next to N (1 - R) matched ones")
      ->check(fg::cli::finite_range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--seed", seed, "seed of the splits, the pairing and the noise (>= 0)")
      ->check(fg::cli::seed())
      ->capture_default_str();
  app.add_option("--pairs-per-image", pairs_per_image, "MFM pairs: spoken digits per image")
      ->check(fg::cli::int_range(1, 1000))
      ->capture_default_str();
  app.add_option("--scaling", scaling, "speech scaling fitted on the training split: none, unit_range (min-max to "
                                       "[0, 1], for BCE) or standardize")
      ->check(CLI::IsMember({"none", "unit_range", "standardize"}))
      ->capture_default_str();
  app.add_option("--out", out_dir, "folder for the PNG pictures ('' writes none)")->capture_default_str();

  CLI::App* plan = app.add_subcommand("plan", "write <cache>/plan.tsv: the espeak-ng renderings to make");
  std::int64_t renderings = 2;
  std::string variants_dir;
  plan->add_option("--renderings", renderings, "renderings (accent, speed, pitch) per speaker")
      ->check(fg::cli::int_range(1, 1000))
      ->capture_default_str();
  plan->add_option("--variants-dir", variants_dir, "espeak-ng's voices/!v folder: speakers missing there are skipped");
  CLI::App* build = app.add_subcommand("build", "cut the rendered WAVs into words, compute MFCCs, read MNIST, write "
                                                "<cache>/digits.h5");
  bool no_heldout = false;
  build->add_flag("--no-heldout", no_heldout, "leave the held-out real speaker out even if its WAVs are there");
  CLI::App* exp = app.add_subcommand("export", "write one pair set (train / valid / test) in fusegrad's HDF5 "
                                              "dataset format (docs/data-format.md)");
  std::string export_file;
  bool mfm_set = false;
  exp->add_option("--file", export_file, "output .h5 file (a regular file: written by libhdf5)")->required();
  exp->add_flag("--mfm", mfm_set, "the MFM pairs instead of the IMA pairs");
  CLI::App* describe = app.add_subcommand("describe", "print the feature pipeline's settings and the cache format");
  // Every output is checked before any work (exit status 2): the pictures' folder (created
  // if missing), the cache folder that plan and build write into, export's --file.
  const auto validate = [&] {
    if (describe->parsed()) return;
    if (plan->parsed() || build->parsed()) {
      fg::cli::check_output_folder(cache, "--cache");
      if (fs::is_directory(cache))
        fg::cli::check_output_flag((fs::path(cache) / (plan->parsed() ? "plan.tsv" : dg::kCacheFileName)).string(),
                                   "--cache", fg::io::OutputUse::named_file);
    } else if (exp->parsed()) {
      fg::cli::check_output_flag(export_file, "--file", fg::io::OutputUse::named_file, /*optional=*/false);
    } else if (!out_dir.empty()) {
      fg::cli::check_output_folder(out_dir, "--out");
    }
  };
  return fg::cli::run_main(app, "digits", argc, argv, validate, [&] {
    if (describe->parsed()) {
      std::cout << fmt::format("{} v{}; {}; window_frames={}\n", dg::kCacheFormat, dg::kCacheFormatVersion,
                               audio::MfccConfig{}.describe(), dg::kWindowFrames);
      return 0;
    }
    if (plan->parsed()) return run_plan(cache, seed, renderings, variants_dir);
    if (build->parsed()) return run_build(cache, !no_heldout);
    if (exp->parsed()) return run_export(cache, export_file, mfm_set, noise_factor, seed, pairs_per_image, scaling);
    return run_show(cache, noise_factor, seed, pairs_per_image, scaling, out_dir);
  });
}
