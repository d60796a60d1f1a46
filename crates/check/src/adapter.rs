//! [`ParamsCheck`]: a [`GradCheck`] for anything with recur's [`Parameters`], given a
//! closure that computes the loss (and, when asked, runs the backward pass).

use crate::ndarray::{ArrayD, ArrayViewMutD};
use crate::{GradCheck, Loss};
use recur_layers::{Float, Parameters};
use std::marker::PhantomData;

/// Checks the parameters of `layer` (a recur layer, or your own that implements
/// [`Parameters`], e.g. by chaining those of the recur layers it is built from).
///
/// The closure `f(&mut layer, backward)` runs the forward pass and returns the [`Loss`];
/// with `backward == true` it also runs the backward pass, so that the gradients
/// [`Parameters::params_mut`] then exposes are those of that loss. Parameters named alike
/// (two layers' `"b"`) are told apart by their position: `"b#4"`. See the crate docs for
/// a complete example.
///
/// ```
/// use recur_check::ndarray::{array, Array3};
/// use recur_check::{check_gradients, CheckOptions, Loss, ParamsCheck};
/// use recur_layers::TimeAffine;
/// let xs = Array3::from_shape_fn((2, 3, 2), |(t, n, h)| (t + 2 * n + 3 * h) as f64 / 7.0 - 0.5);
/// let fc = TimeAffine::new(array![[0.5, -1.0], [0.25, 2.0]], array![0.1, -0.2])?;
/// let mut check = ParamsCheck::new(fc, |fc: &mut TimeAffine<f64>, backward: bool| {
///     let ys = fc.forward(xs.view())?.to_owned();
///     if backward {
///         fc.backward(ys.view())?; // loss = ½ Σ y², dL/dy = y
///     }
///     Ok::<_, recur_layers::Error>(Loss::from_terms(ys.iter().map(|y| 0.5 * y * y)))
/// });
/// let report = check_gradients(&mut check, &CheckOptions::default())?;
/// assert!(report.passed(), "{report}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ParamsCheck<L, F, T, E> {
    /// The layer under test.
    pub layer: L,
    f: F,
    names: Vec<String>,
    _types: PhantomData<fn() -> (T, E)>,
}

impl<L, F, T, E> std::fmt::Debug for ParamsCheck<L, F, T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParamsCheck")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

impl<L, F, T, E> ParamsCheck<L, F, T, E>
where
    L: Parameters<T>,
    T: Float,
    F: FnMut(&mut L, bool) -> Result<Loss, E>,
{
    /// The check of `layer`'s parameters under the loss `f` (see the type's docs).
    pub fn new(mut layer: L, f: F) -> Self {
        let raw: Vec<&'static str> = layer.params_mut().iter().map(|p| p.name).collect();
        let names = raw
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                if raw[..i].contains(&n) {
                    format!("{n}#{i}")
                } else {
                    n.to_string()
                }
            })
            .collect();
        ParamsCheck {
            layer,
            f,
            names,
            _types: PhantomData,
        }
    }
}

impl<L, F, T, E> GradCheck for ParamsCheck<L, F, T, E>
where
    L: Parameters<T>,
    T: Float,
    F: FnMut(&mut L, bool) -> Result<Loss, E>,
{
    type Elem = T;
    type Error = E;

    fn tensor_names(&self) -> Vec<String> {
        self.names.clone()
    }

    fn tensor_mut(&mut self, i: usize) -> Option<ArrayViewMutD<'_, T>> {
        self.layer.params_mut().into_iter().nth(i).map(|p| p.value)
    }

    fn loss(&mut self) -> Result<Loss, E> {
        (self.f)(&mut self.layer, false)
    }

    fn gradients(&mut self) -> Result<Vec<ArrayD<T>>, E> {
        (self.f)(&mut self.layer, true)?;
        Ok(self
            .layer
            .params_mut()
            .into_iter()
            .map(|p| p.grad.to_owned())
            .collect())
    }
}
