"""Reference cases for MMB1/MMB2 (models/mmb.h, paper 000), checked by tests/test_mmb.cpp.

mmb_loss: the end-to-end loss L = lw * mean_i(-log p_i) + (1 - lw) * mean_i |head(m_i) - y_i|
written directly in PyTorch (float64): the angular word model with torch.acos, and the Gaussian
terms as the masked sum over steps and features of log N(x_t; mu, sigma^2) (the C++ code uses
per-utterance sufficient statistics instead: a different computation of the same value).

mmb_closed_form: eq. 43 of the paper's appendix evaluated directly with numpy, step by step
(no sufficient statistics), unit-normalised; no gradients.

Inputs, in order: m [B, D], text/acoustic/visual targets [B, T, D_r], mask [B, T],
vocabulary vectors [R, D], word ids [B, T] (int64), c [B, T] (p(w) or psi_w), psi [B, T],
labels [B], norm weight/bias [D] (mmb_loss with norm only), head W1 [H, D], b1 [H], W2 [1, H],
b2 [1] (mmb_loss only), then per generator W_mu [D_k, D], b_mu [D_k], W_s [D_k, D], b_s [D_k]
(rows in the target's role order).
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

from generate_all import Case

g = torch.Generator().manual_seed(11)
TARGETS = {"mmb1": [[1], [2]], "mmb2": [[1], [2], [1, 2], [0, 1], [0, 2], [0, 1, 2]]}
B, T, D, R, TRAIN_TYPES, H = 3, 4, 6, 7, 5, 5
DIMS = [6, 2, 3]
LENGTHS = [4, 2, 3]
A = 1e-3


def u(*shape, lo=-1.0, hi=1.0):
    return torch.rand(tuple(shape), generator=g, dtype=torch.float64) * (hi - lo) + lo


def make_inputs(variant, norm, head):
    mask = torch.tensor([[1.0 if t < L else 0.0 for t in range(T)] for L in LENGTHS], dtype=torch.float64)
    xs = [u(B, T, d) * mask[:, :, None] for d in DIMS]
    ids = torch.randint(0, R, (B, T), generator=g) * mask.long()
    c = u(B, T, lo=0.01, hi=0.3) * mask
    psi = u(B, T, lo=0.1, hi=1.0) * mask
    ins = [u(B, D), *xs, mask, u(R, D), ids, c, psi, u(B, lo=-3, hi=3)]
    if norm:
        ins += [u(D, lo=0.5, hi=1.5), u(D, lo=-0.2, hi=0.2)]
    if head:
        ins += [u(H, D), u(H), u(1, H), u(1)]
    for roles in TARGETS[variant]:
        dk = sum(DIMS[r] for r in roles)
        ins += [u(dk, D, lo=-0.5, hi=0.5), u(dk, lo=-0.3, hi=0.3), u(dk, D, lo=-0.3, hi=0.3), u(dk, lo=-0.3, hi=0.3)]
    return ins


def loss_fn(variant, norm, word_weight, lw):
    K = len(TARGETS[variant])

    def fn(m, xt, xa, xv, mask, vocab, ids, c, psi, y, *rest):
        rest = list(rest)
        if norm:
            nw, nb = rest[0], rest[1]
            rest = rest[2:]
        w1, b1, w2, b2 = rest[:4]
        gens = rest[4:]
        xs = [xt, xa, xv]
        cos = F.normalize(m, dim=1) @ F.normalize(vocab, dim=1).T
        s = 1.0 - torch.acos(cos) / math.pi
        Z = s[:, :TRAIN_TYPES].sum(1, keepdim=True)
        alpha = 1.0 / (1.0 + A * Z)
        st = s.gather(1, ids)
        inner = alpha * c + (1.0 - alpha) * st / Z
        word = (torch.log(inner) * mask).sum(1)
        mt = F.layer_norm(m, (D,), nw, nb, 1e-5) if norm else m
        gauss = torch.zeros(B, dtype=torch.float64)
        for k, roles in enumerate(TARGETS[variant]):
            wm, bm, ws, bs = gens[4 * k:4 * k + 4]
            x = torch.cat([xs[r] for r in roles], dim=2)  # [B, T, D_k]
            mu = mt @ wm.T + bm
            ls = mt @ ws.T + bs
            logn = -ls[:, None, :] - 0.5 * math.log(2 * math.pi) - (x - mu[:, None, :]) ** 2 / (2 * torch.exp(2 * ls[:, None, :]))
            gauss = gauss + (logn * mask[:, :, None]).sum((1, 2))
        log_p = word_weight * word + (1.0 - word_weight) / K * gauss
        pred = (torch.relu(m @ w1.T + b1) @ w2.T + b2).squeeze(1)
        return lw * (-log_p).mean() + (1.0 - lw) * (pred - y).abs().mean()

    return fn


def closed_fn(variant, weights, word_weight):
    K = len(TARGETS[variant])

    def fn(m, xt, xa, xv, mask, vocab, ids, c, psi, y, *gens):
        xs = [x.detach().numpy() for x in (xt, xa, xv)]
        mk, V, I, P = mask.numpy(), vocab.numpy(), ids.numpy(), psi.numpy()
        gs = [t.detach().numpy() for t in gens]
        out = np.zeros((B, D))
        for i in range(B):
            acc = np.zeros(D)
            for t in range(T):
                if mk[i, t] == 0:
                    continue
                wpsi = P[i, t] * (word_weight if weights == "paper" else 1.0)
                acc += wpsi * V[I[i, t]]
                for k, roles in enumerate(TARGETS[variant]):
                    wm, bm, ws, bs = gs[4 * k:4 * k + 4]
                    x = np.concatenate([xs[r][i, t] for r in roles])
                    q1 = (x - bm) / np.exp(2 * bs)
                    q2 = (x - bm) ** 2 / np.exp(2 * bs) - 1.0
                    ak = (1.0 - word_weight) / K if weights == "paper" else 1.0
                    acc += ak * (wm.T @ q1 + ws.T @ q2)
            out[i] = acc / np.linalg.norm(acc)
        return torch.from_numpy(out)

    return fn


CASES = []
for name, variant, norm, ww, lw in [("mmb2_layer", "mmb2", True, 0.3, 0.4), ("mmb1_none", "mmb1", False, 0.002, 1e-3),
                                    ("mmb2_none", "mmb2", False, 0.5, 0.9)]:
    CASES.append(Case(f"loss_{name}", "mmb_loss", make_inputs(variant, norm, True), loss_fn(variant, norm, ww, lw),
                      {"variant": variant, "norm": norm, "word_weight": ww, "likelihood_weight": lw}))
for variant in ["mmb1", "mmb2"]:
    for weights in ["paper", "code"]:
        CASES.append(Case(f"closed_{variant}_{weights}", "mmb_closed_form", make_inputs(variant, False, False),
                          closed_fn(variant, weights, 0.2), {"variant": variant, "weights": weights, "word_weight": 0.2},
                          grad=False))
