// data/metrics.cpp: MMSA-convention regression metrics (see data/metrics.h).
#include "data/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <array>
#include <map>
#include <numeric>

#include <fmt/format.h>

#include "engine/error.h"

namespace fg::data {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_inputs(const std::vector<double>& pred, const std::vector<double>& label, const char* fn) {
  FG_CHECK(pred.size() == label.size(), "{}: pred has {} values but label has {}", fn, pred.size(), label.size());
  FG_CHECK(!pred.empty(), "{}: needs at least one sample, got none", fn);
  for (std::size_t i = 0; i < pred.size(); ++i) {
    FG_CHECK(std::isfinite(pred[i]), "{}: pred[{}] is {}; metrics need finite values", fn, i, pred[i]);
    FG_CHECK(std::isfinite(label[i]), "{}: label[{}] is {}; metrics need finite values", fn, i, label[i]);
  }
}

}  // namespace

double round_half_even(double v) {
  const double r = std::round(v);  // halves away from zero
  if (std::fabs(v - std::trunc(v)) == 0.5) return 2.0 * std::round(v / 2.0);  // a tie: the even neighbour
  return r;
}

double mean_absolute_error(const std::vector<double>& pred, const std::vector<double>& label) {
  check_inputs(pred, label, "mean_absolute_error");
  double s = 0;
  for (std::size_t i = 0; i < pred.size(); ++i) s += std::fabs(pred[i] - label[i]);
  return s / static_cast<double>(pred.size());
}

double pearson_correlation(const std::vector<double>& pred, const std::vector<double>& label) {
  check_inputs(pred, label, "pearson_correlation");
  const auto n = static_cast<double>(pred.size());
  double mp = 0, my = 0;
  for (std::size_t i = 0; i < pred.size(); ++i) mp += pred[i], my += label[i];
  mp /= n, my /= n;
  double cov = 0, vp = 0, vy = 0;
  for (std::size_t i = 0; i < pred.size(); ++i) {
    const double dp = pred[i] - mp, dy = label[i] - my;
    cov += dp * dy, vp += dp * dp, vy += dy * dy;
  }
  if (vp == 0 || vy == 0) return kNaN;  // undefined for a constant input (numpy gives nan too)
  return std::clamp(cov / std::sqrt(vp * vy), -1.0, 1.0);
}

double clipped_class_accuracy(const std::vector<double>& pred, const std::vector<double>& label, double bound) {
  check_inputs(pred, label, "clipped_class_accuracy");
  FG_CHECK(bound > 0, "clipped_class_accuracy: bound must be > 0, got {}", bound);
  std::size_t hits = 0;
  for (std::size_t i = 0; i < pred.size(); ++i)
    hits += round_half_even(std::clamp(pred[i], -bound, bound)) == round_half_even(std::clamp(label[i], -bound, bound));
  return static_cast<double>(hits) / static_cast<double>(pred.size());
}

double binary_accuracy(const std::vector<int>& truth, const std::vector<int>& pred) {
  FG_CHECK(truth.size() == pred.size(), "binary_accuracy: truth has {} values but pred has {}", truth.size(),
           pred.size());
  if (truth.empty()) return kNaN;
  std::size_t hits = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) hits += truth[i] == pred[i];
  return static_cast<double>(hits) / static_cast<double>(truth.size());
}

double weighted_f1(const std::vector<int>& truth, const std::vector<int>& pred) {
  FG_CHECK(truth.size() == pred.size(), "weighted_f1: truth has {} values but pred has {}", truth.size(), pred.size());
  if (truth.empty()) return kNaN;
  double weighted = 0;
  for (int c = 0; c <= 1; ++c) {
    std::size_t tp = 0, fp = 0, fn = 0, support = 0;
    for (std::size_t i = 0; i < truth.size(); ++i) {
      FG_CHECK((truth[i] == 0 || truth[i] == 1) && (pred[i] == 0 || pred[i] == 1),
               "weighted_f1: labels must be 0 or 1, got truth[{}] = {}, pred[{}] = {}", i, truth[i], i, pred[i]);
      const bool t = truth[i] == c, p = pred[i] == c;
      support += t;
      tp += t && p, fp += !t && p, fn += t && !p;
    }
    if (support == 0) continue;  // weight 0
    const double precision = tp + fp == 0 ? 0.0 : static_cast<double>(tp) / static_cast<double>(tp + fp);
    const double recall = static_cast<double>(tp) / static_cast<double>(tp + fn);
    const double f1 = precision + recall == 0 ? 0.0 : 2 * precision * recall / (precision + recall);
    weighted += f1 * static_cast<double>(support);
  }
  return weighted / static_cast<double>(truth.size());
}

RegressionMetrics regression_metrics(const std::vector<double>& pred, const std::vector<double>& label) {
  check_inputs(pred, label, "regression_metrics");
  RegressionMetrics m;
  m.n = static_cast<std::int64_t>(pred.size());
  m.mae = mean_absolute_error(pred, label);
  m.corr = pearson_correlation(pred, label);
  m.acc7 = clipped_class_accuracy(pred, label, 3.0);
  m.acc5 = clipped_class_accuracy(pred, label, 2.0);

  std::vector<int> t_has0, p_has0, t_non0, p_non0;
  for (std::size_t i = 0; i < pred.size(); ++i) {
    t_has0.push_back(label[i] >= 0), p_has0.push_back(pred[i] >= 0);
    if (label[i] != 0) t_non0.push_back(label[i] > 0), p_non0.push_back(pred[i] > 0);
  }
  m.n_non0 = static_cast<std::int64_t>(t_non0.size());
  m.acc2_has0 = binary_accuracy(t_has0, p_has0);
  m.f1_has0 = weighted_f1(t_has0, p_has0);
  m.acc2_non0 = binary_accuracy(t_non0, p_non0);  // NaN when every label is 0
  m.f1_non0 = weighted_f1(t_non0, p_non0);
  return m;
}

std::string format_metrics(const RegressionMetrics& m) {
  return fmt::format("mae {:.4f}  corr {:.4f}  acc2_has0 {:.4f}  acc2_non0 {:.4f}  f1_has0 {:.4f}  f1_non0 {:.4f}  "
                     "acc7 {:.4f}  acc5 {:.4f}",
                     m.mae, m.corr, m.acc2_has0, m.acc2_non0, m.f1_has0, m.f1_non0, m.acc7, m.acc5);
}

// ---------------------------------------------------------------- classes

double class_accuracy(const std::vector<int>& truth, const std::vector<int>& pred) {
  FG_CHECK(truth.size() == pred.size(), "class_accuracy: truth has {} values but pred has {}", truth.size(),
           pred.size());
  FG_CHECK(!truth.empty(), "class_accuracy: needs at least one sample, got none");
  std::size_t hits = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) hits += truth[i] == pred[i];
  return static_cast<double>(hits) / static_cast<double>(truth.size());
}

double weighted_f1_classes(const std::vector<int>& truth, const std::vector<int>& pred) {
  FG_CHECK(truth.size() == pred.size(), "weighted_f1_classes: truth has {} values but pred has {}", truth.size(),
           pred.size());
  FG_CHECK(!truth.empty(), "weighted_f1_classes: needs at least one sample, got none");
  std::map<int, std::array<std::size_t, 3>> counts;  // class -> tp, fp, fn
  for (std::size_t i = 0; i < truth.size(); ++i) {
    FG_CHECK(truth[i] >= 0 && pred[i] >= 0, "weighted_f1_classes: class indices must be >= 0, got truth[{}] = {}, "
             "pred[{}] = {}", i, truth[i], i, pred[i]);
    if (truth[i] == pred[i]) {
      ++counts[truth[i]][0];
    } else {
      ++counts[pred[i]][1];
      ++counts[truth[i]][2];
    }
  }
  double weighted = 0;
  for (const auto& [cls, c] : counts) {
    const std::size_t tp = c[0], fp = c[1], fn = c[2], support = tp + fn;
    if (support == 0) continue;
    const double precision = tp + fp == 0 ? 0.0 : static_cast<double>(tp) / static_cast<double>(tp + fp);
    const double recall = static_cast<double>(tp) / static_cast<double>(support);
    const double f1 = precision + recall == 0 ? 0.0 : 2 * precision * recall / (precision + recall);
    weighted += f1 * static_cast<double>(support);
  }
  return weighted / static_cast<double>(truth.size());
}

// ---------------------------------------------------------------- multi-label

MultiLabelMetrics multilabel_metrics(const std::vector<int>& truth, const std::vector<int>& pred,
                                     const std::vector<std::string>& names) {
  const std::size_t k = names.size();
  FG_CHECK(k >= 1, "multilabel_metrics: needs at least one label name");
  FG_CHECK(truth.size() == pred.size(), "multilabel_metrics: truth has {} values but pred has {}", truth.size(),
           pred.size());
  FG_CHECK(!truth.empty() && truth.size() % k == 0,
           "multilabel_metrics: truth has {} values, expected a non-zero multiple of the {} labels", truth.size(), k);
  const std::size_t n = truth.size() / k;
  MultiLabelMetrics m;
  m.names = names;
  for (std::size_t e = 0; e < k; ++e) {
    std::vector<int> t(n), p(n);
    for (std::size_t i = 0; i < n; ++i) t[i] = truth[i * k + e], p[i] = pred[i * k + e];
    m.accuracy.push_back(binary_accuracy(t, p));
    m.f1.push_back(weighted_f1(t, p));  // checks the 0 / 1 values
  }
  m.mean_accuracy = std::accumulate(m.accuracy.begin(), m.accuracy.end(), 0.0) / static_cast<double>(k);
  m.mean_f1 = std::accumulate(m.f1.begin(), m.f1.end(), 0.0) / static_cast<double>(k);
  return m;
}

// ---------------------------------------------------------------- several targets

MultiRegressionMetrics multi_regression_metrics(const std::vector<double>& pred, const std::vector<double>& label,
                                                const std::vector<std::string>& names) {
  const std::size_t k = names.size();
  FG_CHECK(k >= 1, "multi_regression_metrics: needs at least one target name");
  FG_CHECK(!label.empty() && label.size() % k == 0,
           "multi_regression_metrics: label has {} values, expected a non-zero multiple of the {} targets",
           label.size(), k);
  check_inputs(pred, label, "multi_regression_metrics");
  const std::size_t n = label.size() / k;
  MultiRegressionMetrics m;
  m.names = names;
  double corr_sum = 0;
  std::size_t corr_n = 0;
  for (std::size_t c = 0; c < k; ++c) {
    std::vector<double> p(n), y(n);
    for (std::size_t i = 0; i < n; ++i) p[i] = pred[i * k + c], y[i] = label[i * k + c];
    m.mae.push_back(mean_absolute_error(p, y));
    m.corr.push_back(pearson_correlation(p, y));
    if (!std::isnan(m.corr.back())) corr_sum += m.corr.back(), ++corr_n;
  }
  m.mean_mae = std::accumulate(m.mae.begin(), m.mae.end(), 0.0) / static_cast<double>(k);
  m.mean_corr = corr_n == 0 ? kNaN : corr_sum / static_cast<double>(corr_n);
  return m;
}

// ---------------------------------------------------------------- retrieval

double precision_at_k(const std::vector<float>& queries, const std::vector<int>& query_labels,
                      const std::vector<float>& gallery, const std::vector<int>& gallery_labels, std::int64_t dim,
                      std::int64_t k, bool same_set) {
  FG_CHECK(dim >= 1, "precision_at_k: dim must be >= 1, got {}", dim);
  const auto nq = static_cast<std::int64_t>(query_labels.size());
  const auto ng = static_cast<std::int64_t>(gallery_labels.size());
  FG_CHECK(static_cast<std::int64_t>(queries.size()) == nq * dim,
           "precision_at_k: queries hold {} values, expected {} labels x dim {}", queries.size(), nq, dim);
  FG_CHECK(static_cast<std::int64_t>(gallery.size()) == ng * dim,
           "precision_at_k: gallery holds {} values, expected {} labels x dim {}", gallery.size(), ng, dim);
  FG_CHECK(nq >= 1, "precision_at_k: needs at least one query");
  FG_CHECK(!same_set || nq == ng, "precision_at_k: same_set needs the same number of queries ({}) and gallery items ({})",
           nq, ng);
  const std::int64_t candidates = same_set ? ng - 1 : ng;
  FG_CHECK(k >= 1 && k <= candidates, "precision_at_k: K = {} must be in [1, {}] ({} gallery items{})", k, candidates,
           ng, same_set ? ", the query itself left out" : "");
  for (std::size_t i = 0; i < queries.size(); ++i)
    FG_CHECK(std::isfinite(queries[i]), "precision_at_k: queries[{}] is {}; embeddings must be finite", i, queries[i]);
  for (std::size_t i = 0; i < gallery.size(); ++i)
    FG_CHECK(std::isfinite(gallery[i]), "precision_at_k: gallery[{}] is {}; embeddings must be finite", i, gallery[i]);
  double total = 0;
  std::vector<std::pair<double, std::int64_t>> dist;
  for (std::int64_t q = 0; q < nq; ++q) {
    dist.clear();
    for (std::int64_t g = 0; g < ng; ++g) {
      if (same_set && g == q) continue;
      double d2 = 0;
      for (std::int64_t j = 0; j < dim; ++j) {
        const double diff = static_cast<double>(queries[q * dim + j]) - static_cast<double>(gallery[g * dim + j]);
        d2 += diff * diff;
      }
      dist.emplace_back(d2, g);
    }
    // the K smallest (distance, index) pairs: ties go to the lower index
    std::partial_sort(dist.begin(), dist.begin() + k, dist.end());
    std::int64_t hits = 0;
    for (std::int64_t r = 0; r < k; ++r) hits += gallery_labels[dist[r].second] == query_labels[q];
    total += static_cast<double>(hits) / static_cast<double>(k);
  }
  return total / static_cast<double>(nq);
}

// ---------------------------------------------------------------- over seeds

MeanStd mean_std(const std::vector<double>& values, int ddof) {
  FG_CHECK(ddof >= 0, "mean_std: ddof must be >= 0, got {}", ddof);
  MeanStd out;
  double sum = 0;
  for (double v : values)
    if (!std::isnan(v)) sum += v, ++out.n;
  if (out.n == 0) return {kNaN, kNaN, 0};
  out.mean = sum / static_cast<double>(out.n);
  if (out.n <= ddof) {
    out.std = kNaN;
    return out;
  }
  double ss = 0;
  for (double v : values)
    if (!std::isnan(v)) ss += (v - out.mean) * (v - out.mean);
  out.std = std::sqrt(ss / static_cast<double>(out.n - ddof));
  return out;
}

std::vector<std::pair<std::string, MeanStd>> summarize_runs(const std::vector<RegressionMetrics>& runs, int ddof) {
  FG_CHECK(!runs.empty(), "summarize_runs: no runs given");
  const std::pair<const char*, double RegressionMetrics::*> fields[] = {
      {"mae", &RegressionMetrics::mae},         {"corr", &RegressionMetrics::corr},
      {"acc7", &RegressionMetrics::acc7},       {"acc5", &RegressionMetrics::acc5},
      {"acc2_has0", &RegressionMetrics::acc2_has0}, {"f1_has0", &RegressionMetrics::f1_has0},
      {"acc2_non0", &RegressionMetrics::acc2_non0}, {"f1_non0", &RegressionMetrics::f1_non0}};
  std::vector<std::pair<std::string, MeanStd>> out;
  for (const auto& [name, field] : fields) {
    std::vector<double> v;
    for (const RegressionMetrics& r : runs) v.push_back(r.*field);
    out.emplace_back(name, mean_std(v, ddof));
  }
  return out;
}

std::string format_summary(const std::vector<std::pair<std::string, MeanStd>>& summary) {
  std::string out;
  for (const auto& [name, s] : summary)
    out += fmt::format("{}{} {:.4f} +- {:.4f}", out.empty() ? "" : "  ", name, s.mean, s.std);
  if (!summary.empty()) out += fmt::format("  (n = {})", summary.front().second.n);
  return out;
}

}  // namespace fg::data
