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
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (bench/torch/common.py, next to this script)


def parse_args():
    return common.ours_parser(__doc__, "Google Benchmark JSON of bench_cuda_estimators", "case", reps=50).parse_args()


def load_ours(path, prefix):
    """name -> (case, dims, microseconds per call) from Google Benchmark JSON: the median
    aggregate when repetitions were run, else the plain iteration entry."""
    ours = {}
    for name, (us, _) in common.results(common.read_json(path), medians=True).items():
        parts = name.split("/")
        if len(parts) < 3 or parts[0] != prefix:
            continue
        ours[name] = (parts[1], [int(d) for d in parts[2].split("x")], us)
    return ours


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

    return common.median_cuda_time_us(torch, call, reps, warmup)


def main():
    args = parse_args()
    torch = common.import_cuda_torch("bench_estimators.py")
    if torch is None:
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
    common.print_header(header)
    ratios = []
    for case, shape, what, our_us, torch_us in rows:
        ratio = common.ratio(our_us, torch_us)
        ratios.append(ratio)
        print("%-12s %-10s %-8s %10.1f %10.1f %9.2f" % (case, shape, what, our_us, torch_us, ratio))
    common.print_geomean(ratios, "cases")
    if args.csv:
        common.write_csv(args.csv, "case,shape,pass,ours_us,torch_us", ["%s,%s,%s,%.3f,%.3f" % r for r in rows])
    return 0


if __name__ == "__main__":
    sys.exit(main())
