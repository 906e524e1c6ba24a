// engine/cuda/cuda_api.h: the user-facing controls of the CUDA backend. Plain C++: no
// CUDA header is needed to include it, and every function exists in a CPU-only build
// too (engine/cuda_stub.cpp), where the switches still work and the device functions
// throw "built without CUDA".
//
//   fg::cuda::set_deterministic(true);   // scatter-add/index_add without float atomics
//   fg::cuda::set_allow_tf32(true);      // cuBLAS may use TF32 tensor cores (off by default)
//   fg::cuda::set_allow_bf16(true);      // cuBLAS may use BF16 tensor cores (off by default)
//   auto s = fg::cuda::allocator_stats(); // in use, peak, cached bytes, cache hits
//   fg::cuda::empty_cache();             // hand cached blocks back to the driver
//
//   for (step...) {
//     fg::cuda::StepScope arena;          // begin_step() ... end_step()
//     forward, backward, optimizer step
//   }
//
// The caching allocator and its per-step arena are described in engine/cuda/runtime.cu.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fg::cuda {

// True when this build has CUDA and a device is visible (same as fg::device::cuda_available()).
bool available();
int device_count();

// ---------------------------------------------------------------- allocator
struct AllocatorStats {
  std::size_t in_use_bytes = 0;       // bytes of the blocks now handed out (rounded to their size class)
  std::size_t requested_bytes = 0;    // bytes the live allocations asked for
  std::size_t peak_in_use_bytes = 0;  // highest in_use_bytes since start or reset_peak_stats()
  std::size_t cached_bytes = 0;       // bytes of free blocks kept for reuse
  std::size_t reserved_bytes = 0;     // in use + cached: everything obtained with cudaMalloc
  std::uint64_t allocations = 0;      // allocate() calls
  std::uint64_t cache_hits = 0;       // allocations served from the cache (no cudaMalloc)
  std::uint64_t device_mallocs = 0;   // cudaMalloc calls
  std::uint64_t device_frees = 0;     // cudaFree calls (empty_cache, or retrying after out-of-memory)
  // per-step arena (begin_step / end_step)
  std::uint64_t arena_steps = 0;      // completed steps
  std::uint64_t arena_replayed = 0;   // allocations that got the address recorded for them
  std::uint64_t arena_missed = 0;     // recorded block still in use: another block took its place
  std::uint64_t arena_rerecorded = 0; // steps whose allocation sequence changed: recorded anew from there
  std::size_t arena_trace_length = 0; // allocations in the recorded step sequence
};

AllocatorStats allocator_stats(int device = 0);
void reset_peak_stats(int device = 0);
// Waits for the device, then frees every cached (unused) block with cudaFree. Also
// forgets the arena's recorded sequence (its blocks may be gone).
void empty_cache(int device = 0);
// Free and total memory of the device as the driver reports them (cudaMemGetInfo); the
// allocator's cached blocks count as used. Tests that need a lot of memory ask first.
void mem_get_info(std::size_t* free_bytes, std::size_t* total_bytes, int device = 0);

// Per-step arena: between begin_step and end_step the n-th allocation gets the same
// address as the n-th allocation of the previous step, as long as the sequence of
// sizes repeats. See engine/cuda/runtime.cu for what happens when it does not.
void begin_step(int device = 0);
void end_step(int device = 0);
bool in_step(int device = 0);

// begin_step() on construction, end_step() on destruction.
class StepScope {
 public:
  explicit StepScope(int device = 0);
  ~StepScope();
  StepScope(const StepScope&) = delete;
  StepScope& operator=(const StepScope&) = delete;

 private:
  int device_;
};

// ---------------------------------------------------------------- numerics switches
// TF32 tensor-core math in cuBLAS float32 GEMMs (about 10 mantissa bits on the inputs).
// Off by default, so float32 results match float32 arithmetic.
void set_allow_tf32(bool on);
bool allow_tf32();

// BF16 tensor-core math in cuBLAS float32 GEMMs: the inputs are rounded to bfloat16 (8
// mantissa bits, relative error up to 2^-9 per input) and the products accumulate in
// float32 (cublasGemmStridedBatchedEx with CUBLAS_COMPUTE_32F_FAST_16BF). Tensors stay
// float32. Off by default; when on it takes precedence over TF32.
void set_allow_bf16(bool on);
bool allow_bf16();

// Deterministic mode: kernels that would accumulate with float atomics (index_add,
// scatter_add) instead sort the contributions by destination and sum each destination
// in a fixed order, so repeated runs give bitwise-identical results. Off by default.
void set_deterministic(bool on);
bool deterministic();

// Waits for all work queued on the device's stream; throws if a kernel failed.
void synchronize(int device = 0);

}  // namespace fg::cuda
