"""An independent numpy implementation of data/audio_features.h's MFCC pipeline.

tests/test_audio_features.cpp writes a signal as raw little-endian float32, runs this
script (Debian's /usr/bin/python3 with python3-numpy) and compares, frame by frame, the
power spectra, the log-mel energies and the MFCCs with the C++ ones (FFTW there,
numpy.fft.rfft here; the filterbank and the DCT are rebuilt from their definitions).

    /usr/bin/python3 tests/reference/mfcc_numpy.py IN.f32 OUT.f64 \
        --sample-rate 8000 --frame-ms 20 --hop-ms 10 --preemphasis 0.97 \
        --filters 26 --coeffs 12 --low-hz 0 --high-hz 0 --log-floor 1e-10

OUT is raw little-endian float64: the frame count F, then power [F, N/2 + 1], log-mel
[F, filters] and MFCC [F, coeffs], each row-major.
"""
import argparse
import sys

import numpy as np


def hz_to_mel(hz):
    return 2595.0 * np.log10(1.0 + hz / 700.0)


def mel_to_hz(mel):
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("inp")
    ap.add_argument("out")
    ap.add_argument("--sample-rate", type=int, default=8000)
    ap.add_argument("--frame-ms", type=float, default=20.0)
    ap.add_argument("--hop-ms", type=float, default=10.0)
    ap.add_argument("--preemphasis", type=float, default=0.97)
    ap.add_argument("--filters", type=int, default=26)
    ap.add_argument("--coeffs", type=int, default=12)
    ap.add_argument("--low-hz", type=float, default=0.0)
    ap.add_argument("--high-hz", type=float, default=0.0)
    ap.add_argument("--log-floor", type=float, default=1e-10)
    a = ap.parse_args()

    x = np.fromfile(a.inp, dtype="<f4").astype(np.float64)
    sr = a.sample_rate
    L = int(round(sr * a.frame_ms / 1000.0))
    H = int(round(sr * a.hop_ms / 1000.0))
    N = 1
    while N < L:
        N *= 2
    high = a.high_hz if a.high_hz > 0 else sr / 2.0

    y = x.copy()
    y[1:] = x[1:] - a.preemphasis * x[:-1]
    F = 0 if len(y) < L else 1 + (len(y) - L) // H
    window = np.hamming(L)  # 0.54 - 0.46 cos(2 pi n / (L - 1))
    frames = np.stack([y[f * H:f * H + L] * window for f in range(F)]) if F else np.zeros((0, L))
    power = np.abs(np.fft.rfft(frames, n=N, axis=1)) ** 2 / N

    edges = mel_to_hz(np.linspace(hz_to_mel(a.low_hz), hz_to_mel(high), a.filters + 2))
    freqs = np.arange(N // 2 + 1) * sr / N
    fb = np.zeros((a.filters, N // 2 + 1))
    for j in range(a.filters):
        left, centre, right = edges[j], edges[j + 1], edges[j + 2]
        rising = (freqs > left) & (freqs <= centre)
        falling = (freqs > centre) & (freqs < right)
        fb[j, rising] = (freqs[rising] - left) / (centre - left)
        fb[j, falling] = (right - freqs[falling]) / (right - centre)
    logmel = np.log(np.maximum(power @ fb.T, a.log_floor))

    M = a.filters
    k = np.arange(M)[:, None]
    n = np.arange(M)[None, :]
    dct = np.cos(np.pi * k * (2 * n + 1) / (2 * M)) * np.where(k == 0, np.sqrt(1.0 / M), np.sqrt(2.0 / M))
    mfcc = logmel @ dct[1:a.coeffs + 1].T

    out = np.concatenate([[float(F)], power.ravel(), logmel.ravel(), mfcc.ravel()]).astype("<f8")
    out.tofile(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
