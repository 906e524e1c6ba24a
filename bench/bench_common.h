// bench/bench_common.h: what every Google Benchmark program in bench/ shares, so each
// bench_<x>.cpp holds only its cases.
//
//   dims_name({4096, 1024})          "4096x1024", the <dims> part of a benchmark's name
//   need_gpu(state)                  false, after skipping the benchmark with "no CUDA device:
//                                    skipped", where no GPU is present; true otherwise
//   skip_cpu_only_build(state)       the single entry a CPU-only build registers: skips with
//                                    "this fusegrad was built without CUDA"
//   time_with_cuda_events(state, call, warmups)
//                                    (CUDA builds) times call() between two CUDA events on the
//                                    engine's stream, once per benchmark iteration, after
//                                    `warmups` untimed calls and a device synchronize. Register
//                                    the benchmark with UseManualTime(). Every CUDA call is
//                                    checked; a failed one, an exception thrown by call(), or
//                                    an error left behind by a kernel launch skips the
//                                    benchmark with its message (the run goes on).
//   register_manual_time(name, fn)  registers fn as benchmark `name`, reporting the times it
//                                    sets (time_with_cuda_events) in microseconds
//   run_benchmarks(argc, argv, register_all)
//                                    the body of every main(): registers the program's
//                                    benchmarks, then runs Google Benchmark with the command
//                                    line (--benchmark_format=json and the rest); unknown
//                                    flags are reported and give exit status 1.
//
// Only a header: bench/CMakeLists.txt makes one program of each bench/*.cpp.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <vector>

#include "engine/device.h"

#ifdef FUSEGRAD_WITH_CUDA
#include <cuda_runtime.h>

#include "engine/cuda/check.h"
#include "engine/cuda/runtime.h"
#endif

namespace fg::bench {

inline std::string dims_name(const std::vector<std::int64_t>& dims) {
  std::string s;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) s += 'x';
    s += std::to_string(dims[i]);
  }
  return s;
}

inline bool need_gpu(benchmark::State& state) {
  if (device::cuda_available()) return true;
  state.SkipWithError("no CUDA device: skipped");
  return false;
}

inline void skip_cpu_only_build(benchmark::State& state) {
  state.SkipWithError("this fusegrad was built without CUDA");
}

#ifdef FUSEGRAD_WITH_CUDA

inline void time_with_cuda_events(benchmark::State& state, const std::function<void()>& call, int warmups = 1) {
  cudaStream_t stream = fg::cuda::current_stream();
  cudaEvent_t start = nullptr, stop = nullptr;
  bool skipped = false;
  try {
    CUDA_CHECK(cudaEventCreate(&start));
    CUDA_CHECK(cudaEventCreate(&stop));
    for (int i = 0; i < warmups; ++i) call();  // module load, allocator cache, cuBLAS workspace
    device::synchronize(Device::cuda());
    for (auto _ : state) {
      CUDA_CHECK(cudaEventRecord(start, stream));
      call();
      CUDA_CHECK(cudaEventRecord(stop, stream));
      CUDA_CHECK(cudaEventSynchronize(stop));
      float ms = 0.0f;
      CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
      state.SetIterationTime(static_cast<double>(ms) * 1e-3);
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    skipped = true;
  }
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess && !skipped) state.SkipWithError(cudaGetErrorString(err));
  if (start) cudaEventDestroy(start);
  if (stop) cudaEventDestroy(stop);
}

#endif  // FUSEGRAD_WITH_CUDA

inline void register_manual_time(const std::string& name, const std::function<void(benchmark::State&)>& fn) {
  benchmark::RegisterBenchmark(name.c_str(), fn)->UseManualTime()->Unit(benchmark::kMicrosecond);
}

inline int run_benchmarks(int argc, char** argv, void (*register_all)()) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace fg::bench
