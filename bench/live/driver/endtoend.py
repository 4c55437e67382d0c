# SPDX-License-Identifier: MIT
"""Item 5: wall time of `graft apply` of a 1-function patch into an idle
4-worker server, and of commands that do no patching, to show what the
.NET start costs: `graft --help` (start only) and `graft list` (start,
read the target's state without stopping it).  For every build of graft
given (the JIT build, and the NativeAOT one graft ships as)."""
from processes import GraftRun, Server


def run(ctx):
    server = Server(ctx.binary("server"), 4, ctx.raw("endtoend-server.log"))
    results = {}
    try:
        for name, graft in ctx.grafts.items():
            results[name] = measure(ctx, graft, server.pid)
    finally:
        server.stop()
    return results


def measure(ctx, graft, pid):
    figures = {"help": [], "list": [], "apply": [], "revert": [], "codes": []}
    for _ in range(ctx.e2e_reps):
        figures["help"].append(GraftRun([graft, "--help"]).wall_ms)
        figures["list"].append(GraftRun([graft, "list", str(pid)]).wall_ms)
        apply = GraftRun([graft, "apply", str(pid), ctx.patch("leaves_1"), "--json"])
        revert = GraftRun([graft, "revert", str(pid), "leaves-1"])
        figures["apply"].append(apply.wall_ms if apply.code == 0 else None)
        figures["revert"].append(revert.wall_ms if revert.code == 0 else None)
        figures["codes"].append((apply.code, revert.code))
    return figures
