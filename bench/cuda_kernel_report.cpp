// bench/cuda_kernel_report.cpp: the resources of every CUDA kernel whose launch depends on
// shared memory or occupancy, as the device reports them: registers per thread, local
// memory (spills and stack), static and dynamic shared memory, and resident blocks per SM
// at a representative launch shape. tools/gpu-check.sh runs it first ("kernels" step), so
// a kernel that cannot launch shows up before any test does.
//
//   cuda_kernel_report            # table on stdout; exit 1 if a launch shape cannot run
//
// A shape "cannot run" when static + dynamic shared memory exceeds what the device grants
// (the default 48 KiB, or the opt-in limit for kernels that opt in) or the occupancy
// calculator gives 0 blocks per SM. Local memory is flagged, not failed: the persistent
// LSTM's 8-row variants at H > 32 spill by design and are never chosen automatically
// (docs/lstm.md). The rules: kernels/cuda/launch_limits.h.
#include <cstdio>
#include <string>
#include <vector>

#ifdef FUSEGRAD_WITH_CUDA
#include <cuda_runtime.h>

#include "engine/cuda/cuda_api.h"
#include "kernels/cuda/kernel_limits.h"
#include "kernels/cuda/launch_limits.h"
#endif

int main() {
#ifndef FUSEGRAD_WITH_CUDA
  std::printf("cuda_kernel_report: built without CUDA (FUSEGRAD_CUDA=OFF): nothing to report\n");
  return 0;
#else
  namespace kc = fg::kernels::cuda;
  namespace kl = fg::kernels::launch;
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("SKIPPED: no CUDA device\n");
    return 0;
  }
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) {
    std::fprintf(stderr, "cuda_kernel_report: cudaGetDeviceProperties failed\n");
    return 1;
  }
  const std::size_t optin = prop.sharedMemPerBlockOptin;
  std::printf("device: %s (sm_%d%d, %d SMs, %zu B shared memory per block by default, %zu B opt-in, %d registers/SM)\n",
              prop.name, prop.major, prop.minor, prop.multiProcessorCount, prop.sharedMemPerBlock, optin,
              prop.regsPerMultiprocessor);
  std::vector<kl::KernelLaunchShape> shapes;
  for (auto part : {kc::attention_launch_shapes, kc::flash_attention_launch_shapes, kc::nn_launch_shapes,
                    kc::lstm_launch_shapes, kc::mfn_launch_shapes}) {
    const auto s = part();
    shapes.insert(shapes.end(), s.begin(), s.end());
  }
  std::printf("%-62s %7s %5s %6s %8s %8s %9s  %s\n", "kernel at shape", "threads", "regs", "local", "static",
              "dynamic", "blocks/SM", "verdict");
  int cannot_run = 0, local = 0;
  for (const auto& s : shapes) {
    cudaFuncAttributes attr{};
    if (cudaFuncGetAttributes(&attr, s.function) != cudaSuccess) {
      std::printf("%-62s cudaFuncGetAttributes failed\n", s.name.c_str());
      (void)cudaGetLastError();
      ++cannot_run;
      continue;
    }
    // kernels above the default ask for more (as their launchers do): opt in to what fits
    const std::size_t default_limit = kl::dynamic_smem_limit(prop.sharedMemPerBlock, attr.sharedSizeBytes);
    const std::size_t optin_limit = kl::dynamic_smem_limit(optin, attr.sharedSizeBytes);
    std::string verdict = "ok";
    int blocks = 0;
    if (s.dynamic_bytes > optin_limit) {
      verdict = "CANNOT RUN: static + dynamic shared memory exceed the opt-in limit";
    } else {
      if (s.dynamic_bytes > default_limit &&
          cudaFuncSetAttribute(s.function, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(optin_limit)) != cudaSuccess) {
        (void)cudaGetLastError();
        verdict = "CANNOT RUN: cudaFuncSetAttribute refused the opt-in";
      } else if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, s.function, s.threads, s.dynamic_bytes) !=
                 cudaSuccess) {
        (void)cudaGetLastError();
        verdict = "CANNOT RUN: the occupancy query failed";
      } else if (blocks == 0) {
        verdict = "CANNOT RUN: 0 resident blocks per SM";
      } else if (s.dynamic_bytes > default_limit) {
        verdict = "ok (opts in above 48 KiB)";
      }
    }
    if (verdict.rfind("CANNOT", 0) == 0) ++cannot_run;
    if (attr.localSizeBytes > 0) {
      ++local;
      verdict += "; uses local memory (spills/stack)";
    }
    std::printf("%-62s %7d %5d %6zu %8zu %8zu %9d  %s\n", s.name.c_str(), s.threads, attr.numRegs,
                attr.localSizeBytes, attr.sharedSizeBytes, s.dynamic_bytes, blocks, verdict.c_str());
  }
  std::printf("cuda_kernel_report: %zu launch shapes, %d cannot run, %d use local memory\n", shapes.size(), cannot_run,
              local);
  return cannot_run > 0 ? 1 : 0;
#endif
}
