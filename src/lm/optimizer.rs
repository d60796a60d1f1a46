//! The trainer's optimizer, chosen by name, with its default learning rate.

use super::error::{LmError, LmResult};
use recur_kernels::Float;
use recur_layers::optim::{Adam, Optimizer, Sgd};

/// Which optimizer of [`recur_layers::optim`] to train with.
///
/// ```
/// use recur::lm::{train, OptimizerKind, SimpleRnnlm, TrainConfig};
/// let kind = OptimizerKind::Sgd;
/// let mut opt = kind.build::<f32>(kind.default_lr())?;
/// let mut model = SimpleRnnlm::<f32>::new(3, 2, 2, 1)?;
/// let corpus: Vec<u32> = (0..50).map(|i| i % 3).collect();
/// let cfg = TrainConfig { batch: 2, time: 5, epochs: 1, ..TrainConfig::default() };
/// let stats = train(&mut model, &corpus, &cfg, &mut *opt, |_, _, _| {}, |_| {})?;
/// assert_eq!(stats.len(), 1);
/// # Ok::<(), recur::lm::LmError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptimizerKind {
    /// [`Sgd`]: `p ← p − lr·g`.
    Sgd,
    /// [`Adam`]: adaptive moments, `β₁ = 0.9`, `β₂ = 0.999`.
    Adam,
}

impl OptimizerKind {
    /// The learning rate to use when none is given: 0.1 for SGD, 0.01 for Adam.
    pub fn default_lr(self) -> f64 {
        match self {
            OptimizerKind::Sgd => 0.1,
            OptimizerKind::Adam => 0.01,
        }
    }

    /// A fresh optimizer of this kind with learning rate `lr`.
    ///
    /// ```
    /// use recur::lm::OptimizerKind;
    /// for lr in [f64::NAN, f64::INFINITY, -1.0, 0.0, 1e300] {
    ///     let err = OptimizerKind::Sgd.build::<f32>(lr).err().unwrap();
    ///     assert!(err.to_string().contains("learning rate"), "{err}");
    /// }
    /// ```
    ///
    /// # Errors
    /// [`LmError::Config`] unless `lr` is finite and positive in `T` (`1e300` is not, in
    /// `f32`).
    pub fn build<T: Float>(self, lr: f64) -> LmResult<Box<dyn Optimizer<T>>> {
        let typed = T::from_f64(lr);
        if !(lr.is_finite() && lr > 0.0 && typed.is_finite() && typed > T::ZERO) {
            return Err(LmError::Config(format!(
                "the learning rate (--lr) must be finite and > 0 in {}, got {lr}",
                T::NAME
            )));
        }
        Ok(match self {
            OptimizerKind::Sgd => Box::new(Sgd::new(typed)),
            OptimizerKind::Adam => Box::new(Adam::new(typed)),
        })
    }
}
