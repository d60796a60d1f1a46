#!/usr/bin/env python3
"""Markdown table of the `gemm` criterion bench: median GFLOP/s per impl and shape, % of a
measured FMA peak, and the ratio to matrixmultiply from the same run.

    python3 benches/gemm_table.py --peak-f32 101.5 --peak-f64 50.2 [criterion dir ...]

Reads `<criterion dir>/<group>/<impl>/<shape>/new/estimates.json` (the last run in that
directory; default `target/criterion`) and uses the *median* point estimate (criterion's
console line shows the mean). Given several directories (copies of `target/criterion`
after separate runs), each cell shows the runs' values as `run 1 / run 2 / ...`, every
ratio computed within its own run.
"""

import argparse
import json
import os
import re
import sys


def flops(shape):
    """2*m*n*k from a shape id such as `sq-1024`, `step-20x650x650`, `tiny-5x3x4`."""
    kind, dims = shape.split("-", 1)
    if kind == "sq":
        n = int(dims)
        return 2 * n * n * n
    m, k, n = (int(x) for x in dims.split("x"))
    return 2 * m * n * k


def load(root, group):
    out = {}
    gdir = os.path.join(root, group)
    if not os.path.isdir(gdir):
        return out
    for impl in sorted(os.listdir(gdir)):
        idir = os.path.join(gdir, impl)
        if not os.path.isdir(idir) or impl == "report":
            continue
        for shape in os.listdir(idir):
            est = os.path.join(idir, shape, "new", "estimates.json")
            if not os.path.isfile(est):
                continue
            with open(est) as f:
                median_ns = json.load(f)["median"]["point_estimate"]
            out[(impl, shape)] = median_ns
    return out


SHAPE_ORDER = ["tiny", "sq", "step", "batch", "ta"]


def shape_key(shape):
    kind, dims = shape.split("-", 1)
    nums = [int(x) for x in re.findall(r"\d+", dims)]
    return (SHAPE_ORDER.index(kind) if kind in SHAPE_ORDER else 99, nums)


def cell(values):
    """The per-run values of one cell, `–` where a run lacks it."""
    return " / ".join(v if v is not None else "–" for v in values)


def table(roots, group, peak):
    runs = [load(r, group) for r in roots]
    keys = set().union(*runs)
    if not keys:
        return f"(no data for {group})\n"
    impls = sorted({i for i, _ in keys}, key=lambda i: (i != "matrixmultiply", i))
    ours = [i for i in impls if i.startswith("ours-")]
    others = [i for i in impls if not i.startswith("ours-")]
    shapes = sorted({s for _, s in keys}, key=shape_key)
    lines = []
    head = ["shape"]
    for i in ours:
        head += [f"{i} GFLOP/s", "% peak", "vs mm"]
    head += [f"{i} GFLOP/s" for i in others]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for s in shapes:
        row = [f"`{s}`"]
        for i in ours:
            g, pct, vs = [], [], []
            for data in runs:
                t, mm = data.get((i, s)), data.get(("matrixmultiply", s))
                g.append(f"{flops(s) / t:.1f}" if t else None)
                pct.append(f"{100 * flops(s) / t / peak:.0f}%" if t else None)
                vs.append(f"{mm / t:.2f}x" if t and mm else None)
            if all(v is None for v in g):
                row += ["–", "–", "–"]
            else:
                row += [cell(g), cell(pct), cell(vs)]
        for i in others:
            vals = [data.get((i, s)) for data in runs]
            vals = [f"{flops(s) / t:.2f}" if t else None for t in vals]
            row.append("–" if all(v is None for v in vals) else cell(vals))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def threads_table(roots, peak):
    runs = [load(r, "gemm_threads") for r in roots]
    keys = sorted(set().union(*runs))
    if not keys:
        return "(no data for gemm_threads)\n"
    lines = ["| impl | GFLOP/s | % of 1-core peak | speed-up vs 1 thread |", "|---|---|---|---|"]
    for i, s in keys:
        g, pct, up = [], [], []
        for data in runs:
            t, one = data.get((i, s)), data.get(("ours-1t", "sq-2048"))
            g.append(f"{flops(s) / t:.1f}" if t else None)
            pct.append(f"{100 * flops(s) / t / peak:.0f}%" if t else None)
            up.append(f"{one / t:.2f}x" if t and one else None)
        lines.append(f"| `{i}/{s}` | {cell(g)} | {cell(pct)} | {cell(up)} |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("roots", nargs="*", default=["target/criterion"])
    ap.add_argument("--peak-f32", type=float, required=True)
    ap.add_argument("--peak-f64", type=float, required=True)
    args = ap.parse_args()
    sys.stdout.write("### gemm_f32\n\n" + table(args.roots, "gemm_f32", args.peak_f32))
    sys.stdout.write("\n### gemm_f64\n\n" + table(args.roots, "gemm_f64", args.peak_f64))
    sys.stdout.write("\n### gemm_threads (f32)\n\n" + threads_table(args.roots, args.peak_f32))


if __name__ == "__main__":
    main()
