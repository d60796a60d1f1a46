#!/usr/bin/env python3
"""Fits the polynomial coefficients of `crates/kernels/src/tanh.rs` (needs `pip install mpmath`).

Two weighted minimax problems, solved with a plain Remez exchange in 60-digit arithmetic:

* `small`: tanh(x) ~ x + x^3 * P(x^2) on |x| <= C, minimising the *relative* error of tanh,
  i.e. P(s) ~ (tanh(x) - x) / x^3 with weight x^3 / tanh(x), s = x^2.
* `exp`:   e^(2h) ~ 1 + h * Q(h) on |h| <= L (slightly above ln(2)/4, to cover the rounding of
  k = round(2a / ln 2)), minimising the relative error of e^(2h).

The coefficients are then rounded to the target type, either all at once or one at a time
(lowest degree first, re-fitting the remaining ones after each rounding); the script keeps
whichever gives the smaller error on a fine uniform grid. Usage:

    python3 crates/kernels/tools/tanh_fit.py f32 small 0.75 4     # C = 0.75, P of degree 4
    python3 crates/kernels/tools/tanh_fit.py f64 exp 0.1735 10    # L = 0.1735, Q of degree 10

It prints the coefficients (as Rust literals, shortest round-trip form) and the max weighted
error before and after rounding. This script is ours; it is not used by the build.
"""
import struct
import sys

import mpmath as mp

mp.mp.dps = 60


def round_to(x, ty):
    f = float(x)  # correctly rounded to binary64
    if ty == "f64":
        return mp.mpf(f)
    # Round binary64 -> binary32 correctly: round the mpf directly via struct on the f64 is a
    # double rounding, so go through an exact check of both neighbours instead.
    g = struct.unpack("f", struct.pack("f", f))[0]
    cands = [g]
    bits = struct.unpack("I", struct.pack("f", g))[0]
    for b in (bits - 1, bits + 1):
        cands.append(struct.unpack("f", struct.pack("I", b & 0xFFFFFFFF))[0])
    return mp.mpf(min(cands, key=lambda c: abs(mp.mpf(c) - x)))


def problem(kind, bound):
    if kind == "small":
        lo, hi = mp.mpf(0), mp.mpf(bound) ** 2

        def wg(s):  # weight * target, and weight
            if s == 0:
                return mp.mpf(0), mp.mpf(0)
            x = mp.sqrt(s)
            t = mp.tanh(x)
            return (t - x) / t, x**3 / t

    else:
        lo, hi = -mp.mpf(bound), mp.mpf(bound)

        def wg(h):
            if h == 0:
                return mp.mpf(0), mp.mpf(0)
            e = mp.exp(2 * h)
            return (e - 1) / e, h / e

    return lo, hi, wg


def remez(lo, hi, wg, powers, fixed, iters=30, grid=4000):
    """Minimax of W*(sum c_j t^j + sum fixed - G) over the free `powers`."""
    n = len(powers)
    m = n + 1
    ref = [lo + (hi - lo) * (1 - mp.cos(mp.pi * i / (m - 1))) / 2 for i in range(m)]
    ts = [lo + (hi - lo) * (1 - mp.cos(mp.pi * i / (grid - 1))) / 2 for i in range(grid)]
    wgs = [wg(t) for t in ts]

    def fixed_at(t):
        return sum(c * t**p for p, c in fixed.items())

    coeffs, lev = None, None
    for _ in range(iters):
        a = mp.matrix(m, m)
        b = mp.matrix(m, 1)
        for i, t in enumerate(ref):
            wgt, w = wg(t)
            if abs(w) < mp.mpf(10) ** -3 * abs(hi - lo) ** 3:
                # The weight vanishes there (x = 0 or h = 0), which would force the
                # levelled error to 0: move the point off it.
                t = t + (hi - lo) * mp.mpf(2) / 100
                ref[i] = t
                wgt, w = wg(t)
            for j, p in enumerate(powers):
                a[i, j] = w * t**p
            a[i, n] = -((-1) ** i)
            b[i] = wgt - w * fixed_at(t)
        sol = mp.lu_solve(a, b)
        coeffs = [sol[j] for j in range(n)]
        lev = abs(sol[n])

        def err(t, wgt_w):
            wgt, w = wgt_w
            return w * (sum(c * t**p for c, p in zip(coeffs, powers)) + fixed_at(t)) - wgt

        es = [err(t, x) for t, x in zip(ts, wgs)]
        # local extrema of |e| (endpoints included), then an alternating subsequence
        ext = []
        for i in range(grid):
            l = abs(es[i - 1]) if i > 0 else -1
            r = abs(es[i + 1]) if i + 1 < grid else -1
            if abs(es[i]) >= l and abs(es[i]) >= r:
                ext.append(i)
        alt = []
        for i in ext:
            if alt and mp.sign(es[i]) == mp.sign(es[alt[-1]]):
                if abs(es[i]) > abs(es[alt[-1]]):
                    alt[-1] = i
            else:
                alt.append(i)
        while len(alt) > m:  # drop the smaller end
            if abs(es[alt[0]]) < abs(es[alt[-1]]):
                alt.pop(0)
            else:
                alt.pop()
        if len(alt) < m:
            break
        ref = [ts[i] for i in alt]
        emax = max(abs(e) for e in es)
        if emax <= lev * (1 + mp.mpf(10) ** -6):
            break
    emax = max(abs(err(t, x)) for t, x in zip(ts, wgs))
    if len(alt) < m:
        print(f"// warning: only {len(alt)} alternation points of {m}")
    return coeffs, emax


def max_err(lo, hi, wg, coeffs, grid=20000):
    ts = [lo + (hi - lo) * i / (grid - 1) for i in range(grid)]
    return max(abs(wg(t)[1] * sum(c * t**p for p, c in coeffs.items()) - wg(t)[0]) for t in ts)


def literal(v, ty):
    if ty == "f64":
        return repr(v)
    for digits in range(1, 12):  # shortest literal that round-trips through f32
        cand = f"{v:.{digits}e}"
        if struct.unpack("f", struct.pack("f", float(cand)))[0] == v:
            return cand
    raise AssertionError(v)


def main():
    ty, kind, bound, deg = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    lo, hi, wg = problem(kind, bound)
    powers = list(range(deg + 1))
    # e^(2h) = 1 + 2h + 2h^2 + ...: the two leading coefficients of Q are exact in binary and
    # optimal to first order (the weight vanishes at h = 0), so they are pinned to 2.
    pinned = {0: mp.mpf(2), 1: mp.mpf(2)} if kind == "exp" else {}
    free = [p for p in powers if p not in pinned]
    cs, e0 = remez(lo, hi, wg, free, pinned)
    # Candidate 1: round every coefficient once.
    once = dict(pinned)
    once.update({p: round_to(c, ty) for p, c in zip(free, cs)})
    # Candidate 2: round one at a time, lowest degree first, re-fitting the others.
    casc = dict(pinned)
    for p in free:
        rest = [q for q in free if q not in casc]
        c2, _ = remez(lo, hi, wg, rest, casc)
        casc[p] = round_to(c2[0], ty)
    e_once, e_casc = max_err(lo, hi, wg, once), max_err(lo, hi, wg, casc)
    best, e1, how = (once, e_once, "rounded once") if e_once <= e_casc else (casc, e_casc, "rounded one by one")
    print(f"// {ty} {kind} bound={bound} degree={deg}: minimax rel. error {mp.nstr(e0, 5)} "
          f"= 2^{mp.nstr(mp.log(e0, 2), 4)}; {how}: {mp.nstr(e1, 5)} = 2^{mp.nstr(mp.log(e1, 2), 4)}")
    for p in powers:
        print(f"    {literal(float(best[p]), ty)}, // degree {p}")


if __name__ == "__main__":
    main()
