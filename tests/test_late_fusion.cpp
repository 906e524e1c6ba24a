// tests/test_late_fusion.cpp: a smoke test of the late-fusion example (examples/late_fusion.cpp):
// a tiny synthetic run trains (the loss falls, every metric is finite), the masked time-mean
// ignores padding, a NaN label stops training with a message naming the step and the loss
// term, bad flags are clear errors, and the results file is written atomically.
//
// The example is compiled into this test with its main() left out, so the test drives the
// very code the binary runs.
#define FG_LATE_FUSION_NO_MAIN
#include "examples/late_fusion.cpp"

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <sstream>

using namespace late_fusion;

namespace {

Options tiny_options() {
  Options o;
  o.seed = 5;
  o.epochs = 3;
  o.batch_size = 16;
  o.lr = 3e-3;
  o.train_size = 96, o.valid_size = 32, o.test_size = 32;
  o.quiet = true;
  return o;
}

fg::data::SyntheticDataset tiny_data(const Options& o) { return fg::data::make_synthetic_dataset(dataset_config(o)); }

bool finite(const RegressionMetrics& m) {
  return std::isfinite(m.mae) && std::isfinite(m.corr) && std::isfinite(m.acc2_has0) && std::isfinite(m.acc2_non0) &&
         std::isfinite(m.f1_has0) && std::isfinite(m.f1_non0) && std::isfinite(m.acc7) && std::isfinite(m.acc5);
}

}  // namespace

TEST_CASE("late fusion: a tiny run trains, selects on valid and scores test once") {
  const Options o = tiny_options();
  const auto ds = tiny_data(o);
  std::ostringstream log;
  const RunResult r = train_and_evaluate(o, ds.data, {"text", "acoustic", "visual"}, "fused", log);
  REQUIRE(r.history.size() == 3);
  CHECK(r.history[2].train_l1 < r.history[0].train_l1);
  for (const EpochRecord& e : r.history) {
    CHECK(std::isfinite(e.train_l1));
    CHECK(finite(e.valid));
    CHECK(e.valid.n == 32);
  }
  CHECK(r.best_epoch >= 1);
  CHECK(r.best_epoch <= 3);
  // the kept weights are those of the best validation MAE
  double best = 1e300;
  for (const EpochRecord& e : r.history) best = std::min(best, e.valid.mae);
  CHECK(r.best_valid.mae == best);
  CHECK(r.test.n == 32);
  CHECK(finite(r.test));
  CHECK(r.parameters > 0);
  CHECK(log.str().empty());  // quiet
}

TEST_CASE("late fusion: a run is reproducible from its seed, and one modality has fewer parameters") {
  Options o = tiny_options();
  o.epochs = 4;
  const auto ds = tiny_data(o);
  std::ostringstream log;
  // the same run twice gives the same numbers (seeded init, shuffles and dropout)
  const RunResult a = train_and_evaluate(o, ds.data, {"text", "visual"}, "fused", log);
  const RunResult b = train_and_evaluate(o, ds.data, {"text", "visual"}, "fused", log);
  CHECK(a.test.mae == b.test.mae);
  CHECK(a.best_epoch == b.best_epoch);
  // a single-modality model has fewer parameters than the fused one
  const RunResult t = train_and_evaluate(o, ds.data, {"text"}, "text", log);
  CHECK(t.parameters < a.parameters);
  CHECK(finite(t.test));
}

TEST_CASE("late fusion: the masked time-mean ignores padding") {
  // x: 2 utterances, 3 steps, 2 features; utterance 0 has 2 valid steps, utterance 1 has 1.
  const Tensor x = fg::from_vector(std::vector<double>{1, 10, 3, 30, 999, 999, /**/ 5, 7, -999, 999, 999, -999},
                                   {2, 3, 2}, fg::f32_opts());
  const Tensor mask = fg::from_vector(std::vector<double>{1, 1, 0, 1, 0, 0}, {2, 3}, fg::f32_opts());
  // utterance 0: (1 + 3) / 2 = 2, (10 + 30) / 2 = 20 ; utterance 1: 5, 7
  CHECK(masked_time_mean(x, mask).to_vector<double>() == std::vector<double>{2, 20, 5, 7});
}

TEST_CASE("late fusion: a NaN label stops training, naming the step and the loss term") {
  const Options o = tiny_options();
  auto ds = tiny_data(o);
  ds.data.train.labels.data<float>()[7] = NAN;
  std::ostringstream log;
  CHECK_THROWS_WITH_AS(train_and_evaluate(o, ds.data, {"text", "acoustic", "visual"}, "fused", log),
                       doctest::Contains("loss term 'l1' is nan at epoch 1, step"), NonFiniteLoss);
}

TEST_CASE("late fusion: bad flags are clear errors") {
  const auto parse = [](std::vector<std::string> args) {
    CLI::App app{"late_fusion"};
    Options opt;
    add_flags(app, opt);
    std::reverse(args.begin(), args.end());  // CLI11 takes a reversed vector
    app.parse(args);
    validate(opt, {"text", "acoustic", "visual"});
    return opt;
  };
  CHECK(parse({"--epochs", "2", "--hidden", "8", "--modalities", "visual,text"}).hidden == std::vector<std::int64_t>{8});
  CHECK_THROWS_WITH_AS(parse({"--lr", "-1"}), doctest::Contains("--lr: must be > 0, got -1"), CLI::ValidationError);
  CHECK_THROWS_WITH_AS(parse({"--epochs", "zero"}), doctest::Contains("--epochs"), CLI::ParseError);
  CHECK_THROWS_AS(parse({"--no-such-flag"}), CLI::ParseError);
  CHECK_THROWS_WITH_AS(parse({"--dropout", "1.5"}), doctest::Contains("--dropout"), CLI::ValidationError);
  CHECK_THROWS_WITH_AS(parse({"--modalities", "text,smell"}), doctest::Contains("unknown modality 'smell'"), fg::Error);
  CHECK_THROWS_WITH_AS(parse({"--hidden", "8,8"}), doctest::Contains("--hidden: give one width"), fg::Error);
  CHECK_THROWS_WITH_AS(parse({"--compare", "--modalities", "text"}), doctest::Contains("--compare: needs at least two"),
                       fg::Error);
  CHECK_THROWS_WITH_AS(parse({"--device", "tpu"}), doctest::Contains("unknown device 'tpu'"), fg::Error);
  CHECK_THROWS_WITH_AS(parse({"--out", "/no/such/folder/r.json"}), doctest::Contains("does not exist"), fg::Error);
}

TEST_CASE("late fusion: results are written atomically as JSON") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("fg_late_fusion_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path out = dir / "results.json";
  write_json_atomically(out.string(), {{"a", 1}, {"corr", std::nan("")}});
  std::ifstream f(out);
  const nlohmann::json back = nlohmann::json::parse(f);
  CHECK(back["a"] == 1);
  CHECK(back["corr"].is_null());  // NaN is written as null
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) files += entry.is_regular_file();
  CHECK(files == 1);  // no temporary left behind
  fs::remove_all(dir);
}
