"""Reference cases for the shape ops (engine/ops_shape.cpp).

Op names match the C++ registry in tests/test_reference_shape.cpp. Index tensors
(index_select, gather, scatter_add) are int64 inputs: they are stored as int64 and never
get gradients. Ops with several outputs (split) return their pieces flattened and
concatenated, so every piece enters the checked output.
"""
import torch

from generate_all import Case

g = torch.Generator().manual_seed(4)


def u(*shape, lo=-2.0, hi=2.0):
    return torch.rand(tuple(shape), generator=g, dtype=torch.float64) * (hi - lo) + lo


def idx(n, *shape):
    return torch.randint(0, n, tuple(shape), generator=g, dtype=torch.int64)


CASES = []

for i, (a0, a1) in enumerate([(0, 2), (1, -1), (0, 1), (-3, -2), (1, 1)]):
    CASES.append(Case(f"transpose_{i}", "transpose", [u(2, 3, 4)], lambda x, a=a0, b=a1: torch.transpose(x, a, b),
                      {"axis0": a0, "axis1": a1}))

for i, (shape, perm) in enumerate([((2, 3, 4), (2, 0, 1)), ((2, 3, 4), (1, 2, 0)), ((2, 3, 4), (0, 2, 1)),
                                   ((2, 3, 2, 2), (3, 1, 0, 2)), ((2, 3, 4), (-1, 0, -2)), ((2, 3), (0, 1))]):
    CASES.append(Case(f"permute_{i}", "permute", [u(*shape)], lambda x, p=perm: x.permute(*p), {"perm": list(perm)}))

for i, target in enumerate([(6, 4), (4, -1), (24,), (2, 2, 2, 3), (-1,), (1, 24, 1)]):
    CASES.append(Case(f"reshape_{i}", "reshape", [u(2, 3, 4)], lambda x, t=target: x.reshape(t), {"shape": list(target)}))
CASES.append(Case("reshape_to_0d", "reshape", [u(1, 1)], lambda x: x.reshape(()), {"shape": []}))

for i, (s, e) in enumerate([(0, -1), (1, 2), (0, 1), (-2, -1), (2, 2)]):
    CASES.append(Case(f"flatten_{i}", "flatten", [u(2, 3, 2, 2)], lambda x, s=s, e=e: torch.flatten(x, s, e),
                      {"start": s, "end": e}))

for axis in [-3, -2, -1, 0, 1, 2]:
    CASES.append(Case(f"unsqueeze_{axis}", "unsqueeze", [u(2, 3)], lambda x, a=axis: x.unsqueeze(a), {"axis": axis}))
for axis in [1, 3, -1, -3]:
    CASES.append(Case(f"squeeze_{axis}", "squeeze", [u(2, 1, 3, 1)], lambda x, a=axis: x.squeeze(a), {"axis": axis}))

for axis in [-3, -2, -1, 0, 1, 2]:
    shapes = [[2, 3, 2], [2, 3, 2], [2, 3, 2]]
    shapes[1][axis] = 1
    shapes[2][axis] = 3
    CASES.append(Case(f"concat_{axis}", "concat", [u(*s) for s in shapes],
                      lambda *xs, a=axis: torch.cat(xs, a), {"axis": axis}))
for axis in [-3, -2, -1, 0, 1, 2]:
    CASES.append(Case(f"stack_{axis}", "stack", [u(2, 3), u(2, 3)], lambda *xs, a=axis: torch.stack(xs, a),
                      {"axis": axis}))

for i, (shape, sizes, axis) in enumerate([((5, 4), [2, 3], 0), ((5, 4), [1, 3], 1), ((2, 3, 4), [1, 1, 2], -1),
                                          ((2, 3, 4), [0, 3], 1)]):
    CASES.append(Case(f"split_{i}", "split", [u(*shape)],
                      lambda x, s=sizes, a=axis: torch.cat([p.reshape(-1) for p in torch.split(x, s, a)]),
                      {"sizes": sizes, "axis": axis}))

# slice: leading axis (a view in fusegrad) and inner axes (a copy)
for i, (shape, axis, start, length) in enumerate([((5, 3), 0, 1, 3), ((5, 3), 0, 4, 1), ((1, 4, 2), 1, 1, 2),
                                                  ((2, 5, 3), 1, 1, 3), ((2, 5, 3), 2, 0, 2), ((2, 5, 3), -1, 1, 2),
                                                  ((2, 5, 3), -2, 4, 1), ((2, 5, 3), 1, 0, 5)]):
    CASES.append(Case(f"slice_{i}", "slice", [u(*shape)], lambda x, a=axis, s=start, n=length: x.narrow(a, s, n),
                      {"axis": axis, "start": start, "length": length}))

for i, (axis, index) in enumerate([(0, 1), (1, -1), (2, 0), (-2, 2), (0, -3)]):
    CASES.append(Case(f"select_{i}", "select", [u(3, 4, 2)], lambda x, a=axis, j=index: x.select(a, j),
                      {"axis": axis, "index": index}))

for i, (axis, ids) in enumerate([(0, [3, 0, 3, 1, 0]), (1, [2, 2, 0]), (2, [1, 1, 0, 1]), (-1, [0]),
                                 (-3, [2, 2, 2])]):
    CASES.append(Case(f"index_select_{i}", "index_select", [u(4, 3, 2), torch.tensor(ids, dtype=torch.int64)],
                      lambda x, j, a=axis: torch.index_select(x, a, j), {"axis": axis}))

_SHAPE = (3, 4, 2)
for axis in [-3, -2, -1, 0, 1, 2]:
    ishape = list(_SHAPE)
    ishape[axis] = 5  # more picks than positions: repeats
    CASES.append(Case(f"gather_{axis}", "gather", [u(*_SHAPE), idx(_SHAPE[axis], *ishape)],
                      lambda x, j, a=axis: torch.gather(x, a, j), {"axis": axis}))
for axis in [-3, -2, -1, 0, 1, 2]:
    dim_size = 3 if _SHAPE[axis] == 2 else _SHAPE[axis] - 1
    out_shape = list(_SHAPE)
    out_shape[axis] = dim_size
    CASES.append(Case(f"scatter_add_{axis}", "scatter_add", [u(*_SHAPE), idx(dim_size, *_SHAPE)],
                      lambda src, j, a=axis, o=tuple(out_shape): torch.zeros(o).scatter_add(a, j, src),
                      {"axis": axis, "dim_size": dim_size}))
