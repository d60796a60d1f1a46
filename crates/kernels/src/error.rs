//! The one error type of recur: every fallible public function returns [`Result`].
//!
//! Each variant names the operation (`op`, e.g. `"gemm"` or `"TimeRnn::forward"`) and the
//! argument at fault (`arg`), and says what was expected and what was given, so that a
//! message alone is enough to find the bad call.

use std::fmt;

/// Result alias used throughout recur.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in a recur call. After an `Err` the object that returned it
/// is unchanged and still usable.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// An argument has the wrong shape. `expected` and `got` are written in the notation of
    /// the crate docs, e.g. `(T, N, D) = (_, _, 3)` and `(4, 5, 2)`.
    ShapeMismatch {
        /// The operation that was called.
        op: &'static str,
        /// The argument whose shape is wrong.
        arg: &'static str,
        /// The shape that was expected.
        expected: String,
        /// The shape that was given.
        got: String,
    },
    /// A view's dimensions and strides address an element outside its slice.
    OutOfBounds {
        /// The operation that was called.
        op: &'static str,
        /// The argument at fault.
        arg: &'static str,
        /// The view that was asked for: `rows x cols, strides (row_stride, col_stride)`.
        view: String,
        /// The largest offset the view would read or write (`None`: it overflows `usize`).
        max_offset: Option<usize>,
        /// The length of the slice.
        len: usize,
    },
    /// A mutable view's strides would make two of its elements share a memory location.
    AliasingStrides {
        /// The operation that was called.
        op: &'static str,
        /// The argument at fault.
        arg: &'static str,
        /// The view that was asked for: `rows x cols, strides (row_stride, col_stride)`.
        view: String,
    },
    /// A product of dimensions does not fit in `usize`.
    SizeOverflow {
        /// The operation that was called.
        op: &'static str,
        /// The argument whose size overflows.
        arg: &'static str,
        /// The shape whose element count overflows.
        shape: String,
    },
    /// A buffer for an argument's size could not be allocated (the memory is not there):
    /// refused before any work, instead of aborting the process.
    AllocationFailed {
        /// The operation that was called.
        op: &'static str,
        /// The argument whose size asks for the buffer.
        arg: &'static str,
        /// The shape of the buffer.
        shape: String,
        /// The bytes that were asked for.
        bytes: usize,
    },
    /// An index (e.g. a token id) is not below its bound (e.g. the vocabulary size `V`).
    IndexOutOfRange {
        /// The operation that was called.
        op: &'static str,
        /// The argument holding the index.
        arg: &'static str,
        /// Where the bad index is, e.g. `[t=2, n=0]`.
        position: String,
        /// The index found there.
        index: usize,
        /// The exclusive upper bound.
        bound: usize,
    },
    /// A call that is not valid in the object's current state, e.g. `backward` before
    /// `forward`.
    InvalidState {
        /// The operation that was called.
        op: &'static str,
        /// What is missing.
        reason: &'static str,
    },
    /// A value that must be finite is NaN or infinite (e.g. a gradient norm).
    NonFinite {
        /// The operation that was called.
        op: &'static str,
        /// The argument or quantity at fault.
        arg: &'static str,
    },
    /// An argument has an invalid value (not a shape problem), e.g. a negative step size.
    InvalidArgument {
        /// The operation that was called.
        op: &'static str,
        /// The argument at fault.
        arg: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ShapeMismatch {
                op,
                arg,
                expected,
                got,
            } => write!(
                f,
                "{op}: argument `{arg}` has shape {got}, expected {expected}"
            ),
            Error::OutOfBounds {
                op,
                arg,
                view,
                max_offset,
                len,
            } => match max_offset {
                Some(off) => write!(
                    f,
                    "{op}: argument `{arg}`: view {view} reaches offset {off}, \
                     but the slice has length {len}"
                ),
                None => write!(
                    f,
                    "{op}: argument `{arg}`: view {view} reaches an offset that overflows \
                     usize (slice length {len})"
                ),
            },
            Error::AliasingStrides { op, arg, view } => write!(
                f,
                "{op}: argument `{arg}`: mutable view {view} has strides under which two \
                 elements share a memory location"
            ),
            Error::SizeOverflow { op, arg, shape } => write!(
                f,
                "{op}: argument `{arg}`: shape {shape} has more elements than usize can count"
            ),
            Error::AllocationFailed {
                op,
                arg,
                shape,
                bytes,
            } => write!(
                f,
                "{op}: argument `{arg}`: a buffer of shape {shape} needs {bytes} bytes, which \
                 could not be allocated"
            ),
            Error::IndexOutOfRange {
                op,
                arg,
                position,
                index,
                bound,
            } => write!(
                f,
                "{op}: argument `{arg}` holds {index} at {position}, expected an index below {bound}"
            ),
            Error::InvalidState { op, reason } => write!(f, "{op}: {reason}"),
            Error::NonFinite { op, arg } => write!(f, "{op}: `{arg}` is not finite"),
            Error::InvalidArgument { op, arg, reason } => {
                write!(f, "{op}: argument `{arg}`: {reason}")
            }
        }
    }
}

impl std::error::Error for Error {}

/// Formats a shape as `(a, b, c)`.
pub fn fmt_shape(dims: &[usize]) -> String {
    let inner: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
    format!("({})", inner.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_mismatch_names_argument_and_both_shapes() {
        let e = Error::ShapeMismatch {
            op: "TimeRnn::forward",
            arg: "xs",
            expected: "(T, N, D) = (_, _, 3)".into(),
            got: fmt_shape(&[4, 5, 2]),
        };
        let s = e.to_string();
        assert!(s.contains("`xs`"), "{s}");
        assert!(s.contains("(4, 5, 2)"), "{s}");
        assert!(s.contains("(_, _, 3)"), "{s}");
    }
}
