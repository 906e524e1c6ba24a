// tests/test_cli.cpp: the example programs as a user runs them (issue 10 items 10-13). Each
// case spawns the built binaries (paths from tests/CMakeLists.txt) and checks the exit
// status and the messages of the shared convention, examples/common/cli.h:
//   --version (version, commit, build type, CUDA), --help with defaults, exit codes 0 / 2
//   (usage) / 1 (runtime), one-line messages naming the flag or file without source paths
//   (kept under --debug), "use --device cpu" without CUDA, list flags with commas and/or
//   spaces, an HDF5 error as one line naming the file and the object;
//   every output path checked before any work, estimators' JSON and SVG both or neither;
//   divergence (late_fusion --lr 10) exits 1 naming the step, non-finite and out-of-range
//   flag values exit 2; `--out -` is standard output and `--out /dev/full` stays a device.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/h5_util.h"
#include "data/reviews.h"
#include "engine/cuda/cuda_api.h"
#include "support/data_fixtures.h"

extern char** environ;

namespace fs = std::filesystem;
using fg::testing::read_bytes;
using fg::testing::ScratchDir;

namespace {

struct Ran {
  int code = -1;
  std::string out, err;
};

// Runs `bin args...` with stdout and stderr captured into files of `dir`.
Ran run(const std::string& bin, const std::vector<std::string>& args, const ScratchDir& dir) {
  static int counter = 0;
  const std::string out = dir.file("stdout." + std::to_string(counter)), err = dir.file("stderr." + std::to_string(counter));
  ++counter;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> all = {bin};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, bin.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  REQUIRE_MESSAGE(rc == 0, "cannot start " << bin);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  Ran r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_bytes(out);
  r.err = read_bytes(err);
  fs::remove(out);
  fs::remove(err);
  return r;
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::size_t lines(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

const std::vector<std::string> kTiny = {"--epochs", "1",   "--train-size", "64", "--valid-size",
                                        "16",       "--test-size", "16", "--quiet"};

std::vector<std::string> tiny(std::vector<std::string> more) {
  std::vector<std::string> a = kTiny;
  a.insert(a.end(), more.begin(), more.end());
  return a;
}

struct Program {
  std::string name, path;
  std::string default_shown;  // a "=<default>" --help must show
};

std::vector<Program> programs() {
  std::vector<Program> p = {{"late_fusion", FG_BIN_LATE_FUSION, "--epochs INT:in [1, 100000]=25"},
                            {"estimators", FG_BIN_ESTIMATORS, "=estimators.json"},
                            {"csd_convert", FG_BIN_CSD_CONVERT, "=uniform"},
                            {"bert_check", FG_BIN_BERT_CHECK, "=f64"}};
#ifdef FG_BIN_DIGITS
  p.push_back({"digits", FG_BIN_DIGITS, "=unit_range"});
#endif
#ifdef FG_BIN_MMB
  p.push_back({"mmb", FG_BIN_MMB, "--mmb-epochs INT:in [1, 100000]=100"});
#endif
#ifdef FG_BIN_MMIM
  p.push_back({"mmim", FG_BIN_MMIM, "--memory INT:in [0, 1000]=1"});
#endif
#ifdef FG_BIN_MFM
  p.push_back({"mfm", FG_BIN_MFM, "--cnn-channels INT:in [1, 4096]=16"});
#endif
  return p;
}

// A .csd-like HDF5 file whose /words/data/v1 has features but no intervals.
void write_csd_without_intervals(const std::string& path) {
  namespace h5 = fg::data::h5;
  h5::Handle f = h5::create_file(path);
  const h5::Where root{path, "/"};
  h5::Handle words = h5::create_group(f.get(), "words", root);
  h5::Handle data = h5::create_group(words.get(), "data", root.child("words"));
  h5::Handle v1 = h5::create_group(data.get(), "v1", root.child("words").child("data"));
  const double values[3] = {1, 2, 3};
  h5::write_doubles(v1.get(), "features", {3, 1}, values, root.child("words").child("data").child("v1"));
}

}  // namespace

TEST_CASE("cli: --version names the version, the git commit, the build type and CUDA (every binary)") {
  ScratchDir dir("cli");
  const std::regex form(R"(^(\w+) \(fusegrad \d+\.\d+\.\d+, commit ([0-9a-f]{7,40}(-dirty)?|unknown), \w+, CUDA (on|off)\)\n$)");
  for (const Program& p : programs()) {
    INFO(p.name);
    const Ran r = run(p.path, {"--version"}, dir);
    CHECK(r.code == 0);
    CHECK(std::regex_match(r.out, form));
    CHECK(r.out.rfind(p.name + " (fusegrad ", 0) == 0);
#ifdef FUSEGRAD_WITH_CUDA
    CHECK(has(r.out, "CUDA on)"));
#else
    CHECK(has(r.out, "CUDA off)"));
#endif
    CHECK(r.err.empty());
  }
}

TEST_CASE("cli: --help shows every flag's default and exits 0 (every binary)") {
  ScratchDir dir("cli");
  for (const Program& p : programs()) {
    INFO(p.name);
    const Ran r = run(p.path, {"--help"}, dir);
    CHECK(r.code == 0);
    CHECK(has(r.out, p.default_shown));
    CHECK(has(r.out, "--version"));
  }
  const Ran lf = run(FG_BIN_LATE_FUSION, {"--help"}, dir);
  CHECK(has(lf.out, "--lr FLOAT:> 0=0.001"));
  CHECK(has(lf.out, "--modalities TEXT=[text,acoustic,visual]"));
  CHECK(has(run(FG_BIN_ESTIMATORS, {"--help"}, dir).out, "=[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9]"));
}

TEST_CASE("cli: exit status 0 success, 2 usage error, 1 runtime error; one-line messages without source paths") {
  ScratchDir dir("cli");
  // 0
  CHECK(run(FG_BIN_LATE_FUSION, kTiny, dir).code == 0);
  // 2: a flag CLI11 refuses, in every binary, naming the flag
  for (const Program& p : programs()) {
    INFO(p.name);
    const Ran r = run(p.path, {"--no-such-flag"}, dir);
    CHECK(r.code == 2);
    CHECK(has(r.err, p.name + ": error: "));
    // names the flag (csd_convert and bert_check first report their required flags)
    CHECK(std::regex_search(r.err, std::regex(p.name == "csd_convert" || p.name == "bert_check" ? "--(words|model)"
                                                                                                 : "--no-such-flag")));
  }
  Ran r = run(FG_BIN_LATE_FUSION, {"--epochs", "zero"}, dir);
  CHECK(r.code == 2);
  CHECK(has(r.err, "--epochs"));
  r = run(FG_BIN_LATE_FUSION, {"--modalities", "text,smell"}, dir);  // checked after parsing: still a usage error
  CHECK(r.code == 2);
  CHECK(has(r.err, "unknown modality 'smell'"));
  // 1: a runtime error (the model folder has no config.json), one line, no source path ...
  const std::string data = dir.file("data.safetensors");
  std::ofstream(data) << "x";
  r = run(FG_BIN_BERT_CHECK, {"--model", dir.file(""), "--data", data}, dir);
  CHECK(r.code == 1);
  CHECK(r.err.rfind("bert_check: error: load_bert: ", 0) == 0);
  CHECK(has(r.err, "config.json not found"));
  CHECK(lines(r.err) == 1);
  CHECK(!has(r.err, ".cpp:"));
  // ... which --debug keeps
  r = run(FG_BIN_BERT_CHECK, {"--model", dir.file(""), "--data", data, "--debug"}, dir);
  CHECK(r.code == 1);
  CHECK(std::regex_search(r.err, std::regex(R"(models/bert\.cpp:\d+: load_bert)")));
}

TEST_CASE("cli: --device cuda without a usable GPU says use --device cpu") {
  ScratchDir dir("cli");
  // without CUDA (a CPU-only build, or no device) plain "cuda"; with a GPU, a device that is not there
  const std::string device = fg::cuda::available() ? "cuda:99" : "cuda";
  for (const std::string& bin : {std::string(FG_BIN_LATE_FUSION), std::string(FG_BIN_BERT_CHECK)}) {
    INFO(bin);
    std::vector<std::string> args = {"--device", device};
    if (has(bin, "bert_check")) args.insert(args.end(), {"--model", dir.file(""), "--data", "/dev/null", "--dtype", "f32"});
    const Ran r = run(bin, args, dir);
    CHECK(r.code == 2);
    CHECK(has(r.err, "--device " + device + ": "));
    CHECK(has(r.err, "use --device cpu"));
  }
#ifndef FUSEGRAD_WITH_CUDA
  CHECK(has(run(FG_BIN_LATE_FUSION, {"--device", "cuda"}, dir).err, "this build has no CUDA backend"));
#endif
}

TEST_CASE("cli: list flags take commas, spaces or both") {
  ScratchDir dir("cli");
  Ran r = run(FG_BIN_ESTIMATORS,
              {"--rhos", "-0.5,0.2", "0.6", "--steps", "1", "--dim", "1", "--batch", "8", "--json", dir.file("e.json"),
               "--svg", dir.file("e.svg")},
              dir);
  REQUIRE(r.code == 0);
  const auto e = nlohmann::json::parse(read_bytes(dir.file("e.json")));
  REQUIRE(e["rows"].size() == 3);
  CHECK(e["rows"][0]["rho"] == -0.5);
  CHECK(e["rows"][1]["rho"] == 0.2);
  CHECK(e["rows"][2]["rho"] == 0.6);
  r = run(FG_BIN_LATE_FUSION, tiny({"--modalities", "text", "visual", "--hidden", "8,4", "4", "--out", dir.file("lf.json")}),
          dir);
  REQUIRE(r.code == 0);
  const auto lf = nlohmann::json::parse(read_bytes(dir.file("lf.json")));
  CHECK(lf["runs"][0]["modalities"] == nlohmann::json({"text", "visual"}));
  CHECK(lf["options"]["hidden"] == nlohmann::json({8, 4, 4}));
}

TEST_CASE("cli: an HDF5 error is one line naming the file and the object") {
  ScratchDir dir("cli");
  const std::string csd = dir.file("words.csd"), folds = dir.file("folds.json");
  write_csd_without_intervals(csd);
  std::ofstream(folds) << R"({"train": ["v1"], "valid": ["v2"], "test": ["v3"]})";
  Ran r = run(FG_BIN_CSD_CONVERT,
              {"--words", csd, "--modality", "a=" + csd, "--labels", csd, "--folds", folds, "--out", dir.file("o.h5")},
              dir);
  CHECK(r.code == 1);
  CHECK(lines(r.err) == 1);
  CHECK(has(r.err, "csd_convert: error: file '" + csd + "': /words/data/v1/intervals"));
  CHECK(!has(r.err, "HDF5-DIAG"));
  CHECK(!fs::exists(dir.file("o.h5")));
  // a damaged file: libhdf5's error stack folded into the same one line
  const std::string bad = dir.file("bad.csd");
  std::ofstream(bad, std::ios::binary) << std::string("\x89HDF\r\n\x1a\n", 8) << std::string(500, '\x7f');
  r = run(FG_BIN_CSD_CONVERT,
          {"--words", bad, "--modality", "a=" + bad, "--labels", bad, "--folds", folds, "--out", dir.file("o.h5")}, dir);
  CHECK(r.code == 1);
  CHECK(lines(r.err) == 1);
  CHECK(has(r.err, "file '" + bad + "'"));
  CHECK(!has(r.err, "HDF5-DIAG"));
}

TEST_CASE("cli: every example checks its output paths before any work") {
  ScratchDir dir("cli");
  const std::string missing = dir.file("no/such/folder");
  // late_fusion: refused before the data is generated
  Ran r = run(FG_BIN_LATE_FUSION, {"--out", missing + "/r.json"}, dir);
  CHECK(r.code == 2);
  CHECK(has(r.err, "late_fusion: error: --out: the folder '" + missing + "' of '" + missing + "/r.json' does not exist"));
  CHECK(!has(r.err, "generating synthetic data"));
  CHECK(r.out.empty());
  r = run(FG_BIN_LATE_FUSION, {"--out", dir.file("")}, dir);
  CHECK(r.code == 2);
  CHECK(has(r.err, "--out: '" + dir.file("") + "' is a folder"));
  // estimators: neither output is written when one of them cannot be, and no critic is trained
  fs::create_directories(dir.file("svgdir"));
  for (const auto& [json, svg, flag] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {missing + "/e.json", dir.file("e.svg"), "--json"},
           {dir.file("e.json"), missing + "/e.svg", "--svg"},
           {dir.file("e.json"), dir.file("svgdir"), "--svg"},
           {dir.file("e.json"), dir.file("e.json"), "--svg"}}) {
    INFO(json << " " << svg);
    r = run(FG_BIN_ESTIMATORS, {"--json", json, "--svg", svg}, dir);
    CHECK(r.code == 2);
    CHECK(has(r.err, "estimators: error: " + flag + ": "));
    CHECK(r.out.empty());  // not even the table's header: nothing was trained
    CHECK(!fs::exists(dir.file("e.json")));
    CHECK(!fs::exists(dir.file("e.svg")));
  }
  // csd_convert: --out is checked before the inputs are read (these are not even HDF5)
  const std::string junk = dir.file("junk.csd");
  std::ofstream(junk) << "junk";
  r = run(FG_BIN_CSD_CONVERT,
          {"--words", junk, "--modality", "a=" + junk, "--labels", junk, "--folds", junk, "--out", missing + "/o.h5"}, dir);
  CHECK(r.code == 2);
  CHECK(has(r.err, "csd_convert: error: --out: the folder"));
  r = run(FG_BIN_CSD_CONVERT, {"--words", junk, "--modality", "a=" + junk, "--labels", junk, "--folds", junk, "--out", "-"},
          dir);
  CHECK(r.code == 2);
  CHECK(has(r.err, "--out: '-' (standard output) cannot be used here"));
  // bert_check: --json before the model is loaded
  r = run(FG_BIN_BERT_CHECK, {"--model", dir.file(""), "--data", junk, "--json", missing + "/b.json"}, dir);
  CHECK(r.code == 2);
  CHECK(has(r.err, "bert_check: error: --json: the folder"));
#ifdef FG_BIN_MMB
  // mmb: --out before the words corpus is generated; an unknown --model is a usage error
  r = run(FG_BIN_MMB, {"--out", missing + "/m.json"}, dir);
  CHECK(r.code == 2);
  CHECK(has(r.err, "mmb: error: --out: the folder '" + missing + "'"));
  CHECK(!has(r.err, "generating synthetic data"));
  CHECK(r.out.empty());
  r = run(FG_BIN_MMB, {"--model", "mmb3"}, dir);
  CHECK(r.code == 2);
  CHECK(has(r.err, "--model: unknown model 'mmb3'"));
  CHECK(!has(r.err, "generating synthetic data"));
#endif
#ifdef FG_BIN_MFM
  // mfm: --pictures before any training; --digits refuses the time-series flags; unknown
  // variants and digit models are usage errors naming the flag and the accepted values
  r = run(FG_BIN_MFM, {"--interpret", "--pictures", junk + "/pictures"}, dir);
  CHECK(r.code == 2);
  CHECK(has(r.err, "mfm: error: --pictures: cannot create the folder"));
  CHECK(r.out.empty());
  r = run(FG_BIN_MFM, {"--digits", "--ablation"}, dir);
  CHECK(r.code == 2);
  CHECK(has(r.err, "mfm: error: --ablation does not apply to --digits"));
  r = run(FG_BIN_MFM, {"--digits", "--digit-models", "mm,svhn"}, dir);
  CHECK(r.code == 2);
  CHECK(has(r.err, "--digit-models: 'svhn' is unknown: expected um_image, um_speech, mm or mfm"));
  r = run(FG_BIN_MFM, {"--variant", "F"}, dir);
  CHECK(r.code == 2);
  CHECK(has(r.err, "--variant"));
  r = run(FG_BIN_MFM, {"--digits", "--lambda-recon", "1,2,3"}, dir);
  CHECK(r.code == 2);
  CHECK(has(r.err, "--lambda-recon: --digits takes one weight or two (image, speech), got 3"));
#endif
#ifdef FG_BIN_DIGITS
  // digits: the pictures' folder, the cache folder of plan/build, export's --file
  r = run(FG_BIN_DIGITS, {"--out", junk + "/pictures"}, dir);
  CHECK(r.code == 2);
  CHECK(has(r.err, "digits: error: --out: cannot create the folder"));
  r = run(FG_BIN_DIGITS, {"plan", "--cache", junk + "/cache"}, dir);
  CHECK(r.code == 2);
  CHECK(has(r.err, "digits: error: --cache: cannot create the folder"));
  r = run(FG_BIN_DIGITS, {"export", "--file", missing + "/x.h5", "--cache", dir.file("no-cache")}, dir);
  CHECK(r.code == 2);
  CHECK(has(r.err, "digits: error: --file: the folder"));
#endif
}

TEST_CASE("cli: divergence exits 1 naming the step; non-finite and out-of-range flag values exit 2") {
  ScratchDir dir("cli");
  Ran r = run(FG_BIN_LATE_FUSION,
              {"--lr", "10", "--epochs", "3", "--train-size", "64", "--valid-size", "16", "--test-size", "16", "--quiet",
               "--out", dir.file("r.json")},
              dir);
  CHECK(r.code == 1);
  CHECK(std::regex_search(r.err, std::regex(R"(late_fusion: error: run 'fused': loss term 'l1' is \S+ at epoch \d+, step \d+ \(global step \d+\))")));
  CHECK(has(r.err, "Lower --lr (now 10)"));
  CHECK(!fs::exists(dir.file("r.json")));  // a diverged run writes no results
  for (const auto& [args, part] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--lr", "inf"}, "--lr: expected a finite number > 0, got inf"},
           {{"--lr", "nan"}, "--lr: expected a finite number > 0, got nan"},
           {{"--lr", "-1"}, "--lr: must be > 0, got -1"},
           {{"--epochs", "100001"}, "--epochs: must be in [1, 100000], got 100001"},
           {{"--seed", "-1"}, "--seed: expected a whole number >= 0, got '-1'"},
           {{"--dropout", "inf"}, "--dropout: expected a finite number"}}) {
    INFO(args[0] << " " << args[1]);
    r = run(FG_BIN_LATE_FUSION, args, dir);
    CHECK(r.code == 2);
    CHECK(has(r.err, part));
  }
  r = run(FG_BIN_ESTIMATORS, {"--lr", "inf"}, dir);
  CHECK(r.code == 2);
  CHECK(has(r.err, "--lr: expected a finite number > 0, got inf"));
  r = run(FG_BIN_ESTIMATORS, {"--rhos", "0.5,nan"}, dir);
  CHECK(r.code == 2);
  CHECK(has(r.err, "--rhos"));
}

TEST_CASE("cli: --out - is standard output, and --out /dev/full stays a device") {
  ScratchDir dir("cli");
  Ran r = run(FG_BIN_LATE_FUSION, tiny({"--out", "-"}), dir);
  REQUIRE(r.code == 0);
  const auto j = nlohmann::json::parse(r.out);  // standard output holds the JSON alone
  CHECK(j["example"] == "late_fusion");
  CHECK(has(r.err, "model (test split)"));  // the table went to standard error
  CHECK(!fs::exists("-"));
  if (::access("/dev/full", W_OK) == 0) {
    r = run(FG_BIN_LATE_FUSION, tiny({"--out", "/dev/full"}), dir);
    CHECK(r.code == 1);
    CHECK(has(r.err, "--out: writing '/dev/full' failed"));
    struct stat st {};
    REQUIRE(::stat("/dev/full", &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
  }
}

#ifdef FG_BIN_MMB
TEST_CASE("cli: mmb end to end at tiny sizes: MMB and a zoo model on the harness, speed columns, the JSON") {
  ScratchDir dir("cli");
  const std::string out = dir.file("mmb.json");
  const Ran r = run(FG_BIN_MMB,
                    {"--quick", "--model", "mmb1,tfn", "--seeds", "0,1", "--mmb-epochs", "1", "--infer-steps", "2",
                     "--head-epochs", "2", "--epochs", "1", "--train-size", "48", "--valid-size", "16", "--test-size",
                     "16", "--quiet", "--out", out},
                    dir);
  INFO(r.err);
  REQUIRE(r.code == 0);
  // each model's row as it finished, then the whole table with the speed columns and the constant row
  CHECK(has(r.out, "train s"));
  CHECK(has(r.out, "infer ms/utt"));
  CHECK(has(r.out, "F1_has0"));
  CHECK(has(r.out, "constant (train mean)"));
  CHECK(std::regex_search(r.out, std::regex(R"(mmb1-eq43 \(text\+acoustic\+visual\) +\d)")));
  const auto j = nlohmann::json::parse(read_bytes(out));
  CHECK(j["example"] == "mmb");
  CHECK(j["interrupted"] == false);
  CHECK(j["options"]["quick"] == true);
  CHECK(j["options"]["train_size"] == 48);  // explicit flags win over --quick
  CHECK(j["seeds"] == nlohmann::json({0, 1}));
  REQUIRE(j["runs"].size() == 6);  // mmb1, mmb1-eq43 (x 2 seeds), tfn x 2 seeds
  for (const auto& run : j["runs"]) {
    INFO(run["name"]);
    CHECK(run["test"]["mae"].is_number());
    CHECK(run["train_seconds"].get<double>() > 0);
    CHECK(run["infer_seconds_per_utterance"].get<double>() > 0);
  }
  for (const char* name : {"mmb1", "mmb1-eq43", "tfn"}) {
    INFO(name);
    for (const char* k : {"mae", "corr", "acc2_has0", "acc2_non0", "f1_has0", "acc7"})
      CHECK(j["summary_test"][name][k]["mean"].is_number());
  }
  CHECK(j["constant_predictor"]["test"]["mae"].is_number());
  CHECK(j["mmb"]["mmb1"].size() == 2);
  CHECK(j["build"].contains("git_commit"));
}
#endif

TEST_CASE("cli: --corpus picks the embedded corpus; reviews reads the set-up's HDF5 file, errors name the flag") {
  ScratchDir dir("cli");
  // an unknown corpus, and --corpus with --data, are usage errors naming --corpus
  Ran r = run(FG_BIN_LATE_FUSION, {"--corpus", "imdb", "--quiet"}, dir);
  CHECK(r.code == 2);
  CHECK(has(r.err, "--corpus"));
  r = run(FG_BIN_LATE_FUSION, {"--corpus", "reviews", "--data", FG_BIN_LATE_FUSION, "--quiet"}, dir);
  CHECK(r.code == 2);
  CHECK(has(r.err, "--corpus"));
  const std::string corpus = fg::data::reviews_corpus_file(false);
  if (::access(corpus.c_str(), R_OK) != 0) {
    // not built: a usage error that says how to build it
    r = run(FG_BIN_LATE_FUSION, {"--corpus", "reviews", "--quiet"}, dir);
    CHECK(r.code == 2);
    CHECK(has(r.err, "build_reviews.sh"));
    std::cout << "SKIPPED: reviews corpus not built (the end-to-end part of this case)" << std::endl;
    return;
  }
  const std::string out = dir.file("lf.json");
  r = run(FG_BIN_LATE_FUSION, {"--corpus", "reviews", "--epochs", "1", "--quiet", "--out", out}, dir);
  INFO(r.err);
  REQUIRE(r.code == 0);
  const auto j = nlohmann::json::parse(read_bytes(out));
  CHECK(j["dataset"]["kind"] == "reviews");
  CHECK(j["dataset"]["train"] == 2800);
  CHECK(j["dataset"]["test"] == 800);
}

#ifdef FG_BIN_MMIM
TEST_CASE("cli: mmim's own flags: bad values exit 2 naming the flag, and the synthetic corpus runs with the LSTM text encoder") {
  ScratchDir dir("cli");
  struct Bad {
    std::vector<std::string> args;
    std::string says;
  };
  for (const Bad& b : std::vector<Bad>{
           {{"--ablate", "no-such-term"}, "--ablate: unknown term 'no-such-term'"},
           {{"--ablations", "--ablate", "no-ba"}, "--ablations and --ablate"},
           {{"--text-encoder", "gpt"}, "--text-encoder"},
           {{"--corpus", "synthetic", "--text-encoder", "bert"}, "--text-encoder bert: the synthetic corpus has no BERT"},
           {{"--text-encoder", "lstm", "--bert", dir.file("")}, "--bert: given with --text-encoder lstm"},
           {{"--memory", "-1"}, "--memory"},
           {{"--alpha", "nan"}, "--alpha"},
           {{"--lld-form", "exact"}, "--lld-form"},
           {{"--cpc", "both"}, "--cpc"},
           {{"--trace", dir.file("no-such-folder/t.svg")}, "--trace"}}) {
    INFO(b.args[0], " ", b.args[1]);
    const Ran r = run(FG_BIN_MMIM, b.args, dir);
    CHECK(r.code == 2);
    CHECK(has(r.err, b.says));
    CHECK(r.err.rfind("mmim: error: ", 0) == 0);
  }
  // --corpus synthetic: auto picks the LSTM text encoder; the case study reads the generator's truth
  const Ran r = run(FG_BIN_MMIM,
                    {"--corpus", "synthetic", "--train-size", "48", "--valid-size", "16", "--test-size", "24", "--epochs",
                     "1", "--batch-size", "16", "--case-study", "3", "--quiet", "--out", dir.file("m.json")},
                    dir);
  CHECK_MESSAGE(r.code == 0, r.err);
  CHECK(has(r.out, "synthetic truth (all 24 test utterances"));
  CHECK(has(r.out, "text silent"));
  const auto j = nlohmann::json::parse(read_bytes(dir.file("m.json")));
  CHECK(j.at("dataset").at("text_encoder") == "lstm");
  CHECK(j.at("case_study_synthetic").size() == 7);
}
#endif
