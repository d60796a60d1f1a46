//! Element-wise kernels over slices: `axpy` (the optimizer update), `scale`, `exp_inplace`,
//! and the two passes of a softmax row, `max_value` and `exp_shifted_sum`, vectorized on
//! every tier with one body for lanes and tails. The loops are safe: pulp splits each
//! slice into whole vectors and a tail. Reductions accumulate in a fixed order (a few
//! vector accumulators, then their lanes left to right, then the tail), so a result
//! depends only on the input and the tier, never on how callers split work over threads.

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

/// `x[i] *= alpha`, in place.
///
/// ```
/// let mut x = [1.0f32, -2.0, 4.0];
/// recur_kernels::scale(0.5, &mut x);
/// assert_eq!(x, [0.5, -1.0, 2.0]);
/// ```
pub fn scale<T: Float>(alpha: T, x: &mut [T]) {
    run_scale(level(), ScaleOp { alpha, x });
}

/// The largest element of `x` (`−inf` for an empty slice). A NaN in `x` may or may not
/// be returned (the hardware maximum of the tier decides); infinities are ordinary values.
///
/// ```
/// assert_eq!(recur_kernels::max_value(&[1.0f32, 7.0, -3.0]), 7.0);
/// assert_eq!(recur_kernels::max_value::<f64>(&[]), f64::NEG_INFINITY);
/// ```
pub fn max_value<T: Float>(x: &[T]) -> T {
    // The entry point returns the result widened to f64 (exactly), as its type cannot name `T`.
    T::from_f64(run_max(level(), MaxOp { x }))
}

/// `x[i] = e^(x[i] − shift)` in place, and returns the sum of the new `x`, accumulated in
/// a fixed order (see the module docs). The exponential is that of [`exp_inplace`]. This
/// is the middle pass of a numerically stable softmax row (`shift` = the row maximum).
///
/// ```
/// let mut x = [0.0f64, 0.0, 2f64.ln()];
/// let sum = recur_kernels::exp_shifted_sum(&mut x, 2f64.ln());
/// assert_eq!(x, [0.5, 0.5, 1.0]);
/// assert_eq!(sum, 2.0);
/// ```
pub fn exp_shifted_sum<T: Float>(x: &mut [T], shift: T) -> T {
    T::from_f64(run_exp_sum(level(), ExpSumOp { x, shift }))
}

/// Lanes of `v`, left to right, folded with `f` after `init`.
#[inline(always)]
fn fold_lanes<T: SimdElement, S: Simd<T>>(v: S::V, init: T, f: impl Fn(T, T) -> T) -> T {
    // 64 elements hold one vector of every tier (AVX-512 f32: 16 lanes).
    let mut buf = [T::ZERO; 64];
    let lanes = &mut buf[..S::LANES];
    let (vs, _) = S::as_vectors_mut(lanes);
    if let Some(slot) = vs.first_mut() {
        *slot = v;
    }
    lanes.iter().fold(init, |acc, &x| f(acc, x))
}

pub(crate) struct ScaleOp<'a, T> {
    alpha: T,
    x: &'a mut [T],
}

entry_point!(fn run_scale(ScaleOp<'a>) -> (), via dispatch_op);

impl<T: SimdElement> WithSimd<T> for ScaleOp<'_, T> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd<T>>(self, s: S) {
        let a = s.splat(self.alpha);
        let (x, x_tail) = S::as_vectors_mut(self.x);
        for x in x.iter_mut() {
            *x = s.mul(a, *x);
        }
        for x in x_tail.iter_mut() {
            *x *= self.alpha;
        }
    }
}

pub(crate) struct MaxOp<'a, T> {
    x: &'a [T],
}

entry_point!(fn run_max(MaxOp<'a>) -> f64, via dispatch_op);

impl<T: SimdElement> WithSimd<T> for MaxOp<'_, T> {
    type Output = f64;
    #[inline(always)]
    fn with_simd<S: Simd<T>>(self, s: S) -> f64 {
        let (x, x_tail) = S::as_vectors(self.x);
        let ninf = s.splat(-T::INFINITY);
        let mut acc = [ninf; 4];
        let mut quads = x.chunks_exact(4);
        for q in &mut quads {
            for (a, &v) in acc.iter_mut().zip(q) {
                *a = s.max(*a, v);
            }
        }
        for (a, &v) in acc.iter_mut().zip(quads.remainder()) {
            *a = s.max(*a, v);
        }
        let m = s.max(s.max(acc[0], acc[1]), s.max(acc[2], acc[3]));
        let greater = |m: T, x: T| if x > m { x } else { m };
        let m = fold_lanes::<T, S>(m, -T::INFINITY, greater);
        x_tail.iter().copied().fold(m, greater).to_f64()
    }
}

pub(crate) struct ExpSumOp<'a, T> {
    x: &'a mut [T],
    shift: T,
}

entry_point!(fn run_exp_sum(ExpSumOp<'a>) -> f64, via dispatch_op);

impl<T: SimdElement> WithSimd<T> for ExpSumOp<'_, T> {
    type Output = f64;
    #[inline(always)]
    fn with_simd<S: Simd<T>>(self, s: S) -> f64 {
        let shift = s.splat(self.shift);
        let (x, x_tail) = S::as_vectors_mut(self.x);
        let zero = s.splat(T::ZERO);
        let mut acc = [zero; 4];
        let mut quads = x.chunks_exact_mut(4);
        for q in &mut quads {
            for (a, v) in acc.iter_mut().zip(q.iter_mut()) {
                *v = exp_vec(s, s.sub(*v, shift));
                *a = s.add(*a, *v);
            }
        }
        for (a, v) in acc.iter_mut().zip(quads.into_remainder().iter_mut()) {
            *v = exp_vec(s, s.sub(*v, shift));
            *a = s.add(*a, *v);
        }
        let total = s.add(s.add(acc[0], acc[1]), s.add(acc[2], acc[3]));
        let mut sum = fold_lanes::<T, S>(total, T::ZERO, |a, b| a + b);
        if !x_tail.is_empty() {
            let v = exp_vec(s, s.sub(s.load_tail(x_tail), shift));
            s.store_tail(x_tail, v);
            for &e in x_tail.iter() {
                sum += e;
            }
        }
        sum.to_f64()
    }
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
    fn softmax_passes_every_length_on_every_tier() {
        for level in available_levels() {
            with_level(level, || {
                for n in 0..100usize {
                    let x: Vec<f32> = (0..n)
                        .map(|i| ((i * 37 % 101) as f32 - 60.0) * 0.1)
                        .collect();
                    let want_max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    assert_eq!(max_value(&x), want_max, "{level:?} n={n}");
                    let mut y = x.clone();
                    let sum = exp_shifted_sum(&mut y, want_max);
                    let mut exact = 0.0f64;
                    for (&xi, &yi) in x.iter().zip(&y) {
                        let e = ((xi - want_max) as f64).exp();
                        assert!((yi as f64 - e).abs() <= 3e-7 * e, "{level:?} n={n}");
                        exact += yi as f64;
                    }
                    assert!(
                        (sum as f64 - exact).abs() <= 1e-6 * exact.max(1.0),
                        "{level:?} n={n}"
                    );
                    let mut z = x.clone();
                    scale(-2.0, &mut z);
                    assert!(z.iter().zip(&x).all(|(&zi, &xi)| zi == -2.0 * xi));
                }
                // All-negative rows: the zero padding of a tail must not win the maximum.
                assert_eq!(max_value(&[-3.0f64, -2.0, -5.0]), -2.0);
                assert_eq!(max_value(&[-3.0f32; 37]), -3.0);
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
