//! Hyperbolic tangent and its backward pass over slices, and the vector forms the GEMM
//! epilogues use on registers.
//!
//! Accuracy: `f32` results are within 1 ulp of the correctly rounded `tanh` (they are the
//! `f64` evaluation rounded once to `f32`); `f64` results are those of the platform libm
//! (glibc: within 2 ulp). Special values: `tanh(NaN)` is NaN, `tanh(±inf) = ±1`,
//! `tanh(−0.0) = −0.0`, tiny `x` gives `x`, large `|x|` saturates to exactly `±1`, and no
//! result has `|y| > 1`.

use crate::arch::{load_partial, store_partial, Simd, WithSimd};
use crate::dispatch::level;
use crate::error::{fmt_shape, Error, Result};
use crate::float::Float;
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
    T::dispatch(level(), TanhOp { x: Some(x), y });
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
    T::dispatch(level(), TanhOp { x: None, y: x });
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
    T::dispatch(level(), TanhBackwardOp { y, dy, dx });
    Ok(())
}

/// Lane-wise tanh of a vector, with the accuracy documented in the module.
#[inline(always)]
pub(crate) fn tanh_vec<T: Float, S: Simd<T>>(s: S, v: S::V) -> S::V {
    let mut buf = [T::ZERO; 16];
    // SAFETY: `buf` holds 16 >= LANES elements.
    unsafe { s.store(buf.as_mut_ptr(), v) };
    for x in buf.iter_mut().take(S::LANES) {
        *x = x.tanh();
    }
    // SAFETY: as above.
    unsafe { s.load(buf.as_ptr()) }
}

/// `dy · (1 − y²)`, lane-wise.
#[inline(always)]
pub(crate) fn tanh_backward_vec<T: Float, S: Simd<T>>(s: S, y: S::V, dy: S::V) -> S::V {
    s.mul(dy, s.fnma(y, y, s.splat(T::ONE)))
}

struct TanhOp<'a, T> {
    /// Source; `None` means in place (read from `y`).
    x: Option<&'a [T]>,
    y: &'a mut [T],
}

impl<T: Float> WithSimd<T> for TanhOp<'_, T> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Tier<T>>(self, s: S) {
        let n = self.y.len();
        let src = match self.x {
            Some(x) => x.as_ptr(),
            None => self.y.as_ptr(),
        };
        let dst = self.y.as_mut_ptr();
        let lanes = S::LANES;
        let mut i = 0;
        while i + lanes <= n {
            // SAFETY: i + LANES <= n = len of both slices; reading a vector before writing
            // it makes the in-place case sound.
            unsafe { s.store(dst.add(i), tanh_vec(s, s.load(src.add(i)))) };
            i += lanes;
        }
        if i < n {
            // The tail runs the same vector code on a zero-padded vector.
            // SAFETY: n - i < LANES elements remain in both slices.
            unsafe {
                let v = load_partial(s, src.add(i), n - i, T::ZERO);
                store_partial(s, dst.add(i), n - i, tanh_vec(s, v));
            }
        }
    }
}

struct TanhBackwardOp<'a, T> {
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
