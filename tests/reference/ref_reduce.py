"""Reference cases for the reductions (engine/ops_reduce.cpp).

Op names match the C++ registry in tests/test_reference_reduce.cpp. Every reduction is
run over each axis of a [2, 3, 4] input (positive and negative), with keepdim both ways,
and over all elements (params["axis"] is None). max/min get pairwise distinct values, so
the gradient's position is unambiguous.
"""
import torch

from generate_all import Case

g = torch.Generator().manual_seed(2)


def u(*shape, lo=-2.0, hi=2.0):
    return torch.rand(tuple(shape), generator=g, dtype=torch.float64) * (hi - lo) + lo


def distinct(*shape):
    n = 1
    for s in shape:
        n *= s
    perm = torch.randperm(n, generator=g).to(torch.float64)
    return ((perm - n / 2) * 0.1 + 0.04 * torch.rand(n, generator=g, dtype=torch.float64)).reshape(shape)


_REDUCTIONS = {
    # name: (over axis, over all, input maker)
    "sum": (lambda x, a, k: torch.sum(x, a, keepdim=k), torch.sum, u),
    "mean": (lambda x, a, k: torch.mean(x, a, keepdim=k), torch.mean, u),
    "max": (lambda x, a, k: torch.max(x, a, keepdim=k)[0], torch.max, distinct),
    "min": (lambda x, a, k: torch.min(x, a, keepdim=k)[0], torch.min, distinct),
    "logsumexp": (lambda x, a, k: torch.logsumexp(x, a, keepdim=k), lambda x: torch.logsumexp(x.reshape(-1), 0), u),
}

CASES = []

_SHAPE = (2, 3, 4)
for name, (over_axis, over_all, make) in _REDUCTIONS.items():
    for axis in [0, 1, 2, -1, -2, -3]:
        for keepdim in [False, True]:
            CASES.append(Case(f"{name}_ax{axis}_k{int(keepdim)}", name, [make(*_SHAPE)],
                              lambda x, a=axis, k=keepdim, f=over_axis: f(x, a, k),
                              {"axis": axis, "keepdim": keepdim}))
    CASES.append(Case(f"{name}_all", name, [make(*_SHAPE)], over_all, {"axis": None, "keepdim": False}))
    CASES.append(Case(f"{name}_all_2d", name, [make(5, 3)], over_all, {"axis": None, "keepdim": False}))

for correction in [0, 1, 2]:
    for axis in [0, 1, 2, -1, -2, -3]:
        if _SHAPE[axis] <= correction:
            continue  # no degrees of freedom left (fusegrad throws; see test_op_errors)
        for keepdim in [False, True]:
            CASES.append(Case(f"var_c{correction}_ax{axis}_k{int(keepdim)}", "var", [u(*_SHAPE)],
                              lambda x, a=axis, k=keepdim, c=correction: torch.var(x, a, correction=c, keepdim=k),
                              {"axis": axis, "keepdim": keepdim, "correction": correction}))
    CASES.append(Case(f"var_c{correction}_all", "var", [u(*_SHAPE)],
                      lambda x, c=correction: torch.var(x, None, correction=c),
                      {"axis": None, "keepdim": False, "correction": correction}))

# sum_to_shape: the inverse of broadcasting (torch.Tensor.sum_to_size)
for i, target in enumerate([(2, 3, 4), (3, 4), (4,), (1, 4), (3, 1), (2, 1, 4), (2, 3, 1), (1, 1, 1), ()]):
    CASES.append(Case(f"sum_to_shape_{i}", "sum_to_shape", [u(*_SHAPE)],
                      lambda x, t=target: x.sum_to_size(t) if t else x.sum(),
                      {"shape": list(target)}))

# argmax: forward only (int64 positions, compared as float64)
for axis in [0, 1, -1]:
    CASES.append(Case(f"argmax_ax{axis}", "argmax", [distinct(*_SHAPE)],
                      lambda x, a=axis: torch.argmax(x, a).to(torch.float64), {"axis": axis, "keepdim": False},
                      grad=False))
