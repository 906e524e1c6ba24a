// examples/mfm_digits.h: `mfm --digits`, paper 001's digit experiment (section 3.2, Figure 5)
// on our MNIST + spoken-digit pairs (data/digits.h, make_mfm_pairs): UM(image), UM(speech),
// MM and MFM (models/mfm_digits.h) over seeds, trained by harness::fit_digits (selection on
// valid accuracy; the test split scored once per run), the accuracy table (mean +- std, ddof
// 0, Figure 5b's analogue), and MFM's conditional generation (Figure 5c) as PNG grids:
//
//   <pictures>/fix_<factor>_image.png, fix_<factor>_speech.png  for factor z_y, z_a_image, z_a_speech
//   row r: the factor taken from the encoding of the first test pair of digit r (column 0 is
//   that pair's real image / MFCCs), columns 1..8: the two other factors drawn from N(0, I),
//   the SAME draws in every row of a column (so a column shares everything but the fixed factor).
//   Spoken digits as MFCC images: 12 coefficients (c_1 at the top) x 58 frames, 2x enlarged,
//   the unit_range-scaled values as gray levels.
// When the same seed also trained UM(image) / UM(speech), their classifiers label the generated
// samples: the share whose predicted digit is the row's digit is printed and written to the
// JSON ("label agreement"; chance 10 %).
// Included by examples/mfm.cpp only when the digit datasets are built (FUSEGRAD_WITH_DIGITS).
#pragma once

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "data/bitmap_font.h"
#include "data/digits.h"
#include "data/digits_png.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "examples/harness/harness.h"
#include "examples/harness/mfm_digits_fit.h"
#include "models/mfm_digits.h"

namespace mfm_digits {

struct Settings {
  std::vector<std::string> models = {"um_image", "um_speech", "mm", "mfm"};
  std::int64_t channels = 16, hidden = 128, factor = 16;
  std::vector<double> lambda_recon = {1.0, 1.0};  // image, speech
  double lambda_mmd = 1.0;
  std::string mmd_placement = "per_factor";
  std::int64_t epochs = 10, batch_size = 64;
  double lr = 1e-3;
  std::int64_t train_size = 0, valid_size = 0, test_size = 0;  // 0: the whole split
  std::string pictures;  // folder for the generation grids ("" = none)
};

inline fg::harness::DigitTensors tensors_of(const fg::data::digits::DigitPairs& s, std::int64_t n) {
  fg::harness::DigitTensors t{s.image, s.speech, s.labels.to(fg::DType::i64)};
  return n > 0 ? t.first(n) : t;
}

// Gray cells [rows][cols] of (h x w) values in [0, 1] -> one PNG with a 2 px gap, a digit
// label left of each row and a 1 px separator after column 0.
inline void write_grid(const std::string& path, const std::vector<std::vector<std::vector<float>>>& cells,
                       std::int64_t h, std::int64_t w, int scale) {
  const std::int64_t rows = static_cast<std::int64_t>(cells.size()), cols = static_cast<std::int64_t>(cells[0].size());
  const std::int64_t gap = 2, label = 10, ch = h * scale, cw = w * scale;
  const std::int64_t W = label + cols * (cw + gap) + gap + 2, H = rows * (ch + gap) + gap;
  std::vector<std::uint8_t> px(static_cast<std::size_t>(W * H), 255);
  const std::uint8_t black = 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    fg::data::font::draw_text(px, W, H, 1, 1, gap + r * (ch + gap) + (ch - 8) / 2, std::to_string(r), 1, &black);
    for (std::int64_t c = 0; c < cols; ++c) {
      const std::int64_t x0 = label + c * (cw + gap) + gap + (c > 0 ? 2 : 0), y0 = gap + r * (ch + gap);
      const auto& v = cells[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)];
      for (std::int64_t y = 0; y < ch; ++y)
        for (std::int64_t x = 0; x < cw; ++x) {
          const float g = std::clamp(v[static_cast<std::size_t>((y / scale) * w + x / scale)], 0.0f, 1.0f);
          px[static_cast<std::size_t>((y0 + y) * W + x0 + x)] = static_cast<std::uint8_t>(std::lround(255.0 * (1.0 - g)));
        }
    }
  }
  fg::data::png::write(path, px, W, H, 1);
}

// The 696-d speech vector ([frame * 12 + coefficient]) as a 12 x 58 picture (coefficients down).
inline std::vector<float> mfcc_picture(const std::vector<float>& v, std::int64_t frames, std::int64_t coeffs) {
  std::vector<float> out(static_cast<std::size_t>(frames * coeffs));
  for (std::int64_t f = 0; f < frames; ++f)
    for (std::int64_t c = 0; c < coeffs; ++c)
      out[static_cast<std::size_t>(c * frames + f)] = v[static_cast<std::size_t>(f * coeffs + c)];
  return out;
}

struct Trained {
  std::string model;
  std::uint64_t seed;
  std::shared_ptr<fg::models::MfmDigits> net;
};

// Figure 5c for one trained MFM; returns the JSON of what was written and measured.
inline nlohmann::json generation(const Settings& s, const fg::models::MfmDigits& mfm, const fg::harness::DigitTensors& test,
                                 const std::vector<Trained>& same_seed, std::uint64_t seed, std::int64_t frames,
                                 std::int64_t coeffs, fg::Device device, std::ostream& human) {
  using namespace fg;
  const auto& c = mfm.config();
  const auto labels = test.labels.to_vector<std::int64_t>();
  std::vector<std::int64_t> rows;
  for (std::int64_t d = 0; d < c.num_classes; ++d) {
    const auto it = std::find(labels.begin(), labels.end(), d);
    FG_CHECK(it != labels.end(), "mfm --digits: the test split has no pair of digit {}", d);
    rows.push_back(it - labels.begin());
  }
  const std::int64_t R = static_cast<std::int64_t>(rows.size()), K = 8;
  NoGradGuard ng;
  const harness::DigitTensors src = test.rows(rows).to(device);
  const auto enc = mfm.forward(src.image, src.speech);
  Generator gen(data::derive_seed(seed, 4000));
  const TensorOptions o{enc.factors[0].second.dtype(), device, false};
  // K draws of each factor, shared by all rows: [K, d]
  std::vector<Tensor> draws;
  for (const auto& f : enc.factors) draws.push_back(randn({K, f.second.size(1)}, gen, o));
  nlohmann::json j = nlohmann::json::object();
  const std::vector<std::string> names = {"z_y", "z_a_image", "z_a_speech"};
  std::map<std::string, std::shared_ptr<models::MfmDigits>> judges;
  for (const auto& t : same_seed)
    if (t.seed == seed && (t.model == "um_image" || t.model == "um_speech")) judges[t.model] = t.net;
  const auto src_img = src.image.to(Device::cpu()).to_vector<float>();
  const auto src_sp = src.speech.to(Device::cpu()).to_vector<float>();
  const std::int64_t P = c.image_side * c.image_side, S = c.speech_dim;
  for (std::size_t fixed = 0; fixed < 3; ++fixed) {
    // rows x K codes: the fixed factor repeated along columns, the others from the draws
    std::vector<Tensor> z(3);
    for (std::size_t k = 0; k < 3; ++k) {
      const Tensor& e = enc.factors[k].second;  // [R, d]
      const std::int64_t d = e.size(1);
      std::vector<std::int64_t> idx;
      for (std::int64_t r = 0; r < R; ++r)
        for (std::int64_t q = 0; q < K; ++q) idx.push_back(k == fixed ? r : q);
      (void)d;
      z[k] = index_select(k == fixed ? e : draws[k], 0, from_vector(idx, {R * K}, TensorOptions{DType::i64, device}));
    }
    const auto [gi, gs] = mfm.generate(z[0], z[1], z[2]);
    const auto vi = gi.to(Device::cpu()).to_vector<float>(), vs = gs.to(Device::cpu()).to_vector<float>();
    std::vector<std::vector<std::vector<float>>> img(static_cast<std::size_t>(R)), sp(static_cast<std::size_t>(R));
    for (std::int64_t r = 0; r < R; ++r) {
      img[r].emplace_back(src_img.begin() + r * P, src_img.begin() + (r + 1) * P);
      sp[r].push_back(mfcc_picture(std::vector<float>(src_sp.begin() + r * S, src_sp.begin() + (r + 1) * S), frames, coeffs));
      for (std::int64_t k = 0; k < K; ++k) {
        const std::int64_t q = r * K + k;
        img[r].emplace_back(vi.begin() + q * P, vi.begin() + (q + 1) * P);
        sp[r].push_back(mfcc_picture(std::vector<float>(vs.begin() + q * S, vs.begin() + (q + 1) * S), frames, coeffs));
      }
    }
    nlohmann::json fj;
    if (!s.pictures.empty()) {
      const std::string pi = (std::filesystem::path(s.pictures) / ("fix_" + names[fixed] + "_image.png")).string();
      const std::string ps = (std::filesystem::path(s.pictures) / ("fix_" + names[fixed] + "_speech.png")).string();
      write_grid(pi, img, c.image_side, c.image_side, 1);
      write_grid(ps, sp, coeffs, frames, 2);
      fj["image_png"] = pi;
      fj["speech_png"] = ps;
    }
    // label agreement: do the UM classifiers read the row's digit in the generated samples?
    std::vector<std::int64_t> want;
    for (std::int64_t r = 0; r < R; ++r)
      for (std::int64_t k = 0; k < K; ++k) want.push_back(r);
    const Tensor y = from_vector(want, {R * K}, TensorOptions{DType::i64, device});
    std::string line = fmt::format("  fix {:<10}", names[fixed]);
    for (const bool image_judge : {true, false}) {
      const std::string judge = image_judge ? "um_image" : "um_speech";
      if (!judges.count(judge)) continue;
      const harness::DigitTensors g{image_judge ? gi : Tensor(), image_judge ? Tensor() : gs, y};
      const double a = harness::digit_accuracy(*judges.at(judge), g, 256, device);
      fj[image_judge ? "label_agreement_image" : "label_agreement_speech"] = a;
      line += fmt::format("  {} reads the row's digit in {:5.1f} % of the generated {}",
                          image_judge ? "UM(image)" : "UM(speech)", 100 * a, image_judge ? "images" : "MFCCs");
    }
    human << line << "\n";
    j["fix_" + names[fixed]] = fj;
  }
  return j;
}

inline std::string mean_std(const std::vector<double>& v) {
  double m = 0, sd = 0;
  for (double x : v) m += x;
  m /= static_cast<double>(v.size());
  for (double x : v) sd += (x - m) * (x - m);
  return fmt::format("{:.4f} +- {:.4f}", m, std::sqrt(sd / static_cast<double>(v.size())));
}

// The whole study. Returns the exit status (0).
inline int run(const fg::harness::HarnessOptions& h, const Settings& s, std::ostream& human, bool quick) {
  using namespace fg;
  namespace dg = data::digits;
  const auto t0 = harness::Clock::now();
  const Device device = parse_device(h.device);
  const dg::DigitSources sources = dg::load_digit_sources();
  dg::MfmConfig pc;
  pc.seed = h.seed;
  pc.split.seed = h.seed;
  const dg::DigitPairDataset pairs = dg::make_mfm_pairs(sources, pc);
  const auto train = tensors_of(pairs.train, s.train_size), valid = tensors_of(pairs.valid, s.valid_size),
             test = tensors_of(pairs.test, s.test_size);
  human << fmt::format("mfm --digits: MNIST images + spoken digits (MFM pairs, data seed {}): {} / {} / {} pairs "
                       "(train / valid / test), speech {}-d ({} frames x {} MFCCs, unit_range)\n",
                       h.seed, train.size(), valid.size(), test.size(), sources.speech.dim, sources.window_frames,
                       sources.mfcc.num_coeffs);
  if (!s.pictures.empty()) std::filesystem::create_directories(s.pictures);
  const auto seeds = harness::run_seeds(h);
  std::vector<Trained> trained;
  nlohmann::json runs = nlohmann::json::array();
  std::map<std::string, std::vector<double>> acc, vacc, secs;
  std::map<std::string, std::int64_t> params;
  nlohmann::json gen_json = nlohmann::json::array();
  for (std::uint64_t seed : seeds) {
    for (const std::string& m : s.models) {
      models::MfmDigitsConfig c;
      c.model = models::parse_digit_model(m);
      c.speech_dim = sources.speech.dim;
      c.channels = s.channels;
      c.hidden = s.hidden;
      c.zy_size = c.za_image = c.za_speech = c.fy_size = c.fa_image = c.fa_speech = s.factor;
      c.lambda_image = s.lambda_recon[0];
      c.lambda_speech = s.lambda_recon[1];
      c.lambda_mmd = s.lambda_mmd;
      c.mmd_placement = models::parse_mmd_placement(s.mmd_placement);
      auto net = harness::build_digit_model(c, seed, device);
      harness::DigitFitOptions fo;
      fo.epochs = s.epochs;
      fo.batch_size = s.batch_size;
      fo.lr = s.lr;
      fo.seed = seed;
      fo.device = device;
      fo.quiet = h.quiet;
      fo.name = fmt::format("{} seed {}", models::digit_model_label(c.model), seed);
      const auto r = harness::fit_digits(*net, train, valid, fo);
      const double a = harness::digit_accuracy(*net, test, 256, device);  // the test split, once
      const std::string label = models::digit_model_label(c.model);
      acc[label].push_back(a);
      vacc[label].push_back(r.best_valid_accuracy);
      secs[label].push_back(r.seconds);
      params[label] = r.parameters;
      nlohmann::json hist = nlohmann::json::array();
      for (const auto& e : r.history)
        hist.push_back({{"epoch", e.epoch}, {"train_loss", e.train_loss}, {"train_terms", e.train_terms},
                        {"valid_accuracy", e.valid_accuracy}, {"seconds", e.seconds}});
      runs.push_back({{"model", m}, {"label", label}, {"seed", seed}, {"test_accuracy", a},
                      {"best_epoch", r.best_epoch}, {"valid_accuracy", r.best_valid_accuracy},
                      {"parameters", r.parameters}, {"steps", r.steps}, {"seconds", r.seconds}, {"history", hist}});
      if (!h.quiet)
        human << fmt::format("{}: test accuracy {:.4f} (best valid {:.4f} at epoch {})\n", fo.name, a,
                             r.best_valid_accuracy, r.best_epoch);
      trained.push_back({m, seed, net});
    }
  }
  std::string table = fmt::format(
      "\ndigit classification, test split ({} pairs), mean +- std over {} seed(s) (ddof 0), model chosen on valid "
      "accuracy:\n{:<11} {:>18} {:>18} {:>11} {:>14}\n",
      test.size(), seeds.size(), "model", "test accuracy", "valid accuracy", "parameters", "train s");
  nlohmann::json summary = nlohmann::json::object();
  for (const std::string& m : s.models) {
    const std::string label = models::digit_model_label(models::parse_digit_model(m));
    table += fmt::format("{:<11} {:>18} {:>18} {:>11} {:>14}\n", label, mean_std(acc[label]), mean_std(vacc[label]),
                         params[label], mean_std(secs[label]));
    summary[label] = {{"test_accuracy", acc[label]}, {"valid_accuracy", vacc[label]}, {"parameters", params[label]}};
  }
  table += "chance      0.1000\n";
  human << table;
  // Figure 5c: the first seed's MFM
  for (const Trained& t : trained)
    if (t.model == "mfm") {
      human << fmt::format("conditional generation (MFM seed {}, one fixed factor, the others from N(0, I)){}:\n",
                           t.seed, s.pictures.empty() ? " (no --pictures: PNGs not written)" : "");
      nlohmann::json g = generation(s, *t.net, test, trained, t.seed, sources.window_frames, sources.mfcc.num_coeffs,
                                    device, human);
      g["seed"] = t.seed;
      gen_json.push_back(g);
      if (!s.pictures.empty()) human << "pictures written to " << s.pictures << "/fix_*_{image,speech}.png\n";
      break;
    }
  human << fmt::format("mfm --digits: {}; total {:.1f} s\n", quick ? "--quick settings" : "settings above",
                       harness::seconds_since(t0));
  if (!h.out.empty()) {
    nlohmann::json j = {{"example", "mfm"},
                        {"mode", "digits"},
                        {"settings",
                         {{"models", s.models}, {"channels", s.channels}, {"hidden", s.hidden}, {"factor", s.factor},
                          {"lambda_recon", s.lambda_recon}, {"lambda_mmd", s.lambda_mmd},
                          {"mmd_placement", s.mmd_placement}, {"epochs", s.epochs}, {"batch_size", s.batch_size},
                          {"lr", s.lr}, {"data_seed", h.seed}, {"seeds", seeds}, {"quick", quick},
                          {"pairs", {train.size(), valid.size(), test.size()}}}},
                        {"runs", runs},
                        {"summary_test", summary},
                        {"summary_ddof", 0},
                        {"generation", gen_json},
                        {"build", harness::provenance_json(h)},
                        {"seconds", harness::seconds_since(t0)}};
    io::write_outputs({{h.out, j.dump(2) + "\n", "--out"}});
    if (h.out != "-") human << "results written to " << h.out << "\n";
  }
  return 0;
}

}  // namespace mfm_digits
