// engine/cuda/runtime.h: what CUDA kernels need from the runtime (engine/cuda/runtime.cu):
// the stream to launch on, the cuBLAS handle bound to it, device properties, and
// temporary device memory from the caching allocator. Needs the CUDA headers: include
// it from .cu files and engine/cuda/ only (the engine uses engine/cuda_runtime_api.h,
// users engine/cuda/cuda_api.h).
//
// Kernels run on the current CUDA device (device 0 unless the program calls
// cudaSetDevice); every kernel and copy of that device goes to one stream, so work
// is ordered without extra synchronization and a freed block may be reused at once.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace fg::cuda {

// The stream of the current device (created on first use, non-blocking).
cudaStream_t current_stream();
// The cuBLAS handle of the current device, bound to current_stream(), with the math mode
// that allow_tf32() asks for.
cublasHandle_t cublas_handle();
// Number of streaming multiprocessors of the current device (for grid sizing).
int sm_count();
int current_device();

// Temporary device memory from the caching allocator, returned to the cache (not to
// the driver) when the buffer goes out of scope. Safe to release right after queueing
// kernels that use it: every later user of the block is queued on the same stream.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t nbytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* data() const { return ptr_; }
  template <class T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  std::size_t size() const { return nbytes_; }

 private:
  void reset();
  void* ptr_ = nullptr;
  std::size_t nbytes_ = 0;
  int device_ = 0;
};

// Copies host memory to the device through the pinned staging buffers (asynchronous
// with respect to the device; the host source may be reused as soon as this returns).
void copy_to_device(void* dst, const void* src, std::size_t nbytes);

}  // namespace fg::cuda
