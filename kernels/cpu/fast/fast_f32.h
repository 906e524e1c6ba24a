// kernels/cpu/fast/fast_f32.h: the float32 fast paths of the CPU kernels.
//
// kernels/cpu/*.cpp are the plain reference loops (float64 is the ground truth gradchecks
// use). For float32 tensors they first offer the work to the functions here, which return
// false when they do not handle the case (an op or a layout they do not cover); the
// reference loop then runs as before. What is here:
//   * vectorised elementwise kernels: same-shape and row-broadcast binary ops (after merging
//     dimensions that are contiguous for every operand), unary ops with SLEEF's vector math
//     (exp, log, tanh, erf; 1-ULP functions, so results differ from the scalar libm loop by
//     float32 rounding only);
//   * sums and means along an axis: contiguous rows in float over blocks of 1024 with the
//     block sums added in double, columns (an inner axis) accumulated in double; in a fixed
//     order that does not depend on the thread count;
//   * the Adam/AdamW step (double arithmetic per element, like the reference).
// Runtime dispatch: each of fast_f32_{base,avx2,avx512}.cpp compiles fast_f32_impl.inc for
// one instruction set (SSE2, AVX2+FMA, AVX-512), and the first call picks the best one the
// CPU supports (__builtin_cpu_supports), so one binary runs on any x86-64. FG_FAST_ISA=base|
// avx2|avx512 forces one (the tests run each), FG_FAST_DISABLE=1 turns the fast paths off.
// Threads: OpenMP over large loops (fg::set_num_threads, engine/threads.h, sets OpenMP's
// and OpenBLAS's counts together).
#pragma once

#include <cstdint>

#include "kernels/attention.h"
#include "kernels/elementwise.h"
#include "kernels/mfn.h"
#include "kernels/shape.h"
#include "kernels/optim.h"
#include "kernels/types.h"

namespace fg::kernels::fast {

// The instruction set in use: "base" (SSE2), "avx2" or "avx512"; "off" when disabled.
const char* isa_name();
// Forces an instruction set ("base", "avx2", "avx512"; one the CPU lacks is refused with
// false) or "off"; "" goes back to the automatic choice. For tests.
bool force_isa(const char* name);

bool unary_forward(UnaryOp op, UnaryParams p, std::int64_t n, const float* x, float* y);
bool unary_backward(UnaryOp op, UnaryParams p, std::int64_t n, const float* x, const float* y, const float* gy,
                    float* gx);
bool binary_forward(BinaryOp op, const BroadcastPlan& plan, const float* a, const float* b, float* out);
bool binary_backward(BinaryOp op, const BroadcastPlan& plan, const float* a, const float* b, const float* gy,
                     float* ga_full, float* gb_full);
// Sum (mean = false) or Mean of x viewed as [outer, n, inner] along n.
bool reduce_sum(bool mean, AxisView v, const float* x, float* out);
// gx[o, j, i] = gout[o, i] (times 1/n for the mean).
bool reduce_sum_backward(bool mean, AxisView v, const float* gout, float* gx);
bool adam_step(bool decoupled_weight_decay, bool amsgrad, const AdamParamRef* params, std::int64_t count);
// y = x permuted (kernels/shape.h) when the last output axis is the input's last axis (runs of
// at least 8 contiguous floats, e.g. attention's head split [B, S, H, D] -> [B, H, S, D]):
// one copy per run instead of an odometer step per element. False for other permutations.
bool permute_copy(const PermutePlan& plan, const float* x, float* y);
// BERT's bias + GELU (kernels/bert_fused.h): z = x + bias per row, y = gelu(z); backward
// gx = gy gelu'(z), gbias = column sums of gx (in double, in row order). gx/gbias may be null.
bool bias_gelu_forward(std::int64_t rows, std::int64_t n, bool tanh_approx, const float* x, const float* bias,
                       float* y);
bool bias_gelu_backward(std::int64_t rows, std::int64_t n, bool tanh_approx, const float* x, const float* bias,
                        const float* gy, float* gx, float* gbias);
// Scaled dot-product attention, the saved-probabilities contract of kernels/attention.h, on
// OpenBLAS GEMMs per (batch, head): S = c Q K^T, a float softmax per row, O = P V; the
// backward as dV = P~^T dO, dP = dO V^T, dS = c P (dP - rowsum(P dP)), dQ = dS K, dK = dS^T Q.
// (batch, head) pairs are spread over the threads. kernels/cpu/fast/attention_f32.cpp.
bool attention_forward(const AttentionDims& d, const float* q, const float* k, const float* v, const float* key_mask,
                       double dropout_p, std::uint64_t seed, std::uint64_t offset, float* out, float* probs,
                       float* drop_mask);
bool attention_backward(const AttentionDims& d, const float* q, const float* k, const float* v, const float* key_mask,
                        const float* probs, const float* drop_mask, const float* gout, float* gq, float* gk,
                        float* gv);

// MFN's gated memory recurrence (kernels/mfn.h) with the per-step products as GEMMs over
// all B examples (kernels/cpu/fast/mfn_f32.cpp).
bool gated_memory_forward(const GatedMemoryShape& s, const float* gate_x, const float* u_hat, const float* w_u,
                          const float* w1, const float* b1, const float* w2, const float* b2, const float* drop,
                          const std::int64_t* lengths, float* u_all, float* pre, float* gammas);
bool gated_memory_backward(const GatedMemoryShape& s, const float* u_hat, const float* w_u, const float* w1,
                           const float* w2, const float* drop, const std::int64_t* lengths, const float* u_all,
                           const float* pre, const float* gammas, const float* grad_u_all, float* grad_gate_x,
                           float* grad_u_hat, float* grad_z);

// The per-instruction-set row kernels (fast_f32_impl.inc); the functions above walk shapes,
// split work across threads and call these on contiguous pieces.
struct IsaTable {
  const char* name;
  void (*unary_fwd)(UnaryOp op, UnaryParams p, std::int64_t n, const float* x, float* y);
  void (*unary_bwd)(UnaryOp op, UnaryParams p, std::int64_t n, const float* x, const float* y, const float* gy,
                    float* gx);
  // out[i] = a[i * sa] (op) b[i * sb], sa and sb in {0, 1}
  void (*binary_fwd)(BinaryOp op, std::int64_t n, const float* a, int sa, const float* b, int sb, float* out);
  void (*binary_bwd)(BinaryOp op, std::int64_t n, const float* a, int sa, const float* b, int sb, const float* gy,
                     float* ga, float* gb);
  double (*sum)(std::int64_t n, const float* x);
  void (*accumulate)(std::int64_t n, const float* x, double* acc);  // acc[i] += x[i]
  void (*adam)(bool decoupled, bool amsgrad, const AdamParamRef& r, std::int64_t begin, std::int64_t end);
  // x[0, n) = softmax(x) in float (entries of -inf get 0; the row must have a finite entry)
  void (*softmax_row)(std::int64_t n, float* x);
  // one LSTM cell row (kernels/lstm.h): a [4H] pre-activations -> gates [4H] (activated),
  // c_new = f c_prev + i g, h_new = o tanh(c_new); c_prev may be null (0) or alias c_new
  void (*lstm_cell_fwd)(std::int64_t H, const float* a, const float* c_prev, float* gates, float* c_new,
                        float* h_new);
};

// The table in use (null when the fast paths are off).
const IsaTable* active_table();

const IsaTable& table_base();
const IsaTable& table_avx2();
const IsaTable& table_avx512();

// Whether the ISA tables handle this op (the same set for every instruction set).
bool unary_supported(UnaryOp op);
bool unary_backward_supported(UnaryOp op);
bool binary_supported(BinaryOp op);

}  // namespace fg::kernels::fast
