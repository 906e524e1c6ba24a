// kernels/cpu/conv.cpp: 2-D convolution on the CPU (kernels/conv.h has the shapes and the
// math of every kernel here, docs/conv.md the derivation).
//
// float64: the plain loops of the formulas in kernels/conv.h, one output element at a
// time (the ground truth the tests compare everything else with).
// float32: the fast path, per image: im2col into a [C KH KW, HO WO] matrix, then one
// OpenBLAS GEMM (kernels/cpu/linalg.cpp), and col2im for the adjoint. Tested against the
// float64 loops in tests/test_conv.cpp.
#include <type_traits>
#include <vector>

#include "kernels/conv.h"
#include "kernels/cpu/cpu_util.h"
#include "kernels/linalg.h"

namespace fg::kernels::cpu {

using cpu_detail::dispatch_float;

namespace {

using I = std::int64_t;

// ---------------------------------------------------------------- float64: the reference loops
// x[n, c, hh, ww] with hh = i s_h - p_h + u d_h (and ww likewise), or 0 in the padding.
template <class T>
T image_at(const Conv2dGeom& g, const T* x, I n, I c, I hh, I ww) {
  if (hh < 0 || hh >= g.h || ww < 0 || ww >= g.w) return T(0);
  return x[((n * g.c + c) * g.h + hh) * g.w + ww];
}

// y[n,k,i,j] = b[k] + sum_{c,u,v} w[k,c,u,v] x[n,c, i s_h - p_h + u d_h, j s_w - p_w + v d_w]
template <class T>
void forward_loops(const Conv2dGeom& g, const T* x, const T* w, const T* bias, T* y) {
  for (I n = 0; n < g.n; ++n)
    for (I k = 0; k < g.k; ++k)
      for (I i = 0; i < g.ho; ++i)
        for (I j = 0; j < g.wo; ++j) {
          T acc = bias ? bias[k] : T(0);
          for (I c = 0; c < g.c; ++c)
            for (I u = 0; u < g.kh; ++u)
              for (I v = 0; v < g.kw; ++v)
                acc += w[((k * g.c + c) * g.kh + u) * g.kw + v] *
                       image_at(g, x, n, c, i * g.stride_h - g.pad_h + u * g.dil_h, j * g.stride_w - g.pad_w + v * g.dil_w);
          y[((n * g.k + k) * g.ho + i) * g.wo + j] = acc;
        }
}

// Which feature row i (or column j) reads image row hh through filter tap u, if any:
// i s - p + u d = hh  <=>  i = (hh + p - u d) / s when that divides and 0 <= i < size.
inline bool source_index(I hh, I pad, I u, I dil, I stride, I size, I& i) {
  const I t = hh + pad - u * dil;
  if (t < 0 || t % stride != 0) return false;
  i = t / stride;
  return i < size;
}

// gx[n,c,hh,ww] = b[c] + sum over (k, u, v) and the (i, j) that read (hh, ww) of w[k,c,u,v] gy[n,k,i,j]
template <class T>
void backward_input_loops(const Conv2dGeom& g, const T* gy, const T* w, const T* bias, T* gx) {
  for (I n = 0; n < g.n; ++n)
    for (I c = 0; c < g.c; ++c)
      for (I hh = 0; hh < g.h; ++hh)
        for (I ww = 0; ww < g.w; ++ww) {
          T acc = bias ? bias[c] : T(0);
          for (I k = 0; k < g.k; ++k)
            for (I u = 0; u < g.kh; ++u) {
              I i = 0;
              if (!source_index(hh, g.pad_h, u, g.dil_h, g.stride_h, g.ho, i)) continue;
              for (I v = 0; v < g.kw; ++v) {
                I j = 0;
                if (!source_index(ww, g.pad_w, v, g.dil_w, g.stride_w, g.wo, j)) continue;
                acc += w[((k * g.c + c) * g.kh + u) * g.kw + v] * gy[((n * g.k + k) * g.ho + i) * g.wo + j];
              }
            }
          gx[((n * g.c + c) * g.h + hh) * g.w + ww] = acc;
        }
}

// gw[k,c,u,v] = sum_{n,i,j} gy[n,k,i,j] x[n,c, i s_h - p_h + u d_h, j s_w - p_w + v d_w]
template <class T>
void backward_weight_loops(const Conv2dGeom& g, const T* x, const T* gy, T* gw) {
  for (I k = 0; k < g.k; ++k)
    for (I c = 0; c < g.c; ++c)
      for (I u = 0; u < g.kh; ++u)
        for (I v = 0; v < g.kw; ++v) {
          T acc = 0;
          for (I n = 0; n < g.n; ++n)
            for (I i = 0; i < g.ho; ++i)
              for (I j = 0; j < g.wo; ++j)
                acc += gy[((n * g.k + k) * g.ho + i) * g.wo + j] *
                       image_at(g, x, n, c, i * g.stride_h - g.pad_h + u * g.dil_h, j * g.stride_w - g.pad_w + v * g.dil_w);
          gw[((k * g.c + c) * g.kh + u) * g.kw + v] = acc;
        }
}

// ---------------------------------------------------------------- float32: im2col + GEMM
// col[(c KH + u) KW + v][i WO + j] = x[n, c, i s_h - p_h + u d_h, j s_w - p_w + v d_w] (image n)
void im2col(const Conv2dGeom& g, const float* x, I n, float* col) {
  const I pixels = g.out_pixels();
  for (I c = 0; c < g.c; ++c)
    for (I u = 0; u < g.kh; ++u)
      for (I v = 0; v < g.kw; ++v) {
        float* row = col + ((c * g.kh + u) * g.kw + v) * pixels;
        for (I i = 0; i < g.ho; ++i) {
          const I hh = i * g.stride_h - g.pad_h + u * g.dil_h;
          for (I j = 0; j < g.wo; ++j)
            row[i * g.wo + j] = image_at(g, x, n, c, hh, j * g.stride_w - g.pad_w + v * g.dil_w);
        }
      }
}

// gx[n, c, hh, ww] = b[c] + the sum of the col entries that im2col copied from (hh, ww)
// (gathered per pixel, so each output is written once, in a fixed order).
void col2im(const Conv2dGeom& g, const float* col, const float* bias, I n, float* gx) {
  const I pixels = g.out_pixels();
  for (I c = 0; c < g.c; ++c)
    for (I hh = 0; hh < g.h; ++hh)
      for (I ww = 0; ww < g.w; ++ww) {
        float acc = bias ? bias[c] : 0.0f;
        for (I u = 0; u < g.kh; ++u) {
          I i = 0;
          if (!source_index(hh, g.pad_h, u, g.dil_h, g.stride_h, g.ho, i)) continue;
          for (I v = 0; v < g.kw; ++v) {
            I j = 0;
            if (!source_index(ww, g.pad_w, v, g.dil_w, g.stride_w, g.wo, j)) continue;
            acc += col[((c * g.kh + u) * g.kw + v) * pixels + i * g.wo + j];
          }
        }
        gx[((n * g.c + c) * g.h + hh) * g.w + ww] = acc;
      }
}

void forward_gemm(const Conv2dGeom& g, const float* x, const float* w, const float* bias, float* y) {
  const I pixels = g.out_pixels(), patch = g.patch();
  std::vector<float> col(static_cast<std::size_t>(patch * pixels));
  for (I n = 0; n < g.n; ++n) {
    float* yn = y + n * g.k * pixels;
    im2col(g, x, n, col.data());
    // y[n] [K, HO WO] = W [K, C KH KW] col [C KH KW, HO WO]
    gemm(DType::f32, false, false, 1, g.k, pixels, patch, 1.0, w, 0, col.data(), 0, 0.0, yn, 0);
    if (bias)
      for (I k = 0; k < g.k; ++k)
        for (I p = 0; p < pixels; ++p) yn[k * pixels + p] += bias[k];
  }
}

void backward_input_gemm(const Conv2dGeom& g, const float* gy, const float* w, const float* bias, float* gx) {
  const I pixels = g.out_pixels(), patch = g.patch();
  std::vector<float> col(static_cast<std::size_t>(patch * pixels));
  for (I n = 0; n < g.n; ++n) {
    // col [C KH KW, HO WO] = W^T gy[n]
    gemm(DType::f32, true, false, 1, patch, pixels, g.k, 1.0, w, 0, gy + n * g.k * pixels, 0, 0.0, col.data(), 0);
    col2im(g, col.data(), bias, n, gx);
  }
}

void backward_weight_gemm(const Conv2dGeom& g, const float* x, const float* gy, float* gw) {
  const I pixels = g.out_pixels(), patch = g.patch();
  std::vector<float> col(static_cast<std::size_t>(patch * pixels));
  for (I n = 0; n < g.n; ++n) {
    im2col(g, x, n, col.data());
    // gw [K, C KH KW] (+)= gy[n] [K, HO WO] col^T
    gemm(DType::f32, false, true, 1, g.k, patch, pixels, 1.0, gy + n * g.k * pixels, 0, col.data(), 0,
         n == 0 ? 0.0 : 1.0, gw, 0);
  }
}

}  // namespace

void conv2d_forward(DType dt, const Conv2dGeom& g, const void* x, const void* w, const void* bias, void* y) {
  dispatch_float(dt, "conv2d_forward", [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, float>)
      forward_gemm(g, static_cast<const float*>(x), static_cast<const float*>(w), static_cast<const float*>(bias),
                   static_cast<float*>(y));
    else
      forward_loops(g, static_cast<const T*>(x), static_cast<const T*>(w), static_cast<const T*>(bias),
                    static_cast<T*>(y));
  });
}

void conv2d_backward_input(DType dt, const Conv2dGeom& g, const void* gy, const void* w, const void* bias, void* gx) {
  dispatch_float(dt, "conv2d_backward_input", [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, float>)
      backward_input_gemm(g, static_cast<const float*>(gy), static_cast<const float*>(w),
                          static_cast<const float*>(bias), static_cast<float*>(gx));
    else
      backward_input_loops(g, static_cast<const T*>(gy), static_cast<const T*>(w), static_cast<const T*>(bias),
                           static_cast<T*>(gx));
  });
}

void conv2d_backward_weight(DType dt, const Conv2dGeom& g, const void* x, const void* gy, void* gw) {
  dispatch_float(dt, "conv2d_backward_weight", [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, float>)
      backward_weight_gemm(g, static_cast<const float*>(x), static_cast<const float*>(gy), static_cast<float*>(gw));
    else
      backward_weight_loops(g, static_cast<const T*>(x), static_cast<const T*>(gy), static_cast<T*>(gw));
  });
}

// gb[c] = sum_{n, p} g[n, c, p], accumulated in double for both dtypes.
void conv_bias_grad(DType dt, std::int64_t n, std::int64_t channels, std::int64_t pixels, const void* g, void* gb) {
  dispatch_float(dt, "conv_bias_grad", [&](auto tag) {
    using T = decltype(tag);
    const T* src = static_cast<const T*>(g);
    for (I c = 0; c < channels; ++c) {
      double acc = 0;
      for (I b = 0; b < n; ++b)
        for (I p = 0; p < pixels; ++p) acc += static_cast<double>(src[(b * channels + c) * pixels + p]);
      static_cast<T*>(gb)[c] = static_cast<T>(acc);
    }
  });
}

}  // namespace fg::kernels::cpu
