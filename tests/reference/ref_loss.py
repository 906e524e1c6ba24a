"""Reference cases for the losses (engine/ops_loss.cpp), both reductions.

Op names match the C++ registry in tests/test_reference_loss.cpp. Float targets of
l1/mse/binary_cross_entropy_with_logits get gradients too (PyTorch defines them);
cross_entropy's class ids are int64 inputs and get none.
"""
import torch
import torch.nn.functional as F

from generate_all import Case

g = torch.Generator().manual_seed(6)


def u(*shape, lo=-2.0, hi=2.0):
    return torch.rand(tuple(shape), generator=g, dtype=torch.float64) * (hi - lo) + lo


CASES = []

for reduction in ["mean", "sum"]:
    p = {"reduction": reduction}
    # l1: keep |pred - target| >= 0.1 (away from the kink)
    pred = u(3, 4)
    sign = torch.where(u(3, 4) > 0, 1.0, -1.0)
    target = pred + sign * u(3, 4, lo=0.1, hi=1.0)
    CASES.append(Case(f"l1_{reduction}", "l1_loss", [pred, target], lambda a, b, r=reduction: F.l1_loss(a, b, reduction=r), p))
    CASES.append(Case(f"mse_{reduction}", "mse_loss", [u(2, 3, 2), u(2, 3, 2)],
                      lambda a, b, r=reduction: F.mse_loss(a, b, reduction=r), p))
    CASES.append(Case(f"mse_1d_{reduction}", "mse_loss", [u(7), u(7)],
                      lambda a, b, r=reduction: F.mse_loss(a, b, reduction=r), p))
    CASES.append(Case(f"cross_entropy_{reduction}", "cross_entropy",
                      [u(5, 4, lo=-3, hi=3), torch.tensor([2, 0, 3, 2, 1], dtype=torch.int64)],
                      lambda x, t, r=reduction: F.cross_entropy(x, t, reduction=r), p))
    CASES.append(Case(f"cross_entropy_wide_{reduction}", "cross_entropy",
                      [u(3, 9, lo=-40, hi=40), torch.tensor([8, 0, 4], dtype=torch.int64)],
                      lambda x, t, r=reduction: F.cross_entropy(x, t, reduction=r), p))
    CASES.append(Case(f"bce_logits_{reduction}", "binary_cross_entropy_with_logits",
                      [u(3, 4, lo=-4, hi=4), u(3, 4, lo=0, hi=1)],
                      lambda x, t, r=reduction: F.binary_cross_entropy_with_logits(x, t, reduction=r), p))
    CASES.append(Case(f"bce_logits_hard_{reduction}", "binary_cross_entropy_with_logits",
                      [u(6, lo=-30, hi=30), torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0, 0.0])],
                      lambda x, t, r=reduction: F.binary_cross_entropy_with_logits(x, t, reduction=r), p))
