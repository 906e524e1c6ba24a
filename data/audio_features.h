// data/audio_features.h: WAV files and MFCC features for the spoken digits (docs/digits.md).
//
// The pipeline of the IMA paper's appendix (A.1.2), at one sample rate for every source
// (8 kHz by default; the paper resamples TIDIGITS to 12.5 kHz, but our held-out real speaker
// is recorded at 8 kHz and every source should see the same band, 0..4 kHz):
//
//   WAV (PCM 16-bit mono) -> float samples in [-1, 1) -> resample to cfg.sample_rate
//   -> pre-emphasis y[n] = x[n] - a x[n-1] (whole signal, y[0] = x[0])
//   -> frames of 20 ms every 10 ms (no padding: F = 1 + (n - L) / H frames for n >= L, else 0)
//   -> Hamming window w[i] = 0.54 - 0.46 cos(2 pi i / (L - 1))
//   -> power spectrum P_k = |FFT_N(frame)_k|^2 / N, k = 0..N/2 (N = next power of two >= L,
//      the frame zero-padded; FFTW's real-to-complex transform, Debian libfftw3-dev)
//   -> mel filterbank: M triangles (HTK mel scale m = 2595 log10(1 + f / 700)) with edges
//      equally spaced in mel between low_hz and high_hz, evaluated at each bin's frequency
//      k sr / N (so no filter is empty at coarse resolutions)
//   -> log(max(E_j, log_floor))
//   -> orthonormal DCT-II over the M log energies; keep c_1 .. c_12 (c_0, the energy term,
//      is dropped, as the paper says)
//
// Because c_0 is dropped, MFCCs do not depend on the signal's gain: scaling x by g adds
// log(g^2) to every log energy, a constant that the DCT puts into c_0 alone. Silence gives
// the constant log(log_floor) everywhere, hence c_1 .. c_12 = 0.
//
// A fixed-size vector per utterance (IMA: 29 frames on each side of the utterance midpoint,
// 58 x 12 = 696 values): the midpoint is the centre of the active frames, those whose
// energy sum_k P_k is within active_db of the loudest frame (the pauses before and after a
// word are not counted); with no active frame (silence), the centre of the file. Frames
// [mid - 29, mid + 29) are concatenated frame by frame (value [f * 12 + c]); frames outside
// the utterance are zeros (what silence gives), so short utterances are zero-padded.
//
// Resampling: band-limited interpolation with a Hann-windowed sinc of 16 zero crossings on
// each side, low-pass at 0.95 x the lower Nyquist frequency; one rate (8 kHz by default)
// for espeak-ng's 22,050 Hz output and Asterisk's 8 kHz prompts alike.
//
// Errors name the file (or the function) and the field: a bad WAV is never read as noise.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fg::data::audio {

// ------------------------------------------------------------------ WAV files
struct Wav {
  int sample_rate = 0;
  std::vector<float> samples;  // mono, int16 / 32768, in [-1, 1)
};

// Reads a RIFF/WAVE file: PCM (format 1, or WAVE_FORMAT_EXTENSIBLE with the PCM subtype),
// 16 bits, 1 channel. Chunks other than "fmt " and "data" are skipped. Throws naming the
// file and the field (RIFF header, fmt chunk, audio format, channels, bits per sample,
// sample rate, block align, data chunk size) and what was expected.
Wav read_wav(const std::string& path);
// The same from bytes in memory; `name` stands for the file in messages.
Wav parse_wav(const std::string& bytes, const std::string& name);
// 16-bit PCM mono; samples are clipped to [-1, 32767/32768] and rounded. Written with
// fg::io::write_output (engine/io/output_file.h: atomic for a regular file).
void write_wav(const std::string& path, const Wav& wav);
std::string encode_wav(const Wav& wav);

// Band-limited resampling from `from_rate` to `to_rate` (both > 0). Output length is
// round(n * to_rate / from_rate). Equal rates return the input unchanged.
std::vector<float> resample(const std::vector<float>& x, int from_rate, int to_rate);

// ------------------------------------------------------------------ building blocks
// Smallest power of two >= n (n >= 1).
std::int64_t next_power_of_two(std::int64_t n);
// HTK mel scale and its inverse.
double hz_to_mel(double hz);
double mel_to_hz(double mel);
// Orthonormal DCT-II: c_k = s_k sum_n x_n cos(pi k (2n + 1) / (2N)), s_0 = sqrt(1/N),
// s_k = sqrt(2/N).
std::vector<double> dct2(const std::vector<double>& x);
// Hamming window of length n.
std::vector<double> hamming(std::int64_t n);

// ------------------------------------------------------------------ MFCC
struct MfccConfig {
  int sample_rate = 8000;
  double frame_ms = 20.0;
  double hop_ms = 10.0;
  double preemphasis = 0.97;   // 0 turns it off
  std::int64_t fft_size = 0;   // 0: next power of two >= the frame length
  std::int64_t num_filters = 26;
  double low_hz = 0.0;
  double high_hz = 0.0;        // 0: sample_rate / 2
  std::int64_t num_coeffs = 12;  // c_1 .. c_num_coeffs (c_0 dropped)
  double log_floor = 1e-10;
  double active_db = 40.0;     // active frames: energy within this many dB of the loudest

  std::int64_t frame_length() const;  // samples per frame (20 ms at 8 kHz: 160)
  std::int64_t hop_length() const;    // samples between frames (80)
  std::int64_t fft_length() const;    // (256)
  double upper_hz() const;            // high_hz, or the Nyquist frequency
  // Throws naming the field: rates and lengths > 0, 0 <= preemphasis < 1, fft_size a power
  // of two >= the frame length, 0 <= low_hz < upper_hz <= sample_rate / 2,
  // 1 <= num_coeffs < num_filters, log_floor > 0, active_db > 0.
  void validate() const;
  // "sr=8000 frame=20ms hop=10ms ..." for file attributes and logs.
  std::string describe() const;
};

// Per-frame features, frame-major: values[f * dim + j].
struct Frames {
  std::int64_t num_frames = 0;
  std::int64_t dim = 0;
  std::vector<float> values;
  float at(std::int64_t frame, std::int64_t j) const { return values[frame * dim + j]; }
};

// Number of frames for n samples (0 when n < the frame length).
std::int64_t num_frames(std::int64_t num_samples, const MfccConfig& cfg);
// Triangular filters [num_filters, fft_length / 2 + 1], row-major.
std::vector<double> mel_filterbank(const MfccConfig& cfg);
// Centre frequency (Hz) of each filter.
std::vector<double> mel_centers_hz(const MfccConfig& cfg);
// Power spectra of the pre-emphasized, windowed frames: [F, fft_length / 2 + 1].
Frames power_frames(const std::vector<float>& samples, const MfccConfig& cfg);
// log(max(mel energy, log_floor)): [F, num_filters] (spectrogram pictures use this).
Frames log_mel_frames(const std::vector<float>& samples, const MfccConfig& cfg);
// MFCCs c_1 .. c_num_coeffs: [F, num_coeffs].
Frames mfcc(const std::vector<float>& samples, const MfccConfig& cfg);

// The active frames [first, last] (energy within active_db of the loudest and above the
// log floor); {-1, -1} when none is.
struct FrameRange {
  std::int64_t first = -1, last = -1;
  bool empty() const { return first < 0; }
};
FrameRange active_frames(const std::vector<float>& samples, const MfccConfig& cfg);
// Centre frame of the utterance: (first + last + 1) / 2 of the active range, or F / 2
// when nothing is active.
std::int64_t utterance_midpoint(const std::vector<float>& samples, const MfccConfig& cfg);
// Frames [center - count / 2, center - count / 2 + count) of `frames`, concatenated
// (count * dim values); frames outside [0, num_frames) are zeros. count >= 1.
std::vector<float> fixed_window(const Frames& frames, std::int64_t center, std::int64_t count);

// The whole pipeline for samples already at cfg.sample_rate: MFCC frames and the
// fixed-size vector of `window_frames` frames around the midpoint (58 -> 696 values).
struct UtteranceFeatures {
  Frames mfcc;
  std::int64_t midpoint = 0;
  std::vector<float> vector;  // window_frames * num_coeffs
};
UtteranceFeatures utterance_features(const std::vector<float>& samples, const MfccConfig& cfg,
                                     std::int64_t window_frames = 58);

}  // namespace fg::data::audio
