// engine/random.cpp: host-side draws of the Generator (see engine/random.h).
#include "engine/random.h"

#include "kernels/random.h"

namespace fg {

std::uint32_t Generator::next_u32() { return philox4x32_10(seed_, reserve(1)).w[0]; }

double Generator::next_uniform() { return philox_uniform_f64(philox4x32_10(seed_, reserve(1))); }

std::uint64_t Generator::next_below(std::uint64_t n) {
  if (n <= 1) return 0;
  // rejection sampling on 64-bit draws: accept below the largest multiple of n
  const std::uint64_t limit = ~std::uint64_t(0) - (~std::uint64_t(0) % n);
  while (true) {
    const Philox4 r = philox4x32_10(seed_, reserve(1));
    const std::uint64_t v = (static_cast<std::uint64_t>(r.w[0]) << 32) | r.w[1];
    if (v < limit) return v % n;
  }
}

Generator& default_generator() {
  static Generator gen(0);
  return gen;
}

void manual_seed(std::uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace fg
