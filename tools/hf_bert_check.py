#!/usr/bin/env python3
"""Check fusegrad's BERT (models/bert.h) against Hugging Face transformers' BertModel.

What it does (nothing is downloaded; the model has random weights):
  1. builds a small transformers BertModel (hidden 64, 4 heads, 2 layers, intermediate 128,
     vocabulary 99, pooler), perturbs every parameter (so LayerNorm affines and biases are
     not the trivial 1/0 of a fresh init) and saves it with save_pretrained() as a Hugging
     Face folder: <out>/model/config.json + model.safetensors (float32, as HF writes them);
  2. fixes inputs: input_ids [3, 17] with padding (id 0) at the end of two rows and the
     matching attention_mask, token_type_ids with a second segment, and projections
     R1 [3, 17, 64], R2 [3, 64];
  3. runs the model in float64 (eval mode: no dropout) and backpropagates
     L = sum(last_hidden_state * R1) + sum(pooler_output * R2), then writes the inputs, R1,
     R2, both outputs and d L / d parameter for every parameter (by its Hugging Face name)
     to <out>/check.safetensors;
  4. runs the C++ driver examples/bert_check.cpp (built as <build>/bert_check), which loads
     the folder with models::load_bert, repeats the computation and reports the relative
     error of each output and each gradient: float64 on the CPU (tolerance 1e-9), and with
     --cuda also float32 on the GPU (tolerance 1e-4).
The exit status is 0 only if every comparison passed.

Run it on a machine with transformers and PyTorch (e.g. a lent GPU machine), from the
repository root after building (tools/gpu-check.sh builds into build-gpu):
    python3 tools/hf_bert_check.py --bert-check build-gpu/bert_check --cuda
Without --bert-check it runs build/bert_check of this repository (from any current folder),
and stops with a message saying how to build it when it is not there. It needs numpy and
PyTorch: on Debian, /usr/bin/python3 with python3-numpy and python3-torch.
Without transformers, --replica uses the PyTorch replica of modeling_bert.py that the CI
reference tests use (tests/reference/ref_bert.py) instead: it checks the plumbing (files,
names, the driver), not transformers itself.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys

try:
    import numpy as np
    import torch
except ImportError as e:  # pragma: no cover - depends on the machine
    sys.exit(f"hf_bert_check: {sys.executable} cannot import {e.name} ({e}). Run it with an interpreter that has "
             "numpy and PyTorch: Debian's /usr/bin/python3 (apt-get install python3-numpy python3-torch; "
             "tools/setup.sh installs them), e.g. /usr/bin/python3 tools/hf_bert_check.py --replica")

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_BERT_CHECK = ROOT / "build" / "bert_check"
sys.path.insert(0, str(ROOT / "tests" / "reference"))
import st_writer  # noqa: E402  (numpy-only safetensors writer)

CONFIG = dict(vocab_size=99, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
              hidden_act="gelu", max_position_embeddings=64, type_vocab_size=2, layer_norm_eps=1e-12,
              hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, initializer_range=0.2, pad_token_id=0)


def fixed_inputs(gen):
    batch, seq = 3, 17
    lengths = [17, 11, 4]
    ids = torch.randint(1, CONFIG["vocab_size"], (batch, seq), generator=gen)
    mask = torch.zeros(batch, seq, dtype=torch.int64)
    types = torch.zeros(batch, seq, dtype=torch.int64)
    for b, n in enumerate(lengths):
        mask[b, :n] = 1
        ids[b, n:] = CONFIG["pad_token_id"]
        types[b, n // 2:n] = 1  # a second segment
    r1 = torch.randn(batch, seq, CONFIG["hidden_size"], generator=gen, dtype=torch.float64)
    r2 = torch.randn(batch, CONFIG["hidden_size"], generator=gen, dtype=torch.float64)
    return ids, mask, types, r1, r2


def perturb(model, gen):
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen, dtype=p.dtype))


def build_transformers(model_dir, gen):
    import transformers  # noqa: F401  (only on machines that have it)
    from transformers import BertConfig, BertModel

    # the eager attention is modeling_bert's reference path (sdpa gives the same numbers);
    # older versions keep the unknown keyword as a plain attribute
    cfg = BertConfig(**CONFIG, attn_implementation="eager")
    torch.manual_seed(0)
    model = BertModel(cfg, add_pooling_layer=True)
    perturb(model, gen)
    model.save_pretrained(model_dir, safe_serialization=True)
    model = model.double().eval()

    def run(ids, mask, types):
        out = model(input_ids=ids, attention_mask=mask, token_type_ids=types)
        return out.last_hidden_state, out.pooler_output

    return model, run, f"transformers {transformers.__version__}"


def build_replica(model_dir, gen):
    import ref_bert  # tests/reference is on sys.path
    cfg = ref_bert.Cfg(**CONFIG)
    torch.manual_seed(0)
    model = ref_bert.BertModel(cfg).float()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, CONFIG["initializer_range"], generator=gen)
    perturb(model, gen)
    os.makedirs(model_dir, exist_ok=True)
    st_writer.save(os.path.join(model_dir, "model.safetensors"),
                   {k: v.detach().numpy() for k, v in model.state_dict().items()}, {"format": "pt"})
    with open(os.path.join(model_dir, "config.json"), "w") as f:
        json.dump(dict(CONFIG, model_type="bert", architectures=["BertModel"]), f, indent=2)
    model = model.double().eval()

    def run(ids, mask, types):
        e = model.embeddings(ids, types)
        h = model.encoder(e, ref_bert.hf_extended_mask(mask))
        return h, model.pooler(h)

    return model, run, "the PyTorch replica of modeling_bert.py (tests/reference/ref_bert.py)"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bert-check", default=str(DEFAULT_BERT_CHECK),
                    help="the C++ driver (examples/bert_check.cpp built); default build/bert_check in the "
                         "repository, whatever the current folder (tools/gpu-check.sh passes build-gpu/bert_check)")
    ap.add_argument("--out", default="/tmp/fusegrad_hf_bert_check", help="folder for the model and the data file")
    ap.add_argument("--cuda", action="store_true", help="also compare our float32 CUDA run (tolerance 1e-4)")
    ap.add_argument("--replica", action="store_true",
                    help="use the PyTorch replica instead of transformers (machines without transformers)")
    args = ap.parse_args()
    # before any PyTorch work: the driver must be there
    if not (os.path.isfile(args.bert_check) and os.access(args.bert_check, os.X_OK)):
        default = args.bert_check == str(DEFAULT_BERT_CHECK)
        sys.exit(f"hf_bert_check: the C++ driver {args.bert_check} is not built"
                 + (f" (the default, build/bert_check in {ROOT})" if default else "")
                 + ". Build it with: cmake --build build --target bert_check (tools/setup.sh configures build/), "
                 "or pass --bert-check PATH, e.g. --bert-check build-gpu/bert_check after tools/gpu-check.sh")

    torch.set_default_dtype(torch.float32)
    gen = torch.Generator().manual_seed(1234)
    model_dir = os.path.join(args.out, "model")
    if args.replica:
        model, run, what = build_replica(model_dir, gen)
    else:
        try:
            model, run, what = build_transformers(model_dir, gen)
        except ImportError:
            sys.exit("hf_bert_check: transformers is not installed here; run it on a machine that has it, "
                     "or pass --replica to check the plumbing with the PyTorch replica")
    ids, mask, types, r1, r2 = fixed_inputs(gen)
    last, pooled = run(ids, mask, types)
    loss = (last * r1).sum() + (pooled * r2).sum()
    model.zero_grad()
    loss.backward()
    tensors = {"input_ids": ids.numpy(), "attention_mask": mask.numpy(), "token_type_ids": types.numpy(),
               "R1": r1.numpy(), "R2": r2.numpy(),
               "last_hidden_state": last.detach().numpy(), "pooler_output": pooled.detach().numpy()}
    for name, p in model.named_parameters():
        g = p.grad if p.grad is not None else torch.zeros_like(p)
        tensors["grad." + name] = g.detach().numpy().astype(np.float64)
    data_path = os.path.join(args.out, "check.safetensors")
    st_writer.save(data_path, tensors, {"reference": what})
    print(f"reference: {what}, float64; model in {model_dir}, data in {data_path}")

    runs = [["--dtype", "f64", "--device", "cpu"]]
    if args.cuda:
        runs.append(["--dtype", "f32", "--device", "cuda"])
    status = 0
    for extra in runs:
        cmd = [args.bert_check, "--model", model_dir, "--data", data_path] + extra
        print("$ " + " ".join(cmd), flush=True)
        rc = subprocess.call(cmd)
        if rc != 0:
            status = 1
            print(f"hf_bert_check: {' '.join(extra)} FAILED (exit {rc})")
    print("hf_bert_check: " + ("all comparisons passed" if status == 0 else "FAILED"))
    return status


if __name__ == "__main__":
    sys.exit(main())
