#!/usr/bin/env python3
"""bench/torch/bench_lstm.py: PyTorch nn.LSTM forward + backward on the shapes of
bench/bench_lstm.cpp, on the same GPU, joined with our Google Benchmark results.

    build/bench/bench_lstm --benchmark_format=json --benchmark_out=lstm.json
    python3 bench/torch/bench_lstm.py --ours lstm.json
  or let the script run the binary itself:
    python3 bench/torch/bench_lstm.py --bench build/bench/bench_lstm

One iteration, as in the C++ benchmark: one layer nn.LSTM(input_size=H, hidden_size=H),
input [T, B, H] (every sequence T long, zero initial states), forward, then the gradients
of x and of every parameter from a given dL/dy (torch.autograd.grad, so nothing
accumulates). Timed with CUDA events around each iteration after --warmup untimed ones;
the median of --reps is reported. cuDNN's TF32 is OFF by default so that PyTorch, like
fusegrad and the C++ "cudnn" entry, computes in float32 (--tf32 turns it on, as PyTorch's
own default does; compare that column with "cudnn_tf32").

Printed per shape (microseconds): our automatic path, our general path, cuDNN called
directly (standard algorithm; with TF32; its persistent algorithm), PyTorch, and the
ratios ours/torch and ours/cudnn (below 1: we are faster; the issue's target is
ours/cudnn <= 0.5 at H=64, T=50, B=32). Needs PyTorch with CUDA; exits with status 2 and a
message otherwise. Installs nothing.
"""
import json
import re
import subprocess
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (bench/torch/common.py, next to this script)

NAME = re.compile(r"^lstm/(?P<impl>[a-z0-9_]+)/H(?P<H>\d+)/T(?P<T>\d+)/B(?P<B>\d+)")
IMPLS = ["fusegrad", "fusegrad_general", "cudnn", "cudnn_tf32", "cudnn_persist"]


def parse_args():
    p = common.argument_parser(__doc__)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--ours", help="Google Benchmark JSON written by bench_lstm")
    src.add_argument("--bench", help="path of the bench_lstm binary: run it and read its JSON")
    common.add_run_args(p, "shape", reps=50, timed_unit="iterations per shape")
    p.add_argument("--tf32", action="store_true", help="allow TF32 in PyTorch's cuDNN RNN (PyTorch's default)")
    common.add_csv_arg(p)
    return p.parse_args()


def load_ours(data):
    """(H, T, B) -> {impl: microseconds} from Google Benchmark JSON (errors left out)."""
    ours = {}
    for name, (us, _) in common.results(data, medians=False).items():
        m = NAME.match(name)
        if not m:
            continue
        ours.setdefault((int(m["H"]), int(m["T"]), int(m["B"])), {})[m["impl"]] = us
    return ours


def read_json(args):
    if args.ours:
        return common.read_json(args.ours)
    run = subprocess.run([args.bench, "--benchmark_format=json"], capture_output=True, text=True)
    if run.returncode != 0:
        print("bench_lstm.py: %s failed (status %d):\n%s" % (args.bench, run.returncode, run.stderr), file=sys.stderr)
        sys.exit(2)
    return json.loads(run.stdout)


def time_torch(torch, H, T, B, reps, warmup):
    """Median microseconds of one nn.LSTM forward + backward."""
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(input_size=H, hidden_size=H).cuda()
    x = torch.empty(T, B, H, device="cuda").uniform_(-1, 1).requires_grad_(True)
    dy = torch.empty(T, B, H, device="cuda").uniform_(-1, 1)
    inputs = [x] + list(lstm.parameters())

    def iteration():
        y, _ = lstm(x)
        return torch.autograd.grad(y, inputs, dy)

    return common.median_cuda_time_us(torch, iteration, reps, warmup)


def fmt(v, spec="%9.1f"):
    return spec % v if v is not None else "%9s" % "-"


def main():
    args = parse_args()
    torch = common.import_cuda_torch("bench_lstm.py")
    if torch is None:
        return 2
    ours = load_ours(read_json(args))
    if not ours:
        print("bench_lstm.py: no lstm/* results (was bench_lstm built with CUDA, and is there a GPU?)", file=sys.stderr)
        return 2
    torch.backends.cudnn.allow_tf32 = args.tf32
    rows = []
    for key in sorted(ours):
        H, T, B = key
        rows.append((key, ours[key], time_torch(torch, H, T, B, args.reps, args.warmup)))
        torch.cuda.empty_cache()

    print("LSTM forward+backward, microseconds per iteration, on %s (PyTorch %s, cuDNN %s, torch TF32 %s)"
          % (torch.cuda.get_device_name(0), torch.__version__, torch.backends.cudnn.version(),
             "on" if args.tf32 else "off"))
    header = "%4s %3s %3s %9s %9s %9s %9s %9s %9s %9s %9s" % (
        "H", "T", "B", "ours", "general", "cudnn", "cdnn_tf32", "cdnn_pers", "torch", "ours/tch", "ours/cdnn")
    common.print_header(header)
    for (H, T, B), mine, torch_us in rows:
        get = mine.get
        ours_us = get("fusegrad")
        r_torch = ours_us / torch_us if ours_us and torch_us else None
        r_cudnn = ours_us / get("cudnn") if ours_us and get("cudnn") else None
        print("%4d %3d %3d %s %s %s %s %s %s %s %s" % (
            H, T, B, fmt(ours_us), fmt(get("fusegrad_general")), fmt(get("cudnn")), fmt(get("cudnn_tf32")),
            fmt(get("cudnn_persist")), fmt(torch_us), fmt(r_torch, "%9.2f"), fmt(r_cudnn, "%9.2f")))
    target = next((r for r in rows if r[0] == (64, 50, 32)), None)
    if target and target[1].get("fusegrad") and target[1].get("cudnn"):
        ratio = target[1]["cudnn"] / target[1]["fusegrad"]
        print("target H=64 T=50 B=32: cuDNN / ours = %.2fx (goal >= 2x): %s" % (ratio, "met" if ratio >= 2 else "NOT met"))
    if args.csv:
        with open(args.csv, "w") as f:
            f.write("H,T,B,%s,torch_us\n" % ",".join(i + "_us" for i in IMPLS))
            for (H, T, B), mine, torch_us in rows:
                vals = ["%.3f" % mine[i] if i in mine else "" for i in IMPLS]
                f.write("%d,%d,%d,%s,%.3f\n" % (H, T, B, ",".join(vals), torch_us))
    return 0


if __name__ == "__main__":
    sys.exit(main())
