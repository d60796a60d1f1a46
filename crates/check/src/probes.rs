//! State and determinism probes: properties a gradient check silently assumes.

use crate::check::tensor;
use crate::ndarray::{ArrayD, ArrayView3, Axis, Slice};
use crate::report::unravel;
use crate::{CheckError, GradCheck};
use recur_kernels::dispatch::{available_levels, with_level};
use recur_layers::{Error, Float, Parallelism, TimeRnn};
use std::fmt;

/// A broken assumption.
#[derive(Clone, Debug, PartialEq)]
pub enum Problem {
    /// Two `loss` calls at the same tensors gave different bits.
    LossNotDeterministic {
        /// The first value.
        first: f64,
        /// The second.
        second: f64,
    },
    /// Two `gradients` calls gave different bits at this element.
    GradientsNotDeterministic {
        /// The tensor.
        tensor: String,
        /// The element.
        index: Vec<usize>,
    },
    /// The second `gradients` call returned twice the first: the backward accumulates
    /// into its gradients instead of overwriting them.
    Accumulates {
        /// The tensor.
        tensor: String,
    },
    /// A call changed a tensor.
    TensorChanged {
        /// `"loss"` or `"gradients"`.
        by: &'static str,
        /// The tensor.
        tensor: String,
        /// The first changed element.
        index: Vec<usize>,
    },
    /// The gradients on another SIMD tier differ by more than rounding.
    TierMismatch {
        /// The tier.
        tier: &'static str,
        /// The tensor.
        tensor: String,
        /// The largest difference relative to the tensor's largest gradient.
        max_rel: f64,
    },
    /// The gradients with another thread count differ in any bit.
    ThreadMismatch {
        /// The parallelism.
        parallelism: Parallelism,
        /// The tensor.
        tensor: String,
    },
    /// Window `window` of a stateful run differs from the same steps of one long forward.
    WindowMismatch {
        /// The window.
        window: usize,
        /// The largest difference.
        max_abs: f64,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

fn snapshot<M: GradCheck + ?Sized>(
    m: &mut M,
) -> Result<Vec<ArrayD<M::Elem>>, CheckError<M::Error>> {
    let n = m.tensor_names().len();
    (0..n).map(|i| Ok(tensor(m, i, n)?.to_owned())).collect()
}

fn first_diff<T: PartialEq + Copy + Float>(a: &ArrayD<T>, b: &ArrayD<T>) -> Option<usize> {
    a.iter()
        .zip(b.iter())
        .position(|(x, y)| x.to_f64().to_bits() != y.to_f64().to_bits())
}

fn changed<M: GradCheck + ?Sized>(
    m: &mut M,
    before: &[ArrayD<M::Elem>],
    by: &'static str,
    out: &mut Vec<Problem>,
) -> Result<(), CheckError<M::Error>> {
    let names = m.tensor_names();
    let now = snapshot(m)?;
    for ((name, a), b) in names.iter().zip(before).zip(&now) {
        if let Some(j) = first_diff(a, b) {
            out.push(Problem::TensorChanged {
                by,
                tensor: name.clone(),
                index: unravel(j, a.shape()),
            });
        }
    }
    Ok(())
}

/// Loss and gradients repeat bit for bit, the backward overwrites instead of accumulating,
/// and neither call changes a tensor. Returns the problems found (none: all hold).
///
/// ```
/// use recur_check::probes::probe_determinism;
/// use recur_check::ndarray::{array, Array3};
/// use recur_check::EmbeddingCheck;
/// use recur_layers::Embedding;
/// let mut c = EmbeddingCheck { emb: Embedding::new(array![[1.0f32, 2.0], [3.0, 4.0]]),
///                              ids: array![[0, 1, 1]], r: Array3::ones((1, 3, 2)) };
/// assert!(probe_determinism(&mut c)?.is_empty());
/// # Ok::<(), recur_check::CheckError<recur_check::Error>>(())
/// ```
///
/// # Errors
/// The model's errors, as [`CheckError::Model`].
pub fn probe_determinism<M: GradCheck + ?Sized>(
    m: &mut M,
) -> Result<Vec<Problem>, CheckError<M::Error>> {
    let mut out = Vec::new();
    let names = m.tensor_names();
    let before = snapshot(m)?;
    let l1 = m.loss().map_err(CheckError::Model)?.value;
    let l2 = m.loss().map_err(CheckError::Model)?.value;
    if l1.to_bits() != l2.to_bits() {
        out.push(Problem::LossNotDeterministic {
            first: l1,
            second: l2,
        });
    }
    changed(m, &before, "loss", &mut out)?;
    let g1 = m.gradients().map_err(CheckError::Model)?;
    let g2 = m.gradients().map_err(CheckError::Model)?;
    for ((name, a), b) in names.iter().zip(&g1).zip(&g2) {
        if let Some(j) = first_diff(a, b) {
            let doubled = a.iter().any(|x| *x != M::Elem::ZERO)
                && a.iter().zip(b.iter()).all(|(&x, &y)| {
                    (y.to_f64() - 2.0 * x.to_f64()).abs() <= 1e-6 * x.to_f64().abs().max(1e-30)
                });
            out.push(if doubled {
                Problem::Accumulates {
                    tensor: name.clone(),
                }
            } else {
                Problem::GradientsNotDeterministic {
                    tensor: name.clone(),
                    index: unravel(j, a.shape()),
                }
            });
        }
    }
    changed(m, &before, "gradients", &mut out)?;
    Ok(out)
}

/// The gradients on every SIMD tier this CPU has agree with those of the first (the
/// best) within `ulps·ε·G` (`G` the tensor's largest gradient): the tiers differ in
/// rounding only.
///
/// # Errors
/// The model's errors.
pub fn probe_tiers<M: GradCheck + ?Sized>(
    m: &mut M,
    ulps: f64,
) -> Result<Vec<Problem>, CheckError<M::Error>> {
    let names = m.tensor_names();
    let eps = M::Elem::EPSILON.to_f64();
    let mut out = Vec::new();
    let mut reference: Option<Vec<ArrayD<M::Elem>>> = None;
    for level in available_levels() {
        let g = with_level(level, || m.gradients()).map_err(CheckError::Model)?;
        let Some(r) = &reference else {
            reference = Some(g);
            continue;
        };
        for ((name, a), b) in names.iter().zip(r).zip(&g) {
            let big = a.iter().fold(0.0f64, |m, x| m.max(x.to_f64().abs()));
            let diff = a
                .iter()
                .zip(b.iter())
                .fold(0.0f64, |m, (x, y)| m.max((x.to_f64() - y.to_f64()).abs()));
            if diff.is_nan() || diff > ulps * eps * big {
                out.push(Problem::TierMismatch {
                    tier: level.name(),
                    tensor: name.clone(),
                    max_rel: diff / big,
                });
            }
        }
    }
    Ok(out)
}

/// The gradients are bit-identical for every parallelism in `pars`, set on the model by
/// `set` (e.g. `|c, p| c.rnn.set_parallelism(p)`).
///
/// # Errors
/// The model's errors.
pub fn probe_threads<M: GradCheck + ?Sized>(
    m: &mut M,
    pars: &[Parallelism],
    mut set: impl FnMut(&mut M, Parallelism),
) -> Result<Vec<Problem>, CheckError<M::Error>> {
    let names = m.tensor_names();
    let mut out = Vec::new();
    let mut reference: Option<Vec<ArrayD<M::Elem>>> = None;
    for &p in pars {
        set(m, p);
        let g = m.gradients().map_err(CheckError::Model)?;
        let Some(r) = &reference else {
            reference = Some(g);
            continue;
        };
        for ((name, a), b) in names.iter().zip(r).zip(&g) {
            if first_diff(a, b).is_some() {
                out.push(Problem::ThreadMismatch {
                    parallelism: p,
                    tensor: name.clone(),
                });
            }
        }
    }
    Ok(out)
}

/// `k` windows of `xs: (T, N, D)` run through a stateful copy of `rnn` (the state carried
/// from one to the next) give the hidden states of one forward over all `T` steps, within
/// `64·ε·(1 + |h|)`.
///
/// # Errors
/// [`Error::InvalidState`] if `k` is 0 or does not divide `T`; the layer's errors.
pub fn probe_stateful_windows<T: Float>(
    rnn: &TimeRnn<T>,
    xs: ArrayView3<'_, T>,
    k: usize,
) -> Result<Vec<Problem>, Error> {
    let t_len = xs.dim().0;
    if k == 0 || !t_len.is_multiple_of(k) {
        return Err(Error::InvalidState {
            op: "probe_stateful_windows",
            reason: "the window count k must be > 0 and divide T",
        });
    }
    let mut long = rnn.clone();
    long.set_stateful(false);
    long.reset_state();
    let want = long.forward(xs)?.to_owned();
    let mut win = rnn.clone();
    win.reset_state();
    win.set_stateful(true);
    let w = t_len / k;
    let eps = T::EPSILON.to_f64();
    let mut out = Vec::new();
    for i in 0..k {
        let part = xs.slice_axis(Axis(0), Slice::from(i * w..(i + 1) * w));
        let got = win.forward(part)?;
        let exp = want.slice_axis(Axis(0), Slice::from(i * w..(i + 1) * w));
        let mut max_abs = 0.0f64;
        let mut bad = false;
        for (a, b) in got.iter().zip(exp.iter()) {
            let d = (a.to_f64() - b.to_f64()).abs();
            max_abs = max_abs.max(d);
            bad |= d.is_nan() || d > 64.0 * eps * (1.0 + b.to_f64().abs());
        }
        if bad {
            out.push(Problem::WindowMismatch { window: i, max_abs });
        }
    }
    Ok(out)
}
