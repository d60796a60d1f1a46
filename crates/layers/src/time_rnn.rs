//! TimeRnn: the vanilla tanh RNN `h_t = tanh(x_t·Wx + h_{t−1}·Wh + b)` over `T` steps, on
//! the time-major layout.
//!
//! Forward is one large GEMM and `T` small fused ones:
//! 1. `HS[0..T] = XS·Wx + b`: one `(T·N, D) x (D, H)` GEMM with a bias epilogue, written
//!    straight into the hidden-state buffer;
//! 2. for each `t`: `HS[t] = tanh(HS[t−1]·Wh + HS[t])`, a GEMM with `beta = 1` against a
//!    pre-packed `Wh` and a tanh epilogue, in place.
//!
//! The buffer holds `h0` in front of `HS`, as one `(T+1, N, H)` block, so that
//! `[h0; HS[0..T−1]]` (the previous states of every step) is one contiguous `(T·N, H)`
//! matrix for the backward GEMM of `dWh`.
//!
//! Backward is `T` small fused GEMMs and three large ones:
//! 1. `DT[T−1] = dHS[T−1] ⊙ (1 − HS[T−1]²)`;
//! 2. for `t = T−1` down to 1: `DT[t−1] = (DT[t]·Whᵀ + dHS[t−1]) ⊙ (1 − HS[t−1]²)`, one
//!    GEMM against a pre-packed `Whᵀ` with the fused epilogue;
//! 3. `dh0 = DT[0]·Whᵀ`; `dWh = [h0; HS[0..T−1]]ᵀ·DT`; `dWx = XSᵀ·DT`; `dXS = DT·Wxᵀ`;
//!    `db` = column sums of `DT`.
//!
//! The packed `Wh` and `Whᵀ` are rebuilt only when the weights change.
//!
//! On several threads, the two step loops are split by rows of the batch: the `N`
//! sequences do not interact, so each task runs all `T` steps for its rows with no
//! synchronization between steps (a split of each step's GEMM would fork and join `2T`
//! times per forward and backward). The large GEMMs split themselves. No split changes a
//! bit of any result.

use crate::param::{ParamMut, Parameters};
use crate::util::{buffer_len, reserve, shape_err, standard, threads_for};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayView3, ArrayViewMut1, ArrayViewMut2};
use rayon::prelude::*;
use recur_kernels::error::fmt_shape;
use recur_kernels::{
    gemm_packed, gemm_with, tanh_backward, Epilogue, Error, Float, MatMut, MatRef, PackedB,
    Parallelism, Result,
};

/// A vanilla tanh RNN unrolled over `T` time steps (the book's `TimeRNN`).
///
/// Parameters: `wx: (D, H)`, `wh: (H, H)`, `b: (H)`. Input `xs: (T, N, D)`, output
/// `hs: (T, N, H)`, both time-major and row-major (element `(t, n, h)` of `hs` at
/// `(t·N + n)·H + h`).
///
/// State: with `stateful` on, the last hidden state of one `forward` is the `h0` of the
/// next (truncated BPTT: gradients do not flow across calls); [`TimeRnn::set_state`] gives
/// the next forward its `h0` in either mode; otherwise `h0 = 0`.
///
/// Forward and backward reuse buffers owned by the layer: once the shapes are stable they
/// do not allocate.
///
/// ```
/// use recur_layers::{TimeRnn, ndarray::{Array1, Array2, Array3}};
/// let (t, n, d, h) = (4, 5, 3, 2);
/// let wx = Array2::from_elem((d, h), 0.1f64);
/// let wh = Array2::from_elem((h, h), -0.2f64);
/// let b = Array1::from_elem(h, 0.05f64);
/// let mut rnn = TimeRnn::new(wx, wh, b)?;
/// let xs = Array3::from_elem((t, n, d), 1.0f64);
/// let hs = rnn.forward(xs.view())?.to_owned();              // (T, N, H)
/// assert_eq!(hs.dim(), (t, n, h));
/// assert!((hs[[0, 0, 0]] - (0.3f64 + 0.05).tanh()).abs() < 1e-15);
/// let dxs = rnn.backward(Array3::ones((t, n, h)).view())?;  // (T, N, D)
/// assert_eq!(dxs.dim(), (t, n, d));
/// assert_eq!(rnn.grad_wh().dim(), (h, h));
/// # Ok::<(), recur_layers::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct TimeRnn<T> {
    wx: Array2<T>,
    wh: Array2<T>,
    b: Array1<T>,
    grad_wx: Array2<T>,
    grad_wh: Array2<T>,
    grad_b: Array1<T>,
    /// `(N, H)` of the last backward.
    grad_h0: Array2<T>,
    stateful: bool,
    /// The `h0` of the next forward, `(N, H)` row-major, when `state_n` is `Some(N)`.
    state: Vec<T>,
    state_n: Option<usize>,
    /// `(T+1, N, H)`: `h0`, then the `T` hidden states of the last forward.
    hs: Vec<T>,
    /// `(T, N, D)`: the input of the last forward (needed for `dWx`).
    xs: Vec<T>,
    /// `(T, N)` of the last forward, if any.
    shape: Option<(usize, usize)>,
    /// `(T, N, H)` scratch: `dHS` copied when not contiguous, and `DT`.
    dhs: Vec<T>,
    dt: Vec<T>,
    /// `(T, N, D)`: the result of the last backward.
    dxs: Vec<T>,
    /// `Wh` and `Whᵀ` packed for the GEMM micro-kernels; `None` until first needed.
    packed: Option<(PackedB<T>, PackedB<T>)>,
    /// Whether `packed` still matches `wh` (cleared by every mutable access to it).
    packed_valid: bool,
    par: Parallelism,
}

const NEW: &str = "TimeRnn::new";

impl<T: Float> TimeRnn<T> {
    /// A layer with `wx: (D, H)`, `wh: (H, H)`, `b: (H)`, each in any memory order
    /// (strided or reversed arrays are copied to row-major).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] naming `wh` or `b` when their shapes do not match `wx`.
    pub fn new(wx: Array2<T>, wh: Array2<T>, b: Array1<T>) -> Result<Self> {
        let (d, h) = wx.dim();
        check_wh(NEW, h, wh.view())?;
        check_b(NEW, h, b.view())?;
        Ok(TimeRnn {
            wx: standard(wx),
            wh: standard(wh),
            b: standard(b),
            grad_wx: Array2::from_elem((d, h), T::ZERO),
            grad_wh: Array2::from_elem((h, h), T::ZERO),
            grad_b: Array1::from_elem(h, T::ZERO),
            grad_h0: Array2::from_elem((0, h), T::ZERO),
            stateful: false,
            state: Vec::new(),
            state_n: None,
            hs: Vec::new(),
            xs: Vec::new(),
            shape: None,
            dhs: Vec::new(),
            dt: Vec::new(),
            dxs: Vec::new(),
            packed: None,
            packed_valid: false,
            par: Parallelism::Auto,
        })
    }

    /// `D`, the input width.
    pub fn input_size(&self) -> usize {
        self.wx.nrows()
    }
    /// `H`, the hidden width.
    pub fn hidden_size(&self) -> usize {
        self.wx.ncols()
    }

    /// Turns stateful mode on or off (see the type's docs). Turning it off does not drop
    /// a state set by [`TimeRnn::set_state`].
    pub fn set_stateful(&mut self, on: bool) {
        self.stateful = on;
    }
    /// Whether stateful mode is on.
    pub fn is_stateful(&self) -> bool {
        self.stateful
    }

    /// How many threads the passes may use (default [`Parallelism::Auto`]): the large GEMMs
    /// and the step loops (split by rows of the batch; see the module docs). Results are
    /// bit-identical for any setting.
    pub fn set_parallelism(&mut self, par: Parallelism) {
        self.par = par;
    }

    /// Sets the `h0` of the next forward, `h: (N, H)` (its `N` must match that forward's).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] naming `h` if its width is not `H`.
    pub fn set_state(&mut self, h: ArrayView2<'_, T>) -> Result<()> {
        let (n, width) = h.dim();
        if width != self.hidden_size() {
            return Err(shape_err(
                "TimeRnn::set_state",
                "h",
                format!("(N, H) = (_, {})", self.hidden_size()),
                &[n, width],
            ));
        }
        self.state.clear();
        self.state.extend(h.iter().copied());
        self.state_n = Some(n);
        Ok(())
    }

    /// Forgets the state: the next forward starts from `h0 = 0`.
    pub fn reset_state(&mut self) {
        self.state_n = None;
    }

    /// The `h0` the next forward will start from, `(N, H)`: the last hidden state of the
    /// previous forward in stateful mode, or the state given to `set_state`; `None` means
    /// zeros.
    pub fn state(&self) -> Option<ArrayView2<'_, T>> {
        let n = self.state_n?;
        ArrayView2::from_shape((n, self.hidden_size()), &self.state[..]).ok()
    }

    /// `Wx: (D, H)`.
    pub fn wx(&self) -> ArrayView2<'_, T> {
        self.wx.view()
    }
    /// `Wh: (H, H)`.
    pub fn wh(&self) -> ArrayView2<'_, T> {
        self.wh.view()
    }
    /// `b: (H)`.
    pub fn b(&self) -> ArrayView1<'_, T> {
        self.b.view()
    }
    /// `Wx: (D, H)`, writable.
    pub fn wx_mut(&mut self) -> ArrayViewMut2<'_, T> {
        self.wx.view_mut()
    }
    /// `Wh: (H, H)`, writable (the packed copy is rebuilt before the next pass).
    pub fn wh_mut(&mut self) -> ArrayViewMut2<'_, T> {
        self.invalidate_packed();
        self.wh.view_mut()
    }
    /// `b: (H)`, writable.
    pub fn b_mut(&mut self) -> ArrayViewMut1<'_, T> {
        self.b.view_mut()
    }

    /// `dL/dWx: (D, H)` from the last backward.
    pub fn grad_wx(&self) -> ArrayView2<'_, T> {
        self.grad_wx.view()
    }
    /// `dL/dWh: (H, H)` from the last backward.
    pub fn grad_wh(&self) -> ArrayView2<'_, T> {
        self.grad_wh.view()
    }
    /// `dL/db: (H)` from the last backward.
    pub fn grad_b(&self) -> ArrayView1<'_, T> {
        self.grad_b.view()
    }
    /// `dL/dh0: (N, H)` from the last backward: the gradient with respect to the block's
    /// initial state (the book's `dh`).
    pub fn grad_h0(&self) -> ArrayView2<'_, T> {
        self.grad_h0.view()
    }

    fn invalidate_packed(&mut self) {
        self.packed_valid = false;
    }

    /// Runs `xs: (T, N, D)` (any memory order) through the `T` steps and returns
    /// `hs: (T, N, H)`, row-major contiguous.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] naming `xs` if its last axis is not `D`, or naming
    /// `state` if a carried or set state has another batch size than `N`;
    /// [`Error::SizeOverflow`] if `(T+1)·N·H` or `T·N·D` elements overflow `usize` or
    /// exceed what one allocation can hold. The layer is unchanged.
    pub fn forward(&mut self, xs: ArrayView3<'_, T>) -> Result<ArrayView3<'_, T>> {
        let op = "TimeRnn::forward";
        let (t_len, n, d) = xs.dim();
        let h = self.hidden_size();
        if d != self.input_size() {
            return Err(shape_err(
                op,
                "xs",
                format!("(T, N, D) = (_, _, {})", self.input_size()),
                &[t_len, n, d],
            ));
        }
        if let Some(sn) = self.state_n {
            if sn != n {
                return Err(shape_err(
                    op,
                    "state",
                    format!(
                        "(N, H) = ({n}, {h}) to match xs: {}",
                        fmt_shape(&[t_len, n, d])
                    ),
                    &[sn, h],
                ));
            }
        }
        let nh = n.checked_mul(h);
        let total = buffer_len::<T>(nh.and_then(|nh| (t_len.checked_add(1)?).checked_mul(nh)));
        // The copy of xs kept for backward (xs may be a broadcast view of few elements).
        let xs_len = buffer_len::<T>(t_len.checked_mul(n).and_then(|tn| tn.checked_mul(d)));
        let (Some(nh), Some(total), Some(xs_len)) = (nh, total, xs_len) else {
            return Err(Error::SizeOverflow {
                op,
                arg: "xs",
                shape: format!("(T+1, N, H) = ({t_len}+1, {n}, {h})"),
            });
        };
        let shape = || format!("(T+1, N, H) = ({t_len}+1, {n}, {h})");
        reserve(&mut self.hs, total, op, "xs", shape)?;
        reserve(&mut self.xs, xs_len, op, "xs", || {
            format!("(T, N, D) = ({t_len}, {n}, {d})")
        })?;
        self.ensure_packed()?;

        crate::util::copy_into(&mut self.xs, xs.view());
        self.hs.resize(total, T::ZERO);
        // h0: the carried / set state, or zeros.
        match self.state_n {
            Some(_) => self.hs[..nh].copy_from_slice(&self.state[..nh]),
            None => self.hs[..nh].fill(T::ZERO),
        }
        let tn = t_len * n;
        {
            // 1. HS[0..T] = XS·Wx + b, one GEMM into the buffer after h0.
            let xs_m = MatRef::from_slice(&self.xs, tn, d)?;
            let wx = MatRef::from_slice(self.wx.as_slice().expect("row-major"), d, h)?;
            let hs_m = MatMut::from_slice(&mut self.hs[nh..], tn, h)?;
            let bias = self.b.as_slice().expect("contiguous");
            gemm_with(
                T::ONE,
                xs_m,
                wx,
                T::ZERO,
                hs_m,
                Epilogue::Bias(bias),
                self.par,
            )?;
        }
        // 2. HS[t] = tanh(HS[t−1]·Wh + HS[t]), in place; slot t of the buffer is HS[t−1].
        let packed = &self.packed.as_ref().expect("packed by ensure_packed").0;
        let split = BatchSplit::new(self.par, t_len, n, h);
        if split.tasks > 1 {
            // Each task runs the whole recurrence for its rows of the batch.
            let slots = rows_of_slots(&mut self.hs[..(t_len + 1) * nh], h, split);
            slots
                .into_par_iter()
                .enumerate()
                .try_for_each(|(q, mut slots)| {
                    let r = split.rows(q).len();
                    for t in 0..t_len {
                        let (prev, cur) = slots.split_at_mut(t + 1);
                        let (prev, cur) = (&*prev[t], &mut *cur[0]);
                        step(
                            prev,
                            cur,
                            packed,
                            T::ONE,
                            Epilogue::Tanh,
                            r,
                            h,
                            Parallelism::Serial,
                        )?;
                    }
                    Ok::<(), Error>(())
                })?;
        } else {
            for t in 0..t_len {
                let (prev, cur) = self.hs[t * nh..(t + 2) * nh].split_at_mut(nh);
                step(prev, cur, packed, T::ONE, Epilogue::Tanh, n, h, self.par)?;
            }
        }
        if self.stateful {
            // The last hidden state is the next forward's h0.
            self.state.resize(nh, T::ZERO);
            self.state.copy_from_slice(&self.hs[t_len * nh..]);
            self.state_n = Some(n);
        } else {
            self.state_n = None;
        }
        self.shape = Some((t_len, n));
        Ok(ArrayView3::from_shape((t_len, n, h), &self.hs[nh..]).expect("buffer sized (T, N, H)"))
    }

    /// Packs `Wh` and `Whᵀ` if they changed since the last pass, reusing the packed
    /// buffers' allocations.
    fn ensure_packed(&mut self) -> Result<()> {
        if self.packed_valid {
            return Ok(());
        }
        let h = self.hidden_size();
        let wh = MatRef::from_slice(self.wh.as_slice().expect("row-major"), h, h)?;
        match &mut self.packed {
            Some((p, pt)) => {
                p.repack(wh)?;
                pt.repack(wh.t())?;
            }
            None => self.packed = Some((PackedB::new(wh)?, PackedB::new(wh.t())?)),
        }
        self.packed_valid = true;
        Ok(())
    }

    /// Back-propagates `dhs: (T, N, H)` (any memory order; the gradient of the loss with
    /// respect to every output of the last forward) and returns `dxs: (T, N, D)`.
    /// Overwrites `grad_wx`, `grad_wh`, `grad_b` and `grad_h0`.
    ///
    /// # Errors
    /// [`Error::InvalidState`] before any forward; [`Error::ShapeMismatch`] naming `dhs`
    /// if it is not `(T, N, H)` of the last forward. The layer is unchanged.
    pub fn backward(&mut self, dhs: ArrayView3<'_, T>) -> Result<ArrayView3<'_, T>> {
        let op = "TimeRnn::backward";
        let (t_len, n) = self.shape.ok_or(Error::InvalidState {
            op,
            reason: "backward called before forward",
        })?;
        let (d, h) = (self.input_size(), self.hidden_size());
        if dhs.dim() != (t_len, n, h) {
            let (a, b, c) = dhs.dim();
            return Err(shape_err(
                op,
                "dhs",
                format!("(T, N, H) = ({t_len}, {n}, {h}) of the last forward"),
                &[a, b, c],
            ));
        }
        self.ensure_packed()?;
        let nh = n * h;
        let tn = t_len * n;
        let dhs_slice: &[T] = match dhs.as_slice() {
            Some(s) => s,
            None => {
                self.dhs.clear();
                self.dhs.extend(dhs.iter().copied());
                &self.dhs
            }
        };
        self.dt.resize(tn * h, T::ZERO);
        self.dxs.resize(tn * d, T::ZERO);
        self.grad_h0 = if self.grad_h0.dim() == (n, h) {
            std::mem::take(&mut self.grad_h0)
        } else {
            Array2::from_elem((n, h), T::ZERO)
        };
        if t_len == 0 {
            self.grad_wx.fill(T::ZERO);
            self.grad_wh.fill(T::ZERO);
            self.grad_b.fill(T::ZERO);
            self.grad_h0.fill(T::ZERO);
            return Ok(ArrayView3::from_shape((0, n, d), &self.dxs[..]).expect("empty"));
        }
        let packed_t = &self.packed.as_ref().expect("packed by ensure_packed").1;
        let last = t_len - 1;
        // 1. DT[T−1] = dHS[T−1] ⊙ (1 − HS[T−1]²); HS[t] is slot t + 1 of the buffer.
        tanh_backward(
            &self.hs[(last + 1) * nh..(last + 2) * nh],
            &dhs_slice[last * nh..],
            &mut self.dt[last * nh..],
        )?;
        // 2. DT[t−1] = (DT[t]·Whᵀ + dHS[t−1]) ⊙ (1 − HS[t−1]²).
        let split = BatchSplit::new(self.par, t_len, n, h);
        if split.tasks > 1 {
            // Each task runs the whole recurrence for its rows of the batch.
            let hs = &self.hs;
            let slots = rows_of_slots(&mut self.dt[..tn * h], h, split);
            slots
                .into_par_iter()
                .enumerate()
                .try_for_each(|(q, mut slots)| {
                    let rows = split.rows(q);
                    let (r, off) = (rows.len(), rows.start * h);
                    for t in (1..t_len).rev() {
                        let (lower, upper) = slots.split_at_mut(t);
                        let e =
                            MatRef::from_slice(&dhs_slice[(t - 1) * nh + off..][..r * h], r, h)?;
                        let y = MatRef::from_slice(&hs[t * nh + off..][..r * h], r, h)?;
                        let (dt, dt_prev) = (&*upper[0], &mut *lower[t - 1]);
                        let epi = Epilogue::TanhBackward { e, y };
                        step(
                            dt,
                            dt_prev,
                            packed_t,
                            T::ZERO,
                            epi,
                            r,
                            h,
                            Parallelism::Serial,
                        )?;
                    }
                    Ok::<(), Error>(())
                })?;
        } else {
            for t in (1..t_len).rev() {
                let (lower, upper) = self.dt.split_at_mut(t * nh);
                let e = MatRef::from_slice(&dhs_slice[(t - 1) * nh..t * nh], n, h)?;
                let y = MatRef::from_slice(&self.hs[t * nh..(t + 1) * nh], n, h)?;
                let (dt, dt_prev) = (&upper[..nh], &mut lower[(t - 1) * nh..]);
                let epi = Epilogue::TanhBackward { e, y };
                step(dt, dt_prev, packed_t, T::ZERO, epi, n, h, self.par)?;
            }
        }
        let dt = MatRef::from_slice(&self.dt, tn, h)?;
        // 3. dh0 = DT[0]·Whᵀ
        gemm_packed(
            T::ONE,
            MatRef::from_slice(&self.dt[..nh], n, h)?,
            packed_t,
            T::ZERO,
            MatMut::from_slice(self.grad_h0.as_slice_mut().expect("row-major"), n, h)?,
            Epilogue::None,
            self.par,
        )?;
        // dWh = [h0; HS[0..T−1]]ᵀ·DT: the first T slots of the buffer, one (T·N, H) matrix.
        let prev = MatRef::from_slice(&self.hs[..tn * h], tn, h)?;
        let gwh = MatMut::from_slice(self.grad_wh.as_slice_mut().expect("row-major"), h, h)?;
        gemm_with(T::ONE, prev.t(), dt, T::ZERO, gwh, Epilogue::None, self.par)?;
        // dWx = XSᵀ·DT
        let xs = MatRef::from_slice(&self.xs, tn, d)?;
        let gwx = MatMut::from_slice(self.grad_wx.as_slice_mut().expect("row-major"), d, h)?;
        gemm_with(T::ONE, xs.t(), dt, T::ZERO, gwx, Epilogue::None, self.par)?;
        // dXS = DT·Wxᵀ
        let wx = MatRef::from_slice(self.wx.as_slice().expect("row-major"), d, h)?;
        let dxs = MatMut::from_slice(&mut self.dxs, tn, d)?;
        gemm_with(T::ONE, dt, wx.t(), T::ZERO, dxs, Epilogue::None, self.par)?;
        // db = column sums of DT.
        let gb = self.grad_b.as_slice_mut().expect("contiguous");
        gb.fill(T::ZERO);
        for row in self.dt.chunks_exact(h.max(1)) {
            for (g, &x) in gb.iter_mut().zip(row) {
                *g += x;
            }
        }
        Ok(ArrayView3::from_shape((t_len, n, d), &self.dxs[..]).expect("buffer sized (T, N, D)"))
    }
}

/// Rows of the batch below which a task of the batch-split recurrence has too little work
/// per step (a GEMM of fewer rows than this runs well below the micro-kernel's rate).
const MIN_ROWS_PER_TASK: usize = 4;

/// How the recurrence of a `(T, N, H)` pass is split across threads: the `N` sequences
/// are independent (row `i` of `HS[t]` depends on row `i` of `HS[t−1]` only, and the same
/// for `DT`), so each task can run every step for its own rows, with no synchronization
/// between steps — where a split of each step's GEMM would fork and join `T` times. One
/// task when one thread is allowed, the work is small, or the batch too narrow (then each
/// step's GEMM decides its own threads). Rows computed by any task, in any split, are
/// bit-identical: each output element is reduced in the same order by the same
/// micro-kernel.
#[derive(Clone, Copy, Debug)]
struct BatchSplit {
    tasks: usize,
    n: usize,
}

impl BatchSplit {
    fn new(par: Parallelism, t_len: usize, n: usize, h: usize) -> Self {
        let work = 2usize
            .saturating_mul(t_len)
            .saturating_mul(n)
            .saturating_mul(h)
            .saturating_mul(h);
        let tasks = threads_for(par, work).min(n / MIN_ROWS_PER_TASK).max(1);
        BatchSplit { tasks, n }
    }

    /// The rows of task `q < tasks`: near-equal contiguous ranges tiling `0..N` in order.
    fn rows(&self, q: usize) -> std::ops::Range<usize> {
        let (base, extra) = (self.n / self.tasks, self.n % self.tasks);
        let start = q * base + q.min(extra);
        start..start + base + usize::from(q < extra)
    }
}

/// Splits every `(N, H)` slot of `buf` (`N·H` elements each, `N·H > 0`) by the tasks of
/// `split`: entry `q` holds, slot by slot, the rows `split.rows(q)` of each.
fn rows_of_slots<'a, T>(buf: &'a mut [T], h: usize, split: BatchSplit) -> Vec<Vec<&'a mut [T]>> {
    let slot = split.n * h;
    let mut out: Vec<Vec<&'a mut [T]>> = (0..split.tasks)
        .map(|_| Vec::with_capacity(buf.len() / slot))
        .collect();
    for mut rest in buf.chunks_exact_mut(slot) {
        for (q, part) in out.iter_mut().enumerate() {
            let (mine, tail) = std::mem::take(&mut rest).split_at_mut(split.rows(q).len() * h);
            part.push(mine);
            rest = tail;
        }
    }
    out
}

/// One step of either recurrence on `r` rows: `c = f(a·B + beta·c)` with `a, c: (r, H)`
/// and the pre-packed `B: (H, H)` (`Wh` forward, `Whᵀ` backward).
#[allow(clippy::too_many_arguments)]
fn step<T: Float>(
    a: &[T],
    c: &mut [T],
    b: &PackedB<T>,
    beta: T,
    epi: Epilogue<'_, T>,
    r: usize,
    h: usize,
    par: Parallelism,
) -> Result<()> {
    let (a, c) = (MatRef::from_slice(a, r, h)?, MatMut::from_slice(c, r, h)?);
    gemm_packed(T::ONE, a, b, beta, c, epi, par)
}

fn check_wh<T>(op: &'static str, h: usize, wh: ArrayView2<'_, T>) -> Result<()> {
    if wh.dim() != (h, h) {
        let (a, b) = wh.dim();
        return Err(shape_err(
            op,
            "wh",
            format!("(H, H) = ({h}, {h}) to match wx: (D, H)"),
            &[a, b],
        ));
    }
    Ok(())
}

fn check_b<T>(op: &'static str, h: usize, b: ArrayView1<'_, T>) -> Result<()> {
    if b.len() != h {
        return Err(shape_err(
            op,
            "b",
            format!("(H) = ({h}) to match wx: (D, H)"),
            &[b.len()],
        ));
    }
    Ok(())
}

impl<T: Float> TimeRnn<T> {
    /// The parameters (`wx`, `wh`, `b`) as [`Parameters::params_mut`] gives them, in an array:
    /// no allocation, for a training step that must not touch the heap.
    pub fn param_array(&mut self) -> [ParamMut<'_, T>; 3] {
        self.invalidate_packed();
        [
            ParamMut {
                name: "wx",
                value: self.wx.view_mut().into_dyn(),
                grad: self.grad_wx.view_mut().into_dyn(),
                rows: None,
            },
            ParamMut {
                name: "wh",
                value: self.wh.view_mut().into_dyn(),
                grad: self.grad_wh.view_mut().into_dyn(),
                rows: None,
            },
            ParamMut {
                name: "b",
                value: self.b.view_mut().into_dyn(),
                grad: self.grad_b.view_mut().into_dyn(),
                rows: None,
            },
        ]
    }
}

impl<T: Float> Parameters<T> for TimeRnn<T> {
    fn params_mut(&mut self) -> Vec<ParamMut<'_, T>> {
        self.param_array().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_split_tiles_the_batch_when_threads_and_work_allow() {
        let big = (64, 256); // (T, H): 2·T·N·H² far above the threshold for N >= 1
        for n in [0, 1, 7, 8, 9, 13, 20, 64, 127] {
            for par in [
                Parallelism::Serial,
                Parallelism::Rayon(2),
                Parallelism::Rayon(3),
            ] {
                let split = BatchSplit::new(par, big.0, n, big.1);
                let tasks = match par {
                    Parallelism::Rayon(k) => k.min(n / MIN_ROWS_PER_TASK).max(1),
                    _ => 1,
                };
                assert_eq!(split.tasks, tasks, "{par:?} n = {n}");
                let parts: Vec<_> = (0..tasks).map(|q| split.rows(q)).collect();
                assert_eq!(parts[0].start, 0);
                assert_eq!(parts[tasks - 1].end, n);
                for w in parts.windows(2) {
                    assert_eq!(w[0].end, w[1].start);
                    assert!(w[0].len().abs_diff(w[1].len()) <= 1);
                }
                if tasks > 1 {
                    assert!(parts.iter().all(|r| r.len() >= MIN_ROWS_PER_TASK));
                }
            }
        }
        // Below the threshold of work: one task.
        assert_eq!(BatchSplit::new(Parallelism::Rayon(2), 2, 20, 8).tasks, 1);
    }

    #[test]
    fn rows_of_slots_hands_each_part_its_rows_of_every_slot() {
        let (slots, n, h) = (3, 5, 2);
        let mut buf: Vec<usize> = (0..slots * n * h).collect();
        let split = BatchSplit { tasks: 3, n };
        let parts = [0..2, 2..4, 4..5];
        let got = rows_of_slots(&mut buf, h, split);
        for (q, rows) in parts.iter().enumerate() {
            assert_eq!(split.rows(q), *rows);
            assert_eq!(got[q].len(), slots);
            for (t, s) in got[q].iter().enumerate() {
                let want: Vec<usize> =
                    (t * n * h + rows.start * h..t * n * h + rows.end * h).collect();
                assert_eq!(**s, want[..]);
            }
        }
    }
}
