//! Optimizers and gradient clipping over the parameters of [`crate::Parameters`] layers.

//!
//! Row-sparse gradients (a [`ParamMut`] with `rows: Some(..)`, the embedding's) are
//! visited on their touched rows only: [`Sgd`] and [`clip_grads`] give exactly (bit for
//! bit) what they give on the dense form of the same gradient, and [`Adam`] is *lazy* on
//! them (see its docs). Dense parameters are updated in parallel over fixed chunks when
//! they are large, so the bits do not depend on the thread count.

use crate::param::ParamMut;
use crate::util::threads_for_elems;
use ndarray::Axis;
use rayon::prelude::*;
use recur_kernels::error::fmt_shape;
use recur_kernels::{Error, Float, Parallelism, Result};

/// Elements per leaf of the norm's summation tree (fixed: the norm does not depend on the
/// thread count), and the unit in which element-wise updates are split over threads.
const CHUNK: usize = 4096;

/// Updates parameters from their gradients.
pub trait Optimizer<T> {
    /// One update of every parameter in `params` (which must come in the same order and
    /// shapes at every call for stateful optimizers).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the hyperparameter if one is NaN, infinite or out
    /// of range; [`Error::ShapeMismatch`] naming `grad` if a gradient does not have the
    /// shape of its parameter, or naming `params` if a stateful optimizer sees other
    /// parameters than at its first step. Everything is checked before anything is
    /// updated: on `Err` the parameters and the optimizer are unchanged.
    fn step(&mut self, params: &mut [ParamMut<'_, T>]) -> Result<()>;

    /// How many threads a step may use (the results do not depend on it). The default
    /// ignores it.
    fn set_parallelism(&mut self, par: Parallelism) {
        let _ = par;
    }
}

/// Elements per task of an element-wise update over `len` elements on `threads` threads:
/// one task per thread (few rayon jobs: the pool's queues do not grow), whole chunks.
fn per_thread(len: usize, threads: usize) -> usize {
    len.div_ceil(CHUNK).div_ceil(threads.max(1)).max(1) * CHUNK
}

/// Checks that a row-sparse parameter's `rows` are strictly increasing and inside its
/// first axis, for every parameter, before anything changes.
fn check_rows<T>(op: &'static str, params: &[ParamMut<'_, T>]) -> Result<()> {
    for p in params {
        let Some(rows) = p.rows else { continue };
        let bound = p.value.shape().first().copied().unwrap_or(0);
        let sorted = rows.windows(2).all(|w| w[0] < w[1]);
        let inside = rows.last().is_none_or(|&r| (r as usize) < bound);
        if !sorted || !inside || p.grad.shape() != p.value.shape() {
            return Err(Error::InvalidArgument {
                op,
                arg: "params",
                reason: format!(
                    "parameter `{}`: the rows of a row-sparse gradient must be strictly increasing and below {bound}, with the gradient of the value's shape",
                    p.name
                ),
            });
        }
    }
    Ok(())
}

/// Calls `f(value_row, grad_row, offset)` for every listed row of a row-sparse parameter
/// (contiguous rows when the views are, otherwise element by element), stopping at its
/// first error.
fn for_rows<T: Float>(
    p: &mut ParamMut<'_, T>,
    rows: &[u32],
    mut f: impl FnMut(&mut [T], &[T], usize) -> Result<()>,
) -> Result<()> {
    let n_rows = p.value.shape().first().copied().unwrap_or(0).max(1);
    let d = p.value.len() / n_rows;
    if let (Some(w), Some(g)) = (p.value.as_slice_mut(), p.grad.as_slice()) {
        for &r in rows {
            let r = r as usize;
            f(&mut w[r * d..(r + 1) * d], &g[r * d..(r + 1) * d], r * d)?;
        }
        return Ok(());
    }
    let (mut wr, mut gr) = (Vec::new(), Vec::new());
    for &r in rows {
        let r = r as usize;
        let mut wv = p.value.index_axis_mut(Axis(0), r);
        let gv = p.grad.index_axis(Axis(0), r);
        wr.clear();
        wr.extend(wv.iter().copied());
        gr.clear();
        gr.extend(gv.iter().copied());
        f(&mut wr, &gr, r * d)?;
        for (x, &y) in wv.iter_mut().zip(&wr) {
            *x = y;
        }
    }
    Ok(())
}

/// Plain stochastic gradient descent: `p ← p − lr·g`.
///
/// ```
/// use recur_layers::{optim::{Optimizer, Sgd}, ParamMut, ndarray::array};
/// let mut w = array![1.0f32, 2.0];
/// let mut g = array![0.5f32, -1.0];
/// let mut params = [ParamMut { name: "w", value: w.view_mut().into_dyn(), grad: g.view_mut().into_dyn(), rows: None }];
/// Sgd::new(0.1).step(&mut params)?;
/// assert_eq!(w, array![0.95, 2.1]);
/// # Ok::<(), recur_layers::Error>(())
/// ```
///
/// A row-sparse gradient updates its listed rows only; the other rows have a zero
/// gradient, so the result is bit for bit that of the dense update.
#[derive(Clone, Copy, Debug)]
pub struct Sgd<T> {
    /// The learning rate.
    pub lr: T,
    par: Parallelism,
}

impl<T> Sgd<T> {
    /// SGD with learning rate `lr`, [`Parallelism::Auto`].
    pub fn new(lr: T) -> Self {
        Sgd {
            lr,
            par: Parallelism::Auto,
        }
    }
}

impl<T: Float> Sgd<T> {
    /// Checks the hyperparameters: `lr` finite and positive. [`Optimizer::step`] checks
    /// the same; calling this first lets a long run fail before it starts.
    ///
    /// ```
    /// use recur_layers::optim::Sgd;
    /// assert!(Sgd::new(0.1f32).validate().is_ok());
    /// let e = Sgd::new(f32::NAN).validate().unwrap_err();
    /// assert!(e.to_string().contains("`lr`"));
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming `lr` and its value.
    pub fn validate(&self) -> Result<()> {
        check_positive("Sgd", "lr", self.lr)
    }
}

impl<T: Float> Optimizer<T> for Sgd<T> {
    fn step(&mut self, params: &mut [ParamMut<'_, T>]) -> Result<()> {
        check_positive("Sgd::step", "lr", self.lr)?;
        check_grad_shapes("Sgd::step", params)?;
        check_rows("Sgd::step", params)?;
        let lr = self.lr;
        for p in params.iter_mut() {
            if let Some(rows) = p.rows {
                // The same vectorized update as the dense path, row by row: bit for bit
                // the dense result on the touched rows.
                for_rows(p, rows, |w, g, _| recur_kernels::axpy(-lr, g, w))?;
                continue;
            }
            let threads = threads_for_elems(self.par, p.value.len());
            match (p.grad.as_slice(), p.value.as_slice_mut()) {
                // The usual case: both contiguous, one vectorized fused update.
                (Some(g), Some(w)) if g.len() == w.len() => {
                    if threads <= 1 {
                        recur_kernels::axpy(-lr, g, w)?;
                    } else {
                        let per = per_thread(w.len(), threads);
                        w.par_chunks_mut(per)
                            .zip(g.par_chunks(per))
                            .try_for_each(|(w, g)| recur_kernels::axpy(-lr, g, w))?;
                    }
                }
                _ => p
                    .value
                    .zip_mut_with(&p.grad, |w, &g| *w = (-lr).mul_add(g, *w)),
            }
        }
        Ok(())
    }

    fn set_parallelism(&mut self, par: Parallelism) {
        self.par = par;
    }
}

/// Adam (Kingma & Ba), as the book writes it: with `i` the step count,
/// `lr_i = lr·√(1 − β₂ⁱ) / (1 − β₁ⁱ)`, `m ← m + (1 − β₁)(g − m)`,
/// `v ← v + (1 − β₂)(g² − v)`, `p ← p − lr_i·m / (√v + ε)`.
///
/// On a row-sparse gradient (the embedding's) Adam is **lazy**, as PyTorch's `SparseAdam`:
/// only the listed rows' moments and values are updated; an untouched row keeps its
/// moments and its value (the dense update would decay its moments and still move it by
/// `lr_i·m / (√v + ε)`). The bias correction `lr_i` uses the global step count.
#[derive(Clone, Debug)]
pub struct Adam<T> {
    /// Learning rate.
    pub lr: T,
    /// Decay of the first moment.
    pub beta1: T,
    /// Decay of the second moment.
    pub beta2: T,
    /// Added to `√v`.
    pub eps: T,
    iter: i32,
    m: Vec<Vec<T>>,
    v: Vec<Vec<T>>,
    par: Parallelism,
}

impl<T: Float> Adam<T> {
    /// Adam with learning rate `lr`, `β₁ = 0.9`, `β₂ = 0.999`, `ε = 1e-7`.
    pub fn new(lr: T) -> Self {
        Adam {
            lr,
            beta1: T::from_f64(0.9),
            beta2: T::from_f64(0.999),
            eps: T::from_f64(1e-7),
            iter: 0,
            m: Vec::new(),
            v: Vec::new(),
            par: Parallelism::Auto,
        }
    }
}

impl<T: Float> Adam<T> {
    /// Checks the hyperparameters: `lr` and `eps` finite and positive, `beta1` and `beta2`
    /// in `[0, 1)`. [`Optimizer::step`] checks the same; calling this first lets a long
    /// run fail before it starts.
    ///
    /// ```
    /// use recur_layers::optim::Adam;
    /// let mut adam = Adam::new(0.01f64);
    /// assert!(adam.validate().is_ok());
    /// adam.beta2 = 1.0;
    /// assert!(adam.validate().unwrap_err().to_string().contains("`beta2`"));
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the first hyperparameter out of range and its
    /// value.
    pub fn validate(&self) -> Result<()> {
        self.check("Adam")
    }

    fn check(&self, op: &'static str) -> Result<()> {
        check_positive(op, "lr", self.lr)?;
        for (arg, beta) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(beta >= T::ZERO && beta < T::ONE) {
                return Err(Error::InvalidArgument {
                    op,
                    arg,
                    reason: format!("must be in [0, 1), got {beta}"),
                });
            }
        }
        check_positive(op, "eps", self.eps)
    }
}

impl<T: Float> Optimizer<T> for Adam<T> {
    fn step(&mut self, params: &mut [ParamMut<'_, T>]) -> Result<()> {
        self.check("Adam::step")?;
        check_grad_shapes("Adam::step", params)?;
        let same = self.m.is_empty()
            || self.m.len() == params.len()
                && self
                    .m
                    .iter()
                    .zip(params.iter())
                    .all(|(m, p)| m.len() == p.value.len());
        if !same {
            return Err(Error::ShapeMismatch {
                op: "Adam::step",
                arg: "params",
                expected: format!("the {} parameters of the first step", self.m.len()),
                got: format!("{} parameters", params.len()),
            });
        }
        check_rows("Adam::step", params)?;
        if self.m.is_empty() {
            self.m = params
                .iter()
                .map(|p| vec![T::ZERO; p.value.len()])
                .collect();
            self.v = self.m.clone();
        }
        self.iter = self.iter.saturating_add(1);
        let (b1, b2, eps) = (self.beta1, self.beta2, self.eps);
        let lr_t = T::from_f64(
            self.lr.to_f64() * (1.0 - b2.to_f64().powi(self.iter)).sqrt()
                / (1.0 - b1.to_f64().powi(self.iter)),
        );
        let update = |w: &mut [T], g: &[T], m: &mut [T], v: &mut [T]| {
            for (((w, &g), mi), vi) in w.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                adam_update(w, g, mi, vi, b1, b2, eps, lr_t);
            }
        };
        for ((p, m), v) in params.iter_mut().zip(&mut self.m).zip(&mut self.v) {
            if let Some(rows) = p.rows {
                for_rows(p, rows, |w, g, at| {
                    let n = w.len();
                    update(w, g, &mut m[at..at + n], &mut v[at..at + n]);
                    Ok(())
                })?;
                continue;
            }
            let threads = threads_for_elems(self.par, p.value.len());
            match (p.value.as_slice_mut(), p.grad.as_slice()) {
                (Some(w), Some(g)) if threads > 1 => {
                    let per = per_thread(w.len(), threads);
                    w.par_chunks_mut(per)
                        .zip(g.par_chunks(per))
                        .zip(m.par_chunks_mut(per))
                        .zip(v.par_chunks_mut(per))
                        .for_each(|(((w, g), m), v)| update(w, g, m, v))
                }
                (Some(w), Some(g)) => update(w, g, m, v),
                _ => {
                    let grads = p.grad.iter();
                    for (((w, &g), mi), vi) in p
                        .value
                        .iter_mut()
                        .zip(grads)
                        .zip(m.iter_mut())
                        .zip(v.iter_mut())
                    {
                        adam_update(w, g, mi, vi, b1, b2, eps, lr_t);
                    }
                }
            }
        }
        Ok(())
    }

    fn set_parallelism(&mut self, par: Parallelism) {
        self.par = par;
    }
}

/// `Err` naming `arg` unless `x` is finite and positive.
fn check_positive<T: Float>(op: &'static str, arg: &'static str, x: T) -> Result<()> {
    if x.is_finite() && x > T::ZERO {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            op,
            arg,
            reason: format!("must be finite and positive, got {x}"),
        })
    }
}

/// `Err` naming `grad` and the parameter unless every gradient has its value's shape.
fn check_grad_shapes<T>(op: &'static str, params: &[ParamMut<'_, T>]) -> Result<()> {
    match params.iter().find(|p| p.grad.shape() != p.value.shape()) {
        None => Ok(()),
        Some(p) => Err(Error::ShapeMismatch {
            op,
            arg: "grad",
            expected: format!(
                "{}, the shape of parameter {:?}",
                fmt_shape(p.value.shape()),
                p.name
            ),
            got: fmt_shape(p.grad.shape()),
        }),
    }
}

/// One element of Adam's update.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn adam_update<T: Float>(w: &mut T, g: T, m: &mut T, v: &mut T, b1: T, b2: T, eps: T, lr_t: T) {
    *m += (T::ONE - b1) * (g - *m);
    *v += (T::ONE - b2) * (g * g - *v);
    *w -= lr_t * *m / (v.sqrt() + eps);
}

/// The global L2 norm of all gradients, accumulated in `f64`: per parameter, a summation
/// tree of fixed shape over leaves of 4096 elements (each summed with four accumulators),
/// the parameters then added in order. A row-sparse gradient visits its rows only and
/// gives exactly the norm of its dense form; the result does not depend on the threads.
/// Gradients whose squares overflow or underflow `f64` (beyond about `1e154` or below
/// `1e-154`) are summed again scaled by their largest magnitude, so the norm is accurate
/// to rounding whenever it is representable. NaN if a gradient is NaN; infinite if one is
/// infinite.
pub fn grad_norm<T: Float>(params: &[ParamMut<'_, T>]) -> f64 {
    grad_norm_with(params, Parallelism::Serial)
}

/// [`grad_norm`] using up to the threads of `par`.
pub fn grad_norm_with<T: Float>(params: &[ParamMut<'_, T>], par: Parallelism) -> f64 {
    let mut total = 0.0f64;
    for p in params {
        total += match p.grad.as_slice() {
            Some(g) => {
                let n_rows = p.grad.shape().first().copied().unwrap_or(0).max(1);
                let rows = p.rows.map(|r| (r, g.len() / n_rows));
                sum_squares(g, 0, g.len(), rows, threads_for_elems(par, g.len()))
            }
            None => p.grad.iter().fold(0.0, |a, &g| a + g.to_f64() * g.to_f64()),
        };
    }
    if total.is_nan() || (total.is_finite() && total >= f64::MIN_POSITIVE) {
        return total.sqrt();
    }
    // Zero, subnormal or infinite: find out which, scaled by the largest magnitude.
    let mut max = 0.0f64;
    visit_grads(params, |g| max = max.max(g.abs()));
    if max == 0.0 || !max.is_finite() {
        return max;
    }
    let mut scaled = 0.0f64;
    visit_grads(params, |g| {
        let g = g / max;
        scaled += g * g;
    });
    max * scaled.sqrt()
}

/// Calls `f` on every gradient element as `f64`: the listed rows only of a row-sparse
/// gradient (its other rows are not part of it).
fn visit_grads<T: Float>(params: &[ParamMut<'_, T>], mut f: impl FnMut(f64)) {
    for p in params {
        match p.rows {
            Some(rows) => {
                for &r in rows {
                    p.grad
                        .index_axis(Axis(0), r as usize)
                        .iter()
                        .for_each(|&g| f(g.to_f64()));
                }
            }
            None => p.grad.iter().for_each(|&g| f(g.to_f64())),
        }
    }
}

/// `Σ g[i]²` over `lo..hi` by the fixed tree of [`grad_norm`]; with `rows = (list, D)`
/// only the elements of the listed rows (of width `D`) are read, the others being zero.
fn sum_squares<T: Float>(
    g: &[T],
    lo: usize,
    hi: usize,
    rows: Option<(&[u32], usize)>,
    threads: usize,
) -> f64 {
    // The listed rows that meet lo..hi.
    let touched = rows.map(|(list, d)| {
        let d = d.max(1);
        let first = list.partition_point(|&r| (r as usize + 1) * d <= lo);
        let last = list.partition_point(|&r| (r as usize) * d < hi);
        (&list[first..last.max(first)], d)
    });
    if touched.is_some_and(|(list, _)| list.is_empty()) {
        return 0.0; // what the tree gives over zeros
    }
    if hi - lo <= CHUNK {
        let mut acc = [0.0f64; 4];
        match touched {
            None => {
                let x = &g[lo..hi];
                let mut quads = x.chunks_exact(4);
                for q in &mut quads {
                    for (a, &v) in acc.iter_mut().zip(q) {
                        *a += v.to_f64() * v.to_f64();
                    }
                }
                for (a, &v) in acc.iter_mut().zip(quads.remainder()) {
                    *a += v.to_f64() * v.to_f64();
                }
            }
            Some((list, d)) => {
                for &r in list {
                    let (s, e) = ((r as usize * d).max(lo), ((r as usize + 1) * d).min(hi));
                    for (j, &v) in g[s..e].iter().enumerate() {
                        acc[(s + j - lo) % 4] += v.to_f64() * v.to_f64();
                    }
                }
            }
        }
        return (acc[0] + acc[1]) + (acc[2] + acc[3]);
    }
    let leaves = (hi - lo).div_ceil(CHUNK);
    let mid = lo + leaves / 2 * CHUNK;
    let (a, b) = if threads > 1 {
        rayon::join(
            || sum_squares(g, lo, mid, rows, threads / 2),
            || sum_squares(g, mid, hi, rows, threads - threads / 2),
        )
    } else {
        (
            sum_squares(g, lo, mid, rows, 1),
            sum_squares(g, mid, hi, rows, 1),
        )
    };
    a + b
}

/// Global-norm clipping: if the norm of all gradients exceeds `max_norm`, scales them by
/// `max_norm / (norm + 1e-6)`. Returns the norm before clipping.
///
/// ```
/// use recur_layers::{optim::clip_grads, ParamMut, ndarray::array};
/// let mut w = array![0.0f64, 0.0];
/// let mut g = array![3.0f64, 4.0];
/// let mut params = [ParamMut { name: "w", value: w.view_mut().into_dyn(), grad: g.view_mut().into_dyn(), rows: None }];
/// assert_eq!(clip_grads(&mut params, 1.0)?, 5.0);
/// drop(params);
/// assert!((g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6);
/// # Ok::<(), recur_layers::Error>(())
/// ```
///
/// # Errors
/// [`Error::NonFinite`] if a gradient is NaN or infinite (the gradients are left as
/// they are: scaling by a non-finite rate would destroy them; finite gradients of any
/// magnitude have a finite norm unless it exceeds `f64::MAX`, see [`grad_norm`]);
/// [`Error::InvalidArgument`] if
/// `max_norm` is not finite and positive.
pub fn clip_grads<T: Float>(params: &mut [ParamMut<'_, T>], max_norm: T) -> Result<f64> {
    clip_grads_with(params, max_norm, Parallelism::Auto)
}

/// [`clip_grads`] using up to the threads of `par` (the results do not depend on it).
/// Row-sparse gradients are read and scaled on their listed rows only.
///
/// # Errors
/// As [`clip_grads`], and [`Error::InvalidArgument`] naming `params` for a row list that
/// is not strictly increasing inside the parameter.
pub fn clip_grads_with<T: Float>(
    params: &mut [ParamMut<'_, T>],
    max_norm: T,
    par: Parallelism,
) -> Result<f64> {
    check_positive("clip_grads", "max_norm", max_norm)?;
    check_rows("clip_grads", params)?;
    let norm = grad_norm_with(params, par);
    if !norm.is_finite() {
        return Err(Error::NonFinite {
            op: "clip_grads",
            arg: "gradient norm",
        });
    }
    let rate = max_norm.to_f64() / (norm + 1e-6);
    if rate < 1.0 {
        let rate = T::from_f64(rate);
        for p in params.iter_mut() {
            let threads = threads_for_elems(par, p.grad.len());
            let n_rows = p.grad.shape().first().copied().unwrap_or(0).max(1);
            let d = p.grad.len() / n_rows;
            match (p.rows, p.grad.as_slice_mut()) {
                (Some(rows), Some(g)) => {
                    for &r in rows {
                        recur_kernels::scale(rate, &mut g[r as usize * d..(r as usize + 1) * d]);
                    }
                }
                (None, Some(g)) if threads > 1 => g
                    .par_chunks_mut(per_thread(g.len(), threads))
                    .for_each(|g| recur_kernels::scale(rate, g)),
                (None, Some(g)) => recur_kernels::scale(rate, g),
                (_, None) => p.grad.mapv_inplace(|g| g * rate),
            }
        }
    }
    Ok(norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn adam_first_step_moves_by_lr() {
        // At step 1, m = (1-b1) g, v = (1-b2) g², lr_1 = lr·√(1-b2)/(1-b1), so the update is
        // lr·g/|g| (up to eps).
        let mut w = array![1.0f64, -1.0];
        let mut g = array![0.2f64, -3.0];
        let mut opt = Adam::new(0.01);
        let mut params = [ParamMut {
            name: "w",
            value: w.view_mut().into_dyn(),
            grad: g.view_mut().into_dyn(),
            rows: None,
        }];
        opt.step(&mut params).unwrap();
        drop(params);
        assert!(
            (w[0] - 0.99).abs() < 1e-6 && (w[1] + 0.99).abs() < 1e-6,
            "{w}"
        );
        let mut other = array![1.0f64];
        let mut og = array![1.0f64];
        let mut wrong = [ParamMut {
            name: "x",
            value: other.view_mut().into_dyn(),
            grad: og.view_mut().into_dyn(),
            rows: None,
        }];
        assert!(opt.step(&mut wrong).is_err());
    }

    #[test]
    fn clipping_refuses_non_finite_norms() {
        let mut w = array![0.0f32, 0.0];
        let mut g = array![f32::NAN, 1.0];
        let mut params = [ParamMut {
            name: "w",
            value: w.view_mut().into_dyn(),
            grad: g.view_mut().into_dyn(),
            rows: None,
        }];
        assert!(matches!(
            clip_grads(&mut params, 1.0),
            Err(Error::NonFinite { .. })
        ));
        assert!(matches!(
            clip_grads(&mut params, 0.0),
            Err(Error::InvalidArgument { .. })
        ));
        drop(params);
        assert_eq!(g[1], 1.0);
        let mut g2 = array![0.3f32, 0.4];
        let mut params = [ParamMut {
            name: "w",
            value: w.view_mut().into_dyn(),
            grad: g2.view_mut().into_dyn(),
            rows: None,
        }];
        assert!((clip_grads(&mut params, 1.0).unwrap() - 0.5).abs() < 1e-7);
        drop(params);
        assert_eq!(g2, array![0.3, 0.4]);
    }
}
