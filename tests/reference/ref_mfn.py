"""Reference cases for the Memory Fusion Network (models/mfn.cpp).

A straightforward PyTorch MFN written step by step, as the authors' code (one
nn.LSTMCell per modality, the attention, candidate memory and both gates recomputed at
every step), with per-example lengths handled by freezing each example's LSTM states and
memory after its last valid step (torch.where on a step mask). The networks are
nn.Sequential(Linear, ReLU, [Dropout,] Linear), named as models/mfn.h names them, so the
parameters line up by name with fusegrad's MFN.

Inputs of a case: the modality features [B, T, D_m], then lengths (int64) if
params.lengths, then every parameter in the order of params.param_names (the fixture's
gradients therefore include every weight). The C++ side (tests/test_reference_mfn.cpp)
loads the parameters into models::MFN by those names and compares output and gradients.
Dropout cases run in eval mode (dropout is then the identity in both).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from generate_all import Case

g = torch.Generator().manual_seed(23)


def u(*shape, lo=-1.0, hi=1.0):
    return torch.rand(tuple(shape), generator=g, dtype=torch.float64) * (hi - lo) + lo


def mlp(sizes, p):
    layers = []
    for k in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[k], sizes[k + 1]))
        if k + 2 < len(sizes):
            layers.append(nn.ReLU())
            if p > 0:
                layers.append(nn.Dropout(p))
    return nn.Sequential(*layers)


class TorchMFN(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.names = cfg["modality_names"]
        self.hidden = cfg["hidden_sizes"]
        self.mem = cfg["memory_size"]
        S = sum(self.hidden)
        for n, i, h in zip(self.names, cfg["input_sizes"], self.hidden):
            setattr(self, f"lstm_{n}", nn.LSTMCell(i, h))
        self.att1 = mlp([2 * S, cfg["attention_hidden"], 2 * S], cfg["attention_dropout"])
        self.att2 = mlp([2 * S, cfg["memory_hidden"], self.mem], cfg["memory_dropout"])
        self.gamma1 = mlp([2 * S + self.mem, cfg["gamma1_hidden"], self.mem], cfg["gamma1_dropout"])
        self.gamma2 = mlp([2 * S + self.mem, cfg["gamma2_hidden"], self.mem], cfg["gamma2_dropout"])
        self.out = mlp([S + self.mem] + cfg["output_hidden"] + [cfg["output_size"]], cfg["output_dropout"])

    def forward(self, xs, lengths):
        B, T = xs[0].shape[:2]
        h = [torch.zeros(B, H) for H in self.hidden]
        c = [torch.zeros(B, H) for H in self.hidden]
        mem = torch.zeros(B, self.mem)
        for t in range(T):
            valid = (t < lengths)[:, None] if lengths is not None else torch.ones(B, 1, dtype=torch.bool)
            prev_c = c
            new = [getattr(self, f"lstm_{n}")(x[:, t], (hm, cm)) for n, x, hm, cm in zip(self.names, xs, h, c)]
            c_star = torch.cat([torch.cat(prev_c, 1), torch.cat([nc for _, nc in new], 1)], 1)
            attended = F.softmax(self.att1(c_star), dim=1) * c_star
            c_hat = torch.tanh(self.att2(attended))
            both = torch.cat([attended, mem], 1)
            gamma1 = torch.sigmoid(self.gamma1(both))
            gamma2 = torch.sigmoid(self.gamma2(both))
            mem = torch.where(valid, gamma1 * mem + gamma2 * c_hat, mem)
            h = [torch.where(valid, nh, oh) for (nh, _), oh in zip(new, h)]
            c = [torch.where(valid, nc, oc) for (_, nc), oc in zip(new, c)]
        return self.out(torch.cat(h + [mem], 1))


def set_param(module, dotted, tensor):
    *path, leaf = dotted.split(".")
    for p in path:
        module = getattr(module, p)
    module._parameters.pop(leaf, None)  # a plain attribute from an earlier call is simply replaced
    setattr(module, leaf, tensor)


BASE = {"modality_names": ["l", "a", "v"], "input_sizes": [4, 3, 2], "hidden_sizes": [3, 2, 2], "memory_size": 3,
        "attention_hidden": 5, "memory_hidden": 4, "gamma1_hidden": 5, "gamma2_hidden": 4, "output_hidden": [6],
        "output_size": 2, "attention_dropout": 0.0, "memory_dropout": 0.0, "gamma1_dropout": 0.0,
        "gamma2_dropout": 0.0, "output_dropout": 0.0}

CASES = []
for name, overrides, B, T, lengths in [
        ("packed", {}, 4, 5, [5, 2, 4, 1]),
        ("full_length", {}, 3, 4, None),
        ("two_modalities_linear_head", {"modality_names": ["t", "v"], "input_sizes": [3, 2], "hidden_sizes": [2, 3],
                                        "output_hidden": [], "output_size": 1}, 3, 3, [3, 1, 2]),
        ("dropout_eval_deep_head", {"attention_dropout": 0.2, "memory_dropout": 0.5, "gamma1_dropout": 0.3,
                                    "gamma2_dropout": 0.7, "output_dropout": 0.5, "output_hidden": [4, 3]},
         3, 4, [2, 4, 3])]:
    cfg = dict(BASE)
    cfg.update(overrides)
    model = TorchMFN(cfg)
    model.eval()
    param_names = [n for n, _ in model.named_parameters()]
    ins = [u(B, T, d) for d in cfg["input_sizes"]]
    if lengths is not None:
        ins.append(torch.tensor(lengths))
    # weights on the scale of PyTorch's init (U(+-1/sqrt(fan_in)), widened 1.5x) keep the ReLUs
    # of the small networks alive (with U(-1, 1) whole rows of the head went dead)
    ins += [u(*p.shape) * 1.5 / (p.shape[-1] ** 0.5 if p.dim() == 2 else 2.0) for _, p in model.named_parameters()]
    M = len(cfg["modality_names"])

    def fn(*args, model=model, param_names=param_names, M=M, has_len=lengths is not None):
        xs = list(args[:M])
        lens = args[M] if has_len else None
        params = args[M + (1 if has_len else 0):]
        for n, p in zip(param_names, params):
            set_param(model, n, p)
        return model(xs, lens)

    # a fixture where a dead ReLU silences a parameter would compare zeros with zeros: refuse it
    check = [t.detach().clone().requires_grad_(t.dtype == torch.float64) for t in ins]
    fn(*check).square().sum().backward()
    dead = [k for k, t in enumerate(check) if t.requires_grad and not bool(t.grad.abs().sum() > 0)]
    assert not dead, f"ref_mfn case {name}: inputs {dead} get no gradient (dead ReLUs): change the seed or sizes"

    params = dict(cfg)
    params.update({"param_names": param_names, "lengths": lengths is not None})
    CASES.append(Case(f"mfn_{name}", "mfn", ins, fn, params))
