// tests/test_estimators_svg.cpp: the estimators plot (examples/estimators_svg.h): nice ticks
// with exact, distinct labels, an x axis that covers negative rhos, and the Wasserstein
// score on its own right-hand axis. The tick labels are read back from the SVG text.
#include <doctest/doctest.h>

#include <cmath>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "examples/estimators_svg.h"

using fg::examples::nice_ticks;
using fg::examples::PlotLayout;
using fg::examples::PlotSeries;

namespace {

// The text of every <text class="cls" ...>label</text>.
std::vector<std::string> labels(const std::string& svg, const std::string& cls) {
  std::vector<std::string> out;
  const std::regex re("<text class=\"" + cls + "\"[^>]*>([^<]*)</text>");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), re); it != std::sregex_iterator(); ++it)
    out.push_back((*it)[1].str());
  return out;
}

// Each label parses back to a multiple of the step (exact up to rounding of the double), and
// no two are equal.
void check_exact_distinct(const std::vector<std::string>& ls) {
  REQUIRE(ls.size() >= 2);
  std::set<std::string> unique(ls.begin(), ls.end());
  CHECK(unique.size() == ls.size());
  const double step = std::stod(ls[1]) - std::stod(ls[0]);
  CHECK(step > 0);
  for (std::size_t i = 0; i < ls.size(); ++i) {
    CAPTURE(ls[i]);
    CHECK(std::stod(ls[i]) == doctest::Approx(std::stod(ls[0]) + static_cast<double>(i) * step).epsilon(1e-12));
    CHECK(ls[i] != "-0");
    const bool negative_zero = ls[i][0] == '-' && std::stod(ls[i]) == 0;
    CHECK_FALSE(negative_zero);
  }
}

std::string plot(const std::vector<double>& rhos, std::vector<double> score = {}) {
  std::vector<double> truth, dv;
  for (double r : rhos) {
    truth.push_back(-2.5 * std::log(1 - r * r));
    dv.push_back(0.9 * truth.back());
  }
  if (score.empty())
    for (double r : rhos) score.push_back(0.7 * std::abs(r));
  PlotLayout layout;
  layout.title = "test";
  layout.y2_title = "Wasserstein score (not nats)";
  return fg::examples::svg_line_plot(
      rhos, {{"truth", "black", truth, true, false}, {"DV", "red", dv}, {"Wasserstein score", "blue", score, false, true}},
      layout);
}

}  // namespace

TEST_CASE("nice_ticks: steps of 1, 2 or 5 x 10^e that cover the range, with the decimals the step needs") {
  auto t = nice_ticks(0, 4.152);
  CHECK(t.step == 1);
  CHECK(t.lo() == 0);
  CHECK(t.hi() == 5);
  CHECK(t.label(3) == "3");
  t = nice_ticks(0, 0.685);
  CHECK(t.step == doctest::Approx(0.2));
  CHECK(t.hi() >= 0.685);
  CHECK(t.decimals == 1);
  t = nice_ticks(-0.9, 0.9, 8);
  CHECK(t.step == doctest::Approx(0.5));
  CHECK(t.lo() <= -0.9);
  CHECK(t.hi() >= 0.9);
  CHECK(t.label(-0.5) == "-0.5");
  t = nice_ticks(0.1, 0.3, 8);  // 0.3 / 0.05 is not exactly 6 in doubles
  CHECK(t.step == doctest::Approx(0.05));
  CHECK(t.decimals == 2);
  CHECK(t.last == 6);
  CHECK(t.label(0.15) == "0.15");
  t = nice_ticks(2, 2);  // degenerate: widened
  CHECK(t.lo() < 2);
  CHECK(t.hi() > 2);
  t = nice_ticks(-1e-13, 0.0);  // degenerate at 0: widened to a readable range, not 1e-14 steps
  CHECK(t.decimals <= 1);
  CHECK(t.lo() <= -1e-13);
  t = nice_ticks(-1, 1);
  CHECK(t.label(-0.0) == "0.0");  // never "-0.0"
  CHECK(t.label(-1e-17) == "0.0");
}

TEST_CASE("estimators SVG: the x axis covers negative rhos and every point lies inside the plot") {
  const std::vector<double> rhos = {0.5, -0.9, -0.5, 0.0, 0.9};  // unsorted on purpose
  const std::string svg = plot(rhos);
  const auto xs = labels(svg, "xtick");
  check_exact_distinct(xs);
  CHECK(std::stod(xs.front()) <= -0.9);
  CHECK(std::stod(xs.back()) >= 0.9);
  // all circle centres inside the frame [64, 470] x [34, 388]
  const std::regex circle("<circle cx=\"([0-9.-]+)\" cy=\"([0-9.-]+)\"");
  int n = 0;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), circle); it != std::sregex_iterator(); ++it, ++n) {
    const double cx = std::stod((*it)[1].str()), cy = std::stod((*it)[2].str());
    CHECK(cx >= 64 - 1e-9);
    CHECK(cx <= 470 + 1e-9);
    CHECK(cy >= 34 - 1e-9);
    CHECK(cy <= 388 + 1e-9);
  }
  CHECK(n == 3 * 5);
  // the lines are drawn in order of rho: the truth's first point is at rho = -0.9 (the left edge)
  const std::regex first_point("stroke-dasharray=\"6,4\" points=\"([0-9.]+),");
  std::smatch m;
  REQUIRE(std::regex_search(svg, m, first_point));
  CHECK(std::stod(m[1].str()) == doctest::Approx(64 + (-0.9 - std::stod(xs.front())) /
                                                          (std::stod(xs.back()) - std::stod(xs.front())) * 406));
}

TEST_CASE("estimators SVG: tick labels are exact and distinct for the default sweep and for fine ones") {
  for (const auto& rhos : std::vector<std::vector<double>>{{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9},
                                                          {0.1, 0.12, 0.14},
                                                          {-0.3, -0.25},
                                                          {0.5}}) {
    CAPTURE(rhos.size());
    const std::string svg = plot(rhos);
    for (const char* cls : {"xtick", "ytick", "ytick2"}) {
      CAPTURE(cls);
      check_exact_distinct(labels(svg, cls));
    }
    const auto xs = labels(svg, "xtick");
    CHECK(std::stod(xs.front()) <= *std::min_element(rhos.begin(), rhos.end()));
    CHECK(std::stod(xs.back()) >= *std::max_element(rhos.begin(), rhos.end()));
  }
}

TEST_CASE("estimators SVG: the Wasserstein score has its own right-hand axis, labelled as not nats") {
  // a score range (0 .. 70) far from the MI range (0 .. 4.2): each axis is scaled to its own data
  const std::vector<double> rhos = {0.1, 0.5, 0.9};
  const std::string svg = plot(rhos, {5, 30, 70});
  const auto left = labels(svg, "ytick"), right = labels(svg, "ytick2");
  REQUIRE(!left.empty());
  REQUIRE(!right.empty());
  CHECK(std::stod(left.back()) < 10);
  CHECK(std::stod(right.back()) >= 70);
  CHECK(svg.find("Wasserstein score (not nats)") != std::string::npos);
  CHECK(svg.find("Wasserstein score (right axis)") != std::string::npos);
  CHECK(svg.find(">nats</text>") != std::string::npos);
  // a NaN breaks the line instead of being drawn at 0
  const std::string with_nan = plot(rhos, {5, NAN, 70});
  CHECK(labels(with_nan, "ytick2").size() >= 2);
  CHECK(with_nan.find("nan") == std::string::npos);
}
