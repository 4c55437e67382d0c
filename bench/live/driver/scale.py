# SPDX-License-Identifier: MIT
"""Item 6: a 1,000-function patch into the loaded 32-worker server (both
models); a 1-function patch into a server of 1,000 threads (32 of them
loaded, the rest waiting in accept); and the same patch into N idle
4-worker servers, one after another."""
import time

from loaded import MODELS, UNITS, WORKERS
from processes import GraftRun, LoadGenerator, Server


def run(ctx):
    return {
        "1000 functions": loaded_apply(ctx, WORKERS, "leaves_1000", "leaves-1000"),
        "1000 threads": loaded_apply(ctx, 1000, "leaves_1", "leaves-1"),
        "processes": processes(ctx),
    }


def loaded_apply(ctx, workers, patch, name):
    server = Server(ctx.binary("server"), workers, ctx.raw(f"scale-{workers}-{patch}-server.log"))
    load = LoadGenerator(ctx.binary("loadgen"), server.port, WORKERS, UNITS,
                         ctx.raw(f"scale-{workers}-{patch}-latency.txt"),
                         ctx.raw(f"scale-{workers}-{patch}-loadgen.log"))
    results = []
    try:
        time.sleep(ctx.settle)
        for model in MODELS:
            apply = GraftRun([ctx.graft, "apply", str(server.pid), ctx.patch(patch), "--json",
                              "--consistency", model, "--timeout", str(ctx.scale_timeout)])
            revert = GraftRun([ctx.graft, "revert", str(server.pid), name, "--consistency", model,
                               "--timeout", str(ctx.scale_timeout)]) if apply.code in (0, 7) else None
            report = apply.report or {}
            results.append({
                "model": model, "code": apply.code, "error": apply.error(),
                "wall_ms": apply.wall_ms, "attempts": report.get("attempts"),
                "graft_longest_stop_ms": report.get("longestStopMilliseconds"),
                "graft_most_stopped": report.get("mostStoppedAtOnce"),
                "revert_code": revert.code if revert else None,
                "revert_wall_ms": revert.wall_ms if revert else None,
            })
            time.sleep(ctx.settle)
    finally:
        load.finish()
        server.stop()
    return results


def processes(ctx):
    servers = [Server(ctx.binary("server"), 4, ctx.raw(f"scale-process-{i}.log"))
               for i in range(ctx.processes)]
    results = []
    try:
        start = time.monotonic_ns()
        for server in servers:
            apply = GraftRun([ctx.graft, "apply", str(server.pid), ctx.patch("leaves_1"), "--json"])
            results.append({"code": apply.code, "wall_ms": apply.wall_ms, "error": apply.error()})
        total_ms = (time.monotonic_ns() - start) / 1e6
    finally:
        for server in servers:
            server.stop()
    return {"each": results, "total_ms": total_ms}
