// examples/common/cli.cpp: see cli.h.
#include "examples/common/cli.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "engine/cuda/cuda_api.h"

namespace fg::cli {

namespace {
bool g_debug = false;

// A number parsed from all of `text`, or an error text.
bool parse_number(const std::string& text, double& v) {
  try {
    std::size_t used = 0;
    v = std::stod(text, &used);
    return used == text.size();
  } catch (const std::exception&) {
    return false;
  }
}
}  // namespace

bool debug() { return g_debug; }

std::string version_text(const std::string& program) {
  const BuildInfo& b = build_info();
  return fmt::format("{} (fusegrad {}, commit {}, {}, CUDA {})", program, b.version, b.commit, b.build_type,
                     b.cuda ? "on" : "off");
}

void setup(CLI::App& app, const std::string& program) {
  app.option_defaults()->always_capture_default();
  app.set_version_flag("--version", version_text(program),
                       "Print the version, git commit, build type and whether CUDA is built in, then exit");
  app.add_flag("--debug", g_debug, "Error messages keep the source file and line they were raised at");
}

std::string describe(const std::exception& e) {
  if (const auto* fe = dynamic_cast<const fg::Error*>(&e); fe != nullptr && !g_debug) return fe->message();
  return e.what();
}

int run_main(CLI::App& app, const std::string& program, int argc, char** argv, const std::function<void()>& validate,
             const std::function<int()>& run) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);  // --help, --version
    std::cerr << program << ": error: " << e.what() << "\n"
              << "Run " << program << " --help for every flag and its default.\n";
    return kExitUsage;
  }
  try {
    validate();
  } catch (const std::exception& e) {
    std::cerr << program << ": error: " << describe(e) << "\n";
    return kExitUsage;
  }
  try {
    return run();
  } catch (const CLI::ParseError& e) {  // a flag checked late (e.g. by a library call)
    std::cerr << program << ": error: " << e.what() << "\n";
    return kExitUsage;
  } catch (const UsageError& e) {
    std::cerr << program << ": error: " << describe(e) << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << program << ": error: " << describe(e) << "\n";
    return kExitRuntime;
  }
}

void check_output_flag(const std::string& path, const std::string& flag, fg::io::OutputUse use, bool optional) {
  if (path.empty() && optional) return;
  try {
    fg::io::check_output(path, flag, use);
  } catch (const fg::Error& e) {
    throw UsageError(e.message());
  }
}

void check_output_flags(const std::vector<std::pair<std::string, std::string>>& outputs) {
  std::vector<fg::io::Output> all;
  for (const auto& [path, flag] : outputs)
    if (!path.empty()) all.push_back({path, "", flag});
  try {
    fg::io::check_outputs(all);
  } catch (const fg::Error& e) {
    throw UsageError(e.message());
  }
}

void check_output_folder(const std::string& path, const std::string& flag) {
  namespace fs = std::filesystem;
  if (path.empty()) throw UsageError(fmt::format("{}: empty folder name", flag));
  fs::path p(path);
  struct stat st {};
  if (::stat(p.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) throw UsageError(fmt::format("{}: '{}' exists and is not a folder; give a folder", flag, path));
    if (::access(p.c_str(), W_OK | X_OK) != 0)
      throw UsageError(fmt::format("{}: the folder '{}' is not writable", flag, path));
    return;
  }
  // Created later: the nearest existing ancestor must be a writable folder.
  std::error_code ec;
  fs::path up = fs::absolute(p, ec).lexically_normal();
  do {
    up = up.parent_path();
  } while (::stat(up.c_str(), &st) != 0 && up != up.root_path());
  if (!S_ISDIR(st.st_mode))
    throw UsageError(fmt::format("{}: cannot create the folder '{}': '{}' is not a folder", flag, path, up.string()));
  if (::access(up.c_str(), W_OK | X_OK) != 0)
    throw UsageError(
        fmt::format("{}: cannot create the folder '{}': the folder '{}' is not writable", flag, path, up.string()));
}

fg::Device device_flag(const std::string& text, const std::string& flag) {
  fg::Device d;
  try {
    d = fg::parse_device(text);
  } catch (const fg::Error& e) {
    throw UsageError(fmt::format("{}: {}", flag, e.message()));
  }
  if (!d.is_cuda()) return d;
  if (!build_info().cuda)
    throw UsageError(fmt::format(
        "{} {}: this build has no CUDA backend (configured with -DFUSEGRAD_CUDA=OFF); use --device cpu", flag, text));
  const int n = fg::cuda::device_count();
  if (n == 0) throw UsageError(fmt::format("{} {}: no CUDA device is visible on this machine; use --device cpu", flag, text));
  if (d.index >= n)
    throw UsageError(fmt::format("{} {}: this machine has {} CUDA device{} (cuda:0 .. cuda:{}); pick one or use "
                                 "--device cpu",
                                 flag, text, n, n == 1 ? "" : "s", n - 1));
  return d;
}

CLI::Validator finite_positive() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        double v = 0;
        if (!parse_number(text, v)) return "expected a number, got '" + text + "'";
        if (!std::isfinite(v)) return "expected a finite number > 0, got " + text;
        return v > 0 ? std::string() : "must be > 0, got " + text;
      },
      "> 0");
}

CLI::Validator finite_range(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) -> std::string {
        double v = 0;
        if (!parse_number(text, v)) return "expected a number, got '" + text + "'";
        if (!std::isfinite(v)) return fmt::format("expected a finite number in [{}, {}], got {}", lo, hi, text);
        return v >= lo && v <= hi ? std::string() : fmt::format("must be in [{}, {}], got {}", lo, hi, text);
      },
      fmt::format("in [{}, {}]", lo, hi));
}

CLI::Validator int_range(std::int64_t lo, std::int64_t hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) -> std::string {
        try {
          std::size_t used = 0;
          const long long v = std::stoll(text, &used);
          if (used != text.size()) return "expected a whole number, got '" + text + "'";
          return v >= lo && v <= hi ? std::string() : fmt::format("must be in [{}, {}], got {}", lo, hi, text);
        } catch (const std::out_of_range&) {
          return fmt::format("must be in [{}, {}], got {}", lo, hi, text);
        } catch (const std::exception&) {
          return "expected a whole number, got '" + text + "'";
        }
      },
      fmt::format("in [{}, {}]", lo, hi));
}

CLI::Validator seed() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
        if (!digits) return "expected a whole number >= 0, got '" + text + "'";
        try {
          std::size_t used = 0;
          (void)std::stoull(text, &used);
          return std::string();
        } catch (const std::exception&) {
          return "must be < 2^64, got " + text;
        }
      },
      ">= 0");
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

}  // namespace fg::cli
