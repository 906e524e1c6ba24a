"""Reference cases for softmax, log_softmax, layer_norm and dropout (engine/ops_nn.cpp).

Op names match the C++ registry in tests/test_reference_nn.cpp.

Dropout: PyTorch's random numbers are not ours, so no case pretends they match. The
deterministic paths are compared with PyTorch (p = 0 and eval mode are the identity),
and the training path is compared with the mask rule documented in kernels/random.h,
computed here by an independent Python Philox4x32-10 (checked against the published
Random123 known-answer vectors below): keep element i iff its float32 uniform
u_i = (w0 >> 8) * 2^-24 of philox(seed, offset + i) is >= p, and scale survivors by 1/(1-p).
"""
import numpy as np
import torch
import torch.nn.functional as F

from generate_all import Case

g = torch.Generator().manual_seed(5)


def u(*shape, lo=-2.0, hi=2.0):
    return torch.rand(tuple(shape), generator=g, dtype=torch.float64) * (hi - lo) + lo


CASES = []

for name, fn in [("softmax", F.softmax), ("log_softmax", F.log_softmax)]:
    for axis in [-3, -2, -1, 0, 1, 2]:
        CASES.append(Case(f"{name}_{axis}", name, [u(2, 3, 4)], lambda x, a=axis, f=fn: f(x, dim=a), {"axis": axis}))
    CASES.append(Case(f"{name}_wide", name, [u(3, 7, lo=-30, hi=30)], lambda x, f=fn: f(x, dim=-1), {"axis": -1}))

# layer_norm over the last axis; inputs: x, then gamma and beta when present
for name, shape, has_gamma, has_beta, eps in [("full_3d", (2, 3, 5), True, True, 1e-5),
                                              ("gamma_2d", (4, 5), True, False, 1e-5),
                                              ("beta_2d", (4, 5), False, True, 1e-5),
                                              ("plain_3d_eps", (2, 2, 5), False, False, 0.1),
                                              ("full_1d", (6,), True, True, 1e-5)]:
    n = shape[-1]
    ins = [u(*shape)] + ([u(n, lo=0.5, hi=1.5)] if has_gamma else []) + ([u(n)] if has_beta else [])

    def fn(x, *wb, n=n, hg=has_gamma, hb=has_beta, eps=eps):
        w = wb[0] if hg else None
        b = wb[-1] if hb else None
        return F.layer_norm(x, (n,), w, b, eps)

    CASES.append(Case(f"layer_norm_{name}", "layer_norm", ins, fn, {"gamma": has_gamma, "beta": has_beta, "eps": eps}))

# ---------------------------------------------------------------- dropout
_MASK32 = 0xFFFFFFFF


def philox4x32_10(ctr, key):
    """Philox4x32-10 of Salmon et al. (2011) on a 4-word counter and a 2-word key."""
    c0, c1, c2, c3 = ctr
    k0, k1 = key
    for _ in range(10):
        p0 = 0xD2511F53 * c0
        p1 = 0xCD9E8D57 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0) & _MASK32, p1 & _MASK32, ((p0 >> 32) ^ c3 ^ k1) & _MASK32, p0 & _MASK32
        k0 = (k0 + 0x9E3779B9) & _MASK32
        k1 = (k1 + 0xBB67AE85) & _MASK32
    return c0, c1, c2, c3


# Random123's known-answer tests for philox4x32_10 (kat_vectors)
assert philox4x32_10((0, 0, 0, 0), (0, 0)) == (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)
assert philox4x32_10((_MASK32,) * 4, (_MASK32, _MASK32)) == (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)
assert philox4x32_10((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0)) == (
    0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)


def dropout_mask(n, p, seed, offset=0):
    """fusegrad's documented mask: element i uses counter offset + i, key = seed."""
    keep = np.empty(n, dtype=bool)
    for i in range(n):
        ctr = offset + i
        w0 = philox4x32_10((ctr & _MASK32, ctr >> 32, 0, 0), (seed & _MASK32, seed >> 32))[0]
        u32 = np.float32(w0 >> 8) * np.float32(1.0 / 16777216.0)
        keep[i] = u32 >= np.float32(p)
    return torch.from_numpy(np.where(keep, 1.0 / (1.0 - p), 0.0))


for name, shape, p, seed in [("p30", (4, 6), 0.3, 123), ("p75", (3, 5, 2), 0.75, 2**33 + 5),
                             ("p10", (50,), 0.1, 7)]:
    n = int(np.prod(shape))
    mask = dropout_mask(n, p, seed).reshape(shape)
    CASES.append(Case(f"dropout_philox_{name}", "dropout", [u(*shape)], lambda x, m=mask: x * m,
                      {"p": p, "seed": seed, "training": True}))

# deterministic paths, straight from PyTorch
CASES.append(Case("dropout_p0", "dropout", [u(3, 4)], lambda x: F.dropout(x, 0.0, training=True),
                  {"p": 0.0, "seed": 1, "training": True}))
CASES.append(Case("dropout_eval", "dropout", [u(3, 4)], lambda x: F.dropout(x, 0.5, training=False),
                  {"p": 0.5, "seed": 1, "training": False}))
