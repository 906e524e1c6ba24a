#!/usr/bin/env python3
"""bench/torch/bench_core.py: PyTorch timings of the ops in bench/bench_cuda_core.cpp on the
same GPU, and one table of our time / PyTorch's time.

    build/bench/bench_cuda_core --benchmark_format=json --benchmark_out=ours.json
    python3 bench/torch/bench_core.py --ours ours.json [--reps 50] [--csv out.csv]

Reads our Google Benchmark JSON, parses each benchmark name cuda_core/<op>/<dims>, times the
PyTorch equivalent (CUDA events around each call, after warm-up; the median of --reps
calls), and prints, per benchmark: our time (the median of the Google Benchmark repetitions
when the JSON has them), PyTorch's, both in GB/s (the bytes each op
must move, the same count as the C++ benchmark), and ours/torch (below 1: we are faster).
The last line gives the geometric mean of the ratios. Needs PyTorch with CUDA; exits
with status 2 and a message otherwise. Installs nothing.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (bench/torch/common.py, next to this script)


def parse_args():
    return common.ours_parser(__doc__, "Google Benchmark JSON of bench_cuda_core", "op", reps=50).parse_args()


def load_ours(path):
    """name -> (op, dims, microseconds per call, bytes per call) from Google Benchmark JSON:
    the median aggregate when repetitions were run (--benchmark_repetitions), else the
    plain iteration entry."""
    ours = {}
    for name, (us, b) in common.results(common.read_json(path), medians=True).items():
        parts = name.split("/")
        if len(parts) < 3 or parts[0] != "cuda_core":
            continue
        op, dims = parts[1], [int(d) for d in parts[2].split("x")]
        ours[name] = (op, dims, us, b.get("bytes_per_second", 0.0) * us * 1e-6)
    return ours


def make_case(torch, op, dims, dev="cuda"):
    """A zero-argument callable running the PyTorch equivalent of (op, dims)."""
    F = torch.nn.functional

    def rnd(*shape, lo=-2.0, hi=2.0):
        return torch.empty(*shape, device=dev, dtype=torch.float32).uniform_(lo, hi)

    if op in ("exp", "gelu_fwd", "gelu_bwd", "add", "sum_all"):
        (n,) = dims
        x, y = rnd(n), rnd(n)
        if op == "exp":
            return lambda: torch.exp(x)
        if op == "gelu_fwd":
            return lambda: F.gelu(x)
        if op == "gelu_bwd":
            return lambda: torch.ops.aten.gelu_backward(y, x)
        if op == "add":
            return lambda: x + y
        return lambda: x.sum()
    if op in ("add_bcast", "sum_rows", "sum_cols"):
        rows, cols = dims
        x, b = rnd(rows, cols), rnd(cols)
        if op == "add_bcast":
            return lambda: x + b
        if op == "sum_rows":
            return lambda: x.sum(dim=1)
        return lambda: x.sum(dim=0)
    if op in ("softmax_fwd", "softmax_bwd"):
        rows, cols = dims
        x, gy = rnd(rows, cols), rnd(rows, cols)
        y = torch.softmax(x, -1)
        if op == "softmax_fwd":
            return lambda: torch.softmax(x, -1)
        return lambda: torch.ops.aten._softmax_backward_data(gy, y, -1, torch.float32)
    if op in ("layer_norm_fwd", "layer_norm_bwd"):
        rows, cols = dims
        x, gy = rnd(rows, cols), rnd(rows, cols)
        w, b = rnd(cols, lo=0.5, hi=1.5), rnd(cols)
        if op == "layer_norm_fwd":
            return lambda: F.layer_norm(x, (cols,), w, b, 1e-5)
        _, mean, rstd = torch.ops.aten.native_layer_norm(x, (cols,), w, b, 1e-5)
        return lambda: torch.ops.aten.native_layer_norm_backward(gy, x, (cols,), mean, rstd, w, b,
                                                                  [True, True, True])
    if op == "adamw":
        tensors, each = dims
        params = [torch.nn.Parameter(rnd(each)) for _ in range(tensors)]
        for p in params:
            p.grad = rnd(each)
        try:
            opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01, fused=True)
        except (TypeError, RuntimeError):
            opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01, foreach=True)
        opt.step()  # creates the state, as our benchmark starts with it
        return opt.step
    return None


def main():
    args = parse_args()
    torch = common.import_cuda_torch("bench_core.py")
    if torch is None:
        return 2
    ours = load_ours(args.ours)
    if not ours:
        print("bench_core.py: no cuda_core/* results in %s" % args.ours, file=sys.stderr)
        return 2
    torch.manual_seed(0)
    rows = []
    for name in sorted(ours):
        op, dims, our_us, nbytes = ours[name]
        fn = make_case(torch, op, dims)
        if fn is None:
            print("bench_core.py: no PyTorch equivalent for %s, skipped" % name, file=sys.stderr)
            continue
        torch_us = common.median_cuda_time_us(torch, fn, args.reps, args.warmup)
        rows.append((op, "x".join(map(str, dims)), our_us, torch_us, nbytes))
        del fn
        torch.cuda.empty_cache()
    dev = torch.cuda.get_device_name(0)
    print("fusegrad vs PyTorch %s on %s (median of %d calls; GB/s = bytes the op must move / time)"
          % (torch.__version__, dev, args.reps))
    header = "%-16s %-14s %10s %10s %9s %9s %8s" % ("op", "shape", "ours us", "torch us", "ours GB/s",
                                                     "torch GB/s", "ours/tch")
    common.print_header(header)
    ratios = []
    for op, shape, our_us, torch_us, nbytes in rows:
        ratio = common.ratio(our_us, torch_us)
        ratios.append(ratio)
        gbs = lambda us: nbytes / (us * 1e-6) / 1e9 if us > 0 else float("nan")
        print("%-16s %-14s %10.1f %10.1f %9.0f %9.0f %8.2f" % (op, shape, our_us, torch_us, gbs(our_us),
                                                                gbs(torch_us), ratio))
    common.print_geomean(ratios, "ops")
    if args.csv:
        common.write_csv(args.csv, "op,shape,ours_us,torch_us,bytes",
                         ["%s,%s,%.3f,%.3f,%d" % (r[0], r[1], r[2], r[3], int(r[4])) for r in rows])
    return 0


if __name__ == "__main__":
    sys.exit(main())
