// engine/random.h: a seeded source of random numbers for every device.
//
// A Generator is just (seed, offset). Each draw of n numbers reserves counters
// [offset, offset + n) and advances the offset; the numbers themselves are computed
// by the Philox kernels of kernels/random.h, so the same seed gives the same
// numbers on the CPU and on CUDA, however the work is split across threads.
#pragma once

#include <cstdint>

namespace fg {

class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0) : seed_(seed) {}

  std::uint64_t seed() const { return seed_; }
  std::uint64_t offset() const { return offset_; }
  void manual_seed(std::uint64_t seed) { seed_ = seed; offset_ = 0; }

  // Reserves n counters and returns the first one.
  std::uint64_t reserve(std::uint64_t n) {
    const std::uint64_t first = offset_;
    offset_ += n;
    return first;
  }

  // Host-side draws (for shuffles and permutations), from the same Philox stream.
  std::uint32_t next_u32();
  double next_uniform();  // [0, 1), 53 bits
  // Uniform integer in [0, n) without modulo bias.
  std::uint64_t next_below(std::uint64_t n);

 private:
  std::uint64_t seed_;
  std::uint64_t offset_ = 0;
};

// The process-wide generator used when an op is given none (seeded with 0).
Generator& default_generator();
// Re-seeds the default generator.
void manual_seed(std::uint64_t seed);

}  // namespace fg
