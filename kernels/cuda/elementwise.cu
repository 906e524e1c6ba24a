// kernels/cuda/elementwise.cu: CUDA unary, broadcast binary and where kernels (float32),
// forward and backward, for kernels/elementwise.h.
//
//   unary:   y[i] = f(x[i]);              gx[i] = gy[i] * f'(x[i]) (f' may read y[i])
//   binary:  out[i] = a[.] (op) b[.];     ga_full[i] = gy[i] d(out)/da, gb_full[i] = gy[i] d(out)/db
//   where:   out[i] = cond[.] != 0 ? a[.] : b[.];  ga_full = cond ? gy : 0, gb_full = cond ? 0 : gy
// Shapes: unary works on n contiguous elements; binary and where on the output of a
// BroadcastPlan (inputs read with stride 0 along broadcast axes). The math of every f,
// f', operator and partial derivative is written out in kernels/cpu/elementwise.cpp; the
// device functions below are the same expressions in float32 (including how NaN flows
// through comparisons: relu(NaN) = 0, maximum(NaN, b) = b, as on the CPU).
//
// Speed: each op is a template parameter (no per-element switch). Contiguous inputs use
// 16-byte float4 loads and stores when every pointer is 16-byte aligned (the scalar tail
// finishes the last n % 4 elements). Broadcast plans are first coalesced on the host
// (size-1 axes dropped, axes that are contiguous for every input merged), and use 32-bit
// index math when the output has fewer than 2^31 elements.
// In-place use (out == a, as add_ does) is safe: every element is read by the thread
// that writes it, before it writes it.
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/elementwise.h"

namespace fg::kernels::cuda {

using namespace cuda_detail;

namespace {

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kGeluK = 0.044715f;
constexpr float kInvSqrt2 = 0.7071067811865476f;
constexpr float kInvSqrt2Pi = 0.3989422804014327f;

__device__ __forceinline__ float sigmoidf(float x) {
  return x >= 0.0f ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x));
}

template <UnaryOp OP>
__device__ __forceinline__ float unary_value(float x, float a, float b) {
  if constexpr (OP == UnaryOp::Neg) return -x;
  else if constexpr (OP == UnaryOp::Exp) return expf(x);
  else if constexpr (OP == UnaryOp::Log) return logf(x);
  else if constexpr (OP == UnaryOp::Sqrt) return sqrtf(x);
  else if constexpr (OP == UnaryOp::Abs) return fabsf(x);
  else if constexpr (OP == UnaryOp::Tanh) return tanhf(x);
  else if constexpr (OP == UnaryOp::Sigmoid) return sigmoidf(x);
  else if constexpr (OP == UnaryOp::Relu) return x > 0.0f ? x : 0.0f;
  else if constexpr (OP == UnaryOp::LeakyRelu) return x > 0.0f ? x : a * x;
  else if constexpr (OP == UnaryOp::GeluTanh) {
    const float u = kSqrt2OverPi * (x + kGeluK * x * x * x);
    return 0.5f * x * (1.0f + tanhf(u));
  } else if constexpr (OP == UnaryOp::GeluErf) return 0.5f * x * (1.0f + erff(x * kInvSqrt2));
  else if constexpr (OP == UnaryOp::Softplus) {  // a = beta, b = threshold
    const float bx = a * x;
    if (bx > b) return x;
    return ((bx < 0.0f ? 0.0f : bx) + log1pf(expf(-fabsf(bx)))) / a;  // std::max(bx, 0) keeps NaN
  } else if constexpr (OP == UnaryOp::Clamp) return x < a ? a : (x > b ? b : x);
  else if constexpr (OP == UnaryOp::PowScalar) return powf(x, a);
  else if constexpr (OP == UnaryOp::AddScalar) return x + a;
  else if constexpr (OP == UnaryOp::MulScalar) return x * a;
  else if constexpr (OP == UnaryOp::Reciprocal) return 1.0f / x;
  else if constexpr (OP == UnaryOp::Square) return x * x;
  else if constexpr (OP == UnaryOp::Sin) return sinf(x);
  else if constexpr (OP == UnaryOp::Cos) return cosf(x);
  else if constexpr (OP == UnaryOp::Log1p) return log1pf(x);
  else if constexpr (OP == UnaryOp::Expm1) return expm1f(x);
  else return x;
}

// dy/dx at x, with y = f(x) already computed.
template <UnaryOp OP>
__device__ __forceinline__ float unary_derivative(float x, float y, float a, float b) {
  if constexpr (OP == UnaryOp::Neg) return -1.0f;
  else if constexpr (OP == UnaryOp::Exp) return y;
  else if constexpr (OP == UnaryOp::Log) return 1.0f / x;
  else if constexpr (OP == UnaryOp::Sqrt) return 0.5f / y;
  else if constexpr (OP == UnaryOp::Abs) return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f);
  else if constexpr (OP == UnaryOp::Tanh) return 1.0f - y * y;
  else if constexpr (OP == UnaryOp::Sigmoid) return y * (1.0f - y);
  else if constexpr (OP == UnaryOp::Relu) return x > 0.0f ? 1.0f : 0.0f;
  else if constexpr (OP == UnaryOp::LeakyRelu) return x > 0.0f ? 1.0f : a;
  else if constexpr (OP == UnaryOp::GeluTanh) {
    const float u = kSqrt2OverPi * (x + kGeluK * x * x * x);
    const float t = tanhf(u);
    return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * kSqrt2OverPi * (1.0f + 3.0f * kGeluK * x * x);
  } else if constexpr (OP == UnaryOp::GeluErf) {
    const float cdf = 0.5f * (1.0f + erff(x * kInvSqrt2));
    const float pdf = kInvSqrt2Pi * expf(-0.5f * x * x);
    return cdf + x * pdf;
  } else if constexpr (OP == UnaryOp::Softplus) {
    const float bx = a * x;
    if (bx > b) return 1.0f;
    return sigmoidf(bx);
  } else if constexpr (OP == UnaryOp::Clamp) return (x >= a && x <= b) ? 1.0f : 0.0f;
  else if constexpr (OP == UnaryOp::PowScalar) return a == 0.0f ? 0.0f : a * powf(x, a - 1.0f);  // 0 * 0^-1 is NaN at x = 0
  else if constexpr (OP == UnaryOp::AddScalar) return 1.0f;
  else if constexpr (OP == UnaryOp::MulScalar) return a;
  else if constexpr (OP == UnaryOp::Reciprocal) return -y * y;
  else if constexpr (OP == UnaryOp::Square) return 2.0f * x;
  else if constexpr (OP == UnaryOp::Sin) return cosf(x);
  else if constexpr (OP == UnaryOp::Cos) return -sinf(x);
  else if constexpr (OP == UnaryOp::Log1p) return 1.0f / (1.0f + x);
  else if constexpr (OP == UnaryOp::Expm1) return y + 1.0f;
  else return 0.0f;
}

template <BinaryOp OP>
__device__ __forceinline__ float binary_value(float a, float b) {
  if constexpr (OP == BinaryOp::Add) return a + b;
  else if constexpr (OP == BinaryOp::Sub) return a - b;
  else if constexpr (OP == BinaryOp::Mul) return a * b;
  else if constexpr (OP == BinaryOp::Div) return a / b;
  else if constexpr (OP == BinaryOp::Maximum) return a > b ? a : b;
  else if constexpr (OP == BinaryOp::Minimum) return a < b ? a : b;
  else if constexpr (OP == BinaryOp::Pow) return powf(a, b);
  else if constexpr (OP == BinaryOp::Gt) return a > b ? 1.0f : 0.0f;
  else if constexpr (OP == BinaryOp::Ge) return a >= b ? 1.0f : 0.0f;
  else if constexpr (OP == BinaryOp::Lt) return a < b ? 1.0f : 0.0f;
  else if constexpr (OP == BinaryOp::Le) return a <= b ? 1.0f : 0.0f;
  else if constexpr (OP == BinaryOp::Eq) return a == b ? 1.0f : 0.0f;
  else return 0.0f;
}

// d(out)/da and d(out)/db; comparisons have none (zeros).
template <BinaryOp OP>
__device__ __forceinline__ void binary_partials(float a, float b, float& da, float& db) {
  if constexpr (OP == BinaryOp::Add) { da = 1.0f; db = 1.0f; }
  else if constexpr (OP == BinaryOp::Sub) { da = 1.0f; db = -1.0f; }
  else if constexpr (OP == BinaryOp::Mul) { da = b; db = a; }
  else if constexpr (OP == BinaryOp::Div) { da = 1.0f / b; db = -a / (b * b); }
  else if constexpr (OP == BinaryOp::Maximum) { da = a > b ? 1.0f : (a == b ? 0.5f : 0.0f); db = 1.0f - da; }
  else if constexpr (OP == BinaryOp::Minimum) { da = a < b ? 1.0f : (a == b ? 0.5f : 0.0f); db = 1.0f - da; }
  else if constexpr (OP == BinaryOp::Pow) {
    da = b == 0.0f ? 0.0f : b * powf(a, b - 1.0f);  // x^0 is constant: 0, not 0 * 0^-1 = NaN, at a = 0
    db = a > 0.0f ? powf(a, b) * logf(a) : 0.0f;
  } else { da = 0.0f; db = 0.0f; }
}

// ---------------------------------------------------------------- broadcast plans on the device
// A coalesced BroadcastPlan with IndexT integers (int or long long).
template <class I>
struct Plan {
  int ndim = 1;
  I numel = 0;
  I shape[kMaxDims] = {};
  I stride[3][kMaxDims] = {};
};

// Offsets into each of the first NIN inputs of the element with flat output index i.
template <int NIN, class I>
__device__ __forceinline__ void plan_offsets(const Plan<I>& p, I i, I (&off)[NIN]) {
#pragma unroll
  for (int k = 0; k < NIN; ++k) off[k] = 0;
  for (int d = p.ndim - 1; d >= 1; --d) {
    const I q = i / p.shape[d];
    const I idx = i - q * p.shape[d];
    i = q;
#pragma unroll
    for (int k = 0; k < NIN; ++k) off[k] += idx * p.stride[k][d];
  }
#pragma unroll
  for (int k = 0; k < NIN; ++k) off[k] += i * p.stride[k][0];  // i < shape[0]: no division needed
}

template <class I>
Plan<I> device_plan(const BroadcastPlan& c, int nin) {
  Plan<I> p;
  p.ndim = c.ndim;
  p.numel = static_cast<I>(c.numel);
  for (int d = 0; d < c.ndim; ++d) {
    p.shape[d] = static_cast<I>(c.shape[d]);
    for (int k = 0; k < nin; ++k) p.stride[k][d] = static_cast<I>(c.stride[k][d]);
  }
  return p;
}

// True when every input is read contiguously at the output's flat index.
bool is_flat(const BroadcastPlan& c, int nin) {
  if (c.ndim != 1) return false;
  for (int k = 0; k < nin; ++k)
    if (c.stride[k][0] != 1) return false;
  return true;
}

// ---------------------------------------------------------------- unary kernels
template <UnaryOp OP>
__global__ void unary_forward_kernel(std::int64_t n, std::int64_t n_vec, float pa, float pb, const float* x,
                                     float* y) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  const std::int64_t tid = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  for (std::int64_t i = tid; i < n_vec; i += stride) {
    float4 v = reinterpret_cast<const float4*>(x)[i];
    v.x = unary_value<OP>(v.x, pa, pb);
    v.y = unary_value<OP>(v.y, pa, pb);
    v.z = unary_value<OP>(v.z, pa, pb);
    v.w = unary_value<OP>(v.w, pa, pb);
    reinterpret_cast<float4*>(y)[i] = v;
  }
  for (std::int64_t i = n_vec * 4 + tid; i < n; i += stride) y[i] = unary_value<OP>(x[i], pa, pb);
}

template <UnaryOp OP>
__global__ void unary_backward_kernel(std::int64_t n, std::int64_t n_vec, float pa, float pb, const float* x,
                                      const float* y, const float* gy, float* gx) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  const std::int64_t tid = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  for (std::int64_t i = tid; i < n_vec; i += stride) {
    const float4 xv = reinterpret_cast<const float4*>(x)[i];
    const float4 yv = reinterpret_cast<const float4*>(y)[i];
    const float4 gv = reinterpret_cast<const float4*>(gy)[i];
    float4 r;
    r.x = gv.x * unary_derivative<OP>(xv.x, yv.x, pa, pb);
    r.y = gv.y * unary_derivative<OP>(xv.y, yv.y, pa, pb);
    r.z = gv.z * unary_derivative<OP>(xv.z, yv.z, pa, pb);
    r.w = gv.w * unary_derivative<OP>(xv.w, yv.w, pa, pb);
    reinterpret_cast<float4*>(gx)[i] = r;
  }
  for (std::int64_t i = n_vec * 4 + tid; i < n; i += stride) gx[i] = gy[i] * unary_derivative<OP>(x[i], y[i], pa, pb);
}

template <UnaryOp OP>
void launch_unary_forward(UnaryParams p, std::int64_t n, const float* x, float* y) {
  const bool vec = aligned16(x) && aligned16(y);
  const std::int64_t n_vec = vec ? n / 4 : 0;
  unary_forward_kernel<OP><<<grid_for(vec ? n_vec + n % 4 : n), kThreads, 0, ::fg::cuda::current_stream()>>>(
      n, n_vec, static_cast<float>(p.a), static_cast<float>(p.b), x, y);
  CUDA_CHECK_LAUNCH("unary_forward_kernel");
}

template <UnaryOp OP>
void launch_unary_backward(UnaryParams p, std::int64_t n, const float* x, const float* y, const float* gy,
                           float* gx) {
  const bool vec = aligned16(x) && aligned16(y) && aligned16(gy) && aligned16(gx);
  const std::int64_t n_vec = vec ? n / 4 : 0;
  unary_backward_kernel<OP><<<grid_for(vec ? n_vec + n % 4 : n), kThreads, 0, ::fg::cuda::current_stream()>>>(
      n, n_vec, static_cast<float>(p.a), static_cast<float>(p.b), x, y, gy, gx);
  CUDA_CHECK_LAUNCH("unary_backward_kernel");
}

// Calls f(std::integral_constant<UnaryOp, op>{}) so that each op gets its own kernel.
template <class F>
void with_unary_op(UnaryOp op, F&& f) {
  switch (op) {
#define FG_UNARY_CASE(name) \
  case UnaryOp::name: f(std::integral_constant<UnaryOp, UnaryOp::name>{}); return;
    FG_UNARY_CASE(Neg) FG_UNARY_CASE(Exp) FG_UNARY_CASE(Log) FG_UNARY_CASE(Sqrt) FG_UNARY_CASE(Abs)
    FG_UNARY_CASE(Tanh) FG_UNARY_CASE(Sigmoid) FG_UNARY_CASE(Relu) FG_UNARY_CASE(LeakyRelu)
    FG_UNARY_CASE(GeluTanh) FG_UNARY_CASE(GeluErf) FG_UNARY_CASE(Softplus) FG_UNARY_CASE(Clamp)
    FG_UNARY_CASE(PowScalar) FG_UNARY_CASE(AddScalar) FG_UNARY_CASE(MulScalar) FG_UNARY_CASE(Reciprocal)
    FG_UNARY_CASE(Square) FG_UNARY_CASE(Sin) FG_UNARY_CASE(Cos) FG_UNARY_CASE(Log1p) FG_UNARY_CASE(Expm1)
#undef FG_UNARY_CASE
  }
  ::fg::cuda::detail::fail(__FILE__, __LINE__, "unary kernel: unknown UnaryOp " + std::to_string(static_cast<int>(op)));
}

template <class F>
void with_binary_op(BinaryOp op, F&& f) {
  switch (op) {
#define FG_BINARY_CASE(name) \
  case BinaryOp::name: f(std::integral_constant<BinaryOp, BinaryOp::name>{}); return;
    FG_BINARY_CASE(Add) FG_BINARY_CASE(Sub) FG_BINARY_CASE(Mul) FG_BINARY_CASE(Div) FG_BINARY_CASE(Maximum)
    FG_BINARY_CASE(Minimum) FG_BINARY_CASE(Pow) FG_BINARY_CASE(Gt) FG_BINARY_CASE(Ge) FG_BINARY_CASE(Lt)
    FG_BINARY_CASE(Le) FG_BINARY_CASE(Eq)
#undef FG_BINARY_CASE
  }
  ::fg::cuda::detail::fail(__FILE__, __LINE__,
                           "binary kernel: unknown BinaryOp " + std::to_string(static_cast<int>(op)));
}

// ---------------------------------------------------------------- binary kernels
template <BinaryOp OP>
__global__ void binary_flat_kernel(std::int64_t n, std::int64_t n_vec, const float* a, const float* b, float* out) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  const std::int64_t tid = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  for (std::int64_t i = tid; i < n_vec; i += stride) {
    const float4 av = reinterpret_cast<const float4*>(a)[i];
    const float4 bv = reinterpret_cast<const float4*>(b)[i];
    float4 r;
    r.x = binary_value<OP>(av.x, bv.x);
    r.y = binary_value<OP>(av.y, bv.y);
    r.z = binary_value<OP>(av.z, bv.z);
    r.w = binary_value<OP>(av.w, bv.w);
    reinterpret_cast<float4*>(out)[i] = r;
  }
  for (std::int64_t i = n_vec * 4 + tid; i < n; i += stride) out[i] = binary_value<OP>(a[i], b[i]);
}

template <BinaryOp OP, class I>
__global__ void binary_broadcast_kernel(Plan<I> p, const float* a, const float* b, float* out) {
  const I stride = static_cast<I>(gridDim.x) * blockDim.x;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < p.numel; i += stride) {
    I off[2];
    plan_offsets<2>(p, i, off);
    out[i] = binary_value<OP>(a[off[0]], b[off[1]]);
  }
}

template <BinaryOp OP, class I>
__global__ void binary_backward_kernel(Plan<I> p, const float* a, const float* b, const float* gy, float* ga,
                                       float* gb) {
  const I stride = static_cast<I>(gridDim.x) * blockDim.x;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < p.numel; i += stride) {
    I off[2];
    plan_offsets<2>(p, i, off);
    float da, db;
    binary_partials<OP>(a[off[0]], b[off[1]], da, db);
    const float g = gy[i];
    if (ga) ga[i] = g * da;
    if (gb) gb[i] = g * db;
  }
}

template <class I>
__global__ void where_forward_kernel(Plan<I> p, const float* cond, const float* a, const float* b, float* out) {
  const I stride = static_cast<I>(gridDim.x) * blockDim.x;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < p.numel; i += stride) {
    I off[3];
    plan_offsets<3>(p, i, off);
    out[i] = cond[off[0]] != 0.0f ? a[off[1]] : b[off[2]];
  }
}

template <class I>
__global__ void where_backward_kernel(Plan<I> p, const float* cond, const float* gy, float* ga, float* gb) {
  const I stride = static_cast<I>(gridDim.x) * blockDim.x;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < p.numel; i += stride) {
    I off[1];
    plan_offsets<1>(p, i, off);
    const bool take_a = cond[off[0]] != 0.0f;
    const float g = gy[i];
    if (ga) ga[i] = take_a ? g : 0.0f;
    if (gb) gb[i] = take_a ? 0.0f : g;
  }
}

}  // namespace

// ---------------------------------------------------------------- entry points
void unary_forward(UnaryOp op, UnaryParams p, DType dt, std::int64_t n, const void* x, void* y) {
  require_f32(dt, "unary_forward");
  if (n <= 0) return;
  with_unary_op(op, [&](auto tag) {
    launch_unary_forward<decltype(tag)::value>(p, n, static_cast<const float*>(x), static_cast<float*>(y));
  });
}

void unary_backward(UnaryOp op, UnaryParams p, DType dt, std::int64_t n, const void* x, const void* y,
                    const void* gy, void* gx) {
  require_f32(dt, "unary_backward");
  if (n <= 0) return;
  with_unary_op(op, [&](auto tag) {
    launch_unary_backward<decltype(tag)::value>(p, n, static_cast<const float*>(x), static_cast<const float*>(y),
                                                static_cast<const float*>(gy), static_cast<float*>(gx));
  });
}

void binary_forward(BinaryOp op, const BroadcastPlan& plan, DType dt, const void* a, const void* b, void* out) {
  require_f32(dt, "binary_forward");
  if (plan.numel <= 0) return;
  const auto* af = static_cast<const float*>(a);
  const auto* bf = static_cast<const float*>(b);
  auto* of = static_cast<float*>(out);
  const BroadcastPlan c = coalesce_broadcast_plan(plan, 2);
  const cudaStream_t s = ::fg::cuda::current_stream();
  with_binary_op(op, [&](auto tag) {
    constexpr BinaryOp OP = decltype(tag)::value;
    if (is_flat(c, 2)) {
      const bool vec = aligned16(af) && aligned16(bf) && aligned16(of);
      const std::int64_t n = c.numel, n_vec = vec ? n / 4 : 0;
      binary_flat_kernel<OP><<<grid_for(vec ? n_vec + n % 4 : n), kThreads, 0, s>>>(n, n_vec, af, bf, of);
      CUDA_CHECK_LAUNCH("binary_flat_kernel");
    } else if (grid_stride_int32_ok(c.numel)) {
      binary_broadcast_kernel<OP, int><<<grid_for(c.numel), kThreads, 0, s>>>(device_plan<int>(c, 2), af, bf, of);
      CUDA_CHECK_LAUNCH("binary_broadcast_kernel");
    } else {
      binary_broadcast_kernel<OP, long long><<<grid_for(c.numel), kThreads, 0, s>>>(device_plan<long long>(c, 2), af,
                                                                                    bf, of);
      CUDA_CHECK_LAUNCH("binary_broadcast_kernel");
    }
  });
}

void binary_backward(BinaryOp op, const BroadcastPlan& plan, DType dt, const void* a, const void* b, const void* gy,
                     void* ga_full, void* gb_full) {
  require_f32(dt, "binary_backward");
  if (plan.numel <= 0 || (!ga_full && !gb_full)) return;
  const BroadcastPlan c = coalesce_broadcast_plan(plan, 2);
  const cudaStream_t s = ::fg::cuda::current_stream();
  const auto* af = static_cast<const float*>(a);
  const auto* bf = static_cast<const float*>(b);
  const auto* gf = static_cast<const float*>(gy);
  auto* gaf = static_cast<float*>(ga_full);
  auto* gbf = static_cast<float*>(gb_full);
  // comparisons have no gradient: one kernel (the Gt instance) writes their zeros
  const BinaryOp kernel_op = static_cast<int>(op) >= static_cast<int>(BinaryOp::Gt) ? BinaryOp::Gt : op;
  with_binary_op(kernel_op, [&](auto tag) {
    constexpr BinaryOp OP = decltype(tag)::value;
    if constexpr (static_cast<int>(OP) <= static_cast<int>(BinaryOp::Gt)) {
      if (grid_stride_int32_ok(c.numel)) {
        binary_backward_kernel<OP, int><<<grid_for(c.numel), kThreads, 0, s>>>(device_plan<int>(c, 2), af, bf, gf,
                                                                               gaf, gbf);
      } else {
        binary_backward_kernel<OP, long long><<<grid_for(c.numel), kThreads, 0, s>>>(device_plan<long long>(c, 2), af,
                                                                                     bf, gf, gaf, gbf);
      }
      CUDA_CHECK_LAUNCH("binary_backward_kernel");
    }
  });
}

void where_forward(const BroadcastPlan& plan, DType dt, const void* cond, const void* a, const void* b, void* out) {
  require_f32(dt, "where_forward");
  if (plan.numel <= 0) return;
  const BroadcastPlan c = coalesce_broadcast_plan(plan, 3);
  const cudaStream_t s = ::fg::cuda::current_stream();
  const auto* cf = static_cast<const float*>(cond);
  const auto* af = static_cast<const float*>(a);
  const auto* bf = static_cast<const float*>(b);
  auto* of = static_cast<float*>(out);
  if (grid_stride_int32_ok(c.numel)) {
    where_forward_kernel<int><<<grid_for(c.numel), kThreads, 0, s>>>(device_plan<int>(c, 3), cf, af, bf, of);
  } else {
    where_forward_kernel<long long><<<grid_for(c.numel), kThreads, 0, s>>>(device_plan<long long>(c, 3), cf, af, bf,
                                                                           of);
  }
  CUDA_CHECK_LAUNCH("where_forward_kernel");
}

void where_backward(const BroadcastPlan& plan, DType dt, const void* cond, const void* gy, void* ga_full,
                    void* gb_full) {
  require_f32(dt, "where_backward");
  if (plan.numel <= 0 || (!ga_full && !gb_full)) return;
  const BroadcastPlan c = coalesce_broadcast_plan(plan, 1);  // only cond (input 0) is read through the plan
  const cudaStream_t s = ::fg::cuda::current_stream();
  const auto* cf = static_cast<const float*>(cond);
  const auto* gf = static_cast<const float*>(gy);
  auto* gaf = static_cast<float*>(ga_full);
  auto* gbf = static_cast<float*>(gb_full);
  if (grid_stride_int32_ok(c.numel)) {
    where_backward_kernel<int><<<grid_for(c.numel), kThreads, 0, s>>>(device_plan<int>(c, 1), cf, gf, gaf, gbf);
  } else {
    where_backward_kernel<long long><<<grid_for(c.numel), kThreads, 0, s>>>(device_plan<long long>(c, 1), cf, gf, gaf,
                                                                            gbf);
  }
  CUDA_CHECK_LAUNCH("where_backward_kernel");
}

}  // namespace fg::kernels::cuda
