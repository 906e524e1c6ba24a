// kernels/random.h: counter-based random numbers (Philox4x32-10) and the kernels that
// draw from them.
//
// Element i of a draw with (seed, offset) uses the Philox block at counter
// (offset + i), key = seed, and reads its four 32-bit words:
//   uniform:  u = (w0 >> 8) * 2^-24            (float32, exact on any device)
//             u = ((w0 >> 5) * 2^26 + (w1 >> 6)) * 2^-53   (float64)
//   normal:   Box-Muller on u1 = (w0 + 1) 2^-32 in (0, 1], u2 = w1 2^-32: sqrt(-2 ln u1) cos(2 pi u2)
//   dropout:  keep element i iff its float32 uniform u >= p.
// The value of element i depends only on (seed, offset + i), never on how threads are
// scheduled, so CPU and CUDA produce the same uniforms and the same dropout masks.
// (Normals agree to rounding: log and cos may differ in the last bits between devices.)
#pragma once

#include <cstdint>

#include "kernels/types.h"

namespace fg {

struct Philox4 {
  std::uint32_t w[4];
};

// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", 2011).
FG_HOST_DEVICE inline Philox4 philox4x32_10(std::uint64_t seed, std::uint64_t counter) {
  std::uint32_t c0 = static_cast<std::uint32_t>(counter), c1 = static_cast<std::uint32_t>(counter >> 32), c2 = 0, c3 = 0;
  std::uint32_t k0 = static_cast<std::uint32_t>(seed), k1 = static_cast<std::uint32_t>(seed >> 32);
  constexpr std::uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u, kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = static_cast<std::uint64_t>(kM0) * c0;
    const std::uint64_t p1 = static_cast<std::uint64_t>(kM1) * c2;
    const std::uint32_t hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
    const std::uint32_t hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += kW0;
    k1 += kW1;
  }
  return Philox4{{c0, c1, c2, c3}};
}

FG_HOST_DEVICE inline float philox_uniform_f32(const Philox4& r) {
  return static_cast<float>(r.w[0] >> 8) * (1.0f / 16777216.0f);
}

FG_HOST_DEVICE inline double philox_uniform_f64(const Philox4& r) {
  const std::uint64_t hi = r.w[0] >> 5, lo = r.w[1] >> 6;
  return static_cast<double>(hi * 67108864ull + lo) * (1.0 / 9007199254740992.0);
}

namespace kernels {

// out[i] = lo + (hi - lo) * uniform_i
FG_KERNEL(random_uniform, (DType dt, std::int64_t n, std::uint64_t seed, std::uint64_t offset, double lo, double hi,
                           void* out))
// out[i] = mean + std * normal_i
FG_KERNEL(random_normal, (DType dt, std::int64_t n, std::uint64_t seed, std::uint64_t offset, double mean, double std,
                          void* out))
// mask[i] = (uniform_f32_i >= p) / (1 - p); y[i] = x[i] * mask[i].
// Backward is gx = gy * mask (a plain multiply by the saved mask).
FG_KERNEL(dropout_forward, (DType dt, std::int64_t n, double p, std::uint64_t seed, std::uint64_t offset, const void* x,
                            void* y, void* mask))

}  // namespace kernels
}  // namespace fg
