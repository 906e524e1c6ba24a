// kernels/cpu/elementwise.cpp: CPU reference for the elementwise family.
//
// Computes y = f(x) (unary), out = a (op) b with NumPy broadcasting (binary) and
// out = cond ? a : b (where), forward and backward. Shapes: any; binary and where
// walk a BroadcastPlan (kernels/types.h) whose output has plan.numel elements.
//
// Backward math (gy = dL/dy, gx = dL/dx):
//   neg: -gy            exp: gy*y             log: gy/x            sqrt: gy/(2y)
//   abs: gy*sign(x)     tanh: gy*(1-y^2)      sigmoid: gy*y*(1-y)  relu: gy*[x>0]
//   leaky_relu(s): gy*(x>0 ? 1 : s)
//   gelu_tanh: y = x/2 (1 + tanh(u)), u = c (x + k x^3), c = sqrt(2/pi), k = 0.044715
//              dy/dx = (1 + t)/2 + x/2 (1 - t^2) c (1 + 3k x^2), t = tanh(u)
//   gelu_erf:  y = x Phi(x), dy/dx = Phi(x) + x phi(x)
//   softplus(beta, thr): y = log(1 + exp(beta x))/beta (x where beta x > thr), dy/dx = sigmoid(beta x) (1 past thr)
//   clamp(lo, hi): gy where lo <= x <= hi, else 0 (PyTorch's convention at the bounds)
//   pow(x, a): gy * a x^(a-1), 0 when a == 0 (x^0 is constant, even at x = 0)
//   reciprocal: -gy y^2   square: 2 gy x   sin: gy cos x   cos: -gy sin x
//   log1p: gy/(1+x)   expm1: gy (y+1)
// Binary partials before summing over broadcast axes:
//   add: (gy, gy)  sub: (gy, -gy)  mul: (gy b, gy a)  div: (gy/b, -gy a/b^2)
//   maximum/minimum: the larger/smaller input gets gy; on ties each gets gy/2 (as PyTorch)
//   pow(a, b): (gy b a^(b-1), gy a^b log a) with the first taken as 0 where b == 0 and the
//              second as 0 where a <= 0
//   comparisons: no gradient (zeros)
#include <cmath>

#include "kernels/cpu/cpu_util.h"
#include "kernels/cpu/fast/fast_f32.h"
#include "kernels/elementwise.h"

namespace fg::kernels::cpu {

using cpu_detail::dispatch_float;
using cpu_detail::for_each_broadcast;

namespace {

constexpr double kSqrt2OverPi = 0.7978845608028654;
constexpr double kGeluK = 0.044715;
constexpr double kInvSqrt2 = 0.7071067811865476;
constexpr double kInvSqrt2Pi = 0.3989422804014327;

template <class T>
T unary_value(UnaryOp op, UnaryParams p, T x) {
  switch (op) {
    case UnaryOp::Neg: return -x;
    case UnaryOp::Exp: return std::exp(x);
    case UnaryOp::Log: return std::log(x);
    case UnaryOp::Sqrt: return std::sqrt(x);
    case UnaryOp::Abs: return std::abs(x);
    case UnaryOp::Tanh: return std::tanh(x);
    case UnaryOp::Sigmoid: return x >= T(0) ? T(1) / (T(1) + std::exp(-x)) : std::exp(x) / (T(1) + std::exp(x));
    case UnaryOp::Relu: return x > T(0) ? x : T(0);
    case UnaryOp::LeakyRelu: return x > T(0) ? x : T(p.a) * x;
    case UnaryOp::GeluTanh: {
      const T u = T(kSqrt2OverPi) * (x + T(kGeluK) * x * x * x);
      return T(0.5) * x * (T(1) + std::tanh(u));
    }
    case UnaryOp::GeluErf: return T(0.5) * x * (T(1) + std::erf(x * T(kInvSqrt2)));
    case UnaryOp::Softplus: {
      const T bx = T(p.a) * x;
      if (bx > T(p.b)) return x;
      // log(1 + e^bx) = max(bx, 0) + log1p(e^-|bx|), stable for both signs
      return (std::max(bx, T(0)) + std::log1p(std::exp(-std::abs(bx)))) / T(p.a);
    }
    case UnaryOp::Clamp: return x < T(p.a) ? T(p.a) : (x > T(p.b) ? T(p.b) : x);
    case UnaryOp::PowScalar: return std::pow(x, T(p.a));
    case UnaryOp::AddScalar: return x + T(p.a);
    case UnaryOp::MulScalar: return x * T(p.a);
    case UnaryOp::Reciprocal: return T(1) / x;
    case UnaryOp::Square: return x * x;
    case UnaryOp::Sin: return std::sin(x);
    case UnaryOp::Cos: return std::cos(x);
    case UnaryOp::Log1p: return std::log1p(x);
    case UnaryOp::Expm1: return std::expm1(x);
  }
  return x;
}

// dy/dx at x (y = f(x) already computed).
template <class T>
T unary_derivative(UnaryOp op, UnaryParams p, T x, T y) {
  switch (op) {
    case UnaryOp::Neg: return T(-1);
    case UnaryOp::Exp: return y;
    case UnaryOp::Log: return T(1) / x;
    case UnaryOp::Sqrt: return T(0.5) / y;
    case UnaryOp::Abs: return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
    case UnaryOp::Tanh: return T(1) - y * y;
    case UnaryOp::Sigmoid: return y * (T(1) - y);
    case UnaryOp::Relu: return x > T(0) ? T(1) : T(0);
    case UnaryOp::LeakyRelu: return x > T(0) ? T(1) : T(p.a);
    case UnaryOp::GeluTanh: {
      const T u = T(kSqrt2OverPi) * (x + T(kGeluK) * x * x * x);
      const T t = std::tanh(u);
      return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * T(kSqrt2OverPi) * (T(1) + T(3 * kGeluK) * x * x);
    }
    case UnaryOp::GeluErf: {
      const T cdf = T(0.5) * (T(1) + std::erf(x * T(kInvSqrt2)));
      const T pdf = T(kInvSqrt2Pi) * std::exp(T(-0.5) * x * x);
      return cdf + x * pdf;
    }
    case UnaryOp::Softplus: {
      const T bx = T(p.a) * x;
      if (bx > T(p.b)) return T(1);
      return unary_value(UnaryOp::Sigmoid, p, bx);
    }
    case UnaryOp::Clamp: return (x >= T(p.a) && x <= T(p.b)) ? T(1) : T(0);
    case UnaryOp::PowScalar: return p.a == 0.0 ? T(0) : T(p.a) * std::pow(x, T(p.a - 1.0));
    case UnaryOp::AddScalar: return T(1);
    case UnaryOp::MulScalar: return T(p.a);
    case UnaryOp::Reciprocal: return -y * y;
    case UnaryOp::Square: return T(2) * x;
    case UnaryOp::Sin: return std::cos(x);
    case UnaryOp::Cos: return -std::sin(x);
    case UnaryOp::Log1p: return T(1) / (T(1) + x);
    case UnaryOp::Expm1: return y + T(1);
  }
  return T(0);
}

template <class T>
T binary_value(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::Add: return a + b;
    case BinaryOp::Sub: return a - b;
    case BinaryOp::Mul: return a * b;
    case BinaryOp::Div: return a / b;
    case BinaryOp::Maximum: return a > b ? a : b;
    case BinaryOp::Minimum: return a < b ? a : b;
    case BinaryOp::Pow: return std::pow(a, b);
    case BinaryOp::Gt: return a > b ? T(1) : T(0);
    case BinaryOp::Ge: return a >= b ? T(1) : T(0);
    case BinaryOp::Lt: return a < b ? T(1) : T(0);
    case BinaryOp::Le: return a <= b ? T(1) : T(0);
    case BinaryOp::Eq: return a == b ? T(1) : T(0);
  }
  return T(0);
}

// d(out)/da and d(out)/db at (a, b).
template <class T>
void binary_partials(BinaryOp op, T a, T b, T& da, T& db) {
  switch (op) {
    case BinaryOp::Add: da = T(1); db = T(1); return;
    case BinaryOp::Sub: da = T(1); db = T(-1); return;
    case BinaryOp::Mul: da = b; db = a; return;
    case BinaryOp::Div: da = T(1) / b; db = -a / (b * b); return;
    case BinaryOp::Maximum: da = a > b ? T(1) : (a == b ? T(0.5) : T(0)); db = T(1) - da; return;
    case BinaryOp::Minimum: da = a < b ? T(1) : (a == b ? T(0.5) : T(0)); db = T(1) - da; return;
    case BinaryOp::Pow:
      da = b == T(0) ? T(0) : b * std::pow(a, b - T(1));  // 0 * 0^-1 would be NaN at a = 0
      db = a > T(0) ? std::pow(a, b) * std::log(a) : T(0);
      return;
    default: da = T(0); db = T(0); return;
  }
}

}  // namespace

// float32 goes to the vectorised kernels of kernels/cpu/fast/ first; what they do not
// cover (and all of float64) runs the plain loops below.
void unary_forward(UnaryOp op, UnaryParams p, DType dt, std::int64_t n, const void* x, void* y) {
  if (dt == DType::f32 && fast::unary_forward(op, p, n, static_cast<const float*>(x), static_cast<float*>(y))) return;
  dispatch_float(dt, "unary_forward", [&](auto tag) {
    using T = decltype(tag);
    const T* xs = static_cast<const T*>(x);
    T* ys = static_cast<T*>(y);
    for (std::int64_t i = 0; i < n; ++i) ys[i] = unary_value<T>(op, p, xs[i]);
  });
}

void unary_backward(UnaryOp op, UnaryParams p, DType dt, std::int64_t n, const void* x, const void* y,
                    const void* gy, void* gx) {
  if (dt == DType::f32 && fast::unary_backward(op, p, n, static_cast<const float*>(x), static_cast<const float*>(y),
                                               static_cast<const float*>(gy), static_cast<float*>(gx)))
    return;
  dispatch_float(dt, "unary_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* xs = static_cast<const T*>(x);
    const T* ys = static_cast<const T*>(y);
    const T* gys = static_cast<const T*>(gy);
    T* gxs = static_cast<T*>(gx);
    for (std::int64_t i = 0; i < n; ++i) gxs[i] = gys[i] * unary_derivative<T>(op, p, xs[i], ys[i]);
  });
}

void binary_forward(BinaryOp op, const BroadcastPlan& plan, DType dt, const void* a, const void* b, void* out) {
  if (dt == DType::f32 && fast::binary_forward(op, plan, static_cast<const float*>(a), static_cast<const float*>(b),
                                               static_cast<float*>(out)))
    return;
  dispatch_float(dt, "binary_forward", [&](auto tag) {
    using T = decltype(tag);
    const T* as = static_cast<const T*>(a);
    const T* bs = static_cast<const T*>(b);
    T* os = static_cast<T*>(out);
    for_each_broadcast(plan, [&](std::int64_t i, std::int64_t ia, std::int64_t ib, std::int64_t) {
      os[i] = binary_value<T>(op, as[ia], bs[ib]);
    });
  });
}

void binary_backward(BinaryOp op, const BroadcastPlan& plan, DType dt, const void* a, const void* b, const void* gy,
                     void* ga_full, void* gb_full) {
  if (dt == DType::f32 && fast::binary_backward(op, plan, static_cast<const float*>(a), static_cast<const float*>(b),
                                                static_cast<const float*>(gy), static_cast<float*>(ga_full),
                                                static_cast<float*>(gb_full)))
    return;
  dispatch_float(dt, "binary_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* as = static_cast<const T*>(a);
    const T* bs = static_cast<const T*>(b);
    const T* gys = static_cast<const T*>(gy);
    T* gas = static_cast<T*>(ga_full);
    T* gbs = static_cast<T*>(gb_full);
    for_each_broadcast(plan, [&](std::int64_t i, std::int64_t ia, std::int64_t ib, std::int64_t) {
      T da, db;
      binary_partials<T>(op, as[ia], bs[ib], da, db);
      if (gas) gas[i] = gys[i] * da;
      if (gbs) gbs[i] = gys[i] * db;
    });
  });
}

void where_forward(const BroadcastPlan& plan, DType dt, const void* cond, const void* a, const void* b, void* out) {
  dispatch_float(dt, "where_forward", [&](auto tag) {
    using T = decltype(tag);
    const T* cs = static_cast<const T*>(cond);
    const T* as = static_cast<const T*>(a);
    const T* bs = static_cast<const T*>(b);
    T* os = static_cast<T*>(out);
    for_each_broadcast(plan, [&](std::int64_t i, std::int64_t ic, std::int64_t ia, std::int64_t ib) {
      os[i] = cs[ic] != T(0) ? as[ia] : bs[ib];
    });
  });
}

void where_backward(const BroadcastPlan& plan, DType dt, const void* cond, const void* gy, void* ga_full,
                    void* gb_full) {
  dispatch_float(dt, "where_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* cs = static_cast<const T*>(cond);
    const T* gys = static_cast<const T*>(gy);
    T* gas = static_cast<T*>(ga_full);
    T* gbs = static_cast<T*>(gb_full);
    for_each_broadcast(plan, [&](std::int64_t i, std::int64_t ic, std::int64_t, std::int64_t) {
      const bool take_a = cs[ic] != T(0);
      if (gas) gas[i] = take_a ? gys[i] : T(0);
      if (gbs) gbs[i] = take_a ? T(0) : gys[i];
    });
  });
}

}  // namespace fg::kernels::cpu
