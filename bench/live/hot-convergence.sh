#!/bin/bash
# Issue 15, goal 2 (docs/PERFORMANCE.md, items 19 and 25): per-thread convergence with the patched
# function hot, as graft reports it (convergenceMilliseconds), against the time it takes every
# worker to finish the call of hot() it is in, measured on the same target just before the apply
# (bench/live/out/call-span, 1 s of samples).
#   bench/live/hot-convergence.sh [REPS]
# (after make -C tests/fixtures, make -C bench/live and scripts/publish.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
graft=${GRAFT:-out/graft}
reps=${1:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
field() { python3 -c "import json,sys; r=json.load(sys.stdin); print(f\"{r['convergenceMilliseconds']:.1f} ms ({r['selfSwitched']} self-switched, {r['attempts']} sweep(s))\")"; }
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for workers in 8 16; do
  for rep in $(seq "$reps"); do
    setsid tests/fixtures/out/hot "$workers" 200 20 >"$work/hot.out" 2>&1 &
    pid=$!
    sleep 1
    # "ready <pid> finished-calls <address>"
    address=$(awk '/^ready /{print $4; exit}' "$work/hot.out")
    span=$(bench/live/out/call-span "$pid" "$address" "$workers" 1)
    applied=$("$graft" apply "$pid" tests/fixtures/out/patches/hot_new.so --json 2>/dev/null | field)
    reverted=$("$graft" revert "$pid" hot-new --json 2>/dev/null | field)
    kill "$pid"
    echo "$workers workers, rep $rep: every worker finishes its call within: $span ms | apply $applied | revert $reverted"
  done
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
