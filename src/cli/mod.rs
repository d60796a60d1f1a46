//! The command line: its arguments (clap) here, one module per subcommand.

pub mod baseline;
pub mod bench;
pub mod eval;
pub mod generate;
pub mod gradcheck;
pub mod plot;
pub mod seed;
pub mod train;

use clap::{Parser, Subcommand, ValueEnum};
use recur::lm::OptimizerKind;

#[derive(Parser, Debug)]
#[command(
    name = "recur",
    version,
    about = "SIMD RNN language models: train, evaluate, generate, check gradients, benchmark"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train the book's SimpleRnnlm (the default when no command is given).
    Train(Box<TrainArgs>),
    /// Perplexity of a saved model on a text, in the model's vocabulary.
    Eval(EvalArgs),
    /// Sample text from a saved model, after a prompt.
    Generate(GenerateArgs),
    /// Check every gradient of every layer against finite differences.
    Gradcheck(GradcheckArgs),
    /// A quick side-by-side speed table on this machine (no criterion).
    Bench(BenchArgs),
    /// Run the lecture's example (5 sentences of 4 word ids) through Embedding and TimeRnn.
    Seed,
}

// `--optimizer`: the names of `OptimizerKind`. Its own enum because clap would print doc
// comments on the variants (which the library's type must have) as help for each value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OptimizerArg {
    Sgd,
    Adam,
}

impl From<OptimizerArg> for OptimizerKind {
    fn from(arg: OptimizerArg) -> Self {
        match arg {
            OptimizerArg::Sgd => OptimizerKind::Sgd,
            OptimizerArg::Adam => OptimizerKind::Adam,
        }
    }
}

#[derive(Parser, Debug, Clone)]
#[command(args_override_self = true)] // the last of a repeated option wins
pub struct TrainArgs {
    /// Training text in PTB format (one sentence per line; newline = <eos>). Default: a
    /// built-in synthetic corpus whose optimal perplexity is known.
    #[arg(long)]
    pub corpus: Option<String>,
    /// Held-out text (PTB format) for the final perplexity (with --corpus; the built-in
    /// corpus has its own).
    #[arg(long)]
    pub test: Option<String>,
    /// Use only the first K words of the corpus (default: all; 40000 for the built-in one).
    #[arg(long)]
    pub tokens: Option<usize>,
    /// N: sequences per window.
    #[arg(long, default_value_t = 20)]
    pub batch: usize,
    /// T: time steps per window.
    #[arg(long, default_value_t = 10)]
    pub time: usize,
    /// D: embedding width.
    #[arg(long, default_value_t = 32)]
    pub wordvec: usize,
    /// H: hidden width.
    #[arg(long, default_value_t = 64)]
    pub hidden: usize,
    /// Learning rate (default: 0.1 for sgd, 0.01 for adam).
    #[arg(long)]
    pub lr: Option<f64>,
    /// The optimizer.
    #[arg(long, value_enum, default_value_t = OptimizerArg::Adam)]
    pub optimizer: OptimizerArg,
    /// Clip gradients to this global norm (default: no clipping).
    #[arg(long)]
    pub max_grad: Option<f64>,
    /// Epochs.
    #[arg(long, default_value_t = 8)]
    pub epochs: usize,
    /// Stop after this many windows in all (the last epoch may be partial).
    #[arg(long)]
    pub windows: Option<usize>,
    /// Windows left out of the words/s figure at the start (warm-up).
    #[arg(long, default_value_t = 0)]
    pub warmup: usize,
    /// Seed of the initialisation (and of the built-in corpus sample).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Threads for the GEMMs (0: all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Compute in f64 instead of f32.
    #[arg(long)]
    pub f64: bool,
    /// Write per-epoch metrics as CSV (epoch,loss,perplexity,tokens_per_sec,seconds).
    #[arg(long)]
    pub metrics: Option<String>,
    /// Draw the perplexity curve (.svg or .png).
    #[arg(long)]
    pub plot: Option<String>,
    /// Save the trained model (safetensors, PyTorch names).
    #[arg(long)]
    pub save: Option<String>,
    /// Start from a saved model (safetensors).
    #[arg(long)]
    pub init: Option<String>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

impl Default for TrainArgs {
    /// What `recur` without a subcommand trains with: `recur train`'s defaults.
    fn default() -> Self {
        TrainArgs::parse_from(["train"])
    }
}

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// The saved model (safetensors, with its vocabulary, as `recur train --save` writes).
    #[arg(long)]
    pub model: String,
    /// The text (PTB format) whose perplexity is measured.
    #[arg(long)]
    pub corpus: String,
    /// Use only the first K words of the text.
    #[arg(long)]
    pub tokens: Option<usize>,
    /// N: streams evaluated side by side (default: the book's 10, fewer for a short text).
    #[arg(long)]
    pub batch: Option<usize>,
    /// T: steps per window (default: the book's 35, fewer for a short text).
    #[arg(long)]
    pub time: Option<usize>,
    /// Compute in f64 instead of f32.
    #[arg(long)]
    pub f64: bool,
}

#[derive(clap::Args, Debug)]
pub struct GenerateArgs {
    /// The saved model (safetensors, with its vocabulary).
    #[arg(long)]
    pub model: String,
    /// The words the text starts with (default: the start of a sentence).
    #[arg(long, default_value = "")]
    pub prompt: String,
    /// Words to sample after the prompt.
    #[arg(long, default_value_t = 50)]
    pub words: usize,
    /// Softmax temperature: 1 samples from the model, lower is more conservative, 0 always
    /// takes the most likely word.
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f64,
    /// Seed of the sampling.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(clap::Args, Debug)]
pub struct GradcheckArgs {
    /// Random cases per layer.
    #[arg(long, default_value_t = 5)]
    pub cases: usize,
    /// Seed of the random shapes and values.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Seconds of measurement per entry.
    #[arg(long, default_value_t = 0.5)]
    pub seconds: f64,
}
