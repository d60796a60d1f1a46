//! Comparison of analytic and numeric gradients.

use std::fmt;

/// Pass criterion: `|analytic − numeric| <= atol + rtol·|numeric|` for every element.
#[derive(Clone, Copy, Debug)]
pub struct Tolerance {
    /// Absolute part.
    pub atol: f64,
    /// Relative part.
    pub rtol: f64,
}

impl Default for Tolerance {
    /// `atol = 1e-9`, `rtol = 1e-6`.
    fn default() -> Self {
        Tolerance {
            atol: 1e-9,
            rtol: 1e-6,
        }
    }
}

/// The comparison for one tensor.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// The tensor's name.
    pub name: String,
    /// How many elements were compared.
    pub checked: usize,
    /// Largest `|analytic − numeric|`.
    pub max_abs: f64,
    /// Largest `|analytic − numeric| / max(|analytic|, |numeric|)` over elements where
    /// that denominator exceeds the tolerance's `atol` (0 where both are that small).
    pub max_rel: f64,
    /// Flat (row-major) index of the element that exceeds the criterion by the largest
    /// factor (or has the largest error if all pass); `None` for an empty tensor.
    pub worst_index: Option<usize>,
    /// Analytic and numeric values at `worst_index`.
    pub worst: Option<(f64, f64)>,
    /// Whether every element met the criterion (NaN never does).
    pub passed: bool,
}

impl Comparison {
    /// Compares `analytic[k]` with `numeric[k]`, element `k` being flat index
    /// `indices[k]` of tensor `name`.
    pub fn new(
        name: &str,
        indices: &[usize],
        analytic: &[f64],
        numeric: &[f64],
        tol: Tolerance,
    ) -> Self {
        let mut c = Comparison {
            name: name.to_string(),
            checked: analytic.len().min(numeric.len()),
            max_abs: 0.0,
            max_rel: 0.0,
            worst_index: None,
            worst: None,
            passed: true,
        };
        let mut worst_ratio = -1.0f64;
        for ((&idx, &a), &n) in indices.iter().zip(analytic).zip(numeric) {
            let err = (a - n).abs();
            let allowed = tol.atol + tol.rtol * n.abs();
            let ok = err <= allowed; // false for NaN
            let ratio = if err.is_nan() {
                f64::INFINITY
            } else {
                err / allowed
            };
            if !ok {
                c.passed = false;
            }
            c.max_abs = if err.is_nan() {
                f64::NAN
            } else {
                c.max_abs.max(err)
            };
            let denom = a.abs().max(n.abs());
            if denom > tol.atol {
                c.max_rel = c.max_rel.max(err / denom);
            }
            if ratio > worst_ratio {
                worst_ratio = ratio;
                c.worst_index = Some(idx);
                c.worst = Some((a, n));
            }
        }
        c
    }
}

/// The comparisons of every tensor of one check.
#[derive(Clone, Debug, Default)]
pub struct GradReport {
    /// One entry per tensor.
    pub entries: Vec<Comparison>,
}

impl GradReport {
    /// Whether every tensor passed.
    pub fn passed(&self) -> bool {
        self.entries.iter().all(|e| e.passed)
    }
    /// The entry of tensor `name`.
    pub fn get(&self, name: &str) -> Option<&Comparison> {
        self.entries.iter().find(|e| e.name == name)
    }
    /// The largest relative error over all tensors.
    pub fn max_rel(&self) -> f64 {
        self.entries.iter().map(|e| e.max_rel).fold(0.0, f64::max)
    }
}

impl fmt::Display for GradReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<10} {:>8} {:>11} {:>11} {:>8}  verdict",
            "tensor", "checked", "max abs", "max rel", "worst"
        )?;
        for e in &self.entries {
            let worst = e.worst_index.map_or("-".to_string(), |i| i.to_string());
            writeln!(
                f,
                "{:<10} {:>8} {:>11.3e} {:>11.3e} {:>8}  {}",
                e.name,
                e.checked,
                e.max_abs,
                e.max_rel,
                worst,
                if e.passed { "ok" } else { "FAIL" }
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_wrong_element_fails_and_is_named() {
        let a = [1.0, 2.0, 3.0, 4.0];
        let mut n = a;
        n[2] += 1e-4;
        let c = Comparison::new("w", &[0, 1, 2, 3], &a, &n, Tolerance::default());
        assert!(!c.passed);
        assert_eq!(c.worst_index, Some(2));
        let ok = Comparison::new("w", &[0, 1, 2, 3], &a, &a, Tolerance::default());
        assert!(ok.passed);
        let nan = Comparison::new("w", &[0], &[f64::NAN], &[1.0], Tolerance::default());
        assert!(!nan.passed);
    }
}
