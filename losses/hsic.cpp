// losses/hsic.cpp: see hsic.h.
#include "losses/hsic.h"

#include <algorithm>
#include <cmath>

namespace fg::losses {

namespace {

Tensor gaussian_gram(const Tensor& x, double sigma) {
  const double s = sigma > 0 ? sigma : median_pairwise_distance(x);
  FG_CHECK(s > 0, "hsic: the bandwidth is 0 (all samples identical?); pass a positive sigma");
  return rbf_gram(x, x, {1.0 / (2.0 * s * s)});
}

// H K H for a square K: subtract row means and column means, add back the grand mean.
Tensor double_center(const Tensor& k) {
  return k - mean(k, 0, true) - mean(k, 1, true) + mean(k);
}

Tensor hsic_from_grams(const Tensor& k, const Tensor& l) {
  const auto n = static_cast<double>(k.size(0));
  return sum(double_center(k) * l) / ((n - 1) * (n - 1));
}

void check_pair(const Tensor& x, const Tensor& y, const char* op) {
  FG_CHECK(x.defined() && y.defined() && x.dim() == 2 && y.dim() == 2 && x.size(0) == y.size(0),
           "{}: expected paired samples x [n, dx] and y [n, dy], got {} and {}", op, x.str(), y.str());
  FG_CHECK(x.size(0) >= 2, "{}: needs at least 2 samples, got {}", op, x.size(0));
}

}  // namespace

double median_pairwise_distance(const Tensor& x) {
  FG_CHECK(x.defined() && x.dim() == 2 && x.size(0) >= 2,
           "median_pairwise_distance: expected [n >= 2, d], got {}", x.str());
  const auto v = x.to_vector<double>();
  const std::int64_t n = x.size(0), d = x.size(1);
  std::vector<double> dist;
  dist.reserve(static_cast<std::size_t>(n * (n - 1) / 2));
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = i + 1; j < n; ++j) {
      double s = 0;
      for (std::int64_t k = 0; k < d; ++k) s += (v[i * d + k] - v[j * d + k]) * (v[i * d + k] - v[j * d + k]);
      dist.push_back(std::sqrt(s));
    }
  const auto mid = dist.begin() + static_cast<std::ptrdiff_t>(dist.size() / 2);
  std::nth_element(dist.begin(), mid, dist.end());
  return *mid;
}

Tensor hsic(const Tensor& x, const Tensor& y, double sigma_x, double sigma_y) {
  check_pair(x, y, "hsic");
  return hsic_from_grams(gaussian_gram(x, sigma_x), gaussian_gram(y, sigma_y));
}

Tensor normalized_hsic(const Tensor& x, const Tensor& y, double sigma_x, double sigma_y) {
  check_pair(x, y, "normalized_hsic");
  const Tensor k = gaussian_gram(x, sigma_x), l = gaussian_gram(y, sigma_y);
  return hsic_from_grams(k, l) / sqrt(hsic_from_grams(k, k) * hsic_from_grams(l, l));
}

Tensor time_average(const Tensor& x, const Tensor& lengths) {
  FG_CHECK(x.defined() && x.dim() == 3, "time_average: expected x [n, T, d], got {}", x.str());
  if (!lengths.defined()) return mean(x, 1);
  const std::int64_t n = x.size(0), T = x.size(1);
  FG_CHECK(lengths.dtype() == DType::i64 && lengths.dim() == 1 && lengths.size(0) == n,
           "time_average: lengths must be int64 [{}], got {}", n, lengths.str());
  const auto len = lengths.to_vector<std::int64_t>();
  std::vector<double> mask(static_cast<std::size_t>(n * T)), inv(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    FG_CHECK(len[i] >= 1 && len[i] <= T, "time_average: length {} of sequence {} is outside [1, {}]", len[i], i, T);
    for (std::int64_t t = 0; t < T; ++t) mask[i * T + t] = t < len[i] ? 1.0 : 0.0;
    inv[i] = 1.0 / static_cast<double>(len[i]);
  }
  const Tensor m = from_vector(mask, {n, T, 1}, x.options());
  const Tensor w = from_vector(inv, {n, 1}, x.options());
  return sum(x * m, 1) * w;
}

}  // namespace fg::losses
