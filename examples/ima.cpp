// examples/ima: paper 004's digit study (docs/ima.md): IMA (importance-based multimodal
// autoencoder, two-stage training) and its baselines JMVAE-KL, MVAE and a multimodal denoising
// autoencoder on the embedded digit pairs (data/digits.h: real MNIST images, espeak-ng spoken
// digits, noise factor R), for 2-D and 50-D representations.
//
//   ima                              # the whole study at the defaults (see README for its time)
//   ima --quick                      # a few minutes on 2 CPU cores (reduced settings below)
//   ima --seeds 0,1,2 --out ima.json --pictures pictures/
//   ima --models ima --dims 50 --stages 2 --rho 0.8,0.3
//
// Every training run is a harness run (examples/harness/ima_task.h: fit() with the divergence
// guard, progress bar, best epoch by validation loss); the test split is read once per model,
// after training. Printed: the parameter counts against Table 4, Table 1's analogue
// (Precision@10 / @50 of test pairs, Euclidean kNN, relevance = same digit), Table 5's analogue
// (accuracy of a small classifier trained on the train-split representations: overall, on
// image-noise and on speech-noise pairs), the importance networks as noise detectors
// (precision / recall / F1 at --rho) and the rho sweep of Figure 6 (stage 2 retrained per rho,
// the best rho chosen on the validation split). Mean +- std over --seeds.
// --pictures DIR writes reconstructions (PNG) and the test representations of the first seed
// (CSV) that tools/ima_plots.py turns into t-SNE maps and the rho sweep's curves.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "data/batching.h"
#include "data/bitmap_font.h"
#include "data/digits.h"
#include "data/digits_png.h"
#include "data/metrics.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/io/output_file.h"
#include "examples/common/cli.h"
#include "examples/harness/harness.h"
#include "examples/harness/ima_task.h"
#include "models/ima.h"

namespace {

namespace dg = fg::data::digits;
namespace fs = std::filesystem;
using fg::Tensor;
using fg::models::RepMode;
using nlohmann::json;

// --quick: each of these unless given on the command line (or --config).
struct Quick {
  static constexpr std::int64_t epochs = 4, stage2_epochs = 4, train_pairs = 1500, probe_epochs = 15;
  static inline const std::vector<double> rho_sweep = {0.1, 0.3, 0.5, 0.7, 0.9};
};

struct Options : fg::harness::HarnessOptions {
  Options() {
    program = "ima";
    epochs = 30;
    batch_size = 100;
  }
  bool quick = false;
  std::vector<std::string> models = {"ima", "jmvae", "mvae", "dae"};
  std::vector<std::int64_t> dims = {2, 50};
  std::int64_t stages = 1;
  std::int64_t stage2_epochs = 0;  // 0: --epochs
  std::vector<double> rho = {0.8, 0.3};
  std::vector<double> rho_sweep = {0.05, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95};
  bool no_sweep = false;
  double noise_factor = 0.1;
  std::string scaling = "unit_range";
  std::string recon = "bce";
  std::vector<std::int64_t> hidden = {500, 100};
  double alpha = 0.1;
  std::int64_t kl_anneal_epochs = 10;
  double denoise = 0.3;
  std::int64_t train_pairs = 0, valid_pairs = 0;
  std::int64_t probe_epochs = 30;
  std::string cache;
  std::string pictures;
};

void add_flags(CLI::App& app, Options& o) {
  app.description(
      "Paper 004: the importance-based multimodal autoencoder (IMA: per-modality encoders and decoders, importance "
      "networks, eq. 1's weighted fusion, two-stage training) and its baselines JMVAE-KL, MVAE and a denoising "
      "autoencoder on the embedded digit pairs (MNIST images + espeak-ng spoken digits with noise pairs): retrieval "
      "(Table 1), classification (Table 5), importance as noise detection (Figure 6). docs/ima.md.");
  fg::harness::add_harness_flags(app, o);
  app.add_flag("--quick", o.quick,
               fmt::format("A few minutes on 2 CPU cores: --epochs {} --stage2-epochs {} --train-pairs {} "
                           "--probe-epochs {} --rho-sweep 0.1,0.3,0.5,0.7,0.9; a flag given explicitly wins",
                           Quick::epochs, Quick::stage2_epochs, Quick::train_pairs, Quick::probe_epochs));
  fg::cli::add_list(app, "--models", o.models, "Models to train: ima, jmvae, mvae, dae")->capture_default_str();
  fg::cli::add_list(app, "--dims", o.dims, "Representation sizes d (the paper: 2 and 50)")
      ->check(fg::cli::int_range(1, 4096))
      ->capture_default_str();
  app.add_option("--stages", o.stages, "IMA: rounds of (stage 1 autoencoder, stage 2 importance networks)")
      ->check(fg::cli::int_range(1, 100))
      ->capture_default_str();
  app.add_option("--stage2-epochs", o.stage2_epochs, "IMA: epochs of stage 2 (0: --epochs)")
      ->check(fg::cli::int_range(0, fg::cli::kMaxEpochs))
      ->capture_default_str();
  fg::cli::add_list(app, "--rho", o.rho, "IMA's importance priors rho_image,rho_speech in (0, 1) (paper: 0.8,0.3)")
      ->capture_default_str();
  fg::cli::add_list(app, "--rho-sweep", o.rho_sweep, "Figure 6: the rho values of the sweep (both modalities)")
      ->capture_default_str();
  app.add_flag("--no-sweep", o.no_sweep, "Skip the rho sweep");
  app.add_option("--noise-factor", o.noise_factor, "R: share of noise pairs per modality (paper: 0.1)")
      ->check(fg::cli::finite_range(0.0, 0.5))
      ->capture_default_str();
  app.add_option("--scaling", o.scaling, "Speech scaling: unit_range (for BCE), standardize, none")
      ->check(CLI::IsMember({"unit_range", "standardize", "none"}))
      ->capture_default_str();
  app.add_option("--recon", o.recon, "Reconstruction loss: bce (paper, digits) or sse")
      ->check(CLI::IsMember({"bce", "sse"}))
      ->capture_default_str();
  fg::cli::add_list(app, "--hidden", o.hidden, "Hidden units of both layers per modality (paper: 500,100)")
      ->check(fg::cli::int_range(1, 100000))
      ->capture_default_str();
  app.add_option("--alpha", o.alpha, "JMVAE-KL's alpha (weight of KL(q(z|x,w) || q(z|x_j)))")
      ->check(fg::cli::finite_range(0.0, 1e6))
      ->capture_default_str();
  app.add_option("--kl-anneal-epochs", o.kl_anneal_epochs, "VAEs: epochs of linear KL warm-up from 0 to 1 (0: none)")
      ->check(fg::cli::int_range(0, fg::cli::kMaxEpochs))
      ->capture_default_str();
  app.add_option("--denoise", o.denoise, "DAE: share of input values set to 0 (paper: 0.3)")
      ->check(fg::cli::finite_range(0.0, 0.95))
      ->capture_default_str();
  app.add_option("--train-pairs", o.train_pairs, "Train on a random subset of this many training pairs (0: all)")
      ->check(fg::cli::int_range(0, 100000000))
      ->capture_default_str();
  app.add_option("--valid-pairs", o.valid_pairs, "Validate on a random subset of this many pairs (0: all)")
      ->check(fg::cli::int_range(0, 100000000))
      ->capture_default_str();
  app.add_option("--probe-epochs", o.probe_epochs, "Epochs of Table 5's classifier")
      ->check(fg::cli::int_range(1, 100000))
      ->capture_default_str();
  app.add_option("--digits-cache", o.cache, "Folder of digits.h5 (default: the set-up's cache, docs/digits.md)");
  app.add_option("--pictures", o.pictures,
                 "Folder for ima_reconstructions.png and ima_embeddings.csv (t-SNE: tools/ima_plots.py)");
}

void validate(CLI::App& app, Options& o) {
  if (o.quick) {
    if (!app.count("--epochs")) o.epochs = Quick::epochs;
    if (!app.count("--stage2-epochs")) o.stage2_epochs = Quick::stage2_epochs;
    if (!app.count("--train-pairs")) o.train_pairs = Quick::train_pairs;
    if (!app.count("--probe-epochs")) o.probe_epochs = Quick::probe_epochs;
    if (!app.count("--rho-sweep")) o.rho_sweep = Quick::rho_sweep;
  }
  using fg::cli::UsageError;
  for (const auto& m : o.models)
    if (m != "ima" && m != "jmvae" && m != "mvae" && m != "dae")
      throw UsageError(fmt::format("--models: '{}' is unknown: expected ima, jmvae, mvae or dae", m));
  if (o.models.empty()) throw UsageError("--models: give at least one of ima, jmvae, mvae, dae");
  if (o.dims.empty()) throw UsageError("--dims: give at least one representation size");
  if (o.rho.size() != 2) throw UsageError(fmt::format("--rho: expected 2 values (image, speech), got {}", o.rho.size()));
  for (double r : o.rho)
    if (!(r > 0 && r < 1)) throw UsageError(fmt::format("--rho: every value must lie in (0, 1), got {}", r));
  for (double r : o.rho_sweep)
    if (!(r > 0 && r < 1)) throw UsageError(fmt::format("--rho-sweep: every value must lie in (0, 1), got {}", r));
  if (o.hidden.size() != 2)
    throw UsageError(fmt::format("--hidden: expected 2 values (image, speech), got {}", o.hidden.size()));
  if (o.resume) throw UsageError("--resume: the ima study does not resume runs (each run takes minutes); rerun it");
  if (!o.data.empty()) throw UsageError("--data: ima reads the digit pairs (--digits-cache), not a dataset file");
  if (!o.pictures.empty() && fs::exists(o.pictures) && !fs::is_directory(o.pictures))
    throw UsageError(fmt::format("--pictures: '{}' exists and is not a folder", o.pictures));
  fg::harness::check_harness_flags(o);
}

// ------------------------------------------------------------------ data
struct Study {
  dg::DigitPairDataset pairs;
  fg::data::MultimodalSplit train, valid, test;  // labelled (digits)
  fg::data::MultimodalSplit train_u, valid_u;    // label 0 (what training sees)
  std::vector<std::int64_t> train_labels, valid_labels, test_labels;
  std::vector<std::int64_t> test_kind, valid_kind;
};

std::vector<std::int64_t> label_vector(const fg::data::MultimodalSplit& s) {
  std::vector<std::int64_t> out;
  for (float v : s.labels.to_vector<float>()) out.push_back(static_cast<std::int64_t>(std::lround(v)));
  return out;
}

Study load_study(const Options& o) {
  const dg::DigitSources src = dg::load_digit_sources(o.cache.empty() ? dg::default_cache_dir() : o.cache);
  dg::ImaConfig c;
  c.noise_factor = o.noise_factor;
  c.seed = o.seed;
  c.split.seed = o.seed;
  c.scaling = dg::parse_speech_scaling(o.scaling, "--scaling");
  Study s;
  s.pairs = dg::make_ima_pairs(src, c);
  s.train = dg::to_multimodal_split(s.pairs.train);
  s.valid = dg::to_multimodal_split(s.pairs.valid);
  s.test = dg::to_multimodal_split(s.pairs.test);
  // the pair kinds of the (possibly subsampled) valid rows, for the rho sweep's validation F1
  auto kinds_of = [](const dg::DigitPairs& p) { return p.kind.to_vector<std::int64_t>(); };
  std::vector<std::int64_t> train_kind = kinds_of(s.pairs.train), valid_kind = kinds_of(s.pairs.valid);
  if (o.train_pairs > 0 && o.train_pairs < s.train.size()) {
    s.train = fg::data::random_subset(s.train, o.train_pairs, fg::data::derive_seed(o.seed, 77));
  }
  if (o.valid_pairs > 0 && o.valid_pairs < s.valid.size()) {
    std::vector<std::int64_t> order = fg::data::epoch_order(s.valid.size(), true, fg::data::derive_seed(o.seed, 78), 0);
    order.resize(static_cast<std::size_t>(o.valid_pairs));
    std::sort(order.begin(), order.end());
    std::vector<std::int64_t> kept;
    for (std::int64_t r : order) kept.push_back(valid_kind[static_cast<std::size_t>(r)]);
    valid_kind = kept;
    s.valid = fg::data::random_subset(s.valid, o.valid_pairs, fg::data::derive_seed(o.seed, 78));
  }
  s.train_u = fg::harness::ImaTask::unsupervised(s.train);
  s.valid_u = fg::harness::ImaTask::unsupervised(s.valid);
  s.train_labels = label_vector(s.train);
  s.valid_labels = label_vector(s.valid);
  s.test_labels = label_vector(s.test);
  s.test_kind = kinds_of(s.pairs.test);
  s.valid_kind = valid_kind;
  return s;
}

// ------------------------------------------------------------------ results
// One model's scores for one d and one seed.
struct Scores {
  // mode name -> {"p10", "p50", "acc", "acc_image_noise", "acc_speech_noise"}
  std::map<std::string, std::map<std::string, double>> modes;
};

std::vector<RepMode> modes_of(const std::string& model) {
  if (model == "ima") return {RepMode::Weighted, RepMode::Unweighted, RepMode::Only0, RepMode::Only1};
  return {RepMode::Unweighted, RepMode::Only0, RepMode::Only1};
}

// The layout of Table 1: for the baselines the multimodal representation sits in the
// "unweighted" column (they have no importances).
std::string mode_column(RepMode m) { return fg::models::rep_mode_name(m); }

Scores evaluate_model(fg::nn::Module& module, const fg::harness::RepresentFn& fn, const std::string& model,
                      Study& st, const Options& o, std::uint64_t seed, fg::Device device, json& seed_json,
                      std::map<std::string, std::vector<float>>* keep_test) {
  Scores sc;
  const std::vector<std::string> mods = {"image", "speech"};
  std::vector<int> test_labels(st.test_labels.begin(), st.test_labels.end());
  for (RepMode mode : modes_of(model)) {
    std::int64_t d = 0;
    const auto test = fg::harness::represent_split(module, fn, st.test, mods, mode, 500, device, &d);
    const auto train = fg::harness::represent_split(module, fn, st.train, mods, mode, 500, device);
    const auto valid = fg::harness::represent_split(module, fn, st.valid, mods, mode, 500, device);
    auto& m = sc.modes[mode_column(mode)];
    m["p10"] = fg::data::precision_at_k(test, test_labels, test, test_labels, d, 10, true);
    m["p50"] = fg::data::precision_at_k(test, test_labels, test, test_labels, d, 50, true);
    fg::harness::ProbeOptions po;
    po.epochs = o.probe_epochs;
    po.seed = seed;
    double vacc = 0;
    const auto pred = fg::harness::probe_classifier(train, st.train_labels, valid, st.valid_labels, test, d, po, &vacc);
    std::int64_t hit = 0, hi = 0, ni = 0, hs = 0, ns = 0;
    for (std::size_t i = 0; i < pred.size(); ++i) {
      const bool ok = pred[i] == st.test_labels[i];
      hit += ok;
      if (st.test_kind[i] == static_cast<std::int64_t>(dg::PairKind::image_noise)) hi += ok, ++ni;
      if (st.test_kind[i] == static_cast<std::int64_t>(dg::PairKind::speech_noise)) hs += ok, ++ns;
    }
    m["acc"] = static_cast<double>(hit) / static_cast<double>(pred.size());
    m["acc_image_noise"] = ni ? static_cast<double>(hi) / static_cast<double>(ni) : NAN;
    m["acc_speech_noise"] = ns ? static_cast<double>(hs) / static_cast<double>(ns) : NAN;
    m["probe_valid_acc"] = vacc;
    if (keep_test) (*keep_test)[mode_column(mode)] = test;
  }
  json j;
  for (const auto& [mode, v] : sc.modes) j[mode] = v;
  seed_json = j;
  return sc;
}

std::string pm(const std::vector<double>& v, int digits = 4) {
  const auto s = fg::data::mean_std(v);
  if (s.n == 0) return "-";
  if (v.size() == 1) return fmt::format("{:.{}f}", s.mean, digits);
  return fmt::format("{:.{}f} +- {:.{}f}", s.mean, digits, s.std, digits);
}

// ------------------------------------------------------------------ pictures
void write_reconstructions(fg::models::IMA& model, const Study& st, const fs::path& dir, fg::Device device) {
  // 10 test pairs: per digit one matched pair, plus image-noise and speech-noise pairs in the last columns
  const auto kinds = st.test_kind;
  std::vector<std::int64_t> rows;
  for (std::int64_t c = 0; c < 10 && static_cast<std::int64_t>(rows.size()) < 8; ++c)
    for (std::size_t i = 0; i < kinds.size(); ++i)
      if (st.test_labels[i] == c && kinds[i] == 0) {
        rows.push_back(static_cast<std::int64_t>(i));
        break;
      }
  for (std::int64_t k : {1, 2})
    for (std::size_t i = 0; i < kinds.size(); ++i)
      if (kinds[i] == k) {
        rows.push_back(static_cast<std::int64_t>(i));
        break;
      }
  const fg::data::Batch b = fg::data::gather_batch(st.test, rows, true, device);
  const auto xs = fg::harness::flat_inputs(b, {"image", "speech"});
  fg::NoGradGuard ng;
  model.eval();
  const auto recon = [&](RepMode mode) {
    return fg::models::reconstruction(model.config().ae.recon, model.decoders[0]->forward(model.represent(xs, mode)))
        .to(fg::Device::cpu())
        .to_vector<float>();
  };
  const std::vector<std::pair<std::string, std::vector<float>>> grid = {
      {"input", xs[0].to(fg::Device::cpu()).to_vector<float>()},
      {"weighted", recon(RepMode::Weighted)},
      {"unweighted", recon(RepMode::Unweighted)},
      {"image only", recon(RepMode::Only0)},
      {"speech only", recon(RepMode::Only1)}};
  constexpr std::int64_t scale = 3, side = 28 * scale, pad = 4;
  const std::int64_t left = fg::data::font::text_width("speech only", 2) + 2 * pad, top = 2 * (fg::data::font::text_height(2) + 12);
  const auto n = static_cast<std::int64_t>(rows.size());
  const std::int64_t w = left + n * (side + pad), h = top + static_cast<std::int64_t>(grid.size()) * (side + pad);
  std::vector<std::uint8_t> rgb(static_cast<std::size_t>(w * h * 3), 255);
  const std::uint8_t black[3] = {0, 0, 0};
  fg::data::font::draw_text(rgb, w, h, 3, pad, 6, "IMA image decoder: test pairs (columns) from each representation", 2,
                            black);
  for (std::int64_t c = 0; c < n; ++c) {
    const auto r = static_cast<std::size_t>(rows[c]);
    const std::string lab = kinds[r] == 0 ? std::to_string(st.test_labels[r])
                            : kinds[r] == 1 ? fmt::format("{} sp.noise", st.test_labels[r])
                                            : fmt::format("{} im.noise", st.test_labels[r]);
    fg::data::font::draw_text(rgb, w, h, 3, left + c * (side + pad), top - fg::data::font::text_height(1) - 6, lab, 1,
                              black);
  }
  for (std::size_t g = 0; g < grid.size(); ++g) {
    const std::int64_t y0 = top + static_cast<std::int64_t>(g) * (side + pad);
    fg::data::font::draw_text(rgb, w, h, 3, pad, y0 + side / 2 - 7, grid[g].first, 2, black);
    for (std::int64_t c = 0; c < n; ++c)
      for (std::int64_t py = 0; py < side; ++py)
        for (std::int64_t px = 0; px < side; ++px) {
          const float v = grid[g].second[static_cast<std::size_t>(c * 784 + (py / scale) * 28 + px / scale)];
          const auto byte = static_cast<std::uint8_t>(std::lround(255.0 * (1.0 - std::clamp(v, 0.0f, 1.0f))));
          const std::size_t at = static_cast<std::size_t>(((y0 + py) * w + left + c * (side + pad) + px) * 3);
          rgb[at] = rgb[at + 1] = rgb[at + 2] = byte;
        }
  }
  const fs::path path = dir / "ima_reconstructions.png";
  fg::data::png::write(path.string(), rgb, w, h, 3);
  std::cout << fmt::format("wrote {} ({} x {})\n", path.string(), w, h);
}

void write_embeddings(const std::map<std::string, std::vector<float>>& reps, const std::vector<std::vector<float>>& y,
                      const Study& st, std::int64_t d, const fs::path& path) {
  std::ostringstream os;
  os << "row,label,kind,y_image,y_speech,representation";
  for (std::int64_t k = 0; k < d; ++k) os << ",z" << k;
  os << "\n";
  for (const auto& [mode, v] : reps)
    for (std::size_t i = 0; i < st.test_labels.size(); ++i) {
      os << i << "," << st.test_labels[i] << "," << dg::pair_kind_name(static_cast<dg::PairKind>(st.test_kind[i])) << ","
         << y[0][i] << "," << y[1][i] << "," << mode;
      for (std::int64_t k = 0; k < d; ++k) os << "," << v[i * static_cast<std::size_t>(d) + static_cast<std::size_t>(k)];
      os << "\n";
    }
  fg::io::write_output(path.string(), os.str(), "--pictures");
  std::cout << fmt::format("wrote {}\n", path.string());
}

// ------------------------------------------------------------------ the study
int run(Options& o) {
  const auto t0 = fg::harness::Clock::now();
  const fg::Device device = fg::parse_device(o.device);
  const auto seeds = fg::harness::run_seeds(o);
  Study st = load_study(o);
  std::cout << fmt::format(
      "digit pairs (R = {}, data seed {}): train {} (of {}), valid {}, test {} pairs; test: {} matched, {} image "
      "noise, {} speech noise\n",
      o.noise_factor, o.seed, st.train.size(), st.pairs.train.size(), st.valid.size(), st.test.size(),
      st.pairs.test.count(dg::PairKind::matched), st.pairs.test.count(dg::PairKind::image_noise),
      st.pairs.test.count(dg::PairKind::speech_noise));
  const fg::TensorOptions opts{fg::DType::f32, device};
  const std::int64_t steps_per_epoch = (st.train.size() + o.batch_size - 1) / o.batch_size;
  const std::vector<std::string> mods = {"image", "speech"};

  auto ae_config = [&](std::int64_t d) {
    fg::models::MultimodalAEConfig c;
    c.input_sizes = {dg::kImageDim, st.train.features[1].size(2)};
    c.hidden = o.hidden;
    c.latent = d;
    c.recon = fg::models::parse_recon_loss(o.recon);
    return c;
  };
  auto train = [&](fg::harness::Task& task, const std::string& name, std::uint64_t seed, std::int64_t epochs) {
    fg::harness::RunSpec spec;
    spec.name = name;
    spec.model = name;
    spec.modalities = mods;
    fg::harness::TrainOptions to = fg::harness::train_options(o, spec, seed, seeds.size() > 1);
    to.epochs = epochs;
    to.config["epochs"] = epochs;
    to.valid_is_loss = true;  // ImaTask::predict is the per-pair loss (docs/ima.md): print it as such
    return fg::harness::fit(task, st.train_u, st.valid_u, to, std::cerr);
  };

  // parameter counts (Table 4), d = 50 if studied else the first d
  json params_json;
  {
    const std::int64_t d = std::find(o.dims.begin(), o.dims.end(), 50) != o.dims.end() ? 50 : o.dims.front();
    fg::Generator g(1);
    fg::models::IMAConfig ic;
    ic.ae = ae_config(d);
    ic.rho = o.rho;
    fg::models::IMA ima(ic, g);
    fg::models::VAEConfig vc;
    vc.ae = ae_config(d);
    fg::models::JMVAE jm(vc, g);
    fg::models::MVAE mv(vc, g);
    fg::models::DAEConfig dc;
    dc.ae = ae_config(d);
    fg::models::MultimodalDAE dae(dc, g);
    auto count = [](const auto& nets) {
      std::int64_t n = 0;
      for (const auto& x : nets) n += x->num_parameters();
      return n;
    };
    std::cout << fmt::format("\nparameters at d = {} (paper's Table 4 in brackets, d = 50):\n", d);
    std::cout << fmt::format("{:<22}{:>22}{:>24}{:>22}{:>12}\n", "component", "IMA", "JMVAE-KL", "MVAE", "DAE");
    std::cout << fmt::format("{:<22}{:>22}{:>24}{:>22}{:>12}\n", "unimodal encoders",
                             fmt::format("{} [753000]", count(ima.encoders)),
                             fmt::format("{} [783000]", count(jm.encoders)),
                             fmt::format("{} [783000]", count(mv.encoders)), count(dae.encoders));
    std::cout << fmt::format("{:<22}{:>22}{:>24}{:>22}{:>12}\n", "multimodal encoders", "0 [0]",
                             fmt::format("{} [1309300]", jm.joint_encoder->num_parameters()), "0 [0]",
                             dae.fusion->num_parameters());
    std::cout << fmt::format("{:<22}{:>22}{:>24}{:>22}{:>12}\n", "decoders",
                             fmt::format("{} [754280]", count(ima.decoders)),
                             fmt::format("{} [1217360]", count(jm.decoders)),
                             fmt::format("{} [1217360]", count(mv.decoders)), count(dae.decoders));
    std::cout << fmt::format("{:<22}{:>22}{:>24}{:>22}{:>12}\n", "importance networks",
                             fmt::format("{} [723402]", count(ima.importance_nets)), "0 [0]", "0 [0]", 0);
    std::cout << fmt::format("{:<22}{:>22}{:>24}{:>22}{:>12}\n", "total",
                             fmt::format("{} [2230682]", ima.num_parameters()),
                             fmt::format("{} [3309660]", jm.num_parameters()),
                             fmt::format("{} [2000360]", mv.num_parameters()), dae.num_parameters());
    params_json = {{"d", d},
                   {"ima", {{"encoders", count(ima.encoders)}, {"decoders", count(ima.decoders)},
                            {"importance", count(ima.importance_nets)}, {"total", ima.num_parameters()}}},
                   {"jmvae", {{"encoders", count(jm.encoders)}, {"joint_encoder", jm.joint_encoder->num_parameters()},
                              {"decoders", count(jm.decoders)}, {"total", jm.num_parameters()}}},
                   {"mvae", {{"encoders", count(mv.encoders)}, {"decoders", count(mv.decoders)}, {"total", mv.num_parameters()}}},
                   {"dae", {{"total", dae.num_parameters()}}}};
  }

  // results[d][model][mode][metric] = values over seeds
  std::map<std::int64_t, std::map<std::string, std::map<std::string, std::map<std::string, std::vector<double>>>>> res;
  // importance[d][modality][metric] over seeds; sweep[rho][modality]["valid_f1"/"test_f1"...] over seeds
  std::map<std::int64_t, std::map<std::string, std::map<std::string, std::vector<double>>>> imp;
  std::map<double, std::map<std::string, std::map<std::string, std::vector<double>>>> sweep;
  std::map<std::string, std::vector<double>> best_rho;
  const std::int64_t sweep_d = o.dims.back();
  json runs = json::array();
  const std::int64_t s2_epochs = o.stage2_epochs > 0 ? o.stage2_epochs : o.epochs;
  std::vector<bool> test_noise_image, test_noise_speech, valid_noise_image, valid_noise_speech;
  for (auto k : st.test_kind) test_noise_image.push_back(k == 2), test_noise_speech.push_back(k == 1);
  for (auto k : st.valid_kind) valid_noise_image.push_back(k == 2), valid_noise_speech.push_back(k == 1);

  for (std::size_t si = 0; si < seeds.size(); ++si) {
    const std::uint64_t seed = seeds[si];
    for (const std::int64_t d : o.dims) {
      for (const std::string& model : o.models) {
        const std::string name = fmt::format("{}{}", model, d);
        fg::Generator init(fg::data::derive_seed(seed, 1000));
        json rj = {{"seed", seed}, {"d", d}, {"model", model}};
        const auto tm = fg::harness::Clock::now();
        Scores sc;
        const bool pictures = !o.pictures.empty() && si == 0 && d == sweep_d;
        if (model == "ima") {
          fg::models::IMAConfig ic;
          ic.ae = ae_config(d);
          ic.rho = o.rho;
          auto m = std::make_shared<fg::models::IMA>(ic, init, opts);
          json stages = json::array();
          for (std::int64_t s = 1; s <= o.stages; ++s) {
            auto t1 = fg::harness::make_ima_task(m, fg::harness::ImaStage::Autoencoder);
            const auto f1 = train(*t1, fmt::format("{}-s{}-ae", name, s), seed, o.epochs);
            auto t2 = fg::harness::make_ima_task(m, fg::harness::ImaStage::Importance);
            const auto f2 = train(*t2, fmt::format("{}-s{}-imp", name, s), seed, s2_epochs);
            stages.push_back({{"autoencoder", {{"best_epoch", f1.best_epoch}, {"valid_loss", f1.best_valid.mae}}},
                              {"importance", {{"best_epoch", f2.best_epoch}, {"valid_loss", f2.best_valid.mae}}}});
          }
          rj["stages"] = stages;
          std::map<std::string, std::vector<float>> keep;
          sc = evaluate_model(*m, [&](const std::vector<Tensor>& xs, RepMode md) { return m->represent(xs, md); }, model,
                              st, o, seed, device, rj["scores"], pictures ? &keep : nullptr);
          const auto y = fg::harness::importances_split(*m, st.test, 500, device);
          const std::vector<std::vector<bool>> truth = {test_noise_image, test_noise_speech};
          for (std::size_t j = 0; j < 2; ++j) {
            const auto r = fg::harness::noise_detection(y[j], truth[j]);
            imp[d][mods[j]]["precision"].push_back(r.precision);
            imp[d][mods[j]]["recall"].push_back(r.recall);
            imp[d][mods[j]]["f1"].push_back(r.f1);
            rj["noise_detection"][mods[j]] = {{"rho", o.rho[j]}, {"precision", r.precision}, {"recall", r.recall},
                                              {"f1", r.f1}};
          }
          if (pictures) {
            fs::create_directories(o.pictures);
            write_reconstructions(*m, st, o.pictures, device);
            write_embeddings(keep, y, st, d, fs::path(o.pictures) / "ima_embeddings.csv");
          }
          if (!o.no_sweep && d == sweep_d) {
            // Figure 6: stage 2 retrained from the importance networks' initial weights for each rho
            fg::Generator g2(fg::data::derive_seed(seed, 1000));
            fg::models::IMA fresh(ic, g2, opts);
            const auto init_state = fresh.state_dict();
            const auto trained = m->state_dict();
            json sj = json::array();
            std::map<std::string, std::pair<double, double>> best;  // modality -> (valid f1, rho)
            for (double rho : o.rho_sweep) {
              std::map<std::string, Tensor> state;
              for (const auto& [k, v] : trained) state[k] = k.rfind("imp_", 0) == 0 ? init_state.at(k).clone() : v.clone();
              auto ms = std::make_shared<fg::models::IMA>(ic, g2, opts);
              ms->load_state_dict(state);
              ms->mutable_config().rho = {rho, rho};
              auto t2 = fg::harness::make_ima_task(ms, fg::harness::ImaStage::Importance);
              train(*t2, fmt::format("{}-rho{}", name, rho), seed, s2_epochs);
              const auto yv = fg::harness::importances_split(*ms, st.valid, 500, device);
              const auto yt = fg::harness::importances_split(*ms, st.test, 500, device);
              const std::vector<std::vector<bool>> vt = {valid_noise_image, valid_noise_speech};
              json one = {{"rho", rho}};
              for (std::size_t j = 0; j < 2; ++j) {
                const auto rv = fg::harness::noise_detection(yv[j], vt[j]);
                const auto rt = fg::harness::noise_detection(yt[j], truth[j]);
                auto& sw = sweep[rho][mods[j]];
                sw["valid_precision"].push_back(rv.precision);
                sw["valid_recall"].push_back(rv.recall);
                sw["valid_f1"].push_back(rv.f1);
                sw["test_precision"].push_back(rt.precision);
                sw["test_recall"].push_back(rt.recall);
                sw["test_f1"].push_back(rt.f1);
                one[mods[j]] = {{"valid", {{"precision", rv.precision}, {"recall", rv.recall}, {"f1", rv.f1}}},
                                {"test", {{"precision", rt.precision}, {"recall", rt.recall}, {"f1", rt.f1}}}};
                if (!best.count(mods[j]) || rv.f1 > best[mods[j]].first) best[mods[j]] = {rv.f1, rho};
              }
              sj.push_back(one);
            }
            rj["rho_sweep"] = sj;
            for (const auto& [mod, b] : best) best_rho[mod].push_back(b.second);
          }
        } else if (model == "jmvae" || model == "mvae") {
          fg::models::VAEConfig vc;
          vc.ae = ae_config(d);
          vc.alpha = o.alpha;
          const std::int64_t anneal = o.kl_anneal_epochs * steps_per_epoch;
          if (model == "jmvae") {
            auto m = std::make_shared<fg::models::JMVAE>(vc, init, opts);
            auto t = fg::harness::make_jmvae_task(m, seed, anneal);
            const auto f = train(*t, name, seed, o.epochs);
            rj["best_epoch"] = f.best_epoch;
            sc = evaluate_model(*m, [&](const std::vector<Tensor>& xs, RepMode md) { return m->represent(xs, md); },
                                model, st, o, seed, device, rj["scores"], nullptr);
          } else {
            auto m = std::make_shared<fg::models::MVAE>(vc, init, opts);
            auto t = fg::harness::make_mvae_task(m, seed, anneal);
            const auto f = train(*t, name, seed, o.epochs);
            rj["best_epoch"] = f.best_epoch;
            sc = evaluate_model(*m, [&](const std::vector<Tensor>& xs, RepMode md) { return m->represent(xs, md); },
                                model, st, o, seed, device, rj["scores"], nullptr);
          }
        } else {
          fg::models::DAEConfig dc;
          dc.ae = ae_config(d);
          dc.denoise = o.denoise;
          auto m = std::make_shared<fg::models::MultimodalDAE>(dc, init, opts);
          auto t = fg::harness::make_dae_task(m, seed);
          const auto f = train(*t, name, seed, o.epochs);
          rj["best_epoch"] = f.best_epoch;
          sc = evaluate_model(*m, [&](const std::vector<Tensor>& xs, RepMode md) { return m->represent(xs, md); }, model,
                              st, o, seed, device, rj["scores"], nullptr);
        }
        for (const auto& [mode, metrics] : sc.modes)
          for (const auto& [k, v] : metrics) res[d][model][mode][k].push_back(v);
        rj["seconds"] = fg::harness::seconds_since(tm);
        std::cerr << fmt::format("{} seed {}: done in {:.1f} s\n", name, seed, rj["seconds"].get<double>());
        runs.push_back(rj);
      }
    }
  }

  // ---- tables
  const std::map<std::string, std::string> label = {{"ima", "IMA"}, {"jmvae", "JMVAE-KL"}, {"mvae", "MVAE"}, {"dae", "DAE"}};
  std::cout << fmt::format("\nTable 1 analogue: Precision@K on the test pairs (mean +- std over {} seed(s))\n", seeds.size());
  std::cout << fmt::format("{:<5}{:<7}{:<10}{:>20}{:>20}{:>20}{:>20}\n", "dim", "P@K", "model", "weighted", "unweighted",
                           "image only", "speech only");
  for (const std::int64_t d : o.dims)
    for (const std::string k : {"p10", "p50"})
      for (const std::string& model : o.models) {
        auto& r = res[d][model];
        auto cell = [&](const std::string& mode) { return r.count(mode) ? pm(r[mode][k]) : std::string("-"); };
        std::cout << fmt::format("{:<5}{:<7}{:<10}{:>20}{:>20}{:>20}{:>20}\n", fmt::format("{}D", d),
                                 k == "p10" ? "P@10" : "P@50", label.at(model), cell("weighted"), cell("unweighted"),
                                 cell("image"), cell("speech"));
      }
  std::cout << fmt::format("\nTable 5 analogue: test accuracy of a classifier on the representations (train split; "
                           "overall / image-noise pairs / speech-noise pairs)\n");
  std::cout << fmt::format("{:<5}{:<24}{:>20}{:>20}{:>20}\n", "dim", "representation", "overall", "image noise",
                           "speech noise");
  for (const std::int64_t d : o.dims)
    for (const std::string& model : o.models)
      for (RepMode mode : modes_of(model)) {
        auto& r = res[d][model][mode_column(mode)];
        std::cout << fmt::format("{:<5}{:<24}{:>20}{:>20}{:>20}\n", fmt::format("{}D", d),
                                 fmt::format("{} {}", label.at(model), mode_column(mode)), pm(r["acc"]),
                                 pm(r["acc_image_noise"]), pm(r["acc_speech_noise"]));
      }
  if (imp.size()) {
    std::cout << fmt::format("\nImportance networks as noise detectors (test; noise = y < 0.5; rho image {}, speech {})\n",
                             o.rho[0], o.rho[1]);
    std::cout << fmt::format("{:<5}{:<10}{:>20}{:>20}{:>20}\n", "dim", "modality", "precision", "recall", "F1");
    for (auto& [d, mm] : imp)
      for (const auto& mod : mods)
        std::cout << fmt::format("{:<5}{:<10}{:>20}{:>20}{:>20}\n", fmt::format("{}D", d), mod, pm(mm[mod]["precision"]),
                                 pm(mm[mod]["recall"]), pm(mm[mod]["f1"]));
  }
  json sweep_json = json::array();
  if (!sweep.empty()) {
    std::cout << fmt::format("\nFigure 6 analogue: the rho sweep at d = {} (F1 of 'is noise'; valid picks rho, test "
                             "shown beside)\n",
                             sweep_d);
    std::cout << fmt::format("{:<7}{:>18}{:>18}{:>18}{:>18}\n", "rho", "image valid F1", "image test F1",
                             "speech valid F1", "speech test F1");
    for (auto& [rho, sm] : sweep) {
      std::cout << fmt::format("{:<7}{:>18}{:>18}{:>18}{:>18}\n", rho, pm(sm["image"]["valid_f1"], 3),
                               pm(sm["image"]["test_f1"], 3), pm(sm["speech"]["valid_f1"], 3),
                               pm(sm["speech"]["test_f1"], 3));
      json one = {{"rho", rho}};
      for (const auto& mod : mods)
        for (const auto& [k, v] : sm[mod]) {
          const auto s = fg::data::mean_std(v);
          one[mod][k] = {{"mean", s.mean}, {"std", s.std}};
        }
      sweep_json.push_back(one);
    }
    for (const auto& mod : mods)
      std::cout << fmt::format("best rho on valid, {}: {} (paper: {})\n", mod, fmt::join(best_rho[mod], ", "),
                               mod == "image" ? "0.8" : "0.3");
  }

  // ---- verdicts
  json verdict;
  if (std::find(o.models.begin(), o.models.end(), "ima") != o.models.end()) {
    std::cout << "\nclaims (mean P@K, test):\n";
    for (const std::int64_t d : o.dims)
      for (const std::string k : {"p10", "p50"}) {
        const double w = fg::data::mean_std(res[d]["ima"]["weighted"][k]).mean;
        const double u = fg::data::mean_std(res[d]["ima"]["unweighted"][k]).mean;
        std::string line = fmt::format("{}D {}: IMA weighted {:.4f} vs unweighted {:.4f}: {}", d, k, w, u,
                                       w > u ? "weighting helped" : "weighting did not help");
        verdict[fmt::format("{}d_{}", d, k)]["weighted_beats_unweighted"] = w > u;
        for (const std::string b : {"jmvae", "mvae", "dae"}) {
          if (!res[d].count(b)) continue;
          const double v = fg::data::mean_std(res[d][b]["unweighted"][k]).mean;
          line += fmt::format("; vs {} {:.4f}: {}", label.at(b), v, w > v ? "IMA higher" : "IMA not higher");
          verdict[fmt::format("{}d_{}", d, k)][fmt::format("weighted_beats_{}", b)] = w > v;
        }
        std::cout << line << "\n";
      }
  }

  json results = json::object();
  for (auto& [d, mm] : res)
    for (auto& [model, modes] : mm)
      for (auto& [mode, metrics] : modes)
        for (auto& [k, v] : metrics) {
          const auto s = fg::data::mean_std(v);
          results[std::to_string(d)][model][mode][k] = {{"mean", s.mean}, {"std", s.std}, {"values", v}};
        }
  json imp_json = json::object();
  for (auto& [d, mm] : imp)
    for (auto& [mod, metrics] : mm)
      for (auto& [k, v] : metrics) {
        const auto s = fg::data::mean_std(v);
        imp_json[std::to_string(d)][mod][k] = {{"mean", s.mean}, {"std", s.std}, {"values", v}};
      }
  const double seconds = fg::harness::seconds_since(t0);
  std::cout << fmt::format("\nwall time {:.1f} s\n", seconds);
  if (!o.out.empty()) {
    json out = {{"example", "ima"},
                {"options",
                 {{"quick", o.quick}, {"models", o.models}, {"dims", o.dims}, {"stages", o.stages},
                  {"epochs", o.epochs}, {"stage2_epochs", s2_epochs}, {"batch_size", o.batch_size}, {"lr", o.lr},
                  {"optimizer", o.optimizer}, {"rho", o.rho}, {"rho_sweep", o.no_sweep ? std::vector<double>{} : o.rho_sweep},
                  {"noise_factor", o.noise_factor}, {"scaling", o.scaling}, {"recon", o.recon}, {"hidden", o.hidden},
                  {"alpha", o.alpha}, {"kl_anneal_epochs", o.kl_anneal_epochs}, {"denoise", o.denoise},
                  {"train_pairs", st.train.size()}, {"valid_pairs", st.valid.size()}, {"test_pairs", st.test.size()},
                  {"probe_epochs", o.probe_epochs}, {"seed", o.seed}, {"seeds", seeds}, {"device", o.device}}},
                {"parameters", params_json},
                {"results", results},
                {"noise_detection", imp_json},
                {"rho_sweep", sweep_json},
                {"best_rho", best_rho},
                {"verdict", verdict},
                {"runs", runs},
                {"seconds", seconds},
                {"build", fg::harness::provenance_json(o)}};
    fg::io::write_output(o.out, out.dump(2) + "\n", "--out");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app;
  fg::cli::setup(app, "ima");
  Options o;
  add_flags(app, o);
  return fg::cli::run_main(app, "ima", argc, argv, [&] { validate(app, o); }, [&] { return run(o); });
}
