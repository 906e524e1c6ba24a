#!/usr/bin/env python3
"""bench/torch/bench_mfn.py: the Memory Fusion Network in PyTorch on the same GPU as
bench/bench_mfn.cpp, forward + backward, and a table of our time / PyTorch's.

    build/bench/bench_mfn --benchmark_format=json --benchmark_out=ours.json --benchmark_filter=cuda
    python3 bench/torch/bench_mfn.py --ours ours.json [--reps 30] [--csv out.csv]

Two PyTorch versions of the same model (MOSI's sizes: inputs 300/5/20, hidden 88/48/16,
memory 128, attention hidden 128, u_hat hidden 64, gamma hidden 256/64, output 64 -> 1;
dropout off), both float32, TF32 off (ours keeps float32 GEMMs by default):
  authors     step by step as the authors' code: one nn.LSTMCell per modality and step, the
              attention, candidate memory and both gates recomputed at every step
  structured  fusegrad's structure: nn.LSTM (cuDNN) per modality over the whole sequence
              (the cell states, which nn.LSTM does not return, from the gates recomputed for
              all steps at once and an elementwise scan), the attention and u_hat for all
              steps at once, only the memory loop step by step
One timed call = forward, loss = (out * R).sum(), backward, torch.cuda.synchronize();
wall-clock, the median of --reps calls after --warmup. For each of our benchmarks named
mfn/cuda/model/B<b>_T<t> it prints our time, both PyTorch times and ours / torch (below 1:
we are faster). Our mfn/cuda/memory/* entries (the fused serial op alone) are listed with
the time of the structured version's memory loop alone, measured the same way.
Needs PyTorch with CUDA; exits with status 2 and a message otherwise. Installs nothing.
"""
import statistics
import time
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402  (bench/torch/common.py, next to this script)


def parse_args():
    return common.ours_parser(__doc__, "Google Benchmark JSON of bench_mfn", "case", reps=30).parse_args()


CFG = dict(inputs=[300, 5, 20], hidden=[88, 48, 16], mem=128, att_hidden=128, mem_hidden=64, g1_hidden=256,
           g2_hidden=64, out_hidden=64, out=1)


def build(torch):
    nn, F = torch.nn, torch.nn.functional
    S = sum(CFG["hidden"])
    M = CFG["mem"]

    def two_layer(i, h, o):
        return nn.Sequential(nn.Linear(i, h), nn.ReLU(), nn.Linear(h, o))

    class Heads(nn.Module):
        def __init__(self):
            super().__init__()
            self.att1 = two_layer(2 * S, CFG["att_hidden"], 2 * S)
            self.att2 = two_layer(2 * S, CFG["mem_hidden"], M)
            self.gamma1 = two_layer(2 * S + M, CFG["g1_hidden"], M)
            self.gamma2 = two_layer(2 * S + M, CFG["g2_hidden"], M)
            self.out = two_layer(S + M, CFG["out_hidden"], CFG["out"])

    class AuthorsMFN(Heads):
        def __init__(self):
            super().__init__()
            self.cells = nn.ModuleList([nn.LSTMCell(i, h) for i, h in zip(CFG["inputs"], CFG["hidden"])])

        def forward(self, xs):  # xs[m]: [B, T, D_m]
            B, T = xs[0].shape[:2]
            h = [xs[0].new_zeros(B, H) for H in CFG["hidden"]]
            c = [xs[0].new_zeros(B, H) for H in CFG["hidden"]]
            mem = xs[0].new_zeros(B, M)
            for t in range(T):
                prev_c = c
                new = [cell(x[:, t], (hm, cm)) for cell, x, hm, cm in zip(self.cells, xs, h, c)]
                h = [nh for nh, _ in new]
                c = [nc for _, nc in new]
                c_star = torch.cat(prev_c + c, 1)
                att = F.softmax(self.att1(c_star), dim=1) * c_star
                u_hat = torch.tanh(self.att2(att))
                both = torch.cat([att, mem], 1)
                mem = torch.sigmoid(self.gamma1(both)) * mem + torch.sigmoid(self.gamma2(both)) * u_hat
            return self.out(torch.cat(h + [mem], 1))

    class StructuredMFN(Heads):
        def __init__(self):
            super().__init__()
            self.lstms = nn.ModuleList([nn.LSTM(i, h, batch_first=True) for i, h in zip(CFG["inputs"], CFG["hidden"])])

        def memory(self, att, u_hat):  # att [T, B, 2S], u_hat [T, B, M] -> u at every step
            g1, g2 = self.gamma1, self.gamma2
            w1, w2 = g1[0].weight, g2[0].weight
            pre1 = F.linear(att, w1[:, :2 * S], g1[0].bias)  # the attended part, all steps at once
            pre2 = F.linear(att, w2[:, :2 * S], g2[0].bias)
            wu1, wu2 = w1[:, 2 * S:], w2[:, 2 * S:]
            mem = att.new_zeros(att.shape[1], M)
            mems = []
            for t in range(att.shape[0]):
                a1 = torch.sigmoid(g1[2](torch.relu(pre1[t] + F.linear(mem, wu1))))
                a2 = torch.sigmoid(g2[2](torch.relu(pre2[t] + F.linear(mem, wu2))))
                mem = a1 * mem + a2 * u_hat[t]
                mems.append(mem)
            return torch.stack(mems, 0)  # [T, B, M], as fusegrad's u_all

        def forward(self, xs):
            hs, cells = [], []
            for lstm, x in zip(self.lstms, xs):
                # cuDNN over the whole sequence, then the cell state at every step
                h_n, cs = common.lstm_with_cells(torch, lstm, x)
                hs.append(h_n)
                cells.append(cs)  # [T, B, H]
            c_t = torch.cat(cells, 2)  # [T, B, S]
            c_prev = torch.cat([torch.zeros_like(c_t[:1]), c_t[:-1]], 0)
            c_star = torch.cat([c_prev, c_t], 2)
            att = F.softmax(self.att1(c_star), dim=-1) * c_star
            u_hat = torch.tanh(self.att2(att))
            return self.out(torch.cat(hs + [self.memory(att, u_hat)[-1]], 1))

    return AuthorsMFN, StructuredMFN


def time_call(torch, fn, reps, warmup):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1e6)
    return statistics.median(times)


def load_ours(path):
    ours = {}
    for name, (us, _) in common.results(common.read_json(path), medians=False).items():
        parts = name.split("/")
        if len(parts) < 4 or parts[0] != "mfn" or parts[1] != "cuda":
            continue
        ours[name] = us
    return ours


def main():
    args = parse_args()
    torch = common.import_cuda_torch("bench_mfn.py", show_version=False)
    if torch is None:
        sys.exit(2)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    ours = load_ours(args.ours)
    if not ours:
        print(f"bench_mfn.py: no mfn/cuda/* results in {args.ours}", file=sys.stderr)
        sys.exit(2)
    AuthorsMFN, StructuredMFN = build(torch)
    dev = torch.device("cuda")
    torch.manual_seed(0)
    authors, structured = AuthorsMFN().to(dev).eval(), StructuredMFN().to(dev).eval()
    rows = []
    for name in sorted(ours):
        _, _, what, dims = name.split("/")
        B, T = (int(p[1:]) for p in dims.split("_"))
        xs = [torch.rand(B, T, d, device=dev, requires_grad=True) for d in CFG["inputs"]]
        if what == "model":
            R = torch.randn(B, CFG["out"], device=dev)
            t_auth = time_call(torch, lambda: (authors(xs) * R).sum().backward(), args.reps, args.warmup)
            t_struct = time_call(torch, lambda: (structured(xs) * R).sum().backward(), args.reps, args.warmup)
        else:
            S = sum(CFG["hidden"])
            att = torch.rand(T, B, 2 * S, device=dev, requires_grad=True)
            u_hat = torch.rand(T, B, CFG["mem"], device=dev, requires_grad=True)
            R = torch.randn(T, B, CFG["mem"], device=dev)
            t_auth = float("nan")  # the authors' loop has no separate memory part
            t_struct = time_call(torch, lambda: (structured.memory(att, u_hat) * R).sum().backward(), args.reps,
                                 args.warmup)
        rows.append((name, ours[name], t_auth, t_struct))
    header = ("benchmark", "ours_us", "torch_authors_us", "torch_structured_us", "ours/authors", "ours/structured")
    print(f"{header[0]:28s} {header[1]:>10s} {header[2]:>17s} {header[3]:>20s} {header[4]:>13s} {header[5]:>16s}")
    lines = []
    for name, o, a, s in rows:
        ra, rs = o / a, o / s
        print(f"{name:28s} {o:10.1f} {a:17.1f} {s:20.1f} {ra:13.3f} {rs:16.3f}")
        lines.append(f"{name},{o:.3f},{a:.3f},{s:.3f},{ra:.4f},{rs:.4f}")
    print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    if args.csv:
        with open(args.csv, "w") as f:
            f.write(",".join(header) + "\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
