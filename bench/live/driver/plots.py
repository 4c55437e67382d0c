# SPDX-License-Identifier: MIT
"""Graphs drawn with gnuplot (Debian's gnuplot-nox) as PNG (an SVG of
every request would weigh megabytes): the pauses of
every apply per model and patch size, and request latency over time
around the moment of a patch."""
import math
import os
import shutil
import subprocess

MODEL_STYLE = {  # x offset within a patch size, point type, colour
    "per-thread": (-0.12, 7, "#1f77b4"),
    "stop-world": (0.0, 5, "#d62728"),
    "gdb (all stopped)": (0.12, 9, "#2ca02c"),
}


def draw(ctx, loaded):
    if not shutil.which("gnuplot"):
        print("bench: gnuplot is not installed; no graphs (bench/install-deps.sh installs it)")
        return []
    os.makedirs(ctx.graphs, exist_ok=True)
    return [pause_graph(ctx, loaded["operations"]),
            latency_graph(ctx, loaded)]


def write(path, rows):
    with open(path, "w") as f:
        for row in rows:
            f.write(" ".join("NaN" if v is None else str(v) for v in row) + "\n")


def pause_graph(ctx, operations):
    plots = {"own": [], "global": [], "graft": []}
    for model, (offset, point, colour) in MODEL_STYLE.items():
        ops = [o for o in operations if o["model"] == model and o["code"] == 0]
        if not ops:
            continue
        data = ctx.raw(f"pause-{model.split()[0]}.dat")
        write(data, [(math.log10(o["size"]) + offset, o["own_gap_ms"], o["global_gap_ms"],
                      o.get("graft_longest_stop_ms")) for o in ops])
        for panel, column in (("own", 2), ("global", 3), ("graft", 4)):
            if panel == "graft" and model.startswith("gdb"):
                continue
            plots[panel].append(f"'{data}' using 1:{column} with points pt {point} ps 0.8 lc rgb '{colour}' title '{model}'")
    output = os.path.join(ctx.graphs, "pause.png")
    script = f"""set terminal pngcairo size 1500,500 font 'sans,10'
set output '{output}'
set multiplot layout 1,3 title 'Pauses while applying a patch to the 32-worker server under full load (each point one apply)'
set logscale y
set xrange [-0.4:2.4]
set xtics ('1 fn' 0, '10 fn' 1, '100 fn' 2)
set grid ytics
set key top left
set ylabel 'ms'
set title 'longest gap of any one worker (inside)'
plot {', '.join(plots['own'])}
set title 'longest time no worker progressed (inside)'
plot {', '.join(plots['global'])}
set title 'longest single-thread stop (graft --json)'
plot {', '.join(plots['graft'])}
unset multiplot
"""
    gnuplot(ctx, script, "pause")
    return output


def latency_graph(ctx, loaded):
    size = max(o["size"] for o in loaded["operations"] if o["tool"] == "graft")
    panels = []
    for model in MODEL_STYLE:
        op = next((o for o in loaded["operations"] if o["model"] == model and o["code"] == 0
                   and (o["size"] == size or o["tool"] == "gdb")), None)
        if op is None:
            continue
        data = ctx.raw(f"latency-{model.split()[0]}.dat")
        write(data, [((sent + lat - op["start"]) / 1e9, lat / 1e6) for sent, lat in loaded["samples"]
                     if -3e9 <= sent + lat - op["start"] <= 4e9])
        label = f"{model}, {op['size']}-function patch"
        panels.append((label, data, (op["end"] - op["start"]) / 1e9, MODEL_STYLE[model][2]))
    output = os.path.join(ctx.graphs, "latency.png")
    lines = [f"set terminal pngcairo size 1200,{300 * len(panels)} font 'sans,10'",
             f"set output '{output}'",
             f"set multiplot layout {len(panels)},1 title 'Request latency around the patch (0 = graft/gdb started; shaded: until it exited)'",
             "set logscale y", "set xrange [-3:4]", "set grid", "set ylabel 'latency ms'", "set xlabel 's'"]
    for i, (label, data, wall, colour) in enumerate(panels):
        lines += [f"set object 1 rect from 0, graph 0 to {wall}, graph 1 fc rgb '#eeeeee' behind",
                  f"set title '{label}'",
                  f"plot '{data}' using 1:2 with dots lc rgb '{colour}' notitle"]
    lines.append("unset multiplot")
    gnuplot(ctx, "\n".join(lines) + "\n", "latency")
    return output


def gnuplot(ctx, script, name):
    path = ctx.raw(f"{name}.gp")
    with open(path, "w") as f:
        f.write(script)
    subprocess.run(["gnuplot", path], check=True)
