//! The language-model head: [`TimeAffine`](crate::TimeAffine) and
//! [`SoftmaxCrossEntropy`](crate::SoftmaxCrossEntropy) fused into one layer that keeps a
//! single `(T·N, V)` buffer in training and none in evaluation.

use crate::param::{ParamMut, Parameters};
use crate::util::{buffer_len, reserve, shape_err, standard_slice, threads_for, threads_for_elems};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayView3};
use rayon::prelude::*;
use recur_kernels::{
    exp_shifted_sum, gemm_packed, gemm_with, max_value, scale, Epilogue, Error, Float, MatMut,
    MatRef, PackedB, Parallelism, Result,
};

/// Bytes of scores one row block should hold: small enough to stay in cache between the
/// GEMM that writes it and the softmax passes that follow, large enough that the packed
/// `W` is streamed only a few dozen times per window.
const BLOCK_BYTES: usize = 1 << 20;
/// Fewest rows in a default row block (a GEMM of fewer rows wastes the packed `W`).
const MIN_BLOCK_ROWS: usize = 32;

/// The fused output layer of a language model: scores `S = HS·W + b` (`W: (H, V)`,
/// `b: (V)`) and the mean softmax cross-entropy of `S` against `targets: (T, N)`, over the
/// positions whose target is not the ignore label.
///
/// Forward computes `S` in row blocks of the `(T·N, H)` hidden states (a GEMM against a
/// `W` packed once per weight change, with a bias epilogue), and follows each block at
/// once, while it is in cache, by its row softmax: the row maximum, `exp(s − max)`, the
/// sum, the loss term `ln sum − (s_target − max)`, and then, in the same buffer,
/// `dS = (softmax − onehot(target)) / count` (zero rows for ignored targets). Backward is
/// `dW = HSᵀ·dS`, `db` = column sums of `dS`, `dHS = dS·Wᵀ`. So training keeps one
/// `(T·N, V)` buffer (the unfused chain keeps three: scores, softmax, gradient), and
/// [`LmHead::evaluate`] keeps none beyond one row block per thread.
///
/// Threads take whole row blocks, whose size does not depend on the thread count; the
/// per-row loss terms are summed in row order, `db` column by column in row order, and
/// `dW` by the GEMM (which never splits the reduction): the bits of the loss and of every
/// gradient are the same for any [`Parallelism`]. The results equal those of
/// `TimeAffine` + `SoftmaxCrossEntropy` within f32 rounding.
///
/// ```
/// use recur_layers::{LmHead, ndarray::{array, Array3}};
/// // H = 1, V = 3: scores of a hidden state h are [h, 0, 2h] + b.
/// let mut head = LmHead::new(array![[1.0f64, 0.0, 2.0]], array![0.0, 0.0, 0.0])?;
/// let hs = Array3::from_elem((1, 1, 1), 0.0); // (T, N, H): scores [0, 0, 0]
/// let loss = head.forward(hs.view(), array![[2u32]].view())?;
/// assert!((loss - 3f64.ln()).abs() < 1e-15);
/// let dhs = head.backward(1.0)?; // dS = [1/3, 1/3, −2/3], dHS = dS·Wᵀ = −1
/// assert!((dhs[[0, 0, 0]] + 1.0).abs() < 1e-15);
/// assert!((head.grad_b()[2] + 2.0 / 3.0).abs() < 1e-15);
/// // Evaluation gives the same loss and keeps no (T·N, V) buffer.
/// assert_eq!(head.evaluate(hs.view(), array![[2u32]].view())?, loss);
/// # Ok::<(), recur_layers::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct LmHead<T> {
    w: Array2<T>,
    b: Array1<T>,
    grad_w: Array2<T>,
    grad_b: Array1<T>,
    /// `W` packed for the GEMM; rebuilt before a pass after the weights may have changed.
    packed: PackedB<T>,
    packed_stale: bool,
    /// The SIMD tier `packed` was made for ([`recur_kernels::simd_level`]): a pass on
    /// another tier (`dispatch::with_level`) repacks first.
    packed_level: &'static str,
    ignore_label: Option<u32>,
    block_rows: Option<usize>,
    par: Parallelism,
    /// Input of the last forward, `(T·N, H)`.
    hs: Vec<T>,
    /// The one `(T·N, V)` buffer: `dS` of the last forward.
    ds: Vec<T>,
    /// Loss term of each row of the last forward (0 for ignored rows), summed in row order.
    row_loss: Vec<f64>,
    /// The same for [`LmHead::evaluate`].
    eval_loss: Vec<f64>,
    targets: Vec<u32>,
    /// `(T, N)` of the last forward.
    shape: Option<(usize, usize)>,
    count: usize,
    dhs: Vec<T>,
    /// [`LmHead::evaluate`]: one row block per thread; [`LmHead::scores`]: the scores.
    scratch: Vec<T>,
}

/// What a pass over the row blocks does with each row.
#[derive(Clone, Copy)]
enum RowPass<T> {
    /// Replace the row by `dS`, `inv_count` being `1 / count` (0 when nothing counts).
    Train { inv_count: T },
    /// Only the loss term; the row is scratch.
    Eval,
}

impl<T: Float> LmHead<T> {
    /// A head with `w: (H, V)` (any memory order; stored row-major) and `b: (V)`, no
    /// ignore label.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] naming `b` if its length is not `V`.
    pub fn new(w: Array2<T>, b: Array1<T>) -> Result<Self> {
        let (h, v) = w.dim();
        if b.len() != v {
            return Err(shape_err(
                "LmHead::new",
                "b",
                format!("(V) = ({v}) to match w: (H, V)"),
                &[b.len()],
            ));
        }
        let w = w.as_standard_layout().into_owned();
        let packed = PackedB::new(MatRef::from_slice(w.as_slice().expect("row-major"), h, v)?)?;
        Ok(LmHead {
            grad_w: Array2::from_elem((h, v), T::ZERO),
            grad_b: Array1::from_elem(v, T::ZERO),
            w,
            b: b.as_standard_layout().into_owned(),
            packed,
            packed_stale: false,
            packed_level: recur_kernels::simd_level(),
            ignore_label: None,
            block_rows: None,
            par: Parallelism::Auto,
            hs: Vec::new(),
            ds: Vec::new(),
            row_loss: Vec::new(),
            eval_loss: Vec::new(),
            targets: Vec::new(),
            shape: None,
            count: 0,
            dhs: Vec::new(),
            scratch: Vec::new(),
        })
    }

    /// Positions whose target equals `label` do not count in the loss and get a zero
    /// gradient (the book uses `-1`; here any `u32`, e.g. `u32::MAX`).
    #[must_use]
    pub fn with_ignore_label(mut self, label: Option<u32>) -> Self {
        self.ignore_label = label;
        self
    }

    /// The ignore label, if any.
    pub fn ignore_label(&self) -> Option<u32> {
        self.ignore_label
    }

    /// `H`, the input width.
    pub fn input_size(&self) -> usize {
        self.w.nrows()
    }
    /// `V`, the vocabulary size.
    pub fn output_size(&self) -> usize {
        self.w.ncols()
    }
    /// `W: (H, V)`.
    pub fn w(&self) -> ArrayView2<'_, T> {
        self.w.view()
    }
    /// `b: (V)`.
    pub fn b(&self) -> ArrayView1<'_, T> {
        self.b.view()
    }
    /// `dL/dW: (H, V)` from the last backward (zeros before any).
    pub fn grad_w(&self) -> ArrayView2<'_, T> {
        self.grad_w.view()
    }
    /// `dL/db: (V)` from the last backward (zeros before any).
    pub fn grad_b(&self) -> ArrayView1<'_, T> {
        self.grad_b.view()
    }
    /// The number of positions that counted in the last forward.
    pub fn count(&self) -> usize {
        self.count
    }

    /// How many threads the head may use: the row blocks of forward and evaluation, the
    /// GEMMs and the column sums of backward. The results do not depend on it.
    pub fn set_parallelism(&mut self, par: Parallelism) {
        self.par = par;
    }

    /// Rows per block of the forward (default: about 1 MiB of scores, at least 32 rows).
    /// The results do not depend on it, only the speed.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming `rows` if it is 0; the head is unchanged.
    pub fn set_block_rows(&mut self, rows: usize) -> Result<()> {
        if rows == 0 {
            return Err(Error::InvalidArgument {
                op: "LmHead::set_block_rows",
                arg: "rows",
                reason: "must be at least 1, got 0".into(),
            });
        }
        self.block_rows = Some(rows);
        Ok(())
    }

    fn block_rows(&self) -> usize {
        self.block_rows.unwrap_or_else(|| {
            let row_bytes = self.output_size().max(1) * std::mem::size_of::<T>();
            (BLOCK_BYTES / row_bytes).max(MIN_BLOCK_ROWS)
        })
    }

    /// Checks `hs: (T, N, H)` and that `(T·N, V)` scores fit in memory; returns `(T, N)`.
    fn check_hs(&self, op: &'static str, hs: &ArrayView3<'_, T>) -> Result<(usize, usize)> {
        let (t_len, n, h) = hs.dim();
        let v = self.output_size();
        if h != self.input_size() {
            return Err(shape_err(
                op,
                "hs",
                format!("(T, N, H) = (_, _, {})", self.input_size()),
                &[t_len, n, h],
            ));
        }
        let rows = t_len.checked_mul(n);
        if buffer_len::<T>(rows.and_then(|r| r.checked_mul(v)))
            .and(buffer_len::<f64>(rows))
            .is_none()
        {
            return Err(Error::SizeOverflow {
                op,
                arg: "hs",
                shape: format!("(T, N, V) = ({t_len}, {n}, {v})"),
            });
        }
        Ok((t_len, n))
    }

    /// Checks the shapes of `hs` and `targets` and returns `(T, N)`, before anything
    /// changes (and before [`LmHead::count_targets`] scans the targets).
    fn check(
        &self,
        op: &'static str,
        hs: &ArrayView3<'_, T>,
        targets: &ArrayView2<'_, u32>,
    ) -> Result<(usize, usize)> {
        let (t_len, n) = self.check_hs(op, hs)?;
        if targets.dim() != (t_len, n) {
            let (a, b) = targets.dim();
            return Err(shape_err(
                op,
                "targets",
                format!("(T, N) = ({t_len}, {n}) of hs"),
                &[a, b],
            ));
        }
        Ok((t_len, n))
    }

    /// The positions of `targets` that count (not the ignore label), or `Err` naming the
    /// first target `>= V`.
    fn count_targets(&self, op: &'static str, targets: &ArrayView2<'_, u32>) -> Result<usize> {
        let v = self.output_size();
        let ignore = self.ignore_label;
        let mut count = 0usize;
        for ((t, i), &id) in targets.indexed_iter() {
            if Some(id) == ignore {
                continue;
            }
            if id as usize >= v {
                return Err(Error::IndexOutOfRange {
                    op,
                    arg: "targets",
                    position: format!("[t={t}, n={i}]"),
                    index: id as usize,
                    bound: v,
                });
            }
            count += 1;
        }
        Ok(count)
    }

    fn repack_if_stale(&mut self) -> Result<()> {
        let level = recur_kernels::simd_level();
        if self.packed_stale || self.packed_level != level {
            let (h, v) = self.w.dim();
            self.packed.repack(MatRef::from_slice(
                self.w.as_slice().expect("row-major"),
                h,
                v,
            )?)?;
            self.packed_stale = false;
            self.packed_level = level;
        }
        Ok(())
    }

    /// The mean loss of the scores `hs·W + b` (`hs: (T, N, H)`) against
    /// `targets: (T, N)` (0 when no position counts), keeping `dS` for [`LmHead::backward`].
    /// `hs` may be any memory order; NaN in `hs` or the weights gives a NaN loss.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] naming `hs` if its last axis is not `H`, or `targets` if
    /// it is not `(T, N)` of `hs`; [`Error::IndexOutOfRange`] naming `targets` and the
    /// position of a target `>= V` (other than the ignore label); [`Error::SizeOverflow`]
    /// naming `hs` if `(T·N, V)` elements do not fit in memory. The head is unchanged.
    pub fn forward(&mut self, hs: ArrayView3<'_, T>, targets: ArrayView2<'_, u32>) -> Result<T> {
        let op = "LmHead::forward";
        let (t_len, n) = self.check(op, &hs, &targets)?;
        let (rows, h, v) = (t_len * n, self.input_size(), self.output_size());
        // Room first (sizes checked by `check`), then the scan of the targets.
        let shape = || format!("(T, N, V) = ({t_len}, {n}, {v})");
        reserve(&mut self.ds, rows * v, op, "hs", shape)?;
        reserve(&mut self.row_loss, rows, op, "hs", shape)?;
        reserve(&mut self.targets, rows, op, "hs", shape)?;
        reserve(&mut self.hs, rows * h, op, "hs", || {
            format!("(T, N, H) = ({t_len}, {n}, {h})")
        })?;
        let count = self.count_targets(op, &targets)?;
        self.repack_if_stale()?;
        crate::util::copy_into(&mut self.hs, hs.view());
        crate::util::copy_into(&mut self.targets, targets.view());
        self.ds.resize(rows * v, T::ZERO);
        self.row_loss.resize(rows, 0.0);
        let inv_count = if count == 0 {
            T::ZERO
        } else {
            T::ONE / T::from_usize(count)
        };
        // From here on nothing can fail on the caller's input; the state is the new one.
        self.shape = Some((t_len, n));
        self.count = count;
        let pass = Blocks {
            hs: &self.hs,
            targets: &self.targets,
            packed: &self.packed,
            b: self.b.as_slice().expect("contiguous"),
            ignore: self.ignore_label,
            h,
            v,
            // At most `rows` (so that `block_rows · V` cannot overflow after a
            // `set_block_rows(usize::MAX)`).
            block_rows: self.block_rows().min(rows.max(1)),
            threads: threads_for(self.par, rows.saturating_mul(h).saturating_mul(v)),
        };
        let result = pass.run(
            &mut self.ds,
            &mut self.row_loss,
            RowPass::Train { inv_count },
        );
        if result.is_err() {
            self.shape = None;
        }
        result?;
        Ok(mean_loss(&self.row_loss, count))
    }

    /// The same mean loss as [`LmHead::forward`], without keeping anything for backward:
    /// no buffer of size `(T·N, V)` is made, only one row block per thread. The state of
    /// the last `forward` (and so what `backward` computes) is not touched.
    ///
    /// # Errors
    /// As [`LmHead::forward`]; the head is unchanged.
    pub fn evaluate(&mut self, hs: ArrayView3<'_, T>, targets: ArrayView2<'_, u32>) -> Result<T> {
        let op = "LmHead::evaluate";
        let (t_len, n) = self.check(op, &hs, &targets)?;
        let (rows, h, v) = (t_len * n, self.input_size(), self.output_size());
        let block_rows = self.block_rows().min(rows.max(1));
        let threads = threads_for(self.par, rows.saturating_mul(h).saturating_mul(v));
        let blocks = rows.div_ceil(block_rows);
        let threads = threads.min(blocks).max(1);
        // Room first (a block per thread: at most about 2·T·N·V, which `check` bounds),
        // then the scan of the targets, then copies of inputs in another layout.
        reserve(&mut self.eval_loss, rows, op, "hs", || {
            format!("(T, N) = ({t_len}, {n})")
        })?;
        reserve(
            &mut self.scratch,
            threads * block_rows * v,
            op,
            "hs",
            || format!("({threads} x {block_rows}, {v}) of row blocks"),
        )?;
        let count = self.count_targets(op, &targets)?;
        let (mut hs_buf, mut targets_buf) = (Vec::new(), Vec::new());
        let hs = standard_slice(&hs, &mut hs_buf, op, "hs")?;
        let targets = standard_slice(&targets, &mut targets_buf, op, "targets")?;
        self.repack_if_stale()?;
        self.eval_loss.resize(rows, 0.0);
        self.scratch.resize(threads * block_rows * v, T::ZERO);
        let pass = Blocks {
            hs,
            targets,
            packed: &self.packed,
            b: self.b.as_slice().expect("contiguous"),
            ignore: self.ignore_label,
            h,
            v,
            block_rows,
            threads,
        };
        pass.run_eval(&mut self.scratch, &mut self.eval_loss)?;
        Ok(mean_loss(&self.eval_loss, count))
    }

    /// The scores `hs·W + b`, `(T, N, V)`, for sampling or inspection. Does not touch
    /// the state of the last `forward`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] naming `hs` if its last axis is not `H`;
    /// [`Error::SizeOverflow`] if `(T·N, V)` elements do not fit. The head is unchanged.
    pub fn scores(&mut self, hs: ArrayView3<'_, T>) -> Result<ArrayView3<'_, T>> {
        let op = "LmHead::scores";
        let (t_len, n) = self.check_hs(op, &hs)?;
        let (rows, h, v) = (t_len * n, self.input_size(), self.output_size());
        reserve(&mut self.scratch, rows * v, op, "hs", || {
            format!("(T, N, V) = ({t_len}, {n}, {v})")
        })?;
        let mut hs_buf = Vec::new();
        let hs = standard_slice(&hs, &mut hs_buf, op, "hs")?;
        self.repack_if_stale()?;
        self.scratch.resize(rows * v, T::ZERO);
        gemm_packed(
            T::ONE,
            MatRef::from_slice(hs, rows, h)?,
            &self.packed,
            T::ZERO,
            MatMut::from_slice(&mut self.scratch, rows, v)?,
            Epilogue::Bias(self.b.as_slice().expect("contiguous")),
            self.par,
        )?;
        Ok(ArrayView3::from_shape((t_len, n, v), &self.scratch[..]).expect("sized (T, N, V)"))
    }

    /// The gradient of `dout · loss` of the last forward: overwrites `grad_w = dout·HSᵀ·dS`
    /// and `grad_b = dout·Σ_rows dS`, and returns `dHS = dout·dS·Wᵀ`, `(T, N, H)`. May be
    /// called again (the `dS` of the forward is kept).
    ///
    /// # Errors
    /// [`Error::InvalidState`] before any forward.
    pub fn backward(&mut self, dout: T) -> Result<ArrayView3<'_, T>> {
        let (t_len, n) = self.shape.ok_or(Error::InvalidState {
            op: "LmHead::backward",
            reason: "backward called before forward",
        })?;
        let (rows, h, v) = (t_len * n, self.input_size(), self.output_size());
        let ds = MatRef::from_slice(&self.ds, rows, v)?;
        gemm_with(
            dout,
            MatRef::from_slice(&self.hs, rows, h)?.t(),
            ds,
            T::ZERO,
            MatMut::from_slice(self.grad_w.as_slice_mut().expect("row-major"), h, v)?,
            Epilogue::None,
            self.par,
        )?;
        column_sums(
            &self.ds,
            v,
            dout,
            self.grad_b.as_slice_mut().expect("contiguous"),
            threads_for_elems(self.par, rows.saturating_mul(v)),
        );
        self.dhs.resize(rows * h, T::ZERO);
        gemm_with(
            dout,
            ds,
            MatRef::from_slice(self.w.as_slice().expect("row-major"), h, v)?.t(),
            T::ZERO,
            MatMut::from_slice(&mut self.dhs, rows, h)?,
            Epilogue::None,
            self.par,
        )?;
        Ok(ArrayView3::from_shape((t_len, n, h), &self.dhs[..]).expect("sized (T, N, H)"))
    }
}

/// `Σ row_loss / count` in row order (0 when `count == 0`).
fn mean_loss<T: Float>(row_loss: &[f64], count: usize) -> T {
    if count == 0 {
        return T::ZERO;
    }
    let total: f64 = row_loss.iter().sum();
    T::from_f64(total / count as f64)
}

/// `out[j] = dout · Σ_r ds[r, j]`, rows added in order for every column; threads take
/// column ranges, so the bits do not depend on `threads`.
fn column_sums<T: Float>(ds: &[T], v: usize, dout: T, out: &mut [T], threads: usize) {
    out.fill(T::ZERO);
    if v == 0 {
        return;
    }
    let per = v.div_ceil(threads.max(1)).max(1);
    let sum_cols = |j0: usize, cols: &mut [T]| {
        let width = cols.len();
        for row in ds.chunks_exact(v) {
            for (g, &x) in cols.iter_mut().zip(&row[j0..j0 + width]) {
                *g += x;
            }
        }
        for g in cols.iter_mut() {
            *g *= dout;
        }
    };
    if threads <= 1 {
        sum_cols(0, out);
    } else {
        out.par_chunks_mut(per)
            .enumerate()
            .for_each(|(c, cols)| sum_cols(c * per, cols));
    }
}

/// One pass over the row blocks of `S = HS·W + b`.
struct Blocks<'a, T> {
    hs: &'a [T],
    targets: &'a [u32],
    packed: &'a PackedB<T>,
    b: &'a [T],
    ignore: Option<u32>,
    h: usize,
    v: usize,
    block_rows: usize,
    threads: usize,
}

impl<T: Float> Blocks<'_, T> {
    /// Scores of rows `r0 .. r0 + out.len() / V` into `out`, then each row's pass.
    fn block(&self, r0: usize, out: &mut [T], loss: &mut [f64], pass: RowPass<T>) -> Result<()> {
        let (h, v) = (self.h, self.v);
        let m = loss.len();
        gemm_packed(
            T::ONE,
            MatRef::from_slice(&self.hs[r0 * h..(r0 + m) * h], m, h)?,
            self.packed,
            T::ZERO,
            MatMut::from_slice(out, m, v)?,
            Epilogue::Bias(self.b),
            Parallelism::Serial,
        )?;
        let targets = &self.targets[r0..r0 + m];
        for ((row, l), &target) in out.chunks_exact_mut(v).zip(loss.iter_mut()).zip(targets) {
            *l = row_softmax(row, target, self.ignore, pass);
        }
        Ok(())
    }

    /// Training: every block written into its place in `ds: (rows, V)`.
    fn run(&self, ds: &mut [T], loss: &mut [f64], pass: RowPass<T>) -> Result<()> {
        let (v, br) = (self.v, self.block_rows);
        let rows = loss.len();
        if rows == 0 || v == 0 {
            loss.fill(0.0);
            return Ok(());
        }
        let blocks = rows.div_ceil(br);
        let threads = self.threads.min(blocks).max(1);
        // Each thread takes a contiguous run of whole blocks (the same blocks for any
        // thread count).
        let per_thread = blocks.div_ceil(threads) * br;
        let group = |g: usize, ds: &mut [T], loss: &mut [f64]| -> Result<()> {
            for (b, (out, l)) in ds.chunks_mut(br * v).zip(loss.chunks_mut(br)).enumerate() {
                self.block(g * per_thread + b * br, out, l, pass)?;
            }
            Ok(())
        };
        if threads == 1 {
            return group(0, ds, loss);
        }
        ds.par_chunks_mut(per_thread * v)
            .zip(loss.par_chunks_mut(per_thread))
            .enumerate()
            .try_for_each(|(g, (ds, loss))| group(g, ds, loss))
    }

    /// Evaluation: thread `g` reuses its own block of `scratch` for all its blocks.
    fn run_eval(&self, scratch: &mut [T], loss: &mut [f64]) -> Result<()> {
        let (v, br) = (self.v, self.block_rows);
        let rows = loss.len();
        if rows == 0 || v == 0 {
            loss.fill(0.0);
            return Ok(());
        }
        let per_thread = rows.div_ceil(br).div_ceil(self.threads) * br;
        let group = |g: usize, buf: &mut [T], loss: &mut [f64]| -> Result<()> {
            for (b, l) in loss.chunks_mut(br).enumerate() {
                self.block(
                    g * per_thread + b * br,
                    &mut buf[..l.len() * v],
                    l,
                    RowPass::Eval,
                )?;
            }
            Ok(())
        };
        if self.threads == 1 {
            return group(0, scratch, loss);
        }
        scratch
            .par_chunks_mut(br * v)
            .zip(loss.par_chunks_mut(per_thread))
            .enumerate()
            .try_for_each(|(g, (buf, loss))| group(g, buf, loss))
    }
}

/// The softmax of one row of scores: returns its loss term (0 if `target` is ignored) and,
/// in training, replaces the row by `dS = (softmax − onehot(target))·inv_count`.
#[inline]
fn row_softmax<T: Float>(row: &mut [T], target: u32, ignore: Option<u32>, pass: RowPass<T>) -> f64 {
    if Some(target) == ignore {
        if let RowPass::Train { .. } = pass {
            row.fill(T::ZERO);
        }
        return 0.0;
    }
    let t = target as usize;
    // log-sum-exp around the row maximum: no overflow, no underflow to ln 0.
    let max = max_value(row);
    let max = if max.is_finite() { max } else { T::ZERO };
    let shifted_target = row[t] - max;
    let sum = exp_shifted_sum(row, max);
    if let RowPass::Train { inv_count } = pass {
        scale(inv_count / sum, row);
        row[t] -= inv_count;
    }
    sum.to_f64().ln() - shifted_target.to_f64()
}

impl<T: Float> LmHead<T> {
    /// The parameters (`w`, `b`) as [`Parameters::params_mut`] gives them, in an array: no
    /// allocation, for a training step that must not touch the heap. The packed `W` is
    /// rebuilt before the next pass.
    pub fn param_array(&mut self) -> [ParamMut<'_, T>; 2] {
        self.packed_stale = true;
        [
            ParamMut::dense(
                "w",
                self.w.view_mut().into_dyn(),
                self.grad_w.view_mut().into_dyn(),
            ),
            ParamMut::dense(
                "b",
                self.b.view_mut().into_dyn(),
                self.grad_b.view_mut().into_dyn(),
            ),
        ]
    }
}

impl<T: Float> Parameters<T> for LmHead<T> {
    /// `w` then `b`. The packed `W` is rebuilt before the next pass.
    fn params_mut(&mut self) -> Vec<ParamMut<'_, T>> {
        self.param_array().into()
    }
}
