// data/wordpiece.cpp: see wordpiece.h. The Unicode facts come from the generated tables
// of data/wordpiece_unicode.inc (tools/gen_unicode_tables.py).
#include "data/wordpiece.h"

#include <algorithm>
#include <fstream>

#include "engine/error.h"

namespace fg::data {

namespace {

struct CodeRange {
  char32_t first, last;
};
struct LowerRun {
  char32_t first, last;
  std::int32_t delta, step;
};
struct Expansion {
  char32_t cp;
  char32_t out[3];  // 0-terminated when shorter
};

#include "data/wordpiece_unicode.inc"

template <std::size_t N>
bool in_ranges(char32_t c, const CodeRange (&table)[N]) {
  const auto it = std::upper_bound(std::begin(table), std::end(table), c,
                                   [](char32_t v, const CodeRange& r) { return v < r.first; });
  return it != std::begin(table) && c <= std::prev(it)->last;
}

template <std::size_t N>
const Expansion* find_expansion(char32_t c, const Expansion (&table)[N]) {
  const auto it = std::lower_bound(std::begin(table), std::end(table), c,
                                   [](const Expansion& e, char32_t v) { return e.cp < v; });
  return it != std::end(table) && it->cp == c ? &*it : nullptr;
}

void append_expansion(const Expansion& e, std::u32string& out) {
  for (char32_t x : e.out)
    if (x != 0) out.push_back(x);
}

bool is_control(char32_t c) { return in_ranges(c, kControlRanges); }
bool is_whitespace(char32_t c) { return in_ranges(c, kWhitespaceRanges); }
bool is_punctuation(char32_t c) { return in_ranges(c, kPunctuationRanges); }
bool is_nonspacing_mark(char32_t c) { return in_ranges(c, kNonspacingRanges); }

// Python's str.split() also splits on the line and paragraph separators, which survive
// the cleaning step (category Zl/Zp: neither control nor Zs).
bool splits_words(char32_t c) { return c == U' ' || c == 0x2028 || c == 0x2029; }

// The CJK Unified Ideographs blocks of BasicTokenizer._is_chinese_char.
bool is_cjk(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// str.lower() of one code point.
void append_lower(char32_t c, std::u32string& out) {
  if (c < 0x80) {
    out.push_back(c >= U'A' && c <= U'Z' ? c + 32 : c);
    return;
  }
  if (const Expansion* e = find_expansion(c, kLowerSpecial)) {
    append_expansion(*e, out);
    return;
  }
  for (const LowerRun& r : kLowerRuns) {
    if (c >= r.first && c <= r.last && (c - r.first) % static_cast<char32_t>(r.step) == 0) {
      out.push_back(static_cast<char32_t>(static_cast<std::int64_t>(c) + r.delta));
      return;
    }
  }
  out.push_back(c);
}

// NFD of one code point with the nonspacing marks dropped (BasicTokenizer._run_strip_accents).
void append_stripped(char32_t c, std::u32string& out) {
  if (is_nonspacing_mark(c)) return;
  constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
  constexpr char32_t kTCount = 28, kNCount = 21 * 28, kSCount = 19 * 21 * 28;
  if (c >= kSBase && c < kSBase + kSCount) {  // Hangul syllable -> leading, vowel, trailing jamo
    const char32_t s = c - kSBase;
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount != 0) out.push_back(kTBase + s % kTCount);
    return;
  }
  if (const Expansion* e = find_expansion(c, kStripped)) {
    append_expansion(*e, out);
    return;
  }
  out.push_back(c);
}

std::vector<std::u32string> split_words(const std::u32string& text) {
  std::vector<std::u32string> words;
  std::u32string cur;
  for (char32_t c : text) {
    if (splits_words(c)) {
      if (!cur.empty()) words.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) words.push_back(std::move(cur));
  return words;
}

}  // namespace

// ---------------------------------------------------------------- UTF-8
std::u32string utf8_decode(const std::string& s) {
  std::u32string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char b = p[i];
    int len = 0;
    char32_t c = 0, min = 0;
    if (b < 0x80) {
      out.push_back(b);
      ++i;
      continue;
    } else if ((b & 0xE0) == 0xC0) {
      len = 2, c = b & 0x1F, min = 0x80;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3, c = b & 0x0F, min = 0x800;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4, c = b & 0x07, min = 0x10000;
    } else {  // a continuation byte or 0xF8..0xFF where a sequence should start
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    int k = 1;
    for (; k < len && i + k < n && (p[i + k] & 0xC0) == 0x80; ++k) c = (c << 6) | (p[i + k] & 0x3F);
    if (k < len) {  // truncated: replace what was read, resume at the offending byte
      out.push_back(0xFFFD);
      i += k;
      continue;
    }
    const bool bad = c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF);
    out.push_back(bad ? 0xFFFD : c);
    i += len;
  }
  return out;
}

std::string utf8_encode(const std::u32string& s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (c >> 12)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (c >> 18)));
      out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

// ---------------------------------------------------------------- vocabulary
WordPieceTokenizer::WordPieceTokenizer(std::vector<std::string> tokens, WordPieceOptions options, std::string source)
    : options_(std::move(options)), source_(std::move(source)), tokens_(std::move(tokens)) {
  FG_CHECK(options_.strip_accents >= -1 && options_.strip_accents <= 1,
           "{}: strip_accents must be -1 (follow lower_case), 0 or 1, got {}", source_, options_.strip_accents);
  FG_CHECK(options_.max_input_chars_per_word > 0, "{}: max_input_chars_per_word must be positive, got {}", source_,
           options_.max_input_chars_per_word);
  for (std::size_t i = 0; i < tokens_.size(); ++i) {
    const auto [it, inserted] = ids_.emplace(tokens_[i], static_cast<std::int64_t>(i));
    FG_CHECK(inserted, "{}: token '{}' appears twice (ids {} and {}, lines {} and {})", source_, tokens_[i],
             it->second, i, it->second + 1, i + 1);
  }
  for (const std::string* t : {&options_.unk_token, &options_.cls_token, &options_.sep_token, &options_.pad_token})
    FG_CHECK(ids_.count(*t), "{}: the special token '{}' is not in the vocabulary ({} tokens)", source_, *t,
             tokens_.size());
  for (const std::string* t : {&options_.unk_token, &options_.sep_token, &options_.pad_token, &options_.cls_token,
                               &options_.mask_token})
    if (ids_.count(*t) && !t->empty()) specials_.push_back(*t);
}

WordPieceTokenizer WordPieceTokenizer::from_file(const std::string& vocab_txt, WordPieceOptions options) {
  std::ifstream in(vocab_txt, std::ios::binary);
  FG_CHECK(in, "{}: cannot open the vocabulary (expected a BERT vocab.txt, one token per line)", vocab_txt);
  std::vector<std::string> tokens;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    tokens.push_back(line);
  }
  FG_CHECK(!tokens.empty(), "{}: the vocabulary is empty", vocab_txt);
  return WordPieceTokenizer(std::move(tokens), std::move(options), vocab_txt);
}

std::int64_t WordPieceTokenizer::token_to_id(const std::string& token) const {
  const auto it = ids_.find(token);
  return it != ids_.end() ? it->second : ids_.at(options_.unk_token);
}

const std::string& WordPieceTokenizer::id_to_token(std::int64_t id) const {
  FG_CHECK(id >= 0 && id < vocab_size(), "{}: token id {} is outside [0, {})", source_, id, vocab_size());
  return tokens_[static_cast<std::size_t>(id)];
}

// ---------------------------------------------------------------- tokenizing
std::vector<WordPieceTokenizer::Word> WordPieceTokenizer::basic_words(const std::string& text) const {
  const bool lower = options_.lower_case;
  const bool strip = options_.strip_accents == 1 || (options_.strip_accents == -1 && lower);
  std::vector<Word> words;
  auto process = [&](const std::string& segment) {
    std::u32string cleaned;
    for (char32_t c : utf8_decode(segment)) {
      if (c == 0 || c == 0xFFFD || is_control(c)) continue;
      if (is_whitespace(c)) {
        cleaned.push_back(U' ');
      } else if (options_.tokenize_chinese_chars && is_cjk(c)) {
        cleaned += U' ';
        cleaned.push_back(c);
        cleaned += U' ';
      } else {
        cleaned.push_back(c);
      }
    }
    for (const std::u32string& raw : split_words(cleaned)) {
      std::u32string w;
      if (lower) {
        for (char32_t c : raw) append_lower(c, w);
      } else {
        w = raw;
      }
      if (strip) {
        std::u32string s;
        for (char32_t c : w) append_stripped(c, s);
        w = std::move(s);
      }
      std::u32string cur;
      for (char32_t c : w) {
        if (is_punctuation(c)) {
          if (!cur.empty()) words.push_back({utf8_encode(cur), false});
          cur.clear();
          words.push_back({utf8_encode(std::u32string(1, c)), false});
        } else {
          cur.push_back(c);
        }
      }
      if (!cur.empty()) words.push_back({utf8_encode(cur), false});
    }
  };
  // split out the special tokens written in the text (exact matches), left to right
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t best = std::string::npos;
    const std::string* which = nullptr;
    for (const std::string& sp : specials_) {
      const std::size_t at = text.find(sp, pos);
      if (at < best || (at == best && at != std::string::npos && sp.size() > which->size())) {
        best = at;
        which = &sp;
      }
    }
    if (best == std::string::npos) {
      process(text.substr(pos));
      break;
    }
    process(text.substr(pos, best - pos));
    words.push_back({*which, true});
    pos = best + which->size();
  }
  return words;
}

std::vector<std::string> WordPieceTokenizer::basic_tokenize(const std::string& text) const {
  std::vector<std::string> out;
  for (const Word& w : basic_words(text)) out.push_back(w.text);
  return out;
}

std::vector<std::string> WordPieceTokenizer::wordpiece(const std::string& word) const {
  const std::u32string chars = utf8_decode(word);
  if (chars.empty()) return {};
  if (static_cast<std::int64_t>(chars.size()) > options_.max_input_chars_per_word) return {options_.unk_token};
  std::vector<std::string> pieces;
  std::size_t start = 0;
  while (start < chars.size()) {
    std::size_t end = chars.size();
    std::string found;
    for (; end > start; --end) {
      std::string candidate = utf8_encode(chars.substr(start, end - start));
      if (start > 0) candidate = "##" + candidate;
      if (ids_.count(candidate)) {
        found = std::move(candidate);
        break;
      }
    }
    if (found.empty()) return {options_.unk_token};  // no piece fits here: the whole word is unknown
    pieces.push_back(std::move(found));
    start = end;
  }
  return pieces;
}

void WordPieceTokenizer::pieces_of(const std::vector<Word>& words, std::vector<std::string>& pieces,
                                   std::vector<std::int64_t>& index, std::int64_t first_word) const {
  for (std::size_t w = 0; w < words.size(); ++w) {
    const std::vector<std::string> ps = words[w].special ? std::vector<std::string>{words[w].text}
                                                         : wordpiece(words[w].text);
    for (const std::string& p : ps) {
      pieces.push_back(p);
      index.push_back(first_word + static_cast<std::int64_t>(w));
    }
  }
}

std::vector<std::string> WordPieceTokenizer::tokenize(const std::string& text) const {
  std::vector<std::string> pieces;
  std::vector<std::int64_t> index;
  pieces_of(basic_words(text), pieces, index, 0);
  return pieces;
}

// ---------------------------------------------------------------- model inputs
Encoding WordPieceTokenizer::assemble(const std::vector<std::string>& a, const std::vector<std::int64_t>& a_words,
                                      const std::vector<std::string>* b, const std::vector<std::int64_t>* b_words,
                                      std::int64_t max_len) const {
  const std::int64_t specials = b ? 3 : 2;
  FG_CHECK(max_len >= specials, "{}: max_len must be at least {} ([CLS], [SEP]{}), got {}", source_, specials,
           b ? ", [SEP]" : "", max_len);
  // truncation: transformers' "longest_first" drops the last piece of the longer text
  // (of the second one on a tie) until everything fits
  std::size_t na = a.size(), nb = b ? b->size() : 0;
  const auto budget = static_cast<std::size_t>(max_len - specials);
  while (na + nb > budget) {
    if (na > nb) {
      --na;
    } else {
      --nb;
    }
  }
  Encoding e;
  auto push = [&](const std::string& tok, std::int64_t type, std::int64_t word) {
    e.tokens.push_back(tok);
    e.input_ids.push_back(token_to_id(tok));
    e.attention_mask.push_back(1);
    e.token_type_ids.push_back(type);
    e.word_index.push_back(word);
  };
  push(options_.cls_token, 0, -1);
  for (std::size_t i = 0; i < na; ++i) push(a[i], 0, a_words[i]);
  push(options_.sep_token, 0, -1);
  if (b) {
    for (std::size_t i = 0; i < nb; ++i) push((*b)[i], 1, (*b_words)[i]);
    push(options_.sep_token, 1, -1);
  }
  while (static_cast<std::int64_t>(e.tokens.size()) < max_len) {
    push(options_.pad_token, 0, -1);
    e.attention_mask.back() = 0;
  }
  return e;
}

Encoding WordPieceTokenizer::encode(const std::string& text, std::int64_t max_len) const {
  std::vector<std::string> pieces;
  std::vector<std::int64_t> index;
  pieces_of(basic_words(text), pieces, index, 0);
  return assemble(pieces, index, nullptr, nullptr, max_len);
}

Encoding WordPieceTokenizer::encode_pair(const std::string& first, const std::string& second,
                                         std::int64_t max_len) const {
  std::vector<std::string> pa, pb;
  std::vector<std::int64_t> ia, ib;
  pieces_of(basic_words(first), pa, ia, 0);
  pieces_of(basic_words(second), pb, ib, 0);
  return assemble(pa, ia, &pb, &ib, max_len);
}

Encoding WordPieceTokenizer::encode_words(const std::vector<std::string>& words, std::int64_t max_len) const {
  std::vector<std::string> pieces;
  std::vector<std::int64_t> index;
  for (std::size_t w = 0; w < words.size(); ++w) {
    std::vector<std::string> ps;
    std::vector<std::int64_t> ignored;
    pieces_of(basic_words(words[w]), ps, ignored, 0);
    for (auto& p : ps) {
      pieces.push_back(std::move(p));
      index.push_back(static_cast<std::int64_t>(w));
    }
  }
  return assemble(pieces, index, nullptr, nullptr, max_len);
}

EncodedBatch WordPieceTokenizer::batch(const std::vector<Encoding>& encodings, Device device) {
  FG_CHECK(!encodings.empty(), "WordPieceTokenizer::batch: no encodings given");
  const std::size_t len = encodings[0].input_ids.size();
  std::vector<std::int64_t> ids, mask, types;
  EncodedBatch out;
  for (std::size_t i = 0; i < encodings.size(); ++i) {
    const Encoding& e = encodings[i];
    FG_CHECK(e.input_ids.size() == len && e.attention_mask.size() == len && e.token_type_ids.size() == len &&
                 e.word_index.size() == len,
             "WordPieceTokenizer::batch: encoding {} has length {}, encoding 0 has {} (encode with one max_len)", i,
             e.input_ids.size(), len);
    ids.insert(ids.end(), e.input_ids.begin(), e.input_ids.end());
    mask.insert(mask.end(), e.attention_mask.begin(), e.attention_mask.end());
    types.insert(types.end(), e.token_type_ids.begin(), e.token_type_ids.end());
    out.word_index.push_back(e.word_index);
  }
  const Shape shape{static_cast<std::int64_t>(encodings.size()), static_cast<std::int64_t>(len)};
  const TensorOptions opts{DType::i64, device};
  out.input_ids = from_vector(ids, shape, opts);
  out.attention_mask = from_vector(mask, shape, opts);
  out.token_type_ids = from_vector(types, shape, opts);
  return out;
}

}  // namespace fg::data
