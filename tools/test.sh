#!/usr/bin/env bash
# tools/test.sh: install what is missing, build, and run every test (ctest).
# GPU tests print "SKIPPED: no CUDA device" and count as skipped on machines without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
cd "$BUILD_DIR"
ctest --output-on-failure -j "${JOBS:-$(nproc)}" --timeout 900
