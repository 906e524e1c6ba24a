"""bench/torch/common.py: the pieces every bench/torch/bench_<x>.py script shares.

Not a script itself (tools/gpu-check.sh runs bench/torch/bench_*.py only). Each script
imports it from its own folder, so it works however the script is started:

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import common

What is here:
  ours_parser                      the flags of a script that reads our JSON: --ours
                                   (required), --reps, --warmup, --csv; --help prints the
                                   script's docstring
  argument_parser, add_run_args, add_csv_arg
                                   the same pieces one by one
  import_cuda_torch                PyTorch with a CUDA device, or None after a message
                                   (the scripts then exit with status 2)
  read_json / results              our Google Benchmark JSON: microseconds per call of each
                                   benchmark that ran (failed and skipped ones left out)
  median_cuda_time_us              median time of a callable between two CUDA events,
                                   after untimed warm-up calls
  lstm_with_cells                  one-layer nn.LSTM over [B, T, D] plus its cell state at
                                   every step (nn.LSTM returns only the last), for the MFN
                                   counterparts (bench_mfn.py, cpu_side_by_side.py)
  print_header / ratio / print_geomean / write_csv
                                   the ours/torch table: header and rule, one ratio per
                                   row (below 1: fusegrad is faster), geometric mean of
                                   the ratios, optional CSV copy
Nothing here imports torch at module level: the scripts parse their flags and report a
missing PyTorch cleanly.
"""
import argparse
import json
import math
import statistics
import sys

# Google Benchmark's time_unit -> microseconds.
UNIT_TO_US = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}


def argument_parser(doc):
    """An ArgumentParser whose --help prints the script's docstring as written."""
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def add_run_args(parser, unit, reps, timed_unit=None):
    """--reps (default `reps`) and --warmup (default 5). `unit` names one timed thing
    in the help text ("op", "case"); `timed_unit` overrides it for --reps/--warmup."""
    timed = timed_unit or ("calls per " + unit)
    parser.add_argument("--reps", type=int, default=reps, help="timed %s (median reported)" % timed)
    parser.add_argument("--warmup", type=int, default=5, help="untimed %s" % timed)


def add_csv_arg(parser):
    """--csv FILE: the scripts also write their table there."""
    parser.add_argument("--csv", help="also write the table as CSV to this file")


def ours_parser(doc, ours_help, unit, reps):
    """A parser with --ours (required; `ours_help`), --reps, --warmup and --csv."""
    parser = argument_parser(doc)
    parser.add_argument("--ours", required=True, help=ours_help)
    add_run_args(parser, unit, reps)
    add_csv_arg(parser)
    return parser


def import_cuda_torch(script, show_version=True):
    """torch when it is installed and sees a CUDA device; otherwise None, after a message on
    stderr naming `script` and the reason."""
    try:
        import torch
    except ImportError:
        print("%s: PyTorch is not installed" % script, file=sys.stderr)
        return None
    if not torch.cuda.is_available():
        version = " (torch %s)" % torch.__version__ if show_version else ""
        print("%s: PyTorch sees no CUDA device%s" % (script, version), file=sys.stderr)
        return None
    return torch


def read_json(path):
    with open(path) as f:
        return json.load(f)


def results(data, medians):
    """name -> (microseconds per call, the JSON entry) for each benchmark in Google Benchmark
    JSON `data` that ran (entries with error_occurred are left out). With medians=True the
    median aggregate is used where repetitions were run (--benchmark_repetitions), else the
    first plain entry; with medians=False aggregates are ignored and the last plain entry of
    a name is kept."""
    plain, median = {}, {}
    for b in data.get("benchmarks", []):
        if b.get("error_occurred"):
            continue
        us = b["real_time"] * UNIT_TO_US[b.get("time_unit", "ns")]
        if b.get("run_type", "iteration") == "aggregate":
            if medians and b.get("aggregate_name") == "median":
                median[b.get("run_name", b["name"])] = (us, b)
        elif medians:
            plain.setdefault(b.get("run_name", b["name"]), (us, b))
        else:
            plain[b["name"]] = (us, b)
    plain.update(median)
    return plain


def median_cuda_time_us(torch, fn, reps, warmup):
    """Median microseconds of fn(), each call timed between two CUDA events on the current
    stream, after `warmup` untimed calls and a device synchronize."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(reps):
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop) * 1e3)
    return statistics.median(times)


def lstm_with_cells(torch, lstm, x):
    """Run a one-layer batch-first nn.LSTM over x [B, T, D]; return (h_n [B, H], cells [T, B, H]).

    nn.LSTM returns no cell sequence, so the gates are recomputed for all steps at once from
    h_{t-1} (known after the fused run) and the cell's elementwise scan is run step by step.
    """
    F = torch.nn.functional
    out, (h_n, _) = lstm(x)
    h_prev = torch.cat([torch.zeros_like(out[:, :1]), out[:, :-1]], 1)
    gates = F.linear(x, lstm.weight_ih_l0, lstm.bias_ih_l0) + F.linear(h_prev, lstm.weight_hh_l0, lstm.bias_hh_l0)
    i, f, g, _ = gates.chunk(4, -1)
    i, f, g = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g)
    c = torch.zeros_like(out[:, 0])
    cs = []
    for step in range(x.shape[1]):
        c = f[:, step] * c + i[:, step] * g[:, step]
        cs.append(c)
    return h_n[0], torch.stack(cs, 0)


def print_header(header):
    """The table's column header and a rule as wide as it."""
    print(header)
    print("-" * len(header))


def ratio(ours_us, torch_us):
    """ours / torch (below 1: fusegrad is faster); NaN when torch's time is not positive."""
    return ours_us / torch_us if torch_us > 0 else float("nan")


def print_geomean(ratios, unit):
    """The closing line: geometric mean of the finite positive ratios, over `unit`s."""
    good = [r for r in ratios if r > 0 and math.isfinite(r)]
    if good:
        print("geometric mean of ours/torch: %.2f over %d %s" % (math.exp(sum(map(math.log, good)) / len(good)),
                                                                 len(good), unit))


def write_csv(path, header, lines):
    """`header` (column names joined by commas) and one CSV line per row."""
    with open(path, "w") as f:
        f.write(header + "\n")
        for line in lines:
            f.write(line + "\n")
