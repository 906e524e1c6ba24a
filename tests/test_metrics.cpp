// tests/test_metrics.cpp: the MMSA-convention sentiment metrics (data/metrics.h), each checked
// against numbers worked out by hand in the comments.
#include <doctest/doctest.h>

#include <cmath>

#include "data/metrics.h"
#include "engine/error.h"

using namespace fg::data;
using doctest::Approx;

TEST_CASE("metrics: round half to even, as numpy.round") {
  CHECK(round_half_even(0.5) == 0.0);
  CHECK(round_half_even(1.5) == 2.0);
  CHECK(round_half_even(2.5) == 2.0);
  CHECK(round_half_even(3.5) == 4.0);
  CHECK(round_half_even(-0.5) == 0.0);  // -0.0 == 0.0
  CHECK(round_half_even(-1.5) == -2.0);
  CHECK(round_half_even(-2.5) == -2.0);
  // not ties: ordinary rounding
  CHECK(round_half_even(0.49) == 0.0);
  CHECK(round_half_even(2.51) == 3.0);
  CHECK(round_half_even(-1.2) == -1.0);
  CHECK(round_half_even(-2.7) == -3.0);
}

TEST_CASE("metrics: a worked example of every metric") {
  //            i:    0     1    2    3     4     5
  const std::vector<double> p = {2.5, -0.5, 0.0, 1.4, -3.7, 0.6};
  const std::vector<double> y = {2.0, 0.0, -1.0, 1.6, -2.5, -0.2};
  const RegressionMetrics m = regression_metrics(p, y);
  CHECK(m.n == 6);

  // MAE: |.5| + |.5| + |1| + |.2| + |1.2| + |.8| = 4.2; / 6 = 0.7
  CHECK(m.mae == Approx(0.7).epsilon(1e-12));

  // Acc7: clip to [-3, 3] then round half even
  //   p -> 2.5, -0.5, 0, 1.4, -3, 0.6 -> 2, 0, 0, 1, -3, 1
  //   y -> 2, 0, -1, 2 (1.6), -2 (-2.5 is a tie -> even), 0 (-0.2)
  //   equal at i = 0, 1 -> 2 / 6
  CHECK(m.acc7 == Approx(2.0 / 6.0).epsilon(1e-12));
  // Acc5: clip to [-2, 2]
  //   p -> 2, -0.5, 0, 1.4, -2, 0.6 -> 2, 0, 0, 1, -2, 1
  //   y -> 2, 0, -1, 1.6, -2, -0.2 -> 2, 0, -1, 2, -2, 0
  //   equal at i = 0, 1, 4 -> 3 / 6
  CHECK(m.acc5 == Approx(0.5).epsilon(1e-12));

  // Acc2 has0: truth y >= 0 -> 1 1 0 1 0 0 ; pred p >= 0 -> 1 0 1 1 0 1 (p = 0 counts positive)
  //   equal at i = 0, 3, 4 -> 3 / 6
  CHECK(m.acc2_has0 == Approx(0.5).epsilon(1e-12));
  // F1 has0, weighted:
  //   class 1 (support 3): tp = {0, 3} = 2, fp = {2, 5} = 2, fn = {1} = 1
  //     precision 2/4, recall 2/3 -> F1 = 2 (1/2)(2/3) / (1/2 + 2/3) = 4/7
  //   class 0 (support 3): tp = {4} = 1, fp = {1} = 1, fn = {2, 5} = 2
  //     precision 1/2, recall 1/3 -> F1 = 2 (1/6) / (5/6) = 2/5
  //   weighted = (3 * 4/7 + 3 * 2/5) / 6 = 17/35
  CHECK(m.f1_has0 == Approx(17.0 / 35.0).epsilon(1e-12));

  // Acc2 non0: drop i = 1 (y == 0); rows 0, 2, 3, 4, 5
  //   truth y > 0 -> 1 0 1 0 0 ; pred p > 0 -> 1 0 1 0 1 (p = 0 counts negative here)
  //   equal at 4 of 5
  CHECK(m.n_non0 == 5);
  CHECK(m.acc2_non0 == Approx(0.8).epsilon(1e-12));
  // F1 non0: class 1 (support 2): tp 2, fp 1, fn 0 -> P 2/3, R 1 -> F1 4/5
  //          class 0 (support 3): tp 2, fp 0, fn 1 -> P 1, R 2/3 -> F1 4/5
  //   weighted = (2 * 0.8 + 3 * 0.8) / 5 = 0.8
  CHECK(m.f1_non0 == Approx(0.8).epsilon(1e-12));

  // Corr, from the definition: mean p = 0.3 / 6 = 0.05, mean y = -0.1 / 6
  double mp = 0.05, my = -0.1 / 6, cov = 0, vp = 0, vy = 0;
  for (int i = 0; i < 6; ++i) cov += (p[i] - mp) * (y[i] - my), vp += (p[i] - mp) * (p[i] - mp), vy += (y[i] - my) * (y[i] - my);
  CHECK(m.corr == Approx(cov / std::sqrt(vp * vy)).epsilon(1e-12));
}

TEST_CASE("metrics: Pearson r on small cases, NaN for a constant input") {
  // p = 1 2 3, y = 1 3 2: deviations (-1 0 1) and (-1 1 0): cov 1, var 2 and 2 -> r = 1/2
  CHECK(pearson_correlation({1, 2, 3}, {1, 3, 2}) == Approx(0.5).epsilon(1e-12));
  CHECK(pearson_correlation({1, 2, 3}, {3, 2, 1}) == Approx(-1.0).epsilon(1e-12));
  CHECK(pearson_correlation({1, 2, 3}, {10, 20, 30}) == Approx(1.0).epsilon(1e-12));
  // a constant predictor (or constant labels): zero variance, r undefined -> NaN
  CHECK(std::isnan(pearson_correlation({0.3, 0.3, 0.3}, {1, 2, 3})));
  CHECK(std::isnan(pearson_correlation({1, 2, 3}, {-1, -1, -1})));
  CHECK(std::isnan(regression_metrics({0.3, 0.3}, {1, 2}).corr));
}

TEST_CASE("metrics: Acc7 and Acc5 round ties to even and clip first") {
  // p rounds half-to-even to 0, 2, 2, 0, -2, -2: all equal to y
  // (rounding half away from zero would give 1, 2, 3, -1, -2, -3: only 2 of 6)
  const std::vector<double> p = {0.5, 1.5, 2.5, -0.5, -1.5, -2.5};
  const std::vector<double> y = {0.0, 2.0, 2.0, 0.0, -2.0, -2.0};
  CHECK(clipped_class_accuracy(p, y, 3.0) == 1.0);
  // clipping: 3.6 -> 3 == 3 ; -4 -> -3 == -3 ; 2.6 -> 3 != 2
  CHECK(clipped_class_accuracy({3.6, -4.0, 2.6}, {3.0, -3.0, 2.0}, 3.0) == Approx(2.0 / 3.0).epsilon(1e-12));
  // Acc5: 3.5 -> 2 and 2.5 -> 2 agree; -2.9 -> -2 vs -1.5 -> -2 (tie to even) agree; 0.5 -> 0 vs 1.0 -> 1 differ
  CHECK(clipped_class_accuracy({3.5, -2.9, 0.5}, {2.5, -1.5, 1.0}, 2.0) == Approx(2.0 / 3.0).epsilon(1e-12));
}

TEST_CASE("metrics: zero labels (has0 counts them positive, non0 drops them)") {
  // p = -1, 0, 1 ; y = 0, 0, 0
  const RegressionMetrics m = regression_metrics({-1.0, 0.0, 1.0}, {0.0, 0.0, 0.0});
  // MAE = (1 + 0 + 1) / 3
  CHECK(m.mae == Approx(2.0 / 3.0).epsilon(1e-12));
  // has0: truth 1 1 1 ; pred (p >= 0) 0 1 1 -> 2/3
  CHECK(m.acc2_has0 == Approx(2.0 / 3.0).epsilon(1e-12));
  // F1 has0: only class 1 has support (3): tp 2, fp 0, fn 1 -> P 1, R 2/3 -> F1 0.8; weighted 0.8
  CHECK(m.f1_has0 == Approx(0.8).epsilon(1e-12));
  // non0: nothing left to score -> NaN, and n_non0 says so
  CHECK(m.n_non0 == 0);
  CHECK(std::isnan(m.acc2_non0));
  CHECK(std::isnan(m.f1_non0));
  // Acc7: -1, 0, 1 vs 0, 0, 0 -> 1/3 ; labels constant -> corr NaN
  CHECK(m.acc7 == Approx(1.0 / 3.0).epsilon(1e-12));
  CHECK(std::isnan(m.corr));
}

TEST_CASE("metrics: weighted F1 when everything is one class") {
  // truth and pred all 1: class 1 P = R = 1 -> 1
  CHECK(weighted_f1({1, 1, 1}, {1, 1, 1}) == 1.0);
  // truth all 1, pred all 0: class 1 has tp 0 -> P = 0/0 taken as 0, R = 0 -> F1 0; class 0 has no support
  CHECK(weighted_f1({1, 1, 1}, {0, 0, 0}) == 0.0);
  // truth all 1, pred 1 1 0 0: class 1 P 1, R 1/2 -> F1 2/3 (weight 4 of 4)
  CHECK(weighted_f1({1, 1, 1, 1}, {1, 1, 0, 0}) == Approx(2.0 / 3.0).epsilon(1e-12));
  // truth 1 1 0 0, pred all 1 (a one-class predictor):
  //   class 1: tp 2, fp 2 -> P 1/2, R 1 -> F1 2/3 ; class 0: never predicted -> F1 0
  //   weighted = (2 * 2/3 + 2 * 0) / 4 = 1/3 (sklearn gives 0.3333 too)
  CHECK(weighted_f1({1, 1, 0, 0}, {1, 1, 1, 1}) == Approx(1.0 / 3.0).epsilon(1e-12));
  CHECK(binary_accuracy({1, 1, 0, 0}, {1, 1, 1, 1}) == 0.5);
}

TEST_CASE("metrics: bad input is a clear error") {
  CHECK_THROWS_WITH_AS(regression_metrics({1.0, 2.0}, {1.0}), doctest::Contains("pred has 2 values but label has 1"),
                       fg::Error);
  CHECK_THROWS_WITH_AS(regression_metrics({}, {}), doctest::Contains("at least one sample"), fg::Error);
  CHECK_THROWS_WITH_AS(regression_metrics({0.0, NAN}, {1.0, 1.0}), doctest::Contains("pred[1] is nan"), fg::Error);
  CHECK_THROWS_WITH_AS(mean_absolute_error({0.0}, {INFINITY}), doctest::Contains("label[0] is inf"), fg::Error);
  CHECK_THROWS_WITH_AS(weighted_f1({0, 2}, {0, 1}), doctest::Contains("must be 0 or 1"), fg::Error);
  CHECK_THROWS_WITH_AS(clipped_class_accuracy({0.0}, {0.0}, 0.0), doctest::Contains("bound must be > 0"), fg::Error);
}

TEST_CASE("metrics: 3-class accuracy and weighted F1 by hand") {
  //                    i: 0  1  2  3  4  5
  const std::vector<int> t = {0, 0, 1, 1, 2, 2};
  const std::vector<int> p = {0, 1, 1, 1, 2, 0};
  CHECK(class_accuracy(t, p) == Approx(4.0 / 6.0).epsilon(1e-12));
  // class 0: tp 1, fp 1 (i5), fn 1 (i1) -> P 1/2, R 1/2, F1 1/2
  // class 1: tp 2, fp 1 (i1), fn 0      -> P 2/3, R 1,   F1 4/5
  // class 2: tp 1, fp 0, fn 1 (i5)      -> P 1,   R 1/2, F1 2/3
  // weighted by support 2, 2, 2: (1 + 8/5 + 4/3) / 6 = 59/90
  CHECK(weighted_f1_classes(t, p) == Approx(59.0 / 90.0).epsilon(1e-12));
  // a class predicted but absent from the truth has weight 0 (its false positive still costs
  // class 0 its recall): class 0 P 1, R 1/2 -> F1 2/3
  CHECK(weighted_f1_classes({0, 0}, {3, 0}) == Approx(2.0 / 3.0).epsilon(1e-12));
  // on 0 / 1 labels it is the binary weighted F1
  const std::vector<int> bt = {1, 1, 0, 1, 0, 0}, bp = {1, 0, 1, 1, 0, 1};
  CHECK(weighted_f1_classes(bt, bp) == Approx(weighted_f1(bt, bp)).epsilon(1e-12));
  CHECK_THROWS_WITH_AS(class_accuracy({1}, {1, 2}), doctest::Contains("truth has 1 values but pred has 2"), fg::Error);
  CHECK_THROWS_WITH_AS(weighted_f1_classes({-1}, {0}), doctest::Contains("class indices must be >= 0"), fg::Error);
}

TEST_CASE("metrics: per-emotion accuracy and weighted F1 (IEMOCAP convention) by hand") {
  // rows (happy, sad): truth [1 0] [0 0] [1 1] [0 1], pred [1 0] [1 0] [0 1] [0 0]
  const std::vector<int> t = {1, 0, 0, 0, 1, 1, 0, 1};
  const std::vector<int> p = {1, 0, 1, 0, 0, 1, 0, 0};
  const MultiLabelMetrics m = multilabel_metrics(t, p, {"happy", "sad"});
  // happy: t 1 0 1 0, p 1 1 0 0 -> acc 1/2; class 1: tp 1 fp 1 fn 1 -> F1 1/2; class 0 the same
  CHECK(m.accuracy[0] == Approx(0.5).epsilon(1e-12));
  CHECK(m.f1[0] == Approx(0.5).epsilon(1e-12));
  // sad: t 0 0 1 1, p 0 0 1 0 -> acc 3/4; class 1: P 1, R 1/2 -> 2/3; class 0: P 2/3, R 1 -> 4/5
  //   weighted (2 * 2/3 + 2 * 4/5) / 4 = 11/15
  CHECK(m.accuracy[1] == Approx(0.75).epsilon(1e-12));
  CHECK(m.f1[1] == Approx(11.0 / 15.0).epsilon(1e-12));
  CHECK(m.mean_accuracy == Approx(0.625).epsilon(1e-12));
  CHECK(m.mean_f1 == Approx(37.0 / 60.0).epsilon(1e-12));
  CHECK(m.names == std::vector<std::string>{"happy", "sad"});
  CHECK_THROWS_WITH_AS(multilabel_metrics({1, 0, 1}, {1, 0, 1}, {"a", "b"}),
                       doctest::Contains("expected a non-zero multiple of the 2 labels"), fg::Error);
  CHECK_THROWS_WITH_AS(multilabel_metrics({2, 0}, {1, 0}, {"a", "b"}), doctest::Contains("must be 0 or 1"), fg::Error);
}

TEST_CASE("metrics: MAE and Pearson r per trait (POM convention) by hand") {
  // rows (trait a, trait b): pred [1 0] [2 1] [3 5], label [1 2] [3 2] [2 2]
  const MultiRegressionMetrics m = multi_regression_metrics({1, 0, 2, 1, 3, 5}, {1, 2, 3, 2, 2, 2}, {"a", "b"});
  // a: p 1 2 3, y 1 3 2 -> MAE (0 + 1 + 1) / 3, r 1/2 (deviations -1 0 1 and -1 1 0)
  CHECK(m.mae[0] == Approx(2.0 / 3.0).epsilon(1e-12));
  CHECK(m.corr[0] == Approx(0.5).epsilon(1e-12));
  // b: p 0 1 5, y 2 2 2 -> MAE (2 + 1 + 3) / 3 = 2, r undefined (constant label)
  CHECK(m.mae[1] == Approx(2.0).epsilon(1e-12));
  CHECK(std::isnan(m.corr[1]));
  CHECK(m.mean_mae == Approx(4.0 / 3.0).epsilon(1e-12));
  CHECK(m.mean_corr == Approx(0.5).epsilon(1e-12));  // the NaN column left out
}

TEST_CASE("metrics: Precision@K by Euclidean nearest neighbours by hand") {
  // 1-D points 0, 1, 3, 10, 11 with labels 0, 0, 1, 1, 1; each point queries the others
  const std::vector<float> x = {0, 1, 3, 10, 11};
  const std::vector<int> y = {0, 0, 1, 1, 1};
  // K = 2: q0 -> 1 (0), 3 (1): 1/2;  q1 -> 0 (0), 3 (1): 1/2;  q2 (label 1) -> 1 (0), 0 (0): 0;
  //        q3 -> 11, 3: 1;  q4 -> 10, 3: 1   => (1/2 + 1/2 + 0 + 1 + 1) / 5 = 3/5
  CHECK(precision_at_k(x, y, x, y, 1, 2, /*same_set=*/true) == Approx(0.6).epsilon(1e-12));
  // K = 1: q0 -> 1 hit, q1 -> 0 hit, q2 -> 1 miss, q3 -> 11 hit, q4 -> 10 hit => 4/5
  CHECK(precision_at_k(x, y, x, y, 1, 1, true) == Approx(0.8).epsilon(1e-12));
  // 2-D, separate gallery: query (0, 0) label 1; gallery (3, 4) 1, (1, 1) 0, (0, 2) 1:
  //   squared distances 25, 2, 4 -> K = 2 takes items 1 (label 0) and 2 (label 1) => 1/2
  CHECK(precision_at_k({0, 0}, {1}, {3, 4, 1, 1, 0, 2}, {1, 0, 1}, 2, 2) == Approx(0.5).epsilon(1e-12));
  // equal distances: the lower gallery index wins (item 0, label 5, not the query's 7)
  CHECK(precision_at_k({0}, {7}, {-1, 1}, {5, 7}, 1, 1) == 0.0);
  CHECK_THROWS_WITH_AS(precision_at_k(x, y, x, y, 1, 5, true), doctest::Contains("K = 5 must be in [1, 4]"), fg::Error);
  CHECK_THROWS_WITH_AS(precision_at_k({0, 1, 2}, {0, 1}, x, y, 1, 1), doctest::Contains("queries hold 3 values"),
                       fg::Error);
}

TEST_CASE("metrics: mean and standard deviation over seeds") {
  MeanStd s = mean_std({1, 2, 3, 4});
  CHECK(s.mean == Approx(2.5).epsilon(1e-12));
  CHECK(s.std == Approx(std::sqrt(1.25)).epsilon(1e-12));  // numpy.std: divide by n
  CHECK(mean_std({1, 2, 3, 4}, 1).std == Approx(std::sqrt(5.0 / 3.0)).epsilon(1e-12));  // divide by n - 1
  s = mean_std({1, std::nan(""), 3});
  CHECK(s.n == 2);
  CHECK(s.mean == Approx(2.0).epsilon(1e-12));
  CHECK(s.std == Approx(1.0).epsilon(1e-12));
  CHECK(std::isnan(mean_std({5}, 1).std));
  CHECK(std::isnan(mean_std({}).mean));

  RegressionMetrics a, b;
  a.mae = 0.7, b.mae = 0.9;
  a.acc2_has0 = 0.80, b.acc2_has0 = 0.84;
  const auto summary = summarize_runs({a, b});
  REQUIRE(summary.size() == 8);
  CHECK(summary[0].first == "mae");
  CHECK(summary[0].second.mean == Approx(0.8).epsilon(1e-12));
  CHECK(summary[0].second.std == Approx(0.1).epsilon(1e-12));
  CHECK(summary[4].first == "acc2_has0");
  CHECK(summary[4].second.mean == Approx(0.82).epsilon(1e-12));
  const std::string line = format_summary(summary);
  CHECK(line.find("mae 0.8000 +- 0.1000") != std::string::npos);
  CHECK(line.find("(n = 2)") != std::string::npos);
}
