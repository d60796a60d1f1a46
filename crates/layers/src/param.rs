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
}

/// A layer with trainable parameters.
///
/// Taking the parameters mutably tells the layer its weights may change, so it rebuilds
/// whatever it derived from them (e.g. `TimeRnn`'s packed `Wh`) before the next pass.
pub trait Parameters<T> {
    /// Every parameter with its gradient, in a fixed order.
    fn params_mut(&mut self) -> Vec<ParamMut<'_, T>>;
}
