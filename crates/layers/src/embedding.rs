//! The embedding layer: a lookup of rows of a `(V, D)` table by token id.

use crate::param::{ParamMut, Parameters};
use crate::util::{buffer_len, reserve, shape_err, threads_for_elems};
use ndarray::{Array2, ArrayView2, ArrayView3, ArrayViewMut2};
use rayon::prelude::*;
use recur_kernels::{Error, Float, Parallelism, Result};

/// Embedding: token ids `(T, N)` → vectors `(T, N, D)`, row `ids[t, n]` of the weight
/// table `w: (V, D)`.
///
/// Forward copies rows; backward sums `dout` into the rows of `grad_w` of the ids seen, so
/// an id that occurs several times accumulates all its gradients (in `(t, n)` order: the
/// result does not depend on thread count).
///
/// The gradient is **row-sparse**: [`Embedding::grad_rows`] lists the touched rows (sorted,
/// without repeats), and every other row of [`Embedding::grad_w`] is exactly zero. A
/// backward costs `O(T·N·D)`, not `O(V·D)` (it zeroes only the rows the previous backward
/// touched), and the optimizers and [`crate::clip_grads`] visit the touched rows only
/// (see [`ParamMut::rows`]). At `V = 10,000` and `T·N = 700` that is at most 7% of the
/// table per step.
///
/// ```
/// use recur_layers::{Embedding, ndarray::{array, Array2}};
/// let w = Array2::from_shape_fn((10, 3), |(v, d)| (v * 10 + d) as f32); // V = 10, D = 3
/// let mut emb = Embedding::new(w);
/// let ids = array![[0u32, 9], [4, 4]];         // (T, N) = (2, 2)
/// let xs = emb.forward(ids.view())?;           // (T, N, D) = (2, 2, 3)
/// assert_eq!(xs.dim(), (2, 2, 3));
/// assert_eq!(xs[[0, 1, 2]], 92.0);
/// assert!(emb.forward(array![[10u32]].view()).is_err()); // id >= V
/// # Ok::<(), recur_layers::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Embedding<T> {
    w: Array2<T>,
    grad_w: Array2<T>,
    /// Ids of the last forward, `(T, N)` row-major.
    ids: Vec<u32>,
    /// `(T, N)` of the last forward, if any.
    shape: Option<(usize, usize)>,
    /// Output buffer `(T, N, D)`.
    out: Vec<T>,
    /// Rows of `grad_w` the last backward touched, sorted, without repeats.
    rows: Vec<u32>,
    /// `(id, position)` of every position of the last forward, sorted (scratch).
    order: Vec<(u32, usize)>,
    par: Parallelism,
}

impl<T: Float> Embedding<T> {
    /// A layer with weight table `w: (V, D)` (any memory order; stored row-major).
    pub fn new(w: Array2<T>) -> Self {
        let w = w.as_standard_layout().into_owned();
        let grad_w = Array2::from_elem(w.dim(), T::ZERO);
        Embedding {
            w,
            grad_w,
            ids: Vec::new(),
            shape: None,
            out: Vec::new(),
            rows: Vec::new(),
            order: Vec::new(),
            par: Parallelism::Auto,
        }
    }

    /// How many threads forward (the row copies) and backward (the row sums) may use.
    /// The results do not depend on it.
    pub fn set_parallelism(&mut self, par: Parallelism) {
        self.par = par;
    }

    /// The rows of [`Embedding::grad_w`] the last backward touched: the distinct ids of
    /// the last forward, sorted (empty before any backward). All other rows are zero.
    pub fn grad_rows(&self) -> &[u32] {
        &self.rows
    }

    /// `V`, the vocabulary size.
    pub fn vocab_size(&self) -> usize {
        self.w.nrows()
    }

    /// `D`, the embedding width.
    pub fn dim(&self) -> usize {
        self.w.ncols()
    }

    /// The weight table `(V, D)`.
    pub fn weight(&self) -> ArrayView2<'_, T> {
        self.w.view()
    }

    /// The weight table `(V, D)`, writable.
    pub fn weight_mut(&mut self) -> ArrayViewMut2<'_, T> {
        self.w.view_mut()
    }

    /// The gradient of the loss with respect to the table, `(V, D)`, from the last
    /// `backward` (zeros before any): nonzero only in the rows of
    /// [`Embedding::grad_rows`].
    pub fn grad_w(&self) -> ArrayView2<'_, T> {
        self.grad_w.view()
    }

    /// Looks up `ids: (T, N)` and returns `xs: (T, N, D)`, row-major contiguous, element
    /// `(t, n, d) = w[ids[t, n], d]` at flat offset `(t·N + n)·D + d`.
    ///
    /// # Errors
    /// [`Error::IndexOutOfRange`] naming `ids` and the position `[t, n]` of the first id
    /// `>= V`; [`Error::SizeOverflow`] naming `ids` if `(T, N, D)` elements do not fit in
    /// one allocation. The layer is unchanged.
    pub fn forward(&mut self, ids: ArrayView2<'_, u32>) -> Result<ArrayView3<'_, T>> {
        let (t_len, n_len) = ids.dim();
        let v_len = self.vocab_size();
        let d = self.dim();
        // Sizes first: a broadcast `ids` can have more elements than a scan could finish.
        let ids_len = buffer_len::<u32>(t_len.checked_mul(n_len));
        let total = buffer_len::<T>(t_len.checked_mul(n_len).and_then(|x| x.checked_mul(d)))
            .filter(|_| ids_len.is_some())
            .ok_or_else(|| Error::SizeOverflow {
                op: "Embedding::forward",
                arg: "ids",
                shape: format!("(T, N, D) = ({t_len}, {n_len}, {d})"),
            })?;
        let shape = || format!("(T, N, D) = ({t_len}, {n_len}, {d})");
        reserve(&mut self.out, total, "Embedding::forward", "ids", shape)?;
        reserve(
            &mut self.ids,
            t_len * n_len,
            "Embedding::forward",
            "ids",
            shape,
        )?;
        if let Some(((t, n), &id)) = ids.indexed_iter().find(|&(_, &id)| id as usize >= v_len) {
            return Err(Error::IndexOutOfRange {
                op: "Embedding::forward",
                arg: "ids",
                position: format!("[t={t}, n={n}]"),
                index: id as usize,
                bound: v_len,
            });
        }
        self.ids.clear();
        self.ids.extend(ids.iter().copied());
        self.out.resize(total, T::ZERO);
        if d > 0 {
            let table = self.w.as_slice().expect("weights are stored row-major");
            let copy = |out: &mut [T], ids: &[u32]| {
                for (row, &id) in out.chunks_exact_mut(d).zip(ids) {
                    let id = id as usize;
                    row.copy_from_slice(&table[id * d..(id + 1) * d]);
                }
            };
            let threads = threads_for_elems(self.par, total);
            if threads <= 1 {
                copy(&mut self.out, &self.ids);
            } else {
                let per = self.ids.len().div_ceil(threads).max(1);
                self.out
                    .par_chunks_mut(per * d)
                    .zip(self.ids.par_chunks(per))
                    .for_each(|(out, ids)| copy(out, ids));
            }
        }
        self.shape = Some((t_len, n_len));
        Ok(ArrayView3::from_shape((t_len, n_len, d), &self.out[..])
            .expect("buffer sized (T, N, D)"))
    }

    /// Backward: `grad_w = 0`, then `grad_w[ids[t, n]] += dout[t, n]` for every `(t, n)`
    /// of the last forward, the positions of one id added in `(t, n)` order.
    /// `dout: (T, N, D)`, any memory order. Overwrites `grad_w` and [`Embedding::grad_rows`].
    ///
    /// # Errors
    /// [`Error::InvalidState`] before any `forward`; [`Error::ShapeMismatch`] naming `dout`
    /// if it is not `(T, N, D)` of the last forward. The layer is unchanged.
    pub fn backward(&mut self, dout: ArrayView3<'_, T>) -> Result<()> {
        let op = "Embedding::backward";
        let (t_len, n_len) = self.shape.ok_or(Error::InvalidState {
            op,
            reason: "backward called before forward",
        })?;
        let d = self.dim();
        if dout.dim() != (t_len, n_len, d) {
            let (a, b, c) = dout.dim();
            return Err(shape_err(
                op,
                "dout",
                format!("(T, N, D) = ({t_len}, {n_len}, {d}) of the last forward"),
                &[a, b, c],
            ));
        }
        let grad = self
            .grad_w
            .as_slice_mut()
            .expect("gradients are stored row-major");
        // Only the rows of the previous backward can be nonzero.
        if d > 0 {
            for &id in &self.rows {
                let id = id as usize;
                grad[id * d..(id + 1) * d].fill(T::ZERO);
            }
        }
        // Positions sorted by (id, position): the keys are distinct, so the unstable
        // (allocation-free) sort has one result.
        self.order.clear();
        self.order
            .extend(self.ids.iter().enumerate().map(|(pos, &id)| (id, pos)));
        self.order.sort_unstable();
        self.rows.clear();
        self.rows.extend(self.order.iter().map(|&(id, _)| id));
        self.rows.dedup();
        if d == 0 {
            return Ok(());
        }
        let dout = dout.as_standard_layout();
        let dout = dout.as_slice().expect("standard layout is contiguous");
        let threads = threads_for_elems(self.par, self.order.len().saturating_mul(d));
        accumulate_rows(&self.order, grad, 0, dout, d, threads);
        Ok(())
    }
}

/// `table[id] += dout[pos]` for the `(id, pos)` of `order` (sorted), where `table` holds
/// the rows from `first_row` on. Splits `order` at an id boundary near its middle and the
/// table at that id, so each row is summed by one thread, in position order.
fn accumulate_rows<T: Float>(
    order: &[(u32, usize)],
    table: &mut [T],
    first_row: usize,
    dout: &[T],
    d: usize,
    threads: usize,
) {
    if threads > 1 && order.len() >= 2 {
        let mid_id = order[order.len() / 2].0;
        let mid = order.partition_point(|&(id, _)| id < mid_id);
        if mid > 0 {
            let (lo, hi) = order.split_at(mid);
            let (tlo, thi) = table.split_at_mut((mid_id as usize - first_row) * d);
            rayon::join(
                || accumulate_rows(lo, tlo, first_row, dout, d, threads / 2),
                || accumulate_rows(hi, thi, mid_id as usize, dout, d, threads - threads / 2),
            );
            return;
        }
    }
    for &(id, pos) in order {
        let r = (id as usize - first_row) * d;
        for (g, &x) in table[r..r + d]
            .iter_mut()
            .zip(&dout[pos * d..(pos + 1) * d])
        {
            *g += x;
        }
    }
}

impl<T: Float> Embedding<T> {
    /// The parameters (`w`, row-sparse) as [`Parameters::params_mut`] gives them, in an array:
    /// no allocation, for a training step that must not touch the heap.
    pub fn param_array(&mut self) -> [ParamMut<'_, T>; 1] {
        [ParamMut {
            name: "w",
            value: self.w.view_mut().into_dyn(),
            grad: self.grad_w.view_mut().into_dyn(),
            rows: Some(&self.rows),
        }]
    }
}

impl<T: Float> Parameters<T> for Embedding<T> {
    fn params_mut(&mut self) -> Vec<ParamMut<'_, T>> {
        self.param_array().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array3};

    #[test]
    fn repeated_ids_accumulate() {
        let w = Array2::<f64>::zeros((4, 2));
        let mut emb = Embedding::new(w);
        emb.forward(array![[1u32, 1], [3, 1]].view()).unwrap();
        let dout = Array3::from_shape_fn((2, 2, 2), |(t, n, d)| (t * 4 + n * 2 + d) as f64 + 1.0);
        emb.backward(dout.view()).unwrap();
        // id 1 at (0,0), (0,1), (1,1): rows [1,2] + [3,4] + [7,8]
        assert_eq!(emb.grad_w().row(1), array![11.0, 14.0]);
        assert_eq!(emb.grad_w().row(3), array![5.0, 6.0]);
        assert_eq!(emb.grad_w().row(0), array![0.0, 0.0]);
        // Backward overwrites, it does not accumulate across calls.
        emb.backward(dout.view()).unwrap();
        assert_eq!(emb.grad_w().row(1), array![11.0, 14.0]);
    }

    #[test]
    fn errors_leave_layer_usable() {
        let w = Array2::from_shape_fn((3, 2), |(v, d)| (v * 2 + d) as f32);
        let mut emb = Embedding::new(w);
        assert!(matches!(
            emb.backward(Array3::zeros((1, 1, 2)).view()),
            Err(Error::InvalidState { .. })
        ));
        let err = emb.forward(array![[0u32, 3]].view()).unwrap_err();
        assert!(err.to_string().contains("[t=0, n=1]"), "{err}");
        let xs = emb.forward(array![[2u32]].view()).unwrap().to_owned();
        assert_eq!(xs, array![[[4.0f32, 5.0]]]);
        let err = emb.backward(Array3::zeros((1, 2, 2)).view()).unwrap_err();
        assert!(err.to_string().contains("`dout`"), "{err}");
        emb.backward(Array3::ones((1, 1, 2)).view()).unwrap();
        assert_eq!(emb.grad_w().row(2), array![1.0f32, 1.0]);
    }

    #[test]
    fn empty_shapes() {
        let mut emb = Embedding::new(Array2::<f32>::zeros((0, 3)));
        assert_eq!(
            emb.forward(Array2::zeros((0, 5)).view()).unwrap().dim(),
            (0, 5, 3)
        );
        emb.backward(Array3::zeros((0, 5, 3)).view()).unwrap();
        assert!(emb.forward(array![[0u32]].view()).is_err());
    }
}
