# SPDX-License-Identifier: MIT
"""Item 4: ns per call of callee() in callbench, against reference() (the
same code, never patched) measured by the same thread right after, in
three phases: unpatched; during a per-thread transition (held in flight
by a thread inside hold(), which the patch also replaces: every call
goes through the dispatcher); after the transition completed."""
import os
import time

from processes import Detached, GraftRun


ATTEMPTS = 3


def run(ctx):
    """Up to ATTEMPTS fresh targets: an apply or continue that fails (or kills
    the target) is recorded and the measurement starts again."""
    failures = []
    for attempt in range(ATTEMPTS):
        result = measure_phases(ctx, attempt)
        if result["codes"] == {"apply": 7, "continue": 0}:
            result["failures"] = failures
            return result
        failures.append(result["codes"] | {"errors": result["errors"]})
    result["failures"] = failures
    return result


def measure_phases(ctx, attempt):
    release = ctx.raw(f"callbench-{attempt}.release")
    if os.path.exists(release):
        os.remove(release)
    bench = Detached([ctx.binary("callbench"), release], ctx.raw(f"callbench-{attempt}.log"), "ready")
    phases = {}
    try:
        phases["unpatched"] = measure(bench, ctx.phase_seconds)
        apply = GraftRun([ctx.graft, "apply", str(bench.pid), ctx.patch("callbench_new"),
                          "--json", "--timeout", "1"])
        # Exit code 7: the transition stays in flight, as intended.
        phases["during transition"] = measure(bench, ctx.phase_seconds) if apply.code == 7 else []
        open(release, "w").close()
        done = GraftRun([ctx.graft, "continue", str(bench.pid), "--timeout", "30"])
        phases["after transition"] = measure(bench, ctx.phase_seconds) if done.code == 0 else []
        codes = {"apply": apply.code, "continue": done.code}
        errors = [apply.error(), done.error()]
        alive = bench.alive()
    finally:
        bench.stop()
    return {"phases": phases, "codes": codes, "errors": errors, "target_alive": alive}


def measure(bench, seconds):
    """(callee ns, reference ns) of each line printed in the next `seconds`."""
    time.sleep(0.2)  # the line in progress may straddle the change
    begin = time.monotonic_ns()
    time.sleep(seconds)
    end = time.monotonic_ns()
    return [(float(parts[2]), float(parts[3])) for parts in
            (line.split() for line in bench.lines() if line.startswith("calls "))
            if begin <= int(parts[1]) <= end]
