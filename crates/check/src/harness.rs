//! Ready-made [`GradCheck`] implementations for recur's layers, with the loss
//! `L = ⟨R, output⟩ = Σ R ⊙ output` for a fixed random `R` of the output's shape, so that
//! `dL/d output = R` exercises every output gradient.

use crate::ndarray::{Array1, Array2, Array3, ArrayD, ArrayViewMutD};
use crate::GradCheck;
use recur_layers::{Embedding, Parameters, Result, SoftmaxCrossEntropy, TimeAffine, TimeRnn};

/// Checks a [`TimeRnn<f64>`]: tensors `wx`, `wh`, `b`, `xs`, and `h0` when an initial
/// state is given (passed with `set_state` before every forward).
#[derive(Debug)]
pub struct TimeRnnCheck {
    /// The layer under test.
    pub rnn: TimeRnn<f64>,
    /// Input `(T, N, D)`.
    pub xs: Array3<f64>,
    /// Initial state `(N, H)`, or `None` for zeros.
    pub h0: Option<Array2<f64>>,
    /// Loss weights `(T, N, H)`.
    pub r: Array3<f64>,
}

impl TimeRnnCheck {
    /// A check of `TimeRnn::new(wx, wh, b)` on `xs` with loss weights `r`; `stateful`
    /// turns the layer's stateful mode on (the state is still set before each forward, so
    /// the loss stays a function of the tensors).
    ///
    /// # Errors
    /// Those of [`TimeRnn::new`].
    pub fn new(
        wx: Array2<f64>,
        wh: Array2<f64>,
        b: Array1<f64>,
        xs: Array3<f64>,
        h0: Option<Array2<f64>>,
        r: Array3<f64>,
        stateful: bool,
    ) -> Result<Self> {
        let mut rnn = TimeRnn::new(wx, wh, b)?;
        rnn.set_stateful(stateful);
        Ok(TimeRnnCheck { rnn, xs, h0, r })
    }

    fn prepare(&mut self) -> Result<()> {
        match &self.h0 {
            Some(h0) => self.rnn.set_state(h0.view()),
            None => {
                self.rnn.reset_state();
                Ok(())
            }
        }
    }
}

impl GradCheck for TimeRnnCheck {
    fn tensor_names(&self) -> Vec<String> {
        let mut v: Vec<String> = ["wx", "wh", "b", "xs"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        if self.h0.is_some() {
            v.push("h0".into());
        }
        v
    }

    fn tensor_mut(&mut self, i: usize) -> ArrayViewMutD<'_, f64> {
        match i {
            0 => self.rnn.wx_mut().into_dyn(),
            1 => self.rnn.wh_mut().into_dyn(),
            2 => self.rnn.b_mut().into_dyn(),
            3 => self.xs.view_mut().into_dyn(),
            _ => match &mut self.h0 {
                Some(h0) => h0.view_mut().into_dyn(),
                None => self.xs.view_mut().into_dyn(),
            },
        }
    }

    fn loss(&mut self) -> Result<f64> {
        self.prepare()?;
        let hs = self.rnn.forward(self.xs.view())?;
        Ok((&hs * &self.r).sum())
    }

    fn gradients(&mut self) -> Result<Vec<ArrayD<f64>>> {
        self.prepare()?;
        self.rnn.forward(self.xs.view())?;
        let dxs = self.rnn.backward(self.r.view())?.to_owned();
        let mut g = vec![
            self.rnn.grad_wx().to_owned().into_dyn(),
            self.rnn.grad_wh().to_owned().into_dyn(),
            self.rnn.grad_b().to_owned().into_dyn(),
            dxs.into_dyn(),
        ];
        if self.h0.is_some() {
            g.push(self.rnn.grad_h0().to_owned().into_dyn());
        }
        Ok(g)
    }
}

/// Checks an [`Embedding<f64>`]: tensor `w`.
#[derive(Debug)]
pub struct EmbeddingCheck {
    /// The layer under test.
    pub emb: Embedding<f64>,
    /// Token ids `(T, N)`.
    pub ids: Array2<u32>,
    /// Loss weights `(T, N, D)`.
    pub r: Array3<f64>,
}

impl GradCheck for EmbeddingCheck {
    fn tensor_names(&self) -> Vec<String> {
        vec!["w".into()]
    }

    fn tensor_mut(&mut self, _i: usize) -> ArrayViewMutD<'_, f64> {
        self.emb.weight_mut().into_dyn()
    }

    fn loss(&mut self) -> Result<f64> {
        let xs = self.emb.forward(self.ids.view())?;
        Ok((&xs * &self.r).sum())
    }

    fn gradients(&mut self) -> Result<Vec<ArrayD<f64>>> {
        self.emb.forward(self.ids.view())?;
        self.emb.backward(self.r.view())?;
        Ok(vec![self.emb.grad_w().to_owned().into_dyn()])
    }
}

/// Checks a [`TimeAffine<f64>`]: tensors `w`, `b`, `xs`.
#[derive(Debug)]
pub struct TimeAffineCheck {
    /// The layer under test.
    pub fc: TimeAffine<f64>,
    /// Input `(T, N, H)`.
    pub xs: Array3<f64>,
    /// Loss weights `(T, N, V)`.
    pub r: Array3<f64>,
}

impl GradCheck for TimeAffineCheck {
    fn tensor_names(&self) -> Vec<String> {
        vec!["w".into(), "b".into(), "xs".into()]
    }

    fn tensor_mut(&mut self, i: usize) -> ArrayViewMutD<'_, f64> {
        match i {
            0 | 1 => {
                let mut p = self.fc.params_mut();
                p.swap_remove(i).value
            }
            _ => self.xs.view_mut().into_dyn(),
        }
    }

    fn loss(&mut self) -> Result<f64> {
        let ys = self.fc.forward(self.xs.view())?;
        Ok((&ys * &self.r).sum())
    }

    fn gradients(&mut self) -> Result<Vec<ArrayD<f64>>> {
        self.fc.forward(self.xs.view())?;
        let dxs = self.fc.backward(self.r.view())?.to_owned();
        Ok(vec![
            self.fc.grad_w().to_owned().into_dyn(),
            self.fc.grad_b().to_owned().into_dyn(),
            dxs.into_dyn(),
        ])
    }
}

/// Checks a [`SoftmaxCrossEntropy<f64>`]: the gradient of the mean loss with respect to
/// tensor `scores`.
#[derive(Debug)]
pub struct SoftmaxCheck {
    /// The loss under test.
    pub loss: SoftmaxCrossEntropy<f64>,
    /// Scores `(T, N, V)`.
    pub scores: Array3<f64>,
    /// Targets `(T, N)`.
    pub targets: Array2<u32>,
}

impl GradCheck for SoftmaxCheck {
    fn tensor_names(&self) -> Vec<String> {
        vec!["scores".into()]
    }

    fn tensor_mut(&mut self, _i: usize) -> ArrayViewMutD<'_, f64> {
        self.scores.view_mut().into_dyn()
    }

    fn loss(&mut self) -> Result<f64> {
        self.loss.forward(self.scores.view(), self.targets.view())
    }

    fn gradients(&mut self) -> Result<Vec<ArrayD<f64>>> {
        self.loss.forward(self.scores.view(), self.targets.view())?;
        Ok(vec![self.loss.backward(1.0)?.to_owned().into_dyn()])
    }
}
