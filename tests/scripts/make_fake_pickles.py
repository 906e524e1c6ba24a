#!/usr/bin/env python3
"""tests/scripts/make_fake_pickles.py OUT_DIR: tiny pickles with the keys and layouts of MMSA's
aligned_50.pkl / unaligned_50.pkl and MulT's mosi_data.pkl / iemocap_data_noalign.pkl, for
tests/test_mmsa_convert.cpp (which checks the converted values against the same formula).

Feature value of modality m (text 0, audio 1, vision 2), row i, step t (counted from the first
VALID step), feature j:  1000 m + 100 i + 10 t + j + 1.  Padding is 0 except where noted.
"""
import os
import pickle
import sys

import numpy as np

SPLITS = ("train", "valid", "test")
DIMS = {"text": 3, "audio": 2, "vision": 2}
M = {"text": 0, "audio": 1, "vision": 2}


def value(m, i, t, j):
    return 1000 * m + 100 * i + 10 * t + j + 1


def seq(key, lengths, steps, left=False):
    x = np.zeros((len(lengths), steps, DIMS[key]), np.float32)
    for i, n in enumerate(lengths):
        for t in range(n):
            pos = steps - n + t if left else t
            for j in range(DIMS[key]):
                x[i, pos, j] = value(M[key], i, t, j)
    return x


def text_bert(lengths, steps):
    tb = np.zeros((len(lengths), 3, steps), np.float32)
    for i, n in enumerate(lengths):
        tb[i, 0, :n] = 101 + np.arange(n)  # token ids
        tb[i, 1, :n] = 1                   # mask
    return tb


def mmsa(aligned):
    out = {}
    for s in SPLITS:
        n = 3 if s == "train" else 2
        lens = [2, 4, 3][:n]
        d = {"raw_text": np.array([f"{s} words {i}" for i in range(n)], dtype=object),
             "id": np.array([f"vid{s}{i // 2}$_${i}" for i in range(n)], dtype=object),
             "regression_labels": np.array([-1.2, 0.0, 2.4][:n], np.float32),
             "classification_labels": np.array([0, 1, 2][:n], np.float32),
             "annotations": np.array(["Negative", "Neutral", "Positive"][:n], dtype=object),
             "text": seq("text", lens, 4), "text_bert": text_bert(lens, 4)}
        if aligned:
            d["audio"] = seq("audio", lens, 4)
            d["vision"] = seq("vision", lens, 4)
        else:
            d["audio_lengths"] = [0, 6, 2][:n]
            d["vision_lengths"] = [5, 1, 3][:n]
            d["audio"] = seq("audio", d["audio_lengths"], 6)
            d["vision"] = seq("vision", d["vision_lengths"], 5)
        if s == "train":
            d["audio"][1, 0, 0] = -np.inf      # COVAREP's -inf: becomes 0, counted
            d["vision"][0, 3, 1] = 7.0         # garbage in the padding: becomes 0, counted
        out[s] = d
    return out


def mult_mosi():
    out = {}
    for s in SPLITS:
        n = 3 if s == "train" else 2
        lens = [3, 5, 1][:n]
        out[s] = {"text": seq("text", lens, 5, left=True), "audio": seq("audio", lens, 5, left=True),
                  "vision": seq("vision", lens, 5, left=True),
                  "labels": np.array([0.5, -3.0, 1.0][:n], np.float32).reshape(n, 1, 1),
                  "id": np.array([[f"v{s}{i}", f"{i}.5", f"{i + 1}.5"] for i in range(n)], dtype=object)}
    return out


def mult_iemocap():
    out = {}
    for s in SPLITS:
        n = 3 if s == "train" else 2
        emo = np.zeros((n, 4, 2), np.float32)
        for i in range(n):
            for k in range(4):
                emo[i, k, 1 if (i + k) % 3 == 0 else 0] = 1
        out[s] = {"text": seq("text", [4, 2, 1][:n], 4, left=True), "audio": seq("audio", [6, 0, 3][:n], 6, left=True),
                  "vision": seq("vision", [1, 3, 2][:n], 3, left=True), "labels": emo}
    return out


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for name, data in [("aligned_50.pkl", mmsa(True)), ("unaligned_50.pkl", mmsa(False)),
                       ("mosi_data.pkl", mult_mosi()), ("iemocap_data_noalign.pkl", mult_iemocap())]:
        with open(os.path.join(out_dir, name), "wb") as f:
            pickle.dump(data, f, protocol=4)
    empty = mmsa(True)
    empty["test"] = {k: v[:0] for k, v in empty["test"].items()}
    with open(os.path.join(out_dir, "empty_aligned_50.pkl"), "wb") as f:
        pickle.dump(empty, f, protocol=4)
    bad = mmsa(True)
    del bad["valid"]["regression_labels"]
    with open(os.path.join(out_dir, "bad_aligned_50.pkl"), "wb") as f:
        pickle.dump(bad, f, protocol=4)


if __name__ == "__main__":
    main(sys.argv[1])
