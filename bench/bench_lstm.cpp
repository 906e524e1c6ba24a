// bench/bench_lstm.cpp: one LSTM layer, forward + backward, on the GPU: fusegrad's
// lstm_layer (engine/ops_lstm.h: input projection GEMM + the fused recurrence of
// kernels/cuda/lstm.cu) against cuDNN's RNN API called directly (cudnnRNNForward in
// training mode + cudnnRNNBackwardData_v8 + cudnnRNNBackwardWeights_v8, padded
// sequence-major layout with a seqLengthArray, the v8/v9 interface PyTorch also uses).
//
// Shapes: H in {32, 64, 128, 256}, T in {20, 50}, B in {32, 64}, input size I = H, every
// sequence T steps long, biases on, zero initial states. One iteration = the forward and
// every gradient (dx, dW_ih, dW_hh, both biases) from a given dL/dy; cuDNN's iteration also
// zeroes its weight-gradient buffer (its weight gradients accumulate). Timed with CUDA
// events on the engine's stream around the whole iteration (manual time, microseconds),
// after two untimed warm-up iterations, so host launch gaps count as they do for a user.
//
// Names: lstm/<impl>/H<h>/T<t>/B<b> with impl
//   fusegrad          our automatic choice (persistent kernels for H <= 128)
//   fusegrad_general  our general path forced (cuBLAS per step + fused pointwise kernel)
//   cudnn             CUDNN_RNN_ALGO_STANDARD, CUDNN_FMA_MATH (float32 FMA, like ours)
//   cudnn_tf32        CUDNN_RNN_ALGO_STANDARD, CUDNN_DEFAULT_MATH (TF32 tensor cores
//                     allowed; what PyTorch gets with torch.backends.cudnn.allow_tf32 = True,
//                     its default)
//   cudnn_persist     CUDNN_RNN_ALGO_PERSIST_STATIC, CUDNN_FMA_MATH (cuDNN's own persistent
//                     kernel; skipped with cuDNN's message where it refuses the shape)
// bench/torch/bench_lstm.py times PyTorch's nn.LSTM on the same shapes and joins:
//   build/bench/bench_lstm --benchmark_format=json --benchmark_out=lstm.json
//   python3 bench/torch/bench_lstm.py --ours lstm.json
// The cuDNN baselines exist when CMake found cuDNN in the CUDA toolkit (FG_HAVE_CUDNN);
// without a GPU, CUDA or cuDNN each benchmark reports why it was skipped.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_common.h"
#include "engine/autograd.h"
#include "engine/device.h"
#include "engine/ops.h"
#include "engine/ops_lstm.h"

#ifdef FUSEGRAD_WITH_CUDA
#include <cuda_runtime.h>

#include "engine/cuda/check.h"
#include "engine/cuda/runtime.h"
#ifdef FG_HAVE_CUDNN
#include <cudnn.h>
#endif
#endif

namespace {

using namespace fg;

struct Shape3 {
  std::int64_t hidden, steps, batch;
};

std::string bench_name(const std::string& impl, const Shape3& s) {
  return "lstm/" + impl + "/H" + std::to_string(s.hidden) + "/T" + std::to_string(s.steps) + "/B" +
         std::to_string(s.batch);
}

#ifdef FUSEGRAD_WITH_CUDA

// Times `iteration` with CUDA events on the engine's stream (two warm-up calls first).
// Errors thrown by the iteration skip the benchmark with their message.
void run_timed(benchmark::State& state, const std::function<void()>& iteration) {
  bench::time_with_cuda_events(state, iteration, /*warmups=*/2);
}

// Sets FG_CUDA_LSTM for one benchmark (the CUDA LSTM reads it at every call).
class ScopedPath {
 public:
  explicit ScopedPath(const char* path) {
    if (path) {
      setenv("FG_CUDA_LSTM", path, 1);
    } else {
      unsetenv("FG_CUDA_LSTM");
    }
  }
  ~ScopedPath() { unsetenv("FG_CUDA_LSTM"); }
  ScopedPath(const ScopedPath&) = delete;
  ScopedPath& operator=(const ScopedPath&) = delete;
};

Tensor random_leaf(const Shape& shape, std::uint64_t seed, double lo, double hi) {
  Generator gen(seed);
  Tensor t = rand(shape, gen, f32_opts(Device::cuda()), lo, hi);
  t.requires_grad_(true);
  return t;
}

// fusegrad: lstm_layer forward, then every gradient from dL/dy.
void bench_fusegrad(benchmark::State& state, const Shape3& s, bool general) {
  if (!bench::need_gpu(state)) return;
  const ScopedPath path(general ? "general" : nullptr);
  const std::int64_t H = s.hidden, T = s.steps, B = s.batch, I = H;
  const double r = 1.0 / std::sqrt(static_cast<double>(H));
  const Tensor x = random_leaf({T, B, I}, 1, -1.0, 1.0);
  const Tensor w_ih = random_leaf({4 * H, I}, 2, -r, r), w_hh = random_leaf({4 * H, H}, 3, -r, r);
  const Tensor b_ih = random_leaf({4 * H}, 4, -r, r), b_hh = random_leaf({4 * H}, 5, -r, r);
  Generator gen(6);
  const Tensor dy = rand({T, B, H}, gen, f32_opts(Device::cuda()), -1.0, 1.0);
  run_timed(state, [&] {
    const LSTMSequenceOutput out = lstm_layer(x, w_ih, w_hh, b_ih, b_hh);
    const std::vector<Tensor> grads = autograd::grad(out.output, {x, w_ih, w_hh, b_ih, b_hh}, dy);
    benchmark::DoNotOptimize(grads.data());
  });
}

#ifdef FG_HAVE_CUDNN

#define CUDNN_CHECK(expr)                                                                                   \
  do {                                                                                                      \
    const cudnnStatus_t fg_cudnn_st_ = (expr);                                                              \
    if (fg_cudnn_st_ != CUDNN_STATUS_SUCCESS)                                                               \
      throw std::runtime_error(std::string(__FILE__) + ":" + std::to_string(__LINE__) + ": " + #expr +     \
                               " failed: " + cudnnGetErrorString(fg_cudnn_st_));                            \
  } while (0)

// One cuDNN LSTM layer with its descriptors and buffers (freed in the destructor).
class CudnnLstm {
 public:
  CudnnLstm(const Shape3& s, cudnnRNNAlgo_t algo, cudnnMathType_t math) : s_(s) {
    const int H = static_cast<int>(s.hidden), T = static_cast<int>(s.steps), B = static_cast<int>(s.batch), I = H;
    CUDNN_CHECK(cudnnCreate(&handle_));
    CUDNN_CHECK(cudnnSetStream(handle_, fg::cuda::current_stream()));
    CUDNN_CHECK(cudnnCreateDropoutDescriptor(&dropout_));
    CUDNN_CHECK(cudnnSetDropoutDescriptor(dropout_, handle_, 0.0f, nullptr, 0, 0));  // no dropout: no states
    CUDNN_CHECK(cudnnCreateRNNDescriptor(&rnn_));
    CUDNN_CHECK(cudnnSetRNNDescriptor_v8(rnn_, algo, CUDNN_LSTM, CUDNN_RNN_DOUBLE_BIAS, CUDNN_UNIDIRECTIONAL,
                                         CUDNN_LINEAR_INPUT, CUDNN_DATA_FLOAT, CUDNN_DATA_FLOAT, math, I, H, H, 1,
                                         dropout_, CUDNN_RNN_PADDED_IO_ENABLED));
    // padded, sequence-major [T, B, features], every sequence T long
    std::vector<int> lengths(static_cast<std::size_t>(B), T);
    float fill = 0.0f;
    CUDNN_CHECK(cudnnCreateRNNDataDescriptor(&x_desc_));
    CUDNN_CHECK(cudnnCreateRNNDataDescriptor(&y_desc_));
    CUDNN_CHECK(cudnnSetRNNDataDescriptor(x_desc_, CUDNN_DATA_FLOAT, CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED, T, B, I,
                                          lengths.data(), &fill));
    CUDNN_CHECK(cudnnSetRNNDataDescriptor(y_desc_, CUDNN_DATA_FLOAT, CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED, T, B, H,
                                          lengths.data(), &fill));
    const int dims[3] = {1, B, H}, strides[3] = {B * H, H, 1};
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&h_desc_));
    CUDNN_CHECK(cudnnSetTensorNdDescriptor(h_desc_, CUDNN_DATA_FLOAT, 3, dims, strides));
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&c_desc_));
    CUDNN_CHECK(cudnnSetTensorNdDescriptor(c_desc_, CUDNN_DATA_FLOAT, 3, dims, strides));
    CUDNN_CHECK(cudnnGetRNNWeightSpaceSize(handle_, rnn_, &weight_bytes_));
    CUDNN_CHECK(cudnnGetRNNTempSpaceSizes(handle_, rnn_, CUDNN_FWD_MODE_TRAINING, x_desc_, &work_bytes_,
                                          &reserve_bytes_));
    // buffers: the same value ranges as the fusegrad benchmark
    const double r = 1.0 / std::sqrt(static_cast<double>(H));
    Generator gen(11);
    weights_ = rand({static_cast<std::int64_t>(weight_bytes_ / sizeof(float))}, gen, f32_opts(Device::cuda()), -r, r);
    dweights_ = empty(weights_.shape(), f32_opts(Device::cuda()));
    x_ = rand({s.steps, s.batch, s.hidden}, gen, f32_opts(Device::cuda()), -1.0, 1.0);
    dy_ = rand({s.steps, s.batch, s.hidden}, gen, f32_opts(Device::cuda()), -1.0, 1.0);
    y_ = empty(dy_.shape(), f32_opts(Device::cuda()));
    dx_ = empty(x_.shape(), f32_opts(Device::cuda()));
    work_ = fg::cuda::DeviceBuffer(work_bytes_ > 0 ? work_bytes_ : 1);
    reserve_ = fg::cuda::DeviceBuffer(reserve_bytes_ > 0 ? reserve_bytes_ : 1);
    CUDA_CHECK(cudaMalloc(&dev_lengths_, sizeof(std::int32_t) * B));
    const std::vector<std::int32_t> lengths32(static_cast<std::size_t>(B), T);
    CUDA_CHECK(cudaMemcpy(dev_lengths_, lengths32.data(), sizeof(std::int32_t) * B, cudaMemcpyHostToDevice));
  }

  ~CudnnLstm() {
    if (dev_lengths_) cudaFree(dev_lengths_);
    if (c_desc_) cudnnDestroyTensorDescriptor(c_desc_);
    if (h_desc_) cudnnDestroyTensorDescriptor(h_desc_);
    if (y_desc_) cudnnDestroyRNNDataDescriptor(y_desc_);
    if (x_desc_) cudnnDestroyRNNDataDescriptor(x_desc_);
    if (rnn_) cudnnDestroyRNNDescriptor(rnn_);
    if (dropout_) cudnnDestroyDropoutDescriptor(dropout_);
    if (handle_) cudnnDestroy(handle_);
  }
  CudnnLstm(const CudnnLstm&) = delete;
  CudnnLstm& operator=(const CudnnLstm&) = delete;

  // Forward (training mode), then dx and the weight gradients from dy (zero initial states).
  void iteration() {
    CUDA_CHECK(cudaMemsetAsync(dweights_.data_ptr(), 0, weight_bytes_, fg::cuda::current_stream()));
    CUDNN_CHECK(cudnnRNNForward(handle_, rnn_, CUDNN_FWD_MODE_TRAINING, dev_lengths_, x_desc_, x_.data_ptr(), y_desc_,
                                y_.data_ptr(), h_desc_, nullptr, nullptr, c_desc_, nullptr, nullptr, weight_bytes_,
                                weights_.data_ptr(), work_bytes_, work_.data(), reserve_bytes_, reserve_.data()));
    CUDNN_CHECK(cudnnRNNBackwardData_v8(handle_, rnn_, dev_lengths_, y_desc_, y_.data_ptr(), dy_.data_ptr(), x_desc_,
                                        dx_.data_ptr(), h_desc_, nullptr, nullptr, nullptr, c_desc_, nullptr, nullptr,
                                        nullptr, weight_bytes_, weights_.data_ptr(), work_bytes_, work_.data(),
                                        reserve_bytes_, reserve_.data()));
    CUDNN_CHECK(cudnnRNNBackwardWeights_v8(handle_, rnn_, CUDNN_WGRAD_MODE_ADD, dev_lengths_, x_desc_, x_.data_ptr(),
                                           h_desc_, nullptr, y_desc_, y_.data_ptr(), weight_bytes_,
                                           dweights_.data_ptr(), work_bytes_, work_.data(), reserve_bytes_,
                                           reserve_.data()));
  }

 private:
  Shape3 s_;
  cudnnHandle_t handle_ = nullptr;
  cudnnDropoutDescriptor_t dropout_ = nullptr;
  cudnnRNNDescriptor_t rnn_ = nullptr;
  cudnnRNNDataDescriptor_t x_desc_ = nullptr, y_desc_ = nullptr;
  cudnnTensorDescriptor_t h_desc_ = nullptr, c_desc_ = nullptr;
  std::size_t weight_bytes_ = 0, work_bytes_ = 0, reserve_bytes_ = 0;
  Tensor weights_, dweights_, x_, y_, dx_, dy_;
  fg::cuda::DeviceBuffer work_, reserve_;
  std::int32_t* dev_lengths_ = nullptr;
};

void bench_cudnn(benchmark::State& state, const Shape3& s, cudnnRNNAlgo_t algo, cudnnMathType_t math) {
  if (!bench::need_gpu(state)) return;
  try {
    CudnnLstm lstm(s, algo, math);
    run_timed(state, [&] { lstm.iteration(); });
  } catch (const std::exception& e) {  // setup refused (e.g. the persistent algorithm at this shape)
    state.SkipWithError(e.what());
  }
}

#endif  // FG_HAVE_CUDNN
#endif  // FUSEGRAD_WITH_CUDA

void register_all() {
  constexpr auto add = &bench::register_manual_time;
  for (std::int64_t H : {32, 64, 128, 256}) {
    for (std::int64_t T : {20, 50}) {
      for (std::int64_t B : {32, 64}) {
        const Shape3 s{H, T, B};
#ifdef FUSEGRAD_WITH_CUDA
        add(bench_name("fusegrad", s), [s](benchmark::State& st) { bench_fusegrad(st, s, false); });
        add(bench_name("fusegrad_general", s), [s](benchmark::State& st) { bench_fusegrad(st, s, true); });
#ifdef FG_HAVE_CUDNN
        add(bench_name("cudnn", s),
            [s](benchmark::State& st) { bench_cudnn(st, s, CUDNN_RNN_ALGO_STANDARD, CUDNN_FMA_MATH); });
        add(bench_name("cudnn_tf32", s),
            [s](benchmark::State& st) { bench_cudnn(st, s, CUDNN_RNN_ALGO_STANDARD, CUDNN_DEFAULT_MATH); });
        add(bench_name("cudnn_persist", s),
            [s](benchmark::State& st) { bench_cudnn(st, s, CUDNN_RNN_ALGO_PERSIST_STATIC, CUDNN_FMA_MATH); });
#else
        add(bench_name("cudnn", s), [](benchmark::State& st) {
          st.SkipWithError("built without cuDNN (CMake did not find cudnn.h / libcudnn in the CUDA toolkit)");
        });
#endif
#else
        add(bench_name("fusegrad", s), bench::skip_cpu_only_build);
        (void)s;
#endif
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) { return fg::bench::run_benchmarks(argc, argv, register_all); }
