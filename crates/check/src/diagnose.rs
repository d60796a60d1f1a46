//! The error pattern of a failed tensor, named: what kind of bug produced it.

use crate::report::{unravel, Comparison, Outcome};
use std::collections::HashMap;
use std::fmt;

/// A recognised error pattern.
#[derive(Clone, Debug, PartialEq)]
pub enum Diagnosis {
    /// The analytic gradient is zero wherever it fails: a gradient never written (or
    /// overwritten with zeros).
    ZeroAnalytic,
    /// `analytic = −numeric` on every resolved element.
    SignFlip,
    /// `analytic = ratio · numeric` on every resolved element: a missing or extra factor
    /// (a missing `1/N` shows as `ratio = N`).
    ConstantRatio {
        /// `analytic / numeric`.
        ratio: f64,
    },
    /// `analytic[.., i, j] = numeric[.., j, i]` on every failing element.
    Transposed,
    /// Every failing element has the same index along one axis, and elements with other
    /// indices there pass: an error confined to one time step, batch row, or row.
    Confined {
        /// The axis.
        axis: usize,
        /// What the axis is (`"time step t"`, `"batch row n"`, or `"axis"`).
        label: &'static str,
        /// The index along it.
        index: usize,
        /// The multi-dimensional index of the first failing element.
        first: Vec<usize>,
        /// How many elements failed.
        failed: usize,
    },
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Diagnosis::ZeroAnalytic => f.write_str("the analytic gradient is zero where it fails"),
            Diagnosis::SignFlip => f.write_str("sign flip: analytic = -numeric"),
            Diagnosis::ConstantRatio { ratio } => {
                write!(f, "constant ratio: analytic = {ratio:.6} x numeric")
            }
            Diagnosis::Transposed => f.write_str("transposed: analytic[i, j] = numeric[j, i]"),
            Diagnosis::Confined {
                axis,
                label,
                index,
                first,
                failed,
            } => write!(
                f,
                "confined to {label} = {index} (axis {axis}): {failed} failing elements, the first at {first:?}"
            ),
        }
    }
}

/// The patterns that explain `c`'s failures (empty when it did not fail or nothing fits).
///
/// ```
/// use recur_check::diagnose::{diagnose, Diagnosis};
/// use recur_check::{Comparison, Measured, Tolerance};
/// let m: Vec<_> = (0..6).map(|i| Measured { index: i, analytic: 2.0 * (i as f64 + 1.0),
///                                           numeric: i as f64 + 1.0, fd_error: 1e-12 }).collect();
/// let c = Comparison::judge("w", &[2, 3], &m, f64::EPSILON, &Tolerance::default());
/// assert_eq!(diagnose(&c)[0], Diagnosis::ConstantRatio { ratio: 2.0 });
/// ```
pub fn diagnose(c: &Comparison) -> Vec<Diagnosis> {
    let failed: Vec<_> = c.failures().collect();
    if failed.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    if failed.iter().all(|e| e.analytic == 0.0) {
        out.push(Diagnosis::ZeroAnalytic);
    }
    // Ratios over every element whose numeric value stands above the noise.
    let ratios: Vec<f64> = c
        .elements
        .iter()
        .filter(|e| e.numeric.abs() > e.floor && e.numeric.is_finite())
        .map(|e| e.analytic / e.numeric)
        .collect();
    if let (Some(&r0), true) = (ratios.first(), ratios.len() >= 2 || failed.len() == 1) {
        let tol = 1e-3 * r0.abs().max(1e-300);
        if r0.is_finite() && r0 != 0.0 && ratios.iter().all(|r| (r - r0).abs() <= tol) {
            if (r0 + 1.0).abs() <= 1e-3 {
                out.push(Diagnosis::SignFlip);
            } else if (r0 - 1.0).abs() > 1e-3 {
                let rounded = (r0 * 1e6).round() / 1e6;
                out.push(Diagnosis::ConstantRatio { ratio: rounded });
            }
        }
    }
    let nd = c.shape.len();
    if nd >= 2 && c.shape[nd - 1] == c.shape[nd - 2] && c.shape[nd - 1] >= 2 {
        let by_index: HashMap<usize, (f64, f64)> = c
            .elements
            .iter()
            .map(|e| (e.index, (e.analytic, e.numeric)))
            .collect();
        let mut partners = 0;
        let fits = failed.iter().all(|e| {
            let mut idx = unravel(e.index, &c.shape);
            idx.swap(nd - 1, nd - 2);
            let t = idx
                .iter()
                .zip(&c.shape)
                .fold(0usize, |acc, (&i, &d)| acc * d + i);
            match by_index.get(&t) {
                Some(&(_, n_t)) => {
                    partners += 1;
                    (e.analytic - n_t).abs() <= 1e-3 * e.analytic.abs().max(n_t.abs()) + e.floor
                }
                None => true,
            }
        });
        if fits && partners > 0 {
            out.push(Diagnosis::Transposed);
        }
    }
    for axis in 0..nd {
        if c.shape[axis] < 2 {
            continue;
        }
        let first = unravel(failed[0].index, &c.shape);
        let k = first[axis];
        let same = failed.iter().all(|e| unravel(e.index, &c.shape)[axis] == k);
        let others_pass = c
            .elements
            .iter()
            .any(|e| e.outcome != Outcome::Fail && unravel(e.index, &c.shape)[axis] != k);
        if same && others_pass {
            let label = match (nd, axis) {
                (3, 0) => "time step t",
                (3, 1) => "batch row n",
                (2, 0) => "row",
                (2, 1) => "column",
                _ => "axis",
            };
            out.push(Diagnosis::Confined {
                axis,
                label,
                index: k,
                first,
                failed: failed.len(),
            });
        }
    }
    out
}
