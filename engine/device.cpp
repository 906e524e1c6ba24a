// engine/device.cpp: CPU byte services, device parsing, and the routing of each call
// to the CPU or to the CUDA runtime (engine/cuda/runtime.cu).
#include "engine/device.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "engine/cuda_runtime_api.h"
#include "engine/error.h"

namespace fg {

std::string Device::str() const { return is_cpu() ? std::string("cpu") : fmt::format("cuda:{}", index); }

Device parse_device(const std::string& text) {
  if (text == "cpu") return Device::cpu();
  if (text == "cuda") return Device::cuda(0);
  if (text.rfind("cuda:", 0) == 0) {
    const std::string num = text.substr(5);
    char* end = nullptr;
    const long idx = std::strtol(num.c_str(), &end, 10);
    if (!num.empty() && end && *end == '\0' && idx >= 0) return Device::cuda(static_cast<int>(idx));
  }
  FG_FAIL("unknown device '{}': expected 'cpu', 'cuda' or 'cuda:N'", text);
}

namespace device {

namespace {
constexpr std::size_t kCpuAlignment = 64;
}

bool built_with_cuda() { return cuda_rt::built_with_cuda(); }
bool cuda_available() { return cuda_rt::device_count() > 0; }
int cuda_device_count() { return cuda_rt::device_count(); }

void* allocate(Device d, std::size_t nbytes) {
  if (d.is_cuda()) return cuda_rt::allocate(d.index, nbytes);
  if (nbytes == 0) nbytes = kCpuAlignment;  // a valid unique pointer for empty tensors
  const std::size_t rounded = (nbytes + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
  void* p = std::aligned_alloc(kCpuAlignment, rounded);
  if (!p) FG_FAIL("out of host memory allocating {} bytes", nbytes);
  return p;
}

void release(Device d, void* ptr, std::size_t nbytes) {
  if (!ptr) return;
  if (d.is_cuda()) {
    cuda_rt::release(d.index, ptr, nbytes);
    return;
  }
  std::free(ptr);
}

void copy(Device dst_dev, void* dst, Device src_dev, const void* src, std::size_t nbytes) {
  if (nbytes == 0) return;
  if (dst_dev.is_cpu() && src_dev.is_cpu()) {
    std::memcpy(dst, src, nbytes);
    return;
  }
  cuda_rt::copy(dst_dev.is_cuda(), dst, src_dev.is_cuda(), src, nbytes);
}

void zero(Device d, void* ptr, std::size_t nbytes) {
  if (nbytes == 0) return;
  if (d.is_cuda()) {
    cuda_rt::zero(d.index, ptr, nbytes);
    return;
  }
  std::memset(ptr, 0, nbytes);
}

void synchronize(Device d) {
  if (d.is_cuda()) cuda_rt::synchronize(d.index);
}

}  // namespace device
}  // namespace fg
