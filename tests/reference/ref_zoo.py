"""Reference cases for the model zoo (models/zoo.h): EF-LSTM, TFN, LMF, MFN (wrapped) and
late fusion, each written here in plain PyTorch the way MMSA / the authors write it (packed
nn.LSTM for lengths, MMSA's bmm-free einsum outer product for TFN, MMSA's matmul of
[1; h_m] with the [r, d_m + 1, d_h] factors for LMF), with the missing-modality rule of
models/sentiment.h (present[:, m] multiplies the modality's encoding, or its input for
EF-LSTM and MFN).

Inputs of a case: the modality features [B, T_m, D_m]; the lengths (one int64 [B] when
aligned, one per modality when not); present float64 [B, M]; then every parameter in the
order of params.param_names (so the fixture has every parameter's gradient). The output is
cat([prediction[:, None], z], 1): the prediction and the fused representation together.
Every case runs in eval mode. tests/test_reference_zoo.cpp builds the same model, loads
the parameters by name and compares output and gradients.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence

from generate_all import Case
from ref_mfn import TorchMFN, set_param

g = torch.Generator().manual_seed(31)


def u(*shape, lo=-1.0, hi=1.0):
    return torch.rand(tuple(shape), generator=g, dtype=torch.float64) * (hi - lo) + lo


def masked_mean(x, lengths):
    T = x.shape[1]
    mask = (torch.arange(T)[None, :] < lengths[:, None]).to(x.dtype)
    return (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)


def lstm_final(lstm, x, lengths):
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    _, (h, _) = lstm(packed)
    return h[-1]  # the last layer, at each sequence's own length


class EFLSTM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.lstm = nn.LSTM(sum(cfg["input_dims"]), cfg["fused_hidden"], num_layers=cfg["num_layers"],
                            batch_first=True)
        self.linear = nn.Linear(cfg["fused_hidden"], cfg["fused_hidden"])
        self.out = nn.Linear(cfg["fused_hidden"], 1)

    def forward(self, xs, lens, present):
        x = torch.cat([xm * present[:, m, None, None] for m, xm in enumerate(xs)], 2)
        z = lstm_final(self.lstm, x, lens[0])
        return z, self.out(F.relu(self.linear(z)))[:, 0]


class SeqSub(nn.Module):  # MMSA TextSubNet
    def __init__(self, i, h, o):
        super().__init__()
        self.rnn = nn.LSTM(i, h, batch_first=True)
        self.linear_1 = nn.Linear(h, o)

    def forward(self, x, lengths):
        return self.linear_1(lstm_final(self.rnn, x, lengths))


class FeatSub(nn.Module):  # MMSA SubNet without BatchNorm
    def __init__(self, i, h):
        super().__init__()
        self.linear_1, self.linear_2, self.linear_3 = nn.Linear(i, h), nn.Linear(h, h), nn.Linear(h, h)

    def forward(self, x):
        return F.relu(self.linear_3(F.relu(self.linear_2(F.relu(self.linear_1(x))))))


def add_subnets(model, cfg):
    model.mods = cfg["modalities"]
    model.seq = [m in cfg["sequence_modalities"] for m in model.mods]
    dims = []
    for m, name in enumerate(model.mods):
        if model.seq[m]:
            setattr(model, f"{name}_subnet", SeqSub(cfg["input_dims"][m], cfg["hidden"][m], cfg["text_out"]))
            dims.append(cfg["text_out"])
        else:
            setattr(model, f"{name}_subnet", FeatSub(cfg["input_dims"][m], cfg["hidden"][m]))
            dims.append(cfg["hidden"][m])
    return dims


def run_subnets(model, xs, lens, present):
    hs = []
    for m, name in enumerate(model.mods):
        net = getattr(model, f"{name}_subnet")
        ln = lens[m] if len(lens) > 1 else lens[0]
        h = net(xs[m], ln) if model.seq[m] else net(masked_mean(xs[m], ln))
        hs.append(h * present[:, m:m + 1])
    return hs


def with_one(h):
    return torch.cat([torch.ones(h.shape[0], 1), h], 1)


class TFN(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        dims = add_subnets(self, cfg)
        width = 1
        for d in dims:
            width *= d + 1
        P = cfg["fused_hidden"]
        self.post_fusion_layer_1 = nn.Linear(width, P)
        self.post_fusion_layer_2 = nn.Linear(P, P)
        self.post_fusion_layer_3 = nn.Linear(P, 1)

    def forward(self, xs, lens, present):
        hs = [with_one(h) for h in run_subnets(self, xs, lens, present)]
        letters = "ijklmn"[:len(hs)]
        spec = ",".join("b" + c for c in letters) + "->b" + letters
        fusion = torch.einsum(spec, *hs).reshape(hs[0].shape[0], -1)  # the first modality slowest
        z = F.relu(self.post_fusion_layer_2(F.relu(self.post_fusion_layer_1(fusion))))
        return z, torch.sigmoid(self.post_fusion_layer_3(z))[:, 0] * 6 - 3


class LMF(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        dims = add_subnets(self, cfg)
        r, dh = cfg["rank"], cfg["fused_hidden"]
        for name, d in zip(self.mods, dims):
            setattr(self, f"{name}_factor", nn.Parameter(torch.empty(r, d + 1, dh)))
        self.fusion_weights = nn.Parameter(torch.empty(1, r))
        self.fusion_bias = nn.Parameter(torch.empty(1, dh))
        self.out = nn.Linear(dh, 1)

    def forward(self, xs, lens, present):
        hs = run_subnets(self, xs, lens, present)
        prod = None
        for name, h in zip(self.mods, hs):
            f = torch.matmul(with_one(h), getattr(self, f"{name}_factor"))  # [r, B, d_h], as MMSA
            prod = f if prod is None else prod * f
        z = torch.matmul(self.fusion_weights, prod.permute(1, 0, 2)).squeeze(1) + self.fusion_bias
        return z, self.out(z)[:, 0]


class LateFusion(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.mods = cfg["modalities"]
        for name, d, h in zip(self.mods, cfg["input_dims"], cfg["hidden"]):
            setattr(self, f"{name}_encoder", nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU()))
        self.head = nn.Sequential(nn.Linear(sum(cfg["hidden"]), cfg["fused_hidden"]), nn.ReLU(),
                                  nn.Linear(cfg["fused_hidden"], 1))

    def forward(self, xs, lens, present):
        es = []
        for m, name in enumerate(self.mods):
            ln = lens[m] if len(lens) > 1 else lens[0]
            es.append(getattr(self, f"{name}_encoder")(masked_mean(xs[m], ln)) * present[:, m:m + 1])
        z = torch.cat(es, 1)
        return z, self.head(z)[:, 0]


MFN_BASE = {"attention_hidden": 5, "memory_hidden": 4, "gamma1_hidden": 5, "gamma2_hidden": 4, "memory_size": 3,
            "output_size": 1, "attention_dropout": 0.0, "memory_dropout": 0.0, "gamma1_dropout": 0.0,
            "gamma2_dropout": 0.0, "output_dropout": 0.0}


class MFNWrap(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c = dict(MFN_BASE)
        c.update({"modality_names": cfg["modalities"], "input_sizes": cfg["input_dims"],
                  "hidden_sizes": cfg["hidden"], "output_hidden": [cfg["fused_hidden"]]})
        self.mfn = TorchMFN(c)
        self.captured = {}
        self.mfn.out.register_forward_hook(lambda mod, inp, out: self.captured.__setitem__("z", inp[0]))

    def forward(self, xs, lens, present):
        xs = [x * present[:, m, None, None] for m, x in enumerate(xs)]
        pred = self.mfn(xs, lens[0])[:, 0]
        return self.captured["z"], pred


MODELS = {"ef_lstm": EFLSTM, "tfn": TFN, "lmf": LMF, "late_fusion": LateFusion, "mfn": MFNWrap}

BASE = {"modalities": ["text", "acoustic", "visual"], "input_dims": [4, 3, 2], "hidden": [3, 2, 2],
        "sequence_modalities": ["text"], "text_out": 2, "fused_hidden": 3, "rank": 2, "num_layers": 2}

CASES = []
# (model, case name, overrides, B, T per modality (one entry: aligned), lengths, present zeros (b, m))
SPECS = [
    ("ef_lstm", "aligned", {}, 4, [5], [[5, 2, 4, 1]], [(1, 2)]),
    ("ef_lstm", "one_layer", {"num_layers": 1}, 3, [4], [[4, 1, 3]], []),
    ("tfn", "aligned", {}, 4, [5], [[5, 2, 4, 1]], [(1, 2), (3, 0)]),
    ("tfn", "unaligned", {}, 3, [4, 6, 5], [[4, 1, 3], [6, 2, 5], [1, 5, 3]], [(0, 1)]),
    ("tfn", "two_modalities", {"modalities": ["text", "visual"], "input_dims": [3, 2], "hidden": [2, 3]}, 3, [4],
     [[4, 2, 3]], []),
    ("lmf", "aligned", {}, 4, [5], [[5, 2, 4, 1]], [(1, 2), (3, 0)]),
    ("lmf", "unaligned_rank3", {"rank": 3}, 3, [4, 6, 5], [[4, 1, 3], [6, 2, 5], [1, 5, 3]], [(2, 2)]),
    ("late_fusion", "aligned", {}, 4, [5], [[5, 2, 4, 1]], [(0, 0)]),
    ("late_fusion", "unaligned", {}, 3, [4, 6, 5], [[4, 1, 3], [6, 2, 5], [1, 5, 3]], [(1, 1)]),
    ("mfn", "aligned", {}, 4, [5], [[5, 2, 4, 1]], [(2, 1)]),
]

for model_name, case, overrides, B, Ts, lengths, missing in SPECS:
    cfg = dict(BASE)
    cfg.update(overrides)
    M = len(cfg["modalities"])
    model = MODELS[model_name](cfg)
    model.eval()
    param_names = [n for n, _ in model.named_parameters()]
    Tm = Ts * M if len(Ts) == 1 else Ts
    ins = [u(B, Tm[m], cfg["input_dims"][m]) for m in range(M)]
    ins += [torch.tensor(ln) for ln in lengths]
    present = torch.ones(B, M)
    for b, m in missing:
        present[b, m] = 0.0
    ins.append(present)
    # weights on the scale of PyTorch's init (U(+-1/sqrt(fan_in)), widened 1.5x); biases in
    # [0.05, 0.5] keep the ReLUs of these tiny networks alive
    ins += [u(*p.shape) * 1.5 / p.shape[-1] ** 0.5 if p.dim() >= 2 else u(*p.shape, lo=0.05, hi=0.5)
            for _, p in model.named_parameters()]
    L = len(lengths)

    def fn(*args, model=model, param_names=param_names, M=M, L=L):
        xs, lens, present = list(args[:M]), list(args[M:M + L]), args[M + L]
        for n, p in zip(param_names, args[M + L + 1:]):
            set_param(model, n, p)
        z, pred = model(xs, lens, present)
        return torch.cat([pred[:, None], z], 1)

    check = [t.detach().clone().requires_grad_(t.dtype == torch.float64) for t in ins]
    fn(*check).square().sum().backward()
    dead = [k for k, t in enumerate(check) if t.requires_grad and k > M + L and not bool(t.grad.abs().sum() > 0)]
    assert not dead, f"ref_zoo case {model_name}_{case}: inputs {dead} get no gradient (dead ReLUs): change the seed"

    params = dict(cfg)
    params.update({"model": model_name, "param_names": param_names, "aligned": L == 1, "num_lengths": L})
    CASES.append(Case(f"zoo_{model_name}_{case}", "zoo", ins, fn, params))
