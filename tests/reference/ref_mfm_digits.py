"""Reference cases for MFM's digit experiment (models/mfm_digits.h, paper 001 section 3.2),
written here in plain PyTorch: CNN image trunks (Conv2d 4x4 stride 2 pad 1, twice, then a
Linear), FCNN speech trunks, late fusion for Q(Z_y | X_1, X_2), G = ReLU(FC2(ReLU(FC1(z)))),
D = FC2(ReLU(FC1(f_y))) to the class logits, the image decoder Linear -> ConvTranspose2d x 2 ->
sigmoid, the speech decoder Linear -> ReLU -> Linear -> sigmoid; the objective cross-entropy
+ lambda_image MSE + lambda_speech MSE + lambda_mmd MMD with the code's kernel
exp(-mean_d (x - y)^2 / dim) (biased), one MMD per factor or one on the concatenated Z.

Inputs of a case: image [B, side^2], speech [B, dim], labels int64 [B], the N(0, I) draws
(num_prior of them), then every parameter in the order of params.param_names. Output:
[total, ce, recon_image, recon_speech, mmd] for mfm, [total, ce] for the discriminative
models. Eval mode (no dropout). tests/test_mfm_digits.cpp builds the same model, loads the
parameters by name and compares the output and the gradients of the inputs and of every
parameter.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from generate_all import Case
from ref_mfn import set_param

g = torch.Generator().manual_seed(1402)


def u(*shape, lo=-1.0, hi=1.0):
    return torch.rand(tuple(shape), generator=g, dtype=torch.float64) * (hi - lo) + lo


def mmd_code(x, y):
    def k(a, b):
        return torch.exp(-((a[:, None, :] - b[None, :, :]) ** 2).mean(-1) / a.shape[1])
    return k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean()


def gnet(i, o):
    return nn.Sequential(nn.Linear(i, o), nn.ReLU(), nn.Linear(o, o), nn.ReLU())


class ImageEncoder(nn.Module):
    def __init__(self, side, c, out):
        super().__init__()
        self.side = side
        self.conv1 = nn.Conv2d(1, c, 4, stride=2, padding=1)
        self.conv2 = nn.Conv2d(c, 2 * c, 4, stride=2, padding=1)
        self.fc = nn.Linear(2 * c * (side // 4) ** 2, out)

    def forward(self, x):
        h = x.reshape(x.shape[0], 1, self.side, self.side)
        h = F.relu(self.conv2(F.relu(self.conv1(h))))
        return F.relu(self.fc(h.flatten(1)))


class ImageDecoder(nn.Module):
    def __init__(self, i, side, c):
        super().__init__()
        self.side, self.c = side, c
        self.fc = nn.Linear(i, 2 * c * (side // 4) ** 2)
        self.deconv1 = nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1)
        self.deconv2 = nn.ConvTranspose2d(c, 1, 4, stride=2, padding=1)

    def forward(self, f):
        h = F.relu(self.fc(f)).reshape(f.shape[0], 2 * self.c, self.side // 4, self.side // 4)
        return torch.sigmoid(self.deconv2(F.relu(self.deconv1(h))).reshape(f.shape[0], -1))


class TorchMfmDigits(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        m, s, c, h, d = cfg["model"], cfg["side"], cfg["channels"], cfg["hidden"], cfg["speech_dim"]
        self.use_image = m != "um_speech"
        self.use_speech = m != "um_image"
        self.gen = m == "mfm"
        fused = 0
        if self.use_image:
            self.y_image = ImageEncoder(s, c, h)
            fused += h
        if self.use_speech:
            self.y_speech = nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU())
            fused += h
        self.zy = nn.Linear(fused, cfg["zy"])
        if self.gen:
            self.a_image = ImageEncoder(s, c, h)
            self.a_speech = nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU())
            self.za_image = nn.Linear(h, cfg["za"][0])
            self.za_speech = nn.Linear(h, cfg["za"][1])
        self.g_y = gnet(cfg["zy"], cfg["fy"])
        if self.gen:
            self.g_a_image = gnet(cfg["za"][0], cfg["fa"][0])
            self.g_a_speech = gnet(cfg["za"][1], cfg["fa"][1])
        self.d = nn.Sequential(nn.Linear(cfg["fy"], cfg["fy"]), nn.ReLU(), nn.Linear(cfg["fy"], cfg["classes"]))
        if self.gen:
            self.dec_image = ImageDecoder(cfg["fy"] + cfg["fa"][0], s, c)
            self.dec_speech = nn.Sequential(nn.Linear(cfg["fy"] + cfg["fa"][1], h), nn.ReLU(), nn.Linear(h, d))

    def forward(self, image, speech, labels, prior):
        cfg = self.cfg
        trunks = []
        if self.use_image:
            trunks.append(self.y_image(image))
        if self.use_speech:
            trunks.append(self.y_speech(speech))
        zy = self.zy(torch.cat(trunks, 1))
        fy = self.g_y(zy)
        ce = F.cross_entropy(self.d(fy), labels)
        if not self.gen:
            return torch.stack([ce, ce])
        z1 = self.za_image(self.a_image(image))
        z2 = self.za_speech(self.a_speech(speech))
        xi = self.dec_image(torch.cat([fy, self.g_a_image(z1)], 1))
        xs = torch.sigmoid(self.dec_speech(torch.cat([fy, self.g_a_speech(z2)], 1)))
        ri = ((xi - image) ** 2).mean()
        rs = ((xs - speech) ** 2).mean()
        if cfg["placement"] == "joint":
            mmd = mmd_code(torch.cat([zy, z1, z2], 1), prior[0])
        else:
            mmd = sum(mmd_code(z, p) for z, p in zip([zy, z1, z2], prior))
        total = ce + cfg["lambda_image"] * ri + cfg["lambda_speech"] * rs + cfg["lambda_mmd"] * mmd
        return torch.stack([total, ce, ri, rs, mmd])


BASE = {"side": 8, "speech_dim": 5, "channels": 2, "hidden": 3, "classes": 3, "zy": 2, "za": [3, 2], "fy": 2,
        "fa": [2, 3], "lambda_image": 1.0, "lambda_speech": 0.5, "lambda_mmd": 2.0, "placement": "per_factor"}
SPECS = [("mfm_per_factor", {"model": "mfm"}), ("mfm_joint", {"model": "mfm", "placement": "joint"}),
         ("mm", {"model": "mm"}), ("um_image", {"model": "um_image"}), ("um_speech", {"model": "um_speech"})]
B = 4
CASES = []
for case, overrides in SPECS:
    cfg = dict(BASE)
    cfg.update(overrides)
    model = TorchMfmDigits(cfg)
    model.eval()
    param_names = [n for n, _ in model.named_parameters()]
    ins = [u(B, cfg["side"] ** 2, lo=0.0, hi=1.0), u(B, cfg["speech_dim"], lo=0.0, hi=1.0),
           torch.tensor([0, 2, 1, 2])]
    widths = [cfg["zy"]] + cfg["za"] if cfg["model"] == "mfm" else []
    if cfg["placement"] == "joint" and widths:
        widths = [sum(widths)]
    ins += [torch.randn(B, w, generator=g, dtype=torch.float64) for w in widths]
    P = len(widths)
    ins += [u(*p.shape) * 1.5 / (p[0].numel() if p.dim() >= 2 else 1) ** 0.5 if p.dim() >= 2
            else u(*p.shape, lo=0.05, hi=0.5) for _, p in model.named_parameters()]

    def fn(*args, model=model, param_names=param_names, P=P):
        image, speech, labels = args[0], args[1], args[2]
        prior = list(args[3:3 + P])
        for n, p in zip(param_names, args[3 + P:]):
            set_param(model, n, p)
        return model(image, speech, labels, prior)

    params = dict(cfg)
    params.update({"param_names": param_names, "num_prior": P, "B": B})
    CASES.append(Case(f"mfm_digits_{case}", "mfm_digits", ins, fn, params))
