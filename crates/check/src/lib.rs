//! # recur-check
//!
//! Gradient verification for recur's layers and for layers you write yourself:
//!
//! - [`fd`]: central finite differences in `f64`, optionally with Richardson
//!   extrapolation;
//! - [`report`]: the comparison of analytic and numeric gradients (max absolute and
//!   relative error, worst index, pass/fail under `atol + rtol·|numeric|`);
//! - [`GradCheck`]: the trait you implement for your own layer, so that one call to
//!   [`check_gradients`] checks every parameter and input gradient;
//! - [`harness`]: ready-made [`GradCheck`] implementations for `Embedding` and `TimeRnn`
//!   (loss `⟨R, output⟩` with a random `R`, so every output gradient is exercised);
//! - [`strategies`]: proptest strategies for small shapes, weights in `[−1, 1]` and
//!   token ids, used by the property tests of every layer;
//! - [`reference`]: a naive per-step `f64` TimeRnn, the oracle for the fast one.
//!
//! ## Checking your own layer
//! ```
//! use recur_check::{check_gradients, CheckOptions, GradCheck};
//! use recur_check::ndarray::{array, Array1, ArrayD, ArrayViewMutD};
//! use recur_check::Error;
//!
//! /// y = tanh(w ⊙ x), loss = Σ r ⊙ y.
//! struct Mine { w: Array1<f64>, x: Array1<f64>, r: Array1<f64> }
//! impl GradCheck for Mine {
//!     fn tensor_names(&self) -> Vec<String> { vec!["w".into(), "x".into()] }
//!     fn tensor_mut(&mut self, i: usize) -> ArrayViewMutD<'_, f64> {
//!         if i == 0 { self.w.view_mut().into_dyn() } else { self.x.view_mut().into_dyn() }
//!     }
//!     fn loss(&mut self) -> Result<f64, Error> {
//!         Ok((&self.w * &self.x).mapv(f64::tanh).dot(&self.r))
//!     }
//!     fn gradients(&mut self) -> Result<Vec<ArrayD<f64>>, Error> {
//!         let dz = (&self.w * &self.x).mapv(|z| 1.0 - z.tanh().powi(2)) * &self.r;
//!         Ok(vec![(&dz * &self.x).into_dyn(), (&dz * &self.w).into_dyn()])
//!     }
//! }
//! let mut layer = Mine { w: array![0.3, -0.7], x: array![1.5, 0.2], r: array![1.0, -2.0] };
//! let report = check_gradients(&mut layer, &CheckOptions::default())?;
//! assert!(report.passed(), "{report}");
//! # Ok::<(), Error>(())
//! ```

#![forbid(unsafe_code)]

pub mod fd;
pub mod harness;
pub mod reference;
pub mod report;
pub mod strategies;

pub use fd::{central_difference, FdOptions};
pub use harness::{EmbeddingCheck, SoftmaxCheck, TimeAffineCheck, TimeRnnCheck};
pub use recur_layers::ndarray;
pub use recur_layers::{Error, Result};
pub use report::{Comparison, GradReport, Tolerance};

use ndarray::{ArrayD, ArrayViewMutD};

/// A differentiable computation whose gradients can be checked: a layer plus fixed
/// inputs and a scalar loss.
///
/// "Tensors" are everything whose gradient is checked: parameters and inputs alike.
pub trait GradCheck {
    /// Names of the tensors, in a fixed order.
    fn tensor_names(&self) -> Vec<String>;
    /// Tensor `i`, writable: the checker perturbs one element at a time and restores it.
    fn tensor_mut(&mut self, i: usize) -> ArrayViewMutD<'_, f64>;
    /// The scalar loss at the current values (a forward pass). Must be a deterministic
    /// function of the tensors (reset any carried state).
    fn loss(&mut self) -> Result<f64>;
    /// Forward and backward at the current values: the analytic gradient of the loss with
    /// respect to every tensor, in [`GradCheck::tensor_names`] order and of the tensors'
    /// shapes.
    fn gradients(&mut self) -> Result<Vec<ArrayD<f64>>>;
}

/// How [`check_gradients`] differentiates and what it accepts.
#[derive(Clone, Copy, Debug)]
pub struct CheckOptions {
    /// Finite-difference settings.
    pub fd: FdOptions,
    /// The pass criterion.
    pub tol: Tolerance,
    /// Check at most this many elements per tensor (evenly spaced, always including the
    /// first and last); `None` checks all.
    pub max_elements: Option<usize>,
}

impl Default for CheckOptions {
    /// Richardson-extrapolated central differences with step `1e-4`, and
    /// `|analytic − numeric| <= 1e-9 + 1e-6·|numeric|`.
    fn default() -> Self {
        CheckOptions {
            fd: FdOptions::default(),
            tol: Tolerance::default(),
            max_elements: None,
        }
    }
}

/// Checks every tensor's analytic gradient against central finite differences of
/// [`GradCheck::loss`].
///
/// # Errors
/// Whatever the model's `loss` or `gradients` return; [`Error::ShapeMismatch`] if
/// `gradients` returns the wrong number of tensors or a gradient of the wrong shape.
pub fn check_gradients<M: GradCheck + ?Sized>(
    model: &mut M,
    opts: &CheckOptions,
) -> Result<GradReport> {
    let names = model.tensor_names();
    let grads = model.gradients()?;
    if grads.len() != names.len() {
        return Err(Error::ShapeMismatch {
            op: "check_gradients",
            arg: "gradients",
            expected: format!("{} tensors ({})", names.len(), names.join(", ")),
            got: format!("{} tensors", grads.len()),
        });
    }
    let mut entries = Vec::with_capacity(names.len());
    for (i, (name, grad)) in names.iter().zip(&grads).enumerate() {
        let shape = model.tensor_mut(i).shape().to_vec();
        if grad.shape() != shape.as_slice() {
            return Err(Error::ShapeMismatch {
                op: "check_gradients",
                arg: "gradients",
                expected: format!("gradient of `{name}` with shape {shape:?}"),
                got: format!("{:?}", grad.shape()),
            });
        }
        let len = grad.len();
        let indices = sample_indices(len, opts.max_elements);
        let mut analytic = Vec::with_capacity(indices.len());
        let mut numeric = Vec::with_capacity(indices.len());
        for &j in &indices {
            analytic.push(grad.iter().nth(j).copied().unwrap_or(f64::NAN));
            let x0 = get_element(model, i, j);
            let d = central_difference(
                |x| {
                    set_element(model, i, j, x);
                    model.loss()
                },
                x0,
                &opts.fd,
            );
            numeric.push(d?);
        }
        entries.push(Comparison::new(
            name, &indices, &analytic, &numeric, opts.tol,
        ));
    }
    Ok(GradReport { entries })
}

fn get_element<M: GradCheck + ?Sized>(model: &mut M, i: usize, j: usize) -> f64 {
    model
        .tensor_mut(i)
        .iter()
        .nth(j)
        .copied()
        .unwrap_or(f64::NAN)
}

fn set_element<M: GradCheck + ?Sized>(model: &mut M, i: usize, j: usize, v: f64) {
    if let Some(x) = model.tensor_mut(i).iter_mut().nth(j) {
        *x = v;
    }
}

/// Up to `max` evenly spaced indices in `0..len` (all of them when `max` is `None`).
fn sample_indices(len: usize, max: Option<usize>) -> Vec<usize> {
    match max {
        Some(m) if m < len && m >= 2 => (0..m).map(|s| s * (len - 1) / (m - 1)).collect(),
        Some(1) if len > 1 => vec![0],
        _ => (0..len).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_covers_ends() {
        assert_eq!(sample_indices(10, Some(3)), vec![0, 4, 9]);
        assert_eq!(sample_indices(3, Some(10)), vec![0, 1, 2]);
        assert_eq!(sample_indices(0, None), Vec::<usize>::new());
    }
}
