//! # recur-check
//!
//! Gradient verification for recur's layers and for layers you write yourself, in `f32`
//! or `f64`, with your layer's own error type.
//!
//! - [`GradCheck`]: the trait a checked computation implements (tensors, a scalar
//!   [`Loss`], analytic gradients); [`ParamsCheck`] implements it for anything with
//!   recur's [`Parameters`](recur_layers::Parameters) plus a loss closure;
//! - [`check_gradients`]: every (or a [`Sampling`] of every) element perturbed on its own;
//!   [`check_with_twin`]: the analytic gradients of an `f32` model against finite
//!   differences of its `f64` twin;
//! - [`check_directions`] / [`check_directions_with_twin`]: the fast mode, `⟨∇L, u⟩`
//!   against the directional finite difference along random directions `u` over all
//!   tensors at once, and on a failure a bisection down to the tensor and the slice;
//! - [`report`]: the self-calibrating verdict (Pass / Fail / Inconclusive per element,
//!   from the tableau's error estimate, the realized steps and the loss's magnitude), the
//!   counts, the deciding ratio and the headroom;
//! - [`diagnose`]: the error pattern named (a constant ratio, a sign flip, a transposed
//!   gradient, a zero gradient, an error confined to one time step or batch row) and
//!   [`probes`]: determinism, accumulate-versus-overwrite, tensors left unchanged, SIMD
//!   tiers and thread counts, stateful windows;
//! - [`mutants`]: negative controls that wrap any [`GradCheck`] and must be detected;
//! - [`harness`]: ready-made checks of recur's layers (`f32` and `f64`), [`strategies`]
//!   for proptest, [`reference`] implementations.
//!
//! ## Checking your own layer
//! A layer of your own, built from recur layers, with its own error type: the
//! [`Parameters`](recur_layers::Parameters) it exposes and a closure that runs the loss
//! (and, when asked, the backward pass) are all the checker needs.
//! ```
//! use recur_check::ndarray::{Array1, Array2, Array3, ArrayViewMutD};
//! use recur_check::{check_gradients, CheckOptions, Loss, ParamsCheck};
//! use recur_layers::{ParamMut, Parameters, TimeAffine, TimeRnn};
//!
//! #[derive(Debug)]
//! struct MyError(String);
//! impl From<recur_layers::Error> for MyError {
//!     fn from(e: recur_layers::Error) -> Self { MyError(e.to_string()) }
//! }
//! impl std::fmt::Display for MyError {
//!     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(&self.0) }
//! }
//!
//! /// An RNN followed by a linear read-out.
//! struct Tagger { rnn: TimeRnn<f64>, out: TimeAffine<f64> }
//! impl Parameters<f64> for Tagger {
//!     fn params_mut(&mut self) -> Vec<ParamMut<'_, f64>> {
//!         let mut p = self.rnn.params_mut();
//!         p.extend(self.out.params_mut());
//!         p
//!     }
//! }
//!
//! let (t, n, d, h, v) = (3, 2, 4, 5, 3);
//! let f = |i: usize| ((i * 7919 % 211) as f64 / 105.0 - 1.0) * 0.7;
//! let tagger = Tagger {
//!     rnn: TimeRnn::new(Array2::from_shape_fn((d, h), |(a, b)| f(a * h + b)),
//!                       Array2::from_shape_fn((h, h), |(a, b)| f(99 + a * h + b)),
//!                       Array1::from_shape_fn(h, |a| f(7 + a)))?,
//!     out: TimeAffine::new(Array2::from_shape_fn((h, v), |(a, b)| f(50 + a * v + b)),
//!                          Array1::zeros(v))?,
//! };
//! let xs = Array3::from_shape_fn((t, n, d), |(a, b, c)| f(300 + a * 31 + b * 7 + c));
//! let r = Array3::from_shape_fn((t, n, v), |(a, b, c)| f(600 + a * 13 + b * 5 + c));
//!
//! // The ten lines: loss ⟨r, out(rnn(xs))⟩, and the backward pass when asked.
//! let mut check = ParamsCheck::new(tagger, |m: &mut Tagger, backward: bool| {
//!     let hs = m.rnn.forward(xs.view())?.to_owned();
//!     let ys = m.out.forward(hs.view())?;
//!     let loss = Loss::from_terms(ys.iter().zip(&r).map(|(y, r)| y * r));
//!     if backward {
//!         let dhs = m.out.backward(r.view())?.to_owned();
//!         m.rnn.backward(dhs.view())?;
//!     }
//!     Ok::<_, MyError>(loss)
//! });
//! let report = check_gradients(&mut check, &CheckOptions::default())?;
//! assert!(report.passed(), "{report}");
//! assert_eq!(report.entries.len(), 5); // wx, wh, b, w, b#4
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## The verdict
//! An element passes on relative error (`|a − n| <= rtol·max(|a|, |n|)`), or is excused by
//! a floor that the check measures instead of assuming: the tableau's truncation estimate,
//! the rounding noise of the loss (its [`Loss::scale`] times the loss type's epsilon over
//! the step actually taken), and the rounding of an analytic gradient in its own type.
//! A loss summed over 10⁴ outputs therefore does not fail on noise, and an analytic
//! `2e-9` against a numeric `1e-9` fails, however small both are. When the floor is too
//! large to tell a right gradient from a wrong one, the element is
//! [`Inconclusive`](report::Outcome::Inconclusive), never a silent pass. See [`report`].
//!
//! ## Compared with other checkers
//! | | `torch.autograd.gradcheck` | JAX `check_grads` | `gradcheck` crate | recur-check |
//! |---|---|---|---|---|
//! | precision | f64 expected (warns on f32) | any, tolerances per dtype | f64 | `f32` and `f64`: f32 models against an f64 twin, or f32 FD with derived tolerances |
//! | difference | central, `eps = 1e-6` | central, `eps` per dtype | central | Richardson tableau on the realized steps |
//! | criterion | `|a − n| <= atol + rtol·|n|`, fixed | same, fixed per dtype | fixed | rtol plus a measured floor: FD error estimate, loss magnitude, analytic rounding |
//! | undecidable elements | pass or fail | pass or fail | pass or fail | reported as inconclusive |
//! | report | first failing element | assertion message | bool | counts (relative / floor / inconclusive / failed), worst multi-index, deciding ratio, headroom |
//! | fast mode | `fast_mode=True` (random `u`, `v`) | `modes=["fwd", "rev"]` (random directions) | no | random directions with bisection to the tensor and slice |
//! | sampling | all elements | all | all | all, seeded random, stratified |
//! | diagnoses | no | no | no | constant ratio, sign flip, transposed, zero, confined to a time step / batch row, accumulate vs overwrite |
//! | negative controls | no | no | no | exported mutants |
//! | state probes | `check_undefined_grad`, batched grad | no | no | determinism, tensors unchanged, SIMD tiers, threads, stateful windows |
//! | second order | `gradgradcheck` | `order=2` | no | no |
//! | complex numbers | yes | yes | no | no (recur has none) |

#![forbid(unsafe_code)]

pub mod adapter;
mod check;
pub mod diagnose;
pub mod error;
pub mod fast;
pub mod fd;
pub mod harness;
pub mod mutants;
pub mod probes;
pub mod reference;
pub mod report;
pub mod sampling;
pub mod strategies;

pub use adapter::ParamsCheck;
pub use error::CheckError;
pub use fast::{check_directions, check_directions_with_twin, FastOptions, FastReport};
pub use fd::{central_difference, FdOptions};
pub use harness::{EmbeddingCheck, SoftmaxCheck, TimeAffineCheck, TimeRnnCheck};
pub use recur_layers::ndarray;
pub use recur_layers::{Error, Float, Result};
pub use report::{Comparison, ElementCheck, GradReport, Measured, Outcome, Tolerance, Verdict};
pub use sampling::Sampling;

use ndarray::{ArrayD, ArrayViewMutD};

/// A scalar loss and the magnitude of the terms it was summed from.
///
/// The magnitude `scale` (e.g. `Σ |term|`) sets the rounding noise of the loss, and with it
/// the floor under which a finite difference cannot resolve a gradient; `|value|` is a
/// good `scale` when the loss has no cancellation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Loss {
    /// The loss.
    pub value: f64,
    /// The magnitude of the terms summed into it (`>= |value|`).
    pub scale: f64,
}

impl Loss {
    /// A loss with an explicit magnitude (`|value|` if `scale` is smaller or NaN).
    pub fn new(value: f64, scale: f64) -> Self {
        Loss {
            value,
            scale: if scale >= value.abs() {
                scale
            } else {
                value.abs()
            },
        }
    }

    /// The sum of `terms`, with `Σ |term|` as its magnitude.
    ///
    /// ```
    /// let l = recur_check::Loss::from_terms([1.0, -3.0, 0.5]);
    /// assert_eq!((l.value, l.scale), (-1.5, 4.5));
    /// ```
    pub fn from_terms(terms: impl IntoIterator<Item = f64>) -> Self {
        let (value, scale) = terms
            .into_iter()
            .fold((0.0, 0.0), |(v, s), t| (v + t, s + t.abs()));
        Loss { value, scale }
    }
}

impl From<f64> for Loss {
    fn from(value: f64) -> Self {
        Loss {
            value,
            scale: value.abs(),
        }
    }
}

impl From<f32> for Loss {
    fn from(value: f32) -> Self {
        Loss::from(value as f64)
    }
}

/// A differentiable computation whose gradients can be checked: a layer plus fixed
/// inputs and a scalar loss.
///
/// "Tensors" are everything whose gradient is checked: parameters and inputs alike.
/// `Elem` is the precision the layer computes in; `Error` is its own error type.
pub trait GradCheck {
    /// The element type of the tensors and gradients.
    type Elem: Float;
    /// The error of `loss` and `gradients`.
    type Error;
    /// Names of the tensors, in a fixed order.
    fn tensor_names(&self) -> Vec<String>;
    /// Tensor `i`, writable (the checker perturbs elements and restores them bit for bit);
    /// `None` for `i >= tensor_names().len()`.
    fn tensor_mut(&mut self, i: usize) -> Option<ArrayViewMutD<'_, Self::Elem>>;
    /// The scalar loss at the current values (a forward pass). Must be a deterministic
    /// function of the tensors (reset any carried state).
    fn loss(&mut self) -> std::result::Result<Loss, Self::Error>;
    /// Forward and backward at the current values: the analytic gradient of the loss with
    /// respect to every tensor, in [`GradCheck::tensor_names`] order and of the tensors'
    /// shapes.
    fn gradients(&mut self) -> std::result::Result<Vec<ArrayD<Self::Elem>>, Self::Error>;
}

impl<M: GradCheck + ?Sized> GradCheck for &mut M {
    type Elem = M::Elem;
    type Error = M::Error;
    fn tensor_names(&self) -> Vec<String> {
        (**self).tensor_names()
    }
    fn tensor_mut(&mut self, i: usize) -> Option<ArrayViewMutD<'_, M::Elem>> {
        (**self).tensor_mut(i)
    }
    fn loss(&mut self) -> std::result::Result<Loss, M::Error> {
        (**self).loss()
    }
    fn gradients(&mut self) -> std::result::Result<Vec<ArrayD<M::Elem>>, M::Error> {
        (**self).gradients()
    }
}

/// How [`check_gradients`] differentiates, what it accepts and which elements it visits.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CheckOptions {
    /// Finite-difference settings; `None`: [`FdOptions::for_epsilon`] of the type the
    /// differences are taken in.
    pub fd: Option<FdOptions>,
    /// The verdict's tolerance; `None`: [`Tolerance::for_epsilon`] of the type the analytic
    /// gradient is computed in.
    pub tol: Option<Tolerance>,
    /// Which elements of each tensor are checked.
    pub sampling: Sampling,
}

impl CheckOptions {
    /// These options with `sampling`.
    pub fn with_sampling(mut self, sampling: Sampling) -> Self {
        self.sampling = sampling;
        self
    }
    pub(crate) fn fd_for(&self, eps: f64) -> FdOptions {
        self.fd.unwrap_or_else(|| FdOptions::for_epsilon(eps))
    }
    pub(crate) fn tol_for(&self, eps: f64) -> Tolerance {
        self.tol.unwrap_or_else(|| Tolerance::for_epsilon(eps))
    }
}

/// Checks every tensor's analytic gradient against finite differences of
/// [`GradCheck::loss`], in the model's own precision. Every tensor is left bit for bit as
/// it was.
///
/// ```
/// use recur_check::ndarray::{array, Array1, ArrayD, ArrayViewMutD};
/// use recur_check::{check_gradients, CheckOptions, GradCheck, Loss};
///
/// /// y = tanh(w ⊙ x), loss = Σ r ⊙ y, in f32, with an error type of its own.
/// struct Mine { w: Array1<f32>, x: Array1<f32>, r: Array1<f32> }
/// impl GradCheck for Mine {
///     type Elem = f32;
///     type Error = std::convert::Infallible;
///     fn tensor_names(&self) -> Vec<String> { vec!["w".into(), "x".into()] }
///     fn tensor_mut(&mut self, i: usize) -> Option<ArrayViewMutD<'_, f32>> {
///         match i { 0 => Some(self.w.view_mut().into_dyn()),
///                   1 => Some(self.x.view_mut().into_dyn()), _ => None }
///     }
///     fn loss(&mut self) -> Result<Loss, Self::Error> {
///         let y = (&self.w * &self.x).mapv(f32::tanh);
///         Ok(Loss::from_terms(y.iter().zip(&self.r).map(|(y, r)| (y * r) as f64)))
///     }
///     fn gradients(&mut self) -> Result<Vec<ArrayD<f32>>, Self::Error> {
///         let dz = (&self.w * &self.x).mapv(|z| 1.0 - z.tanh().powi(2)) * &self.r;
///         Ok(vec![(&dz * &self.x).into_dyn(), (&dz * &self.w).into_dyn()])
///     }
/// }
/// let mut layer = Mine { w: array![0.3, -0.7], x: array![1.5, 0.2], r: array![1.0, -2.0] };
/// let report = check_gradients(&mut layer, &CheckOptions::default())?;
/// assert!(report.passed(), "{report}");
/// # Ok::<(), recur_check::CheckError<std::convert::Infallible>>(())
/// ```
///
/// # Errors
/// [`CheckError::Model`] with whatever the model's `loss` or `gradients` return;
/// [`CheckError::GradientCount`] / [`CheckError::GradientShape`] if `gradients` breaks the
/// contract; [`CheckError::NoTensor`] if `tensor_mut` does; [`CheckError::InvalidOption`]
/// for a step or tolerance out of range.
pub fn check_gradients<M: GradCheck + ?Sized>(
    model: &mut M,
    opts: &CheckOptions,
) -> std::result::Result<GradReport, CheckError<M::Error>> {
    let (names, shapes, grads) = check::analytic(model)?;
    let eps = M::Elem::EPSILON.to_f64();
    check::compare(&names, &shapes, &grads, model, eps, opts)
}

/// Checks the analytic gradients of `model` (e.g. an `f32` layer) against finite
/// differences of `twin`, the same computation in `f64`. The model's tensors are copied
/// into the twin first (exactly: `f32 → f64` does not round); the tolerance is that of the
/// model's precision, the noise floor that of `f64`.
///
/// ```
/// use recur_check::ndarray::{Array1, Array2, Array3};
/// use recur_check::{check_with_twin, CheckOptions, TimeRnnCheck};
/// let f = |i: usize| ((i * 37 % 17) as f32 / 8.0 - 1.0) * 0.5;
/// let mut rnn = TimeRnnCheck::new(
///     Array2::from_shape_fn((3, 4), |(a, b)| f(a * 4 + b)),
///     Array2::from_shape_fn((4, 4), |(a, b)| f(20 + a * 4 + b)),
///     Array1::from_shape_fn(4, |a| f(40 + a)),
///     Array3::from_shape_fn((5, 2, 3), |(a, b, c)| f(60 + a * 6 + b * 3 + c)),
///     None,
///     Array3::from_shape_fn((5, 2, 4), |(a, b, c)| f(90 + a * 8 + b * 4 + c)),
///     false,
/// )?;
/// let mut twin = rnn.twin()?;
/// let report = check_with_twin(&mut rnn, &mut twin, &CheckOptions::default())?;
/// assert!(report.passed(), "{report}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// Those of [`check_gradients`], and [`CheckError::TwinMismatch`] if the twin's tensor
/// names or shapes differ from the model's.
pub fn check_with_twin<M, W>(
    model: &mut M,
    twin: &mut W,
    opts: &CheckOptions,
) -> std::result::Result<GradReport, CheckError<M::Error>>
where
    M: GradCheck + ?Sized,
    W: GradCheck<Elem = f64, Error = M::Error> + ?Sized,
{
    check::sync_twin(model, twin)?;
    let (names, shapes, grads) = check::analytic(model)?;
    let eps = M::Elem::EPSILON.to_f64();
    check::compare(&names, &shapes, &grads, twin, eps, opts)
}
