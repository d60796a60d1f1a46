//! Register-level math shared by the operations: `tanh` and `e^x` of a vector, the
//! tanh-backward factor, and the tanh loop over a contiguous run of memory that the slice
//! kernel and the GEMM's tanh epilogue share. Generic over the SIMD primitives
//! ([`Simd`]), `#[inline(always)]`: each operation compiles them inside its tier's
//! target features.
//!
//! One branch-free algorithm per function runs on every tier and for slice tails (a
//! zero-padded vector), using only correctly rounded IEEE operations: every tier gives the
//! same bits, and a tail element the same bits as a full lane. The accuracy of `tanh` is
//! documented on `recur_kernels::tanh` (the module `tanh`).

use crate::simd::{gather, scatter, Simd, SimdElement};

pub(crate) use consts::VMath;

/// Lane-wise tanh of a vector, with the accuracy documented in the module.
///
/// A pure function of `(s, x)`, branch-free and lane-independent, so that the slice kernels,
/// their zero-padded tails and the GEMM epilogues (on registers) give the same bits. The
/// algorithm, on `a = |x|` (the sign is put back at the end, so the function is exactly
/// odd):
///
/// * `a <= C` (`C` = [`VMath::SMALL_MAX`]), or NaN: `tanh(a) = a + a³·P(a²)` with a
///   minimax `P`. Tiny and subnormal `a` give `a³ = 0`, hence exactly `a`.
/// * `a > C`: `tanh(a) = 1 − 2/(E + 1)` with `E = e^{2a}`, evaluated as
///   - `a` clamped to [`VMath::SAT`] (where `tanh` already rounds to 1), so `E` stays
///     finite and ±inf gives ±1;
///   - `E = 2^k · e^{2h}`, `k = round(2a / ln 2)`, `h = a − k·ln2/2` (two-constant
///     Cody–Waite, `|h| <= ln2/4`), `e^{2h} = 1 + h·Q(h)` with a minimax `Q` evaluated by
///     second-order Horner; the whole branch works on `2E` (the factor 2 is folded into
///     `Q`'s coefficients, exactly), which saves a multiply below;
///   - `g = 1/(E + 1)` by one division, then its error is compensated to second order:
///     `2E + 2` is split exactly into `d2 + dl2` (Fast2Sum), and the residual
///     `r2 = 2 − g·d2 − g·dl2 = 2(1 − g(E + 1))` is formed with two FMAs (the inner one
///     exact), so that `2/(E + 1) = 2g + g·r2` to about 2⁻⁴⁶ relative;
///   - `1 − 2g` is formed as an exact `t + tl` (`t = 1 − 2g`, `tl` its rounding error, both
///     by FMA), then `y = t + (tl − g·r2)`: only that last addition rounds noticeably.
///
///   What is left is the final rounding (½ ulp) plus the error of `E` scaled by
///   `2/(E + 1) <= 0.49` (`a > C >= atanh(1/2)` keeps the result in `[0.5, 1]`, where one
///   ulp is one fixed absolute step).
///
/// Cost per vector (`f32`): 1 division and 38 other vector operations, 23 of them
/// multiplies/FMAs; `f64` has longer polynomials (10 and 11 coefficients instead of 5 and
/// 6). The dependency chain (about 65 cycles on Zen 3) binds more than the FMA pipes: the
/// slice loop ([`tanh_run`]) pipelines two halves of it ([`tanh_front`], [`tanh_back`]).
#[inline(always)]
pub(crate) fn tanh_vec<T: VMath, S: Simd<T>>(s: S, x: S::V) -> S::V {
    let [y] = tanh_back(s, tanh_front(s, [x]));
    y
}

/// What the first half of [`tanh_vec`] hands to the second, per vector: the sign of `x`,
/// `a = |x|`, the polynomial branch's result and `2e^{2a}` (clamped).
#[derive(Clone, Copy)]
pub(crate) struct TanhMid<V> {
    sign: V,
    a: V,
    y_small: V,
    e2: V,
}

// `each!(s, N, |i| e)`: the array of `e` for i = 0..N (unrolled: N is a constant). A plain
// loop, not `array::from_fn`: a closure does not inherit the caller's target features, so
// its SIMD operations would become out-of-line calls.
macro_rules! each {
    ($s:ident, $n:ident, |$i:ident| $e:expr) => {{
        let mut out = [$s.splat(T::ZERO); $n];
        for $i in 0..$n {
            out[$i] = $e;
        }
        out
    }};
}

/// The first half of the tanh algorithm ([`tanh_vec`]), up to `2e^{2a}`, for `N` vectors,
/// each step issued for all `N` before the next: every lane sees the same operations
/// whatever `N` is, so the bits are those of `tanh_vec`.
///
/// The algorithm is one long dependency chain per vector (about 65 cycles on Zen 3, a
/// division among them). Split in two halves of about the same latency, a loop can run the
/// second half of one block beside the first half of the next ([`tanh_run`]): two
/// independent chains half as long, which the out-of-order window overlaps where it could
/// not overlap whole chains.
#[inline(always)]
pub(crate) fn tanh_front<T: VMath, S: Simd<T>, const N: usize>(
    s: S,
    x: [S::V; N],
) -> [TanhMid<S::V>; N] {
    let two = s.splat(T::ONE + T::ONE);
    let sign = each!(s, N, |i| s.and(x[i], s.splat(-T::ZERO)));
    let a = each!(s, N, |i| s.xor(x[i], sign[i]));

    // a <= C: a + a³·P(a²).
    let a2 = each!(s, N, |i| s.mul(a[i], a[i]));
    let a3 = each!(s, N, |i| s.mul(a[i], a2[i]));
    let p = horner(s, a2, T::SMALL);
    let y_small = each!(s, N, |i| s.fma(a3[i], p[i], a[i]));

    // a > C: 1 − 2/(e^{2a} + 1), with everything scaled by 2 (exact) to save a multiply.
    let ac = each!(s, N, |i| s.min(s.splat(T::SAT), a[i])); // min(SAT, NaN) is NaN: see `Simd::min`
    let k = each!(s, N, |i| s.round(s.mul(ac[i], s.splat(T::TWO_OVER_LN2))));
    let h_hi = each!(s, N, |i| s.fnma(k[i], s.splat(T::HALF_LN2_HI), ac[i]));
    // The low part of the reduction only enters through the final `h·Q`, so it is computed
    // beside `Q(h_hi)` instead of before it (shorter dependency chain; Q's argument being
    // off by k·HALF_LN2_LO <= 3e-8 moves e^{2h} by less than 2⁻³⁰ relative).
    let h = each!(s, N, |i| s.fnma(k[i], s.splat(T::HALF_LN2_LO), h_hi[i]));
    let q = horner2(s, h_hi, T::EXP2);
    let e2 = each!(s, N, |i| s.ldexp(s.fma(h[i], q[i], two), k[i])); // 2·e^{2ac} >= 2e^{2C}
    let mut mid = [TanhMid {
        sign: two,
        a: two,
        y_small: two,
        e2: two,
    }; N];
    for i in 0..N {
        mid[i] = TanhMid {
            sign: sign[i],
            a: a[i],
            y_small: y_small[i],
            e2: e2[i],
        };
    }
    mid
}

/// The second half of the tanh algorithm ([`tanh_vec`]): from `2e^{2a}` to the result.
#[inline(always)]
pub(crate) fn tanh_back<T: VMath, S: Simd<T>, const N: usize>(
    s: S,
    m: [TanhMid<S::V>; N],
) -> [S::V; N] {
    let one = s.splat(T::ONE);
    let two = s.splat(T::ONE + T::ONE);
    // 2e + 2 = d2 + dl2 exactly (Fast2Sum, e2 >= 2).
    let d2 = each!(s, N, |i| s.add(m[i].e2, two));
    let dl2 = each!(s, N, |i| s.sub(two, s.sub(d2[i], m[i].e2)));
    // g = 1/(e + 1), rounded; r2 = 2·(1 − g·(e + 1)), the inner FMA exact.
    let g = each!(s, N, |i| s.div(two, d2[i]));
    let r2 = each!(s, N, |i| s.fnma(g[i], dl2[i], s.fnma(g[i], d2[i], two)));
    // t ∈ [0.5, 1], and 1 − 2g = t + tl exactly (1 − t is exact).
    let t = each!(s, N, |i| s.fnma(two, g[i], one));
    let tl = each!(s, N, |i| s.fnma(two, g[i], s.sub(one, t[i])));
    // 1 − 2/(e + 1) = 1 − 2g·(1 + r) to second order in r = r2/2.
    let y_large = each!(s, N, |i| s.add(t[i], s.fnma(g[i], r2[i], tl[i])));
    each!(s, N, |i| {
        let small = s.lt(s.splat(T::SMALL_MAX), m[i].a);
        s.xor(s.select(small, y_large[i], m[i].y_small), m[i].sign)
    })
}

/// `c[0] + x·(c[1] + x·(c[2] + …))` (Horner; `c` is a constant, so this unrolls), for each
/// of `N` vectors.
#[inline(always)]
fn horner<T: SimdElement, S: Simd<T>, const N: usize>(s: S, x: [S::V; N], c: &[T]) -> [S::V; N] {
    // An index loop, not an iterator fold: see `horner2`.
    let mut i = c.len() - 1;
    let mut acc = [s.splat(c[i]); N];
    while i > 0 {
        i -= 1;
        // Loops, not closures: see `each!`.
        for v in 0..N {
            acc[v] = s.fma(acc[v], x[v], s.splat(c[i]));
        }
    }
    acc
}

/// `c[0] + c[1]·x + c[2]·x² + …` as a Horner scheme in `x²` over the pairs
/// `c[2i] + c[2i+1]·x` (second-order Horner): one more multiply than Horner, but the
/// pairs are independent, so the dependency chain is about half as long. For each of `N`
/// vectors.
#[inline(always)]
fn horner2<T: SimdElement, S: Simd<T>, const N: usize>(s: S, x: [S::V; N], c: &[T]) -> [S::V; N] {
    // Plain index loops over the constant `c`: LLVM unrolls them completely, whereas the
    // `chunks().rev().fold()` form was left as an out-of-line call (with `vzeroupper`).
    let n = c.len();
    // Loops over the N vectors, not closures: see `each!`.
    let mut x2 = x;
    for v in 0..N {
        x2[v] = s.mul(x[v], x[v]);
    }
    let mut i = n.div_ceil(2) - 1; // index of the top pair
    let mut acc = x;
    for v in 0..N {
        acc[v] = if 2 * i + 1 < n {
            s.fma(s.splat(c[2 * i + 1]), x[v], s.splat(c[2 * i]))
        } else {
            s.splat(c[2 * i])
        };
    }
    while i > 0 {
        i -= 1;
        for v in 0..N {
            let pair = s.fma(s.splat(c[2 * i + 1]), x[v], s.splat(c[2 * i]));
            acc[v] = s.fma(acc[v], x2[v], pair);
        }
    }
    acc
}

mod consts {
    use crate::simd::SimdElement;

    /// An element type with the constants of [`super::tanh_vec`] (implemented for `f32`
    /// and `f64`); the polynomial coefficients come from `crates/kernels/tools/tanh_fit.py`
    /// (weighted Remez, coefficients rounded to `T`).
    pub(crate) trait VMath: SimdElement {
        /// Largest `|x|` of the polynomial branch (`>= atanh(1/2)`).
        const SMALL_MAX: Self;
        /// `P` of `tanh(a) ≈ a + a³·P(a²)` on `[0, SMALL_MAX]`, lowest degree first.
        const SMALL: &'static [Self];
        /// `|x|` is clamped to this before `e^{2|x|}`; `tanh` rounds to 1 from well below.
        const SAT: Self;
        /// `2 / ln 2`.
        const TWO_OVER_LN2: Self;
        /// `ln(2)/2` rounded to the type.
        const HALF_LN2_HI: Self;
        /// `ln(2)/2 − HALF_LN2_HI`, rounded.
        const HALF_LN2_LO: Self;
        /// `2Q`, where `e^{2h} ≈ 1 + h·Q(h)` on `|h| <= 0.1734` (just above `ln(2)/4`):
        /// the kernel evaluates `2e^{2h} = 2 + h·(2Q)(h)`.
        const EXP2: &'static [Self];
    }

    impl VMath for f32 {
        const SMALL_MAX: f32 = 0.5625;
        // tools/tanh_fit.py f32 small 0.5625 4: relative error 2^-29.4 after rounding.
        const SMALL: &'static [f32] = &[
            -3.3333313e-01,
            1.3332437e-01,
            -5.3835757e-02,
            2.1000376e-02,
            -6.169614e-03,
        ];
        // tanh(x) rounds to 1 for x > 9.01.
        const SAT: f32 = 10.0;
        const TWO_OVER_LN2: f32 = 2.885_39;
        const HALF_LN2_HI: f32 = 0.346_573_6;
        const HALF_LN2_LO: f32 = -9.523_271e-10;
        // 2 × tools/tanh_fit.py f32 exp 0.1734 5: relative error 2^-27.8 after rounding.
        const EXP2: &'static [f32] = &[
            2.0 * 2.0,
            2.0 * 2.0,
            2.0 * 1.3333191e+00,
            2.0 * 6.6664886e-01,
            2.0 * 2.67913e-01,
            2.0 * 8.982417e-02,
        ];
    }

    impl VMath for f64 {
        const SMALL_MAX: f64 = 0.5625;
        // tools/tanh_fit.py f64 small 0.5625 9: relative error 2^-54.8 after rounding.
        const SMALL: &'static [f64] = &[
            -0.333_333_333_333_317_77,
            0.133_333_333_330_932_1,
            -0.053_968_253_839_704_335,
            0.021_869_485_120_240_867,
            -0.008_863_183_200_753_704,
            0.003_591_629_775_038_755,
            -0.001_452_777_680_266_280_3,
            0.000_577_849_439_141_040_8,
            -0.000_208_222_154_155_173_6,
            4.959_875_406_397_372_6e-5,
        ];
        // tanh(x) rounds to 1 for x > 19.07.
        const SAT: f64 = 20.0;
        const TWO_OVER_LN2: f64 = 2.885_390_081_777_926_8;
        const HALF_LN2_HI: f64 = 0.346_573_590_279_972_64;
        const HALF_LN2_LO: f64 = 1.159_523_406_923_149_8e-17;
        // 2 × tools/tanh_fit.py f64 exp 0.1734 10: relative error 2^-55.2 after rounding.
        const EXP2: &'static [f64] = &[
            2.0 * 2.0,
            2.0 * 2.0,
            2.0 * 1.333_333_333_332_954_7,
            2.0 * 0.666_666_666_665_915_7,
            2.0 * 0.266_666_666_769_300_34,
            2.0 * 0.088_888_889_092_070_16,
            2.0 * 0.025_396_816_197_280_608,
            2.0 * 0.006_349_188_137_317_804,
            2.0 * 0.001_411_269_936_239_472_8,
            2.0 * 0.000_282_852_464_138_240_4,
            2.0 * 4.705_576_365_371_690_4e-5,
        ];
    }
}

/// `dy · (1 − y²)`, lane-wise.
#[inline(always)]
pub(crate) fn tanh_backward_vec<T: SimdElement, S: Simd<T>>(s: S, y: S::V, dy: S::V) -> S::V {
    s.mul(dy, s.fnma(y, y, s.splat(T::ONE)))
}

/// Vectors per block of the pipelined slice loop, chosen with `examples/peers_tanh.rs`
/// against glibc's vector `tanhf` in alternated rounds. On Zen 4 (AVX2 tier) 4 beats 2 by
/// 5–7% and 3, 6 and 8 as well: the chain, not the pipes, binds (a plain Horner `Q`, one
/// multiply fewer, and a shifter rounding, one instruction fewer, both lost), so more
/// chains in flight pay for the spills. An older build on Zen 3 preferred 2.
const UNROLL: usize = 4;

/// `dst[i] = tanh(src[i])` for `i < n`: blocks of `UNROLL` vectors, software-pipelined
/// (while there are at least two), then single vectors, then a zero-padded partial
/// vector. Every element gets the bits of [`tanh_vec`].
///
/// # Safety
/// `src` readable and `dst` writable for `n` elements; they may be equal (in place) but
/// must not otherwise overlap.
#[inline(always)]
pub(crate) unsafe fn tanh_run<T: VMath, S: Simd<T>>(s: S, src: *const T, dst: *mut T, n: usize) {
    let lanes = S::LANES;
    let step = UNROLL * lanes;
    let mut i = 0;
    if n >= 2 * step {
        // Software-pipelined: each iteration runs the second half of the block before and
        // the first half of this one, two independent chains (see `tanh_front`).
        // SAFETY: step <= n.
        let mut mid = tanh_front(s, unsafe { load_block::<T, S, UNROLL>(s, src) });
        i = step;
        while i + step <= n {
            // SAFETY: i + step <= n. This block is read before the one before it is
            // written, and the two do not overlap, which makes the in-place case sound.
            unsafe {
                let x = load_block::<T, S, UNROLL>(s, src.add(i));
                let y = tanh_back(s, mid);
                mid = tanh_front(s, x);
                store_block(s, dst.add(i - step), y);
            }
            i += step;
        }
        // SAFETY: the last block read, at i − step, is inside `dst`'s n elements.
        unsafe { store_block(s, dst.add(i - step), tanh_back(s, mid)) };
    }
    while i + lanes <= n {
        // SAFETY: i + LANES <= n; reading a vector before writing it makes the in-place
        // case sound.
        unsafe { s.store(dst.add(i), tanh_vec(s, s.load(src.add(i)))) };
        i += lanes;
    }
    if i < n {
        // The tail runs the same vector code on a zero-padded vector, loaded and stored
        // in place (a masked load, split stores): through a buffer, a 4-element tail cost
        // two `memcpy` calls and a failed store-to-load forward, most of the time of the
        // GEMM's tanh epilogue on a 5 x 4 tile.
        // SAFETY: 1 <= n - i < LANES elements remain.
        unsafe {
            let v = gather(s, src.add(i), 1, n - i);
            scatter(s, dst.add(i), 1, n - i, tanh_vec(s, v));
        }
    }
}

/// `N` vectors from `p`, one after the other.
///
/// # Safety
/// `p` readable for `N·LANES` elements.
#[inline(always)]
unsafe fn load_block<T: SimdElement, S: Simd<T>, const N: usize>(s: S, p: *const T) -> [S::V; N] {
    let mut x = [s.splat(T::ZERO); N];
    for (v, xv) in x.iter_mut().enumerate() {
        // SAFETY: inside the N·LANES elements the caller vouches for.
        *xv = unsafe { s.load(p.add(v * S::LANES)) };
    }
    x
}

/// Stores `N` vectors to `p`, one after the other.
///
/// # Safety
/// `p` writable for `N·LANES` elements.
#[inline(always)]
unsafe fn store_block<T: SimdElement, S: Simd<T>, const N: usize>(s: S, p: *mut T, y: [S::V; N]) {
    for (v, y) in y.into_iter().enumerate() {
        // SAFETY: inside the N·LANES elements the caller vouches for.
        unsafe { s.store(p.add(v * S::LANES), y) };
    }
}

/// `e^v` lane-wise: `v = k·ln2 + r` with `k = round(v·log2 e)` (Cody–Waite: `ln2` split in
/// a high part with trailing zero bits and a low part, so `k·ln2_hi` is exact), `|r| <=
/// ln2 / 2`, `e^r` by its Taylor polynomial (degree 7 for f32, 13 for f64: truncation
/// below 0.05 ulp), then `2^k` added to the exponent.
#[inline(always)]
pub(crate) fn exp_vec<T: SimdElement, S: Simd<T>>(s: S, v: S::V) -> S::V {
    let is_f32 = T::NAME == "f32";
    let (lo, hi) = if is_f32 {
        (-87.0, 88.722_83)
    } else {
        (-708.0, 709.782_712_893_384)
    };
    let (ln2_hi, ln2_lo) = if is_f32 {
        (0.693_145_751_953_125, 1.428_606_765_330_187e-6)
    } else {
        (0.693_147_180_369_123_8, 1.908_214_929_270_587_7e-10)
    };
    let degree = if is_f32 { 7 } else { 13 };
    let c = |x: f64| s.splat(T::from_f64(x));
    let (vlo, vhi) = (c(lo), c(hi));
    let x = s.min(s.max(v, vlo), vhi);
    let k = s.round(s.mul(x, c(std::f64::consts::LOG2_E)));
    let r = s.fnma(k, c(ln2_hi), x);
    let r = s.fnma(k, c(ln2_lo), r);
    // Horner on 1/n!: p = 1 + r(1 + r/2(1 + r/3(...))) written as coefficients.
    let mut inv_fact = [1.0f64; 14];
    for i in 1..14 {
        inv_fact[i] = inv_fact[i - 1] / i as f64;
    }
    let mut p = c(inv_fact[degree]);
    for i in (0..degree).rev() {
        p = s.fma(p, r, c(inv_fact[i]));
    }
    let y = s.ldexp(p, k);
    // NaN in, NaN out (x − x is NaN only for NaN and ±inf; ±inf are overridden below).
    let y = s.add(y, s.sub(v, v));
    let y = s.select(s.lt(v, vlo), c(0.0), y);
    s.select(s.lt(vhi, v), s.splat(T::INFINITY), y)
}
