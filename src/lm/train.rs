//! Training and evaluation with the book's batching: `N` cursors spaced `len / N` apart
//! in the corpus, a time index that wraps around, `T`-step windows, the hidden state
//! carried from one window to the next.

use super::error::{LmError, LmResult};
use super::model::SimpleRnnlm;
use recur_kernels::Float;
use recur_layers::ndarray::Array2;
use recur_layers::optim::Optimizer;
use std::time::Instant;

/// Batching and optimisation settings.
///
/// ```
/// use recur::lm::TrainConfig;
/// let cfg = TrainConfig { batch: 20, time: 35, max_windows: Some(105), ..TrainConfig::default() };
/// cfg.validate()?;
/// assert!(TrainConfig { max_grad: Some(f64::NAN), ..cfg }.validate().is_err());
/// # Ok::<(), recur::lm::LmError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainConfig {
    /// `N`, sequences per window.
    pub batch: usize,
    /// `T`, steps per window.
    pub time: usize,
    /// Epochs (passes of `len / (N·T)` windows).
    pub epochs: usize,
    /// Global-norm clipping threshold, if any.
    pub max_grad: Option<f64>,
    /// Stop after this many windows in all (the last epoch may then be partial; its
    /// statistics are over the windows it ran).
    pub max_windows: Option<usize>,
}

impl Default for TrainConfig {
    /// `N = 20`, `T = 35` (the book's PTB settings), one epoch, no clipping, no window limit.
    fn default() -> Self {
        TrainConfig {
            batch: 20,
            time: 35,
            epochs: 1,
            max_grad: None,
            max_windows: None,
        }
    }
}

impl TrainConfig {
    /// Checks the settings: `batch` and `time` at least 1, `max_grad` finite and positive.
    ///
    /// # Errors
    /// [`LmError::Config`] naming the setting, its allowed range and its value.
    pub fn validate(&self) -> LmResult<()> {
        let bad = |name: &str, want: &str, got: String| {
            Err(LmError::Config(format!("{name} must be {want}, got {got}")))
        };
        if self.batch == 0 {
            return bad("batch (N)", "at least 1", "0".into());
        }
        if self.time == 0 {
            return bad("time (T)", "at least 1", "0".into());
        }
        if let Some(m) = self.max_grad {
            if !(m.is_finite() && m > 0.0) {
                return bad("max_grad", "finite and > 0", m.to_string());
            }
        }
        Ok(())
    }
}

/// What one epoch achieved.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochStats {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean loss over the epoch's windows (nats per word).
    pub loss: f64,
    /// `exp(loss)`.
    pub perplexity: f64,
    /// Tokens (`N·T` per window) per second of wall time.
    pub tokens_per_sec: f64,
    /// Wall time of the epoch.
    pub seconds: f64,
}

/// The book's mini-batch cursor over a corpus.
#[derive(Clone, Debug)]
pub struct Batcher {
    batch: usize,
    time: usize,
    offsets: Vec<usize>,
    time_idx: usize,
    data_size: usize,
    xs: Array2<u32>,
    ts: Array2<u32>,
}

impl Batcher {
    /// Cursors over `corpus` (inputs `corpus[..len−1]`, targets `corpus[1..]`).
    ///
    /// # Errors
    /// [`LmError::Corpus`] if the corpus has fewer than `N·T + 1` tokens (no full window).
    pub fn new(corpus_len: usize, batch: usize, time: usize) -> LmResult<Self> {
        let data_size = corpus_len.saturating_sub(1);
        if batch == 0 || time == 0 {
            return Err(LmError::Corpus(format!(
                "batch ({batch}) and time ({time}) must be at least 1"
            )));
        }
        // batch x time may overflow usize: then no corpus is long enough.
        let window = batch.checked_mul(time);
        if window.is_none_or(|w| data_size < w) {
            let need = match window.and_then(|w| w.checked_add(1)) {
                Some(need) => need.to_string(),
                None => "more than usize::MAX".to_string(),
            };
            return Err(LmError::Corpus(format!(
                "{corpus_len} tokens are too few for one window of batch x time = {batch} x {time} (need {need})"
            )));
        }
        let jump = data_size / batch;
        // `corpus_len` is only a number: the window may be larger than any memory.
        let cells = batch * time; // checked above
        fn alloc<X>(len: usize, batch: usize, time: usize) -> LmResult<Vec<X>> {
            let mut buf = Vec::new();
            buf.try_reserve_exact(len).map_err(|_| {
                LmError::Config(format!(
                    "Batcher::new: `batch` x `time` = {batch} x {time}: the window's {len} ids cannot be allocated"
                ))
            })?;
            Ok(buf)
        }
        // All the room first, then the writes.
        let (mut xs, mut ts) = (alloc(cells, batch, time)?, alloc(cells, batch, time)?);
        let mut offsets = alloc(batch, batch, time)?;
        offsets.extend((0..batch).map(|i| i * jump));
        xs.resize(cells, 0);
        ts.resize(cells, 0);
        let window = |ids| Array2::from_shape_vec((time, batch), ids).expect("T x N ids");
        Ok(Batcher {
            batch,
            time,
            offsets,
            time_idx: 0,
            data_size,
            xs: window(xs),
            ts: window(ts),
        })
    }

    /// Windows per epoch: `(len − 1) / (N·T)`.
    pub fn windows_per_epoch(&self) -> usize {
        self.data_size / (self.batch * self.time)
    }

    /// The next window of `corpus` (the corpus this batcher was made for), time-major:
    /// inputs and targets `(T, N)`.
    ///
    /// # Errors
    /// [`LmError::Corpus`] if `corpus` is shorter than the length the batcher was made
    /// for; the batcher is then unchanged.
    pub fn next_window(&mut self, corpus: &[u32]) -> LmResult<(&Array2<u32>, &Array2<u32>)> {
        if corpus.len() <= self.data_size {
            return Err(LmError::Corpus(format!(
                "the batcher was made for a corpus of {} tokens, given {}",
                self.data_size + 1,
                corpus.len()
            )));
        }
        for t in 0..self.time {
            for (n, &off) in self.offsets.iter().enumerate() {
                let pos = (off + self.time_idx) % self.data_size;
                self.xs[[t, n]] = corpus[pos];
                self.ts[[t, n]] = corpus[pos + 1];
            }
            self.time_idx = (self.time_idx + 1) % self.data_size;
        }
        Ok((&self.xs, &self.ts))
    }
}

/// Trains `model` on `corpus`, calling `on_window(window_index_in_epoch, windows, loss)`
/// after each window and `on_epoch` after each epoch.
///
/// Everything is checked before the first window: the settings, the corpus length and
/// every id of the corpus (`< V`), so a run does not fail half-way on its input.
///
/// # Errors
/// Settings out of range ([`LmError::Config`]), a corpus too short for one window or with
/// an id `>= V` ([`LmError::Corpus`]), or a non-finite gradient norm when clipping
/// ([`LmError::Layer`]).
pub fn train<T: Float, O: Optimizer<T> + ?Sized>(
    model: &mut SimpleRnnlm<T>,
    corpus: &[u32],
    cfg: &TrainConfig,
    optimizer: &mut O,
    mut on_window: impl FnMut(usize, usize, f64),
    mut on_epoch: impl FnMut(&EpochStats),
) -> LmResult<Vec<EpochStats>> {
    cfg.validate()?;
    let mut batcher = Batcher::new(corpus.len(), cfg.batch, cfg.time)?;
    check_ids(corpus, model.dims().0)?;
    let windows = batcher.windows_per_epoch();
    let mut left = cfg.max_windows.unwrap_or(usize::MAX);
    let mut stats = Vec::new();
    for epoch in 1..=cfg.epochs {
        if left == 0 {
            break;
        }
        let start = Instant::now();
        let mut total = 0.0f64;
        let run = windows.min(left);
        left -= run;
        for w in 0..run {
            let (xs, ts) = batcher.next_window(corpus)?;
            let loss = model
                .train_step(
                    xs.view(),
                    ts.view(),
                    cfg.max_grad.map(T::from_f64),
                    optimizer,
                )?
                .to_f64();
            total += loss;
            on_window(w, run, loss);
        }
        let seconds = start.elapsed().as_secs_f64();
        let loss = total / run as f64;
        let s = EpochStats {
            epoch,
            loss,
            perplexity: loss.exp(),
            tokens_per_sec: (run * cfg.batch * cfg.time) as f64 / seconds.max(1e-12),
            seconds,
        };
        on_epoch(&s);
        stats.push(s);
    }
    Ok(stats)
}

/// The first id of `corpus` that is `>= vocab`, as an error.
fn check_ids(corpus: &[u32], vocab: usize) -> LmResult<()> {
    match corpus.iter().position(|&id| id as usize >= vocab) {
        None => Ok(()),
        Some(i) => Err(LmError::Corpus(format!(
            "token {i} of the corpus has id {}, the model's vocabulary has V = {vocab} (ids 0..{vocab})",
            corpus[i]
        ))),
    }
}

/// Perplexity of `model` on `corpus` (forward only): `N` streams of consecutive
/// `T`-step windows, state carried, `exp` of the mean loss. The model's carried state is
/// reset before and after.
///
/// # Errors
/// A corpus too short for one window, or an id `>= V`.
pub fn eval_perplexity<T: Float>(
    model: &mut SimpleRnnlm<T>,
    corpus: &[u32],
    batch: usize,
    time: usize,
) -> LmResult<f64> {
    let mut batcher = Batcher::new(corpus.len(), batch, time)?;
    check_ids(corpus, model.dims().0)?;
    let windows = batcher.windows_per_epoch();
    model.reset_state();
    let mut total = 0.0f64;
    for _ in 0..windows {
        let (xs, ts) = batcher.next_window(corpus)?;
        total += model.evaluate(xs.view(), ts.view())?.to_f64();
    }
    model.reset_state();
    Ok((total / windows as f64).exp())
}

/// Held-out perplexity with the book's evaluation windows, `N = 10` streams of `T = 35`
/// steps, halving `T` (then `N`) while the text is too short for one window.
///
/// ```
/// use recur::lm::{eval_held_out, SimpleRnnlm};
/// let mut model = SimpleRnnlm::<f32>::new(5, 4, 4, 1)?;
/// let text: Vec<u32> = (0..100).map(|i| i % 5).collect(); // too short for 10 x 35
/// let ppl = eval_held_out(&mut model, &text)?;
/// assert!(ppl > 1.0 && ppl < 10.0, "{ppl}"); // about V = 5 when untrained
/// # Ok::<(), recur::lm::LmError>(())
/// ```
///
/// # Errors
/// A text of fewer than 2 tokens, or an id `>= V`.
pub fn eval_held_out<T: Float>(model: &mut SimpleRnnlm<T>, test: &[u32]) -> LmResult<f64> {
    let (mut batch, mut time) = (10usize, 35usize);
    while test.len() < batch * time + 1 && time > 1 {
        time /= 2;
    }
    while test.len() < batch * time + 1 && batch > 1 {
        batch /= 2;
    }
    eval_perplexity(model, test, batch, time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batcher_follows_the_book() {
        let corpus: Vec<u32> = (0..21).collect();
        let mut b = Batcher::new(corpus.len(), 2, 3).unwrap();
        assert_eq!(b.windows_per_epoch(), 3); // 20 / 6
        let (xs, ts) = b.next_window(&corpus).unwrap();
        // cursors at 0 and 10; time-major (T, N)
        assert_eq!(xs.column(0).to_vec(), vec![0, 1, 2]);
        assert_eq!(xs.column(1).to_vec(), vec![10, 11, 12]);
        assert_eq!(ts.column(1).to_vec(), vec![11, 12, 13]);
        let (xs, _) = b.next_window(&corpus).unwrap();
        assert_eq!(xs.column(0).to_vec(), vec![3, 4, 5]);
        // A shorter corpus than the batcher was made for: an error, the cursor unmoved.
        assert!(b.next_window(&corpus[..20]).is_err());
        let (xs, _) = b.next_window(&corpus).unwrap();
        assert_eq!(xs.column(0).to_vec(), vec![6, 7, 8]);
        assert!(Batcher::new(6, 2, 3).is_err());
        assert!(Batcher::new(7, 2, 3).is_ok());
        assert!(Batcher::new(0, 1, 1).is_err());
    }

    #[test]
    fn a_batcher_too_large_for_memory_is_an_error() {
        // The corpus length is only a number: windows beyond usize bytes (a capacity
        // overflow panic before) or beyond any address space (an abort before).
        for (batch, time) in [(1usize << 31, 1usize << 31), (1, 1 << 46)] {
            let Err(e) = Batcher::new(usize::MAX, batch, time) else {
                panic!("a {batch} x {time} window was accepted");
            };
            let msg = e.to_string();
            assert!(
                msg.contains("`batch` x `time`") && msg.contains("cannot be allocated"),
                "{msg}"
            );
        }
        assert_eq!(
            Batcher::new(usize::MAX, 2, 3).unwrap().windows_per_epoch(),
            (usize::MAX - 1) / 6
        );
    }
}
