"""Reference cases for paper 004's models (models/ima.h): IMA's two stages (eq. 1-4), JMVAE-KL,
MVAE and the multimodal DAE, written here in plain PyTorch from the equations (docs/ima.md).

Each model: per modality an encoder nn.Sequential(Linear(D, h), ReLU, Linear(h, h), ReLU,
Linear(h, out)) named enc_<m>, a decoder dec_<m> of the same shape from the latent size d
(outputs are logits for BCE), IMA's importance networks imp_<m> (out = 1, sigmoid), JMVAE's
joint encoder enc_joint on [x_1, x_2] with h_1 + h_2 units, the DAE's Linear fuse(2d, d).

Inputs of a case: the modality inputs [B, D_m] in (0, 1), the case's N(0, I) draws or masks,
then every parameter in the order of params.param_names. Output: [total, terms...] in the C++
order. tests/test_ima.cpp loads the parameters by name and compares the output and the
gradients of the inputs and of every parameter.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from generate_all import Case
from ref_mfn import set_param

g = torch.Generator().manual_seed(1601)
NAMES = ["image", "speech"]
DIMS = [5, 4]
HID = [4, 3]
D = 3
B = 6


def u(*shape, lo=-1.0, hi=1.0):
    return torch.rand(tuple(shape), generator=g, dtype=torch.float64) * (hi - lo) + lo


def mlp(i, h, o):
    return nn.Sequential(nn.Linear(i, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, o))


def rec(kind, x, out):
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(out, x, reduction="sum") / x.shape[0]
    return ((x - out) ** 2).sum() / x.shape[0]


def kl_std(mu, lv):
    return 0.5 * (lv.exp() + mu ** 2 - 1 - lv).sum(1).mean()


def kl2(m1, l1, m2, l2):
    return 0.5 * (l2 - l1 + (l1.exp() + (m1 - m2) ** 2) / l2.exp() - 1).sum(1).mean()


def fuse(us, ys):
    num = sum(y[:, None] * uu for uu, y in zip(us, ys))
    return num / (sum(y[:, None] for y in ys) + 1e-8)


def corr(z, uu, y):
    yc = (1 - y)[:, None]
    w = yc / (yc.sum() + 1e-12)
    zc = z - (w * z).sum(0, keepdim=True)
    uc = uu - (w * uu).sum(0, keepdim=True)
    return ((w * zc).t() @ uc).pow(2).sum()


def bern_kl(y, rho, eps=1e-6):
    yb = y.mean().clamp(eps, 1 - eps)
    return yb * torch.log(yb / rho) + (1 - yb) * torch.log((1 - yb) / (1 - rho))


class TorchIMA(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        for n, i, h in zip(NAMES, DIMS, HID):
            setattr(self, f"enc_{n}", mlp(i, h, D))
        for n, i, h in zip(NAMES, DIMS, HID):
            setattr(self, f"dec_{n}", mlp(D, h, i))
        for n, i, h in zip(NAMES, DIMS, HID):
            setattr(self, f"imp_{n}", mlp(i, h, 1))

    def forward(self, xs):
        c = self.cfg
        us = [getattr(self, f"enc_{n}")(x) for n, x in zip(NAMES, xs)]
        ys = [torch.sigmoid(getattr(self, f"imp_{n}")(x)[:, 0]) for n, x in zip(NAMES, xs)]
        if c["stage"] == 1:
            z = fuse(us, [y.detach() for y in ys])
            glob = (z ** 2).sum(1).mean()
            total = c["lambda_glob"] * glob
            terms = [glob]
            for j, (n, x) in enumerate(zip(NAMES, xs)):
                r = rec(c["recon"], x, getattr(self, f"dec_{n}")(z))
                total = total + c["lambda_rec"][j] * r
                terms.append(r)
            for j, uu in enumerate(us):
                a = ((z - uu) ** 2).sum(1).mean()
                total = total + c["lambda_align"][j] * a
                terms.append(a)
            return torch.stack([total] + terms)
        ud = [uu.detach() for uu in us]
        z = fuse(ud, [y.detach() for y in ys])
        total, terms = 0, []
        for j, (uu, y) in enumerate(zip(ud, ys)):
            lo = bern_kl(y, c["rho"][j])
            co = corr(z, uu, y)
            if c["corr_normalize"]:
                co = co / (corr(z, uu, torch.zeros_like(y)).detach() + 1e-12)
            total = total + c["lambda_local"][j] * lo + c["lambda_corr"][j] * co
            terms += [lo, co]
        return torch.stack([total] + terms)


class TorchJMVAE(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.enc_joint = mlp(sum(DIMS), sum(HID), 2 * D)
        for n, i, h in zip(NAMES, DIMS, HID):
            setattr(self, f"enc_{n}", mlp(i, h, 2 * D))
        for n, i, h in zip(NAMES, DIMS, HID):
            setattr(self, f"dec_{n}", mlp(D, h, i))

    def forward(self, xs, eps):
        c = self.cfg
        q = self.enc_joint(torch.cat(xs, 1))
        mu, lv = q[:, :D], q[:, D:]
        z = mu + (0.5 * lv).exp() * eps
        kl = kl_std(mu, lv)
        total = c["beta"] * kl
        terms = []
        for n, x in zip(NAMES, xs):
            r = rec(c["recon"], x, getattr(self, f"dec_{n}")(z))
            total = total + r
            terms.append(r)
        terms.append(kl)
        for n, x in zip(NAMES, xs):
            qj = getattr(self, f"enc_{n}")(x)
            t = kl2(mu, lv, qj[:, :D], qj[:, D:])
            total = total + c["alpha"] * t
            terms.append(t)
        return torch.stack([total] + terms)


def poe(experts, eps=1e-8):
    prec = torch.ones_like(experts[0][0])
    wmu = torch.zeros_like(experts[0][0])
    for mu, lv in experts:
        t = 1.0 / (lv.exp() + eps)
        prec = prec + t
        wmu = wmu + mu * t
    return wmu / prec, -torch.log(prec)


class TorchMVAE(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        for n, i, h in zip(NAMES, DIMS, HID):
            setattr(self, f"enc_{n}", mlp(i, h, 2 * D))
        for n, i, h in zip(NAMES, DIMS, HID):
            setattr(self, f"dec_{n}", mlp(D, h, i))

    def forward(self, xs, eps):
        c = self.cfg
        qs = [getattr(self, f"enc_{n}")(x) for n, x in zip(NAMES, xs)]
        qs = [(q[:, :D], q[:, D:]) for q in qs]
        total, terms = 0, []
        for s, present in enumerate([[0, 1], [0], [1]]):
            mu, lv = poe([qs[j] for j in present])
            z = mu + (0.5 * lv).exp() * eps[s]
            kl = kl_std(mu, lv)
            terms.append(kl)
            elbo = c["beta"] * kl
            for j in present:
                r = rec(c["recon"], xs[j], getattr(self, f"dec_{NAMES[j]}")(z))
                elbo = elbo + r
                terms.append(r)
            total = total + elbo
        return torch.stack([total] + terms)


class TorchDAE(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        for n, i, h in zip(NAMES, DIMS, HID):
            setattr(self, f"enc_{n}", mlp(i, h, D))
        for n, i, h in zip(NAMES, DIMS, HID):
            setattr(self, f"dec_{n}", mlp(D, h, i))
        self.fuse = nn.Linear(2 * D, D)

    def forward(self, xs, keep):
        c = self.cfg
        us = [getattr(self, f"enc_{n}")(x * k) for n, x, k in zip(NAMES, xs, keep)]
        z = self.fuse(torch.cat(us, 1))
        terms = [rec(c["recon"], x, getattr(self, f"dec_{n}")(z)) for n, x in zip(NAMES, xs)]
        return torch.stack([sum(terms)] + terms)


CASES = []
IMA_BASE = {"corr_normalize": False, "lambda_glob": 0.7, "lambda_rec": [1.0, 0.5], "lambda_align": [0.3, 1.2], "rho": [0.8, 0.3],
            "lambda_local": [1.0, 0.6], "lambda_corr": [2.0, 1.0]}
SPECS = [
    ("ima_stage1_bce", "ima", dict(IMA_BASE, stage=1, recon="bce"), 0),
    ("ima_stage1_sse", "ima", dict(IMA_BASE, stage=1, recon="sse"), 0),
    ("ima_stage2", "ima", dict(IMA_BASE, stage=2, recon="bce"), 0),
    ("ima_stage2_normalized", "ima", dict(IMA_BASE, stage=2, recon="bce", corr_normalize=True), 0),
    ("jmvae", "jmvae", {"recon": "bce", "alpha": 0.3, "beta": 0.7}, 1),
    ("mvae", "mvae", {"recon": "bce", "beta": 0.5}, 3),
    ("dae", "dae", {"recon": "bce"}, 2),
]
for case, kind, cfg, extra in SPECS:
    model = {"ima": TorchIMA, "jmvae": TorchJMVAE, "mvae": TorchMVAE, "dae": TorchDAE}[kind](cfg)
    param_names = [n for n, _ in model.named_parameters()]
    ins = [u(B, d, lo=0.02, hi=0.98) for d in DIMS]
    if kind in ("jmvae", "mvae"):
        ins += [torch.randn(B, D, generator=g, dtype=torch.float64) for _ in range(extra)]
    elif kind == "dae":
        ins += [(torch.rand(B, d, generator=g) >= 0.3).to(torch.float64) for d in DIMS]
    ins += [u(*p.shape) * 1.5 / p.shape[-1] ** 0.5 if p.dim() >= 2 else u(*p.shape, lo=-0.3, hi=0.3)
            for _, p in model.named_parameters()]

    def fn(*args, model=model, kind=kind, param_names=param_names, extra=extra):
        xs = list(args[:2])
        ex = list(args[2:2 + extra])
        for n, p in zip(param_names, args[2 + extra:]):
            set_param(model, n, p)
        if kind == "ima":
            return model(xs)
        if kind == "jmvae":
            return model(xs, ex[0])
        return model(xs, ex)

    params = dict(cfg)
    params.update({"kind": kind, "param_names": param_names, "num_extra": extra, "modalities": NAMES,
                   "input_dims": DIMS, "hidden": HID, "latent": D})
    CASES.append(Case(case, kind, ins, fn, params))
