// engine/cuda/errors.cpp: the throwing half of engine/cuda/check.h, compiled by the host
// compiler (it formats with fmt, which nvcc cannot compile).
#include <cstdlib>
#include <cstring>

#include "engine/cuda/check.h"
#include "engine/error.h"

namespace fg::cuda::detail {

void throw_cuda_error(const char* file, int line, const char* expr, cudaError_t err) {
  throw_error(file, line,
              fmt::format("CUDA call {} failed: {} ({}): {}", expr, cudaGetErrorName(err), static_cast<int>(err),
                          cudaGetErrorString(err)));
}

void throw_cublas_error(const char* file, int line, const char* expr, cublasStatus_t status) {
  throw_error(file, line,
              fmt::format("cuBLAS call {} failed: {} ({}): {}", expr, cublasGetStatusName(status),
                          static_cast<int>(status), cublasGetStatusString(status)));
}

void fail(const char* file, int line, const std::string& message) { throw_error(file, line, message); }

namespace {
bool launch_blocking() {
  static const bool on = [] {
    const char* v = std::getenv("FG_CUDA_LAUNCH_BLOCKING");
    return v != nullptr && std::strcmp(v, "0") != 0 && v[0] != '\0';
  }();
  return on;
}
}  // namespace

void check_launch(const char* file, int line, const char* kernel) {
  cudaError_t err = cudaGetLastError();
  if (err == cudaSuccess && launch_blocking()) err = cudaDeviceSynchronize();
  if (err != cudaSuccess) {
    throw_error(file, line,
                fmt::format("CUDA kernel {} failed: {} ({}): {}{}", kernel, cudaGetErrorName(err),
                            static_cast<int>(err), cudaGetErrorString(err),
                            launch_blocking() ? "" : " (the error may come from an earlier launch; "
                                                     "rerun with FG_CUDA_LAUNCH_BLOCKING=1 to locate it)"));
  }
}

}  // namespace fg::cuda::detail
