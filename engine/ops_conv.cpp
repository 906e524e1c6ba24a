// engine/ops_conv.cpp: conv2d and conv_transpose2d (engine/ops_conv.h; kernels/conv.h).
//
// Both ops describe themselves to the kernels as one Conv2dGeom in the convolution's
// direction (image side x [N, C, H, W], filters [K, C, KH, KW], feature side [N, K, HO, WO]):
//   conv2d            x = its input, K = C_out: forward conv2d_forward; backward
//                     conv2d_backward_input (gx), conv2d_backward_weight (gw), conv_bias_grad (gb)
//   conv_transpose2d  the feature side = its input (K = C_in), the image side = its output
//                     (C = C_out): forward conv2d_backward_input with its bias; backward
//                     conv2d_forward (gx), conv2d_backward_weight with the roles swapped (gw),
//                     conv_bias_grad over the output's channels (gb).
#include "engine/ops_conv.h"

#include <algorithm>
#include <string>

#include <fmt/format.h>

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_helpers.h"
#include "engine/ops.h"
#include "kernels/conv.h"

namespace fg {

using detail::check_float;
using detail::check_same;
using detail::out_ptr;
using detail::ptr_or_null;

namespace {

std::string pair_str(const std::array<std::int64_t, 2>& v) {
  return v[0] == v[1] ? fmt::format("{}", v[0]) : fmt::format("({}, {})", v[0], v[1]);
}

// The checks both ops share: dtypes, devices, ranks, bias shape and the hyper-parameters.
void check_common(const char* op, const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& o,
                  const char* weight_layout, std::int64_t bias_size) {
  check_float(x, op);
  FG_CHECK(weight.defined(), "{}: weight is undefined; expected {}", op, weight_layout);
  check_same(x, weight, op);
  FG_CHECK(x.dim() == 4, "{}: input must be 4-D [N, C_in, H, W] (NCHW), got {}", op, x.str());
  FG_CHECK(weight.dim() == 4, "{}: weight must be 4-D {}, got {}", op, weight_layout, weight.str());
  for (int a = 0; a < 2; ++a) {
    FG_CHECK(o.stride[a] >= 1, "{}: stride must be >= 1, got {}", op, pair_str(o.stride));
    FG_CHECK(o.padding[a] >= 0, "{}: padding must be >= 0, got {}", op, pair_str(o.padding));
    FG_CHECK(o.dilation[a] >= 1, "{}: dilation must be >= 1, got {}", op, pair_str(o.dilation));
  }
  FG_CHECK(x.numel() > 0, "{}: input has a zero-sized dimension: {}", op, x.str());
  FG_CHECK(weight.numel() > 0, "{}: weight has a zero-sized dimension: {}", op, weight.str());
  if (bias.defined()) {
    check_same(x, bias, op);
    FG_CHECK(bias.dim() == 1 && bias.size(0) == bias_size, "{}: bias must be [C_out] = [{}], got {}", op, bias_size,
             bias.str());
  }
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& o) {
  const char* op = "conv2d";
  check_common(op, x, weight, bias, o, "[C_out, C_in, KH, KW]", weight.defined() && weight.dim() == 4 ? weight.size(0) : 0);
  FG_CHECK(o.output_padding[0] == 0 && o.output_padding[1] == 0,
           "conv2d: output_padding is for conv_transpose2d only, got {}", pair_str(o.output_padding));
  FG_CHECK(weight.size(1) == x.size(1),
           "conv2d: weight {} expects C_in = {} input channels, but the input {} has {} (input [N, C_in, H, W], "
           "weight [C_out, C_in, KH, KW])",
           shape_str(weight.shape()), weight.size(1), shape_str(x.shape()), x.size(1));
  Conv2dGeom g;
  g.n = x.size(0), g.c = x.size(1), g.h = x.size(2), g.w = x.size(3);
  g.k = weight.size(0), g.kh = weight.size(2), g.kw = weight.size(3);
  g.stride_h = o.stride[0], g.stride_w = o.stride[1];
  g.pad_h = o.padding[0], g.pad_w = o.padding[1];
  g.dil_h = o.dilation[0], g.dil_w = o.dilation[1];
  const std::int64_t span_h = g.dil_h * (g.kh - 1) + 1, span_w = g.dil_w * (g.kw - 1) + 1;
  g.ho = (g.h + 2 * g.pad_h - span_h) < 0 ? 0 : (g.h + 2 * g.pad_h - span_h) / g.stride_h + 1;
  g.wo = (g.w + 2 * g.pad_w - span_w) < 0 ? 0 : (g.w + 2 * g.pad_w - span_w) / g.stride_w + 1;
  FG_CHECK(g.ho > 0 && g.wo > 0,
           "conv2d: output size would be {} x {}: the padded input {} x {} (H, W = {} x {}, padding {}) is smaller "
           "than the dilated kernel {} x {} (kernel {} x {}, dilation {})",
           g.ho, g.wo, g.h + 2 * g.pad_h, g.w + 2 * g.pad_w, g.h, g.w, pair_str(o.padding), span_h, span_w, g.kh, g.kw,
           pair_str(o.dilation));

  Tensor y = empty({g.n, g.k, g.ho, g.wo}, x.options());
  FG_DISPATCH(x.device(), conv2d_forward, x.dtype(), g, x.data_ptr(), weight.data_ptr(), ptr_or_null(bias),
              y.data_ptr());
  autograd::record(op, {y}, {x, weight, bias},
                   [x, weight, g](const std::vector<Tensor>& grads, const std::vector<bool>& need) {
                     const Tensor& gy = grads[0];
                     Tensor gx = need[0] ? empty_like(x) : Tensor();
                     Tensor gw = need[1] ? empty_like(weight) : Tensor();
                     Tensor gb = need[2] ? empty({g.k}, x.options()) : Tensor();
                     if (gx.defined())
                       FG_DISPATCH(x.device(), conv2d_backward_input, x.dtype(), g, gy.data_ptr(), weight.data_ptr(),
                                   nullptr, gx.data_ptr());
                     if (gw.defined())
                       FG_DISPATCH(x.device(), conv2d_backward_weight, x.dtype(), g, x.data_ptr(), gy.data_ptr(),
                                   gw.data_ptr());
                     if (gb.defined())
                       FG_DISPATCH(x.device(), conv_bias_grad, x.dtype(), g.n, g.k, g.ho * g.wo, gy.data_ptr(),
                                   out_ptr(gb));
                     return std::vector<Tensor>{gx, gw, gb};
                   });
  return y;
}

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, std::int64_t stride, std::int64_t padding,
              std::int64_t dilation) {
  Conv2dOptions o;
  o.stride = {stride, stride};
  o.padding = {padding, padding};
  o.dilation = {dilation, dilation};
  return conv2d(x, weight, bias, o);
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& o) {
  const char* op = "conv_transpose2d";
  check_common(op, x, weight, bias, o, "[C_in, C_out, KH, KW]", weight.defined() && weight.dim() == 4 ? weight.size(1) : 0);
  for (int a = 0; a < 2; ++a)
    FG_CHECK(o.output_padding[a] >= 0 && o.output_padding[a] < std::max(o.stride[a], o.dilation[a]),
             "conv_transpose2d: output_padding must be >= 0 and smaller than stride or dilation, got output_padding "
             "{} with stride {} and dilation {}",
             pair_str(o.output_padding), pair_str(o.stride), pair_str(o.dilation));
  FG_CHECK(weight.size(0) == x.size(1),
           "conv_transpose2d: weight {} expects C_in = {} input channels, but the input {} has {} (input [N, C_in, H, "
           "W], weight [C_in, C_out, KH, KW])",
           shape_str(weight.shape()), weight.size(0), shape_str(x.shape()), x.size(1));
  // The convolution whose adjoint this is: its feature side is our input, its image side our output.
  Conv2dGeom g;
  g.n = x.size(0), g.k = x.size(1), g.ho = x.size(2), g.wo = x.size(3);
  g.c = weight.size(1), g.kh = weight.size(2), g.kw = weight.size(3);
  g.stride_h = o.stride[0], g.stride_w = o.stride[1];
  g.pad_h = o.padding[0], g.pad_w = o.padding[1];
  g.dil_h = o.dilation[0], g.dil_w = o.dilation[1];
  g.h = (g.ho - 1) * g.stride_h - 2 * g.pad_h + g.dil_h * (g.kh - 1) + o.output_padding[0] + 1;
  g.w = (g.wo - 1) * g.stride_w - 2 * g.pad_w + g.dil_w * (g.kw - 1) + o.output_padding[1] + 1;
  FG_CHECK(g.h > 0 && g.w > 0,
           "conv_transpose2d: output size would be {} x {}: (H - 1) stride - 2 padding + dilation (KH - 1) + "
           "output_padding + 1 with H, W = {} x {}, kernel {} x {}, stride {}, padding {}, dilation {}, "
           "output_padding {}; reduce the padding",
           g.h, g.w, g.ho, g.wo, g.kh, g.kw, pair_str(o.stride), pair_str(o.padding), pair_str(o.dilation),
           pair_str(o.output_padding));

  Tensor y = empty({g.n, g.c, g.h, g.w}, x.options());
  FG_DISPATCH(x.device(), conv2d_backward_input, x.dtype(), g, x.data_ptr(), weight.data_ptr(), ptr_or_null(bias),
              y.data_ptr());
  autograd::record(op, {y}, {x, weight, bias},
                   [x, weight, g](const std::vector<Tensor>& grads, const std::vector<bool>& need) {
                     const Tensor& gy = grads[0];  // [N, C_out, H_out, W_out]: the image side
                     Tensor gx = need[0] ? empty_like(x) : Tensor();
                     Tensor gw = need[1] ? empty_like(weight) : Tensor();
                     Tensor gb = need[2] ? empty({g.c}, x.options()) : Tensor();
                     if (gx.defined())
                       FG_DISPATCH(x.device(), conv2d_forward, x.dtype(), g, gy.data_ptr(), weight.data_ptr(), nullptr,
                                   gx.data_ptr());
                     if (gw.defined())
                       FG_DISPATCH(x.device(), conv2d_backward_weight, x.dtype(), g, gy.data_ptr(), x.data_ptr(),
                                   gw.data_ptr());
                     if (gb.defined())
                       FG_DISPATCH(x.device(), conv_bias_grad, x.dtype(), g.n, g.c, g.h * g.w, gy.data_ptr(),
                                   out_ptr(gb));
                     return std::vector<Tensor>{gx, gw, gb};
                   });
  return y;
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias, std::int64_t stride,
                        std::int64_t padding, std::int64_t output_padding, std::int64_t dilation) {
  Conv2dOptions o;
  o.stride = {stride, stride};
  o.padding = {padding, padding};
  o.dilation = {dilation, dilation};
  o.output_padding = {output_padding, output_padding};
  return conv_transpose2d(x, weight, bias, o);
}

}  // namespace fg
