// engine/ops_conv.h: 2-D convolutions in NCHW (engine/ops_conv.cpp; kernels/conv.h has the
// math of the forward and of every gradient, docs/conv.md the derivation and the tests).
//
//   conv2d            x [N, C_in, H, W], weight [C_out, C_in, KH, KW], bias [C_out] or
//                     undefined -> [N, C_out, HO, WO],
//                     HO = floor((H + 2 padding - dilation (KH - 1) - 1) / stride) + 1
//   conv_transpose2d  x [N, C_in, H, W], weight [C_in, C_out, KH, KW] (PyTorch's layout),
//                     bias [C_out] or undefined -> [N, C_out, HO, WO],
//                     HO = (H - 1) stride - 2 padding + dilation (KH - 1) + output_padding + 1
// (WO likewise), as torch.nn.functional.conv2d / conv_transpose2d with groups = 1; the
// transpose is the adjoint (the input gradient) of conv2d with the same weight. Both are
// differentiable in x, weight and bias. Bad input (ranks, channel counts, bias shape,
// stride < 1, padding < 0, dilation < 1, output_padding >= max(stride, dilation), an output
// of size <= 0) throws an fg::Error naming the argument and the shape expected.
#pragma once

#include <array>
#include <cstdint>

#include "engine/tensor.h"

namespace fg {

// Per axis {height, width}.
struct Conv2dOptions {
  std::array<std::int64_t, 2> stride{1, 1};
  std::array<std::int64_t, 2> padding{0, 0};
  std::array<std::int64_t, 2> dilation{1, 1};
  std::array<std::int64_t, 2> output_padding{0, 0};  // conv_transpose2d only (must be 0 for conv2d)
};

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& opts);
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), std::int64_t stride = 1,
              std::int64_t padding = 0, std::int64_t dilation = 1);

Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& opts);
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), std::int64_t stride = 1,
                        std::int64_t padding = 0, std::int64_t output_padding = 0, std::int64_t dilation = 1);

}  // namespace fg
