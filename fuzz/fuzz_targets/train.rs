//! `Batcher`, `train`, `eval_perplexity` and `eval_held_out` on tiny corpora and budgets:
//! any corpus length (0 and 1 included) and ids (some `>= V`), `batch` and `time` of 0,
//! of a few, or whose product overflows, any number of epochs with a window limit (or a
//! few without), clipping thresholds and learning rates in or out of range. Checked:
//! - settings, corpus and ids are refused before the first window (the model keeps its
//!   bits), with a message that names what is wrong;
//! - a run does exactly the windows its budget allows, one `on_window` call each, and its
//!   statistics are finite (or the error says the gradient norm was not);
//! - perplexities are at least 1 (up to rounding) and leave no carried state;
//! - `Batcher::next_window` on a corpus shorter than the one it was made for is an `Err`
//!   that leaves the batcher where it was; its windows are the corpus at the documented
//!   offsets.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use recur::kernels::Float;
use recur::lm::{
    eval_held_out, eval_perplexity, train, Batcher, LmError, OptimizerKind, SimpleRnnlm,
    TrainConfig,
};
use recur_fuzz::Special;
use recur_testkit::Rng;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Size {
    Small(u8),
    Zero,
    /// Large enough that `batch · time` overflows.
    Huge,
}

impl Size {
    fn get(self) -> usize {
        match self {
            Size::Small(v) => 1 + v as usize % 5,
            Size::Zero => 0,
            Size::Huge => usize::MAX / 3,
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    v: u8,
    /// Corpus length (`% 120`).
    len: u8,
    seed: u64,
    /// Put an id `>= V` at this position.
    bad_id: Option<u8>,
    batch: Size,
    time: Size,
    /// Epochs: a few (`% 3`), or `usize::MAX` with a window limit.
    many_epochs: bool,
    epochs: u8,
    max_windows: Option<u8>,
    max_grad: Option<Result<u8, Special>>,
    adam: bool,
    lr: Result<u8, Special>,
    /// `next_window` with a corpus this much shorter.
    shorter: u8,
    f64: bool,
}

fn weights<T: Float>(m: &mut SimpleRnnlm<T>) -> Vec<u64> {
    m.param_array()
        .iter()
        .flat_map(|p| {
            p.value
                .iter()
                .map(|x| x.to_f64().to_bits())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn run<T: Float>(inp: &Input) {
    let v = 1 + inp.v as usize % 6;
    let len = inp.len as usize % 120;
    let mut rng = Rng::new(inp.seed);
    let mut corpus: Vec<u32> = (0..len).map(|_| rng.below(v) as u32).collect();
    let bad_at = inp.bad_id.map(|i| i as usize).filter(|&i| i < len);
    if let Some(i) = bad_at {
        corpus[i] = v as u32 + (i as u32 % 3);
    }
    let (batch, time) = (inp.batch.get(), inp.time.get());
    let max_windows = inp.max_windows.map(|w| w as usize % 6);
    let epochs = if inp.many_epochs && max_windows.is_some() {
        usize::MAX
    } else {
        inp.epochs as usize % 3
    };
    let hyper = |x: &Result<u8, Special>| match x {
        Ok(v) => (1.0 + f64::from(*v)) / 256.0,
        Err(s) => s.get(),
    };
    let max_grad = inp.max_grad.as_ref().map(hyper);
    let lr = hyper(&inp.lr);
    let cfg = TrainConfig {
        batch,
        time,
        epochs,
        max_grad,
        max_windows,
    };

    // The batcher alone.
    let window = batch.checked_mul(time);
    let fits = window.is_some_and(|w| batch > 0 && time > 0 && len > w);
    match Batcher::new(len, batch, time) {
        Ok(mut b) => {
            assert!(fits, "a batcher for {len} tokens of {batch} x {time}");
            let w = b.windows_per_epoch();
            assert_eq!(w, (len - 1) / (batch * time));
            let short = inp.shorter as usize % (len + 1);
            let mut fresh = Batcher::new(len, batch, time).expect("the same sizes");
            if short > 0 {
                assert!(b.next_window(&corpus[..len - short]).is_err());
            }
            let (xs, ts) = b.next_window(&corpus).expect("the corpus it was made for");
            let (xs, ts) = (xs.clone(), ts.clone());
            assert_eq!(fresh.next_window(&corpus).expect("same").0, &xs);
            let jump = (len - 1) / batch;
            for t in 0..time {
                for n in 0..batch {
                    let pos = (n * jump + t) % (len - 1);
                    assert_eq!((xs[[t, n]], ts[[t, n]]), (corpus[pos], corpus[pos + 1]));
                }
            }
        }
        Err(e) => {
            assert!(!fits, "{e}");
            assert!(
                e.to_string().contains("batch") || e.to_string().contains("tokens"),
                "{e}"
            );
        }
    }

    // train.
    let mut model = SimpleRnnlm::<T>::new(v, 3, 4, inp.seed).expect("tiny sizes");
    let kind = if inp.adam {
        OptimizerKind::Adam
    } else {
        OptimizerKind::Sgd
    };
    let typed_lr = T::from_f64(lr);
    let lr_ok = lr.is_finite() && lr > 0.0 && typed_lr.is_finite() && typed_lr > T::ZERO;
    match kind.build::<T>(lr) {
        Err(e) => {
            assert!(!lr_ok && e.to_string().contains("learning rate"), "{e}");
        }
        Ok(mut opt) => {
            assert!(lr_ok);
            let before = weights(&mut model);
            let mut calls = 0usize;
            let result = train(
                &mut model,
                &corpus,
                &cfg,
                &mut *opt,
                |w, run, loss| {
                    assert!(w < run);
                    assert!(!loss.is_nan() || max_grad.is_none(), "a NaN window loss");
                    calls += 1;
                },
                |s| assert!(s.seconds >= 0.0 && s.tokens_per_sec >= 0.0),
            );
            let grad_ok = max_grad.is_none_or(|m| m.is_finite() && m > 0.0);
            let valid = batch > 0 && time > 0 && grad_ok && fits && bad_at.is_none();
            match result {
                Ok(stats) => {
                    assert!(valid, "a bad run was accepted: {cfg:?}");
                    let per = (len - 1) / (batch * time);
                    let budget = max_windows.unwrap_or(usize::MAX);
                    let want = per.saturating_mul(epochs).min(budget);
                    assert_eq!(calls, want, "windows run");
                    let epochs_run = if per == 0 { 0 } else { want.div_ceil(per) };
                    assert_eq!(stats.len(), epochs_run.min(epochs));
                    for s in &stats {
                        assert!(s.loss.is_finite() && s.perplexity >= 1.0 - 1e-3, "{s:?}");
                    }
                }
                Err(e) => {
                    let msg = e.to_string();
                    if valid {
                        // Only a gradient norm that is not finite stops a valid run.
                        assert!(matches!(e, LmError::Layer(_)), "{msg}");
                        assert!(msg.contains("norm") || msg.contains("finite"), "{msg}");
                    } else {
                        assert_eq!(calls, 0, "a bad run started: {msg}");
                        assert_eq!(
                            weights(&mut model),
                            before,
                            "a refused run changed the model"
                        );
                    }
                }
            }
        }
    }

    // Perplexity.
    let mut model = SimpleRnnlm::<T>::new(v, 3, 4, inp.seed).expect("tiny sizes");
    let (b, t) = (batch.min(4), time.min(4));
    match eval_perplexity(&mut model, &corpus, b, t) {
        Ok(p) => {
            assert!(bad_at.is_none() && b > 0 && t > 0 && len > b * t);
            assert!(p >= 1.0 - 1e-3 && p.is_finite(), "perplexity {p}");
            assert!(
                model.rnn.state().is_none(),
                "a carried state after eval_perplexity"
            );
        }
        Err(e) => assert!(bad_at.is_some() || b == 0 || t == 0 || len <= b * t, "{e}"),
    }
    match eval_held_out(&mut model, &corpus) {
        Ok(p) => {
            assert!(bad_at.is_none() && len >= 2);
            assert!(p >= 1.0 - 1e-3 && p.is_finite(), "held-out perplexity {p}");
        }
        Err(e) => assert!(bad_at.is_some() || len < 2, "{e}"),
    }
}

fuzz_target!(|inp: Input| {
    if inp.f64 {
        run::<f64>(&inp);
    } else {
        run::<f32>(&inp);
    }
});
