#!/usr/bin/env bash
# tests/scripts/python_tools_need_numpy.sh PYTHON SOURCE_DIR: every tools/*.py that imports
# numpy, run by an interpreter that cannot import it (PYTHON -S: no site-packages, as with a
# pyenv python3 without numpy), stops with exit status 1 and a message that names the
# interpreter, numpy and Debian's /usr/bin/python3, instead of a traceback.
set -u
PY=$1
SRC=$2
fails=0 n=0
for f in "$SRC"/tools/*.py; do
  grep -qE '^\s*import numpy' "$f" || continue
  n=$((n + 1))
  out=$("$PY" -S "$f" --help 2>&1)
  rc=$?
  if [[ $rc -ne 1 ]] || ! grep -q "cannot import numpy" <<<"$out" || ! grep -q "/usr/bin/python3" <<<"$out" ||
    grep -q "Traceback" <<<"$out"; then
    echo "FAIL: $(basename "$f") without numpy: exit $rc, output: $out"
    fails=$((fails + 1))
  else
    echo "ok: $(basename "$f"): $out"
  fi
done
[[ $n -gt 0 ]] || { echo "FAIL: no tools/*.py imports numpy (the test looks for '^import numpy')"; exit 1; }
exit $((fails > 0))
