# SPDX-License-Identifier: MIT
"""Items 1, 3 and 7: patches of 1, 10 and 100 leaf functions applied to the
32-worker server under full load, per-thread and stop-world interleaved
(so both models see the same conditions), then the gdb baseline on the
same server.  Each apply is reverted before the next; a settle time keeps
the second before each operation free of the previous one."""
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
    try:
        # Enough load before the first apply for its second-before window.
        time.sleep(2 * ctx.settle)
        for size in ctx.sizes:
            for rep in range(ctx.reps):
                for model in MODELS:
                    operations.append(apply_and_revert(ctx, server, size, model, rep))
        for rep in range(ctx.reps):
            operations.append(gdb_patch(ctx, server, rep))
    finally:
        samples = load.finish()
        gaps = server.gaps()
        server.stop()
    for op in operations:
        op.update(around(op["start"], op["end"], gaps, samples))
    return {"operations": operations, "gaps": gaps, "samples": samples}


def apply_and_revert(ctx, server, size, model, rep):
    run = GraftRun([ctx.graft, "apply", str(server.pid), ctx.patch(f"leaves_{size}"), "--json",
                    "--consistency", model, "--timeout", str(ctx.timeout)])
    time.sleep(ctx.settle)
    revert = GraftRun([ctx.graft, "revert", str(server.pid), f"leaves-{size}",
                       "--consistency", model, "--timeout", str(ctx.timeout)])
    time.sleep(ctx.settle)
    report = run.report or {}
    return {
        "tool": "graft", "size": size, "model": model, "rep": rep, "code": run.code,
        "error": run.error(), "revert_code": revert.code,
        "start": run.start, "end": run.end, "wall_ms": run.wall_ms,
        "graft_longest_stop_ms": report.get("longestStopMilliseconds"),
        "graft_most_stopped": report.get("mostStoppedAtOnce"),
        "attempts": report.get("attempts"),
    }


def gdb_patch(ctx, server, rep):
    start, end, code, saved = gdb_baseline.patch(server.pid, ctx.binary("gdb_leaf.so"))
    time.sleep(ctx.settle)
    if saved:
        gdb_baseline.restore(server.pid, saved)
    time.sleep(ctx.settle)
    return {"tool": "gdb", "size": 1, "model": "gdb (all stopped)", "rep": rep, "code": code,
            "error": "" if saved else "gdb printed no saved bytes", "start": start, "end": end,
            "wall_ms": (end - start) / 1e6}
