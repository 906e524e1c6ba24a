// tests/test_harness.cpp: the training harness (examples/harness/, docs/harness.md), driven
// through its first user, the late-fusion example (compiled in with its main() left out):
//   - resume is bitwise identical: N epochs straight vs k epochs, checkpoint, resume to N
//     (step losses, test metrics, final and best weights, optimizer moments), also from a
//     checkpoint written mid-epoch by SIGINT
//   - selection on valid only: the test split is read once per run, after training
//   - NaN/Inf stops naming the step and the loss term (also a task's second term)
//   - SIGINT from a hook: the current step finishes, checkpoint + partial results, 128 + 2
//   - --config values overridden by flags; unknown keys, bad flags and a bad --data file
//   - --seeds: a mean +- std table with the constant-predictor row; the JSONL log
//   - a resume with other settings is refused naming the setting
#define FG_LATE_FUSION_NO_MAIN
#include "examples/late_fusion.cpp"

#include <doctest/doctest.h>

#include <unistd.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/optim/divergence.h"
#include "engine/serialize/safetensors.h"
#include "support/test_util.h"

using namespace late_fusion;
namespace fs = std::filesystem;
namespace h = fg::harness;

namespace {

struct Scratch {
  fs::path dir;
  Scratch() {
    dir = fs::temp_directory_path() / fmt::format("fg_harness_{}_{}", ::getpid(), counter()++);
    fs::create_directories(dir);
  }
  ~Scratch() { fs::remove_all(dir); }
  std::string file(const std::string& name) const { return (dir / name).string(); }
  static int& counter() {
    static int n = 0;
    return n;
  }
};

Options tiny() {
  Options o;
  o.seed = 5;
  o.epochs = 4;
  o.batch_size = 16;
  o.lr = 3e-3;
  o.train_size = 96, o.valid_size = 32, o.test_size = 32;  // 6 batches per epoch
  o.quiet = true;
  return o;
}

h::LoadedData tiny_data(const Options& o) { return h::load_data(o, dataset_config(o)); }

h::RunSpec fused(const Options& o, const h::LoadedData& d) {
  return run_spec(o, d.data.train, {"text", "acoustic", "visual"}, "fused");
}

bool bitwise_equal(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}

// Every tensor of two checkpoints (weights, best weights, optimizer moments) bit for bit.
void check_same_tensors(const std::string& a, const std::string& b) {
  const auto fa = fg::load_safetensors(a), fb = fg::load_safetensors(b);
  REQUIRE(fa.tensors.size() == fb.tensors.size());
  int compared = 0;
  for (const auto& [k, ta] : fa.tensors) {
    INFO(k);
    REQUIRE(fb.tensors.count(k) == 1);
    const fg::Tensor& tb = fb.tensors.at(k);
    REQUIRE(ta.shape() == tb.shape());
    const auto va = ta.to(fg::DType::f64).to_vector<double>(), vb = tb.to(fg::DType::f64).to_vector<double>();
    CHECK(bitwise_equal(va, vb));
    ++compared;
  }
  CHECK(compared > 10);
}

h::RunResult run(const Options& o, const h::LoadedData& d, std::ostream& log, const h::Observer& obs = {}) {
  h::Splits splits(d.data);
  return h::run_one(o, fused(o, d), o.seed, splits, log, false, obs);
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream f(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(f, line);) out.push_back(line);
  return out;
}

}  // namespace

TEST_CASE("harness: N epochs straight == k epochs, checkpoint, resume to N (bitwise, CPU)") {
  Scratch s;
  Options o = tiny();
  const auto d = tiny_data(o);
  std::ostringstream log;
  o.checkpoint = s.file("straight.ckpt");
  const h::RunResult straight = run(o, d, log);
  REQUIRE(straight.fit.step_losses.size() == 4 * 6);

  o.checkpoint = s.file("resumed.ckpt");
  o.epochs = 2;
  const h::RunResult first = run(o, d, log);
  CHECK(first.fit.step_losses.size() == 2 * 6);
  CHECK_FALSE(first.fit.resumed);
  o.epochs = 4;
  o.resume = true;
  const h::RunResult resumed = run(o, d, log);
  CHECK(resumed.fit.resumed);
  CHECK(bitwise_equal(straight.fit.step_losses, resumed.fit.step_losses));
  CHECK(straight.fit.best_epoch == resumed.fit.best_epoch);
  CHECK(straight.test.mae == resumed.test.mae);
  CHECK(straight.test.corr == resumed.test.corr);
  REQUIRE(resumed.fit.history.size() == 4);
  for (std::size_t e = 0; e < 4; ++e) {
    CHECK(straight.fit.history[e].train_loss == resumed.fit.history[e].train_loss);
    CHECK(straight.fit.history[e].valid.mae == resumed.fit.history[e].valid.mae);
  }
  check_same_tensors(s.file("straight.ckpt"), s.file("resumed.ckpt"));
  // the comparison can fail: another seed trains other weights
  Options other = tiny();
  other.seed = 6;
  CHECK_FALSE(bitwise_equal(straight.fit.step_losses, run(other, d, log).fit.step_losses));
}

TEST_CASE("harness: SIGINT from a hook mid-epoch: checkpoint, partial results, exit 130; resume is identical") {
  Scratch s;
  Options o = tiny();
  o.epochs = 3;
  o.out = s.file("r.json");
  o.checkpoint = s.file("ck.safetensors");
  o.log = s.file("log.jsonl");
  const auto d = tiny_data(o);
  std::ostringstream human;
  h::Observer obs;
  std::int64_t steps_seen = 0;
  obs.on_step = [&](std::int64_t, std::int64_t step, const h::StepOutput&) {
    steps_seen = step;
    if (step == 9) std::raise(SIGINT);  // epoch 2, step 3 of 6
  };
  h::Report rep = h::run_experiment(o, {fused(o, d)}, d, human, obs);
  CHECK(rep.interrupted_signal == SIGINT);
  CHECK(steps_seen == 9);  // the step in flight finished, no further step ran
  CHECK(h::stop_signal() == SIGINT);
  h::clear_stop_signal();
  CHECK(fg::test::contains(rep.interrupted_message, "run 'fused': interrupted (SIGINT) at epoch 2, step 3 (global step 9)"));
  CHECK(fg::test::contains(rep.interrupted_message, "--resume"));
  CHECK(rep.runs.empty());
  rep.json = {{"example", "late_fusion"}};
  CHECK(h::write_report(rep, o, human) == 128 + SIGINT);
  CHECK(fs::exists(o.checkpoint));
  std::ifstream f(o.out);
  const auto j = nlohmann::json::parse(f);
  CHECK(j["interrupted"] == true);
  CHECK(j["constant_predictor"]["test"]["mae"].is_number());
  int files = 0;  // r.json, ck.safetensors, log.jsonl: no temporary left behind
  for (const auto& e : fs::directory_iterator(s.dir)) files += e.is_regular_file();
  CHECK(files == 3);

  // resume from the mid-epoch checkpoint: the same run as one without interruption
  o.resume = true;
  o.out.clear();
  const h::RunResult resumed = run(o, d, human);
  Options plain = tiny();
  plain.epochs = 3;
  const h::RunResult straight = run(plain, d, human);
  CHECK(bitwise_equal(straight.fit.step_losses, resumed.fit.step_losses));
  CHECK(straight.test.mae == resumed.test.mae);
  // the log kept the lines before the interruption and went on
  const auto lines = read_lines(o.log);
  CHECK(lines.size() == 2 + 1 + 1 + 2 * 2);  // epoch 1 (epoch + eval), interrupted, resume, epochs 2-3
}

TEST_CASE("harness: selection on valid only; the test split is read once, after training") {
  Options o = tiny();
  const auto d = tiny_data(o);
  std::ostringstream log;
  h::Splits splits(d.data);
  int epochs_seen = 0;
  h::Observer obs;
  obs.on_step = [&](std::int64_t, std::int64_t, const h::StepOutput&) { REQUIRE(splits.test_reads() == 0); };
  obs.on_epoch = [&](const h::EpochRecord&, bool) {
    ++epochs_seen;
    REQUIRE(splits.test_reads() == 0);
  };
  const h::RunResult r = h::run_one(o, fused(o, d), o.seed, splits, log, false, obs);
  CHECK(epochs_seen == 4);
  CHECK(splits.test_reads() == 1);
  // the kept weights are those of the best validation MAE
  std::int64_t argmin = 0;
  for (const auto& e : r.fit.history)
    if (argmin == 0 || e.valid.mae < r.fit.history[argmin - 1].valid.mae) argmin = e.epoch;
  CHECK(r.fit.best_epoch == argmin);
  CHECK(r.fit.best_valid.mae == r.fit.history[argmin - 1].valid.mae);
  // run_experiment reads test once per run
  Options two = o;
  two.seeds = {1, 2};
  two.epochs = 1;
  const h::Report rep = h::run_experiment(two, {fused(two, d)}, d, log);
  CHECK(rep.runs.size() == 2);
  // early stopping: patience 1 stops at the first epoch that does not improve
  Options p = o;
  p.patience = 1;
  p.epochs = 30;
  p.lr = 0.05;
  const h::RunResult es = run(p, d, log);
  CHECK(es.fit.stopped_early);
  CHECK(es.fit.history.size() < 30);
  CHECK(es.fit.history.back().epoch == es.fit.best_epoch + 1);
}

namespace {
// A task with a second loss term that becomes NaN at global step 4 (like a reconstruction term).
class TwoTermTask : public h::Task {
 public:
  explicit TwoTermTask(std::unique_ptr<h::Task> inner) : inner_(std::move(inner)) {}
  fg::nn::Module& module() override { return inner_->module(); }
  h::Loss loss(const fg::data::Batch& b) override {
    h::Loss l = inner_->loss(b);
    const fg::Tensor recon = l.total * (++calls_ == 4 ? std::nan("") : 0.5);
    return {l.total + recon, {l.terms[0], {"recon", recon}}};
  }
  fg::Tensor predict(const fg::data::Batch& b) override { return inner_->predict(b); }

 private:
  std::unique_ptr<h::Task> inner_;
  int calls_ = 0;
};
}  // namespace

TEST_CASE("harness: NaN/Inf stops naming the step and the loss term") {
  Options o = tiny();
  auto d = tiny_data(o);
  std::ostringstream log;
  d.data.train.labels.data<float>()[7] = NAN;
  const std::string err = fg::test::error_of([&] { run(o, d, log); });
  CHECK(fg::test::contains(err, "run 'fused': loss term 'l1' is nan at epoch 1, step "));
  CHECK(fg::test::contains(err, "lower --lr (now 0.003)"));
  // a task's own term is named
  const auto clean = tiny_data(o);
  const h::RunSpec spec = fused(o, clean);
  h::ModelSpec ms;
  ms.modalities = spec.modalities;
  for (const auto& m : spec.modalities) ms.input_dims.push_back(clean.data.train.feature_dim(clean.data.train.modality_index(m)));
  ms.config = spec.model_config;
  TwoTermTask task(h::make_task("late_fusion", ms));
  h::TrainOptions to = h::train_options(o, spec, o.seed, false);
  CHECK_THROWS_WITH_AS(h::fit(task, clean.data.train, clean.data.valid, to, log),
                       doctest::Contains("loss term 'recon' is nan at epoch 1, step 4 (global step 4)"),
                       fg::optim::Diverged);
}

namespace {
Options parse(std::vector<std::string> args) {
  CLI::App app{"late_fusion"};
  Options opt;
  add_flags(app, opt);
  std::reverse(args.begin(), args.end());  // CLI11 takes a reversed vector
  app.parse(args);
  validate(opt, {"text", "acoustic", "visual"});
  return opt;
}
}  // namespace

TEST_CASE("harness: --config JSON, overridden by flags; bad flags and a bad --data file are clear errors") {
  Scratch s;
  const std::string cfg = s.file("c.json");
  std::ofstream(cfg) << R"({"lr": 0.01, "epochs": 7, "hidden": [8, 4, 4], "batch_size": 8, "quiet": true,
                            "optimizer": "adamw", "seeds": [1, 2, 3]})";
  Options o = parse({"--config", cfg, "--lr", "0.02"});
  CHECK(o.lr == 0.02);  // the flag wins
  CHECK(o.epochs == 7);
  CHECK(o.batch_size == 8);
  CHECK(o.hidden == std::vector<std::int64_t>{8, 4, 4});
  CHECK(o.quiet);
  CHECK(o.optimizer == "adamw");
  CHECK(o.seeds == std::vector<std::uint64_t>{1, 2, 3});
  std::ofstream(s.file("bad.json")) << R"({"learning_rate": 0.1})";
  CHECK_THROWS_WITH_AS(parse({"--config", s.file("bad.json")}), doctest::Contains("unknown setting 'learning_rate'"),
                       CLI::ParseError);
  std::ofstream(s.file("broken.json")) << "{not json";
  CHECK_THROWS_WITH_AS(parse({"--config", s.file("broken.json")}), doctest::Contains("--config: not valid JSON"),
                       CLI::ParseError);
  CHECK_THROWS_WITH_AS(parse({"--optimizer", "sgd"}), doctest::Contains("--optimizer"), CLI::ParseError);
  CHECK_THROWS_WITH_AS(parse({"--schedule", "cosine"}), doctest::Contains("--schedule"), CLI::ParseError);
  CHECK_THROWS_WITH_AS(parse({"--seeds", "1,-2"}), doctest::Contains("--seeds"), CLI::ParseError);
  CHECK_THROWS_WITH_AS(parse({"--clip", "nan"}), doctest::Contains("--clip"), CLI::ParseError);
  CHECK_THROWS_WITH_AS(parse({"--resume"}), doctest::Contains("--resume: needs --checkpoint"), fg::Error);
  CHECK_THROWS_WITH_AS(parse({"--data", s.file("none.h5")}), doctest::Contains(("--data: '" + s.file("none.h5") + "' does not exist").c_str()),
                       fg::Error);
  CHECK_THROWS_WITH_AS(parse({"--data", s.dir.string()}), doctest::Contains("is not a file"), fg::Error);
  CHECK_THROWS_WITH_AS(parse({"--log", s.file("no/such/l.jsonl")}), doctest::Contains("--log: the folder"), fg::Error);
  CHECK_THROWS_WITH_AS(parse({"--out", s.file("x.json"), "--curves", s.file("x.json")}), doctest::Contains("--curves"),
                       fg::Error);
  // a file that is not HDF5: the error names --data and the file
  std::ofstream(s.file("junk.h5")) << "junk";
  Options j = parse({"--data", s.file("junk.h5")});
  const std::string err = fg::test::error_of([&] { h::load_data(j, dataset_config(j)); });
  CHECK(fg::test::contains(err, "--data: "));
  CHECK(fg::test::contains(err, s.file("junk.h5")));
}

TEST_CASE("harness: --seeds gives a mean +- std table with the constant-predictor row; results JSON and curves") {
  Scratch s;
  Options o = tiny();
  o.epochs = 2;
  o.seeds = {0, 1, 2};
  o.out = s.file("r.json");
  o.curves = s.file("c.svg");
  o.log = s.file("l.jsonl");
  const auto d = tiny_data(o);
  std::ostringstream human;
  h::Report rep = h::run_experiment(o, {fused(o, d)}, d, human);
  REQUIRE(rep.runs.size() == 3);
  const std::string table = h::results_table(rep, 3);
  INFO(table);
  CHECK(fg::test::contains(table, "fused (text+acoustic+visual)"));
  CHECK(fg::test::contains(table, " +- "));
  CHECK(fg::test::contains(table, "constant (train mean)"));
  CHECK(rep.runs[0].test.mae != rep.runs[1].test.mae);  // the seeds differ
  rep.json = {{"example", "late_fusion"}};
  REQUIRE(h::write_report(rep, o, human) == 0);
  std::ifstream f(o.out);
  const auto j = nlohmann::json::parse(f);
  CHECK(j["runs"].size() == 3);
  CHECK(j["runs"][2]["seed"] == 2);
  CHECK(j["summary_test"]["fused"]["mae"]["n"] == 3);
  CHECK(j["constant_predictor"]["test"]["mae"].get<double>() == rep.constant_test.mae);
  for (const char* k : {"git_commit", "build_type", "device", "timestamp", "version"}) CHECK(j["build"].contains(k));
  CHECK(j["runs"][0]["history"].size() == 2);
  CHECK(j["runs"][0]["train_seconds"].is_number());
  std::ifstream svg(o.curves);
  const std::string pic((std::istreambuf_iterator<char>(svg)), std::istreambuf_iterator<char>());
  CHECK(fg::test::contains(pic, "<svg"));
  CHECK(fg::test::contains(pic, "fused seed 2 valid MAE"));
  // JSONL: one line per epoch and one per evaluation, every line a JSON object
  const auto lines = read_lines(o.log);
  REQUIRE(lines.size() == 3 * 2 * 2);
  int epochs = 0, evals = 0;
  for (const std::string& line : lines) {
    const auto e = nlohmann::json::parse(line);
    epochs += e["kind"] == "epoch";
    evals += e["kind"] == "eval" && e["split"] == "valid" && e["metrics"]["mae"].is_number();
  }
  CHECK(epochs == 6);
  CHECK(evals == 6);
}

TEST_CASE("harness: a resume with other settings is refused, naming the setting") {
  Scratch s;
  Options o = tiny();
  o.epochs = 1;
  o.checkpoint = s.file("ck");
  const auto d = tiny_data(o);
  std::ostringstream log;
  run(o, d, log);
  o.resume = true;
  o.lr = 1e-2;
  const std::string err = fg::test::error_of([&] { run(o, d, log); });
  CHECK(fg::test::contains(err, "--resume: the checkpoint '" + o.checkpoint + "' was written with lr = 0.003"));
  // AdamW and a linear schedule with clipping train and resume too
  Options w = tiny();
  w.optimizer = "adamw", w.weight_decay = 0.01, w.schedule = "linear", w.warmup_steps = 3, w.clip = 1.0;
  w.epochs = 3;
  const auto straight = run(w, d, log);
  w.checkpoint = s.file("w.ckpt");
  w.epochs = 3;
  Options w1 = w;
  h::Observer stop_early;
  stop_early.on_step = [](std::int64_t, std::int64_t step, const h::StepOutput& out) {
    CHECK(out.grad_norm >= 0);  // measured when clipping
    if (step == 7) std::raise(SIGTERM);
  };
  CHECK_THROWS_AS(run(w1, d, log, stop_early), h::Interrupted);
  h::clear_stop_signal();
  w.resume = true;
  const auto resumed = run(w, d, log);
  CHECK(bitwise_equal(straight.fit.step_losses, resumed.fit.step_losses));
  CHECK(straight.fit.history.back().lr == resumed.fit.history.back().lr);
}
