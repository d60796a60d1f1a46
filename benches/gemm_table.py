#!/usr/bin/env python3
"""Markdown table of the `gemm` criterion bench: median GFLOP/s per impl and shape, % of a
measured FMA peak, and the ratio to matrixmultiply from the same run.

    python3 benches/gemm_table.py --peak-f32 101.5 --peak-f64 50.2 [target/criterion]

Reads `<criterion dir>/<group>/<impl>/<shape>/new/estimates.json` (the last run) and uses
the *median* point estimate (criterion's console line shows the mean).
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


def table(root, group, peak):
    data = load(root, group)
    if not data:
        return f"(no data for {group})\n"
    impls = sorted({i for i, _ in data}, key=lambda i: (i != "matrixmultiply", i))
    ours = [i for i in impls if i.startswith("ours-")]
    others = [i for i in impls if not i.startswith("ours-")]
    shapes = sorted({s for _, s in data}, key=shape_key)
    lines = []
    head = ["shape"]
    for i in ours:
        head += [f"{i} GFLOP/s", "% peak", "vs mm"]
    head += [f"{i} GFLOP/s" for i in others]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for s in shapes:
        row = [f"`{s}`"]
        mm = data.get(("matrixmultiply", s))
        for i in ours:
            t = data.get((i, s))
            if t is None:
                row += ["–", "–", "–"]
                continue
            g = flops(s) / t
            row += [f"{g:.1f}", f"{100 * g / peak:.0f}%", f"{mm / t:.2f}x" if mm else "–"]
        for i in others:
            t = data.get((i, s))
            row.append(f"{flops(s) / t:.2f}" if t else "–")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def threads_table(root, peak):
    data = load(root, "gemm_threads")
    if not data:
        return "(no data for gemm_threads)\n"
    lines = ["| impl | GFLOP/s | % of 1-core peak | speed-up vs 1 thread |", "|---|---|---|---|"]
    one = data.get(("ours-1t", "sq-2048"))
    for (i, s), t in sorted(data.items()):
        g = flops(s) / t
        lines.append(f"| `{i}/{s}` | {g:.1f} | {100 * g / peak:.0f}% | {one / t:.2f}x |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root", nargs="?", default="target/criterion")
    ap.add_argument("--peak-f32", type=float, required=True)
    ap.add_argument("--peak-f64", type=float, required=True)
    args = ap.parse_args()
    sys.stdout.write("### gemm_f32\n\n" + table(args.root, "gemm_f32", args.peak_f32))
    sys.stdout.write("\n### gemm_f64\n\n" + table(args.root, "gemm_f64", args.peak_f64))
    sys.stdout.write("\n### gemm_threads (f32)\n\n" + threads_table(args.root, args.peak_f32))


if __name__ == "__main__":
    main()
