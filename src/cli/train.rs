//! `recur train`: checks every setting and output path, reads the corpus, trains with a
//! progress bar and a line per epoch, writes the metrics, plot and model asked for, and
//! ends with words/s and the held-out perplexity.

use super::{plot, TrainArgs};
use crate::kernels::{simd_level, Float, Parallelism};
use crate::lm::{
    eval_held_out, files, model_file, train, write_metrics, Batcher, EpochStats, LmError, LmResult,
    OptimizerKind, SimpleRnnlm, TrainConfig, TrainData,
};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// Runs `recur train` with `args`.
pub fn run(args: &TrainArgs) -> LmResult<()> {
    check_outputs(args)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()
        .map_err(|e| LmError::Config(format!("cannot start {} threads: {e}", args.threads)))?;
    pool.install(|| {
        if args.f64 {
            train_typed::<f64>(args)
        } else {
            train_typed::<f32>(args)
        }
    })
}

/// What must hold before any work: option combinations that make sense, and output paths
/// that can be written at the end (a run of hours must not fail on its last step).
fn check_outputs(args: &TrainArgs) -> LmResult<()> {
    if args.test.is_some() && args.corpus.is_none() {
        return Err(LmError::Config(
            "--test needs --corpus: the built-in corpus has its own held-out text".into(),
        ));
    }
    if args.windows == Some(0) {
        return Err(LmError::Config(
            "--windows must be at least 1, got 0".into(),
        ));
    }
    if let Some(w) = args.windows.filter(|&w| args.warmup >= w) {
        return Err(LmError::Config(format!(
            "--warmup ({}) must be below --windows ({w}): no window would be timed",
            args.warmup
        )));
    }
    if let Some(path) = &args.plot {
        plot::check(path)?;
    }
    for path in [&args.metrics, &args.save].into_iter().flatten() {
        files::check_writable(Path::new(path))?;
    }
    Ok(())
}

/// Checks that a model of `(V, D, H)` trained on `(T, N)` windows has sizes that can be
/// computed and allocated: every product fits, and the weights and the largest activation
/// (`(T·N, V)` scores) fit in this machine's memory where it can be read.
fn check_model_size(v: usize, d: usize, h: usize, batch: usize, time: usize) -> LmResult<()> {
    if d == 0 || h == 0 {
        return Err(LmError::Config(format!(
            "--wordvec (D) and --hidden (H) must be at least 1, got D = {d}, H = {h}"
        )));
    }
    let elements = (|| {
        let params = v
            .checked_mul(d)?
            .checked_add(d.checked_mul(h)?)?
            .checked_add(h.checked_mul(h)?)?
            .checked_add(h.checked_mul(v)?)?;
        let scores = time.checked_mul(batch)?.checked_mul(v)?;
        // Parameters with their gradients (and Adam's two moments), and the activations.
        params.checked_mul(4)?.checked_add(scores.checked_mul(3)?)
    })();
    let too_big = |what: String| {
        LmError::Config(format!(
            "a model of V = {v}, D = {d}, H = {h} trained on T x N = {time} x {batch} windows needs {what}"
        ))
    };
    let Some(elements) = elements else {
        return Err(too_big("more elements than a usize counts".into()));
    };
    let bytes = elements as u128 * 8;
    if let Some(total) = memory_bytes() {
        if bytes > total as u128 {
            return Err(too_big(format!(
                "about {:.1} GiB, more than this machine's {:.1} GiB",
                bytes as f64 / (1u64 << 30) as f64,
                total as f64 / (1u64 << 30) as f64
            )));
        }
    }
    Ok(())
}

/// The machine's memory in bytes (`MemTotal` of `/proc/meminfo`), where it can be read.
fn memory_bytes() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

fn train_typed<T: Float>(args: &TrainArgs) -> LmResult<()> {
    let start = Instant::now();
    let kind = OptimizerKind::from(args.optimizer);
    let lr = args.lr.unwrap_or(kind.default_lr());
    let mut opt = kind.build::<T>(lr)?;
    let cfg = TrainConfig {
        batch: args.batch,
        time: args.time,
        epochs: args.epochs,
        max_grad: args.max_grad,
        max_windows: args.windows,
    };
    cfg.validate()?;
    let data = match &args.corpus {
        Some(path) => TrainData::from_files(path, args.test.as_deref(), args.tokens)?,
        None => TrainData::synthetic(args.tokens, args.seed)?,
    };
    if let Some(test) = data.test.as_ref().filter(|t| t.len() < 2) {
        return Err(LmError::Corpus(format!(
            "the held-out text (--test) has {} tokens; its perplexity needs at least 2",
            test.len()
        )));
    }
    let mut model: SimpleRnnlm<T> = match &args.init {
        Some(path) => model_file::load_for_vocab(path, &data.words)?,
        None => {
            check_model_size(data.vocab, args.wordvec, args.hidden, args.batch, args.time)?;
            SimpleRnnlm::new(data.vocab, args.wordvec, args.hidden, args.seed)?
        }
    };
    if args.threads == 1 {
        model.set_parallelism(Parallelism::Serial);
    }
    let (v, d, h) = model.dims();
    println!(
        "recur train: {} ({}), SIMD {}",
        T::NAME,
        threads_desc(args.threads),
        simd_level()
    );
    println!("  corpus: {}", data.description);
    println!(
        "  model: V = {v}, D = {d}, H = {h}; batch N = {}, time T = {}, {kind:?} lr {lr}, clip {:?}, {} epochs{}",
        args.batch,
        args.time,
        args.max_grad,
        args.epochs,
        args.windows
            .map_or(String::new(), |w| format!(", at most {w} windows"))
    );
    let per_epoch = Batcher::new(data.train.len(), args.batch, args.time)?.windows_per_epoch();
    let planned = per_epoch
        .saturating_mul(args.epochs)
        .min(args.windows.unwrap_or(usize::MAX));
    let pb = if args.quiet {
        ProgressBar::hidden()
    } else {
        let pb = ProgressBar::new(planned as u64);
        pb.set_style(
            ProgressStyle::with_template("{bar:30} epoch {msg} [{elapsed_precise}]")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        pb
    };
    let epoch = std::cell::Cell::new(1usize);
    let mut window_loss = 0.0f64;
    let mut meter = Meter::new(args.warmup);
    let on_window = |w: usize, total: usize, loss: f64| {
        meter.window(loss);
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
    let on_epoch = |s: &EpochStats| {
        pb.suspend(|| {
            println!(
                "  epoch {:>3}  loss {:.4}  perplexity {:>9.3}  {:>9.0} tokens/s  {:.3} s",
                s.epoch, s.loss, s.perplexity, s.tokens_per_sec, s.seconds
            )
        });
        epoch.set(s.epoch + 1);
    };
    let stats = train(
        &mut model,
        &data.train,
        &cfg,
        &mut *opt,
        on_window,
        on_epoch,
    )?;
    pb.finish_and_clear();
    let train_secs = start.elapsed().as_secs_f64();

    if let Some(path) = &args.metrics {
        write_metrics(path, &stats)?;
    }
    if let Some(path) = &args.plot {
        plot::plot_perplexity(path, &stats, data.optimum)?;
    }
    if let Some(path) = &args.save {
        let settings = BTreeMap::from([
            ("optimizer".to_string(), format!("{kind:?}")),
            ("lr".to_string(), lr.to_string()),
            ("batch".to_string(), args.batch.to_string()),
            ("time".to_string(), args.time.to_string()),
            ("max_grad".to_string(), format!("{:?}", args.max_grad)),
            ("epochs".to_string(), stats.len().to_string()),
            ("windows".to_string(), meter.windows.to_string()),
            ("seed".to_string(), args.seed.to_string()),
            ("corpus".to_string(), data.description.clone()),
        ]);
        // Refuses a model with NaN or infinite weights (a diverged run), naming the
        // tensor; the file at `path` then keeps what it had.
        model_file::save(&model, Some(&data.words), &settings, path).map_err(|e| match e {
            LmError::ModelFile(m) => LmError::ModelFile(format!(
                "{m}; not saved, {path} is unchanged (the training diverged: try a lower --lr or --max-grad)"
            )),
            other => other,
        })?;
    }
    let last = stats.last().map_or(f64::NAN, |s| s.perplexity);
    println!(
        "summary: {} windows ({} epochs) in {train_secs:.2} s (data loading to last window)",
        meter.windows,
        stats.len()
    );
    println!("  train perplexity (last epoch): {last:.3}");
    if let Some((first, last, ppl)) = meter.recent_perplexity() {
        println!("  train perplexity over windows {first}-{last}: {ppl:.3}");
    }
    if let Some(wps) = meter.words_per_sec(args.batch * args.time) {
        println!(
            "  speed: {wps:.0} words/s over windows {}-{} ({} warm-up windows left out)",
            args.warmup + 1,
            meter.windows,
            args.warmup
        );
    }
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

/// The run's window count, the recent losses and the time after the warm-up windows.
struct Meter {
    warmup: usize,
    windows: usize,
    timed_from: Option<Instant>,
    timed_to: Option<Instant>,
    recent: std::collections::VecDeque<f64>,
}

impl Meter {
    /// Windows whose mean loss [`Meter::recent_perplexity`] reports.
    const RECENT: usize = 10;

    fn new(warmup: usize) -> Self {
        Meter {
            warmup,
            windows: 0,
            timed_from: (warmup == 0).then(Instant::now),
            timed_to: None,
            recent: std::collections::VecDeque::with_capacity(Self::RECENT),
        }
    }

    fn window(&mut self, loss: f64) {
        self.windows += 1;
        let now = Instant::now();
        if self.windows == self.warmup {
            self.timed_from = Some(now);
        }
        self.timed_to = Some(now);
        if self.recent.len() == Self::RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(loss);
    }

    /// `(first, last, perplexity)` over the last [`Meter::RECENT`] windows (1-based).
    fn recent_perplexity(&self) -> Option<(usize, usize, f64)> {
        let n = self.recent.len();
        (n > 0).then(|| {
            let mean = self.recent.iter().sum::<f64>() / n as f64;
            (self.windows + 1 - n, self.windows, mean.exp())
        })
    }

    /// Words (`N·T` per window) per second over the windows after the warm-up.
    fn words_per_sec(&self, words_per_window: usize) -> Option<f64> {
        let timed = self.windows.checked_sub(self.warmup).filter(|&w| w > 0)?;
        let secs = self
            .timed_to?
            .duration_since(self.timed_from?)
            .as_secs_f64();
        Some((timed * words_per_window) as f64 / secs.max(1e-12))
    }
}

/// "1 thread", "2 threads": what `--threads` (0: rayon's pool) amounts to.
fn threads_desc(threads: usize) -> String {
    let n = if threads == 0 {
        rayon::current_num_threads()
    } else {
        threads
    };
    format!("{n} thread{}", if n == 1 { "" } else { "s" })
}
