// examples/estimators.cpp: MI estimators against the analytic answer.
//
// For correlated Gaussians (losses/gaussian_mi.h) with per-coordinate correlation rho in
// dimension d, the true mutual information is -d/2 log(1 - rho^2). This program trains a
// critic for each estimator at each rho of a sweep and prints estimate vs truth:
//   DV (MINE, paper 002 eq. 6), NWJ (f-divergence, eq. 7), InfoNCE (CPC, paper 003; capped
//   by log B) and the Wasserstein dependency score (eq. 8; not an MI value, shown for its
//   shape). It writes the table as JSON and the curves as an SVG plot, like Figure 1 of
//   paper 002.
//
//   estimators                                   # d = 5, rho = 0.1 ... 0.9
//   estimators --dim 2 --steps 300 --svg mi.svg
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/error.h"
#include "engine/io/output_file.h"
#include "engine/optim/divergence.h"
#include "examples/common/cli.h"
#include "examples/estimators_svg.h"
#include "losses/gaussian_mi.h"

namespace {

using fg::losses::MiEstimator;

const MiEstimator kEstimators[] = {MiEstimator::DonskerVaradhan, MiEstimator::NWJ, MiEstimator::InfoNCE,
                                   MiEstimator::Wasserstein};
const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd"};

// The plot (examples/estimators_svg.h): x = rho over the whole sweep (negative rhos too),
// y = nats; the truth dashed in black; the Wasserstein dependency score, not an MI value, on
// its own right-hand axis.
std::string svg_plot(const std::vector<double>& rhos, const std::vector<double>& truth,
                     const std::vector<std::vector<double>>& curves, std::int64_t dim, std::int64_t batch) {
  std::vector<fg::examples::PlotSeries> series = {{"truth", "black", truth, true, false}};
  for (std::size_t e = 0; e < curves.size(); ++e) {
    const bool score = kEstimators[e] == MiEstimator::Wasserstein;
    series.push_back({score ? std::string("Wasserstein score") : fg::losses::mi_estimator_name(kEstimators[e]),
                      kColors[e], curves[e], false, score});
  }
  fg::examples::PlotLayout layout;
  layout.title = fmt::format("MI estimates vs truth (d = {}, batch {})", dim, batch);
  layout.y2_title = "Wasserstein score (not nats)";
  return fg::examples::svg_line_plot(rhos, series, layout);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train DV, NWJ, InfoNCE and Wasserstein critics on correlated Gaussians and compare each estimate "
               "with the analytic mutual information -d/2 log(1 - rho^2)."};
  fg::losses::MiTrainingOptions o;
  o.dim = 5;
  o.steps = 500;
  std::vector<double> rhos = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};
  std::string json_path = "estimators.json", svg_path = "estimators.svg";
  fg::cli::setup(app, "estimators");  // examples/common/cli.h: --version, exit codes, defaults in --help
  using fg::cli::int_range;
  app.add_option("--dim", o.dim, "dimension d of x and y")->check(int_range(1, 1 << 16));
  fg::cli::add_list(app, "--rhos", rhos, "correlations to sweep, each in (-1, 1)")
      ->check(fg::cli::finite_range(-0.9999, 0.9999));
  app.add_option("--steps", o.steps, "Adam steps per critic")->check(int_range(0, fg::cli::kMaxSteps));
  app.add_option("--batch", o.batch, "batch size (InfoNCE's estimate is capped by log batch)")->check(int_range(2, 1 << 20));
  app.add_option("--hidden", o.hidden, "hidden units of the critics")->check(int_range(1, 1 << 16));
  app.add_option("--lr", o.lr, "Adam learning rate (a finite number > 0)")->check(fg::cli::finite_positive());
  app.add_option("--seed", o.seed, "random seed (>= 0)")->check(fg::cli::seed());
  app.add_option("--json", json_path, "where to write the table as JSON (- for standard output)");
  app.add_option("--svg", svg_path, "where to write the plot (SVG; - for standard output)");
  // Both outputs are checked before any training, and written both or neither at the end.
  const auto validate = [&] { fg::cli::check_output_flags({{json_path, "--json"}, {svg_path, "--svg"}}); };
  return fg::cli::run_main(app, "estimators", argc, argv, validate, [&] {
    // A NaN/Inf estimate means the critic's training diverged (divergence.h).
    fg::optim::DivergenceGuard guard("", {.hint = fmt::format("lower --lr (now {})", o.lr)});
    // with an output on standard output ("-"), the table goes to standard error
    std::FILE* human = json_path == "-" || svg_path == "-" ? stderr : stdout;
    const auto start = std::chrono::steady_clock::now();
    std::vector<double> truth;
    std::vector<std::vector<double>> curves(std::size(kEstimators));
    nlohmann::json rows = nlohmann::json::array();
    fmt::print(human, "{:>6} {:>9} {:>11} {:>11} {:>11} {:>12}\n", "rho", "truth", "DV (MINE)", "NWJ (f)", "InfoNCE",
               "Wasserstein");
    for (double rho : rhos) {
      o.rho = rho;
      truth.push_back(fg::losses::gaussian_mi(o.dim, rho));
      nlohmann::json row = {{"rho", rho}, {"truth", truth.back()}};
      std::vector<double> est;
      for (std::size_t e = 0; e < std::size(kEstimators); ++e) {
        est.push_back(fg::losses::train_mi_estimator(kEstimators[e], o));
        guard.check(fmt::format("the {} estimate", fg::losses::mi_estimator_name(kEstimators[e])), est.back(),
                    fmt::format("rho = {} after {} steps", rho, o.steps));
        curves[e].push_back(est.back());
        row[fg::losses::mi_estimator_name(kEstimators[e])] = est.back();
      }
      rows.push_back(row);
      fmt::print(human, "{:>6.2f} {:>9.4f} {:>11.4f} {:>11.4f} {:>11.4f} {:>12.4f}\n", rho, truth.back(), est[0], est[1],
                 est[2], est[3]);
      std::fflush(human);
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    fmt::print(human, "log(batch) = {:.3f} caps InfoNCE; {:.1f} s\n", std::log(static_cast<double>(o.batch)), secs);
    const nlohmann::json out = {{"dim", o.dim},   {"steps", o.steps}, {"batch", o.batch},
                                {"seed", o.seed}, {"rows", rows},     {"seconds", secs}};
    // both files or neither (fg::io::write_outputs stages both before renaming either)
    fg::io::write_outputs({{json_path, out.dump(2) + "\n", "--json"},
                           {svg_path, svg_plot(rhos, truth, curves, o.dim, o.batch), "--svg"}});
    fmt::print(human, "wrote {} and {}\n", json_path, svg_path);
    return 0;
  });
}
