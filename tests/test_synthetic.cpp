// tests/test_synthetic.cpp: the synthetic multimodal sentiment generator (data/synthetic.h):
// shapes, padding, determinism, and each step of the documented generative process.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "data/h5_dataset.h"
#include "data/metrics.h"
#include "data/synthetic.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "support/data_fixtures.h"

using namespace fg;
using namespace fg::data;

namespace {

SyntheticConfig small_config(std::uint64_t seed = 7) {
  SyntheticConfig c;
  c.seed = seed;
  c.train_size = 64, c.valid_size = 16, c.test_size = 32;
  return c;
}

// Mean of feature j of modality m over the valid steps of utterance i.
double pooled(const MultimodalSplit& s, std::int64_t m, std::int64_t i, std::int64_t j) {
  const Tensor& f = s.features[m];
  const std::int64_t t_max = f.size(1), d = f.size(2);
  const std::int64_t len = s.lengths.to_vector<std::int64_t>()[i];
  const float* p = f.data<float>();
  double acc = 0;
  for (std::int64_t t = 0; t < len; ++t) acc += p[(i * t_max + t) * d + j];
  return acc / static_cast<double>(len);
}

// A tiny noise-free world: 2 factors, modality "a" sees factor 0 only, "b" factor 1 only.
SyntheticConfig clean_config() {
  SyntheticConfig c;
  c.seed = 3;
  c.train_size = 200, c.valid_size = 1, c.test_size = 1;
  c.factor_weights = {1.0, 1.0};
  c.expressiveness_std = 0.0;
  c.p_silent = 0.0, c.p_contradict = 0.0;
  c.modalities = {{"a", 3, {0}, 0, 1.0, 0.0, 0.0}, {"b", 2, {1}, 0, 1.0, 0.0, 0.0}};
  return c;
}

bool same_values(const Tensor& a, const Tensor& b) { return a.to_vector<double>() == b.to_vector<double>(); }

}  // namespace

TEST_CASE("synthetic: MOSI's shapes, dtypes, lengths and zero padding") {
  const SyntheticDataset ds = make_synthetic_dataset(small_config());
  const MultimodalSplit& tr = ds.data.train;
  CHECK(tr.name == "train");
  CHECK(tr.size() == 64);
  CHECK(ds.data.valid.size() == 16);
  CHECK(ds.data.test.size() == 32);
  CHECK(tr.modality_names == std::vector<std::string>{"text", "acoustic", "visual"});
  CHECK(tr.features[0].shape() == Shape{64, 50, 300});
  CHECK(tr.features[1].shape() == Shape{64, 50, 5});
  CHECK(tr.features[2].shape() == Shape{64, 50, 20});
  CHECK(tr.features[0].dtype() == DType::f32);
  CHECK(tr.lengths.dtype() == DType::i64);
  CHECK(tr.labels.shape() == Shape{64});
  CHECK(tr.mask.shape() == Shape{64, 50});

  const auto lens = tr.lengths.to_vector<std::int64_t>();
  const auto mask = tr.mask.to_vector<float>();
  bool lengths_vary = false;
  for (std::int64_t i = 0; i < 64; ++i) {
    CHECK(lens[i] >= 20);
    CHECK(lens[i] <= 50);
    lengths_vary |= lens[i] != lens[0];
    for (std::int64_t t = 0; t < 50; ++t) REQUIRE(mask[i * 50 + t] == (t < lens[i] ? 1.0f : 0.0f));
  }
  CHECK(lengths_vary);
  // padding is exactly zero, valid steps are not
  for (std::int64_t m = 0; m < 3; ++m) {
    const Tensor& f = tr.features[m];
    const std::int64_t d = f.size(2);
    const float* p = f.data<float>();
    for (std::int64_t i = 0; i < 64; ++i) {
      double pad = 0, valid = 0;
      for (std::int64_t t = 0; t < 50; ++t)
        for (std::int64_t j = 0; j < d; ++j) (t < lens[i] ? valid : pad) += std::fabs(p[(i * 50 + t) * d + j]);
      REQUIRE(pad == 0.0);
      REQUIRE(valid > 0.0);
    }
  }
}

TEST_CASE("synthetic: labels are annotator means in [-3, 3], multiples of 1/3, zero now and then") {
  SyntheticConfig c = small_config();
  c.train_size = 2000;
  const auto y = make_synthetic_dataset(c).data.train.labels.to_vector<double>();
  int zeros = 0, pos = 0, neg = 0;
  for (double v : y) {
    REQUIRE(v >= -3.0);
    REQUIRE(v <= 3.0);
    REQUIRE(std::fabs(v * 3 - std::round(v * 3)) < 1e-5);
    zeros += v == 0, pos += v > 0, neg += v < 0;
  }
  CHECK(zeros > 20);  // some exact zeros exercise the "non0" metrics
  CHECK(pos > 700);   // both signs well represented
  CHECK(neg > 700);
}

TEST_CASE("synthetic: without annotator noise the label is round(3 tanh(g s))") {
  SyntheticConfig c = small_config();
  c.annotator_noise = 0.0;
  const SyntheticDataset ds = make_synthetic_dataset(c);
  const auto y = ds.data.train.labels.to_vector<double>();
  const auto s = ds.train_truth.score.to_vector<double>();
  const auto z = ds.train_truth.latent.to_vector<double>();
  for (std::size_t i = 0; i < y.size(); ++i) {
    // s = w.z / |w| with the default weights
    double dot = 0, w2 = 0;
    for (std::size_t f = 0; f < c.factor_weights.size(); ++f)
      dot += c.factor_weights[f] * z[i * 6 + f], w2 += c.factor_weights[f] * c.factor_weights[f];
    REQUIRE(s[i] == doctest::Approx(dot / std::sqrt(w2)).epsilon(1e-5));
    REQUIRE(y[i] == round_half_even(3.0 * std::tanh(c.label_gain * s[i])));
  }
}

TEST_CASE("synthetic: the same seed gives the same data, and train_size leaves valid and test alone") {
  const SyntheticDataset a = make_synthetic_dataset(small_config(11));
  const SyntheticDataset b = make_synthetic_dataset(small_config(11));
  const SyntheticDataset other = make_synthetic_dataset(small_config(12));
  for (std::int64_t m = 0; m < 3; ++m) {
    CHECK(same_values(a.data.train.features[m], b.data.train.features[m]));
    CHECK_FALSE(same_values(a.data.train.features[m], other.data.train.features[m]));
  }
  CHECK(same_values(a.data.test.labels, b.data.test.labels));
  CHECK_FALSE(same_values(a.data.test.labels, other.data.test.labels));
  // train and test are different draws
  CHECK_FALSE(same_values(slice(a.data.train.labels, 0, 0, 16), slice(a.data.valid.labels, 0, 0, 16)));

  SyntheticConfig bigger = small_config(11);
  bigger.train_size = 100;
  const SyntheticDataset c = make_synthetic_dataset(bigger);
  CHECK(c.data.train.size() == 100);
  CHECK(same_values(c.data.valid.features[0], a.data.valid.features[0]));
  CHECK(same_values(c.data.test.features[2], a.data.test.features[2]));
  CHECK(same_values(c.data.test.lengths, a.data.test.lengths));
}

TEST_CASE("synthetic: feature sizes and lengths are configurable") {
  SyntheticConfig c = small_config();
  c.modalities = SyntheticConfig::default_modalities(16, 3, 7);
  c.min_steps = 4, c.max_steps = 6;
  const MultimodalSplit& s = make_synthetic_dataset(c).data.valid;
  CHECK(s.features[0].shape() == Shape{16, 6, 16});
  CHECK(s.features[1].shape() == Shape{16, 6, 3});
  CHECK(s.features[2].shape() == Shape{16, 6, 7});
  for (auto len : s.lengths.to_vector<std::int64_t>()) CHECK((len >= 4 && len <= 6));
}

TEST_CASE("synthetic: each modality expresses exactly its own factors (noise-free world)") {
  // With no noise, nuisance or expressiveness, x_{m,t} = h_t A_m z[S_m] and h has mean 1
  // over the valid steps, so the time-average of feature j is A_m[j] * z[factor]: the
  // ratio pooled / z must be the same constant for every utterance.
  const SyntheticDataset ds = make_synthetic_dataset(clean_config());
  const MultimodalSplit& s = ds.data.train;
  const auto z = ds.train_truth.latent.to_vector<double>();
  for (std::int64_t m = 0; m < 2; ++m) {
    for (std::int64_t j = 0; j < s.feature_dim(m); ++j) {
      const double ratio0 = pooled(s, m, 0, j) / z[0 * 2 + m];
      for (std::int64_t i = 1; i < s.size(); ++i)
        REQUIRE(pooled(s, m, i, j) / z[i * 2 + m] == doctest::Approx(ratio0).epsilon(1e-4));
    }
  }
  // and the expression profile is not flat in time: the bump moves the signal around
  const float* p = s.features[0].data<float>();
  CHECK(std::fabs(p[0] - p[5 * 3]) > 1e-4);
}

TEST_CASE("synthetic: silent and contradicting modalities") {
  SyntheticConfig c = clean_config();
  const SyntheticDataset base = make_synthetic_dataset(c);
  const auto z = base.train_truth.latent.to_vector<double>();

  c.p_silent = 1.0;  // every utterance: exactly one modality says nothing
  const SyntheticDataset silent = make_synthetic_dataset(c);
  const auto e = silent.train_truth.expression.to_vector<double>();
  int silent_count[2] = {0, 0};
  for (std::int64_t i = 0; i < silent.data.train.size(); ++i) {
    REQUIRE(e[i * 2] + e[i * 2 + 1] == 1.0);  // one 0 and one 1
    for (std::int64_t m = 0; m < 2; ++m) {
      const double v = pooled(silent.data.train, m, i, 0);
      if (e[i * 2 + m] == 0.0) {
        REQUIRE(v == 0.0);
        ++silent_count[m];
      } else {
        REQUIRE(v == doctest::Approx(pooled(base.data.train, m, i, 0)).epsilon(1e-4));
      }
    }
  }
  CHECK(silent_count[0] > 60);  // the silent modality is chosen uniformly (200 utterances)
  CHECK(silent_count[1] > 60);

  c.p_silent = 0.0, c.p_contradict = 1.0;  // one modality says the opposite
  const SyntheticDataset contra = make_synthetic_dataset(c);
  const auto e2 = contra.train_truth.expression.to_vector<double>();
  for (std::int64_t i = 0; i < contra.data.train.size(); ++i) {
    REQUIRE(e2[i * 2] * e2[i * 2 + 1] == -1.0);
    for (std::int64_t m = 0; m < 2; ++m)
      REQUIRE(pooled(contra.data.train, m, i, 0) ==
              doctest::Approx(e2[i * 2 + m] * pooled(base.data.train, m, i, 0)).epsilon(1e-4));
  }
  (void)z;
}

TEST_CASE("synthetic: the default mix has silent and contradicting shares near p_silent and p_contradict") {
  SyntheticConfig c = small_config();
  c.train_size = 3000;
  c.modalities = SyntheticConfig::default_modalities(4, 2, 3);  // small features: only the truth matters here
  const SyntheticDataset ds = make_synthetic_dataset(c);
  const auto e = ds.train_truth.expression.to_vector<double>();
  int silent = 0, contra = 0;
  for (std::int64_t i = 0; i < 3000; ++i) {
    int zeros = 0, negs = 0;
    for (std::int64_t m = 0; m < 3; ++m) zeros += e[i * 3 + m] == 0.0, negs += e[i * 3 + m] == -1.0;
    REQUIRE(zeros + negs <= 1);
    silent += zeros, contra += negs;
  }
  // 3000 draws: standard deviations about 20 and 16
  CHECK(silent == doctest::Approx(0.15 * 3000).epsilon(0.2));
  CHECK(contra == doctest::Approx(0.10 * 3000).epsilon(0.2));
}

TEST_CASE("synthetic: a bad config is a clear error naming the field") {
  SyntheticConfig c = small_config();
  c.min_steps = 30, c.max_steps = 20;
  CHECK_THROWS_WITH_AS(make_synthetic_dataset(c), doctest::Contains("min_steps"), fg::Error);
  c = small_config();
  c.modalities[1].factors = {1, 9};
  CHECK_THROWS_WITH_AS(make_synthetic_dataset(c), doctest::Contains("modality 'acoustic': factor 9"), fg::Error);
  c = small_config();
  c.p_silent = 0.7, c.p_contradict = 0.5;
  CHECK_THROWS_WITH_AS(make_synthetic_dataset(c), doctest::Contains("p_silent + p_contradict <= 1"), fg::Error);
  c = small_config();
  c.modalities[2].dim = 0;
  CHECK_THROWS_WITH_AS(make_synthetic_dataset(c), doctest::Contains("modality 'visual': dim must be >= 1"), fg::Error);
  c = small_config();
  c.train_size = -1;
  CHECK_THROWS_WITH_AS(make_synthetic_dataset(c), doctest::Contains("train_size"), fg::Error);
}

// ---------------------------------------------------------------- variants

TEST_CASE("synthetic: unaligned modalities get their own time grids and lengths") {
  SyntheticConfig c = small_config();
  c.aligned = false;
  c.min_steps = 4, c.max_steps = 9;
  c.modalities[1].steps_per_word = 2.5;  // acoustic
  c.modalities[2].steps_per_word = 0.5;  // visual
  const SyntheticDataset d = make_synthetic_dataset(c);
  const MultimodalSplit& s = d.data.train;
  REQUIRE(!s.aligned());
  CHECK(!s.lengths.defined());
  CHECK(s.features[0].shape() == Shape{64, 9, 300});
  CHECK(s.features[1].shape() == Shape{64, 23, 5});  // ceil(9 * 2.5)
  CHECK(s.features[2].shape() == Shape{64, 5, 20});  // ceil(9 * 0.5)
  const auto words = s.modality_lengths[0].to_vector<std::int64_t>();
  const auto frames = s.modality_lengths[1].to_vector<std::int64_t>();
  const auto visual = s.modality_lengths[2].to_vector<std::int64_t>();
  for (std::int64_t i = 0; i < 64; ++i) {
    CHECK((words[i] >= 4 && words[i] <= 9));
    CHECK(frames[i] == std::llround(2.5 * static_cast<double>(words[i])));
    CHECK(visual[i] == std::max<std::int64_t>(1, std::llround(0.5 * static_cast<double>(words[i]))));
  }
  // zero after each modality's own length, non-zero before
  for (std::int64_t m = 0; m < 3; ++m) {
    const Tensor& f = s.features[m];
    const auto lens = s.modality_lengths[m].to_vector<std::int64_t>();
    const auto v = f.to_vector<float>();
    const std::int64_t t_max = f.size(1), dim = f.size(2);
    for (std::int64_t i = 0; i < 64; ++i)
      for (std::int64_t t = 0; t < t_max; ++t) {
        const bool valid = t < lens[i];
        const float x = v[(i * t_max + t) * dim];
        if (valid) CHECK(x != 0.0f);
        else CHECK(x == 0.0f);
      }
  }
  // labels and latent state do not depend on the grids
  SyntheticConfig a = small_config();
  const SyntheticDataset base = make_synthetic_dataset(a);
  CHECK(same_values(d.data.train.labels, base.data.train.labels));
  CHECK(same_values(d.train_truth.latent, base.train_truth.latent));
}

TEST_CASE("synthetic: missing modalities are zeros marked in `present`, the rest unchanged") {
  SyntheticConfig c = small_config();
  c.train_size = 600;
  c.modalities = SyntheticConfig::default_modalities(8, 3, 4);
  c.min_steps = 3, c.max_steps = 6;
  const SyntheticDataset full = make_synthetic_dataset(c);
  CHECK(!full.data.train.present.defined());
  c.p_missing = 0.3;
  const SyntheticDataset d = make_synthetic_dataset(c);
  const MultimodalSplit& s = d.data.train;
  REQUIRE(s.present.shape() == Shape{600, 3});
  const auto p = s.present.to_vector<float>();
  std::int64_t missing = 0;
  for (std::int64_t i = 0; i < 600; ++i) {
    std::int64_t here = 0;
    for (std::int64_t m = 0; m < 3; ++m) here += p[i * 3 + m] == 1.0f;
    CHECK(here >= 1);  // never all three
    missing += 3 - here;
  }
  // P(missing) = 0.3, minus the rows where all three were drawn (0.027, one kept): 0.291
  CHECK(static_cast<double>(missing) / 1800.0 == doctest::Approx(0.291).epsilon(0.15));
  for (std::int64_t m = 0; m < 3; ++m) {
    const auto x = s.features[m].to_vector<float>();
    const auto x0 = full.data.train.features[m].to_vector<float>();
    const std::int64_t row = s.features[m].size(1) * s.features[m].size(2);
    for (std::int64_t i = 0; i < 600; ++i) {
      bool ok = true;
      for (std::int64_t j = 0; j < row; ++j) {
        const float want = p[i * 3 + m] == 1.0f ? x0[i * row + j] : 0.0f;
        ok = ok && x[i * row + j] == want;
      }
      CHECK(ok);
    }
  }
  CHECK(same_values(s.labels, full.data.train.labels));
  CHECK(same_values(s.lengths, full.data.train.lengths));

  // unaligned: a missing modality also has length 0
  c.aligned = false;
  const MultimodalSplit& u = make_synthetic_dataset(c).data.train;
  const auto up = u.present.to_vector<float>();
  for (std::int64_t m = 0; m < 3; ++m) {
    const auto lens = u.modality_lengths[m].to_vector<std::int64_t>();
    for (std::int64_t i = 0; i < 600; ++i) CHECK((lens[i] == 0) == (up[i * 3 + m] == 0.0f));
  }
}

TEST_CASE("synthetic: the 3-class variant bins the sentiment label") {
  SyntheticConfig c = small_config();
  const SyntheticDataset base = make_synthetic_dataset(c);
  c.task = SyntheticTask::three_class;
  const MultimodalSplit& s = make_synthetic_dataset(c).data.train;
  CHECK(s.label_kind == LabelKind::class_index);
  CHECK(s.label_names == std::vector<std::string>{"negative", "neutral", "positive"});
  const auto y = base.data.train.labels.to_vector<float>();
  const auto cls = s.labels.to_vector<float>();
  std::int64_t counts[3] = {0, 0, 0};
  for (std::size_t i = 0; i < y.size(); ++i) {
    const float want = y[i] <= -0.5f ? 0.0f : (y[i] >= 0.5f ? 2.0f : 1.0f);
    CHECK(cls[i] == want);
    ++counts[static_cast<int>(cls[i])];
  }
  for (std::int64_t k : counts) CHECK(k > 0);
}

TEST_CASE("synthetic: the emotion variant is 6 multi-labels from the latent state") {
  SyntheticConfig c = small_config();
  c.train_size = 2000;
  c.modalities = SyntheticConfig::default_modalities(8, 3, 4);  // small: only the labels matter here
  c.min_steps = 2, c.max_steps = 4;
  c.task = SyntheticTask::emotions;
  const SyntheticDataset d = make_synthetic_dataset(c);
  const MultimodalSplit& s = d.data.train;
  CHECK(s.label_kind == LabelKind::multi_label);
  CHECK(s.label_names == std::vector<std::string>{"happy", "sad", "angry", "neutral", "excited", "frustrated"});
  REQUIRE(s.labels.shape() == Shape{2000, 6});
  const auto y = s.labels.to_vector<float>();
  for (std::int64_t e = 0; e < 6; ++e) {
    double on = 0;
    for (std::int64_t i = 0; i < 2000; ++i) on += y[i * 6 + e];
    // P(N(0, 1 + 0.5^2) > 0.8) = 0.238
    CHECK(on / 2000.0 == doctest::Approx(0.238).epsilon(0.25));
  }
  // noise-free: exactly the thresholded target scores
  c.emotion_noise = 0.0;
  const SyntheticDataset clean = make_synthetic_dataset(c);
  const auto t = clean.train_truth.target_scores.to_vector<float>();
  const auto yc = clean.data.train.labels.to_vector<float>();
  for (std::size_t j = 0; j < t.size(); ++j) CHECK(yc[j] == (t[j] > 0.8f ? 1.0f : 0.0f));
}

TEST_CASE("synthetic: the trait variant is 16 annotator-mean scores on 1..7") {
  SyntheticConfig c = small_config();
  c.task = SyntheticTask::traits;
  const SyntheticDataset d = make_synthetic_dataset(c);
  const MultimodalSplit& s = d.data.train;
  CHECK(s.label_kind == LabelKind::multi_regression);
  REQUIRE(s.label_names.size() == 16);
  CHECK(s.label_names.front() == "confident");
  CHECK(s.labels.shape() == Shape{64, 16});
  for (float v : s.labels.to_vector<float>()) {
    CHECK((v >= 1.0f && v <= 7.0f));
    CHECK(std::fabs(v * 3.0f - std::round(v * 3.0f)) < 1e-4f);  // a mean of 3 integers
  }
  c.annotator_noise = 0.0;
  const SyntheticDataset clean = make_synthetic_dataset(c);
  const auto t = clean.train_truth.target_scores.to_vector<float>();
  const auto y = clean.data.train.labels.to_vector<float>();
  for (std::size_t j = 0; j < t.size(); ++j)
    CHECK(y[j] == std::clamp(round_half_even(4.0 + 3.0 * std::tanh(0.6 * static_cast<double>(t[j]))), 1.0, 7.0));
}

TEST_CASE("synthetic: presets of MOSI, MOSEI, IEMOCAP and POM") {
  const SyntheticConfig mosi = SyntheticConfig::preset("mosi");
  CHECK(mosi.train_size == 1284);
  CHECK(mosi.modalities[1].dim == 5);
  const SyntheticConfig mosei = SyntheticConfig::preset("mosei");
  CHECK(mosei.train_size + mosei.valid_size + mosei.test_size == 16326 + 1871 + 4659);
  CHECK(mosei.modalities[1].dim == 74);
  CHECK(mosei.modalities[2].dim == 35);
  SyntheticConfig iemocap = SyntheticConfig::preset("iemocap");
  CHECK(iemocap.task == SyntheticTask::emotions);
  CHECK(iemocap.valid_size == 798);
  SyntheticConfig pom = SyntheticConfig::preset("pom");
  CHECK(pom.task == SyntheticTask::traits);
  pom.train_size = 8, pom.valid_size = 2, pom.test_size = 2;
  const MultimodalSplit& s = make_synthetic_dataset(pom).data.train;
  CHECK(s.labels.shape() == Shape{8, 16});
  CHECK(s.features[2].shape() == Shape{8, 50, 35});
  CHECK_THROWS_WITH_AS(SyntheticConfig::preset("mosii"),
                       doctest::Contains("synthetic preset 'mosii' is unknown (known: mosi, mosei, iemocap, pom)"),
                       fg::Error);
}

TEST_CASE("synthetic: bad variant settings are clear errors") {
  SyntheticConfig c = small_config();
  c.p_missing = 1.0;
  CHECK_THROWS_WITH_AS(make_synthetic_dataset(c), doctest::Contains("p_missing must be in [0, 1), got 1"), fg::Error);
  c = small_config();
  c.aligned = false;
  c.modalities[2].steps_per_word = 0;
  CHECK_THROWS_WITH_AS(make_synthetic_dataset(c),
                       doctest::Contains("modality 'visual': steps_per_word must be > 0 for an unaligned dataset"),
                       fg::Error);
}

TEST_CASE("synthetic: every variant round-trips through the HDF5 dataset format") {
  fg::testing::ScratchDir dir("synthetic");
  for (SyntheticTask task : {SyntheticTask::sentiment, SyntheticTask::three_class, SyntheticTask::emotions,
                             SyntheticTask::traits}) {
    SyntheticConfig c = small_config();
    c.train_size = 12, c.valid_size = 3, c.test_size = 4;
    c.modalities = SyntheticConfig::default_modalities(6, 2, 3);
    c.task = task;
    c.aligned = task == SyntheticTask::sentiment || task == SyntheticTask::traits;
    c.p_missing = task == SyntheticTask::traits ? 0.0 : 0.4;
    const SyntheticDataset d = make_synthetic_dataset(c);
    const std::string path = dir.file("synthetic.h5");
    write_h5_dataset(path, d.data, {.compression_level = 1, .source = "test"});
    const H5Dataset back = read_h5_dataset(path);
    CHECK(back.report.empty());
    const MultimodalSplit& a = d.data.test;
    const MultimodalSplit& b = back.data.test;
    CHECK(b.label_kind == a.label_kind);
    CHECK(b.label_names == a.label_names);
    CHECK(same_values(b.labels, a.labels));
    CHECK(b.aligned() == c.aligned);
    CHECK(b.present.defined() == (c.p_missing > 0));
    for (std::size_t m = 0; m < 3; ++m) {
      CHECK(same_values(b.features[m], a.features[m]));
      CHECK(same_values(b.lengths_of(static_cast<std::int64_t>(m)), a.lengths_of(static_cast<std::int64_t>(m))));
    }
  }
}
