"""Checkpoint interchange with PyTorch, run by tests/test_checkpoint.cpp (not a fixture family).

Net below has the structure of Net in tests/test_checkpoint.cpp, so the two state_dicts
have the same names:
    embed.weight, encoder.0.{weight,bias}, encoder.3.{weight,bias}, norm.{weight,bias},
    head.{weight,bias}, steps (an int64 buffer)

--ours CKPT --ours-io IO   load fusegrad's checkpoint CKPT into Net by name (strict; keys
                           with '/' are the optimizer's and are dropped), run it on IO's
                           "ids" and "feats" in eval mode and compare with IO's "out"
                           (our output); exit 1 if they differ
--write PATH               write a float64 Net initialized by PyTorch (seed 0) as a plain
                           safetensors state_dict, plus "io.ids", "io.feats" and "io.out"
                           (PyTorch's output) for the C++ side to check

Run: /usr/bin/python3 tests/reference/torch_checkpoint.py --ours a.safetensors --ours-io b.safetensors
"""
import argparse
import json
import pathlib
import struct
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import st_writer  # noqa: E402

_NP = {"F32": np.float32, "F64": np.float64, "I64": np.int64}


def read_safetensors(path):
    """A minimal reader (F32, F64, I64), independent of the C++ code."""
    data = pathlib.Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        arr = np.frombuffer(data[8 + n + begin:8 + n + end], dtype=np.dtype(_NP[e["dtype"]]).newbyteorder("<"))
        out[name] = torch.from_numpy(arr.reshape(e["shape"]).copy())
    return out, meta


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4, padding_idx=0)
        self.encoder = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.25), nn.Linear(8, 6), nn.Tanh())
        self.norm = nn.LayerNorm(6)
        self.head = nn.Linear(6, 3)
        self.register_buffer("steps", torch.zeros(1, dtype=torch.int64))

    def forward(self, ids, feats):
        return self.head(self.norm(self.encoder(self.embed(ids) + feats)))


def check_ours(ckpt, io):
    tensors, meta = read_safetensors(ckpt)
    print(f"fusegrad checkpoint {ckpt}: {len(tensors)} tensors, metadata {sorted(meta)}")
    state = {k: v for k, v in tensors.items() if "/" not in k}
    net = Net().to(state["head.weight"].dtype)
    net.load_state_dict(state, strict=True)  # raises, naming keys, on any mismatch
    net.eval()
    data, _ = read_safetensors(io)
    with torch.no_grad():
        out = net(data["ids"], data["feats"])
    diff = (out - data["out"]).abs().max().item()
    scale = data["out"].abs().max().item()
    print(f"PyTorch output vs fusegrad output: max |diff| {diff:.3g} (max |out| {scale:.3g}), "
          f"steps buffer {net.steps.tolist()}")
    return diff <= 1e-5 * max(1.0, scale)


def write_torch(path):
    torch.manual_seed(0)
    net = Net().double()
    net.steps.fill_(42)
    net.eval()
    ids = torch.tensor([3, 0, 9, 1, 0, 5], dtype=torch.int64)
    feats = torch.randn(6, 4, dtype=torch.float64)
    with torch.no_grad():
        out = net(ids, feats)
    tensors = {k: v.detach().numpy() for k, v in net.state_dict().items()}
    tensors.update({"io.ids": ids.numpy(), "io.feats": feats.numpy(), "io.out": out.numpy()})
    st_writer.save(path, tensors, {"written_by": "torch " + torch.__version__})
    print(f"wrote PyTorch Net state_dict and its output to {path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ours")
    ap.add_argument("--ours-io")
    ap.add_argument("--write")
    args = ap.parse_args()
    ok = True
    if args.ours:
        ok = check_ours(args.ours, args.ours_io)
    if args.write:
        write_torch(args.write)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
