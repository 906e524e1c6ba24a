// kernels/conv.h: 2-D convolution (cross-correlation, as torch.nn.Conv2d) in NCHW, its
// adjoint (which is conv_transpose2d) and the parameter gradients. docs/conv.md derives
// all of it and shows the im2col layout.
//
// Every kernel works on one Conv2dGeom, always described in the CONVOLUTION's direction:
//   x  [N, C, H, W]      the "image" side  (conv2d's input,  conv_transpose2d's output)
//   w  [K, C, KH, KW]    the filters       (conv2d: [C_out, C_in, ..]; conv_transpose2d's
//                                           weight [C_in, C_out, ..] is the same array)
//   y  [N, K, HO, WO]    the "feature" side (conv2d's output, conv_transpose2d's input)
// with stride s, padding p, dilation d per axis and
//   HO = floor((H + 2 p_h - d_h (KH - 1) - 1) / s_h) + 1        (WO likewise).
// For conv_transpose2d the engine picks H = (HO - 1) s_h - 2 p_h + d_h (KH - 1) + op_h + 1
// (op = output_padding < max(s, d)), which gives back HO through the formula above.
//
// The forward map (rows of x outside [0, H) x [0, W) read as zero: that is the padding):
//   y[n,k,i,j] = b[k] + sum_{c,u,v} w[k,c,u,v] x[n,c, i s_h - p_h + u d_h, j s_w - p_w + v d_w]
// It is linear in x and in w, so its gradients, for a loss L with gy = dL/dy, are:
//   grad input   gx[n,c,h,w'] = sum_{k,u,v,i,j : i s_h - p_h + u d_h = h, j s_w - p_w + v d_w = w'}
//                                   w[k,c,u,v] gy[n,k,i,j]                  (the adjoint, x = A^T y)
//   grad weight  gw[k,c,u,v]  = sum_{n,i,j} gy[n,k,i,j] x[n,c, i s_h - p_h + u d_h, j s_w - p_w + v d_w]
//   grad bias    gb[k]        = sum_{n,i,j} gy[n,k,i,j]
// conv_transpose2d(x_t, w, b_t) IS the adjoint applied to x_t (plus b_t per image-side
// channel), so its gradients are the same three maps with the roles swapped:
//   grad input   = conv2d_forward(gout, w)                (no bias)
//   grad weight  = conv2d_backward_weight(x := gout, gy := x_t)
//   grad bias    = conv_bias_grad over gout's channels
//
// im2col: per image, col[(c KH + u) KW + v][i WO + j] = x[n, c, i s_h - p_h + u d_h, j s_w - p_w + v d_w]
// (0 in the padding), a [C KH KW, HO WO] matrix; then
//   y[n] = W col + b,   col = W^T gy[n] (then col2im adds each entry back to its pixel),
//   gw  += gy[n] col^T,                   with W = w viewed as [K, C KH KW].
// The CPU float64 kernels are the plain loops above (the ground truth); float32 on the CPU
// and the CUDA kernels take the im2col + GEMM route (kernels/linalg.h's gemm).
#pragma once

#include <cstdint>

#include "kernels/types.h"

namespace fg {

// The sizes of one convolution (see above). All positive except pad (>= 0).
struct Conv2dGeom {
  std::int64_t n = 1, c = 1, h = 1, w = 1;  // image side x [N, C, H, W]
  std::int64_t k = 1, kh = 1, kw = 1;       // filters [K, C, KH, KW]
  std::int64_t ho = 1, wo = 1;              // feature side y [N, K, HO, WO]
  std::int64_t stride_h = 1, stride_w = 1;
  std::int64_t pad_h = 0, pad_w = 0;
  std::int64_t dil_h = 1, dil_w = 1;

  FG_HOST_DEVICE std::int64_t patch() const { return c * kh * kw; }  // rows of an image's im2col matrix
  FG_HOST_DEVICE std::int64_t out_pixels() const { return ho * wo; }  // its columns
};

}  // namespace fg

namespace fg::kernels {

// y = x * w (+ bias[k] when bias is not null): conv2d's forward; conv_transpose2d's grad input.
FG_KERNEL(conv2d_forward, (DType dt, const Conv2dGeom& g, const void* x, const void* w, const void* bias, void* y))
// x = A^T gy (+ bias[c] when bias is not null; gx overwritten): conv2d's grad input and
// conv_transpose2d's forward (with its bias).
FG_KERNEL(conv2d_backward_input,
          (DType dt, const Conv2dGeom& g, const void* gy, const void* w, const void* bias, void* gx))
// gw = sum over n, i, j of gy x-patch (overwritten, [K, C, KH, KW]).
FG_KERNEL(conv2d_backward_weight, (DType dt, const Conv2dGeom& g, const void* x, const void* gy, void* gw))
// gb[c] = sum_{n, p} g[n, c, p] for g [n, channels, pixels] (overwritten): the bias gradient
// of both convolutions.
FG_KERNEL(conv_bias_grad,
          (DType dt, std::int64_t n, std::int64_t channels, std::int64_t pixels, const void* g, void* gb))

}  // namespace fg::kernels
