//! `recur train`: reads the corpus, trains with a progress bar and a line per epoch, writes
//! the metrics, plot and model asked for, and ends with the held-out perplexity.

use super::{plot, TrainArgs};
use indicatif::{ProgressBar, ProgressStyle};
use recur::kernels::{simd_level, Float, Parallelism};
use recur::lm::{
    eval_held_out, model_file, train, write_metrics, Batcher, EpochStats, LmResult, OptimizerKind,
    SimpleRnnlm, TrainConfig, TrainData,
};
use std::time::Instant;

/// Runs `recur train` with `args`.
pub fn run(args: &TrainArgs) -> LmResult<()> {
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
    let data = match &args.corpus {
        Some(path) => TrainData::from_files(path, args.test.as_deref(), args.tokens)?,
        None => TrainData::synthetic(args.tokens, args.seed),
    };
    let mut model: SimpleRnnlm<T> = match &args.init {
        Some(path) => model_file::load_for_vocab(path, data.vocab)?,
        None => SimpleRnnlm::new(data.vocab, args.wordvec, args.hidden, args.seed),
    };
    if args.threads == 1 {
        model.set_parallelism(Parallelism::Serial);
    }
    let (v, d, h) = model.dims();
    let kind = OptimizerKind::from(args.optimizer);
    let lr = args.lr.unwrap_or(kind.default_lr());
    println!(
        "recur train: {} ({}), SIMD {}",
        T::NAME,
        threads_desc(args.threads),
        simd_level()
    );
    println!("  corpus: {}", data.description);
    println!(
        "  model: V = {v}, D = {d}, H = {h}; batch N = {}, time T = {}, {kind:?} lr {lr}, clip {:?}, {} epochs",
        args.batch, args.time, args.max_grad, args.epochs
    );
    let cfg = TrainConfig {
        batch: args.batch,
        time: args.time,
        epochs: args.epochs,
        max_grad: args.max_grad,
    };
    let windows = Batcher::new(data.train.len(), args.batch, args.time)?.windows_per_epoch();
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
    let on_window = |w: usize, total: usize, loss: f64| {
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
    let mut opt = kind.build::<T>(lr);
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

/// "1 thread", "2 threads": what `--threads` (0: rayon's pool) amounts to.
fn threads_desc(threads: usize) -> String {
    let n = if threads == 0 {
        rayon::current_num_threads()
    } else {
        threads
    };
    format!("{n} thread{}", if n == 1 { "" } else { "s" })
}
