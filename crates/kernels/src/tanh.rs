//! Hyperbolic tangent and its backward pass over slices, and the vector forms the GEMM
//! epilogues use on registers.
//!
//! One branch-free algorithm (`vmath::tanh_vec`) runs on every tier (scalar, AVX2+FMA,
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

use crate::element::Float;
use crate::error::{fmt_shape, Error, Result};
use crate::simd::dispatch::level;
use crate::simd::{dispatch_op, entry_point, Simd, SimdElement, WithSimd};
use crate::vmath::{tanh_backward_vec, tanh_run, VMath};

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
    run_tanh(level(), TanhOp { x: Some(x), y });
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
    run_tanh(level(), TanhOp { x: None, y: x });
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
    run_tanh_backward(level(), TanhBackwardOp { y, dy, dx });
    Ok(())
}

pub(crate) struct TanhOp<'a, T> {
    /// Source; `None` means in place (read from `y`).
    x: Option<&'a [T]>,
    y: &'a mut [T],
}

entry_point!(fn run_tanh(TanhOp<'a>) -> (), via dispatch_op);

impl<T: VMath> WithSimd<T> for TanhOp<'_, T> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd<T>>(self, s: S) {
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

pub(crate) struct TanhBackwardOp<'a, T> {
    y: &'a [T],
    dy: &'a [T],
    dx: &'a mut [T],
}

entry_point!(fn run_tanh_backward(TanhBackwardOp<'a>) -> (), via dispatch_op);

impl<T: SimdElement> WithSimd<T> for TanhBackwardOp<'_, T> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd<T>>(self, s: S) {
        let (y, y_tail) = S::as_vectors(self.y);
        let (dy, dy_tail) = S::as_vectors(self.dy);
        let (dx, dx_tail) = S::as_vectors_mut(self.dx);
        for ((dx, &y), &dy) in dx.iter_mut().zip(y).zip(dy) {
            *dx = tanh_backward_vec(s, y, dy);
        }
        if !dx_tail.is_empty() {
            // The tail runs the same vector code on zero-padded vectors.
            let v = tanh_backward_vec(s, s.load_tail(y_tail), s.load_tail(dy_tail));
            s.store_tail(dx_tail, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use recur_testkit::ulps_between_f32;

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
                ulps_between_f32(y, want) <= 1,
                "tanh({x:e}) = {y:e}, want {want:e}"
            );
            assert!(y.abs() <= 1.0);
        }
    }

    #[test]
    fn tails_match_lanes_and_inplace_matches() {
        // Up to 5 blocks of the pipelined loop on AVX-512 (2 vectors of 16), then single
        // vectors and a partial one.
        for n in 0..=170 {
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
