// bench/bench_cuda_core.cpp: Google Benchmark timings of the core CUDA kernels, with the
// bytes each one must move (every input read once, every output written once) as a
// bytes-per-second counter, so results read as achieved memory bandwidth (an H100 SXM
// copies about 3 TB/s counting reads and writes).
//
// Every benchmark times one kernel call between two CUDA events on the engine's stream
// (manual time), after one untimed warm-up call. The main sizes (2^24 floats = 64 MiB
// per buffer) exceed the 50 MB L2 cache, so they measure device memory; the 2^20 sizes
// fit in L2 and show launch-bound behaviour.
//
// Names: cuda_core/<op>/<dims> (e.g. cuda_core/softmax_fwd/4096x1024); the same names
// are read by bench/torch/bench_core.py, which times the PyTorch equivalents and prints
// our/torch ratios:
//   build/bench/bench_cuda_core --benchmark_format=json --benchmark_out=ours.json
//   python3 bench/torch/bench_core.py --ours ours.json
// Without a GPU (or in a CPU-only build) every benchmark reports an error and skips.
#include <benchmark/benchmark.h>

#include <functional>
#include <string>
#include <vector>

#include "bench_common.h"
#include "engine/device.h"
#include "engine/ops.h"

#ifdef FUSEGRAD_WITH_CUDA
#include "kernels/elementwise.h"
#include "kernels/nn.h"
#include "kernels/optim.h"
#include "kernels/reduce.h"
#endif

namespace {

using namespace fg;

#ifdef FUSEGRAD_WITH_CUDA

// Device buffers with random contents (never zeros: they can hide wrong indexing and run
// at unrepresentative speed).
Tensor random_device(std::int64_t n, std::uint64_t seed, double lo = -2.0, double hi = 2.0) {
  Generator gen(seed);
  return rand({n}, gen, f32_opts(Device::cuda()), lo, hi);
}

float* fptr(const Tensor& t) { return static_cast<float*>(t.data_ptr()); }

// Times `launch` with CUDA events after one warm-up call (module load, first touch of the
// cache); `bytes` is what one call must move.
void run_timed(benchmark::State& state, std::int64_t bytes, const std::function<void()>& launch) {
  bench::time_with_cuda_events(state, launch, /*warmups=*/1);
  state.SetBytesProcessed(state.iterations() * bytes);
}

void bench_unary(benchmark::State& state, UnaryOp op, bool backward, std::int64_t n) {
  if (!bench::need_gpu(state)) return;
  const Tensor x = random_device(n, 1), y = random_device(n, 2), gy = random_device(n, 3), out = random_device(n, 4);
  if (!backward) {
    run_timed(state, 2 * n * 4,
              [&] { kernels::cuda::unary_forward(op, UnaryParams{}, DType::f32, n, fptr(x), fptr(out)); });
  } else {
    run_timed(state, 4 * n * 4, [&] {
      kernels::cuda::unary_backward(op, UnaryParams{}, DType::f32, n, fptr(x), fptr(y), fptr(gy), fptr(out));
    });
  }
}

// out [rows, cols] = a [rows, cols] + b ([rows, cols], or [cols] broadcast over rows)
void bench_add(benchmark::State& state, std::int64_t rows, std::int64_t cols, bool broadcast) {
  if (!bench::need_gpu(state)) return;
  const std::int64_t n = rows * cols;
  const Tensor a = random_device(n, 5), b = random_device(broadcast ? cols : n, 6), out = random_device(n, 7);
  BroadcastPlan plan;
  plan.ndim = 2;
  plan.ninputs = 2;
  plan.numel = n;
  plan.shape[0] = rows;
  plan.shape[1] = cols;
  plan.stride[0][0] = cols;
  plan.stride[0][1] = 1;
  plan.stride[1][0] = broadcast ? 0 : cols;
  plan.stride[1][1] = 1;
  run_timed(state, (2 * n + (broadcast ? cols : n)) * 4,
            [&] { kernels::cuda::binary_forward(BinaryOp::Add, plan, DType::f32, fptr(a), fptr(b), fptr(out)); });
}

void bench_sum(benchmark::State& state, AxisView v) {
  if (!bench::need_gpu(state)) return;
  const std::int64_t n = v.outer * v.n * v.inner;
  const Tensor x = random_device(n, 8), out = random_device(v.outer * v.inner, 9);
  run_timed(state, (n + v.outer * v.inner) * 4, [&] {
    kernels::cuda::reduce_forward(ReduceOp::Sum, DType::f32, v, 0, fptr(x), fptr(out), nullptr);
  });
}

void bench_softmax(benchmark::State& state, std::int64_t rows, std::int64_t cols, bool backward) {
  if (!bench::need_gpu(state)) return;
  const std::int64_t n = rows * cols;
  const AxisView v{rows, cols, 1};
  const Tensor x = random_device(n, 10), y = random_device(n, 11), gy = random_device(n, 12), gx = random_device(n, 13);
  kernels::cuda::softmax_forward(DType::f32, v, false, fptr(x), fptr(y));
  if (!backward) {
    run_timed(state, 2 * n * 4, [&] { kernels::cuda::softmax_forward(DType::f32, v, false, fptr(x), fptr(y)); });
  } else {
    run_timed(state, 3 * n * 4,
              [&] { kernels::cuda::softmax_backward(DType::f32, v, false, fptr(y), fptr(gy), fptr(gx)); });
  }
}

void bench_layer_norm(benchmark::State& state, std::int64_t rows, std::int64_t cols, bool backward) {
  if (!bench::need_gpu(state)) return;
  const std::int64_t n = rows * cols;
  const Tensor x = random_device(n, 14), gamma = random_device(cols, 15, 0.5, 1.5), beta = random_device(cols, 16),
               y = random_device(n, 17), mean = random_device(rows, 18), rstd = random_device(rows, 19),
               gy = random_device(n, 20), gx = random_device(n, 21), gg = random_device(cols, 22),
               gb = random_device(cols, 23);
  kernels::cuda::layer_norm_forward(DType::f32, rows, cols, 1e-5, fptr(x), fptr(gamma), fptr(beta), fptr(y),
                                    fptr(mean), fptr(rstd));
  if (!backward) {
    run_timed(state, (2 * n + 2 * cols + 2 * rows) * 4, [&] {
      kernels::cuda::layer_norm_forward(DType::f32, rows, cols, 1e-5, fptr(x), fptr(gamma), fptr(beta), fptr(y),
                                        fptr(mean), fptr(rstd));
    });
  } else {
    run_timed(state, (3 * n + 3 * cols + 2 * rows) * 4, [&] {
      kernels::cuda::layer_norm_backward(DType::f32, rows, cols, fptr(x), fptr(gamma), fptr(mean), fptr(rstd),
                                         fptr(gy), fptr(gx), fptr(gg), fptr(gb));
    });
  }
}

// One fused AdamW step over `tensors` parameters of `each` elements.
void bench_adam(benchmark::State& state, std::int64_t tensors, std::int64_t each) {
  if (!bench::need_gpu(state)) return;
  std::vector<Tensor> keep;
  std::vector<kernels::AdamParamRef> refs;
  for (std::int64_t t = 0; t < tensors; ++t) {
    kernels::AdamParamRef r;
    keep.push_back(random_device(each, 30 + 4 * t));
    r.param = keep.back().data_ptr();
    keep.push_back(random_device(each, 31 + 4 * t));
    r.grad = keep.back().data_ptr();
    keep.push_back(random_device(each, 32 + 4 * t, -0.1, 0.1));
    r.exp_avg = keep.back().data_ptr();
    keep.push_back(random_device(each, 33 + 4 * t, 0.0, 0.01));
    r.exp_avg_sq = keep.back().data_ptr();
    r.numel = each;
    r.step = 10;
    r.weight_decay = 0.01;
    refs.push_back(r);
  }
  run_timed(state, 7 * tensors * each * 4, [&] {
    kernels::cuda::adam_step(DType::f32, true, false, refs.data(), static_cast<std::int64_t>(refs.size()));
  });
}

#endif  // FUSEGRAD_WITH_CUDA

void add(const std::string& op, const std::vector<std::int64_t>& dims,
         const std::function<void(benchmark::State&)>& fn) {
  bench::register_manual_time("cuda_core/" + op + "/" + bench::dims_name(dims), fn);
}

void register_all() {
#ifdef FUSEGRAD_WITH_CUDA
  for (std::int64_t n : {std::int64_t{1} << 20, std::int64_t{1} << 24}) {
    add("exp", {n}, [n](benchmark::State& s) { bench_unary(s, UnaryOp::Exp, false, n); });
    add("gelu_fwd", {n}, [n](benchmark::State& s) { bench_unary(s, UnaryOp::GeluErf, false, n); });
    add("gelu_bwd", {n}, [n](benchmark::State& s) { bench_unary(s, UnaryOp::GeluErf, true, n); });
    add("add", {n}, [n](benchmark::State& s) { bench_add(s, 1, n, false); });
    add("sum_all", {n}, [n](benchmark::State& s) { bench_sum(s, AxisView{1, n, 1}); });
  }
  add("add_bcast", {4096, 4096}, [](benchmark::State& s) { bench_add(s, 4096, 4096, true); });
  add("sum_rows", {4096, 4096}, [](benchmark::State& s) { bench_sum(s, AxisView{4096, 4096, 1}); });
  add("sum_cols", {4096, 4096}, [](benchmark::State& s) { bench_sum(s, AxisView{1, 4096, 4096}); });
  for (const auto& shape : std::vector<std::pair<std::int64_t, std::int64_t>>{{16384, 1024}, {2048, 8192}}) {
    const std::int64_t rows = shape.first, cols = shape.second;
    add("softmax_fwd", {rows, cols}, [rows, cols](benchmark::State& s) { bench_softmax(s, rows, cols, false); });
    add("softmax_bwd", {rows, cols}, [rows, cols](benchmark::State& s) { bench_softmax(s, rows, cols, true); });
  }
  for (const auto& shape : std::vector<std::pair<std::int64_t, std::int64_t>>{{16384, 768}, {4096, 4096}}) {
    const std::int64_t rows = shape.first, cols = shape.second;
    add("layer_norm_fwd", {rows, cols}, [rows, cols](benchmark::State& s) { bench_layer_norm(s, rows, cols, false); });
    add("layer_norm_bwd", {rows, cols}, [rows, cols](benchmark::State& s) { bench_layer_norm(s, rows, cols, true); });
  }
  add("adamw", {16, 1 << 20}, [](benchmark::State& s) { bench_adam(s, 16, 1 << 20); });
  add("adamw", {200, 50000}, [](benchmark::State& s) { bench_adam(s, 200, 50000); });
#else
  add("unavailable", {0}, bench::skip_cpu_only_build);
#endif
}

}  // namespace

int main(int argc, char** argv) { return fg::bench::run_benchmarks(argc, argv, register_all); }
