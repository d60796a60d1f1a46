//! `SimpleRnnlm`: the book's chapter 5 language model, Embedding → TimeRnn (stateful) →
//! TimeAffine → softmax cross-entropy.

use super::rng::Rng;
use recur_kernels::{Float, Parallelism, Result};
use recur_layers::ndarray::{Array1, Array2, ArrayView2, ArrayView3};
use recur_layers::{Embedding, ParamMut, Parameters, SoftmaxCrossEntropy, TimeAffine, TimeRnn};

/// The book's `SimpleRnnlm`: ids `(T, N)` → embedding `(T, N, D)` → stateful TimeRnn
/// `(T, N, H)` → TimeAffine `(T, N, V)` → mean softmax cross-entropy against the next ids.
#[derive(Clone, Debug)]
pub struct SimpleRnnlm<T> {
    /// `W_embed: (V, D)`.
    pub embed: Embedding<T>,
    /// `Wx: (D, H)`, `Wh: (H, H)`, `b: (H)`.
    pub rnn: TimeRnn<T>,
    /// `W: (H, V)`, `b: (V)`.
    pub affine: TimeAffine<T>,
    /// The loss.
    pub loss: SoftmaxCrossEntropy<T>,
}

fn randn<T: Float>(rng: &mut Rng, rows: usize, cols: usize, scale: f64) -> Array2<T> {
    Array2::from_shape_simple_fn((rows, cols), || T::from_f64(rng.normal() * scale))
}

impl<T: Float> SimpleRnnlm<T> {
    /// The book's initialisation from `seed`: `W_embed ~ N(0,1)/100`, `Wx ~ N(0,1)/√D`,
    /// `Wh ~ N(0,1)/√H`, `W_affine ~ N(0,1)/√H`, zero biases; the RNN is stateful.
    ///
    /// ```
    /// use recur::lm::SimpleRnnlm;
    /// let m = SimpleRnnlm::<f32>::new(418, 100, 100, 1);
    /// assert_eq!(m.embed.weight().dim(), (418, 100));
    /// assert!(m.rnn.is_stateful());
    /// ```
    pub fn new(v: usize, d: usize, h: usize, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let w_embed = randn(&mut rng, v, d, 0.01);
        let wx = randn(&mut rng, d, h, 1.0 / (d.max(1) as f64).sqrt());
        let wh = randn(&mut rng, h, h, 1.0 / (h.max(1) as f64).sqrt());
        let w_aff = randn(&mut rng, h, v, 1.0 / (h.max(1) as f64).sqrt());
        Self::from_weights(
            w_embed,
            wx,
            wh,
            Array1::from_elem(h, T::ZERO),
            w_aff,
            Array1::from_elem(v, T::ZERO),
        )
        .expect("shapes built consistently")
    }

    /// A model from explicit weights: `w_embed: (V, D)`, `wx: (D, H)`, `wh: (H, H)`,
    /// `b: (H)`, `w_affine: (H, V)`, `b_affine: (V)`.
    ///
    /// # Errors
    /// [`recur_kernels::Error::ShapeMismatch`] naming the weight that does not fit.
    pub fn from_weights(
        w_embed: Array2<T>,
        wx: Array2<T>,
        wh: Array2<T>,
        b: Array1<T>,
        w_affine: Array2<T>,
        b_affine: Array1<T>,
    ) -> Result<Self> {
        let (v, d) = w_embed.dim();
        let h = wh.nrows();
        let op = "SimpleRnnlm::from_weights";
        let mismatch = |arg, expected: String, got: &[usize]| recur_kernels::Error::ShapeMismatch {
            op,
            arg,
            expected,
            got: recur_kernels::error::fmt_shape(got),
        };
        if wx.dim() != (d, h) {
            return Err(mismatch(
                "wx",
                format!("(D, H) = ({d}, {h})"),
                &[wx.nrows(), wx.ncols()],
            ));
        }
        if w_affine.dim() != (h, v) {
            return Err(mismatch(
                "w_affine",
                format!("(H, V) = ({h}, {v})"),
                &[w_affine.nrows(), w_affine.ncols()],
            ));
        }
        let mut rnn = TimeRnn::new(wx, wh, b)?;
        rnn.set_stateful(true);
        Ok(SimpleRnnlm {
            embed: Embedding::new(w_embed),
            rnn,
            affine: TimeAffine::new(w_affine, b_affine)?,
            loss: SoftmaxCrossEntropy::new(),
        })
    }

    /// `(V, D, H)`.
    pub fn dims(&self) -> (usize, usize, usize) {
        (
            self.embed.vocab_size(),
            self.embed.dim(),
            self.rnn.hidden_size(),
        )
    }

    /// Threads for every GEMM of the model.
    pub fn set_parallelism(&mut self, par: Parallelism) {
        self.rnn.set_parallelism(par);
        self.affine.set_parallelism(par);
    }

    /// Scores `(T, N, V)` of the next word after each of `xs: (T, N)` (carrying state).
    ///
    /// # Errors
    /// Those of the layers (an id `>= V`, a batch size that differs from the carried
    /// state's).
    pub fn scores(&mut self, xs: ArrayView2<'_, u32>) -> Result<ArrayView3<'_, T>> {
        let e = self.embed.forward(xs)?;
        let hs = self.rnn.forward(e)?;
        self.affine.forward(hs)
    }

    /// The mean loss of predicting `ts: (T, N)` from `xs: (T, N)`.
    ///
    /// # Errors
    /// As [`SimpleRnnlm::scores`], and a target `>= V`.
    pub fn forward(&mut self, xs: ArrayView2<'_, u32>, ts: ArrayView2<'_, u32>) -> Result<T> {
        let e = self.embed.forward(xs)?;
        let hs = self.rnn.forward(e)?;
        let ys = self.affine.forward(hs)?;
        self.loss.forward(ys, ts)
    }

    /// Back-propagates the last forward's loss into every parameter gradient.
    ///
    /// # Errors
    /// [`recur_kernels::Error::InvalidState`] before any forward.
    pub fn backward(&mut self) -> Result<()> {
        let dys = self.loss.backward(T::ONE)?;
        let dhs = self.affine.backward(dys)?;
        let dxs = self.rnn.backward(dhs)?;
        self.embed.backward(dxs)
    }

    /// Forgets the carried hidden state.
    pub fn reset_state(&mut self) {
        self.rnn.reset_state();
    }
}

impl<T: Float> Parameters<T> for SimpleRnnlm<T> {
    fn params_mut(&mut self) -> Vec<ParamMut<'_, T>> {
        let mut p = self.embed.params_mut();
        p.extend(self.rnn.params_mut());
        p.extend(self.affine.params_mut());
        p
    }
}
