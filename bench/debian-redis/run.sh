#!/bin/bash
# Debian's redis security fixes, live: builds redis-server from Debian's source of deb12u7 with Debian's flags,
# turns each CVE patch that deb12u8..deb12u10 add into a graft patch (graft build --diff) and applies it to a
# running server under redis-benchmark, then reverts it. Prints one line per CVE: built or refused (why), the
# functions replaced, the apply's wall time and its longest stop, benchmark errors, whether pid and keys survived.
# Needs scripts/install-deps.sh (deb-src lines, build dependencies) and out/graft (scripts/publish.sh).
# Usage: bench/debian-redis/run.sh [WORK_DIR]   (about 15 minutes on 2 CPUs)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
graft=$root/out/graft
work=$(realpath -m "${1:-/tmp/graft-debian-redis}")
running=5:7.0.15-1~deb12u7
later=5:7.0.15-1~deb12u10
port=${PORT:-16479}
mkdir -p "$work" && cd "$work"

# Debian's flags as debian/rules asks dpkg-buildflags for them, less the file-prefix-map of this directory.
flags() {
	DEB_BUILD_MAINT_OPTIONS=hardening=+all DEB_CFLAGS_MAINT_APPEND=-I/usr/include/liblzf \
		DEB_LDFLAGS_MAINT_APPEND='-Wl,-no-as-needed -ldl -latomic -llzf' dpkg-buildflags --get "$1" |
		tr ' ' '\n' | grep -v '^-ffile-prefix-map=' | tr '\n' ' '
}
# As Debian builds it: SOURCE_DATE_EPOCH as dpkg-buildpackage exports it (mkreleasehdr.sh makes it REDIS_BUILD_ID,
# else host name and time), and no git repository around the tree (else its commit goes into the binary).
build="GIT_DIR=/nonexistent SOURCE_DATE_EPOCH=\$(dpkg-parsechangelog -l '$work/source/debian/changelog' -STimestamp)"
build="$build CFLAGS='$(flags CFLAGS)' CPPFLAGS='$(flags CPPFLAGS)' LDFLAGS='$(flags LDFLAGS)' BUILD_TLS=yes"
build="$build make -j2 V=1 USE_SYSTEM_JEMALLOC=yes USE_SYSTEMD=yes USE_JEMALLOC=yes"

if [ ! -e source/done ]; then
	rm -rf source binary later && mkdir later
	apt-get source --download-only "redis=$running" >/dev/null 2>&1
	dpkg-source --no-check -x redis_*deb12u7.dsc source >/dev/null
	(cd later && apt-get source --download-only "redis=$later" >/dev/null 2>&1 && tar -xJf redis_*.debian.tar.xz debian/patches)
	cp -a source binary && (cd binary && CC=cc sh -c "$build" >build.log 2>&1)
	touch source/done
fi

cli() { redis-cli -h 127.0.0.1 -p "$port" "$@"; }
# CVE-2026-66373's diff extends the test that CVE-2026-25243's adds: it is built on top of it, both in one diff.
cat later/debian/patches/CVE-2026-25243.patch later/debian/patches/CVE-2026-66373.patch >CVE-2026-66373-cumulative.patch
for cve in CVE-2026-23631 CVE-2026-25243 CVE-2026-66373-cumulative CVE-2026-81934 CVE-2026-92925; do
	diff=later/debian/patches/$cve.patch
	[ -e "$diff" ] || diff=$cve.patch
	if ! "$graft" build --json --source source --diff "$diff" --binary binary/src/redis-server -o "$cve.so" \
		--build "$build" >"$cve.build.json" 2>"$cve.build.err"; then
		echo "$cve: refused: $(tail -1 "$cve.build.err")"
		continue
	fi
	replaced=$(python3 -c "import json,sys; print(','.join(f['name'] for f in json.load(open(sys.argv[1]))['functions'] if f['change']=='Changed'))" "$cve.build.json")
	kept=$(python3 -c "import json,sys; print(sum(f['change']=='LinesMoved' for f in json.load(open(sys.argv[1]))['functions']))" "$cve.build.json")
	dir=$work/run-$cve && rm -rf "$dir" && mkdir -p "$dir"
	binary/src/redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly no \
		--enable-debug-command yes >"$dir/redis.log" 2>&1 &
	pid=$!
	until cli ping >/dev/null 2>&1; do sleep 0.1; done
	cli debug populate 100000 survivor >/dev/null
	redis-benchmark -h 127.0.0.1 -p "$port" -t set,get,incr,lpush -n 200000 -c 20 -r 100000 -q >"$dir/bench.out" 2>&1 &
	bench=$!
	until [ "$(cli dbsize)" -gt 100000 ]; do sleep 0.1; done
	start=$(date +%s%N)
	"$graft" apply "$pid" "$cve.so" --json >"$dir/apply.json" 2>"$dir/apply.err"
	took=$((($(date +%s%N) - start) / 1000000))
	wait "$bench" && bench_rc=0 || bench_rc=$?
	stop=$(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(f\"{d['longestStopMilliseconds']:.0f} ms ({d['longestStopKind']})\")" "$dir/apply.json")
	"$graft" revert "$pid" "$cve" >/dev/null 2>&1
	survived=$([ "$(cli get survivor:4242)" = value:4242 ] && kill -0 "$pid" && echo yes || echo no)
	echo "$cve: built, replaced $replaced (kept $kept whose only change is a moved line); apply ${took} ms, longest stop $stop;" \
		"apply warnings: $(grep -c 'warning' "$dir/apply.err" || true);" \
		"benchmark exit $bench_rc, $(grep -ci error "$dir/bench.out" || true) errors; same pid and keys after revert: $survived"
	kill "$pid" && wait "$pid" 2>/dev/null || true
done
