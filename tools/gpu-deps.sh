#!/usr/bin/env bash
# tools/gpu-deps.sh: the Debian packages fusegrad builds with (fmt, doctest, Google Benchmark,
# HDF5, OpenBLAS, CLI11, nlohmann-json, libpng, pkg-config), for a GPU machine that lacks them and
# cannot download (e.g. the lent H100/H200 machines, whose image has the CUDA toolkit,
# CMake, ninja and PyTorch but no -dev packages).
#
#   bash tools/gpu-deps.sh download [DIR]        # here, with apt: the .deb files into DIR (.gpu-deps)
#   bash tools/gpu-deps.sh unpack DEBDIR PREFIX  # there: dpkg -x every .deb into PREFIX
#
# `download` resolves the packages' whole dependency closure with apt-get against an empty
# package database (so it also fetches what this machine already has installed), then drops
# the C library and compiler runtime, which every target system has: about 30 MB of .deb
# files. `unpack` extracts them and points the copies' pkg-config files and HDF5's h5cc
# wrapper at PREFIX instead of /usr. tools/gpu-check.sh unpacks .gpu-deps by itself when
# the folder is there, and passes PREFIX to CMake (FG_DEPS_PREFIX). .gpu-deps is ignored by
# git; with the device tool, name it in `carry`.
set -euo pipefail

PACKAGES=(libfmt-dev doctest-dev libbenchmark-dev libhdf5-dev libopenblas-dev libcli11-dev nlohmann-json3-dev
          libpng-dev pkgconf)
# present on any glibc system with a C++ compiler; unpacking our copies would only shadow them
BASE_EXCLUDE='^(libc6|libc6-dev|libc-dev-bin|linux-libc-dev|libcrypt1|libcrypt-dev|libgcc-s1|gcc-[0-9]+-base|libstdc\+\+6|libnsl-dev|libnsl2|libtirpc3|libtirpc-dev|libtirpc-common|rpcsvc-proto)_'

usage() {
  sed -n '2,17p' "$0" >&2
  exit 2
}

download() {
  local dir=$1
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  local work
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  mkdir -p "$work/archives/partial"
  : >"$work/status"
  echo "gpu-deps: resolving ${PACKAGES[*]} against an empty package database"
  apt-get -q -o Dir::State::status="$work/status" -o Dir::Cache::archives="$work/archives" \
    -o Debug::NoLocking=1 install --download-only -y --no-install-recommends "${PACKAGES[@]}" >"$work/apt.log" 2>&1 || {
    cat "$work/apt.log" >&2
    echo "gpu-deps: apt-get failed (run 'apt-get update' first?)" >&2
    return 1
  }
  rm -f "$dir"/*.deb
  local kept=0 dropped=0
  for deb in "$work"/archives/*.deb; do
    if [[ $(basename "$deb") =~ $BASE_EXCLUDE ]]; then
      dropped=$((dropped + 1))
    else
      cp "$deb" "$dir/"
      kept=$((kept + 1))
    fi
  done
  echo "gpu-deps: $kept packages in $dir ($(du -sh "$dir" | cut -f1)), $dropped base packages left out"
}

unpack() {
  local debdir=$1 prefix=$2
  compgen -G "$debdir/*.deb" >/dev/null || {
    echo "gpu-deps: no .deb files in $debdir" >&2
    return 1
  }
  command -v dpkg >/dev/null || {
    echo "gpu-deps: dpkg is needed to unpack the packages" >&2
    return 1
  }
  mkdir -p "$prefix"
  prefix=$(cd "$prefix" && pwd)
  for deb in "$debdir"/*.deb; do dpkg -x "$deb" "$prefix"; done
  # the copies still name /usr: make them name the prefix
  find "$prefix/usr" -name '*.pc' -type f -exec sed -i "s#=/usr/#=$prefix/usr/#g; s#=/usr\$#=$prefix/usr#g" {} +
  for wrapper in "$prefix"/usr/bin/h5cc "$prefix"/usr/bin/h5c++; do
    [[ -f $wrapper ]] && sed -i "s#^prefix=\"/usr\"#prefix=\"$prefix/usr\"#" "$wrapper"
  done
  # Debian selects the OpenBLAS variant with update-alternatives, which dpkg -x does not run
  local arch_lib="$prefix/usr/lib/x86_64-linux-gnu"
  if [[ -d $arch_lib/openblas-pthread ]]; then
    mkdir -p "$arch_lib/pkgconfig"
    ln -sf ../openblas-pthread/pkgconfig/openblas.pc "$arch_lib/pkgconfig/openblas.pc"
    ln -sf openblas-pthread/libopenblas.so.0 "$arch_lib/libopenblas.so.0"
    ln -sf openblas-pthread/libopenblas.so "$arch_lib/libopenblas.so"
  fi
  [[ -e $prefix/usr/bin/pkgconf && ! -e $prefix/usr/bin/pkg-config ]] && ln -s pkgconf "$prefix/usr/bin/pkg-config"
  echo "gpu-deps: unpacked $(ls "$debdir"/*.deb | wc -l) packages into $prefix"
}

case "${1:-}" in
  download) download "${2:-$(cd "$(dirname "$0")/.." && pwd)/.gpu-deps}" ;;
  unpack) [[ $# -eq 3 ]] || usage; unpack "$2" "$3" ;;
  *) usage ;;
esac
