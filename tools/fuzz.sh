#!/usr/bin/env bash
# tools/fuzz.sh: build the libFuzzer targets of the data readers with clang and run each for a
# bounded time, then print executions, coverage, corpus size and crashes per fuzzer.
#
#   bash tools/fuzz.sh             # 60 s per fuzzer
#   bash tools/fuzz.sh 600         # 10 minutes per fuzzer
#   bash tools/fuzz.sh --smoke 5   # the ctest: fixed seed, 5 s each, plus the regression inputs
#   bash tools/fuzz.sh --build-only
#
# Fuzzers (fuzz/): fuzz_h5_dataset (fusegrad's dataset reader, data/h5_dataset.h) and fuzz_csd
# (the .csd reader and the word-averaging arithmetic, data/csd.h). Inputs are HDF5 file images
# opened from memory. Seeds are valid files written by fuzz_seeds; the corpus grows in
# $FUZZ_BUILD_DIR/fuzz/corpus/<fuzzer> and is kept between runs. Crashing inputs land in
# $FUZZ_BUILD_DIR/fuzz/artifacts/; once fixed, copy them to fuzz/regressions/<fuzzer>/ so every
# smoke run replays them.
#
# Two ways to build:
#   full (default): a separate clang CMake build in $FUZZ_BUILD_DIR with FUSEGRAD_FUZZ=ON and
#                   FUSEGRAD_SANITIZE=ON (the engine too is built with ASan/UBSan; minutes).
#   quick:          FUZZ_ENGINE_LIB=<a built libfusegrad.a> (gcc or clang) and FUZZ_LINK_LIBS=
#                   "<its link libraries>": only the harnesses and the reader sources are compiled
#                   with clang (seconds). The ctest fuzz_smoke (tests/CMakeLists.txt) uses this.
#
# Environment: FUZZ_BUILD_DIR (default build-fuzz), JOBS (default 2), FUZZ_RSS_MB (default 2048),
# FUZZ_ENGINE_LIB, FUZZ_LINK_LIBS (quick build), FUZZ_CLANGXX (default clang++).
# Exit status: 0 when no fuzzer crashed, 1 otherwise; prints "SKIPPED: no clang ..." and exits 0
# when clang++ or its libFuzzer runtime is missing (ctest reports that as skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

MODE=run
SECONDS_EACH=60
while (($#)); do
  case "$1" in
    --smoke) MODE=smoke; SECONDS_EACH=5
             if [[ "${2:-}" =~ ^[0-9]+$ ]]; then SECONDS_EACH=$2; shift; fi ;;
    --build-only) MODE=build ;;
    [0-9]*) SECONDS_EACH=$1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "fuzz.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
JOBS=${JOBS:-2}
FUZZERS=(fuzz_h5_dataset fuzz_csd)

CLANGXX=${FUZZ_CLANGXX:-clang++}
if ! command -v "$CLANGXX" >/dev/null 2>&1; then
  echo "SKIPPED: no clang (apt-get install clang) - the fuzzers need clang's libFuzzer"
  exit 0
fi
probe=$(mktemp -d)
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' >"$probe/p.cpp"
if ! "$CLANGXX" -fsanitize=fuzzer,address "$probe/p.cpp" -o "$probe/p" >/dev/null 2>&1; then
  rm -rf "$probe"
  echo "SKIPPED: no clang libFuzzer runtime (clang++ -fsanitize=fuzzer does not link; apt-get install libclang-rt-dev or clang's full package)"
  exit 0
fi
rm -rf "$probe"

# ---- build
start=$(date +%s)
FZ="$BUILD/fuzz"
if [ -n "${FUZZ_ENGINE_LIB:-}" ]; then
  # quick: harness + reader sources with clang, linked to an engine library built elsewhere
  mkdir -p "$FZ/obj"
  HDF5_CFLAGS=$(pkg-config --cflags hdf5 2>/dev/null || echo "-I/usr/include/hdf5/serial")
  READERS=(data/csd.cpp data/dataset.cpp data/h5_dataset.cpp data/h5_util.cpp data/report.cpp)
  FLAGS=(-std=c++20 -O1 -g -fno-omit-frame-pointer -I"$ROOT" -I"$ROOT/tests" $HDF5_CFLAGS)
  SAN=(-fsanitize=address,undefined -fno-sanitize-recover=undefined)
  objs=()
  running=0
  for src in "${READERS[@]}"; do  # compiled with fuzzer coverage, again when a source or header is newer
    o="$FZ/obj/$(basename "$src" .cpp).o"
    if [ ! -f "$o" ] || [ "$ROOT/$src" -nt "$o" ] ||
       [ -n "$(find "$ROOT/data" "$ROOT/engine" -name '*.h' -newer "$o" | head -1)" ]; then
      if ((running >= JOBS)); then wait -n; running=$((running - 1)); fi
      running=$((running + 1))
      rm -f "$o"  # a failed compile leaves no stale object behind: the link below then fails
      "$CLANGXX" "${FLAGS[@]}" "${SAN[@]}" -fsanitize=fuzzer-no-link -c "$ROOT/$src" -o "$o" &
    fi
    objs+=("$o")
  done
  wait
  # shellcheck disable=SC2086
  for f in "${FUZZERS[@]}"; do
    "$CLANGXX" "${FLAGS[@]}" "${SAN[@]}" -fsanitize=fuzzer "$ROOT/fuzz/$f.cpp" "${objs[@]}" "$FUZZ_ENGINE_LIB" \
      ${FUZZ_LINK_LIBS:-} -o "$FZ/$f"
  done
  # shellcheck disable=SC2086
  "$CLANGXX" "${FLAGS[@]}" "${SAN[@]}" "$ROOT/fuzz/fuzz_seeds.cpp" "${objs[@]}" "$FUZZ_ENGINE_LIB" ${FUZZ_LINK_LIBS:-} \
    -fsanitize=fuzzer-no-link -o "$FZ/fuzz_seeds"
else
  # full: a separate clang CMake build (engine with ASan/UBSan, fuzz targets with libFuzzer)
  if [ ! -f "$BUILD/build.ninja" ]; then
    echo "fuzz.sh: configuring $BUILD with clang"
    mkdir -p "$BUILD"
    CC="${CLANGXX%++}" CXX="$CLANGXX" cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DFUSEGRAD_CUDA=OFF -DFUSEGRAD_SANITIZE=ON -DFUSEGRAD_FUZZ=ON \
      -DFUSEGRAD_TESTS=OFF -DFUSEGRAD_BENCH=OFF -DFUSEGRAD_EXAMPLES=OFF >"$BUILD/configure.log" 2>&1 ||
      { cat "$BUILD/configure.log"; exit 1; }
  fi
  ninja -C "$BUILD" -j "$JOBS" "${FUZZERS[@]}" fuzz_seeds >"$BUILD/fuzz-build.log" 2>&1 ||
    { tail -40 "$BUILD/fuzz-build.log"; exit 1; }
fi
echo "fuzz.sh: fuzzers built in $(( $(date +%s) - start )) s ($FZ)"
[ "$MODE" = build ] && exit 0

# ---- seeds and folders
mkdir -p "$FZ/seeds" "$FZ/artifacts"
"$FZ/fuzz_seeds" "$FZ/seeds"
# Inputs found by earlier runs that crashed before a fix: replayed on every run.
declare -A SEED_DIR=([fuzz_h5_dataset]=h5_dataset [fuzz_csd]=csd)

export LSAN_OPTIONS="suppressions=$ROOT/fuzz/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

# Where a failing input fails: replays it alone and prints
#   libhdf5   the first frame that is not the sanitizer / libFuzzer runtime, libc or libstdc++
#             lies in libhdf5 (a bug of the library, which we cannot fix: docs/data-format.md)
#   ours      anywhere else (a bug to fix), or a sanitizer report from our code
#   flaky     it does not fail when run alone (it depended on the fuzzer's earlier inputs)
# An input that went over the RSS limit is replayed with a lower per-allocation limit, so the
# report shows the stack of the large allocation rather than the fuzzer's own buffers.
classify() {
  local fuzzer=$1 input=$2 out
  out=$("$fuzzer" -timeout=20 -rss_limit_mb="${FUZZ_RSS_MB:-2048}" "$input" 2>&1) && { echo flaky; return; }
  if grep -q 'out-of-memory (used:' <<<"$out"; then
    out=$("$fuzzer" -timeout=20 -rss_limit_mb=8192 -malloc_limit_mb=256 "$input" 2>&1) && { echo flaky; return; }
  fi
  awk '/^ *#[0-9]+ 0x/ {
         line = $0
         if (line ~ /(__sanitizer|__asan|__lsan|__ubsan|fuzzer::|__interceptor|LLVMFuzzer|_start|__libc_start)/) next
         if (line ~ / in (malloc|calloc|realloc|free|operator new|operator delete)/) next
         if (line ~ /(libc\.so|libstdc\+\+\.so|libgcc_s\.so|libm\.so|sysdeps\/|csu\/|nptl\/)/) next
         if (line ~ /libhdf5/) { print "libhdf5"; found = 1; exit }
         print "ours"; found = 1; exit
       }
       /runtime error:/ { print "ours"; found = 1; exit }
       END { if (!found) print "ours" }' <<<"$out"
}

# Allocations larger than the sanitizer allows (a damaged size field asking for terabytes)
# return NULL, as malloc does without the sanitizer, instead of ending the run.
export ASAN_OPTIONS="allocator_may_return_null=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
status=0
summary=()
for f in "${FUZZERS[@]}"; do
  corpus="$FZ/corpus/$f"
  if [ "$MODE" = smoke ]; then corpus="$FZ/smoke-corpus/$f"; rm -rf "$corpus"; fi
  mkdir -p "$corpus"
  regress="$ROOT/fuzz/regressions/$f"
  log="$FZ/$f.log"
  # 1. inputs that once crashed and were fixed: each must now run clean
  if [ -d "$regress" ] && [ -n "$(ls -A "$regress" 2>/dev/null)" ]; then
    if ! "$FZ/$f" -timeout=20 -rss_limit_mb="${FUZZ_RSS_MB:-2048}" "$regress"/* >"$FZ/$f.regress.log" 2>&1; then
      echo "fuzz.sh: $f FAILS on a regression input of fuzz/regressions/$f (log $FZ/$f.regress.log):"
      grep -E 'ERROR|SUMMARY|Running' "$FZ/$f.regress.log" | tail -5
      status=1
    fi
  fi
  # 2. the bounded run, in fork mode so that one crash does not end it: every crashing input is
  #    kept in artifacts/ and classified afterwards
  art="$FZ/artifacts/$f"
  rm -rf "$art"
  mkdir -p "$art"
  args=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 -max_total_time="$SECONDS_EACH"
        -timeout=20 -rss_limit_mb="${FUZZ_RSS_MB:-2048}" -max_len=65536 -artifact_prefix="$art/")
  [ "$MODE" = smoke ] && args+=(-seed=1)
  set +e
  "$FZ/$f" "${args[@]}" "$corpus" "$FZ/seeds/${SEED_DIR[$f]}" >"$log" 2>&1
  rc=$?
  set -e
  stats=$(grep -E '^#[0-9]+: cov:' "$log" | tail -1)
  execs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$stats")
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' <<<"$stats")
  corp=$(find "$corpus" -type f | wc -l)
  ours=0
  lib=0
  flaky=0
  kinds=""
  for a in "$art"/*; do
    [ -f "$a" ] || continue
    case "$(classify "$FZ/$f" "$a")" in
      libhdf5) lib=$((lib + 1)) ;;
      flaky) flaky=$((flaky + 1)) ;;
      *)
        ours=$((ours + 1))
        echo "fuzz.sh: $f: input $a fails in OUR code:"
        "$FZ/$f" -timeout=20 "$a" 2>&1 | grep -E 'ERROR|SUMMARY|runtime error| #[0-9] ' | head -12
        ;;
    esac
    kinds+="$(basename "$a" | cut -d- -f1) "
  done
  kinds=$(tr ' ' '\n' <<<"$kinds" | { grep -v '^$' || true; } | sort | uniq -c | awk '{printf "%s %s, ", $1, $2}' | sed 's/, $//')
  line=$(printf '%-16s %5ss  execs %-8s %-20s corpus %-5s failing inputs: ours %s, inside libhdf5 %s, not reproducible alone %s%s' \
         "$f" "$SECONDS_EACH" "${execs:-?}" "${cov:-cov: ?}" "$corp" "$ours" "$lib" "$flaky" "${kinds:+ ($kinds)}")
  summary+=("$line")
  if [ "$ours" != 0 ] || { [ "$rc" != 0 ] && [ -z "$stats" ]; }; then status=1; fi
done
echo "fuzz.sh: results ($MODE, $("$CLANGXX" --version | head -1); artifacts in $FZ/artifacts)"
printf '  %s\n' "${summary[@]}"
exit $status
