# SPDX-License-Identifier: MIT
"""Items 1, 3 and 7: patches of 1, 10 and 100 leaf functions applied to the
32-worker server under full load, per-thread and stop-world interleaved
(so both models see the same conditions), then the gdb baseline on the
same server.  Each apply is reverted before the next, and the next waits
long enough that a window as long as itself before it is free of any
other operation: that window is its control."""
import time

import gdb_baseline
from processes import GraftRun, LoadGenerator, Server
from windows import around

MODELS = ("per-thread", "stop-world")
WORKERS = 32
UNITS = 1000  # leaf calls per request: every leaf once


def run(ctx):
    server = Server(ctx.binary("server"), WORKERS, ctx.raw("loaded-server.log"))
    load = LoadGenerator(ctx.binary("loadgen"), server.port, WORKERS, UNITS,
                         ctx.raw("loaded-latency.txt"), ctx.raw("loaded-loadgen.log"))
    operations = []
    quiet = {"since": time.monotonic_ns()}
    try:
        # Enough load before the first apply for its second-before window.
        time.sleep(2 * ctx.settle)
        for size in ctx.sizes:
            for rep in range(ctx.reps):
                for model in MODELS:
                    operations.append(apply_and_revert(ctx, server, size, model, rep, quiet))
        for rep in range(ctx.reps):
            operations.append(gdb_patch(ctx, server, rep, quiet))
    finally:
        samples = load.finish()
        gaps = server.gaps()
        server.stop()
    for op in operations:
        op.update(around(op["start"], op["end"], op["quiet_since"], gaps, samples))
    return {"operations": operations, "gaps": gaps, "samples": samples}


def apply_and_revert(ctx, server, size, model, rep, quiet):
    quiet_since = quiet["since"]
    run = GraftRun([ctx.graft, "apply", str(server.pid), ctx.patch(f"leaves_{size}"), "--json",
                    "--consistency", model, "--timeout", str(ctx.timeout)])
    time.sleep(ctx.settle)
    revert = GraftRun([ctx.graft, "revert", str(server.pid), f"leaves-{size}",
                       "--consistency", model, "--timeout", str(ctx.timeout)])
    settle(ctx, run, quiet)
    report = run.report or {}
    return {
        "tool": "graft", "size": size, "model": model, "rep": rep, "code": run.code,
        "error": run.error(), "revert_code": revert.code, "quiet_since": quiet_since,
        "start": run.start, "end": run.end, "wall_ms": run.wall_ms,
        "notices_ms": [((t - run.start) / 1e6, line) for t, line in run.notices],
        "graft_longest_stop_ms": report.get("longestStopMilliseconds"),
        "graft_most_stopped": report.get("mostStoppedAtOnce"),
        "attempts": report.get("attempts"), "traps_handled": report.get("trapsHandled"),
    }


def settle(ctx, run, quiet):
    """Waits long enough that the next operation, which takes about as long as
    this one, has a window as long as itself before it free of any other."""
    quiet["since"] = time.monotonic_ns()
    time.sleep(max(ctx.settle, 1.2 * run.wall_ms / 1e3))


def gdb_patch(ctx, server, rep, quiet):
    quiet_since = quiet["since"]
    start, end, code, saved = gdb_baseline.patch(server.pid, ctx.binary("gdb_leaf.so"))
    time.sleep(ctx.settle)
    if saved:
        gdb_baseline.restore(server.pid, saved)
    quiet["since"] = time.monotonic_ns()
    time.sleep(max(ctx.settle, 1.2 * (end - start) / 1e9))
    return {"tool": "gdb", "size": 1, "model": "gdb (all stopped)", "rep": rep, "code": code,
            "error": "" if saved else "gdb printed no saved bytes", "start": start, "end": end,
            "wall_ms": (end - start) / 1e6, "quiet_since": quiet_since}
