// bench/bench_cpu_side.cpp: the CPU workloads of issue 17, timed here and, side by side, in
// PyTorch by bench/torch/cpu_side_by_side.py (which runs this program once per workload and
// repetition, interleaved with its own measurement, and prints ours / torch).
//
// Workloads (float32, CPU; names cpu/<workload>):
//   linear       Linear 512 -> 512 at batch 4096: forward, loss = sum(out * R), backward
//   lstm         nn::LSTM 300 -> 64, T 50, B 32 (time-major): forward, sum(output * R), backward
//   mfn_adam     models::MFN at MOSI's sizes (B 32, T 20), eval mode: forward, MSE loss,
//                backward, Adam step, zero_grad
//   late_adam    models::LateFusion (MOSI's feature sizes, B 32, T 20, dropout 0): the same step
//   bert         BertEncoder, 2 layers, hidden 128, 2 heads, intermediate 512, erf GELU,
//                S 64, B 32, dropout 0: forward, sum(out * R), backward
//   gelu         erf GELU over 2^24 floats (counter: GB/s = 8 bytes per element / time)
//   sum          sum over the last axis of [4096, 4096] floats (counter: GB/s = 4 bytes per element / time)
//   chain        1000 tiny ops on an 8-float tensor without autograd, alternating x * 1.0001 and
//                x + (-1e-4) (the script reports the time per op)
//
// The value check: with FG_SIDE_DUMP=<dir> in the environment, each workload also writes
// <dir>/<workload>.safetensors before timing: its inputs ("in.*"), its parameters before the
// step ("p.*", named as the module's state_dict names them, which are PyTorch's names), and
// what one step computed ("out.*": losses, outputs, gradients "g.*", parameters after the
// Adam step "after.*"). The PyTorch script loads the same weights and inputs, takes the same
// step and compares. Threads: OMP_NUM_THREADS / OPENBLAS_NUM_THREADS, as the script sets them.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench_common.h"
#include "data/batching.h"
#include "engine/autograd.h"
#include "engine/nn/lstm.h"
#include "engine/nn/nn.h"
#include "engine/ops.h"
#include "engine/optim/adam.h"
#include "engine/serialize/safetensors.h"
#include "models/bert.h"
#include "models/late_fusion.h"
#include "models/mfn.h"

namespace {

using namespace fg;

const TensorOptions kF32{DType::f32, Device::cpu(), false};

Tensor uniform(const Shape& shape, std::uint64_t seed, double lo = -1.0, double hi = 1.0, bool grad = false) {
  Generator gen(seed);
  Tensor t = rand(shape, gen, kF32, lo, hi);
  if (grad) t.requires_grad_(true);
  return t;
}

// The check dump of one workload, written when FG_SIDE_DUMP is set (once per process).
class Dump {
 public:
  explicit Dump(std::string workload) : workload_(std::move(workload)) {}
  bool wanted() const { return std::getenv("FG_SIDE_DUMP") != nullptr; }
  // a copy: Adam updates the parameters in place
  void put(const std::string& name, const Tensor& t) { tensors_[name] = t.detach().clone(); }
  void params(const std::string& prefix, const nn::Module& m) {
    for (const auto& [n, p] : m.named_parameters()) put(prefix + n, p);
  }
  void grads(const nn::Module& m) {
    for (const auto& [n, p] : m.named_parameters())
      if (p.grad().defined()) put("g." + n, p.grad());
  }
  void write() const {
    if (!wanted()) return;
    save_safetensors(std::string(std::getenv("FG_SIDE_DUMP")) + "/" + workload_ + ".safetensors", tensors_);
  }

 private:
  std::string workload_;
  std::map<std::string, Tensor> tensors_;
};

void linear_case(benchmark::State& state) {
  const std::int64_t B = 4096, I = 512, O = 512;
  Generator init(1);
  nn::Linear lin(I, O, init, true, kF32);
  const Tensor x = uniform({B, I}, 2, -1, 1, true), r = uniform({B, O}, 3);
  auto step = [&] {
    const Tensor loss = sum(mul(lin.forward(x), r));
    loss.backward();
    return loss;
  };
  Dump d("linear");
  if (d.wanted()) {
    d.params("p.", lin);
    d.put("in.x", x);
    d.put("in.r", r);
    d.put("out.loss", step());
    d.grads(lin);
    d.put("out.gx", x.grad());
    d.write();
  }
  for (auto _ : state) {
    step();
    lin.zero_grad();
    x.zero_grad();
  }
}

void lstm_case(benchmark::State& state) {
  const std::int64_t T = 50, B = 32, I = 300, H = 64;
  Generator init(4);
  nn::LSTMOptions o;
  o.input_size = I;
  o.hidden_size = H;
  o.param_options = kF32;
  nn::LSTM lstm(o, init);
  const Tensor x = uniform({T, B, I}, 5, -1, 1, true), r = uniform({T, B, H}, 6);
  auto step = [&] {
    const Tensor loss = sum(mul(lstm.forward(x).output, r));
    loss.backward();
    return loss;
  };
  Dump d("lstm");
  if (d.wanted()) {
    d.params("p.", lstm);
    d.put("in.x", x);
    d.put("in.r", r);
    d.put("out.loss", step());
    d.grads(lstm);
    d.put("out.gx", x.grad());
    d.write();
  }
  for (auto _ : state) {
    step();
    lstm.zero_grad();
    x.zero_grad();
  }
}

// One training step of a model: forward(), MSE against y, backward, Adam, zero_grad. With a
// dump: the loss, the gradients and the parameters after the step.
template <class Forward>
void adam_case(benchmark::State& state, const std::string& name, nn::Module& model, Forward forward,
               const std::vector<Tensor>& xs, const Tensor& y, Dump& d) {
  optim::Adam opt(model.parameters(), optim::AdamOptions{1e-3});
  auto step = [&](bool dump) {
    const Tensor loss = mse_loss(forward(), y);
    loss.backward();
    if (dump) {
      d.put("out.loss", loss);
      d.grads(model);
    }
    opt.step();
    opt.zero_grad();
  };
  if (d.wanted()) {
    d.params("p.", model);
    for (std::size_t m = 0; m < xs.size(); ++m) d.put("in.x" + std::to_string(m), xs[m]);
    d.put("in.y", y);
    step(true);
    d.params("after.", model);
    d.write();
  }
  for (auto _ : state) step(false);
}

void mfn_case(benchmark::State& state) {
  const std::int64_t B = 32, T = 20;
  const models::MFNConfig cfg;  // MOSI's sizes
  Generator init(7);
  models::MFN mfn(cfg, init, kF32);
  mfn.eval();
  std::vector<Tensor> xs;
  for (std::size_t m = 0; m < cfg.input_sizes.size(); ++m) xs.push_back(uniform({B, T, cfg.input_sizes[m]}, 10 + m));
  const Tensor y = uniform({B}, 20, -3, 3);
  Dump d("mfn_adam");
  adam_case(state, "mfn_adam", mfn, [&] { return select(mfn.forward(xs).output, 1, 0); }, xs, y, d);
}

void late_case(benchmark::State& state) {
  const std::int64_t B = 32, T = 20;
  models::LateFusionConfig cfg;
  cfg.dropout = 0.0;
  Generator init(8);
  models::LateFusion model(cfg, init, kF32);
  model.eval();
  data::Batch batch;
  batch.modality_names = cfg.modalities;
  for (std::size_t m = 0; m < cfg.input_dims.size(); ++m)
    batch.features.push_back(uniform({B, T, cfg.input_dims[m]}, 30 + m));
  batch.mask = ones({B, T}, kF32);
  batch.lengths = full({B}, static_cast<double>(T), TensorOptions{DType::i64});
  batch.labels = uniform({B}, 40, -3, 3);
  batch.present = ones({B, static_cast<std::int64_t>(cfg.modalities.size())}, kF32);
  for (std::int64_t i = 0; i < B; ++i) batch.rows.push_back(i);
  Dump d("late_adam");
  adam_case(state, "late_adam", model, [&] { return model.forward(batch).prediction; }, batch.features,
            batch.labels, d);
}

void bert_case(benchmark::State& state) {
  const std::int64_t B = 32, S = 64;
  models::BertBuild b;
  b.config.hidden_size = 128;
  b.config.num_hidden_layers = 2;
  b.config.num_attention_heads = 2;
  b.config.intermediate_size = 512;
  b.config.hidden_dropout_prob = 0.0;
  b.config.attention_probs_dropout_prob = 0.0;
  Generator init(9);
  b.init_gen = &init;
  b.opts = kF32;
  models::BertEncoder enc(b);
  enc.eval();
  const Tensor h = uniform({B, S, 128}, 50, -1, 1, true), r = uniform({B, S, 128}, 51);
  auto step = [&] {
    const Tensor loss = sum(mul(enc.forward(h, Tensor()), r));
    loss.backward();
    return loss;
  };
  Dump d("bert");
  if (d.wanted()) {
    d.params("p.", enc);
    d.put("in.x", h);
    d.put("in.r", r);
    d.put("out.loss", step());
    d.grads(enc);
    d.put("out.gx", h.grad());
    d.write();
  }
  for (auto _ : state) {
    step();
    enc.zero_grad();
    h.zero_grad();
  }
}

void gelu_case(benchmark::State& state) {
  const std::int64_t n = std::int64_t{1} << 24;
  const Tensor x = uniform({n}, 60, -4, 4);
  Dump d("gelu");
  if (d.wanted()) {
    d.put("in.x", slice(x, 0, 0, 1 << 16));  // the check compares the first 65536 outputs
    d.put("out.y", slice(gelu(x), 0, 0, 1 << 16));
    d.write();
  }
  for (auto _ : state) benchmark::DoNotOptimize(gelu(x));
  state.counters["GB/s"] = benchmark::Counter(8.0 * static_cast<double>(n) * static_cast<double>(state.iterations()) /
                                                  1e9,
                                              benchmark::Counter::kIsRate);
}

void sum_case(benchmark::State& state) {
  const std::int64_t rows = 4096, cols = 4096;
  const Tensor x = uniform({rows, cols}, 61, -1, 1);
  Dump d("sum");
  if (d.wanted()) {
    d.put("in.x", slice(x, 0, 0, 16));  // the check compares the first 16 row sums
    d.put("out.y", slice(sum(x, -1), 0, 0, 16));
    d.write();
  }
  for (auto _ : state) benchmark::DoNotOptimize(sum(x, -1));
  state.counters["GB/s"] =
      benchmark::Counter(4.0 * static_cast<double>(rows * cols) * static_cast<double>(state.iterations()) / 1e9,
                         benchmark::Counter::kIsRate);
}

void chain_case(benchmark::State& state) {
  const Tensor x0 = uniform({8}, 62, -1, 1);
  auto chain = [&] {
    Tensor x = x0;
    for (int i = 0; i < 500; ++i) x = add_scalar(mul_scalar(x, 1.0001), -1e-4);
    return x;
  };
  Dump d("chain");
  if (d.wanted()) {
    d.put("in.x", x0);
    d.put("out.y", chain());
    d.write();
  }
  for (auto _ : state) benchmark::DoNotOptimize(chain());  // 1000 ops per iteration
}

void register_all() {
  const std::vector<std::pair<const char*, void (*)(benchmark::State&)>> cases = {
      {"cpu/linear", linear_case}, {"cpu/lstm", lstm_case}, {"cpu/mfn_adam", mfn_case},
      {"cpu/late_adam", late_case}, {"cpu/bert", bert_case}, {"cpu/gelu", gelu_case},
      {"cpu/sum", sum_case},       {"cpu/chain", chain_case}};
  for (const auto& [name, fn] : cases)
    benchmark::RegisterBenchmark(name, fn)->Unit(benchmark::kMillisecond)->UseRealTime();
}

}  // namespace

int main(int argc, char** argv) { return fg::bench::run_benchmarks(argc, argv, register_all); }
