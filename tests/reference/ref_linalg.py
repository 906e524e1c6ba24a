"""Reference cases for matmul, bmm and linear (engine/ops_linalg.cpp).

Op names match the C++ registry in tests/test_reference_linalg.cpp.
"""
import torch
import torch.nn.functional as F

from generate_all import Case

g = torch.Generator().manual_seed(3)


def u(*shape, lo=-2.0, hi=2.0):
    return torch.rand(tuple(shape), generator=g, dtype=torch.float64) * (hi - lo) + lo


CASES = []

_matmul = [
    ("2d", (3, 4), (4, 5)),
    ("2d_vec_shapes", (1, 3), (3, 1)),
    ("2d_outer", (4, 1), (1, 3)),
    ("fold3d", (2, 3, 4), (4, 5)),
    ("fold4d", (2, 2, 3, 2), (2, 3)),
    ("batch3d", (2, 3, 4), (2, 4, 5)),
    ("batch4d", (2, 2, 3, 2), (2, 2, 2, 3)),
]
for name, sa, sb in _matmul:
    CASES.append(Case(f"matmul_{name}", "matmul", [u(*sa), u(*sb)], torch.matmul))

CASES.append(Case("bmm", "bmm", [u(3, 2, 4), u(3, 4, 5)], torch.bmm))
CASES.append(Case("bmm_batch1", "bmm", [u(1, 5, 2), u(1, 2, 3)], torch.bmm))

CASES += [
    Case("linear_nobias", "linear", [u(5, 4), u(3, 4)], lambda x, w: F.linear(x, w), {"bias": False}),
    Case("linear_bias", "linear", [u(5, 4), u(3, 4), u(3)], F.linear, {"bias": True}),
    Case("linear_3d_bias", "linear", [u(2, 3, 4), u(6, 4), u(6)], F.linear, {"bias": True}),
    Case("linear_3d_nobias", "linear", [u(2, 3, 4), u(6, 4)], lambda x, w: F.linear(x, w), {"bias": False}),
    Case("linear_1d_bias", "linear", [u(4), u(3, 4), u(3)], F.linear, {"bias": True}),
]
