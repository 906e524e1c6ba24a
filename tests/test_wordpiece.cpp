// tests/test_wordpiece.cpp: BERT's tokenizer (data/wordpiece.h) on tricky strings, with a
// tiny vocab.txt written by the test. Every expected token list is derived by hand from
// Hugging Face's documented algorithm (BasicTokenizer: clean, CJK spacing, whitespace split,
// lower + NFD accent stripping, punctuation split; then greedy longest-match-first WordPiece
// with "##" continuations, the whole word [UNK] when any position fails, [UNK] past 100
// code points). No network, no Python.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/wordpiece.h"

using namespace fg;
using namespace fg::data;
using Tokens = std::vector<std::string>;
using Ids = std::vector<std::int64_t>;

namespace {

const std::vector<std::string> kVocab = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",              // 0-4
    "the", "quick", "brown", "fox", "un",                       // 5-9
    "##aff", "##able", "hello", ",", "!",                       // 10-14
    ".", "cafe", "naive", "resume", "a",                        // 15-19
    "##b", "##a", "中", "国", "?",                              // 20-24
    "'", "don", "t", "$", "5",                                  // 25-29
    "skoda", "łodz", "αθηνα", "и", "i",                         // 30-34
    "—", "¿", "hel", "##lo", "##s",                             // 35-39
};

// A folder of this process (ctest runs test cases in parallel processes), removed at exit.
struct ScratchDir {
  std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("fg_wordpiece_" + std::to_string(::getpid()));
  ScratchDir() { std::filesystem::create_directories(path); }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// Writes the tokens (optionally with CRLF line ends) to a file and returns its path.
std::string write_vocab(const std::string& name, const std::vector<std::string>& tokens, bool crlf = false) {
  static const ScratchDir dir;
  const std::string path = (dir.path / name).string();
  std::ofstream out(path, std::ios::binary);
  for (const auto& t : tokens) out << t << (crlf ? "\r\n" : "\n");
  return path;
}

const WordPieceTokenizer& uncased() {
  static const WordPieceTokenizer tok = WordPieceTokenizer::from_file(write_vocab("vocab.txt", kVocab));
  return tok;
}

template <class F>
void check_throws_with(F&& f, const std::string& needle) {
  try {
    f();
    FAIL("no error (expected one containing '" << needle << "')");
  } catch (const std::exception& e) {
    INFO(e.what());
    CHECK(std::string(e.what()).find(needle) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("wordpiece: vocab.txt loading, ids both ways") {
  const auto& tok = uncased();
  CHECK(tok.vocab_size() == static_cast<std::int64_t>(kVocab.size()));
  CHECK(tok.token_to_id("[CLS]") == 2);
  CHECK(tok.token_to_id("##able") == 11);
  CHECK(tok.token_to_id("no-such-token") == 1);  // [UNK]
  CHECK(tok.id_to_token(22) == "中");
  check_throws_with([&] { tok.id_to_token(40); }, "token id 40 is outside [0, 40)");
  // CRLF line ends are dropped
  const auto crlf = WordPieceTokenizer::from_file(write_vocab("vocab_crlf.txt", kVocab, true));
  CHECK(crlf.tokenize("the fox") == Tokens{"the", "fox"});
  CHECK(crlf.token_to_id("fox") == 8);
}

TEST_CASE("wordpiece: greedy longest-match-first with ## continuations") {
  const auto& tok = uncased();
  CHECK(tok.tokenize("unaffable") == Tokens{"un", "##aff", "##able"});
  CHECK(tok.tokenize("The quick brown fox") == Tokens{"the", "quick", "brown", "fox"});
  // "hello" is in the vocabulary whole, so the longest match wins over hel + ##lo
  CHECK(tok.tokenize("hello") == Tokens{"hello"});
  CHECK(tok.tokenize("hellos") == Tokens{"hello", "##s"});
  // no piece fits at some position: the whole word is [UNK], not "a ##b [UNK]"
  CHECK(tok.tokenize("abx") == Tokens{"[UNK]"});
  CHECK(tok.tokenize("ab") == Tokens{"a", "##b"});
  // unknown words
  CHECK(tok.tokenize("Hello, World!") == Tokens{"hello", ",", "[UNK]", "!"});
}

TEST_CASE("wordpiece: very long words are [UNK] past 100 code points") {
  const auto& tok = uncased();
  const std::string a100(100, 'a'), a101(101, 'a');
  Tokens expect = {"a"};
  for (int i = 1; i < 100; ++i) expect.push_back("##a");
  CHECK(tok.tokenize(a100) == expect);
  CHECK(tok.tokenize(a101) == Tokens{"[UNK]"});
  // the limit counts code points, not bytes: 60 two-byte letters are 120 bytes but 60 characters
  std::string accented;
  for (int i = 0; i < 60; ++i) accented += "á";  // strips to "a"
  CHECK(tok.tokenize(accented).size() == 60u);
}

TEST_CASE("wordpiece: whitespace, control characters, empty input") {
  const auto& tok = uncased();
  CHECK(tok.tokenize("").empty());
  CHECK(tok.tokenize("   \t\n  ").empty());
  CHECK(tok.tokenize("  the\t\tquick \r\n fox  ") == Tokens{"the", "quick", "fox"});
  // no-break space (Zs) and the ideographic space separate words
  CHECK(tok.tokenize("the\u00a0fox\u3000brown") == Tokens{"the", "fox", "brown"});
  // U+2028 LINE SEPARATOR survives cleaning (category Zl) but Python's split() splits on it
  CHECK(tok.tokenize("the\u2028fox") == Tokens{"the", "fox"});
  // NUL, a zero-width space (Cf), a soft hyphen (Cf) and U+FFFD are removed
  CHECK(tok.tokenize(std::string("qu\0ick", 6)) == Tokens{"quick"});
  CHECK(tok.tokenize("qu\u200bick bro\u00adwn fo\ufffdx") == Tokens{"quick", "brown", "fox"});
  // an invalid UTF-8 byte becomes U+FFFD, then disappears
  CHECK(tok.tokenize("the\xff fox") == Tokens{"the", "fox"});
  CHECK(tok.tokenize("fo\xe2\x82x") == Tokens{"fox"});  // truncated 3-byte sequence
}

TEST_CASE("wordpiece: lowercasing and accent stripping (NFD minus Mn)") {
  const auto& tok = uncased();
  CHECK(tok.tokenize("Café naïve RÉSUMÉ") == Tokens{"cafe", "naive", "resume"});
  CHECK(tok.tokenize("CAFÉ") == Tokens{"cafe"});
  // Latin Extended-A: Š -> š -> s + caron (dropped); Ł has no decomposition, ó and ź do
  CHECK(tok.tokenize("ŠKODA") == Tokens{"skoda"});
  CHECK(tok.basic_tokenize("Łódź") == Tokens{"łodz"});
  CHECK(tok.tokenize("Łódź") == Tokens{"łodz"});
  // Greek: Ά (U+0386) -> ά -> α + acute; Cyrillic Й -> й -> и + breve (BERT-uncased's known behaviour)
  CHECK(tok.tokenize("ΆΘΗΝΑ") == Tokens{"αθηνα"});
  CHECK(tok.tokenize("Й") == Tokens{"и"});
  // U+0130 (İ) lowercases to i + U+0307 (two code points, Python's full mapping); the dot is stripped
  CHECK(tok.tokenize("İ") == Tokens{"i"});
  // a combining accent typed separately is dropped too
  CHECK(tok.tokenize("cafe\u0301") == Tokens{"cafe"});
  // Hangul syllables decompose into jamo under NFD (so they rarely match an uncased vocabulary)
  CHECK(tok.basic_tokenize("한") == Tokens{"\u1112\u1161\u11ab"});
}

TEST_CASE("wordpiece: punctuation splits, CJK characters stand alone") {
  const auto& tok = uncased();
  CHECK(tok.tokenize("don't") == Tokens{"don", "'", "t"});
  CHECK(tok.tokenize("$5") == Tokens{"$", "5"});
  CHECK(tok.tokenize("¿the?") == Tokens{"¿", "the", "?"});
  CHECK(tok.tokenize("hello—the") == Tokens{"hello", "—", "the"});  // em dash, category Pd
  CHECK(tok.tokenize("the...fox") == Tokens{"the", ".", ".", ".", "fox"});
  // CJK ideographs become one word each, even without spaces around them
  CHECK(tok.basic_tokenize("中国人the") == Tokens{"中", "国", "人", "the"});
  CHECK(tok.tokenize("中国人") == Tokens{"中", "国", "[UNK]"});
}

TEST_CASE("wordpiece: special tokens written in the text stay whole") {
  const auto& tok = uncased();
  CHECK(tok.tokenize("[CLS] the [MASK].") == Tokens{"[CLS]", "the", "[MASK]", "."});
  CHECK(tok.tokenize("the[SEP]fox") == Tokens{"the", "[SEP]", "fox"});
  // matching is exact: a lowercase [mask] is ordinary text
  CHECK(tok.basic_tokenize("[mask]") == Tokens{"[", "mask", "]"});
  CHECK(tok.tokenize("[mask]") == Tokens{"[UNK]", "[UNK]", "[UNK]"});
}

TEST_CASE("wordpiece: cased options") {
  WordPieceOptions cased;
  cased.lower_case = false;
  const auto tok = WordPieceTokenizer::from_file(write_vocab("vocab_cased.txt", kVocab), cased);
  CHECK(tok.tokenize("Hello hello") == Tokens{"[UNK]", "hello"});
  CHECK(tok.tokenize("café") == Tokens{"[UNK]"});  // accents kept without lower_case
  cased.strip_accents = 1;
  const auto strip = WordPieceTokenizer::from_file(write_vocab("vocab_cased.txt", kVocab), cased);
  CHECK(strip.tokenize("café Café") == Tokens{"cafe", "[UNK]"});
  WordPieceOptions keep;
  keep.strip_accents = 0;
  const auto lower_only = WordPieceTokenizer::from_file(write_vocab("vocab_cased.txt", kVocab), keep);
  CHECK(lower_only.tokenize("CAFE CAFÉ") == Tokens{"cafe", "[UNK]"});
}

TEST_CASE("wordpiece: encode adds [CLS]/[SEP], truncates and pads to max_len") {
  const auto& tok = uncased();
  const Encoding e = tok.encode("The unaffable fox!", 10);
  CHECK(e.tokens == Tokens{"[CLS]", "the", "un", "##aff", "##able", "fox", "!", "[SEP]", "[PAD]", "[PAD]"});
  CHECK(e.input_ids == Ids{2, 5, 9, 10, 11, 8, 14, 3, 0, 0});
  CHECK(e.attention_mask == Ids{1, 1, 1, 1, 1, 1, 1, 1, 0, 0});
  CHECK(e.token_type_ids == Ids{0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  CHECK(e.word_index == Ids{-1, 0, 1, 1, 1, 2, 3, -1, -1, -1});
  // truncation keeps [SEP] at the end
  const Encoding t = tok.encode("The unaffable fox!", 5);
  CHECK(t.tokens == Tokens{"[CLS]", "the", "un", "##aff", "[SEP]"});
  CHECK(t.attention_mask == Ids{1, 1, 1, 1, 1});
  // empty text
  const Encoding empty = tok.encode("", 4);
  CHECK(empty.input_ids == Ids{2, 3, 0, 0});
  CHECK(empty.attention_mask == Ids{1, 1, 0, 0});
  CHECK(empty.word_index == Ids{-1, -1, -1, -1});
  check_throws_with([&] { tok.encode("the", 1); }, "max_len must be at least 2");
}

TEST_CASE("wordpiece: pairs get token type 1 and longest-first truncation") {
  const auto& tok = uncased();
  const Encoding e = tok.encode_pair("the fox", "hello!", 9);
  CHECK(e.tokens == Tokens{"[CLS]", "the", "fox", "[SEP]", "hello", "!", "[SEP]", "[PAD]", "[PAD]"});
  CHECK(e.token_type_ids == Ids{0, 0, 0, 0, 1, 1, 1, 0, 0});
  CHECK(e.attention_mask == Ids{1, 1, 1, 1, 1, 1, 1, 0, 0});
  CHECK(e.word_index == Ids{-1, 0, 1, -1, 0, 1, -1, -1, -1});
  // 7 + 2 pieces into a budget of 4: drop from the longer (the first) until 2 + 2
  const Encoding t = tok.encode_pair("the quick brown fox unaffable", "hello fox", 7);
  CHECK(t.tokens == Tokens{"[CLS]", "the", "quick", "[SEP]", "hello", "fox", "[SEP]"});
  const Encoding t2 = tok.encode_pair("the quick brown", "hello fox", 6);  // 3 + 2 into 3: 2 + 1
  CHECK(t2.tokens == Tokens{"[CLS]", "the", "quick", "[SEP]", "hello", "[SEP]"});
  check_throws_with([&] { tok.encode_pair("a", "b", 2); }, "max_len must be at least 3");
}

TEST_CASE("wordpiece: encode_words records each piece's word (MAG-BERT alignment) and batches") {
  const auto& tok = uncased();
  const Encoding e = tok.encode_words({"Unaffable", "fox", "don't"}, 9);
  CHECK(e.tokens == Tokens{"[CLS]", "un", "##aff", "##able", "fox", "don", "'", "t", "[SEP]"});
  CHECK(e.word_index == Ids{-1, 0, 0, 0, 1, 2, 2, 2, -1});
  const Encoding f = tok.encode_words({"the", "fox"}, 9);
  const EncodedBatch b = WordPieceTokenizer::batch({e, f});
  CHECK(b.input_ids.shape() == Shape{2, 9});
  CHECK(b.input_ids.dtype() == DType::i64);
  CHECK(b.input_ids.to_vector<std::int64_t>()[9 + 1] == 5);
  CHECK(b.attention_mask.to_vector<std::int64_t>()[9 + 4] == 0);
  CHECK(b.word_index[1] == Ids{-1, 0, 1, -1, -1, -1, -1, -1, -1});
  check_throws_with([&] { WordPieceTokenizer::batch({e, tok.encode("the", 4)}); }, "encoding 1 has length 4");
}

TEST_CASE("wordpiece: bad vocabularies are named errors") {
  check_throws_with([] { WordPieceTokenizer::from_file("/nonexistent/vocab.txt"); }, "/nonexistent/vocab.txt");
  check_throws_with([] { WordPieceTokenizer({"[PAD]", "[CLS]", "[SEP]", "the"}, {}, "mini"); },
                    "mini: the special token '[UNK]' is not in the vocabulary");
  check_throws_with([] { WordPieceTokenizer({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "the"}, {}, "dup"); },
                    "token 'the' appears twice (ids 4 and 5, lines 5 and 6)");
}

TEST_CASE("wordpiece: UTF-8 round trip and replacement of invalid sequences") {
  const std::string s = "aé€😀";
  const std::u32string cps = utf8_decode(s);
  CHECK(cps == std::u32string{U'a', 0xE9, 0x20AC, 0x1F600});
  CHECK(utf8_encode(cps) == s);
  CHECK(utf8_decode("\xc0\xaf") == std::u32string{0xFFFD});        // overlong '/'
  CHECK(utf8_decode("\xed\xa0\x80") == std::u32string{0xFFFD});    // a surrogate
  CHECK(utf8_decode("\x80x") == std::u32string{0xFFFD, U'x'});     // a stray continuation byte
}
