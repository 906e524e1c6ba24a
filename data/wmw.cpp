// data/wmw.cpp: see wmw.h.
#include "data/wmw.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/error.h"

namespace fg::data {

namespace {
// P(U >= k) under H0 for sample sizes m, n: counts c(m, n, u) of arrangements with U = u by
// c(m, n, u) = c(m - 1, n, u - n) + c(m, n - 1, u), normalised by C(m + n, m).
double exact_sf(long k, long m, long n) {
  FG_CHECK(static_cast<double>(m) * n * (static_cast<double>(m) * n + 1) < 4e8,
           "mann_whitney_u: the exact distribution for sizes {} and {} is too large; use 'asymptotic'", m, n);
  const long mn = m * n;
  // table[i][j] = counts for sizes (i, j), u = 0..i*j; build for i = 0..m, j = 0..n
  std::vector<std::vector<std::vector<double>>> c(static_cast<std::size_t>(m + 1),
                                                  std::vector<std::vector<double>>(static_cast<std::size_t>(n + 1)));
  for (long i = 0; i <= m; ++i)
    for (long j = 0; j <= n; ++j) {
      auto& t = c[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)];
      t.assign(static_cast<std::size_t>(i * j + 1), 0.0);
      if (i == 0 || j == 0) {
        t[0] = 1;
        continue;
      }
      const auto& a = c[static_cast<std::size_t>(i - 1)][static_cast<std::size_t>(j)];  // largest value from x: u += j
      const auto& b = c[static_cast<std::size_t>(i)][static_cast<std::size_t>(j - 1)];  // largest from y
      for (std::size_t u = 0; u < a.size(); ++u) t[u + static_cast<std::size_t>(j)] += a[u];
      for (std::size_t u = 0; u < b.size(); ++u) t[u] += b[u];
    }
  const auto& t = c[static_cast<std::size_t>(m)][static_cast<std::size_t>(n)];
  const double total = std::accumulate(t.begin(), t.end(), 0.0);
  double tail = 0;
  for (long u = std::max(0L, k); u <= mn; ++u) tail += t[static_cast<std::size_t>(u)];
  return tail / total;
}
}  // namespace

MannWhitneyResult mann_whitney_u(const std::vector<double>& x, const std::vector<double>& y, const std::string& method) {
  FG_CHECK(!x.empty() && !y.empty(), "mann_whitney_u: both samples must be non-empty (got {} and {})", x.size(),
           y.size());
  FG_CHECK(method == "auto" || method == "exact" || method == "asymptotic",
           "mann_whitney_u: unknown method '{}' (auto, exact, asymptotic)", method);
  const std::size_t n1 = x.size(), n2 = y.size(), n = n1 + n2;
  std::vector<std::pair<double, int>> pooled;
  for (double v : x) pooled.emplace_back(v, 0);
  for (double v : y) pooled.emplace_back(v, 1);
  for (const auto& [v, s] : pooled) FG_CHECK(std::isfinite(v), "mann_whitney_u: non-finite value {} in sample {}", v, s);
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return pooled[a].first < pooled[b].first; });
  std::vector<double> rank(n);
  double tie_term = 0;
  bool ties = false;
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j + 1 < n && pooled[order[j + 1]].first == pooled[order[i]].first) ++j;
    const double avg = (static_cast<double>(i + 1) + static_cast<double>(j + 1)) / 2.0;
    for (std::size_t k = i; k <= j; ++k) rank[order[k]] = avg;
    const double t = static_cast<double>(j - i + 1);
    if (t > 1) ties = true, tie_term += t * t * t - t;
    i = j + 1;
  }
  double r1 = 0;
  for (std::size_t i = 0; i < n1; ++i) r1 += rank[i];
  const double dn1 = static_cast<double>(n1), dn2 = static_cast<double>(n2), dn = static_cast<double>(n);
  MannWhitneyResult r;
  r.u1 = r1 - dn1 * (dn1 + 1) / 2;
  const double u = std::max(r.u1, dn1 * dn2 - r.u1);
  std::string m = method;
  if (m == "auto") m = (n1 > 8 && n2 > 8) || ties ? "asymptotic" : "exact";
  FG_CHECK(!(m == "exact" && ties), "mann_whitney_u: the exact method needs samples without ties");
  if (m == "exact") {
    r.exact = true;
    r.p = 2 * exact_sf(static_cast<long>(u), static_cast<long>(n1), static_cast<long>(n2));
  } else {
    const double s = std::sqrt(dn1 * dn2 / 12 * ((dn + 1) - tie_term / (dn * (dn - 1))));
    const double z = (u - dn1 * dn2 / 2 - 0.5) / s;
    r.p = 2 * 0.5 * std::erfc(z / std::sqrt(2.0));  // normal survival function, two-sided
    if (!std::isfinite(r.p)) r.p = 1;               // s = 0: every value tied
  }
  r.p = std::clamp(r.p, 0.0, 1.0);
  return r;
}

}  // namespace fg::data
