#!/usr/bin/env python3
"""Regenerate the measured tables in docs/estimators.md and docs/digits.md from the programs.

Each table sits between two marker comments in its document:
    <!-- BEGIN TABLE estimators (tools/update_docs_tables.py) -->
    ...the command that produced it, then the table...
    <!-- END TABLE estimators -->
and this script rewrites what is between them from the current program output:
  estimators  build/estimators --rhos 0.1 0.3 0.5 0.7 0.8 0.9 (defaults otherwise: d = 5,
              batch 256, 500 Adam steps per critic, seed 0), read from its --json file;
              about 20 s on one core (OpenBLAS is pinned to one thread: the numbers do not
              depend on it, the time does)
  digits      build/digits (defaults: R = 0.1, seed 0), the "IMA pairs" block of its output;
              needs the digit cache of tools/build_digits.sh ($FUSEGRAD_DATA/digits or
              data/cache/digits), otherwise it prints "SKIPPED: digit cache not built"

    python3 tools/update_docs_tables.py                 # rewrite both tables in place
    python3 tools/update_docs_tables.py --check         # exit 1 if a table is out of step
    python3 tools/update_docs_tables.py --check --only estimators --build build-b2

--check compares cell by cell: text must be equal, numbers equal within --tol (default
0.002, two units of the last printed digit of the estimators table: another OpenBLAS build
may round the last digit differently; a changed default or estimator moves them further).
The digits counts are integers, so they must be equal. Needs only the standard library.
"""
import argparse
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
RHOS = ["0.1", "0.3", "0.5", "0.7", "0.8", "0.9"]
ESTIMATOR_COLUMNS = [("DV (MINE)", "DV (MINE)"), ("NWJ (f)", "NWJ (f)"), ("InfoNCE", "InfoNCE"),
                     ("Wasserstein", "Wasserstein score")]
SPLIT_NAMES = {"train": "train", "valid": "valid", "test": "test", "heldout": "held-out speaker (test images)"}


class Skip(Exception):
    pass


def run(cmd, env=None):
    print("$ " + " ".join(cmd), flush=True)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"update_docs_tables: {cmd[0]} failed (exit {p.returncode}):\n{p.stdout}")
    return p.stdout


def program(build, name):
    path = pathlib.Path(build) / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        sys.exit(f"update_docs_tables: {path} is not built: cmake --build {build} --target {name}")
    return str(path)


def estimators_block(build, tmp):
    json_path, svg_path = os.path.join(tmp, "estimators.json"), os.path.join(tmp, "estimators.svg")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    run([program(build, "estimators"), "--rhos", *RHOS, "--json", json_path, "--svg", svg_path], env)
    with open(json_path) as f:
        out = json.load(f)
    lines = [f"`build/estimators --rhos {' '.join(RHOS)}` (d = {out['dim']}, batch {out['batch']}, "
             f"{out['steps']} Adam steps per critic, seed {out['seed']}; CPU):",
             "",
             "| rho | truth | " + " | ".join(title for _, title in ESTIMATOR_COLUMNS) + " |",
             "|---:|---:|" + "---:|" * len(ESTIMATOR_COLUMNS)]
    for row in out["rows"]:
        cells = [f"{row['rho']:g}", f"{row['truth']:.3f}"] + [f"{row[key]:.3f}" for key, _ in ESTIMATOR_COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def digits_cache():
    env = os.environ.get("FUSEGRAD_DATA")
    return pathlib.Path(env) / "digits" if env else ROOT / "data" / "cache" / "digits"


def digits_block(build, tmp):
    cache = digits_cache()
    if not (cache / "digits.h5").exists():
        raise Skip(f"digit cache not built ({cache}/digits.h5 absent; tools/build_digits.sh builds it)")
    text = run([program(build, "digits"), "--cache", str(cache), "--out", os.path.join(tmp, "pictures")])
    m = re.search(r"^IMA pairs, noise factor R = ([0-9.]+).*?\n.*?\n((?:  \S+ +\d.*\n)+)", text, re.M)
    if not m:
        sys.exit(f"update_docs_tables: no 'IMA pairs' block in the output of digits:\n{text}")
    seed = re.search(r"^splits \(seed (\d+)\)", text, re.M)
    lines = [f"`build/digits` (R = {m.group(1)}, seed {seed.group(1) if seed else '?'}), its \"IMA pairs\" block:",
             "",
             f"| R = {m.group(1)}, seed {seed.group(1) if seed else '?'} | pairs | matched | speech_noise | image_noise |",
             "|---|---:|---:|---:|---:|"]
    for row in m.group(2).splitlines():
        name, pairs, matched, speech_noise, image_noise = row.split()[:5]
        cells = [SPLIT_NAMES.get(name, name)] + [f"{int(v):,}" for v in (pairs, matched, speech_noise, image_noise)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


TABLES = {"estimators": ("docs/estimators.md", estimators_block), "digits": ("docs/digits.md", digits_block)}


def markers(name):
    return f"<!-- BEGIN TABLE {name} (tools/update_docs_tables.py) -->", f"<!-- END TABLE {name} -->"


def split_doc(text, name, doc):
    begin, end = markers(name)
    a, b = text.find(begin), text.find(end)
    if a < 0 or b < a:
        sys.exit(f"update_docs_tables: {doc} has no '{begin}' ... '{end}' markers")
    a += len(begin) + 1
    return text[:a], text[a:b].rstrip("\n").split("\n"), text[b:]


NUMBER = re.compile(r"^-?[0-9][0-9,]*(\.[0-9]+)?$")


def same(old, new, tol):
    """Lines equal, table cells equal, numbers within tol; returns a list of differences."""
    diffs = []
    if len(old) != len(new):
        return [f"{len(old)} lines in the document, {len(new)} generated"]
    for i, (a, b) in enumerate(zip(old, new)):
        if a == b:
            continue
        ca, cb = a.split("|"), b.split("|")
        if len(ca) != len(cb) or not a.startswith("|"):
            diffs.append(f"line {i + 1}: document '{a}', generated '{b}'")
            continue
        for x, y in zip(ca, cb):
            x, y = x.strip(), y.strip()
            if x == y:
                continue
            if NUMBER.match(x) and NUMBER.match(y) and abs(float(x.replace(",", "")) - float(y.replace(",", ""))) <= tol:
                continue
            diffs.append(f"line {i + 1}: document '{x}', generated '{y}' (in '{b}')")
    return diffs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="do not write: exit 1 if a table is out of step")
    ap.add_argument("--build", default=str(ROOT / "build"), help="build folder with the programs (default build/)")
    ap.add_argument("--only", choices=sorted(TABLES), action="append", help="only this table (repeatable)")
    ap.add_argument("--tol", type=float, default=0.002, help="--check: allowed difference of numbers (0.002)")
    args = ap.parse_args()

    status = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only or sorted(TABLES):
            doc, make = TABLES[name]
            path = ROOT / doc
            try:
                new = make(args.build, tmp)
            except Skip as e:
                print(f"SKIPPED: {e}: the {name} table in {doc} was not checked")
                continue
            head, old, tail = split_doc(path.read_text(), name, doc)
            if args.check:
                diffs = same(old, new, args.tol)
                if diffs:
                    status = 1
                    print(f"update_docs_tables: the {name} table in {doc} is out of step with the program:")
                    print("\n".join("  " + d for d in diffs))
                    print(f"  regenerate it: python3 tools/update_docs_tables.py --only {name}")
                else:
                    print(f"update_docs_tables: the {name} table in {doc} matches the program (tolerance {args.tol})")
            else:
                path.write_text(head + "\n".join(new) + "\n" + tail)
                print(f"update_docs_tables: wrote the {name} table in {doc}")
    return status


if __name__ == "__main__":
    sys.exit(main())
