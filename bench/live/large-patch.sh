#!/bin/bash
# Issue 15, goal 6 (docs/PERFORMANCE.md, item 18): a 1,000-function patch
# applied per-thread into the 32-worker server under load, and reverted.
#   bench/live/large-patch.sh [REPS]     (after make -C bench/live and scripts/publish.sh)
# GRAFT names the graft to run (default out/graft). Prints, per repetition,
# the wall times and the apply's stop statistics.
set -euo pipefail
cd "$(dirname "$0")/../.."
graft=${GRAFT:-out/graft}
reps=${1:-3}
work=$(mktemp -d)
setsid bench/live/out/server 32 >"$work/server.out" 2>&1 &
for _ in $(seq 50); do [ -s "$work/server.out" ] && break; sleep 0.1; done
read -r _ pid port <"$work/server.out"
setsid bench/live/out/loadgen "$port" 32 1000 "$work/latencies.txt" >"$work/loadgen.out" 2>&1 &
loadgen=$!
trap 'kill "$loadgen" "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
sleep 2
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for rep in $(seq "$reps"); do
  start=$(date +%s.%N)
  "$graft" apply "$pid" bench/live/out/patches/leaves_1000.so --json --consistency per-thread --timeout 120 >"$work/apply.json" 2>>"$work/graft.err"
  middle=$(date +%s.%N)
  "$graft" revert "$pid" leaves-1000 --json --timeout 120 >/dev/null 2>>"$work/graft.err"
  end=$(date +%s.%N)
  python3 - "$work/apply.json" "$rep" "$start" "$middle" "$end" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
rep, start, middle, end = sys.argv[2], *map(float, sys.argv[3:])
traps = sum(k["count"] for k in report["stops"] if k["kind"] == "trap")
print(f"rep {rep}: apply {middle - start:.2f} s, revert {end - middle:.2f} s, longest stop "
      f"{report['longestStopMilliseconds']:.1f} ms ({report['longestStopKind']}), traps {traps}, "
      f"at most {report['mostStoppedAtOnce']} stopped at once")
PY
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
