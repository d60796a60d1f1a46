//! The error of a check: the model's own error, or a model that does not keep the
//! [`GradCheck`](crate::GradCheck) contract, or a bad option.

use std::fmt;

/// Why a check could not be carried out. `E` is the error type of the model under test
/// ([`GradCheck::Error`](crate::GradCheck::Error)), so a layer with its own error type is
/// checked without converting anything.
///
/// ```
/// use recur_check::{CheckError, GradCheck};
/// let e: CheckError<std::fmt::Error> = CheckError::NoTensor { index: 3, count: 2 };
/// assert_eq!(e.to_string(), "tensor 3 requested, but the model has 2 tensors");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum CheckError<E> {
    /// The model's `loss` or `gradients` failed.
    Model(E),
    /// `gradients` returned another number of tensors than `tensor_names`.
    GradientCount {
        /// The number of tensor names.
        expected: usize,
        /// The number of gradients.
        got: usize,
    },
    /// A gradient of another shape than its tensor.
    GradientShape {
        /// The tensor.
        tensor: String,
        /// The tensor's shape.
        expected: Vec<usize>,
        /// The gradient's shape.
        got: Vec<usize>,
    },
    /// `tensor_mut(index)` returned `None` for an index below the number of names.
    NoTensor {
        /// The index asked for.
        index: usize,
        /// The number of tensor names.
        count: usize,
    },
    /// The `f64` twin of a model has other tensors (names or shapes) than the model.
    TwinMismatch {
        /// The tensor (or `"tensor count"`).
        tensor: String,
        /// What the model has.
        expected: String,
        /// What the twin has.
        got: String,
    },
    /// An option out of its range.
    InvalidOption {
        /// The option, e.g. `"fd.levels"`.
        name: &'static str,
        /// Its valid range.
        expected: &'static str,
        /// The value given.
        got: String,
    },
}

impl<E: fmt::Display> fmt::Display for CheckError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::Model(e) => write!(f, "{e}"),
            CheckError::GradientCount { expected, got } => write!(
                f,
                "gradients returned {got} tensors, but the model names {expected}"
            ),
            CheckError::GradientShape {
                tensor,
                expected,
                got,
            } => write!(
                f,
                "the gradient of `{tensor}` has shape {got:?}, the tensor {expected:?}"
            ),
            CheckError::NoTensor { index, count } => write!(
                f,
                "tensor {index} requested, but the model has {count} tensors"
            ),
            CheckError::TwinMismatch {
                tensor,
                expected,
                got,
            } => write!(
                f,
                "the f64 twin does not match the model at `{tensor}`: expected {expected}, got {got}"
            ),
            CheckError::InvalidOption {
                name,
                expected,
                got,
            } => write!(f, "option `{name}`: expected {expected}, got {got}"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for CheckError<E> {}
