// examples/harness/harness.h: what a training example is made of besides its model
// (docs/harness.md): the shared flags (with a JSON --config the flags override), the data
// (--data FILE.h5 or the embedded synthetic corpus), the model registry, runs over seeds with
// the test split read once per run after training, the results table (mean +- std over
// seeds, and a constant-predictor row), the results JSON, the learning-curve SVG, and
// Ctrl-C (partial results, exit 128 + signal).
//
// A training example is then (examples/late_fusion.cpp):
//
//   HarnessOptions h;  add_harness_flags(app, h);  ... its own flags ...
//   validate: check_harness_flags(h)
//   run:      LoadedData d = load_data(h, synthetic_defaults);
//             Report r = run_experiment(h, {RunSpec{...}, ...}, d, human);
//             r.json["example"] = ...;  return write_report(r, h, human);
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/synthetic.h"
#include "examples/harness/trainer.h"
#include "models/zoo.h"

namespace fg::harness {

// The flags every training example shares (add_harness_flags registers them).
struct HarnessOptions {
  std::uint64_t seed = 0;              // data seed (synthetic corpus), and the run's seed without --seeds
  std::vector<std::uint64_t> seeds;    // --seeds 0,1,2: one run per seed (weights, shuffles, dropout)
  std::int64_t epochs = 25;
  std::int64_t batch_size = 32;
  std::string optimizer = "adam";
  double lr = 1e-3;
  double weight_decay = 0;
  std::string schedule = "constant";
  std::int64_t warmup_steps = 0;
  double clip = 0;
  std::int64_t patience = 0;
  std::string data;                    // --data FILE.h5 ("" = the corpus of --corpus)
  std::string corpus = "synthetic";    // --corpus: synthetic | reviews | reviews-unaligned
  std::int64_t train_size = 1284, valid_size = 229, test_size = 686;  // synthetic
  std::string out;                     // results JSON ("-" = standard output)
  std::string curves;                  // learning curves SVG
  std::string log;                     // JSONL log
  std::string checkpoint;              // checkpoint file (per run when several)
  std::int64_t checkpoint_every = 1;
  bool resume = false;
  std::string device = "cpu";
  bool deterministic = false;
  std::int64_t threads = 1;
  bool quiet = false;
  std::string program = "harness";     // names the default interrupt checkpoint and messages
};

// Registers the shared flags and --config (a JSON object of flag values by flag name without
// the dashes, "batch-size" or "batch_size"; flags on the command line override it).
void add_harness_flags(CLI::App& app, HarnessOptions& h);
// Flag checks after parsing (throws cli::UsageError naming the flag): every output path,
// --device, --data exists and is a file, --resume needs --checkpoint. Sets --threads.
void check_harness_flags(const HarnessOptions& h);

// The HDF5 file the run reads: --data, or the reviews corpus of --corpus reviews /
// reviews-unaligned (data/reviews.h; built at set-up by tools/build_reviews.sh); "" for the
// embedded synthetic corpus.
std::string dataset_path(const HarnessOptions& h);
// The seeds the runs use: --seeds, or {--seed}.
std::vector<std::uint64_t> run_seeds(const HarnessOptions& h);

struct LoadedData {
  data::MultimodalDataset data;
  nlohmann::json info;  // {"kind": "synthetic"|"h5", ...}
};
// --data FILE.h5 (errors name --data and the file), else the synthetic corpus from
// `synthetic` with the seed and sizes of `h`.
LoadedData load_data(const HarnessOptions& h, data::SyntheticConfig synthetic);

// ---- models by name
struct ModelSpec {
  std::vector<std::string> modalities;   // what the model reads
  std::vector<std::int64_t> input_dims;  // feature width of each
  nlohmann::json config;                 // the model's own settings (widths, dropout, ...)
  Device device = Device::cpu();
  std::uint64_t seed = 0;                // derive_seed(seed, k) for its generators
};
using TaskFactory = std::function<std::unique_ptr<Task>(const ModelSpec&)>;
// Every model of the zoo (models/zoo.h: ef_lstm, tfn, lmf, mfn, late_fusion) is known
// without registration, as a SentimentTask (L1): config keys hidden, fused_hidden, dropout,
// text_out, rank, num_layers, sequence_modalities map onto models::ZooConfig; weights from
// derive_seed(seed, 1000), dropout from derive_seed(seed, 2000) (checkpointed as "dropout").
// Other tasks (a paper's own, with extra terms or optimizers) are registered explicitly (a
// static library drops self-registering objects) before running; a registered name wins
// over the zoo's.
void register_task(const std::string& name, TaskFactory factory);
// The config keys above onto a models::ZooConfig (one parser for every task built on a zoo
// model: the plain SentimentTask and the papers' tasks, e.g. MDM's).
void apply_zoo_config(models::ZooConfig& z, const nlohmann::json& config);
std::unique_ptr<Task> make_task(const std::string& name, const ModelSpec& spec);
// The zoo's names, then the registered ones (for --help and error messages).
std::vector<std::string> task_names();

// ---- the test split, read once
// Hands out train and valid freely and test only through read_test(), which counts: a
// test can assert the count stays 0 while training runs.
class Splits {
 public:
  explicit Splits(const data::MultimodalDataset& d) : d_(d) {}
  const data::MultimodalSplit& train() const { return d_.train; }
  const data::MultimodalSplit& valid() const { return d_.valid; }
  const data::MultimodalSplit& read_test() {
    ++test_reads_;
    return d_.test;
  }
  int test_reads() const { return test_reads_; }

 private:
  const data::MultimodalDataset& d_;
  int test_reads_ = 0;
};

// ---- runs
struct RunSpec {
  std::string name;                       // "fused", "text", ...
  std::string model;                      // registry name
  std::vector<std::string> modalities;
  nlohmann::json model_config = nlohmann::json::object();
  std::vector<std::string> drop_at_test;  // zeroed when scoring test
};

struct RunResult {
  RunSpec spec;
  std::uint64_t seed = 0;
  FitResult fit;
  data::RegressionMetrics test;
  bool tested = false;       // false for an interrupted run
  double seconds = 0;
  double test_seconds = 0;   // scoring the test split once (inference: the speed columns)
  std::string checkpoint;    // where it was checkpointed ("" = nowhere)
};

// The TrainOptions of one run (checkpoint path per run and seed, frozen config).
TrainOptions train_options(const HarnessOptions& h, const RunSpec& spec, std::uint64_t seed, bool several_runs);

// Trains one run on splits.train()/valid() and scores splits.read_test() once, after fit().
RunResult run_one(const HarnessOptions& h, const RunSpec& spec, std::uint64_t seed, Splits& splits,
                  std::ostream& log, bool several_runs = false, const Observer& observer = {});

struct Report {
  std::vector<RunResult> runs;          // finished runs (every spec x seed, spec-major)
  data::RegressionMetrics constant_test, constant_valid;
  int interrupted_signal = 0;           // SIGINT/SIGTERM: the runs are partial
  std::string interrupted_message;
  nlohmann::json json;                  // everything written to --out; add keys before write_report
  // The study columns (examples/mmb): F1_has0 in the mean +- std table, and per run name the
  // training time (FitResult::seconds) and the inference time per test utterance
  // (RunResult::test_seconds / test.n), mean over seeds.
  bool speed_columns = false;
};

// Runs every spec over every seed. Ctrl-C stops after the current step: the interrupted
// run's checkpoint is written and the report holds what finished.
Report run_experiment(const HarnessOptions& h, const std::vector<RunSpec>& specs, const LoadedData& data,
                      std::ostream& human, const Observer& observer = {});

// The human table: one row per run (one seed) or per spec with mean +- std (several seeds),
// and the constant predictor's row.
std::string results_table(const Report& r, std::size_t seeds);
// Pieces of that table, to print a run name's row as soon as its seeds finished: the header
// line, and the row(s) of the finished runs named `name` (empty when none).
std::string results_header(const Report& r, std::size_t seeds);
std::string results_row(const Report& r, const std::string& name, std::size_t seeds);
// The learning curves (train loss and valid MAE per epoch) as an SVG document.
std::string curves_svg(const Report& r, const std::string& title);
// Prints the table, writes --out and --curves (all or nothing), returns the exit status:
// 0, or 128 + the signal of an interruption (after writing the partial results).
// `after_table` is printed right after the table (an example's own conclusions).
int write_report(Report& r, const HarnessOptions& h, std::ostream& human, const std::string& after_table = "");

// The JSON of one run.
nlohmann::json run_json(const RunResult& r);
// Build facts, device, timestamp for the results JSON.
nlohmann::json provenance_json(const HarnessOptions& h);

}  // namespace fg::harness
