//! Hyperbolic tangent and its backward pass over slices, and the vector forms the GEMM
//! epilogues use on registers.
//!
//! One branch-free algorithm (see [`tanh_vec`]) runs on every tier (scalar, AVX2+FMA,
//! AVX-512) and for slice tails (a zero-padded vector), using only correctly rounded IEEE
//! operations: every tier gives the same bits, and a tail element the same bits as a full
//! lane.
//!
//! # Accuracy
//! The error is `|y − tanh(x)| / ulp(y)`, `ulp(y)` being the spacing of the type's values at
//! `|y|`.
//! - `f32`: **at most 1 ulp for every input** (checked on all 2³² inputs against the `f64`
//!   libm; the largest error found is 0.855 ulp, at `x = 0.78818375`).
//! - `f64`: **at most 2 ulp** (checked on 10⁷ inputs over every binade of `[−20, 20]`
//!   against a double-double evaluation; the largest error found is 0.974 ulp).
//!
//! # Special values
//! - `tanh(NaN)` is NaN (the payload is not specified);
//! - `tanh(±inf) = ±1`, and `|x|` beyond the point where `tanh` rounds to 1 (about 9.01 for
//!   `f32`, 19.06 for `f64`) gives exactly `±1`;
//! - `tanh(−0.0) = −0.0`, and `tanh` is exactly odd: `tanh(−x) = −tanh(x)` bit for bit;
//! - tiny and subnormal `x` (below about 2.9·10⁻⁴ for `f32`, 1.3·10⁻⁸ for `f64`) give `x`;
//! - no result has `|y| > 1`.
//!
//! The scalar [`Float::tanh`] is a different function (the libm `f64` evaluation, rounded
//! for `f32`), kept as an independent reference.

use crate::arch::{load_partial, store_partial, Simd, WithSimd};
use crate::dispatch::level;
use crate::error::{fmt_shape, Error, Result};
use crate::float::Float;
use crate::gemm::kernel::{gather, scatter};
use crate::gemm::params::Tier;

/// `y[i] = tanh(x[i])`.
///
/// ```
/// let x = [0.0f32, 1.0, -20.0];
/// let mut y = [0.0f32; 3];
/// recur_kernels::tanh(&x, &mut y)?;
/// assert_eq!(y[0], 0.0);
/// assert!((y[1] - 0.761_594_2).abs() < 1e-7);
/// assert_eq!(y[2], -1.0);
/// # Ok::<(), recur_kernels::Error>(())
/// ```
///
/// # Errors
/// [`Error::ShapeMismatch`] naming `y` if `y.len() != x.len()`.
pub fn tanh<T: Float>(x: &[T], y: &mut [T]) -> Result<()> {
    if x.len() != y.len() {
        return Err(Error::ShapeMismatch {
            op: "tanh",
            arg: "y",
            expected: format!("the length of x, {}", fmt_shape(&[x.len()])),
            got: fmt_shape(&[y.len()]),
        });
    }
    T::run_tanh(level(), TanhOp { x: Some(x), y });
    Ok(())
}

/// `x[i] = tanh(x[i])`, in place.
///
/// ```
/// let mut x = [0.5f64, -0.0];
/// recur_kernels::tanh_inplace(&mut x);
/// assert_eq!(x[0], 0.5f64.tanh());
/// assert!(x[1] == 0.0 && x[1].is_sign_negative());
/// ```
pub fn tanh_inplace<T: Float>(x: &mut [T]) {
    T::run_tanh(level(), TanhOp { x: None, y: x });
}

/// `dx[i] = dy[i] · (1 − y[i]²)`: the gradient through `y = tanh(x)`, from the stored
/// output `y` (tanh is not recomputed). `1 − y²` is formed with one rounding (fused).
///
/// ```
/// let y = [0.0f32, 0.5, 1.0];
/// let dy = [2.0f32, 2.0, 2.0];
/// let mut dx = [0.0f32; 3];
/// recur_kernels::tanh_backward(&y, &dy, &mut dx)?;
/// assert_eq!(dx, [2.0, 1.5, 0.0]);
/// # Ok::<(), recur_kernels::Error>(())
/// ```
///
/// # Errors
/// [`Error::ShapeMismatch`] naming `dy` or `dx` if its length differs from `y.len()`.
pub fn tanh_backward<T: Float>(y: &[T], dy: &[T], dx: &mut [T]) -> Result<()> {
    for (arg, len) in [("dy", dy.len()), ("dx", dx.len())] {
        if len != y.len() {
            return Err(Error::ShapeMismatch {
                op: "tanh_backward",
                arg,
                expected: format!("the length of y, {}", fmt_shape(&[y.len()])),
                got: fmt_shape(&[len]),
            });
        }
    }
    T::run_tanh_backward(level(), TanhBackwardOp { y, dy, dx });
    Ok(())
}

/// Lane-wise tanh of a vector, with the accuracy documented in the module.
///
/// A pure function of `(s, x)`, branch-free and lane-independent, so that the slice kernels,
/// their zero-padded tails and the GEMM epilogues (on registers) give the same bits. The
/// algorithm, on `a = |x|` (the sign is put back at the end, so the function is exactly
/// odd):
///
/// * `a <= C` (`C` = [`consts::TanhConsts::SMALL_MAX`]), or NaN: `tanh(a) = a + a³·P(a²)` with a
///   minimax `P`. Tiny and subnormal `a` give `a³ = 0`, hence exactly `a`.
/// * `a > C`: `tanh(a) = 1 − 2/(E + 1)` with `E = e^{2a}`, evaluated as
///   - `a` clamped to [`consts::TanhConsts::SAT`] (where `tanh` already rounds to 1), so `E` stays
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
/// 6). On Zen 3 the loop is bound by the length of the dependency chain (about 70 cycles
/// per vector) more than by the FMA pipes: see `BENCHMARKS.md`.
#[inline(always)]
pub(crate) fn tanh_vec<T: Float, S: Simd<T>>(s: S, x: S::V) -> S::V {
    let [y] = tanh_vecs(s, [x]);
    y
}

/// [`tanh_vec`] of `N` vectors at once, each step of the algorithm issued for all `N`
/// before the next (the lanes see exactly the same operations, so the bits are those of
/// `tanh_vec`). The algorithm is one long dependency chain per vector; interleaving `N`
/// independent chains in program order keeps the FP pipes busy where the out-of-order
/// window alone cannot (its scheduler fills up with the waiting ops of one chain).
#[inline(always)]
pub(crate) fn tanh_vecs<T: Float, S: Simd<T>, const N: usize>(s: S, x: [S::V; N]) -> [S::V; N] {
    // `each!(|i| e)`: the array of `e` for i = 0..N (unrolled: N is a constant). A plain
    // loop, not `array::from_fn`: a closure does not inherit the caller's target features,
    // so its SIMD operations would become out-of-line calls.
    macro_rules! each {
        (|$i:ident| $e:expr) => {{
            let mut out = [s.splat(T::ZERO); N];
            for $i in 0..N {
                out[$i] = $e;
            }
            out
        }};
    }
    let one = s.splat(T::ONE);
    let two = s.splat(T::ONE + T::ONE);
    let sign = each!(|i| s.and(x[i], s.splat(-T::ZERO)));
    let a = each!(|i| s.xor(x[i], sign[i]));

    // a <= C: a + a³·P(a²).
    let a2 = each!(|i| s.mul(a[i], a[i]));
    let a3 = each!(|i| s.mul(a[i], a2[i]));
    let p = horner(s, a2, T::SMALL);
    let y_small = each!(|i| s.fma(a3[i], p[i], a[i]));

    // a > C: 1 − 2/(e^{2a} + 1), with everything scaled by 2 (exact) to save a multiply.
    let ac = each!(|i| s.min(s.splat(T::SAT), a[i])); // min(SAT, NaN) is NaN: see `Simd::min`
    let k = each!(|i| s.round(s.mul(ac[i], s.splat(T::TWO_OVER_LN2))));
    let h_hi = each!(|i| s.fnma(k[i], s.splat(T::HALF_LN2_HI), ac[i]));
    // The low part of the reduction only enters through the final `h·Q`, so it is computed
    // beside `Q(h_hi)` instead of before it (shorter dependency chain; Q's argument being
    // off by k·HALF_LN2_LO <= 3e-8 moves e^{2h} by less than 2⁻³⁰ relative).
    let h = each!(|i| s.fnma(k[i], s.splat(T::HALF_LN2_LO), h_hi[i]));
    let q = horner2(s, h_hi, T::EXP2);
    let e2 = each!(|i| s.ldexp(s.fma(h[i], q[i], two), k[i])); // 2·e^{2ac} >= 2e^{2C}
    let d2 = each!(|i| s.add(e2[i], two));
    let dl2 = each!(|i| s.sub(two, s.sub(d2[i], e2[i]))); // 2e + 2 = d2 + dl2 exactly (Fast2Sum, e2 >= 2)
    let g = each!(|i| s.div(two, d2[i])); // 1/(e + 1), rounded
    let r2 = each!(|i| s.fnma(g[i], dl2[i], s.fnma(g[i], d2[i], two))); // 2·(1 − g·(e + 1)); inner FMA exact
    let t = each!(|i| s.fnma(two, g[i], one)); // t ∈ [0.5, 1]
    let tl = each!(|i| s.fnma(two, g[i], s.sub(one, t[i]))); // 1 − 2g = t + tl exactly (1 − t is exact)
                                                             // 1 − 2/(e + 1) = 1 − 2g·(1 + r) to second order in r = r2/2
    let y_large = each!(|i| s.add(t[i], s.fnma(g[i], r2[i], tl[i])));

    each!(|i| {
        let y = s.select(s.lt(s.splat(T::SMALL_MAX), a[i]), y_large[i], y_small[i]);
        s.xor(y, sign[i])
    })
}

/// `c[0] + x·(c[1] + x·(c[2] + …))` (Horner; `c` is a constant, so this unrolls), for each
/// of `N` vectors.
#[inline(always)]
fn horner<T: Float, S: Simd<T>, const N: usize>(s: S, x: [S::V; N], c: &[T]) -> [S::V; N] {
    // An index loop, not an iterator fold: see `horner2`.
    let mut i = c.len() - 1;
    let mut acc = [s.splat(c[i]); N];
    while i > 0 {
        i -= 1;
        // Loops, not closures: see `tanh_vecs`.
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
fn horner2<T: Float, S: Simd<T>, const N: usize>(s: S, x: [S::V; N], c: &[T]) -> [S::V; N] {
    // Plain index loops over the constant `c`: LLVM unrolls them completely, whereas the
    // `chunks().rev().fold()` form was left as an out-of-line call (with `vzeroupper`).
    let n = c.len();
    // Loops over the N vectors, not closures: see `tanh_vecs`.
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

pub(crate) mod consts {
    /// The constants of [`super::tanh_vec`] for one element type. A supertrait of
    /// `Float`'s seal, so every `T: Float` has them; the polynomial coefficients come from
    /// `crates/kernels/tools/tanh_fit.py` (weighted Remez, coefficients rounded to `T`).
    pub trait TanhConsts: Sized + 'static {
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

    impl TanhConsts for f32 {
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

    impl TanhConsts for f64 {
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
pub(crate) fn tanh_backward_vec<T: Float, S: Simd<T>>(s: S, y: S::V, dy: S::V) -> S::V {
    s.mul(dy, s.fnma(y, y, s.splat(T::ONE)))
}

/// Vectors per iteration of the slice loop (interleaved by [`tanh_vecs`]; chosen with
/// `benches/tanh.rs`).
const UNROLL: usize = 4;

pub(crate) struct TanhOp<'a, T> {
    /// Source; `None` means in place (read from `y`).
    x: Option<&'a [T]>,
    y: &'a mut [T],
}

impl<T: Float> WithSimd<T> for TanhOp<'_, T> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Tier<T>>(self, s: S) {
        let n = self.y.len();
        // The destination pointer comes first and the in-place source is derived from it:
        // a pointer taken from `y.as_ptr()` would be invalidated by the later unique
        // reborrow in `y.as_mut_ptr()` (Stacked Borrows; found by Miri).
        let dst = self.y.as_mut_ptr();
        let src = match self.x {
            Some(x) => x.as_ptr(),
            None => dst as *const T,
        };
        // SAFETY: `src` and `dst` address `n` elements each (`tanh` checked the lengths).
        unsafe { tanh_run(s, src, dst, n) }
    }
}

/// `dst[i] = tanh(src[i])` for `i < n`: `UNROLL` interleaved vectors at a time, then
/// single vectors, then a zero-padded partial vector.
///
/// # Safety
/// `src` readable and `dst` writable for `n` elements; they may be equal (in place) but
/// must not otherwise overlap.
#[inline(always)]
unsafe fn tanh_run<T: Float, S: Simd<T>>(s: S, src: *const T, dst: *mut T, n: usize) {
    let lanes = S::LANES;
    let mut i = 0;
    while i + UNROLL * lanes <= n {
        // SAFETY: i + UNROLL·LANES <= n; all vectors are read before any is written, which
        // makes the in-place case sound.
        unsafe {
            let mut x = [s.splat(T::ZERO); UNROLL];
            for (v, xv) in x.iter_mut().enumerate() {
                *xv = s.load(src.add(i + v * lanes));
            }
            let y = tanh_vecs(s, x);
            for (v, y) in y.into_iter().enumerate() {
                s.store(dst.add(i + v * lanes), y);
            }
        }
        i += UNROLL * lanes;
    }
    while i + lanes <= n {
        // SAFETY: i + LANES <= n; reading a vector before writing it makes the in-place
        // case sound.
        unsafe { s.store(dst.add(i), tanh_vec(s, s.load(src.add(i)))) };
        i += lanes;
    }
    if i < n {
        // The tail runs the same vector code on a zero-padded vector.
        // SAFETY: n - i < LANES elements remain.
        unsafe {
            let v = load_partial(s, src.add(i), n - i, T::ZERO);
            store_partial(s, dst.add(i), n - i, tanh_vec(s, v));
        }
    }
}

/// `tanh` in place on the `mr x nr` tile at `c` (element `(i, j)` at `c + i·rsc + j·csc`):
/// the second pass of the GEMM's tanh epilogues ([`Tier::tanh_tile`]). Every element gets
/// the bits of [`tanh_vec`], like the slice kernels.
///
/// # Safety
/// The tile's elements must be readable and writable.
#[inline(always)]
pub(crate) unsafe fn tanh_tile_in_place<T: Float, S: Simd<T>>(
    s: S,
    c: *mut T,
    rsc: usize,
    csc: usize,
    mr: usize,
    nr: usize,
) {
    for i in 0..mr {
        let row = c.wrapping_add(i * rsc);
        if csc == 1 {
            // SAFETY: row i holds nr contiguous elements of the tile.
            unsafe { tanh_run(s, row, row, nr) };
            continue;
        }
        let mut j = 0;
        while j < nr {
            let len = S::LANES.min(nr - j);
            // The GEMM store path's strided gather / scatter (missing lanes are 0).
            // SAFETY: elements (i, j..j + len) are in the tile, at stride csc.
            unsafe {
                let p = row.add(j * csc);
                let y = tanh_vec(s, gather(s, p, csc, len));
                scatter(s, p, csc, len, y);
            }
            j += len;
        }
    }
}

pub(crate) struct TanhBackwardOp<'a, T> {
    y: &'a [T],
    dy: &'a [T],
    dx: &'a mut [T],
}

impl<T: Float> WithSimd<T> for TanhBackwardOp<'_, T> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Tier<T>>(self, s: S) {
        let n = self.dx.len();
        let lanes = S::LANES;
        let (y, dy, dx) = (self.y.as_ptr(), self.dy.as_ptr(), self.dx.as_mut_ptr());
        let mut i = 0;
        while i + lanes <= n {
            // SAFETY: the three slices have length n (checked by the caller).
            unsafe {
                let v = tanh_backward_vec(s, s.load(y.add(i)), s.load(dy.add(i)));
                s.store(dx.add(i), v);
            }
            i += lanes;
        }
        if i < n {
            // SAFETY: n - i < LANES elements remain in all three slices.
            unsafe {
                let yv = load_partial(s, y.add(i), n - i, T::ZERO);
                let dyv = load_partial(s, dy.add(i), n - i, T::ZERO);
                store_partial(s, dx.add(i), n - i, tanh_backward_vec(s, yv, dyv));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::{available_levels, with_level};

    /// Runs the primitives tanh relies on, lane by lane, on the tier `with_level` picks.
    struct Primitives<'a, T> {
        a: &'a [T],
        b: &'a [T],
        out: &'a mut Vec<[T; 6]>,
    }

    impl<T: Float> WithSimd<T> for Primitives<'_, T> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: Tier<T>>(self, s: S) {
            for (&a, &b) in self.a.iter().zip(self.b) {
                let (va, vb) = (s.splat(a), s.splat(b));
                let lane0 = |v: S::V| {
                    let mut buf = [T::ZERO; 16];
                    // SAFETY: `buf` holds 16 >= LANES elements.
                    unsafe { s.store(buf.as_mut_ptr(), v) };
                    buf[0]
                };
                let m = s.lt(va, vb);
                self.out.push([
                    lane0(s.select(m, s.splat(T::ONE), s.splat(T::ZERO))),
                    lane0(s.and(va, vb)),
                    lane0(s.or(va, vb)),
                    lane0(s.xor(va, vb)),
                    lane0(s.round(va)),
                    lane0(s.ldexp(va, s.round(vb))),
                ]);
            }
        }
    }

    fn primitives_match_scalar_semantics<T: Float>(bits: impl Fn(T) -> u64) {
        let vals: Vec<f64> = vec![
            0.0, -0.0, 0.5, 1.5, 2.5, -2.5, 3.7, -3.2, 1e6, 0.75, 20.0, -20.0, 100.0,
        ];
        let vals: Vec<T> = vals.into_iter().map(T::from_f64).collect();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for &x in &vals {
            for &y in &vals {
                a.push(x);
                b.push(y);
            }
        }
        for level in available_levels() {
            let mut out = Vec::new();
            with_level(level, || {
                T::dispatch(
                    crate::dispatch::level(),
                    Primitives {
                        a: &a,
                        b: &b,
                        out: &mut out,
                    },
                )
            });
            for ((&x, &y), got) in a.iter().zip(&b).zip(&out) {
                let ctx = format!("{} {x:?} {y:?}", level.name());
                assert_eq!(got[0], if x < y { T::ONE } else { T::ZERO }, "lt {ctx}");
                assert_eq!(bits(got[1]), bits(x) & bits(y), "and {ctx}");
                assert_eq!(bits(got[2]), bits(x) | bits(y), "or {ctx}");
                assert_eq!(bits(got[3]), bits(x) ^ bits(y), "xor {ctx}");
                let r = x.to_f64().round_ties_even();
                assert_eq!(got[4].to_f64(), r, "round {ctx}");
                let k = y.to_f64().round_ties_even();
                if x != T::ZERO && k.abs() <= 100.0 {
                    assert_eq!(
                        got[5].to_f64(),
                        x.to_f64() * 2f64.powi(k as i32),
                        "ldexp {ctx}"
                    );
                }
            }
        }
    }

    #[test]
    fn primitives_on_every_tier() {
        primitives_match_scalar_semantics::<f32>(|v| u64::from(v.to_bits()));
        primitives_match_scalar_semantics::<f64>(f64::to_bits);
    }

    fn ulp_diff_f32(a: f32, b: f32) -> u64 {
        let key = |x: f32| {
            let i = x.to_bits() as i32;
            if i < 0 {
                i64::from(i32::MIN) - i64::from(i)
            } else {
                i64::from(i)
            }
        };
        (key(a) - key(b)).unsigned_abs()
    }

    #[test]
    fn special_values() {
        let x = [
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            -0.0,
            0.0,
            1e-30,
            -1e-30,
            f32::MIN_POSITIVE / 4.0,
            20.0,
            -20.0,
            f32::MAX,
            f32::MIN,
        ];
        let mut y = [0.0f32; 12];
        tanh(&x, &mut y).unwrap();
        assert!(y[0].is_nan());
        assert_eq!(&y[1..3], &[1.0, -1.0]);
        assert!(y[3] == 0.0 && y[3].is_sign_negative());
        assert!(y[4] == 0.0 && y[4].is_sign_positive());
        assert_eq!(&y[5..8], &x[5..8]);
        assert_eq!(&y[8..], &[1.0, -1.0, 1.0, -1.0]);
    }

    #[test]
    fn f32_within_one_ulp_on_a_dense_sample() {
        // Every 4099th bit pattern (covers every binade, both signs).
        let xs: Vec<f32> = (0..u32::MAX / 4099)
            .map(|i| f32::from_bits(i * 4099))
            .filter(|x| !x.is_nan())
            .collect();
        let mut ys = vec![0.0f32; xs.len()];
        tanh(&xs, &mut ys).unwrap();
        for (&x, &y) in xs.iter().zip(&ys) {
            let want = (x as f64).tanh() as f32;
            assert!(
                ulp_diff_f32(y, want) <= 1,
                "tanh({x:e}) = {y:e}, want {want:e}"
            );
            assert!(y.abs() <= 1.0);
        }
    }

    #[test]
    fn tails_match_lanes_and_inplace_matches() {
        for n in 0..=33 {
            let x: Vec<f32> = (0..n).map(|i| (i as f32 - 16.0) * 0.37).collect();
            let mut y = vec![0.0f32; n];
            tanh(&x, &mut y).unwrap();
            let mut z = x.clone();
            tanh_inplace(&mut z);
            assert_eq!(y, z);
            for (i, &xi) in x.iter().enumerate() {
                let mut one = [0.0f32];
                tanh(&[xi], &mut one).unwrap();
                assert_eq!(one[0].to_bits(), y[i].to_bits());
            }
        }
    }

    #[test]
    fn backward_matches_formula_and_checks_lengths() {
        let y = [0.0f64, 0.5, -0.9, 1.0, -1.0, 0.999_999];
        let dy = [1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0];
        let mut dx = [0.0f64; 6];
        tanh_backward(&y, &dy, &mut dx).unwrap();
        for i in 0..6 {
            assert_eq!(dx[i], dy[i] * (-y[i]).mul_add(y[i], 1.0));
        }
        assert!(matches!(
            tanh_backward(&y, &dy[..5], &mut dx),
            Err(Error::ShapeMismatch { arg: "dy", .. })
        ));
        let mut short = [0.0f64; 2];
        assert!(matches!(
            tanh(&y, &mut short),
            Err(Error::ShapeMismatch { arg: "y", .. })
        ));
    }
}
