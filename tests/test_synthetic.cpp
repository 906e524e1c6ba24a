// tests/test_synthetic.cpp: the synthetic multimodal sentiment generator (data/synthetic.h):
// shapes, padding, determinism, and each step of the documented generative process.
#include <doctest/doctest.h>

#include <cmath>

#include "data/metrics.h"
#include "data/synthetic.h"
#include "engine/error.h"
#include "engine/ops.h"

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
