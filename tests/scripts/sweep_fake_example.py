#!/usr/bin/env python3
"""A stand-in for a training example in tests/scripts/test_sweep.py: takes any --flag [value]
arguments, and writes a results JSON in the harness's layout (runs with seed, name,
valid_at_best, test) whose metrics are known functions of the flags, so the tests can check
selection and averaging by hand. It also records every invocation (argv and working folder)
in its run's folder (that of --out) and can fail, crash or sleep on request:

  --lr X          valid mae = |X - 0.003| + 0.01 * seed;  test mae = 1 - X (the opposite ranking)
  --model a,b     one named run per model (default: one run "fake"); model b adds 0.5 to valid mae
  --sleep S       sleep S seconds before writing
  FAKE_FAIL=LR:SEED (environment) exit 1 with a message when --lr is LR and the seed is SEED
  FAKE_CRASH=1    (environment) end by SIGSEGV, as a crashing binary
"""
import json
import os
import signal
import sys
import time

args = sys.argv[1:]
flags = {}
i = 0
while i < len(args):
    a = args[i]
    if not a.startswith("--"):
        print(f"fake: unexpected argument {a!r}", file=sys.stderr)
        sys.exit(2)
    if i + 1 < len(args) and not args[i + 1].startswith("--"):
        flags[a[2:]] = args[i + 1]
        i += 2
    else:
        flags[a[2:]] = True
        i += 1

run_dir = os.path.dirname(flags["out"])
with open(os.path.join(run_dir, "invocations.txt"), "a", encoding="utf-8") as f:
    f.write(json.dumps({"argv": sys.argv, "cwd": os.getcwd()}) + "\n")
with open(os.path.join(run_dir, "pids.txt"), "a", encoding="utf-8") as f:
    f.write(f"{os.getpid()}\n")

seed = int(flags["seeds"])
lr = float(flags.get("lr", 0.001))
if "sleep" in flags:
    time.sleep(float(flags["sleep"]))
if os.environ.get("FAKE_CRASH"):
    os.kill(os.getpid(), signal.SIGSEGV)
fail = os.environ.get("FAKE_FAIL", "")
if fail:
    flr, fseed = fail.split(":")
    if float(flr) == lr and int(fseed) == seed:
        print("fake: line before the error")
        print(f"fake: error: failing as asked (lr {lr}, seed {seed})", file=sys.stderr)
        sys.exit(1)

runs = []
for model in str(flags.get("model", "fake")).split(","):
    vmae = abs(lr - 0.003) + 0.01 * seed + (0.5 if model == "b" else 0.0)
    runs.append({"name": model, "seed": seed,
                 "valid_at_best": {"mae": vmae, "corr": 0.5 - vmae, "n": 10, "n_non0": 9},
                 "test": {"mae": 1.0 - lr + 0.001 * seed, "corr": None, "n": 10, "n_non0": 9}})
out = {"example": "fake", "interrupted": False, "argv": sys.argv, "runs": runs}
path = flags["out"]
with open(path + ".tmp", "w", encoding="utf-8") as f:
    json.dump(out, f)
os.replace(path + ".tmp", path)
print(f"fake: wrote {path}")
