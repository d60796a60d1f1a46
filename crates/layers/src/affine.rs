//! TimeAffine: the same affine map applied at every time step, `(T, N, H)` → `(T, N, V)`,
//! as one GEMM over all steps.

use crate::param::{ParamMut, Parameters};
use crate::util::{buffer_len, reserve, shape_err, standard};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayView3};
use recur_kernels::{gemm_with, Epilogue, Error, Float, MatMut, MatRef, Parallelism, Result};

/// `ys[t, n] = xs[t, n]·W + b` with `W: (H, V)`, `b: (V)`; `xs: (T, N, H)`,
/// `ys: (T, N, V)`, both row-major, time-major. Forward is one `(T·N, H) x (H, V)` GEMM with
/// a bias epilogue; backward is `dW = XSᵀ·dYS`, `db` = column sums of `dYS`,
/// `dXS = dYS·Wᵀ`.
///
/// ```
/// use recur_layers::{TimeAffine, ndarray::{array, Array3}};
/// let mut fc = TimeAffine::new(array![[1.0f32, 0.0, 2.0]], array![0.5, 0.0, 0.0])?; // H = 1, V = 3
/// let ys = fc.forward(Array3::from_elem((2, 1, 1), 3.0).view())?;
/// assert_eq!(ys.to_owned(), array![[[3.5, 0.0, 6.0]], [[3.5, 0.0, 6.0]]]);
/// # Ok::<(), recur_layers::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct TimeAffine<T> {
    w: Array2<T>,
    b: Array1<T>,
    grad_w: Array2<T>,
    grad_b: Array1<T>,
    /// Input of the last forward `(T·N, H)` and its `(T, N)`.
    xs: Vec<T>,
    shape: Option<(usize, usize)>,
    ys: Vec<T>,
    dxs: Vec<T>,
    par: Parallelism,
}

impl<T: Float> TimeAffine<T> {
    /// A layer with `w: (H, V)` and `b: (V)`, both in any memory order (strided or
    /// reversed arrays are copied to row-major).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] naming `b` if its length is not `V`.
    pub fn new(w: Array2<T>, b: Array1<T>) -> Result<Self> {
        let (h, v) = w.dim();
        if b.len() != v {
            return Err(shape_err(
                "TimeAffine::new",
                "b",
                format!("(V) = ({v}) to match w: (H, V)"),
                &[b.len()],
            ));
        }
        Ok(TimeAffine {
            w: standard(w),
            b: standard(b),
            grad_w: Array2::from_elem((h, v), T::ZERO),
            grad_b: Array1::from_elem(v, T::ZERO),
            xs: Vec::new(),
            shape: None,
            ys: Vec::new(),
            dxs: Vec::new(),
            par: Parallelism::Auto,
        })
    }

    /// `H`, the input width.
    pub fn input_size(&self) -> usize {
        self.w.nrows()
    }
    /// `V`, the output width.
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
    /// `dL/dW: (H, V)` from the last backward.
    pub fn grad_w(&self) -> ArrayView2<'_, T> {
        self.grad_w.view()
    }
    /// `dL/db: (V)` from the last backward.
    pub fn grad_b(&self) -> ArrayView1<'_, T> {
        self.grad_b.view()
    }
    /// How many threads the GEMMs may use.
    pub fn set_parallelism(&mut self, par: Parallelism) {
        self.par = par;
    }

    /// `xs: (T, N, H)` → `ys: (T, N, V)`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] naming `xs` if its last axis is not `H`;
    /// [`Error::SizeOverflow`] naming `xs` if `(T, N, V)` or `(T, N, H)` elements do not fit
    /// in one allocation.
    pub fn forward(&mut self, xs: ArrayView3<'_, T>) -> Result<ArrayView3<'_, T>> {
        let (t, n, h) = xs.dim();
        let v = self.output_size();
        if h != self.input_size() {
            return Err(shape_err(
                "TimeAffine::forward",
                "xs",
                format!("(T, N, H) = (_, _, {})", self.input_size()),
                &[t, n, h],
            ));
        }
        let rows = t * n;
        // The output, and the copy of xs kept for backward (xs may be a broadcast view).
        let out_len = buffer_len::<T>(rows.checked_mul(v));
        let in_len = buffer_len::<T>(rows.checked_mul(h));
        let (Some(out_len), Some(in_len)) = (out_len, in_len) else {
            return Err(Error::SizeOverflow {
                op: "TimeAffine::forward",
                arg: "xs",
                shape: format!("(T, N, V) = ({t}, {n}, {v}) from (T, N, H) = ({t}, {n}, {h})"),
            });
        };
        let op = "TimeAffine::forward";
        reserve(&mut self.ys, out_len, op, "xs", || {
            format!("(T, N, V) = ({t}, {n}, {v})")
        })?;
        reserve(&mut self.xs, in_len, op, "xs", || {
            format!("(T, N, H) = ({t}, {n}, {h})")
        })?;
        crate::util::copy_into(&mut self.xs, xs.view());
        self.ys.resize(out_len, T::ZERO);
        gemm_with(
            T::ONE,
            MatRef::from_slice(&self.xs, rows, h)?,
            MatRef::from_slice(self.w.as_slice().expect("row-major"), h, v)?,
            T::ZERO,
            MatMut::from_slice(&mut self.ys, rows, v)?,
            Epilogue::Bias(self.b.as_slice().expect("contiguous")),
            self.par,
        )?;
        self.shape = Some((t, n));
        Ok(ArrayView3::from_shape((t, n, v), &self.ys[..]).expect("buffer sized (T, N, V)"))
    }

    /// `dys: (T, N, V)` → `dxs: (T, N, H)`; overwrites `grad_w` and `grad_b`.
    ///
    /// # Errors
    /// [`Error::InvalidState`] before any forward; [`Error::ShapeMismatch`] naming `dys`
    /// if it is not `(T, N, V)` of the last forward.
    pub fn backward(&mut self, dys: ArrayView3<'_, T>) -> Result<ArrayView3<'_, T>> {
        let op = "TimeAffine::backward";
        let (t, n) = self.shape.ok_or(Error::InvalidState {
            op,
            reason: "backward called before forward",
        })?;
        let (h, v) = (self.input_size(), self.output_size());
        if dys.dim() != (t, n, v) {
            let (a, b, c) = dys.dim();
            return Err(shape_err(
                op,
                "dys",
                format!("(T, N, V) = ({t}, {n}, {v}) of the last forward"),
                &[a, b, c],
            ));
        }
        let rows = t * n;
        let dys = dys.as_standard_layout();
        let dys = dys.as_slice().expect("standard layout");
        let dy = MatRef::from_slice(dys, rows, v)?;
        let xs = MatRef::from_slice(&self.xs, rows, h)?;
        gemm_with(
            T::ONE,
            xs.t(),
            dy,
            T::ZERO,
            MatMut::from_slice(self.grad_w.as_slice_mut().expect("row-major"), h, v)?,
            Epilogue::None,
            self.par,
        )?;
        let gb = self.grad_b.as_slice_mut().expect("contiguous");
        gb.fill(T::ZERO);
        for row in dys.chunks_exact(v.max(1)) {
            for (g, &x) in gb.iter_mut().zip(row) {
                *g += x;
            }
        }
        self.dxs.resize(rows * h, T::ZERO);
        gemm_with(
            T::ONE,
            dy,
            MatRef::from_slice(self.w.as_slice().expect("row-major"), h, v)?.t(),
            T::ZERO,
            MatMut::from_slice(&mut self.dxs, rows, h)?,
            Epilogue::None,
            self.par,
        )?;
        Ok(ArrayView3::from_shape((t, n, h), &self.dxs[..]).expect("buffer sized (T, N, H)"))
    }
}

impl<T: Float> Parameters<T> for TimeAffine<T> {
    fn params_mut(&mut self) -> Vec<ParamMut<'_, T>> {
        vec![
            ParamMut {
                name: "w",
                value: self.w.view_mut().into_dyn(),
                grad: self.grad_w.view_mut().into_dyn(),
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
