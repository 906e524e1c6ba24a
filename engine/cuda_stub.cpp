// engine/cuda_stub.cpp: the CUDA runtime interface for a CPU-only build
// (FUSEGRAD_CUDA=OFF). Nothing here pretends to work: asking for CUDA memory
// throws an error that says how to get a CUDA build.
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
