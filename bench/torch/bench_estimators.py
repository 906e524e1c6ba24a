#!/usr/bin/env python3
"""bench/torch/bench_estimators.py: PyTorch timings of the dependency estimators benchmarked in
bench/bench_cuda_estimators.cpp, on the same GPU, and one table of our time / PyTorch's time.

    build/bench/bench_cuda_estimators --benchmark_format=json --benchmark_out=est.json
    python3 bench/torch/bench_estimators.py --ours est.json [--reps 50] [--csv out.csv]

Each benchmark name cuda_estimators/<case>/<dims> is parsed and the same computation is
written in plain PyTorch, as a user of PyTorch would write it (cdist for the Gram matrices,
torch.logsumexp, torch.linalg.cholesky), forward and backward through autograd (rbf_gram:
forward only, as in the C++ benchmark). Timing: CUDA events around each call after warm-up,
the median of --reps calls; gradients are dropped before each call. Our time is the median
of the Google Benchmark repetitions when the JSON has them (--benchmark_repetitions),
otherwise the mean per iteration. ours/torch below 1 means fusegrad is faster. Needs
PyTorch with CUDA; exits with status 2 and a message otherwise. Installs nothing.

One difference is inherent: our DV case draws its permutations on the host (randperm from a
Philox generator, then copied to the device) so that CPU and CUDA runs shuffle alike;
PyTorch's case draws them on the device with torch.randperm.
"""
import argparse
import json
import math
import statistics
import sys


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ours", required=True, help="Google Benchmark JSON of bench_cuda_estimators")
    p.add_argument("--reps", type=int, default=50, help="timed calls per case (median reported)")
    p.add_argument("--warmup", type=int, default=5, help="untimed calls per case")
    p.add_argument("--csv", help="also write the table as CSV to this file")
    return p.parse_args()


def load_ours(path, prefix):
    """name -> (case, dims, microseconds per call) from Google Benchmark JSON: the median
    aggregate when repetitions were run, else the plain iteration entry."""
    with open(path) as f:
        data = json.load(f)
    unit_to_us = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}
    plain, median = {}, {}
    for b in data.get("benchmarks", []):
        if b.get("error_occurred"):
            continue
        name = b.get("run_name", b["name"])
        parts = name.split("/")
        if len(parts) < 3 or parts[0] != prefix:
            continue
        us = b["real_time"] * unit_to_us[b.get("time_unit", "ns")]
        entry = (parts[1], [int(d) for d in parts[2].split("x")], us)
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                median[name] = entry
        else:
            plain.setdefault(name, entry)
    plain.update(median)
    return plain


def make_case(torch, case, dims, dev="cuda"):
    """(leaves, fn, backward): fn() returns the scalar (or the Gram matrix for rbf_gram)."""

    def rnd(*shape, lo=-1.0, hi=1.0, grad=True):
        t = torch.empty(*shape, device=dev, dtype=torch.float32).uniform_(lo, hi)
        return t.requires_grad_(grad)

    def gram(x, y, gammas):
        d2 = torch.cdist(x, y).square()
        return sum(torch.exp(-g * d2) for g in gammas)

    if case == "rbf_gram":
        n, d = dims
        x, y = rnd(n, d, grad=False), rnd(n, d, grad=False)
        return [], lambda: gram(x, y, [0.5 / d]), False
    if case == "mmd":
        n, d = dims
        x, y = rnd(n, d), rnd(n, d, lo=-0.5, hi=1.5)
        g = 1.0 / d
        gammas = [0.25 * g, g, 4.0 * g]
        return [x, y], lambda: gram(x, x, gammas).mean() + gram(y, y, gammas).mean() - 2 * gram(x, y, gammas).mean(), True
    if case == "hsic":
        n, d = dims
        x, y = rnd(n, d), rnd(n, d)
        sigma = math.sqrt(d / 3.0)
        g = 1.0 / (2 * sigma * sigma)

        def hsic():
            k, l = gram(x, x, [g]), gram(y, y, [g])
            kc = k - k.mean(0, keepdim=True) - k.mean(1, keepdim=True) + k.mean()
            return (kc * l).sum() / ((n - 1) ** 2)

        return [x, y], hsic, True
    if case == "dv":
        b, d = dims
        x, y, w = rnd(b, d), rnd(b, d), rnd(2 * d, 1, lo=-0.1, hi=0.1)

        def dv():
            xs, ys = x[torch.randperm(b, device=dev)], y[torch.randperm(b, device=dev)]
            tj = (torch.cat([x, y], 1) @ w).reshape(b)
            tm = (torch.cat([xs, ys], 1) @ w).reshape(b)
            return tj.mean() - (torch.logsumexp(tm, 0) - math.log(b))

        return [x, y, w], dv, True
    if case == "infonce":
        b, d = dims
        x, y = rnd(b, d), rnd(b, d)

        def infonce():
            s = x @ y.t()
            return math.log(b) + (s.diagonal() - torch.logsumexp(s, 1)).mean()

        return [x, y], infonce, True
    if case == "logdet_spd":
        batch, k = dims
        bm = rnd(batch, k, k, grad=False)
        a = (torch.eye(k, device=dev) + bm @ bm.transpose(1, 2) * (0.5 / k)).requires_grad_(True)

        def logdet():
            l = torch.linalg.cholesky(a)
            return (2 * torch.log(torch.diagonal(l, dim1=-2, dim2=-1)).sum(-1)).sum()

        return [a], logdet, True
    return None


def time_case(torch, leaves, fn, backward, reps, warmup):
    """Median microseconds of one call (forward, and backward when asked) with CUDA events."""

    def call():
        for t in leaves:
            t.grad = None
        if backward:
            fn().backward()
        else:
            with torch.no_grad():
                fn()

    for _ in range(warmup):
        call()
    torch.cuda.synchronize()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(reps):
        start.record()
        call()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop) * 1e3)
    return statistics.median(times)


def main():
    args = parse_args()
    try:
        import torch
    except ImportError:
        print("bench_estimators.py: PyTorch is not installed", file=sys.stderr)
        return 2
    if not torch.cuda.is_available():
        print("bench_estimators.py: PyTorch sees no CUDA device (torch %s)" % torch.__version__, file=sys.stderr)
        return 2
    ours = load_ours(args.ours, "cuda_estimators")
    if not ours:
        print("bench_estimators.py: no cuda_estimators/* results in %s" % args.ours, file=sys.stderr)
        return 2
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = False  # ours keeps float32 GEMMs (TF32 off by default)
    rows = []
    for name in sorted(ours):
        case, dims, our_us = ours[name]
        made = make_case(torch, case, dims)
        if made is None:
            print("bench_estimators.py: no PyTorch equivalent for %s, skipped" % name, file=sys.stderr)
            continue
        leaves, fn, backward = made
        torch_us = time_case(torch, leaves, fn, backward, args.reps, args.warmup)
        rows.append((case, "x".join(map(str, dims)), "fwd+bwd" if backward else "fwd", our_us, torch_us))
        del made, leaves, fn
        torch.cuda.empty_cache()
    print("fusegrad estimators vs PyTorch %s on %s (median of %d calls, CUDA events; TF32 off in both)"
          % (torch.__version__, torch.cuda.get_device_name(0), args.reps))
    header = "%-12s %-10s %-8s %10s %10s %9s" % ("case", "shape", "pass", "ours us", "torch us", "ours/tch")
    print(header)
    print("-" * len(header))
    ratios = []
    for case, shape, what, our_us, torch_us in rows:
        ratio = our_us / torch_us if torch_us > 0 else float("nan")
        ratios.append(ratio)
        print("%-12s %-10s %-8s %10.1f %10.1f %9.2f" % (case, shape, what, our_us, torch_us, ratio))
    good = [r for r in ratios if r > 0 and math.isfinite(r)]
    if good:
        print("geometric mean of ours/torch: %.2f over %d cases" % (math.exp(sum(map(math.log, good)) / len(good)),
                                                                   len(good)))
    if args.csv:
        with open(args.csv, "w") as f:
            f.write("case,shape,pass,ours_us,torch_us\n")
            for r in rows:
                f.write("%s,%s,%s,%.3f,%.3f\n" % r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
