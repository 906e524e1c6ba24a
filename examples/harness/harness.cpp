// examples/harness/harness.cpp: flags, data, registry, seeds, reports (harness.h).
#include "examples/harness/harness.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "engine/threads.h"
#include "data/h5_dataset.h"
#include "data/reviews.h"
#include "examples/common/cli.h"
#include "examples/estimators_svg.h"
#include "models/zoo.h"

namespace fg::harness {

namespace {

// --config FILE: a JSON object of flag values; keys are flag names without "--" ('_' or '-').
class JsonConfig : public CLI::Config {
 public:
  explicit JsonConfig(const CLI::App* app) : app_(app) {}
  std::string to_config(const CLI::App*, bool, bool, std::string) const override { return "{}\n"; }
  std::vector<CLI::ConfigItem> from_config(std::istream& in) const override {
    nlohmann::json j;
    try {
      in >> j;
    } catch (const nlohmann::json::exception& e) {
      throw CLI::ConfigError(fmt::format("--config: not valid JSON: {}", e.what()));
    }
    if (!j.is_object()) throw CLI::ConfigError("--config: expected a JSON object of flag values, e.g. {\"lr\": 0.001}");
    std::vector<CLI::ConfigItem> items;
    for (const auto& [key, value] : j.items()) {
      std::string name = key;
      std::replace(name.begin(), name.end(), '_', '-');
      if (name == "config" || app_->get_option_no_throw("--" + name) == nullptr)
        throw CLI::ConfigError(fmt::format("--config: unknown setting '{}' (not a flag of this program)", key));
      CLI::ConfigItem item;
      item.name = name;
      auto text = [&](const nlohmann::json& v) -> std::string {
        if (v.is_string()) return v.get<std::string>();
        if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
        if (v.is_number()) return v.dump();
        throw CLI::ConfigError(fmt::format("--config: setting '{}': expected a string, number, boolean or a list of them", key));
      };
      if (value.is_array())
        for (const auto& v : value) item.inputs.push_back(text(v));
      else
        item.inputs.push_back(text(value));
      items.push_back(item);
    }
    return items;
  }

 private:
  const CLI::App* app_;
};

std::map<std::string, TaskFactory>& registry() {
  static std::map<std::string, TaskFactory> r;
  return r;
}

std::string run_label(const RunResult& r) {
  std::string label = r.spec.name;
  if (r.spec.modalities.size() > 1) label += " (" + cli::join(r.spec.modalities, "+") + ")";
  for (const std::string& d : r.spec.drop_at_test) label += " -" + d;
  return label;
}

// "<base>.<name>-seed<N><ext>" when there are several runs, else base.
std::string per_run_path(const std::string& base, const std::string& name, std::uint64_t seed, bool several) {
  if (!several) return base;
  const std::filesystem::path p(base);
  const std::string stem = p.stem().string(), ext = p.extension().string();
  return (p.parent_path() / fmt::format("{}.{}-seed{}{}", stem, name, seed, ext)).string();
}

}  // namespace

void add_harness_flags(CLI::App& app, HarnessOptions& h) {
  using cli::int_range;
  app.config_formatter(std::make_shared<JsonConfig>(&app));
  app.set_config("--config", "",
                 "JSON file of flag values ({\"lr\": 0.003, \"hidden\": [8, 4, 4]}); flags given on the command line "
                 "override it");
  app.add_option("--seed", h.seed, "Seed of the synthetic data, and of the run (weights, shuffles, dropout) unless --seeds")
      ->check(cli::seed())
      ->capture_default_str();
  cli::add_list(app, "--seeds", h.seeds, "One run per seed (the data stay those of --seed); prints mean +- std")
      ->check(cli::seed());
  app.add_option("--epochs", h.epochs, fmt::format("Training epochs (at most {})", cli::kMaxEpochs))
      ->check(int_range(1, cli::kMaxEpochs))
      ->capture_default_str();
  app.add_option("--batch-size", h.batch_size, "Utterances per mini-batch (the last partial batch is kept)")
      ->check(int_range(1, 10'000'000))
      ->capture_default_str();
  app.add_option("--optimizer", h.optimizer, "adam or adamw")
      ->check(CLI::IsMember({"adam", "adamw"}))
      ->capture_default_str();
  app.add_option("--lr", h.lr, "Learning rate (a finite number > 0)")->check(cli::finite_positive())->capture_default_str();
  app.add_option("--weight-decay", h.weight_decay, "Weight decay (adam: L2 in the gradient; adamw: decoupled)")
      ->check(cli::finite_range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--schedule", h.schedule,
                 "Learning-rate schedule: constant, linear (warmup then linear decay to 0 at the last step) or "
                 "plateau (halve the lr after 2 epochs without a better valid MAE)")
      ->check(CLI::IsMember({"constant", "linear", "plateau"}))
      ->capture_default_str();
  app.add_option("--warmup-steps", h.warmup_steps, "Warmup steps of --schedule linear")
      ->check(int_range(0, cli::kMaxSteps))
      ->capture_default_str();
  app.add_option("--clip", h.clip, "Clip the global gradient norm to this (0: no clipping)")
      ->check(cli::finite_range(0.0, 1e12))
      ->capture_default_str();
  app.add_option("--patience", h.patience, "Stop after this many epochs without a better valid MAE (0: never)")
      ->check(int_range(0, cli::kMaxEpochs))
      ->capture_default_str();
  app.add_option("--data", h.data,
                 "Train on this dataset in fusegrad's HDF5 format (docs/data-format.md) instead of the embedded "
                 "synthetic corpus");
  app.add_option("--corpus", h.corpus,
                 "Embedded corpus when --data is not given: synthetic (generated in memory, data/synthetic.h), reviews "
                 "(4,000 real Rotten Tomatoes sentences with espeak-ng speech, word-aligned; docs/reviews-corpus.md) "
                 "or reviews-unaligned (acoustic frames and BERT token ids)")
      ->check(CLI::IsMember({"synthetic", "reviews", "reviews-unaligned"}))
      ->capture_default_str();
  app.add_option("--train-size", h.train_size, "Synthetic training utterances")
      ->check(int_range(1, 10'000'000))
      ->capture_default_str();
  app.add_option("--valid-size", h.valid_size, "Synthetic validation utterances (model selection)")
      ->check(int_range(1, 10'000'000))
      ->capture_default_str();
  app.add_option("--test-size", h.test_size, "Synthetic test utterances (scored once, at the end)")
      ->check(int_range(1, 10'000'000))
      ->capture_default_str();
  app.add_option("--out", h.out,
                 "Write the results (options, per-seed metrics, history, timings, build) to this JSON file; - for "
                 "standard output (the table then goes to standard error)");
  app.add_option("--curves", h.curves, "Write the learning curves (train loss, valid MAE per epoch) to this SVG file");
  app.add_option("--log", h.log, "Append one JSON line per epoch and per evaluation to this file while training");
  app.add_option("--checkpoint", h.checkpoint,
                 "Checkpoint file (weights, optimizer, generators, position, best weights), written atomically "
                 "every --checkpoint-every epochs; one file per run and seed when there are several");
  app.add_option("--checkpoint-every", h.checkpoint_every, "Epochs between checkpoints")
      ->check(int_range(1, cli::kMaxEpochs))
      ->capture_default_str();
  app.add_flag("--resume", h.resume,
               "Continue from --checkpoint where it exists (bitwise identical to an uninterrupted run on the CPU); "
               "the settings must match the checkpoint's");
  app.add_option("--device", h.device, "cpu, or cuda / cuda:N (needs a build with FUSEGRAD_CUDA=ON and a GPU)")
      ->capture_default_str();
  app.add_flag("--deterministic", h.deterministic,
               "Deterministic CUDA kernels (fixed summation order): two runs with one seed give bitwise-equal losses "
               "(compare the loss fingerprints). CPU runs are deterministic anyway");
  app.add_option("--threads", h.threads,
                 "Threads of the CPU kernels (OpenBLAS's matrix products and the OpenMP loops, one count)")
      ->check(int_range(1, 1024))
      ->capture_default_str();
  app.add_flag("--quiet", h.quiet, "No progress bar and no per-epoch lines");
}

void check_harness_flags(const HarnessOptions& h) {
  cli::device_flag(h.device);
  cli::check_output_flags({{h.out, "--out"}, {h.curves, "--curves"}, {h.log, "--log"}, {h.checkpoint, "--checkpoint"}});
  cli::check_output_flag(h.checkpoint, "--checkpoint", io::OutputUse::named_file);
  if (h.log == "-") throw cli::UsageError("--log: give a file name ('-' is not a log file)");
  if (h.resume && h.checkpoint.empty()) throw cli::UsageError("--resume: needs --checkpoint FILE (the file to resume from)");
  if (!h.data.empty()) {
    struct stat st {};
    if (::stat(h.data.c_str(), &st) != 0)
      throw cli::UsageError(fmt::format("--data: '{}' does not exist", h.data));
    if (!S_ISREG(st.st_mode))
      throw cli::UsageError(fmt::format("--data: '{}' is not a file (expected an HDF5 dataset, docs/data-format.md)", h.data));
    if (::access(h.data.c_str(), R_OK) != 0) throw cli::UsageError(fmt::format("--data: '{}' is not readable", h.data));
  }
  if (h.corpus != "synthetic") {
    if (!h.data.empty())
      throw cli::UsageError(fmt::format("--corpus {}: give either --corpus or --data FILE.h5, not both", h.corpus));
    const std::string path = dataset_path(h);
    if (::access(path.c_str(), R_OK) != 0)
      throw cli::UsageError(fmt::format(
          "--corpus {}: '{}' has not been built (bash tools/build_reviews.sh builds it; tools/setup.sh runs it; "
          "docs/reviews-corpus.md)",
          h.corpus, path));
  }
  // --threads: BLAS reads FUSEGRAD_BLAS_THREADS at the first CPU allocation; set both ways
  ::setenv("FUSEGRAD_BLAS_THREADS", std::to_string(h.threads).c_str(), 1);
  fg::set_num_threads(static_cast<int>(h.threads));  // OpenBLAS and OpenMP (engine/threads.h)
}

std::vector<std::uint64_t> run_seeds(const HarnessOptions& h) {
  return h.seeds.empty() ? std::vector<std::uint64_t>{h.seed} : h.seeds;
}

std::string dataset_path(const HarnessOptions& h) {
  if (!h.data.empty()) return h.data;
  if (h.corpus == "reviews") return data::reviews_corpus_file(false);
  if (h.corpus == "reviews-unaligned") return data::reviews_corpus_file(true);
  return "";
}

LoadedData load_data(const HarnessOptions& h, data::SyntheticConfig c) {
  LoadedData out;
  const std::string path = dataset_path(h);
  if (!path.empty()) {
    const char* flag = h.data.empty() ? "--corpus" : "--data";
    try {
      out.data = data::read_h5_dataset(path).data;
    } catch (const fg::Error& e) {
      throw fg::Error(fmt::format("{}: {}", flag, e.message()));
    }
    out.info = {{"kind", h.data.empty() ? h.corpus : std::string("h5")}, {"path", path}, {"train", out.data.train.size()},
                {"valid", out.data.valid.size()}, {"test", out.data.test.size()}};
    for (std::size_t m = 0; m < out.data.train.modality_names.size(); ++m)
      out.info["dims"][out.data.train.modality_names[m]] = out.data.train.feature_dim(static_cast<std::int64_t>(m));
    return out;
  }
  c.seed = h.seed;
  c.train_size = h.train_size, c.valid_size = h.valid_size, c.test_size = h.test_size;
  out.data = data::make_synthetic_dataset(c).data;
  out.info = {{"kind", "synthetic"}, {"seed", c.seed}, {"train", c.train_size}, {"valid", c.valid_size},
              {"test", c.test_size}, {"max_steps", c.max_steps}};
  for (const auto& m : c.modalities) out.info["dims"][m.name] = m.dim;
  return out;
}

void register_task(const std::string& name, TaskFactory factory) { registry()[name] = std::move(factory); }

void apply_zoo_config(models::ZooConfig& z, const nlohmann::json& c) {
  if (c.contains("hidden")) z.hidden = c.at("hidden").get<std::vector<std::int64_t>>();
  if (c.contains("fused_hidden")) z.fused_hidden = c.at("fused_hidden");
  if (c.contains("dropout")) z.dropout = c.at("dropout");
  if (c.contains("text_out")) z.text_out = c.at("text_out");
  if (c.contains("rank")) z.rank = c.at("rank");
  if (c.contains("num_layers")) z.num_layers = c.at("num_layers");
  if (c.contains("sequence_modalities"))
    z.sequence_modalities = c.at("sequence_modalities").get<std::vector<std::string>>();
}

std::unique_ptr<Task> zoo_task(const std::string& name, const ModelSpec& spec) {
  Generator init(data::derive_seed(spec.seed, 1000));
  models::ZooConfig z;
  z.modalities = spec.modalities;
  z.input_dims = spec.input_dims;
  z.device = spec.device;
  z.init_gen = &init;
  auto dropout = std::make_shared<Generator>(data::derive_seed(spec.seed, 2000));
  z.dropout_gen = dropout;
  apply_zoo_config(z, spec.config);
  return std::make_unique<SentimentTask>(
      models::make_zoo_model(name, z), std::vector<std::pair<std::string, std::shared_ptr<Generator>>>{{"dropout", dropout}});
}

std::unique_ptr<Task> make_task(const std::string& name, const ModelSpec& spec) {
  if (const auto it = registry().find(name); it != registry().end()) return it->second(spec);
  const auto zoo = models::zoo_model_names();
  FG_CHECK(std::find(zoo.begin(), zoo.end(), name) != zoo.end(), "--model: unknown model '{}' (known: {})", name,
           cli::join(task_names(), ", "));
  return zoo_task(name, spec);
}

std::vector<std::string> task_names() {
  std::vector<std::string> names = models::zoo_model_names();
  for (const auto& [k, _] : registry())
    if (std::find(names.begin(), names.end(), k) == names.end()) names.push_back(k);
  return names;
}

TrainOptions train_options(const HarnessOptions& h, const RunSpec& spec, std::uint64_t seed, bool several) {
  TrainOptions o;
  o.epochs = h.epochs, o.batch_size = h.batch_size, o.optimizer = h.optimizer, o.lr = h.lr;
  o.weight_decay = h.weight_decay, o.schedule = h.schedule, o.warmup_steps = h.warmup_steps;
  o.clip = h.clip, o.patience = h.patience, o.seed = seed, o.device = h.device, o.deterministic = h.deterministic;
  o.checkpoint = h.checkpoint.empty() ? "" : per_run_path(h.checkpoint, spec.name, seed, several);
  if (h.checkpoint.empty())  // Ctrl-C still leaves a checkpoint to resume from
    o.interrupt_checkpoint = per_run_path(
        (h.out.empty() || h.out == "-" ? h.program : h.out) + ".ckpt", spec.name, seed, several);
  o.checkpoint_every = h.checkpoint_every, o.resume = h.resume, o.log = h.log, o.quiet = h.quiet;
  o.name = spec.name;
  o.hint = fmt::format("lower --lr (now {})", h.lr);
  // what must not change between a checkpoint and its resume (epochs may grow)
  o.config = {{"model", spec.model},     {"run", spec.name},         {"modalities", spec.modalities},
              {"model_config", spec.model_config}, {"seed", seed},   {"data_seed", h.seed},
              {"data", h.data},          {"train_size", h.train_size}, {"valid_size", h.valid_size},
              {"test_size", h.test_size}, {"epochs", h.epochs},      {"batch_size", h.batch_size},
              {"optimizer", h.optimizer}, {"lr", h.lr},              {"weight_decay", h.weight_decay},
              {"schedule", h.schedule},   {"warmup_steps", h.warmup_steps}, {"clip", h.clip},
              {"patience", h.patience},   {"device", h.device}};
  return o;
}

RunResult run_one(const HarnessOptions& h, const RunSpec& spec, std::uint64_t seed, Splits& splits, std::ostream& log,
                  bool several, const Observer& observer) {
  const auto t0 = Clock::now();
  const TrainOptions o = train_options(h, spec, seed, several);
  const data::MultimodalSplit& train = splits.train();
  ModelSpec ms;
  ms.modalities = spec.modalities;
  for (const std::string& m : spec.modalities) ms.input_dims.push_back(train.feature_dim(train.modality_index(m)));
  ms.config = spec.model_config;
  ms.device = parse_device(h.device);
  ms.seed = seed;
  const DeterministicScope deterministic(h.deterministic);
  std::unique_ptr<Task> task = make_task(spec.model, ms);
  RunResult r;
  r.spec = spec;
  r.seed = seed;
  r.checkpoint = o.checkpoint;
  try {
    r.fit = fit(*task, train, splits.valid(), o, log, observer);
  } catch (Interrupted& e) {
    r.fit = e.partial;
    r.seconds = seconds_since(t0);
    throw;
  }
  // Model selection happened on valid only; the test split is read here, once.
  const auto t_test = Clock::now();
  r.test = evaluate(*task, splits.read_test(), h.batch_size, ms.device, spec.drop_at_test);
  r.test_seconds = seconds_since(t_test);
  r.tested = true;
  r.seconds = seconds_since(t0);
  return r;
}

Report run_experiment(const HarnessOptions& h, const std::vector<RunSpec>& specs, const LoadedData& d,
                      std::ostream& human, const Observer& observer) {
  Report rep;
  rep.constant_test = constant_predictor(d.data.train, d.data.test);
  rep.constant_valid = constant_predictor(d.data.train, d.data.valid);
  const auto seeds = run_seeds(h);
  const bool several = specs.size() * seeds.size() > 1;
  if (!h.log.empty() && !h.resume) io::write_output(h.log, "", "--log");  // a fresh log
  Splits splits(d.data);
  try {
    for (const RunSpec& spec : specs)
      for (const std::uint64_t seed : seeds) {
        const int before = splits.test_reads();
        rep.runs.push_back(run_one(h, spec, seed, splits, human, several, observer));
        FG_CHECK(splits.test_reads() == before + 1, "run '{}': the test split was read {} times", spec.name,
                 splits.test_reads() - before);
      }
  } catch (const Interrupted& e) {
    rep.interrupted_signal = e.signal();
    rep.interrupted_message = e.message();
  }
  return rep;
}

nlohmann::json run_json(const RunResult& r) {
  nlohmann::json history = nlohmann::json::array();
  for (const EpochRecord& e : r.fit.history) history.push_back(epoch_json(e));
  nlohmann::json j = {{"name", r.spec.name},
                      {"model", r.spec.model},
                      {"seed", r.seed},
                      {"modalities", r.spec.modalities},
                      {"dropped_at_test", r.spec.drop_at_test},
                      {"parameters", r.fit.parameters},
                      {"best_epoch", r.fit.best_epoch},
                      {"valid_at_best", metrics_json(r.fit.best_valid)},
                      {"stopped_early", r.fit.stopped_early},
                      {"resumed", r.fit.resumed},
                      {"seconds", r.seconds},
                      {"train_seconds", r.fit.seconds},
                      {"test_seconds", r.test_seconds},
                      {"steps", r.fit.step_losses.size()},
                      {"loss_fingerprint", loss_fingerprint(r.fit.step_losses)},
                      {"history", history}};
  j["test"] = r.tested ? metrics_json(r.test) : nlohmann::json(nullptr);
  if (r.tested && r.test.n > 0) j["infer_seconds_per_utterance"] = r.test_seconds / static_cast<double>(r.test.n);
  if (!r.checkpoint.empty()) j["checkpoint"] = r.checkpoint;
  return j;
}

nlohmann::json provenance_json(const HarnessOptions& h) {
  const cli::BuildInfo& b = cli::build_info();
  const std::time_t now = std::time(nullptr);
  char stamp[32] = {};
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return {{"version", b.version}, {"git_commit", b.commit}, {"build_type", b.build_type}, {"cuda_built", b.cuda},
          {"device", h.device},   {"deterministic", h.deterministic}, {"threads", h.threads}, {"timestamp", stamp}};
}

namespace {

// The label column is as wide as the longest label (at least 28).
std::size_t label_width(const Report& r) {
  std::size_t w = 28;
  for (const RunResult& x : r.runs) w = std::max(w, run_label(x).size());
  return w;
}

std::string speed_cells(const std::vector<const RunResult*>& runs) {
  std::vector<double> train, infer;
  for (const RunResult* x : runs) {
    train.push_back(x->fit.seconds);
    infer.push_back(x->test.n > 0 ? 1000.0 * x->test_seconds / static_cast<double>(x->test.n) : 0.0);
  }
  const data::MeanStd t = data::mean_std(train), i = data::mean_std(infer);
  return fmt::format(" {:>15} {:>12}", fmt::format("{:.1f} +- {:.1f}", t.mean, t.std), fmt::format("{:.4f}", i.mean));
}

}  // namespace

std::string results_header(const Report& r, std::size_t seeds) {
  const std::size_t w = label_width(r);
  const std::string speed = r.speed_columns ? fmt::format(" {:>15} {:>12}", "train s", "infer ms/utt") : "";
  if (seeds <= 1)
    return fmt::format("{:<{}} {:>7} {:>7} {:>9} {:>9} {:>8} {:>8} {:>7}", "model (test split)", w, "MAE", "Corr",
                       "Acc2_has0", "Acc2_non0", "F1_has0", "F1_non0", "Acc7") +
           fmt::format(" {:>6} {:>8}", "best", "seconds") + speed + "\n";
  return fmt::format("{:<{}} {:>15} {:>15} {:>15} {:>15}", "model (test split)", w, "MAE", "Corr", "Acc2_has0",
                     "Acc2_non0") +
         (r.speed_columns ? fmt::format(" {:>15}", "F1_has0") : "") + fmt::format(" {:>15} {:>4}", "Acc7", "n") + speed +
         "\n";
}

std::string results_row(const Report& r, const std::string& name, std::size_t seeds) {
  const std::size_t w = label_width(r);
  std::vector<const RunResult*> runs;
  for (const RunResult& x : r.runs)
    if (x.spec.name == name && x.tested) runs.push_back(&x);
  if (runs.empty()) return "";
  std::string out;
  if (seeds <= 1) {
    for (const RunResult* x : runs) {
      const data::RegressionMetrics& m = x->test;
      out += fmt::format("{:<{}} {:>7.4f} {:>7.4f} {:>9.4f} {:>9.4f} {:>8.4f} {:>8.4f} {:>7.4f}", run_label(*x), w, m.mae,
                         m.corr, m.acc2_has0, m.acc2_non0, m.f1_has0, m.f1_non0, m.acc7) +
             fmt::format(" {:>6} {:>8.1f}", x->fit.best_epoch, x->seconds) +
             (r.speed_columns ? speed_cells({x}) : "") + "\n";
    }
    return out;
  }
  // mean +- std over the seeds of the run name
  std::vector<data::RegressionMetrics> ms;
  for (const RunResult* x : runs) ms.push_back(x->test);
  std::map<std::string, data::MeanStd> s;
  for (const auto& [k, v] : data::summarize_runs(ms)) s[k] = v;
  auto cell = [&](const char* k) { return fmt::format("{:.4f} +- {:.4f}", s[k].mean, s[k].std); };
  return fmt::format("{:<{}} {:>15} {:>15} {:>15} {:>15}", run_label(*runs.back()), w, cell("mae"), cell("corr"),
                     cell("acc2_has0"), cell("acc2_non0")) +
         (r.speed_columns ? fmt::format(" {:>15}", cell("f1_has0")) : "") +
         fmt::format(" {:>15} {:>4}", cell("acc7"), ms.size()) + (r.speed_columns ? speed_cells(runs) : "") + "\n";
}

std::string results_table(const Report& r, std::size_t seeds) {
  const std::size_t w = label_width(r);
  std::string out = results_header(r, seeds);
  std::vector<std::string> names;
  for (const RunResult& x : r.runs)
    if (std::find(names.begin(), names.end(), x.spec.name) == names.end()) names.push_back(x.spec.name);
  for (const std::string& name : names) out += results_row(r, name, seeds);
  const auto& c = r.constant_test;
  if (seeds <= 1)
    return out + fmt::format("{:<{}} {:>7.4f} {:>7.4f} {:>9.4f} {:>9.4f} {:>8.4f} {:>8.4f} {:>7.4f}\n",
                             "constant (train mean)", w, c.mae, c.corr, c.acc2_has0, c.acc2_non0, c.f1_has0, c.f1_non0,
                             c.acc7);
  out += fmt::format("{:<{}} {:>15} {:>15} {:>15} {:>15}", "constant (train mean)", w, fmt::format("{:.4f}", c.mae),
                     fmt::format("{:.4f}", c.corr), fmt::format("{:.4f}", c.acc2_has0),
                     fmt::format("{:.4f}", c.acc2_non0)) +
         (r.speed_columns ? fmt::format(" {:>15}", fmt::format("{:.4f}", c.f1_has0)) : "") +
         fmt::format(" {:>15} {:>4}\n", fmt::format("{:.4f}", c.acc7), "-");
  out += "(mean +- std over seeds, std with ddof 0 as numpy.std";
  if (r.speed_columns)
    out += "; train s: training incl. validation/selection; infer ms/utt: scoring the test split / its utterances";
  return out + ")\n";
}

std::string curves_svg(const Report& r, const std::string& title) {
  static const char* palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};
  std::vector<examples::PlotSeries> series;
  std::size_t longest = 0, k = 0;
  for (const RunResult& x : r.runs) {
    if (r.runs.size() > 6 && x.seed != r.runs.front().seed) continue;  // many runs: the first seed of each
    std::vector<double> loss, mae;
    for (const EpochRecord& e : x.fit.history) loss.push_back(e.train_loss), mae.push_back(e.valid.mae);
    longest = std::max(longest, loss.size());
    const std::string color = palette[k++ % 8];
    const std::string who = fmt::format("{} seed {}", x.spec.name, x.seed);
    series.push_back({who + " train loss", color, loss, false, false});
    series.push_back({who + " valid MAE", color, mae, true, false});
  }
  std::vector<double> xs;
  for (std::size_t e = 1; e <= std::max<std::size_t>(longest, 1); ++e) xs.push_back(static_cast<double>(e));
  examples::PlotLayout layout;
  layout.title = title;
  layout.x_title = "epoch";
  layout.y_title = "train loss (solid), valid MAE (dashed)";
  layout.x_include_zero = false;
  return examples::svg_line_plot(xs, series, layout);
}

int write_report(Report& r, const HarnessOptions& h, std::ostream& human, const std::string& after_table) {
  const std::size_t seeds = run_seeds(h).size();
  human << "\n" << results_table(r, seeds) << after_table;
  for (const RunResult& x : r.runs)
    if (!x.fit.step_losses.empty())  // (a run trained outside fit(), e.g. MMB, has none)
      human << fmt::format("{} seed {}: {} training steps, loss fingerprint {}\n", x.spec.name, x.seed,
                         x.fit.step_losses.size(), loss_fingerprint(x.fit.step_losses));
  nlohmann::json& j = r.json;
  j["runs"] = nlohmann::json::array();
  for (const RunResult& x : r.runs) j["runs"].push_back(run_json(x));
  j["constant_predictor"] = {{"what", "predicts the mean training label"},
                             {"valid", metrics_json(r.constant_valid)},
                             {"test", metrics_json(r.constant_test)}};
  if (seeds > 1) {
    nlohmann::json summary = nlohmann::json::object();
    for (const RunResult& x : r.runs) {
      if (summary.contains(x.spec.name)) continue;
      std::vector<data::RegressionMetrics> ms;
      for (const RunResult& y : r.runs)
        if (y.spec.name == x.spec.name && y.tested) ms.push_back(y.test);
      for (const auto& [k, v] : data::summarize_runs(ms))
        summary[x.spec.name][k] = {{"mean", v.mean}, {"std", v.std}, {"n", v.n}};
    }
    j["summary_test"] = summary;
    j["summary_ddof"] = 0;
  }
  j["seeds"] = run_seeds(h);
  j["build"] = provenance_json(h);
  j["interrupted"] = r.interrupted_signal != 0;
  if (r.interrupted_signal != 0) j["interrupted_message"] = r.interrupted_message;
  std::vector<io::Output> outs;
  if (!h.out.empty()) outs.push_back({h.out, j.dump(2) + "\n", "--out"});
  if (!h.curves.empty()) outs.push_back({h.curves, curves_svg(r, h.program + " learning curves"), "--curves"});
  io::write_outputs(outs);
  if (!h.out.empty() && h.out != "-")
    human << (r.interrupted_signal ? "partial results written to " : "results written to ") << h.out << "\n";
  if (r.interrupted_signal != 0) {
    std::cerr << h.program << ": " << r.interrupted_message << "\n";
    return 128 + r.interrupted_signal;
  }
  return 0;
}

}  // namespace fg::harness
