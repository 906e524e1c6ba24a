// engine/cuda_stub.cpp: the CUDA runtime interface for a CPU-only build
// (FUSEGRAD_CUDA=OFF). Nothing here pretends to work: asking for CUDA memory
// throws an error that says how to get a CUDA build. The user-facing switches of
// engine/cuda/cuda_api.h (deterministic, tf32) are plain flags here, so a program can
// set them unconditionally; the functions that need a device throw.
#include <atomic>

#include "engine/cuda/cuda_api.h"
#include "engine/cuda_runtime_api.h"
#include "engine/error.h"

namespace fg::cuda_rt {

namespace {
[[noreturn]] void no_cuda(const char* what) {
  FG_FAIL("{}: this fusegrad was built without CUDA (configure with -DFUSEGRAD_CUDA=ON on a machine with nvcc)",
          what);
}
}  // namespace

bool built_with_cuda() { return false; }
int device_count() { return 0; }
void* allocate(int, std::size_t) { no_cuda("allocating CUDA memory"); }
void release(int, void*, std::size_t) { no_cuda("freeing CUDA memory"); }
void copy(bool, void*, bool, const void*, std::size_t) { no_cuda("copying to or from CUDA memory"); }
void zero(int, void*, std::size_t) { no_cuda("zeroing CUDA memory"); }
void synchronize(int) { no_cuda("synchronizing a CUDA device"); }

}  // namespace fg::cuda_rt

namespace fg::cuda {

namespace {
std::atomic<bool> g_allow_tf32{false};
std::atomic<bool> g_allow_bf16{false};
std::atomic<bool> g_deterministic{false};
}  // namespace

bool available() { return false; }
int device_count() { return 0; }
AllocatorStats allocator_stats(int) { cuda_rt::no_cuda("reading CUDA allocator statistics"); }
void reset_peak_stats(int) { cuda_rt::no_cuda("resetting CUDA allocator statistics"); }
void empty_cache(int) { cuda_rt::no_cuda("emptying the CUDA allocator cache"); }
void mem_get_info(std::size_t*, std::size_t*, int) { cuda_rt::no_cuda("reading the CUDA device's free memory"); }
void begin_step(int) { cuda_rt::no_cuda("starting a CUDA allocator step"); }
void end_step(int) { cuda_rt::no_cuda("ending a CUDA allocator step"); }
bool in_step(int) { return false; }
StepScope::StepScope(int device) : device_(device) { begin_step(device_); }
StepScope::~StepScope() = default;
void set_allow_tf32(bool on) { g_allow_tf32 = on; }
bool allow_tf32() { return g_allow_tf32; }
void set_allow_bf16(bool on) { g_allow_bf16 = on; }
bool allow_bf16() { return g_allow_bf16; }
void set_deterministic(bool on) { g_deterministic = on; }
bool deterministic() { return g_deterministic; }
void synchronize(int) { cuda_rt::no_cuda("synchronizing a CUDA device"); }

}  // namespace fg::cuda
