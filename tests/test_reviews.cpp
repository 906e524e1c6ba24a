// The reviews corpus's tokenizer on the real corpus text (docs/reviews-corpus.md): our WordPiece
// (data/wordpiece.h) with bert-base-uncased's vocab.txt against an independent Python
// implementation (tests/reference/wordpiece_ref.py) on all 4,000 sentences, and the built
// corpus's files when they are there. SKIPPED lines when tools/text_sources.sh or
// tools/build_reviews.sh has not run.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "data/h5_dataset.h"
#include "data/reviews.h"
#include "data/wordpiece.h"

namespace fs = std::filesystem;
using namespace fg::data;

namespace {
std::vector<std::string> csv_texts(const std::string& path) {  // "label","text" rows as text_sources.sh writes them
  std::vector<std::string> out;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) {
    const auto q = line.find("\",\"");
    REQUIRE(q != std::string::npos);
    std::string t = line.substr(q + 3, line.size() - q - 4), u;
    for (std::size_t i = 0; i < t.size(); ++i) {
      u += t[i];
      if (t[i] == '"' && i + 1 < t.size() && t[i + 1] == '"') ++i;
    }
    out.push_back(u);
  }
  return out;
}
}  // namespace

TEST_CASE("WordPiece on the 4,000 review sentences agrees with an independent Python tokenizer") {
  const fs::path src(text_sources_dir());
  if (!fs::exists(src / "pang_lee_sentences.csv") || !fs::exists(src / "bert-base-uncased" / "vocab.txt")) {
    std::cout << "SKIPPED: reviews sources not built (" << src.string() << ": run tools/text_sources.sh)\n";
    return;
  }
  const auto texts = csv_texts((src / "pang_lee_sentences.csv").string());
  REQUIRE(texts.size() == 4000);
  const auto tok = WordPieceTokenizer::from_file((src / "bert-base-uncased" / "vocab.txt").string());
  const fs::path dir = fs::temp_directory_path() / fmt::format("fg_reviews_tok_{}", ::getpid());
  fs::create_directories(dir);
  {
    std::ofstream f(dir / "texts.txt");
    for (const auto& t : texts) f << t << '\n';
  }
  const std::string cmd = fmt::format("'{}' '{}/tests/reference/wordpiece_ref.py' '{}' '{}' '{}'", FG_PYTHON, FG_SOURCE_DIR,
                                      (src / "bert-base-uncased" / "vocab.txt").string(), (dir / "texts.txt").string(),
                                      (dir / "ref.txt").string());
  REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, "the Python reference failed: " << cmd);
  std::ifstream ref(dir / "ref.txt");
  std::string line;
  std::size_t i = 0, pieces = 0, unk = 0, continuations = 0;
  for (; std::getline(ref, line) && i < texts.size(); ++i) {
    std::string ours;
    for (const auto& p : tok.tokenize(texts[i])) {
      ours += (ours.empty() ? "" : " ") + p;
      ++pieces;
      unk += p == "[UNK]";
      continuations += p.rfind("##", 0) == 0;
    }
    INFO("sentence ", i, ": ", texts[i]);
    REQUIRE(ours == line);
  }
  CHECK(i == texts.size());
  fs::remove_all(dir);
  MESSAGE(fmt::format("{} sentences, {} word pieces ({} continuations, {} [UNK])", i, pieces, continuations, unk));
  CHECK(pieces > 80000);
  CHECK(continuations > 1000);  // the comparison exercises the ## pieces, not only whole words
}

TEST_CASE("the built reviews corpus: sizes, label grid, disjoint splits, token ids") {
  const std::string file = reviews_corpus_file(false), ufile = reviews_corpus_file(true);
  if (!fs::exists(file) || !fs::exists(ufile)) {
    std::cout << "SKIPPED: reviews corpus not built (" << file << ": run tools/build_reviews.sh)\n";
    return;
  }
  const auto h = read_h5_dataset(file), u = read_h5_dataset(ufile);
  std::set<std::string> ids;
  std::int64_t n = 0;
  for (const auto* s : {&h.data.train, &h.data.valid, &h.data.test}) {
    REQUIRE(s->aligned());
    for (const auto& id : s->ids) CHECK(ids.insert(id).second);  // one sentence, one split
    for (float l : s->labels.to_vector<float>()) {
      CHECK(std::fabs(l) <= 3.0f);
      CHECK(std::fabs(l * 3 - std::round(l * 3)) < 1e-4);
      CHECK(l != 0.0f);
    }
    for (const auto& f : s->features)
      for (float x : f.to_vector<float>()) REQUIRE(std::isfinite(x));
    n += s->size();
  }
  CHECK(n == static_cast<std::int64_t>(ids.size()));
  // The unaligned file: the same utterances, token ids of bert-base-uncased starting with [CLS].
  REQUIRE(u.data.train.size() == h.data.train.size());
  const auto& tb = u.data.train.features[u.data.train.modality_index("text_bert")];
  const auto v = tb.to_vector<float>();
  CHECK(v[0] == 101.0f);
}
