// data/reviews_build.cpp: see data/reviews_build.h and docs/reviews-corpus.md.
#include "data/reviews_build.h"

#include <aubio/aubio.h>
#include <espeak-ng/speak_lib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <random>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "data/audio_features.h"
#include "data/h5_dataset.h"
#include "data/synthetic.h"
#include "data/wordpiece.h"
#include "engine/error.h"

namespace fg::data::reviews {
namespace fs = std::filesystem;

const std::vector<std::string> kWordFeatureNames = {
    "duration_s",  "f0_mean_hz",   "f0_std_hz",    "f0_min_hz",      "f0_max_hz",   "voiced_fraction",
    "pitch_confidence", "energy_db_mean", "energy_db_std", "energy_db_max", "mfcc1", "mfcc2", "mfcc3", "mfcc4",
    "mfcc5", "mfcc6", "mfcc7", "mfcc8", "mfcc9", "mfcc10", "mfcc11", "mfcc12", "spectral_centroid_hz",
    "spectral_rolloff85_hz", "spectral_flatness", "zero_crossing_rate"};
const std::vector<std::string> kFrameFeatureNames = {"f0_hz", "voiced_fraction", "energy_db", "mfcc1", "mfcc2",
                                                     "mfcc3", "mfcc4", "mfcc5", "mfcc6", "mfcc7", "mfcc8",
                                                     "mfcc9", "mfcc10", "mfcc11", "mfcc12"};

namespace {

constexpr int kSampleRate = 22050;
constexpr std::int64_t kFramesPerUnaligned = 4;  // 4 x 10 ms = 40 ms frames in the unaligned file
constexpr int kPitchBuffer = 1024;

std::vector<std::string> split_ws(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

// Gaussian draws from a 64-bit Mersenne twister (Box-Muller), the same on every platform.
struct Rng {
  std::mt19937_64 gen;
  explicit Rng(std::uint64_t seed) : gen(seed) {}
  double uniform() { return (static_cast<double>(gen() >> 11) + 0.5) * (1.0 / 9007199254740992.0); }
  double normal() {
    const double u1 = uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }
  std::int64_t below(std::int64_t n) { return static_cast<std::int64_t>(uniform() * static_cast<double>(n)); }
};

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// ------------------------------------------------------------------ espeak-ng
struct EspeakState {
  std::vector<short> samples;
  struct Event {
    int text_position;  // 1-based, in characters
    std::int64_t sample;
    bool end;
  };
  std::vector<Event> events;
};
EspeakState g_espeak;

int synth_callback(short* wav, int n, espeak_EVENT* ev) {
  if (wav != nullptr && n > 0) g_espeak.samples.insert(g_espeak.samples.end(), wav, wav + n);
  for (; ev != nullptr && ev->type != espeakEVENT_LIST_TERMINATED; ++ev) {
    if (ev->type == espeakEVENT_WORD)
      g_espeak.events.push_back({ev->text_position, static_cast<std::int64_t>(ev->sample), false});
    else if (ev->type == espeakEVENT_END || ev->type == espeakEVENT_MSG_TERMINATED)
      g_espeak.events.push_back({ev->text_position, static_cast<std::int64_t>(ev->sample), true});
  }
  return 0;
}

void init_espeak() {
  static bool done = false;
  if (done) return;
  const int rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, nullptr, 0);
  FG_CHECK(rate == kSampleRate, "reviews: espeak_Initialize failed or gave {} Hz (expected {}): is espeak-ng-data "
                                "installed (apt-get install espeak-ng)?", rate, kSampleRate);
  espeak_SetSynthCallback(synth_callback);
  done = true;
}

// ------------------------------------------------------------------ CSV
std::vector<std::string> parse_csv_line(const std::string& line, const std::string& where) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i <= line.size()) {
    std::string field;
    if (i < line.size() && line[i] == '"') {
      ++i;
      for (;;) {
        FG_CHECK(i < line.size(), "{}: unterminated quoted field", where);
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field += '"';
            i += 2;
          } else {
            ++i;
            break;
          }
        } else {
          field += line[i++];
        }
      }
    } else {
      while (i < line.size() && line[i] != ',') field += line[i++];
    }
    out.push_back(field);
    if (i >= line.size()) break;
    FG_CHECK(line[i] == ',', "{}: expected ',' after a field at column {}", where, i + 1);
    ++i;
  }
  return out;
}

template <class T>
void put(std::ostream& o, const T& v) { o.write(reinterpret_cast<const char*>(&v), sizeof(T)); }
template <class T>
T get(std::istream& in) {
  T v{};
  in.read(reinterpret_cast<char*>(&v), sizeof(T));
  FG_CHECK(in.good(), "reviews: a worker's output file is truncated");
  return v;
}

}  // namespace

// ------------------------------------------------------------------ sources
std::vector<Sentence> read_sentences(const std::string& csv_path) {
  std::ifstream f(csv_path);
  FG_CHECK(f.good(), "reviews: cannot open '{}' (run tools/text_sources.sh, which tools/setup.sh runs)", csv_path);
  std::vector<Sentence> out;
  std::string line;
  std::int64_t row = 0;
  while (std::getline(f, line)) {
    if (row == 0 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::string where = fmt::format("{}: row {}", csv_path, row + 1);
    const auto fields = parse_csv_line(line, where);
    FG_CHECK(fields.size() == 2, "{}: expected 2 fields (\"label\",\"text\"), got {}", where, fields.size());
    FG_CHECK(fields[0] == "1" || fields[0] == "-1", "{}: label must be 1 or -1, got '{}'", where, fields[0]);
    FG_CHECK(!split_ws(fields[1]).empty(), "{}: empty text", where);
    out.push_back({row, fields[0] == "1" ? 1 : -1, fields[1]});
    ++row;
  }
  FG_CHECK(!out.empty(), "reviews: '{}' has no rows", csv_path);
  return out;
}

Lexicon read_vader_lexicon(const std::string& path) {
  std::ifstream f(path);
  FG_CHECK(f.good(), "reviews: cannot open '{}' (run tools/text_sources.sh)", path);
  Lexicon lex;
  std::string line;
  std::int64_t n = 0;
  while (std::getline(f, line)) {
    ++n;
    if (line.empty()) continue;
    const auto tab = line.find('\t');
    FG_CHECK(tab != std::string::npos && tab > 0, "{}: line {}: expected token<TAB>valence...", path, n);
    const auto tab2 = line.find('\t', tab + 1);
    const std::string v = line.substr(tab + 1, tab2 == std::string::npos ? std::string::npos : tab2 - tab - 1);
    char* end = nullptr;
    const double val = std::strtod(v.c_str(), &end);
    FG_CHECK(end != v.c_str() && std::isfinite(val) && val >= -4 && val <= 4,
             "{}: line {}: valence '{}' is not a number in [-4, 4]", path, n, v);
    lex.valence[line.substr(0, tab)] = val;
  }
  FG_CHECK(!lex.valence.empty(), "reviews: '{}' has no entries", path);
  return lex;
}

double lexical_intensity(const std::string& text, const Lexicon& lex, std::int64_t* count) {
  double sum = 0;
  std::int64_t n = 0;
  for (const auto& w : split_ws(text)) {
    const auto it = lex.valence.find(w);
    if (it == lex.valence.end()) continue;
    sum += std::fabs(it->second);
    ++n;
  }
  if (count != nullptr) *count = n;
  return n > 0 ? sum / static_cast<double>(n) : 0.0;
}

// ------------------------------------------------------------------ speech
Speech speak(const std::string& text, const Voice& voice) {
  init_espeak();
  FG_CHECK(espeak_SetVoiceByName(voice.name.c_str()) == EE_OK, "reviews: espeak-ng has no voice '{}'", voice.name);
  espeak_SetParameter(espeakRATE, voice.rate, 0);
  espeak_SetParameter(espeakPITCH, voice.pitch, 0);
  espeak_SetParameter(espeakRANGE, voice.range, 0);
  espeak_SetParameter(espeakVOLUME, voice.volume, 0);
  g_espeak.samples.clear();
  g_espeak.events.clear();
  const espeak_ERROR rc = espeak_Synth(text.c_str(), text.size() + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8,
                                       nullptr, nullptr);
  FG_CHECK(rc == EE_OK, "reviews: espeak_Synth failed ({}) on '{}'", static_cast<int>(rc), text);
  espeak_Synchronize();

  Speech sp;
  sp.sample_rate = kSampleRate;
  sp.samples.resize(g_espeak.samples.size());
  for (std::size_t i = 0; i < sp.samples.size(); ++i) sp.samples[i] = static_cast<float>(g_espeak.samples[i]) / 32768.0f;
  const auto total = static_cast<std::int64_t>(sp.samples.size());

  // Whitespace tokens with their character ranges (1-based positions as espeak-ng counts them).
  const std::u32string chars = utf8_decode(text);
  struct Tok {
    std::int64_t first, last;  // 1-based, inclusive
    std::int64_t start = -1;   // first event's sample
  };
  std::vector<Tok> toks;
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(chars.size());) {
    while (i < static_cast<std::int64_t>(chars.size()) && (chars[i] == U' ' || chars[i] == U'\t' || chars[i] == U'\n')) ++i;
    const std::int64_t b = i;
    while (i < static_cast<std::int64_t>(chars.size()) && !(chars[i] == U' ' || chars[i] == U'\t' || chars[i] == U'\n')) ++i;
    if (i > b) toks.push_back({b + 1, i, -1});
  }
  std::int64_t end_sample = total;
  for (const auto& ev : g_espeak.events) {
    if (ev.end) {
      end_sample = std::min<std::int64_t>(total, std::max<std::int64_t>(0, ev.sample));
      continue;
    }
    for (auto& t : toks)
      if (ev.text_position >= t.first && ev.text_position <= t.last) {
        if (t.start < 0) t.start = std::clamp<std::int64_t>(ev.sample, 0, total);
        break;
      }
  }
  // A token is a word when it has a letter or digit (punctuation and quotes are not spoken).
  // espeak-ng sometimes joins short words into one phonological word with one event ("to be"):
  // a word without an event shares the span of the evented word before it, split in proportion
  // to the characters (a word before the first event takes the first one's).
  auto is_word = [&](const Tok& t) {
    for (std::int64_t c = t.first; c <= t.last; ++c) {
      const char32_t ch = chars[static_cast<std::size_t>(c - 1)];
      if ((ch >= U'0' && ch <= U'9') || (ch >= U'a' && ch <= U'z') || (ch >= U'A' && ch <= U'Z') || ch > 127) return true;
    }
    return false;
  };
  struct Group {
    std::int64_t start;
    std::vector<const Tok*> toks;
  };
  std::vector<Group> groups;
  std::vector<const Tok*> pending;  // words before the first event
  for (const auto& t : toks) {
    if (!is_word(t)) continue;
    if (t.start >= 0 && (groups.empty() || t.start >= groups.back().start)) {
      groups.push_back({t.start, pending});
      pending.clear();
      groups.back().toks.push_back(&t);
    } else if (groups.empty()) {
      pending.push_back(&t);
    } else {
      groups.back().toks.push_back(&t);
    }
  }
  for (std::size_t k = 0; k < groups.size(); ++k) {
    const Group& g = groups[k];
    std::int64_t next = k + 1 < groups.size() ? groups[k + 1].start : end_sample;
    next = std::max(next, g.start);
    // Trim the trailing pause (a comma's, the sentence end's): keep 10 ms after the last sample above -54 dBFS.
    std::int64_t last = next - 1;
    while (last > g.start && std::fabs(sp.samples[static_cast<std::size_t>(last)]) < 0.002f) --last;
    std::int64_t end = std::min(next, last + 1 + kSampleRate / 100);
    if (end <= g.start) end = std::min(total, g.start + 1);
    std::int64_t nchar = 0;
    for (const Tok* t : g.toks) nchar += t->last - t->first + 1;
    std::int64_t acc = 0;
    for (const Tok* t : g.toks) {
      WordSpan w;
      w.word = utf8_encode(chars.substr(static_cast<std::size_t>(t->first - 1), static_cast<std::size_t>(t->last - t->first + 1)));
      w.begin = g.start + (end - g.start) * acc / nchar;
      acc += t->last - t->first + 1;
      w.end = g.start + (end - g.start) * acc / nchar;
      if (w.end <= w.begin) w.end = std::min(total, w.begin + 1);
      if (w.end > w.begin) sp.words.push_back(std::move(w));
    }
  }
  return sp;
}

// ------------------------------------------------------------------ acoustic features
Acoustics acoustic_features(const Speech& sp) {
  audio::MfccConfig cfg;
  cfg.sample_rate = sp.sample_rate;
  cfg.frame_ms = 20.0;
  cfg.hop_ms = 10.0;
  cfg.high_hz = 8000.0;
  cfg.num_filters = 26;
  cfg.num_coeffs = 12;
  cfg.validate();
  const std::int64_t L = cfg.frame_length(), H = cfg.hop_length(), N = cfg.fft_length();
  const audio::Frames mf = audio::mfcc(sp.samples, cfg);
  const audio::Frames pw = audio::power_frames(sp.samples, cfg);
  const std::int64_t F = mf.num_frames;
  FG_CHECK(F >= 1, "reviews: an utterance of {} samples is shorter than one frame", sp.samples.size());

  // aubio's pitch: hop H, window 1024; step i ends at sample (i + 1) H, its window centre is
  // (i + 1) H - 512, so frame f (centre f H + L / 2) reads step f + 2 (within 3 ms at 22,050 Hz).
  std::vector<float> f0(static_cast<std::size_t>(F), 0.0f), conf(static_cast<std::size_t>(F), 0.0f);
  {
    aubio_pitch_t* o = new_aubio_pitch("yinfast", kPitchBuffer, static_cast<uint_t>(H), static_cast<uint_t>(sp.sample_rate));
    FG_CHECK(o != nullptr, "reviews: aubio's new_aubio_pitch(yinfast) failed");
    aubio_pitch_set_unit(o, "Hz");
    aubio_pitch_set_silence(o, -60.0f);
    fvec_t* in = new_fvec(static_cast<uint_t>(H));
    fvec_t* out = new_fvec(1);
    const std::int64_t steps = F + 3;
    for (std::int64_t i = 0; i < steps; ++i) {
      for (std::int64_t j = 0; j < H; ++j) {
        const std::int64_t s = i * H + j;
        in->data[j] = s < static_cast<std::int64_t>(sp.samples.size()) ? sp.samples[static_cast<std::size_t>(s)] : 0.0f;
      }
      aubio_pitch_do(o, in, out);
      const std::int64_t f = i - 2;
      if (f >= 0 && f < F) {
        f0[static_cast<std::size_t>(f)] = out->data[0];
        conf[static_cast<std::size_t>(f)] = aubio_pitch_get_confidence(o);
      }
    }
    del_fvec(in);
    del_fvec(out);
    del_aubio_pitch(o);
  }
  // Per 10 ms frame: voicing, energy, spectral shape, zero crossings.
  const std::int64_t K = N / 2 + 1;
  const double df = static_cast<double>(sp.sample_rate) / static_cast<double>(N);
  std::vector<float> voiced(F), edb(F), cen(F), roll(F), flat(F), zcr(F);
  for (std::int64_t f = 0; f < F; ++f) {
    const double hz = f0[f];
    voiced[f] = (hz >= 50.0 && hz <= 500.0 && conf[f] >= 0.8f) ? 1.0f : 0.0f;
    double e = 0;
    std::int64_t zc = 0;
    for (std::int64_t j = 0; j < L; ++j) {
      const double x = sp.samples[static_cast<std::size_t>(f * H + j)];
      e += x * x;
      if (j > 0 && (sp.samples[static_cast<std::size_t>(f * H + j - 1)] >= 0) != (x >= 0)) ++zc;
    }
    edb[f] = static_cast<float>(10.0 * std::log10(e / static_cast<double>(L) + 1e-10));
    zcr[f] = static_cast<float>(zc) / static_cast<float>(L - 1);
    double sum = 0, wsum = 0, logsum = 0;
    for (std::int64_t k = 1; k < K; ++k) {
      const double p = pw.at(f, k) + 1e-12;
      sum += p;
      wsum += p * k * df;
      logsum += std::log(p);
    }
    cen[f] = static_cast<float>(wsum / sum);
    flat[f] = static_cast<float>(std::exp(logsum / static_cast<double>(K - 1)) / (sum / static_cast<double>(K - 1)));
    double acc = 0;
    std::int64_t k85 = K - 1;
    for (std::int64_t k = 1; k < K; ++k) {
      acc += pw.at(f, k) + 1e-12;
      if (acc >= 0.85 * sum) {
        k85 = k;
        break;
      }
    }
    roll[f] = static_cast<float>(k85 * df);
  }

  Acoustics a;
  const std::int64_t D = static_cast<std::int64_t>(kWordFeatureNames.size());
  for (const auto& w : sp.words) {
    std::vector<std::int64_t> frames;
    for (std::int64_t f = 0; f < F; ++f) {
      const std::int64_t c = f * H + L / 2;
      if (c >= w.begin && c < w.end) frames.push_back(f);
    }
    if (frames.empty())
      frames.push_back(std::clamp<std::int64_t>(((w.begin + w.end) / 2 - L / 2) / H, 0, F - 1));
    std::vector<float> v(static_cast<std::size_t>(D), 0.0f);
    v[0] = static_cast<float>(w.end - w.begin) / static_cast<float>(sp.sample_rate);
    double s = 0, s2 = 0, mn = 1e9, mx = 0, nv = 0, cf = 0, es = 0, es2 = 0, emax = -1e9;
    std::vector<double> mfm(12, 0.0);
    double c_sum = 0, r_sum = 0, fl_sum = 0, z_sum = 0;
    for (const auto f : frames) {
      if (voiced[f] > 0) {
        s += f0[f];
        s2 += double(f0[f]) * f0[f];
        mn = std::min<double>(mn, f0[f]);
        mx = std::max<double>(mx, f0[f]);
        ++nv;
      }
      cf += conf[f];
      es += edb[f];
      es2 += double(edb[f]) * edb[f];
      emax = std::max<double>(emax, edb[f]);
      for (int c = 0; c < 12; ++c) mfm[c] += mf.at(f, c);
      c_sum += cen[f];
      r_sum += roll[f];
      fl_sum += flat[f];
      z_sum += zcr[f];
    }
    const double n = static_cast<double>(frames.size());
    if (nv > 0) {
      const double m = s / nv;
      v[1] = static_cast<float>(m);
      v[2] = static_cast<float>(std::sqrt(std::max(0.0, s2 / nv - m * m)));
      v[3] = static_cast<float>(mn);
      v[4] = static_cast<float>(mx);
    }
    v[5] = static_cast<float>(nv / n);
    v[6] = static_cast<float>(cf / n);
    const double em = es / n;
    v[7] = static_cast<float>(em);
    v[8] = static_cast<float>(std::sqrt(std::max(0.0, es2 / n - em * em)));
    v[9] = static_cast<float>(emax);
    for (int c = 0; c < 12; ++c) v[10 + c] = static_cast<float>(mfm[c] / n);
    v[22] = static_cast<float>(c_sum / n);
    v[23] = static_cast<float>(r_sum / n);
    v[24] = static_cast<float>(fl_sum / n);
    v[25] = static_cast<float>(z_sum / n);
    a.words.insert(a.words.end(), v.begin(), v.end());
  }
  // 40 ms frames for the unaligned file.
  const std::int64_t G = (F + kFramesPerUnaligned - 1) / kFramesPerUnaligned;
  const std::int64_t Df = static_cast<std::int64_t>(kFrameFeatureNames.size());
  a.num_frames = G;
  a.frames.assign(static_cast<std::size_t>(G * Df), 0.0f);
  for (std::int64_t g = 0; g < G; ++g) {
    const std::int64_t f0i = g * kFramesPerUnaligned, f1 = std::min(F, f0i + kFramesPerUnaligned);
    double s = 0, nv = 0, e = 0;
    std::vector<double> m(12, 0.0);
    for (std::int64_t f = f0i; f < f1; ++f) {
      if (voiced[f] > 0) {
        s += f0[f];
        ++nv;
      }
      e += edb[f];
      for (int c = 0; c < 12; ++c) m[c] += mf.at(f, c);
    }
    const double n = static_cast<double>(f1 - f0i);
    float* o = &a.frames[static_cast<std::size_t>(g * Df)];
    o[0] = nv > 0 ? static_cast<float>(s / nv) : 0.0f;
    o[1] = static_cast<float>(nv / n);
    o[2] = static_cast<float>(e / n);
    for (int c = 0; c < 12; ++c) o[3 + c] = static_cast<float>(m[c] / n);
  }
  return a;
}

// ------------------------------------------------------------------ the builder
namespace {

struct Utt {
  std::int64_t index = 0;
  std::int64_t num_samples = 0;
  std::vector<WordSpan> words;
  Acoustics acoustics;
};

void write_utt(std::ostream& o, const Utt& u) {
  put(o, u.index);
  put(o, u.num_samples);
  put(o, static_cast<std::int64_t>(u.words.size()));
  for (const auto& w : u.words) {
    put(o, static_cast<std::int64_t>(w.word.size()));
    o.write(w.word.data(), static_cast<std::streamsize>(w.word.size()));
    put(o, w.begin);
    put(o, w.end);
  }
  put(o, static_cast<std::int64_t>(u.acoustics.words.size()));
  o.write(reinterpret_cast<const char*>(u.acoustics.words.data()), static_cast<std::streamsize>(u.acoustics.words.size() * 4));
  put(o, u.acoustics.num_frames);
  put(o, static_cast<std::int64_t>(u.acoustics.frames.size()));
  o.write(reinterpret_cast<const char*>(u.acoustics.frames.data()), static_cast<std::streamsize>(u.acoustics.frames.size() * 4));
}

Utt read_utt(std::istream& in) {
  Utt u;
  u.index = get<std::int64_t>(in);
  u.num_samples = get<std::int64_t>(in);
  const auto W = get<std::int64_t>(in);
  for (std::int64_t k = 0; k < W; ++k) {
    WordSpan w;
    w.word.resize(static_cast<std::size_t>(get<std::int64_t>(in)));
    in.read(w.word.data(), static_cast<std::streamsize>(w.word.size()));
    w.begin = get<std::int64_t>(in);
    w.end = get<std::int64_t>(in);
    u.words.push_back(std::move(w));
  }
  u.acoustics.words.resize(static_cast<std::size_t>(get<std::int64_t>(in)));
  in.read(reinterpret_cast<char*>(u.acoustics.words.data()), static_cast<std::streamsize>(u.acoustics.words.size() * 4));
  u.acoustics.num_frames = get<std::int64_t>(in);
  u.acoustics.frames.resize(static_cast<std::size_t>(get<std::int64_t>(in)));
  in.read(reinterpret_cast<char*>(u.acoustics.frames.data()), static_cast<std::streamsize>(u.acoustics.frames.size() * 4));
  FG_CHECK(in.good(), "reviews: a worker's output file is truncated");
  return u;
}

const std::vector<std::string> kVoices = {"en-us", "en", "en-gb-x-rp", "en-gb-scotland", "en-029", "en-gb-x-gbclan"};
const std::vector<std::string> kVariants = {"m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5"};

// fastText vectors of `words`, by running `fasttext print-word-vectors model` on them.
std::vector<float> fasttext_vectors(const BuildConfig& cfg, const std::vector<std::string>& words, const std::string& tmp) {
  const std::string in = tmp + "/words.txt", out = tmp + "/vectors.txt";
  {
    std::ofstream f(in);
    for (const auto& w : words) f << w << '\n';
  }
  const std::string cmd = fmt::format("'{}' print-word-vectors '{}' < '{}' > '{}'", cfg.fasttext_bin,
                                      cfg.fasttext_model, in, out);
  FG_CHECK(std::system(cmd.c_str()) == 0, "reviews: '{}' failed (is Debian's fasttext installed? apt-get install fasttext)",
           cmd);
  std::ifstream f(out);
  std::vector<float> v;
  v.reserve(words.size() * static_cast<std::size_t>(cfg.text_dim));
  std::string line;
  std::size_t n = 0;
  while (std::getline(f, line)) {
    std::istringstream ls(line);
    std::string w;
    ls >> w;
    for (std::int64_t d = 0; d < cfg.text_dim; ++d) {
      float x = 0;
      FG_CHECK(static_cast<bool>(ls >> x), "reviews: fasttext's vector of word {} ('{}') has fewer than {} numbers", n,
               w, cfg.text_dim);
      v.push_back(std::isfinite(x) ? x : 0.0f);
    }
    ++n;
  }
  FG_CHECK(n == words.size(), "reviews: fasttext printed {} vectors for {} words", n, words.size());
  return v;
}

}  // namespace

BuildStats build_corpus(const BuildConfig& cfg) {
  const auto t0 = std::chrono::steady_clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  auto say = [&](const std::string& s) {
    if (!cfg.quiet) fmt::print("reviews: [{:6.1f} s] {}\n", seconds(), s);
    std::fflush(stdout);
  };
  FG_CHECK(cfg.jobs >= 1 && cfg.max_words >= 1 && cfg.max_frames >= 1 && cfg.speakers >= 1,
           "reviews: jobs, max_words, max_frames and speakers must be >= 1");
  const fs::path src(cfg.sources);
  auto all = read_sentences((src / "pang_lee_sentences.csv").string());
  const Lexicon lex = read_vader_lexicon((src / "vader_lexicon.txt").string());
  const std::string vocab = (src / "bert-base-uncased" / "vocab.txt").string();
  FG_CHECK(fs::exists(vocab), "reviews: '{}' is missing (run tools/text_sources.sh)", vocab);
  const WordPieceTokenizer tok = WordPieceTokenizer::from_file(vocab);

  std::vector<Sentence> sents;
  if (cfg.limit > 0) {
    std::int64_t np = 0, nn = 0;
    for (auto& s : all)
      if ((s.polarity > 0 ? np : nn)++ < cfg.limit) sents.push_back(s);
  } else {
    sents = all;
  }
  const auto N = static_cast<std::int64_t>(sents.size());
  say(fmt::format("{} sentences, {} lexicon entries", N, lex.valence.size()));

  // --- labels and voices (steps 1-5), all from the seed, in row order
  Rng rng(derive_seed(cfg.seed, 101));
  std::vector<double> L(N), ystar(N), a(N);
  std::vector<float> labels(N);
  std::vector<std::int64_t> lex_count(N);
  double lm = 0, ls = 0;
  std::int64_t nfound = 0;
  for (std::int64_t i = 0; i < N; ++i) {
    L[i] = lexical_intensity(sents[i].text, lex, &lex_count[i]);
    if (lex_count[i] > 0) {
      lm += L[i];
      ls += L[i] * L[i];
      ++nfound;
    }
  }
  lm = nfound > 0 ? lm / nfound : 0.0;
  const double lsd = nfound > 1 ? std::sqrt(std::max(1e-12, ls / nfound - lm * lm)) : 1.0;
  BuildStats st;
  struct Speaker {
    std::string voice;
    double pitch, rate;
  };
  std::vector<Speaker> speakers;
  Rng srng(derive_seed(cfg.seed, 102));
  for (std::int64_t k = 0; k < cfg.speakers; ++k)
    speakers.push_back({kVoices[srng.below(static_cast<std::int64_t>(kVoices.size()))] + "+" +
                            kVariants[srng.below(static_cast<std::int64_t>(kVariants.size()))],
                        35.0 + 30.0 * srng.uniform(), 150.0 + 35.0 * srng.uniform()});
  std::vector<Voice> voices(N);
  std::vector<std::int64_t> speaker_of(N);
  const double w_lex = cfg.lexical_weight, w_lat = std::sqrt(std::max(0.0, 1.0 - w_lex * w_lex));
  for (std::int64_t i = 0; i < N; ++i) {
    const double zl = lex_count[i] > 0 ? (L[i] - lm) / lsd : 0.0;
    if (lex_count[i] == 0) ++st.no_lexicon_words;
    const double u = rng.normal();
    a[i] = normal_cdf(w_lex * zl + w_lat * u);
    const int p = sents[i].polarity;
    ystar[i] = p * (0.5 + 2.5 * a[i]);
    double sum = 0;
    for (int k = 0; k < 3; ++k)
      sum += p * std::clamp(std::nearbyint(std::fabs(ystar[i]) + cfg.annotator_sd * rng.normal()), 0.0, 3.0);
    labels[i] = static_cast<float>(sum == 0 ? p / 3.0 : sum / 3.0);
    speaker_of[i] = rng.below(cfg.speakers);
    const Speaker& sp = speakers[speaker_of[i]];
    Voice& v = voices[i];
    v.name = sp.voice;
    v.rate = static_cast<int>(std::lround(std::clamp(sp.rate + 40.0 * (a[i] - 0.5), 80.0, 450.0)));
    v.pitch = static_cast<int>(std::lround(std::clamp(sp.pitch + 20.0 * (a[i] - 0.5) + 6.0 * p, 0.0, 99.0)));
    v.range = static_cast<int>(std::lround(std::clamp(30.0 + 60.0 * a[i], 0.0, 99.0)));
    v.volume = static_cast<int>(std::lround(std::clamp(60.0 + 80.0 * a[i], 0.0, 200.0)));
  }

  // --- speech and acoustic features (steps 6-7), in cfg.jobs processes
  fs::create_directories(cfg.out_dir);
  const fs::path tmp = fs::path(cfg.out_dir) / fmt::format(".build-{}", ::getpid());
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  const double t_speak = seconds();
  auto work = [&](int k) {
    std::ofstream o(tmp / fmt::format("shard{}.bin", k), std::ios::binary);
    for (std::int64_t i = k; i < N; i += cfg.jobs) {
      Utt u;
      u.index = i;
      Speech sp = speak(sents[i].text, voices[i]);
      FG_CHECK(!sp.words.empty(), "reviews: espeak-ng reported no word for row {} ('{}')", sents[i].row, sents[i].text);
      if (static_cast<std::int64_t>(sp.words.size()) > cfg.max_words) sp.words.resize(static_cast<std::size_t>(cfg.max_words));
      u.num_samples = static_cast<std::int64_t>(sp.samples.size());
      u.acoustics = acoustic_features(sp);
      u.words = sp.words;
      write_utt(o, u);
    }
    o.flush();
    FG_CHECK(o.good(), "reviews: cannot write the worker file in {}", tmp.string());
  };
  if (cfg.jobs == 1) {
    work(0);
  } else {
    std::fflush(stdout);
    std::vector<pid_t> pids;
    for (int k = 0; k < cfg.jobs; ++k) {
      const pid_t pid = ::fork();
      FG_CHECK(pid >= 0, "reviews: fork failed");
      if (pid == 0) {
        int rc = 0;
        try {
          work(k);
        } catch (const std::exception& e) {
          std::fprintf(stderr, "reviews: worker %d: %s\n", k, e.what());
          rc = 1;
        }
        std::fflush(nullptr);
        ::_exit(rc);
      }
      pids.push_back(pid);
    }
    bool ok = true;
    for (const pid_t pid : pids) {
      int status = 0;
      ::waitpid(pid, &status, 0);
      ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    FG_CHECK(ok, "reviews: a speech worker failed (see above)");
  }
  std::vector<Utt> utts(N);
  for (int k = 0; k < cfg.jobs; ++k) {
    std::ifstream in(tmp / fmt::format("shard{}.bin", k), std::ios::binary);
    for (std::int64_t i = k; i < N; i += cfg.jobs) {
      Utt u = read_utt(in);
      FG_CHECK(u.index == i, "reviews: worker {} wrote utterance {} where {} was expected", k, u.index, i);
      utts[i] = std::move(u);
    }
  }
  st.speak_seconds = seconds() - t_speak;
  for (const auto& u : utts) {
    st.audio_seconds += static_cast<double>(u.num_samples) / kSampleRate;
    st.words += static_cast<std::int64_t>(u.words.size());
    if (u.acoustics.num_frames > cfg.max_frames) ++st.frames_truncated;
  }
  for (std::int64_t i = 0; i < N; ++i)
    if (static_cast<std::int64_t>(split_ws(sents[i].text).size()) > 0 && static_cast<std::int64_t>(utts[i].words.size()) == cfg.max_words)
      ++st.truncated;
  say(fmt::format("speech and features: {:.0f} s of audio, {} words ({:.1f} s, {} processes)", st.audio_seconds,
                  st.words, st.speak_seconds, cfg.jobs));

  // --- text vectors (step 9)
  std::vector<std::string> uniq;
  {
    std::unordered_map<std::string, std::int64_t> seen;
    for (const auto& u : utts)
      for (const auto& w : u.words)
        if (seen.emplace(w.word, 0).second) uniq.push_back(w.word);
  }
  std::unordered_map<std::string, std::int64_t> word_id;
  for (std::size_t k = 0; k < uniq.size(); ++k) word_id[uniq[k]] = static_cast<std::int64_t>(k);
  std::vector<float> vecs;
  if (!cfg.fasttext_model.empty()) {
    vecs = fasttext_vectors(cfg, uniq, tmp.string());
    say(fmt::format("fastText vectors for {} word types", uniq.size()));
  } else {
    vecs.assign(uniq.size() * static_cast<std::size_t>(cfg.text_dim), 0.0f);
  }

  // --- visual (step 8): data/synthetic's generator, rank-matched on the score
  constexpr std::int64_t kVisualSteps = 64;
  SyntheticConfig sc;
  sc.seed = derive_seed(cfg.seed, 103);
  sc.train_size = N;
  sc.valid_size = 1;
  sc.test_size = 1;
  sc.min_steps = sc.max_steps = kVisualSteps;
  sc.modalities = {SyntheticConfig::default_modalities()[2]};  // visual: 20 features, factors {2, 4, 5}
  const SyntheticDataset syn = make_synthetic_dataset(sc);
  const auto syn_score = syn.train_truth.score.to_vector<float>();
  const auto syn_vis = syn.data.train.features[0].to_vector<float>();
  const std::int64_t Dv = syn.data.train.features[0].size(2);
  std::vector<std::int64_t> ours(N), theirs(N), match(N);
  std::iota(ours.begin(), ours.end(), 0);
  std::iota(theirs.begin(), theirs.end(), 0);
  std::stable_sort(ours.begin(), ours.end(), [&](auto x, auto y) { return ystar[x] < ystar[y]; });
  std::stable_sort(theirs.begin(), theirs.end(), [&](auto x, auto y) { return syn_score[x] < syn_score[y]; });
  for (std::int64_t r = 0; r < N; ++r) match[ours[r]] = theirs[r];

  // --- splits: 70 / 10 / 20 per polarity
  std::vector<int> split_of(N, 0);
  Rng prng(derive_seed(cfg.seed, 104));
  for (int p : {1, -1}) {
    std::vector<std::int64_t> idx;
    for (std::int64_t i = 0; i < N; ++i)
      if (sents[i].polarity == p) idx.push_back(i);
    for (std::int64_t k = static_cast<std::int64_t>(idx.size()) - 1; k > 0; --k) std::swap(idx[k], idx[prng.below(k + 1)]);
    const auto n = static_cast<std::int64_t>(idx.size());
    // 70 / 10 / 20, at least one sentence in valid and test (a small --limit keeps three splits)
    const std::int64_t nte = std::max<std::int64_t>(1, std::llround(0.2 * n)),
                       nva = std::max<std::int64_t>(1, std::llround(0.1 * n)), ntr = n - nva - nte;
    FG_CHECK(ntr >= 1, "reviews: {} sentences of polarity {} are too few for three splits (need 3)", n, p);
    for (std::int64_t k = 0; k < n; ++k) split_of[idx[k]] = k < ntr ? 0 : (k < ntr + nva ? 1 : 2);
  }

  // --- assemble both files
  const std::int64_t Da = static_cast<std::int64_t>(kWordFeatureNames.size());
  const std::int64_t Df = static_cast<std::int64_t>(kFrameFeatureNames.size());
  std::int64_t T = 1, Tf = 1, Lt = 3;
  std::vector<Encoding> enc_probe(N);
  std::vector<std::string> raw(N);
  for (std::int64_t i = 0; i < N; ++i) {
    T = std::max<std::int64_t>(T, static_cast<std::int64_t>(utts[i].words.size()));
    Tf = std::max(Tf, std::min(cfg.max_frames, utts[i].acoustics.num_frames));
    std::string r;
    for (const auto& w : utts[i].words) {
      if (!r.empty()) r.push_back(' ');
      r.append(w.word);
    }
    raw[i] = r;
    Lt = std::max<std::int64_t>(Lt, static_cast<std::int64_t>(tok.tokenize(r).size()) + 2);
  }
  Lt = std::min<std::int64_t>(Lt, 512);
  MultimodalDataset al, un;
  const char* names[3] = {"train", "valid", "test"};
  for (int s = 0; s < 3; ++s) {
    std::vector<std::int64_t> rows;
    for (std::int64_t i = 0; i < N; ++i)
      if (split_of[i] == s) rows.push_back(i);
    const auto n = static_cast<std::int64_t>(rows.size());
    std::vector<float> text(n * T * cfg.text_dim, 0.0f), ac(n * T * Da, 0.0f), vis(n * T * Dv, 0.0f),
        fr(n * Tf * Df, 0.0f), bert(n * Lt * 3, 0.0f), lab(n);
    std::vector<std::int64_t> len(n), flen(n), blen(n);
    std::vector<std::string> ids(n), rt(n);
    for (std::int64_t r = 0; r < n; ++r) {
      const std::int64_t i = rows[r];
      const Utt& u = utts[i];
      const auto W = static_cast<std::int64_t>(u.words.size());
      len[r] = W;
      lab[r] = labels[i];
      ids[r] = fmt::format("rt{:04d}", sents[i].row);
      rt[r] = raw[i];
      for (std::int64_t t = 0; t < W; ++t) {
        const std::int64_t wid = word_id.at(u.words[t].word);
        std::copy_n(&vecs[wid * cfg.text_dim], cfg.text_dim, &text[(r * T + t) * cfg.text_dim]);
        std::copy_n(&u.acoustics.words[t * Da], Da, &ac[(r * T + t) * Da]);
        const std::int64_t st_ = std::min<std::int64_t>(kVisualSteps - 1, (2 * t + 1) * kVisualSteps / (2 * W));
        std::copy_n(&syn_vis[(match[i] * kVisualSteps + st_) * Dv], Dv, &vis[(r * T + t) * Dv]);
      }
      flen[r] = std::min(cfg.max_frames, u.acoustics.num_frames);
      std::copy_n(u.acoustics.frames.data(), flen[r] * Df, &fr[r * Tf * Df]);
      const Encoding e = tok.encode(raw[i], Lt);
      std::int64_t nb = 0;
      for (std::int64_t t = 0; t < Lt; ++t) {
        bert[(r * Lt + t) * 3 + 0] = static_cast<float>(e.input_ids[t]);
        bert[(r * Lt + t) * 3 + 1] = static_cast<float>(e.attention_mask[t]);
        bert[(r * Lt + t) * 3 + 2] = static_cast<float>(e.token_type_ids[t]);
        nb += e.attention_mask[t];
      }
      blen[r] = nb;
    }
    MultimodalSplit& A = s == 0 ? al.train : (s == 1 ? al.valid : al.test);
    MultimodalSplit& U = s == 0 ? un.train : (s == 1 ? un.valid : un.test);
    const TensorOptions i64{DType::i64};
    A.name = U.name = names[s];
    A.modality_names = {"text", "acoustic", "visual"};
    A.features = {from_vector(text, {n, T, cfg.text_dim}), from_vector(ac, {n, T, Da}), from_vector(vis, {n, T, Dv})};
    A.lengths = from_vector(len, {n}, i64);
    A.mask = mask_from_lengths(A.lengths, T);
    A.labels = from_vector(lab, {n});
    A.ids = ids;
    A.raw_text = rt;
    U.modality_names = {"text", "text_bert", "acoustic", "visual"};
    U.features = {A.features[0], from_vector(bert, {n, Lt, 3}), from_vector(fr, {n, Tf, Df}), A.features[2]};
    U.modality_lengths = {A.lengths, from_vector(blen, {n}, i64), from_vector(flen, {n}, i64), A.lengths};
    for (std::size_t m = 0; m < U.features.size(); ++m)
      U.modality_masks.push_back(mask_from_lengths(U.modality_lengths[m], U.features[m].size(1)));
    U.labels = A.labels;
    U.ids = ids;
    U.raw_text = rt;
    A.validate();
    U.validate();
  }
  H5WriteOptions wo;
  wo.source = fmt::format(
      "fusegrad reviews corpus (docs/reviews-corpus.md): Pang & Lee sentence polarity v1.0 via Debian python3-pattern "
      "(real text and polarity), VADER lexicon, espeak-ng speech, aubio pitch, fastText on Pang & Lee reviews; "
      "simulated latent, annotators, voices and visual; seed {}, limit {}", cfg.seed, cfg.limit);
  write_h5_dataset((fs::path(cfg.out_dir) / "reviews.h5").string(), al, wo);
  wo.source += "; unaligned: text_bert = WordPiece ids / mask / segments (bert-base-uncased), acoustic = 40 ms frames";
  write_h5_dataset((fs::path(cfg.out_dir) / "reviews_unaligned.h5").string(), un, wo);

  // --- stats.json: what the docs quote
  st.utterances = N;
  st.total_seconds = seconds();
  nlohmann::json j;
  j["utterances"] = N;
  j["splits"] = {al.train.size(), al.valid.size(), al.test.size()};
  j["words"] = st.words;
  j["word_types"] = uniq.size();
  j["max_words"] = T;
  j["truncated_at_max_words"] = st.truncated;
  j["frames_truncated"] = st.frames_truncated;
  j["max_frames"] = Tf;
  j["max_tokens"] = Lt;
  j["no_lexicon_words"] = st.no_lexicon_words;
  j["audio_seconds"] = st.audio_seconds;
  j["speak_seconds"] = st.speak_seconds;
  j["total_seconds"] = st.total_seconds;
  std::map<std::string, std::int64_t> hist;
  for (float l : labels) hist[fmt::format("{:.2f}", l)]++;
  j["label_histogram"] = hist;
  j["word_features"] = kWordFeatureNames;
  j["frame_features"] = kFrameFeatureNames;
  {
    std::ofstream f(fs::path(cfg.out_dir) / "stats.json");
    f << j.dump(1) << '\n';
  }
  fs::remove_all(tmp);
  say(fmt::format("wrote {}/reviews.h5 and reviews_unaligned.h5 ({} / {} / {})", cfg.out_dir, al.train.size(),
                  al.valid.size(), al.test.size()));
  return st;
}

}  // namespace fg::data::reviews
