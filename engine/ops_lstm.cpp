// engine/ops_lstm.cpp: lstm_recurrence, lstm_layer, lstm_cell and lstm_cell_fused
// (kernels/lstm.h). The GEMMs that do not depend on the previous step (the input
// projections) go through fg::linear, so their gradients come from the linear op.
#include <algorithm>
#include <string>

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "engine/op_helpers.h"
#include "engine/ops.h"
#include "kernels/lstm.h"

namespace fg {

using detail::check_float;
using detail::check_same;
using detail::out_ptr;
using detail::ptr_or_null;

namespace {

// Checks an optional [rows, cols] operand of `ref`'s dtype and device.
void check_optional_matrix(const Tensor& t, const Tensor& ref, std::int64_t rows, std::int64_t cols, const char* op,
                           const char* what) {
  if (!t.defined()) return;
  check_same(ref, t, op);
  FG_CHECK(t.dim() == 2 && t.size(0) == rows && t.size(1) == cols, "{}: {} must be [{}, {}], got {}", op, what, rows,
           cols, t.str());
}

void check_optional_vector(const Tensor& t, const Tensor& ref, std::int64_t n, const char* op, const char* what) {
  if (!t.defined()) return;
  check_same(ref, t, op);
  FG_CHECK(t.dim() == 1 && t.size(0) == n, "{}: {} must be [{}], got {}", op, what, n, t.str());
}

// Validates lengths (int64 [B], values in [0, T]) and returns {lengths on `device`, max length}.
std::pair<Tensor, std::int64_t> prepare_lengths(const Tensor& lengths, std::int64_t B, std::int64_t T, Device device,
                                                const char* op) {
  if (!lengths.defined()) return {Tensor(), T};
  FG_CHECK(lengths.dtype() == DType::i64, "{}: lengths must be int64, got {}", op, lengths.str());
  FG_CHECK(lengths.dim() == 1 && lengths.size(0) == B, "{}: lengths must be [{}] (one per sequence), got {}", op, B,
           lengths.str());
  const std::vector<std::int64_t> host = lengths.to_vector<std::int64_t>();
  std::int64_t max_len = 0;
  for (std::size_t b = 0; b < host.size(); ++b) {
    FG_CHECK(host[b] >= 0 && host[b] <= T, "{}: lengths[{}] = {} is outside [0, {}] (the time axis has {} steps)", op,
             b, host[b], T, T);
    max_len = std::max(max_len, host[b]);
  }
  Tensor on_device = lengths.device() == device ? lengths.detach() : lengths.detach().to(device);
  return {on_device, max_len};
}

}  // namespace

LSTMSequenceOutput lstm_recurrence(const Tensor& gates_x, const Tensor& w_hh, const Tensor& bias, const Tensor& lengths,
                                   const Tensor& h0, const Tensor& c0, bool reverse) {
  const char* op = "lstm_recurrence";
  check_float(gates_x, op);
  FG_CHECK(gates_x.dim() == 3 && gates_x.size(2) > 0 && gates_x.size(2) % 4 == 0,
           "{}: gates_x must be [T, B, 4H] with H >= 1, got {}", op, gates_x.str());
  const std::int64_t T = gates_x.size(0), B = gates_x.size(1), G = gates_x.size(2), H = G / 4;
  FG_CHECK(w_hh.defined(), "{}: w_hh is undefined (expected [{}, {}])", op, G, H);
  check_same(gates_x, w_hh, op);
  FG_CHECK(w_hh.dim() == 2 && w_hh.size(0) == G && w_hh.size(1) == H,
           "{}: w_hh must be [4H, H] = [{}, {}] for gates_x {}, got {}", op, G, H, gates_x.str(), w_hh.str());
  check_optional_vector(bias, gates_x, G, op, "bias");
  check_optional_matrix(h0, gates_x, B, H, op, "h0");
  check_optional_matrix(c0, gates_x, B, H, op, "c0");
  auto [len_dev, max_len] = prepare_lengths(lengths, B, T, gates_x.device(), op);

  kernels::LSTMShape shape{T, B, H, max_len, reverse};
  Tensor out = empty({T, B, H}, gates_x.options()), cells = empty({T, B, H}, gates_x.options());
  Tensor h_n = empty({B, H}, gates_x.options()), c_n = empty({B, H}, gates_x.options());
  Tensor gates = empty({T, B, G}, gates_x.options());
  const auto* len_ptr = len_dev.defined() ? static_cast<const std::int64_t*>(len_dev.data_ptr()) : nullptr;
  FG_DISPATCH(gates_x.device(), lstm_recurrence_forward, gates_x.dtype(), shape, gates_x.data_ptr(), w_hh.data_ptr(),
              ptr_or_null(bias), len_ptr, ptr_or_null(h0), ptr_or_null(c0), out.data_ptr(), cells.data_ptr(),
              h_n.data_ptr(), c_n.data_ptr(), gates.data_ptr());

  autograd::record(
      op, {out, h_n, c_n, cells}, {gates_x, w_hh, bias, h0, c0},
      [shape, gx_opts = gates_x.options(), w_hh = w_hh.detach(), len_dev = len_dev, h0 = h0.defined() ? h0.detach() : h0,
       c0 = c0.defined() ? c0.detach() : c0, out_s = out.detach(), cells_s = cells.detach(),
       gates](const std::vector<Tensor>& g, const std::vector<bool>& need) {
        Tensor g_gx = empty(gates.shape(), gx_opts);
        Tensor g_whh = need[1] ? empty_like(w_hh) : Tensor();
        Tensor g_bias = need[2] ? empty({4 * shape.hidden}, gx_opts) : Tensor();
        Tensor g_h0 = need[3] ? empty({shape.batch, shape.hidden}, gx_opts) : Tensor();
        Tensor g_c0 = need[4] ? empty({shape.batch, shape.hidden}, gx_opts) : Tensor();
        const auto* lp = len_dev.defined() ? static_cast<const std::int64_t*>(len_dev.data_ptr()) : nullptr;
        FG_DISPATCH(gx_opts.device, lstm_recurrence_backward, gx_opts.dtype, shape, w_hh.data_ptr(), lp,
                    ptr_or_null(h0), ptr_or_null(c0), out_s.data_ptr(), cells_s.data_ptr(), gates.data_ptr(),
                    g[0].data_ptr(), g[3].data_ptr(), g[1].data_ptr(), g[2].data_ptr(), g_gx.data_ptr(),
                    out_ptr(g_whh), out_ptr(g_bias), out_ptr(g_h0), out_ptr(g_c0));
        return std::vector<Tensor>{need[0] ? g_gx : Tensor(), g_whh, g_bias, g_h0, g_c0};
      });
  return {out, h_n, c_n, cells};
}

LSTMSequenceOutput lstm_layer(const Tensor& x, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                              const Tensor& b_hh, const Tensor& lengths, const Tensor& h0, const Tensor& c0,
                              bool reverse) {
  const char* op = "lstm_layer";
  check_float(x, op);
  FG_CHECK(x.dim() == 3, "{}: x must be [T, B, input_size], got {}", op, x.str());
  FG_CHECK(w_ih.defined() && w_ih.dim() == 2 && w_ih.size(1) == x.size(2) && w_ih.size(0) > 0 &&
               w_ih.size(0) % 4 == 0,
           "{}: w_ih must be [4H, {}] (input_size {} from x {}), got {}", op, x.size(2), x.size(2), x.str(),
           w_ih.str());
  check_same(x, w_ih, op);
  FG_CHECK(w_hh.defined() && w_hh.dim() == 2 && w_hh.size(0) == w_ih.size(0) && w_hh.size(1) == w_ih.size(0) / 4,
           "{}: w_hh must be [4H, H] = [{}, {}] to match w_ih {}, got {}", op, w_ih.size(0), w_ih.size(0) / 4,
           w_ih.str(), w_hh.str());
  check_optional_vector(b_ih, x, w_ih.size(0), op, "b_ih");
  check_optional_vector(b_hh, x, w_ih.size(0), op, "b_hh");
  // all T steps' input gates in one GEMM: [T * B, I] x [I, 4H]
  const Tensor gates_x = linear(x, w_ih, b_ih);
  return lstm_recurrence(gates_x, w_hh, b_hh, lengths, h0, c0, reverse);
}

LSTMCellOutput lstm_cell_fused(const Tensor& gates_x, const Tensor& gates_h, const Tensor& c) {
  const char* op = "lstm_cell_fused";
  check_float(gates_x, op);
  FG_CHECK(gates_x.dim() == 2 && gates_x.size(1) > 0 && gates_x.size(1) % 4 == 0,
           "{}: gates_x must be [B, 4H] with H >= 1, got {}", op, gates_x.str());
  const std::int64_t B = gates_x.size(0), G = gates_x.size(1), H = G / 4;
  FG_CHECK(gates_h.defined() && c.defined(), "{}: gates_h and c must be defined (got {} and {})", op,
           gates_h.str(), c.str());
  check_same(gates_x, gates_h, op);
  check_same(gates_x, c, op);
  FG_CHECK(gates_h.shape() == gates_x.shape(), "{}: gates_h must be [{}, {}] like gates_x, got {}", op, B, G,
           gates_h.str());
  FG_CHECK(c.dim() == 2 && c.size(0) == B && c.size(1) == H, "{}: c must be [{}, {}], got {}", op, B, H, c.str());
  Tensor h_out = empty({B, H}, gates_x.options()), c_out = empty({B, H}, gates_x.options());
  Tensor gates = empty({B, G}, gates_x.options());
  FG_DISPATCH(gates_x.device(), lstm_cell_forward, gates_x.dtype(), B, H, gates_x.data_ptr(), gates_h.data_ptr(),
              c.data_ptr(), h_out.data_ptr(), c_out.data_ptr(), gates.data_ptr());
  autograd::record(op, {h_out, c_out}, {gates_x, gates_h, c},
                   [B, H, c_s = c.detach(), c_out_s = c_out.detach(), gates](const std::vector<Tensor>& g,
                                                                             const std::vector<bool>& need) {
                     Tensor g_pre = empty(gates.shape(), gates.options());
                     Tensor g_c = need[2] ? empty_like(c_s) : Tensor();
                     FG_DISPATCH(gates.device(), lstm_cell_backward, gates.dtype(), B, H, c_s.data_ptr(),
                                 c_out_s.data_ptr(), gates.data_ptr(), g[0].data_ptr(), g[1].data_ptr(),
                                 g_pre.data_ptr(), out_ptr(g_c));
                     // a = gates_x + gates_h, so both receive d a
                     return std::vector<Tensor>{need[0] ? g_pre : Tensor(), need[1] ? g_pre : Tensor(), g_c};
                   });
  return {h_out, c_out};
}

LSTMCellOutput lstm_cell(const Tensor& x, const Tensor& h, const Tensor& c, const Tensor& w_ih, const Tensor& w_hh,
                         const Tensor& b_ih, const Tensor& b_hh) {
  const char* op = "lstm_cell";
  check_float(x, op);
  FG_CHECK(x.dim() == 2, "{}: x must be [B, input_size], got {}", op, x.str());
  FG_CHECK(w_ih.defined() && w_ih.dim() == 2 && w_ih.size(1) == x.size(1) && w_ih.size(0) > 0 &&
               w_ih.size(0) % 4 == 0,
           "{}: w_ih must be [4H, {}] (input_size from x {}), got {}", op, x.size(1), x.str(), w_ih.str());
  check_same(x, w_ih, op);
  const std::int64_t B = x.size(0), G = w_ih.size(0), H = G / 4;
  FG_CHECK(w_hh.defined() && w_hh.dim() == 2 && w_hh.size(0) == G && w_hh.size(1) == H,
           "{}: w_hh must be [4H, H] = [{}, {}] to match w_ih {}, got {}", op, G, H, w_ih.str(), w_hh.str());
  check_same(x, w_hh, op);
  check_optional_vector(b_ih, x, G, op, "b_ih");
  check_optional_vector(b_hh, x, G, op, "b_hh");
  check_optional_matrix(h, x, B, H, op, "h");
  check_optional_matrix(c, x, B, H, op, "c");
  const Tensor h_in = h.defined() ? h : zeros({B, H}, x.options());
  const Tensor c_in = c.defined() ? c : zeros({B, H}, x.options());
  return lstm_cell_fused(linear(x, w_ih, b_ih), linear(h_in, w_hh, b_hh), c_in);
}

}  // namespace fg
