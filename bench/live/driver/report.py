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
