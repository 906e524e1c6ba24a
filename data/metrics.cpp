// data/metrics.cpp: MMSA-convention regression metrics (see data/metrics.h).
#include "data/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

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

}  // namespace fg::data
