//! Training an RNN language model: the book's `SimpleRnnlm`, its batching and trainer,
//! the optimizer choice, corpus reading (files or a synthetic corpus of known entropy),
//! held-out evaluation, per-epoch metrics files, safetensors model files, and the
//! bounded reads and atomic writes of every file a run touches.

pub mod corpus;
pub mod data;
pub mod error;
pub mod files;
pub mod metrics;
pub mod model;
pub mod model_file;
pub mod optimizer;
pub mod rng;
pub mod synthetic;
pub mod train;

pub use corpus::{Corpus, Vocab};
pub use data::TrainData;
pub use error::{LmError, LmResult};
pub use metrics::write_metrics;
pub use model::SimpleRnnlm;
pub use optimizer::OptimizerKind;
pub use synthetic::MarkovSource;
pub use train::{eval_held_out, eval_perplexity, train, Batcher, EpochStats, TrainConfig};
