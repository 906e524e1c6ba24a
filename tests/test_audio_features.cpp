// tests/test_audio_features.cpp: the spoken digits' feature pipeline (data/audio_features.h).
//
// - the power spectrum (FFTW) against a direct O(N^2) DFT, Parseval's identity, and a sine
//   whose energy must sit in its own bin;
// - the mel filterbank's properties (equal mel spacing, triangles that sum to 1 between the
//   first and last centre), the DCT-II's orthonormality;
// - MFCC properties that follow from dropping c_0 (gain invariance, silence = 0);
// - the whole pipeline against an independent numpy implementation
//   (tests/reference/mfcc_numpy.py, numpy.fft), for two configurations;
// - the active-frame midpoint and the fixed 58-frame window on a tone burst with known
//   frames; resampling; WAV reading and writing and every kind of bad WAV.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <numbers>
#include <numeric>

#include "data/audio_features.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "support/data_fixtures.h"

using namespace fg;
using namespace fg::data::audio;
using fg::testing::ScratchDir;

namespace {

constexpr double kPi = std::numbers::pi;

std::vector<float> sine(double hz, double seconds, int rate, double amplitude = 0.5, double phase = 0.3) {
  const auto n = static_cast<std::size_t>(std::llround(seconds * rate));
  std::vector<float> x(n);
  for (std::size_t i = 0; i < n; ++i) x[i] = static_cast<float>(amplitude * std::sin(2 * kPi * hz * i / rate + phase));
  return x;
}

std::vector<float> gaussian(std::int64_t n, std::uint64_t seed, double std = 0.1) {
  Generator gen(seed);
  return randn({n}, gen, f32_opts(), 0.0, std).to_vector<float>();
}

// A signal with content in every band: a 200 -> 3500 Hz chirp plus noise.
std::vector<float> test_signal(int rate, double seconds, std::uint64_t seed) {
  std::vector<float> x = gaussian(std::llround(seconds * rate), seed, 0.02);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double t = static_cast<double>(i) / rate;
    const double f0 = 200.0, f1 = 0.45 * rate;
    x[i] += static_cast<float>(0.4 * std::sin(2 * kPi * (f0 * t + (f1 - f0) * t * t / (2 * seconds))));
  }
  return x;
}

std::vector<double> read_doubles(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path);
  std::vector<double> v;
  double d;
  while (in.read(reinterpret_cast<char*>(&d), sizeof d)) v.push_back(d);
  return v;
}

}  // namespace

TEST_CASE("MfccConfig: 20 ms / 10 ms at 8 kHz is 160 / 80 samples and a 256-point FFT; bad fields are named") {
  MfccConfig cfg;
  CHECK(cfg.frame_length() == 160);
  CHECK(cfg.hop_length() == 80);
  CHECK(cfg.fft_length() == 256);
  CHECK(cfg.upper_hz() == 4000.0);
  CHECK(num_frames(159, cfg) == 0);
  CHECK(num_frames(160, cfg) == 1);
  CHECK(num_frames(239, cfg) == 1);
  CHECK(num_frames(240, cfg) == 2);
  CHECK(num_frames(8000, cfg) == 99);
  MfccConfig bad = cfg;
  bad.num_coeffs = 26;
  CHECK_THROWS_WITH_AS(bad.validate(), doctest::Contains("MfccConfig.num_coeffs"), Error);
  bad = cfg;
  bad.fft_size = 200;
  CHECK_THROWS_WITH_AS(bad.validate(), doctest::Contains("MfccConfig.fft_size"), Error);
  bad = cfg;
  bad.high_hz = 5000;
  CHECK_THROWS_WITH_AS(bad.validate(), doctest::Contains("MfccConfig.low_hz/high_hz"), Error);
  bad = cfg;
  bad.preemphasis = 1.0;
  CHECK_THROWS_WITH_AS(bad.validate(), doctest::Contains("MfccConfig.preemphasis"), Error);
}

TEST_CASE("power spectrum: FFTW equals a direct DFT of the pre-emphasized, Hamming-windowed frames") {
  MfccConfig cfg;
  const std::vector<float> x = gaussian(1000, 11, 0.3);
  const Frames p = power_frames(x, cfg);
  const std::int64_t len = 160, hop = 80, nfft = 256, bins = 129;
  REQUIRE(p.num_frames == 1 + (1000 - len) / hop);
  REQUIRE(p.dim == bins);
  std::vector<double> emph(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) emph[i] = x[i] - (i > 0 ? 0.97 * x[i - 1] : 0.0);
  const std::vector<double> w = hamming(len);
  double worst = 0;
  for (std::int64_t f = 0; f < p.num_frames; ++f)
    for (std::int64_t k = 0; k < bins; ++k) {
      std::complex<double> acc = 0;
      for (std::int64_t i = 0; i < len; ++i)
        acc += emph[f * hop + i] * w[i] * std::polar(1.0, -2 * kPi * static_cast<double>(k * i) / nfft);
      const double ref = std::norm(acc) / nfft;
      worst = std::max(worst, std::abs(p.at(f, k) - ref) / (ref + 1e-6));
    }
  CHECK(worst < 1e-5);
}

TEST_CASE("power spectrum: Parseval's identity holds frame by frame") {
  MfccConfig cfg;
  cfg.preemphasis = 0;
  const std::vector<float> x = gaussian(800, 3, 0.5);
  const Frames p = power_frames(x, cfg);
  const std::vector<double> w = hamming(160);
  for (std::int64_t f = 0; f < p.num_frames; ++f) {
    double time = 0, freq = 0;
    for (std::int64_t i = 0; i < 160; ++i) time += std::pow(x[f * 80 + i] * w[i], 2);
    for (std::int64_t k = 0; k <= 128; ++k) freq += (k == 0 || k == 128 ? 1.0 : 2.0) * p.at(f, k);
    CHECK(freq == doctest::Approx(time).epsilon(1e-5));
  }
}

TEST_CASE("power spectrum: a sine on bin k peaks at bin k with its energy in the main lobe") {
  MfccConfig cfg;
  cfg.preemphasis = 0;
  for (std::int64_t k0 : {3, 17, 64, 101, 125}) {
    const double hz = static_cast<double>(k0) * 8000.0 / 256.0;
    const Frames p = power_frames(sine(hz, 0.1, 8000), cfg);
    REQUIRE(p.num_frames == 9);
    for (std::int64_t f = 0; f < p.num_frames; ++f) {
      const auto row = p.values.begin() + f * p.dim;
      CHECK(std::max_element(row, row + p.dim) - row == k0);
      double lobe = 0, total = 0;
      for (std::int64_t k = 0; k < p.dim; ++k) (std::abs(k - k0) <= 7 ? lobe : total) += p.at(f, k);
      total += lobe;
      CHECK(lobe / total > 0.999);  // Hamming side lobes are 43 dB down
    }
  }
}

TEST_CASE("mel scale and filterbank: HTK formula, equal mel spacing, triangles summing to 1") {
  CHECK(hz_to_mel(0) == 0);
  CHECK(hz_to_mel(700) == doctest::Approx(2595 * std::log10(2.0)));
  CHECK(hz_to_mel(1000) == doctest::Approx(1000).epsilon(1e-3));  // the mel scale's anchor
  for (double hz : {0.0, 123.0, 1000.0, 3999.0}) CHECK(mel_to_hz(hz_to_mel(hz)) == doctest::Approx(hz));

  MfccConfig cfg;
  const std::vector<double> fb = mel_filterbank(cfg);
  const std::vector<double> centres = mel_centers_hz(cfg);
  const std::int64_t m = cfg.num_filters, bins = 129;
  REQUIRE(static_cast<std::int64_t>(fb.size()) == m * bins);
  REQUIRE(static_cast<std::int64_t>(centres.size()) == m);
  const double step = hz_to_mel(4000) / static_cast<double>(m + 1);
  for (std::int64_t j = 0; j < m; ++j) {
    CHECK(hz_to_mel(centres[j]) == doctest::Approx(step * static_cast<double>(j + 1)));
    double peak = 0, sum = 0;
    for (std::int64_t k = 0; k < bins; ++k) {
      const double w = fb[j * bins + k];
      CHECK(w >= 0.0);
      CHECK(w <= 1.0);
      peak = std::max(peak, w);
      sum += w;
      const double hz = k * 8000.0 / 256.0;
      const double left = mel_to_hz(step * static_cast<double>(j)), right = mel_to_hz(step * static_cast<double>(j + 2));
      if (hz <= left || hz >= right) CHECK(w == 0.0);  // support is (left edge, right edge)
    }
    CHECK(sum > 0.0);  // no empty filter at 31.25 Hz per bin
    CHECK(peak > 0.5);
  }
  // Between the first and the last centre the triangles form a partition of unity.
  for (std::int64_t k = 0; k < bins; ++k) {
    const double hz = k * 8000.0 / 256.0;
    if (hz < centres.front() || hz > centres.back()) continue;
    double s = 0;
    for (std::int64_t j = 0; j < m; ++j) s += fb[j * bins + k];
    CHECK(s == doctest::Approx(1.0).epsilon(1e-12));
  }
}

TEST_CASE("DCT-II is orthonormal; a constant goes to c_0 alone") {
  const std::int64_t n = 26;
  std::vector<std::vector<double>> cols;
  for (std::int64_t i = 0; i < n; ++i) {
    std::vector<double> e(n, 0.0);
    e[i] = 1.0;
    cols.push_back(dct2(e));
  }
  for (std::int64_t a = 0; a < n; ++a)
    for (std::int64_t b = 0; b < n; ++b) {
      double dot = 0;  // rows a and b of the DCT matrix D (D[k][i] = cols[i][k])
      for (std::int64_t i = 0; i < n; ++i) dot += cols[i][a] * cols[i][b];
      CHECK(dot == doctest::Approx(a == b ? 1.0 : 0.0).epsilon(1e-12));
    }
  const std::vector<double> c = dct2(std::vector<double>(n, -2.5));
  CHECK(c[0] == doctest::Approx(-2.5 * std::sqrt(static_cast<double>(n))));
  for (std::int64_t k = 1; k < n; ++k) CHECK(std::abs(c[k]) < 1e-12);
}

TEST_CASE("MFCCs without c_0: the same for any gain; zeros for silence") {
  MfccConfig cfg;
  const std::vector<float> x = test_signal(8000, 0.3, 5);
  std::vector<float> louder(x.size());
  std::transform(x.begin(), x.end(), louder.begin(), [](float v) { return 1.7f * v; });
  const Frames a = mfcc(x, cfg), b = mfcc(louder, cfg);
  REQUIRE(a.num_frames == 29);
  REQUIRE(a.dim == 12);
  for (std::size_t i = 0; i < a.values.size(); ++i) CHECK(a.values[i] == doctest::Approx(b.values[i]).epsilon(1e-4).scale(1));
  const Frames s = mfcc(std::vector<float>(4000, 0.0f), cfg);
  REQUIRE(s.num_frames == 49);
  for (float v : s.values) CHECK(std::abs(v) < 1e-9);
}

TEST_CASE("MFCC pipeline matches an independent numpy implementation (tests/reference/mfcc_numpy.py)") {
  ScratchDir dir("mfcc-numpy");
  struct Setting {
    MfccConfig cfg;
    double seconds;
  };
  MfccConfig wide;
  wide.sample_rate = 16000;
  wide.frame_ms = 25;
  wide.hop_ms = 10;
  wide.num_filters = 40;
  wide.num_coeffs = 13;
  wide.low_hz = 100;
  wide.high_hz = 7000;
  wide.preemphasis = 0.95;
  for (const Setting& s : {Setting{MfccConfig{}, 0.5}, Setting{wide, 0.3}}) {
    const MfccConfig& cfg = s.cfg;
    CAPTURE(cfg.describe());
    std::vector<float> x = test_signal(cfg.sample_rate, s.seconds, 9);
    std::fill(x.begin(), x.begin() + cfg.sample_rate / 20, 0.0f);  // 50 ms of digital silence: the log floor
    const std::string in = dir.file("x.f32"), out = dir.file("ref.f64");
    {
      std::ofstream f(in, std::ios::binary);
      f.write(reinterpret_cast<const char*>(x.data()), static_cast<std::streamsize>(x.size() * sizeof(float)));
    }
    const std::string cmd = fmt::format(
        "'{}' {}/tests/reference/mfcc_numpy.py {} {} --sample-rate {} --frame-ms {} --hop-ms {} "
        "--preemphasis {} --filters {} --coeffs {} --low-hz {} --high-hz {} --log-floor {}",
        FG_PYTHON, FG_SOURCE_DIR, in, out, cfg.sample_rate, cfg.frame_ms, cfg.hop_ms, cfg.preemphasis, cfg.num_filters,
        cfg.num_coeffs, cfg.low_hz, cfg.high_hz, cfg.log_floor);
    REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0,
                    "the numpy reference failed: " << cmd << " (needs python3-numpy: tools/setup.sh installs it)");
    const std::vector<double> ref = read_doubles(out);
    const Frames p = power_frames(x, cfg), lm = log_mel_frames(x, cfg), c = mfcc(x, cfg);
    REQUIRE(!ref.empty());
    REQUIRE(static_cast<std::int64_t>(ref[0]) == p.num_frames);
    REQUIRE(p.num_frames > 10);
    const std::int64_t F = p.num_frames;
    REQUIRE(ref.size() == static_cast<std::size_t>(1 + F * (p.dim + lm.dim + c.dim)));
    const double* rp = ref.data() + 1;
    const double* rl = rp + F * p.dim;
    const double* rc = rl + F * lm.dim;
    double peak = 0;
    for (std::int64_t i = 0; i < F * p.dim; ++i) peak = std::max(peak, rp[i]);
    double worst_p = 0, worst_l = 0, worst_c = 0;
    for (std::int64_t i = 0; i < F * p.dim; ++i)
      worst_p = std::max(worst_p, std::abs(p.values[i] - rp[i]) / (std::abs(rp[i]) + 1e-7 * peak));
    for (std::int64_t i = 0; i < F * lm.dim; ++i) worst_l = std::max(worst_l, std::abs(lm.values[i] - rl[i]));
    for (std::int64_t i = 0; i < F * c.dim; ++i) worst_c = std::max(worst_c, std::abs(c.values[i] - rc[i]));
    CHECK(worst_p < 1e-5);
    CHECK(worst_l < 1e-4);
    CHECK(worst_c < 1e-4);
    // The silent frames hit the floor in both.
    CHECK(lm.at(0, 0) == doctest::Approx(std::log(cfg.log_floor)));
  }
}

TEST_CASE("active frames, midpoint and the fixed window on a tone burst with known frames") {
  MfccConfig cfg;
  cfg.preemphasis = 0;  // (with it, the sample after the burst leaks -0.97 x[3999] into frame 50)
  // 0.3 s silence, 0.2 s of 440 Hz (samples 2400..3999), 0.5 s silence: 99 frames.
  std::vector<float> x(8000, 0.0f);
  const std::vector<float> tone = sine(440, 0.2, 8000);
  std::copy(tone.begin(), tone.end(), x.begin() + 2400);
  const FrameRange r = active_frames(x, cfg);
  // frame f covers samples [80 f, 80 f + 160): 29 is the first to touch 2400, 49 the last before 4000
  CHECK(r.first == 29);
  CHECK(r.last == 49);
  CHECK(utterance_midpoint(x, cfg) == 39);
  const UtteranceFeatures u = utterance_features(x, cfg, 58);
  REQUIRE(u.mfcc.num_frames == 99);
  REQUIRE(u.vector.size() == 58u * 12u);
  CHECK(u.midpoint == 39);
  for (std::int64_t i = 0; i < 58; ++i)
    for (std::int64_t j = 0; j < 12; ++j) CHECK(u.vector[i * 12 + j] == u.mfcc.at(39 - 29 + i, j));
  // Near the start the window is zero-padded on the left.
  const std::vector<float> w = fixed_window(u.mfcc, 5, 58);
  for (std::int64_t i = 0; i < 58; ++i)
    for (std::int64_t j = 0; j < 12; ++j) CHECK(w[i * 12 + j] == (i < 24 ? 0.0f : u.mfcc.at(i - 24, j)));
  // Silence: no active frame, the midpoint is the file's centre.
  const std::vector<float> quiet(8000, 0.0f);
  CHECK(active_frames(quiet, cfg).empty());
  CHECK(utterance_midpoint(quiet, cfg) == 49);
  CHECK_THROWS_WITH_AS(fixed_window(u.mfcc, 0, 0), doctest::Contains("count must be >= 1"), Error);
}

TEST_CASE("resampling 22,050 Hz -> 8 kHz keeps a 1 kHz tone and removes a 6 kHz one") {
  const std::vector<float> in = sine(1000, 0.5, 22050, 0.5, 0.0);
  const std::vector<float> out = resample(in, 22050, 8000);
  CHECK(out.size() == static_cast<std::size_t>(std::llround(in.size() * 8000.0 / 22050.0)));
  const std::vector<float> ideal = sine(1000, 0.5, 8000, 0.5, 0.0);
  double worst = 0;
  for (std::size_t i = 200; i + 200 < out.size(); ++i) worst = std::max(worst, std::abs(static_cast<double>(out[i] - ideal[i])));
  CHECK(worst < 2e-3);
  const std::vector<float> high = resample(sine(6000, 0.5, 22050, 0.5, 0.0), 22050, 8000);
  double rms = 0;
  for (std::size_t i = 200; i + 200 < high.size(); ++i) rms += static_cast<double>(high[i]) * high[i];
  rms = std::sqrt(rms / static_cast<double>(high.size() - 400));
  CHECK(rms < 2e-3);  // above the new Nyquist frequency: filtered out, not aliased to 2 kHz
  CHECK(resample(in, 8000, 8000) == in);
  CHECK_THROWS_WITH_AS(resample(in, 0, 8000), doctest::Contains("rates must be > 0"), Error);
}

// ---------------------------------------------------------------- WAV files
namespace {

void put(std::string& b, std::uint32_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// A RIFF/WAVE file with the given fmt fields, an optional extra chunk before "data", and
// `data` as the data chunk's body (declared size `declared`, default its real size).
std::string make_wav(int format, int channels, int rate, int bits, const std::string& data,
                     const std::string& extra_chunk = "", std::int64_t declared = -1) {
  std::string b = "RIFF";
  put(b, 0, 4);
  b += "WAVEfmt ";
  put(b, 16, 4);
  put(b, static_cast<std::uint32_t>(format), 2);
  put(b, static_cast<std::uint32_t>(channels), 2);
  put(b, static_cast<std::uint32_t>(rate), 4);
  put(b, static_cast<std::uint32_t>(rate * channels * bits / 8), 4);
  put(b, static_cast<std::uint32_t>(channels * bits / 8), 2);
  put(b, static_cast<std::uint32_t>(bits), 2);
  b += extra_chunk;
  b += "data";
  put(b, static_cast<std::uint32_t>(declared >= 0 ? declared : static_cast<std::int64_t>(data.size())), 4);
  b += data;
  const auto riff = static_cast<std::uint32_t>(b.size() - 8);
  for (int i = 0; i < 4; ++i) b[4 + i] = static_cast<char>((riff >> (8 * i)) & 0xff);
  return b;
}

}  // namespace

TEST_CASE("WAV: 16-bit mono round trip, odd-sized chunks skipped, atomic write") {
  Wav w{8000, {0.0f, 0.5f, -0.5f, -1.0f, 32767.0f / 32768.0f, 1.5f /* clipped */}};
  const Wav back = parse_wav(encode_wav(w), "<memory>");
  CHECK(back.sample_rate == 8000);
  REQUIRE(back.samples.size() == 6);
  CHECK(back.samples[1] == 0.5f);
  CHECK(back.samples[3] == -1.0f);
  CHECK(back.samples[5] == 32767.0f / 32768.0f);
  // An odd-sized LIST chunk (padded to even) before "data".
  std::string samples;
  put(samples, 16384, 2);
  put(samples, static_cast<std::uint32_t>(static_cast<std::uint16_t>(-16384)), 2);
  std::string list = "LIST";
  put(list, 3, 4);
  list += std::string("abc") + '\0';
  const Wav withlist = parse_wav(make_wav(1, 1, 22050, 16, samples, list), "list.wav");
  CHECK(withlist.sample_rate == 22050);
  CHECK(withlist.samples == std::vector<float>{0.5f, -0.5f});

  ScratchDir dir("wav");
  write_wav(dir.file("a.wav"), w);
  CHECK(read_wav(dir.file("a.wav")).samples == back.samples);
  CHECK(dir.entries() == std::vector<std::string>{"a.wav"});  // no temporary left behind
}

TEST_CASE("WAV: bad files give errors naming the file and the field") {
  ScratchDir dir("badwav");
  CHECK_THROWS_WITH_AS(read_wav(dir.file("absent.wav")), doctest::Contains("absent.wav': cannot open"), Error);
  std::string two;
  put(two, 1, 2);
  put(two, 2, 2);
  auto fails = [](const std::string& bytes, const char* expected) {
    CHECK_THROWS_WITH_AS(parse_wav(bytes, "bad.wav"), doctest::Contains(expected), Error);
  };
  fails("RIFF", "'bad.wav': RIFF header");
  fails("RIFX....WAVE", "expected the id 'RIFF'");
  fails("RIFF....AVI ", "expected the form type 'WAVE'");
  fails(make_wav(3, 1, 8000, 32, two + two), "'bad.wav': audio format: expected 1 (PCM), got 3");
  fails(make_wav(1, 2, 8000, 16, two + two), "channels: expected 1 (mono), got 2");
  fails(make_wav(1, 1, 8000, 8, two), "bits per sample: expected 16, got 8");
  fails(make_wav(1, 1, 100, 16, two), "sample rate: expected 1000..384000 Hz, got 100");
  fails(make_wav(1, 1, 8000, 16, two, "", 4000), "chunk 'data' at byte 36: declares 4000 bytes but only 4 remain");
  fails(make_wav(1, 1, 8000, 16, two.substr(0, 3)), "data chunk size: expected a multiple of 2");
  std::string no_data = make_wav(1, 1, 8000, 16, two);
  no_data.replace(no_data.find("data"), 4, "junk");
  fails(no_data, "data chunk: not found");
}
