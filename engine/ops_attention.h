// engine/ops_attention.h: fused ops of Transformer encoders (BERT): scaled dot-product
// attention with a key padding mask and dropout, bias + GELU, and residual add +
// LayerNorm. Each is one forward and one backward kernel (kernels/attention.h,
// kernels/bert_fused.h, where the backward math is written out; docs/attention.md
// teaches it), so a BERT layer costs a handful of kernel launches instead of dozens.
//
// Each op equals a composition of basic ops (the tests check it), e.g.
//   scaled_dot_product_attention(q, k, v, mask, {.dropout_p = p, .training = true}, gen)
//     == matmul(dropout(softmax(scale * q k^T masked to -inf), p, true, gen), v)
// with the same dropout mask for the same generator state.
#pragma once

#include <cstdint>

#include "engine/random.h"
#include "engine/tensor.h"

namespace fg {

// Which kernels run (kernels/attention.h); all compute the same function and gradients.
//   Auto:      Recompute on CUDA when the tiled kernel handles head_dim (64), else Saved
//   Saved:     the forward saves the probabilities [B, H, Sq, Sk] (and the dropout mask) for
//              the backward; the straightforward CUDA kernels, any head_dim
//   Recompute: the flash-style contract: the forward saves one log-sum-exp per query row,
//              the backward recomputes the probabilities and regenerates the dropout mask
//              (CUDA: head_dim 64 only, else an error; the CPU handles any)
enum class AttentionImpl { Auto, Saved, Recompute };

struct AttentionOptions {
  double dropout_p = 0.0;  // dropout on the attention probabilities, in [0, 1)
  bool training = false;   // dropout only applies in training
  double scale = 0.0;      // multiplies q . k; 0 means 1 / sqrt(head_dim)
  AttentionImpl impl = AttentionImpl::Auto;
};

// q [B, H, Sq, D], k and v [B, H, Sk, D] -> [B, H, Sq, D]:  softmax(scale q k^T + mask) v,
// with dropout on the probabilities when training. key_mask [B, Sk] (float or int64;
// nonzero = attend, 0 = padding) may be undefined (attend everywhere). A batch item whose
// keys are all padding attends uniformly to all of them (as Hugging Face's BERT does).
// Differentiable in q, k and v. Dropout masks come from `gen` (default_generator() when
// null) with ops dropout's Philox rule, so CPU and CUDA drop the same elements.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask = Tensor(),
                                    const AttentionOptions& opts = {}, Generator* gen = nullptr);

// gelu(x + bias) for x [..., n], bias [n]; erf form (Hugging Face "gelu") unless
// tanh_approx ("gelu_new"). Differentiable in x and bias.
Tensor bias_gelu(const Tensor& x, const Tensor& bias, bool tanh_approx = false);

// layer_norm(x + residual, gamma, beta, eps) over the last axis; x and residual share a
// shape [..., n]; gamma and beta [n] may be undefined. Differentiable in all four.
Tensor add_layer_norm(const Tensor& x, const Tensor& residual, const Tensor& gamma, const Tensor& beta,
                      double eps = 1e-5);

}  // namespace fg
