// engine/nn/conv.cpp: see conv.h.
#include "engine/nn/conv.h"

#include <cmath>

#include "engine/error.h"
#include "engine/nn/init.h"
#include "engine/ops.h"

namespace fg::nn {

namespace {

Conv2dOptions same_both_axes(std::int64_t stride, std::int64_t padding, std::int64_t output_padding) {
  Conv2dOptions o;
  o.stride = {stride, stride};
  o.padding = {padding, padding};
  o.output_padding = {output_padding, output_padding};
  return o;
}

// weight and bias as PyTorch's _ConvNd.reset_parameters: kaiming_uniform_(a = sqrt(5)), then
// bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in from the weight's shape.
void init_conv(Module& m, const Shape& weight_shape, std::int64_t bias_size, bool with_bias, Generator& gen,
               TensorOptions opts, const char* layer, Tensor& weight, Tensor& bias) {
  FG_CHECK(opts.dtype == DType::f32 || opts.dtype == DType::f64, "{}: parameters must be float32 or float64, got {}",
           layer, dtype_name(opts.dtype));
  opts.requires_grad = false;  // register_parameter turns it on once initialized
  Tensor w = empty(weight_shape, opts);
  init::kaiming_uniform_(w, gen, std::sqrt(5.0));
  weight = m.register_parameter("weight", w);
  if (with_bias) {
    const std::int64_t fan_in = init::fan_in_and_fan_out(w).first;
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    Tensor b = empty({bias_size}, opts);
    init::uniform_(b, gen, -bound, bound);
    bias = m.register_parameter("bias", b);
  }
}

void check_sizes(const char* layer, std::int64_t in, std::int64_t out, const std::array<std::int64_t, 2>& k) {
  FG_CHECK(in > 0 && out > 0, "{}: in_channels and out_channels must be positive, got {} and {}", layer, in, out);
  FG_CHECK(k[0] > 0 && k[1] > 0, "{}: kernel_size must be positive, got {} x {}", layer, k[0], k[1]);
}

void check_input(const char* layer, const Tensor& x, std::int64_t in) {
  FG_CHECK(x.defined() && x.dim() == 4 && x.size(1) == in, "{}: the input must be [N, {}, H, W], got {}", layer, in,
           x.defined() ? x.str() : std::string("an undefined tensor"));
}

}  // namespace

// ---------------------------------------------------------------- Conv2d
Conv2d::Conv2d(std::int64_t in, std::int64_t out, std::array<std::int64_t, 2> k, Generator& gen,
               const Conv2dOptions& c, bool with_bias, TensorOptions opts)
    : in_channels(in), out_channels(out), kernel_size(k), conv(c) {
  check_sizes("Conv2d", in, out, k);
  init_conv(*this, {out, in, k[0], k[1]}, out, with_bias, gen, opts, "Conv2d", weight, bias);
}

Conv2d::Conv2d(std::int64_t in, std::int64_t out, std::int64_t k, Generator& gen, std::int64_t stride,
               std::int64_t padding, bool with_bias, TensorOptions opts)
    : Conv2d(in, out, {k, k}, gen, same_both_axes(stride, padding, 0), with_bias, opts) {}

Tensor Conv2d::forward(const Tensor& x) const {
  check_input("Conv2d", x, in_channels);
  return conv2d(x, weight, bias, conv);
}

// ---------------------------------------------------------------- ConvTranspose2d
ConvTranspose2d::ConvTranspose2d(std::int64_t in, std::int64_t out, std::array<std::int64_t, 2> k, Generator& gen,
                                 const Conv2dOptions& c, bool with_bias, TensorOptions opts)
    : in_channels(in), out_channels(out), kernel_size(k), conv(c) {
  check_sizes("ConvTranspose2d", in, out, k);
  init_conv(*this, {in, out, k[0], k[1]}, out, with_bias, gen, opts, "ConvTranspose2d", weight, bias);
}

ConvTranspose2d::ConvTranspose2d(std::int64_t in, std::int64_t out, std::int64_t k, Generator& gen,
                                 std::int64_t stride, std::int64_t padding, std::int64_t output_padding,
                                 bool with_bias, TensorOptions opts)
    : ConvTranspose2d(in, out, {k, k}, gen, same_both_axes(stride, padding, output_padding), with_bias, opts) {}

Tensor ConvTranspose2d::forward(const Tensor& x) const {
  check_input("ConvTranspose2d", x, in_channels);
  return conv_transpose2d(x, weight, bias, conv);
}

}  // namespace fg::nn
