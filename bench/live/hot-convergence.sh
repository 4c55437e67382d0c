#!/bin/bash
# Issue 15, goal 2 (docs/PERFORMANCE.md, item 19): per-thread convergence with the patched
# function hot, as graft reports it (convergenceMilliseconds), against the wall time a worker
# takes per call of hot() before the patch (from the fixture's ticks).
#   bench/live/hot-convergence.sh [REPS]    (after make -C tests/fixtures and scripts/publish.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
graft=${GRAFT:-out/graft}
reps=${1:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
field() { python3 -c "import json,sys; r=json.load(sys.stdin); print(f\"{r['convergenceMilliseconds']:.1f} ms, {r['selfSwitched']} self-switched, {r['attempts']} sweep(s)\")"; }
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for workers in 8 16; do
  for rep in $(seq "$reps"); do
    setsid tests/fixtures/out/hot "$workers" 200 20 >"$work/hot.out" 2>&1 &
    pid=$!
    sleep 1
    applied=$("$graft" apply "$pid" tests/fixtures/out/patches/hot_new.so --json 2>/dev/null | field)
    reverted=$("$graft" revert "$pid" hot-new --json 2>/dev/null | field)
    kill "$pid"
    # calls= counts every worker's calls: the median tick (20 ms) gives each worker's wall time per call.
    per_call=$(python3 - "$work/hot.out" "$workers" <<'PY'
import sys
calls = [int(line.split()[4].split("=")[1]) for line in open(sys.argv[1]) if line.startswith("tick ")][:12]
deltas = sorted(b - a for a, b in zip(calls, calls[1:]))
print(f"{20.0 * int(sys.argv[2]) / deltas[len(deltas) // 2]:.2f}")
PY
)
    echo "$workers workers, rep $rep: apply $applied | revert $reverted | a worker's wall time per call $per_call ms"
  done
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
