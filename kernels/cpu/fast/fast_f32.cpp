// kernels/cpu/fast/fast_f32.cpp: see fast_f32.h. The instruction-set choice, the shape
// walking (merged dimensions, rows) and the OpenMP split; the arithmetic is in
// fast_f32_impl.inc.
#include "kernels/cpu/fast/fast_f32.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace fg::kernels::fast {

namespace {

// Elements below which a loop runs on the calling thread only (thread start-up costs more).
constexpr std::int64_t kParallelGrain = 1 << 15;

const IsaTable* automatic() {
  const char* off = std::getenv("FG_FAST_DISABLE");
  if (off && std::string(off) == "1") return nullptr;
  const char* forced = std::getenv("FG_FAST_ISA");
  const std::string f = forced ? forced : "";
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("fma");
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (f == "off") return nullptr;
  if (f == "base") return &table_base();
  if (f == "avx2" && avx2) return &table_avx2();
  if (avx512 && (f.empty() || f == "avx512")) return &table_avx512();
  if (avx2) return &table_avx2();
  return &table_base();
}

std::atomic<const IsaTable*> g_table{nullptr};
std::atomic<bool> g_chosen{false};

const IsaTable* table() {
  if (!g_chosen.load(std::memory_order_acquire)) {
    g_table.store(automatic(), std::memory_order_release);
    g_chosen.store(true, std::memory_order_release);
  }
  return g_table.load(std::memory_order_acquire);
}

// body(begin, end) over [0, n) in pieces of whole 64-element blocks, on OpenMP's threads
// when n is large enough; on the calling thread otherwise.
template <class Body>
void parallel_range(std::int64_t n, std::int64_t grain, Body&& body) {
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (threads <= 1 || n < 2 * grain) {
    body(std::int64_t{0}, n);
    return;
  }
  const std::int64_t pieces = std::min<std::int64_t>(threads, n / grain);
  const std::int64_t per = ((n + pieces - 1) / pieces + 63) / 64 * 64;
#pragma omp parallel for num_threads(static_cast<int>(pieces)) schedule(static)
  for (std::int64_t t = 0; t < pieces; ++t) {
    const std::int64_t b = t * per, e = std::min(n, b + per);
    if (b < e) body(b, e);
  }
}

// The rows of a two-input plan: the last (merged) dimension has length len and input
// strides sa, sb in {0, 1}; rows() gives each row's input offsets. False when the layout
// is not of that kind or the rows are too short to be worth it.
struct Rows {
  BroadcastPlan plan;
  std::int64_t len = 0, count = 0;
  int sa = 0, sb = 0;
};

bool make_rows(const BroadcastPlan& in, Rows& r) {
  if (in.numel == 0) return false;
  r.plan = coalesce_broadcast_plan(in, in.ninputs);
  const int last = r.plan.ndim - 1;
  r.len = r.plan.shape[last];
  const std::int64_t s0 = r.plan.stride[0][last], s1 = r.plan.stride[1][last];
  if ((s0 != 0 && s0 != 1) || (s1 != 0 && s1 != 1)) return false;
  if (r.len == 1 && in.numel > 1) return false;
  if (r.len < 16 && in.numel >= 16) return false;  // short rows: the reference's odometer is as good
  r.sa = static_cast<int>(s0);
  r.sb = static_cast<int>(s1);
  r.count = in.numel / r.len;
  return true;
}

// Offsets of inputs 0 and 1 at the start of row `row`.
void row_offsets(const Rows& r, std::int64_t row, std::int64_t& oa, std::int64_t& ob) {
  oa = ob = 0;
  std::int64_t i = row;
  for (int d = r.plan.ndim - 2; d >= 0; --d) {
    const std::int64_t idx = i % r.plan.shape[d];
    i /= r.plan.shape[d];
    oa += idx * r.plan.stride[0][d];
    ob += idx * r.plan.stride[1][d];
  }
}

// body(row, begin, end): the part [begin, end) of row `row`, rows or pieces of one long row
// spread over the threads.
template <class Body>
void for_rows(const Rows& r, Body&& body) {
  if (r.count == 1) {
    parallel_range(r.len, kParallelGrain, [&](std::int64_t b, std::int64_t e) { body(0, b, e); });
    return;
  }
  const std::int64_t rows_per_grain = std::max<std::int64_t>(1, kParallelGrain / r.len);
  parallel_range(r.count, rows_per_grain, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t row = b; row < e; ++row) body(row, 0, r.len);
  });
}

// The fast path of a two-input op, when it applies (an ISA table, an op it has, rows of unit
// or zero stride: make_rows): body(table, n, a_piece, sa, b_piece, sb, out_offset) on each
// contiguous piece of the output, spread over the threads. False, touching nothing, otherwise.
template <class Body>
bool each_binary_piece(BinaryOp op, const BroadcastPlan& plan, const float* a, const float* b, Body&& body) {
  const IsaTable* t = table();
  Rows r;
  if (!t || !binary_supported(op) || !make_rows(plan, r)) return false;
  for_rows(r, [&](std::int64_t row, std::int64_t beg, std::int64_t end) {
    std::int64_t oa, ob;
    row_offsets(r, row, oa, ob);
    body(*t, end - beg, a + oa + beg * r.sa, r.sa, b + ob + beg * r.sb, r.sb, row * r.len + beg);
  });
  return true;
}

}  // namespace

const IsaTable* active_table() { return table(); }

const char* isa_name() {
  const IsaTable* t = table();
  return t ? t->name : "off";
}

bool force_isa(const char* name) {
  const std::string n = name ? name : "";
  const IsaTable* t = nullptr;
  __builtin_cpu_init();
  if (n.empty()) {
    t = automatic();
  } else if (n == "off") {
    t = nullptr;
  } else if (n == "base") {
    t = &table_base();
  } else if (n == "avx2") {
    if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) return false;
    t = &table_avx2();
  } else if (n == "avx512") {
    if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw")))
      return false;
    t = &table_avx512();
  } else {
    return false;
  }
  g_table.store(t, std::memory_order_release);
  g_chosen.store(true, std::memory_order_release);
  return true;
}

bool unary_supported(UnaryOp op) {
  switch (op) {
    case UnaryOp::Neg: case UnaryOp::Exp: case UnaryOp::Log: case UnaryOp::Abs: case UnaryOp::Tanh:
    case UnaryOp::Sigmoid: case UnaryOp::Relu: case UnaryOp::GeluTanh: case UnaryOp::GeluErf:
    case UnaryOp::AddScalar: case UnaryOp::MulScalar: case UnaryOp::Square:
      return true;
    default: return false;
  }
}

bool unary_backward_supported(UnaryOp op) { return op != UnaryOp::Log && unary_supported(op); }

bool binary_supported(BinaryOp op) {
  return op == BinaryOp::Add || op == BinaryOp::Sub || op == BinaryOp::Mul || op == BinaryOp::Div;
}

bool unary_forward(UnaryOp op, UnaryParams p, std::int64_t n, const float* x, float* y) {
  const IsaTable* t = table();
  if (!t || !unary_supported(op)) return false;
  parallel_range(n, kParallelGrain, [&](std::int64_t b, std::int64_t e) { t->unary_fwd(op, p, e - b, x + b, y + b); });
  return true;
}

bool unary_backward(UnaryOp op, UnaryParams p, std::int64_t n, const float* x, const float* y, const float* gy,
                    float* gx) {
  const IsaTable* t = table();
  if (!t || !unary_backward_supported(op)) return false;
  parallel_range(n, kParallelGrain,
                 [&](std::int64_t b, std::int64_t e) { t->unary_bwd(op, p, e - b, x + b, y + b, gy + b, gx + b); });
  return true;
}

bool binary_forward(BinaryOp op, const BroadcastPlan& plan, const float* a, const float* b, float* out) {
  return each_binary_piece(op, plan, a, b,
                           [&](const IsaTable& t, std::int64_t n, const float* pa, int sa, const float* pb, int sb,
                               std::int64_t o) { t.binary_fwd(op, n, pa, sa, pb, sb, out + o); });
}

bool binary_backward(BinaryOp op, const BroadcastPlan& plan, const float* a, const float* b, const float* gy,
                     float* ga_full, float* gb_full) {
  return each_binary_piece(op, plan, a, b,
                           [&](const IsaTable& t, std::int64_t n, const float* pa, int sa, const float* pb, int sb,
                               std::int64_t o) {
                             t.binary_bwd(op, n, pa, sa, pb, sb, gy + o, ga_full ? ga_full + o : nullptr,
                                          gb_full ? gb_full + o : nullptr);
                           });
}

bool reduce_sum(bool mean, AxisView v, const float* x, float* out) {
  const IsaTable* t = table();
  if (!t || v.n == 0) return false;
  if (v.inner == 1) {
    if (v.outer == 1 && v.n >= 4 * kParallelGrain) {
      // one long row: fixed blocks (the same partial sums whatever the thread count), added in order
      const std::int64_t block = kParallelGrain, blocks = (v.n + block - 1) / block;
      std::vector<double> part(static_cast<std::size_t>(blocks));
      parallel_range(blocks, 2, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t k = b; k < e; ++k) part[k] = t->sum(std::min(block, v.n - k * block), x + k * block);
      });
      double total = 0;
      for (double s : part) total += s;
      out[0] = static_cast<float>(mean ? total / static_cast<double>(v.n) : total);
      return true;
    }
    const std::int64_t rows_per_grain = std::max<std::int64_t>(1, kParallelGrain / v.n);
    parallel_range(v.outer, rows_per_grain, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t o = b; o < e; ++o) {
        const double s = t->sum(v.n, x + o * v.n);
        out[o] = static_cast<float>(mean ? s / static_cast<double>(v.n) : s);
      }
    });
    return true;
  }
  // an inner axis: accumulate rows of `inner` elements (contiguous) into doubles, in order of j
  const auto columns = [&](std::int64_t o, std::int64_t ib, std::int64_t ie) {
    std::vector<double> acc(static_cast<std::size_t>(ie - ib), 0.0);
    for (std::int64_t j = 0; j < v.n; ++j) t->accumulate(ie - ib, x + (o * v.n + j) * v.inner + ib, acc.data());
    for (std::int64_t i = ib; i < ie; ++i)
      out[o * v.inner + i] = static_cast<float>(mean ? acc[i - ib] / static_cast<double>(v.n) : acc[i - ib]);
  };
  if (v.outer == 1) {
    const std::int64_t grain = std::max<std::int64_t>(64, kParallelGrain / std::max<std::int64_t>(1, v.n));
    parallel_range(v.inner, grain, [&](std::int64_t b, std::int64_t e) { columns(0, b, e); });
  } else {
    const std::int64_t per = std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(1, v.n * v.inner));
    parallel_range(v.outer, per, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t o = b; o < e; ++o) columns(o, 0, v.inner);
    });
  }
  return true;
}

bool reduce_sum_backward(bool mean, AxisView v, const float* gout, float* gx) {
  if (!table()) return false;
  if (v.inner == 1) {  // each output element fills its own contiguous run of n
    const std::int64_t per = std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(1, v.n));
    parallel_range(v.outer, per, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t o = b; o < e; ++o) {
        const float g = mean ? gout[o] / static_cast<float>(v.n) : gout[o];  // the reference: g / T(n)
        std::fill(gx + o * v.n, gx + (o + 1) * v.n, g);
      }
    });
    return true;
  }
  const std::int64_t rows = v.outer * v.n;
  const std::int64_t rows_per_grain = std::max<std::int64_t>(1, kParallelGrain / std::max<std::int64_t>(1, v.inner));
  parallel_range(rows, rows_per_grain, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t row = b; row < e; ++row) {
      const std::int64_t o = row / v.n;
      const float* g = gout + o * v.inner;
      float* dst = gx + row * v.inner;
      if (mean) {
        const float inv = static_cast<float>(v.n);  // the reference: g / T(n)
        for (std::int64_t i = 0; i < v.inner; ++i) dst[i] = g[i] / inv;
      } else {
        std::memcpy(dst, g, static_cast<std::size_t>(v.inner) * sizeof(float));
      }
    }
  });
  return true;
}

bool permute_copy(const PermutePlan& plan, const float* x, float* y) {
  if (!table() || plan.ndim < 2 || plan.numel == 0) return false;
  const int last = plan.ndim - 1;
  const std::int64_t run = plan.out_shape[last];
  if (plan.in_stride[last] != 1 || run < 8) return false;
  const std::int64_t runs = plan.numel / run;
  const std::int64_t runs_per_grain = std::max<std::int64_t>(1, kParallelGrain / run);
  parallel_range(runs, runs_per_grain, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t r = b; r < e; ++r) {
      std::int64_t off = 0, i = r;  // the input offset of run r: its output index, digit by digit
      for (int d = last - 1; d >= 0; --d) {
        off += (i % plan.out_shape[d]) * plan.in_stride[d];
        i /= plan.out_shape[d];
      }
      std::memcpy(y + r * run, x + off, static_cast<std::size_t>(run) * sizeof(float));
    }
  });
  return true;
}

bool bias_gelu_forward(std::int64_t rows, std::int64_t n, bool tanh_approx, const float* x, const float* bias,
                       float* y) {
  const IsaTable* t = table();
  if (!t || n == 0) return false;
  const UnaryOp op = tanh_approx ? UnaryOp::GeluTanh : UnaryOp::GeluErf;
  const std::int64_t rows_per_grain = std::max<std::int64_t>(1, kParallelGrain / n);
  parallel_range(rows, rows_per_grain, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t r = b; r < e; ++r) {
      t->binary_fwd(BinaryOp::Add, n, x + r * n, 1, bias, 1, y + r * n);  // z, rounded to float as the reference
      t->unary_fwd(op, UnaryParams{}, n, y + r * n, y + r * n);
    }
  });
  return true;
}

bool bias_gelu_backward(std::int64_t rows, std::int64_t n, bool tanh_approx, const float* x, const float* bias,
                        const float* gy, float* gx, float* gbias) {
  const IsaTable* t = table();
  if (!t || n == 0) return false;
  const UnaryOp op = tanh_approx ? UnaryOp::GeluTanh : UnaryOp::GeluErf;
  std::vector<float> own;
  if (!gx) {
    if (!gbias) return true;
    own.resize(static_cast<std::size_t>(rows * n));
    gx = own.data();
  }
  const std::int64_t rows_per_grain = std::max<std::int64_t>(1, kParallelGrain / n);
  parallel_range(rows, rows_per_grain, [&](std::int64_t b, std::int64_t e) {
    std::vector<float> z(static_cast<std::size_t>(n));
    for (std::int64_t r = b; r < e; ++r) {
      t->binary_fwd(BinaryOp::Add, n, x + r * n, 1, bias, 1, z.data());
      t->unary_bwd(op, UnaryParams{}, n, z.data(), z.data(), gy + r * n, gx + r * n);  // gelu' reads z only
    }
  });
  if (gbias) reduce_sum(false, AxisView{1, rows, n}, gx, gbias);
  return true;
}

bool adam_step(bool decoupled_weight_decay, bool amsgrad, const AdamParamRef* params, std::int64_t count) {
  const IsaTable* t = table();
  if (!t) return false;
  for (std::int64_t k = 0; k < count; ++k) {
    const AdamParamRef& r = params[k];
    parallel_range(r.numel, kParallelGrain,
                   [&](std::int64_t b, std::int64_t e) { t->adam(decoupled_weight_decay, amsgrad, r, b, e); });
  }
  return true;
}

}  // namespace fg::kernels::fast
