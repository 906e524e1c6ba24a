// data/reviews_build.h: the set-up builder of the reviews corpus (docs/reviews-corpus.md).
//
// Real: the 4,000 Rotten Tomatoes sentences and their polarity (Pang & Lee, via Debian's
// python3-pattern), the words' VADER valences, espeak-ng's speech signal and everything
// measured on it, the fastText vectors trained on 1,500 other real reviews, the WordPiece ids.
// Simulated: the per-utterance latent, the label intensity's share of it, the three
// annotators, the speaking style's dependence on the latent, the speakers, the visual stream.
//
// For utterance i (row i of pang_lee_sentences.csv, polarity p_i = +-1):
//   1. Lexical intensity: L_i = mean |valence| over the words found in VADER's lexicon
//      (0 words found: the corpus mean); z_L = (L_i - mean) / sd over the corpus.
//   2. Latent: u_i ~ N(0, 1); m_i = lexical_weight z_L + sqrt(1 - lexical_weight^2) u_i.
//   3. True intensity a_i = Phi(m_i) in (0, 1) (Phi: the normal cdf); y*_i = p_i (0.5 + 2.5 a_i).
//   4. Three annotators: r_k = p_i clip(round(|y*_i| + N(0, annotator_sd^2)), 0, 3); the label
//      is their mean (a multiple of 1/3 in [-3, 3]); all three 0 gives p_i / 3 (the sign is
//      always the real polarity).
//   5. Speaker: one of `speakers` drawn per utterance (voice, variant, base pitch 35..65, base
//      rate 150..185 wpm, from the seed). espeak-ng parameters:
//        rate = base_rate + 40 (a - 0.5), pitch = base_pitch + 20 (a - 0.5) + 6 p,
//        range = 30 + 60 a, volume = 60 + 80 a.
//   6. espeak-ng speaks the sentence (22,050 Hz) through its C API; each espeakEVENT_WORD gives
//      the sample where a word starts and the character position of the word in the text. A
//      whitespace token with a letter or digit is a word (punctuation is not spoken: no event).
//      An evented word spans [its first event's sample, the next evented word's start), its
//      trailing silence trimmed; the last ends at espeakEVENT_END. espeak-ng joins some short
//      words into one event ("to be"): a word without an event shares the span of the evented
//      word before it, split in proportion to the characters.
//   7. Acoustic features (10 ms frames): aubio's pitch (yinfast) and confidence, RMS energy,
//      MFCCs (data/audio_features.h), spectral centroid / roll-off / flatness, zero crossings;
//      averaged over a word's frames (kWordFeatureNames), and 40 ms frames for the unaligned file.
//   8. Visual: data/synthetic's generator (make_synthetic_dataset, its visual modality) for N
//      utterances, each of ours paired with the synthetic utterance of the same rank of score
//      (our y* against its s), resampled from its steps to our words.
//   9. Text: fastText (Debian `fasttext`, run as a program) vectors of each spoken word, from a
//      skip-gram model trained on the 1,500 reviews; WordPiece ids of the spoken words.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "data/dataset.h"

namespace fg::data::reviews {

struct Sentence {
  std::int64_t row = 0;  // 0-based row of the CSV
  int polarity = 0;      // +1 / -1
  std::string text;
};
// Reads "label","text" rows (label 1 or -1). Errors name the file and row.
std::vector<Sentence> read_sentences(const std::string& csv_path);
// token -> mean valence, from vader_lexicon.txt (tab-separated; errors name the file and line).
struct Lexicon {
  std::unordered_map<std::string, double> valence;
};
Lexicon read_vader_lexicon(const std::string& path);
// Mean |valence| of the whitespace tokens found in the lexicon; sets *count to their number.
double lexical_intensity(const std::string& text, const Lexicon& lex, std::int64_t* count);

struct WordSpan {
  std::string word;
  std::int64_t begin = 0, end = 0;  // samples, [begin, end)
};
struct Speech {
  int sample_rate = 0;
  std::vector<float> samples;
  std::vector<WordSpan> words;
};
struct Voice {
  std::string name;  // "en-us+m3"
  int rate = 175, pitch = 50, range = 50, volume = 100;
};
// Speaks `text` with espeak-ng's C API (initialised once per process) and returns the samples
// and the spoken words' spans (step 6 above).
Speech speak(const std::string& text, const Voice& voice);

// The per-word acoustic features (step 7), in this order.
extern const std::vector<std::string> kWordFeatureNames;
extern const std::vector<std::string> kFrameFeatureNames;
struct Acoustics {
  std::vector<float> words;   // [W, kWordFeatureNames.size()]
  std::vector<float> frames;  // [F, kFrameFeatureNames.size()], 40 ms frames
  std::int64_t num_frames = 0;
};
Acoustics acoustic_features(const Speech& speech);

struct BuildConfig {
  std::string sources;        // text-sources folder (tools/text_sources.sh)
  std::string out_dir;        // writes reviews.h5, reviews_unaligned.h5, stats.json there
  std::string fasttext_model; // a fastText .bin (run: `fasttext print-word-vectors`); "" = none
  std::string fasttext_bin = "fasttext";
  std::uint64_t seed = 0;
  std::int64_t limit = 0;     // > 0: only the first `limit` sentences per polarity (tests, CI)
  int jobs = 1;               // processes (fork) for speech and features
  std::int64_t max_words = 50;    // MMSA's aligned_50: longer sentences keep their first 50 words
  std::int64_t max_frames = 400;  // unaligned acoustic frames (16 s)
  std::int64_t speakers = 24;
  double lexical_weight = 0.6;
  double annotator_sd = 0.5;
  std::int64_t text_dim = 300;
  bool quiet = false;
};
struct BuildStats {
  std::int64_t utterances = 0, words = 0, truncated = 0, frames_truncated = 0, no_lexicon_words = 0;
  double audio_seconds = 0, speak_seconds = 0, total_seconds = 0;
};
// The whole builder: reads the sources, speaks, measures, writes both files. Throws naming the
// file or step.
BuildStats build_corpus(const BuildConfig& config);

}  // namespace fg::data::reviews
