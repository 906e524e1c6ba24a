#!/usr/bin/env bash
# tests/scripts/hf_bert_check_default.sh PYTHON SOURCE_DIR: tools/hf_bert_check.py finds
# <repo>/build/bert_check by default whatever the current folder, and says how to build it
# when it is missing. Runs a copy of the script in a scratch repository layout, from another
# folder: first without build/bert_check (must fail naming that path and the build command),
# then with a stand-in driver there (must run it: the stand-in records its arguments).
set -u
PY=$1
SRC=$2
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
mkdir -p "$d/repo/tools" "$d/repo/tests/reference" "$d/elsewhere"
cp "$SRC/tools/hf_bert_check.py" "$d/repo/tools/"
cp "$SRC"/tests/reference/*.py "$d/repo/tests/reference/"
cd "$d/elsewhere"
out=$("$PY" "$d/repo/tools/hf_bert_check.py" --replica --out "$d/out" 2>&1)
rc=$?
echo "$out"
if [[ $rc -eq 0 ]] || ! grep -q "$d/repo/build/bert_check is not built" <<<"$out" ||
  ! grep -q "cmake --build build --target bert_check" <<<"$out"; then
  echo "FAIL: without build/bert_check the script must stop with a message naming it (rc $rc)"
  exit 1
fi
mkdir -p "$d/repo/build"
printf '#!/bin/sh\necho "$@" > "%s/ran"\n' "$d" >"$d/repo/build/bert_check"
chmod +x "$d/repo/build/bert_check"
"$PY" "$d/repo/tools/hf_bert_check.py" --replica --out "$d/out" || {
  echo "FAIL: with a stand-in build/bert_check the script failed"
  exit 1
}
grep -q -- "--model $d/out/model" "$d/ran" || {
  echo "FAIL: the stand-in build/bert_check was not run with the model folder"
  exit 1
}
echo "OK: build/bert_check found from $(pwd)"
