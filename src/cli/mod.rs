//! The `recur` command (with the `cli` feature): its arguments (clap) here, one module per
//! subcommand. The binary is [`main`]; [`try_run`] runs the same command from a list of
//! arguments and returns its error, for tests and the fuzz target.

pub(crate) mod baseline;
pub(crate) mod bench;
pub(crate) mod eval;
pub(crate) mod generate;
pub(crate) mod gradcheck;
pub(crate) mod plot;
pub(crate) mod seed;
pub(crate) mod train;

use crate::lm::{LmError, LmResult, OptimizerKind};
use clap::{Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::process::ExitCode;

/// The `recur` binary: parses the process's arguments (printing help or a usage error and
/// exiting as clap does), runs the command, and prints its error, if any.
pub fn main() -> ExitCode {
    match dispatch(Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the `recur` command with `args` (the first being the program's name) and returns
/// what it returns; a usage error is an [`LmError::Config`] with clap's message, and
/// `--help` or `--version` print their text and return `Ok`.
///
/// ```
/// let err = recur::cli::try_run(["recur", "train", "--lr=nan"]).unwrap_err();
/// assert!(err.to_string().contains("learning rate"), "{err}");
/// let err = recur::cli::try_run(["recur", "--no-such-option"]).unwrap_err();
/// assert!(err.to_string().contains("--no-such-option"), "{err}");
/// ```
///
/// # Errors
/// The command's error, or the usage error.
pub fn try_run<I, T>(args: I) -> LmResult<()>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    match Cli::try_parse_from(args) {
        Ok(cli) => dispatch(cli.command),
        Err(e) => match e.kind() {
            clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                print!("{e}");
                Ok(())
            }
            _ => Err(LmError::Config(e.to_string())),
        },
    }
}

fn dispatch(command: Option<Command>) -> LmResult<()> {
    match command {
        None => train::run(&TrainArgs::default()),
        Some(Command::Train(args)) => train::run(&args),
        Some(Command::Eval(args)) => eval::run(&args),
        Some(Command::Generate(args)) => generate::run(&args),
        Some(Command::Gradcheck(args)) => gradcheck::run(&args),
        Some(Command::Bench(args)) => bench::run(&args),
        Some(Command::Seed) => seed::run(),
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "recur",
    version,
    about = "SIMD RNN language models: train, evaluate, generate, check gradients, benchmark"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
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
pub(crate) enum OptimizerArg {
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
pub(crate) struct TrainArgs {
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
pub(crate) struct EvalArgs {
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
pub(crate) struct GenerateArgs {
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
pub(crate) struct GradcheckArgs {
    /// Random cases per layer.
    #[arg(long, default_value_t = 5)]
    pub cases: usize,
    /// Seed of the random shapes and values.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(clap::Args, Debug)]
pub(crate) struct BenchArgs {
    /// Seconds of measurement per entry.
    #[arg(long, default_value_t = 0.5)]
    pub seconds: f64,
}
