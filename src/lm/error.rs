//! Errors of the language-model layer: I/O and format problems, plus layer errors.

use std::fmt;

/// An error of corpus reading, training or model files.
#[derive(Debug)]
#[non_exhaustive]
pub enum LmError {
    /// A layer or kernel rejected its input.
    Layer(recur_kernels::Error),
    /// A file could not be read or written.
    Io {
        /// The file.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A corpus that cannot be used (empty, too short, not UTF-8).
    Corpus(String),
    /// A model file that cannot be used (bad header, missing tensor, wrong shape, ...).
    ModelFile(String),
    /// A plot could not be drawn.
    Plot(String),
    /// A setting (a hyperparameter, a size, an option) out of its range.
    Config(String),
    /// A check (e.g. a gradient check) did not pass.
    CheckFailed(String),
}

impl fmt::Display for LmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LmError::Layer(e) => write!(f, "{e}"),
            LmError::Io { path, source } => write!(f, "{path}: {source}"),
            LmError::Corpus(m) => write!(f, "corpus: {m}"),
            LmError::ModelFile(m) => write!(f, "model file: {m}"),
            LmError::Plot(m) => write!(f, "plot: {m}"),
            LmError::Config(m) => write!(f, "{m}"),
            LmError::CheckFailed(m) => write!(f, "check failed: {m}"),
        }
    }
}

impl std::error::Error for LmError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LmError::Layer(e) => Some(e),
            LmError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<recur_kernels::Error> for LmError {
    fn from(e: recur_kernels::Error) -> Self {
        LmError::Layer(e)
    }
}

/// Result alias of the language-model layer.
pub type LmResult<T> = Result<T, LmError>;
