//! The `recur` command: trains an RNN language model (the default), checks gradients,
//! runs the lecture's example, or prints a quick speed table.

mod plot;
mod quick_bench;
mod seed_demo;

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use recur::kernels::{simd_level, Float, Parallelism};
use recur::layers::optim::{Adam, Optimizer, Sgd};
use recur::lm::{
    eval_perplexity, model_file, train, Corpus, EpochStats, LmError, LmResult, MarkovSource,
    SimpleRnnlm, TrainConfig,
};
use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(
    name = "recur",
    version,
    about = "SIMD RNN language models: train, check gradients, benchmark"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train the book's SimpleRnnlm (the default when no command is given).
    Train(Box<TrainArgs>),
    /// Check every gradient of every layer against finite differences.
    Gradcheck(GradcheckArgs),
    /// A quick side-by-side speed table on this machine (no criterion).
    Bench(quick_bench::BenchArgs),
    /// Run the lecture's example (5 sentences of 4 word ids) through Embedding and TimeRnn.
    Seed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum OptimizerKind {
    Sgd,
    Adam,
}

#[derive(Parser, Debug, Clone)]
struct TrainArgs {
    /// Training text in PTB format (one sentence per line; newline = <eos>). Default: a
    /// built-in synthetic corpus whose optimal perplexity is known.
    #[arg(long)]
    corpus: Option<String>,
    /// Held-out text (PTB format) for the final perplexity.
    #[arg(long)]
    test: Option<String>,
    /// Use only the first K words of the corpus (default: all; 40000 for the built-in one).
    #[arg(long)]
    tokens: Option<usize>,
    /// N: sequences per window.
    #[arg(long, default_value_t = 20)]
    batch: usize,
    /// T: time steps per window.
    #[arg(long, default_value_t = 10)]
    time: usize,
    /// D: embedding width.
    #[arg(long, default_value_t = 32)]
    wordvec: usize,
    /// H: hidden width.
    #[arg(long, default_value_t = 64)]
    hidden: usize,
    /// Learning rate (default: 0.1 for sgd, 0.01 for adam).
    #[arg(long)]
    lr: Option<f64>,
    /// The optimizer.
    #[arg(long, value_enum, default_value_t = OptimizerKind::Adam)]
    optimizer: OptimizerKind,
    /// Clip gradients to this global norm (default: no clipping).
    #[arg(long)]
    max_grad: Option<f64>,
    /// Epochs.
    #[arg(long, default_value_t = 8)]
    epochs: usize,
    /// Seed of the initialisation (and of the built-in corpus sample).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Threads for the GEMMs (0: all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Compute in f64 instead of f32.
    #[arg(long)]
    f64: bool,
    /// Write per-epoch metrics as CSV (epoch,loss,perplexity,tokens_per_sec,seconds).
    #[arg(long)]
    metrics: Option<String>,
    /// Draw the perplexity curve (.svg or .png).
    #[arg(long)]
    plot: Option<String>,
    /// Save the trained model (safetensors, PyTorch names).
    #[arg(long)]
    save: Option<String>,
    /// Start from a saved model (safetensors).
    #[arg(long)]
    init: Option<String>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

impl Default for TrainArgs {
    fn default() -> Self {
        TrainArgs::parse_from(["train"])
    }
}

#[derive(clap::Args, Debug)]
struct GradcheckArgs {
    /// Random cases per layer.
    #[arg(long, default_value_t = 5)]
    cases: usize,
    /// Seed of the random shapes and values.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => run_train(&TrainArgs::default()),
        Some(Command::Train(args)) => run_train(&args),
        Some(Command::Gradcheck(args)) => seed_demo::gradcheck(args.cases, args.seed),
        Some(Command::Bench(args)) => quick_bench::run(&args),
        Some(Command::Seed) => seed_demo::run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What a corpus source gives the trainer.
struct Data {
    train: Vec<u32>,
    test: Option<Vec<u32>>,
    vocab: usize,
    description: String,
    optimum: Option<f64>,
}

const SYNTHETIC_WORDS: usize = 60;
const SYNTHETIC_SOURCE_SEED: u64 = 2024;

fn load_data(args: &TrainArgs) -> LmResult<Data> {
    match &args.corpus {
        Some(path) => {
            let train = Corpus::from_file(path, args.tokens)?;
            let (test, vocab) = match &args.test {
                Some(tp) => {
                    let text = read_text(tp)?;
                    let c = Corpus::extend_text(&text, None, train.vocab.clone());
                    (Some(c.ids), c.vocab)
                }
                None => (None, train.vocab.clone()),
            };
            Ok(Data {
                description: format!("{path}: {} tokens, V = {}", train.ids.len(), vocab.len()),
                train: train.ids,
                test,
                vocab: vocab.len(),
                optimum: None,
            })
        }
        None => {
            let src = MarkovSource::new(SYNTHETIC_WORDS, SYNTHETIC_SOURCE_SEED);
            let tokens = args.tokens.unwrap_or(40_000);
            let train = Corpus::from_text(&src.generate(tokens, args.seed), None);
            let test = Corpus::extend_text(
                &src.generate(10_000, args.seed.wrapping_add(7919)),
                None,
                train.vocab,
            );
            Ok(Data {
                description: format!(
                    "built-in Markov corpus: {} words + <eos>, {tokens} training tokens, 10000 held-out; \
                     entropy rate {:.4} nats/word",
                    SYNTHETIC_WORDS,
                    src.entropy_rate()
                ),
                train: train.ids,
                vocab: test.vocab.len(),
                test: Some(test.ids),
                optimum: Some(src.optimal_perplexity()),
            })
        }
    }
}

fn read_text(path: &str) -> LmResult<String> {
    let bytes = std::fs::read(path).map_err(|source| LmError::Io {
        path: path.to_string(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|_| LmError::Corpus(format!("{path} is not UTF-8 text")))
}

fn run_train(args: &TrainArgs) -> LmResult<()> {
    if args.threads > 0 {
        // Ignore the error of a pool that already exists (only in tests).
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(args.threads)
            .build_global();
    }
    if args.f64 {
        train_typed::<f64>(args)
    } else {
        train_typed::<f32>(args)
    }
}

fn train_typed<T: Float>(args: &TrainArgs) -> LmResult<()> {
    let start = Instant::now();
    let data = load_data(args)?;
    let mut model: SimpleRnnlm<T> = match &args.init {
        Some(path) => {
            let m = model_file::load(path)?;
            if m.dims().0 != data.vocab {
                return Err(LmError::ModelFile(format!(
                    "{path} has V = {}, the corpus needs V = {}",
                    m.dims().0,
                    data.vocab
                )));
            }
            m
        }
        None => SimpleRnnlm::new(data.vocab, args.wordvec, args.hidden, args.seed),
    };
    if args.threads == 1 {
        model.set_parallelism(Parallelism::Serial);
    }
    let (v, d, h) = model.dims();
    let lr = args.lr.unwrap_or(match args.optimizer {
        OptimizerKind::Sgd => 0.1,
        OptimizerKind::Adam => 0.01,
    });
    println!(
        "recur train: {} ({}), SIMD {}",
        T::NAME,
        threads_desc(args.threads),
        simd_level()
    );
    println!("  corpus: {}", data.description);
    println!(
        "  model: V = {v}, D = {d}, H = {h}; batch N = {}, time T = {}, {:?} lr {lr}, clip {:?}, {} epochs",
        args.batch, args.time, args.optimizer, args.max_grad, args.epochs
    );
    let cfg = TrainConfig {
        batch: args.batch,
        time: args.time,
        epochs: args.epochs,
        max_grad: args.max_grad,
    };
    let windows =
        recur::lm::Batcher::new(data.train.len(), args.batch, args.time)?.windows_per_epoch();
    let pb = if args.quiet {
        ProgressBar::hidden()
    } else {
        let pb = ProgressBar::new((windows * args.epochs) as u64);
        pb.set_style(
            ProgressStyle::with_template("{bar:30} epoch {msg} [{elapsed_precise}]")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        pb
    };
    let epoch = std::cell::Cell::new(1usize);
    let mut window_loss = 0.0f64;
    let mut on_window = |w: usize, total: usize, loss: f64| {
        window_loss += loss;
        pb.inc(1);
        if w + 1 == total {
            window_loss = 0.0;
        } else if w.is_multiple_of(8) {
            pb.set_message(format!(
                "{}/{} ppl {:.2}",
                epoch.get(),
                args.epochs,
                (window_loss / (w + 1) as f64).exp()
            ));
        }
    };
    let mut on_epoch = |s: &EpochStats| {
        pb.suspend(|| {
            println!(
                "  epoch {:>3}  loss {:.4}  perplexity {:>9.3}  {:>9.0} tokens/s  {:.3} s",
                s.epoch, s.loss, s.perplexity, s.tokens_per_sec, s.seconds
            )
        });
        epoch.set(s.epoch + 1);
    };
    let stats = match args.optimizer {
        OptimizerKind::Sgd => {
            let mut opt = Sgd::new(T::from_f64(lr));
            run_epochs(
                &mut model,
                &data.train,
                &cfg,
                &mut opt,
                &mut on_window,
                &mut on_epoch,
            )?
        }
        OptimizerKind::Adam => {
            let mut opt = Adam::new(T::from_f64(lr));
            run_epochs(
                &mut model,
                &data.train,
                &cfg,
                &mut opt,
                &mut on_window,
                &mut on_epoch,
            )?
        }
    };
    pb.finish_and_clear();
    let train_secs = start.elapsed().as_secs_f64();

    if let Some(path) = &args.metrics {
        write_metrics(path, &stats)?;
    }
    if let Some(path) = &args.plot {
        plot::plot_perplexity(path, &stats, data.optimum)?;
    }
    if let Some(path) = &args.save {
        model_file::save(&model, path)?;
    }
    let last = stats.last().map_or(f64::NAN, |s| s.perplexity);
    println!(
        "summary: {} epochs in {train_secs:.2} s (data loading to last epoch)",
        stats.len()
    );
    println!("  train perplexity (last epoch): {last:.3}");
    if let Some(test) = &data.test {
        let ppl = eval_held_out(&mut model, test)?;
        println!("  held-out perplexity: {ppl:.3}");
        if let Some(opt) = data.optimum {
            println!(
                "  optimal perplexity (exp of the source's entropy rate): {opt:.3}  -> achieved / optimal = {:.3}",
                ppl / opt
            );
        }
    }
    if let Some(path) = &args.save {
        println!("  saved model to {path}");
    }
    Ok(())
}

fn run_epochs<T: Float, O: Optimizer<T>>(
    model: &mut SimpleRnnlm<T>,
    corpus: &[u32],
    cfg: &TrainConfig,
    opt: &mut O,
    on_window: &mut impl FnMut(usize, usize, f64),
    on_epoch: &mut impl FnMut(&EpochStats),
) -> LmResult<Vec<EpochStats>> {
    train(model, corpus, cfg, opt, on_window, on_epoch)
}

/// Held-out perplexity with the book's evaluation windows (N = 10, T = 35), smaller
/// when the text is short.
fn eval_held_out<T: Float>(model: &mut SimpleRnnlm<T>, test: &[u32]) -> LmResult<f64> {
    let (mut batch, mut time) = (10usize, 35usize);
    while test.len() < batch * time + 1 && time > 1 {
        time /= 2;
    }
    while test.len() < batch * time + 1 && batch > 1 {
        batch /= 2;
    }
    eval_perplexity(model, test, batch, time)
}

fn threads_desc(threads: usize) -> String {
    let n = if threads == 0 {
        rayon::current_num_threads()
    } else {
        threads
    };
    format!("{n} thread{}", if n == 1 { "" } else { "s" })
}

fn write_metrics(path: &str, stats: &[EpochStats]) -> LmResult<()> {
    let io = |source| LmError::Io {
        path: path.to_string(),
        source,
    };
    let mut f = std::fs::File::create(path).map_err(io)?;
    writeln!(f, "epoch,loss,perplexity,tokens_per_sec,seconds").map_err(io)?;
    for s in stats {
        writeln!(
            f,
            "{},{},{},{},{}",
            s.epoch, s.loss, s.perplexity, s.tokens_per_sec, s.seconds
        )
        .map_err(io)?;
    }
    Ok(())
}
