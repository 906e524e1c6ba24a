"""Reference cases for conv2d and conv_transpose2d (engine/ops_conv.cpp), groups = 1.

Op names match the C++ registry in tests/test_reference_conv.cpp. Inputs: x, weight and,
when params["bias"], the bias; params give stride, padding, dilation (and output_padding
for the transpose) as [height, width]. Sizes are awkward on purpose: batch 1 and 3, odd and
non-square images, 1x1 / 3x3 / 4x4 / 2x3 kernels, stride 1 and 2, padding 0..2,
dilation 2, and the MNIST encoder/decoder shapes at a smaller batch.
"""
import torch
import torch.nn.functional as F

from generate_all import Case

g = torch.Generator().manual_seed(14)


def u(*shape, lo=-1.0, hi=1.0):
    return torch.rand(tuple(shape), generator=g, dtype=torch.float64) * (hi - lo) + lo


CASES = []

# (name, N, C_in, C_out, H, W, (KH, KW), stride, padding, dilation, bias)
CONV = [
    ("b1_valid_3x3", 1, 1, 2, 5, 5, (3, 3), (1, 1), (0, 0), (1, 1), True),
    ("b3_s2_p1_odd", 3, 2, 3, 7, 6, (3, 3), (2, 2), (1, 1), (1, 1), True),
    ("b3_4x4_s2_p2", 3, 3, 2, 7, 7, (4, 4), (2, 2), (2, 2), (1, 1), True),
    ("b1_1x1", 1, 2, 3, 5, 4, (1, 1), (1, 1), (0, 0), (1, 1), True),
    ("b3_1x1_s2_p1_nobias", 3, 2, 2, 5, 5, (1, 1), (2, 2), (1, 1), (1, 1), False),
    ("b1_dil2_p2", 1, 2, 2, 9, 8, (3, 3), (1, 1), (2, 2), (2, 2), True),
    ("b3_rect_2x3", 3, 2, 3, 6, 5, (2, 3), (2, 1), (1, 0), (1, 1), True),
    ("mnist_enc1", 2, 1, 32, 28, 28, (4, 4), (2, 2), (1, 1), (1, 1), True),
    ("mnist_enc2", 2, 32, 64, 14, 14, (4, 4), (2, 2), (1, 1), (1, 1), True),
]
for name, n, cin, cout, h, w, k, s, p, d, bias in CONV:
    ins = [u(n, cin, h, w), u(cout, cin, *k, lo=-0.5, hi=0.5)] + ([u(cout)] if bias else [])

    def fn(x, wt, *b, s=s, p=p, d=d):
        return F.conv2d(x, wt, b[0] if b else None, stride=s, padding=p, dilation=d)

    CASES.append(Case(f"conv2d_{name}", "conv2d", ins, fn,
                      {"stride": list(s), "padding": list(p), "dilation": list(d), "bias": bias}))

# (name, N, C_in, C_out, H, W, (KH, KW), stride, padding, output_padding, dilation, bias)
CONVT = [
    ("b1_4x4_s2_p1", 1, 2, 3, 4, 4, (4, 4), (2, 2), (1, 1), (0, 0), (1, 1), True),
    ("b3_s2_op1_odd", 3, 3, 2, 5, 3, (3, 3), (2, 2), (0, 0), (1, 1), (1, 1), True),
    ("b3_1x1_nobias", 3, 2, 2, 5, 5, (1, 1), (1, 1), (0, 0), (0, 0), (1, 1), False),
    ("b1_p2_crop", 1, 2, 3, 7, 6, (3, 3), (1, 1), (2, 2), (0, 0), (1, 1), True),
    ("b3_dil2_op1", 3, 1, 2, 4, 5, (3, 3), (1, 1), (1, 1), (1, 1), (2, 2), True),
    ("b1_rect_2x3", 1, 2, 2, 3, 4, (2, 3), (2, 1), (0, 1), (1, 0), (1, 1), True),
    ("mnist_dec1", 2, 64, 32, 7, 7, (4, 4), (2, 2), (1, 1), (0, 0), (1, 1), True),
    ("mnist_dec2", 2, 32, 1, 14, 14, (4, 4), (2, 2), (1, 1), (0, 0), (1, 1), True),
]
for name, n, cin, cout, h, w, k, s, p, op, d, bias in CONVT:
    ins = [u(n, cin, h, w), u(cin, cout, *k, lo=-0.5, hi=0.5)] + ([u(cout)] if bias else [])

    def fn(x, wt, *b, s=s, p=p, op=op, d=d):
        return F.conv_transpose2d(x, wt, b[0] if b else None, stride=s, padding=p, output_padding=op, dilation=d)

    CASES.append(Case(f"conv_transpose2d_{name}", "conv_transpose2d", ins, fn,
                      {"stride": list(s), "padding": list(p), "output_padding": list(op), "dilation": list(d),
                       "bias": bias}))
