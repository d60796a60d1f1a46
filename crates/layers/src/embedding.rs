//! The embedding layer: a lookup of rows of a `(V, D)` table by token id.

use crate::param::{ParamMut, Parameters};
use crate::util::{buffer_len, shape_err};
use ndarray::{Array2, ArrayView2, ArrayView3, ArrayViewMut2};
use recur_kernels::{Error, Float, Result};

/// Embedding: token ids `(T, N)` → vectors `(T, N, D)`, row `ids[t, n]` of the weight
/// table `w: (V, D)`.
///
/// Forward copies rows; backward scatter-adds `dout` into `grad_w`, so an id that occurs
/// several times accumulates all its gradients (sequentially, in `(t, n)` order: the
/// result does not depend on thread count).
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
        }
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
    /// `backward` (zeros before any).
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
            for (row, &id) in self.out.chunks_exact_mut(d).zip(&self.ids) {
                let id = id as usize;
                row.copy_from_slice(&table[id * d..(id + 1) * d]);
            }
        }
        self.shape = Some((t_len, n_len));
        Ok(ArrayView3::from_shape((t_len, n_len, d), &self.out[..])
            .expect("buffer sized (T, N, D)"))
    }

    /// Backward: `grad_w = 0`, then `grad_w[ids[t, n]] += dout[t, n]` for every `(t, n)`
    /// of the last forward. `dout: (T, N, D)`, any memory order. Overwrites `grad_w`.
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
        self.grad_w.fill(T::ZERO);
        if d == 0 {
            return Ok(());
        }
        let grad = self
            .grad_w
            .as_slice_mut()
            .expect("gradients are stored row-major");
        let dout = dout.as_standard_layout();
        let dout = dout.as_slice().expect("standard layout is contiguous");
        for (row, &id) in dout.chunks_exact(d).zip(&self.ids) {
            let id = id as usize;
            for (g, &x) in grad[id * d..(id + 1) * d].iter_mut().zip(row) {
                *g += x;
            }
        }
        Ok(())
    }
}

impl<T: Float> Parameters<T> for Embedding<T> {
    fn params_mut(&mut self) -> Vec<ParamMut<'_, T>> {
        vec![ParamMut {
            name: "w",
            value: self.w.view_mut().into_dyn(),
            grad: self.grad_w.view_mut().into_dyn(),
        }]
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
