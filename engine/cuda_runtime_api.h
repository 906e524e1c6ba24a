// engine/cuda_runtime_api.h: the narrow C++ interface between the engine and the CUDA
// runtime. Plain C++ (no CUDA headers), so every engine file can include it.
//
// With FUSEGRAD_CUDA these are defined in engine/cuda/runtime.cu (caching allocator,
// pinned staging copies, stream, cuBLAS handle). Without it, engine/cuda_stub.cpp
// defines them: device_count() is 0 and the rest throw "built without CUDA".
#pragma once

#include <cstddef>

namespace fg::cuda_rt {

bool built_with_cuda();
int device_count();
void* allocate(int device, std::size_t nbytes);
void release(int device, void* ptr, std::size_t nbytes);
void copy(bool dst_is_cuda, void* dst, bool src_is_cuda, const void* src, std::size_t nbytes);
void zero(int device, void* ptr, std::size_t nbytes);
void synchronize(int device);

}  // namespace fg::cuda_rt
