// data/metrics.h: the regression sentiment metrics of CMU-MOSI / MOSEI papers, following the
// conventions of MMSA (the de-facto standard toolkit; /work/shared/notes/reference-facts.md).
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

}  // namespace fg::data
