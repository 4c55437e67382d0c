#!/bin/bash
# Builds libcare for Graft's benchmark against it (bench/peers/run).
#
#   bench/peers/build-libcare.sh LIBCARE_SRC_DIR OUTDIR
#
# LIBCARE_SRC_DIR: a checkout of github.com/cloudlinux/libcare (tested at
# commit 40f1243, its newest).  It is left as it is: the tree is copied to
# OUTDIR/libcare, libcare-fixes.patch (two fixes, described at its top) is
# applied there, and `make -C src DEBUG=` builds it (libcare's Makefile
# builds with -O0 -DDEBUG unless DEBUG is empty; empty gives its -O2 build,
# as one would ship it).  The tools end up in OUTDIR/libcare/src:
# libcare-ctl, libcare-patch-make, libcare-cc, kpatch_gensrc, kpatch_strip,
# kpatch_make.
#
# Installs libcare's build dependencies from Debian with apt-get when one
# is missing (as root; `apt-get update` first only then): libunwind-dev
# (libunwind-ptrace, libcare-ctl's unwinder), libelf-dev (libelf, all the
# tools), elfutils (eu-readelf, which libcare-patch-make runs), and
# pkg-config, binutils, gcc, make, patch.  Nothing in CI runs this; it is a
# benchmark's setup.
set -euo pipefail

if [ $# -ne 2 ]; then
	echo "usage: $0 LIBCARE_SRC_DIR OUTDIR" >&2
	exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
src=$(realpath "$1")
out=$(realpath -m "$2")
[ -f "$src/src/kpatch_elf.c" ] || { echo "$src is not a libcare source tree (no src/kpatch_elf.c)" >&2; exit 2; }

packages=(libunwind-dev libelf-dev elfutils pkg-config binutils gcc make patch)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing Debian packages: ${missing[*]} (run as root to install them)" >&2
		exit 1
	fi
	echo "build-libcare: installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

rm -rf "$out/libcare"
mkdir -p "$out"
cp -a "$src" "$out/libcare"
rm -rf "$out/libcare/.git"
cd "$out/libcare"
patch -p1 < "$here/libcare-fixes.patch"
make -C src DEBUG= >"$out/build.log" 2>&1 || { tail -30 "$out/build.log" >&2; exit 1; }
for tool in libcare-ctl libcare-patch-make libcare-cc kpatch_gensrc kpatch_strip kpatch_make; do
	[ -x "src/$tool" ] || { echo "build-libcare: src/$tool was not built (see $out/build.log)" >&2; exit 1; }
done
echo "build-libcare: libcare tools in $out/libcare/src (build log $out/build.log)"
