// The reviews corpus builder end to end on a handful of sentences (docs/reviews-corpus.md):
// espeak-ng's word spans inside the utterance, finite features, labels on the grid with the real
// polarity's sign, splits disjoint by sentence, the raw text one word per step, and clear errors
// for missing sources. Needs espeak-ng's data (installed with libespeak-ng-dev); the fastText part
// prints "SKIPPED: fasttext not installed" without Debian's fasttext.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "data/h5_dataset.h"
#include "data/reviews_build.h"
#include "engine/error.h"

namespace fs = std::filesystem;
using namespace fg::data;
namespace rv = fg::data::reviews;

namespace {
const std::vector<std::pair<int, std::string>> kSentences = {
    {1, "the rock is destined to be the 21st century's new \"\" conan \"\" and that he's going to make a splash ."},
    {1, "a gorgeous , witty , seductive movie ."},
    {1, "one of the best films of 1999 , and a good one ."},
    {-1, "simplistic , silly and tedious ."},
    {-1, "it's so laddish and juvenile , only teenage boys could possibly find it funny ."},
    {-1, "the story is bad , the acting worse ."}};

fs::path make_sources(const fs::path& dir) {
  fs::create_directories(dir / "bert-base-uncased");
  {
    std::ofstream f(dir / "pang_lee_sentences.csv");
    for (const auto& [p, t] : kSentences) f << '"' << p << "\",\"" << t << "\"\n";
  }
  {
    std::ofstream f(dir / "vader_lexicon.txt");
    f << "gorgeous\t3.0\t0.6\t[3]\nwitty\t2.1\t0.5\t[2]\nbest\t3.2\t0.6\t[3]\ngood\t1.9\t0.9\t[2]\n"
         "silly\t-0.1\t1.0\t[0]\ntedious\t-1.6\t0.5\t[-2]\nbad\t-2.5\t0.5\t[-3]\nworse\t-2.1\t0.5\t[-2]\nfunny\t1.9\t0.5\t[2]\n";
  }
  {
    std::ofstream f(dir / "bert-base-uncased" / "vocab.txt");
    f << "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nrock\nis\n##s\n'\n,\n.\ngood\nbad\n";
  }
  return dir;
}
}  // namespace

TEST_CASE("espeak-ng's word events give spans inside the utterance, in order, one per spoken word") {
  rv::Voice v;
  v.name = "en-us+m3";
  const auto sp = rv::speak("the rock is destined to be the 21st century's new \" conan \" , and 1999 .", v);
  REQUIRE(sp.sample_rate == 22050);
  REQUIRE(!sp.samples.empty());
  std::vector<std::string> words;
  std::int64_t prev = 0;
  for (const auto& w : sp.words) {
    CHECK(w.begin >= prev);
    CHECK(w.end > w.begin);
    CHECK(w.end <= static_cast<std::int64_t>(sp.samples.size()));
    prev = w.end;
    words.push_back(w.word);
  }
  INFO("words: ", fmt::format("{}", fmt::join(words, "|")));
  // Punctuation and quotes are not spoken; "21st" and "1999" are one word each despite several events;
  // "to be" is one event, split between the two words.
  CHECK(words == std::vector<std::string>{"the", "rock", "is", "destined", "to", "be", "the", "21st", "century's", "new",
                                          "conan", "and", "1999"});
  const auto a = rv::acoustic_features(sp);
  REQUIRE(a.words.size() == words.size() * rv::kWordFeatureNames.size());
  for (float x : a.words) REQUIRE(std::isfinite(x));
  for (float x : a.frames) REQUIRE(std::isfinite(x));
  // espeak-ng's voiced speech: most words have a pitch in the voice's range.
  std::int64_t voiced = 0;
  for (std::size_t k = 0; k < words.size(); ++k) {
    const float f0 = a.words[k * rv::kWordFeatureNames.size() + 1];
    if (f0 > 60 && f0 < 300) ++voiced;
  }
  CHECK(voiced >= static_cast<std::int64_t>(words.size()) - 2);
}

TEST_CASE("the builder end to end on six sentences") {
  const fs::path root = fs::temp_directory_path() / fmt::format("fg_reviews_build_{}", ::getpid());
  fs::remove_all(root);
  rv::BuildConfig cfg;
  cfg.sources = make_sources(root / "src").string();
  cfg.out_dir = (root / "out").string();
  cfg.jobs = 2;
  cfg.quiet = true;
  cfg.text_dim = 8;
  const bool have_fasttext = std::system("command -v fasttext >/dev/null 2>&1") == 0;
  if (have_fasttext) {
    {
      std::ofstream f(root / "train.txt");
      for (int r = 0; r < 20; ++r)
        for (const auto& [p, t] : kSentences) f << t << '\n';
    }
    const std::string cmd = fmt::format("fasttext skipgram -dim 8 -epoch 1 -minCount 1 -maxn 0 -thread 1 -verbose 0 "
                                        "-input '{}' -output '{}' >/dev/null 2>&1",
                                        (root / "train.txt").string(), (root / "ft").string());
    REQUIRE(std::system(cmd.c_str()) == 0);
    cfg.fasttext_model = (root / "ft.bin").string();
  } else {
    MESSAGE("SKIPPED: fasttext not installed (the text vectors are zeros in this run)");
  }
  const auto st = rv::build_corpus(cfg);
  CHECK(st.utterances == 6);
  const auto h = read_h5_dataset((root / "out" / "reviews.h5").string());
  const auto u = read_h5_dataset((root / "out" / "reviews_unaligned.h5").string());
  std::set<std::string> ids;
  for (const auto* s : {&h.data.train, &h.data.valid, &h.data.test}) {
    REQUIRE(s->aligned());
    const auto lab = s->labels.to_vector<float>();
    const auto len = s->lengths.to_vector<std::int64_t>();
    for (std::int64_t r = 0; r < s->size(); ++r) {
      CHECK(ids.insert(s->ids[r]).second);
      const int row = std::stoi(s->ids[r].substr(2));
      const int polarity = kSentences[row].first;
      CHECK(lab[r] * polarity > 0);  // the sign is the real polarity
      CHECK(std::fabs(lab[r]) <= 3.0f);
      CHECK(std::fabs(lab[r] * 3 - std::round(lab[r] * 3)) < 1e-5);  // three annotators: multiples of 1/3
      std::istringstream words(s->raw_text[r]);
      std::int64_t nw = 0;
      for (std::string w; words >> w;) ++nw;
      CHECK(nw == len[r]);  // one word per step
    }
    for (const auto& f : s->features)
      for (float x : f.to_vector<float>()) REQUIRE(std::isfinite(x));
    // a word's duration (acoustic feature 0) is positive on valid steps
    const auto ac = s->features[1].to_vector<float>();
    const std::int64_t T = s->max_steps(), D = s->feature_dim(1);
    for (std::int64_t r = 0; r < s->size(); ++r)
      for (std::int64_t t = 0; t < len[r]; ++t) CHECK(ac[(r * T + t) * D] > 0.0f);
    if (have_fasttext && s->size() > 0) {
      const auto tx = s->features[0].to_vector<float>();
      double norm = 0;
      for (std::int64_t d = 0; d < 8; ++d) norm += tx[d] * tx[d];
      CHECK(norm > 0);
    }
  }
  CHECK(ids.size() == 6);  // every sentence in exactly one split
  CHECK(h.data.train.size() + h.data.valid.size() + h.data.test.size() == 6);
  REQUIRE(!u.data.train.aligned());
  const auto& tb = u.data.train;
  const auto bert = tb.features[tb.modality_index("text_bert")].to_vector<float>();
  CHECK(bert[0] == 2.0f);  // [CLS] of the test vocabulary
  fs::remove_all(root);
}

TEST_CASE("missing sources are named in the error") {
  const fs::path root = fs::temp_directory_path() / fmt::format("fg_reviews_missing_{}", ::getpid());
  rv::BuildConfig cfg;
  cfg.sources = (root / "nothing").string();
  cfg.out_dir = (root / "out").string();
  cfg.quiet = true;
  CHECK_THROWS_WITH_AS(rv::build_corpus(cfg), doctest::Contains("pang_lee_sentences.csv"), fg::Error);
  CHECK_THROWS_WITH_AS(rv::build_corpus(cfg), doctest::Contains("tools/text_sources.sh"), fg::Error);
  make_sources(root / "src");
  fs::remove(root / "src" / "vader_lexicon.txt");
  cfg.sources = (root / "src").string();
  CHECK_THROWS_WITH_AS(rv::build_corpus(cfg), doctest::Contains("vader_lexicon.txt"), fg::Error);
  fs::remove_all(root);
}
