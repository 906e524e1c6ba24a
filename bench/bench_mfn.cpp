// bench/bench_mfn.cpp: Google Benchmark timings of the Memory Fusion Network (models/mfn.h)
// forward + backward, and of its serial part alone (the fused gated memory op,
// engine/ops_gated_memory.h), at MOSI's sizes (inputs 300/5/20, hidden 88/48/16, memory
// 128; the defaults of MFNConfig) for B in {32, 64}, T in {20, 50}. Dropout is off (eval
// mode), so every run does the same work.
//
// One iteration = forward, loss = sum(output * R), backward, then a device synchronize:
// wall-clock time of a training step's model part (what a user waits for), launch overhead
// included. The same model in PyTorch on the same GPU is timed by bench/torch/bench_mfn.py,
// which reads our JSON and prints ours / torch:
//   build/bench/bench_mfn --benchmark_format=json --benchmark_out=ours.json --benchmark_filter=cuda
//   python3 bench/torch/bench_mfn.py --ours ours.json
// Names: mfn/<device>/<what>/B<b>_T<t>, what = model (the whole MFN) or memory (the fused
// recurrence only: gate_x and u_hat given). The CPU cases (B 32, T 20) run anywhere; the
// CUDA cases skip with a message without a GPU.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <memory>
#include <string>
#include <vector>

#include "bench_common.h"
#include "engine/autograd.h"
#include "engine/device.h"
#include "engine/ops.h"
#include "engine/ops_gated_memory.h"
#include "models/mfn.h"

namespace {

using namespace fg;

TensorOptions opts_on(Device dev, bool grad = false) {
  TensorOptions o{DType::f32, dev, false};
  return grad ? o.with_requires_grad() : o;
}

Tensor random(const Shape& shape, std::uint64_t seed, Device dev, bool grad = false, double scale = 1.0) {
  Generator gen(seed);
  return rand(shape, gen, opts_on(dev, grad), -scale, scale);
}

void bench_model(benchmark::State& state, Device dev, std::int64_t B, std::int64_t T) {
  if (dev.is_cuda() && !bench::need_gpu(state)) return;
  const models::MFNConfig cfg;  // MOSI's sizes
  Generator init(1);
  models::MFN mfn(cfg, init);
  mfn.to(dev);
  mfn.eval();
  std::vector<Tensor> xs;
  for (std::size_t m = 0; m < cfg.input_sizes.size(); ++m)
    xs.push_back(random({B, T, cfg.input_sizes[m]}, 10 + m, dev, true));
  const Tensor r = random({B, cfg.output_size}, 20, dev);
  auto step = [&] {
    const Tensor out = mfn.forward(xs).output;
    sum(mul(out, r)).backward();
    mfn.zero_grad();
    for (Tensor& x : xs) x.zero_grad();
    device::synchronize(dev);
  };
  step();  // warm-up: cuBLAS handle, module load, allocator cache
  for (auto _ : state) step();
  state.counters["steps/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void bench_memory(benchmark::State& state, Device dev, std::int64_t B, std::int64_t T) {
  if (dev.is_cuda() && !bench::need_gpu(state)) return;
  const models::MFNConfig cfg;
  const std::int64_t M = cfg.memory_size, G1 = cfg.gamma1_hidden, G2 = cfg.gamma2_hidden, G = G1 + G2;
  const Tensor gate_x = random({T, B, G}, 1, dev, true), u_hat = random({T, B, M}, 2, dev, true);
  const Tensor w_u = random({G, M}, 3, dev, true, 0.09), w1 = random({M, G1}, 4, dev, true, 0.06),
               b1 = random({M}, 5, dev, true), w2 = random({M, G2}, 6, dev, true, 0.12),
               b2 = random({M}, 7, dev, true);
  const std::vector<Tensor> leaves = {gate_x, u_hat, w_u, w1, b1, w2, b2};
  const Tensor r = random({T, B, M}, 8, dev);
  auto step = [&] {
    const Tensor u_all = gated_memory_recurrence(gate_x, u_hat, w_u, w1, b1, w2, b2);
    autograd::grad(sum(mul(u_all, r)), leaves);
    device::synchronize(dev);
  };
  step();
  for (auto _ : state) step();
}

void register_all() {
  auto add = [](const std::string& name, auto fn) {
    benchmark::RegisterBenchmark(name.c_str(), fn)->Unit(benchmark::kMicrosecond)->UseRealTime();
  };
  add("mfn/cpu/model/B32_T20", [](benchmark::State& s) { bench_model(s, Device::cpu(), 32, 20); });
  add("mfn/cpu/memory/B32_T20", [](benchmark::State& s) { bench_memory(s, Device::cpu(), 32, 20); });
  for (std::int64_t B : {32, 64}) {
    for (std::int64_t T : {20, 50}) {
      const std::string dims = fmt::format("B{}_T{}", B, T);
      add("mfn/cuda/model/" + dims, [B, T](benchmark::State& s) { bench_model(s, Device::cuda(), B, T); });
      add("mfn/cuda/memory/" + dims, [B, T](benchmark::State& s) { bench_memory(s, Device::cuda(), B, T); });
    }
  }
}

}  // namespace

int main(int argc, char** argv) { return fg::bench::run_benchmarks(argc, argv, register_all); }
