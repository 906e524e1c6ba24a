// kernels/attention.h: fused scaled dot-product attention with a key padding mask and
// dropout on the probabilities, forward and backward.
//
// Shapes (all dense row-major, one dtype):
//   q [B, H, Sq, D], k [B, H, Sk, D], v [B, H, Sk, D]      (B batch, H heads, D head dim)
//   key_mask [B, Sk] or null: nonzero = attend to this key, 0 = padding (never attended)
//   out [B, H, Sq, D];  probs, drop_mask [B, H, Sq, Sk] (saved for the backward)
//
// Forward, per (b, h) and query row i (c = scale, usually 1 / sqrt(D)):
//   s_ij = c q_i . k_j                       for kept keys j; masked keys get s_ij = -inf
//   p_ij = exp(s_ij - max_j s_ij) / sum_j exp(s_ij - max_j s_ij)        (softmax, = 0 when masked)
//   m_ij = (u_ij >= p_drop) / (1 - p_drop)   dropout mask, u_ij the float32 Philox uniform of
//                                            counter offset + ((b H + h) Sq + i) Sk + j
//                                            (exactly ops dropout's rule, kernels/random.h)
//   o_i  = sum_j p_ij m_ij v_j
// A row whose keys are all masked (a batch item that is all padding) gets uniform
// probabilities p_ij = 1 / Sk, as Hugging Face's additive finfo.min mask gives; its output
// does not depend on q or k, so their gradients there are 0.
//
// Backward, from go = dL/do (write pt_ij = p_ij m_ij, the dropped-out probabilities):
//   dL/dv_j   = sum_i pt_ij go_i
//   dL/dpt_ij = go_i . v_j
//   dL/dp_ij  = m_ij go_i . v_j                                          (through the dropout)
//   dL/ds_ij  = p_ij (dL/dp_ij - sum_k p_ik dL/dp_ik)                    (softmax Jacobian)
//             = p_ij (dL/dp_ij - go_i . o_i)       since sum_k p_ik m_ik go_i . v_k = go_i . o_i
//   dL/dq_i   = c sum_j dL/ds_ij k_j,     dL/dk_j = c sum_i dL/ds_ij q_i
// Masked keys have p_ij = 0, hence dL/ds_ij = 0: no gradient leaks into padding. Rows of
// an all-padding batch item get dL/ds = 0 (see above).
//
// Two contracts, the same math:
//  * attention_forward/backward ("saved probabilities"): the forward saves probs (before
//    dropout) and, when p_drop > 0, the mask m (0 or 1 / (1 - p_drop)), both [B, H, Sq, Sk],
//    and the backward reads them. Any head size; the straightforward CUDA kernels.
//  * attention_flash_forward/backward ("recompute"): the forward saves only the row
//    log-sum-exp lse_i = max_j s_ij + log sum_j exp(s_ij - max_j s_ij), [B, H, Sq]. The
//    backward recomputes p_ij = exp(s_ij - lse_i) from q and k, regenerates m_ij from the
//    same Philox counters, and uses D_i = go_i . o_i (the identity above) instead of a row
//    sum over p. Nothing of size Sq x Sk is ever stored. The CUDA version is the tiled,
//    on-chip (flash-style) kernel for head_dim 64 (attention_flash_supported);
//    kernels/cpu/attention.cpp implements the same contract in plain loops.
// docs/attention.md derives all of this and explains the tiling.
#pragma once

#include <cstdint>

#include "kernels/types.h"

namespace fg::kernels {

struct AttentionDims {
  std::int64_t batch = 0, heads = 0, q_len = 0, kv_len = 0, head_dim = 0;
  double scale = 1.0;  // multiplies q . k
};

// drop_mask may be null when dropout_p == 0 (then it is neither drawn nor written).
FG_KERNEL(attention_forward, (DType dt, const AttentionDims& d, const void* q, const void* k, const void* v,
                              const void* key_mask, double dropout_p, std::uint64_t seed, std::uint64_t offset,
                              void* out, void* probs, void* drop_mask))
// gq, gk, gv are overwritten; any may be null when not wanted. drop_mask null = no dropout.
FG_KERNEL(attention_backward, (DType dt, const AttentionDims& d, const void* q, const void* k, const void* v,
                               const void* key_mask, const void* probs, const void* drop_mask, const void* gout,
                               void* gq, void* gk, void* gv))

// Recompute contract. lse [B, H, Sq] is written by the forward; dropout (dropout_p > 0) is
// regenerated from (seed, offset) in the backward, which needs the forward's `out`.
FG_KERNEL(attention_flash_forward, (DType dt, const AttentionDims& d, const void* q, const void* k, const void* v,
                                    const void* key_mask, double dropout_p, std::uint64_t seed, std::uint64_t offset,
                                    void* out, void* lse))
// gq, gk, gv are overwritten; any may be null when not wanted.
FG_KERNEL(attention_flash_backward, (DType dt, const AttentionDims& d, const void* q, const void* k, const void* v,
                                     const void* key_mask, double dropout_p, std::uint64_t seed, std::uint64_t offset,
                                     const void* out, const void* lse, const void* gout, void* gq, void* gk,
                                     void* gv))

// Whether this build's attention_flash_* for `device_is_cuda` handles head_dim (the CPU
// handles any; the tiled CUDA kernel is compiled for head_dim 64 only).
inline bool attention_flash_supported(bool device_is_cuda, std::int64_t head_dim) {
  return !device_is_cuda || head_dim == 64;
}

}  // namespace fg::kernels
