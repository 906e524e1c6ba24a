"""Reference cases for the elementwise family (engine/ops_elementwise.cpp).

Op names match the C++ registry in tests/test_reference_elementwise.cpp.
"""
import torch
import torch.nn.functional as F

from generate_all import Case

g = torch.Generator().manual_seed(1)


def u(*shape, lo=-2.0, hi=2.0):
    return torch.rand(tuple(shape), generator=g, dtype=torch.float64) * (hi - lo) + lo


CASES = []

_unary = {
    "neg": (torch.neg, {}),
    "exp": (torch.exp, {}),
    "log": (torch.log, {"lo": 0.1, "hi": 3.0}),
    "sqrt": (torch.sqrt, {"lo": 0.1, "hi": 3.0}),
    "abs": (torch.abs, {}),
    "tanh": (torch.tanh, {}),
    "sigmoid": (torch.sigmoid, {"lo": -8.0, "hi": 8.0}),
    "relu": (torch.relu, {}),
    "square": (torch.square, {}),
    "reciprocal": (torch.reciprocal, {"lo": 0.3, "hi": 3.0}),
    "sin": (torch.sin, {}),
    "cos": (torch.cos, {}),
    "log1p": (torch.log1p, {"lo": -0.5, "hi": 3.0}),
    "expm1": (torch.expm1, {}),
    "gelu": (lambda x: F.gelu(x), {"lo": -4.0, "hi": 4.0}),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), {"lo": -4.0, "hi": 4.0}),
}
for name, (fn, rng) in _unary.items():
    for shape in [(7,), (3, 5)]:
        CASES.append(Case(f"{name}_{'x'.join(map(str, shape))}", name, [u(*shape, **rng)], fn))

CASES += [
    Case("leaky_relu", "leaky_relu", [u(4, 6)], lambda x: F.leaky_relu(x, 0.2), {"slope": 0.2}),
    Case("softplus", "softplus", [u(4, 6, lo=-5, hi=5)], lambda x: F.softplus(x), {"beta": 1.0, "threshold": 20.0}),
    Case("softplus_beta", "softplus", [u(4, 6, lo=-5, hi=5)], lambda x: F.softplus(x, beta=2.0, threshold=3.0),
         {"beta": 2.0, "threshold": 3.0}),
    Case("clamp", "clamp", [u(5, 5)], lambda x: torch.clamp(x, -0.5, 0.7), {"lo": -0.5, "hi": 0.7}),
    Case("pow_scalar", "pow_scalar", [u(6, lo=0.2, hi=2.0)], lambda x: torch.pow(x, 2.5), {"exponent": 2.5}),
    Case("add_scalar", "add_scalar", [u(6)], lambda x: x + 1.25, {"s": 1.25}),
    Case("mul_scalar", "mul_scalar", [u(6)], lambda x: x * -0.75, {"s": -0.75}),
]

# binary ops, same shape and broadcast
_binary = {
    "add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div,
    "maximum": torch.maximum, "minimum": torch.minimum,
}
_shapes = [((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((3, 1), (1, 5)), ((2, 1, 4), (3, 1)), ((), (3, 2))]
for name, fn in _binary.items():
    for i, (sa, sb) in enumerate(_shapes):
        b = u(*sb, lo=0.5, hi=2.0) if name == "div" else u(*sb)
        CASES.append(Case(f"{name}_bcast{i}", name, [u(*sa), b], fn))

CASES.append(Case("pow_tensor", "pow", [u(3, 4, lo=0.2, hi=2.0), u(4, lo=-1.5, hi=1.5)], torch.pow))

# where: cond is a float 0/1 tensor (not differentiated), a and b broadcast
_cond = (u(3, 4) > 0).to(torch.float64)
CASES.append(Case("where", "where", [_cond, u(3, 4), u(4)],
                  lambda c, a, b: torch.where(c != 0, a, b), {"cond_input": 0}))

# comparisons: forward only
for name, fn in {"gt": torch.gt, "ge": torch.ge, "lt": torch.lt, "le": torch.le, "eq": torch.eq}.items():
    a = torch.round(u(4, 5) * 2) / 2
    b = torch.round(u(5) * 2) / 2
    CASES.append(Case(f"{name}_cmp", name, [a, b], lambda x, y, fn=fn: fn(x, y).to(torch.float64), grad=False))

# masked_fill: the mask is a float 0/1 tensor (not differentiated) broadcasting to x's shape
for i, (sx, sm) in enumerate([((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((3, 4), (3, 1))]):
    _mask = (u(*sm) > 0).to(torch.float64)
    CASES.append(Case(f"masked_fill_{i}", "masked_fill", [u(*sx), _mask],
                      lambda x, m: x.masked_fill(m != 0, -2.5), {"value": -2.5}))

# broadcast_to (gradients summed back over the broadcast axes)
for i, (sx, st) in enumerate([((3, 1), (2, 3, 4)), ((4,), (3, 4)), ((), (2, 2)), ((2, 1, 3), (2, 5, 3)),
                              ((1, 4), (1, 4))]):
    CASES.append(Case(f"broadcast_to_{i}", "broadcast_to", [u(*sx)], lambda x, s=st: torch.broadcast_to(x, s),
                      {"shape": list(st)}))

# conversions: through float32 and back (round to nearest on both sides), and clone
CASES.append(Case("to_f32_f64", "to_dtype", [u(3, 4)], lambda x: x.to(torch.float32).to(torch.float64)))
CASES.append(Case("clone", "clone", [u(3, 4)], lambda x: x.clone()))

# pow at a = 0 where the exponent is 0 (the constant 1: gradient 0) or a non-negative number
CASES.append(Case("pow_scalar_zero_exponent", "pow_scalar", [torch.tensor([0.0, 0.5, -1.5, 0.0])],
                  lambda x: torch.pow(x, 0.0), {"exponent": 0.0}))
CASES.append(Case("pow_tensor_at_zero", "pow", [torch.tensor([0.0, 0.0, 1.5, 0.7]), torch.tensor([0.0, 1.0, 2.0, 0.0])],
                  torch.pow))
