// bench/bench_cuda_estimators.cpp: Google Benchmark timings of the dependency estimators
// of losses/ on CUDA, forward and backward together (what one training step pays for the
// loss term), through the engine's ops exactly as the models call them:
//   rbf_gram      K = sum_s exp(-gamma_s ||x_i - y_j||^2)      (kernels/cuda/gram.cu), forward only
//   mmd           biased MMD^2 of x [n, d] and y [n, d], three Gram matrices, 3 bandwidths
//   hsic          biased HSIC with fixed bandwidths (double-centred Gram of x times Gram of y)
//   dv            Donsker-Varadhan bound: both modalities shuffled (randperm drawn on the host,
//                 index_select on the device), a linear critic on [x, y], logsumexp of the
//                 marginal scores
//   infonce       InfoNCE bound of S = x y^T [B, B]: gather of the diagonal, row logsumexp
//   logdet_spd    batched Cholesky log-determinant of SPD matrices [batch, k, k] (kernels/cuda/spd.cu)
// The PyTorch equivalents are in bench/torch/bench_estimators.py, which reads this
// program's JSON and prints ours/torch per case:
//   build/bench/bench_cuda_estimators --benchmark_format=json --benchmark_out=est.json
//   python3 bench/torch/bench_estimators.py --ours est.json
//
// Timing: CUDA events on the engine's stream around one forward + backward (manual time),
// after one untimed warm-up call; the gradients are dropped before each call. Names:
// cuda_estimators/<case>/<dims>. Without a GPU (or in a CPU-only build) every benchmark
// reports an error and skips.
#include <benchmark/benchmark.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "bench_common.h"
#include "engine/autograd.h"
#include "engine/device.h"
#include "engine/ops.h"
#include "losses/dependency.h"
#include "losses/hsic.h"
#include "losses/mmd.h"

namespace {

using namespace fg;

#ifdef FUSEGRAD_WITH_CUDA

Tensor leaf(const Shape& shape, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Generator gen(seed);
  Tensor t = rand(shape, gen, f32_opts(Device::cuda()), lo, hi).detach();
  t.requires_grad_();
  return t;
}

// SPD matrices I + B B^T / (2k), built on the device (no gradient into B).
Tensor spd_leaf(std::int64_t batch, std::int64_t k, std::uint64_t seed) {
  Generator gen(seed);
  const Tensor b = rand({batch, k, k}, gen, f32_opts(Device::cuda()), -1.0, 1.0);
  Tensor eye = zeros({k, k}, f32_opts());
  for (std::int64_t i = 0; i < k; ++i) eye.data<float>()[i * k + i] = 1.0f;
  Tensor a = add(matmul(b, transpose(b, 1, 2)) * (0.5 / static_cast<double>(k)), eye.to(Device::cuda())).detach();
  a.requires_grad_();
  return a;
}

// Times one forward (+ backward, gradients of `leaves` dropped first) with CUDA events on
// the engine's stream, after one warm-up call.
void run_timed(benchmark::State& state, const std::vector<Tensor>& leaves, const std::function<Tensor()>& forward,
               bool backward = true) {
  bench::time_with_cuda_events(state, [&] {
    if (!backward) {
      NoGradGuard no_grad;
      (void)forward();
      return;
    }
    for (const Tensor& t : leaves) t.zero_grad();
    forward().backward();
  });
}

void bench_rbf_gram(benchmark::State& state, std::int64_t n, std::int64_t d) {
  if (!bench::need_gpu(state)) return;
  const Tensor x = leaf({n, d}, 1), y = leaf({n, d}, 2);
  run_timed(state, {x, y}, [&] { return rbf_gram(x, y, {0.5 / static_cast<double>(d)}); }, /*backward=*/false);
}

void bench_mmd(benchmark::State& state, std::int64_t n, std::int64_t d) {
  if (!bench::need_gpu(state)) return;
  const Tensor x = leaf({n, d}, 3), y = leaf({n, d}, 4, -0.5, 1.5);
  losses::MmdOptions opts;
  const double g = 1.0 / static_cast<double>(d);
  opts.gammas = {0.25 * g, g, 4.0 * g};
  run_timed(state, {x, y}, [&] { return losses::mmd(x, y, opts); });
}

void bench_hsic(benchmark::State& state, std::int64_t n, std::int64_t d) {
  if (!bench::need_gpu(state)) return;
  const Tensor x = leaf({n, d}, 5), y = leaf({n, d}, 6);
  const double sigma = std::sqrt(static_cast<double>(d) / 3.0);  // about the median distance of U(-1, 1)^d
  run_timed(state, {x, y}, [&] { return losses::hsic(x, y, sigma, sigma); });
}

void bench_dv(benchmark::State& state, std::int64_t b, std::int64_t d) {
  if (!bench::need_gpu(state)) return;
  const Tensor x = leaf({b, d}, 7), y = leaf({b, d}, 8), w = leaf({2 * d, 1}, 9, -0.1, 0.1);
  Generator gen(10);
  run_timed(state, {x, y, w}, [&] {
    const std::vector<Tensor> shuffled = losses::shuffle_modalities({x, y}, gen);
    const Tensor tj = reshape(matmul(concat({x, y}, 1), w), {b});
    const Tensor tm = reshape(matmul(concat({shuffled[0], shuffled[1]}, 1), w), {b});
    return losses::donsker_varadhan_bound(tj, tm);
  });
}

void bench_infonce(benchmark::State& state, std::int64_t b, std::int64_t d) {
  if (!bench::need_gpu(state)) return;
  const Tensor x = leaf({b, d}, 11), y = leaf({b, d}, 12);
  run_timed(state, {x, y}, [&] { return losses::info_nce_bound(matmul(x, transpose(y, 0, 1))); });
}

void bench_logdet(benchmark::State& state, std::int64_t batch, std::int64_t k) {
  if (!bench::need_gpu(state)) return;
  const Tensor a = spd_leaf(batch, k, 13);
  run_timed(state, {a}, [&] { return sum(logdet_spd(a)); });
}

#endif  // FUSEGRAD_WITH_CUDA

void add(const std::string& name, const std::vector<std::int64_t>& dims,
         const std::function<void(benchmark::State&)>& fn) {
  bench::register_manual_time("cuda_estimators/" + name + "/" + bench::dims_name(dims), fn);
}

void register_all() {
#ifdef FUSEGRAD_WITH_CUDA
  for (std::int64_t n : {std::int64_t{1024}, std::int64_t{4096}}) {
    add("rbf_gram", {n, 64}, [n](benchmark::State& s) { bench_rbf_gram(s, n, 64); });
    add("mmd", {n, 64}, [n](benchmark::State& s) { bench_mmd(s, n, 64); });
    add("hsic", {n, 64}, [n](benchmark::State& s) { bench_hsic(s, n, 64); });
    add("infonce", {n, 128}, [n](benchmark::State& s) { bench_infonce(s, n, 128); });
  }
  for (std::int64_t b : {std::int64_t{1024}, std::int64_t{16384}})
    add("dv", {b, 64}, [b](benchmark::State& s) { bench_dv(s, b, 64); });
  add("logdet_spd", {256, 32}, [](benchmark::State& s) { bench_logdet(s, 256, 32); });
  add("logdet_spd", {16, 128}, [](benchmark::State& s) { bench_logdet(s, 16, 128); });
#else
  add("unavailable", {0}, bench::skip_cpu_only_build);
#endif
}

}  // namespace

int main(int argc, char** argv) { return fg::bench::run_benchmarks(argc, argv, register_all); }
