# SPDX-License-Identifier: MIT
"""The summary: markdown tables of median, p99 and max, with ratios
per-thread / stop-world taken from the same run."""
from stats import ratio, summary

MODELS = ("per-thread", "stop-world")


def fmt(value, digits=2):
    if value is None:
        return "–"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def dist(values, digits=2):
    s = summary(values)
    return f"{fmt(s['median'], digits)} / {fmt(s['p99'], digits)} / {fmt(s['max'], digits)}"


def median(values):
    return summary(values)["median"]


def pause_table(operations, sizes):
    rows = ["| patch | model | applies ok | graft: longest single-thread stop ms | graft: most stopped at once (max) "
            "| inside: longest own gap ms | inside: longest all-stopped gap ms | control (as long, just before): own / all-stopped ms, median "
            "| int3 traps handled (median) | apply wall ms |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    ratios = []
    for size in sizes:
        by_model = {}
        for model in MODELS + ("gdb (all stopped)",):
            ops = [o for o in operations if o["size"] == size and o["model"] == model]
            if not ops:
                continue
            ok = [o for o in ops if o["code"] == 0]
            by_model[model] = ok
            most = [o.get("graft_most_stopped") for o in ok if o.get("graft_most_stopped") is not None]
            rows.append(
                f"| {size} fn | {model} | {len(ok)}/{len(ops)} | {dist([o.get('graft_longest_stop_ms') for o in ok])} "
                f"| {max(most) if most else '–'} | {dist([o['own_gap_ms'] for o in ok])} "
                f"| {dist([o['global_gap_ms'] for o in ok])} "
                f"| {fmt(median([o['own_gap_before_ms'] for o in ok]))} / {fmt(median([o['global_gap_before_ms'] for o in ok]))} "
                f"| {fmt(median([o.get('traps_handled') for o in ok]))} | {dist([o['wall_ms'] for o in ok], 0)} |")
        pt, sw = by_model.get("per-thread", []), by_model.get("stop-world", [])
        ratios.append(
            f"| {size} fn | {fmt(ratio(median([o['global_gap_ms'] for o in pt]), median([o['global_gap_ms'] for o in sw])))} "
            f"| {fmt(ratio(median([o['own_gap_ms'] for o in pt]), median([o['own_gap_ms'] for o in sw])))} "
            f"| {fmt(ratio(median([o.get('graft_longest_stop_ms') for o in pt]), median([o.get('graft_longest_stop_ms') for o in sw])))} |")
    ratio_table = ["| patch | all-stopped gap, per-thread / stop-world | own gap, per-thread / stop-world "
                   "| graft's longest stop, per-thread / stop-world |", "|---|---|---|---|"] + ratios
    return "\n".join(rows) + "\n\n(each cell: median / p99 / max over the applies)\n\nRatios of medians, same run:\n\n" + "\n".join(ratio_table)


def latency_table(operations, sizes):
    rows = ["| patch | model | requests: 1 s before, median / p99 / max ms | requests: during the apply's second(s), median / p99 / max ms | p99 during / before |",
            "|---|---|---|---|---|"]
    for size in sizes:
        for model in MODELS + ("gdb (all stopped)",):
            ops = [o for o in operations if o["size"] == size and o["model"] == model and o["code"] == 0]
            if not ops:
                continue
            before = [v for o in ops for v in o["latency_before_ms"]]
            during = [v for o in ops for v in o["latency_during_ms"]]
            rows.append(f"| {size} fn | {model} | {dist(before)} | {dist(during)} "
                        f"| {fmt(ratio(summary(during)['p99'], summary(before)['p99']))} |")
    return "\n".join(rows)


def convergence_table(results):
    rows = ["| model | converged | apply → patching complete ms (median / p99 / max) | transition only ms | attempts (median) | exit codes |",
            "|---|---|---|---|---|---|"]
    for model in MODELS:
        rs = [r for r in results if r["model"] == model]
        done = [r for r in rs if r["apply_to_complete_ms"] is not None]
        rows.append(f"| {model} | {len(done)}/{len(rs)} | {dist([r['apply_to_complete_ms'] for r in done], 0)} "
                    f"| {dist([r['transition_ms'] for r in done], 0)} | {fmt(median([r['attempts'] for r in rs]))} "
                    f"| {', '.join(str(r['code']) for r in rs)} |")
    return "\n".join(rows)


def overhead_table(result):
    rows = ["| phase | samples | callee ns/call (median / p99 / max) | reference ns/call (median) | callee / reference (median) |",
            "|---|---|---|---|---|"]
    for phase, samples in result["phases"].items():
        rows.append(f"| {phase} | {len(samples)} | {dist([s[0] for s in samples])} "
                    f"| {fmt(median([s[1] for s in samples]))} | {fmt(median([s[0] / s[1] for s in samples]))} |")
    failures = "".join(f"\n- failed attempt: {f}" for f in result.get("failures", []))
    return "\n".join(rows) + f"\n\nexit codes: {result['codes']}{failures}"


def endtoend_table(results):
    rows = ["| build | `graft --help` ms | `graft list` ms | `graft apply` (1 fn, idle target) ms | `graft revert` ms |",
            "|---|---|---|---|---|"]
    for name, f in results.items():
        rows.append(f"| {name} | {dist(f['help'], 0)} | {dist(f['list'], 0)} | {dist(f['apply'], 0)} | {dist(f['revert'], 0)} |")
    return "\n".join(rows) + "\n\n(median / p99 / max)"


def scale_table(results):
    rows = ["| case | model | exit code | apply wall ms | attempts | graft: longest stop ms | most stopped | revert exit / wall ms | error |",
            "|---|---|---|---|---|---|---|---|---|"]
    for case in ("1000 functions", "1000 threads"):
        for r in results.get(case, []):
            rows.append(f"| {case} | {r['model']} | {r['code']} | {fmt(r['wall_ms'], 0)} | {fmt(r['attempts'])} "
                        f"| {fmt(r['graft_longest_stop_ms'])} | {fmt(r['graft_most_stopped'])} "
                        f"| {fmt(r['revert_code'])} / {fmt(r['revert_wall_ms'], 0)} | {r['error'][:120]} |")
    p = results.get("processes")
    if p:
        ok = [e for e in p["each"] if e["code"] == 0]
        rows.append(f"\n{len(p['each'])} processes one after another: {len(ok)} applied, "
                    f"each {dist([e['wall_ms'] for e in ok], 0)} ms (median / p99 / max), total {fmt(p['total_ms'], 0)} ms")
    return "\n".join(rows)


STOPPED = "STOPPED (seen->resumed)"


def floor_stops(runs):
    """The floor's runs that printed their stop figures, and those figures."""
    ok = [f for f in runs if f["code"] == 0 and STOPPED in f["phases"]]
    return ok, [f["phases"][STOPPED] for f in ok]


def floor_stops_table(stops):
    rows = ["| condition | graft applies ok | graft apply: longest single-thread stop ms | graft revert: longest single-thread stop ms "
            "| most stopped at once, apply / revert (max) | graft apply wall ms | floor runs ok (stops) "
            "| floor: one stop ms, median / p99 / max | floor: longest stop of a run ms, median over runs | floor: interrupt → stop seen, p99 ms |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    ratios = ["| condition | graft apply longest p99 / floor stop p99 (goal 1: ≤ 2) | graft apply longest median / floor stop p99 "
              "| graft apply longest p99 / floor stop max | graft apply longest median / floor run's longest median "
              "| graft revert longest p99 / floor stop p99 |",
              "|---|---|---|---|---|---|"]
    for condition, result in stops.items():
        applies = [g["apply"] for g in result["graft"]]
        ok = [a for a in applies if a["code"] == 0]
        reverts = [g["revert"] for g in result["graft"] if g["revert"] and g["revert"]["code"] == 0]
        floor_ok, stopped = floor_stops(result["floor"])
        waits = [f["phases"]["waitpid (until stopped)"]["p99_ms"] for f in floor_ok if "waitpid (until stopped)" in f["phases"]]
        most = [a["most_stopped"] for a in ok if a["most_stopped"] is not None]
        most_revert = [r["most_stopped"] for r in reverts if r["most_stopped"] is not None]
        floor_p99 = median([s["p99_ms"] for s in stopped])
        floor_max = max([s["max_ms"] for s in stopped], default=None)
        floor_run_max = median([s["max_ms"] for s in stopped])
        apply_longest = summary([a["longest_stop_ms"] for a in ok])
        revert_longest = summary([r["longest_stop_ms"] for r in reverts])
        rows.append(
            f"| {condition} | {len(ok)}/{len(applies)} | {dist([a['longest_stop_ms'] for a in ok], 3)} "
            f"| {dist([r['longest_stop_ms'] for r in reverts], 3)} "
            f"| {max(most) if most else '–'} / {max(most_revert) if most_revert else '–'} "
            f"| {fmt(median([a['wall_ms'] for a in ok]), 0)} "
            f"| {len(floor_ok)}/{len(result['floor'])} ({sum(s['n'] for s in stopped)}) "
            f"| {fmt(median([s['median_ms'] for s in stopped]), 3)} / {fmt(floor_p99, 3)} / {fmt(floor_max, 3)} "
            f"| {fmt(floor_run_max, 3)} | {fmt(median(waits), 3)} |")
        ratios.append(f"| {condition} | {fmt(ratio(apply_longest['p99'], floor_p99), 1)} "
                      f"| {fmt(ratio(apply_longest['median'], floor_p99), 1)} "
                      f"| {fmt(ratio(apply_longest['p99'], floor_max), 1)} "
                      f"| {fmt(ratio(apply_longest['median'], floor_run_max), 1)} "
                      f"| {fmt(ratio(revert_longest['p99'], floor_p99), 1)} |")
    failures = [f"- {condition}: graft {op} exit code {g[op]['code']}: {g[op]['error'][:160]}"
                for condition, result in stops.items() for g in result["graft"] for op in ("apply", "revert")
                if g[op] and g[op]["code"] != 0]
    failures += [f"- {condition}: stop-floor exit code {f['code']}: {f['error'][:160]}"
                 for condition, result in stops.items() for f in result["floor"] if f["code"] != 0]
    return ("\n".join(rows)
            + "\n\n(graft: median / p99 / max over the applies or reverts, each one figure, the longest any one thread "
              "was stopped; floor: one stop's figures from each stop-floor run, median of the runs' medians / "
              "median of the runs' p99 / largest of the runs' maxima; a run stops every thread once per round, "
              "so its longest stop is over many more stops than one apply's)\n\nRatios, same run and server:\n\n"
            + "\n".join(ratios) + ("\n\n" + "\n".join(failures) if failures else ""))


def idle_threads_table(result):
    rows = ["| rep | apply exit / wall ms | apply: longest stop ms / most stopped / attempts | revert exit / wall ms "
            "| revert: longest stop ms / most stopped | floor: threads | floor: seize ms | floor: one pass, every thread stopped once, ms "
            "| floor: one stop p99 / max ms |",
            "|---|---|---|---|---|---|---|---|---|"]
    for i, r in enumerate(result["reps"]):
        a, v, f = r["apply"], r["revert"] or {}, r["floor"]
        stopped = f["phases"].get(STOPPED, {})
        rows.append(f"| {i + 1} | {a['code']} / {fmt(a['wall_ms'], 0)} "
                    f"| {fmt(a['longest_stop_ms'])} / {fmt(a['most_stopped'])} / {fmt(a['attempts'])} "
                    f"| {fmt(v.get('code'))} / {fmt(v.get('wall_ms'), 0)} "
                    f"| {fmt(v.get('longest_stop_ms'))} / {fmt(v.get('most_stopped'))} "
                    f"| {fmt(f['threads'])} | {fmt(f['seize_ms'], 1)} | {fmt(f['pass_ms'], 1)} "
                    f"| {fmt(stopped.get('p99_ms'), 3)} / {fmt(stopped.get('max_ms'), 3)} |")
    applies = [r["apply"]["wall_ms"] for r in result["reps"] if r["apply"]["code"] == 0]
    reverts = [r["revert"]["wall_ms"] for r in result["reps"] if r["revert"] and r["revert"]["code"] == 0]
    passes = [r["floor"]["pass_ms"] for r in result["reps"] if r["floor"]["code"] == 0]
    attached = [r["floor"]["pass_ms"] + r["floor"]["seize_ms"] for r in result["reps"]
                if r["floor"]["code"] == 0 and r["floor"]["seize_ms"] is not None and r["floor"]["pass_ms"] is not None]
    errors = [f"- graft {op} exit code {r[op]['code']}: {r[op]['error'][:160]}"
              for r in result["reps"] for op in ("apply", "revert") if r[op] and r[op]["code"] != 0]
    errors += [f"- stop-floor exit code {r['floor']['code']}: {r['floor']['error'][:160]}"
               for r in result["reps"] if r["floor"]["code"] != 0]
    return ("\n".join(rows)
            + f"\n\nMedians, same run and server: graft apply {fmt(median(applies), 0)} ms, revert {fmt(median(reverts), 0)} ms; "
              f"floor one pass {fmt(median(passes), 1)} ms, seize + one pass {fmt(median(attached), 1)} ms. "
              f"Ratios: apply / floor pass {fmt(ratio(median(applies), median(passes)), 1)}, "
              f"revert / floor pass {fmt(ratio(median(reverts), median(passes)), 1)}, "
              f"apply / (floor seize + pass) {fmt(ratio(median(applies), median(attached)), 1)}."
            + ("\n\n" + "\n".join(errors) if errors else ""))
