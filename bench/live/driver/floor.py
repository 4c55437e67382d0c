# SPDX-License-Identifier: MIT
"""Issue 15's goals 1 and 3, each as a ratio against a baseline in the same
run: the floor, `stop-floor` (bench/live/stop-floor.c), a minimal C tracer
that stops one thread at a time with the fewest system calls
(PTRACE_INTERRUPT, waitpid, GETREGS, 4 KiB of stack, a 1-byte write,
PTRACE_CONT) and prints per-phase medians and p99 in microseconds.

- Stops: one 32-worker server, idle, then under full load from the load
  generator (as the loaded step). Per-thread applies and reverts of the
  1-function patch, each pair followed by a stop-floor run of some rounds
  over every thread of the same server (the order alternates).
- 1,000 idle threads: a server of 1,000 workers waiting in accept;
  per-thread apply and revert of the 1-function patch, each followed by one
  stop-floor round over all its threads (one stop of every thread)."""
import re
import subprocess
import time

from loaded import UNITS, WORKERS
from processes import GraftRun, LoadGenerator, Server

PATCH, NAME = "leaves_1", "leaves-1"
# "  STOPPED (seen->resumed)      n=1700   med=    3.10 p90= ... p99= ... max= ... mean= ... us"
PHASE = re.compile(r"^\s+(.+?)\s+n=(\d+)\s+med=\s*(\S+)\s+p90=\s*(\S+)\s+p99=\s*(\S+)\s+max=\s*(\S+)\s+mean=\s*(\S+) us$")
SEIZED = re.compile(r"^seized (\d+) threads in (\S+) us")
PASS = re.compile(r"^mode \S+: (\d+) threads x (\d+) rounds, (\S+) ms per pass")


def run(ctx):
    return {"stops": stops(ctx), "idle threads": idle_threads(ctx)}


def stops(ctx):
    server = Server(ctx.binary("server"), WORKERS, ctx.raw("floor-server.log"))
    load = None
    results = {}
    try:
        time.sleep(ctx.settle)
        results["idle"] = interleaved(ctx, server, "idle")
        load = LoadGenerator(ctx.binary("loadgen"), server.port, WORKERS, UNITS,
                             ctx.raw("floor-latency.txt"), ctx.raw("floor-loadgen.log"))
        time.sleep(2 * ctx.settle)
        results["loaded"] = interleaved(ctx, server, "loaded")
    finally:
        if load:
            load.finish()
        server.stop()
    return results


def interleaved(ctx, server, condition):
    """Graft's apply and revert, then the floor, or the other way round, rep after rep."""
    graft, floor = [], []
    for rep in range(ctx.floor_reps):
        order = (0, 1) if rep % 2 == 0 else (1, 0)
        for which in order:
            if which == 0:
                graft.append(apply_and_revert(ctx, server.pid, "per-thread", ctx.timeout))
            else:
                floor.append(stop_floor(ctx, server.pid, ctx.floor_rounds, f"floor-{condition}-{rep}.txt"))
            time.sleep(ctx.settle)
    return {"graft": graft, "floor": floor}


def apply_and_revert(ctx, pid, model, timeout):
    options = ["--json", "--consistency", model, "--timeout", str(timeout)]
    apply = GraftRun([ctx.graft, "apply", str(pid), ctx.patch(PATCH)] + options)
    time.sleep(ctx.settle)
    revert = GraftRun([ctx.graft, "revert", str(pid), NAME] + options) if apply.code in (0, 7) else None
    return {"apply": figures(apply), "revert": figures(revert) if revert else None}


def figures(run):
    report = run.report or {}
    return {"code": run.code, "error": run.error(), "wall_ms": run.wall_ms,
            "attempts": report.get("attempts"),
            "longest_stop_ms": report.get("longestStopMilliseconds"),
            "longest_stop_kind": report.get("longestStopKind"),
            "most_stopped": report.get("mostStoppedAtOnce"),
            "traps_handled": report.get("trapsHandled")}


def stop_floor(ctx, pid, rounds, name):
    """One run of `stop-floor <pid> <rounds> vm`: it seizes every thread, stops
    each in turn `rounds` times, exits (which detaches them) and prints its
    figures, kept raw in name."""
    start = time.monotonic_ns()
    try:
        done = subprocess.run([ctx.binary("stop-floor"), str(pid), str(rounds), "vm"],
                              capture_output=True, text=True, timeout=ctx.floor_timeout)
        code, out, err = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as e:
        code, out, err = "timeout", e.stdout or "", e.stderr or ""
        out, err = (s.decode() if isinstance(s, bytes) else s for s in (out, err))
    wall_ms = (time.monotonic_ns() - start) / 1e6
    with open(ctx.raw(name), "w") as f:
        f.write(out + err)
    result = {"code": code, "error": err.strip()[:200], "wall_ms": wall_ms, "phases": {},
              "threads": None, "rounds": None, "seize_ms": None, "pass_ms": None}
    for line in out.splitlines():
        if m := PHASE.match(line):
            result["phases"][m[1]] = {"n": int(m[2]), "median_ms": float(m[3]) / 1e3,
                                      "p99_ms": float(m[5]) / 1e3, "max_ms": float(m[6]) / 1e3}
        elif m := SEIZED.match(line):
            result["seize_ms"] = float(m[2]) / 1e3
        elif m := PASS.match(line):
            result["threads"], result["rounds"], result["pass_ms"] = int(m[1]), int(m[2]), float(m[3])
    return result


def idle_threads(ctx):
    server = Server(ctx.binary("server"), ctx.idle_threads, ctx.raw(f"floor-{ctx.idle_threads}-server.log"))
    results = []
    try:
        time.sleep(ctx.settle)
        for rep in range(ctx.idle_thread_reps):
            graft = apply_and_revert(ctx, server.pid, "per-thread", ctx.scale_timeout)
            time.sleep(ctx.settle)
            floor = stop_floor(ctx, server.pid, 1, f"floor-{ctx.idle_threads}-{rep}.txt")
            time.sleep(ctx.settle)
            results.append(graft | {"floor": floor})
    finally:
        server.stop()
    return {"workers": ctx.idle_threads, "reps": results}
