// tests/test_cuda_kernels.cpp: raw CUDA kernels (fg::kernels::cuda) against the CPU
// reference kernels (fg::kernels::cpu, float64), with guard regions around every output:
// each output buffer is allocated with sentinel elements before and after the payload,
// and a kernel that writes one element too many (or too few: the payload starts as
// sentinels too) fails. Payloads start at 4 elements (16-byte aligned: float4 paths)
// or 5 elements (unaligned: scalar paths) into their buffer.
// The statistics kernels (kernels/gram.h, kernels/spd.h) are checked the same way.
// Also: the fused Adam/AdamW and clipping kernels (kernels/optim.h), Philox/dropout
// bitwise equality, and deterministic scatter-add (bitwise repeatable, equal to the CPU).
// In a CPU-only build, or without a device, every case prints "SKIPPED: no CUDA device".
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/cuda/cuda_api.h"
#include "engine/ops.h"
#include "kernels/elementwise.h"
#include "kernels/fill.h"
#include "kernels/gram.h"
#include "kernels/linalg.h"
#include "kernels/loss.h"
#include "kernels/nn.h"
#include "kernels/optim.h"
#include "kernels/random.h"
#include "kernels/reduce.h"
#include "kernels/shape.h"
#include "kernels/spd.h"
#include "test_cuda_common.h"

using namespace fg;
using namespace fg::cuda_test;

#ifdef FUSEGRAD_WITH_CUDA

namespace {

namespace kc = fg::kernels::cuda;
namespace kr = fg::kernels::cpu;

const std::vector<std::int64_t> kSizes = {1, 7, 33, 1025};
constexpr std::uint32_t kSentinel32 = 0x7fc5a5a5u;  // a quiet NaN with a payload no kernel writes
constexpr std::uint64_t kSentinel64 = 0x7ff5a5a5a5a5a5a5ull;

constexpr Tol kMath{INFINITY, 1e-6, 1e-5, "float32 formula of a few ops, each within 2 ulp"};
constexpr Tol kSums{INFINITY, 1e-5, 1e-4, "float32 row sums / FMA accumulation over at most ~1000 terms"};

// A CUDA buffer of n elements of T (float or std::int64_t) between two guard regions of
// `guard` sentinel elements. The payload starts as sentinels too, so an element the
// kernel forgot to write also shows up (as NaN, or as a wrong int64).
template <class T>
class Guarded {
 public:
  Guarded(std::int64_t n, std::int64_t guard) : n_(n), guard_(guard) {
    std::vector<T> host(static_cast<std::size_t>(n + 2 * guard));
    for (T& v : host) std::memcpy(&v, sizeof(T) == 4 ? static_cast<const void*>(&kSentinel32) : &kSentinel64, sizeof(T));
    storage_ = from_vector(host, {n + 2 * guard}, TensorOptions{dtype(), Device::cuda(), false});
  }
  // Starts the payload with the given values (inputs that kernels also update, as Adam's).
  Guarded(const std::vector<T>& payload, std::int64_t guard) : Guarded(static_cast<std::int64_t>(payload.size()), guard) {
    std::vector<T> host = all();
    std::copy(payload.begin(), payload.end(), host.begin() + guard_);
    storage_ = from_vector(host, {n_ + 2 * guard_}, TensorOptions{dtype(), Device::cuda(), false});
  }

  T* ptr() const { return static_cast<T*>(storage_.data_ptr()) + guard_; }
  std::vector<T> payload() const {
    const std::vector<T> a = all();
    return std::vector<T>(a.begin() + guard_, a.begin() + guard_ + n_);
  }
  std::vector<double> payload_f64() const {
    const std::vector<T> p = payload();
    return std::vector<double>(p.begin(), p.end());
  }
  // True when no element outside the payload changed.
  bool guards_intact() const {
    const std::vector<T> a = all();
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(a.size()); ++i) {
      if (i >= guard_ && i < guard_ + n_) continue;
      if (std::memcmp(&a[static_cast<std::size_t>(i)],
                      sizeof(T) == 4 ? static_cast<const void*>(&kSentinel32) : &kSentinel64, sizeof(T)) != 0)
        return false;
    }
    return true;
  }

 private:
  static DType dtype() { return sizeof(T) == 4 ? DType::f32 : DType::i64; }
  std::vector<T> all() const { return storage_.to_vector<T>(); }
  std::int64_t n_, guard_;
  Tensor storage_;
};

// Random float32 values and their exact float64 widening (the reference's input).
struct Data {
  std::vector<float> f32;
  std::vector<double> f64;
  Tensor cuda;  // the float32 values on the device
  const float* dev() const { return static_cast<const float*>(cuda.data_ptr()); }
};

Data device_data(std::int64_t n, std::uint64_t seed, double lo = -2.0, double hi = 2.0) {
  Data d;
  const Tensor t = f32_input({n}, seed, lo, hi);
  d.f32 = t.to_vector<float>();
  d.f64 = std::vector<double>(d.f32.begin(), d.f32.end());
  d.cuda = t.to(Device::cuda());
  return d;
}

Tensor device_indices(const std::vector<std::int64_t>& v) {
  return from_vector(v, {static_cast<std::int64_t>(v.size())}, TensorOptions{DType::i64, Device::cuda(), false});
}

#define CHECK_GUARDS(buf, what)        \
  do {                                 \
    INFO((what));                      \
    CHECK((buf).guards_intact());      \
  } while (0)

}  // namespace

TEST_CASE("cuda kernels: unary forward and backward, aligned and unaligned, with guards") {
  FG_SKIP_WITHOUT_CUDA();
  const std::vector<UnaryOp> ops = {UnaryOp::Exp, UnaryOp::Tanh, UnaryOp::GeluErf, UnaryOp::Softplus, UnaryOp::Clamp,
                                    UnaryOp::Relu};
  const UnaryParams p{1.5, 2.0};  // softplus beta/threshold; clamp [1.5, 2] clips most values
  for (UnaryOp op : ops)
    for (std::int64_t n : kSizes)
      for (std::int64_t guard : {4, 5}) {
        const std::string what = "UnaryOp " + std::to_string(static_cast<int>(op)) + ", n " + std::to_string(n) +
                                 ", guard " + std::to_string(guard);
        const Data x = device_data(n, 11 + n), gy = device_data(n, 12 + n);
        std::vector<double> y_ref(n), gx_ref(n);
        kr::unary_forward(op, p, DType::f64, n, x.f64.data(), y_ref.data());
        kr::unary_backward(op, p, DType::f64, n, x.f64.data(), y_ref.data(), gy.f64.data(), gx_ref.data());
        Guarded<float> y(n, guard), gx(n, guard);
        Guarded<float> xin(x.f32, guard);  // the input at the same alignment
        kc::unary_forward(op, p, DType::f32, n, xin.ptr(), y.ptr());
        Guarded<float> gyin(gy.f32, guard);
        kc::unary_backward(op, p, DType::f32, n, xin.ptr(), y.ptr(), gyin.ptr(), gx.ptr());
        FG_CHECK_MATCH(y.payload_f64(), y_ref, kMath, what + " forward");
        FG_CHECK_MATCH(gx.payload_f64(), gx_ref, kMath, what + " backward");
        CHECK_GUARDS(y, what);
        CHECK_GUARDS(gx, what);
      }
}

TEST_CASE("cuda kernels: broadcast binary and where, with guards") {
  FG_SKIP_WITHOUT_CUDA();
  for (std::int64_t s : kSizes) {
    // out [3, s] = a [3, s] (op) b [s]; the partials are full-size ([3, s])
    BroadcastPlan plan;
    plan.ndim = 2;
    plan.ninputs = 2;
    plan.numel = 3 * s;
    plan.shape[0] = 3;
    plan.shape[1] = s;
    plan.stride[0][0] = s;
    plan.stride[0][1] = 1;
    plan.stride[1][0] = 0;
    plan.stride[1][1] = 1;
    const Data a = device_data(3 * s, 21), b = device_data(s, 22, 0.5, 2.0), gy = device_data(3 * s, 23);
    for (BinaryOp op : {BinaryOp::Add, BinaryOp::Div, BinaryOp::Maximum, BinaryOp::Pow, BinaryOp::Ge}) {
      const std::string what = "BinaryOp " + std::to_string(static_cast<int>(op)) + ", s " + std::to_string(s);
      std::vector<double> pa = a.f64;
      if (op == BinaryOp::Pow)
        for (double& v : pa) v = std::abs(v) + 0.1;
      std::vector<float> pa32(pa.begin(), pa.end());
      const Tensor a_dev = from_vector(pa32, {3 * s}, f32_opts(Device::cuda()));
      std::vector<double> out_ref(3 * s), ga_ref(3 * s), gb_ref(3 * s);
      kr::binary_forward(op, plan, DType::f64, pa.data(), b.f64.data(), out_ref.data());
      kr::binary_backward(op, plan, DType::f64, pa.data(), b.f64.data(), gy.f64.data(), ga_ref.data(), gb_ref.data());
      Guarded<float> out(3 * s, 5), ga(3 * s, 4), gb(3 * s, 5);
      kc::binary_forward(op, plan, DType::f32, a_dev.data_ptr(), b.dev(), out.ptr());
      kc::binary_backward(op, plan, DType::f32, a_dev.data_ptr(), b.dev(), gy.dev(), ga.ptr(), gb.ptr());
      FG_CHECK_MATCH(out.payload_f64(), out_ref, kMath, what + " forward");
      FG_CHECK_MATCH(ga.payload_f64(), ga_ref, kMath, what + " d/da");
      FG_CHECK_MATCH(gb.payload_f64(), gb_ref, kMath, what + " d/db");
      CHECK_GUARDS(out, what);
      CHECK_GUARDS(ga, what);
      CHECK_GUARDS(gb, what);
      // only one partial wanted: the other pointer is null and nothing else is written
      Guarded<float> ga_only(3 * s, 5);
      kc::binary_backward(op, plan, DType::f32, a_dev.data_ptr(), b.dev(), gy.dev(), ga_only.ptr(), nullptr);
      FG_CHECK_MATCH(ga_only.payload_f64(), ga_ref, kMath, what + " d/da alone");
      CHECK_GUARDS(ga_only, what);
    }
    // where: cond [3, 1], a [3, s], b [s]
    BroadcastPlan wp = plan;
    wp.ninputs = 3;
    wp.stride[0][0] = 1;
    wp.stride[0][1] = 0;
    wp.stride[1][0] = s;
    wp.stride[1][1] = 1;
    wp.stride[2][0] = 0;
    wp.stride[2][1] = 1;
    const std::vector<float> cond32 = {1.0f, 0.0f, 1.0f};
    const std::vector<double> cond64 = {1.0, 0.0, 1.0};
    const Tensor cond_dev = from_vector(cond32, {3}, f32_opts(Device::cuda()));
    std::vector<double> w_ref(3 * s), wa_ref(3 * s), wb_ref(3 * s);
    kr::where_forward(wp, DType::f64, cond64.data(), a.f64.data(), b.f64.data(), w_ref.data());
    kr::where_backward(wp, DType::f64, cond64.data(), gy.f64.data(), wa_ref.data(), wb_ref.data());
    Guarded<float> w(3 * s, 5), wa(3 * s, 5), wb(3 * s, 4);
    kc::where_forward(wp, DType::f32, cond_dev.data_ptr(), a.dev(), b.dev(), w.ptr());
    kc::where_backward(wp, DType::f32, cond_dev.data_ptr(), gy.dev(), wa.ptr(), wb.ptr());
    FG_CHECK_MATCH(w.payload_f64(), w_ref, kExact, "where forward");
    FG_CHECK_MATCH(wa.payload_f64(), wa_ref, kExact, "where d/da");
    FG_CHECK_MATCH(wb.payload_f64(), wb_ref, kExact, "where d/db");
    CHECK_GUARDS(w, "where");
    CHECK_GUARDS(wa, "where");
    CHECK_GUARDS(wb, "where");
  }
}

TEST_CASE("cuda kernels: reductions write exactly outer * inner values and indices") {
  FG_SKIP_WITHOUT_CUDA();
  for (std::int64_t s : kSizes)
    for (const AxisView v : {AxisView{1, s, 1}, AxisView{3, s, 1}, AxisView{2, s, 3}, AxisView{1, s, 5}})
      for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max, ReduceOp::Min, ReduceOp::LogSumExp,
                          ReduceOp::Var}) {
        const std::string what = "ReduceOp " + std::to_string(static_cast<int>(op)) + " on [" +
                                 std::to_string(v.outer) + ", " + std::to_string(v.n) + ", " +
                                 std::to_string(v.inner) + "]";
        const std::int64_t total = v.outer * v.n * v.inner, rows = v.outer * v.inner;
        const Data x = device_data(total, 31 + s);
        const bool has_idx = op == ReduceOp::Max || op == ReduceOp::Min;
        std::vector<double> out_ref(rows);
        std::vector<std::int64_t> idx_ref(rows);
        kr::reduce_forward(op, DType::f64, v, 0, x.f64.data(), out_ref.data(), has_idx ? idx_ref.data() : nullptr);
        Guarded<float> out(rows, 5);
        Guarded<std::int64_t> idx(rows, 3);
        kc::reduce_forward(op, DType::f32, v, 0, x.dev(), out.ptr(), has_idx ? idx.ptr() : nullptr);
        FG_CHECK_MATCH(out.payload_f64(), out_ref, kMath, what);
        CHECK_GUARDS(out, what);
        if (has_idx) {
          CHECK(idx.payload() == idx_ref);
          CHECK_GUARDS(idx, what);
        }
        // backward: gx is [outer, n, inner]
        const Data gout = device_data(rows, 32 + s);
        std::vector<double> gx_ref(total);
        kr::reduce_backward(op, DType::f64, v, 0, x.f64.data(), out_ref.data(), idx_ref.data(), gout.f64.data(),
                            gx_ref.data());
        Guarded<float> gx(total, 4);
        kc::reduce_backward(op, DType::f32, v, 0, x.dev(), out.ptr(), has_idx ? idx.ptr() : nullptr, gout.dev(),
                            gx.ptr());
        FG_CHECK_MATCH(gx.payload_f64(), gx_ref, kMath, what + " backward");
        CHECK_GUARDS(gx, what + " backward");
      }
}

TEST_CASE("cuda kernels: softmax and layer norm, with guards") {
  FG_SKIP_WITHOUT_CUDA();
  for (std::int64_t s : kSizes) {
    for (const AxisView v : {AxisView{3, s, 1}, AxisView{2, s, 3}})
      for (bool log : {false, true}) {
        const std::int64_t total = v.outer * v.n * v.inner;
        const std::string what = std::string(log ? "log_softmax" : "softmax") + " n " + std::to_string(s) +
                                 " inner " + std::to_string(v.inner);
        const Data x = device_data(total, 41), gy = device_data(total, 42);
        std::vector<double> y_ref(total), gx_ref(total);
        kr::softmax_forward(DType::f64, v, log, x.f64.data(), y_ref.data());
        kr::softmax_backward(DType::f64, v, log, y_ref.data(), gy.f64.data(), gx_ref.data());
        Guarded<float> y(total, 5), gx(total, 4);
        kc::softmax_forward(DType::f32, v, log, x.dev(), y.ptr());
        kc::softmax_backward(DType::f32, v, log, y.ptr(), gy.dev(), gx.ptr());
        FG_CHECK_MATCH(y.payload_f64(), y_ref, kMath, what);
        FG_CHECK_MATCH(gx.payload_f64(), gx_ref, kSums, what + " backward");
        CHECK_GUARDS(y, what);
        CHECK_GUARDS(gx, what);
      }
    const std::int64_t rows = 3, n = s;
    const Data x = device_data(rows * n, 43), gamma = device_data(n, 44, 0.5, 1.5), beta = device_data(n, 45),
               gy = device_data(rows * n, 46);
    std::vector<double> y_ref(rows * n), mean_ref(rows), rstd_ref(rows), gx_ref(rows * n), gg_ref(n), gb_ref(n);
    kr::layer_norm_forward(DType::f64, rows, n, 1e-5, x.f64.data(), gamma.f64.data(), beta.f64.data(), y_ref.data(),
                           mean_ref.data(), rstd_ref.data());
    kr::layer_norm_backward(DType::f64, rows, n, x.f64.data(), gamma.f64.data(), mean_ref.data(), rstd_ref.data(),
                            gy.f64.data(), gx_ref.data(), gg_ref.data(), gb_ref.data());
    Guarded<float> y(rows * n, 5), mean(rows, 4), rstd(rows, 5), gx(rows * n, 5), gg(n, 4), gb(n, 5);
    kc::layer_norm_forward(DType::f32, rows, n, 1e-5, x.dev(), gamma.dev(), beta.dev(), y.ptr(), mean.ptr(),
                           rstd.ptr());
    kc::layer_norm_backward(DType::f32, rows, n, x.dev(), gamma.dev(), mean.ptr(), rstd.ptr(), gy.dev(), gx.ptr(),
                            gg.ptr(), gb.ptr());
    const std::string what = "layer_norm n " + std::to_string(n);
    FG_CHECK_MATCH(y.payload_f64(), y_ref, kSums, what);
    FG_CHECK_MATCH(mean.payload_f64(), mean_ref, kSums, what + " mean");
    FG_CHECK_MATCH(rstd.payload_f64(), rstd_ref, kSums, what + " rstd");
    FG_CHECK_MATCH(gx.payload_f64(), gx_ref, kSums, what + " gx");
    FG_CHECK_MATCH(gg.payload_f64(), gg_ref, kSums, what + " ggamma");
    FG_CHECK_MATCH(gb.payload_f64(), gb_ref, kSums, what + " gbeta");
    for (const Guarded<float>* b : {&y, &mean, &rstd, &gx, &gg, &gb}) CHECK_GUARDS(*b, what);
    // only the input gradient: ggamma/gbeta pointers null
    Guarded<float> gx_only(rows * n, 4);
    kc::layer_norm_backward(DType::f32, rows, n, x.dev(), gamma.dev(), mean.ptr(), rstd.ptr(), gy.dev(),
                            gx_only.ptr(), nullptr, nullptr);
    FG_CHECK_MATCH(gx_only.payload_f64(), gx_ref, kSums, what + " gx alone");
    CHECK_GUARDS(gx_only, what);
  }
}

TEST_CASE("cuda kernels: gemm respects leading dimensions, strides and beta, with guards") {
  FG_SKIP_WITHOUT_CUDA();
  for (std::int64_t s : kSizes)
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        const std::int64_t batch = 2, m = s, n = 5, k = 7;
        const std::string what = "gemm m " + std::to_string(m) + (ta ? " A^T" : "") + (tb ? " B^T" : "");
        const Data a = device_data(batch * m * k, 51), b = device_data(k * n, 52), c0 = device_data(batch * m * n, 53);
        std::vector<double> c_ref = c0.f64;
        // B shared across the batch (stride 0), beta = 0.5 reads C
        kr::gemm(DType::f64, ta, tb, batch, m, n, k, 1.25, a.f64.data(), m * k, b.f64.data(), 0, 0.5, c_ref.data(),
                 m * n);
        Guarded<float> c(c0.f32, 5);
        kc::gemm(DType::f32, ta, tb, batch, m, n, k, 1.25, a.dev(), m * k, b.dev(), 0, 0.5, c.ptr(), m * n);
        FG_CHECK_MATCH(c.payload_f64(), c_ref, kSums, what);
        CHECK_GUARDS(c, what);
      }
}

TEST_CASE("cuda kernels: fill, arange, cast, permute and axis copy, float32 and int64, with guards") {
  FG_SKIP_WITHOUT_CUDA();
  for (std::int64_t s : kSizes) {
    Guarded<float> f(s, 5);
    kc::fill_value(DType::f32, s, -2.5, f.ptr());
    CHECK(f.payload() == std::vector<float>(s, -2.5f));
    CHECK_GUARDS(f, "fill_value f32");
    Guarded<std::int64_t> fi(s, 3), ai(s, 4);
    kc::fill_value(DType::i64, s, 123456789012.0, fi.ptr());
    CHECK(fi.payload() == std::vector<std::int64_t>(s, 123456789012));
    kc::fill_arange(DType::i64, s, ai.ptr());
    std::vector<std::int64_t> ar(s);
    for (std::int64_t i = 0; i < s; ++i) ar[i] = i;
    CHECK(ai.payload() == ar);
    CHECK_GUARDS(fi, "fill_value i64");
    CHECK_GUARDS(ai, "fill_arange i64");
    Guarded<float> back(s, 4);
    kc::cast(DType::i64, ai.ptr(), DType::f32, back.ptr(), s);
    CHECK(back.payload_f64() == std::vector<double>(ar.begin(), ar.end()));
    CHECK_GUARDS(back, "cast i64 -> f32");
    // permute [2, s, 3] -> [3, 2, s]
    kernels::PermutePlan plan;
    plan.ndim = 3;
    plan.numel = 6 * s;
    plan.out_shape[0] = 3;
    plan.out_shape[1] = 2;
    plan.out_shape[2] = s;
    plan.in_stride[0] = 1;
    plan.in_stride[1] = s * 3;
    plan.in_stride[2] = 3;
    const Data x = device_data(6 * s, 61);
    std::vector<double> y_ref(6 * s);
    kr::permute_copy(DType::f64, plan, x.f64.data(), y_ref.data());
    Guarded<float> y(6 * s, 5);
    kc::permute_copy(DType::f32, plan, x.dev(), y.ptr());
    FG_CHECK_MATCH(y.payload_f64(), y_ref, kExact, "permute");
    CHECK_GUARDS(y, "permute");
    // axis copy: rows [1, 1 + s) of a [3, s + 2, 2] source into rows [2, 2 + s) of a [3, s + 4, 2] destination
    const Data src = device_data(3 * (s + 2) * 2, 62);
    std::vector<double> dst_ref(3 * (s + 4) * 2, 0.0);
    kr::axis_copy(DType::f64, 3, 2, src.f64.data(), s + 2, 1, dst_ref.data(), s + 4, 2, s);
    Guarded<float> dst(std::vector<float>(3 * (s + 4) * 2, 0.0f), 5);
    kc::axis_copy(DType::f32, 3, 2, src.dev(), s + 2, 1, dst.ptr(), s + 4, 2, s);
    FG_CHECK_MATCH(dst.payload_f64(), dst_ref, kExact, "axis_copy");
    CHECK_GUARDS(dst, "axis_copy");
  }
}

TEST_CASE("cuda kernels: gather, index_select and losses, with guards") {
  FG_SKIP_WITHOUT_CUDA();
  for (std::int64_t s : kSizes) {
    const AxisView v{3, s, 2};
    const Data x = device_data(3 * s * 2, 71);
    std::vector<std::int64_t> idx(3 * 4 * 2);
    for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<std::int64_t>((i * 7) % s);
    const Tensor idx_dev = device_indices(idx);
    std::vector<double> y_ref(idx.size());
    std::int64_t bad_cpu = -1;
    kr::gather_forward(DType::f64, v, x.f64.data(), idx.data(), 4, y_ref.data(), &bad_cpu);
    Guarded<float> y(static_cast<std::int64_t>(idx.size()), 5);
    Guarded<std::int64_t> bad(std::vector<std::int64_t>{-1}, 3);
    kc::gather_forward(DType::f32, v, x.dev(), static_cast<const std::int64_t*>(idx_dev.data_ptr()), 4, y.ptr(),
                       bad.ptr());
    FG_CHECK_MATCH(y.payload_f64(), y_ref, kExact, "gather");
    CHECK(bad.payload() == std::vector<std::int64_t>{-1});
    CHECK_GUARDS(y, "gather");
    CHECK_GUARDS(bad, "gather flag");
    const std::vector<std::int64_t> rows = {s - 1, 0, s / 2};
    const Tensor rows_dev = device_indices(rows);
    std::vector<double> sel_ref(3 * 3 * 2);
    kr::index_select_forward(DType::f64, v, x.f64.data(), rows.data(), 3, sel_ref.data(), &bad_cpu);
    Guarded<float> sel(18, 4);
    kc::index_select_forward(DType::f32, v, x.dev(), static_cast<const std::int64_t*>(rows_dev.data_ptr()), 3,
                             sel.ptr(), bad.ptr());
    FG_CHECK_MATCH(sel.payload_f64(), sel_ref, kExact, "index_select");
    CHECK_GUARDS(sel, "index_select");
    // cross entropy over [s, 4] logits
    const Data logits = device_data(s * 4, 72, -4, 4), gout = device_data(1, 73);
    std::vector<std::int64_t> t(s);
    for (std::int64_t r = 0; r < s; ++r) t[r] = (r * 3) % 4;
    const Tensor t_dev = device_indices(t);
    std::vector<double> out_ref(1), lse_ref(s), gl_ref(s * 4);
    kr::cross_entropy_forward(DType::f64, s, 4, 0.5, logits.f64.data(), t.data(), out_ref.data(), lse_ref.data(),
                              &bad_cpu);
    kr::cross_entropy_backward(DType::f64, s, 4, 0.5, logits.f64.data(), t.data(), lse_ref.data(), gout.f64.data(),
                               gl_ref.data());
    Guarded<float> out(1, 4), lse(s, 5), gl(s * 4, 5);
    const auto* tp = static_cast<const std::int64_t*>(t_dev.data_ptr());
    kc::cross_entropy_forward(DType::f32, s, 4, 0.5, logits.dev(), tp, out.ptr(), lse.ptr(), bad.ptr());
    kc::cross_entropy_backward(DType::f32, s, 4, 0.5, logits.dev(), tp, lse.ptr(), gout.dev(), gl.ptr());
    FG_CHECK_MATCH(out.payload_f64(), out_ref, kSums, "cross_entropy");
    FG_CHECK_MATCH(lse.payload_f64(), lse_ref, kMath, "cross_entropy lse");
    FG_CHECK_MATCH(gl.payload_f64(), gl_ref, kMath, "cross_entropy backward");
    for (const Guarded<float>* b : {&out, &lse, &gl}) CHECK_GUARDS(*b, "cross_entropy");
    CHECK(bad.payload() == std::vector<std::int64_t>{-1});
    // regression and bce: forward writes one value, backward reads gout on the device
    const Data p = device_data(s, 74), q = device_data(s, 75, 0, 1);
    for (RegressionLoss kind : {RegressionLoss::L1, RegressionLoss::MSE}) {
      std::vector<double> o_ref(1), gp_ref(s), gt_ref(s);
      kr::regression_loss_forward(kind, DType::f64, s, 0.25, p.f64.data(), q.f64.data(), o_ref.data());
      kr::regression_loss_backward(kind, DType::f64, s, 0.25, p.f64.data(), q.f64.data(), gout.f64.data(),
                                   gp_ref.data(), gt_ref.data());
      Guarded<float> o(1, 5), gp(s, 4), gt(s, 5);
      kc::regression_loss_forward(kind, DType::f32, s, 0.25, p.dev(), q.dev(), o.ptr());
      kc::regression_loss_backward(kind, DType::f32, s, 0.25, p.dev(), q.dev(), gout.dev(), gp.ptr(), gt.ptr());
      FG_CHECK_MATCH(o.payload_f64(), o_ref, kSums, "regression loss");
      FG_CHECK_MATCH(gp.payload_f64(), gp_ref, kMath, "regression loss d/dpred");
      FG_CHECK_MATCH(gt.payload_f64(), gt_ref, kMath, "regression loss d/dtarget");
      for (const Guarded<float>* b : {&o, &gp, &gt}) CHECK_GUARDS(*b, "regression loss");
    }
    std::vector<double> b_ref(1), gb_ref(s), gbt_ref(s);
    kr::bce_logits_forward(DType::f64, s, 1.0, p.f64.data(), q.f64.data(), b_ref.data());
    kr::bce_logits_backward(DType::f64, s, 1.0, p.f64.data(), q.f64.data(), gout.f64.data(), gb_ref.data(),
                            gbt_ref.data());
    Guarded<float> bo(1, 4), gbx(s, 5), gbt(s, 4);
    kc::bce_logits_forward(DType::f32, s, 1.0, p.dev(), q.dev(), bo.ptr());
    kc::bce_logits_backward(DType::f32, s, 1.0, p.dev(), q.dev(), gout.dev(), gbx.ptr(), gbt.ptr());
    FG_CHECK_MATCH(bo.payload_f64(), b_ref, kSums, "bce");
    FG_CHECK_MATCH(gbx.payload_f64(), gb_ref, kMath, "bce d/dlogits");
    FG_CHECK_MATCH(gbt.payload_f64(), gbt_ref, kMath, "bce d/dtarget");
    for (const Guarded<float>* b : {&bo, &gbx, &gbt}) CHECK_GUARDS(*b, "bce");
  }
}

TEST_CASE("cuda kernels: rbf_gram and the Cholesky log-determinant, with guards") {
  FG_SKIP_WITHOUT_CUDA();
  // __expf is within ~2 + 1.2 |argument| ulp (arguments here <= ~10): relative 1e-4 with margin
  const Tol gram_tol{INFINITY, 1e-6, 1e-4, "float32 distance sums and __expf per entry"};
  // the backward subtracts two GEMM results (rowsum(C) x - C y): cancellation, normalized MSE only
  const Tol gram_grad_tol{1e-8, 0.0, 0.0, "float32 GEMMs and row sums with cancellation"};
  // float32-stored factor, double sums, matrices with eigenvalues in [1, 1.7]
  const Tol chol_tol{1e-9, 0.0, 0.0, "float32-stored Cholesky factor, double sums, condition ~2"};
  kernels::GammaList gammas;
  gammas.count = 2;
  gammas.value[0] = 0.1;
  gammas.value[1] = 0.5;
  for (std::int64_t s : kSizes) {
    for (const auto& [n, m] : std::vector<std::pair<std::int64_t, std::int64_t>>{{s, 7}, {5, s}}) {
      const std::int64_t d = 5;
      const std::string what = "rbf_gram n " + std::to_string(n) + ", m " + std::to_string(m);
      const Data x = device_data(n * d, 161 + s, -1, 1), y = device_data(m * d, 162 + s, -1, 1),
                 gk = device_data(n * m, 163 + s);
      std::vector<double> k_ref(n * m), gx_ref(n * d), gy_ref(m * d);
      kr::rbf_gram_forward(DType::f64, n, m, d, x.f64.data(), y.f64.data(), gammas, k_ref.data());
      kr::rbf_gram_backward(DType::f64, n, m, d, x.f64.data(), y.f64.data(), gammas, gk.f64.data(), gx_ref.data(),
                            gy_ref.data());
      Guarded<float> k(n * m, 5), gx(n * d, 4), gy(m * d, 5);
      kc::rbf_gram_forward(DType::f32, n, m, d, x.dev(), y.dev(), gammas, k.ptr());
      kc::rbf_gram_backward(DType::f32, n, m, d, x.dev(), y.dev(), gammas, gk.dev(), gx.ptr(), gy.ptr());
      FG_CHECK_MATCH(k.payload_f64(), k_ref, gram_tol, what);
      FG_CHECK_MATCH(gx.payload_f64(), gx_ref, gram_grad_tol, what + " gx");
      FG_CHECK_MATCH(gy.payload_f64(), gy_ref, gram_grad_tol, what + " gy");
      for (const Guarded<float>* b : {&k, &gx, &gy}) CHECK_GUARDS(*b, what);
      // one gradient wanted: the other pointer is null, nothing else is written
      Guarded<float> gx_only(n * d, 5);
      kc::rbf_gram_backward(DType::f32, n, m, d, x.dev(), y.dev(), gammas, gk.dev(), gx_only.ptr(), nullptr);
      FG_CHECK_MATCH(gx_only.payload_f64(), gx_ref, gram_grad_tol, what + " gx alone");
      CHECK_GUARDS(gx_only, what + " gx alone");
    }
    // Cholesky log-det of 3 SPD matrices k x k, k = s (but 100 for the largest size: one
    // block per matrix does O(k^3) work)
    const std::int64_t kk = s > 100 ? 100 : s, batch = 3;
    const std::string what = "cholesky_logdet k " + std::to_string(kk);
    const Data b = device_data(batch * kk * kk, 171 + s, -1, 1);
    std::vector<float> a32(batch * kk * kk);
    for (std::int64_t t = 0; t < batch; ++t)
      for (std::int64_t i = 0; i < kk; ++i)
        for (std::int64_t j = 0; j <= i; ++j) {
          double acc = i == j ? 1.0 : 0.0;
          for (std::int64_t p = 0; p < kk; ++p)
            acc += b.f64[(t * kk + i) * kk + p] * b.f64[(t * kk + j) * kk + p] / (2.0 * kk);
          a32[(t * kk + i) * kk + j] = a32[(t * kk + j) * kk + i] = static_cast<float>(acc);
        }
    const std::vector<double> a64(a32.begin(), a32.end());
    const Tensor a_dev = from_vector(a32, {batch * kk * kk}, f32_opts(Device::cuda()));
    std::vector<double> l_ref(batch * kk * kk), logdet_ref(batch), ga_ref(batch * kk * kk);
    std::vector<std::int64_t> info_ref(batch);
    const Data glogdet = device_data(batch, 172 + s);
    kr::cholesky_logdet_forward(DType::f64, batch, kk, 0.0, a64.data(), l_ref.data(), logdet_ref.data(),
                                info_ref.data());
    kr::cholesky_logdet_backward(DType::f64, batch, kk, l_ref.data(), glogdet.f64.data(), ga_ref.data());
    Guarded<float> l(batch * kk * kk, 5), logdet(batch, 4), ga(batch * kk * kk, 4);
    Guarded<std::int64_t> info(batch, 3);
    kc::cholesky_logdet_forward(DType::f32, batch, kk, 0.0, a_dev.data_ptr(), l.ptr(), logdet.ptr(), info.ptr());
    kc::cholesky_logdet_backward(DType::f32, batch, kk, l.ptr(), glogdet.dev(), ga.ptr());
    CHECK(info.payload() == std::vector<std::int64_t>(batch, 0));
    CHECK(info_ref == std::vector<std::int64_t>(batch, 0));
    FG_CHECK_MATCH(logdet.payload_f64(), logdet_ref, chol_tol, what + " logdet");
    FG_CHECK_MATCH(l.payload_f64(), l_ref, chol_tol, what + " factor");
    FG_CHECK_MATCH(ga.payload_f64(), ga_ref, chol_tol, what + " gradient");
    for (const Guarded<float>* g : {&l, &logdet, &ga}) CHECK_GUARDS(*g, what);
    CHECK_GUARDS(info, what);
  }
}

TEST_CASE("cuda kernels: Philox uniforms and dropout masks are bitwise equal to the CPU's") {
  FG_SKIP_WITHOUT_CUDA();
  for (std::int64_t n : {std::int64_t{1}, std::int64_t{7}, std::int64_t{33}, std::int64_t{1025}, std::int64_t{100003}}) {
    const std::uint64_t seed = 0x1234abcd5678ull, offset = 987654321ull;
    std::vector<float> u_cpu(n);
    kr::random_uniform(DType::f32, n, seed, offset, -0.5, 3.0, u_cpu.data());
    Guarded<float> u(n, 5);
    kc::random_uniform(DType::f32, n, seed, offset, -0.5, 3.0, u.ptr());
    CHECK(bits_of(u.payload()) == bits_of(u_cpu));
    CHECK_GUARDS(u, "random_uniform");
    const Data x = device_data(n, 81);
    std::vector<float> y_cpu(n), m_cpu(n);
    kr::dropout_forward(DType::f32, n, 0.2, seed, offset, x.f32.data(), y_cpu.data(), m_cpu.data());
    Guarded<float> y(n, 4), m(n, 5);
    kc::dropout_forward(DType::f32, n, 0.2, seed, offset, x.dev(), y.ptr(), m.ptr());
    CHECK(bits_of(m.payload()) == bits_of(m_cpu));
    CHECK(bits_of(y.payload()) == bits_of(y_cpu));
    CHECK_GUARDS(y, "dropout y");
    CHECK_GUARDS(m, "dropout mask");
    // the mask really drops about p of the elements
    if (n >= 1025) {
      std::int64_t dropped = 0;
      for (float v : m_cpu) dropped += v == 0.0f;
      CHECK(std::abs(static_cast<double>(dropped) / n - 0.2) < 0.05);
    }
    std::vector<float> z_cpu(n);
    kr::random_normal(DType::f32, n, seed, offset, 0.0, 1.0, z_cpu.data());
    Guarded<float> z(n, 4);
    kc::random_normal(DType::f32, n, seed, offset, 0.0, 1.0, z.ptr());
    const auto zg = z.payload();
    for (std::int64_t i = 0; i < n; ++i)  // Box-Muller in double on both: equal to 1 float32 ulp
      CHECK(std::abs(static_cast<double>(zg[i]) - z_cpu[i]) <= std::ldexp(std::abs(z_cpu[i]), -22) + 1e-30);
    CHECK_GUARDS(z, "random_normal");
  }
}

TEST_CASE("cuda kernels: scatter-add and index_add in deterministic mode are bitwise repeatable") {
  FG_SKIP_WITHOUT_CUDA();
  const bool was = fg::cuda::deterministic();
  // 200003 sources into 7 x 3 destinations: thousands of float additions per slot
  const std::int64_t m = 200003, n = 7, inner = 3;
  const AxisView v{1, n, inner};
  const Data src = device_data(m * inner, 91);
  std::vector<std::int64_t> idx(m * inner);
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<std::int64_t>((i * 2654435761u) % n);
  const Tensor idx_dev = device_indices(idx);
  const auto* ip = static_cast<const std::int64_t*>(idx_dev.data_ptr());
  // the CPU float32 kernel adds in source order; deterministic mode does the same
  std::vector<float> ref(n * inner, 0.0f);
  std::int64_t bad_cpu = -1;
  kr::scatter_add_forward(DType::f32, v, src.f32.data(), idx.data(), m, ref.data(), &bad_cpu);
  fg::cuda::set_deterministic(true);
  std::vector<std::vector<std::uint32_t>> runs;
  for (int run = 0; run < 3; ++run) {
    Guarded<float> out(std::vector<float>(n * inner, 0.0f), 5);
    Guarded<std::int64_t> bad(std::vector<std::int64_t>{-1}, 3);
    kc::scatter_add_forward(DType::f32, v, src.dev(), ip, m, out.ptr(), bad.ptr());
    runs.push_back(bits_of(out.payload()));
    CHECK_GUARDS(out, "deterministic scatter_add");
    CHECK(bad.payload() == std::vector<std::int64_t>{-1});
  }
  CHECK(runs[1] == runs[0]);
  CHECK(runs[2] == runs[0]);
  CHECK(runs[0] == bits_of(ref));
  // index_add: idx per position along the axis
  const std::int64_t rows = 50001;
  const AxisView iv{2, n, inner};
  const Data gy = device_data(2 * rows * inner, 92);
  std::vector<std::int64_t> ridx(rows);
  for (std::int64_t j = 0; j < rows; ++j) ridx[j] = (j * 5 + j / 3) % n;
  const Tensor ridx_dev = device_indices(ridx);
  std::vector<float> iref(2 * n * inner, 0.0f);
  kr::index_add(DType::f32, iv, gy.f32.data(), ridx.data(), rows, iref.data());
  std::vector<std::uint32_t> first;
  for (int run = 0; run < 2; ++run) {
    Guarded<float> gx(std::vector<float>(2 * n * inner, 0.0f), 4);
    kc::index_add(DType::f32, iv, gy.dev(), static_cast<const std::int64_t*>(ridx_dev.data_ptr()), rows, gx.ptr());
    if (run == 0) first = bits_of(gx.payload());
    CHECK(bits_of(gx.payload()) == first);
    CHECK(bits_of(gx.payload()) == bits_of(iref));
    CHECK_GUARDS(gx, "deterministic index_add");
  }
  // default (atomic) mode: same sums up to rounding
  fg::cuda::set_deterministic(false);
  Guarded<float> out(std::vector<float>(n * inner, 0.0f), 5);
  kc::scatter_add_forward(DType::f32, v, src.dev(), ip, m, out.ptr(), nullptr);
  std::vector<double> ref64(ref.begin(), ref.end());
  FG_CHECK_MATCH(out.payload_f64(), ref64, (Tol{1e-8, 1e-2, 1e-4, "30000 float32 additions per slot in any order: ~1e-3 absolute"}),
                 "atomic scatter_add");
  // deterministic mode reports bad indices too
  fg::cuda::set_deterministic(true);
  std::vector<std::int64_t> with_bad = {0, 1, 9, 2, -3};
  const Tensor bad_idx = device_indices(with_bad);
  Guarded<std::int64_t> bad(std::vector<std::int64_t>{-1}, 3);
  Guarded<float> o5(std::vector<float>(n, 0.0f), 5);
  kc::scatter_add_forward(DType::f32, AxisView{1, n, 1}, src.dev(), static_cast<const std::int64_t*>(bad_idx.data_ptr()),
                          5, o5.ptr(), bad.ptr());
  CHECK(bad.payload() == std::vector<std::int64_t>{2});
  CHECK_GUARDS(o5, "deterministic scatter_add with a bad index");
  fg::cuda::set_deterministic(was);
}

TEST_CASE("cuda kernels: fused Adam/AdamW step matches the CPU reference") {
  FG_SKIP_WITHOUT_CUDA();
  // three tensors of awkward sizes (one larger than a chunk), two groups of hyper-parameters
  const std::vector<std::int64_t> sizes = {7, 33, 40000};
  for (bool decoupled : {false, true})
    for (bool amsgrad : {false, true}) {
      const std::string what = std::string(decoupled ? "AdamW" : "Adam") + (amsgrad ? " amsgrad" : "");
      std::vector<Data> p, g, m, v, vmax;
      for (std::size_t t = 0; t < sizes.size(); ++t) {
        p.push_back(device_data(sizes[t], 100 + t));
        g.push_back(device_data(sizes[t], 110 + t));
        m.push_back(device_data(sizes[t], 120 + t, -0.1, 0.1));
        v.push_back(device_data(sizes[t], 130 + t, 0.0, 0.01));
        vmax.push_back(device_data(sizes[t], 140 + t, 0.0, 0.01));
      }
      std::vector<std::vector<double>> p64, m64, v64, vm64;
      std::vector<std::unique_ptr<Guarded<float>>> pd, md, vd, vmd;
      std::vector<kernels::AdamParamRef> cpu_refs, gpu_refs;
      for (std::size_t t = 0; t < sizes.size(); ++t) {
        p64.push_back(p[t].f64);
        m64.push_back(m[t].f64);
        v64.push_back(v[t].f64);
        vm64.push_back(vmax[t].f64);
        pd.push_back(std::make_unique<Guarded<float>>(p[t].f32, 5));
        md.push_back(std::make_unique<Guarded<float>>(m[t].f32, 4));
        vd.push_back(std::make_unique<Guarded<float>>(v[t].f32, 5));
        vmd.push_back(std::make_unique<Guarded<float>>(vmax[t].f32, 4));
      }
      for (std::size_t t = 0; t < sizes.size(); ++t) {
        kernels::AdamParamRef r;
        r.numel = sizes[t];
        r.step = t == 2 ? 1 : 5;  // per-tensor step counts
        r.lr = t == 0 ? 1e-2 : 3e-3;
        r.beta1 = 0.9;
        r.beta2 = t == 1 ? 0.99 : 0.999;
        r.eps = 1e-8;
        r.weight_decay = t == 0 ? 0.0 : 0.05;
        kernels::AdamParamRef c = r, d = r;
        c.param = p64[t].data();
        c.grad = g[t].f64.data();
        c.exp_avg = m64[t].data();
        c.exp_avg_sq = v64[t].data();
        c.max_exp_avg_sq = amsgrad ? vm64[t].data() : nullptr;
        d.param = pd[t]->ptr();
        d.grad = g[t].dev();
        d.exp_avg = md[t]->ptr();
        d.exp_avg_sq = vd[t]->ptr();
        d.max_exp_avg_sq = amsgrad ? vmd[t]->ptr() : nullptr;
        cpu_refs.push_back(c);
        gpu_refs.push_back(d);
      }
      kr::adam_step(DType::f64, decoupled, amsgrad, cpu_refs.data(), static_cast<std::int64_t>(cpu_refs.size()));
      kc::adam_step(DType::f32, decoupled, amsgrad, gpu_refs.data(), static_cast<std::int64_t>(gpu_refs.size()));
      // float32 lerp / addcmul / sqrt / division on O(1) values: a few ulp of each state
      const Tol tol{INFINITY, 1e-7, 1e-5, "a handful of float32 ops per element"};
      for (std::size_t t = 0; t < sizes.size(); ++t) {
        const std::string w = what + ", tensor " + std::to_string(t);
        FG_CHECK_MATCH(pd[t]->payload_f64(), p64[t], tol, w + " param");
        FG_CHECK_MATCH(md[t]->payload_f64(), m64[t], tol, w + " exp_avg");
        FG_CHECK_MATCH(vd[t]->payload_f64(), v64[t], tol, w + " exp_avg_sq");
        if (amsgrad) FG_CHECK_MATCH(vmd[t]->payload_f64(), vm64[t], tol, w + " max_exp_avg_sq");
        CHECK_GUARDS(*pd[t], w);
        CHECK_GUARDS(*md[t], w);
        CHECK_GUARDS(*vd[t], w);
        CHECK_GUARDS(*vmd[t], w);
        // the step moved the parameter
        CHECK(pd[t]->payload() != p[t].f32);
      }
    }
}

TEST_CASE("cuda kernels: global gradient norm and clipping match the CPU reference") {
  FG_SKIP_WITHOUT_CUDA();
  const std::vector<std::int64_t> sizes = {1, 33, 70001};
  for (double q : std::vector<double>{2.0, 1.0, INFINITY, 3.0})
    for (double max_norm : {0.5, 1e9}) {
      const std::string what = "norm " + std::to_string(q) + ", max_norm " + std::to_string(max_norm);
      std::vector<Data> g;
      std::vector<std::vector<double>> g64;
      std::vector<std::unique_ptr<Guarded<float>>> gd;
      std::vector<kernels::GradRef> cpu_refs, gpu_refs;
      for (std::size_t t = 0; t < sizes.size(); ++t) {
        g.push_back(device_data(sizes[t], 150 + t, -0.01, 0.01));
        g64.push_back(g.back().f64);
        gd.push_back(std::make_unique<Guarded<float>>(g.back().f32, 5));
      }
      for (std::size_t t = 0; t < sizes.size(); ++t) {
        cpu_refs.push_back(kernels::GradRef{g64[t].data(), sizes[t]});
        gpu_refs.push_back(kernels::GradRef{gd[t]->ptr(), sizes[t]});
      }
      double total_cpu = 0;
      kr::grad_total_norm(DType::f64, cpu_refs.data(), 3, q, &total_cpu);
      kr::clip_grads_by_norm(DType::f64, cpu_refs.data(), 3, max_norm, &total_cpu);
      Guarded<float> total(1, 4);
      kc::grad_total_norm(DType::f32, gpu_refs.data(), 3, q, total.ptr());
      kc::clip_grads_by_norm(DType::f32, gpu_refs.data(), 3, max_norm, total.ptr());
      FG_CHECK_MATCH(total.payload_f64(), std::vector<double>{total_cpu}, kSums, what + " total");
      CHECK_GUARDS(total, what);
      for (std::size_t t = 0; t < sizes.size(); ++t) {
        FG_CHECK_MATCH(gd[t]->payload_f64(), g64[t], kMath, what + " clipped gradient " + std::to_string(t));
        CHECK_GUARDS(*gd[t], what);
      }
    }
  // no gradients at all: the norm is 0
  Guarded<float> total(1, 4);
  kc::grad_total_norm(DType::f32, nullptr, 0, 2.0, total.ptr());
  CHECK(total.payload() == std::vector<float>{0.0f});
}

#else  // a CPU-only build: the same cases, visibly skipped

TEST_CASE("cuda kernels: unary forward and backward, aligned and unaligned, with guards") { FG_SKIP_WITHOUT_CUDA(); }
TEST_CASE("cuda kernels: broadcast binary and where, with guards") { FG_SKIP_WITHOUT_CUDA(); }
TEST_CASE("cuda kernels: reductions write exactly outer * inner values and indices") { FG_SKIP_WITHOUT_CUDA(); }
TEST_CASE("cuda kernels: softmax and layer norm, with guards") { FG_SKIP_WITHOUT_CUDA(); }
TEST_CASE("cuda kernels: gemm respects leading dimensions, strides and beta, with guards") { FG_SKIP_WITHOUT_CUDA(); }
TEST_CASE("cuda kernels: fill, arange, cast, permute and axis copy, float32 and int64, with guards") {
  FG_SKIP_WITHOUT_CUDA();
}
TEST_CASE("cuda kernels: gather, index_select and losses, with guards") { FG_SKIP_WITHOUT_CUDA(); }
TEST_CASE("cuda kernels: rbf_gram and the Cholesky log-determinant, with guards") { FG_SKIP_WITHOUT_CUDA(); }
TEST_CASE("cuda kernels: Philox uniforms and dropout masks are bitwise equal to the CPU's") { FG_SKIP_WITHOUT_CUDA(); }
TEST_CASE("cuda kernels: scatter-add and index_add in deterministic mode are bitwise repeatable") {
  FG_SKIP_WITHOUT_CUDA();
}
TEST_CASE("cuda kernels: fused Adam/AdamW step matches the CPU reference") { FG_SKIP_WITHOUT_CUDA(); }
TEST_CASE("cuda kernels: global gradient norm and clipping match the CPU reference") { FG_SKIP_WITHOUT_CUDA(); }

#endif
