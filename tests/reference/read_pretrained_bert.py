"""Reads a folder written by pretrain_bert (examples/harness/bert_pretrain.h) with a pure-PyTorch
BERT and checks that it gives our hidden states and MLM logits. Run by tests/test_pretrain_bert.cpp
(not a fixture family: it reads what the C++ side just wrote).

    read_pretrained_bert.py FOLDER IO.safetensors

FOLDER: config.json, vocab.txt, model.safetensors as transformers' BertForMaskedLM writes them
(bert.* and cls.predictions.{transform.dense, transform.LayerNorm, bias}; the decoder tied to
bert.embeddings.word_embeddings.weight). IO: "ids", "mask" (int64 [B, S]), "positions" (int64
[M], flat into B*S), "hidden" (our last hidden state, f64) and "logits" (ours at the positions,
f64). The model below is written from transformers' modeling_bert.py (post-LN encoder, erf GELU,
additive finfo.min padding mask, BertPredictionHeadTransform, tied decoder), in float64, eval
mode; it loads the file strictly by name. Prints the relative errors; exit 1 when one exceeds
1e-9 or the folder is inconsistent.
"""
import json
import math
import pathlib
import sys

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from torch_checkpoint import read_safetensors  # noqa: E402


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        H, I = c["hidden_size"], c["intermediate_size"]
        self.nh = c["num_attention_heads"]
        self.eps = c["layer_norm_eps"]
        self.attention = nn.Module()
        self.attention.self = nn.Module()
        for n in ("query", "key", "value"):
            setattr(self.attention.self, n, nn.Linear(H, H))
        self.attention.output = nn.Module()
        self.attention.output.dense = nn.Linear(H, H)
        self.attention.output.LayerNorm = nn.LayerNorm(H, eps=self.eps)
        self.intermediate = nn.Module()
        self.intermediate.dense = nn.Linear(H, I)
        self.output = nn.Module()
        self.output.dense = nn.Linear(I, H)
        self.output.LayerNorm = nn.LayerNorm(H, eps=self.eps)

    def forward(self, h, ext):
        B, S, H = h.shape
        dh = H // self.nh
        sa = self.attention.self
        heads = lambda x: x.view(B, S, self.nh, dh).permute(0, 2, 1, 3)  # noqa: E731
        q, k, v = heads(sa.query(h)), heads(sa.key(h)), heads(sa.value(h))
        p = F.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh) + ext, dim=-1)
        ctx = (p @ v).permute(0, 2, 1, 3).reshape(B, S, H)
        a = self.attention.output.LayerNorm(self.attention.output.dense(ctx) + h)
        return self.output.LayerNorm(self.output.dense(F.gelu(self.intermediate.dense(a))) + a)


class BertForMaskedLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        H, eps = c["hidden_size"], c["layer_norm_eps"]
        self.bert = nn.Module()
        e = self.bert.embeddings = nn.Module()
        e.word_embeddings = nn.Embedding(c["vocab_size"], H, padding_idx=c.get("pad_token_id", 0))
        e.position_embeddings = nn.Embedding(c["max_position_embeddings"], H)
        e.token_type_embeddings = nn.Embedding(c["type_vocab_size"], H)
        e.LayerNorm = nn.LayerNorm(H, eps=eps)
        self.bert.encoder = nn.Module()
        self.bert.encoder.layer = nn.ModuleList([Layer(c) for _ in range(c["num_hidden_layers"])])
        self.cls = nn.Module()
        p = self.cls.predictions = nn.Module()
        p.transform = nn.Module()
        p.transform.dense = nn.Linear(H, H)
        p.transform.LayerNorm = nn.LayerNorm(H, eps=eps)
        p.bias = nn.Parameter(torch.zeros(c["vocab_size"]))

    def forward(self, ids, mask):
        e = self.bert.embeddings
        S = ids.shape[1]
        h = e.word_embeddings(ids) + e.token_type_embeddings(torch.zeros_like(ids)) + e.position_embeddings(
            torch.arange(S)[None, :])
        h = e.LayerNorm(h)
        ext = (1.0 - mask[:, None, None, :].to(h.dtype)) * torch.finfo(h.dtype).min
        for layer in self.bert.encoder.layer:
            h = layer(h, ext)
        return h

    def logits(self, h):
        t = self.cls.predictions.transform
        x = t.LayerNorm(F.gelu(t.dense(h)))
        return x @ self.bert.embeddings.word_embeddings.weight.T + self.cls.predictions.bias


def rel(a, b):
    return ((a - b).norm() / max(b.norm().item(), 1e-300)).item()


def main():
    folder, io_path = pathlib.Path(sys.argv[1]), sys.argv[2]
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg.get("model_type") == "bert", "config.json: model_type is not bert"
    assert cfg.get("architectures") == ["BertForMaskedLM"], "config.json: architectures"
    vocab = (folder / "vocab.txt").read_text(encoding="utf-8").split("\n")
    if vocab and vocab[-1] == "":
        vocab.pop()
    assert len(vocab) == cfg["vocab_size"], f"vocab.txt has {len(vocab)} lines, config vocab_size {cfg['vocab_size']}"
    assert len(set(vocab)) == len(vocab), "vocab.txt has duplicate tokens"
    weights, _ = read_safetensors(folder / "model.safetensors")
    model = BertForMaskedLM(cfg).double().eval()
    model.load_state_dict({k: v.double() for k, v in weights.items()}, strict=True)  # every name, no other
    io, _ = read_safetensors(io_path)
    with torch.no_grad():
        h = model(io["ids"], io["mask"])
        logits = model.logits(h.reshape(-1, h.shape[-1])[io["positions"]])
    e_h = rel(h, io["hidden"])
    e_l = rel(logits, io["logits"])
    print(f"hidden relative error {e_h:.3e}, MLM logits relative error {e_l:.3e}, {len(weights)} tensors")
    sys.exit(0 if e_h <= 1e-9 and e_l <= 1e-9 else 1)


if __name__ == "__main__":
    main()
