//! The verdict on analytic against numeric gradients, element by element, and the report.
//!
//! An element with analytic value `a` and numeric value `n` (error `|a − n|`, magnitude
//! `m = max(|a|, |n|)`) is judged against
//!
//! `allowed = rtol·m + floor`, `floor = safety·(FD truncation + FD rounding) + ulps·ε_a·G + atol`,
//!
//! where the FD error bounds come from the tableau ([`crate::fd`]) on the realized steps
//! and the loss's magnitude, `ε_a` is the epsilon of the type the analytic gradient was
//! computed in and `G` the largest magnitude in the tensor (the rounding of a backward pass
//! is relative to the gradients it sums, not to each result). Then:
//! - [`Outcome::PassRel`]: `|a − n| <= rtol·m`;
//! - [`Outcome::PassFloor`]: within `allowed` only thanks to the floor, and the floor is
//!   small against the tensor's gradients (`floor <= inconclusive·G`);
//! - [`Outcome::Inconclusive`]: within `allowed`, but the floor is so large that a
//!   gradient wrong by its own size could pass too;
//! - [`Outcome::Fail`]: beyond `allowed`, or NaN.
//!
//! The deciding ratio of an element is `|a − n| / allowed` (fail above 1), its headroom
//! `1 / ratio`: how many times larger the error could be before the element fails.

use std::fmt;

/// The pass criterion (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    /// Relative part.
    pub rtol: f64,
    /// A fixed absolute part of the floor (0 by default: the floor calibrates itself).
    pub atol: f64,
    /// The multiple of the finite-difference error estimate in the floor.
    pub safety: f64,
    /// The analytic rounding allowance, in units of `ε_a·G`.
    pub analytic_ulps: f64,
    /// A floor above this fraction of the tensor's largest gradient makes an element
    /// inconclusive instead of passing.
    pub inconclusive: f64,
}

impl Default for Tolerance {
    /// [`Tolerance::for_epsilon`] of `f64`.
    fn default() -> Self {
        Tolerance::for_epsilon(f64::EPSILON)
    }
}

impl Tolerance {
    /// The tolerance for an analytic gradient of machine epsilon `eps`: `rtol = 16·√ε`
    /// (`2.4e-7` for `f64`, `5.5e-3` for `f32`), `safety = 4`, `analytic_ulps = 64`,
    /// `inconclusive = 0.1`, `atol = 0`.
    ///
    /// ```
    /// use recur_check::Tolerance;
    /// let t = Tolerance::for_epsilon(f32::EPSILON as f64);
    /// assert!((t.rtol - 5.52e-3).abs() < 1e-5);
    /// ```
    pub fn for_epsilon(eps: f64) -> Self {
        Tolerance {
            rtol: 16.0 * eps.sqrt(),
            atol: 0.0,
            safety: 4.0,
            analytic_ulps: 64.0,
            inconclusive: 0.1,
        }
    }

    /// Why this tolerance cannot be used, if it cannot (a negative or NaN part).
    pub fn problem(&self) -> Option<(&'static str, &'static str, String)> {
        let parts = [
            ("tol.rtol", self.rtol),
            ("tol.atol", self.atol),
            ("tol.safety", self.safety),
            ("tol.analytic_ulps", self.analytic_ulps),
            ("tol.inconclusive", self.inconclusive),
        ];
        parts
            .iter()
            .find(|(_, v)| v.is_nan() || *v < 0.0)
            .map(|&(name, v)| (name, "a number >= 0", format!("{v}")))
    }

    /// Judges one value: `(outcome, deciding ratio, allowed error)`, given the floor and
    /// the scale `g` against which the floor is called too large.
    pub fn judge(&self, analytic: f64, numeric: f64, floor: f64, g: f64) -> (Outcome, f64, f64) {
        let err = (analytic - numeric).abs();
        let m = analytic.abs().max(numeric.abs());
        let rel = self.rtol * m;
        let allowed = rel + floor;
        let ratio = if err == 0.0 {
            0.0
        } else if allowed > 0.0 {
            err / allowed
        } else {
            f64::INFINITY
        };
        let outcome = if analytic.is_nan() {
            Outcome::Fail
        } else if floor.is_nan() || floor.is_infinite() {
            Outcome::Inconclusive
        } else if err.is_nan() || err > allowed {
            Outcome::Fail
        } else if err <= rel {
            Outcome::PassRel
        } else if floor <= self.inconclusive * g {
            Outcome::PassFloor
        } else {
            Outcome::Inconclusive
        };
        let ratio = if err.is_nan() { f64::INFINITY } else { ratio };
        (outcome, ratio, allowed)
    }
}

/// How one element was judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Within the relative tolerance.
    PassRel,
    /// Within the floor of rounding and truncation noise only.
    PassFloor,
    /// The noise is too large to tell.
    Inconclusive,
    /// Wrong.
    Fail,
}

/// The verdict on a tensor or a whole check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verdict {
    /// Every element passed.
    Pass,
    /// None failed, some could not be decided.
    Inconclusive,
    /// Some element failed.
    Fail,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Pass => "ok",
            Verdict::Inconclusive => "INCONCLUSIVE",
            Verdict::Fail => "FAIL",
        })
    }
}

/// What the checker measured at one element, before the verdict.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Measured {
    /// Flat (row-major) index in the tensor.
    pub index: usize,
    /// The analytic gradient.
    pub analytic: f64,
    /// The numeric gradient.
    pub numeric: f64,
    /// The finite difference's error bound (truncation + rounding).
    pub fd_error: f64,
}

/// One judged element.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ElementCheck {
    /// Flat (row-major) index in the tensor.
    pub index: usize,
    /// The analytic gradient.
    pub analytic: f64,
    /// The numeric gradient.
    pub numeric: f64,
    /// The floor it was judged with.
    pub floor: f64,
    /// `|a − n| / allowed`.
    pub ratio: f64,
    /// The judgement.
    pub outcome: Outcome,
}

/// The comparison for one tensor.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// The tensor's name.
    pub name: String,
    /// The tensor's shape.
    pub shape: Vec<usize>,
    /// Every checked element, in flat-index order.
    pub elements: Vec<ElementCheck>,
    /// Elements within the relative tolerance.
    pub passed_rel: usize,
    /// Elements excused by the floor.
    pub passed_floor: usize,
    /// Undecidable elements.
    pub inconclusive: usize,
    /// Failed elements.
    pub failed: usize,
    /// Largest `|a − n|` (NaN if any element is NaN).
    pub max_abs: f64,
    /// Largest `|a − n| / max(|a|, |n|)` (NaN if any element is NaN).
    pub max_rel: f64,
    /// The largest deciding ratio (infinite for NaN): the verdict fails above 1.
    pub ratio: f64,
    /// Position in `elements` of the element with the largest ratio.
    pub worst: Option<usize>,
    /// The tensor's verdict.
    pub verdict: Verdict,
}

fn nan_max(m: f64, x: f64) -> f64 {
    if m.is_nan() || x.is_nan() {
        f64::NAN
    } else {
        m.max(x)
    }
}

impl Comparison {
    /// Judges the measured elements of tensor `name` of `shape`, whose analytic gradient
    /// was computed in a type of epsilon `eps_analytic`.
    ///
    /// ```
    /// use recur_check::{Comparison, Measured, Tolerance, Verdict};
    /// let m = |index, analytic, numeric| Measured { index, analytic, numeric, fd_error: 1e-18 };
    /// // 2e-9 against 1e-9 is 100% wrong, however small.
    /// let c = Comparison::judge("w", &[2], &[m(0, 1.0, 1.0), m(1, 2e-9, 1e-9)],
    ///                           f64::EPSILON, &Tolerance::default());
    /// assert_eq!(c.verdict, Verdict::Fail);
    /// assert_eq!(c.worst_index(), Some(vec![1]));
    /// ```
    pub fn judge(
        name: &str,
        shape: &[usize],
        measured: &[Measured],
        eps_analytic: f64,
        tol: &Tolerance,
    ) -> Self {
        let g = measured
            .iter()
            .map(|m| m.analytic.abs().max(m.numeric.abs()))
            .filter(|x| x.is_finite())
            .fold(0.0, f64::max);
        let analytic_floor = tol.analytic_ulps * eps_analytic * g;
        let mut c = Comparison {
            name: name.to_string(),
            shape: shape.to_vec(),
            elements: Vec::with_capacity(measured.len()),
            passed_rel: 0,
            passed_floor: 0,
            inconclusive: 0,
            failed: 0,
            max_abs: 0.0,
            max_rel: 0.0,
            ratio: 0.0,
            worst: None,
            verdict: Verdict::Pass,
        };
        for m in measured {
            let floor = tol.safety * m.fd_error + analytic_floor + tol.atol;
            let (outcome, ratio, _) = tol.judge(m.analytic, m.numeric, floor, g);
            match outcome {
                Outcome::PassRel => c.passed_rel += 1,
                Outcome::PassFloor => c.passed_floor += 1,
                Outcome::Inconclusive => c.inconclusive += 1,
                Outcome::Fail => c.failed += 1,
            }
            let err = (m.analytic - m.numeric).abs();
            c.max_abs = nan_max(c.max_abs, err);
            let denom = m.analytic.abs().max(m.numeric.abs());
            c.max_rel = nan_max(c.max_rel, if denom > 0.0 { err / denom } else { err });
            if c.worst.is_none() || ratio > c.ratio {
                c.ratio = ratio;
                c.worst = Some(c.elements.len());
            }
            c.elements.push(ElementCheck {
                index: m.index,
                analytic: m.analytic,
                numeric: m.numeric,
                floor,
                ratio,
                outcome,
            });
        }
        c.verdict = if c.failed > 0 {
            Verdict::Fail
        } else if c.inconclusive > 0 {
            Verdict::Inconclusive
        } else {
            Verdict::Pass
        };
        c
    }

    /// Elements compared.
    pub fn checked(&self) -> usize {
        self.elements.len()
    }

    /// Whether every element passed.
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }

    /// `1 / ratio`: how many times larger the worst error could be before the tensor fails
    /// (infinite when every error is 0, below 1 when it failed).
    pub fn headroom(&self) -> f64 {
        1.0 / self.ratio
    }

    /// The element with the largest deciding ratio.
    pub fn worst_element(&self) -> Option<&ElementCheck> {
        self.worst.map(|w| &self.elements[w])
    }

    /// The multi-dimensional index of the worst element, e.g. `[t, n, h]`.
    pub fn worst_index(&self) -> Option<Vec<usize>> {
        self.worst_element().map(|e| unravel(e.index, &self.shape))
    }

    /// The failed elements.
    pub fn failures(&self) -> impl Iterator<Item = &ElementCheck> {
        self.elements.iter().filter(|e| e.outcome == Outcome::Fail)
    }
}

/// The multi-dimensional index of flat (row-major) index `flat` in `shape`.
///
/// ```
/// assert_eq!(recur_check::report::unravel(7, &[2, 2, 3]), vec![1, 0, 1]);
/// ```
pub fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for (i, &d) in shape.iter().enumerate().rev() {
        if d > 0 {
            idx[i] = flat % d;
            flat /= d;
        }
    }
    idx
}

/// The comparisons of every tensor of one check.
#[derive(Clone, Debug, Default)]
pub struct GradReport {
    /// One entry per tensor.
    pub entries: Vec<Comparison>,
}

impl GradReport {
    /// The worst verdict of any tensor ([`Verdict::Pass`] for no tensors).
    pub fn verdict(&self) -> Verdict {
        self.entries
            .iter()
            .map(|e| e.verdict)
            .max()
            .unwrap_or(Verdict::Pass)
    }
    /// Whether every tensor passed (no failure and nothing inconclusive).
    pub fn passed(&self) -> bool {
        self.verdict() == Verdict::Pass
    }
    /// Whether some element failed.
    pub fn failed(&self) -> bool {
        self.verdict() == Verdict::Fail
    }
    /// The entry of tensor `name`.
    pub fn get(&self, name: &str) -> Option<&Comparison> {
        self.entries.iter().find(|e| e.name == name)
    }
    /// The largest relative error over all tensors (NaN if any is NaN).
    pub fn max_rel(&self) -> f64 {
        self.entries.iter().map(|e| e.max_rel).fold(0.0, nan_max)
    }
    /// The largest deciding ratio over all tensors.
    pub fn ratio(&self) -> f64 {
        self.entries.iter().map(|e| e.ratio).fold(0.0, f64::max)
    }
    /// `1 / ratio()`.
    pub fn headroom(&self) -> f64 {
        1.0 / self.ratio()
    }
}

/// The table header of [`Comparison`]'s `Display`.
pub const HEADER: &str = "tensor       checked   rel floor  inc fail     max abs     max rel  ratio headroom  worst [index] a / n  verdict";

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let worst = match (self.worst_element(), self.worst_index()) {
            (Some(e), Some(i)) => format!("{i:?} {:.6e} / {:.6e}", e.analytic, e.numeric),
            _ => "-".to_string(),
        };
        write!(
            f,
            "{:<12} {:>7} {:>5} {:>5} {:>4} {:>4} {:>11.3e} {:>11.3e} {:>6.2} {:>8.2}  {}  {}",
            self.name,
            self.checked(),
            self.passed_rel,
            self.passed_floor,
            self.inconclusive,
            self.failed,
            self.max_abs,
            self.max_rel,
            self.ratio,
            self.headroom(),
            worst,
            self.verdict
        )
    }
}

impl fmt::Display for GradReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{HEADER}")?;
        for e in &self.entries {
            writeln!(f, "{e}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(index: usize, analytic: f64, numeric: f64, fd_error: f64) -> Measured {
        Measured {
            index,
            analytic,
            numeric,
            fd_error,
        }
    }

    #[test]
    fn one_wrong_element_fails_and_is_named() {
        let good: Vec<_> = (0..4)
            .map(|i| m(i, i as f64 + 1.0, i as f64 + 1.0, 1e-14))
            .collect();
        let mut bad = good.clone();
        bad[2].numeric += 1e-4;
        let c = Comparison::judge("w", &[2, 2], &bad, f64::EPSILON, &Tolerance::default());
        assert_eq!(c.verdict, Verdict::Fail);
        assert_eq!(c.failed, 1);
        assert_eq!(c.worst_index(), Some(vec![1, 0]));
        assert!(c.ratio > 1.0 && c.headroom() < 1.0);
        let ok = Comparison::judge("w", &[4], &good, f64::EPSILON, &Tolerance::default());
        assert_eq!((ok.verdict, ok.passed_rel), (Verdict::Pass, 4));
        assert!(ok.headroom().is_infinite());
    }

    #[test]
    fn nan_fails_and_shows_in_the_maxima() {
        let c = Comparison::judge(
            "w",
            &[2],
            &[m(0, 1.0, 1.0, 0.0), m(1, f64::NAN, 1.0, 0.0)],
            f64::EPSILON,
            &Tolerance::default(),
        );
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(c.max_abs.is_nan() && c.max_rel.is_nan() && c.ratio.is_infinite());
        assert_eq!(c.worst_index(), Some(vec![1]));
        let n = Comparison::judge(
            "w",
            &[1],
            &[m(0, 1.0, f64::NAN, 0.0)],
            0.0,
            &Tolerance::default(),
        );
        assert_eq!(n.verdict, Verdict::Fail);
    }

    #[test]
    fn floor_excuses_noise_and_huge_noise_is_inconclusive() {
        let tol = Tolerance::default();
        // A small gradient next to a large one, off by less than the FD noise.
        let c = Comparison::judge(
            "w",
            &[2],
            &[m(0, 10.0, 10.0, 1e-8), m(1, 1e-3, 1e-3 + 2e-8, 1e-8)],
            f64::EPSILON,
            &tol,
        );
        assert_eq!(
            (c.verdict, c.passed_rel, c.passed_floor),
            (Verdict::Pass, 1, 1)
        );
        // Noise as large as the gradients: cannot tell.
        let c = Comparison::judge("w", &[1], &[m(0, 1.0, 1.2, 1.0)], f64::EPSILON, &tol);
        assert_eq!(c.verdict, Verdict::Inconclusive);
        // Infinite noise (a step lost to rounding) is inconclusive, not a failure.
        let c = Comparison::judge("w", &[1], &[m(0, 1.0, f64::NAN, f64::INFINITY)], 0.0, &tol);
        assert_eq!(c.verdict, Verdict::Inconclusive);
    }
}
