//! Element-wise kernels over slices: `axpy` (the optimizer update) and `exp_inplace` (the
//! softmax), vectorized on every tier with one body for lanes and tails.

use crate::arch::{load_partial, store_partial, Simd, WithSimd};
use crate::dispatch::level;
use crate::error::{fmt_shape, Error, Result};
use crate::float::Float;
use crate::gemm::params::Tier;

/// `y[i] += alpha · x[i]`, each with one rounding (fused multiply-add).
///
/// ```
/// let x = [1.0f32, 2.0, 3.0];
/// let mut y = [1.0f32, 1.0, 1.0];
/// recur_kernels::axpy(-0.5, &x, &mut y)?;
/// assert_eq!(y, [0.5, 0.0, -0.5]);
/// # Ok::<(), recur_kernels::Error>(())
/// ```
///
/// # Errors
/// [`Error::ShapeMismatch`] naming `y` if `y.len() != x.len()`.
pub fn axpy<T: Float>(alpha: T, x: &[T], y: &mut [T]) -> Result<()> {
    if x.len() != y.len() {
        return Err(Error::ShapeMismatch {
            op: "axpy",
            arg: "y",
            expected: format!("the length of x, {}", fmt_shape(&[x.len()])),
            got: fmt_shape(&[y.len()]),
        });
    }
    T::run_axpy(level(), AxpyOp { alpha, x, y });
    Ok(())
}

/// `x[i] = eˣ⁽ⁱ⁾`, in place.
///
/// Accuracy: within 2 ulp of the exact result (f32 and f64) for results in the normal
/// range. Results below the normal range (`x < −87` for f32, `x < −708` for f64) are
/// flushed to `+0`; `x` above `ln(MAX)` gives `+inf`; `exp(−inf) = 0`, `exp(+inf) = +inf`,
/// NaN stays NaN.
///
/// ```
/// let mut x = [0.0f64, 1.0, -1000.0, f64::INFINITY];
/// recur_kernels::exp_inplace(&mut x);
/// assert_eq!(x[0], 1.0);
/// assert!((x[1] - std::f64::consts::E).abs() <= 2.0 * f64::EPSILON * std::f64::consts::E);
/// assert_eq!(&x[2..], &[0.0, f64::INFINITY]);
/// ```
pub fn exp_inplace<T: Float>(x: &mut [T]) {
    T::run_exp(level(), ExpOp { x });
}

pub(crate) struct AxpyOp<'a, T> {
    alpha: T,
    x: &'a [T],
    y: &'a mut [T],
}

impl<T: Float> WithSimd<T> for AxpyOp<'_, T> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Tier<T>>(self, s: S) {
        let n = self.y.len();
        let a = s.splat(self.alpha);
        let (x, y) = (self.x.as_ptr(), self.y.as_mut_ptr());
        let mut i = 0;
        while i + S::LANES <= n {
            // SAFETY: i + LANES <= n, the length of both slices (checked by `axpy`).
            unsafe { s.store(y.add(i), s.fma(a, s.load(x.add(i)), s.load(y.add(i)))) };
            i += S::LANES;
        }
        if i < n {
            // SAFETY: n - i < LANES elements remain in both slices.
            unsafe {
                let xv = load_partial(s, x.add(i), n - i, T::ZERO);
                let yv = load_partial(s, y.add(i), n - i, T::ZERO);
                store_partial(s, y.add(i), n - i, s.fma(a, xv, yv));
            }
        }
    }
}

pub(crate) struct ExpOp<'a, T> {
    x: &'a mut [T],
}

/// `e^v` lane-wise: `v = k·ln2 + r` with `k = round(v·log2 e)` (Cody–Waite: `ln2` split in
/// a high part with trailing zero bits and a low part, so `k·ln2_hi` is exact), `|r| <=
/// ln2 / 2`, `e^r` by its Taylor polynomial (degree 7 for f32, 13 for f64: truncation
/// below 0.05 ulp), then `2^k` added to the exponent.
#[inline(always)]
pub(crate) fn exp_vec<T: Float, S: Simd<T>>(s: S, v: S::V) -> S::V {
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

impl<T: Float> WithSimd<T> for ExpOp<'_, T> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Tier<T>>(self, s: S) {
        let n = self.x.len();
        let x = self.x.as_mut_ptr();
        let mut i = 0;
        while i + S::LANES <= n {
            // SAFETY: i + LANES <= n.
            unsafe { s.store(x.add(i), exp_vec(s, s.load(x.add(i)))) };
            i += S::LANES;
        }
        if i < n {
            // SAFETY: n - i < LANES elements remain.
            unsafe {
                let v = load_partial(s, x.add(i), n - i, T::ZERO);
                store_partial(s, x.add(i), n - i, exp_vec(s, v));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::{available_levels, with_level};

    fn ulps_f32(got: f32, exact: f64) -> f64 {
        let ulp = (got.abs().max(f32::MIN_POSITIVE) as f64) * f32::EPSILON as f64;
        (got as f64 - exact).abs() / ulp
    }

    #[test]
    fn exp_f32_within_2_ulp_on_every_tier() {
        for level in available_levels() {
            with_level(level, || {
                let xs: Vec<f32> = (0..200_001)
                    .map(|i| -87.0 + i as f32 * (175.7 / 200_000.0))
                    .collect();
                let mut ys = xs.clone();
                exp_inplace(&mut ys);
                for (&x, &y) in xs.iter().zip(&ys) {
                    let e = (x as f64).exp();
                    if e < f32::MAX as f64 {
                        assert!(ulps_f32(y, e) <= 2.0, "{level:?} exp({x}) = {y}, exact {e}");
                    }
                }
                let mut special = [
                    f32::NAN,
                    f32::INFINITY,
                    f32::NEG_INFINITY,
                    -100.0,
                    100.0,
                    0.0,
                    -0.0,
                ];
                exp_inplace(&mut special);
                assert!(special[0].is_nan());
                assert_eq!(
                    &special[1..],
                    &[f32::INFINITY, 0.0, 0.0, f32::INFINITY, 1.0, 1.0]
                );
            });
        }
    }

    #[test]
    fn exp_f64_close_to_std_on_every_tier() {
        for level in available_levels() {
            with_level(level, || {
                let xs: Vec<f64> = (0..100_001)
                    .map(|i| -708.0 + i as f64 * (1417.0 / 100_000.0))
                    .collect();
                let mut ys = xs.clone();
                exp_inplace(&mut ys);
                for (&x, &y) in xs.iter().zip(&ys) {
                    let e = x.exp(); // libm: within 1 ulp
                    assert!(
                        (y - e).abs() <= 3.0 * f64::EPSILON * e,
                        "{level:?} exp({x}) = {y}, std {e}"
                    );
                }
            });
        }
    }

    #[test]
    fn axpy_every_tail_length() {
        for level in available_levels() {
            with_level(level, || {
                for n in 0..40 {
                    let x: Vec<f64> = (0..n).map(|i| i as f64 * 0.5).collect();
                    let mut y: Vec<f64> = (0..n).map(|i| 1.0 - i as f64).collect();
                    axpy(2.0, &x, &mut y).unwrap();
                    for (i, &yi) in y.iter().enumerate() {
                        assert_eq!(yi, 1.0 - i as f64 + i as f64);
                    }
                }
                let mut short = [0.0f32; 2];
                assert!(axpy(1.0, &[1.0f32; 3], &mut short).is_err());
            });
        }
    }
}
