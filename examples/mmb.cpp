// examples/mmb.cpp: the paper-000 study ("Strong and Simple Baselines for Multimodal
// Utterance Embeddings"): MMB1 and MMB2 (optimised latents and the closed-form eq. 43
// embedding, models/mmb.h) against the zoo's EF-LSTM, TFN, LMF, MFN and late fusion
// (models/zoo.h) and a constant predictor (the train mean), on the embedded synthetic corpus's
// WORDS variant (data/synthetic.h: pseudo-words with GloVe-like vectors, --vocab 2000): every
// model, MMB or not, reads the same data. Each model runs over the seeds; the table prints
// MAE, r (Corr), Acc2 (has0 and non0), F1 (has0) and Acc7 as mean +- std over seeds, and the
// training time and the inference time per test utterance measured in this one run. Each
// model's row is printed as soon as its seeds finished; the whole table at the end.
//
// The zoo models train on the shared harness (examples/harness, docs/harness.md: run_one with
// the zoo's SentimentTask: L1, --optimizer/--lr/--epochs/--batch-size/--patience/..., the
// epoch with the best validation MAE kept, the test split scored once after fit()). MMB keeps
// its own procedure (models/mmb.cpp, mmb_run: latents per utterance optimised per split, then a
// fresh SGD head on the fixed embeddings selected on validation MAE; docs/models.md says why it
// is not a harness Task); its rows go into the harness's report, table and JSON.
//
// Selection uses the validation split only; the test split is scored once per run, after
// selection.
//
//   mmb                         # every model, seeds 0..4 (long: see docs/models.md for times)
//   mmb --quick                 # a few minutes on 2 cores (smaller settings, seeds 0,1,2)
//   mmb --model mmb2 --seeds 0  # one model
//   mmb --out results.json      # also the per-seed numbers, timings and build as JSON
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "data/metrics.h"
#include "data/synthetic.h"
#include "engine/error.h"
#include "engine/io/output_file.h"
#include "examples/common/cli.h"
#include "examples/harness/harness.h"
#include "models/mmb.h"
#include "models/zoo.h"

namespace {

using fg::harness::RunResult;

const std::vector<std::string> kModels = {"mmb1", "mmb2", "ef_lstm", "tfn", "lmf", "mfn", "late_fusion"};

// --quick: every setting below unless given on the command line (or --config).
struct Quick {
  static constexpr std::int64_t epochs = 3, mmb_epochs = 8, infer_steps = 30, head_epochs = 60;
  static constexpr std::int64_t train_size = 300, valid_size = 100, test_size = 300;
};

struct Options : fg::harness::HarnessOptions {
  Options() {
    program = "mmb";
    seeds = {0, 1, 2, 3, 4};
  }
  std::vector<std::string> models = kModels;
  bool quick = false;
  std::int64_t mmb_epochs = 100, infer_steps = 100, head_epochs = 400;
  double head_lr = 0.01;
  std::int64_t vocab = 2000;
  std::string word_form = "paper", closed_weights = "paper", norm = "layer";
  bool verbose = false;
};

bool is_mmb(const std::string& m) { return m == "mmb1" || m == "mmb2"; }

void add_flags(CLI::App& app, Options& o) {
  app.description(
      "Paper 000: MMB1/MMB2 (optimised latents and the closed form, eq. 43) against EF-LSTM, TFN, LMF, MFN and late "
      "fusion on the synthetic corpus's words variant, over --seeds (default 0,1,2,3,4): Acc2, F1, Acc7, MAE, r as mean "
      "+- std, training time and inference time per test utterance. The zoo models train on the shared harness "
      "(--epochs, --lr, --optimizer, ...); --lr and --batch-size also drive MMB's end-to-end training.");
  fg::harness::add_harness_flags(app, o);
  using fg::cli::int_range;
  fg::cli::add_list(app, "--model", o.models, "Models to run (one or more of: " + fg::cli::join(kModels) + ")")
      ->capture_default_str();
  app.add_flag("--quick", o.quick,
               fmt::format("A few minutes on 2 CPU cores: zoo --epochs {}, --mmb-epochs {}, --infer-steps {}, "
                           "--head-epochs {}, --train-size {} --valid-size {} --test-size {}, --seeds 0,1,2; a flag "
                           "given explicitly wins",
                           Quick::epochs, Quick::mmb_epochs, Quick::infer_steps, Quick::head_epochs, Quick::train_size,
                           Quick::valid_size, Quick::test_size));
  app.add_option("--mmb-epochs", o.mmb_epochs, "MMB end-to-end epochs (latents, generators, head)")
      ->check(int_range(1, fg::cli::kMaxEpochs))
      ->capture_default_str();
  app.add_option("--infer-steps", o.infer_steps, "MMB valid/test latent steps (NLL only, generators frozen)")
      ->check(int_range(0, fg::cli::kMaxSteps))
      ->capture_default_str();
  app.add_option("--head-epochs", o.head_epochs, "Epochs of MMB's fresh head on the fixed embeddings (SGD)")
      ->check(int_range(1, fg::cli::kMaxEpochs))
      ->capture_default_str();
  app.add_option("--head-lr", o.head_lr, "SGD learning rate of MMB's fresh head")
      ->check(fg::cli::finite_positive())
      ->capture_default_str();
  app.add_option("--vocab", o.vocab, "V of the synthetic words variant")
      ->check(int_range(10, 1000000))
      ->capture_default_str();
  app.add_option("--word-form", o.word_form, "MMB word model: paper (alpha p(w)) or code (alpha psi_w)")
      ->check(CLI::IsMember({"paper", "code"}))
      ->capture_default_str();
  app.add_option("--closed-weights", o.closed_weights,
                 "Eq. 43 weights: paper (lambda_w, (1-lambda_w)/K) or code (unweighted)")
      ->check(CLI::IsMember({"paper", "code"}))
      ->capture_default_str();
  app.add_option("--norm", o.norm, "MMB generator input: layer (LayerNorm(m)) or none")
      ->check(CLI::IsMember({"layer", "none"}))
      ->capture_default_str();
  app.add_flag("--verbose", o.verbose, "MMB's per-epoch lines on standard error");
}

void validate(CLI::App& app, Options& o) {
  for (const auto& m : o.models)
    if (std::find(kModels.begin(), kModels.end(), m) == kModels.end())
      throw fg::cli::UsageError(fmt::format("--model: unknown model '{}' (known: {})", m, fg::cli::join(kModels)));
  if (o.quick) {
    if (!app.count("--epochs")) o.epochs = Quick::epochs;
    if (!app.count("--mmb-epochs")) o.mmb_epochs = Quick::mmb_epochs;
    if (!app.count("--infer-steps")) o.infer_steps = Quick::infer_steps;
    if (!app.count("--head-epochs")) o.head_epochs = Quick::head_epochs;
    if (!app.count("--train-size")) o.train_size = Quick::train_size;
    if (!app.count("--valid-size")) o.valid_size = Quick::valid_size;
    if (!app.count("--test-size")) o.test_size = Quick::test_size;
    if (!app.count("--seeds")) o.seeds = {0, 1, 2};
  }
  fg::harness::check_harness_flags(o);  // device, outputs, --data, --resume, --threads
}

nlohmann::json options_json(const Options& o) {
  return {{"models", o.models},         {"quick", o.quick},
          {"seed", o.seed},             {"seeds", fg::harness::run_seeds(o)},
          {"epochs", o.epochs},         {"batch_size", o.batch_size},
          {"optimizer", o.optimizer},   {"lr", o.lr},
          {"weight_decay", o.weight_decay}, {"schedule", o.schedule},
          {"clip", o.clip},             {"patience", o.patience},
          {"data", o.data},             {"corpus", o.corpus},         {"train_size", o.train_size},
          {"valid_size", o.valid_size}, {"test_size", o.test_size},
          {"mmb_epochs", o.mmb_epochs}, {"infer_steps", o.infer_steps},
          {"head_epochs", o.head_epochs}, {"head_lr", o.head_lr},
          {"vocab", o.vocab},           {"word_form", o.word_form},
          {"closed_weights", o.closed_weights}, {"norm", o.norm},
          {"device", o.device},         {"threads", o.threads}};
}

// One MMB variant over one seed: two runs (optimised latents, closed form) in the harness's form.
std::vector<RunResult> run_mmb(const Options& o, const std::string& name, std::uint64_t seed,
                               const fg::data::MultimodalDataset& data, fg::harness::Splits& splits,
                               nlohmann::json& extra) {
  fg::models::MMBConfig mc;
  mc.variant = name == "mmb1" ? fg::models::MMBVariant::mmb1 : fg::models::MMBVariant::mmb2;
  mc.word_form = o.word_form == "code" ? fg::models::MMBWordForm::code : fg::models::MMBWordForm::paper;
  mc.closed_weights =
      o.closed_weights == "code" ? fg::models::MMBClosedWeights::code : fg::models::MMBClosedWeights::paper;
  mc.norm = o.norm == "none" ? fg::models::MMBNorm::none : fg::models::MMBNorm::layer;
  fg::models::MMBTrainOptions mo;
  mo.epochs = o.mmb_epochs, mo.infer_steps = o.infer_steps, mo.head_epochs = o.head_epochs;
  mo.batch_size = o.batch_size, mo.lr = o.lr, mo.head_lr = o.head_lr, mo.seed = seed, mo.verbose = o.verbose;
  if (!o.quiet)
    std::cerr << fmt::format("{} seed {}: {} end-to-end epochs, {} latent steps, {} head epochs...\n", name, seed,
                             mo.epochs, mo.infer_steps, mo.head_epochs);
  const auto t0 = fg::harness::Clock::now();
  // mmb_run selects on valid only; the test split's latents, embeddings and predictions are
  // computed after, and its labels are read here, once, to score them.
  const fg::models::MMBResult res = fg::models::mmb_run(data, mc, mo);
  const double seconds = fg::harness::seconds_since(t0);
  const auto yva = splits.valid().labels.to_vector<double>();
  const auto yte = splits.read_test().labels.to_vector<double>();
  std::vector<RunResult> out;
  auto add = [&](const std::string& run, const fg::models::MMBPredictions& p, double train_s, double infer_per_utt) {
    RunResult r;
    r.spec.name = run;
    r.spec.model = name;
    r.spec.modalities = data.train.modality_names;
    r.spec.model_config = {{"word_form", o.word_form}, {"closed_weights", o.closed_weights}, {"norm", o.norm}};
    r.seed = seed;
    r.fit.best_epoch = p.best_head_epoch;  // the fresh head's epoch
    r.fit.best_valid = fg::data::regression_metrics(p.valid, yva);
    r.fit.seconds = train_s;
    r.test = fg::data::regression_metrics(p.test, yte);
    r.test_seconds = infer_per_utt * static_cast<double>(yte.size());
    r.tested = true;
    r.seconds = seconds;
    out.push_back(r);
  };
  add(name, res.optimised, res.train_seconds, res.infer_seconds_per_utt);
  add(name + "-eq43", res.closed_form, res.train_seconds + res.closed_train_seconds, res.closed_infer_seconds_per_utt);
  extra[name].push_back({{"seed", seed},
                         {"end_to_end_train_losses", res.train_losses},
                         {"optimised", {{"best_head_epoch", res.optimised.best_head_epoch},
                                        {"best_valid_mae", res.optimised.best_valid_mae}}},
                         {"closed_form", {{"best_head_epoch", res.closed_form.best_head_epoch},
                                          {"best_valid_mae", res.closed_form.best_valid_mae}}}});
  return out;
}

int run(const Options& o) {
  const auto t0 = fg::harness::Clock::now();
  std::ostream& human = o.out == "-" ? std::cerr : std::cout;
  fg::data::SyntheticConfig sc;
  sc.words_vocab = o.vocab;
  if (fg::harness::dataset_path(o).empty())
    std::cerr << fmt::format("mmb: generating synthetic data, words variant (V = {}, seed {}, {} / {} / {} utterances)...\n",
                             o.vocab, o.seed, o.train_size, o.valid_size, o.test_size);
  else
    std::cerr << fmt::format("mmb: reading {}...\n", fg::harness::dataset_path(o));
  const fg::harness::LoadedData d = fg::harness::load_data(o, sc);
  const auto seeds = fg::harness::run_seeds(o);

  fg::harness::Report rep;
  rep.speed_columns = true;
  rep.constant_test = fg::harness::constant_predictor(d.data.train, d.data.test);
  rep.constant_valid = fg::harness::constant_predictor(d.data.train, d.data.valid);
  if (!o.log.empty() && !o.resume) fg::io::write_output(o.log, "", "--log");  // a fresh log
  fg::harness::Splits splits(d.data);
  nlohmann::json mmb_extra = nlohmann::json::object();
  const bool several = o.models.size() * seeds.size() > 1;
  try {
    for (const std::string& model : o.models) {
      std::vector<std::string> names = {model};
      if (is_mmb(model)) {
        names.push_back(model + "-eq43");
        for (const std::uint64_t seed : seeds)
          for (RunResult& r : run_mmb(o, model, seed, d.data, splits, mmb_extra)) rep.runs.push_back(std::move(r));
      } else {
        fg::harness::RunSpec spec;
        spec.name = model;
        spec.model = model;
        spec.modalities = d.data.train.modality_names;
        for (const std::uint64_t seed : seeds) {
          const int before = splits.test_reads();
          rep.runs.push_back(fg::harness::run_one(o, spec, seed, splits, human, several));
          FG_CHECK(splits.test_reads() == before + 1, "run '{}': the test split was read {} times", model,
                   splits.test_reads() - before);
        }
      }
      // this model's row(s) now: a run cut short still shows what finished
      human << "\n" << fg::harness::results_header(rep, seeds.size());
      for (const std::string& n : names) human << fg::harness::results_row(rep, n, seeds.size());
      human.flush();
    }
  } catch (const fg::harness::Interrupted& e) {
    rep.interrupted_signal = e.signal();
    rep.interrupted_message = e.message();
  }
  rep.json = {{"example", "mmb"}, {"options", options_json(o)}, {"dataset", d.info}, {"mmb", mmb_extra}};
  rep.json["seconds"] = fg::harness::seconds_since(t0);
  const std::string after =
      fmt::format("mmb study: {}, test split; total {:.1f} s\n", o.quick ? "--quick settings" : "settings above",
                  fg::harness::seconds_since(t0));
  return fg::harness::write_report(rep, o, human, after);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mmb"};
  fg::cli::setup(app, "mmb");
  Options o;
  add_flags(app, o);
  return fg::cli::run_main(app, "mmb", argc, argv, [&] { validate(app, o); }, [&] { return run(o); });
}
