"""Reference cases for the BERT pieces: the fused ops of engine/ops_attention.h, one BERT
encoder layer, a whole tiny BertModel, MAG and MAG-BERT (models/bert.h, models/mag.h).

Op names match tests/test_reference_bert.cpp. transformers is not installed here, so the
BERT modules below are a line-by-line PyTorch 1.13 replica of transformers'
modeling_bert.py (BertEmbeddings, BertSelfAttention with the additive finfo.min padding
mask, BertSelfOutput, BertIntermediate with the erf GELU, BertOutput, BertPooler) in eval
mode, with Hugging Face's parameter names; MAG follows the authors' code
(WasifurRahman/BERT_multimodal_transformer, modeling.py: class MAG). tools/hf_bert_check.py
compares against transformers itself on a machine that has it.

Module cases ("module:*" ops) pass every parameter as a case input, in the order of
params["names"] (data inputs are named "input:<what>"); the model runs through
torch.nn.utils.stateless.functional_call, so the fixture holds d(sum(out * R))/d(parameter)
for each one, and the C++ test loads them into our module by these Hugging Face names.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.stateless import functional_call

from generate_all import Case

g = torch.Generator().manual_seed(11)


def u(*shape, lo=-1.0, hi=1.0):
    return torch.rand(tuple(shape), generator=g, dtype=torch.float64) * (hi - lo) + lo


def hf_extended_mask(mask, dtype=torch.float64):
    """transformers' get_extended_attention_mask: [B, S] of 1/0 -> [B, 1, 1, S] additive."""
    return (1.0 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


CASES = []

# ---------------------------------------------------------------- fused ops
# attention: inputs q, k, v (float64) and the key mask (int64, 1 = attend); Hugging Face's
# formula softmax(q k^T * scale + (1 - mask) * finfo.min) v
for name, (B, H, Sq, Sk, D), mask_rows, scale in [
        ("self_padded", (2, 2, 5, 5, 4), [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], 0.0),
        ("cross_hole", (3, 2, 3, 4, 5), [[1, 0, 1, 1], [0, 1, 1, 1], [1, 1, 1, 1]], 0.0),
        ("single_key", (2, 1, 4, 1, 3), [[1], [1]], 0.0),
        ("scaled", (1, 3, 7, 6, 2), [[1, 1, 1, 1, 1, 0]], 0.3)]:
    mask = torch.tensor(mask_rows, dtype=torch.int64)

    def attention(q, k, v, m, scale=scale):
        c = scale if scale != 0.0 else 1.0 / math.sqrt(q.shape[-1])
        s = torch.matmul(q, k.transpose(-1, -2)) * c + hf_extended_mask(m)
        return torch.matmul(torch.softmax(s, dim=-1), v)

    CASES.append(Case(f"attention_{name}", "attention",
                      [u(B, H, Sq, D, lo=-2, hi=2), u(B, H, Sk, D, lo=-2, hi=2), u(B, H, Sk, D), mask],
                      attention, {"scale": scale}))

for name, shape, tanh in [("erf_3d", (2, 3, 6), False), ("tanh_2d", (5, 4), True)]:
    CASES.append(Case(f"bias_gelu_{name}", "bias_gelu", [u(*shape, lo=-4, hi=4), u(shape[-1])],
                      lambda x, b, t=tanh: F.gelu(x + b, approximate="tanh" if t else "none"), {"tanh": tanh}))

CASES.append(Case("add_layer_norm_3d", "add_layer_norm", [u(2, 3, 7), u(2, 3, 7), u(7, lo=0.5, hi=1.5), u(7)],
                  lambda x, r, w, b: F.layer_norm(x + r, (7,), w, b, 1e-12), {"eps": 1e-12}))


# ---------------------------------------------------------------- BERT, after transformers' modeling_bert.py
class Cfg:
    def __init__(self, **kw):
        self.__dict__.update(kw)


class BertEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden_size, padding_idx=c.pad_token_id)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.hidden_size)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, input_ids, token_type_ids):
        position_ids = torch.arange(input_ids.shape[1])[None, :]
        e = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        e = e + self.position_embeddings(position_ids)
        return self.LayerNorm(e)


class BertSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.nh, self.dh = c.num_attention_heads, c.hidden_size // c.num_attention_heads
        self.query = nn.Linear(c.hidden_size, c.hidden_size)
        self.key = nn.Linear(c.hidden_size, c.hidden_size)
        self.value = nn.Linear(c.hidden_size, c.hidden_size)

    def transpose_for_scores(self, x):
        return x.view(x.shape[:-1] + (self.nh, self.dh)).permute(0, 2, 1, 3)

    def forward(self, h, extended_mask):
        q = self.transpose_for_scores(self.query(h))
        k = self.transpose_for_scores(self.key(h))
        v = self.transpose_for_scores(self.value(h))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.dh) + extended_mask
        ctx = torch.matmul(F.softmax(scores, dim=-1), v).permute(0, 2, 1, 3).contiguous()
        return ctx.view(ctx.shape[:-2] + (self.nh * self.dh,))


class BertResidualOutput(nn.Module):  # BertSelfOutput and BertOutput
    def __init__(self, c, d_in):
        super().__init__()
        self.dense = nn.Linear(d_in, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, h, residual):
        return self.LayerNorm(self.dense(h) + residual)


class BertAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = BertSelfAttention(c)
        self.output = BertResidualOutput(c, c.hidden_size)

    def forward(self, h, extended_mask):
        return self.output(self.self(h, extended_mask), h)


class BertIntermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.intermediate_size)

    def forward(self, h):
        return F.gelu(self.dense(h))  # transformers' "gelu" = exact erf form


class BertLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = BertAttention(c)
        self.intermediate = BertIntermediate(c)
        self.output = BertResidualOutput(c, c.intermediate_size)

    def forward(self, h, extended_mask):
        a = self.attention(h, extended_mask)
        return self.output(self.intermediate(a), a)


class BertEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(c) for _ in range(c.num_hidden_layers)])

    def forward(self, h, extended_mask):
        for layer in self.layer:
            h = layer(h, extended_mask)
        return h


class BertPooler(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)

    def forward(self, h):
        return torch.tanh(self.dense(h[:, 0]))


class BertModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = BertEmbeddings(c)
        self.encoder = BertEncoder(c)
        self.pooler = BertPooler(c)

    def embed_and_encode(self, input_ids, attention_mask, token_type_ids, after_embeddings=None):
        e = self.embeddings(input_ids, token_type_ids)
        if after_embeddings is not None:
            e = after_embeddings(e)
        h = self.encoder(e, hf_extended_mask(attention_mask))
        return torch.cat([h.reshape(-1), self.pooler(h).reshape(-1)])  # one output tensor for the fixture

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.embed_and_encode(input_ids, attention_mask, token_type_ids)


# ---------------------------------------------------------------- MAG, after the authors' modeling.py
class MAG(nn.Module):
    def __init__(self, hidden_size, visual_dim, acoustic_dim, beta_shift):
        super().__init__()
        self.W_hv = nn.Linear(visual_dim + hidden_size, hidden_size)
        self.W_ha = nn.Linear(acoustic_dim + hidden_size, hidden_size)
        self.W_v = nn.Linear(visual_dim, hidden_size)
        self.W_a = nn.Linear(acoustic_dim, hidden_size)
        self.beta_shift = beta_shift
        self.LayerNorm = nn.LayerNorm(hidden_size)

    def forward(self, text_embedding, visual, acoustic):
        eps = 1e-6
        weight_v = F.relu(self.W_hv(torch.cat((visual, text_embedding), dim=-1)))
        weight_a = F.relu(self.W_ha(torch.cat((acoustic, text_embedding), dim=-1)))
        h_m = weight_v * self.W_v(visual) + weight_a * self.W_a(acoustic)
        em_norm = text_embedding.norm(2, dim=-1)
        hm_norm = h_m.norm(2, dim=-1)
        hm_norm_ones = torch.ones(hm_norm.shape, requires_grad=True)
        hm_norm = torch.where(hm_norm == 0, hm_norm_ones, hm_norm)
        thresh_hold = (em_norm / (hm_norm + eps)) * self.beta_shift
        ones = torch.ones(thresh_hold.shape, requires_grad=True)
        alpha = torch.min(thresh_hold, ones).unsqueeze(dim=-1)
        return self.LayerNorm(alpha * h_m + text_embedding)  # the dropout is the identity in eval mode


class MagBertModel(BertModel):
    def __init__(self, c, visual_dim, acoustic_dim, beta_shift):
        super().__init__(c)
        self.MAG = MAG(c.hidden_size, visual_dim, acoustic_dim, beta_shift)

    def forward(self, input_ids, visual, acoustic, attention_mask, token_type_ids):
        return self.embed_and_encode(input_ids, attention_mask, token_type_ids,
                                     lambda e: self.MAG(e, visual, acoustic))


def random_parameters(module):
    """name -> float64 value: LayerNorm weights near 1, everything else uniform in [-0.5, 0.5)."""
    out = {}
    for name, p in module.named_parameters():
        if "LayerNorm.weight" in name:
            out[name] = u(*p.shape, lo=0.5, hi=1.5)
        else:
            out[name] = u(*p.shape, lo=-0.5, hi=0.5)
    return out


def module_case(case_name, op, module, data_names, data_inputs, params, overrides=None, strip=""):
    """A case whose inputs are the data inputs then every parameter, named as in Hugging Face
    (the module's own names with the wrapper prefix `strip` removed)."""
    module = module.double().eval()
    values = random_parameters(module)
    values.update(overrides or {})
    names = list(values)
    n_data = len(data_inputs)

    def fn(*ins):
        state = dict(zip(names, ins[n_data:]))
        return functional_call(module, state, tuple(ins[:n_data]))

    meta = dict(params)
    meta["names"] = [f"input:{d}" for d in data_names] + [n[len(strip):] if n.startswith(strip) else n
                                                         for n in names]
    CASES.append(Case(case_name, op, list(data_inputs) + [values[n] for n in names], fn, meta))


tiny = Cfg(vocab_size=20, hidden_size=8, num_hidden_layers=2, num_attention_heads=2, intermediate_size=12,
           max_position_embeddings=10, type_vocab_size=2, layer_norm_eps=1e-12, pad_token_id=0)
config_json = {k: v for k, v in tiny.__dict__.items()}
config_json.update(hidden_act="gelu", hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)

# one encoder layer: hidden states [2, 5, 8], the second sequence padded after 3 tokens
layer_mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.int64)


class LayerWithMask(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = BertLayer(c)

    def forward(self, h, mask):
        return self.layer(h, hf_extended_mask(mask))


module_case("bert_layer_padded", "module:bert_layer", LayerWithMask(tiny), ["hidden_states", "attention_mask"],
            [u(2, 5, 8, lo=-2, hi=2), layer_mask], {"config": config_json}, strip="layer.")

# the whole tiny model: ids [2, 6] with padding (id 0) after 4 tokens in the second row
ids = torch.tensor([[2, 7, 11, 5, 19, 3], [2, 13, 4, 3, 0, 0]], dtype=torch.int64)
mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]], dtype=torch.int64)
types = torch.tensor([[0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 0, 0]], dtype=torch.int64)
module_case("bert_model_tiny", "module:bert_model", BertModel(tiny),
            ["input_ids", "attention_mask", "token_type_ids"], [ids, mask, types], {"config": config_json})

# MAG alone: e [2, 4, 8], visual [2, 4, 3], acoustic [2, 4, 5]. W_v's and W_a's biases are 0
# and position (1, 2) has zero visual and acoustic features, so there H = 0 and the
# zero-norm rule (||H|| counted as 1) is exercised; beta_shift = 0.5 leaves some alphas
# below the cap of 1 and caps others.
mag_e, mag_v, mag_a = u(2, 4, 8, lo=-1, hi=1), u(2, 4, 3, lo=-2, hi=2), u(2, 4, 5, lo=-2, hi=2)
mag_v[1, 2] = 0.0
mag_a[1, 2] = 0.0
mag_zero_bias = {"W_v.bias": torch.zeros(8, dtype=torch.float64), "W_a.bias": torch.zeros(8, dtype=torch.float64)}
mag_module = MAG(8, 3, 5, 0.5)
module_case("mag_gate", "module:mag", mag_module, ["text_embedding", "visual", "acoustic"], [mag_e, mag_v, mag_a],
            {"visual_dim": 3, "acoustic_dim": 5, "beta_shift": 0.5}, overrides=mag_zero_bias)


def _check_mag_regimes():
    """The MAG case must really have alpha < 1 at some positions, alpha = 1 at others, and H = 0 once."""
    case = [c for c in CASES if c.name == "mag_gate"][0]
    names = case.params["names"][3:]
    state = dict(zip(names, case.inputs[3:]))
    with torch.no_grad():
        e, v, a = case.inputs[:3]
        wv = F.relu(F.linear(torch.cat((v, e), -1), state["W_hv.weight"], state["W_hv.bias"]))
        wa = F.relu(F.linear(torch.cat((a, e), -1), state["W_ha.weight"], state["W_ha.bias"]))
        h = wv * F.linear(v, state["W_v.weight"], state["W_v.bias"]) + wa * F.linear(a, state["W_a.weight"],
                                                                                    state["W_a.bias"])
        hn = h.norm(dim=-1)
        alpha = torch.minimum(e.norm(dim=-1) / (torch.where(hn == 0, torch.ones_like(hn), hn) + 1e-6) * 0.5,
                              torch.ones_like(hn))
    assert (hn == 0).sum() == 1, hn
    assert (alpha < 1).any() and (alpha == 1).any(), alpha


_check_mag_regimes()

# MAG-BERT: the tiny BERT with MAG after the embeddings; names embeddings.*, encoder.*, pooler.*, MAG.*
module_case("mag_bert_tiny", "module:mag_bert", MagBertModel(tiny, 3, 5, 1.0),
            ["input_ids", "visual", "acoustic", "attention_mask", "token_type_ids"],
            [ids, u(2, 6, 3), u(2, 6, 5), mask, types], {"config": config_json, "visual_dim": 3, "acoustic_dim": 5,
                                                          "beta_shift": 1.0})


# MAG-BERT as MDM trains it (models/mag_bert.h MagBertSentiment): the tiny MAG-BERT, z = the
# [CLS] hidden state of the last layer, prediction = Linear(z) (its dropout is the identity in
# eval mode), output = the L1 loss against fixed labels (params["labels"]), so the fixture
# holds the loss and R * d(loss)/d(parameter) for every parameter (the pooler's are exactly 0:
# the head does not read it) and for the visual and acoustic inputs. Token types are all 0
# (MagBertSentiment passes none).
class MagBertSentimentRef(nn.Module):
    def __init__(self, c, visual_dim, acoustic_dim, beta_shift, labels):
        super().__init__()
        self.bert = MagBertModel(c, visual_dim, acoustic_dim, beta_shift)
        self.head = nn.Linear(c.hidden_size, 1)
        self.labels = labels

    def forward(self, input_ids, visual, acoustic, attention_mask):
        b = self.bert
        e = b.MAG(b.embeddings(input_ids, torch.zeros_like(input_ids)), visual, acoustic)
        h = b.encoder(e, hf_extended_mask(attention_mask))
        prediction = self.head(h[:, 0]).squeeze(-1)
        return (prediction - self.labels).abs().mean()


mbs_labels = [0.7, -1.9]
mbs_visual, mbs_acoustic = u(2, 6, 3, lo=-2, hi=2), u(2, 6, 5, lo=-2, hi=2)
mbs_visual[:, 0] = 0.0  # [CLS] and [SEP] carry no word's features (models::word_piece_split)
mbs_acoustic[:, 0] = 0.0
mbs_visual[1, 4:] = 0.0  # padding
mbs_acoustic[1, 4:] = 0.0
module_case("mag_bert_sentiment_l1", "module:mag_bert_sentiment",
            MagBertSentimentRef(tiny, 3, 5, 1.0, torch.tensor(mbs_labels, dtype=torch.float64)),
            ["input_ids", "visual", "acoustic", "attention_mask"], [ids, mbs_visual, mbs_acoustic, mask],
            {"config": config_json, "visual_dim": 3, "acoustic_dim": 5, "beta_shift": 1.0, "labels": mbs_labels})
