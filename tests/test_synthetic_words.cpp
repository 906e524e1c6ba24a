// tests/test_synthetic_words.cpp: the synthetic corpus's opt-in WORDS variant (data/synthetic.h,
// docs/data-format.md section 4): the default dataset stays bit for bit what it was, the
// variant changes only the text modality, tokens align with steps, and the vocabulary has the
// documented Zipf prior and fixed vectors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <sstream>

#include "data/synthetic.h"
#include "engine/ops.h"

using namespace fg;
using namespace fg::data;

namespace {

SyntheticConfig small_config(std::int64_t vocab = 0) {
  SyntheticConfig c;
  c.seed = 7;
  c.train_size = 64, c.valid_size = 16, c.test_size = 32;
  c.words_vocab = vocab;
  return c;
}

// FNV-1a over the bit patterns of every feature, label and length of a dataset.
std::uint64_t checksum(const MultimodalDataset& d) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  auto eat = [&](const void* p, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 0x100000001b3ull;
  };
  for (const MultimodalSplit* s : {&d.train, &d.valid, &d.test}) {
    for (const Tensor& f : s->features) eat(f.data<float>(), static_cast<std::size_t>(f.numel()) * sizeof(float));
    eat(s->labels.data<float>(), static_cast<std::size_t>(s->labels.numel()) * sizeof(float));
    eat(s->lengths.data<std::int64_t>(), static_cast<std::size_t>(s->lengths.numel()) * sizeof(std::int64_t));
  }
  return h;
}

bool same(const Tensor& a, const Tensor& b) { return a.to_vector<double>() == b.to_vector<double>(); }

std::vector<std::string> tokens(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

}  // namespace

TEST_CASE("synthetic words: the default dataset is bit for bit the one before the variant existed") {
  // The checksum of small_config() computed with the generator as it was before the words
  // variant was added (commit 2925a48); the default (words_vocab = 0) must never change it.
  const SyntheticDataset ds = make_synthetic_dataset(small_config());
  CHECK(checksum(ds.data) == 0xc002c29e2b4d2d29ull);
  CHECK(ds.vocabulary.empty());
  CHECK(!ds.word_vectors.defined());
  CHECK(ds.data.train.raw_text.empty());
  CHECK(!ds.train_truth.word_ids.defined());
}

TEST_CASE("synthetic words: only the text modality changes; labels, lengths, acoustic and visual are the same") {
  const SyntheticDataset base = make_synthetic_dataset(small_config());
  const SyntheticDataset words = make_synthetic_dataset(small_config(300));
  for (auto [a, b] : {std::pair{&base.data.train, &words.data.train}, {&base.data.valid, &words.data.valid},
                      {&base.data.test, &words.data.test}}) {
    CHECK(same(a->labels, b->labels));
    CHECK(same(a->lengths, b->lengths));
    CHECK(same(a->features[1], b->features[1]));
    CHECK(same(a->features[2], b->features[2]));
    CHECK(!same(a->features[0], b->features[0]));
    CHECK(b->raw_text.size() == static_cast<std::size_t>(b->size()));
  }
  // and it is deterministic
  CHECK(checksum(words.data) == checksum(make_synthetic_dataset(small_config(300)).data));
}

TEST_CASE("synthetic words: tokens align with steps, each step is its word's vector, padding is zero") {
  const SyntheticDataset ds = make_synthetic_dataset(small_config(2000));
  REQUIRE(ds.vocabulary.size() == 2000);
  CHECK(ds.vocabulary.front() == "w0001");
  CHECK(ds.vocabulary.back() == "w2000");
  CHECK(word_name(41, 100000) == "w000042");
  REQUIRE(ds.word_vectors.shape() == Shape{2000, 300});
  const auto vec = ds.word_vectors.to_vector<float>();
  for (const auto& [split, truth] : {std::pair{&ds.data.train, &ds.train_truth}, {&ds.data.test, &ds.test_truth}}) {
    const std::int64_t n = split->size(), t_max = split->max_steps(), d = 300;
    const auto lens = split->lengths.to_vector<std::int64_t>();
    const auto ids = truth->word_ids.to_vector<std::int64_t>();
    const float* x = split->features[0].data<float>();
    REQUIRE(truth->word_ids.shape() == Shape{n, t_max});
    for (std::int64_t i = 0; i < n; ++i) {
      const auto tok = tokens(split->raw_text[i]);
      REQUIRE(static_cast<std::int64_t>(tok.size()) == lens[i]);
      for (std::int64_t t = 0; t < t_max; ++t) {
        const std::int64_t w = ids[i * t_max + t];
        const float* row = x + (i * t_max + t) * d;
        if (t >= lens[i]) {
          REQUIRE(w == -1);
          REQUIRE(std::all_of(row, row + d, [](float v) { return v == 0.0f; }));
          continue;
        }
        REQUIRE(w >= 0);
        REQUIRE(tok[t] == ds.vocabulary[w]);
        REQUIRE(std::memcmp(row, vec.data() + w * d, d * sizeof(float)) == 0);
      }
    }
  }
}

TEST_CASE("synthetic words: the Zipf prior, and word choice follows it without tilt and the signal with it") {
  SyntheticConfig c = small_config(2000);
  c.train_size = 400;
  const SyntheticDataset tilted = make_synthetic_dataset(c);
  double prior_sum = 0;
  for (double p : tilted.word_prior) prior_sum += p;
  CHECK(prior_sum == doctest::Approx(1.0).epsilon(1e-12));
  CHECK(tilted.word_prior[0] == doctest::Approx(tilted.word_prior[1] * 2.0));  // 1/w, exponent 1
  auto frequencies = [](const SyntheticDataset& ds) {
    std::vector<double> f(2000, 0.0);
    double n = 0;
    for (std::int64_t w : ds.train_truth.word_ids.to_vector<std::int64_t>())
      if (w >= 0) f[static_cast<std::size_t>(w)] += 1, n += 1;
    for (double& v : f) v /= n;
    return f;
  };
  // word_beta = 0: plain Zipf draws; the most frequent types match their prior closely
  c.word_beta = 0.0;
  const auto flat = frequencies(make_synthetic_dataset(c));
  for (int w = 0; w < 3; ++w) CHECK(flat[w] == doctest::Approx(tilted.word_prior[w]).epsilon(0.1));
  // with the tilt, frequencies still fall with rank on average (first 20 types vs types 200-220)
  const auto f = frequencies(tilted);
  double head = 0, tail = 0;
  for (int w = 0; w < 20; ++w) head += f[w], tail += f[200 + w];
  CHECK(head > 5 * tail);
  // and the words carry the sentiment: the mean word vector of an utterance, projected on the
  // direction (mean over positive utterances - mean over negative ones) of the TRAIN split,
  // correlates with the test labels
  auto mean_vectors = [](const MultimodalSplit& s) {
    const std::int64_t n = s.size(), t_max = s.max_steps();
    const auto lens = s.lengths.to_vector<std::int64_t>();
    const float* x = s.features[0].data<float>();
    std::vector<double> out(static_cast<std::size_t>(n * 300), 0.0);
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t t = 0; t < lens[i]; ++t)
        for (int j = 0; j < 300; ++j) out[i * 300 + j] += x[(i * t_max + t) * 300 + j] / static_cast<double>(lens[i]);
    return out;
  };
  const auto tr = mean_vectors(tilted.data.train);
  const auto ytr = tilted.data.train.labels.to_vector<float>();
  std::vector<double> dir(300, 0.0);
  for (std::size_t i = 0; i < ytr.size(); ++i)
    for (int j = 0; j < 300; ++j) dir[j] += (ytr[i] > 0 ? 1.0 : -1.0) * tr[i * 300 + j];
  const auto te = mean_vectors(tilted.data.test);
  const auto yte = tilted.data.test.labels.to_vector<float>();
  std::vector<double> proj;
  for (std::size_t i = 0; i < yte.size(); ++i) {
    double p = 0;
    for (int j = 0; j < 300; ++j) p += dir[j] * te[i * 300 + j];
    proj.push_back(p);
  }
  double my = 0, mp = 0;
  for (std::size_t i = 0; i < yte.size(); ++i) my += yte[i], mp += proj[i];
  my /= static_cast<double>(yte.size()), mp /= static_cast<double>(yte.size());
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < yte.size(); ++i)
    sxy += (yte[i] - my) * (proj[i] - mp), sxx += (proj[i] - mp) * (proj[i] - mp), syy += (yte[i] - my) * (yte[i] - my);
  const double r = sxy / std::sqrt(sxx * syy);
  INFO("test correlation of the projected mean word vector with the label: " << r);
  CHECK(r > 0.3);
}

TEST_CASE("synthetic words: a missing text modality has no words; bad settings are clear errors") {
  SyntheticConfig c = small_config(100);
  c.p_missing = 0.4;
  const SyntheticDataset ds = make_synthetic_dataset(c);
  const auto present = ds.data.train.present.to_vector<float>();
  for (std::int64_t i = 0; i < ds.data.train.size(); ++i)
    CHECK((present[i * 3] == 0.0f) == ds.data.train.raw_text[i].empty());
  SyntheticConfig bad = small_config(-1);
  CHECK_THROWS_WITH_AS(make_synthetic_dataset(bad), doctest::Contains("words_vocab"), fg::Error);
  bad = small_config(10);
  bad.modalities[0].name = "words";
  CHECK_THROWS_WITH_AS(make_synthetic_dataset(bad), doctest::Contains("'text'"), fg::Error);
  bad = small_config(10);
  bad.word_vector_std = 0;
  CHECK_THROWS_WITH_AS(make_synthetic_dataset(bad), doctest::Contains("word_vector_std"), fg::Error);
}
