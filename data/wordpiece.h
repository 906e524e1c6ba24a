// data/wordpiece.h: BERT's tokenizer (BasicTokenizer + WordPiece), reading a Hugging Face
// vocab.txt, as transformers' BertTokenizer does.
//
// tokenize(text) = for each word w of basic_tokenize(text): wordpiece(w)
//
// basic_tokenize (Hugging Face's BasicTokenizer, in order):
//   1. special tokens of the vocabulary ([CLS], [SEP], [PAD], [MASK], [UNK]) written in the
//      text, matched exactly, are split out and kept whole;
//   2. clean: drop U+0000, U+FFFD and control characters (category C*, except \t \n \r);
//      turn whitespace (\t \n \r, space and category Zs) into ' ';
//   3. put spaces around CJK ideographs, so each becomes a word of its own;
//   4. split on whitespace; then per word, if lower_case: str.lower(), then (unless
//      strip_accents is false) NFD and drop the nonspacing marks (category Mn);
//      without lower_case, strip accents only if strip_accents is true;
//   5. split each word around punctuation (ASCII !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~ and
//      category P*): every punctuation character becomes a word.
// wordpiece (greedy longest-match-first): a word longer than 100 code points is [UNK];
//   otherwise from the start take the longest prefix in the vocabulary, then repeatedly the
//   longest "##"-prefixed continuation; if some position has no match, the whole word is
//   [UNK] (not just the rest).
//
// Unicode: categories, lowercasing and the NFD decompositions used for accent stripping
// come from tables generated from Python's unicodedata (data/wordpiece_unicode.inc, by
// tools/gen_unicode_tables.py; the Unicode version is written there), covering every code
// point, so Latin-1, Latin Extended, Greek, Cyrillic, Vietnamese accents strip as in
// Python; Hangul syllables decompose into their jamo (as NFD does). Limits, none of which
// matter for BERT's uncased vocabularies:
//   - no NFC composition before splitting (newer transformers run NFC first: it can only
//     change cased tokenizers that keep accents, where "e" + U+0301 stays two code points);
//   - the canonical reordering of combining marks is not done (it only reorders marks,
//     and those of category Mn are dropped anyway);
//   - special tokens are matched exactly where they occur in the text (transformers also
//     has lstrip/rstrip options per added token; BERT's defaults do not use them).
// Text is UTF-8; an invalid byte sequence becomes U+FFFD, which step 2 removes.
//
// encode(text, max_len) gives model inputs: [CLS] pieces [SEP], truncated to max_len and
// padded with [PAD] to exactly max_len; encode_pair adds the second text after [SEP] with
// token type 1 (truncating the longer text first, as transformers' "longest_first");
// encode_words tokenizes each given word on its own and records which word every piece
// came from (MAG-BERT's alignment of word-level acoustic/visual features).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/tensor.h"

namespace fg::data {

// UTF-8 <-> code points. Decoding turns each invalid or truncated sequence, overlong form,
// surrogate or value past U+10FFFF into U+FFFD.
std::u32string utf8_decode(const std::string& s);
std::string utf8_encode(const std::u32string& s);

struct WordPieceOptions {
  bool lower_case = true;              // uncased vocabularies (bert-base-uncased)
  int strip_accents = -1;              // -1: follow lower_case (transformers' None); 0: never; 1: always
  bool tokenize_chinese_chars = true;
  std::int64_t max_input_chars_per_word = 100;
  std::string unk_token = "[UNK]", cls_token = "[CLS]", sep_token = "[SEP]", pad_token = "[PAD]",
              mask_token = "[MASK]";
};

// Model inputs for one text (or pair), all of length max_len.
struct Encoding {
  std::vector<std::string> tokens;          // [CLS] ... [SEP] [PAD] ...
  std::vector<std::int64_t> input_ids;
  std::vector<std::int64_t> attention_mask;  // 1 on real tokens (specials included), 0 on padding
  std::vector<std::int64_t> token_type_ids;  // 0 for the first text, 1 for the second
  std::vector<std::int64_t> word_index;      // the word each piece came from; -1 at [CLS], [SEP], [PAD]
                                             // (the second text of a pair counts its words from 0 again)
};

// A batch of encodings as int64 tensors [B, max_len], plus the word indices per row.
struct EncodedBatch {
  Tensor input_ids, attention_mask, token_type_ids;
  std::vector<std::vector<std::int64_t>> word_index;
};

class WordPieceTokenizer {
 public:
  // tokens[i] has id i. `source` names the vocabulary in errors. Throws on duplicate tokens
  // and when the unk/cls/sep/pad tokens are missing.
  WordPieceTokenizer(std::vector<std::string> tokens, WordPieceOptions options = {},
                     std::string source = "vocabulary");
  // Reads a vocab.txt: one token per line, id = line number (0-based); a trailing '\r' is dropped.
  static WordPieceTokenizer from_file(const std::string& vocab_txt, WordPieceOptions options = {});

  std::vector<std::string> basic_tokenize(const std::string& text) const;
  std::vector<std::string> wordpiece(const std::string& word) const;
  std::vector<std::string> tokenize(const std::string& text) const;

  Encoding encode(const std::string& text, std::int64_t max_len) const;
  Encoding encode_pair(const std::string& first, const std::string& second, std::int64_t max_len) const;
  Encoding encode_words(const std::vector<std::string>& words, std::int64_t max_len) const;
  // Stacks encodings of one length into tensors on `device`.
  static EncodedBatch batch(const std::vector<Encoding>& encodings, Device device = Device::cpu());

  // The id of a token ([UNK]'s for unknown tokens) and the token of an id (throws if out of range).
  std::int64_t token_to_id(const std::string& token) const;
  const std::string& id_to_token(std::int64_t id) const;
  bool contains(const std::string& token) const { return ids_.count(token) > 0; }
  std::int64_t vocab_size() const { return static_cast<std::int64_t>(tokens_.size()); }
  const WordPieceOptions& options() const { return options_; }

 private:
  struct Word {
    std::string text;
    bool special;  // a special token written in the text: kept whole
  };
  std::vector<Word> basic_words(const std::string& text) const;
  // Appends the pieces of the words and, per piece, the index of its word (offset by first_word).
  void pieces_of(const std::vector<Word>& words, std::vector<std::string>& pieces, std::vector<std::int64_t>& index,
                 std::int64_t first_word) const;
  Encoding assemble(const std::vector<std::string>& a, const std::vector<std::int64_t>& a_words,
                    const std::vector<std::string>* b, const std::vector<std::int64_t>* b_words,
                    std::int64_t max_len) const;

  WordPieceOptions options_;
  std::string source_;
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, std::int64_t> ids_;
  std::vector<std::string> specials_;  // the special tokens present in the vocabulary
};

}  // namespace fg::data
