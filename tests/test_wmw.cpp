// tests/test_wmw.cpp: data/wmw.h's Mann-Whitney U test against scipy.stats.mannwhitneyu with
// its defaults (FG_PYTHON with python3-scipy, installed by tools/setup.sh): U1 and the
// two-sided p-value, exact and asymptotic (with ties), small and large samples.
#include <doctest/doctest.h>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "data/wmw.h"
#include "support/test_util.h"

namespace {
std::string py_list(const std::vector<double>& v) {
  std::ostringstream s;
  s.precision(17);
  s << "[";
  for (double x : v) s << x << ",";
  s << "]";
  return s.str();
}
}  // namespace

TEST_CASE("mann_whitney_u matches scipy.stats.mannwhitneyu (defaults) on exact, tied and large samples") {
  std::vector<std::pair<std::vector<double>, std::vector<double>>> cases = {
      {{0.71, 0.74, 0.69}, {0.66, 0.65}},                                    // exact, U at the extreme
      {{0.1, 0.5, 0.3, 0.9, 0.7}, {0.2, 0.4, 0.6, 0.8, 1.0, 1.2}},          // exact, middle
      {{1, 2, 2, 3}, {2, 3, 4, 4, 5}},                                       // ties: asymptotic
      {{0.5, 0.52}, {0.5, 0.51}},                                            // 2 seeds each, a tie
      {{0.3, 0.8}, {0.1, 0.2}},                                              // 2 seeds each: p = 1/3
  };
  std::vector<double> a, b;  // 12 and 10 values: asymptotic without ties
  for (int i = 0; i < 12; ++i) a.push_back(0.5 + 0.01 * (i * i % 7) + 0.001 * i);
  for (int i = 0; i < 10; ++i) b.push_back(0.48 + 0.013 * (i * 3 % 5) + 0.0007 * i);
  cases.emplace_back(a, b);
  std::vector<double> c = {1, 2, 3, 4, 5, 6, 7, 8}, d;  // 8 vs 20: exact (not both > 8)
  for (int i = 0; i < 20; ++i) d.push_back(3.5 + 0.5 * i);
  cases.emplace_back(c, d);
  for (const auto& [x, y] : cases) {
    const std::string cmd = std::string(FG_PYTHON) +
                            " -c \"from scipy.stats import mannwhitneyu as m; r = m(" + py_list(x) + "," +
                            py_list(y) + "); print(repr(float(r.statistic)), repr(float(r.pvalue)))\" 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[512] = {};
    std::string out;
    while (fgets(buf, sizeof buf, p)) out += buf;
    pclose(p);
    double su = 0, sp = 0;
    if (std::sscanf(out.c_str(), "%lf %lf", &su, &sp) != 2)
      FAIL("scipy did not answer (install python3-scipy: tools/setup.sh): " << out);
    const auto r = fg::data::mann_whitney_u(x, y);
    CAPTURE(out);
    CHECK(r.u1 == doctest::Approx(su).epsilon(1e-12));
    CHECK(r.p == doctest::Approx(sp).epsilon(1e-9));
  }
}

TEST_CASE("mann_whitney_u: method choice and errors") {
  CHECK(fg::data::mann_whitney_u({1, 2}, {3, 4}).exact);
  CHECK(!fg::data::mann_whitney_u({1, 2}, {2, 4}).exact);  // a tie
  CHECK(fg::data::mann_whitney_u({1, 2}, {3, 4}).p == doctest::Approx(1.0 / 3.0));
  CHECK(fg::test::contains(fg::test::error_of([] { fg::data::mann_whitney_u({}, {1}); }), "non-empty"));
  CHECK(fg::test::contains(fg::test::error_of([] { fg::data::mann_whitney_u({1, 1}, {1, 2}, "exact"); }), "ties"));
  CHECK(fg::test::contains(fg::test::error_of([] { fg::data::mann_whitney_u({1}, {2}, "fast"); }), "unknown method"));
}
