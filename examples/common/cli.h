// examples/common/cli.h: the command-line convention every example program shares
// (late_fusion, estimators, digits, csd_convert, bert_check, and the training harness the
// later examples build on). Implemented once here; each program calls it.
//
//   --version      "<program> (fusegrad <version>, commit <git>, <build type>, CUDA on|off)"
//                  and exit 0; the commit is captured at build time (build_info.cmake)
//   --help         every flag with its default value, exit 0
//   --debug        error messages keep the source file and line they were raised at
//   exit status    0 success, 2 usage error (a flag CLI11 refuses, or a flag value
//                  checked after parsing: output paths, devices, bounds), 1 runtime error
//                  (bad input file, divergence, a failed write, ...)
//   messages       "<program>: error: <flag or file>: <what was expected>", one line,
//                  without source-file paths (kept for --debug)
//   list flags     one syntax: values separated by commas, spaces or both
//                  (`--rhos 0.1,0.3 0.5`), see add_list()
//   numbers        non-finite values (`--lr inf`, `--lr nan`) are refused; counts have
//                  sane upper bounds (kMaxEpochs); seeds are non-negative
//   outputs        every output path is checked before any work (check_output_flag)
//   --device       "cuda" in a CPU-only build or on a machine without a GPU is refused
//                  with "... use --device cpu"
//
//   int main(int argc, char** argv) {
//     CLI::App app{"what it does"};
//     fg::cli::setup(app, "late_fusion");   // before adding options
//     ... app.add_option(...) ...
//     return fg::cli::run_main(app, "late_fusion", argc, argv,
//                              [&] { /* flag checks: an fg::Error here exits 2 */ },
//                              [&] { /* the work: returns the exit status; an exception exits 1 */ });
//   }
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/error.h"
#include "engine/io/output_file.h"

namespace fg::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;
inline constexpr int kExitUsage = 2;

// Upper bound of every epoch/step count flag: beyond it a typo (an extra zero, a negative
// number wrapped to 2^64 - 1) is far likelier than intent.
inline constexpr std::int64_t kMaxEpochs = 100000;
inline constexpr std::int64_t kMaxSteps = 100000000;

// Facts about this build (generated at build time by build_info.cmake).
struct BuildInfo {
  const char* version;     // CMake project() version
  const char* commit;      // git commit, "-dirty" when tracked files were changed, or "unknown"
  const char* build_type;  // CMAKE_BUILD_TYPE
  bool cuda;               // built with FUSEGRAD_CUDA=ON
};
const BuildInfo& build_info();

// "<program> (fusegrad 0.1.0, commit 0123456789ab, Release, CUDA off)"
std::string version_text(const std::string& program);

// A flag value refused after parsing: exit status 2.
class UsageError : public fg::Error {
 public:
  using fg::Error::Error;
};

// Adds --version and --debug and makes --help show every option's default. Call right
// after constructing the app, before adding options (the defaults are captured as each
// option is added).
void setup(CLI::App& app, const std::string& program);

// Parses argv, runs `validate` (any fg::Error there is a usage error: exit 2), then `run`
// (its return value is the exit status; an exception exits 1). Prints errors as
// "<program>: error: <message>" on stderr.
int run_main(CLI::App& app, const std::string& program, int argc, char** argv, const std::function<void()>& validate,
             const std::function<int()>& run);

// The one-line text of an exception as the programs print it: fg::Error's message without
// its source location unless --debug was given.
std::string describe(const std::exception& e);
bool debug();

// ---- checks of flag values (each throws UsageError naming the flag)

// The output `path` of `flag` can be written (fg::io::check_output: its folder exists and
// is writable, it is not a folder; OutputUse::named_file also refuses "-", devices and
// FIFOs). An empty path is allowed when `optional`.
void check_output_flag(const std::string& path, const std::string& flag,
                       fg::io::OutputUse use = fg::io::OutputUse::stream, bool optional = true);

// Several output flags at once: each checked as above, and no two naming the same file.
// `outputs` holds {path, flag} pairs; empty paths are skipped.
void check_output_flags(const std::vector<std::pair<std::string, std::string>>& outputs);

// A folder that will receive files: it exists and is writable, or it can be created (its
// nearest existing ancestor is a writable folder); not a file.
void check_output_folder(const std::string& path, const std::string& flag);

// Parses a --device value and checks that this build and machine can run it:
//   "--device cuda: this build has no CUDA backend (FUSEGRAD_CUDA=OFF); use --device cpu"
fg::Device device_flag(const std::string& text, const std::string& flag = "--device");

// ---- CLI11 validators

// A finite number > 0 ("--lr: expected a finite number > 0, got inf").
CLI::Validator finite_positive();
// A finite number in [lo, hi].
CLI::Validator finite_range(double lo, double hi);
// An integer in [lo, hi].
CLI::Validator int_range(std::int64_t lo, std::int64_t hi);
// A seed: a whole number >= 0 (CLI11 alone would wrap -1 to 2^64 - 1).
CLI::Validator seed();

// ---- list flags: commas, spaces or both (`--rhos 0.1,0.3 0.5`, `--modalities text visual`)
template <class T>
CLI::Option* add_list(CLI::App& app, const std::string& name, std::vector<T>& values, const std::string& description) {
  return app.add_option(name, values, description + " (a list: values separated by commas and/or spaces)")
      ->delimiter(',')
      ->expected(1, CLI::detail::expected_max_vector_size);
}

// The items of a list joined with `sep` ("text,visual").
std::string join(const std::vector<std::string>& items, const std::string& sep = ",");

}  // namespace fg::cli
