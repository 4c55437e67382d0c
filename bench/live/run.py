#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs every measurement of the live benchmark (docs/PERFORMANCE.md) and
writes raw data, summary.md and graphs.  bench/run builds what it needs
and calls this; run that instead.

Usage: run.py --graft PATH [--jit PATH] [--smoke] [--results DIR] [--graphs DIR]"""
import argparse
import json
import os
import platform
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "driver"))

import convergence  # noqa: E402
import endtoend  # noqa: E402
import floor  # noqa: E402
import loaded  # noqa: E402
import overhead  # noqa: E402
import plots  # noqa: E402
import report  # noqa: E402
import scale  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


class Context:
    """Where things are and how much to measure (full or smoke)."""

    def __init__(self, args):
        # Every step measures graft as it ships (NativeAOT); the end-to-end step also times the JIT build's start.
        self.graft = args.graft
        self.grafts = {"JIT (dotnet build -c Release)": args.jit} if args.jit else {}
        self.grafts["NativeAOT (dotnet publish -p:PublishAot=true)"] = args.graft
        self.out = os.path.join(HERE, "out")
        self.results = args.results
        self.graphs = args.graphs or args.results
        os.makedirs(os.path.join(self.results, "raw"), exist_ok=True)
        smoke = args.smoke
        self.smoke = smoke
        self.sizes = [1] if smoke else [1, 10, 100]
        self.reps = 1 if smoke else 5
        self.settle = 0.5 if smoke else 1.2
        self.timeout = 10
        self.convergence_timeout = 2 if smoke else 10
        self.phase_seconds = 0.4 if smoke else 1.5
        self.e2e_reps = 2 if smoke else 10
        self.scale_timeout = 30
        self.processes = 3 if smoke else 20
        self.floor_reps = 2 if smoke else 10
        self.floor_rounds = 5 if smoke else 50
        self.floor_timeout = 300
        self.idle_threads = 1000
        self.idle_thread_reps = 1 if smoke else 5

    def binary(self, name):
        return os.path.join(self.out, name)

    def patch(self, name):
        return os.path.join(self.out, "patches", f"{name}.so")

    def raw(self, name):
        return os.path.join(self.results, "raw", name)


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--graft", required=True)
    parser.add_argument("--jit")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--results", default=os.path.join(HERE, "results"))
    parser.add_argument("--graphs")
    parser.add_argument("--only", action="append", default=[],
                        help="run only this step (repeatable), keeping the other steps' results from the last run")
    args = parser.parse_args()
    ctx = Context(args)

    began = time.monotonic()
    loads = {"start": load_average()}
    results = {}
    saved = os.path.join(ctx.results, "raw", "results.json")
    if args.only and os.path.exists(saved):
        with open(saved) as f:
            previous = json.load(f)
        results, loads = previous["results"], previous["loads"] | {"start (--only)": load_average()}
    steps = [("loaded", loaded.run), ("convergence", convergence.run), ("overhead", overhead.run),
             ("endtoend", endtoend.run), ("floor", floor.run)]
    if not ctx.smoke:
        steps.append(("scale", scale.run))
    for name, step in steps:
        if args.only and name not in args.only:
            continue
        print(f"bench: {name} (load average {load_average()})", flush=True)
        step_began = time.monotonic()
        results[name] = step(ctx)
        loads[name] = load_average()
        print(f"bench: {name} took {time.monotonic() - step_began:.0f} s", flush=True)
    # Drawn from this invocation's pauses only: --only floor leaves the graphs as they are.
    graphs = plots.draw(ctx, results["loaded"]) if "loaded" in results and (
        not args.only or "loaded" in args.only) else []
    elapsed = time.monotonic() - began

    with open(saved, "w") as f:
        json.dump({"results": results, "loads": loads}, f, default=str)
    summary = render(ctx, results, loads, graphs, elapsed)
    with open(os.path.join(ctx.results, "summary.md"), "w") as f:
        f.write(summary)
    print(summary)


def render(ctx, results, loads, graphs, elapsed):
    parts = [
        f"# Live benchmark summary ({'smoke' if ctx.smoke else 'full'})\n",
        f"- machine: {os.cpu_count()} CPUs, kernel {platform.release()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- load average (1/5/15 min) at start and after each step: "
        + "; ".join(f"{k}: {v}" for k, v in loads.items()),
        f"- this invocation took {elapsed:.0f} s; graphs: {', '.join(graphs) or 'none'}\n",
    ]
    # A step run alone (--only) with no earlier results has only its own tables.
    if "loaded" in results:
        ops = results["loaded"]["operations"]
        parts += ["## 1. Pause (32-worker server under full load)\n", report.pause_table(ops, ctx.sizes)]
    if "convergence" in results:
        parts += ["\n## 2. Convergence (patch of serve_request, hot in every worker)\n",
                  report.convergence_table(results["convergence"])]
    if "loaded" in results:
        parts += ["\n## 3. Request latency around the apply\n", report.latency_table(ops, ctx.sizes)]
    if "overhead" in results:
        parts += ["\n## 4. Call overhead (callbench)\n", report.overhead_table(results["overhead"])]
    if "endtoend" in results:
        parts += ["\n## 5. End-to-end wall time\n", report.endtoend_table(results["endtoend"])]
    if "scale" in results:
        parts += ["\n## 6. Scale\n", report.scale_table(results["scale"])]
    if "floor" in results:
        parts += ["\n## 8. Stops against the floor (stop-floor)\n", report.floor_stops_table(results["floor"]["stops"]),
                  f"\n## 9. {results['floor']['idle threads']['workers']:,} idle threads\n",
                  report.idle_threads_table(results["floor"]["idle threads"])]
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    main()
