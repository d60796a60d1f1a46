//! Central finite differences in `f64`.

use recur_layers::Result;

/// Finite-difference settings.
#[derive(Clone, Copy, Debug)]
pub struct FdOptions {
    /// The step `h`.
    pub step: f64,
    /// Richardson extrapolation: `(4·D(h/2) − D(h)) / 3`, which cancels the `h²` error
    /// term of the central difference `D(h) = (f(x+h) − f(x−h)) / 2h`.
    pub richardson: bool,
}

impl Default for FdOptions {
    /// `h = 1e-4` with Richardson extrapolation: truncation error `O(h⁴) ≈ 1e-16`,
    /// rounding error about `ε·|f| / h ≈ 1e-12·|f|`.
    fn default() -> Self {
        FdOptions {
            step: 1e-4,
            richardson: true,
        }
    }
}

impl FdOptions {
    /// Plain central differences with step `h` (e.g. `1e-6`).
    pub fn central(step: f64) -> Self {
        FdOptions {
            step,
            richardson: false,
        }
    }
}

/// The derivative at `x0` of `f`, by central differences. `f` is called at `x0 ± h`
/// (and `x0 ± h/2` with Richardson), then once more at `x0` so that whatever `f` sets is
/// left as it was.
///
/// ```
/// use recur_check::{central_difference, FdOptions};
/// let d = central_difference(|x| Ok(x.sin()), 0.5, &FdOptions::default())?;
/// assert!((d - 0.5f64.cos()).abs() < 1e-11);
/// # Ok::<(), recur_check::Error>(())
/// ```
///
/// # Errors
/// The first error `f` returns.
pub fn central_difference(
    mut f: impl FnMut(f64) -> Result<f64>,
    x0: f64,
    opts: &FdOptions,
) -> Result<f64> {
    let mut diff = |h: f64| -> Result<f64> {
        let plus = f(x0 + h)?;
        let minus = f(x0 - h)?;
        Ok((plus - minus) / (2.0 * h))
    };
    let h = opts.step;
    let d = if opts.richardson {
        let coarse = diff(h)?;
        let fine = diff(h / 2.0)?;
        (4.0 * fine - coarse) / 3.0
    } else {
        diff(h)?
    };
    f(x0)?;
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn richardson_beats_plain() {
        let f = |x: f64| Ok(x.exp() * x.sin());
        let exact = 1.3f64.exp() * (1.3f64.sin() + 1.3f64.cos());
        let plain = central_difference(f, 1.3, &FdOptions::central(1e-3)).unwrap();
        let rich = central_difference(
            f,
            1.3,
            &FdOptions {
                step: 1e-3,
                richardson: true,
            },
        )
        .unwrap();
        assert!((rich - exact).abs() < (plain - exact).abs() / 100.0);
        assert!((rich - exact).abs() < 1e-10);
    }

    #[test]
    fn restores_the_point() {
        let mut last = f64::NAN;
        central_difference(
            |x| {
                last = x;
                Ok(x * x)
            },
            2.0,
            &FdOptions::default(),
        )
        .unwrap();
        assert_eq!(last, 2.0);
    }
}
