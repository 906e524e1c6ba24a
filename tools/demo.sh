#!/usr/bin/env bash
# tools/demo.sh: install what is missing, build, and run the main job: the late-fusion
# baseline on the embedded synthetic multimodal sentiment data, fused against each single
# modality (CPU; results in build-demo/late_fusion_results.json). Extra arguments go to
# the example (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."
export BUILD_DIR=${BUILD_DIR:-build-demo}
export FUSEGRAD_CUDA=${FUSEGRAD_CUDA:-OFF}
export TARGETS=${TARGETS:-late_fusion}
EXTRA_CMAKE_ARGS="-DFUSEGRAD_TESTS=OFF -DFUSEGRAD_BENCH=OFF" bash tools/setup.sh --demo
"$BUILD_DIR"/late_fusion --compare --out "$BUILD_DIR"/late_fusion_results.json "$@"
