#!/usr/bin/env bash
# tools/gpu-check.sh: the whole GPU check in one command, for a machine with an NVIDIA GPU,
# the CUDA toolkit and PyTorch (e.g. a lent H100). Needs no network.
#
#   bash tools/gpu-check.sh            (from anywhere; it works in its own repository)
#
# Steps (each logged in full; a short summary table is printed last):
#   build     configure $BUILD_DIR with CUDA for sm_$CUDA_ARCH and build everything
#             (always runs; a no-op when the build is up to date)
#   kernels   per kernel: registers, local memory (spills), static and dynamic shared
#             memory and resident blocks per SM (bench/cuda_kernel_report, from
#             cudaFuncGetAttributes + the occupancy calculator, at representative shapes;
#             fails when a shape cannot launch), then cuobjdump's resource usage of every
#             kernel in libfusegrad.a (kernels that use local memory listed)
#   tests     ctest: the whole suite, GPU tests included, with FG_CUDA_LAUNCH_BLOCKING=1
#             (an error inside a kernel is reported at the launch that caused it). A GPU
#             test reported as skipped ("SKIPPED: no CUDA device") fails this step: on a GPU
#             machine it means the GPU was not used. Tests skipped for other reasons (no
#             clang, not enough GPU memory, ...) are only counted.
#   sanitize  compute-sanitizer: memcheck over the CUDA parity suites (test_cuda_parity*),
#             the raw-kernel and the runtime tests; racecheck, synccheck and initcheck over
#             the kernels with shared memory and barriers: the persistent LSTM (H 33 and 128,
#             every rows-per-block setting), flash attention (S 65 and 130), layer-norm
#             backward and the MFN gated memory
#   repeat    bitwise repeat: the "bitwise repeat" test cases run each computation twice and
#             compare bits (persistent LSTM, flash backward, split reductions, layer-norm
#             backward, two-stage column sums)
#   bench     every Google Benchmark program built in $BUILD_DIR/bench (bench_*, so new
#             ones are picked up), JSON per program with $BENCH_REPS repetitions (each
#             repetition and the mean/median/stddev aggregates; the console shows the
#             aggregates)
#   torch     every bench/torch/bench_<x>.py, given --ours with the JSON of the program
#             bench_cuda_<x> or bench_<x> when one ran (bench_core.py reads bench_cuda_core's),
#             else run without arguments; each prints an ours/PyTorch ratio table
#   hfbert    tools/hf_bert_check.py: a random-weight transformers BertModel against our
#             encoder (bert_check), outputs and parameter gradients, CPU float64 and CUDA
# Exit status 0 only when every selected step passed.
#
# Environment:
#   STEPS        steps after the build, comma-separated (default
#                kernels,tests,sanitize,repeat,bench,torch,hfbert; hfbert =
#                tools/hf_bert_check.py against transformers, issue 4 item 5). The whole run
#                is planned for under 9 minutes on one H100/H200 (16 cores); with the device
#                tool (10 minutes a command) a first call can run STEPS=kernels,tests and a
#                second STEPS=sanitize,repeat,bench,torch,hfbert: the build folder is kept
#                between calls while the machine stays warm, and rebuilt otherwise.
#   BUILD_DIR    build folder (default build-gpu); CUDA_ARCH (default 90); JOBS (default nproc)
#   PYTHON       interpreter with PyTorch (default python3)
#   BENCH_REPS   Google Benchmark repetitions per case (default 3; the median is reported)
#   BENCH_MIN_TIME  seconds per repetition (default 0.1)
#   OUT          when set (the device tool's output folder), the logs go there, at most
#                8 files: summary.txt, build.log, kernels.log (resources + bitwise repeat),
#                ctest.log, sanitize.log, bench.log, torch.log (PyTorch tables + the HF BERT
#                check) and bench-results.tar.gz (every program's JSON). Otherwise they go
#                to $BUILD_DIR/logs.
#   FG_DEPS_PREFIX  a folder of Debian packages unpacked with tools/gpu-deps.sh for the
#                libraries this machine lacks; when unset and .gpu-deps/ holds .deb files
#                (tools/gpu-deps.sh download), they are unpacked into $BUILD_DIR/deps.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
ROOT=$(pwd)
BUILD_DIR=${BUILD_DIR:-build-gpu}
[[ $BUILD_DIR == /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
CUDA_ARCH=${CUDA_ARCH:-90}
JOBS=${JOBS:-$(nproc)}
PYTHON=${PYTHON:-python3}
STEPS=${STEPS:-kernels,tests,sanitize,repeat,bench,torch,hfbert}
BENCH_REPS=${BENCH_REPS:-3}
BENCH_MIN_TIME=${BENCH_MIN_TIME:-0.1}
LOG_DIR=${OUT:-$BUILD_DIR/logs}
mkdir -p "$LOG_DIR" "$BUILD_DIR"
START=$(date +%s)

declare -a STEP_NAMES=() STEP_RESULTS=() STEP_DETAILS=()
record() {  # name result detail
  STEP_NAMES+=("$1")
  STEP_RESULTS+=("$2")
  STEP_DETAILS+=("$3")
  echo "gpu-check: $1: $2: $3"
}
want() { [[ ,$STEPS, == *,$1,* ]]; }
elapsed() { echo "$(($(date +%s) - $1)) s"; }

summary() {
  local status=0 extra
  {
    for extra in "$LOG_DIR"/torch.log; do
      [[ -s $extra ]] && { echo; grep -E -A200 '^fusegrad .*vs PyTorch' "$extra"; }
    done
    echo
    echo "================ fusegrad GPU check ($(date -u +%Y-%m-%d), $(elapsed "$START")) ================"
    printf '%-9s %-6s %s\n' "step" "result" "detail"
    printf '%-9s %-6s %s\n' "----" "------" "------"
    for i in "${!STEP_NAMES[@]}"; do
      printf '%-9s %-6s %s\n' "${STEP_NAMES[$i]}" "${STEP_RESULTS[$i]}" "${STEP_DETAILS[$i]}"
      [[ ${STEP_RESULTS[$i]} == FAIL ]] && status=1
    done
    echo "logs: $LOG_DIR"
  } | tee "$LOG_DIR/summary.txt"
  exit $status
}

# ---------------------------------------------------------------- preflight
GPU_NAME=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)
if [[ -z $GPU_NAME ]]; then
  record preflight FAIL "nvidia-smi sees no GPU: run this on a machine with an NVIDIA GPU"
  summary
fi
if ! command -v nvcc >/dev/null 2>&1 && [[ -x /usr/local/cuda/bin/nvcc ]]; then export PATH=/usr/local/cuda/bin:$PATH; fi
missing=""
for tool in cmake ninja nvcc g++; do command -v "$tool" >/dev/null 2>&1 || missing+=" $tool"; done
if [[ -n $missing ]]; then
  record preflight FAIL "missing tools:$missing"
  summary
fi

: >"$LOG_DIR/build.log"
# Libraries from unpacked Debian packages (tools/gpu-deps.sh), when this machine lacks them.
EXTRA_CMAKE=()
RUN_LIBS=""
if [[ -z ${FG_DEPS_PREFIX:-} ]] && compgen -G "$ROOT/.gpu-deps/*.deb" >/dev/null; then
  if [[ ! -f $BUILD_DIR/deps/.unpacked ]]; then
    bash "$ROOT/tools/gpu-deps.sh" unpack "$ROOT/.gpu-deps" "$BUILD_DIR/deps" >"$LOG_DIR/build.log" 2>&1 &&
      touch "$BUILD_DIR/deps/.unpacked" || {
      record preflight FAIL "unpacking .gpu-deps failed (build.log)"
      summary
    }
  fi
  FG_DEPS_PREFIX=$BUILD_DIR/deps
fi
if [[ -n ${FG_DEPS_PREFIX:-} ]]; then
  P=$(cd "$FG_DEPS_PREFIX" && pwd)
  LIBS="$P/usr/lib/x86_64-linux-gnu:$P/usr/lib/x86_64-linux-gnu/openblas-pthread:$P/usr/lib/x86_64-linux-gnu/hdf5/serial"
  RUN_LIBS=$LIBS
  export PKG_CONFIG_PATH="$P/usr/lib/x86_64-linux-gnu/pkgconfig:$P/usr/share/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  # DT_RPATH (not RUNPATH) also serves the libraries' own dependencies (HDF5 -> curl, ...),
  # so the binaries run without LD_LIBRARY_PATH
  EXTRA_CMAKE+=("-DCMAKE_PREFIX_PATH=$P/usr" "-DHDF5_C_COMPILER_EXECUTABLE=$P/usr/bin/h5cc"
                "-DCMAKE_EXE_LINKER_FLAGS=-Wl,--disable-new-dtags -Wl,-rpath,$LIBS -Wl,-rpath-link,$LIBS"
                "-DCMAKE_POLICY_VERSION_MINIMUM=3.5")  # CMake 4 reads old package config files
  if ! command -v pkg-config >/dev/null 2>&1; then
    printf '#!/bin/sh\nLD_LIBRARY_PATH=%s exec %s "$@"\n' "$LIBS" "$P/usr/bin/pkgconf" >"$BUILD_DIR/fg-pkg-config"
    chmod +x "$BUILD_DIR/fg-pkg-config"
    EXTRA_CMAKE+=("-DPKG_CONFIG_EXECUTABLE=$BUILD_DIR/fg-pkg-config")
  fi
fi
# Runs a built program with the unpacked libraries visible (belt and braces: DT_RPATH above).
run_built() {
  if [[ -n $RUN_LIBS ]]; then LD_LIBRARY_PATH="$RUN_LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$@"; else "$@"; fi
}
record preflight ok "$GPU_NAME; $(nvcc --version | grep -o 'release [0-9.]*'); $JOBS jobs${FG_DEPS_PREFIX:+; deps from $FG_DEPS_PREFIX}"

# ---------------------------------------------------------------- build
t0=$(date +%s)
if cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFUSEGRAD_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES="$CUDA_ARCH" -DFG_TORCH_PYTHON="$(command -v "$PYTHON")" \
    ${EXTRA_CMAKE[@]+"${EXTRA_CMAKE[@]}"} >>"$LOG_DIR/build.log" 2>&1 &&
  ninja -C "$BUILD_DIR" -j "$JOBS" >>"$LOG_DIR/build.log" 2>&1; then
  warnings=$(grep -c -i "warning" "$LOG_DIR/build.log")
  record build ok "sm_$CUDA_ARCH, $(elapsed "$t0"), $warnings warning lines (build.log)"
else
  record build FAIL "$(elapsed "$t0"); $(grep -m1 -i -E 'error|not found|could not' "$LOG_DIR/build.log" | cut -c1-140)"
  summary
fi

# ---------------------------------------------------------------- kernel resources
if want kernels; then
  t0=$(date +%s)
  {
    echo "==== bench/cuda_kernel_report (cudaFuncGetAttributes + occupancy at representative shapes)"
    run_built "$BUILD_DIR/bench/cuda_kernel_report"
    echo "cuda_kernel_report exit: $?"
  } >"$LOG_DIR/kernels.log" 2>&1
  report_line=$(grep -E '^cuda_kernel_report: [0-9]+ launch shapes' "$LOG_DIR/kernels.log" | tail -1)
  OBJDUMP=$(command -v cuobjdump || true)
  [[ -z $OBJDUMP && -x /usr/local/cuda/bin/cuobjdump ]] && OBJDUMP=/usr/local/cuda/bin/cuobjdump
  local_kernels="cuobjdump not found"
  if [[ -n $OBJDUMP ]]; then
    {
      echo "==== cuobjdump --dump-resource-usage libfusegrad.a (every kernel: REG, STACK, SHARED, LOCAL)"
      "$OBJDUMP" --dump-resource-usage "$BUILD_DIR/libfusegrad.a" 2>&1 | grep -E 'Function|REG:'
    } >"$BUILD_DIR/resource-usage.txt"
    cat "$BUILD_DIR/resource-usage.txt" >>"$LOG_DIR/kernels.log"
    # kernels with a stack frame or local memory: "Function <name>:" then "REG:.. STACK:n SHARED:.. LOCAL:n"
    local_kernels=$(awk '/Function/ {name=$2} /REG:/ {for (i = 1; i <= NF; ++i) {split($i, kv, ":");
      if ((kv[1] == "LOCAL" || kv[1] == "STACK") && kv[2] + 0 > 0) {print name; break}}}' \
      "$BUILD_DIR/resource-usage.txt" | sort -u | wc -l)
    local_kernels="$local_kernels kernels use local memory (kernels.log)"
  fi
  if grep -q 'SKIPPED: no CUDA device' "$LOG_DIR/kernels.log"; then
    record kernels FAIL "cuda_kernel_report saw no CUDA device (kernels.log)"
  elif grep -q '^cuda_kernel_report exit: 0' "$LOG_DIR/kernels.log"; then
    record kernels ok "${report_line#cuda_kernel_report: }; $local_kernels, $(elapsed "$t0")"
  else
    record kernels FAIL "${report_line:-cuda_kernel_report failed} (kernels.log)"
  fi
fi

# ---------------------------------------------------------------- tests (all of them, GPU included)
if want tests; then
  t0=$(date +%s)
  (cd "$BUILD_DIR" && FG_CUDA_LAUNCH_BLOCKING=1 run_built ctest --output-on-failure -j "$JOBS" --timeout 900) \
    >"$LOG_DIR/ctest.log" 2>&1
  ctest_rc=$?
  summary_line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$LOG_DIR/ctest.log" | tail -1)
  total=$(grep -o -E 'out of [0-9]+' <<<"$summary_line" | grep -o -E '[0-9]+')
  failed=$(grep -o -E '[0-9]+ tests failed' <<<"$summary_line" | grep -o -E '^[0-9]+')
  # Skipped tests: a GPU test that skipped ("SKIPPED: no CUDA device") fails this step;
  # others (no clang, no h5py, digit cache not built...) are only counted. ctest does not
  # log a skipped test's output, so each one is run again alone (by number) to read it.
  gpu_skipped=0
  other_skipped=0
  gpu_skipped_names=""
  while read -r number; do
    if (cd "$BUILD_DIR" && run_built ctest -I "$number,$number" -V) 2>&1 | grep -q 'SKIPPED: no CUDA device'; then
      gpu_skipped=$((gpu_skipped + 1))
      gpu_skipped_names+=" #$number"
    else
      other_skipped=$((other_skipped + 1))
    fi
  done < <(sed -n '/The following tests did not run:/,/^$/p' "$LOG_DIR/ctest.log" |
           grep -o -E '^[[:space:]]*[0-9]+ - .*\(Skipped\)' | grep -o -E '^[[:space:]]*[0-9]+' | tr -d ' \t')
  gpu_cases=$(grep -c -E 'Test +#[0-9]+: test_cuda_' "$LOG_DIR/ctest.log")
  echo "gpu-check: GPU tests skipped:${gpu_skipped_names:- none}; other skipped tests: $other_skipped" >>"$LOG_DIR/ctest.log"
  if [[ $ctest_rc -eq 0 && $gpu_skipped -eq 0 && $gpu_cases -gt 0 ]]; then
    record tests ok "${total:-?} tests passed ($gpu_cases in test_cuda_*), no GPU test skipped, $other_skipped skipped for other reasons, $(elapsed "$t0")"
  else
    detail="${failed:-?} failed of ${total:-?}, $gpu_skipped GPU tests skipped, $gpu_cases in test_cuda_* (ctest.log)"
    [[ $gpu_skipped -gt 0 ]] && detail+="; a skipped GPU test on a GPU machine = the GPU was not used"
    record tests FAIL "$detail"
  fi
fi

# ---------------------------------------------------------------- compute-sanitizer
# The test cases each tool runs (doctest filters): racecheck, synccheck and initcheck
# watch the kernels with shared memory and barriers on small shapes.
declare -A TOOL_CASES=(
  [test_cuda_parity_lstm]='*bitwise repeat: the persistent LSTM*'
  [test_cuda_parity_attention]='*bitwise repeat: flash attention backward and layer_norm*'
  [test_cuda_parity_mfn]='*gated_memory_recurrence*'
)
if want sanitize; then
  t0=$(date +%s)
  SANITIZER=$(command -v compute-sanitizer || true)
  [[ -z $SANITIZER && -x /usr/local/cuda/bin/compute-sanitizer ]] && SANITIZER=/usr/local/cuda/bin/compute-sanitizer
  mapfile -t MC_TESTS < <(find "$BUILD_DIR/tests" -maxdepth 1 -type f -executable \
    \( -name 'test_cuda_parity*' -o -name test_cuda_kernels -o -name test_cuda_runtime \) | sort)
  if [[ -z $SANITIZER ]]; then
    record sanitize FAIL "compute-sanitizer not found"
  elif [[ ${#MC_TESTS[@]} -eq 0 ]]; then
    record sanitize FAIL "no test_cuda_* programs in $BUILD_DIR/tests"
  else
    : >"$LOG_DIR/sanitize.log"
    san_fail=""
    runs=0
    sanitize_run() {  # tool binary [doctest args...]
      local tool=$1 bin=$2
      shift 2
      runs=$((runs + 1))
      echo "==== $tool $(basename "$bin") $*" >>"$LOG_DIR/sanitize.log"
      run_built "$SANITIZER" --tool "$tool" --error-exitcode 99 --print-limit 50 "$bin" "$@" \
        >>"$LOG_DIR/sanitize.log" 2>&1 || san_fail+=" $tool:$(basename "$bin")"
    }
    for bin in "${MC_TESTS[@]}"; do
      # the out-of-memory case asks cudaMalloc for 16 TiB on purpose, which memcheck reports;
      # the 2^31-element case would take minutes under the tool
      sanitize_run memcheck "$bin" --test-case-exclude='*out of memory*,*near 2^31*'
    done
    for tool in racecheck synccheck initcheck; do
      for name in "${!TOOL_CASES[@]}"; do
        [[ -x $BUILD_DIR/tests/$name ]] || { san_fail+=" $tool:$name(missing)"; continue; }
        sanitize_run "$tool" "$BUILD_DIR/tests/$name" --test-case="${TOOL_CASES[$name]}"
      done
    done
    errors=$(grep -o -E 'ERROR SUMMARY: [0-9]+ error' "$LOG_DIR/sanitize.log" | grep -o -E '[0-9]+' |
      awk '{s += $1} END {print s + 0}')
    hazards=$(grep -o -E 'RACECHECK SUMMARY: [0-9]+ hazard' "$LOG_DIR/sanitize.log" | grep -o -E '[0-9]+' |
      awk '{s += $1} END {print s + 0}')
    skipped=$(grep -c 'SKIPPED: no CUDA device' "$LOG_DIR/sanitize.log")
    if [[ -z $san_fail && $errors -eq 0 && $hazards -eq 0 && $skipped -eq 0 ]]; then
      record sanitize ok "$runs runs (memcheck on ${#MC_TESTS[@]} suites; racecheck/synccheck/initcheck on LSTM, flash, layer norm, MFN): 0 errors, $(elapsed "$t0")"
    else
      record sanitize FAIL "$errors errors, $hazards race hazards, $skipped skipped cases; failed:${san_fail:- none} (sanitize.log)"
    fi
  fi
fi

# ---------------------------------------------------------------- bitwise repeat
if want repeat; then
  t0=$(date +%s)
  echo "==== bitwise repeat (each computation twice, bits compared)" >>"$LOG_DIR/kernels.log"
  rep_fail=""
  rep_cases=0
  for name in test_cuda_parity test_cuda_parity_lstm test_cuda_parity_attention test_cuda_kernels; do
    bin=$BUILD_DIR/tests/$name
    [[ -x $bin ]] || { rep_fail+=" $name(missing)"; continue; }
    out=$(run_built "$bin" --test-case='*bitwise*,*deterministic*' 2>&1)
    rc=$?
    echo "$out" >>"$LOG_DIR/kernels.log"
    n=$(grep -o -E 'test cases: +[0-9]+ \| +[0-9]+ passed' <<<"$out" | grep -o -E '[0-9]+ passed' | grep -o -E '[0-9]+')
    rep_cases=$((rep_cases + ${n:-0}))
    grep -q 'SKIPPED: no CUDA device' <<<"$out" && rep_fail+=" $name(skipped)"
    [[ $rc -eq 0 ]] || rep_fail+=" $name"
  done
  if [[ -z $rep_fail && $rep_cases -gt 0 ]]; then
    record repeat ok "$rep_cases bitwise-repeat cases passed, $(elapsed "$t0") (kernels.log)"
  else
    record repeat FAIL "failed or skipped:${rep_fail:- no cases ran} (kernels.log)"
  fi
fi

# ---------------------------------------------------------------- benchmarks
RESULTS=$BUILD_DIR/bench-results
if want bench; then
  t0=$(date +%s)
  rm -rf "$RESULTS"
  mkdir -p "$RESULTS"
  : >"$LOG_DIR/bench.log"
  mapfile -t BENCHES < <(find "$BUILD_DIR/bench" -maxdepth 1 -type f -executable -name 'bench_*' 2>/dev/null | sort)
  if [[ ${#BENCHES[@]} -eq 0 ]]; then
    record bench FAIL "no bench_* programs in $BUILD_DIR/bench (is Google Benchmark installed?)"
  else
    bad=""
    count=0
    for bin in "${BENCHES[@]}"; do
      name=$(basename "$bin")
      echo "==== $name" >>"$LOG_DIR/bench.log"
      if ! run_built timeout 600 "$bin" --benchmark_repetitions="$BENCH_REPS" --benchmark_min_time="$BENCH_MIN_TIME" \
          --benchmark_display_aggregates_only=true \
          --benchmark_out="$RESULTS/$name.json" --benchmark_out_format=json >>"$LOG_DIR/bench.log" 2>&1 ||
        grep -q '"error_occurred": true' "$RESULTS/$name.json" 2>/dev/null; then
        bad+=" $name"
      fi
      cases=$(grep -c '"aggregate_name": "median"' "$RESULTS/$name.json" 2>/dev/null)
      count=$((count + ${cases:-0}))
    done
    (cd "$RESULTS" && tar czf "$LOG_DIR/bench-results.tar.gz" ./*.json) 2>/dev/null
    if [[ -z $bad ]]; then
      record bench ok "${#BENCHES[@]} programs, $count cases, median of $BENCH_REPS, $(elapsed "$t0")"
    else
      record bench FAIL "failed or reported errors:$bad (bench.log)"
    fi
  fi
fi

# ---------------------------------------------------------------- PyTorch comparisons
if want torch; then
  t0=$(date +%s)
  : >"$LOG_DIR/torch.log"
  bad=""
  n=0
  for script in "$ROOT"/bench/torch/bench_*.py; do
    [[ -f $script ]] || continue
    n=$((n + 1))
    stem=$(basename "$script" .py)
    stem=${stem#bench_}
    args=()
    for candidate in "$RESULTS/bench_cuda_$stem.json" "$RESULTS/bench_$stem.json"; do
      if [[ -f $candidate ]]; then
        args=(--ours "$candidate")
        break
      fi
    done
    echo "==== $(basename "$script") ${args[*]-}" >>"$LOG_DIR/torch.log"
    PYTHONUNBUFFERED=1 timeout 600 "$PYTHON" "$script" ${args[@]+"${args[@]}"} >>"$LOG_DIR/torch.log" 2>&1 ||
      bad+=" $(basename "$script")"
  done
  if [[ $n -eq 0 ]]; then
    record torch FAIL "no bench/torch/bench_*.py scripts"
  elif [[ -z $bad ]]; then
    record torch ok "$n scripts, $(elapsed "$t0") (tables above; torch.log)"
  else
    record torch FAIL "failed:$bad (torch.log; did the bench step run first?)"
  fi
fi

# ---------------------------------------------------------------- Hugging Face BERT comparison
# issue 4 item 5: a random-weight transformers BertModel vs our encoder (outputs and every
# parameter gradient, float64 CPU and float32 CUDA; max relative errors in hfbert.log)
if want hfbert; then
  t0=$(date +%s)
  if ! "$PYTHON" -c "import transformers" >/dev/null 2>&1; then
    record hfbert FAIL "the transformers package is not installed for $PYTHON"
  else
    PYTHONUNBUFFERED=1 timeout 600 "$PYTHON" "$ROOT/tools/hf_bert_check.py" \
      --bert-check "$BUILD_DIR/bert_check" --cuda >"$BUILD_DIR/hfbert.log" 2>&1
    hf_rc=$?
    sed 's/^/hfbert: /' "$BUILD_DIR/hfbert.log" >>"$LOG_DIR/torch.log"  # 8 log files at most: no hfbert.log in $OUT
    if [[ $hf_rc -eq 0 ]]; then
      record hfbert ok "outputs and gradients match transformers' BertModel, $(elapsed "$t0") (torch.log, 'hfbert:' lines)"
    else
      record hfbert FAIL "mismatch or error (torch.log, 'hfbert:' lines)"
    fi
  fi
fi

summary
