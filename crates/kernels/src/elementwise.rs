//! Element-wise kernels over slices: `axpy` (the optimizer update) and `exp_inplace` (the
//! softmax), vectorized on every tier with one body for lanes and tails. The loops are
//! safe: pulp splits each slice into whole vectors and a tail.

use crate::element::Float;
use crate::error::{fmt_shape, Error, Result};
use crate::simd::dispatch::level;
use crate::simd::{dispatch_op, entry_point, Simd, SimdElement, WithSimd};
use crate::vmath::exp_vec;

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
    run_axpy(level(), AxpyOp { alpha, x, y });
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
    run_exp(level(), ExpOp { x });
}

pub(crate) struct AxpyOp<'a, T> {
    alpha: T,
    x: &'a [T],
    y: &'a mut [T],
}

entry_point!(fn run_axpy(AxpyOp<'a>) -> (), via dispatch_op);

impl<T: SimdElement> WithSimd<T> for AxpyOp<'_, T> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd<T>>(self, s: S) {
        let a = s.splat(self.alpha);
        let (x, x_tail) = S::as_vectors(self.x);
        let (y, y_tail) = S::as_vectors_mut(self.y);
        for (y, &x) in y.iter_mut().zip(x) {
            *y = s.fma(a, x, *y);
        }
        if !y_tail.is_empty() {
            let v = s.fma(a, s.load_tail(x_tail), s.load_tail(y_tail));
            s.store_tail(y_tail, v);
        }
    }
}

pub(crate) struct ExpOp<'a, T> {
    x: &'a mut [T],
}

entry_point!(fn run_exp(ExpOp<'a>) -> (), via dispatch_op);

impl<T: SimdElement> WithSimd<T> for ExpOp<'_, T> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd<T>>(self, s: S) {
        let (x, x_tail) = S::as_vectors_mut(self.x);
        for x in x.iter_mut() {
            *x = exp_vec(s, *x);
        }
        if !x_tail.is_empty() {
            let v = exp_vec(s, s.load_tail(x_tail));
            s.store_tail(x_tail, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::dispatch::{available_levels, with_level};

    /// `|got − exact|` in ulps of `got`'s binade.
    fn ulps_f32(got: f32, exact: f64) -> f64 {
        (got as f64 - exact).abs() / recur_testkit::ulp_f32(got)
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
