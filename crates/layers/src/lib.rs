//! # recur-layers
//!
//! The layers of a recurrent language model, forward and backward, on top of the SIMD
//! kernels of `recur-kernels`: [`Embedding`] and [`TimeRnn`] (the vanilla tanh RNN of the
//! book "Deep Learning from Scratch 2", chapter 5, unrolled over `T` steps), plus what
//! training one needs: [`TimeAffine`], [`SoftmaxCrossEntropy`], their fusion [`LmHead`]
//! (one `(T·N, V)` buffer instead of three), [`Sgd`], [`Adam`] and [`clip_grads`].
//!
//! ## Notation
//! | letter | meaning |
//! |---|---|
//! | `T` | time steps in one sequence block |
//! | `N` | batch size (sequences in parallel) |
//! | `V` | vocabulary size (rows of the embedding table) |
//! | `D` | input / embedding width |
//! | `H` | hidden width |
//!
//! ## Layout: time-major `(T, N, ·)`
//! Sequences are stored time-major and row-major: token ids are `(T, N)`, inputs `xs` are
//! `(T, N, D)` and hidden states `hs` are `(T, N, H)`, element `(t, n, h)` at flat offset
//! `(t·N + n)·H + h`. Step `t` is then the contiguous `(N, H)` block at `t·N·H`, and the
//! whole sequence is one contiguous `(T·N, H)` matrix, so the non-recurrent work of all
//! steps (`XS·Wx + b` forward; `dWx`, `dWh`, `dXS` backward) is one large GEMM each, and
//! only the recurrence `h_{t−1}·Wh` runs step by step. The book's batch-major `(N, T)`
//! ids and `(N, T, ·)` tensors convert with the functions of [`layout`].
//!
//! ## Errors
//! Bad input (a wrong shape, an id `>= V`, `backward` before `forward`, a state of the
//! wrong shape) returns an [`Error`] naming the argument and the expected and actual
//! shapes; the layer is unchanged by the failed call and stays usable. Empty dimensions
//! (`T = 0`, `N = 0`) are valid and give empty results.

#![forbid(unsafe_code)]

pub mod affine;
pub mod embedding;
pub mod head;
pub mod layout;
pub mod optim;
pub mod param;
pub mod softmax;
pub mod time_rnn;

pub use affine::TimeAffine;
pub use embedding::Embedding;
pub use head::LmHead;
pub use layout::{ids_to_batch_major, ids_to_time_major, to_batch_major, to_time_major};
pub use ndarray;
pub use optim::{clip_grads, clip_grads_with, Adam, Optimizer, Sgd};
pub use param::{ParamMut, Parameters};
pub use recur_kernels::{Error, Float, Parallelism, Result};
pub use softmax::SoftmaxCrossEntropy;
pub use time_rnn::TimeRnn;

pub(crate) mod util {
    use ndarray::{Array, ArrayView, Dimension};
    use recur_kernels::error::fmt_shape;
    use recur_kernels::Error;

    /// Replaces `buf` with the elements of `src` in logical (row-major) order: a plain
    /// copy when `src` is contiguous, an element walk otherwise. Reuses `buf`'s capacity.
    pub(crate) fn copy_into<T: Copy, D: Dimension>(buf: &mut Vec<T>, src: ArrayView<'_, T, D>) {
        buf.clear();
        match src.as_slice() {
            Some(s) => buf.extend_from_slice(s),
            None => buf.extend(src.iter().copied()),
        }
    }

    /// `a` in standard (row-major, contiguous) layout: itself if it already is, a copy
    /// otherwise (strided, reversed or otherwise permuted arrays).
    pub(crate) fn standard<T: Clone, D: Dimension>(a: Array<T, D>) -> Array<T, D> {
        if a.is_standard_layout() {
            a
        } else {
            a.as_standard_layout().into_owned()
        }
    }

    /// `Some(len)` if a buffer of `len` elements of `T` can exist: its size in bytes fits
    /// in `isize` (the allocator's limit; beyond it `Vec` panics). `None` for `None`.
    pub(crate) fn buffer_len<T>(len: Option<usize>) -> Option<usize> {
        len.filter(|&len| {
            len.checked_mul(std::mem::size_of::<T>())
                .is_some_and(|bytes| bytes <= isize::MAX as usize)
        })
    }

    /// Makes room for `len` elements in `buf` (capacity only: its contents and length
    /// are unchanged), or `Err(AllocationFailed)` naming `arg` if the memory cannot be
    /// had. Called after the size checks and before any scan of the input, so that a huge
    /// view (e.g. a broadcast one) is refused at once instead of being scanned and then
    /// aborting the process in the allocator.
    pub(crate) fn reserve<T>(
        buf: &mut Vec<T>,
        len: usize,
        op: &'static str,
        arg: &'static str,
        shape: impl FnOnce() -> String,
    ) -> recur_kernels::Result<()> {
        buf.try_reserve_exact(len.saturating_sub(buf.len()))
            .map_err(|_| Error::AllocationFailed {
                op,
                arg,
                shape: shape(),
                bytes: len.saturating_mul(std::mem::size_of::<T>()),
            })
    }

    /// The elements of `a` in logical (row-major) order: `a`'s own memory when it is in
    /// standard layout, otherwise a copy in `buf`, allocated fallibly as by [`reserve`].
    pub(crate) fn standard_slice<'a, T: Copy, D: Dimension>(
        a: &'a ArrayView<'_, T, D>,
        buf: &'a mut Vec<T>,
        op: &'static str,
        arg: &'static str,
    ) -> recur_kernels::Result<&'a [T]> {
        if let Some(s) = a.as_slice() {
            return Ok(s);
        }
        reserve(buf, a.len(), op, arg, || fmt_shape(a.shape()))?;
        buf.clear();
        buf.extend(a.iter().copied());
        Ok(buf)
    }

    /// How many threads a pass over `work` units (flops or elements) may use: 1 below
    /// [`PAR_MIN_FLOPS`](recur_kernels::PAR_MIN_FLOPS), otherwise what `par` allows.
    pub(crate) fn threads_for(par: recur_kernels::Parallelism, work: usize) -> usize {
        use recur_kernels::Parallelism;
        if work < recur_kernels::PAR_MIN_FLOPS {
            return 1;
        }
        match par {
            Parallelism::Serial => 1,
            Parallelism::Rayon(0) | Parallelism::Auto => rayon::current_num_threads().max(1),
            Parallelism::Rayon(n) => n,
        }
    }

    /// Memory-bound passes over fewer elements than this run on one thread.
    pub(crate) const PAR_MIN_ELEMS: usize = 1 << 17;

    /// How many threads a memory-bound pass over `elems` elements may use.
    pub(crate) fn threads_for_elems(par: recur_kernels::Parallelism, elems: usize) -> usize {
        threads_for(
            par,
            elems.saturating_mul(recur_kernels::PAR_MIN_FLOPS / PAR_MIN_ELEMS),
        )
    }

    /// `ShapeMismatch` with `expected` written as `(T, N, D) = (_, _, 3)` style text.
    pub(crate) fn shape_err(
        op: &'static str,
        arg: &'static str,
        expected: String,
        got: &[usize],
    ) -> Error {
        Error::ShapeMismatch {
            op,
            arg,
            expected,
            got: fmt_shape(got),
        }
    }
}
