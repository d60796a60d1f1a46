#!/usr/bin/env python3
"""recur beside the peer harness, shape by shape and round by round, medians per system.

The harness's own scripts time every peer over the whole shapes file, then recur's probe
times recur over it: minutes apart, so a slow spell of a shared machine lands on one
side only. Here each shape is timed by the harness (`gemm.sh` on a one-line shapes file,
or `rnn.sh SHAPE`) and right after by recur's probe (`peers_gemm` / `peers_rnn`), for
every shape, and the whole list is run ROUNDS times; each system's value for a shape is
the median over the rounds. Both sides keep their own per-call protocol (warm-up, then
the median of timed batches).

    python3 benches/peers_interleaved.py gemm HARNESS_DIR SHAPES_FILE [ROUNDS]
        > RESULT / PEAK lines (medians), for the harness's table.py
    python3 benches/peers_interleaved.py rnn HARNESS_DIR tiny,simple,better,mid,large [ROUNDS]
        > a Markdown table: fwd+bwd median ms per system, and oneDNN / recur

HARNESS_DIR is the directory of the peer harness (gemm.sh, rnn.sh, table.py); recur's
probes are the release builds of `examples/peers_gemm.rs` and `examples/peers_rnn.rs`
(`cargo build --release --examples` first). Single-threaded.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "target", "release", "examples")
ENV = dict(os.environ, RAYON_NUM_THREADS="1")


def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, env=ENV).stdout


def gemm(harness, shapes_file, rounds):
    shapes = []
    with open(shapes_file) as f:
        for line in f:
            line = line.split("#")[0].strip()
            if line and line not in shapes:
                shapes.append(line)
    values = defaultdict(list)  # (system, key) -> GFLOP/s per round
    rest = {}  # (system, key) -> the other fields of the last RESULT line
    peaks = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        one = os.path.join(tmp, "shape.txt")
        for r in range(rounds):
            for shape in shapes:
                with open(one, "w") as f:
                    f.write(shape + "\n")
                out = run(["bash", os.path.join(harness, "gemm.sh"), one, "1"])
                out += run([os.path.join(EXAMPLES, "peers_gemm"), one, "1"])
                for line in out.splitlines():
                    w = line.split()
                    if len(w) >= 3 and w[0] == "PEAK":
                        peaks[w[1]].append(float(w[2]))
                    elif len(w) >= 8 and w[0] == "RESULT" and w[7] != "n/a":
                        key = (w[1], " ".join(w[2:7]))
                        values[key].append(float(w[7]))
                        rest[key] = w[8:]
                print(f"round {r + 1}/{rounds}: {shape}", file=sys.stderr)
    for kind, v in peaks.items():
        print(f"PEAK {kind} {statistics.median(v):.1f}")
    for (system, key), v in values.items():
        tail = " ".join(rest[(system, key)][2:])  # calls and error of the last round
        lo, hi = min(v), max(v)
        print(f"RESULT {system} {key} {statistics.median(v):.2f} {lo:.2f} {hi:.2f} {tail}")


def rnn(harness, shapes, rounds):
    ms = defaultdict(list)  # (system, shape, mode) -> median ms per round
    for r in range(rounds):
        for shape in shapes.split(","):
            out = run(["bash", os.path.join(harness, "rnn.sh"), shape, "1"])
            out += run([os.path.join(EXAMPLES, "peers_rnn"), shape, "1"])
            for line in out.splitlines():
                if not line.startswith("{"):
                    continue
                d = json.loads(line)
                system = "recur" if d["system"] == "recur" else "oneDNN"
                ms[(system, d["shape"], d["mode"])].append(d["median_ms"])
            print(f"round {r + 1}/{rounds}: {shape}", file=sys.stderr)
    print("| shape | mode | oneDNN ms | recur ms | oneDNN / recur |")
    print("|---|---|---|---|---|")
    for shape in shapes.split(","):
        for mode in ("fwd", "fwd+bwd"):
            d = ms.get(("oneDNN", shape, mode))
            o = ms.get(("recur", shape, mode))
            if not d or not o:
                continue
            dm, om = statistics.median(d), statistics.median(o)
            print(f"| {shape} | {mode} | {dm:.4g} | {om:.4g} | **{dm / om:.2f}** |")


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in ("gemm", "rnn"):
        sys.exit(__doc__)
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    if sys.argv[1] == "gemm":
        gemm(sys.argv[2], sys.argv[3], rounds)
    else:
        rnn(sys.argv[2], sys.argv[3], rounds)


if __name__ == "__main__":
    main()
