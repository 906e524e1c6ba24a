#!/usr/bin/env bash
# tests/scripts/sweep_slurm.sh BUILD_DIR SOURCE_DIR: a real sweep through a real Slurm
# (docs/sweeps.md). Starts a one-node cluster in a temporary folder (tools/slurm-local.sh:
# munged, slurmctld, slurmd from Debian's packages), submits late_fusion over 2 configurations x
# 2 seeds (tiny settings) as one job array with tools/sweep --slurm --wait, and checks that every
# array task completed (scontrol), that every run's result is there, and the collected table.
# The cluster is stopped by its PIDs and the folder removed on every exit, failure included.
# Without the Slurm packages the test FAILS (CI installs them through tools/setup.sh).
set -euo pipefail
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$2" && pwd)
export PATH=$PATH:/usr/sbin:/sbin
for c in munged slurmctld slurmd sbatch squeue scontrol; do
  command -v "$c" >/dev/null || { echo "FAIL: $c not found: apt-get install slurmctld slurmd slurm-client munge" \
    "(tools/setup.sh installs them)"; exit 1; }
done
[ -x "$BUILD/late_fusion" ] || { echo "FAIL: $BUILD/late_fusion not built"; exit 1; }

T=$(mktemp -d -t fusegrad-slurm-test.XXXXXX)
# the sweep's folder has a space and a quote: the #SBATCH lines, the task command and every
# run's --out carry it through Slurm
SW="$T/sweep dir's"
cleanup() {
  local rc=$?
  bash "$SRC/tools/slurm-local.sh" stop "$T/cluster" || true
  if [ "$rc" != 0 ]; then
    echo "--- the cluster's logs (last lines)"
    tail -n 15 "$T"/cluster/log/*.log 2>/dev/null || true
    tail -n 5 "$SW"/slurm/*.out 2>/dev/null || true
  fi
  rm -rf "$T"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

sub() { awk -v a="$1" -v b="$2" 'BEGIN { print a - b }'; }  # no bc on a minimal Debian
t0=$(date +%s.%N)
SLURM_LOCAL_TIMEOUT=20 bash "$SRC/tools/slurm-local.sh" start "$T/cluster"
# shellcheck disable=SC1091
source "$T/cluster/env"
t_up=$(date +%s.%N)

cat >"$T/study.json" <<'EOF'
{"example": "late_fusion",
 "flags": {"epochs": 2, "train-size": 64, "valid-size": 32, "test-size": 32},
 "grid": {"lr": [0.001, 0.003]},
 "seeds": [0, 1],
 "slurm": {"time": "00:05:00", "mem": "500M", "cpus_per_task": 1, "throttle": 2}}
EOF
set +e
# own time limit, below ctest's 120 s: ctest kills with SIGKILL, which no trap sees, and the
# daemons (in their own sessions) would outlive the test
timeout 70 python3 "$SRC/tools/sweep" "$T/study.json" --slurm --wait --poll 0.5 --build "$BUILD" --dir "$SW"
rc=$?
set -e
t_done=$(date +%s.%N)
[ "$rc" = 0 ] || { echo "FAIL: tools/sweep --slurm --wait exited $rc (124: still waiting after 70 s)"; exit 1; }

job=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["job"])' "$SW/slurm/jobs.json")
# every array task of the job COMPLETED with exit 0:0 (finished jobs stay in slurmctld for MinJobAge)
states=$(scontrol show job "$job" | grep -oE 'JobState=[A-Z_]+|ExitCode=[0-9:]+' | paste -sd' ')
echo "job $job: $states"
n_ok=$(grep -o 'JobState=COMPLETED ExitCode=0:0' <<<"$states" | wc -l)
[ "$n_ok" = 4 ] || { echo "FAIL: expected 4 array tasks COMPLETED with exit 0:0, got $n_ok: $states"; exit 1; }
for i in 0 1 2 3; do
  grep -q "^sweep: run $i: done" "$SW/slurm/${job}_$i.out" ||
    { echo "FAIL: array task $i's output says no 'done':"; cat "$SW/slurm/${job}_$i.out"; exit 1; }
done

python3 - "$SW/results.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["counts"] == {"configurations": 2, "runs": 4, "done": 4, "failed": 0, "running": 0, "pending": 0}, r["counts"]
assert [c["seeds"] for c in r["configurations"]] == [[0, 1], [0, 1]], r["configurations"]
(ch,) = r["chosen"]
best = min(r["configurations"], key=lambda c: c["valid"]["mae"]["mean"])
assert ch["chosen"] == best["config"], (ch, best)
assert ch["test"]["mae"]["n"] == 2 and ch["test"]["mae"]["mean"] > 0, ch
for c in r["configurations"]:
    assert "test" not in c
print("collected: chosen", ch["label"], "valid mae %.4f, test mae %.4f +- %.4f" % (
    ch["valid"]["mae"]["mean"], ch["test"]["mae"]["mean"], ch["test"]["mae"]["std"]))
EOF


# re-invoked: nothing left to submit, the same table
out=$(python3 "$SRC/tools/sweep" "$T/study.json" --slurm --build "$BUILD" --dir "$SW")
grep -q "nothing to submit (4 of 4 runs finished)" <<<"$out" || { echo "FAIL: re-invocation: $out"; exit 1; }

printf 'PASS: Slurm up in %.1f s, 4 array tasks in %.1f s, %.1f s in all (before shutdown)\n' \
  "$(sub "$t_up" "$t0")" "$(sub "$t_done" "$t_up")" "$(sub "$(date +%s.%N)" "$t0")"
