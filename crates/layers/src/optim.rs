//! Optimizers and gradient clipping over the parameters of [`crate::Parameters`] layers.

use crate::param::ParamMut;
use recur_kernels::error::fmt_shape;
use recur_kernels::{Error, Float, Result};

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
}

/// Plain stochastic gradient descent: `p ← p − lr·g`.
///
/// ```
/// use recur_layers::{optim::{Optimizer, Sgd}, ParamMut, ndarray::array};
/// let mut w = array![1.0f32, 2.0];
/// let mut g = array![0.5f32, -1.0];
/// let mut params = [ParamMut { name: "w", value: w.view_mut().into_dyn(), grad: g.view_mut().into_dyn() }];
/// Sgd::new(0.1).step(&mut params)?;
/// assert_eq!(w, array![0.95, 2.1]);
/// # Ok::<(), recur_layers::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Sgd<T> {
    /// The learning rate.
    pub lr: T,
}

impl<T> Sgd<T> {
    /// SGD with learning rate `lr`.
    pub fn new(lr: T) -> Self {
        Sgd { lr }
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
        let lr = self.lr;
        for p in params.iter_mut() {
            match (p.grad.as_slice(), p.value.as_slice_mut()) {
                // The usual case: both contiguous, one vectorized fused update.
                (Some(g), Some(w)) => recur_kernels::axpy(-lr, g, w)?, // equal lengths
                _ => p
                    .value
                    .zip_mut_with(&p.grad, |w, &g| *w = (-lr).mul_add(g, *w)),
            }
        }
        Ok(())
    }
}

/// Adam (Kingma & Ba), as the book writes it: with `i` the step count,
/// `lr_i = lr·√(1 − β₂ⁱ) / (1 − β₁ⁱ)`, `m ← m + (1 − β₁)(g − m)`,
/// `v ← v + (1 − β₂)(g² − v)`, `p ← p − lr_i·m / (√v + ε)`.
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
        if self.m.is_empty() {
            self.m = params
                .iter()
                .map(|p| vec![T::ZERO; p.value.len()])
                .collect();
            self.v = self.m.clone();
        }
        self.iter = self.iter.saturating_add(1);
        let one = T::ONE;
        let (b1, b2) = (self.beta1, self.beta2);
        let lr_t = T::from_f64(
            self.lr.to_f64() * (1.0 - b2.to_f64().powi(self.iter)).sqrt()
                / (1.0 - b1.to_f64().powi(self.iter)),
        );
        for ((p, m), v) in params.iter_mut().zip(&mut self.m).zip(&mut self.v) {
            let grads = p.grad.iter();
            for (((w, &g), mi), vi) in p
                .value
                .iter_mut()
                .zip(grads)
                .zip(m.iter_mut())
                .zip(v.iter_mut())
            {
                *mi += (one - b1) * (g - *mi);
                *vi += (one - b2) * (g * g - *vi);
                *w -= lr_t * *mi / (vi.sqrt() + self.eps);
            }
        }
        Ok(())
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

/// The global L2 norm of all gradients, accumulated in `f64`. Gradients whose squares
/// overflow or underflow `f64` (beyond about `1e154` or below `1e-154`) are summed scaled
/// by their largest magnitude, so the norm is accurate to rounding whenever it is
/// representable. NaN if a gradient is NaN; infinite if one is infinite.
pub fn grad_norm<T: Float>(params: &[ParamMut<'_, T>]) -> f64 {
    let grads = || {
        params
            .iter()
            .flat_map(|p| p.grad.iter())
            .map(|&g| g.to_f64())
    };
    let sum: f64 = grads().map(|g| g * g).sum();
    if sum.is_nan() || (sum.is_finite() && sum >= f64::MIN_POSITIVE) {
        return sum.sqrt();
    }
    // Zero, subnormal or infinite: find out which, scaled by the largest magnitude.
    let max = grads().fold(0.0f64, |m, g| m.max(g.abs()));
    if max == 0.0 || !max.is_finite() {
        return max;
    }
    let scaled: f64 = grads()
        .map(|g| {
            let g = g / max;
            g * g
        })
        .sum();
    max * scaled.sqrt()
}

/// Global-norm clipping: if the norm of all gradients exceeds `max_norm`, scales them by
/// `max_norm / (norm + 1e-6)`. Returns the norm before clipping.
///
/// ```
/// use recur_layers::{optim::clip_grads, ParamMut, ndarray::array};
/// let mut w = array![0.0f64, 0.0];
/// let mut g = array![3.0f64, 4.0];
/// let mut params = [ParamMut { name: "w", value: w.view_mut().into_dyn(), grad: g.view_mut().into_dyn() }];
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
    check_positive("clip_grads", "max_norm", max_norm)?;
    let norm = grad_norm(params);
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
            p.grad.mapv_inplace(|g| g * rate);
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
        }];
        assert!((clip_grads(&mut params, 1.0).unwrap() - 0.5).abs() < 1e-7);
        drop(params);
        assert_eq!(g2, array![0.3, 0.4]);
    }
}
