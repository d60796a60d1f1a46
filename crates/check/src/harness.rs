//! Ready-made [`GradCheck`] implementations for recur's layers, in `f32` or `f64`, with
//! the loss `L = ⟨R, output⟩ = Σ R ⊙ output` (summed in `f64`) for a fixed `R` of the
//! output's shape, so that `dL/d output = R` exercises every output gradient. Each has a
//! `twin()`: the same check in `f64`, for [`check_with_twin`](crate::check_with_twin).

use crate::ndarray::{Array1, Array2, Array3, ArrayD, ArrayView3, ArrayViewMutD, Dimension};
use crate::{GradCheck, Loss};
use recur_kernels::error::fmt_shape;
use recur_layers::{
    Embedding, Error, Float, Parameters, Result, SoftmaxCrossEntropy, TimeAffine, TimeRnn,
};

/// `⟨r, out⟩` with `Σ |r ⊙ out|` as its magnitude, after checking that `r` has the shape
/// of `out`.
fn weighted_sum<T: Float>(
    op: &'static str,
    out: ArrayView3<'_, T>,
    r: ArrayView3<'_, T>,
) -> Result<Loss> {
    if out.dim() != r.dim() {
        return Err(Error::ShapeMismatch {
            op,
            arg: "r",
            expected: format!("the output's shape {}", fmt_shape(out.shape())),
            got: fmt_shape(r.shape()),
        });
    }
    Ok(Loss::from_terms(
        out.iter()
            .zip(r.iter())
            .map(|(o, r)| o.to_f64() * r.to_f64()),
    ))
}

/// `a` converted element by element to `U` (rounding to nearest).
fn cast<T: Float, U: Float, D: Dimension>(
    a: &crate::ndarray::ArrayBase<impl crate::ndarray::Data<Elem = T>, D>,
) -> crate::ndarray::Array<U, D> {
    a.mapv(|x| U::from_f64(x.to_f64()))
}

/// Checks a [`TimeRnn`]: tensors `wx`, `wh`, `b`, `xs`, and `h0` when an initial state is
/// given (passed with `set_state` before every forward).
#[derive(Debug, Clone)]
pub struct TimeRnnCheck<T: Float> {
    /// The layer under test.
    pub rnn: TimeRnn<T>,
    /// Input `(T, N, D)`.
    pub xs: Array3<T>,
    /// Initial state `(N, H)`, or `None` for zeros.
    pub h0: Option<Array2<T>>,
    /// Loss weights `(T, N, H)`.
    pub r: Array3<T>,
}

impl<T: Float> TimeRnnCheck<T> {
    /// A check of `TimeRnn::new(wx, wh, b)` on `xs` with loss weights `r`; `stateful`
    /// turns the layer's stateful mode on (the state is still set before each forward, so
    /// the loss stays a function of the tensors).
    ///
    /// # Errors
    /// Those of [`TimeRnn::new`]. Shapes of `xs`, `h0` and `r` are checked by `loss`.
    pub fn new(
        wx: Array2<T>,
        wh: Array2<T>,
        b: Array1<T>,
        xs: Array3<T>,
        h0: Option<Array2<T>>,
        r: Array3<T>,
        stateful: bool,
    ) -> Result<Self> {
        let mut rnn = TimeRnn::new(wx, wh, b)?;
        rnn.set_stateful(stateful);
        Ok(TimeRnnCheck { rnn, xs, h0, r })
    }

    /// The same check in element type `U` (stateful mode carried over); `cast::<f32>()`
    /// of an `f64` check is the `f32` layer to test.
    ///
    /// # Errors
    /// None in practice (the shapes were accepted once); those of [`TimeRnn::new`].
    pub fn cast<U: Float>(&self) -> Result<TimeRnnCheck<U>> {
        TimeRnnCheck::new(
            cast(&self.rnn.wx()),
            cast(&self.rnn.wh()),
            cast(&self.rnn.b()),
            cast(&self.xs),
            self.h0.as_ref().map(cast),
            cast(&self.r),
            self.rnn.is_stateful(),
        )
    }

    /// `cast::<f64>()`: the twin for [`check_with_twin`](crate::check_with_twin).
    ///
    /// # Errors
    /// Those of [`TimeRnnCheck::cast`].
    pub fn twin(&self) -> Result<TimeRnnCheck<f64>> {
        self.cast()
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

impl<T: Float> GradCheck for TimeRnnCheck<T> {
    type Elem = T;
    type Error = Error;

    fn tensor_names(&self) -> Vec<String> {
        let mut v: Vec<String> = ["wx", "wh", "b", "xs"].map(String::from).to_vec();
        if self.h0.is_some() {
            v.push("h0".into());
        }
        v
    }

    fn tensor_mut(&mut self, i: usize) -> Option<ArrayViewMutD<'_, T>> {
        match i {
            0 => Some(self.rnn.wx_mut().into_dyn()),
            1 => Some(self.rnn.wh_mut().into_dyn()),
            2 => Some(self.rnn.b_mut().into_dyn()),
            3 => Some(self.xs.view_mut().into_dyn()),
            4 => self.h0.as_mut().map(|h| h.view_mut().into_dyn()),
            _ => None,
        }
    }

    fn loss(&mut self) -> Result<Loss> {
        self.prepare()?;
        let hs = self.rnn.forward(self.xs.view())?;
        weighted_sum("TimeRnnCheck::loss", hs, self.r.view())
    }

    fn gradients(&mut self) -> Result<Vec<ArrayD<T>>> {
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

/// Checks an [`Embedding`]: tensor `w`.
#[derive(Debug, Clone)]
pub struct EmbeddingCheck<T: Float> {
    /// The layer under test.
    pub emb: Embedding<T>,
    /// Token ids `(T, N)`.
    pub ids: Array2<u32>,
    /// Loss weights `(T, N, D)`.
    pub r: Array3<T>,
}

impl<T: Float> EmbeddingCheck<T> {
    /// The same check in element type `U`.
    pub fn cast<U: Float>(&self) -> EmbeddingCheck<U> {
        EmbeddingCheck {
            emb: Embedding::new(cast(&self.emb.weight())),
            ids: self.ids.clone(),
            r: cast(&self.r),
        }
    }

    /// `cast::<f64>()`: the twin for [`check_with_twin`](crate::check_with_twin).
    pub fn twin(&self) -> EmbeddingCheck<f64> {
        self.cast()
    }
}

impl<T: Float> GradCheck for EmbeddingCheck<T> {
    type Elem = T;
    type Error = Error;

    fn tensor_names(&self) -> Vec<String> {
        vec!["w".into()]
    }

    fn tensor_mut(&mut self, i: usize) -> Option<ArrayViewMutD<'_, T>> {
        (i == 0).then(|| self.emb.weight_mut().into_dyn())
    }

    fn loss(&mut self) -> Result<Loss> {
        let xs = self.emb.forward(self.ids.view())?;
        weighted_sum("EmbeddingCheck::loss", xs, self.r.view())
    }

    fn gradients(&mut self) -> Result<Vec<ArrayD<T>>> {
        self.emb.forward(self.ids.view())?;
        self.emb.backward(self.r.view())?;
        Ok(vec![self.emb.grad_w().to_owned().into_dyn()])
    }
}

/// Checks a [`TimeAffine`]: tensors `w`, `b`, `xs`.
#[derive(Debug, Clone)]
pub struct TimeAffineCheck<T: Float> {
    /// The layer under test.
    pub fc: TimeAffine<T>,
    /// Input `(T, N, H)`.
    pub xs: Array3<T>,
    /// Loss weights `(T, N, V)`.
    pub r: Array3<T>,
}

impl<T: Float> TimeAffineCheck<T> {
    /// The same check in element type `U`.
    ///
    /// # Errors
    /// None in practice; those of [`TimeAffine::new`].
    pub fn cast<U: Float>(&self) -> Result<TimeAffineCheck<U>> {
        Ok(TimeAffineCheck {
            fc: TimeAffine::new(cast(&self.fc.w()), cast(&self.fc.b()))?,
            xs: cast(&self.xs),
            r: cast(&self.r),
        })
    }

    /// `cast::<f64>()`: the twin for [`check_with_twin`](crate::check_with_twin).
    ///
    /// # Errors
    /// Those of [`TimeAffineCheck::cast`].
    pub fn twin(&self) -> Result<TimeAffineCheck<f64>> {
        self.cast()
    }
}

impl<T: Float> GradCheck for TimeAffineCheck<T> {
    type Elem = T;
    type Error = Error;

    fn tensor_names(&self) -> Vec<String> {
        vec!["w".into(), "b".into(), "xs".into()]
    }

    fn tensor_mut(&mut self, i: usize) -> Option<ArrayViewMutD<'_, T>> {
        match i {
            0 | 1 => self.fc.params_mut().into_iter().nth(i).map(|p| p.value),
            2 => Some(self.xs.view_mut().into_dyn()),
            _ => None,
        }
    }

    fn loss(&mut self) -> Result<Loss> {
        let ys = self.fc.forward(self.xs.view())?;
        weighted_sum("TimeAffineCheck::loss", ys, self.r.view())
    }

    fn gradients(&mut self) -> Result<Vec<ArrayD<T>>> {
        self.fc.forward(self.xs.view())?;
        let dxs = self.fc.backward(self.r.view())?.to_owned();
        Ok(vec![
            self.fc.grad_w().to_owned().into_dyn(),
            self.fc.grad_b().to_owned().into_dyn(),
            dxs.into_dyn(),
        ])
    }
}

/// Checks a [`SoftmaxCrossEntropy`]: the gradient of the mean loss with respect to tensor
/// `scores`.
#[derive(Debug, Clone)]
pub struct SoftmaxCheck<T: Float> {
    /// The loss under test (built with `ignore_label`).
    pub loss: SoftmaxCrossEntropy<T>,
    /// Scores `(T, N, V)`.
    pub scores: Array3<T>,
    /// Targets `(T, N)`.
    pub targets: Array2<u32>,
    /// The ignore label the loss was built with.
    pub ignore_label: Option<u32>,
}

impl<T: Float> SoftmaxCheck<T> {
    /// A check of `SoftmaxCrossEntropy::new().with_ignore_label(ignore_label)`.
    pub fn new(scores: Array3<T>, targets: Array2<u32>, ignore_label: Option<u32>) -> Self {
        SoftmaxCheck {
            loss: SoftmaxCrossEntropy::new().with_ignore_label(ignore_label),
            scores,
            targets,
            ignore_label,
        }
    }

    /// The same check in element type `U`.
    pub fn cast<U: Float>(&self) -> SoftmaxCheck<U> {
        SoftmaxCheck::new(cast(&self.scores), self.targets.clone(), self.ignore_label)
    }

    /// `cast::<f64>()`: the twin for [`check_with_twin`](crate::check_with_twin).
    pub fn twin(&self) -> SoftmaxCheck<f64> {
        self.cast()
    }
}

impl<T: Float> GradCheck for SoftmaxCheck<T> {
    type Elem = T;
    type Error = Error;

    fn tensor_names(&self) -> Vec<String> {
        vec!["scores".into()]
    }

    fn tensor_mut(&mut self, i: usize) -> Option<ArrayViewMutD<'_, T>> {
        (i == 0).then(|| self.scores.view_mut().into_dyn())
    }

    fn loss(&mut self) -> Result<Loss> {
        let l = self
            .loss
            .forward(self.scores.view(), self.targets.view())?
            .to_f64();
        // Each term rounds relative to the scores it subtracts (`s_target − max`).
        let smax = self
            .scores
            .iter()
            .fold(0.0f64, |m, s| m.max(s.to_f64().abs()));
        Ok(Loss::new(l, l.abs() + smax))
    }

    fn gradients(&mut self) -> Result<Vec<ArrayD<T>>> {
        self.loss.forward(self.scores.view(), self.targets.view())?;
        Ok(vec![self.loss.backward(T::ONE)?.to_owned().into_dyn()])
    }
}
