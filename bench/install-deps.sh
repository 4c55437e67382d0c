#!/bin/bash
# What the benchmarks need beyond scripts/install-deps.sh (which they run
# first): python3 for the driver, gdb for the naive baseline, gnuplot for
# the graphs.  Installs the missing Debian packages when run as root;
# otherwise says what is missing and fails.  Safe to run any number of times.
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh || exit 1

declare -A package_of=([python3]=python3 [gdb]=gdb [gnuplot]=gnuplot-nox)
missing=()
for tool in python3 gdb gnuplot; do
	command -v "$tool" >/dev/null 2>&1 || missing+=("${package_of[$tool]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$EUID" -eq 0 ]; then
	echo "bench/install-deps: installing missing packages: ${missing[*]}"
	apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"
else
	echo "bench/install-deps: missing packages: ${missing[*]}" >&2
	echo "bench/install-deps: as root run: apt-get update &&" \
		"apt-get install -y --no-install-recommends ${missing[*]}" >&2
	exit 1
fi
