#!/usr/bin/env python3
"""Tests of tools/sweep (docs/sweeps.md), run by ctest:

  python3 tests/scripts/test_sweep.py                    # the tool's logic, on a fake example
  python3 tests/scripts/test_sweep.py --build DIR Real   # a real sweep of DIR/late_fusion

The fake example (sweep_fake_example.py) writes the harness's results layout with metrics that
are known functions of its flags, and records each invocation in its run folder, so the tests
check expansion and quoting (argv as received), resume (what ran twice), selection (valid only)
and collection (means by hand, a failed run) exactly. Every test works in its own temporary
folder.
"""
import json
import os
import re
import shlex
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SWEEP = os.path.join(REPO, "tools", "sweep")
FAKE = os.path.join(HERE, "sweep_fake_example.py")
BUILD = None  # --build DIR (the Real tests)


def sweep(*args, env=None, cwd=None):
    e = dict(os.environ)
    e.pop("FAKE_FAIL", None)
    e.pop("FAKE_CRASH", None)
    e.update(env or {})
    return subprocess.run([sys.executable, SWEEP, *args], capture_output=True, text=True, env=e, cwd=cwd, timeout=120)


def invocations(run_dir):
    try:
        with open(os.path.join(run_dir, "invocations.txt"), encoding="utf-8") as f:
            return [json.loads(line)["argv"] for line in f]
    except FileNotFoundError:
        return []


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="sweep-test-")
        self.dir = self.tmp.name
        self.out = os.path.join(self.dir, "out")

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, obj, name="study.json"):
        path = os.path.join(self.dir, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(obj if isinstance(obj, str) else json.dumps(obj))
        return path

    def fake_sweep(self, **kw):
        s = {"example": "fake", "binary": FAKE, "grid": {"lr": [0.001, 0.003]}, "seeds": [0, 1]}
        s.update(kw)
        return self.write(s)

    def manifest(self):
        with open(os.path.join(self.out, "sweep.json"), encoding="utf-8") as f:
            return json.load(f)

    def results(self):
        with open(os.path.join(self.out, "results.json"), encoding="utf-8") as f:
            return json.load(f)

    def ok(self, r, code=0):
        self.assertEqual(r.returncode, code, f"exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}")


class Expansion(Base):
    def test_grid_times_seeds_in_order(self):
        path = self.fake_sweep(flags={"epochs": 2}, grid={"lr": [0.001, 0.003], "hidden": [[8, 4], [16, 8], [32, 4]]},
                               seeds=[3, 5])
        self.ok(sweep(path, "--list", "--dir", self.out))
        runs = self.manifest()["runs"]
        self.assertEqual(len(runs), 2 * 3 * 2)
        got = [(r["config"]["lr"], r["config"]["hidden"], r["seed"]) for r in runs]
        want = [(lr, h, s) for lr in (0.001, 0.003) for h in ([8, 4], [16, 8], [32, 4]) for s in (3, 5)]
        self.assertEqual(got, want)
        self.assertEqual(len({r["dir"] for r in runs}), 12)  # one folder per run
        self.assertEqual(len({os.path.dirname(r["dir"]) for r in runs}), 6)  # one per configuration
        a = runs[3]["argv"]  # lr 0.001, hidden 16,8, seed 5
        self.assertEqual(a[0], FAKE)
        self.assertEqual(a[1:], ["--epochs", "2", "--lr", "0.001", "--hidden", "16,8", "--quiet", "--seeds", "5",
                                 "--threads", "1", "--out", os.path.join(runs[3]["dir"], "result.json")])

    def test_flag_values_reach_the_example_verbatim(self):
        # spaces, quotes, $, ;, backslashes: one argv element each, no shell in between; true -> bare flag,
        # false -> absent, floats in their shortest exact form
        odd = "it's a \"test\" $HOME; `ls` \\ *"
        path = self.fake_sweep(flags={"note": odd, "compare": True, "verbose": False, "tiny": 1e-05},
                               grid={"lr": [0.003]}, seeds=[0])
        self.ok(sweep(path, "--local", "1", "--dir", self.out))
        run = self.manifest()["runs"][0]
        argv = invocations(run["dir"])[0]
        self.assertEqual(argv[1:], ["--note", odd, "--compare", "--tiny", "1e-05", "--lr", "0.003", "--quiet",
                                    "--seeds", "0", "--threads", str(run["argv"][run["argv"].index("--threads") + 1]),
                                    "--out", os.path.join(run["dir"], "result.json")])
        # cmd.sh, the hand-rerun command, is the same argv once the shell has parsed it
        with open(os.path.join(run["dir"], "cmd.sh"), encoding="utf-8") as f:
            lines = f.read().splitlines()
        self.assertEqual(shlex.split(lines[-1]), run["argv"])
        self.assertEqual(shlex.split(lines[-2]), ["cd", os.getcwd(), "||", "exit", "1"])
        echoed = subprocess.run(["sh", "-c", "printf '%s\\n' " + shlex.join(run["argv"][1:])], capture_output=True,
                                text=True).stdout.splitlines()
        self.assertEqual(echoed, run["argv"][1:])

    def test_runs_start_where_the_sweep_was_started(self):
        # as the example run by hand would: examples find data/cache/... relative to it
        path = self.fake_sweep(seeds=[0], grid={"lr": [0.003]})
        self.ok(sweep(path, "--local", "1", "--dir", self.out, cwd=self.dir))
        run = self.manifest()["runs"][0]
        with open(os.path.join(run["dir"], "invocations.txt"), encoding="utf-8") as f:
            self.assertEqual(json.loads(f.readline())["cwd"], self.dir)

    def test_checkpoint_true_gives_each_run_its_own_checkpoint(self):
        path = self.fake_sweep(checkpoint=True)
        self.ok(sweep(path, "--list", "--dir", self.out))
        for run in self.manifest()["runs"]:
            self.assertEqual(run["argv"][-3:], ["--checkpoint", os.path.join(run["dir"], "checkpoint.safetensors"),
                                                "--resume"])

    def test_toml_is_the_same_sweep(self):
        j = self.fake_sweep(flags={"epochs": 2, "note": "a b"}, grid={"lr": [0.001, 0.003], "batch_size": [8, 16]})
        self.ok(sweep(j, "--list", "--dir", self.out))
        from_json = self.manifest()["runs"]
        t = self.write(f'example = "fake"\nbinary = "{FAKE}"\nseeds = [0, 1]\n[flags]\nepochs = 2\nnote = "a b"\n'
                       '[grid]\nlr = [0.001, 0.003]\nbatch_size = [8, 16]\n', "study.toml")
        self.ok(sweep(t, "--list", "--dir", self.out))
        self.assertEqual([r["argv"] for r in self.manifest()["runs"]], [r["argv"] for r in from_json])

    def test_threads_fit_the_workers(self):
        path = self.fake_sweep(seeds=[0])
        self.ok(sweep(path, "--local", "1", "--dir", self.out))
        cores = len(os.sched_getaffinity(0))
        argv = self.manifest()["runs"][0]["argv"]
        self.assertEqual(argv[argv.index("--threads") + 1], str(cores))
        path = self.fake_sweep(seeds=[0], threads=3)
        self.ok(sweep(path, "--list", "--dir", self.out))
        argv = self.manifest()["runs"][0]["argv"]
        self.assertEqual(argv[argv.index("--threads") + 1], "3")

    def test_a_changed_base_flag_is_a_new_run(self):
        self.ok(sweep(self.fake_sweep(flags={"epochs": 2}), "--list", "--dir", self.out))
        a = [r["dir"] for r in self.manifest()["runs"]]
        self.ok(sweep(self.fake_sweep(flags={"epochs": 3}), "--list", "--dir", self.out))
        b = [r["dir"] for r in self.manifest()["runs"]]
        self.assertFalse(set(a) & set(b))


class Resume(Base):
    def test_finished_runs_are_skipped(self):
        path = self.fake_sweep()
        self.ok(sweep(path, "--local", "2", "--dir", self.out))
        r = sweep(path, "--local", "2", "--dir", self.out)
        self.ok(r)
        self.assertIn("0 runs to do (4 of 4 finished)", r.stdout)
        for run in self.manifest()["runs"]:
            self.assertEqual(len(invocations(run["dir"])), 1)

    def test_a_killed_sweep_continues_without_rerunning_finished_runs(self):
        path = self.fake_sweep(flags={"sleep": 0.4}, grid={"lr": [0.001, 0.002, 0.003]})
        p = subprocess.Popen([sys.executable, SWEEP, path, "--local", "1", "--dir", self.out],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        results = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until two runs have finished
            if os.path.exists(os.path.join(self.out, "sweep.json")):
                results = [r for r in self.manifest()["runs"]
                           if os.path.exists(os.path.join(r["dir"], "result.json"))]
                if len(results) >= 2:
                    break
            time.sleep(0.05)
        os.killpg(p.pid, signal.SIGKILL)  # the sweep and the run in flight, as a lost machine
        p.communicate()
        self.assertGreaterEqual(len(results), 2)
        finished = {r["index"] for r in self.manifest()["runs"]
                    if os.path.exists(os.path.join(r["dir"], "result.json"))}
        self.assertLess(len(finished), 6, "the sweep finished before it was killed; the test proves nothing")
        lst = sweep(path, "--list", "--dir", self.out)
        self.assertIn(f"{len(finished)} done, 0 failed, 0 running, {6 - len(finished)} pending", lst.stdout)
        r = sweep(path, "--local", "2", "--dir", self.out)
        self.ok(r)
        self.assertIn(f"{6 - len(finished)} runs to do ({len(finished)} of 6 finished)", r.stdout)
        for run in self.manifest()["runs"]:
            n = len(invocations(run["dir"]))
            if run["index"] in finished:
                self.assertEqual(n, 1, f"finished run {run['id']} ran again")
            else:
                self.assertIn(n, (1, 2))  # 2: it was in flight when killed
            self.assertTrue(os.path.exists(os.path.join(run["dir"], "result.json")))
        self.assertEqual(self.results()["counts"]["done"], 6)

    def test_sigterm_stops_the_running_examples_too(self):
        path = self.fake_sweep(flags={"sleep": 30}, seeds=[0])
        p = subprocess.Popen([sys.executable, SWEEP, path, "--local", "2", "--dir", self.out],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        pids = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(pids) < 2:  # both examples started
            pids = []
            if os.path.exists(os.path.join(self.out, "sweep.json")):
                for run in self.manifest()["runs"]:
                    try:
                        with open(os.path.join(run["dir"], "pids.txt"), encoding="utf-8") as f:
                            pids += [int(x) for x in f.read().split()]
                    except (FileNotFoundError, ValueError):
                        pass
            time.sleep(0.05)
        self.assertEqual(len(pids), 2)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 128 + signal.SIGTERM, err)
        self.assertIn("stopped by a signal; finished runs are kept", err)
        for pid in pids:  # the examples got the signal and ended with the sweep
            with self.assertRaises(ProcessLookupError):
                os.kill(pid, 0)
        lst = sweep(path, "--list", "--dir", self.out)
        self.assertIn("0 done, 0 failed, 0 running, 2 pending", lst.stdout)  # interrupted is not failed

    def test_an_interrupted_result_is_not_finished(self):
        path = self.fake_sweep(seeds=[0], grid={"lr": [0.003]})
        self.ok(sweep(path, "--local", "1", "--dir", self.out))
        run = self.manifest()["runs"][0]
        res = os.path.join(run["dir"], "result.json")
        with open(res, encoding="utf-8") as f:
            j = json.load(f)
        j["interrupted"] = True  # the harness's partial results after Ctrl-C
        with open(res, "w", encoding="utf-8") as f:
            json.dump(j, f)
        self.ok(sweep(path, "--local", "1", "--dir", self.out))
        self.assertEqual(len(invocations(run["dir"])), 2)


class Selection(Base):
    def test_chosen_on_valid_and_only_its_test_is_reported(self):
        # valid mae = |lr - 0.003| + 0.01 seed: lr 0.003 wins on valid; test mae = 1 - lr ranks lr 0.003 best too,
        # so take a grid where test prefers the other one: lr 0.004 (valid 0.001 + ...) vs 0.002 (valid 0.001 + ...)
        path = self.fake_sweep(grid={"lr": [0.0045, 0.0035, 0.001]}, seeds=[0, 1, 2])
        self.ok(sweep(path, "--local", "2", "--dir", self.out))
        res = self.results()
        (ch,) = res["chosen"]
        self.assertEqual(ch["chosen"], {"lr": 0.0035})  # valid 0.0005 + seeds; test would pick lr 0.0045 (1 - lr)
        v = [abs(0.0035 - 0.003) + 0.01 * s for s in (0, 1, 2)]
        m = sum(v) / 3
        self.assertAlmostEqual(ch["valid"]["mae"]["mean"], m, places=12)
        self.assertAlmostEqual(ch["valid"]["mae"]["std"], (sum((x - m) ** 2 for x in v) / 3) ** 0.5, places=12)
        t = [1 - 0.0035 + 0.001 * s for s in (0, 1, 2)]
        self.assertAlmostEqual(ch["test"]["mae"]["mean"], sum(t) / 3, places=12)
        self.assertIsNone(ch["test"]["corr"]["mean"])  # a null (NaN) metric stays NaN, not 0
        for c in res["configurations"]:
            self.assertNotIn("test", c)  # no test number of an unchosen configuration anywhere
        with open(os.path.join(self.out, "results.md"), encoding="utf-8") as f:
            md = f.read()
        self.assertEqual(md.count("test mae"), 1)
        self.assertNotIn(f"{1 - 0.0045:.4f}", md)

    def test_max_goal_and_groups(self):
        path = self.fake_sweep(flags={"model": ["a", "b"]}, grid={"lr": [0.001, 0.003]}, seeds=[0],
                               select={"metric": "corr"})
        self.ok(sweep(path, "--local", "1", "--dir", self.out))
        res = self.results()
        self.assertEqual(res["select"]["goal"], "max")  # corr: higher is better
        self.assertEqual(len(res["configurations"]), 4)  # 2 configurations x 2 named runs
        self.assertEqual([(c["group"], c["chosen"]) for c in res["chosen"]],
                         [({"run": "a"}, {"lr": 0.003}), ({"run": "b"}, {"lr": 0.003})])
        path = self.fake_sweep(flags={"model": ["a", "b"]}, grid={"lr": [0.001, 0.003]}, seeds=[0],
                               select={"metric": "mae", "group_by": []})
        self.ok(sweep(path, "--collect", "--dir", self.out))
        (ch,) = self.results()["chosen"]
        self.assertEqual((ch["run"], ch["chosen"]), ("a", {"lr": 0.003}))


class Collection(Base):
    def test_a_failed_run_is_listed_and_retried_alone(self):
        path = self.fake_sweep()
        r = sweep(path, "--local", "2", "--dir", self.out, env={"FAKE_FAIL": "0.003:1"})
        self.ok(r, 1)
        self.assertIn("1 run(s) failed; retry them alone with --only failed", r.stderr)
        res = self.results()
        self.assertEqual((res["counts"]["done"], res["counts"]["failed"]), (3, 1))
        (f,) = res["failed"]
        self.assertEqual((f["config"], f["seed"], f["exit"]), ({"lr": 0.003}, 1, 1))
        self.assertIn("fake: error: failing as asked (lr 0.003, seed 1)", f["log_tail"])
        self.assertIn("failing as asked", r.stdout)  # the Markdown lists the log's last lines
        self.assertIn("(seed 1, exit 1), log", r.stdout)
        by = {c["config"]["lr"]: c for c in res["configurations"]}
        self.assertEqual((by[0.003]["seeds"], by[0.003]["seeds_missing"]), ([0], [1]))
        # lr 0.003 has the better valid mae but one seed is missing: not eligible
        self.assertEqual(res["chosen"][0]["chosen"], {"lr": 0.001})
        r = sweep(path, "--local", "2", "--dir", self.out, "--only", "failed")
        self.ok(r)
        self.assertIn("1 runs to do (3 of 4 finished)", r.stdout)
        counts = {run["id"]: len(invocations(run["dir"])) for run in self.manifest()["runs"]}
        self.assertEqual(sorted(counts.values()), [1, 1, 1, 2])
        self.assertEqual(self.results()["chosen"][0]["chosen"], {"lr": 0.003})

    def test_a_crash_is_named_by_its_signal(self):
        path = self.fake_sweep(seeds=[0], grid={"lr": [0.003]})
        r = sweep(path, "--local", "1", "--dir", self.out, env={"FAKE_CRASH": "1"})
        self.ok(r, 1)
        self.assertIn("failed: run 0 lr=0.003 seed 0", r.stdout)
        self.assertIn("(killed by SIGSEGV; log", r.stdout)
        self.assertIn("(seed 0, killed by SIGSEGV), log", r.stdout)
        self.assertEqual(self.results()["failed"][0]["exit"], -signal.SIGSEGV)

    def test_a_result_without_the_metric_exits_2(self):
        path = self.fake_sweep(seeds=[0], select={"metric": "acc9"})
        r = sweep(path, "--local", "1", "--dir", self.out)
        self.ok(r, 2)
        self.assertIn("select.metric: 'acc9' is not a validation metric of fake's results (they have: mae, corr)",
                      r.stderr)

    def test_collect_before_anything_ran(self):
        path = self.fake_sweep()
        r = sweep(path, "--collect", "--dir", self.out)
        self.ok(r, 3)
        self.assertIn("4 pending", r.stdout)


class Errors(Base):
    def err(self, text, *want, args=("--list",)):
        path = self.write(text)
        r = sweep(path, *args, "--dir", self.out)
        self.ok(r, 2)
        self.assertNotIn("Traceback", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        for w in want:
            self.assertIn(w, r.stderr)
        return r

    def test_bad_sweep_files(self):
        s = {"example": "fake", "binary": FAKE, "seeds": [0]}
        self.err("{not json", "study.json: not valid JSON")
        self.err(json.dumps([1]), "field '(top level)': expected an object")
        self.err(json.dumps({**s, "grids": {}}), "unknown field 'grids'")
        self.err(json.dumps({"seeds": [0]}), "field 'example': expected the name of an example binary")
        self.err(json.dumps({**s, "seeds": [-1]}), "field 'seeds': expected a non-empty list of whole numbers >= 0")
        self.err(json.dumps({**s, "seeds": [1, 1]}), "field 'seeds': expected distinct seeds")
        self.err(json.dumps({**s, "grid": {"lr": []}}), "field 'grid.lr': expected a non-empty list of values, got []")
        self.err(json.dumps({**s, "grid": {"lr": 0.1}}), "field 'grid.lr': expected a non-empty list of values, got 0.1")
        self.err(json.dumps({**s, "grid": {"lr": [{"a": 1}]}}), "field 'grid.lr[0]': expected a number, a string")
        self.err(json.dumps({**s, "grid": {"--lr": [1]}}), "field 'grid.--lr': expected a flag name without dashes")
        self.err(json.dumps({**s, "flags": {"out": "x.json"}}), "field 'flags.out': --out is set by the sweep")
        self.err(json.dumps({**s, "flags": {"seeds": [1]}}), "field 'flags.seeds': --seeds is set by the sweep's")
        self.err(json.dumps({**s, "flags": {"checkpoint": "c.st"}}), "field 'flags.checkpoint': --checkpoint is set by "
                                                                    "the sweep's \"checkpoint\": true")
        self.err(json.dumps({**s, "checkpoint": "yes"}), "field 'checkpoint': expected true")
        self.err(json.dumps({**s, "flags": {"lr": 1}, "grid": {"lr": [1, 2]}}), "'grid.lr': --lr is also in 'flags'")
        self.err(json.dumps({**s, "select": {"goal": "up"}}), "field 'select.goal': expected \"min\" or \"max\"")
        self.err(json.dumps({**s, "select": {"group_by": ["lr"]}}), "field 'select.group_by': expected \"run\" or "
                                                                     "flags of 'grid'")
        self.err(json.dumps({**s, "slurm": {"throttle": 0}}), "field 'slurm.throttle': expected a whole number >= 1")
        self.err(json.dumps({**s, "slurm": {"time": "1 h"}}), "field 'slurm.time': expected a non-empty string")
        self.err('example = "fake"\nseeds = [0\n', "study.json: not valid JSON")  # TOML only by its .toml name
        path = self.write('example = "fake"\nseeds = [0\n', "bad.toml")
        r = sweep(path, "--list", "--dir", self.out)
        self.ok(r, 2)
        self.assertIn("bad.toml: not valid TOML", r.stderr)
        r = sweep(os.path.join(self.dir, "missing.json"), "--list")
        self.ok(r, 2)
        self.assertIn("missing.json: no such sweep file", r.stderr)

    def test_missing_binary(self):
        path = self.write({"example": "no_such_example", "seeds": [0]})
        r = sweep(path, "--local", "1", "--build", self.dir, "--dir", self.out)
        self.ok(r, 2)
        self.assertIn(f"sweep: error: example 'no_such_example': no executable at "
                      f"{os.path.join(self.dir, 'no_such_example')}; build it (ninja -C {self.dir} no_such_example) "
                      "or pass --build DIR", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.out, "runs")))
        path = self.write({"example": "x", "binary": "nowhere/x", "seeds": [0]})
        r = sweep(path, "--slurm", "--dir", self.out)
        self.ok(r, 2)
        self.assertIn("no executable at " + os.path.join(self.dir, "nowhere", "x") + "; fix the sweep file's", r.stderr)

    def test_bad_flags(self):
        path = self.fake_sweep()
        r = sweep(path, "--local", "0", "--dir", self.out)
        self.ok(r, 2)
        self.assertIn("--local: expected a number of workers 1..4096, got 0", r.stderr)
        self.ok(sweep(path, "--local", "1", "--wait", "--dir", self.out), 2)
        r = sweep(path, "--local", "1", "--only", "bogus", "--dir", self.out)
        self.ok(r, 2)
        self.assertIn("--only: 'bogus' is not", r.stderr)
        self.ok(sweep(path, "--dir", self.out), 2)  # no mode


class SlurmScript(Base):
    """The sbatch script, with stand-ins for sbatch and squeue (the real cluster: sweep_slurm.sh)."""

    def fake_slurm(self):
        bindir = os.path.join(self.dir, "bin")
        os.makedirs(bindir)
        for name, body in (("sbatch", f'cp "$2" {shlex.quote(self.dir)}/submitted.sbatch; echo 42\n'),
                           ("squeue", "exit 0\n")):
            p = os.path.join(bindir, name)
            with open(p, "w", encoding="utf-8") as f:
                f.write("#!/bin/sh\n" + body)
            os.chmod(p, os.stat(p).st_mode | stat.S_IXUSR)
        return {"PATH": bindir + os.pathsep + os.environ["PATH"]}

    def test_array_options(self):
        env = self.fake_slurm()
        path = self.fake_sweep(flags={"device": "cuda"}, grid={"lr": [0.001, 0.002, 0.003]},
                               slurm={"time": "00:30:00", "mem": "3G", "cpus_per_task": 2, "throttle": 4,
                                      "partition": "gpu", "account": "proj1", "extra": ["--qos=short"]})
        r = sweep(path, "--slurm", "--dir", self.out, env=env)
        self.ok(r, 3)
        self.assertIn("submitted job 42: 6 array tasks", r.stdout)
        with open(os.path.join(self.dir, "submitted.sbatch"), encoding="utf-8") as f:
            script = f.read().splitlines()
        opts = [line[len("#SBATCH "):] for line in script if line.startswith("#SBATCH ")]
        self.assertEqual(opts, ["--job-name=sweep-study", "--array=0-5%4",
                                f"--output={os.path.join(self.out, 'slurm', '%A_%a.out')}", "--cpus-per-task=2",
                                "--time=00:30:00", "--mem=3G", "--gres=gpu:1", "--partition=gpu", "--account=proj1",
                                "--qos=short"])
        tasks0 = os.path.join(self.out, "slurm", "sweep-0.tasks.json")
        self.assertEqual(shlex.split(script[-1]), ["exec", SWEEP, "--task", tasks0, "$SLURM_ARRAY_TASK_ID"])
        with open(tasks0, encoding="utf-8") as f:
            self.assertEqual([r["index"] for r in json.load(f)["runs"]], [0, 1, 2, 3, 4, 5])  # task i runs run i
        argv = self.manifest()["runs"][0]["argv"]
        self.assertEqual(argv[argv.index("--threads") + 1], "2")  # threads = cpus per task
        # three array tasks run as Slurm would run them; then only the unfinished runs are submitted
        for i in (1, 2, 4):
            self.ok(subprocess.run([sys.executable, SWEEP, "--task", tasks0, str(i)], capture_output=True, text=True))
        r = sweep(path, "--slurm", "--dir", self.out, env=env)
        self.ok(r, 3)
        self.assertIn("3 array tasks (runs 0,3,5;", r.stdout)
        with open(os.path.join(self.dir, "submitted.sbatch"), encoding="utf-8") as f:
            self.assertIn("#SBATCH --array=0-2%4\n", f.read())
        tasks1 = os.path.join(self.out, "slurm", "sweep-1.tasks.json")
        with open(tasks1, encoding="utf-8") as f:
            self.assertEqual([r["index"] for r in json.load(f)["runs"]], [0, 3, 5])
        # an edited sweep file rewrites DIR/sweep.json; the queued job still runs its own runs
        self.ok(sweep(self.fake_sweep(grid={"lr": [0.005]}), "--list", "--dir", self.out))
        r = subprocess.run([sys.executable, SWEEP, "--task", tasks1, "1"], capture_output=True, text=True)
        self.ok(r)
        self.assertIn("sweep: run 3 ", r.stdout)  # task 1 of that job is run 3 (lr 0.002, seed 1)
        with open(tasks1, encoding="utf-8") as f:
            run3 = json.load(f)["runs"][1]
        self.assertEqual((run3["config"], run3["seed"]), ({"lr": 0.002}, 1))
        self.assertEqual(len(invocations(run3["dir"])), 1)
        r = subprocess.run([sys.executable, SWEEP, "--task", tasks1, "3"], capture_output=True, text=True)
        self.ok(r, 2)
        self.assertIn("sweep-1.tasks.json has no task 3", r.stderr)

    def test_more_runs_than_max_array_are_chained_jobs(self):
        env = self.fake_slurm()
        path = self.fake_sweep(grid={"lr": [0.001, 0.002, 0.003]}, slurm={"max_array": 4, "throttle": 2})
        r = sweep(path, "--slurm", "--dir", self.out, env=env)
        self.ok(r, 3)
        self.assertEqual(r.stdout.count("submitted job 42"), 2)
        self.assertIn("4 array tasks (runs 0-3;", r.stdout)
        self.assertIn("2 array tasks (runs 4-5;", r.stdout)
        with open(os.path.join(self.dir, "submitted.sbatch"), encoding="utf-8") as f:  # the last one
            text = f.read()
        self.assertIn("#SBATCH --array=0-1%2\n", text)
        self.assertIn("#SBATCH --dependency=afterany:42\n", text)

    def test_cpu_runs_ask_for_no_gpu(self):
        env = self.fake_slurm()
        r = sweep(self.fake_sweep(), "--slurm", "--dir", self.out, env=env)
        self.ok(r, 3)
        with open(os.path.join(self.dir, "submitted.sbatch"), encoding="utf-8") as f:
            text = f.read()
        self.assertNotIn("--gres", text)
        self.assertIn("#SBATCH --array=0-3\n", text)


SHIPPED = os.path.join(REPO, "examples", "sweeps")
SHIPPED_RUNS = {"late_fusion.json": 60, "mmb.json": 70, "mfm.json": 60, "mdm.json": 160, "mmim.toml": 3240}


class Shipped(Base):
    """The paper studies of examples/sweeps/ (docs/sweeps.md) expand to the runs the docs state."""

    def test_they_expand(self):
        self.assertEqual(sorted(os.listdir(SHIPPED)), sorted(SHIPPED_RUNS))
        for name, n in SHIPPED_RUNS.items():
            r = sweep(os.path.join(SHIPPED, name), "--list", "--dir", os.path.join(self.dir, name))
            self.ok(r)
            self.assertIn(f"= {n} runs", r.stdout, name)


class Real(Base):
    """A real example: 2 configurations x 2 seeds of late_fusion, tiny (about a second a run)."""

    def test_late_fusion_local(self):
        if BUILD is None:
            self.skipTest("no --build DIR")
        path = self.write({"example": "late_fusion",
                           "flags": {"epochs": 2, "train-size": 64, "valid-size": 32, "test-size": 32},
                           "grid": {"lr": [0.001, 0.003]}, "seeds": [0, 1]})
        r = sweep(path, "--local", "2", "--build", BUILD, "--dir", self.out)
        self.ok(r)
        res = self.results()
        self.assertEqual(res["counts"]["done"], 4)
        self.assertEqual([c["seeds"] for c in res["configurations"]], [[0, 1], [0, 1]])
        (ch,) = res["chosen"]
        best = min(res["configurations"], key=lambda c: c["valid"]["mae"]["mean"])
        self.assertEqual(ch["chosen"], best["config"])
        # the chosen mean is the mean of the two result files' test mae
        maes = []
        for run in self.manifest()["runs"]:
            if run["config"] == ch["chosen"]:
                with open(os.path.join(run["dir"], "result.json"), encoding="utf-8") as f:
                    maes.append(json.load(f)["runs"][0]["test"]["mae"])
        self.assertAlmostEqual(ch["test"]["mae"]["mean"], sum(maes) / 2, places=12)
        with open(os.path.join(self.out, "results.md"), encoding="utf-8") as f:
            print(f.read())

    def test_shipped_sweeps_use_flags_the_binaries_have(self):
        if BUILD is None:
            self.skipTest("no --build DIR")
        checked = 0
        for name in sorted(SHIPPED_RUNS):
            self.ok(sweep(os.path.join(SHIPPED, name), "--list", "--dir", self.out))
            m = self.manifest()
            binary = os.path.join(BUILD, m["sweep"]["example"])
            if not os.access(binary, os.X_OK):
                print(f"not built, not checked: {binary}")
                continue
            help_text = subprocess.run([binary, "--help"], capture_output=True, text=True).stdout
            for flag in [*m["sweep"]["flags"], *m["sweep"]["grid"], "seeds", "threads", "out", "quiet"]:
                self.assertRegex(help_text, rf"--{re.escape(flag)}\b", f"{name}: {binary} has no --{flag}")
            checked += 1
        self.assertGreater(checked, 0, "no example binary of examples/sweeps/ is built")


if __name__ == "__main__":
    if "--build" in sys.argv:
        i = sys.argv.index("--build")
        BUILD = os.path.abspath(sys.argv[i + 1])
        del sys.argv[i:i + 2]
    unittest.main(verbosity=2)
