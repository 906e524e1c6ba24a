// data/audio_features.cpp: WAV I/O, resampling and MFCCs (the math is in
// data/audio_features.h).
#include "data/audio_features.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <numeric>
#include <sstream>

#include <fftw3.h>

#include "engine/error.h"
#include "engine/io/output_file.h"

namespace fg::data::audio {

namespace {

constexpr double kPi = std::numbers::pi;

std::uint32_t le32(const std::string& b, std::size_t at) {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(b[at])) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 1])) << 8) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 2])) << 16) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 3])) << 24);
}
std::uint16_t le16(const std::string& b, std::size_t at) {
  return static_cast<std::uint16_t>(static_cast<unsigned char>(b[at]) |
                                    (static_cast<unsigned char>(b[at + 1]) << 8));
}
void put32(std::string& b, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put16(std::string& b, std::uint16_t v) {
  b.push_back(static_cast<char>(v & 0xff));
  b.push_back(static_cast<char>(v >> 8));
}

// Windowed-sinc low-pass kernel at offset d (input samples), cutoff fc (cycles per input
// sample), half width hw (input samples).
double sinc_kernel(double d, double fc, double hw) {
  if (std::abs(d) >= hw) return 0.0;
  const double x = 2.0 * fc * d;
  const double sinc = x == 0.0 ? 1.0 : std::sin(kPi * x) / (kPi * x);
  const double hann = 0.5 + 0.5 * std::cos(kPi * d / hw);
  return 2.0 * fc * sinc * hann;
}

// FFTW's real-to-complex transform of one size, X_k = sum_n x_n e^{-2 pi i k n / N} for
// k = 0..N/2 (the other half is the conjugate mirror). One plan serves every frame of a call
// (FFTW_ESTIMATE: planning costs microseconds and never measures, so results do not depend
// on the machine's timing). FFTW's planner is not thread-safe: build these on one thread.
class RealFft {
 public:
  explicit RealFft(std::int64_t n) : n_(n) {
    in_ = fftw_alloc_real(static_cast<std::size_t>(n));
    out_ = fftw_alloc_complex(static_cast<std::size_t>(n / 2 + 1));
    FG_CHECK(in_ != nullptr && out_ != nullptr, "FFTW: cannot allocate buffers for a {}-point FFT", n);
    plan_ = fftw_plan_dft_r2c_1d(static_cast<int>(n), in_, out_, FFTW_ESTIMATE);
    FG_CHECK(plan_ != nullptr, "FFTW: cannot plan a {}-point real FFT", n);
  }
  ~RealFft() {
    if (plan_ != nullptr) fftw_destroy_plan(plan_);
    fftw_free(in_);
    fftw_free(out_);
  }
  RealFft(const RealFft&) = delete;
  RealFft& operator=(const RealFft&) = delete;
  double* input() { return in_; }
  // |X_k|^2 / N for k = 0..N/2 into power[0..N/2].
  void power(float* power) {
    fftw_execute(plan_);
    for (std::int64_t k = 0; k <= n_ / 2; ++k)
      power[k] = static_cast<float>((out_[k][0] * out_[k][0] + out_[k][1] * out_[k][1]) / static_cast<double>(n_));
  }

 private:
  std::int64_t n_;
  double* in_ = nullptr;
  fftw_complex* out_ = nullptr;
  fftw_plan plan_ = nullptr;
};

}  // namespace

// ------------------------------------------------------------------ WAV files
Wav parse_wav(const std::string& b, const std::string& name) {
  FG_CHECK(b.size() >= 12, "WAV file '{}': RIFF header: expected at least 12 bytes, the file has {}", name, b.size());
  FG_CHECK(b.compare(0, 4, "RIFF") == 0, "WAV file '{}': RIFF header: expected the id 'RIFF' at byte 0", name);
  FG_CHECK(b.compare(8, 4, "WAVE") == 0, "WAV file '{}': RIFF header: expected the form type 'WAVE' at byte 8", name);
  bool have_fmt = false, have_data = false;
  int rate = 0;
  std::string data;
  std::size_t at = 12;
  while (at + 8 <= b.size()) {
    const std::string id = b.substr(at, 4);
    const std::uint64_t size = le32(b, at + 4);
    const std::size_t body = at + 8;
    FG_CHECK(size <= b.size() - body,
             "WAV file '{}': chunk '{}' at byte {}: declares {} bytes but only {} remain (truncated file?)", name, id,
             at, size, b.size() - body);
    if (id == "fmt ") {
      FG_CHECK(size >= 16, "WAV file '{}': fmt chunk: expected at least 16 bytes, got {}", name, size);
      std::uint16_t format = le16(b, body);
      const std::uint16_t channels = le16(b, body + 2);
      const std::uint32_t sr = le32(b, body + 4);
      const std::uint16_t block_align = le16(b, body + 12);
      const std::uint16_t bits = le16(b, body + 14);
      if (format == 0xFFFE) {  // WAVE_FORMAT_EXTENSIBLE: the real format is the subtype GUID's first 2 bytes
        FG_CHECK(size >= 40, "WAV file '{}': fmt chunk: WAVE_FORMAT_EXTENSIBLE needs 40 bytes, got {}", name, size);
        format = le16(b, body + 24);
      }
      FG_CHECK(format == 1, "WAV file '{}': audio format: expected 1 (PCM), got {}", name, format);
      FG_CHECK(channels == 1, "WAV file '{}': channels: expected 1 (mono), got {}", name, channels);
      FG_CHECK(bits == 16, "WAV file '{}': bits per sample: expected 16, got {}", name, bits);
      FG_CHECK(block_align == 2, "WAV file '{}': block align: expected 2 bytes (16-bit mono), got {}", name,
               block_align);
      FG_CHECK(sr >= 1000 && sr <= 384000, "WAV file '{}': sample rate: expected 1000..384000 Hz, got {}", name, sr);
      rate = static_cast<int>(sr);
      have_fmt = true;
    } else if (id == "data") {
      FG_CHECK(have_fmt, "WAV file '{}': data chunk: found before the fmt chunk", name);
      FG_CHECK(size % 2 == 0, "WAV file '{}': data chunk size: expected a multiple of 2 (16-bit samples), got {}",
               name, size);
      data = b.substr(body, size);
      have_data = true;
      break;
    }
    at = body + size + (size & 1);  // chunks are padded to an even size
  }
  FG_CHECK(have_fmt, "WAV file '{}': fmt chunk: not found", name);
  FG_CHECK(have_data, "WAV file '{}': data chunk: not found", name);
  Wav wav;
  wav.sample_rate = rate;
  wav.samples.resize(data.size() / 2);
  for (std::size_t i = 0; i < wav.samples.size(); ++i)
    wav.samples[i] = static_cast<float>(static_cast<std::int16_t>(le16(data, 2 * i))) / 32768.0f;
  return wav;
}

Wav read_wav(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  FG_CHECK(in.good(), "WAV file '{}': cannot open it for reading", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_wav(ss.str(), path);
}

std::string encode_wav(const Wav& wav) {
  FG_CHECK(wav.sample_rate > 0, "write_wav: sample rate must be > 0, got {}", wav.sample_rate);
  const std::uint64_t data_bytes = 2 * static_cast<std::uint64_t>(wav.samples.size());
  FG_CHECK(data_bytes + 36 < 0xffffffffULL, "write_wav: {} samples do not fit a WAV file", wav.samples.size());
  std::string b;
  b.reserve(44 + data_bytes);
  b += "RIFF";
  put32(b, static_cast<std::uint32_t>(36 + data_bytes));
  b += "WAVEfmt ";
  put32(b, 16);
  put16(b, 1);                                          // PCM
  put16(b, 1);                                          // mono
  put32(b, static_cast<std::uint32_t>(wav.sample_rate));
  put32(b, static_cast<std::uint32_t>(wav.sample_rate) * 2);  // byte rate
  put16(b, 2);                                          // block align
  put16(b, 16);                                         // bits
  b += "data";
  put32(b, static_cast<std::uint32_t>(data_bytes));
  for (float s : wav.samples) {
    const double v = std::clamp(std::round(static_cast<double>(s) * 32768.0), -32768.0, 32767.0);
    put16(b, static_cast<std::uint16_t>(static_cast<std::int16_t>(v)));
  }
  return b;
}

void write_wav(const std::string& path, const Wav& wav) { fg::io::write_output(path, encode_wav(wav), "write_wav"); }

std::vector<float> resample(const std::vector<float>& x, int from_rate, int to_rate) {
  FG_CHECK(from_rate > 0 && to_rate > 0, "resample: rates must be > 0, got {} -> {}", from_rate, to_rate);
  if (from_rate == to_rate || x.empty()) return x;
  const auto n_in = static_cast<std::int64_t>(x.size());
  const auto n_out = static_cast<std::int64_t>(
      std::llround(static_cast<double>(n_in) * to_rate / static_cast<double>(from_rate)));
  const double fc = 0.95 * 0.5 * std::min(from_rate, to_rate) / static_cast<double>(from_rate);
  const double hw = 16.0 / (2.0 * fc);  // 16 zero crossings of the sinc on each side
  const std::int64_t g = std::gcd(from_rate, to_rate);
  const std::int64_t up = to_rate / g, down = from_rate / g;  // t_j = j * down / up input samples
  const auto reach = static_cast<std::int64_t>(std::ceil(hw));
  const std::int64_t taps = 2 * reach + 1;
  // Output j sits at input time base + phase / up with base = floor(j * down / up); with few
  // phases the kernel of each is computed once (polyphase), otherwise on the fly.
  const bool table = up <= 4096;
  std::vector<double> kernel;
  if (table) {
    kernel.resize(static_cast<std::size_t>(up * taps));
    for (std::int64_t p = 0; p < up; ++p)
      for (std::int64_t k = 0; k < taps; ++k)
        kernel[p * taps + k] = sinc_kernel(static_cast<double>(p) / up - static_cast<double>(k - reach), fc, hw);
  }
  std::vector<float> y(static_cast<std::size_t>(n_out));
  for (std::int64_t j = 0; j < n_out; ++j) {
    const std::int64_t num = j * down;
    const std::int64_t base = num / up, phase = num % up;
    double acc = 0.0;
    for (std::int64_t k = 0; k < taps; ++k) {
      const std::int64_t i = base + k - reach;
      if (i < 0 || i >= n_in) continue;
      const double h = table ? kernel[phase * taps + k]
                             : sinc_kernel(static_cast<double>(phase) / up - static_cast<double>(k - reach), fc, hw);
      acc += h * x[i];
    }
    y[j] = static_cast<float>(acc);
  }
  return y;
}

// ------------------------------------------------------------------ building blocks
std::int64_t next_power_of_two(std::int64_t n) {
  FG_CHECK(n >= 1, "next_power_of_two: n must be >= 1, got {}", n);
  std::int64_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

double hz_to_mel(double hz) { return 2595.0 * std::log10(1.0 + hz / 700.0); }
double mel_to_hz(double mel) { return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0); }

std::vector<double> dct2(const std::vector<double>& x) {
  const auto n = static_cast<std::int64_t>(x.size());
  FG_CHECK(n >= 1, "dct2: empty input");
  std::vector<double> c(static_cast<std::size_t>(n));
  for (std::int64_t k = 0; k < n; ++k) {
    double acc = 0.0;
    for (std::int64_t i = 0; i < n; ++i)
      acc += x[i] * std::cos(kPi * static_cast<double>(k) * (2.0 * static_cast<double>(i) + 1.0) / (2.0 * n));
    c[k] = acc * std::sqrt((k == 0 ? 1.0 : 2.0) / static_cast<double>(n));
  }
  return c;
}

std::vector<double> hamming(std::int64_t n) {
  FG_CHECK(n >= 1, "hamming: length must be >= 1, got {}", n);
  std::vector<double> w(static_cast<std::size_t>(n), 1.0);
  if (n == 1) return w;
  for (std::int64_t i = 0; i < n; ++i) w[i] = 0.54 - 0.46 * std::cos(2.0 * kPi * i / static_cast<double>(n - 1));
  return w;
}

// ------------------------------------------------------------------ MFCC
std::int64_t MfccConfig::frame_length() const { return std::llround(sample_rate * frame_ms / 1000.0); }
std::int64_t MfccConfig::hop_length() const { return std::llround(sample_rate * hop_ms / 1000.0); }
std::int64_t MfccConfig::fft_length() const {
  return fft_size > 0 ? fft_size : next_power_of_two(std::max<std::int64_t>(1, frame_length()));
}
double MfccConfig::upper_hz() const { return high_hz > 0 ? high_hz : sample_rate / 2.0; }

void MfccConfig::validate() const {
  FG_CHECK(sample_rate >= 1000, "MfccConfig.sample_rate: expected >= 1000 Hz, got {}", sample_rate);
  FG_CHECK(frame_length() >= 2, "MfccConfig.frame_ms: {} ms gives {} samples at {} Hz, expected >= 2", frame_ms,
           frame_length(), sample_rate);
  FG_CHECK(hop_length() >= 1, "MfccConfig.hop_ms: {} ms gives {} samples at {} Hz, expected >= 1", hop_ms,
           hop_length(), sample_rate);
  FG_CHECK(preemphasis >= 0 && preemphasis < 1, "MfccConfig.preemphasis: expected [0, 1), got {}", preemphasis);
  FG_CHECK(fft_size == 0 || ((fft_size & (fft_size - 1)) == 0 && fft_size >= frame_length()),
           "MfccConfig.fft_size: expected 0 or a power of two >= the frame length {}, got {}", frame_length(),
           fft_size);
  FG_CHECK(low_hz >= 0 && low_hz < upper_hz() && upper_hz() <= sample_rate / 2.0,
           "MfccConfig.low_hz/high_hz: expected 0 <= low_hz < high_hz <= {} (Nyquist), got {} and {}",
           sample_rate / 2.0, low_hz, upper_hz());
  FG_CHECK(num_filters >= 2, "MfccConfig.num_filters: expected >= 2, got {}", num_filters);
  FG_CHECK(num_coeffs >= 1 && num_coeffs < num_filters,
           "MfccConfig.num_coeffs: expected 1 <= num_coeffs < num_filters ({}), got {}", num_filters, num_coeffs);
  FG_CHECK(log_floor > 0, "MfccConfig.log_floor: expected > 0, got {}", log_floor);
  FG_CHECK(active_db > 0, "MfccConfig.active_db: expected > 0, got {}", active_db);
}

std::string MfccConfig::describe() const {
  return fmt::format(
      "sample_rate={} frame_ms={} hop_ms={} preemphasis={} fft={} (fftw r2c) window=hamming mel_filters={} ({}..{} Hz, HTK mel) "
      "log_floor={} dct=orthonormal-II coeffs=c1..c{} active_db={}",
      sample_rate, frame_ms, hop_ms, preemphasis, fft_length(), num_filters, low_hz, upper_hz(), log_floor, num_coeffs,
      active_db);
}

std::int64_t num_frames(std::int64_t num_samples, const MfccConfig& cfg) {
  const std::int64_t len = cfg.frame_length(), hop = cfg.hop_length();
  return num_samples < len ? 0 : 1 + (num_samples - len) / hop;
}

std::vector<double> mel_centers_hz(const MfccConfig& cfg) {
  cfg.validate();
  const double lo = hz_to_mel(cfg.low_hz), hi = hz_to_mel(cfg.upper_hz());
  std::vector<double> c(static_cast<std::size_t>(cfg.num_filters));
  for (std::int64_t j = 0; j < cfg.num_filters; ++j)
    c[j] = mel_to_hz(lo + (hi - lo) * static_cast<double>(j + 1) / static_cast<double>(cfg.num_filters + 1));
  return c;
}

std::vector<double> mel_filterbank(const MfccConfig& cfg) {
  cfg.validate();
  const std::int64_t nfft = cfg.fft_length(), bins = nfft / 2 + 1, m = cfg.num_filters;
  const double lo = hz_to_mel(cfg.low_hz), hi = hz_to_mel(cfg.upper_hz());
  std::vector<double> edges(static_cast<std::size_t>(m + 2));  // filter j: edges j, j+1 (peak), j+2
  for (std::int64_t j = 0; j < m + 2; ++j)
    edges[j] = mel_to_hz(lo + (hi - lo) * static_cast<double>(j) / static_cast<double>(m + 1));
  std::vector<double> fb(static_cast<std::size_t>(m * bins), 0.0);
  for (std::int64_t j = 0; j < m; ++j)
    for (std::int64_t k = 0; k < bins; ++k) {
      const double f = static_cast<double>(k) * cfg.sample_rate / static_cast<double>(nfft);
      const double left = edges[j], centre = edges[j + 1], right = edges[j + 2];
      double w = 0.0;
      if (f > left && f <= centre) w = (f - left) / (centre - left);
      else if (f > centre && f < right) w = (right - f) / (right - centre);
      fb[j * bins + k] = w;
    }
  return fb;
}

Frames power_frames(const std::vector<float>& samples, const MfccConfig& cfg) {
  cfg.validate();
  const std::int64_t len = cfg.frame_length(), hop = cfg.hop_length(), nfft = cfg.fft_length();
  const std::int64_t bins = nfft / 2 + 1;
  const auto n = static_cast<std::int64_t>(samples.size());
  Frames out;
  out.num_frames = num_frames(n, cfg);
  out.dim = bins;
  out.values.resize(static_cast<std::size_t>(out.num_frames * bins));
  std::vector<double> emph(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    emph[i] = samples[i] - (i > 0 ? cfg.preemphasis * static_cast<double>(samples[i - 1]) : 0.0);
  const std::vector<double> window = hamming(len);
  if (out.num_frames == 0) return out;
  RealFft fft(nfft);
  double* buf = fft.input();
  for (std::int64_t f = 0; f < out.num_frames; ++f) {
    for (std::int64_t i = 0; i < len; ++i) buf[i] = emph[f * hop + i] * window[i];
    std::fill(buf + len, buf + nfft, 0.0);  // zero padding to the FFT size
    fft.power(out.values.data() + f * bins);
  }
  return out;
}

namespace {
// log mel energies in double precision, [F, M].
std::vector<double> log_mel_double(const Frames& power, const MfccConfig& cfg) {
  const std::vector<double> fb = mel_filterbank(cfg);
  const std::int64_t m = cfg.num_filters, bins = power.dim;
  std::vector<double> out(static_cast<std::size_t>(power.num_frames * m));
  for (std::int64_t f = 0; f < power.num_frames; ++f)
    for (std::int64_t j = 0; j < m; ++j) {
      double e = 0.0;
      for (std::int64_t k = 0; k < bins; ++k) e += fb[j * bins + k] * power.values[f * bins + k];
      out[f * m + j] = std::log(std::max(e, cfg.log_floor));
    }
  return out;
}
}  // namespace

Frames log_mel_frames(const std::vector<float>& samples, const MfccConfig& cfg) {
  const Frames power = power_frames(samples, cfg);
  const std::vector<double> lm = log_mel_double(power, cfg);
  Frames out;
  out.num_frames = power.num_frames;
  out.dim = cfg.num_filters;
  out.values.assign(lm.begin(), lm.end());
  return out;
}

Frames mfcc(const std::vector<float>& samples, const MfccConfig& cfg) {
  const Frames power = power_frames(samples, cfg);
  const std::vector<double> lm = log_mel_double(power, cfg);
  const std::int64_t m = cfg.num_filters, c = cfg.num_coeffs;
  Frames out;
  out.num_frames = power.num_frames;
  out.dim = c;
  out.values.resize(static_cast<std::size_t>(out.num_frames * c));
  // Rows 1..c of the orthonormal DCT-II matrix (dct2() applied to the unit vectors), once.
  std::vector<double> basis(static_cast<std::size_t>(c * m));
  for (std::int64_t i = 0; i < m; ++i) {
    std::vector<double> unit(static_cast<std::size_t>(m), 0.0);
    unit[i] = 1.0;
    const std::vector<double> col = dct2(unit);
    for (std::int64_t k = 0; k < c; ++k) basis[k * m + i] = col[k + 1];  // drop c_0
  }
  for (std::int64_t f = 0; f < out.num_frames; ++f)
    for (std::int64_t k = 0; k < c; ++k) {
      double acc = 0.0;
      for (std::int64_t i = 0; i < m; ++i) acc += basis[k * m + i] * lm[f * m + i];
      out.values[f * c + k] = static_cast<float>(acc);
    }
  return out;
}

FrameRange active_frames(const std::vector<float>& samples, const MfccConfig& cfg) {
  const Frames power = power_frames(samples, cfg);
  std::vector<double> energy(static_cast<std::size_t>(power.num_frames), 0.0);
  double loudest = 0.0;
  for (std::int64_t f = 0; f < power.num_frames; ++f) {
    for (std::int64_t k = 0; k < power.dim; ++k) energy[f] += power.at(f, k);
    loudest = std::max(loudest, energy[f]);
  }
  FrameRange r;
  if (loudest <= cfg.log_floor) return r;
  const double threshold = std::max(loudest * std::pow(10.0, -cfg.active_db / 10.0), cfg.log_floor);
  for (std::int64_t f = 0; f < power.num_frames; ++f)
    if (energy[f] >= threshold) {
      if (r.first < 0) r.first = f;
      r.last = f;
    }
  return r;
}

std::int64_t utterance_midpoint(const std::vector<float>& samples, const MfccConfig& cfg) {
  const FrameRange r = active_frames(samples, cfg);
  if (r.empty()) return num_frames(static_cast<std::int64_t>(samples.size()), cfg) / 2;
  return (r.first + r.last + 1) / 2;
}

std::vector<float> fixed_window(const Frames& frames, std::int64_t center, std::int64_t count) {
  FG_CHECK(count >= 1, "fixed_window: count must be >= 1, got {}", count);
  FG_CHECK(frames.dim >= 1, "fixed_window: frames must have dim >= 1, got {}", frames.dim);
  std::vector<float> out(static_cast<std::size_t>(count * frames.dim), 0.0f);
  const std::int64_t start = center - count / 2;
  for (std::int64_t i = 0; i < count; ++i) {
    const std::int64_t f = start + i;
    if (f < 0 || f >= frames.num_frames) continue;
    std::copy_n(frames.values.begin() + f * frames.dim, frames.dim, out.begin() + i * frames.dim);
  }
  return out;
}

UtteranceFeatures utterance_features(const std::vector<float>& samples, const MfccConfig& cfg,
                                     std::int64_t window_frames) {
  UtteranceFeatures u;
  u.mfcc = mfcc(samples, cfg);
  u.midpoint = utterance_midpoint(samples, cfg);
  u.vector = fixed_window(u.mfcc, u.midpoint, window_frames);
  return u;
}

}  // namespace fg::data::audio
