// bench/bench_conv.cpp: conv2d and conv_transpose2d (engine/ops_conv.h) at the MNIST
// image experiment's shapes (issue 14): batch 64, a 4x4 stride-2 padding-1 encoder
// 1 -> 32 -> 64 channels (28x28 -> 14x14 -> 7x7) and its transposed decoder back.
//
//   layer  op                 input             weight
//   enc1   conv2d             [64, 1, 28, 28]   [32, 1, 4, 4]
//   enc2   conv2d             [64, 32, 14, 14]  [64, 32, 4, 4]
//   dec1   conv_transpose2d   [64, 64, 7, 7]    [64, 32, 4, 4]
//   dec2   conv_transpose2d   [64, 32, 14, 14]  [32, 1, 4, 4]
//
// Phases: fwd (the forward, bias included) and train (forward, then the gradients of the
// input, weight and bias from a given dL/dy).
// Names: conv/<impl>/<layer>/<phase> with impl
//   cpu    float32 on the CPU (im2col + OpenBLAS), wall time
//   cuda   float32 on the GPU (im2col/col2im + cuBLAS), CUDA events (manual time)
//   cudnn  cuDNN's legacy convolution API called directly, float32 with CUDNN_FMA_MATH (no
//          TF32, like ours), the fastest algorithm cudnnFind* reports for the shape, its
//          workspace allocated once; conv_transpose2d is cuDNN's backward-data as forward
//          (what PyTorch calls too)
// bench/torch/bench_conv.py times PyTorch on the same shapes and prints ours/torch:
//   build/bench/bench_conv --benchmark_format=json --benchmark_out=conv.json
//   python3 bench/torch/bench_conv.py --ours conv.json
// Without a GPU the cuda and cudnn entries skip with "no CUDA device: skipped"; without
// cuDNN (CMake did not find it) the cudnn entries say so.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_common.h"
#include "engine/autograd.h"
#include "engine/device.h"
#include "engine/ops.h"

#if defined(FUSEGRAD_WITH_CUDA) && defined(FG_HAVE_CUDNN)
#include <cudnn.h>
#endif

namespace {

using namespace fg;

struct Layer {
  const char* name;
  bool transpose;
  std::int64_t n, cin, cout, h, w, k, stride, pad;
  Shape x_shape() const { return {n, cin, h, w}; }
  Shape w_shape() const { return transpose ? Shape{cin, cout, k, k} : Shape{cout, cin, k, k}; }
};

const Layer kLayers[] = {
    {"enc1", false, 64, 1, 32, 28, 28, 4, 2, 1},
    {"enc2", false, 64, 32, 64, 14, 14, 4, 2, 1},
    {"dec1", true, 64, 64, 32, 7, 7, 4, 2, 1},
    {"dec2", true, 64, 32, 1, 14, 14, 4, 2, 1},
};

struct Operands {
  Tensor x, w, b, dy;
};

Tensor apply(const Layer& l, const Operands& o) {
  return l.transpose ? conv_transpose2d(o.x, o.w, o.b, l.stride, l.pad) : conv2d(o.x, o.w, o.b, l.stride, l.pad);
}

Operands make_operands(const Layer& l, Device dev) {
  Generator gen(14);
  const TensorOptions opts{DType::f32, Device::cpu(), false};
  Operands o;
  o.x = rand(l.x_shape(), gen, opts, -1, 1).to(dev);
  o.w = rand(l.w_shape(), gen, opts, -0.25, 0.25).to(dev);
  o.b = rand({l.cout}, gen, opts, -0.25, 0.25).to(dev);
  for (Tensor* t : {&o.x, &o.w, &o.b}) t->requires_grad_(true);
  {
    NoGradGuard ng;
    o.dy = rand(apply(l, o).shape(), gen, opts, -1, 1).to(dev);
  }
  return o;
}

// One call of the phase: the forward alone, or the forward and every gradient.
void run_phase(const Layer& l, const Operands& o, bool train) {
  if (!train) {
    NoGradGuard ng;
    benchmark::DoNotOptimize(apply(l, o));
    return;
  }
  const Tensor y = apply(l, o);
  benchmark::DoNotOptimize(autograd::grad(sum(mul(y, o.dy)), {o.x, o.w, o.b}));
}

std::string bench_name(const char* impl, const Layer& l, bool train) {
  return std::string("conv/") + impl + "/" + l.name + (train ? "/train" : "/fwd");
}

void bench_cpu(benchmark::State& state, const Layer& l, bool train) {
  const Operands o = make_operands(l, Device::cpu());
  for (auto _ : state) run_phase(l, o, train);
}

#ifdef FUSEGRAD_WITH_CUDA
void bench_cuda(benchmark::State& state, const Layer& l, bool train) {
  if (!bench::need_gpu(state)) return;
  const Operands o = make_operands(l, Device::cuda());
  bench::time_with_cuda_events(state, [&] { run_phase(l, o, train); }, /*warmups=*/3);
}
#endif

#if defined(FUSEGRAD_WITH_CUDA) && defined(FG_HAVE_CUDNN)

#define CUDNN_CHECK(expr)                                                                                   \
  do {                                                                                                      \
    const cudnnStatus_t st_ = (expr);                                                                       \
    if (st_ != CUDNN_STATUS_SUCCESS)                                                                        \
      throw std::runtime_error(std::string(#expr) + " failed: " + cudnnGetErrorString(st_));                \
  } while (0)

// cuDNN's descriptors for one layer, in the convolution's direction: the image side
// (conv2d's input, conv_transpose2d's output), the filters, the feature side.
class CudnnConv {
 public:
  CudnnConv(const Layer& l, const Operands& o) : l_(l), o_(o) {
    CUDNN_CHECK(cudnnCreate(&handle_));
    CUDNN_CHECK(cudnnSetStream(handle_, fg::cuda::current_stream()));
    const int n = static_cast<int>(l.n);
    const int img_c = static_cast<int>(l.transpose ? l.cout : l.cin);
    const int feat_c = static_cast<int>(l.transpose ? l.cin : l.cout);
    const Shape img = l.transpose ? o.dy.shape() : o.x.shape();
    const Shape feat = l.transpose ? o.x.shape() : o.dy.shape();
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&img_));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(img_, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, img_c,
                                           static_cast<int>(img[2]), static_cast<int>(img[3])));
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&feat_));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(feat_, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, feat_c,
                                           static_cast<int>(feat[2]), static_cast<int>(feat[3])));
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&bias_));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(bias_, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, static_cast<int>(l.cout), 1, 1));
    CUDNN_CHECK(cudnnCreateFilterDescriptor(&filt_));
    CUDNN_CHECK(cudnnSetFilter4dDescriptor(filt_, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, feat_c, img_c,
                                           static_cast<int>(l.k), static_cast<int>(l.k)));
    CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv_));
    CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv_, static_cast<int>(l.pad), static_cast<int>(l.pad),
                                                static_cast<int>(l.stride), static_cast<int>(l.stride), 1, 1,
                                                CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    CUDNN_CHECK(cudnnSetConvolutionMathType(conv_, CUDNN_FMA_MATH));
    // buffers: the image side, the feature side, their gradients, the filter gradient
    const TensorOptions f32{DType::f32, Device::cuda(), false};
    img_buf_ = empty(img, f32);
    feat_buf_ = empty(feat, f32);
    gimg_ = empty(img, f32);
    gfeat_ = empty(feat, f32);
    gw_ = empty(o.w.shape(), f32);
    gb_ = empty({l.cout}, f32);
    pick_algorithms();
  }
  ~CudnnConv() {
    cudnnDestroyConvolutionDescriptor(conv_);
    cudnnDestroyFilterDescriptor(filt_);
    cudnnDestroyTensorDescriptor(bias_);
    cudnnDestroyTensorDescriptor(feat_);
    cudnnDestroyTensorDescriptor(img_);
    cudnnDestroy(handle_);
  }
  CudnnConv(const CudnnConv&) = delete;
  CudnnConv& operator=(const CudnnConv&) = delete;

  void run(bool train) {
    const float one = 1.0f, zero = 0.0f;
    void* ws = workspace_.defined() ? workspace_.data_ptr() : nullptr;
    const std::size_t wsb = workspace_bytes_;
    if (!l_.transpose) {
      // y = conv(x, w) + b;  train: dx = backward data, dw = backward filter, db = backward bias
      CUDNN_CHECK(cudnnConvolutionForward(handle_, &one, img_, o_.x.data_ptr(), filt_, o_.w.data_ptr(), conv_, fwd_,
                                          ws, wsb, &zero, feat_, feat_buf_.data_ptr()));
      CUDNN_CHECK(cudnnAddTensor(handle_, &one, bias_, o_.b.data_ptr(), &one, feat_, feat_buf_.data_ptr()));
      if (!train) return;
      CUDNN_CHECK(cudnnConvolutionBackwardData(handle_, &one, filt_, o_.w.data_ptr(), feat_, o_.dy.data_ptr(), conv_,
                                               bwd_data_, ws, wsb, &zero, img_, gimg_.data_ptr()));
      CUDNN_CHECK(cudnnConvolutionBackwardFilter(handle_, &one, img_, o_.x.data_ptr(), feat_, o_.dy.data_ptr(), conv_,
                                                 bwd_filter_, ws, wsb, &zero, filt_, gw_.data_ptr()));
      CUDNN_CHECK(cudnnConvolutionBackwardBias(handle_, &one, feat_, o_.dy.data_ptr(), &zero, bias_, gb_.data_ptr()));
    } else {
      // y = conv^T(x, w) + b (backward data);  train: dx = conv(dy, w), dw = backward filter(dy, x), db
      CUDNN_CHECK(cudnnConvolutionBackwardData(handle_, &one, filt_, o_.w.data_ptr(), feat_, o_.x.data_ptr(), conv_,
                                               bwd_data_, ws, wsb, &zero, img_, img_buf_.data_ptr()));
      CUDNN_CHECK(cudnnAddTensor(handle_, &one, bias_, o_.b.data_ptr(), &one, img_, img_buf_.data_ptr()));
      if (!train) return;
      CUDNN_CHECK(cudnnConvolutionForward(handle_, &one, img_, o_.dy.data_ptr(), filt_, o_.w.data_ptr(), conv_, fwd_,
                                          ws, wsb, &zero, feat_, gfeat_.data_ptr()));
      CUDNN_CHECK(cudnnConvolutionBackwardFilter(handle_, &one, img_, o_.dy.data_ptr(), feat_, o_.x.data_ptr(), conv_,
                                                 bwd_filter_, ws, wsb, &zero, filt_, gw_.data_ptr()));
      CUDNN_CHECK(cudnnConvolutionBackwardBias(handle_, &one, img_, o_.dy.data_ptr(), &zero, bias_, gb_.data_ptr()));
    }
  }

 private:
  // The fastest algorithm of each kind that cudnnFind* measured on this shape, and one
  // workspace big enough for all three.
  void pick_algorithms() {
    int found = 0;
    cudnnConvolutionFwdAlgoPerf_t f[8];
    CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithm(handle_, img_, filt_, conv_, feat_, 8, &found, f));
    fwd_ = first_ok(f, found, "forward").algo;
    workspace_bytes_ = std::max(workspace_bytes_, first_ok(f, found, "forward").memory);
    cudnnConvolutionBwdDataAlgoPerf_t d[8];
    CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithm(handle_, filt_, feat_, conv_, img_, 8, &found, d));
    bwd_data_ = first_ok(d, found, "backward data").algo;
    workspace_bytes_ = std::max(workspace_bytes_, first_ok(d, found, "backward data").memory);
    cudnnConvolutionBwdFilterAlgoPerf_t w[8];
    CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithm(handle_, img_, feat_, conv_, filt_, 8, &found, w));
    bwd_filter_ = first_ok(w, found, "backward filter").algo;
    workspace_bytes_ = std::max(workspace_bytes_, first_ok(w, found, "backward filter").memory);
    if (workspace_bytes_ > 0)
      workspace_ = empty({static_cast<std::int64_t>((workspace_bytes_ + 3) / 4)}, TensorOptions{DType::f32, Device::cuda()});
  }
  template <class Perf>
  static const Perf& first_ok(const Perf* p, int n, const char* what) {
    for (int i = 0; i < n; ++i)
      if (p[i].status == CUDNN_STATUS_SUCCESS) return p[i];
    throw std::runtime_error(std::string("cuDNN found no ") + what + " algorithm for this shape");
  }

  const Layer& l_;
  const Operands& o_;
  cudnnHandle_t handle_ = nullptr;
  cudnnTensorDescriptor_t img_ = nullptr, feat_ = nullptr, bias_ = nullptr;
  cudnnFilterDescriptor_t filt_ = nullptr;
  cudnnConvolutionDescriptor_t conv_ = nullptr;
  cudnnConvolutionFwdAlgo_t fwd_{};
  cudnnConvolutionBwdDataAlgo_t bwd_data_{};
  cudnnConvolutionBwdFilterAlgo_t bwd_filter_{};
  std::size_t workspace_bytes_ = 0;
  Tensor workspace_, img_buf_, feat_buf_, gimg_, gfeat_, gw_, gb_;
};

void bench_cudnn(benchmark::State& state, const Layer& l, bool train) {
  if (!bench::need_gpu(state)) return;
  try {
    const Operands o = make_operands(l, Device::cuda());
    CudnnConv conv(l, o);
    bench::time_with_cuda_events(state, [&] { conv.run(train); }, /*warmups=*/3);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}
#endif

void register_all() {
  for (const Layer& l : kLayers) {
    for (bool train : {false, true}) {
      benchmark::RegisterBenchmark(bench_name("cpu", l, train).c_str(),
                                   [&l, train](benchmark::State& st) { bench_cpu(st, l, train); })
          ->Unit(benchmark::kMicrosecond);
#ifdef FUSEGRAD_WITH_CUDA
      bench::register_manual_time(bench_name("cuda", l, train),
                                  [&l, train](benchmark::State& st) { bench_cuda(st, l, train); });
#ifdef FG_HAVE_CUDNN
      bench::register_manual_time(bench_name("cudnn", l, train),
                                  [&l, train](benchmark::State& st) { bench_cudnn(st, l, train); });
#else
      bench::register_manual_time(bench_name("cudnn", l, train), [](benchmark::State& st) {
        st.SkipWithError("built without cuDNN (CMake did not find cudnn.h / libcudnn in the CUDA toolkit)");
      });
#endif
#else
      bench::register_manual_time(bench_name("cuda", l, train), bench::skip_cpu_only_build);
#endif
    }
  }
}

}  // namespace

int main(int argc, char** argv) { return fg::bench::run_benchmarks(argc, argv, register_all); }
