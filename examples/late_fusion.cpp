// examples/late_fusion.cpp: the late-fusion ("deep fusion", DF) baseline of the multimodal
// sentiment papers, trained on fusegrad's built-in synthetic CMU-MOSI stand-in.
//
//   text     [B, T, 300] --masked mean over time--> [B, 300] --MLP--> [B, h_t] --+
//   acoustic [B, T, 5]   --masked mean over time--> [B, 5]   --MLP--> [B, h_a] --+--concat--> MLP head --> y_hat [B]
//   visual   [B, T, 20]  --masked mean over time--> [B, 20]  --MLP--> [B, h_v] --+
//
// Loss: L1 (mean |y_hat - y|), optimizer Adam. Each epoch is scored on the validation split;
// the weights with the best validation MAE are kept (in memory) and the test split is scored
// once, at the end, with them. --compare trains the fused model and one model per single
// modality on the same data and prints a table: on this dataset every modality sees only
// part of the sentiment (data/synthetic.h), so the fused model should win.
//
// A loss or validation metric that becomes NaN/Inf or explodes (engine/optim/divergence.h)
// stops the run with exit status 1, naming the step, the term and --lr. The command line
// follows examples/common/cli.h (--version, exit codes 0/1/2, --out checked before training,
// `--out -` writes the JSON to standard output and the table to standard error).
//
//   late_fusion --compare                      # fused vs text vs acoustic vs visual
//   late_fusion --modalities text,visual       # one run on a subset (or: --modalities text visual)
//   late_fusion --device cuda --deterministic  # on a GPU, bitwise repeatable from its seed
//   late_fusion --seeds 0,1,2,3,4 --curves lf.svg  # mean +- std over five seeds, learning curves
//   late_fusion --help                         # every flag
//
// Training runs on the shared harness (examples/harness/, docs/harness.md): --seeds, --resume,
// --checkpoint, --log, --curves, --config, --optimizer, --schedule, --clip, --patience,
// --data FILE.h5, Ctrl-C; this file holds only the model, its flags and the comparison.
//
// The model code sits in namespace late_fusion so tests/test_late_fusion.cpp can include
// this file (with FG_LATE_FUSION_NO_MAIN defined) and drive a tiny run directly.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "data/batching.h"
#include "data/metrics.h"
#include "data/synthetic.h"
#include "engine/cuda/cuda_api.h"
#include "engine/error.h"
#include "engine/io/output_file.h"
#include "engine/nn/nn.h"
#include "engine/optim/divergence.h"
#include "engine/ops.h"
#include "engine/random.h"
#include "examples/common/cli.h"
#include "examples/harness/harness.h"
#include "models/sentiment.h"

namespace late_fusion {

using fg::Tensor;
using fg::data::RegressionMetrics;
using fg::harness::EpochRecord;
using fg::harness::loss_fingerprint;
using fg::harness::RunResult;

// ---------------------------------------------------------------- options

// The harness's flags (seeds, epochs, optimizer, data, outputs, ...) and the model's own.
struct Options : fg::harness::HarnessOptions {
  Options() { program = "late_fusion"; }
  std::vector<std::int64_t> hidden = {64, 16, 32};  // per-modality MLP width (text, acoustic, visual)
  std::int64_t head_hidden = 64;
  double dropout = 0.1;
  std::vector<std::string> modalities = {"text", "acoustic", "visual"};
  bool compare = false;
  std::vector<std::string> drop_at_test;  // modalities zeroed when scoring the test split
};

// ---------------------------------------------------------------- the model

// The model is the zoo's "late_fusion" (models/late_fusion.h: same architecture, parameter
// names and initialisation order as the class that lived here); the harness builds it by
// name. Its masked time-mean (models/sentiment.h) ignores padding.
using fg::models::masked_time_mean;

// ---------------------------------------------------------------- runs

std::vector<std::int64_t> hidden_sizes_for(const Options& opt, const std::vector<std::string>& all_modalities,
                                           const std::vector<std::string>& modalities) {
  std::vector<std::int64_t> out;
  for (const std::string& m : modalities) {
    if (opt.hidden.size() == 1) {
      out.push_back(opt.hidden[0]);
      continue;
    }
    const auto it = std::find(all_modalities.begin(), all_modalities.end(), m);
    out.push_back(opt.hidden[static_cast<std::size_t>(it - all_modalities.begin())]);
  }
  return out;
}

// The run of one model on `modalities` (the test-time drops of --drop-at-test that it reads).
fg::harness::RunSpec run_spec(const Options& opt, const fg::data::MultimodalSplit& train,
                              const std::vector<std::string>& modalities, const std::string& name) {
  fg::harness::RunSpec spec;
  spec.name = name;
  spec.model = "late_fusion";
  spec.modalities = modalities;
  spec.model_config = {{"hidden", hidden_sizes_for(opt, train.modality_names, modalities)},
                       {"fused_hidden", opt.head_hidden},
                       {"dropout", opt.dropout}};
  if (!opt.drop_at_test.empty())
    for (const std::string& m : fg::data::parse_modality_list(fg::cli::join(opt.drop_at_test), train.modality_names,
                                                              "--drop-at-test"))
      if (std::find(modalities.begin(), modalities.end(), m) != modalities.end()) spec.drop_at_test.push_back(m);
  return spec;
}

// Trains one model (seed --seed) on `modalities`, selects the epoch with the best
// validation MAE, and scores the test split once with those weights.
RunResult train_and_evaluate(const Options& opt, const fg::data::MultimodalDataset& data,
                             const std::vector<std::string>& modalities, const std::string& name, std::ostream& log) {
  fg::harness::Splits splits(data);
  return fg::harness::run_one(opt, run_spec(opt, data.train, modalities, name), opt.seed, splits, log);
}

// The results file's text (written by fg::io::write_output: atomically, or to a device,
// FIFO or standard output as they are).
std::string json_text(const nlohmann::json& j) { return j.dump(2) + "\n"; }

// ---------------------------------------------------------------- the command line

constexpr std::int64_t kMaxSize = 10'000'000;

// Registers every flag of the example on `app` (the harness's, then the model's).
void add_flags(CLI::App& app, Options& opt) {
  app.description(
      "Late-fusion (deep fusion) baseline for multimodal sentiment regression on fusegrad's built-in synthetic "
      "CMU-MOSI-like data (or --data FILE.h5): per-modality masked time-mean -> MLP, concatenation, MLP head, L1 "
      "loss, Adam. Selects the epoch with the best validation MAE; scores the test split once.");
  fg::harness::add_harness_flags(app, opt);
  using fg::cli::int_range;
  fg::cli::add_list(app, "--hidden", opt.hidden,
                    "Width of each modality's MLP: one value for all, or three (text,acoustic,visual)")
      ->expected(1, 3)
      ->check(int_range(1, kMaxSize))
      ->capture_default_str();
  app.add_option("--head-hidden", opt.head_hidden, "Width of the fusion head's hidden layer")
      ->check(int_range(1, kMaxSize))
      ->capture_default_str();
  app.add_option("--dropout", opt.dropout, "Dropout probability in the MLPs (training only)")
      ->check(fg::cli::finite_range(0.0, 0.95))
      ->capture_default_str();
  fg::cli::add_list(app, "--modalities", opt.modalities,
                    "Modalities to fuse, from text,acoustic,visual (one name: a single-modality run)")
      ->capture_default_str();
  app.add_flag("--compare", opt.compare,
               "Train the fused model AND one model per single modality, then print a comparison table");
  fg::cli::add_list(app, "--drop-at-test", opt.drop_at_test,
                    "Modalities to zero when scoring the test split (a robustness check)");
}

// Checks of flag values before any work (exit status 2); throws fg::Error naming the flag.
// `known`: the modality names of the synthetic corpus (with --data, the file's names are
// checked once it is read).
void validate(const Options& opt, const std::vector<std::string>& known) {
  fg::harness::check_harness_flags(opt);  // device, outputs, --data, --resume
  if (!fg::harness::dataset_path(opt).empty()) return;
  const auto mods = fg::data::parse_modality_list(fg::cli::join(opt.modalities), known, "--modalities");
  FG_CHECK(opt.hidden.size() == 1 || opt.hidden.size() == known.size(),
           "--hidden: give one width for all modalities or {} (one per modality: text,acoustic,visual), got {}",
           known.size(), opt.hidden.size());
  FG_CHECK(!opt.compare || mods.size() > 1, "--compare: needs at least two modalities in --modalities, got '{}'",
           fg::cli::join(opt.modalities));
  if (!opt.drop_at_test.empty()) fg::data::parse_modality_list(fg::cli::join(opt.drop_at_test), known, "--drop-at-test");
}

fg::data::SyntheticConfig dataset_config(const Options& opt) {
  fg::data::SyntheticConfig c;
  c.seed = opt.seed;
  c.train_size = opt.train_size, c.valid_size = opt.valid_size, c.test_size = opt.test_size;
  return c;
}

nlohmann::json options_json(const Options& opt) {
  return {{"seed", opt.seed},
          {"seeds", fg::harness::run_seeds(opt)},
          {"epochs", opt.epochs},
          {"batch_size", opt.batch_size},
          {"optimizer", opt.optimizer},
          {"lr", opt.lr},
          {"weight_decay", opt.weight_decay},
          {"schedule", opt.schedule},
          {"warmup_steps", opt.warmup_steps},
          {"clip", opt.clip},
          {"patience", opt.patience},
          {"hidden", opt.hidden},
          {"head_hidden", opt.head_hidden},
          {"dropout", opt.dropout},
          {"data", opt.data},
          {"corpus", opt.corpus},
          {"train_size", opt.train_size},
          {"valid_size", opt.valid_size},
          {"test_size", opt.test_size},
          {"modalities", fg::cli::join(opt.modalities)},
          {"compare", opt.compare},
          {"device", opt.device},
          {"drop_at_test", fg::cli::join(opt.drop_at_test)},
          {"deterministic", opt.deterministic},
          {"threads", opt.threads},
          {"checkpoint", opt.checkpoint},
          {"resume", opt.resume}};
}

// The modality names of the synthetic dataset (what --modalities may name).
std::vector<std::string> known_modalities(const Options& opt) {
  std::vector<std::string> known;
  for (const auto& m : dataset_config(opt).modalities) known.push_back(m.name);
  return known;
}

// The whole program after parsing and validate(): returns the exit code.
int run(const Options& opt) {
  const auto t0 = fg::harness::Clock::now();
  // `--out -`: standard output carries the JSON alone, the human-readable lines go to stderr
  std::ostream& human = opt.out == "-" ? std::cerr : std::cout;
  if (fg::harness::dataset_path(opt).empty())
    std::cerr << fmt::format("late_fusion: generating synthetic data (seed {}, {} / {} / {} utterances)...\n", opt.seed,
                             opt.train_size, opt.valid_size, opt.test_size);
  else
    std::cerr << fmt::format("late_fusion: reading {}...\n", fg::harness::dataset_path(opt));
  const fg::harness::LoadedData d = fg::harness::load_data(opt, dataset_config(opt));
  const auto& names = d.data.train.modality_names;
  const auto mods = fg::data::parse_modality_list(fg::cli::join(opt.modalities), names, "--modalities");
  FG_CHECK(opt.hidden.size() == 1 || opt.hidden.size() == names.size(),
           "--hidden: give one width for all modalities or {} (one per modality: {}), got {}", names.size(),
           fg::cli::join(names), opt.hidden.size());

  std::vector<fg::harness::RunSpec> specs = {run_spec(opt, d.data.train, mods, mods.size() > 1 ? "fused" : mods[0])};
  if (opt.compare)
    for (const std::string& m : mods) specs.push_back(run_spec(opt, d.data.train, {m}, m));
  fg::harness::Report rep = fg::harness::run_experiment(opt, specs, d, human);

  rep.json = {{"example", "late_fusion"}, {"options", options_json(opt)}, {"dataset", d.info}};
  std::string after;
  if (opt.compare && rep.interrupted_signal == 0) {
    // mean test MAE over the seeds of each run
    auto mean_mae = [&](const std::string& name) {
      double sum = 0;
      int n = 0;
      for (const RunResult& r : rep.runs)
        if (r.spec.name == name) sum += r.test.mae, ++n;
      return sum / n;
    };
    bool beats = true;
    for (std::size_t i = 1; i < specs.size(); ++i) beats = beats && mean_mae(specs[0].name) < mean_mae(specs[i].name);
    after = fmt::format("fused test MAE {} every single-modality run\n", beats ? "beats" : "does NOT beat");
    rep.json["fused_beats_every_single_modality"] = beats;
  }
  rep.json["seconds"] = fg::harness::seconds_since(t0);
  after += fmt::format("total {:.1f} s\n", fg::harness::seconds_since(t0));
  return fg::harness::write_report(rep, opt, human, after);
}

}  // namespace late_fusion

#ifndef FG_LATE_FUSION_NO_MAIN
int main(int argc, char** argv) {
  CLI::App app{"late_fusion"};
  fg::cli::setup(app, "late_fusion");
  late_fusion::Options opt;
  late_fusion::add_flags(app, opt);
  return fg::cli::run_main(
      app, "late_fusion", argc, argv, [&] { late_fusion::validate(opt, late_fusion::known_modalities(opt)); },
      [&] { return late_fusion::run(opt); });
}
#endif
