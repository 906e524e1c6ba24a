// engine/device.cpp: CPU byte services, device parsing, and the routing of each call
// to the CPU or to the CUDA runtime (engine/cuda/runtime.cu).
#include "engine/device.h"

#include <malloc.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>

#include <cblas.h>
#include <omp.h>

#include "engine/cuda_runtime_api.h"
#include "engine/error.h"
#include "engine/threads.h"

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
// step needs. So BLAS runs single-threaded unless FUSEGRAD_BLAS_THREADS, OPENBLAS_NUM_THREADS
// or OMP_NUM_THREADS (the first set) says otherwise (worth it for large models on many
// cores), and OpenMP's loops use the same count.
void tune_host_runtime_once() {
  static const bool done = [] {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    // one count for OpenBLAS and for OpenMP (the float32 fast kernels), so the two pools
    // never oversubscribe the cores between them (engine/threads.h)
    int threads = 1;
    for (const char* var : {"FUSEGRAD_BLAS_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"})
      if (const char* t = std::getenv(var)) {
        threads = std::max(1, std::atoi(t));
        break;
      }
    openblas_set_num_threads(threads);
    omp_set_num_threads(threads);
    return true;
  }();
  (void)done;
}
}  // namespace

bool built_with_cuda() { return cuda_rt::built_with_cuda(); }
bool cuda_available() { return cuda_rt::device_count() > 0; }
int cuda_device_count() { return cuda_rt::device_count(); }

namespace {
// Blocks above glibc's largest mmap threshold (32 MB) are fresh mmaps: every use would fault
// all their pages in again (measured: a third of a GELU over 2^24 floats, docs/perf.md "CPU").
// Freed ones are kept, up to kLargeCacheBytes in all, and handed out again for the same
// rounded size, the common case of a training step repeating its shapes.
constexpr std::size_t kLargeBlock = std::size_t{32} << 20;
constexpr std::size_t kLargeCacheBytes = std::size_t{512} << 20;
std::mutex g_large_mutex;
std::multimap<std::size_t, void*> g_large_cache;  // rounded size -> block
std::size_t g_large_cached = 0;

std::size_t rounded_size(std::size_t nbytes) {
  if (nbytes == 0) nbytes = kCpuAlignment;  // a valid unique pointer for empty tensors
  return (nbytes + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
}

void* take_cached(std::size_t rounded) {
  std::lock_guard<std::mutex> lock(g_large_mutex);
  const auto it = g_large_cache.find(rounded);
  if (it == g_large_cache.end()) return nullptr;
  void* p = it->second;
  g_large_cache.erase(it);
  g_large_cached -= rounded;
  return p;
}

// false when the cache is full (the caller frees the block)
bool keep_cached(void* p, std::size_t rounded) {
  std::lock_guard<std::mutex> lock(g_large_mutex);
  if (g_large_cached + rounded > kLargeCacheBytes) return false;
  g_large_cache.emplace(rounded, p);
  g_large_cached += rounded;
  return true;
}
}  // namespace

void* allocate(Device d, std::size_t nbytes) {
  if (d.is_cuda()) return cuda_rt::allocate(d.index, nbytes);
  tune_host_runtime_once();
  const std::size_t rounded = rounded_size(nbytes);
  if (rounded > kLargeBlock)
    if (void* cached = take_cached(rounded)) return cached;
  if (rounded > kLargeBlock) {
    // large blocks on 2 MB boundaries with transparent huge pages asked for (the kernel's
    // "madvise" mode): streaming kernels then take one TLB entry per 2 MB, not per 4 KB
    constexpr std::size_t kHuge = std::size_t{2} << 20;
    void* p = std::aligned_alloc(kHuge, (rounded + kHuge - 1) / kHuge * kHuge);
    if (!p) FG_FAIL("out of host memory allocating {} bytes", nbytes);
    madvise(p, (rounded + kHuge - 1) / kHuge * kHuge, MADV_HUGEPAGE);
    return p;
  }
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
  const std::size_t rounded = rounded_size(nbytes);
  if (rounded > kLargeBlock && keep_cached(ptr, rounded)) return;
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

// engine/threads.h
void set_num_threads(int n) {
  FG_CHECK(n >= 1, "set_num_threads: expected at least 1 thread, got {}", n);
  device::tune_host_runtime_once();  // first, so the first allocation does not reset the count
  openblas_set_num_threads(n);
  omp_set_num_threads(n);
}

int num_threads() { return omp_get_max_threads(); }

}  // namespace fg
