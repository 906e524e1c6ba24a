#!/usr/bin/env python3
"""bench/torch/bench_conv.py: PyTorch conv2d / conv_transpose2d on the shapes of
bench/bench_conv.cpp (the MNIST image experiment: batch 64, 4x4 stride 2 padding 1,
encoder 1 -> 32 -> 64 channels, transposed decoder back), on the same GPU, joined with our
Google Benchmark results.

    build/bench/bench_conv --benchmark_format=json --benchmark_out=conv.json
    python3 bench/torch/bench_conv.py --ours conv.json [--reps 50] [--tf32] [--csv out.csv]

Phases as in the C++ benchmark: fwd (forward with bias, under no_grad) and train (forward,
then the gradients of input, weight and bias from a given dL/dy via torch.autograd.grad).
Timed with CUDA events around each call after --warmup untimed ones; the median of --reps.
cuDNN's TF32 is OFF by default so that PyTorch computes in float32 like fusegrad and the
"cudnn" entry (CUDNN_FMA_MATH); --tf32 turns it on (PyTorch's own default for convolutions).
torch.backends.cudnn.benchmark is on, so PyTorch picks its fastest algorithm per shape, as
the C++ cudnn entry does with cudnnFind*.

Printed per layer and phase (microseconds): ours on CUDA, cuDNN called directly, PyTorch,
and the ratios ours/torch and ours/cudnn (below 1: we are faster), then the geometric mean
of ours/torch. Needs PyTorch with CUDA; exits with status 2 and a message otherwise.
Installs nothing.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (bench/torch/common.py, next to this script)

NAME = re.compile(r"^conv/(?P<impl>[a-z0-9_]+)/(?P<layer>[a-z0-9]+)/(?P<phase>fwd|train)")
# layer -> (transpose, N, C_in, C_out, H, W, k, stride, padding), as bench/bench_conv.cpp
LAYERS = {
    "enc1": (False, 64, 1, 32, 28, 28, 4, 2, 1),
    "enc2": (False, 64, 32, 64, 14, 14, 4, 2, 1),
    "dec1": (True, 64, 64, 32, 7, 7, 4, 2, 1),
    "dec2": (True, 64, 32, 1, 14, 14, 4, 2, 1),
}


def parse_args():
    p = common.ours_parser(__doc__, "Google Benchmark JSON of bench_conv", "case", reps=50)
    p.add_argument("--tf32", action="store_true", help="allow TF32 in PyTorch's cuDNN convolutions (its default)")
    return p.parse_args()


def load_ours(path):
    """(layer, phase) -> {impl: microseconds} (median aggregates when repetitions were run)."""
    ours = {}
    for name, (us, _) in common.results(common.read_json(path), medians=True).items():
        m = NAME.match(name)
        if m and m["layer"] in LAYERS:
            ours.setdefault((m["layer"], m["phase"]), {})[m["impl"]] = us
    return ours


def time_torch(torch, layer, phase, reps, warmup):
    F = torch.nn.functional
    transpose, n, cin, cout, h, w, k, s, p = LAYERS[layer]
    torch.manual_seed(0)
    dev = "cuda"
    x = torch.empty(n, cin, h, w, device=dev).uniform_(-1, 1).requires_grad_(True)
    wshape = (cin, cout, k, k) if transpose else (cout, cin, k, k)
    wt = torch.empty(*wshape, device=dev).uniform_(-0.25, 0.25).requires_grad_(True)
    b = torch.empty(cout, device=dev).uniform_(-0.25, 0.25).requires_grad_(True)

    def fwd():
        return F.conv_transpose2d(x, wt, b, stride=s, padding=p) if transpose else F.conv2d(x, wt, b, stride=s, padding=p)

    with torch.no_grad():
        dy = torch.empty_like(fwd()).uniform_(-1, 1)
    if phase == "fwd":
        def call():
            with torch.no_grad():
                return fwd()
    else:
        def call():
            return torch.autograd.grad(fwd(), [x, wt, b], dy)
    return common.median_cuda_time_us(torch, call, reps, warmup)


def fmt(v, spec="%9.1f"):
    return spec % v if v is not None else "%9s" % "-"


def main():
    args = parse_args()
    torch = common.import_cuda_torch("bench_conv.py")
    if torch is None:
        return 2
    ours = load_ours(args.ours)
    if not any("cuda" in v for v in ours.values()):
        print("bench_conv.py: no conv/cuda/* results (was bench_conv built with CUDA, and is there a GPU?)",
              file=sys.stderr)
        return 2
    torch.backends.cudnn.allow_tf32 = args.tf32
    torch.backends.cudnn.benchmark = True
    print("conv2d / conv_transpose2d, batch 64, microseconds per call, on %s (PyTorch %s, cuDNN %s, torch TF32 %s)"
          % (torch.cuda.get_device_name(0), torch.__version__, torch.backends.cudnn.version(),
             "on" if args.tf32 else "off"))
    header = "%-5s %-5s %9s %9s %9s %9s %9s %9s" % ("layer", "phase", "ours", "cudnn", "torch", "ours/tch", "ours/cdnn",
                                                   "ours cpu")
    common.print_header(header)
    ratios, lines = [], []
    for layer in LAYERS:
        for phase in ("fwd", "train"):
            mine = ours.get((layer, phase), {})
            ours_us, cudnn_us = mine.get("cuda"), mine.get("cudnn")
            torch_us = time_torch(torch, layer, phase, args.reps, args.warmup)
            r_torch = common.ratio(ours_us, torch_us) if ours_us else None
            r_cudnn = ours_us / cudnn_us if ours_us and cudnn_us else None
            if r_torch is not None:
                ratios.append(r_torch)
            print("%-5s %-5s %s %s %s %s %s %s" % (layer, phase, fmt(ours_us), fmt(cudnn_us), fmt(torch_us),
                                                   fmt(r_torch, "%9.2f"), fmt(r_cudnn, "%9.2f"), fmt(mine.get("cpu"))))
            lines.append("%s,%s,%s,%s,%.3f,%s" % (layer, phase, "%.3f" % ours_us if ours_us else "",
                                                  "%.3f" % cudnn_us if cudnn_us else "", torch_us,
                                                  "%.3f" % mine["cpu"] if "cpu" in mine else ""))
    common.print_geomean(ratios, "layer/phase cases")
    if args.csv:
        common.write_csv(args.csv, "layer,phase,ours_us,cudnn_us,torch_us,ours_cpu_us", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
