//! Training an RNN language model: the book's `SimpleRnnlm`, its batching and trainer,
//! corpus reading, a synthetic corpus of known entropy, and safetensors model files.

pub mod corpus;
pub mod error;
pub mod model;
pub mod model_file;
pub mod rng;
pub mod synthetic;
pub mod train;

pub use corpus::{Corpus, Vocab};
pub use error::{LmError, LmResult};
pub use model::SimpleRnnlm;
pub use synthetic::MarkovSource;
pub use train::{eval_perplexity, train, Batcher, EpochStats, TrainConfig};
