// data/metrics.h: the evaluation metrics of the multimodal papers, following the conventions of
// MMSA and MulT (the de-facto standard toolkits; docs/data-format.md, section 5, lists them):
// regression sentiment (below), 3-class sentiment, IEMOCAP's per-emotion 2-way decisions, POM's
// per-trait scores, Precision@K retrieval and mean / std over seeds (at the end of the file).
//
// Predictions p and labels y are on the [-3, 3] sentiment scale. With n samples:
//
//   MAE        mean |p - y|
//   Corr       Pearson r of p and y. NaN when p or y has zero variance (as numpy.corrcoef):
//              a constant predictor has no correlation to report.
//   Acc7       fraction with round(clip(p, -3, 3)) == round(clip(y, -3, 3)): 7 classes -3..3
//   Acc5       the same with clip(., -2, 2): 5 classes -2..2
//              round() is round half to even, as numpy.round: 0.5 -> 0, 1.5 -> 2, -2.5 -> -2.
//   Acc2 has0  binary y >= 0 vs p >= 0 over ALL samples (zero counts as positive)
//   Acc2 non0  drop the samples with y == 0, then y > 0 vs p > 0 (p == 0 counts as negative)
//   F1 has0 / F1 non0
//              the weighted F1 of the same two binarizations (sklearn's f1_score with
//              average='weighted'): the F1 of each class that occurs in y, weighted by its
//              number of samples in y. A class never predicted has precision 0/0, taken as 0
//              (sklearn's zero_division default), so its F1 is 0.
//
// Papers disagree on which Acc2 they print, so fusegrad always reports both, labelled.
// The non0 metrics are NaN when every label is 0 (nothing is left to score); n_non0 says how
// many samples they used. Inputs must have the same, non-zero size and be finite, otherwise
// the functions throw naming the argument and the first bad index.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace fg::data {

struct RegressionMetrics {
  double acc2_has0 = 0, f1_has0 = 0;
  double acc2_non0 = 0, f1_non0 = 0;
  double acc7 = 0, acc5 = 0;
  double mae = 0, corr = 0;
  std::int64_t n = 0, n_non0 = 0;
};

// All of the above at once.
RegressionMetrics regression_metrics(const std::vector<double>& pred, const std::vector<double>& label);

// The building blocks (same input rules).
double mean_absolute_error(const std::vector<double>& pred, const std::vector<double>& label);
double pearson_correlation(const std::vector<double>& pred, const std::vector<double>& label);
// round(clip(p, -bound, bound)) == round(clip(y, -bound, bound)); Acc7 is bound 3, Acc5 bound 2.
double clipped_class_accuracy(const std::vector<double>& pred, const std::vector<double>& label, double bound);
// Round half to even (numpy.round with no decimals).
double round_half_even(double v);
// Accuracy and weighted F1 of two 0/1 label vectors (truth and prediction).
double binary_accuracy(const std::vector<int>& truth, const std::vector<int>& pred);
double weighted_f1(const std::vector<int>& truth, const std::vector<int>& pred);

// "acc2_has0 0.8123  f1_has0 ...": one line for logs.
std::string format_metrics(const RegressionMetrics& m);

// ---------------------------------------------------------------- classes (3-class sentiment)
// Accuracy and weighted F1 of class indices (any non-negative ints): the F1 of each class that
// occurs in `truth`, weighted by its support (sklearn's average='weighted', zero_division 0).
double class_accuracy(const std::vector<int>& truth, const std::vector<int>& pred);
double weighted_f1_classes(const std::vector<int>& truth, const std::vector<int>& pred);

// ---------------------------------------------------------------- multi-label emotions
// IEMOCAP convention (MulT, MISA): every emotion is its own 2-way decision (present or not);
// accuracy and weighted F1 (of the two classes 0 / 1) per emotion, and their plain means.
// truth, pred: row-major [N, K] of 0 / 1.
struct MultiLabelMetrics {
  std::vector<std::string> names;       // K
  std::vector<double> accuracy, f1;     // K each
  double mean_accuracy = 0, mean_f1 = 0;
};
MultiLabelMetrics multilabel_metrics(const std::vector<int>& truth, const std::vector<int>& pred,
                                     const std::vector<std::string>& names);

// ---------------------------------------------------------------- several regression targets
// POM convention: MAE and Pearson r per trait (column of row-major [N, K]), and their means
// (NaN columns, e.g. a constant prediction, are left out of mean_corr).
struct MultiRegressionMetrics {
  std::vector<std::string> names;
  std::vector<double> mae, corr;
  double mean_mae = 0, mean_corr = 0;
};
MultiRegressionMetrics multi_regression_metrics(const std::vector<double>& pred, const std::vector<double>& label,
                                                const std::vector<std::string>& names);

// ---------------------------------------------------------------- retrieval
// Precision@K by Euclidean k-nearest neighbours: for each query, the K gallery items nearest
// to it (ties: the lower gallery index first) and the fraction of them with the query's
// label; averaged over the queries. Queries and gallery are row-major [n, dim]. With
// `same_set` the gallery is the query set itself and each query's own row is skipped
// (leave-one-out); K must then be < n. Throws on sizes that disagree or K out of range.
double precision_at_k(const std::vector<float>& queries, const std::vector<int>& query_labels,
                      const std::vector<float>& gallery, const std::vector<int>& gallery_labels, std::int64_t dim,
                      std::int64_t k, bool same_set = false);

// ---------------------------------------------------------------- over seeds
// Mean and standard deviation of a metric over runs (seeds). ddof = 0 is numpy.std's default
// (divide by n), ddof = 1 the sample standard deviation (divide by n - 1). NaN values are left
// out and `n` counts the rest; with n == 0 both are NaN, with n <= ddof the std is NaN.
struct MeanStd {
  double mean = 0, std = 0;
  std::int64_t n = 0;
};
MeanStd mean_std(const std::vector<double>& values, int ddof = 0);
// Each field of RegressionMetrics over runs, by name ("mae", "corr", "acc7", "acc5",
// "acc2_has0", "f1_has0", "acc2_non0", "f1_non0"), in that order.
std::vector<std::pair<std::string, MeanStd>> summarize_runs(const std::vector<RegressionMetrics>& runs, int ddof = 0);
// "mae 0.7123 +- 0.0100  corr ...": one line (mean +- std over the runs, n runs).
std::string format_summary(const std::vector<std::pair<std::string, MeanStd>>& summary);

}  // namespace fg::data
