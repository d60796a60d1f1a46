//! Naive `f64` references: the obviously-correct per-step computations the fast layers are
//! tested against.

use crate::ndarray::{Array2, Array3, ArrayView1, ArrayView2, ArrayView3};
use recur_kernels::error::fmt_shape;
use recur_layers::{Error, Result};

/// The TimeRnn forward pass step by step, as the book writes it:
/// `h_t = tanh(x_t·Wx + h_{t−1}·Wh + b)` with `h_{−1} = h0` (zeros if `None`).
///
/// Shapes: `wx: (D, H)`, `wh: (H, H)`, `b: (H)`, `xs: (T, N, D)`, `h0: (N, H)`;
/// returns `hs: (T, N, H)`. Every dot product is a plain loop in `f64`.
///
/// # Errors
/// [`Error::ShapeMismatch`] naming `wh`, `b`, `xs` or `h0` when its shape does not match
/// `wx: (D, H)` (and `xs` for `h0`'s `N`).
///
/// ```
/// use recur_check::reference::time_rnn_forward;
/// use recur_check::ndarray::{array, Array3};
/// let hs = time_rnn_forward(array![[1.0]].view(), array![[0.5]].view(), array![0.0].view(),
///                           Array3::from_elem((2, 1, 1), 1.0).view(), None)?;
/// assert_eq!(hs[[0, 0, 0]], 1f64.tanh());
/// assert_eq!(hs[[1, 0, 0]], (1.0 + 0.5 * 1f64.tanh()).tanh());
/// assert!(time_rnn_forward(array![[1.0]].view(), array![[0.5]].view(), array![0.0, 1.0].view(),
///                          Array3::from_elem((2, 1, 1), 1.0).view(), None).is_err());
/// # Ok::<(), recur_check::Error>(())
/// ```
pub fn time_rnn_forward(
    wx: ArrayView2<'_, f64>,
    wh: ArrayView2<'_, f64>,
    b: ArrayView1<'_, f64>,
    xs: ArrayView3<'_, f64>,
    h0: Option<ArrayView2<'_, f64>>,
) -> Result<Array3<f64>> {
    let op = "reference::time_rnn_forward";
    let (t_len, n, d) = xs.dim();
    let (dw, h) = wx.dim();
    let bad = |arg: &'static str, expected: String, got: &[usize]| Error::ShapeMismatch {
        op,
        arg,
        expected,
        got: fmt_shape(got),
    };
    if wh.dim() != (h, h) {
        return Err(bad("wh", format!("(H, H) = ({h}, {h})"), wh.shape()));
    }
    if b.len() != h {
        return Err(bad("b", format!("(H) = ({h})"), b.shape()));
    }
    if d != dw {
        return Err(bad("xs", format!("(T, N, D) = (_, _, {dw})"), xs.shape()));
    }
    if let Some(h0) = h0 {
        if h0.dim() != (n, h) {
            return Err(bad("h0", format!("(N, H) = ({n}, {h})"), h0.shape()));
        }
    }
    let mut prev = match h0 {
        Some(h0) => h0.to_owned(),
        None => Array2::zeros((n, h)),
    };
    let mut hs = Array3::zeros((t_len, n, h));
    for t in 0..t_len {
        let mut next = Array2::zeros((n, h));
        for i in 0..n {
            for j in 0..h {
                let mut z = b[j];
                for k in 0..d {
                    z += xs[[t, i, k]] * wx[[k, j]];
                }
                for k in 0..h {
                    z += prev[[i, k]] * wh[[k, j]];
                }
                next[[i, j]] = z.tanh();
                hs[[t, i, j]] = next[[i, j]];
            }
        }
        prev = next;
    }
    Ok(hs)
}
