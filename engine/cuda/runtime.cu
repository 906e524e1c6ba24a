// engine/cuda/runtime.cu: the CUDA runtime behind engine/cuda_runtime_api.h (what the
// engine calls), engine/cuda/runtime.h (what kernels call) and engine/cuda/cuda_api.h
// (what users call). Per device, created on first use and never destroyed (tensors
// freed during static destruction must still find their allocator):
//
//  * one non-blocking stream. Every kernel, copy, memset and cuBLAS call of the device
//    goes to it, so work runs in the order it was queued and the allocator can hand a
//    freed block to the next user at once (the next user is queued behind the last).
//  * a cuBLAS handle bound to that stream; TF32 math only after set_allow_tf32(true).
//  * two pinned 4 MiB staging buffers. Host->device copies memcpy the source into one
//    while the other is being sent (the host source is free to reuse on return);
//    device->host copies alternate the same way and return when the data is in place.
//  * a caching allocator:
//      - sizes are rounded up to a size class: 512 bytes, then four classes per power
//        of two (2^k * {1.25, 1.5, 1.75, 2}); at most 25% is wasted, and blocks are
//        never split or merged, so a block of class c serves any request of class c.
//      - a freed block goes to its class's free list; allocate() takes a free block of
//        the class if there is one, and only otherwise calls cudaMalloc. In a steady
//        training loop every request is served from the cache: no cudaMalloc/cudaFree.
//      - if cudaMalloc runs out of memory, the cache is released (cudaFree of every
//        free block) and the allocation retried once; then it fails with an error that
//        names the request and the allocator's numbers.
//      - empty_cache() waits for the device and frees every free block.
//  * the per-step arena, on top of the cache (begin_step/end_step):
//      - the first step records its allocations in order: entry k = the block that the
//        k-th allocation got. Each later step replays the record: its k-th allocation,
//        if it asks for the same size class as entry k and that block is free, gets
//        exactly that block, so a loop that allocates the same sequence every step
//        gets the same addresses every step (CUDA graphs and address-keyed caches
//        rely on this).
//      - if entry k's block is still in use (a tensor kept from the previous step past
//        this point, e.g. last step's loss), the allocation gets another block of the
//        class that no entry names (a new one if need be, so that no later entry of the
//        step loses its block), which replaces entry k in the record (arena_missed counts
//        these). Such a tensor makes its entry alternate between two blocks.
//      - if the k-th allocation asks for a different size class, or the step ends with
//        fewer allocations than the record, the sequence has changed: the record is
//        cut at k and the rest of the step is recorded anew (arena_rerecorded counts
//        such steps). A step that repeats the new sequence replays it exactly.
//      - outside the replay, free blocks that no record entry names are preferred, so
//        other allocations rarely take a block that the next step will ask for.
//      - empty_cache() (or an out-of-memory retry) forgets the record.
// No CUDA call here goes unchecked (engine/cuda/check.h).
#include <algorithm>
#include <atomic>
#include <bit>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/cuda/check.h"
#include "engine/cuda/cuda_api.h"
#include "engine/cuda/runtime.h"
#include "engine/cuda_runtime_api.h"

namespace fg::cuda {

namespace {

constexpr std::size_t kMinBlock = 512;
constexpr std::size_t kStagingBytes = std::size_t{4} << 20;

std::atomic<bool> g_allow_tf32{false};
std::atomic<bool> g_allow_bf16{false};
std::atomic<bool> g_deterministic{false};

std::string mib(std::size_t bytes) {
  return std::to_string(bytes / (1024 * 1024)) + "." + std::to_string((bytes % (1024 * 1024)) * 10 / (1024 * 1024)) +
         " MiB";
}

// The size class of a request: 512 bytes, or n rounded up to a quarter of the power of
// two below it (classes 1.25, 1.5, 1.75 and 2 times 2^k).
std::size_t size_class(std::size_t n) {
  if (n <= kMinBlock) return kMinBlock;
  FG_CUDA_REQUIRE(n <= (std::size_t{1} << 60), "CUDA allocation of " + std::to_string(n) + " bytes is impossibly large");
  const int k = static_cast<int>(std::bit_width(n - 1)) - 1;  // 2^k < n <= 2^(k+1)
  const std::size_t step = (std::size_t{1} << k) / 4;
  return (n + step - 1) / step * step;
}

struct DeviceCount {
  int count = 0;
  cudaError_t error = cudaSuccess;
};

const DeviceCount& device_count_info() {
  static const DeviceCount info = [] {
    DeviceCount d;
    d.error = cudaGetDeviceCount(&d.count);
    if (d.error != cudaSuccess) {
      d.count = 0;
      (void)cudaGetLastError();  // no driver / no device is not an error of later calls
    }
    return d;
  }();
  return info;
}

// Makes `device` current for a scope; restores the previous device on exit.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    CUDA_CHECK(cudaGetDevice(&previous_));
    if (previous_ != device) {
      CUDA_CHECK(cudaSetDevice(device));
      switched_ = true;
    }
  }
  ~DeviceGuard() {
    if (switched_) (void)cudaSetDevice(previous_);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
  bool switched_ = false;
};

// ---------------------------------------------------------------- caching allocator
struct Block {
  void* ptr = nullptr;
  std::size_t size = 0;       // size class: the bytes cudaMalloc gave this block
  std::size_t requested = 0;  // bytes the current user asked for
  bool in_use = false;
  int trace_refs = 0;  // entries of the arena record that name this block
};

class CachingAllocator {
 public:
  CachingAllocator(int device, cudaStream_t stream) : device_(device), stream_(stream) {}

  void* allocate(std::size_t nbytes) {
    const std::size_t cls = size_class(nbytes);
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.allocations;
    Block* b = stepping_ ? arena_pick(cls) : pick(cls);
    b->in_use = true;
    b->requested = nbytes;
    stats_.in_use_bytes += b->size;
    stats_.requested_bytes += nbytes;
    stats_.peak_in_use_bytes = std::max(stats_.peak_in_use_bytes, stats_.in_use_bytes);
    return b->ptr;
  }

  void release(void* ptr) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = blocks_.find(ptr);
    FG_CUDA_REQUIRE(it != blocks_.end() && it->second->in_use,
                    "CUDA allocator on cuda:" + std::to_string(device_) +
                        ": release of a pointer it did not hand out, or released twice");
    Block* b = it->second;
    b->in_use = false;
    stats_.in_use_bytes -= b->size;
    stats_.requested_bytes -= b->requested;
    stats_.cached_bytes += b->size;
    b->requested = 0;
    free_[b->size].push_back(b);
  }

  AllocatorStats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    AllocatorStats s = stats_;
    s.reserved_bytes = s.in_use_bytes + s.cached_bytes;
    s.arena_trace_length = trace_.size();
    return s;
  }

  void reset_peak() {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.peak_in_use_bytes = stats_.in_use_bytes;
  }

  void empty_cache() {
    std::lock_guard<std::mutex> lock(mu_);
    release_cached_locked();
  }

  void begin_step() {
    std::lock_guard<std::mutex> lock(mu_);
    FG_CUDA_REQUIRE(!stepping_, "begin_step on cuda:" + std::to_string(device_) +
                                    ": a step is already open (call end_step first)");
    stepping_ = true;
    cursor_ = 0;
    rerecorded_this_step_ = false;
    discard_record_ = false;
  }

  void end_step() {
    std::lock_guard<std::mutex> lock(mu_);
    FG_CUDA_REQUIRE(stepping_, "end_step on cuda:" + std::to_string(device_) + ": no step is open (call begin_step)");
    if (discard_record_) {
      clear_trace();
    } else if (cursor_ < trace_.size()) {  // fewer allocations than recorded: the sequence changed
      truncate_trace(cursor_);
      if (!rerecorded_this_step_) ++stats_.arena_rerecorded;
    }
    stepping_ = false;
    ++stats_.arena_steps;
  }

  bool in_step() {
    std::lock_guard<std::mutex> lock(mu_);
    return stepping_;
  }

 private:
  // A free block of class cls, else a new one. Free blocks that no arena entry names are
  // preferred; with only_untraced, blocks that an entry names are never taken (a miss
  // during replay must not take a block that a later entry of the step will ask for).
  Block* pick(std::size_t cls, bool only_untraced = false) {
    if (Block* b = take_free(cls, only_untraced)) return b;
    return fresh(cls);
  }

  Block* take_free(std::size_t cls, bool only_untraced) {
    auto it = free_.find(cls);
    if (it == free_.end() || it->second.empty()) return nullptr;
    std::vector<Block*>& list = it->second;
    std::size_t chosen = list.size();
    for (std::size_t i = list.size(); i-- > 0;) {  // most recently freed first: warmest in the caches
      if (list[i]->trace_refs == 0) {
        chosen = i;
        break;
      }
    }
    if (chosen == list.size()) {
      if (only_untraced) return nullptr;
      chosen = list.size() - 1;
    }
    Block* b = list[chosen];
    list.erase(list.begin() + static_cast<std::ptrdiff_t>(chosen));
    stats_.cached_bytes -= b->size;
    ++stats_.cache_hits;
    return b;
  }

  void remove_from_free(Block* b) {
    std::vector<Block*>& list = free_[b->size];
    auto it = std::find(list.begin(), list.end(), b);
    FG_CUDA_REQUIRE(it != list.end(), "CUDA allocator: a free block is missing from its free list (internal error)");
    list.erase(it);
    stats_.cached_bytes -= b->size;
    ++stats_.cache_hits;
  }

  Block* fresh(std::size_t cls) {
    DeviceGuard guard(device_);
    void* p = nullptr;
    cudaError_t err = cudaMalloc(&p, cls);
    if (err == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      release_cached_locked();
      err = cudaMalloc(&p, cls);
    }
    if (err == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      std::size_t free_bytes = 0, total_bytes = 0;
      (void)cudaMemGetInfo(&free_bytes, &total_bytes);
      (void)cudaGetLastError();
      detail::fail(__FILE__, __LINE__,
                   "CUDA out of memory on cuda:" + std::to_string(device_) + " allocating " + mib(cls) + " (" +
                       std::to_string(cls) + " bytes): tensors hold " + mib(stats_.in_use_bytes) + ", the device has " +
                       mib(free_bytes) + " free of " + mib(total_bytes) +
                       " (the allocator's cache was released before this retry)");
    }
    CUDA_CHECK(err);
    auto owned = std::make_unique<Block>();
    owned->ptr = p;
    owned->size = cls;
    Block* b = owned.release();
    blocks_.emplace(p, b);
    ++stats_.device_mallocs;
    return b;
  }

  // Frees every free block with cudaFree (after the device finished the queued work).
  void release_cached_locked() {
    bool any = false;
    for (const auto& entry : free_) any = any || !entry.second.empty();
    if (!any) return;
    {
      DeviceGuard guard(device_);
      CUDA_CHECK(cudaStreamSynchronize(stream_));
    }
    // the record may name the blocks about to be freed: forget it
    clear_trace();
    if (stepping_) discard_record_ = true;
    DeviceGuard guard(device_);
    for (auto& entry : free_) {
      std::vector<Block*>& list = entry.second;
      for (Block* b : list) {
        CUDA_CHECK(cudaFree(b->ptr));
        blocks_.erase(b->ptr);
        stats_.cached_bytes -= b->size;
        ++stats_.device_frees;
        delete b;
      }
      list.clear();
    }
  }

  // ---- arena
  Block* arena_pick(std::size_t cls) {
    if (!discard_record_ && cursor_ < trace_.size()) {
      Block* recorded = trace_[cursor_];
      if (recorded->size == cls) {
        Block* b = recorded;
        if (!recorded->in_use) {
          remove_from_free(recorded);
          ++stats_.arena_replayed;
        } else {  // still held from before: another block takes this entry
          b = pick(cls, /*only_untraced=*/true);
          --recorded->trace_refs;
          trace_[cursor_] = b;
          ++b->trace_refs;
          ++stats_.arena_missed;
        }
        ++cursor_;
        return b;
      }
      // the sequence changed at this allocation: record the rest of the step anew
      truncate_trace(cursor_);
      if (!rerecorded_this_step_) ++stats_.arena_rerecorded;
      rerecorded_this_step_ = true;
    }
    Block* b = pick(cls);
    if (!discard_record_) {
      trace_.push_back(b);
      ++b->trace_refs;
      ++cursor_;
    }
    return b;
  }

  void truncate_trace(std::size_t keep) {
    for (std::size_t i = keep; i < trace_.size(); ++i) --trace_[i]->trace_refs;
    trace_.resize(keep);
  }

  void clear_trace() {
    truncate_trace(0);
    cursor_ = 0;
  }

  int device_;
  cudaStream_t stream_;
  std::mutex mu_;
  std::unordered_map<void*, Block*> blocks_;         // every block this allocator owns
  std::map<std::size_t, std::vector<Block*>> free_;  // size class -> free blocks
  AllocatorStats stats_;
  // arena
  bool stepping_ = false;
  bool rerecorded_this_step_ = false;
  bool discard_record_ = false;
  std::vector<Block*> trace_;
  std::size_t cursor_ = 0;
};

// ---------------------------------------------------------------- per-device state
struct Staging {
  std::mutex mu;
  void* buf[2] = {nullptr, nullptr};
  cudaEvent_t done[2] = {nullptr, nullptr};  // recorded after the last copy that used buf[i]
  bool ready = false;
};

struct DeviceState {
  int device = 0;
  cudaStream_t stream = nullptr;
  cudaDeviceProp props{};
  std::unique_ptr<CachingAllocator> allocator;
  Staging staging;
  std::once_flag blas_once;
  std::mutex blas_mu;
  cublasHandle_t blas = nullptr;
  bool blas_tf32 = false;
};

// The state of `device`, created on first use (stream, properties, allocator).
DeviceState& state(int device) {
  const DeviceCount& dc = device_count_info();
  if (dc.count == 0) {
    detail::fail(__FILE__, __LINE__,
                 std::string("no CUDA device is available (cudaGetDeviceCount: ") +
                     (dc.error == cudaSuccess ? "0 devices" : cudaGetErrorString(dc.error)) +
                     "); use Device::cpu() or run on a machine with an NVIDIA GPU");
  }
  FG_CUDA_REQUIRE(device >= 0 && device < dc.count, "CUDA device cuda:" + std::to_string(device) +
                                                        " does not exist (" + std::to_string(dc.count) +
                                                        " visible)");
  struct Table {
    std::vector<std::unique_ptr<DeviceState>> states;
    std::vector<std::once_flag> once;
    explicit Table(int n) : once(static_cast<std::size_t>(n)) {
      for (int i = 0; i < n; ++i) states.push_back(std::make_unique<DeviceState>());
    }
  };
  static Table* table = new Table(dc.count);  // never destroyed: see the file comment
  DeviceState& st = *table->states[static_cast<std::size_t>(device)];
  std::call_once(table->once[static_cast<std::size_t>(device)], [&] {
    DeviceGuard guard(device);
    st.device = device;
    CUDA_CHECK(cudaGetDeviceProperties(&st.props, device));
    CUDA_CHECK(cudaStreamCreateWithFlags(&st.stream, cudaStreamNonBlocking));
    st.allocator = std::make_unique<CachingAllocator>(device, st.stream);
  });
  return st;
}

int device_of_pointer(const void* p) {
  cudaPointerAttributes attr{};
  CUDA_CHECK(cudaPointerGetAttributes(&attr, p));
  FG_CUDA_REQUIRE(attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged,
                  "copy: a pointer said to be CUDA device memory is not (cudaPointerGetAttributes type " +
                      std::to_string(static_cast<int>(attr.type)) + ")");
  return attr.device;
}

void ensure_staging(Staging& s) {
  if (s.ready) return;
  for (int i = 0; i < 2; ++i) {
    CUDA_CHECK(cudaHostAlloc(&s.buf[i], kStagingBytes, cudaHostAllocDefault));
    CUDA_CHECK(cudaEventCreateWithFlags(&s.done[i], cudaEventDisableTiming));
  }
  s.ready = true;
}

void host_to_device(DeviceState& st, void* dst, const void* src, std::size_t nbytes) {
  DeviceGuard guard(st.device);
  std::lock_guard<std::mutex> lock(st.staging.mu);
  ensure_staging(st.staging);
  std::size_t off = 0;
  int i = 0;
  while (off < nbytes) {
    const std::size_t len = std::min(kStagingBytes, nbytes - off);
    CUDA_CHECK(cudaEventSynchronize(st.staging.done[i]));  // the copy that last read buf[i] is finished
    std::memcpy(st.staging.buf[i], static_cast<const char*>(src) + off, len);
    CUDA_CHECK(cudaMemcpyAsync(static_cast<char*>(dst) + off, st.staging.buf[i], len, cudaMemcpyHostToDevice,
                               st.stream));
    CUDA_CHECK(cudaEventRecord(st.staging.done[i], st.stream));
    off += len;
    i ^= 1;
  }
}

void device_to_host(DeviceState& st, void* dst, const void* src, std::size_t nbytes) {
  DeviceGuard guard(st.device);
  std::lock_guard<std::mutex> lock(st.staging.mu);
  ensure_staging(st.staging);
  // chunk c lands in buf[c % 2]; while it is in flight the host copies out chunk c - 1
  std::size_t off = 0, prev_off = 0, prev_len = 0;
  int i = 0, prev = -1;
  while (off < nbytes) {
    const std::size_t len = std::min(kStagingBytes, nbytes - off);
    CUDA_CHECK(cudaMemcpyAsync(st.staging.buf[i], static_cast<const char*>(src) + off, len, cudaMemcpyDeviceToHost,
                               st.stream));
    CUDA_CHECK(cudaEventRecord(st.staging.done[i], st.stream));
    if (prev >= 0) {
      CUDA_CHECK(cudaEventSynchronize(st.staging.done[prev]));
      std::memcpy(static_cast<char*>(dst) + prev_off, st.staging.buf[prev], prev_len);
    }
    prev = i;
    prev_off = off;
    prev_len = len;
    off += len;
    i ^= 1;
  }
  if (prev >= 0) {
    CUDA_CHECK(cudaEventSynchronize(st.staging.done[prev]));
    std::memcpy(static_cast<char*>(dst) + prev_off, st.staging.buf[prev], prev_len);
  }
}

}  // namespace

// ---------------------------------------------------------------- runtime.h (for kernels)
int current_device() {
  int d = 0;
  CUDA_CHECK(cudaGetDevice(&d));
  return d;
}

cudaStream_t current_stream() { return state(current_device()).stream; }

int sm_count() { return state(current_device()).props.multiProcessorCount; }

cublasHandle_t cublas_handle() {
  DeviceState& st = state(current_device());
  std::call_once(st.blas_once, [&] {
    CUBLAS_CHECK(cublasCreate(&st.blas));
    CUBLAS_CHECK(cublasSetStream(st.blas, st.stream));
    CUBLAS_CHECK(cublasSetMathMode(st.blas, CUBLAS_DEFAULT_MATH));
    st.blas_tf32 = false;
  });
  std::lock_guard<std::mutex> lock(st.blas_mu);
  const bool want = g_allow_tf32.load();
  if (want != st.blas_tf32) {
    CUBLAS_CHECK(cublasSetMathMode(st.blas, want ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    st.blas_tf32 = want;
  }
  return st.blas;
}

DeviceBuffer::DeviceBuffer(std::size_t nbytes) : nbytes_(nbytes), device_(current_device()) {
  if (nbytes > 0) ptr_ = state(device_).allocator->allocate(nbytes);
}

DeviceBuffer::~DeviceBuffer() { reset(); }

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : ptr_(other.ptr_), nbytes_(other.nbytes_), device_(other.device_) {
  other.ptr_ = nullptr;
  other.nbytes_ = 0;
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    reset();
    ptr_ = other.ptr_;
    nbytes_ = other.nbytes_;
    device_ = other.device_;
    other.ptr_ = nullptr;
    other.nbytes_ = 0;
  }
  return *this;
}

void DeviceBuffer::reset() {
  if (!ptr_) return;
  try {
    state(device_).allocator->release(ptr_);
  } catch (...) {
    // a destructor must not throw; the block is leaked instead
  }
  ptr_ = nullptr;
  nbytes_ = 0;
}

void copy_to_device(void* dst, const void* src, std::size_t nbytes) {
  if (nbytes == 0) return;
  host_to_device(state(current_device()), dst, src, nbytes);
}

// ---------------------------------------------------------------- cuda_api.h (for users)
bool available() { return device_count_info().count > 0; }
int device_count() { return device_count_info().count; }
AllocatorStats allocator_stats(int device) { return state(device).allocator->stats(); }
void reset_peak_stats(int device) { state(device).allocator->reset_peak(); }
void empty_cache(int device) { state(device).allocator->empty_cache(); }

void mem_get_info(std::size_t* free_bytes, std::size_t* total_bytes, int device) {
  DeviceGuard guard(device);
  CUDA_CHECK(cudaMemGetInfo(free_bytes, total_bytes));
}
void begin_step(int device) { state(device).allocator->begin_step(); }
void end_step(int device) { state(device).allocator->end_step(); }
bool in_step(int device) { return state(device).allocator->in_step(); }

StepScope::StepScope(int device) : device_(device) { begin_step(device_); }
StepScope::~StepScope() {
  try {
    end_step(device_);
  } catch (...) {
    // end_step only throws when no step is open, which this scope rules out
  }
}

void set_allow_tf32(bool on) { g_allow_tf32 = on; }
bool allow_tf32() { return g_allow_tf32; }
void set_allow_bf16(bool on) { g_allow_bf16 = on; }
bool allow_bf16() { return g_allow_bf16; }
void set_deterministic(bool on) { g_deterministic = on; }
bool deterministic() { return g_deterministic; }
void synchronize(int device) { cuda_rt::synchronize(device); }

}  // namespace fg::cuda

// ---------------------------------------------------------------- cuda_runtime_api.h (for the engine)
namespace fg::cuda_rt {

bool built_with_cuda() { return true; }

int device_count() { return fg::cuda::device_count(); }

void* allocate(int device, std::size_t nbytes) { return fg::cuda::state(device).allocator->allocate(nbytes); }

void release(int device, void* ptr, std::size_t) { fg::cuda::state(device).allocator->release(ptr); }

void copy(bool dst_is_cuda, void* dst, bool src_is_cuda, const void* src, std::size_t nbytes) {
  using fg::cuda::state;
  if (nbytes == 0) return;
  if (dst_is_cuda && !src_is_cuda) {
    fg::cuda::host_to_device(state(fg::cuda::device_of_pointer(dst)), dst, src, nbytes);
  } else if (!dst_is_cuda && src_is_cuda) {
    fg::cuda::device_to_host(state(fg::cuda::device_of_pointer(src)), dst, src, nbytes);
  } else if (dst_is_cuda && src_is_cuda) {
    const int src_dev = fg::cuda::device_of_pointer(src), dst_dev = fg::cuda::device_of_pointer(dst);
    auto& s = state(src_dev);
    fg::cuda::DeviceGuard guard(src_dev);
    if (src_dev == dst_dev) {
      CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToDevice, s.stream));
    } else {  // between devices: order against both streams by waiting on both
      auto& d = state(dst_dev);
      CUDA_CHECK(cudaStreamSynchronize(d.stream));
      CUDA_CHECK(cudaMemcpyPeerAsync(dst, dst_dev, src, src_dev, nbytes, s.stream));
      CUDA_CHECK(cudaStreamSynchronize(s.stream));
    }
  } else {
    std::memcpy(dst, src, nbytes);
  }
}

void zero(int device, void* ptr, std::size_t nbytes) {
  if (nbytes == 0) return;
  auto& s = fg::cuda::state(device);
  fg::cuda::DeviceGuard guard(device);
  CUDA_CHECK(cudaMemsetAsync(ptr, 0, nbytes, s.stream));
}

void synchronize(int device) {
  auto& s = fg::cuda::state(device);
  fg::cuda::DeviceGuard guard(device);
  CUDA_CHECK(cudaStreamSynchronize(s.stream));
}

}  // namespace fg::cuda_rt
