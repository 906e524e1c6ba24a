// tests/test_gradcheck_attention.cpp: the fused Transformer ops of engine/ops_attention.h.
//   - float64 gradchecks of scaled_dot_product_attention (no mask, padding mask, a batch item
//     that is all padding, Sq != Sk, a custom scale, dropout with a generator re-seeded
//     inside f so every evaluation draws the same mask), bias_gelu (both GELU forms) and
//     add_layer_norm (with and without gamma/beta);
//   - each fused op equals its composition of basic ops (outputs and gradients), dropout
//     included: the fused attention drops exactly the elements ops dropout drops;
//   - masks: padded keys get zero probability and no gradient; eval mode ignores dropout;
//   - the Recompute implementation (kernels/attention.h's second contract: log-sum-exp saved,
//     probabilities and dropout mask rebuilt in the backward; the CPU version of what the
//     tiled CUDA kernel does): gradchecks, and equality with the Saved implementation,
//     masks, all-padding items and dropout included;
//   - argument errors name the op.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "engine/autograd.h"
#include "support/gradcheck.h"
#include "support/reference.h"

using namespace fg;
using fg::testing::rand_input;
using Inputs = std::vector<Tensor>;

namespace {

void check_grad(const testing::TensorFn& f, const Inputs& in) { CHECK_GRADCHECK(f, in); }

// [B, S] float64 key mask from rows of 0/1.
Tensor key_mask(const std::vector<double>& values, std::int64_t batch, std::int64_t seq) {
  return from_vector(values, {batch, seq}, f64_opts());
}

// The same attention from basic ops: softmax(scale q k^T, masked keys -inf) -> dropout -> @ v.
Tensor composed_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, double scale,
                          double p, Generator* gen) {
  Tensor s = matmul(q, transpose(k, -1, -2)) * scale;
  if (mask.defined()) {
    const Tensor padded = reshape(eq(mask, zeros({}, mask.options())), {mask.size(0), 1, 1, mask.size(1)});
    s = masked_fill(s, padded, -INFINITY);
  }
  Tensor probs = softmax(s, -1);
  if (p > 0) probs = dropout(probs, p, true, *gen);
  return matmul(probs, v);
}

void check_close(const Tensor& a, const Tensor& b, double tol, const std::string& what) {
  const double err = testing::relative_error(a, b);
  INFO(what << ": relative error " << err);
  CHECK(err <= tol);
}

}  // namespace

TEST_CASE("gradcheck: scaled_dot_product_attention without mask") {
  check_grad([](const Inputs& in) { return scaled_dot_product_attention(in[0], in[1], in[2]); },
             {rand_input({2, 2, 3, 4}, 1), rand_input({2, 2, 3, 4}, 2), rand_input({2, 2, 3, 4}, 3)});
}

TEST_CASE("gradcheck: scaled_dot_product_attention with a padding mask, Sq != Sk, custom scale") {
  // batch 0 keeps keys 0..2, batch 1 keeps 0 and 3 (a hole), batch 2 is all padding
  const Tensor mask = key_mask({1, 1, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0}, 3, 5);
  for (double scale : {0.0, 0.7}) {
    CAPTURE(scale);
    check_grad(
        [&](const Inputs& in) {
          return scaled_dot_product_attention(in[0], in[1], in[2], mask, AttentionOptions{.scale = scale});
        },
        {rand_input({3, 2, 4, 3}, 4), rand_input({3, 2, 5, 3}, 5), rand_input({3, 2, 5, 3}, 6)});
  }
}

TEST_CASE("gradcheck: scaled_dot_product_attention with dropout on the probabilities") {
  const Tensor mask = key_mask({1, 1, 1, 1, 1, 1, 0, 0}, 2, 4);
  check_grad(
      [&](const Inputs& in) {
        Generator gen(77);  // re-seeded: every evaluation draws the same mask
        return scaled_dot_product_attention(in[0], in[1], in[2], mask, {.dropout_p = 0.3, .training = true}, &gen);
      },
      {rand_input({2, 3, 4, 2}, 7), rand_input({2, 3, 4, 2}, 8), rand_input({2, 3, 4, 2}, 9)});
}

TEST_CASE("scaled_dot_product_attention equals softmax(q k^T / sqrt(d) + mask) v from basic ops") {
  const Tensor mask = key_mask({1, 1, 1, 0, 0, 1, 1, 1, 1, 1}, 2, 5);
  const Inputs in = {rand_input({2, 3, 4, 6}, 10, -2, 2), rand_input({2, 3, 5, 6}, 11, -2, 2),
                     rand_input({2, 3, 5, 6}, 12)};
  const Tensor R = rand_input({2, 3, 4, 6}, 13).detach();
  for (double p : {0.0, 0.4}) {
    for (bool with_mask : {false, true}) {
      CAPTURE(p);
      CAPTURE(with_mask);
      const Tensor m = with_mask ? mask : Tensor();
      Generator g1(5), g2(5);
      const Tensor fused =
          scaled_dot_product_attention(in[0], in[1], in[2], m, {.dropout_p = p, .training = true}, &g1);
      const Tensor ref = composed_attention(in[0], in[1], in[2], m, 1.0 / std::sqrt(6.0), p, &g2);
      CHECK(g1.offset() == g2.offset());  // both reserved one counter per probability
      check_close(fused, ref, 1e-13, "output");
      const auto gf = autograd::grad(sum(fused * R), in);
      const auto gr = autograd::grad(sum(ref * R), in);
      for (int i = 0; i < 3; ++i) check_close(gf[i], gr[i], 1e-12, "gradient of input " + std::to_string(i));
    }
  }
}

TEST_CASE("scaled_dot_product_attention: padded keys get no weight and no gradient, all-padding rows average v") {
  const Tensor mask = from_vector(std::vector<std::int64_t>{1, 1, 0, 0, 0, 0}, {2, 3}, TensorOptions{DType::i64});
  const Tensor q = rand_input({2, 1, 2, 4}, 20), k = rand_input({2, 1, 3, 4}, 21), v = rand_input({2, 1, 3, 4}, 22);
  const Tensor out = scaled_dot_product_attention(q, k, v, mask);
  // changing a padded key or value of batch 0 changes nothing
  Tensor v2 = v.detach().clone(), k2 = k.detach().clone();
  {
    NoGradGuard ng;
    double* pv = v2.data<double>();
    double* pk = k2.data<double>();
    for (int t = 0; t < 4; ++t) {
      pv[2 * 4 + t] += 10.0;
      pk[2 * 4 + t] -= 3.0;
    }
  }
  const Tensor out2 = scaled_dot_product_attention(q.detach(), k2, v2, mask);
  check_close(select(out2, 0, 0), select(out, 0, 0).detach(), 1e-15, "batch 0 with a changed padded key");
  // batch 1 is all padding: uniform weights, the mean of its values
  const Tensor mean_v = mean(select(select(v, 0, 1), 0, 0), 0, true);
  for (int i = 0; i < 2; ++i)
    check_close(select(select(select(out, 0, 1), 0, 0), 0, i), reshape(mean_v, {4}).detach(), 1e-14, "uniform row");
  const Tensor R = rand_input({2, 1, 2, 4}, 23).detach();
  const auto g = autograd::grad(sum(out * R), {q, k, v});
  const auto gk = g[1].to_vector<double>(), gv = g[2].to_vector<double>(), gq = g[0].to_vector<double>();
  for (int t = 0; t < 4; ++t) {
    CHECK(gk[2 * 4 + t] == 0.0);  // batch 0's padded key
    CHECK(gv[2 * 4 + t] == 0.0);  // batch 0's padded value
  }
  for (int e = 12; e < 24; ++e) CHECK(gk[e] == 0.0);  // batch 1's keys: the output ignores them
  for (int e = 8; e < 16; ++e) CHECK(gq[e] == 0.0);   // and its queries
}

TEST_CASE("scaled_dot_product_attention: dropout only in training, at about rate p") {
  const Tensor q = rand_input({1, 2, 3, 4}, 30).detach(), k = rand_input({1, 2, 5, 4}, 31).detach(),
               v = rand_input({1, 2, 5, 4}, 32).detach();
  Generator gen(3);
  const Tensor eval_out = scaled_dot_product_attention(q, k, v, Tensor(), {.dropout_p = 0.5, .training = false}, &gen);
  CHECK(gen.offset() == 0);  // nothing drawn in eval mode
  check_close(eval_out, scaled_dot_product_attention(q, k, v), 0.0, "eval mode");
  // a large case: the fraction of dropped probabilities is close to p
  const Tensor big = rand_input({2, 2, 64, 8}, 33).detach();
  Generator g1(9), g2(9);
  const Tensor probs = softmax(matmul(big, transpose(big, -1, -2)) / std::sqrt(8.0), -1);
  const Tensor dropped = dropout(probs, 0.25, true, g2);
  const double kept = mean(gt(dropped, zeros({}, f64_opts()))).item();
  CHECK(kept == doctest::Approx(0.75).epsilon(0.03));
  const Tensor fused = scaled_dot_product_attention(big, big, big, Tensor(), {.dropout_p = 0.25, .training = true}, &g1);
  check_close(fused, matmul(dropped, big), 1e-13, "fused vs composed at p = 0.25");
}

TEST_CASE("gradcheck: scaled_dot_product_attention, Recompute implementation (mask, all-padding item, dropout)") {
  const Tensor mask = key_mask({1, 1, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0}, 3, 5);
  const Inputs in = {rand_input({3, 2, 4, 3}, 70), rand_input({3, 2, 5, 3}, 71), rand_input({3, 2, 5, 3}, 72)};
  for (double p : {0.0, 0.3}) {
    CAPTURE(p);
    check_grad(
        [&](const Inputs& v) {
          Generator gen(78);  // re-seeded: every evaluation draws the same mask
          AttentionOptions o{.dropout_p = p, .training = true};
          o.impl = AttentionImpl::Recompute;
          return scaled_dot_product_attention(v[0], v[1], v[2], mask, o, &gen);
        },
        in);
  }
}

TEST_CASE("scaled_dot_product_attention: Recompute equals Saved (values, gradients, dropout, float64 and float32)") {
  const Tensor mask = key_mask({1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 1}, 3, 5);  // item 1 all padding
  for (DType dt : {DType::f64, DType::f32}) {
    CAPTURE(dtype_name(dt));
    Inputs in;
    for (const Tensor& t : {rand_input({3, 2, 4, 6}, 80, -2, 2), rand_input({3, 2, 5, 6}, 81, -2, 2),
                            rand_input({3, 2, 5, 6}, 82)}) {
      Tensor c = t.detach().to(dt);
      c.requires_grad_(true);
      in.push_back(c);
    }
    const Tensor R = rand_input({3, 2, 4, 6}, 83).detach().to(dt);
    const Tensor m = mask.to(dt);
    const double tol = dt == DType::f64 ? 1e-13 : 1e-5;
    for (double p : {0.0, 0.4}) {
      CAPTURE(p);
      AttentionOptions saved{.dropout_p = p, .training = true}, recompute = saved;
      saved.impl = AttentionImpl::Saved;
      recompute.impl = AttentionImpl::Recompute;
      Generator g1(6), g2(6);
      const Tensor a = scaled_dot_product_attention(in[0], in[1], in[2], m, saved, &g1);
      const Tensor b = scaled_dot_product_attention(in[0], in[1], in[2], m, recompute, &g2);
      CHECK(g1.offset() == g2.offset());  // the same counters: the same dropout mask
      check_close(b, a, tol, "output");
      const auto ga = autograd::grad(sum(a * R), in), gb = autograd::grad(sum(b * R), in);
      for (int i = 0; i < 3; ++i) check_close(gb[i], ga[i], tol * 10, "gradient of input " + std::to_string(i));
    }
  }
}

TEST_CASE("gradcheck: bias_gelu (erf and tanh forms) and equality with gelu(x + b)") {
  for (bool tanh_approx : {false, true}) {
    CAPTURE(tanh_approx);
    check_grad([tanh_approx](const Inputs& in) { return bias_gelu(in[0], in[1], tanh_approx); },
               {rand_input({2, 3, 5}, 40, -3, 3), rand_input({5}, 41)});
    const Inputs in = {rand_input({4, 6}, 42, -4, 4), rand_input({6}, 43)};
    const Tensor R = rand_input({4, 6}, 44).detach();
    const Tensor fused = bias_gelu(in[0], in[1], tanh_approx), ref = gelu(in[0] + in[1], tanh_approx);
    check_close(fused, ref, 1e-15, "forward");
    const auto gf = autograd::grad(sum(fused * R), in), gr = autograd::grad(sum(ref * R), in);
    check_close(gf[0], gr[0], 1e-14, "gx");
    check_close(gf[1], gr[1], 1e-14, "gbias");
  }
}

TEST_CASE("gradcheck: add_layer_norm and equality with layer_norm(x + residual)") {
  const Tensor gamma = rand_input({5}, 50, 0.5, 1.5), beta = rand_input({5}, 51);
  check_grad([](const Inputs& in) { return add_layer_norm(in[0], in[1], in[2], in[3], 1e-5); },
             {rand_input({2, 3, 5}, 52), rand_input({2, 3, 5}, 53), gamma, beta});
  check_grad([](const Inputs& in) { return add_layer_norm(in[0], in[1], Tensor(), Tensor(), 0.1); },
             {rand_input({4, 5}, 54), rand_input({4, 5}, 55)});
  // the same tensor as x and residual: its gradient is the sum of both paths
  check_grad([](const Inputs& in) { return add_layer_norm(in[0], in[0], in[1], Tensor(), 1e-5); },
             {rand_input({3, 5}, 56), gamma});
  const Inputs in = {rand_input({3, 4, 5}, 57), rand_input({3, 4, 5}, 58), gamma, beta};
  const Tensor R = rand_input({3, 4, 5}, 59).detach();
  const Tensor fused = add_layer_norm(in[0], in[1], in[2], in[3], 1e-12);
  const Tensor ref = layer_norm(in[0] + in[1], in[2], in[3], 1e-12);
  check_close(fused, ref, 1e-14, "forward");
  const auto gf = autograd::grad(sum(fused * R), in), gr = autograd::grad(sum(ref * R), in);
  for (int i = 0; i < 4; ++i) check_close(gf[i], gr[i], 1e-13, "gradient of input " + std::to_string(i));
}

TEST_CASE("fused Transformer ops: bad arguments are named errors") {
  const Tensor q = rand_input({2, 2, 3, 4}, 60).detach(), k = rand_input({2, 2, 5, 4}, 61).detach();
  auto throws_with = [](auto&& f, const std::string& needle) {
    try {
      f();
      FAIL("no error (expected one containing '" << needle << "')");
    } catch (const std::exception& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find(needle) != std::string::npos);
    }
  };
  throws_with([&] { scaled_dot_product_attention(reshape(q, {4, 3, 4}), k, k); }, "[batch, heads, seq, head_dim]");
  throws_with([&] { scaled_dot_product_attention(q, k, q); }, "k and v must have one shape");
  throws_with([&] { scaled_dot_product_attention(q, reshape(k, {2, 2, 4, 5}), reshape(k, {2, 2, 4, 5})); },
              "must agree on B, H and D");
  throws_with([&] { scaled_dot_product_attention(q, k, k, ones({2, 3}, f64_opts())); }, "key_mask must be [batch, kv_len]");
  throws_with([&] { scaled_dot_product_attention(q, k, k, Tensor(), {.dropout_p = 1.0, .training = true}); },
              "dropout_p must be in [0, 1)");
  throws_with([&] { scaled_dot_product_attention(q, k.to(DType::f32), k); }, "scaled_dot_product_attention");
  throws_with([&] { bias_gelu(q, ones({3}, f64_opts())); }, "bias_gelu: x must be [..., n]");
  throws_with([&] { add_layer_norm(q, k, Tensor(), Tensor()); }, "add_layer_norm: x and residual must share a shape");
  throws_with([&] { add_layer_norm(q, q, ones({3}, f64_opts()), Tensor()); }, "gamma and beta must be [4]");
}
