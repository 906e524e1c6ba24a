// data/wmw.h: the Wilcoxon-Mann-Whitney (Mann-Whitney U) test, as scipy.stats.mannwhitneyu
// computes it by default (scipy 1.10, Debian bookworm's python3-scipy: use_continuity=True,
// alternative='two-sided', method='auto'); tests/test_wmw.cpp compares with scipy itself.
//
//   ranks   of the pooled sample (ties get their average rank)
//   U1      = R1 - n1 (n1 + 1) / 2   (R1: the rank sum of x; the statistic returned)
//   U       = max(U1, n1 n2 - U1);   p = 2 P(U' >= U) clipped to 1
//   method  exact when not (n1 > 8 and n2 > 8) and there is no tie, else asymptotic:
//     exact       P(U' >= U) from the exact null distribution of U (all C(n1+n2, n1)
//                 rank arrangements equally likely)
//     asymptotic  z = (U - n1 n2 / 2 - 0.5) / s,
//                 s = sqrt(n1 n2 / 12 ((n + 1) - sum_ties (t^3 - t) / (n (n - 1)))),
//                 P = normal survival function of z (continuity correction 0.5, tie
//                 correction over every group of t tied values)
// mdm uses it to compare a metric over seeds with the L_null runs' (docs/mdm.md).
#pragma once

#include <string>
#include <vector>

namespace fg::data {

struct MannWhitneyResult {
  double u1 = 0;       // statistic of x (scipy's `statistic`)
  double p = 1;        // two-sided p-value
  bool exact = false;  // which method 'auto' chose
};

// method: "auto" (scipy's default), "exact" or "asymptotic". Throws on an empty sample, a
// non-finite value, an unknown method, or "exact" with ties.
MannWhitneyResult mann_whitney_u(const std::vector<double>& x, const std::vector<double>& y,
                                 const std::string& method = "auto");

}  // namespace fg::data
