"""Reference cases for the optimizers, gradient clipping and lr schedules (engine/optim/).

Op names match the registry in tests/test_optim.cpp. Every case is forward-only
(grad=False): the output is a trajectory that the C++ side recomputes.

Optimizer cases ("sgd", "adam", "adamw"): two parameters p [3, 4] and q [5] start at
inputs 0 and 1; with target t (input 2) the loss is
    L = sum((p - t)^2) + 0.25 * sum(q^4) + 0.1 * sum(p) * sum(q)
p is in group 0 (its own lr / weight_decay when params has lr0 / wd0), q in group 1 (the
optimizer's defaults). Each of `steps` steps does zero_grad, backward, step and records
[p.flatten(), q] as one row of the output [steps, 17].

"clip": gradients g1 [3, 4], g2 [5] (inputs 0 and 1); output [total_norm, g1', g2'].
"plateau": a metric sequence (input 0) fed to ReduceLROnPlateau from lr 1.0; output the lr
after each step. "linear_warmup": transformers' get_linear_schedule_with_warmup as a
LambdaLR from lr 2.0; output the lr at construction and after each of `steps` steps.
"""
import torch

from generate_all import Case

g = torch.Generator().manual_seed(7)


def u(*shape, lo=-2.0, hi=2.0):
    return torch.rand(tuple(shape), generator=g, dtype=torch.float64) * (hi - lo) + lo


def loss_fn(p, q, t):
    return ((p - t) ** 2).sum() + 0.25 * (q ** 4).sum() + 0.1 * p.sum() * q.sum()


def run_optimizer(kind, params):
    def fn(p0, q0, t):
        p = p0.clone().requires_grad_(True)
        q = q0.clone().requires_grad_(True)
        g0 = {"params": [p]}
        if "lr0" in params:
            g0["lr"] = params["lr0"]
        if "wd0" in params:
            g0["weight_decay"] = params["wd0"]
        groups = [g0, {"params": [q]}]
        common = {"lr": params["lr"], "weight_decay": params.get("weight_decay", 0.0)}
        if kind == "sgd":
            opt = torch.optim.SGD(groups, momentum=params.get("momentum", 0.0),
                                  dampening=params.get("dampening", 0.0),
                                  nesterov=params.get("nesterov", False), **common)
        else:
            cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
            opt = cls(groups, betas=(params.get("beta1", 0.9), params.get("beta2", 0.999)),
                      eps=params.get("eps", 1e-8), amsgrad=params.get("amsgrad", False), **common)
        rows = []
        for _ in range(params["steps"]):
            opt.zero_grad()
            loss_fn(p, q, t).backward()
            opt.step()
            rows.append(torch.cat([p.detach().flatten(), q.detach()]))
        return torch.stack(rows)
    return fn


CASES = []
_opt_cases = [
    ("sgd_plain", "sgd", {"lr": 0.05}),
    ("sgd_momentum", "sgd", {"lr": 0.03, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01,
                             "lr0": 0.02, "wd0": 0.1}),
    ("sgd_nesterov", "sgd", {"lr": 0.03, "momentum": 0.8, "nesterov": True, "weight_decay": 0.05}),
    ("adam", "adam", {"lr": 0.05}),
    ("adam_l2_groups", "adam", {"lr": 0.05, "beta1": 0.8, "beta2": 0.95, "eps": 1e-6, "weight_decay": 0.1,
                                "lr0": 0.1, "wd0": 0.0}),
    ("adam_amsgrad", "adam", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.02}),
    ("adamw", "adamw", {"lr": 0.05, "weight_decay": 0.1}),
    ("adamw_amsgrad_groups", "adamw", {"lr": 0.04, "amsgrad": True, "beta2": 0.9, "weight_decay": 0.3,
                                       "lr0": 0.08, "wd0": 0.01}),
]
for name, kind, params in _opt_cases:
    params = dict(params, steps=8)
    CASES.append(Case(name, kind, [u(3, 4), u(5), u(3, 4)], run_optimizer(kind, params), params, grad=False))


def clip(params):
    def fn(g1, g2):
        a = torch.zeros_like(g1, requires_grad=True)
        b = torch.zeros_like(g2, requires_grad=True)
        a.grad, b.grad = g1.clone(), g2.clone()
        norm_type = float("inf") if params["norm_type"] == "inf" else params["norm_type"]
        total = torch.nn.utils.clip_grad_norm_([a, b], params["max_norm"], norm_type)
        return torch.cat([total.reshape(1), a.grad.flatten(), b.grad])
    return fn


for name, params in [("clip_l2_active", {"max_norm": 1.0, "norm_type": 2.0}),
                     ("clip_l2_inactive", {"max_norm": 100.0, "norm_type": 2.0}),
                     ("clip_inf", {"max_norm": 0.5, "norm_type": "inf"}),
                     ("clip_l3", {"max_norm": 0.7, "norm_type": 3.0})]:
    CASES.append(Case(name, "clip", [u(3, 4), u(5)], clip(params), params, grad=False))


def plateau(params):
    def fn(metrics):
        w = torch.zeros(1, requires_grad=True)
        opt = torch.optim.SGD([w], lr=1.0)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode=params["mode"], factor=params["factor"], patience=params["patience"],
            threshold=params["threshold"], threshold_mode=params["threshold_mode"], cooldown=params["cooldown"],
            min_lr=params["min_lr"], eps=params["eps"])
        lrs = []
        for m in metrics.tolist():
            sched.step(m)
            lrs.append(opt.param_groups[0]["lr"])
        return torch.tensor(lrs, dtype=torch.float64)
    return fn


_loss_like = torch.tensor([1.0, 0.9, 0.95, 0.9, 0.91, 0.92, 0.8999, 0.93, 0.7, 0.71, 0.72, 0.73, 0.74, 0.75, 0.76,
                           0.77, 0.78, 0.79, 0.8, 0.81], dtype=torch.float64)
_acc_like = torch.tensor([0.5, 0.6, 0.6, 0.61, 0.605, 0.62, 0.62, 0.62, 0.7, 0.69, 0.68, 0.67, 0.66, 0.65, 0.64,
                          0.63, 0.62, 0.61, 0.6, 0.59], dtype=torch.float64)
_plateau_cases = [
    ("plateau_min_rel", _loss_like, {"mode": "min", "factor": 0.5, "patience": 2, "threshold": 1e-4,
                                      "threshold_mode": "rel", "cooldown": 0, "min_lr": 0.0, "eps": 1e-8}),
    ("plateau_min_rel_wide", _loss_like, {"mode": "min", "factor": 0.5, "patience": 1, "threshold": 0.05,
                                           "threshold_mode": "rel", "cooldown": 0, "min_lr": 0.0, "eps": 1e-8}),
    ("plateau_max_abs_cooldown", _acc_like, {"mode": "max", "factor": 0.3, "patience": 1, "threshold": 0.005,
                                              "threshold_mode": "abs", "cooldown": 2, "min_lr": 0.0, "eps": 1e-8}),
    ("plateau_min_lr", _loss_like, {"mode": "min", "factor": 0.1, "patience": 0, "threshold": 0.0,
                                     "threshold_mode": "abs", "cooldown": 1, "min_lr": 0.004, "eps": 1e-8}),
    ("plateau_eps", _loss_like, {"mode": "min", "factor": 0.5, "patience": 0, "threshold": 0.0,
                                  "threshold_mode": "rel", "cooldown": 0, "min_lr": 0.0, "eps": 0.1}),
]
for name, metrics, params in _plateau_cases:
    CASES.append(Case(name, "plateau", [metrics], plateau(params), params, grad=False))


def linear_warmup(params):
    def fn():
        w = torch.zeros(1, requires_grad=True)
        opt = torch.optim.SGD([w], lr=2.0)
        warm, total = params["warmup"], params["total"]

        def lr_lambda(step):  # transformers.get_linear_schedule_with_warmup
            if step < warm:
                return float(step) / float(max(1, warm))
            return max(0.0, float(total - step) / float(max(1, total - warm)))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda)
        lrs = [opt.param_groups[0]["lr"]]
        for _ in range(params["steps"]):
            opt.step()
            sched.step()
            lrs.append(opt.param_groups[0]["lr"])
        return torch.tensor(lrs, dtype=torch.float64)
    return fn


for name, params in [("warmup_3_of_10", {"warmup": 3, "total": 10, "steps": 12}),
                     ("warmup_0_of_5", {"warmup": 0, "total": 5, "steps": 7})]:
    CASES.append(Case(name, "linear_warmup", [], linear_warmup(params), params, grad=False))
