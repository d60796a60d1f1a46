//! Access to a layer's parameters and their gradients, for optimizers.

use ndarray::ArrayViewMutD;

/// One parameter of a layer: its value (to update in place) and its gradient (from the
/// last `backward`).
#[derive(Debug)]
pub struct ParamMut<'a, T> {
    /// The parameter's name within its layer (`"wx"`, `"wh"`, `"b"`, `"w"`).
    pub name: &'static str,
    /// The parameter, writable.
    pub value: ArrayViewMutD<'a, T>,
    /// The gradient of the loss with respect to the parameter, from the last `backward`
    /// (writable, so that gradient clipping can scale it in place).
    pub grad: ArrayViewMutD<'a, T>,
    /// `None` for a dense gradient. `Some(rows)` for a row-sparse one (the embedding's):
    /// only these rows (indices along the first axis, sorted, without repeats) of `grad`
    /// can be nonzero, every other row is exactly zero, and optimizers and clipping may
    /// visit these rows only. Whoever writes into `grad` keeps the other rows zero.
    pub rows: Option<&'a [u32]>,
}

impl<'a, T> ParamMut<'a, T> {
    /// A parameter with a dense gradient (`rows: None`).
    ///
    /// ```
    /// use recur_layers::{ParamMut, ndarray::array};
    /// let (mut w, mut g) = (array![1.0f32, 2.0], array![0.0f32, 0.0]);
    /// let p = ParamMut::dense("w", w.view_mut().into_dyn(), g.view_mut().into_dyn());
    /// assert!(p.rows.is_none());
    /// ```
    pub fn dense(
        name: &'static str,
        value: ArrayViewMutD<'a, T>,
        grad: ArrayViewMutD<'a, T>,
    ) -> Self {
        ParamMut {
            name,
            value,
            grad,
            rows: None,
        }
    }
}

/// A layer with trainable parameters.
///
/// Taking the parameters mutably tells the layer its weights may change, so it rebuilds
/// whatever it derived from them (e.g. `TimeRnn`'s packed `Wh`) before the next pass.
pub trait Parameters<T> {
    /// Every parameter with its gradient, in a fixed order.
    fn params_mut(&mut self) -> Vec<ParamMut<'_, T>>;
}
