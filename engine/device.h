// engine/device.h: where a tensor lives, and the byte-level services each device offers
// (allocate, free, copy, fill, synchronize). The CPU side is in engine/device.cpp; the
// CUDA side in engine/cuda/runtime.cu when built with FUSEGRAD_CUDA, otherwise every
// CUDA entry point throws a clear "built without CUDA" error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace fg {

struct Device {
  enum class Kind : std::uint8_t { CPU, CUDA };
  Kind kind = Kind::CPU;
  int index = 0;

  static Device cpu() { return {Kind::CPU, 0}; }
  static Device cuda(int i = 0) { return {Kind::CUDA, i}; }
  bool is_cpu() const { return kind == Kind::CPU; }
  bool is_cuda() const { return kind == Kind::CUDA; }
  bool operator==(const Device& o) const { return kind == o.kind && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const;  // "cpu" or "cuda:0"
};

// Parses "cpu", "cuda", "cuda:1"; throws fg::Error naming the text otherwise.
Device parse_device(const std::string& text);

namespace device {

// True when this build has CUDA and a device is visible.
bool cuda_available();
// Number of visible CUDA devices (0 in a CPU-only build).
int cuda_device_count();
// Whether this binary was compiled with the CUDA backend.
bool built_with_cuda();

void* allocate(Device d, std::size_t nbytes);
void release(Device d, void* ptr, std::size_t nbytes);
// Copies nbytes between any two devices (host<->device goes through pinned staging).
void copy(Device dst_dev, void* dst, Device src_dev, const void* src, std::size_t nbytes);
// Sets nbytes to zero.
void zero(Device d, void* ptr, std::size_t nbytes);
// Waits for all queued work on the device (no-op on the CPU).
void synchronize(Device d);

}  // namespace device
}  // namespace fg
