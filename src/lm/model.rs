//! `SimpleRnnlm`: the book's chapter 5 language model, Embedding → TimeRnn (stateful) →
//! TimeAffine → softmax cross-entropy, the last two fused in one [`LmHead`].

use super::rng::Rng;
use super::{LmError, LmResult};
use recur_kernels::error::fmt_shape;
use recur_kernels::{Error, Float, Parallelism, Result};
use recur_layers::ndarray::{Array1, Array2, ArrayView2, ArrayView3};
use recur_layers::optim::{clip_grads_with, Optimizer};
use recur_layers::{Embedding, LmHead, ParamMut, Parameters, TimeRnn};

/// The book's `SimpleRnnlm`: ids `(T, N)` → embedding `(T, N, D)` → stateful TimeRnn
/// `(T, N, H)` → affine `(T, N, V)` → mean softmax cross-entropy against the next ids.
///
/// The affine layer and the loss are one fused [`LmHead`]: a training step keeps one
/// `(T·N, V)` buffer (the gradient of the scores), evaluation none. The embedding's
/// gradient is row-sparse (only the rows of the window's ids).
///
/// ```
/// use recur::lm::SimpleRnnlm;
/// use recur::layers::ndarray::array;
/// let mut m = SimpleRnnlm::<f64>::new(5, 3, 4, 1)?;
/// let (xs, ts) = (array![[0u32, 1], [2, 3]], array![[1u32, 2], [3, 4]]); // (T, N) = (2, 2)
/// let loss = m.forward(xs.view(), ts.view())?;
/// assert!((loss - 5f64.ln()).abs() < 0.1); // about ln V when untrained
/// m.backward()?;
/// assert_eq!(m.embed.grad_rows(), &[0, 1, 2, 3]);
/// // A bad target is refused before anything runs: the carried state does not move.
/// let state = m.rnn.state().map(|s| s.to_owned());
/// assert!(m.forward(xs.view(), array![[1u32, 2], [3, 5]].view()).is_err());
/// assert_eq!(m.rnn.state().map(|s| s.to_owned()), state);
/// # Ok::<(), recur::lm::LmError>(())
/// ```
#[derive(Clone, Debug)]
pub struct SimpleRnnlm<T> {
    /// `W_embed: (V, D)`.
    pub embed: Embedding<T>,
    /// `Wx: (D, H)`, `Wh: (H, H)`, `b: (H)`.
    pub rnn: TimeRnn<T>,
    /// The output layer and the loss: `W: (H, V)`, `b: (V)` (the safetensors `fc.*`).
    pub affine: LmHead<T>,
    /// Whether the layers hold one training forward's state (not `evaluate`'s/`scores`').
    backward_ready: bool,
    /// The threads of [`SimpleRnnlm::set_parallelism`], for the clipping of `train_step`.
    par: Parallelism,
}

/// `rows x cols` normal draws times `scale`, allocated fallibly (`what` names the weight
/// in the error). The caller has checked that `rows · cols` fits in
/// [`SimpleRnnlm::MAX_PARAMS`].
fn randn<T: Float>(
    rng: &mut Rng,
    what: &str,
    rows: usize,
    cols: usize,
    scale: f64,
) -> LmResult<Array2<T>> {
    let len = rows * cols; // cannot overflow: checked against MAX_PARAMS by the caller
    let mut data = Vec::new();
    data.try_reserve_exact(len).map_err(|_| {
        LmError::Config(format!(
            "SimpleRnnlm::new: cannot allocate {what} ({rows}, {cols}) = {len} elements of {}",
            T::NAME
        ))
    })?;
    data.extend((0..len).map(|_| T::from_f64(rng.normal() * scale)));
    Ok(Array2::from_shape_vec((rows, cols), data).expect("rows * cols elements"))
}

impl<T: Float> SimpleRnnlm<T> {
    /// The most parameters (`V·D + D·H + H·H + H + H·V + V` elements) that
    /// [`SimpleRnnlm::new`] builds: 2^30. Training needs about four times this many
    /// elements of `T` (weights, gradients, Adam's two moments) plus the activations.
    pub const MAX_PARAMS: usize = 1 << 30;

    /// The book's initialisation from `seed`: `W_embed ~ N(0,1)/100`, `Wx ~ N(0,1)/√D`,
    /// `Wh ~ N(0,1)/√H`, `W_affine ~ N(0,1)/√H`, zero biases; the RNN is stateful.
    /// Sizes of zero are allowed (the model then has empty weights).
    ///
    /// ```
    /// use recur::lm::SimpleRnnlm;
    /// let m = SimpleRnnlm::<f32>::new(418, 100, 100, 1)?;
    /// assert_eq!(m.embed.weight().dim(), (418, 100));
    /// assert!(m.rnn.is_stateful());
    /// // Absurd sizes are refused before anything is allocated, naming the argument.
    /// let e = SimpleRnnlm::<f32>::new(418, 100, 1 << 32, 1).unwrap_err();
    /// assert!(e.to_string().contains("h = 4294967296"), "{e}");
    /// # Ok::<(), recur::lm::LmError>(())
    /// ```
    ///
    /// # Errors
    /// [`LmError::Config`] naming `v`, `d` or `h` if a weight's element count overflows
    /// `usize` or the parameters exceed [`SimpleRnnlm::MAX_PARAMS`], and if the memory
    /// for a weight cannot be allocated.
    pub fn new(v: usize, d: usize, h: usize, seed: u64) -> LmResult<Self> {
        Self::check_sizes(v, d, h)?;
        let mut rng = Rng::new(seed);
        let w_embed = randn(&mut rng, "W_embed (V, D)", v, d, 0.01)?;
        let wx = randn(&mut rng, "Wx (D, H)", d, h, 1.0 / (d.max(1) as f64).sqrt())?;
        let wh = randn(&mut rng, "Wh (H, H)", h, h, 1.0 / (h.max(1) as f64).sqrt())?;
        let w_aff = randn(
            &mut rng,
            "W_affine (H, V)",
            h,
            v,
            1.0 / (h.max(1) as f64).sqrt(),
        )?;
        Ok(Self::from_weights(
            w_embed,
            wx,
            wh,
            Array1::from_elem(h, T::ZERO),
            w_aff,
            Array1::from_elem(v, T::ZERO),
        )?)
    }

    /// `Err` naming the argument(s) if the weights of `(V, D, H)` have more elements than
    /// `usize` counts or than [`SimpleRnnlm::MAX_PARAMS`].
    fn check_sizes(v: usize, d: usize, h: usize) -> LmResult<()> {
        let sizes = format!("v = {v}, d = {d}, h = {h}");
        // Each weight with the arguments its size grows with.
        let weights = [
            ("W_embed (V, D)", "`v` and `d`", v.checked_mul(d)),
            ("Wx (D, H)", "`d` and `h`", d.checked_mul(h)),
            ("Wh (H, H)", "`h`", h.checked_mul(h)),
            ("W_affine (H, V)", "`h` and `v`", h.checked_mul(v)),
        ];
        let mut total = v.checked_add(h);
        for (what, args, len) in weights {
            let Some(len) = len else {
                return Err(LmError::Config(format!(
                    "SimpleRnnlm::new: {args} too large: {what} has more elements than usize counts ({sizes})"
                )));
            };
            total = total.and_then(|t| t.checked_add(len));
        }
        let max = Self::MAX_PARAMS;
        match total {
            Some(total) if total <= max => Ok(()),
            _ => {
                // Name the arguments of the largest weight.
                let (what, args, _) = weights.iter().max_by_key(|w| w.2).expect("four weights");
                Err(LmError::Config(format!(
                    "SimpleRnnlm::new: {args} too large: expected at most {max} parameters (SimpleRnnlm::MAX_PARAMS), got {} with {what} the largest ({sizes})",
                    total.map_or_else(|| "more than usize counts".to_string(), |t| t.to_string())
                )))
            }
        }
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
            affine: LmHead::new(w_affine, b_affine)?,
            backward_ready: false,
            par: Parallelism::Auto,
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

    /// Threads for every layer of the model (the results do not depend on them).
    pub fn set_parallelism(&mut self, par: Parallelism) {
        self.par = par;
        self.embed.set_parallelism(par);
        self.rnn.set_parallelism(par);
        self.affine.set_parallelism(par);
    }

    /// Checks the inputs of a window (and `ts`, if given) against the model and its
    /// carried state, before any layer runs.
    fn check(
        &self,
        op: &'static str,
        xs: &ArrayView2<'_, u32>,
        ts: Option<&ArrayView2<'_, u32>>,
    ) -> Result<()> {
        let (t_len, n) = xs.dim();
        let (v, _, h) = self.dims();
        let out_of_range = |arg, ids: &ArrayView2<'_, u32>| {
            ids.indexed_iter()
                .find(|&(_, &id)| id as usize >= v)
                .map(|((t, i), &id)| Error::IndexOutOfRange {
                    op,
                    arg,
                    position: format!("[t={t}, n={i}]"),
                    index: id as usize,
                    bound: v,
                })
        };
        if let Some(e) = out_of_range("xs", xs) {
            return Err(e);
        }
        if let Some(ts) = ts {
            if ts.dim() != xs.dim() {
                return Err(Error::ShapeMismatch {
                    op,
                    arg: "ts",
                    expected: format!("(T, N) = ({t_len}, {n}) of xs"),
                    got: fmt_shape(&[ts.nrows(), ts.ncols()]),
                });
            }
            if let Some(e) = out_of_range("ts", ts) {
                return Err(e);
            }
        }
        if let Some(state) = self.rnn.state() {
            if state.nrows() != n {
                return Err(Error::ShapeMismatch {
                    op,
                    arg: "xs",
                    expected: format!(
                        "(T, N) = ({t_len}, {}): N of the carried state (N, H) = ({}, {h})",
                        state.nrows(),
                        state.nrows()
                    ),
                    got: fmt_shape(&[t_len, n]),
                });
            }
        }
        Ok(())
    }

    /// Scores `(T, N, V)` of the next word after each of `xs: (T, N)` (carrying state).
    ///
    /// # Errors
    /// [`Error::IndexOutOfRange`] naming `xs` for an id `>= V`, [`Error::ShapeMismatch`]
    /// naming `xs` if its batch size differs from the carried state's. The model is
    /// unchanged.
    pub fn scores(&mut self, xs: ArrayView2<'_, u32>) -> Result<ArrayView3<'_, T>> {
        self.check("SimpleRnnlm::scores", &xs, None)?;
        self.backward_ready = false;
        let e = self.embed.forward(xs)?;
        let hs = self.rnn.forward(e)?;
        self.affine.scores(hs)
    }

    /// The mean loss of predicting `ts: (T, N)` from `xs: (T, N)`, carrying the state and
    /// keeping what [`SimpleRnnlm::backward`] needs.
    ///
    /// # Errors
    /// As [`SimpleRnnlm::scores`], and naming `ts` if it is not `(T, N)` of `xs` or holds
    /// an id `>= V`. Everything is checked before any layer runs: on `Err` the model (its
    /// carried state, and what the next `backward` computes) is unchanged.
    pub fn forward(&mut self, xs: ArrayView2<'_, u32>, ts: ArrayView2<'_, u32>) -> Result<T> {
        self.check("SimpleRnnlm::forward", &xs, Some(&ts))?;
        self.backward_ready = false;
        let e = self.embed.forward(xs)?;
        let hs = self.rnn.forward(e)?;
        let loss = self.affine.forward(hs, ts)?;
        self.backward_ready = true;
        Ok(loss)
    }

    /// The same loss as [`SimpleRnnlm::forward`] (and the state carried the same way),
    /// for evaluation: the head keeps no `(T·N, V)` buffer. A `backward` after it (before
    /// the next `forward`) is an error.
    ///
    /// # Errors
    /// As [`SimpleRnnlm::forward`]; the model is unchanged.
    pub fn evaluate(&mut self, xs: ArrayView2<'_, u32>, ts: ArrayView2<'_, u32>) -> Result<T> {
        self.check("SimpleRnnlm::evaluate", &xs, Some(&ts))?;
        self.backward_ready = false;
        let e = self.embed.forward(xs)?;
        let hs = self.rnn.forward(e)?;
        self.affine.evaluate(hs, ts)
    }

    /// Back-propagates the last forward's loss into every parameter gradient.
    ///
    /// # Errors
    /// [`Error::InvalidState`] unless the last call that ran the layers was a successful
    /// `forward` (not `evaluate` or `scores`).
    pub fn backward(&mut self) -> Result<()> {
        if !self.backward_ready {
            return Err(Error::InvalidState {
                op: "SimpleRnnlm::backward",
                reason: "backward needs a forward first (evaluate and scores keep nothing for it)",
            });
        }
        let dhs = self.affine.backward(T::ONE)?;
        let dxs = self.rnn.backward(dhs)?;
        self.embed.backward(dxs)
    }

    /// Every parameter with its gradient, in the order of [`Parameters::params_mut`]
    /// (`embed.w` row-sparse, `rnn.wx`, `rnn.wh`, `rnn.b`, `affine.w`, `affine.b`), in an
    /// array: a training step built on it does not allocate.
    pub fn param_array(&mut self) -> [ParamMut<'_, T>; 6] {
        let [e] = self.embed.param_array();
        let [wx, wh, b] = self.rnn.param_array();
        let [w, bf] = self.affine.param_array();
        [e, wx, wh, b, w, bf]
    }

    /// One training step on a window: forward, backward, global-norm clipping at
    /// `max_grad` (if given) and the optimizer's update, all with the model's threads and
    /// without touching the heap once the buffers have their sizes. Returns the loss.
    ///
    /// ```
    /// use recur::lm::SimpleRnnlm;
    /// use recur::layers::{ndarray::array, Sgd};
    /// let mut m = SimpleRnnlm::<f32>::new(5, 3, 4, 1)?;
    /// let (xs, ts) = (array![[0u32, 1], [2, 3]], array![[1u32, 2], [3, 4]]);
    /// let mut sgd = Sgd::new(0.5);
    /// let first = m.train_step(xs.view(), ts.view(), Some(0.25), &mut sgd)?;
    /// m.reset_state();
    /// let second = m.train_step(xs.view(), ts.view(), Some(0.25), &mut sgd)?;
    /// assert!(second < first);
    /// # Ok::<(), recur::lm::LmError>(())
    /// ```
    ///
    /// # Errors
    /// As [`SimpleRnnlm::forward`] (then nothing changed), a non-finite gradient norm
    /// when clipping (the weights are not updated), and the optimizer's errors.
    pub fn train_step<O: Optimizer<T> + ?Sized>(
        &mut self,
        xs: ArrayView2<'_, u32>,
        ts: ArrayView2<'_, u32>,
        max_grad: Option<T>,
        optimizer: &mut O,
    ) -> Result<T> {
        let loss = self.forward(xs, ts)?;
        self.backward()?;
        let par = self.par;
        let mut params = self.param_array();
        if let Some(max) = max_grad {
            clip_grads_with(&mut params, max, par)?;
        }
        optimizer.step(&mut params)?;
        Ok(loss)
    }

    /// Forgets the carried hidden state.
    pub fn reset_state(&mut self) {
        self.rnn.reset_state();
    }
}

impl<T: Float> Parameters<T> for SimpleRnnlm<T> {
    fn params_mut(&mut self) -> Vec<ParamMut<'_, T>> {
        self.param_array().into()
    }
}
