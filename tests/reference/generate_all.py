"""Generate every PyTorch reference fixture used by the C++ reference tests.

Each module tests/reference/ref_<family>.py defines CASES: a list of Case objects.
For each case this script builds the float64 inputs (fixed seed), runs the PyTorch
function, draws R ~ N(0, 1) shaped like the output, backpropagates L = sum(out * R),
and writes inputs, R, output and input gradients to <out>/<family>.safetensors, with
the case list (names, op, params) as JSON in the metadata key "cases".

Run: /usr/bin/python3 tests/reference/generate_all.py --out build/reference
"""
import argparse
import importlib
import json
import os
import pathlib
import sys

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import st_writer  # noqa: E402


class Case:
    """One reference computation.

    name:   unique within the family; op: the C++ registry key; params: JSON-able dict
    inputs: list of torch tensors (float64 ones get gradients; int64 ones are indices)
    fn:     callable(*inputs) -> output tensor (PyTorch), the definition we must match
    grad:   whether to check input gradients (False for non-differentiable ops)
    """

    def __init__(self, name, op, inputs, fn, params=None, grad=True):
        self.name, self.op, self.inputs, self.fn = name, op, inputs, fn
        self.params = params or {}
        self.grad = grad


def run_family(module, out_dir):
    torch.manual_seed(0)
    tensors, meta = {}, []
    names = set()
    for case in module.CASES:
        if case.name in names:
            raise ValueError(f"duplicate case name {case.name}")
        names.add(case.name)
        ins = []
        for t in case.inputs:
            t = t.detach().clone()
            if t.dtype == torch.float64 and case.grad:
                t.requires_grad_(True)
            ins.append(t)
        out = case.fn(*ins)
        gen = torch.Generator().manual_seed(len(names))
        R = torch.randn(out.shape, dtype=torch.float64, generator=gen)
        for k, t in enumerate(ins):
            tensors[f"{case.name}.in.{k}"] = t.detach().numpy()
        tensors[f"{case.name}.out"] = out.detach().to(torch.float64).numpy()
        tensors[f"{case.name}.R"] = R.numpy()
        grads = []
        if case.grad:
            (out * R).sum().backward()
            for k, t in enumerate(ins):
                if t.requires_grad:
                    g = t.grad if t.grad is not None else torch.zeros_like(t)
                    tensors[f"{case.name}.grad.{k}"] = g.numpy()
                    grads.append(k)
        meta.append({"name": case.name, "op": case.op, "params": case.params,
                     "num_inputs": len(ins), "grads": grads})
    path = os.path.join(out_dir, module.__name__.replace("ref_", "") + ".safetensors")
    st_writer.save(path, tensors, {"cases": json.dumps(meta)})
    return len(meta)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True, help="output folder for the .safetensors fixtures")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_default_dtype(torch.float64)
    here = pathlib.Path(__file__).resolve().parent
    total = 0
    for path in sorted(here.glob("ref_*.py")):
        module = importlib.import_module(path.stem)
        n = run_family(module, args.out)
        print(f"{path.stem}: {n} cases")
        total += n
    print(f"reference fixtures: {total} cases in {args.out}")


if __name__ == "__main__":
    main()
