// kernels/cpu/lstm.cpp: CPU reference of the LSTM recurrence and the fused LSTM cell
// (equations, shapes and the backward through time in kernels/lstm.h).
//
// The recurrence keeps the state of every sequence in [B, H] buffers and walks the steps
// s = 0 .. max_length - 1; at step s, row b is active iff s < lengths[b] and then works
// at position p(s) (s, or lengths[b] - 1 - s in reverse). The matrix products per step
// (h W_hh^T forward; da W_hh and da^T h_prev backward) go through the CPU gemm kernel
// (OpenBLAS, kernels/linalg.h) over all B rows; the pointwise gate math is plain loops
// computed in double (float32's forward cell: SLEEF's vector functions, kernels/cpu/fast/).
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "kernels/cpu/cpu_util.h"
#include "kernels/cpu/fast/fast_f32.h"
#include "kernels/linalg.h"
#include "kernels/lstm.h"

namespace fg::kernels::cpu {

using cpu_detail::dispatch_float;

namespace {

inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Number of steps sequence b runs.
inline std::int64_t length_of(const std::int64_t* lengths, std::int64_t b, std::int64_t steps) {
  return lengths ? lengths[b] : steps;
}

// Position of step s of a sequence of length len.
inline std::int64_t position(std::int64_t s, std::int64_t len, bool reverse) { return reverse ? len - 1 - s : s; }

// One cell forward for one row: a [4H] pre-activations, c_prev [H] -> gates [4H] (activated),
// c_new [H], h_new [H]. c_prev may alias c_new (each element is read before it is written).
template <class T>
void cell_row_forward(std::int64_t H, const double* a, const T* c_prev, T* gates, T* c_new, T* h_new) {
  for (std::int64_t j = 0; j < H; ++j) {
    const double i = sigmoid(a[j]), f = sigmoid(a[H + j]), g = std::tanh(a[2 * H + j]), o = sigmoid(a[3 * H + j]);
    const double cp = c_prev ? static_cast<double>(c_prev[j]) : 0.0;
    const double c = f * cp + i * g;
    gates[j] = static_cast<T>(i);
    gates[H + j] = static_cast<T>(f);
    gates[2 * H + j] = static_cast<T>(g);
    gates[3 * H + j] = static_cast<T>(o);
    c_new[j] = static_cast<T>(c);
    h_new[j] = static_cast<T>(o * std::tanh(c));
  }
}

// float32: the same cell with the pre-activations a = x1 + x2 (+ bias) summed in float and
// SLEEF's vector sigmoid/tanh (kernels/cpu/fast/); false (nothing done) for float64 or when
// the fast kernels are off.
template <class T>
bool cell_row_forward_fast(std::int64_t H, const T* x1, const T* x2, const T* bias, const T* c_prev, T* gates,
                           T* c_new, T* h_new) {
  if constexpr (std::is_same_v<T, float>) {
    const fast::IsaTable* t = fast::active_table();
    if (!t) return false;
    std::vector<float> a(static_cast<std::size_t>(4 * H));
    for (std::int64_t k = 0; k < 4 * H; ++k) a[k] = x1[k] + x2[k] + (bias ? bias[k] : 0.0f);
    t->lstm_cell_fwd(H, a.data(), c_prev, gates, c_new, h_new);
    return true;
  } else {
    return false;
  }
}

// One cell backward for one row. dh: gradient at h_new; dc: gradient at c_new (already
// including everything that arrives there). Writes da [4H] and returns d(c_prev) in dc_prev.
template <class T>
void cell_row_backward(std::int64_t H, const T* gates, const T* c_prev, const T* c_new, const double* dh,
                       const double* dc_in, T* da, double* dc_prev) {
  for (std::int64_t j = 0; j < H; ++j) {
    const double i = gates[j], f = gates[H + j], g = gates[2 * H + j], o = gates[3 * H + j];
    const double tc = std::tanh(static_cast<double>(c_new[j]));
    const double cp = c_prev ? static_cast<double>(c_prev[j]) : 0.0;
    const double dc = dc_in[j] + dh[j] * o * (1.0 - tc * tc);
    da[j] = static_cast<T>(dc * g * i * (1.0 - i));
    da[H + j] = static_cast<T>(dc * cp * f * (1.0 - f));
    da[2 * H + j] = static_cast<T>(dc * i * (1.0 - g * g));
    da[3 * H + j] = static_cast<T>(dh[j] * tc * o * (1.0 - o));
    dc_prev[j] = dc * f;
  }
}

template <class T>
void recurrence_forward(DType dt, const LSTMShape& s, const T* gx, const T* w_hh, const T* bias,
                        const std::int64_t* lengths, const T* h0, const T* c0, T* out, T* cells, T* h_n, T* c_n,
                        T* gates) {
  const std::int64_t B = s.batch, H = s.hidden, G = 4 * H;
  std::fill(out, out + s.steps * B * H, T(0));
  std::fill(cells, cells + s.steps * B * H, T(0));
  std::fill(gates, gates + s.steps * B * G, T(0));
  // the running state lives in h_n / c_n: at the end it is each sequence's final state
  for (std::int64_t k = 0; k < B * H; ++k) {
    h_n[k] = h0 ? h0[k] : T(0);
    c_n[k] = c0 ? c0[k] : T(0);
  }
  std::vector<T> hw(static_cast<std::size_t>(B * G));
  std::vector<double> a(static_cast<std::size_t>(G));
  const bool fast_cells = std::is_same_v<T, float> && fast::active_table() != nullptr;
  for (std::int64_t step = 0; step < s.max_length; ++step) {
    gemm(dt, false, true, 1, B, G, H, 1.0, h_n, 0, w_hh, 0, 0.0, hw.data(), 0);  // hw = h W_hh^T
    for (std::int64_t b = 0; b < B; ++b) {
      const std::int64_t len = length_of(lengths, b, s.steps);
      if (step >= len) continue;
      const std::int64_t p = position(step, len, s.reverse);
      const T* gxr = gx + (p * B + b) * G;
      if (!fast_cells)
        for (std::int64_t k = 0; k < G; ++k)
          a[k] = static_cast<double>(gxr[k]) + hw[b * G + k] + (bias ? static_cast<double>(bias[k]) : 0.0);
      T* cr = c_n + b * H;
      T* hr = h_n + b * H;
      if (!cell_row_forward_fast<T>(H, gxr, hw.data() + b * G, bias, cr, gates + (p * B + b) * G, cr, hr))
        cell_row_forward<T>(H, a.data(), cr, gates + (p * B + b) * G, cr, hr);
      std::copy(hr, hr + H, out + (p * B + b) * H);
      std::copy(cr, cr + H, cells + (p * B + b) * H);
    }
  }
}

template <class T>
void recurrence_backward(DType dt, const LSTMShape& s, const T* w_hh, const std::int64_t* lengths, const T* h0,
                         const T* c0, const T* out, const T* cells, const T* gates, const T* g_out, const T* g_cells,
                         const T* g_hn, const T* g_cn, T* g_gx, T* g_whh, T* g_bias, T* g_h0, T* g_c0) {
  const std::int64_t B = s.batch, H = s.hidden, G = 4 * H;
  std::fill(g_gx, g_gx + s.steps * B * G, T(0));
  if (g_whh) std::fill(g_whh, g_whh + G * H, T(0));
  std::vector<double> dh(static_cast<std::size_t>(B * H)), dc(static_cast<std::size_t>(B * H));
  for (std::int64_t k = 0; k < B * H; ++k) {
    dh[k] = g_hn ? static_cast<double>(g_hn[k]) : 0.0;
    dc[k] = g_cn ? static_cast<double>(g_cn[k]) : 0.0;
  }
  std::vector<T> da(static_cast<std::size_t>(B * G)), h_prev(static_cast<std::size_t>(B * H)),
      dh_new(static_cast<std::size_t>(B * H));
  std::vector<double> dc_prev(static_cast<std::size_t>(H));
  for (std::int64_t step = s.max_length - 1; step >= 0; --step) {
    for (std::int64_t b = 0; b < B; ++b) {
      const std::int64_t len = length_of(lengths, b, s.steps);
      T* dar = da.data() + b * G;
      T* hpr = h_prev.data() + b * H;
      if (step >= len) {  // not started yet (in reverse time): contributes nothing
        std::fill(dar, dar + G, T(0));
        std::fill(hpr, hpr + H, T(0));
        continue;
      }
      const std::int64_t p = position(step, len, s.reverse);
      const std::int64_t pp = step == 0 ? -1 : position(step - 1, len, s.reverse);  // previous step's position
      const std::int64_t at = (p * B + b) * H;
      double* dhr = dh.data() + b * H;
      double* dcr = dc.data() + b * H;
      for (std::int64_t j = 0; j < H; ++j) {
        if (g_out) dhr[j] += g_out[at + j];
        if (g_cells) dcr[j] += g_cells[at + j];
      }
      const T* c_prev = pp >= 0 ? cells + (pp * B + b) * H : (c0 ? c0 + b * H : nullptr);
      cell_row_backward<T>(H, gates + (p * B + b) * G, c_prev, cells + at, dhr, dcr, dar, dc_prev.data());
      std::copy(dar, dar + G, g_gx + (p * B + b) * G);
      std::copy(dc_prev.begin(), dc_prev.end(), dcr);
      const T* hp = pp >= 0 ? out + (pp * B + b) * H : (h0 ? h0 + b * H : nullptr);
      for (std::int64_t j = 0; j < H; ++j) hpr[j] = hp ? hp[j] : T(0);
    }
    // grad_w_hh[4H, H] += da^T [4H, B] h_prev [B, H];  dh_new [B, H] = da [B, 4H] W_hh [4H, H]
    if (g_whh) gemm(dt, true, false, 1, G, H, B, 1.0, da.data(), 0, h_prev.data(), 0, 1.0, g_whh, 0);
    gemm(dt, false, false, 1, B, H, G, 1.0, da.data(), 0, w_hh, 0, 0.0, dh_new.data(), 0);
    for (std::int64_t b = 0; b < B; ++b) {
      if (step >= length_of(lengths, b, s.steps)) continue;
      for (std::int64_t j = 0; j < H; ++j) dh[b * H + j] = dh_new[b * H + j];
    }
  }
  if (g_bias) {
    std::vector<double> acc(static_cast<std::size_t>(G), 0.0);
    for (std::int64_t r = 0; r < s.steps * B; ++r)
      for (std::int64_t k = 0; k < G; ++k) acc[k] += g_gx[r * G + k];
    for (std::int64_t k = 0; k < G; ++k) g_bias[k] = static_cast<T>(acc[k]);
  }
  for (std::int64_t k = 0; k < B * H; ++k) {
    if (g_h0) g_h0[k] = static_cast<T>(dh[k]);
    if (g_c0) g_c0[k] = static_cast<T>(dc[k]);
  }
}

}  // namespace

void lstm_recurrence_forward(DType dt, LSTMShape s, const void* gates_x, const void* w_hh, const void* bias,
                             const std::int64_t* lengths, const void* h0, const void* c0, void* out, void* cells,
                             void* h_n, void* c_n, void* gates) {
  dispatch_float(dt, "lstm_recurrence_forward", [&](auto tag) {
    using T = decltype(tag);
    recurrence_forward<T>(dt, s, static_cast<const T*>(gates_x), static_cast<const T*>(w_hh),
                          static_cast<const T*>(bias), lengths, static_cast<const T*>(h0), static_cast<const T*>(c0),
                          static_cast<T*>(out), static_cast<T*>(cells), static_cast<T*>(h_n), static_cast<T*>(c_n),
                          static_cast<T*>(gates));
  });
}

void lstm_recurrence_backward(DType dt, LSTMShape s, const void* w_hh, const std::int64_t* lengths, const void* h0,
                              const void* c0, const void* out, const void* cells, const void* gates,
                              const void* grad_out, const void* grad_cells, const void* grad_h_n,
                              const void* grad_c_n, void* grad_gates_x, void* grad_w_hh, void* grad_bias,
                              void* grad_h0, void* grad_c0) {
  dispatch_float(dt, "lstm_recurrence_backward", [&](auto tag) {
    using T = decltype(tag);
    auto c = [](const void* p) { return static_cast<const T*>(p); };
    auto m = [](void* p) { return static_cast<T*>(p); };
    recurrence_backward<T>(dt, s, c(w_hh), lengths, c(h0), c(c0), c(out), c(cells), c(gates), c(grad_out),
                           c(grad_cells), c(grad_h_n), c(grad_c_n), m(grad_gates_x), m(grad_w_hh), m(grad_bias),
                           m(grad_h0), m(grad_c0));
  });
}

void lstm_cell_forward(DType dt, std::int64_t batch, std::int64_t hidden, const void* gates_x, const void* gates_h,
                       const void* c, void* h_out, void* c_out, void* gates) {
  dispatch_float(dt, "lstm_cell_forward", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t H = hidden, G = 4 * H;
    const T* gx = static_cast<const T*>(gates_x);
    const T* gh = static_cast<const T*>(gates_h);
    const T* cs = static_cast<const T*>(c);
    std::vector<double> a(static_cast<std::size_t>(G));
    for (std::int64_t b = 0; b < batch; ++b) {
      if (cell_row_forward_fast<T>(H, gx + b * G, gh + b * G, nullptr, cs + b * H, static_cast<T*>(gates) + b * G,
                                   static_cast<T*>(c_out) + b * H, static_cast<T*>(h_out) + b * H))
        continue;
      for (std::int64_t k = 0; k < G; ++k) a[k] = static_cast<double>(gx[b * G + k]) + gh[b * G + k];
      cell_row_forward<T>(H, a.data(), cs + b * H, static_cast<T*>(gates) + b * G, static_cast<T*>(c_out) + b * H,
                          static_cast<T*>(h_out) + b * H);
    }
  });
}

void lstm_cell_backward(DType dt, std::int64_t batch, std::int64_t hidden, const void* c, const void* c_out,
                        const void* gates, const void* grad_h_out, const void* grad_c_out, void* grad_pre,
                        void* grad_c) {
  dispatch_float(dt, "lstm_cell_backward", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t H = hidden, G = 4 * H;
    const T* gh = static_cast<const T*>(grad_h_out);
    const T* gc = static_cast<const T*>(grad_c_out);
    std::vector<double> dh(static_cast<std::size_t>(H)), dc(static_cast<std::size_t>(H)), dcp(static_cast<std::size_t>(H));
    for (std::int64_t b = 0; b < batch; ++b) {
      for (std::int64_t j = 0; j < H; ++j) {
        dh[j] = gh ? static_cast<double>(gh[b * H + j]) : 0.0;
        dc[j] = gc ? static_cast<double>(gc[b * H + j]) : 0.0;
      }
      cell_row_backward<T>(H, static_cast<const T*>(gates) + b * G, static_cast<const T*>(c) + b * H,
                           static_cast<const T*>(c_out) + b * H, dh.data(), dc.data(),
                           static_cast<T*>(grad_pre) + b * G, dcp.data());
      if (grad_c)
        for (std::int64_t j = 0; j < H; ++j) static_cast<T*>(grad_c)[b * H + j] = static_cast<T>(dcp[j]);
    }
  });
}

}  // namespace fg::kernels::cpu
