//! Central finite differences with a Richardson tableau, its error estimate (Ridders'
//! rule) and a bound on the rounding noise, on the steps actually taken.
//!
//! Level `k` of the tableau is the central difference at the nominal step `h_k = h / 2^k`,
//! `D_k = (f(x + h⁺) − f(x − h⁻)) / (h⁺ + h⁻)`, where `h⁺ = (x + h_k) − x` and
//! `h⁻ = x − (x − h_k)` are the steps as rounded in the element type (the realized steps;
//! in `f32` near `x = 3`, `h = 1e-4` is taken as `1.00135…e-4`). Richardson's rule
//! `T[k][m] = (4^m·T[k][m−1] − T[k−1][m−1]) / (4^m − 1)` cancels the `h²`, `h⁴`, … error
//! terms; the estimate is the last diagonal entry and its truncation error is estimated
//! as in Ridders' method, `max(|T[k][k] − T[k][k−1]|, |T[k][k] − T[k−1][k−1]|)`.
//!
//! Rounding: a loss computed in a type with epsilon `ε` from terms of total magnitude `S`
//! (the sum of `|term|`, [`Loss::scale`](crate::Loss::scale)) is off by up to about `ε·S`,
//! so `D_k` carries noise up to `2·ε·S / (h⁺ + h⁻)`; the bound is propagated through the
//! tableau with the absolute values of Richardson's weights.

/// Finite-difference settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FdOptions {
    /// The largest step `h` (level 0); level `k` uses `h / 2^k`.
    pub step: f64,
    /// Levels of the tableau: 1 is the plain central difference (2 loss evaluations, no
    /// truncation estimate), 2 is one Richardson step (4 evaluations), 3 two (6).
    pub levels: usize,
}

impl Default for FdOptions {
    /// [`FdOptions::F64`].
    fn default() -> Self {
        FdOptions::F64
    }
}

impl FdOptions {
    /// For an `f64` loss: `h = 1e-4`, two levels. Truncation error `O(h⁴) ≈ 1e-16`,
    /// rounding noise about `3ε·S / h ≈ 7e-12·S`.
    pub const F64: FdOptions = FdOptions {
        step: 1e-4,
        levels: 2,
    };
    /// For an `f32` loss: `h = 2⁻⁴`, three levels (`h/4 = 2⁻⁶` is exact near any `x` of
    /// magnitude below 2¹⁷). Truncation `O(h⁶) ≈ 6e-8` (relative to the seventh
    /// derivative), rounding noise about `3ε·S / (h/4) ≈ 2e-5·S`.
    pub const F32: FdOptions = FdOptions {
        step: 0.0625,
        levels: 3,
    };

    /// The default for an element type of machine epsilon `eps`: [`FdOptions::F64`] when
    /// `eps <= 1e-10`, else [`FdOptions::F32`].
    pub fn for_epsilon(eps: f64) -> Self {
        if eps <= 1e-10 {
            FdOptions::F64
        } else {
            FdOptions::F32
        }
    }

    /// Plain central differences with step `h` (e.g. `1e-6`), the criterion of
    /// `torch.autograd.gradcheck`.
    pub fn central(step: f64) -> Self {
        FdOptions { step, levels: 1 }
    }

    /// Why these options cannot be used, if they cannot: a step that is not finite and
    /// positive, or `levels` outside `1..=8`.
    pub fn problem(&self) -> Option<(&'static str, &'static str, String)> {
        if !(self.step.is_finite() && self.step > 0.0) {
            return Some(("fd.step", "a finite step > 0", format!("{}", self.step)));
        }
        if !(1..=8).contains(&self.levels) {
            return Some(("fd.levels", "1..=8", format!("{}", self.levels)));
        }
        None
    }
}

/// A finite-difference estimate with its error bounds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FdEstimate {
    /// The extrapolated derivative.
    pub value: f64,
    /// Ridders' estimate of its truncation error (0 with one level).
    pub truncation: f64,
    /// A bound on its rounding noise (infinite if a realized step was 0).
    pub rounding: f64,
    /// The smallest realized total step `h⁺ + h⁻` over the levels.
    pub step: f64,
}

impl FdEstimate {
    /// `truncation + rounding`: how far `value` may be from the exact derivative.
    pub fn error(&self) -> f64 {
        self.truncation + self.rounding
    }
}

/// One level's measurements: the difference of the two losses, the analytic prediction of
/// that difference (0 when none is compared), the realized total step, and the noise bound
/// of the loss difference.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Level {
    pub diff: f64,
    pub predicted: f64,
    pub step: f64,
    pub noise: f64,
}

/// The tableau over `levels` of `(diff − predicted) / step`: the estimate of the
/// discrepancy between the numeric and predicted derivatives, with its error bounds.
pub(crate) fn tableau(levels: &[Level]) -> FdEstimate {
    let k = levels.len();
    let mut t: Vec<Vec<f64>> = Vec::with_capacity(k);
    let mut n: Vec<Vec<f64>> = Vec::with_capacity(k);
    let mut min_step = f64::INFINITY;
    for (i, l) in levels.iter().enumerate() {
        min_step = min_step.min(l.step);
        let (d, noise) = if l.step > 0.0 && l.step.is_finite() {
            ((l.diff - l.predicted) / l.step, l.noise / l.step)
        } else {
            (f64::NAN, f64::INFINITY)
        };
        let mut row = vec![d];
        let mut nrow = vec![noise];
        for m in 1..=i {
            let w = 4f64.powi(m as i32);
            row.push((w * row[m - 1] - t[i - 1][m - 1]) / (w - 1.0));
            nrow.push((w * nrow[m - 1] + n[i - 1][m - 1]) / (w - 1.0));
        }
        t.push(row);
        n.push(nrow);
    }
    let last = k - 1;
    let value = t[last][last];
    let truncation = if last == 0 {
        0.0
    } else {
        (value - t[last][last - 1])
            .abs()
            .max((value - t[last - 1][last - 1]).abs())
    };
    FdEstimate {
        value,
        truncation,
        rounding: n[last][last],
        step: min_step,
    }
}

/// The derivative at `x0` of `f: f64 → f64` with its error bounds; `eps_scale` is the
/// loss's `ε·S` (see the module docs), e.g. `f64::EPSILON · |f(x0)|`.
///
/// ```
/// use recur_check::fd::{derivative, FdOptions};
/// let d = derivative(|x| Ok::<_, ()>(x.sin()), 0.5, f64::EPSILON, &FdOptions::default())?;
/// assert!((d.value - 0.5f64.cos()).abs() < 1e-11);
/// assert!((d.value - 0.5f64.cos()).abs() <= d.error());
/// # Ok::<(), ()>(())
/// ```
///
/// # Errors
/// The first error `f` returns.
pub fn derivative<E>(
    mut f: impl FnMut(f64) -> Result<f64, E>,
    x0: f64,
    eps_scale: f64,
    opts: &FdOptions,
) -> Result<FdEstimate, E> {
    let mut levels = Vec::with_capacity(opts.levels.max(1));
    for k in 0..opts.levels.max(1) {
        let h = opts.step / 2f64.powi(k as i32);
        let (xp, xm) = (x0 + h, x0 - h);
        let plus = f(xp)?;
        let minus = f(xm)?;
        levels.push(Level {
            diff: plus - minus,
            predicted: 0.0,
            step: xp - xm,
            noise: 2.0 * eps_scale,
        });
    }
    Ok(tableau(&levels))
}

/// The derivative at `x0` of `f`, by central differences on the realized steps (with
/// Richardson extrapolation unless `opts.levels` is 1).
///
/// ```
/// use recur_check::{central_difference, FdOptions};
/// let d = central_difference(|x| Ok::<_, ()>(x.sin()), 0.5, &FdOptions::default())?;
/// assert!((d - 0.5f64.cos()).abs() < 1e-11);
/// # Ok::<(), ()>(())
/// ```
///
/// # Errors
/// The first error `f` returns.
pub fn central_difference<E>(
    f: impl FnMut(f64) -> Result<f64, E>,
    x0: f64,
    opts: &FdOptions,
) -> Result<f64, E> {
    derivative(f, x0, 0.0, opts).map(|d| d.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn richardson_beats_plain_and_its_estimate_covers_the_error() {
        let f = |x: f64| Ok::<_, ()>(x.exp() * x.sin());
        let exact = 1.3f64.exp() * (1.3f64.sin() + 1.3f64.cos());
        let plain = central_difference(f, 1.3, &FdOptions::central(1e-3)).unwrap();
        let rich = derivative(
            f,
            1.3,
            f64::EPSILON * 4.0,
            &FdOptions {
                step: 1e-3,
                levels: 2,
            },
        )
        .unwrap();
        assert!((rich.value - exact).abs() < (plain - exact).abs() / 100.0);
        assert!((rich.value - exact).abs() < 1e-10);
        assert!((rich.value - exact).abs() <= rich.error());
        assert!(rich.truncation > 0.0 && rich.rounding > 0.0);
    }

    #[test]
    fn a_zero_step_is_infinite_noise() {
        let d = derivative(Ok::<_, ()>, 1e300, 0.0, &FdOptions::central(1.0)).unwrap();
        assert!(d.value.is_nan() && d.rounding.is_infinite());
    }
}
