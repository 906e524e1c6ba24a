"""Reference cases for MFM (models/mfm.h, paper 001) and its ablations, written here in plain
PyTorch the way the authors' code builds it: TorchMFN (ref_mfn.py) for Q(Z_y | X), a packed
nn.LSTM per modality + Linear for Q(Z_a_i | X_i), G = ReLU(FC2(ReLU(FC1(z)))), D =
FC2(ReLU(FC1(f_y))), decoders nn.LSTMCell fed [F_y, F_a_i] at step 0 and their own h after,
a Linear to the features at every step; the objective eq. 4 with masked MSE, L1 and the
code's MMD kernel exp(-mean_d (x - y)^2 / dim) (biased), one MMD per factor or one on the
concatenated Z.

Inputs of a case: the features [B, T, D_m]; lengths int64 [B]; present [B, M]; labels [B];
the N(0, I) draws (one per factor, or one for the joint placement); then every parameter in
the order of params.param_names. Output: [total, l1, recon_<m>..., mmd] (the terms the
variant has, unweighted; total weighted). Eval mode (no dropout).
tests/test_reference_mfm.cpp builds the same model, loads the parameters by name and compares
the output and the gradients of the features and of every parameter.
"""
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence

from generate_all import Case
from ref_mfn import TorchMFN, set_param

g = torch.Generator().manual_seed(1401)


def u(*shape, lo=-1.0, hi=1.0):
    return torch.rand(tuple(shape), generator=g, dtype=torch.float64) * (hi - lo) + lo


def gnet(i, o):
    return nn.Sequential(nn.Linear(i, o), nn.ReLU(), nn.Linear(o, o), nn.ReLU())


def mmd_code(x, y):
    def k(a, b):
        return torch.exp(-((a[:, None, :] - b[None, :, :]) ** 2).mean(-1) / a.shape[1])
    return k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean()


MFN_BASE = {"attention_hidden": 4, "memory_hidden": 3, "gamma1_hidden": 3, "gamma2_hidden": 3, "memory_size": 3,
            "attention_dropout": 0.0, "memory_dropout": 0.0, "gamma1_dropout": 0.0, "gamma2_dropout": 0.0,
            "output_dropout": 0.0, "output_hidden": [3]}


class TorchMFM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        v = cfg["variant"]
        self.cfg = cfg
        names, dims = cfg["modalities"], cfg["input_dims"]
        self.names = names
        self.has_zy = v in ("full", "A", "C", "E")
        self.specific = v in ("full", "B", "D")
        self.gen = v not in ("D", "E")
        sz, sf = sum(cfg["za"]), sum(cfg["fa"])
        mfn_cfg = dict(MFN_BASE)
        mfn_cfg.update({"modality_names": names, "input_sizes": dims, "hidden_sizes": cfg["hidden"]})
        if self.has_zy:
            self.mfn = TorchMFN(dict(mfn_cfg, output_size=cfg["zy"]))
        if v == "A":
            self.mfn_a = TorchMFN(dict(mfn_cfg, output_size=sz))
        if self.specific:
            for n, i, h, z in zip(names, dims, cfg["encoder_hidden"], cfg["za"]):
                setattr(self, f"enc_{n}", nn.LSTM(i, h, batch_first=True))
                setattr(self, f"za_{n}", nn.Linear(h, z))
        if self.has_zy:
            self.g_y = gnet(cfg["zy"], cfg["fy"])
        if self.specific:
            for n, z, f in zip(names, cfg["za"], cfg["fa"]):
                setattr(self, f"g_a_{n}", gnet(z, f))
        if v == "A":
            self.g_a = gnet(sz, sf)
        head = cfg["fy"] if self.has_zy else sf
        self.d = nn.Sequential(nn.Linear(head, head), nn.ReLU(), nn.Linear(head, 1))
        if self.gen:
            for m, (n, dim) in enumerate(zip(names, dims)):
                w = {"full": cfg["fy"] + cfg["fa"][m], "A": cfg["fy"] + sf, "B": cfg["fa"][m], "C": cfg["fy"]}[v]
                setattr(self, f"dec_{n}", nn.LSTMCell(w, w))
                setattr(self, f"dec_out_{n}", nn.Linear(w, dim))

    def forward(self, xs, lengths, present, labels, prior):
        v, cfg = self.cfg["variant"], self.cfg
        xs_in = [x * present[:, m, None, None] for m, x in enumerate(xs)]
        factors, f_a = [], []
        f_y = None
        if self.has_zy:
            zy = self.mfn(xs_in, lengths)
            factors.append(zy)
            f_y = self.g_y(zy)
        if v == "A":
            za = self.mfn_a(xs_in, lengths)
            factors.append(za)
            f_a.append(self.g_a(za))
        if self.specific:
            for n, x in zip(self.names, xs_in):
                packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
                _, (h, _) = getattr(self, f"enc_{n}")(packed)
                za = getattr(self, f"za_{n}")(h[-1])
                factors.append(za)
                f_a.append(getattr(self, f"g_a_{n}")(za))
        head_in = f_y if f_y is not None else torch.cat(f_a, 1)
        pred = self.d(head_in)[:, 0]
        l1 = (pred - labels).abs().mean()
        terms = [l1]
        total = l1
        if self.gen:
            B, T = xs[0].shape[:2]
            mask = (torch.arange(T)[None, :] < lengths[:, None]).to(torch.float64)
            for m, (n, x) in enumerate(zip(self.names, xs)):
                init = {"full": lambda: torch.cat([f_y, f_a[m]], 1), "A": lambda: torch.cat([f_y, f_a[0]], 1),
                        "B": lambda: f_a[m], "C": lambda: f_y}[v]()
                cell = getattr(self, f"dec_{n}")
                h = torch.zeros_like(init)
                c = torch.zeros_like(init)
                inp, hs = init, []
                for _ in range(T):
                    h, c = cell(inp, (h, c))
                    inp = h
                    hs.append(h)
                xh = getattr(self, f"dec_out_{n}")(torch.stack(hs, 1))
                w = mask * present[:, m, None]
                r = ((x - xh) ** 2 * w[:, :, None]).sum() / (w.sum().clamp(min=1) * x.shape[2])
                terms.append(r)
                total = total + cfg["lambda_recon"][m] * r
            if cfg["placement"] == "joint":
                mmd = mmd_code(torch.cat(factors, 1), prior[0])
            else:
                mmd = sum(mmd_code(z, p) for z, p in zip(factors, prior))
            terms.append(mmd)
            total = total + cfg["lambda_mmd"] * mmd
        return torch.stack([total] + terms)


BASE = {"modalities": ["text", "acoustic", "visual"], "input_dims": [4, 3, 2], "hidden": [3, 2, 2],
        "encoder_hidden": [3, 2, 2], "zy": 3, "za": [2, 2, 3], "fy": 2, "fa": [3, 2, 2],
        "lambda_recon": [1.0, 0.01, 0.5], "lambda_mmd": 1.0, "placement": "per_factor"}

CASES = []
SPECS = [  # (case, overrides)
    ("full_per_factor", {"variant": "full"}),
    ("full_joint", {"variant": "full", "placement": "joint"}),
    ("A", {"variant": "A"}),
    ("B", {"variant": "B"}),
    ("C", {"variant": "C", "placement": "joint"}),
    ("D", {"variant": "D"}),
    ("E", {"variant": "E"}),
]
B, T = 4, 4
LENGTHS = [4, 2, 3, 1]

for case, overrides in SPECS:
    cfg = dict(BASE)
    cfg.update(overrides)
    model = TorchMFM(cfg)
    model.eval()
    param_names = [n for n, _ in model.named_parameters()]
    M = 3
    ins = [u(B, T, cfg["input_dims"][m]) for m in range(M)]
    ins.append(torch.tensor(LENGTHS))
    present = torch.ones(B, M, dtype=torch.float64)
    present[1, 2] = 0.0
    ins.append(present)
    ins.append(u(B, lo=-3, hi=3))
    v = cfg["variant"]
    widths = ([cfg["zy"]] if v in ("full", "A", "C", "E") else []) + ([sum(cfg["za"])] if v == "A" else []) + \
        (cfg["za"] if v in ("full", "B", "D") else [])
    if v in ("D", "E"):
        widths = []
    if cfg["placement"] == "joint" and widths:
        widths = [sum(widths)]
    ins += [torch.randn(B, w, generator=g, dtype=torch.float64) for w in widths]
    P = len(widths)
    ins += [u(*p.shape) * 1.5 / p.shape[-1] ** 0.5 if p.dim() >= 2 else u(*p.shape, lo=0.05, hi=0.5)
            for _, p in model.named_parameters()]

    def fn(*args, model=model, param_names=param_names, P=P):
        xs, lengths, present, labels = list(args[:3]), args[3], args[4], args[5]
        prior = list(args[6:6 + P])
        for n, p in zip(param_names, args[6 + P:]):
            set_param(model, n, p)
        return model(xs, lengths, present, labels, prior)

    params = dict(cfg)
    params.update({"param_names": param_names, "num_prior": P, "B": B, "T": T})
    CASES.append(Case(f"mfm_{case}", "mfm", ins, fn, params))
