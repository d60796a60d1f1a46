//! The trainer's optimizer, chosen by name, with its default learning rate.

use recur_kernels::Float;
use recur_layers::optim::{Adam, Optimizer, Sgd};

/// Which optimizer of [`recur_layers::optim`] to train with.
///
/// ```
/// use recur::lm::{train, OptimizerKind, SimpleRnnlm, TrainConfig};
/// let kind = OptimizerKind::Sgd;
/// let mut opt = kind.build::<f32>(kind.default_lr());
/// let mut model = SimpleRnnlm::<f32>::new(3, 2, 2, 1);
/// let corpus: Vec<u32> = (0..50).map(|i| i % 3).collect();
/// let cfg = TrainConfig { batch: 2, time: 5, epochs: 1, max_grad: None };
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
    pub fn build<T: Float>(self, lr: f64) -> Box<dyn Optimizer<T>> {
        let lr = T::from_f64(lr);
        match self {
            OptimizerKind::Sgd => Box::new(Sgd::new(lr)),
            OptimizerKind::Adam => Box::new(Adam::new(lr)),
        }
    }
}
