// engine/device.cpp: CPU byte services, device parsing, and the routing of each call
// to the CPU or to the CUDA runtime (engine/cuda/runtime.cu).
#include "engine/device.h"

#include <malloc.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include <cblas.h>

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

// Training allocates and frees the same tensor sizes every step. glibc serves blocks
// above its mmap threshold (128 KB to start) with fresh mmaps, so each step would fault
// its pages in again; keeping blocks up to 32 MB (glibc's largest threshold) in the heap
// lets freed blocks be reused. Set once, before the first CPU allocation.
//
// OpenBLAS threads: our CPU matrices are small (batches of tens, widths of hundreds), and
// OpenBLAS's worker threads spin between such calls, taking the cores the rest of the
// step needs. So BLAS runs single-threaded unless OPENBLAS_NUM_THREADS or
// FUSEGRAD_BLAS_THREADS says otherwise (worth it for large models on many cores).
void tune_host_runtime_once() {
  static const bool done = [] {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    if (const char* t = std::getenv("FUSEGRAD_BLAS_THREADS")) {
      openblas_set_num_threads(std::max(1, std::atoi(t)));
    } else if (!std::getenv("OPENBLAS_NUM_THREADS")) {
      openblas_set_num_threads(1);
    }
    return true;
  }();
  (void)done;
}
}  // namespace

bool built_with_cuda() { return cuda_rt::built_with_cuda(); }
bool cuda_available() { return cuda_rt::device_count() > 0; }
int cuda_device_count() { return cuda_rt::device_count(); }

void* allocate(Device d, std::size_t nbytes) {
  if (d.is_cuda()) return cuda_rt::allocate(d.index, nbytes);
  tune_host_runtime_once();
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
