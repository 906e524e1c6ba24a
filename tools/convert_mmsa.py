#!/usr/bin/env python3
"""tools/convert_mmsa.py: convert MMSA and MulT pickles into fusegrad's HDF5 dataset format.

Needs only Debian's python3-numpy and python3-h5py (no torch). The layout it writes is
described in docs/data-format.md and read by fg::data::read_h5_dataset (data/h5_dataset.h).

Inputs (each a pickled dict {"train": {...}, "valid": {...}, "test": {...}}):

  MMSA   aligned_50.pkl / unaligned_50.pkl (CMU-MOSI, CMU-MOSEI; the MMSA toolkit's release)
         per split: text (N, 50, 768) BERT features, text_bert (N, 3, 50) = token ids / mask /
         segment ids, audio (N, L_a, d_a), vision (N, L_v, d_v), audio_lengths and
         vision_lengths (unaligned files), regression_labels (N,), classification_labels
         (N,), id (N,) like "video$_$3", raw_text (N,). Sequences are right-padded.
  MulT   mosi_data.pkl, mosei_senti_data.pkl, iemocap_data.pkl and their *_noalign.pkl
         per split: text (N, T, 300) GloVe, audio (N, T_a, d_a), vision (N, T_v, d_v),
         labels (N, 1, 1) sentiment or, for IEMOCAP, (N, 4, 2) one-hot (not, is) per emotion
         Neutral / Happy / Sad / Angry, id (N,) or (N, k). Sequences are LEFT-padded with zeros.

What the conversion does (every repair is counted and printed):

  * Modalities text / audio / vision become "text" / "acoustic" / "visual" (--modalities picks
    and orders them). --keep-text-bert also stores MMSA's text_bert as a modality
    "text_bert" [N, 50, 3] (ids, mask, segment ids as exact float32 values) for BERT models.
  * Lengths. MMSA unaligned: audio_lengths / vision_lengths, and the text length is the
    number of 1s in text_bert's mask. MMSA aligned: one length per utterance, from
    text_bert's mask (all modalities follow the word pieces). Without text_bert, or for MulT,
    the length is found from the zero padding: right-padded (MMSA) sequences end after their
    last step with a non-zero value, left-padded (MulT) ones start at their first; MulT's
    steps are then moved to the front (fusegrad's splits are right-padded). For aligned
    files the steps of all modalities are considered together. A sequence that is all zeros
    has length 0 (unaligned) or 1 (aligned: the format wants >= 1 word).
  * Non-finite features (COVAREP's -inf in MMSA's audio, any NaN) become 0; values after a
    sequence's length become 0. Both counted per split and modality.
  * Labels. MMSA: regression_labels -> "regression" (default), or with --label-field
    classification, classification_labels -> "class_index" over Negative / Neutral /
    Positive. MulT: (N, 1, 1) / (N, 1) / (N,) -> "regression"; (N, K, 2) -> "multi_label" with
    label k = argmax over the last axis (as MulT's loader), named Neutral, Happy, Sad, Angry
    when K = 4; (N, K) of 0 / 1 -> "multi_label". Non-finite labels are an error.
  * Ids. MMSA's "video$_$3" becomes "video[3]" (the SDK's segment ids; --keep-ids keeps them
    as they are). A 2-D id array (N, k) becomes "c0[c1_c2...]". Missing ids: "<split>/<row>".

Usage:
  python3 tools/convert_mmsa.py aligned_50.pkl mosi_aligned.h5
  python3 tools/convert_mmsa.py unaligned_50.pkl mosi_unaligned.h5 --keep-text-bert
  python3 tools/convert_mmsa.py iemocap_data_noalign.pkl iemocap.h5

Exit status 0 on success, 1 on bad input (the message names the file, the split and the key).
"""
import argparse
import os
import pickle
import sys

try:
    import numpy as np
    import h5py
except ImportError as e:  # pragma: no cover - depends on the machine
    sys.exit(f"convert_mmsa.py: {sys.executable} cannot import {e.name} ({e}). Run it with Debian's /usr/bin/python3, "
             "which has python3-numpy and python3-h5py (apt-get install python3-numpy python3-h5py; tools/setup.sh "
             "installs them): /usr/bin/python3 tools/convert_mmsa.py ...")

FORMAT_NAME = "fusegrad.multimodal"
FORMAT_VERSION = 1
SPLITS = ("train", "valid", "test")
OUR_NAME = {"text": "text", "audio": "acoustic", "vision": "visual", "text_bert": "text_bert"}
IEMOCAP_EMOTIONS = ["Neutral", "Happy", "Sad", "Angry"]
MMSA_CLASSES = ["Negative", "Neutral", "Positive"]


class ConvertError(Exception):
    pass


def fail(msg):
    raise ConvertError(msg)


class Report:
    """Counted repairs, printed at the end (as fusegrad's LoadReport)."""

    def __init__(self):
        self.lines = []

    def add(self, kind, where, count, detail):
        if count > 0:
            self.lines.append((kind, where, int(count), detail))

    def count(self, kind):
        return sum(c for k, _, c, _ in self.lines if k == kind)

    def summary(self):
        return "\n".join(f"warning [{k}] {w}: {d} (count {c})" for k, w, c, d in self.lines)


def as_str(x):
    if isinstance(x, bytes):
        return x.decode("utf-8", errors="replace")
    if isinstance(x, np.ndarray) and x.ndim == 0:
        return as_str(x.item())
    return str(x)


def detect_kind(data, where):
    first = data["train"]
    if "regression_labels" in first:
        return "mmsa"
    if "labels" in first:
        return "mult"
    fail(f"{where}: split 'train' has neither 'regression_labels' (MMSA) nor 'labels' (MulT); "
         f"keys are {sorted(first.keys())}")


def features_of(split, key, where):
    if key not in split:
        fail(f"{where}: missing key '{key}' (keys: {sorted(split.keys())})")
    x = np.asarray(split[key])
    if x.ndim != 3:
        fail(f"{where}: '{key}' must be an array (N, T, D), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.number):
        fail(f"{where}: '{key}' must hold numbers, got dtype {x.dtype}")
    return x.astype(np.float32)


def lengths_from_padding(x, left):
    """Valid steps of each row of x [N, T, D] (or of several modalities stacked on D)."""
    nonzero = np.any(x != 0, axis=2)  # [N, T]
    t = x.shape[1]
    any_nz = nonzero.any(axis=1)
    if left:
        first = np.argmax(nonzero, axis=1)
        return np.where(any_nz, t - first, 0).astype(np.int64)
    last = t - 1 - np.argmax(nonzero[:, ::-1], axis=1)
    return np.where(any_nz, last + 1, 0).astype(np.int64)


def to_right_padding(x, lengths):
    """Moves the last lengths[i] steps of row i (left padding) to the front."""
    out = np.zeros_like(x)
    t = x.shape[1]
    for i, n in enumerate(lengths):
        if n > 0:
            out[i, :n] = x[i, t - n:]
    return out


def clean(x, lengths, where, name, report):
    """Non-finite -> 0, padding after the length -> 0; both counted."""
    bad = ~np.isfinite(x)
    report.add("non_finite_feature", f"{where}/{name}", bad.sum(),
               "non-finite feature values (NaN or +-inf) replaced by 0")
    x[bad] = 0
    steps = np.arange(x.shape[1])[None, :]
    pad = steps >= lengths[:, None]
    nz_pad = (x != 0) & pad[:, :, None]
    report.add("nonzero_padding", f"{where}/{name}", nz_pad.sum(),
               "non-zero values after a sequence's length set to 0")
    x[nz_pad] = 0
    return x


def bert_lengths(split, n, where):
    tb = np.asarray(split["text_bert"])
    if tb.ndim != 3 or tb.shape[0] != n or tb.shape[1] != 3:
        fail(f"{where}: 'text_bert' must be (N, 3, L) = ids / mask / segments with N = {n}, got {tb.shape}")
    return tb, tb[:, 1, :].astype(np.int64).sum(axis=1)


def convert_ids(split, n, where, keep_ids, split_name):
    if "id" not in split:
        return [f"{split_name}/{i}" for i in range(n)]
    raw = np.asarray(split["id"], dtype=object)
    if raw.shape[0] != n:
        fail(f"{where}: 'id' has {raw.shape[0]} rows, expected {n} (one per label)")
    ids = []
    for i in range(n):
        r = raw[i]
        if isinstance(r, np.ndarray) and r.ndim >= 1 and r.size > 1:
            parts = [as_str(p) for p in r.reshape(-1)]
            ids.append(f"{parts[0]}[{'_'.join(parts[1:])}]")
            continue
        if isinstance(r, np.ndarray):
            r = r.reshape(-1)[0] if r.size else ""
        s = as_str(r)
        if not keep_ids and "$_$" in s:
            video, seg = s.rsplit("$_$", 1)
            s = f"{video}[{seg}]"
        ids.append(s)
    return ids


def convert_labels(split, kind, n, where, label_field):
    if kind == "mmsa":
        key = "regression_labels" if label_field == "regression" else "classification_labels"
        if key not in split:
            fail(f"{where}: missing key '{key}'")
        y = np.asarray(split[key], dtype=np.float64).reshape(-1)
        if y.shape[0] != n:
            fail(f"{where}: '{key}' has {y.shape[0]} values, expected {n}")
        if not np.all(np.isfinite(y)):
            fail(f"{where}: '{key}' row {int(np.argmin(np.isfinite(y)))} is not finite; labels must be finite")
        if label_field == "regression":
            return y.astype(np.float32), "regression", []
        if not np.all(np.isin(y, [0, 1, 2])):
            fail(f"{where}: 'classification_labels' must be 0, 1 or 2 (Negative / Neutral / Positive)")
        return y.astype(np.float32), "class_index", MMSA_CLASSES
    y = np.asarray(split["labels"], dtype=np.float64)
    if y.shape[0] != n:
        fail(f"{where}: 'labels' has {y.shape[0]} rows, expected {n}")
    if not np.all(np.isfinite(y)):
        fail(f"{where}: 'labels' holds non-finite values; labels must be finite")
    if y.ndim == 3 and y.shape[2] == 2:
        k = y.shape[1]
        names = IEMOCAP_EMOTIONS if k == 4 else [f"class{j}" for j in range(k)]
        return np.argmax(y, axis=2).astype(np.float32), "multi_label", names
    if y.size == n:
        return y.reshape(n).astype(np.float32), "regression", []
    if y.ndim == 2 and np.all(np.isin(y, [0, 1])):
        k = y.shape[1]
        names = IEMOCAP_EMOTIONS if k == 4 else [f"class{j}" for j in range(k)]
        return y.astype(np.float32), "multi_label", names
    fail(f"{where}: 'labels' of shape {y.shape} is not a known layout (expected (N, 1, 1), (N,), (N, K, 2) "
         f"or (N, K) of 0/1)")


def convert_split(split, split_name, kind, aligned, args, where, report):
    if not isinstance(split, dict):
        fail(f"{where}: expected a dict of arrays, got {type(split).__name__}")
    keys = args.modalities
    feats = {k: features_of(split, k, f"{where}") for k in keys}
    n = next(iter(feats.values())).shape[0]
    if n == 0:
        fail(f"{where}: no utterances (0 rows in '{keys[0]}'); every split needs at least one")
    for k, x in feats.items():
        if x.shape[0] != n:
            fail(f"{where}: '{k}' has {x.shape[0]} rows but '{keys[0]}' has {n}")
    left = kind == "mult"
    has_bert = "text_bert" in split
    tb = None
    if has_bert:
        tb, text_len = bert_lengths(split, n, where)

    lengths = {}
    if aligned:
        t = feats[keys[0]].shape[1]
        for k, x in feats.items():
            if x.shape[1] != t:
                fail(f"{where}: aligned file but '{k}' has T = {x.shape[1]} and '{keys[0]}' has T = {t}")
        if has_bert and not left:
            common = text_len
        else:
            stacked = np.concatenate([np.nan_to_num(x, nan=1.0, posinf=1.0, neginf=1.0) for x in feats.values()], axis=2)
            common = lengths_from_padding(stacked, left)
        common = np.clip(common, 1, t)
        for k in keys:
            lengths[k] = common
    else:
        for k, x in feats.items():
            if kind == "mmsa" and k in ("audio", "vision") and f"{k}_lengths" in split:
                ln = np.asarray(split[f"{k}_lengths"], dtype=np.int64).reshape(-1)
                if ln.shape[0] != n:
                    fail(f"{where}: '{k}_lengths' has {ln.shape[0]} values, expected {n}")
                bad = (ln < 0) | (ln > x.shape[1])
                if bad.any():
                    i = int(np.argmax(bad))
                    fail(f"{where}: '{k}_lengths'[{i}] = {ln[i]} is outside [0, {x.shape[1]}]")
                lengths[k] = ln
            elif k == "text" and has_bert and not left:
                lengths[k] = np.clip(text_len, 0, x.shape[1])
            else:
                lengths[k] = lengths_from_padding(np.nan_to_num(x, nan=1.0, posinf=1.0, neginf=1.0), left)

    out = {}
    for k, x in feats.items():
        if left:
            x = to_right_padding(x, lengths[k])
        out[OUR_NAME.get(k, k)] = (clean(x, lengths[k], where, k, report), lengths[k])
    if args.keep_text_bert:
        if tb is None:
            fail(f"{where}: --keep-text-bert but the split has no 'text_bert'")
        x = np.transpose(tb, (0, 2, 1)).astype(np.float32)  # [N, L, 3]
        ln = lengths[keys[0]] if aligned else np.clip(text_len, 0, x.shape[1])
        if aligned and x.shape[1] != feats[keys[0]].shape[1]:
            fail(f"{where}: aligned file but 'text_bert' has {x.shape[1]} steps and '{keys[0]}' has "
                 f"{feats[keys[0]].shape[1]}")
        out["text_bert"] = (clean(x, ln, where, "text_bert", report), ln)

    labels, label_kind, label_names = convert_labels(split, kind, n, where, args.label_field)
    ids = convert_ids(split, n, where, args.keep_ids, split_name)
    raw_text = None
    if "raw_text" in split:
        rt = np.asarray(split["raw_text"], dtype=object).reshape(-1)
        if rt.shape[0] != n:
            fail(f"{where}: 'raw_text' has {rt.shape[0]} entries, expected {n}")
        raw_text = [as_str(s) for s in rt]
    return {"features": out, "labels": labels, "label_kind": label_kind, "label_names": label_names,
            "ids": ids, "raw_text": raw_text}


def write(path, splits, aligned, source, compression):
    str_t = h5py.string_dtype(encoding="utf-8")
    first = splits["train"]
    modalities = list(first["features"].keys())
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT_NAME
            f.attrs["format_version"] = np.int64(FORMAT_VERSION)
            f.attrs["aligned"] = np.int64(1 if aligned else 0)
            f.attrs["label_kind"] = first["label_kind"]
            if first["label_names"]:
                f.attrs.create("label_names", np.array(first["label_names"], dtype=object), dtype=str_t)
            f.attrs.create("modalities", np.array(modalities, dtype=object), dtype=str_t)
            f.attrs["source"] = source
            for name in SPLITS:
                s = splits[name]
                g = f.create_group(name)
                g.create_dataset("ids", data=np.array(s["ids"], dtype=object), dtype=str_t)
                g.create_dataset("labels", data=s["labels"].astype(np.float32))
                if s["raw_text"] is not None:
                    g.create_dataset("raw_text", data=np.array(s["raw_text"], dtype=object), dtype=str_t)
                mg = g.create_group("modalities")
                for m in modalities:
                    x, ln = s["features"][m]
                    sub = mg.create_group(m)
                    kw = {"compression": "gzip", "compression_opts": compression} if compression > 0 else {}
                    sub.create_dataset("features", data=x.astype(np.float32), **kw)
                    sub.create_dataset("lengths", data=ln.astype(np.int64))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def convert(pkl_path, out_path, args):
    report = Report()
    try:
        with open(pkl_path, "rb") as fh:
            data = pickle.load(fh, encoding="latin1")
    except FileNotFoundError:
        fail(f"file '{pkl_path}': not found")
    except Exception as e:  # a truncated or foreign file
        fail(f"file '{pkl_path}': not a readable pickle ({type(e).__name__}: {e})")
    if not isinstance(data, dict):
        fail(f"file '{pkl_path}': expected a dict with keys train / valid / test, got {type(data).__name__}")
    for s in SPLITS:
        if s not in data:
            fail(f"file '{pkl_path}': missing split '{s}' (keys: {sorted(map(str, data.keys()))})")
    kind = detect_kind(data, f"file '{pkl_path}'")
    if args.modalities is None:
        args.modalities = ["text", "audio", "vision"]
    if args.aligned is None:
        base = os.path.basename(pkl_path)
        aligned = not ("unaligned" in base or "noalign" in base)
        if kind == "mmsa" and "audio_lengths" in data["train"] and "unaligned" not in base and "aligned" not in base:
            aligned = False
    else:
        aligned = args.aligned == "yes"
    splits = {}
    for s in SPLITS:
        splits[s] = convert_split(data[s], s, kind, aligned, args, f"file '{pkl_path}': split '{s}'", report)
    t = splits["train"]
    for s in SPLITS[1:]:
        if splits[s]["label_kind"] != t["label_kind"] or splits[s]["label_names"] != t["label_names"]:
            fail(f"file '{pkl_path}': split '{s}' has other labels than 'train'")
        for m, (x, _) in splits[s]["features"].items():
            if x.shape[2] != t["features"][m][0].shape[2]:
                fail(f"file '{pkl_path}': split '{s}' modality '{m}' has D = {x.shape[2]} but 'train' has "
                     f"D = {t['features'][m][0].shape[2]}")
    source = (f"tools/convert_mmsa.py: {kind.upper()} pickle '{os.path.basename(pkl_path)}', "
              f"{'aligned' if aligned else 'unaligned'}, labels {t['label_kind']}")
    write(out_path, splits, aligned, source, args.compression)
    return splits, report, kind, aligned


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("pickle", help="MMSA aligned_50.pkl / unaligned_50.pkl or MulT *_data.pkl / *_noalign.pkl")
    p.add_argument("out", help="output .h5 (written atomically)")
    p.add_argument("--modalities", type=lambda s: s.split(","), default=None,
                   help="pickle keys to keep, in order (default text,audio,vision)")
    p.add_argument("--aligned", choices=["yes", "no"], default=None,
                   help="override the guess from the file name ('unaligned' / 'noalign' = unaligned)")
    p.add_argument("--label-field", choices=["regression", "classification"], default="regression",
                   help="MMSA only: regression_labels (default) or classification_labels (3 classes)")
    p.add_argument("--keep-text-bert", action="store_true",
                   help="MMSA only: also store text_bert as a modality 'text_bert' [N, L, 3]")
    p.add_argument("--keep-ids", action="store_true", help="keep MMSA ids as they are (no video[segment])")
    p.add_argument("--compression", type=int, default=4, help="gzip level of the features, 0 = none")
    args = p.parse_args(argv)
    try:
        splits, report, kind, aligned = convert(args.pickle, args.out, args)
    except ConvertError as e:
        print(f"convert_mmsa.py: {e}", file=sys.stderr)
        return 1
    if report.lines:
        print(report.summary())
    print(f"{kind.upper()} pickle, {'aligned' if aligned else 'unaligned'}, labels {splits['train']['label_kind']}")
    for s in SPLITS:
        dims = ", ".join(f"{m} [{x.shape[1]}, {x.shape[2]}]" for m, (x, _) in splits[s]["features"].items())
        print(f"{s:5s} {len(splits[s]['ids']):6d} utterances  {dims}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
