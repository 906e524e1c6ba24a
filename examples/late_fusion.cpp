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
//   late_fusion --help                         # every flag
//
// The training code sits in namespace late_fusion so tests/test_late_fusion.cpp can include
// this file (with FG_LATE_FUSION_NO_MAIN defined) and drive a tiny run directly.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "data/batching.h"
#include "data/metrics.h"
#include "data/synthetic.h"
#include "engine/autograd.h"
#include "engine/cuda/cuda_api.h"
#include "engine/error.h"
#include "engine/io/output_file.h"
#include "engine/ops.h"
#include "engine/random.h"
#include "engine/nn/nn.h"
#include "engine/optim/adam.h"
#include "engine/optim/divergence.h"
#include "examples/common/cli.h"

namespace late_fusion {

using fg::Tensor;
using fg::data::RegressionMetrics;

// ---------------------------------------------------------------- options

struct Options {
  std::uint64_t seed = 0;
  std::int64_t epochs = 25;
  std::int64_t batch_size = 32;
  double lr = 1e-3;
  std::vector<std::int64_t> hidden = {64, 16, 32};  // per-modality MLP width (text, acoustic, visual)
  std::int64_t head_hidden = 64;
  double dropout = 0.1;
  std::int64_t train_size = 1284, valid_size = 229, test_size = 686;
  std::vector<std::string> modalities = {"text", "acoustic", "visual"};
  bool compare = false;
  std::string out;           // results JSON; "-" = standard output
  std::string device = "cpu";
  std::vector<std::string> drop_at_test;  // modalities zeroed when scoring the test split
  bool deterministic = false;  // fg::cuda::set_deterministic for the run (CPU runs always are)
  bool quiet = false;        // no progress bar (tests)
};

// ---------------------------------------------------------------- results

struct EpochRecord {
  std::int64_t epoch = 0;   // 1-based
  double train_l1 = 0;      // mean training loss over the epoch's batches
  RegressionMetrics valid;
  double seconds = 0;
};

struct RunResult {
  std::string name;                      // "fused" or the modality's name
  std::vector<std::string> modalities;
  std::vector<std::string> dropped_at_test;  // zeroed when scoring test (--drop-at-test)
  std::int64_t parameters = 0;
  std::int64_t best_epoch = 0;           // 1-based; the weights scored on test
  RegressionMetrics best_valid, test;
  std::vector<EpochRecord> history;
  std::vector<double> step_losses;       // the training loss of every step, in order
  double seconds = 0;
};

// FNV-1a over the bit patterns of the step losses: two runs print the same fingerprint
// exactly when every loss of one is bitwise equal to the other's (the --deterministic check).
std::string loss_fingerprint(const std::vector<double>& losses) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (const double v : losses) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof bits);
    for (int byte = 0; byte < 8; ++byte) {
      h ^= (bits >> (8 * byte)) & 0xffu;
      h *= 0x100000001b3ull;
    }
  }
  return fmt::format("{:016x}", h);
}

// Sets fg::cuda's deterministic mode for the lifetime of a run and restores it after.
class DeterministicScope {
 public:
  explicit DeterministicScope(bool on) : was_(fg::cuda::deterministic()) {
    if (on) fg::cuda::set_deterministic(true);
  }
  ~DeterministicScope() { fg::cuda::set_deterministic(was_); }
  DeterministicScope(const DeterministicScope&) = delete;
  DeterministicScope& operator=(const DeterministicScope&) = delete;

 private:
  bool was_;
};

// ---------------------------------------------------------------- the model

// Mean over the valid steps of each utterance: x [B, T, D], mask [B, T] (1 valid, 0 pad) -> [B, D].
// Padding never leaks into the average, however long the batch's longest utterance is.
Tensor masked_time_mean(const Tensor& x, const Tensor& mask) {
  const Tensor weights = fg::unsqueeze(mask, 2);              // [B, T, 1]
  const Tensor total = fg::sum(x * weights, 1);               // [B, D]
  const Tensor count = fg::sum(mask, 1, /*keepdim=*/true);    // [B, 1]
  return total / count;
}

// The late-fusion network. Child modules (and so the parameter names) are
// "<modality>_encoder" for each modality, then "head":
//   <modality>_encoder = MLP D_m -> h_m -> h_m, ReLU and dropout after each Linear
//   head               = MLP sum(h_m) -> head_hidden -> 1, ReLU and dropout after the first
class LateFusionModel : public fg::nn::Module {
 public:
  LateFusionModel(const std::vector<std::string>& modalities, const std::vector<std::int64_t>& input_dims,
                  const std::vector<std::int64_t>& hidden, std::int64_t head_hidden, double dropout,
                  fg::Device device, fg::Generator& init_gen, std::shared_ptr<fg::Generator> dropout_gen)
      : modalities_(modalities) {
    using fg::nn::Activation;
    using fg::nn::MLP;
    using fg::nn::MLPOptions;
    std::int64_t fused_width = 0;
    for (std::size_t m = 0; m < modalities.size(); ++m) {
      MLPOptions enc;
      enc.sizes = {input_dims[m], hidden[m], hidden[m]};
      enc.activations = {Activation::ReLU};
      enc.dropout = {dropout};
      enc.activate_last = true;
      enc.param_options = fg::f32_opts(device);
      enc.dropout_generator = dropout_gen;
      encoders_.push_back(register_module(modalities[m] + "_encoder", std::make_shared<MLP>(enc, init_gen)));
      fused_width += hidden[m];
    }
    MLPOptions head;
    head.sizes = {fused_width, head_hidden, 1};
    head.activations = {Activation::ReLU};
    head.dropout = {dropout};
    head.param_options = fg::f32_opts(device);
    head.dropout_generator = dropout_gen;
    head_ = register_module("head", std::make_shared<MLP>(head, init_gen));
  }
  std::string type_name() const override { return "LateFusionModel"; }

  // The predicted sentiment of each utterance of the batch: [B].
  Tensor forward(const fg::data::Batch& batch) const {
    std::vector<Tensor> parts;
    for (std::size_t m = 0; m < modalities_.size(); ++m) {
      const Tensor pooled = masked_time_mean(batch.modality(modalities_[m]), batch.mask);  // [B, D_m]
      parts.push_back(encoders_[m]->forward(pooled));                                     // [B, h_m]
    }
    const Tensor fused = parts.size() == 1 ? parts[0] : fg::concat(parts, 1);              // [B, sum h_m]
    return fg::reshape(head_->forward(fused), {batch.size()});                             // [B]
  }

 private:
  std::vector<std::string> modalities_;
  std::vector<std::shared_ptr<fg::nn::MLP>> encoders_;
  std::shared_ptr<fg::nn::MLP> head_;
};

// ---------------------------------------------------------------- progress (stderr, plain text)

// One line per epoch: "epoch  3/30 [==============================] train L1 0.7712  (0.41 s)".
// The bar only ever appends characters (no carriage returns), so it reads the same in a
// terminal and in a log file.
class ProgressBar {
 public:
  ProgressBar(bool enabled, std::int64_t epoch, std::int64_t epochs, std::int64_t total, const std::string& label)
      : enabled_(enabled), total_(total) {
    if (!enabled_) return;
    std::fprintf(stderr, "%-8s epoch %*lld/%lld [", label.c_str(), static_cast<int>(std::to_string(epochs).size()),
                 static_cast<long long>(epoch), static_cast<long long>(epochs));
    std::fflush(stderr);
  }
  ~ProgressBar() {  // an epoch cut short (an error) still ends its line
    if (enabled_ && !finished_) std::fputc('\n', stderr);
  }
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;
  // Call after batch `done` (1-based) of `total`.
  void advance(std::int64_t done) {
    if (!enabled_) return;
    const std::int64_t target = total_ == 0 ? kWidth : done * kWidth / total_;
    for (; drawn_ < target; ++drawn_) std::fputc('=', stderr);
    std::fflush(stderr);
  }
  void finish(const std::string& summary) {
    if (!enabled_) return;
    advance(total_);
    std::fprintf(stderr, "] %s\n", summary.c_str());
    std::fflush(stderr);
    finished_ = true;
  }

 private:
  static constexpr std::int64_t kWidth = 30;
  bool enabled_;
  std::int64_t total_;
  std::int64_t drawn_ = 0;
  bool finished_ = false;
};

// ---------------------------------------------------------------- training and evaluation

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Predictions of `model` on a whole split, in row order, with `drop` modalities zeroed.
RegressionMetrics evaluate(LateFusionModel& model, const fg::data::MultimodalSplit& split, std::int64_t batch_size,
                           fg::Device device, const std::vector<std::string>& drop = {}) {
  fg::NoGradGuard no_grad;
  model.train(false);
  fg::data::BatchLoader loader(split, fg::data::BatchOptions{batch_size, /*shuffle=*/false, 0, true, device});
  std::vector<double> pred, label;
  pred.reserve(static_cast<std::size_t>(split.size()));
  for (std::int64_t b = 0; b < loader.num_batches(); ++b) {
    fg::data::Batch batch = loader.batch(b);
    fg::data::zero_modalities(batch, drop);
    const auto p = model.forward(batch).to_vector<double>();
    const auto y = batch.labels.to_vector<double>();
    pred.insert(pred.end(), p.begin(), p.end());
    label.insert(label.end(), y.begin(), y.end());
  }
  return fg::data::regression_metrics(pred, label);
}

// A copy of every parameter's values (the "best so far" weights, kept in memory).
std::vector<Tensor> snapshot(const std::vector<Tensor>& params) {
  std::vector<Tensor> out;
  for (const Tensor& p : params) out.push_back(p.detach().clone());
  return out;
}

void restore(std::vector<Tensor>& params, const std::vector<Tensor>& saved) {
  fg::NoGradGuard no_grad;
  for (std::size_t i = 0; i < params.size(); ++i) fg::copy_(params[i], saved[i]);
}

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

// Trains one model on `modalities` of the dataset, selects the epoch with the best validation
// MAE, and scores the test split once with those weights.
RunResult train_and_evaluate(const Options& opt, const fg::data::MultimodalDataset& data,
                             const std::vector<std::string>& modalities, const std::string& name,
                             std::ostream& log) {
  const auto t0 = Clock::now();
  const DeterministicScope deterministic(opt.deterministic);
  const fg::Device device = fg::parse_device(opt.device);
  const fg::data::MultimodalSplit& train = data.train;

  std::vector<std::int64_t> dims;
  for (const std::string& m : modalities) dims.push_back(train.feature_dim(train.modality_index(m)));
  fg::Generator init_gen(fg::data::derive_seed(opt.seed, 1000));
  auto dropout_gen = std::make_shared<fg::Generator>(fg::data::derive_seed(opt.seed, 2000));
  LateFusionModel model(modalities, dims, hidden_sizes_for(opt, train.modality_names, modalities), opt.head_hidden,
                        opt.dropout, device, init_gen, dropout_gen);
  std::vector<Tensor> params = model.parameters();
  fg::optim::AdamOptions adam;
  adam.lr = opt.lr;
  fg::optim::Adam optimizer(params, adam);

  fg::data::BatchLoader loader(train, fg::data::BatchOptions{opt.batch_size, true, fg::data::derive_seed(opt.seed, 3000),
                                                             true, device});
  RunResult result;
  result.name = name;
  result.modalities = modalities;
  for (const Tensor& p : params) result.parameters += p.numel();

  std::vector<Tensor> best;
  double best_mae = std::numeric_limits<double>::infinity();
  std::int64_t global_step = 0;
  // NaN/Inf or a blow-up of the loss or the validation MAE stops the run (divergence.h).
  fg::optim::DivergenceGuard guard(fmt::format("run '{}'", name), {.hint = fmt::format("lower --lr (now {})", opt.lr)});
  for (std::int64_t epoch = 1; epoch <= opt.epochs; ++epoch) {
    const auto te = Clock::now();
    model.train(true);
    loader.set_epoch(epoch - 1);
    ProgressBar bar(!opt.quiet, epoch, opt.epochs, loader.num_batches(), name);
    double loss_sum = 0;
    for (std::int64_t b = 0; b < loader.num_batches(); ++b) {
      const fg::data::Batch batch = loader.batch(b);
      const Tensor pred = model.forward(batch);
      const Tensor loss = fg::l1_loss(pred, batch.labels);
      const double value = loss.item();
      ++global_step;
      guard.check("loss term 'l1'", value, fmt::format("epoch {}, step {} (global step {})", epoch, b + 1, global_step));
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      loss_sum += value;
      result.step_losses.push_back(value);
      bar.advance(b + 1);
    }
    EpochRecord rec;
    rec.epoch = epoch;
    rec.train_l1 = loss_sum / static_cast<double>(loader.num_batches());
    rec.valid = evaluate(model, data.valid, opt.batch_size, device);
    guard.check("validation metric 'mae'", rec.valid.mae, fmt::format("the end of epoch {}", epoch));
    rec.seconds = seconds_since(te);
    const bool improved = rec.valid.mae < best_mae;
    if (improved) {
      best_mae = rec.valid.mae;
      best = snapshot(params);
      result.best_epoch = epoch;
      result.best_valid = rec.valid;
    }
    bar.finish(fmt::format("train L1 {:.4f}  ({:.2f} s)", rec.train_l1, rec.seconds));
    if (!opt.quiet)
      log << fmt::format("{:<8} epoch {:>3}  valid {}{}\n", name, epoch, fg::data::format_metrics(rec.valid),
                         improved ? "  *best" : "")
          << std::flush;
    result.history.push_back(rec);
  }
  // Model selection happened on valid only; the test split is read here, once.
  restore(params, best);
  std::vector<std::string> drop;
  if (!opt.drop_at_test.empty())
    for (const std::string& m : fg::data::parse_modality_list(fg::cli::join(opt.drop_at_test), train.modality_names,
                                                              "--drop-at-test"))
      if (std::find(modalities.begin(), modalities.end(), m) != modalities.end()) drop.push_back(m);
  result.dropped_at_test = drop;
  result.test = evaluate(model, data.test, opt.batch_size, device, drop);
  result.seconds = seconds_since(t0);
  return result;
}

// ---------------------------------------------------------------- reporting

nlohmann::json metrics_json(const RegressionMetrics& m) {
  // NaN (e.g. Corr of a constant predictor) is written as null by nlohmann-json.
  return {{"mae", m.mae},         {"corr", m.corr},       {"acc2_has0", m.acc2_has0}, {"acc2_non0", m.acc2_non0},
          {"f1_has0", m.f1_has0}, {"f1_non0", m.f1_non0}, {"acc7", m.acc7},           {"acc5", m.acc5},
          {"n", m.n},             {"n_non0", m.n_non0}};
}

nlohmann::json run_json(const RunResult& r) {
  nlohmann::json history = nlohmann::json::array();
  for (const EpochRecord& e : r.history)
    history.push_back({{"epoch", e.epoch}, {"train_l1", e.train_l1}, {"valid", metrics_json(e.valid)},
                       {"seconds", e.seconds}});
  return {{"name", r.name},
          {"modalities", r.modalities},
          {"dropped_at_test", r.dropped_at_test},
          {"parameters", r.parameters},
          {"best_epoch", r.best_epoch},
          {"valid_at_best", metrics_json(r.best_valid)},
          {"test", metrics_json(r.test)},
          {"seconds", r.seconds},
          {"steps", r.step_losses.size()},
          {"loss_fingerprint", loss_fingerprint(r.step_losses)},
          {"history", history}};
}

// The results file's text (written by fg::io::write_output: atomically, or to a device,
// FIFO or standard output as they are).
std::string json_text(const nlohmann::json& j) { return j.dump(2) + "\n"; }

std::string table(const std::vector<RunResult>& runs) {
  std::string out = fmt::format("{:<28} {:>7} {:>7} {:>9} {:>9} {:>8} {:>8} {:>7} {:>6} {:>8}\n", "model (test split)",
                                "MAE", "Corr", "Acc2_has0", "Acc2_non0", "F1_has0", "F1_non0", "Acc7", "best", "seconds");
  for (const RunResult& r : runs) {
    std::string label = r.name;
    if (r.modalities.size() > 1) {
      label += " (";
      for (std::size_t i = 0; i < r.modalities.size(); ++i) label += (i ? "+" : "") + r.modalities[i];
      label += ")";
    }
    for (const std::string& d : r.dropped_at_test) label += " -" + d;
    const RegressionMetrics& m = r.test;
    out += fmt::format("{:<28} {:>7.4f} {:>7.4f} {:>9.4f} {:>9.4f} {:>8.4f} {:>8.4f} {:>7.4f} {:>6} {:>8.1f}\n", label,
                       m.mae, m.corr, m.acc2_has0, m.acc2_non0, m.f1_has0, m.f1_non0, m.acc7, r.best_epoch, r.seconds);
  }
  return out;
}

// ---------------------------------------------------------------- the command line

// Sizes of the synthetic splits and the widths: at least 1, at most this.
constexpr std::int64_t kMaxSize = 10'000'000;

// Registers every flag of the example on `app`, writing into `opt`.
void add_flags(CLI::App& app, Options& opt) {
  app.description(
      "Late-fusion (deep fusion) baseline for multimodal sentiment regression on fusegrad's built-in synthetic "
      "CMU-MOSI-like data: per-modality masked time-mean -> MLP, concatenation, MLP head, L1 loss, Adam. "
      "Selects the epoch with the best validation MAE; scores the test split once.");
  using fg::cli::int_range;
  app.add_option("--seed", opt.seed, "Seed of the dataset, the initial weights, the shuffles and dropout (>= 0)")
      ->check(fg::cli::seed())
      ->capture_default_str();
  app.add_option("--epochs", opt.epochs, fmt::format("Training epochs (at most {})", fg::cli::kMaxEpochs))
      ->check(int_range(1, fg::cli::kMaxEpochs))
      ->capture_default_str();
  app.add_option("--batch-size", opt.batch_size, "Utterances per mini-batch (the last partial batch is kept)")
      ->check(int_range(1, kMaxSize))
      ->capture_default_str();
  app.add_option("--lr", opt.lr, "Adam learning rate (a finite number > 0)")
      ->check(fg::cli::finite_positive())
      ->capture_default_str();
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
  app.add_option("--train-size", opt.train_size, "Synthetic training utterances")
      ->check(int_range(1, kMaxSize))
      ->capture_default_str();
  app.add_option("--valid-size", opt.valid_size, "Synthetic validation utterances (model selection)")
      ->check(int_range(1, kMaxSize))
      ->capture_default_str();
  app.add_option("--test-size", opt.test_size, "Synthetic test utterances (scored once, at the end)")
      ->check(int_range(1, kMaxSize))
      ->capture_default_str();
  fg::cli::add_list(app, "--modalities", opt.modalities,
                    "Modalities to fuse, from text,acoustic,visual (one name: a single-modality run)")
      ->capture_default_str();
  app.add_flag("--compare", opt.compare,
               "Train the fused model AND one model per single modality, then print a comparison table");
  app.add_option("--out", opt.out,
                 "Write the results (config, per-epoch history, test metrics) to this JSON file; - for standard "
                 "output (the table then goes to standard error)");
  app.add_option("--device", opt.device, "cpu, or cuda / cuda:N (needs a build with FUSEGRAD_CUDA=ON and a GPU)")
      ->capture_default_str();
  app.add_flag("--deterministic", opt.deterministic,
               "Deterministic CUDA kernels (index_add/scatter_add sum in a fixed order instead of with float "
               "atomics): two runs with one seed give bitwise-equal losses (compare the printed loss fingerprints). "
               "CPU runs are deterministic anyway");
  fg::cli::add_list(app, "--drop-at-test", opt.drop_at_test,
                    "Modalities to zero when scoring the test split (a robustness check)");
  app.add_flag("--quiet", opt.quiet, "No progress bar and no per-epoch lines");
}

// Checks of flag values before any work (exit status 2); throws fg::Error naming the flag.
void validate(const Options& opt, const std::vector<std::string>& known) {
  const auto mods = fg::data::parse_modality_list(fg::cli::join(opt.modalities), known, "--modalities");
  FG_CHECK(opt.hidden.size() == 1 || opt.hidden.size() == known.size(),
           "--hidden: give one width for all modalities or {} (one per modality: text,acoustic,visual), got {}",
           known.size(), opt.hidden.size());
  FG_CHECK(!opt.compare || mods.size() > 1, "--compare: needs at least two modalities in --modalities, got '{}'",
           fg::cli::join(opt.modalities));
  if (!opt.drop_at_test.empty()) fg::data::parse_modality_list(fg::cli::join(opt.drop_at_test), known, "--drop-at-test");
  fg::cli::device_flag(opt.device);    // "use --device cpu" without CUDA
  fg::cli::check_output_flag(opt.out, "--out");  // fail now, not after training
}

fg::data::SyntheticConfig dataset_config(const Options& opt) {
  fg::data::SyntheticConfig c;
  c.seed = opt.seed;
  c.train_size = opt.train_size, c.valid_size = opt.valid_size, c.test_size = opt.test_size;
  return c;
}

nlohmann::json options_json(const Options& opt) {
  return {{"seed", opt.seed},         {"epochs", opt.epochs},         {"batch_size", opt.batch_size},
          {"lr", opt.lr},             {"hidden", opt.hidden},         {"head_hidden", opt.head_hidden},
          {"dropout", opt.dropout},   {"train_size", opt.train_size}, {"valid_size", opt.valid_size},
          {"test_size", opt.test_size}, {"modalities", fg::cli::join(opt.modalities)}, {"compare", opt.compare},
          {"device", opt.device},     {"drop_at_test", fg::cli::join(opt.drop_at_test)},
          {"deterministic", opt.deterministic}};
}

// The modality names of the synthetic dataset (what --modalities may name).
std::vector<std::string> known_modalities(const Options& opt) {
  std::vector<std::string> known;
  for (const auto& m : dataset_config(opt).modalities) known.push_back(m.name);
  return known;
}

// The whole program after parsing and validate(): returns the exit code.
int run(const Options& opt) {
  const auto t0 = Clock::now();
  const fg::data::SyntheticConfig cfg = dataset_config(opt);
  const auto mods = fg::data::parse_modality_list(fg::cli::join(opt.modalities), known_modalities(opt), "--modalities");
  // `--out -`: standard output carries the JSON alone, the human-readable lines go to stderr
  std::ostream& human = opt.out == "-" ? std::cerr : std::cout;

  std::cerr << fmt::format("late_fusion: generating synthetic data (seed {}, {} / {} / {} utterances)...\n", opt.seed,
                           opt.train_size, opt.valid_size, opt.test_size);
  const fg::data::SyntheticDataset ds = fg::data::make_synthetic_dataset(cfg);

  std::vector<RunResult> runs;
  runs.push_back(train_and_evaluate(opt, ds.data, mods, mods.size() > 1 ? "fused" : mods[0], human));
  if (opt.compare)
    for (const std::string& m : mods) runs.push_back(train_and_evaluate(opt, ds.data, {m}, m, human));

  human << "\n" << table(runs);
  for (const RunResult& r : runs)
    human << fmt::format("{}: {} training steps, loss fingerprint {}\n", r.name, r.step_losses.size(),
                             loss_fingerprint(r.step_losses));
  nlohmann::json out = {{"example", "late_fusion"}, {"options", options_json(opt)}};
  nlohmann::json dataset = {{"kind", "synthetic"}, {"seed", cfg.seed}, {"train", opt.train_size},
                            {"valid", opt.valid_size}, {"test", opt.test_size}, {"max_steps", cfg.max_steps}};
  for (const auto& m : cfg.modalities) dataset["dims"][m.name] = m.dim;
  out["dataset"] = dataset;
  out["runs"] = nlohmann::json::array();
  for (const RunResult& r : runs) out["runs"].push_back(run_json(r));
  if (opt.compare) {
    bool beats = true;
    for (std::size_t i = 1; i < runs.size(); ++i) beats = beats && runs[0].test.mae < runs[i].test.mae;
    human << fmt::format("fused test MAE {} every single-modality run\n", beats ? "beats" : "does NOT beat");
    out["fused_beats_every_single_modality"] = beats;
  }
  out["seconds"] = seconds_since(t0);
  human << fmt::format("total {:.1f} s\n", seconds_since(t0)) << std::flush;
  if (!opt.out.empty()) {
    fg::io::write_output(opt.out, json_text(out), "--out");
    if (opt.out != "-") human << "results written to " << opt.out << "\n";
  }
  return 0;
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
