"""MMIM (paper 003) in plain PyTorch, for tests/test_mmim.cpp: reads the C++ model's weights
and a batch from a safetensors file, computes L_main's terms (stage 2) and L_lld (stage 1)
and every parameter's gradient of both in float64, and writes them back.

Run by the test: python3 mmim_torch_check.py IN.safetensors OUT.safetensors
Metadata of IN: config (JSON): hidden, layers, heads, intermediate, vocab, max_pos,
acoustic_dim, visual_dim, rnn_hidden, encoder_out, fusion_dim, lld_form (full|code),
cpc (code|paper), drop_zero (bool), alpha, beta; text_encoder (bert|lstm; lstm: an LSTM over
the `text` features, text_dim -> text_hidden, then Linear, in place of BERT), pairs (the BA pairs
in use among tv, ta, va; va = q(h_a | h_v) with its own entropy projection of h_a, the code's
add_va). Modules of pairs not in use do not exist (strict loading checks the C++ side agrees).
The model follows the authors' code (RNNEncoder, SubNet, MMILB, CPC) with eval-mode dropout.
"""
import json
import math
import pathlib
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import st_writer  # noqa: E402
from ref_bert import BertModel, Cfg, hf_extended_mask  # noqa: E402
from torch_checkpoint import read_safetensors  # noqa: E402

LOG2PI = math.log(2 * math.pi)


def mlp(i, o):
    return nn.Sequential(nn.Linear(i, o), nn.ReLU(), nn.Linear(o, o))


class Predictor(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.mlp_mu, self.mlp_logvar = mlp(i, o), mlp(i, o)


class Cpc(nn.Module):
    def __init__(self, f, m):
        super().__init__()
        self.net = nn.Linear(f, m)


class Mmim(nn.Module):
    def __init__(self, c):
        super().__init__()
        if c.get("text_encoder", "bert") == "bert":
            bc = Cfg(vocab_size=c["vocab"], hidden_size=c["hidden"], num_hidden_layers=c["layers"],
                     num_attention_heads=c["heads"], intermediate_size=c["intermediate"],
                     max_position_embeddings=c["max_pos"], type_vocab_size=2, layer_norm_eps=1e-12, pad_token_id=0)
            self.bert = BertModel(bc)
            H = c["hidden"]
        else:
            H = c["text_hidden"]
            self.text_rnn = nn.LSTM(c["text_dim"], H, batch_first=True)
            self.text_out = nn.Linear(H, H)
        e, f = c["encoder_out"], c["fusion_dim"]
        pairs = c.get("pairs", ["tv", "ta"])
        self.acoustic_rnn = nn.LSTM(c["acoustic_dim"], c["rnn_hidden"], batch_first=True)
        self.visual_rnn = nn.LSTM(c["visual_dim"], c["rnn_hidden"], batch_first=True)
        self.acoustic_out = nn.Linear(c["rnn_hidden"], e)
        self.visual_out = nn.Linear(c["rnn_hidden"], e)
        self.fusion_1 = nn.Linear(H + 2 * e, f)
        self.fusion_2 = nn.Linear(f, f)
        self.head = nn.Linear(f, 1)
        if "tv" in pairs:
            self.q_tv, self.entropy_prj_v = Predictor(H, e), nn.Linear(e, e // 4)
        if "ta" in pairs:
            self.q_ta, self.entropy_prj_a = Predictor(H, e), nn.Linear(e, e // 4)
        if "va" in pairs:
            self.q_va, self.entropy_prj_va = Predictor(e, e), nn.Linear(e, e // 4)
        self.cpc_t, self.cpc_a, self.cpc_v = Cpc(f, H), Cpc(f, e), Cpc(f, e)


def rnn(lstm, out, x, lens):
    packed = nn.utils.rnn.pack_padded_sequence(x, lens, batch_first=True, enforce_sorted=False)
    _, (h, _) = lstm(packed)
    return out(h[-1])


def lld(q, x, y, form):
    mu, logvar = q.mlp_mu(x), q.mlp_logvar(x)
    if form == "code":
        return (-(y - mu) ** 2 / 2.0 / torch.exp(logvar)).sum(-1).mean()
    return (-0.5 * ((y - mu) ** 2 / torch.exp(logvar) + logvar + LOG2PI)).sum(-1).mean()


def entropy(prj, h, labels, c):
    p = torch.tanh(prj(h))
    k = p.shape[1]
    pos = p[labels > 0] if c["drop_zero"] else p[labels >= 0]
    neg = p[labels < 0]
    out = 0
    for rows in (pos, neg):
        m = rows.mean(0, keepdim=True)
        cov = (rows - m).t() @ (rows - m) / rows.shape[0]
        out = out + 0.25 * torch.logdet(cov + 1e-6 * torch.eye(k, dtype=cov.dtype))
    if c["lld_form"] == "full":
        out = out + 0.5 * k * (1.0 + LOG2PI)
    return out


def cpc(m, z, h, c):
    hn = F.normalize(h, dim=1, eps=1e-12)
    pn = F.normalize(m.net(z), dim=1, eps=1e-12)
    pos = (hn * pn).sum(1)
    if c["cpc"] == "code":
        return -(pos - torch.logsumexp(hn @ pn.t(), dim=1)).mean()
    return -(pos - torch.logsumexp(pn @ hn.t(), dim=1)).mean()


def main():
    src, dst = sys.argv[1], sys.argv[2]
    tensors, meta = read_safetensors(src)
    c = json.loads(meta["config"])
    model = Mmim(c).double()
    params = {k[len("w."):]: v for k, v in tensors.items() if k.startswith("w.")}
    model.load_state_dict(params, strict=True)
    tb = tensors["in.text_bert"]
    ids, mask, seg = tb[..., 0].long(), tb[..., 1].long(), tb[..., 2].long()
    xt, lt = tensors["in.text"].double(), tensors["in.text_len"].long()
    pairs = c.get("pairs", ["tv", "ta"])
    xa, xv = tensors["in.acoustic"].double(), tensors["in.visual"].double()
    la, lv = tensors["in.acoustic_len"].long(), tensors["in.visual_len"].long()
    y = tensors["in.labels"].double()

    def encode():
        if c.get("text_encoder", "bert") == "bert":
            e = model.bert.embeddings(ids, seg)
            h_t = model.bert.encoder(e, hf_extended_mask(mask))[:, 0]
        else:
            h_t = rnn(model.text_rnn, model.text_out, xt, lt)
        return h_t, rnn(model.acoustic_rnn, model.acoustic_out, xa, la), rnn(model.visual_rnn, model.visual_out, xv, lv)

    out = {}
    # stage 2
    h_t, h_a, h_v = encode()
    z = torch.tanh(model.fusion_2(torch.tanh(model.fusion_1(torch.cat([h_t, h_a, h_v], 1)))))
    pred = model.head(z).squeeze(-1)
    terms = {"l1": (pred - y).abs().mean(),
             "cpc_t": cpc(model.cpc_t, z, h_t, c), "cpc_a": cpc(model.cpc_a, z, h_a, c),
             "cpc_v": cpc(model.cpc_v, z, h_v, c)}
    bound = 0
    if "tv" in pairs:
        terms["lld_tv"], terms["h_v"] = lld(model.q_tv, h_t, h_v, c["lld_form"]), entropy(model.entropy_prj_v, h_v, y, c)
        bound = bound + terms["lld_tv"] + terms["h_v"]
    if "ta" in pairs:
        terms["lld_ta"], terms["h_a"] = lld(model.q_ta, h_t, h_a, c["lld_form"]), entropy(model.entropy_prj_a, h_a, y, c)
        bound = bound + terms["lld_ta"] + terms["h_a"]
    if "va" in pairs:
        terms["lld_va"] = lld(model.q_va, h_v, h_a, c["lld_form"])
        terms["h_va"] = entropy(model.entropy_prj_va, h_a, y, c)
        bound = bound + terms["lld_va"] + terms["h_va"]
    total = terms["l1"] + c["alpha"] * (terms["cpc_t"] + terms["cpc_a"] + terms["cpc_v"]) - c["beta"] * bound
    total.backward()
    out["out.prediction"] = pred.detach().numpy()
    out["out.total"] = total.detach().numpy()
    for k, v in terms.items():
        out["out." + k] = v.detach().numpy()
    for name, p in model.named_parameters():
        if p.grad is not None:
            out["g2." + name] = p.grad.numpy().copy()
    model.zero_grad(set_to_none=True)
    # stage 1: L_lld with the encodings detached
    with torch.no_grad():
        h_t, h_a, h_v = encode()
    l1 = 0
    if "tv" in pairs:
        l1 = l1 - lld(model.q_tv, h_t, h_v, c["lld_form"])
    if "ta" in pairs:
        l1 = l1 - lld(model.q_ta, h_t, h_a, c["lld_form"])
    if "va" in pairs:
        l1 = l1 - lld(model.q_va, h_v, h_a, c["lld_form"])
    l1.backward()
    out["out.stage1"] = l1.detach().numpy()
    for name, p in model.named_parameters():
        if p.grad is not None:
            out["g1." + name] = p.grad.numpy().copy()
    st_writer.save(dst, out)


if __name__ == "__main__":
    main()
