// engine/cuda/check.h: checks for every CUDA runtime call, cuBLAS call and kernel launch.
//
//   CUDA_CHECK(cudaMemsetAsync(p, 0, n, stream));
//   CUBLAS_CHECK(cublasSgemm(...));
//   my_kernel<<<grid, block, 0, stream>>>(...);
//   CUDA_CHECK_LAUNCH("my_kernel");
//
// A failure throws fg::Error whose message starts with "file:line:" and names the call,
// the CUDA error name and its description, like FG_CHECK (engine/error.h). The
// throwing functions live in engine/cuda/errors.cpp, compiled by the host compiler:
// nvcc cannot compile fmt's compile-time format strings, so no .cu file includes
// engine/error.h, only this header.
//
// CUDA_CHECK_LAUNCH reads cudaGetLastError() (bad launch configurations surface at
// once); errors inside a kernel surface at the next synchronizing call. Set the
// environment variable FG_CUDA_LAUNCH_BLOCKING=1 to synchronize after every launch,
// so that such an error is reported at the launch that caused it.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

namespace fg::cuda::detail {

[[noreturn]] void throw_cuda_error(const char* file, int line, const char* expr, cudaError_t err);
[[noreturn]] void throw_cublas_error(const char* file, int line, const char* expr, cublasStatus_t status);
// Throws fg::Error("file:line: message").
[[noreturn]] void fail(const char* file, int line, const std::string& message);
// Checks the last launch (and, with FG_CUDA_LAUNCH_BLOCKING=1, waits for it).
void check_launch(const char* file, int line, const char* kernel);

}  // namespace fg::cuda::detail

#define CUDA_CHECK(expr)                                                                       \
  do {                                                                                         \
    const cudaError_t fg_cuda_err_ = (expr);                                                   \
    if (fg_cuda_err_ != cudaSuccess) ::fg::cuda::detail::throw_cuda_error(__FILE__, __LINE__, #expr, fg_cuda_err_); \
  } while (0)

#define CUBLAS_CHECK(expr)                                                                        \
  do {                                                                                            \
    const cublasStatus_t fg_cublas_st_ = (expr);                                                  \
    if (fg_cublas_st_ != CUBLAS_STATUS_SUCCESS)                                                   \
      ::fg::cuda::detail::throw_cublas_error(__FILE__, __LINE__, #expr, fg_cublas_st_);           \
  } while (0)

#define CUDA_CHECK_LAUNCH(kernel_name) ::fg::cuda::detail::check_launch(__FILE__, __LINE__, kernel_name)

// Throws fg::Error("file:line: message") unless cond holds (message: a std::string).
#define FG_CUDA_REQUIRE(cond, message)                                                  \
  do {                                                                                  \
    if (!(cond)) ::fg::cuda::detail::fail(__FILE__, __LINE__, (message));               \
  } while (0)
