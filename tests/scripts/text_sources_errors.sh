#!/usr/bin/env bash
# ctest text_sources_errors: tools/text_sources.sh names the package when one is missing,
# unreachable or not the pinned one. Runs the script against stub apt-get / npm programs on a
# PATH of its own, in a temporary FUSEGRAD_DATA; nothing is downloaded.
set -uo pipefail
SRC=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/bin" "$T/stubs"
[ -x /usr/bin/python3 ] && ln -s /usr/bin/python3 "$T/bin/python3"  # not a pyenv shim: env -i empties its settings
for p in bash sh cat grep sed mkdir mktemp rm cp mv ls head tail tr awk wc dirname id sha256sum cut chmod env date; do
  [ -e "$T/bin/$p" ] || { q=$(command -v "$p") && ln -s "$q" "$T/bin/$p"; }
done
fails=0
expect() {  # name, expected text, then the command's environment
  local name=$1 want=$2; shift 2
  out=$(env -i HOME="$T" "$@" bash "$SRC/tools/text_sources.sh" 2>&1); rc=$?
  if [ $rc -ne 0 ] && grep -qF -- "$want" <<<"$out"; then
    echo "ok: $name"
  else
    echo "FAIL: $name (rc $rc): expected an error containing '$want', got:"; echo "$out" | tail -3; fails=1
  fi
}
# 1. apt-get cannot fetch python3-pattern
printf '#!/bin/sh\necho "E: Unable to locate package $2" >&2\nexit 100\n' >"$T/stubs/apt-get"
printf '#!/bin/sh\nexit 0\n' >"$T/stubs/dpkg"
chmod +x "$T/stubs/"*
expect "apt-get download fails" "could not download the Debian package python3-pattern" \
  PATH="$T/stubs:$T/bin" FUSEGRAD_DATA="$T/d1"
# 2-4: the Pang & Lee files already there; npm missing, failing, or with another tarball
mkdir -p "$T/d2/text-sources"
for f in pang_lee_sentences.csv pang_lee_reviews.csv pang_lee_reviews.txt; do echo '"1","x"' >"$T/d2/text-sources/$f"; done
expect "npm missing" "npm is missing" PATH="$T/stubs:$T/bin" FUSEGRAD_DATA="$T/d2"
printf '#!/bin/sh\necho "npm ERR! network request failed" >&2\nexit 1\n' >"$T/stubs/npm"
chmod +x "$T/stubs/npm"
expect "npm unreachable" "npm could not install vader-sentiment@" PATH="$T/stubs:$T/bin" FUSEGRAD_DATA="$T/d2"
cat >"$T/stubs/npm" <<'STUB'
#!/bin/sh
[ "$1" = config ] && { echo https://registry.example; exit 0; }
prefix=$3
mkdir -p "$prefix/node_modules/vader-sentiment"
echo '{"packages": {"node_modules/vader-sentiment": {"integrity": "sha512-AAAA"}}}' >"$prefix/node_modules/.package-lock.json"
exit 0
STUB
chmod +x "$T/stubs/npm"
expect "npm tarball not the pinned one" "has integrity 'sha512-AAAA', expected the pinned" \
  PATH="$T/stubs:$T/bin" FUSEGRAD_DATA="$T/d2"
exit $fails
