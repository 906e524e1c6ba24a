#!/usr/bin/env python3
"""tools/ptxas_report.py: registers, spills, stack and static shared memory of every CUDA
kernel, as ptxas reports them at compile time (no GPU needed).

    python3 tools/ptxas_report.py [--build build] [--filter lstm] [--fail-on-spill] [FILE.cu ...]

Recompiles each kernels/cuda/*.cu (or the files named) with the flags of the build's
compile_commands.json plus -Xptxas -v, and prints one row per kernel. --fail-on-spill
exits 1 when any kernel spills registers or uses a stack frame (local memory)."""
import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def demangle(names):
    try:
        out = subprocess.run(["cu++filt"], input="\n".join(names), capture_output=True, text=True, check=True).stdout
        return out.splitlines()
    except (OSError, subprocess.CalledProcessError):
        try:
            out = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True, check=True).stdout
            return out.splitlines()
        except (OSError, subprocess.CalledProcessError):
            return names


def short(name):
    name = re.sub(r"\(anonymous namespace\)::", "", name)
    name = re.sub(r"fg::kernels::(cuda_detail::)?(cuda::)?", "", name)
    return re.sub(r"\(.*\)$", "", name)


def compile_report(cmd, src):
    args = shlex.split(cmd)
    # drop the output and keep everything else; compile to a throwaway object with -Xptxas -v
    out = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a == "-o":
            skip = True
            continue
        out.append(a)
    with tempfile.TemporaryDirectory() as tmp:
        out += ["-o", os.path.join(tmp, "k.o"), "-Xptxas", "-v"]
        r = subprocess.run(out, capture_output=True, text=True)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        raise SystemExit(f"ptxas_report: compiling {src} failed")
    rows = []
    cur = None
    for line in r.stderr.splitlines():
        m = re.search(r"Compiling entry function '([^']+)'", line)
        if m:
            cur = {"mangled": m.group(1), "regs": 0, "stack": 0, "spill_st": 0, "spill_ld": 0, "smem": 0}
            rows.append(cur)
            continue
        if cur is None:
            continue
        m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if m:
            cur["stack"], cur["spill_st"], cur["spill_ld"] = map(int, m.groups())
        m = re.search(r"Used (\d+) registers", line)
        if m:
            cur["regs"] = int(m.group(1))
        m = re.search(r"(\d+) bytes smem", line)
        if m:
            cur["smem"] = int(m.group(1))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="build folder with compile_commands.json")
    ap.add_argument("--filter", default="", help="only kernels whose name contains this")
    ap.add_argument("--fail-on-spill", action="store_true", help="exit 1 if a kernel spills or uses a stack frame")
    ap.add_argument("files", nargs="*", help=".cu files (default: every kernels/cuda/*.cu)")
    a = ap.parse_args()
    db_path = os.path.join(a.build, "compile_commands.json")
    if not os.path.exists(db_path):
        raise SystemExit(f"ptxas_report: {db_path} not found: configure a CUDA build there first (tools/setup.sh)")
    db = {os.path.realpath(e["file"]): e for e in json.load(open(db_path))}
    files = a.files or sorted(os.path.join(ROOT, "kernels", "cuda", f) for f in os.listdir(os.path.join(ROOT, "kernels", "cuda"))
                              if f.endswith(".cu"))
    bad = []
    print(f"{'kernel':<78} {'regs':>4} {'stack':>5} {'spill st/ld':>11} {'static smem':>11}")
    for f in files:
        e = db.get(os.path.realpath(f))
        if e is None:
            raise SystemExit(f"ptxas_report: {f} is not in {db_path} (is the build configured with FUSEGRAD_CUDA=ON?)")
        rows = compile_report(e["command"], f)
        names = demangle([r["mangled"] for r in rows])
        for r, n in zip(rows, names):
            n = short(n)
            if a.filter and a.filter not in n:
                continue
            flag = ""
            if r["spill_st"] or r["spill_ld"] or r["stack"]:
                flag = "  <- local memory"
                bad.append(n)
            print(f"{n[:78]:<78} {r['regs']:>4} {r['stack']:>5} {r['spill_st']:>5}/{r['spill_ld']:<5} {r['smem']:>11}{flag}")
    if bad and a.fail_on_spill:
        print(f"ptxas_report: {len(bad)} kernel(s) use local memory (spills or a stack frame)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
