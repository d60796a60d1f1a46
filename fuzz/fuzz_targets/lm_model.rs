//! `SimpleRnnlm` call sequences: `forward`, `evaluate`, `scores`, `backward`,
//! `train_step` (SGD or Adam, clipping or not, hyperparameters in or out of range),
//! `reset_state`, `rnn.set_state` (any shape, NaN) and `set_parallelism`, in any order,
//! with ids beyond `V`, targets of the wrong shape and batches whose `N` differs from the
//! carried state's. Checked on every call:
//! - an `Err` changes nothing: the weights, the gradients and the carried state keep their
//!   bits, and a `backward` after it gives the bits of a `backward` on a copy of the model
//!   taken before the failing call;
//! - `evaluate` gives the bits of `forward` (on a copy) and carries the same state;
//! - the loss of `forward` agrees with the `f64` softmax cross-entropy of `scores` (on a
//!   copy);
//! - a model that runs on one thread and a model that runs on two give the same bits.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use recur::kernels::{Error, Float, Parallelism};
use recur::layers::ndarray::Array2;
use recur::layers::{Adam, Optimizer, Sgd};
use recur::lm::SimpleRnnlm;
use recur_fuzz::{bits, close, Special};
use recur_testkit::Rng;

#[derive(Arbitrary, Debug)]
struct Window {
    t: u8,
    n: u8,
    /// Nonzero: targets of another `(T, N)`.
    dt: i8,
    seed: u64,
    /// Put one id `>= V` into the inputs (`Some(false)`) or the targets (`Some(true)`).
    bad_id: Option<bool>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Forward(Window),
    Evaluate(Window),
    Scores(Window),
    Backward,
    Step {
        window: Window,
        adam: bool,
        /// A valid learning rate (`(1 + v) / 256`) or a bad one.
        lr: Result<u8, Special>,
        max_grad: Option<Result<u8, Special>>,
    },
    Reset,
    SetState {
        n: u8,
        /// A width other than H.
        wrong: bool,
        special: Option<Special>,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    v: u8,
    d: u8,
    h: u8,
    seed: u64,
    f64: bool,
    ops: Vec<Op>,
}

/// Every weight, every gradient and the carried state, as bits.
fn snapshot<T: Float>(m: &mut SimpleRnnlm<T>) -> Vec<Vec<u64>> {
    let mut out: Vec<Vec<u64>> = m
        .param_array()
        .iter()
        .flat_map(|p| [bits(p.value.iter()), bits(p.grad.iter())])
        .collect();
    out.push(m.rnn.state().map_or_else(Vec::new, |s| bits(s.iter())));
    out.push(vec![m.rnn.state().map_or(u64::MAX, |s| s.nrows() as u64)]);
    out
}

/// The ids of a window, `(T, N)` inputs and targets.
fn window(w: &Window, v: usize) -> (Array2<u32>, Array2<u32>) {
    let dim = (w.t as usize % 4, 1 + w.n as usize % 3);
    let tdim = ((dim.0 as isize + w.dt as isize % 2).max(0) as usize, dim.1);
    let mut rng = Rng::new(w.seed);
    let mut id = || rng.below(v) as u32;
    let mut xs = Array2::from_shape_simple_fn(dim, &mut id);
    let mut ts = Array2::from_shape_simple_fn(tdim, &mut id);
    match w.bad_id {
        Some(false) if !xs.is_empty() => xs[[0, 0]] = v as u32,
        Some(true) if !ts.is_empty() => ts[[0, 0]] = v as u32 + 1,
        _ => {}
    }
    (xs, ts)
}

/// `Σ (logsumexp(s) − s[target]) / count` in f64, over every position.
fn loss_of<T: Float>(scores: &recur::layers::ndarray::ArrayView3<'_, T>, ts: &Array2<u32>) -> f64 {
    let (t_len, n, v) = scores.dim();
    let mut total = 0.0;
    for a in 0..t_len {
        for b in 0..n {
            let row: Vec<f64> = (0..v).map(|j| scores[[a, b, j]].to_f64()).collect();
            let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = row.iter().map(|x| (x - max).exp()).sum();
            total += sum.ln() - (row[ts[[a, b]] as usize] - max);
        }
    }
    if t_len * n == 0 {
        0.0
    } else {
        total / (t_len * n) as f64
    }
}

fn run<T: Float>(inp: &Input) {
    let (v, d, h) = (
        1 + inp.v as usize % 7,
        inp.d as usize % 4,
        inp.h as usize % 5,
    );
    let mut one = SimpleRnnlm::<T>::new(v, d, h, inp.seed).expect("tiny sizes");
    one.set_parallelism(Parallelism::Serial);
    let mut two = one.clone();
    two.set_parallelism(Parallelism::Rayon(2));
    let (mut sgd1, mut sgd2) = (Sgd::new(T::from_f64(0.1)), Sgd::new(T::from_f64(0.1)));
    let (mut adam1, mut adam2) = (Adam::new(T::from_f64(0.01)), Adam::new(T::from_f64(0.01)));
    for op in inp.ops.iter().take(8) {
        let before = one.clone();
        let snap = snapshot(&mut one);
        let state_n = one.rnn.state().map(|s| s.nrows());
        // The op on both models; `Err` must agree too.
        let (r1, r2): (Result<Option<u64>, Error>, Result<Option<u64>, Error>) = match op {
            Op::Forward(w) | Op::Evaluate(w) => {
                let (xs, ts) = window(w, v);
                let eval = matches!(op, Op::Evaluate(_));
                let f = |m: &mut SimpleRnnlm<T>| {
                    let r = if eval {
                        m.evaluate(xs.view(), ts.view())
                    } else {
                        m.forward(xs.view(), ts.view())
                    };
                    r.map(|l| Some(l.to_f64().to_bits()))
                };
                let (r1, r2) = (f(&mut one), f(&mut two));
                if let Ok(Some(loss)) = r1 {
                    // forward and evaluate: the same bits, and the same state carried.
                    let mut other = before.clone();
                    let l = if eval {
                        other.forward(xs.view(), ts.view())
                    } else {
                        other.evaluate(xs.view(), ts.view())
                    }
                    .expect("the same window");
                    assert_eq!(l.to_f64().to_bits(), loss, "evaluate vs forward");
                    assert_eq!(snapshot(&mut other)[12..], snapshot(&mut one)[12..]);
                    // The loss of the scores, in f64.
                    let mut other = before.clone();
                    let s = other.scores(xs.view()).expect("the same inputs");
                    let want = loss_of(&s, &ts);
                    let mag = s.iter().fold(1.0f64, |m, x| m.max(x.to_f64().abs()));
                    let tol = 64.0 * (v + h + 4) as f64 * T::EPSILON.to_f64() * mag;
                    let got = f64::from_bits(loss);
                    assert!(close(got, want, tol), "loss {got} vs {want} from scores");
                }
                (r1, r2)
            }
            Op::Scores(w) => {
                let (xs, _) = window(w, v);
                let f = |m: &mut SimpleRnnlm<T>| {
                    m.scores(xs.view()).map(|s| {
                        assert_eq!(s.dim(), (xs.nrows(), xs.ncols(), v));
                        Some(
                            bits(s.iter())
                                .iter()
                                .fold(0u64, |a, &b| a.rotate_left(7) ^ b),
                        )
                    })
                };
                (f(&mut one), f(&mut two))
            }
            Op::Backward => (one.backward().map(|()| None), two.backward().map(|()| None)),
            Op::Step {
                window: w,
                adam,
                lr,
                max_grad,
            } => {
                let (xs, ts) = window(w, v);
                let hyper = |x: &Result<u8, Special>| match x {
                    Ok(v) => T::from_f64((1.0 + f64::from(*v)) / 256.0),
                    Err(s) => T::from_f64(s.get()),
                };
                let lr = hyper(lr);
                let max = max_grad.as_ref().map(hyper);
                let step = |m: &mut SimpleRnnlm<T>, opt: &mut dyn Optimizer<T>| {
                    m.train_step(xs.view(), ts.view(), max, opt)
                        .map(|l| Some(l.to_f64().to_bits()))
                };
                if *adam {
                    adam1.lr = lr;
                    adam2.lr = lr;
                    (step(&mut one, &mut adam1), step(&mut two, &mut adam2))
                } else {
                    sgd1.lr = lr;
                    sgd2.lr = lr;
                    (step(&mut one, &mut sgd1), step(&mut two, &mut sgd2))
                }
            }
            Op::Reset => {
                one.reset_state();
                two.reset_state();
                assert!(one.rnn.state().is_none());
                (Ok(None), Ok(None))
            }
            Op::SetState { n, wrong, special } => {
                let n = *n as usize % 4;
                let width = h + usize::from(*wrong);
                let mut s = Array2::from_shape_fn((n, width), |(i, j)| {
                    T::from_f64((i as f64 - j as f64) / 8.0)
                });
                if let (Some(sp), Some(x)) = (special, s.iter_mut().next()) {
                    *x = T::from_f64(sp.get());
                }
                let f = |m: &mut SimpleRnnlm<T>| m.rnn.set_state(s.view()).map(|()| None);
                let (r1, r2) = (f(&mut one), f(&mut two));
                match &r1 {
                    Ok(_) => assert!(!wrong),
                    Err(e) => assert!(*wrong && e.to_string().contains("`h`"), "{e}"),
                }
                (r1, r2)
            }
        };
        match (&r1, &r2) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "one thread and two differ: {op:?}"),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
            _ => panic!("one thread and two disagree: {r1:?} vs {r2:?}"),
        }
        assert_eq!(snapshot(&mut one), snapshot(&mut two), "{op:?}");
        if let Err(e) = &r1 {
            let msg = e.to_string();
            assert!(!msg.is_empty());
            // A train step may fail after its forward (a non-finite norm, a bad
            // hyperparameter): it then says so, and the weights are not updated.
            let step_failed_late = matches!(op, Op::Step { .. })
                && !matches!(
                    e,
                    Error::IndexOutOfRange { .. } | Error::ShapeMismatch { .. }
                );
            if step_failed_late {
                let after = snapshot(&mut one);
                for (i, (a, b)) in after.iter().zip(&snap).enumerate().take(12) {
                    if i % 2 == 0 {
                        assert_eq!(a, b, "a failed step changed a weight");
                    }
                }
                continue;
            }
            if matches!(op, Op::Backward) {
                assert!(matches!(e, Error::InvalidState { .. }), "{msg}");
            }
            assert_eq!(
                snapshot(&mut one),
                snap,
                "a failed {op:?} changed the model: {msg}"
            );
            assert_eq!(one.rnn.state().map(|s| s.nrows()), state_n);
            // What the next backward computes is what it was.
            let mut copy = before.clone();
            match (copy.backward(), one.backward()) {
                (Ok(()), Ok(())) => assert_eq!(snapshot(&mut copy), snapshot(&mut one)),
                (Err(_), Err(_)) => {}
                (a, b) => panic!("backward after a failed call: {a:?} vs {b:?}"),
            }
            two.backward().ok();
        }
    }
}

fuzz_target!(|inp: Input| {
    if inp.f64 {
        run::<f64>(&inp);
    } else {
        run::<f32>(&inp);
    }
});
