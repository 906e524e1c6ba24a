#!/usr/bin/env python3
"""bench/torch/cpu_side_by_side.py: fusegrad's CPU workloads (bench/bench_cpu_side.cpp) and the
same computations in PyTorch, measured side by side on this machine, with ours / torch.

    /usr/bin/python3 bench/torch/cpu_side_by_side.py --bench build-cpu/bench/bench_cpu_side \\
        [--threads 1,2] [--reps 3] [--min-time 0.4] [--csv out.csv] [--workloads linear,bert]

For each thread count (OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = t and OMP_WAIT_POLICY=passive on
both sides; torch.set_num_threads(t) in a PyTorch worker process started with that environment)
and each repetition, every workload is measured twice in a row: our program on that workload
alone (Google Benchmark, --benchmark_min_time, real time per iteration), then the PyTorch worker
(the median of calls timed one by one for about the same time). Both therefore see the same
load of a shared machine. The table gives the median over the repetitions of each side and
ours / torch (below 1: fusegrad is faster; for gelu and sum the throughput in GB/s too, for
the chain microseconds per op).

The value check: in the first repetition at each thread count our program writes its inputs,
parameters and results (FG_SIDE_DUMP, see bench_cpu_side.cpp); the PyTorch worker loads the
same weights and inputs, runs the same step and compares every result by relative L2 error,
||ours - torch|| / max(||torch||, FLOOR sqrt(n)) <= TOL (TOL 1e-3: float32 on both sides with
different summation orders; FLOOR 1e-4 only matters for tensors that are zero in exact
arithmetic, such as the gradient of attention's key bias).
A failed check is printed and makes the exit status 1 (the timings are still printed).
Needs PyTorch (python3-torch) and numpy. Installs nothing.
"""
import argparse
import json
import math
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (bench/torch/common.py, next to this script)

WORKLOADS = ["linear", "lstm", "mfn_adam", "late_adam", "bert", "gelu", "sum", "chain"]
TOL = 1e-3
FLOOR = 1e-4


# ---------------------------------------------------------------- safetensors (reading ours)
def read_safetensors(path):
    import numpy as np
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    kinds = {"F32": np.float32, "F64": np.float64, "I64": np.int64}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(raw[base + a:base + b], dtype=kinds[info["dtype"]]).reshape(info["shape"]).copy()
    return out


# ---------------------------------------------------------------- the PyTorch side
def build_workloads(torch):
    """name -> (setup(dump or None) -> (step callable, check callable or None))."""
    nn, F = torch.nn, torch.nn.functional

    def t(a, grad=False):
        x = torch.from_numpy(a)
        return x.requires_grad_(True) if grad else x

    def rand(*shape, seed, lo=-1.0, hi=1.0, grad=False):
        g = torch.Generator().manual_seed(seed)
        x = torch.rand(shape, generator=g) * (hi - lo) + lo
        return x.requires_grad_(True) if grad else x

    def load(model, dump, rename=lambda n: n):
        if dump is None:
            return
        state = {rename(k[2:]): t(v) for k, v in dump.items() if k.startswith("p.")}
        missing = model.load_state_dict(state, strict=True)
        assert not missing.missing_keys and not missing.unexpected_keys, missing

    def results_fwd_bwd(model, loss, x, rename=lambda n: n):
        res = {"out.loss": loss.detach(), "out.gx": x.grad}
        for n, p in model.named_parameters():
            res["g." + rename(n)] = p.grad
        return res

    def mlp(sizes, p, last_relu=False):
        layers = []
        for k in range(len(sizes) - 1):
            layers.append(nn.Linear(sizes[k], sizes[k + 1]))
            if k + 2 < len(sizes) or last_relu:
                layers.append(nn.ReLU())
                if p > 0:
                    layers.append(nn.Dropout(p))
        return nn.Sequential(*layers)

    def fwd_bwd_case(model, x, r, forward):
        def step():
            loss = (forward(x) * r).sum()
            loss.backward()
            model.zero_grad(set_to_none=True)
            x.grad = None

        def check():
            loss = (forward(x) * r).sum()
            loss.backward()
            return results_fwd_bwd(model, loss, x)
        return step, check

    def linear(dump):
        model = nn.Linear(512, 512)
        load(model, dump)
        x = t(dump["in.x"], True) if dump else rand(4096, 512, seed=1, grad=True)
        r = t(dump["in.r"]) if dump else rand(4096, 512, seed=2)
        return fwd_bwd_case(model, x, r, model)

    def lstm(dump):
        model = nn.LSTM(300, 64)
        load(model, dump)
        x = t(dump["in.x"], True) if dump else rand(50, 32, 300, seed=1, grad=True)
        r = t(dump["in.r"]) if dump else rand(50, 32, 64, seed=2)
        return fwd_bwd_case(model, x, r, lambda x: model(x)[0])

    class BertLayer(nn.Module):
        def __init__(self, H=128, heads=2, inter=512, eps=1e-12):
            super().__init__()
            self.nh, self.dh = heads, H // heads
            self.attention = nn.Module()
            self.attention.self = nn.Module()
            for n in ("query", "key", "value"):
                setattr(self.attention.self, n, nn.Linear(H, H))
            self.attention.output = nn.Module()
            self.attention.output.dense = nn.Linear(H, H)
            self.attention.output.LayerNorm = nn.LayerNorm(H, eps=eps)
            self.intermediate = nn.Module()
            self.intermediate.dense = nn.Linear(H, inter)
            self.output = nn.Module()
            self.output.dense = nn.Linear(inter, H)
            self.output.LayerNorm = nn.LayerNorm(H, eps=eps)

        def heads(self, x):
            return x.view(x.shape[:-1] + (self.nh, self.dh)).permute(0, 2, 1, 3)

        def forward(self, h):
            s = self.attention.self
            q, k, v = self.heads(s.query(h)), self.heads(s.key(h)), self.heads(s.value(h))
            p = F.softmax(torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.dh), dim=-1)
            ctx = torch.matmul(p, v).permute(0, 2, 1, 3).reshape(h.shape)
            o = self.attention.output
            a = o.LayerNorm(o.dense(ctx) + h)
            i = F.gelu(self.intermediate.dense(a))
            return self.output.LayerNorm(self.output.dense(i) + a)

    class BertEncoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.ModuleList([BertLayer(), BertLayer()])

        def forward(self, h):
            for l in self.layer:
                h = l(h)
            return h

    def bert(dump):
        model = BertEncoder().eval()
        load(model, dump)
        x = t(dump["in.x"], True) if dump else rand(32, 64, 128, seed=1, grad=True)
        r = t(dump["in.r"]) if dump else rand(32, 64, 128, seed=2)
        return fwd_bwd_case(model, x, r, model)

    def adam_case(model, forward, y, dump):
        model.eval()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def step():
            loss = F.mse_loss(forward(), y)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        def check():
            loss = F.mse_loss(forward(), y)
            loss.backward()
            res = {"out.loss": loss.detach()}
            res.update({"g." + n: p.grad.clone() for n, p in model.named_parameters()})
            opt.step()
            res.update({"after." + n: p.detach().clone() for n, p in model.named_parameters()})
            return res
        return step, check

    MFN = dict(inputs=[300, 5, 20], hidden=[88, 48, 16], names=["l", "a", "v"], mem=128, att=128, memh=64, g1=256,
               g2=64, outh=64, p_att=0.0, p_mem=0.2, p_g1=0.0, p_g2=0.2, p_out=0.5)

    class StructuredMFN(nn.Module):
        """The MFN as a PyTorch user writes it for speed (bench/torch/bench_mfn.py's structured
        version): nn.LSTM per modality over the whole sequence (cell states recomputed from the
        gates for all steps at once), attention and u_hat for all steps at once, only the gated
        memory step by step. Parameters named as models/mfn.h ("lstm_l.weight_ih_l0" holds our
        "lstm_l.weight_ih")."""

        def __init__(self):
            super().__init__()
            c = MFN
            S, M = sum(c["hidden"]), c["mem"]
            self.S, self.M = S, M
            for n, i, h in zip(c["names"], c["inputs"], c["hidden"]):
                setattr(self, "lstm_" + n, nn.LSTM(i, h, batch_first=True))
            self.att1 = mlp([2 * S, c["att"], 2 * S], c["p_att"])
            self.att2 = mlp([2 * S, c["memh"], M], c["p_mem"])
            self.gamma1 = mlp([2 * S + M, c["g1"], M], c["p_g1"])
            self.gamma2 = mlp([2 * S + M, c["g2"], M], c["p_g2"])
            self.out = mlp([S + M, c["outh"], 1], c["p_out"])

        def forward(self, xs):
            hs, cells = [], []
            for n, x in zip(MFN["names"], xs):
                h_n, cs = common.lstm_with_cells(torch, getattr(self, "lstm_" + n), x)
                hs.append(h_n)
                cells.append(cs)
            c_t = torch.cat(cells, 2)
            c_prev = torch.cat([torch.zeros_like(c_t[:1]), c_t[:-1]], 0)
            c_star = torch.cat([c_prev, c_t], 2)
            att = F.softmax(self.att1(c_star), dim=-1) * c_star
            u_hat = torch.tanh(self.att2(att))
            S, M = self.S, self.M
            g1, g2 = self.gamma1, self.gamma2
            pre1 = F.linear(att, g1[0].weight[:, :2 * S], g1[0].bias)
            pre2 = F.linear(att, g2[0].weight[:, :2 * S], g2[0].bias)
            wu1, wu2 = g1[0].weight[:, 2 * S:], g2[0].weight[:, 2 * S:]
            mem = att.new_zeros(att.shape[1], M)
            for step in range(att.shape[0]):
                a1 = torch.sigmoid(g1[-1](torch.relu(pre1[step] + F.linear(mem, wu1))))
                a2 = torch.sigmoid(g2[-1](torch.relu(pre2[step] + F.linear(mem, wu2))))
                mem = a1 * mem + a2 * u_hat[step]
            return self.out(torch.cat(hs + [mem], 1))

    def mfn_rename(n):  # ours -> torch
        for m in MFN["names"]:
            for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                if n == f"lstm_{m}.{w}":
                    return f"lstm_{m}.{w}_l0"
        return n

    def mfn_adam(dump):
        model = StructuredMFN()
        load(model, dump, mfn_rename)
        xs = [t(dump[f"in.x{m}"]) if dump else rand(32, 20, d, seed=10 + m) for m, d in enumerate(MFN["inputs"])]
        y = t(dump["in.y"]) if dump else rand(32, seed=3, lo=-3, hi=3)
        step, check = adam_case(model, lambda: model(xs)[:, 0], y, dump)

        def check_renamed():  # torch's names -> ours ("lstm_l.weight_ih_l0" -> "lstm_l.weight_ih")
            return {(k[:-3] if k.startswith(("g.lstm_", "after.lstm_")) and k.endswith("_l0") else k): v
                    for k, v in check().items()}
        return step, check_renamed

    class LateFusion(nn.Module):
        def __init__(self):
            super().__init__()
            self.mods = ["text", "acoustic", "visual"]
            for n, d, h in zip(self.mods, [300, 5, 20], [64, 16, 32]):
                setattr(self, n + "_encoder", mlp([d, h, h], 0.0, last_relu=True))
            self.head = mlp([112, 64, 1], 0.0)

        def forward(self, xs):
            es = [getattr(self, n + "_encoder")(x.mean(1)) for n, x in zip(self.mods, xs)]
            return self.head(torch.cat(es, 1))[:, 0]

    def late_adam(dump):
        model = LateFusion()
        load(model, dump)
        xs = [t(dump[f"in.x{m}"]) if dump else rand(32, 20, d, seed=10 + m) for m, d in enumerate([300, 5, 20])]
        y = t(dump["in.y"]) if dump else rand(32, seed=3, lo=-3, hi=3)
        return adam_case(model, lambda: model(xs), y, dump)

    def gelu(dump):
        x = rand(1 << 24, seed=4, lo=-4, hi=4)

        def check():
            return {"out.y": F.gelu(t(dump["in.x"]))}
        return (lambda: F.gelu(x)), check

    def sum_(dump):
        x = rand(4096, 4096, seed=5)

        def check():
            return {"out.y": t(dump["in.x"]).sum(-1)}
        return (lambda: x.sum(-1)), check

    def chain(dump):
        x0 = t(dump["in.x"]) if dump else rand(8, seed=6)

        def run():
            x = x0
            for _ in range(500):
                x = (x * 1.0001) + (-1e-4)
            return x
        return run, (lambda: {"out.y": run()})

    return {"linear": linear, "lstm": lstm, "mfn_adam": mfn_adam, "late_adam": late_adam, "bert": bert,
            "gelu": gelu, "sum": sum_, "chain": chain}


def median_time_s(fn, min_time):
    fn()  # warm-up
    times = []
    start = time.perf_counter()
    while len(times) < 3 or time.perf_counter() - start < min_time:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def worker(threads, min_time):
    """The PyTorch side: reads 'time <w>' / 'check <w> <file>' lines, answers one JSON line each."""
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cases = build_workloads(torch)
    built = {}
    print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "time":
            w = parts[1]
            if w not in built:
                built[w] = cases[w](None)[0]
            print(json.dumps({"s": median_time_s(built[w], min_time)}), flush=True)
        elif parts[0] == "check":
            w, path = parts[1], parts[2]
            dump = read_safetensors(path)
            _, check = cases[w](dump)
            theirs = check()
            errors = {}
            for k, v in theirs.items():
                if k not in dump:
                    errors[k] = "missing in ours"
                    continue
                ref = v.detach().double().reshape(-1)
                ours = torch.from_numpy(dump[k]).double().reshape(-1)
                if ours.shape != ref.shape:
                    errors[k] = f"shape {tuple(ours.shape)} vs {tuple(ref.shape)}"
                    continue
                # relative L2 error; a tensor that is zero in exact arithmetic (the gradient of
                # attention's key bias) is compared on the scale FLOOR per element instead
                den = max(ref.norm().item(), FLOOR * math.sqrt(ref.numel()))
                errors[k] = (ours - ref).norm().item() / den
            print(json.dumps({"errors": errors}), flush=True)


class TorchWorker:
    def __init__(self, env, threads, min_time):
        self.p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", str(threads), "--min-time",
                                   str(min_time)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True)
        self.info = json.loads(self.p.stdout.readline())

    def ask(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        reply = self.p.stdout.readline()
        if not reply:
            raise RuntimeError("the PyTorch worker exited (see its error above)")
        return json.loads(reply)

    def close(self):
        self.p.stdin.close()
        self.p.wait()


def run_ours(bench, workload, env, min_time, dump_dir=None):
    env = dict(env)
    if dump_dir:
        env["FG_SIDE_DUMP"] = dump_dir
    out = subprocess.run([bench, f"--benchmark_filter=^cpu/{workload}(/|$)", f"--benchmark_min_time={min_time}",
                          "--benchmark_format=json"], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{bench} failed on {workload}: {out.stderr.strip()}")
    runs = [b for b in json.loads(out.stdout)["benchmarks"] if b.get("run_type", "iteration") == "iteration"]
    if not runs or runs[0].get("error_occurred"):
        raise RuntimeError(f"{bench}: no result for cpu/{workload}: {runs[0].get('error_message') if runs else ''}")
    unit = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[runs[0]["time_unit"]]
    return runs[0]["real_time"] * unit


def describe(w, s):
    if w == "gelu":
        return f"{8 * (1 << 24) / s / 1e9:.2f} GB/s"
    if w == "sum":
        return f"{4 * 4096 * 4096 / s / 1e9:.2f} GB/s"
    if w == "chain":
        return f"{s / 1000 * 1e6:.3f} us/op"
    return f"{s * 1e3:.2f} ms"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default="build-cpu/bench/bench_cpu_side", help="our bench_cpu_side program")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--reps", type=int, default=3, help="repetitions (medians reported)")
    ap.add_argument("--min-time", type=float, default=0.4, help="seconds each side measures per repetition")
    ap.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated subset of " + ",".join(WORKLOADS))
    ap.add_argument("--csv", help="also write the table as CSV to this file")
    ap.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker is not None:
        worker(args.worker, args.min_time)
        return 0
    workloads = [w for w in args.workloads.split(",") if w]
    bad = [w for w in workloads if w not in WORKLOADS]
    if bad:
        print(f"cpu_side_by_side.py: --workloads: unknown {bad}, expected some of {WORKLOADS}", file=sys.stderr)
        return 2
    if not os.access(args.bench, os.X_OK):
        print(f"cpu_side_by_side.py: --bench: {args.bench} is not an executable (build bench_cpu_side with "
              "-DFUSEGRAD_BENCH=ON)", file=sys.stderr)
        return 2
    threads = [int(t) for t in args.threads.split(",")]
    rows, failed = [], False
    dump_dir = tempfile.mkdtemp(prefix="fg_side_")
    for th in threads:
        env = dict(os.environ, OMP_NUM_THREADS=str(th), OPENBLAS_NUM_THREADS=str(th), OMP_WAIT_POLICY="passive")
        tw = TorchWorker(env, th, args.min_time)
        ours = {w: [] for w in workloads}
        theirs = {w: [] for w in workloads}
        errs = {}
        for rep in range(args.reps):
            for w in workloads:
                ours[w].append(run_ours(args.bench, w, env, args.min_time, dump_dir if rep == 0 else None))
                if rep == 0:
                    errs[w] = tw.ask(f"check {w} {os.path.join(dump_dir, w + '.safetensors')}")["errors"]
                theirs[w].append(tw.ask(f"time {w}")["s"])
        tw.close()
        for w in workloads:
            o, t = statistics.median(ours[w]), statistics.median(theirs[w])
            worst = max(((k, v) for k, v in errs[w].items()), key=lambda kv: kv[1] if isinstance(kv[1], float)
                        else math.inf)
            ok = all(isinstance(v, float) and v <= TOL for v in errs[w].values())
            failed |= not ok
            rows.append((w, th, o, t, o / t, worst, ok))
        print(f"threads {th}: torch {tw.info['torch']} (get_num_threads {tw.info['threads']})", flush=True)
    print(f"\n{'workload':10s} {'thr':>3s} {'ours':>14s} {'torch':>14s} {'ours/torch':>10s}  check (worst rel. L2)")
    lines = []
    for w, th, o, t, r, (wk, wv), ok in rows:
        wv_s = f"{wv:.1e}" if isinstance(wv, float) else wv
        print(f"{w:10s} {th:3d} {describe(w, o):>14s} {describe(w, t):>14s} {r:10.2f}  "
              f"{'ok' if ok else 'FAILED'} ({wk} {wv_s})")
        lines.append(f"{w},{th},{o:.6g},{t:.6g},{r:.4f},{wk},{wv_s},{'ok' if ok else 'FAILED'}")
    print(f"\nmedians of {args.reps} interleaved repetitions, {args.min_time} s per side and repetition; "
          "time ratio ours/torch (below 1: fusegrad is faster)")
    if args.csv:
        with open(args.csv, "w") as f:
            f.write("workload,threads,ours_s,torch_s,ratio,worst_key,worst_rel_err,check\n" + "\n".join(lines) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
