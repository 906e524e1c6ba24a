// examples/mfm: paper 001's Multimodal Factorization Model (models/mfm.h, docs/mfm.md) on the
// shared harness (examples/harness/), next to its MFN baseline.
//
//   mfm                          # the full model (--variant full) and the MFN baseline
//   mfm --variant C              # one ablation
//   mfm --ablation --seeds 0,1,2,3,4   # Table 2's analogue: MFN, MFM, M_A .. M_E, mean +- std
//   mfm --ablation --quick       # a few minutes on 2 cores (smaller settings, seeds 0,1,2)
//   mfm --mmd-placement joint    # the paper's eq. 4 (one MMD on the joint Z) instead of the code's
//   mfm --digits --pictures DIR  # section 3.2 on MNIST + spoken digits: UM(image), UM(speech), MM, MFM
//                                # accuracies and MFM's conditional generation grids (examples/mfm_digits.h)
//
// Every run is a harness run (fit(): checkpoints, Ctrl-C, JSONL log; test scored once), so the
// harness flags all apply (--epochs, --lr, --data, --corpus, --out, --curves, --device, ...).
// After the table the program says which of the paper's four ablation trends held (by mean
// test MAE).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "data/batching.h"
#include "data/synthetic.h"
#include "engine/io/output_file.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "examples/common/cli.h"
#include "examples/estimators_svg.h"
#include "examples/harness/harness.h"
#include "examples/harness/mfm_task.h"
#include "models/mfm.h"
#ifdef FUSEGRAD_WITH_DIGITS
#include "examples/mfm_digits.h"
#endif

namespace {

using fg::harness::RunResult;

// --quick: every setting below unless given on the command line (or --config).
struct Quick {
  static constexpr std::int64_t epochs = 5, train_size = 200, valid_size = 100, test_size = 200;
};
// --digits: its defaults, and its --quick (test: the whole split)
struct Digits {
  static constexpr std::int64_t epochs = 10, batch_size = 64;
  static constexpr std::int64_t quick_epochs = 4, quick_train = 2000, quick_valid = 500;
};

struct Options : fg::harness::HarnessOptions {
  Options() { program = "mfm"; }
  std::string variant = "full";
  bool ablation = false;
  bool no_baseline = false;
  bool quick = false;
  std::string mmd_placement = "per_factor";
  double lambda_mmd = 1.0;
  std::vector<double> lambda_recon = {1.0, 0.01, 0.5};
  std::vector<std::int64_t> hidden = {88, 64, 48};
  std::int64_t memory = 64;
  double dropout = 0.2;
  bool interpret = false;
  double hsic_sigma = 1.0;
  bool digits = false;
  std::vector<std::string> digit_models = {"um_image", "um_speech", "mm", "mfm"};
  std::int64_t cnn_channels = 16, fc_hidden = 128, factor_size = 16;
  std::string pictures;
};

void add_flags(CLI::App& app, Options& o) {
  app.description(
      "Paper 001: the Multimodal Factorization Model (MFN encoder for the multimodal discriminative factor, one LSTM "
      "encoder per modality for the generative factors, LSTM decoders; L1 + reconstruction + MMD to N(0, I)) and its "
      "ablations M_A..M_E, next to the MFN baseline, on the shared harness. Defaults: the authors' MOSI settings.");
  fg::harness::add_harness_flags(app, o);
  app.add_option("--variant", o.variant, "full, or an ablation A, B, C, D, E (docs/mfm.md)")
      ->check(CLI::IsMember({"full", "A", "B", "C", "D", "E"}))
      ->capture_default_str();
  app.add_flag("--ablation", o.ablation, "Run MFN, MFM and M_A..M_E (Table 2's analogue); overrides --variant");
  app.add_flag("--no-baseline", o.no_baseline, "Do not train the MFN baseline");
  app.add_flag("--quick", o.quick,
               fmt::format("A few minutes on 2 CPU cores: --epochs {}, --train-size {} --valid-size {} --test-size {}, "
                           "--seeds 0,1,2; a flag given explicitly wins",
                           Quick::epochs, Quick::train_size, Quick::valid_size, Quick::test_size));
  app.add_option("--mmd-placement", o.mmd_placement,
                 "per_factor (the authors' code: one MMD per factor, summed) or joint (the paper: one on [Z_y, Z_a])")
      ->check(CLI::IsMember({"per_factor", "joint"}))
      ->capture_default_str();
  app.add_option("--lambda-mmd", o.lambda_mmd, "Weight of the MMD term")
      ->check(fg::cli::finite_range(0.0, 1e6))
      ->capture_default_str();
  fg::cli::add_list(app, "--lambda-recon", o.lambda_recon, "Weight of each modality's reconstruction MSE")
      ->capture_default_str();
  fg::cli::add_list(app, "--hidden", o.hidden, "MFN's LSTM widths (also the MFM encoders' and the baseline's)")
      ->check(fg::cli::int_range(1, 100000))
      ->capture_default_str();
  app.add_option("--memory", o.memory, "MFN's memory size in MFM")->check(fg::cli::int_range(1, 100000))->capture_default_str();
  app.add_flag("--interpret", o.interpret,
               "After training, the dependency ratios r_i = nHSIC(F_y, X^_i) / nHSIC(F_a_i, X^_i) of every trained "
               "MFM (full) on the test split, mean +- std over seeds, and eq. 7's gradient flow of the first 4 test "
               "utterances in the JSON (section 3.4)");
  app.add_option("--hsic-sigma", o.hsic_sigma, "RBF bandwidth of --interpret (supplement F: 1.0; 0: median heuristic)")
      ->check(fg::cli::finite_range(0.0, 1e6))
      ->capture_default_str();
  app.add_flag("--digits", o.digits,
               fmt::format("Section 3.2 on the digit pairs (MNIST image + spoken digit, docs/digits.md): UM(image), "
                           "UM(speech), MM and MFM accuracies (selection on valid accuracy) and MFM's conditional "
                           "generation; defaults --epochs {} --batch-size {}, all pairs; --lambda-recon takes image, "
                           "speech (default 1,1); with --quick: --epochs {}, {} / {} train / valid pairs, seeds 0,1,2",
                           Digits::epochs, Digits::batch_size, Digits::quick_epochs, Digits::quick_train,
                           Digits::quick_valid));
  fg::cli::add_list(app, "--digit-models", o.digit_models, "--digits: which of um_image, um_speech, mm, mfm to train")
      ->capture_default_str();
  app.add_option("--cnn-channels", o.cnn_channels, "--digits: c, the image CNNs' channels (c, then 2c)")
      ->check(fg::cli::int_range(1, 4096))
      ->capture_default_str();
  app.add_option("--fc-hidden", o.fc_hidden, "--digits: the trunks' width (image CNN's Linear, speech FCNN)")
      ->check(fg::cli::int_range(1, 100000))
      ->capture_default_str();
  app.add_option("--factor-size", o.factor_size, "--digits: d(Z_y) = d(Z_a_i) = d(F_y) = d(F_a_i)")
      ->check(fg::cli::int_range(1, 100000))
      ->capture_default_str();
  app.add_option("--pictures", o.pictures,
                 "Folder for pictures: --digits' conditional generation grids (fix_<factor>_{image,speech}.png), "
                 "--interpret's gradient-flow plots on the synthetic corpus (flow_test<row>.svg)");
  app.add_option("--dropout", o.dropout, "Dropout inside MFM's G_* and D")
      ->check(fg::cli::finite_range(0.0, 0.95))
      ->capture_default_str();
}

void validate(CLI::App& app, Options& o) {
  if (o.digits) {
    for (const char* f : {"--ablation", "--interpret", "--variant", "--data", "--corpus", "--no-baseline", "--hidden",
                          "--memory", "--curves", "--resume", "--checkpoint"})
      if (app.count(f))
        throw fg::cli::UsageError(fmt::format("{} does not apply to --digits (the digit experiment trains UM(image), "
                                              "UM(speech), MM and MFM on the digit pairs)", f));
    for (const std::string& m : o.digit_models)
      if (m != "um_image" && m != "um_speech" && m != "mm" && m != "mfm")
        throw fg::cli::UsageError(
            fmt::format("--digit-models: '{}' is unknown: expected um_image, um_speech, mm or mfm", m));
    if (app.count("--lambda-recon") && o.lambda_recon.size() != 2 && o.lambda_recon.size() != 1)
      throw fg::cli::UsageError(fmt::format(
          "--lambda-recon: --digits takes one weight or two (image, speech), got {}", o.lambda_recon.size()));
    if (!app.count("--lambda-recon")) o.lambda_recon = {1.0, 1.0};
    if (o.lambda_recon.size() == 1) o.lambda_recon.push_back(o.lambda_recon[0]);
    if (!app.count("--epochs")) o.epochs = o.quick ? Digits::quick_epochs : Digits::epochs;
    if (!app.count("--batch-size")) o.batch_size = Digits::batch_size;
    if (!app.count("--train-size")) o.train_size = o.quick ? Digits::quick_train : 0;
    if (!app.count("--valid-size")) o.valid_size = o.quick ? Digits::quick_valid : 0;
    if (!app.count("--test-size")) o.test_size = 0;
    if (o.quick && !app.count("--seeds")) o.seeds = {0, 1, 2};
#ifndef FUSEGRAD_WITH_DIGITS
    throw fg::cli::UsageError("--digits: this build has no digit datasets (FFTW, libfftw3-dev, was not found)");
#endif
  }
  if (!o.pictures.empty()) {  // before any work
    std::error_code ec;
    std::filesystem::create_directories(o.pictures, ec);
    if (ec || !std::filesystem::is_directory(o.pictures))
      throw fg::cli::UsageError(fmt::format("--pictures: cannot create the folder '{}'{}", o.pictures,
                                            ec ? ": " + ec.message() : std::string()));
  }
  if (o.quick && !o.digits) {
    if (!app.count("--epochs")) o.epochs = Quick::epochs;
    if (!app.count("--train-size")) o.train_size = Quick::train_size;
    if (!app.count("--valid-size")) o.valid_size = Quick::valid_size;
    if (!app.count("--test-size")) o.test_size = Quick::test_size;
    if (!app.count("--seeds")) o.seeds = {0, 1, 2};
  }
  for (double l : o.lambda_recon)
    if (!(l >= 0)) throw fg::cli::UsageError(fmt::format("--lambda-recon: every weight must be >= 0, got {}", l));
  fg::harness::check_harness_flags(o);
}

nlohmann::json options_json(const Options& o) {
  return {{"variant", o.variant},       {"ablation", o.ablation},   {"quick", o.quick},
          {"baseline", !o.no_baseline}, {"mmd_placement", o.mmd_placement}, {"lambda_mmd", o.lambda_mmd},
          {"lambda_recon", o.lambda_recon}, {"hidden", o.hidden},   {"memory", o.memory},
          {"dropout", o.dropout},       {"seed", o.seed},           {"seeds", fg::harness::run_seeds(o)},
          {"epochs", o.epochs},         {"batch_size", o.batch_size}, {"optimizer", o.optimizer},
          {"lr", o.lr},                 {"data", o.data},           {"corpus", o.corpus},
          {"train_size", o.train_size}, {"valid_size", o.valid_size}, {"test_size", o.test_size},
          {"device", o.device},         {"interpret", o.interpret}, {"hsic_sigma", o.hsic_sigma}};
}

std::string run_name(const std::string& v) { return v == "full" ? "MFM" : "M_" + v; }

// The paper's four trends (section 3.3), by mean test MAE (lower is better).
std::string trends(const fg::harness::Report& rep, nlohmann::json& out) {
  std::map<std::string, std::pair<double, int>> acc;
  for (const RunResult& r : rep.runs) acc[r.spec.name].first += r.test.mae, acc[r.spec.name].second += 1;
  auto mae = [&](const std::string& n) { return acc.at(n).first / acc.at(n).second; };
  struct Trend {
    const char* text;
    std::vector<std::pair<std::string, std::string>> better_worse;
  };
  const std::vector<Trend> ts = {
      {"1) a multimodal discriminative factor beats modality-specific ones", {{"M_E", "M_D"}, {"M_C", "M_B"}}},
      {"2) adding the generative objective helps the discriminative task", {{"M_C", "M_E"}, {"M_B", "M_D"}}},
      {"3) factorizing into generative and discriminative factors helps", {{"M_A", "M_C"}}},
      {"4) modality-specific generative factors beat one multimodal one", {{"MFM", "M_A"}}},
  };
  std::string s = "paper 001's ablation trends (mean test MAE, lower is better):\n";
  out = nlohmann::json::array();
  for (const Trend& t : ts) {
    bool held = true;
    std::string detail;
    for (const auto& [b, w] : t.better_worse) {
      held = held && mae(b) < mae(w);
      detail += fmt::format("  {} {:.4f} vs {} {:.4f}", b, mae(b), w, mae(w));
    }
    s += fmt::format("  {}: {}{}\n", t.text, held ? "HELD" : "did not hold", detail);
    out.push_back({{"trend", t.text}, {"held", held}});
  }
  return s;
}

// --interpret: r_i of every trained full MFM on the test split (one batch, eval mode).
// The flow of one utterance over its valid steps (log10, per modality) with the construction's
// bump h_t (right axis) as an SVG.
std::string flow_svg(const std::string& title, const std::vector<std::string>& names,
                     const std::vector<std::vector<double>>& flows, double peak, double width) {
  const std::size_t L = flows.at(0).size();
  std::vector<double> xs(L), bump(L);
  for (std::size_t t = 0; t < L; ++t) {
    xs[t] = static_cast<double>(t);
    const double d = (static_cast<double>(t) - peak * static_cast<double>(L)) / (width * static_cast<double>(L));
    bump[t] = std::exp(-0.5 * d * d);
  }
  const std::vector<std::string> colors = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd"};
  std::vector<fg::examples::PlotSeries> series;
  for (std::size_t i = 0; i < names.size(); ++i) {
    std::vector<double> y(L);
    for (std::size_t t = 0; t < L; ++t) y[t] = std::log10(std::max(flows[i][t], 1e-30));
    series.push_back({names[i], colors[i % colors.size()], y});
  }
  series.push_back({"expression bump h_t", "#555555", bump, true, true});
  fg::examples::PlotLayout layout;
  layout.title = title;
  layout.x_title = "step t";
  layout.y_title = "log10 ||d x^_t / d f_y||_F^2";
  layout.y2_title = "h_t (construction)";
  layout.y_include_zero = false;
  return fg::examples::svg_line_plot(xs, series, layout);
}

std::string interpret(const Options& o, const fg::harness::Report& rep,
                      const std::vector<std::shared_ptr<fg::models::MFM>>& built, const fg::harness::LoadedData& d,
                      const std::vector<std::string>& names, const fg::data::SyntheticConfig& sc, nlohmann::json& json) {
  std::vector<const RunResult*> mfm_runs;
  for (const RunResult& r : rep.runs)
    if (r.spec.model == "mfm") mfm_runs.push_back(&r);
  FG_CHECK(mfm_runs.size() == built.size(), "mfm --interpret: {} MFM runs but {} models built", mfm_runs.size(),
           built.size());
  std::vector<std::int64_t> rows(static_cast<std::size_t>(d.data.test.size()));
  for (std::size_t k = 0; k < rows.size(); ++k) rows[k] = static_cast<std::int64_t>(k);
  const fg::data::Batch batch = fg::data::gather_batch(d.data.test, rows, true, fg::parse_device(o.device));
  std::vector<std::vector<double>> ry(names.size()), ra(names.size()), rr(names.size());
  nlohmann::json per_run = nlohmann::json::array();
  // The synthetic corpus's construction (regenerated from the same settings; its test labels
  // must be the ones trained on): which modality carries how much sentiment, where it peaks.
  const bool synthetic = d.info.value("kind", std::string()) == "synthetic";
  fg::data::SyntheticConfig scfg = sc;
  fg::data::SyntheticTruth truth;
  std::vector<double> peak, peak_width;
  if (synthetic) {
    scfg.seed = o.seed;
    scfg.train_size = o.train_size, scfg.valid_size = o.valid_size, scfg.test_size = o.test_size;
    const fg::data::SyntheticDataset syn = fg::data::make_synthetic_dataset(scfg);
    FG_CHECK(syn.data.test.labels.to_vector<float>() == d.data.test.labels.to_vector<float>(),
             "mfm --interpret: the regenerated synthetic test split differs from the one trained on");
    truth = syn.test_truth;
    for (float v : truth.peak.to_vector<float>()) peak.push_back(v);
    for (float v : truth.peak_width.to_vector<float>()) peak_width.push_back(v);
  }
  std::vector<std::vector<double>> hits(names.size()), chance(names.size()), argmax_frac(names.size());
  double mean_peak = 0;
  constexpr std::int64_t kPeakSteps = 2;
  for (std::size_t k = 0; k < built.size(); ++k) {
    const auto& m = *built[k];
    if (m.config().variant != fg::models::MfmVariant::Full) continue;
    built[k]->eval();
    fg::NoGradGuard ng;
    const auto out = built[k]->forward_all(batch);
    const auto r = fg::models::mfm_dependency_ratios(m.config(), batch, out, o.hsic_sigma);
    for (std::size_t i = 0; i < names.size(); ++i)
      ry[i].push_back(r.dep_y[i]), ra[i].push_back(r.dep_a[i]), rr[i].push_back(r.ratio[i]);
    // eq. 7 on the first few test utterances: per modality, the per-step squared Frobenius
    // norm of d x^_i^t / d f_y over each utterance's valid steps
    const auto flows = fg::models::mfm_gradient_flow(m, out, batch.features[0].size(1));
    const auto lengths = batch.lengths.defined() ? batch.lengths.to_vector<std::int64_t>() : std::vector<std::int64_t>{};
    nlohmann::json flow_json = nlohmann::json::object();
    for (std::size_t i = 0; i < names.size() && i < flows.size(); ++i) {
      const auto v = flows[i].to_vector<double>();
      const std::int64_t T = flows[i].size(1);
      nlohmann::json utts = nlohmann::json::array();
      for (std::int64_t u = 0; u < std::min<std::int64_t>(4, batch.size()); ++u) {
        const std::int64_t L = lengths.empty() ? T : lengths[static_cast<std::size_t>(u)];
        utts.push_back(std::vector<double>(v.begin() + u * T, v.begin() + u * T + L));
      }
      flow_json[names[i]] = utts;
    }
    nlohmann::json peak_json = nlohmann::json::object();
    if (synthetic) {
      for (std::size_t i = 0; i < names.size() && i < flows.size(); ++i) {
        const auto c = fg::models::mfm_flow_peak_check(flows[i], lengths, peak, kPeakSteps);
        hits[i].push_back(c.hit_rate), chance[i].push_back(c.chance), argmax_frac[i].push_back(c.mean_argmax_fraction);
        mean_peak = c.mean_peak_fraction;
        peak_json[names[i]] = {{"utterances", c.utterances}, {"within_steps", kPeakSteps}, {"hit_rate", c.hit_rate},
                               {"chance", c.chance}, {"mean_argmax_fraction", c.mean_argmax_fraction},
                               {"mean_peak_fraction", c.mean_peak_fraction}};
      }
      // flow plots of three chosen test utterances (peaks early, middle, late), first run only
      if (!o.pictures.empty() && per_run.empty()) {
        std::filesystem::create_directories(o.pictures);
        std::vector<fg::io::Output> outs;
        for (const double target : {0.25, 0.5, 0.75}) {
          std::int64_t best = 0;
          for (std::int64_t u = 1; u < batch.size(); ++u)
            if (std::abs(peak[static_cast<std::size_t>(u)] - target) < std::abs(peak[static_cast<std::size_t>(best)] - target))
              best = u;
          const std::int64_t T = flows[0].size(1), L = lengths[static_cast<std::size_t>(best)];
          std::vector<std::vector<double>> f;
          for (std::size_t i = 0; i < flows.size(); ++i) {
            const auto v = flows[i].to_vector<double>();
            f.emplace_back(v.begin() + best * T, v.begin() + best * T + L);
          }
          const std::string path =
              (std::filesystem::path(o.pictures) / fmt::format("flow_test{}.svg", best)).string();
          outs.push_back({path,
                          flow_svg(fmt::format("MFM seed {}: eq. 7 flow, test utterance {} (L = {}, peak at {:.2f} L)",
                                               mfm_runs[k]->seed, best, L, peak[static_cast<std::size_t>(best)]),
                                   names, f, peak[static_cast<std::size_t>(best)],
                                   peak_width[static_cast<std::size_t>(best)]),
                          "--pictures"});
          peak_json["plots"].push_back(path);
        }
        fg::io::write_outputs(outs);
      }
    }
    per_run.push_back({{"run", mfm_runs[k]->spec.name}, {"seed", mfm_runs[k]->seed}, {"nhsic_fy", r.dep_y},
                       {"nhsic_fa", r.dep_a}, {"ratio", r.ratio}, {"gradient_flow_first_4_test_utterances", flow_json},
                       {"flow_vs_peak", peak_json}});
  }
  if (per_run.empty()) return "mfm --interpret: no full MFM was trained (use --variant full or --ablation)\n";
  auto ms = [](const std::vector<double>& v) {
    double m = 0, s = 0;
    for (double x : v) m += x;
    m /= static_cast<double>(v.size());
    for (double x : v) s += (x - m) * (x - m);
    return fmt::format("{:.4f} +- {:.4f}", m, std::sqrt(s / static_cast<double>(v.size())));
  };
  std::string s = fmt::format(
      "dependency-based interpretation (test split, {} utterances, RBF sigma {}, {} run(s)):\n{:<10} {:>20} {:>20} {:>20}\n",
      batch.size(), o.hsic_sigma > 0 ? fmt::format("{}", o.hsic_sigma) : std::string("median"), per_run.size(),
      "modality", "nHSIC(F_y, X^)", "nHSIC(F_a, X^)", "r_i");
  for (std::size_t i = 0; i < names.size(); ++i)
    s += fmt::format("{:<10} {:>20} {:>20} {:>20}\n", names[i], ms(ry[i]), ms(ra[i]), ms(rr[i]));
  json["interpretation"] = {{"sigma", o.hsic_sigma}, {"split", "test"}, {"runs", per_run}};
  if (synthetic) {
    const auto implied = fg::models::mfm_synthetic_implied(scfg);
    auto order = [&](const std::vector<double>& v) {
      std::vector<std::size_t> idx(v.size());
      for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
      std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return v[a] > v[b]; });
      std::string out;
      for (std::size_t i : idx) out += (out.empty() ? "" : " > ") + names[i];
      return out;
    };
    auto mean = [](const std::vector<double>& v) {
      double m = 0;
      for (double x : v) m += x;
      return m / static_cast<double>(v.size());
    };
    std::vector<double> mean_r;
    for (std::size_t i = 0; i < names.size(); ++i) mean_r.push_back(mean(rr[i]));
    const std::string implied_order = order(implied.sentiment_share), found = order(mean_r);
    std::int64_t seeds_matching = 0;
    for (std::size_t k = 0; k < rr[0].size(); ++k) {
      std::vector<double> one;
      for (std::size_t i = 0; i < names.size(); ++i) one.push_back(rr[i][k]);
      seeds_matching += order(one) == implied_order;
    }
    s += fmt::format("against the synthetic construction (data/synthetic.h):\n{:<10} {:>16} {:>16} {:>20}\n", "modality",
                     "s-share (impl.)", "coverage of s", "r_i (mean +- std)");
    for (std::size_t i = 0; i < names.size(); ++i)
      s += fmt::format("{:<10} {:>16.4f} {:>16.4f} {:>20}\n", names[i], implied.sentiment_share[i], implied.coverage[i],
                       ms(rr[i]));
    s += fmt::format("  r_i order {} (mean over runs); the construction implies {}: {}; {} of {} runs give that exact order\n",
                     found, implied_order, found == implied_order ? "HELD" : "did not hold", seeds_matching, rr[0].size());
    s += fmt::format("eq. 7 flow vs the expression peak (all {} test utterances, argmax within {} steps of the bump's centre):\n",
                     batch.size(), kPeakSteps);
    nlohmann::json flow_summary = nlohmann::json::object();
    for (std::size_t i = 0; i < names.size(); ++i) {
      s += fmt::format("  {:<10} hit rate {} vs chance {}; flow argmax at {} of the utterance (the peaks at {:.2f} on average)\n",
                       names[i], ms(hits[i]), ms(chance[i]), ms(argmax_frac[i]), mean_peak);
      flow_summary[names[i]] = {{"hit_rate", hits[i]}, {"chance", chance[i]}, {"mean_argmax_fraction", argmax_frac[i]}};
    }
    json["interpretation"]["construction"] = {{"sentiment_share", implied.sentiment_share},
                                              {"coverage", implied.coverage},
                                              {"implied_order", implied_order},
                                              {"ratio_order", found},
                                              {"order_held", found == implied_order},
                                              {"runs_with_that_order", seeds_matching},
                                              {"flow_vs_peak", flow_summary},
                                              {"within_steps", kPeakSteps}};
  }
  return s;
}

int run(const Options& o) {
  const auto t0 = fg::harness::Clock::now();
  std::ostream& human = o.out == "-" ? std::cerr : std::cout;
#ifdef FUSEGRAD_WITH_DIGITS
  if (o.digits) {
    mfm_digits::Settings s;
    s.models = o.digit_models;
    s.channels = o.cnn_channels;
    s.hidden = o.fc_hidden;
    s.factor = o.factor_size;
    s.lambda_recon = o.lambda_recon;
    s.lambda_mmd = o.lambda_mmd;
    s.mmd_placement = o.mmd_placement;
    s.epochs = o.epochs;
    s.batch_size = o.batch_size;
    s.lr = o.lr;
    s.train_size = o.train_size;
    s.valid_size = o.valid_size;
    s.test_size = o.test_size;
    s.pictures = o.pictures;
    return mfm_digits::run(o, s, human, o.quick);
  }
#endif
  std::vector<std::shared_ptr<fg::models::MFM>> built;
  fg::harness::register_mfm_task([&](std::shared_ptr<fg::models::MFM> m) { built.push_back(std::move(m)); });
  fg::data::SyntheticConfig sc;
  const fg::harness::LoadedData d = fg::harness::load_data(o, sc);
  const auto& names = d.data.train.modality_names;
  auto per_mod = [&](auto v, const char* flag) {
    if (v.size() == 1) v.assign(names.size(), v[0]);
    if (v.size() != names.size())
      throw fg::cli::UsageError(fmt::format("{}: give one value or {} (one per modality: {}), got {}", flag,
                                            names.size(), fg::cli::join(names), v.size()));
    return v;
  };
  const auto hidden = per_mod(o.hidden, "--hidden");
  const auto lambda_recon = per_mod(o.lambda_recon, "--lambda-recon");

  std::vector<fg::harness::RunSpec> specs;
  if (!o.no_baseline) specs.push_back({"MFN", "mfn", names, {{"hidden", hidden}}, {}});
  const std::vector<std::string> variants =
      o.ablation ? std::vector<std::string>{"full", "A", "B", "C", "D", "E"} : std::vector<std::string>{o.variant};
  for (const std::string& v : variants)
    specs.push_back({run_name(v), "mfm", names,
                     {{"variant", v},
                      {"mmd_placement", o.mmd_placement},
                      {"lambda_mmd", o.lambda_mmd},
                      {"lambda_recon", lambda_recon},
                      {"hidden", hidden},
                      {"encoder_hidden", hidden},
                      {"memory", o.memory},
                      {"dropout", o.dropout}},
                     {}});
  fg::harness::Report rep = fg::harness::run_experiment(o, specs, d, human);
  rep.json = {{"example", "mfm"}, {"options", options_json(o)}, {"dataset", d.info}};
  std::string after;
  if (o.ablation && rep.interrupted_signal == 0) {
    nlohmann::json tj;
    after += trends(rep, tj);
    rep.json["trends"] = tj;
  }
  if (o.interpret && rep.interrupted_signal == 0) after += interpret(o, rep, built, d, names, sc, rep.json);
  rep.json["seconds"] = fg::harness::seconds_since(t0);
  after += fmt::format("mfm: {}, test split; total {:.1f} s\n", o.quick ? "--quick settings" : "settings above",
                       fg::harness::seconds_since(t0));
  return fg::harness::write_report(rep, o, human, after);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mfm"};
  fg::cli::setup(app, "mfm");
  Options o;
  add_flags(app, o);
  return fg::cli::run_main(app, "mfm", argc, argv, [&] { validate(app, o); }, [&] { return run(o); });
}
