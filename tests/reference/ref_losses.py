"""Reference cases for the statistics ops (engine/ops_stats.cpp) and the estimators and
losses of losses/, written directly from the papers' formulas (and, for MFM's MMD and
MMIM's CPC, from what their public code computes) in PyTorch.

Op names match the C++ registry in tests/test_reference_losses.cpp.
"""
import math

import torch

from generate_all import Case

g = torch.Generator().manual_seed(5)


def u(*shape, lo=-1.0, hi=1.0):
    return torch.rand(tuple(shape), generator=g, dtype=torch.float64) * (hi - lo) + lo


def sqdist(x, y):
    return ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)


def rbf(x, y, gammas):
    d = sqdist(x, y)
    return sum(torch.exp(-gm * d) for gm in gammas)


def spd(b, k):
    s = u(b, k, k)
    return s @ s.transpose(-1, -2) + k * torch.eye(k, dtype=torch.float64)


def mmd(x, y, gammas, unbiased):
    kxx, kyy, kxy = rbf(x, x, gammas), rbf(y, y, gammas), rbf(x, y, gammas)
    if not unbiased:
        return kxx.mean() + kyy.mean() - 2 * kxy.mean()
    n, m = x.shape[0], y.shape[0]
    off = lambda k, c: (k.sum() - torch.diagonal(k).sum()) / (c * (c - 1))
    return off(kxx, n) + off(kyy, m) - 2 * kxy.mean()


def mfm_mmd(x, y):
    # MFM's public code: compute_kernel = exp(-mean_d (x - y)^2 / dim); compute_mmd = biased
    dim = x.shape[1]
    k = lambda a, b: torch.exp(-((a[:, None, :] - b[None, :, :]) ** 2).mean(2) / float(dim))
    return k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean()


def hsic(x, y, sx, sy):
    n = x.shape[0]
    k, l = rbf(x, x, [1 / (2 * sx * sx)]), rbf(y, y, [1 / (2 * sy * sy)])
    h = torch.eye(n, dtype=torch.float64) - 1.0 / n
    return torch.trace(k @ h @ l @ h) / (n - 1) ** 2


def nhsic(x, y, sx, sy):
    return hsic(x, y, sx, sy) / torch.sqrt(hsic(x, x, sx, sx) * hsic(y, y, sy, sy))


def cov(x):
    c = x - x.mean(0, keepdim=True)
    return c.T @ c / x.shape[0]


def gmm_entropy(feat, labels, jitter):
    pos, neg = feat[labels >= 0], feat[labels < 0]
    eye = torch.eye(feat.shape[1], dtype=torch.float64)
    return 0.25 * (torch.logdet(cov(pos) + jitter * eye) + torch.logdet(cov(neg) + jitter * eye))


def gauss_ll(y, mu, logvar, full):
    if full:
        return (-0.5 * ((y - mu) ** 2 / torch.exp(logvar) + logvar + math.log(2 * math.pi)).sum(1)).mean()
    # MMIM's code: positive = -(mu - y)**2 / 2. / torch.exp(logvar); lld = mean(sum(positive, -1))
    return (-(mu - y) ** 2 / 2.0 / torch.exp(logvar)).sum(-1).mean()


def cpc(fusion, x, w, b, temperature):
    # MMIM's CPC: x_pred = net(fusion); both L2-normalized; nce = -(pos - logsumexp(x @ x_pred^T)).mean()
    x_pred = fusion @ w.T + b
    x_pred = x_pred / (x_pred.norm(dim=1, keepdim=True) + 1e-12)
    x = x / (x.norm(dim=1, keepdim=True) + 1e-12)
    scores = x @ x_pred.T / temperature
    return -(torch.diagonal(scores) - torch.logsumexp(scores, dim=-1)).mean()


def weighted_cross_cov(z, uu, y):
    yc = 1 - y[:, None]
    w = yc / (yc.sum() + 1e-12)
    zc, uc = z - (w * z).sum(0, keepdim=True), uu - (w * uu).sum(0, keepdim=True)
    return ((w * zc).T @ uc).pow(2).sum()


def bern_kl(y, rho):
    yb = y.mean().clamp(1e-6, 1 - 1e-6)
    return yb * torch.log(yb / rho) + (1 - yb) * torch.log((1 - yb) / (1 - rho))


def poe(mu1, lv1, mu2, lv2, eps=1e-8):
    t1, t2 = 1 / (torch.exp(lv1) + eps), 1 / (torch.exp(lv2) + eps)
    prec = 1 + t1 + t2
    return (mu1 * t1 + mu2 * t2) / prec, -torch.log(prec)


labels = torch.tensor([1.0, -1.0, 0.5, -2.0, 3.0, -0.5, 1.0, -1.0, 2.0, -3.0, 0.0, -0.1], dtype=torch.float64)
mask_len = torch.tensor([3, 1, 2], dtype=torch.int64)

CASES = [
    Case("rbf_gram_1", "rbf_gram", [u(4, 3), u(5, 3)], lambda x, y: rbf(x, y, [0.7]), {"gammas": [0.7]}),
    Case("rbf_gram_3", "rbf_gram", [u(6, 2), u(3, 2)], lambda x, y: rbf(x, y, [0.1, 1.0, 3.0]),
         {"gammas": [0.1, 1.0, 3.0]}),
    Case("logdet_spd_1", "logdet_spd", [spd(1, 3)[0]], torch.logdet, {"jitter": 0.0}),
    Case("logdet_spd_batch", "logdet_spd", [spd(3, 4)], torch.logdet, {"jitter": 0.0}),
    Case("mmd_biased", "mmd", [u(6, 3), u(5, 3)], lambda x, y: mmd(x, y, [0.5, 2.0], False),
         {"gammas": [0.5, 2.0], "unbiased": False}),
    Case("mmd_unbiased", "mmd", [u(6, 3), u(5, 3)], lambda x, y: mmd(x, y, [0.5, 2.0], True),
         {"gammas": [0.5, 2.0], "unbiased": True}),
    Case("mmd_mfm", "mmd_mfm", [u(6, 4), u(6, 4)], mfm_mmd),
    Case("hsic", "hsic", [u(7, 3), u(7, 2)], lambda x, y: hsic(x, y, 0.8, 1.3), {"sx": 0.8, "sy": 1.3}),
    Case("normalized_hsic", "normalized_hsic", [u(7, 3), u(7, 2)], lambda x, y: nhsic(x, y, 0.8, 1.3),
         {"sx": 0.8, "sy": 1.3}),
    Case("dv", "dv", [u(6), u(5)], lambda a, b: a.mean() - torch.log(torch.exp(b).mean())),
    Case("nwj", "nwj", [u(6), u(5)], lambda a, b: a.mean() - torch.exp(b - 1).mean()),
    Case("wasserstein", "wasserstein", [u(6), u(5)], lambda a, b: a.mean() - b.mean()),
    Case("info_nce", "info_nce", [u(5, 5, lo=-2, hi=2)],
         lambda s: math.log(5) + (torch.diagonal(s) - torch.logsumexp(s, 1)).mean()),
    Case("gauss_ll_full", "gauss_ll", [u(4, 3), u(4, 3), u(4, 3)], lambda y, m, v: gauss_ll(y, m, v, True),
         {"full": True}),
    Case("gauss_ll_mmim", "gauss_ll", [u(4, 3), u(4, 3), u(4, 3)], lambda y, m, v: gauss_ll(y, m, v, False),
         {"full": False}),
    Case("gmm_entropy", "gmm_entropy", [u(12, 2), labels], lambda f, l: gmm_entropy(f, l, 1e-6),
         {"jitter": 1e-6}),
    Case("cpc", "cpc", [u(5, 4), u(5, 3), u(3, 4), u(3)], lambda f, x, w, b: cpc(f, x, w, b, 0.5),
         {"temperature": 0.5}),
    Case("weighted_cross_cov", "weighted_cross_cov", [u(6, 3), u(6, 2), u(6, lo=0.1, hi=0.9)], weighted_cross_cov),
    Case("bernoulli_kl", "bernoulli_kl", [u(8, lo=0.2, hi=0.9)], lambda y: bern_kl(y, 0.3), {"rho": 0.3}),
    Case("alignment_sse", "alignment_sse", [u(4, 3), u(4, 3)], lambda z, v: ((z - v) ** 2).sum(1).mean()),
    Case("global_norm", "global_norm", [u(4, 3)], lambda z: (z ** 2).sum(1).mean()),
    Case("masked_sse", "masked_sse", [u(3, 3, 2), u(3, 3, 2), mask_len],
         lambda x, xh, ln: (((x - xh) ** 2).sum(2) * (torch.arange(3)[None, :] < ln[:, None])).sum(1).mean()),
    Case("kl_standard", "kl_standard", [u(3, 4), u(3, 4)],
         lambda m, v: (0.5 * (torch.exp(v) + m ** 2 - 1 - v).sum(1)).mean()),
    Case("kl_gaussians", "kl_gaussians", [u(3, 2), u(3, 2), u(3, 2), u(3, 2)],
         lambda m1, v1, m2, v2: (0.5 * (v2 - v1 + (torch.exp(v1) + (m1 - m2) ** 2) / torch.exp(v2) - 1).sum(1)).mean()),
    Case("poe_mu", "poe_mu", [u(3, 2), u(3, 2), u(3, 2), u(3, 2)], lambda a, b, c, d: poe(a, b, c, d)[0]),
    Case("poe_logvar", "poe_logvar", [u(3, 2), u(3, 2), u(3, 2), u(3, 2)], lambda a, b, c, d: poe(a, b, c, d)[1]),
]
