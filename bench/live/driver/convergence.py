# SPDX-License-Identifier: MIT
"""Item 2: time from `graft apply` to "patching complete" for a patch of
serve_request(), which each busy worker is inside for the whole of every
request.  Stop-world needs a moment when no worker is inside it; under
full load there may be none before the timeout (exit code 3, rolled
back), which is reported as it is."""
import time

from loaded import MODELS, UNITS, WORKERS
from processes import GraftRun, LoadGenerator, Server


def run(ctx):
    server = Server(ctx.binary("server"), WORKERS, ctx.raw("convergence-server.log"))
    load = LoadGenerator(ctx.binary("loadgen"), server.port, WORKERS, UNITS,
                         ctx.raw("convergence-latency.txt"), ctx.raw("convergence-loadgen.log"))
    results = []
    try:
        time.sleep(ctx.settle)
        for rep in range(ctx.reps):
            for model in MODELS:
                results.append(converge(ctx, server, model, rep))
    finally:
        load.finish()
        server.stop()
    return results


def converge(ctx, server, model, rep):
    run = GraftRun([ctx.graft, "apply", str(server.pid), ctx.patch("serve_request_new"), "--json",
                    "--consistency", model, "--timeout", str(ctx.convergence_timeout)])
    started = run.notice_time("starting patching transition")
    complete = run.notice_time("patching complete")
    if run.code in (0, 7):
        GraftRun([ctx.graft, "revert", str(server.pid), "serve-request-new", "--timeout", "60"])
    time.sleep(ctx.settle)
    report = run.report or {}
    return {
        "model": model, "rep": rep, "code": run.code, "error": run.error(),
        "wall_ms": run.wall_ms,
        "apply_to_complete_ms": (complete - run.start) / 1e6 if complete else None,
        "transition_ms": (complete - started) / 1e6 if complete and started else None,
        "attempts": report.get("attempts"),
        "graft_longest_stop_ms": report.get("longestStopMilliseconds"),
    }
