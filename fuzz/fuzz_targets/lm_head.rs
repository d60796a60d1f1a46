//! The fused language-model head `LmHead` with arbitrary small `(T, N, H, V)`: `hs` in any
//! layout (permuted, reversed, strided, broadcast) with NaN and infinities, targets of the
//! wrong shape or beyond `V`, the ignore label, row blocks of any size, any parallelism,
//! weight updates through `param_array` between calls, and `forward`, `evaluate`,
//! `scores` and `backward` in any order. Each call is an `Err` that changes nothing, or
//! agrees with an `f64` model: the mean of `logsumexp(s) − s[target]` over the counted
//! rows of `s = hs·W + b`; `evaluate` gives the bits of `forward`; backward is
//! `dS = dout·(softmax − onehot)/count` (of the forward's weights), `dW = HSᵀ·dS`,
//! `db = Σ dS`, `dHS = dS·Wᵀ` (of the weights at the backward).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use recur::kernels::{Error, Float, Parallelism};
use recur::layers::ndarray::{Array1, Array2};
use recur::layers::LmHead;
use recur_fuzz::{bits, close, entry, Dim, Layout3, Special};
use recur_testkit::Rng;

#[derive(Arbitrary, Debug)]
struct Batch {
    t: u8,
    n: u8,
    /// Nonzero: `hs` with another H, or targets of another `(T, N)`.
    dh: i8,
    dt: i8,
    dn: i8,
    layout: Layout3,
    seed: u64,
    /// Targets; a position beyond this list gets `(t·N + n) % V`.
    targets: Vec<u32>,
    specials: Vec<(u16, Special)>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Forward(Batch),
    Evaluate(Batch),
    Scores(Batch),
    Backward(i8),
    BlockRows(Dim),
    Threads(u8),
    /// `w -= step · grad_w`, `b -= step · grad_b` through `param_array`.
    Update(i8),
}

#[derive(Arbitrary, Debug)]
struct Input {
    h: u8,
    v: u8,
    /// `w` built column-major (any memory order is accepted).
    w_transposed: bool,
    /// A bias one longer than `V`.
    b_wrong: bool,
    ignore: Option<u32>,
    seed: u64,
    f64: bool,
    ops: Vec<Op>,
}

/// The last successful forward, in f64: `hs (rows, H)`, targets, the `dS` it kept (for
/// `dout = 1`) and what counted.
struct Last {
    t: usize,
    n: usize,
    hs: Vec<f64>,
    ds: Vec<f64>,
    degenerate: bool,
    /// A bound on `|s|` (rounding of the scores, and so of `dS`, is relative to it).
    mag: f64,
}

/// `(per-row loss terms, dS for dout = 1, whether a counted row had a non-finite score)`
/// of scores `s (rows, V)` against `targets`.
fn softmax_ce(
    s: &[f64],
    v: usize,
    targets: &[u32],
    ignore: Option<u32>,
) -> (Vec<f64>, Vec<f64>, bool) {
    let count = targets.iter().filter(|&&x| Some(x) != ignore).count();
    let mut terms = Vec::new();
    let mut ds = vec![0.0; s.len()];
    let mut degenerate = false;
    for (r, &target) in targets.iter().enumerate() {
        let row = &s[r * v..(r + 1) * v];
        if Some(target) == ignore {
            terms.push(0.0);
            continue;
        }
        degenerate |= row.iter().any(|x| !x.is_finite());
        let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = row.iter().map(|x| (x - max).exp()).collect();
        let sum: f64 = e.iter().sum();
        terms.push(sum.ln() - (row[target as usize] - max));
        for j in 0..v {
            let onehot = f64::from(u8::from(j == target as usize));
            ds[r * v + j] = (e[j] / sum - onehot) / count as f64;
        }
    }
    (terms, ds, degenerate)
}

fn run<T: Float>(inp: &Input) {
    let eps = T::EPSILON.to_f64();
    let (h, v) = (inp.h as usize % 6, inp.v as usize % 12);
    let mut rng = Rng::new(inp.seed);
    let w0 = Array2::from_shape_simple_fn((h, v), || T::from_f64(entry(&mut rng) - 1.0));
    let w0 = if inp.w_transposed {
        w0.t().as_standard_layout().t().to_owned()
    } else {
        w0
    };
    let b0 = Array1::from_shape_simple_fn(v + usize::from(inp.b_wrong), || {
        T::from_f64(entry(&mut rng) - 1.0)
    });
    let mut head = match LmHead::new(w0, b0) {
        Ok(head) => {
            assert!(!inp.b_wrong, "a bias of length V + 1 accepted");
            head.with_ignore_label(inp.ignore)
        }
        Err(e) => {
            assert!(inp.b_wrong && e.to_string().contains("`b`"), "{e}");
            return;
        }
    };
    assert_eq!((head.input_size(), head.output_size()), (h, v));
    let mut last: Option<Last> = None;
    for op in inp.ops.iter().take(8) {
        let w = head.w().mapv(|x| x.to_f64());
        let b = head.b().mapv(|x| x.to_f64());
        let state_before = (
            bits(head.w().iter()),
            bits(head.b().iter()),
            bits(head.grad_w().iter()),
            bits(head.grad_b().iter()),
            head.count(),
        );
        let state = |head: &LmHead<T>| {
            (
                bits(head.w().iter()),
                bits(head.b().iter()),
                bits(head.grad_w().iter()),
                bits(head.grad_b().iter()),
                head.count(),
            )
        };
        match op {
            Op::Forward(batch) | Op::Evaluate(batch) | Op::Scores(batch) => {
                let dim = (batch.t as usize % 4, batch.n as usize % 4);
                let hh = (h as isize + batch.dh as isize % 2).max(0) as usize;
                let tdim = (
                    (dim.0 as isize + batch.dt as isize % 2).max(0) as usize,
                    (dim.1 as isize + batch.dn as isize % 2).max(0) as usize,
                );
                let mut r = Rng::new(batch.seed);
                let mut storage = batch
                    .layout
                    .storage((dim.0, dim.1, hh), || T::from_f64(entry(&mut r) - 1.0));
                let len = storage.len();
                for &(i, sp) in batch.specials.iter().take(2) {
                    if len > 0 {
                        storage.as_slice_mut().expect("standard")[i as usize % len] =
                            T::from_f64(sp.get());
                    }
                }
                let hs = batch.layout.view(&storage, (dim.0, dim.1, hh));
                let tg = Array2::from_shape_fn(tdim, |(a, c)| {
                    batch
                        .targets
                        .get(a * tdim.1 + c)
                        .map_or(((a * tdim.1 + c) % v.max(1)) as u32, |&x| {
                            x % (v as u32 + 2)
                        })
                });
                let ignore = head.ignore_label();
                let bad_h = hh != h;
                let bad_shape = tdim != dim;
                let bad_id = tg.iter().any(|&x| Some(x) != ignore && x as usize >= v);
                let rows = dim.0 * dim.1;
                let hs64: Vec<f64> = hs.iter().map(|x| x.to_f64()).collect();
                // s = hs·W + b in f64, and a bound on the rounding of each score.
                let mut s = vec![0.0; rows * v];
                let mut mag = 0.0f64;
                if !bad_h {
                    for row in 0..rows {
                        for j in 0..v {
                            let mut acc = b[j];
                            let mut m = b[j].abs();
                            for k in 0..h {
                                acc += hs64[row * h + k] * w[[k, j]];
                                m += (hs64[row * h + k] * w[[k, j]]).abs();
                            }
                            s[row * v + j] = acc;
                            mag = mag.max(m);
                        }
                    }
                }
                if let Op::Scores(_) = op {
                    match head.scores(hs) {
                        Ok(got) => {
                            assert!(!bad_h, "hs of the wrong width accepted");
                            assert_eq!(got.dim(), (dim.0, dim.1, v));
                            for (&g, &want) in got.iter().zip(&s) {
                                let tol = 4.0 * (h as f64 + 1.0) * eps * mag;
                                if want.is_finite() {
                                    assert!(close(g.to_f64(), want, tol), "score {g} vs {want}");
                                }
                            }
                        }
                        Err(e) => {
                            assert!(bad_h && e.to_string().contains("`hs`"), "{e}");
                        }
                    }
                    assert_eq!(state(&head), state_before, "scores changed the head");
                    continue;
                }
                let targets: Vec<u32> = tg.iter().copied().collect();
                let evaluate = matches!(op, Op::Evaluate(_));
                let result = if evaluate {
                    head.evaluate(hs, tg.view())
                } else {
                    head.forward(hs, tg.view())
                };
                match result {
                    Ok(got) => {
                        assert!(!bad_h && !bad_shape && !bad_id, "bad input accepted");
                        let (terms, ds, degenerate) = softmax_ce(&s, v, &targets, ignore);
                        let count = targets.iter().filter(|&&x| Some(x) != ignore).count();
                        let want = if count == 0 {
                            0.0
                        } else {
                            terms.iter().sum::<f64>() / count as f64
                        };
                        let got64 = got.to_f64();
                        let tol = 16.0 * (v as f64 + h as f64 + 4.0) * eps * (1.0 + 2.0 * mag);
                        if want.is_finite() && !degenerate {
                            assert!(
                                close(got64, want, tol),
                                "loss {got64} want {want} (tol {tol})"
                            );
                        } else if count > 0 {
                            assert!(!got64.is_finite(), "loss {got64} want {want}");
                        }
                        if evaluate {
                            assert_eq!(state(&head), state_before, "evaluate changed the head");
                        } else {
                            assert_eq!(head.count(), count);
                            last = Some(Last {
                                t: dim.0,
                                n: dim.1,
                                hs: hs64,
                                ds,
                                degenerate,
                                mag,
                            });
                            // Evaluation of the same batch gives the same bits.
                            let again = head.evaluate(hs, tg.view()).expect("valid batch");
                            assert_eq!(
                                again.to_f64().to_bits(),
                                got64.to_bits(),
                                "evaluate {again} vs forward {got64}"
                            );
                        }
                    }
                    Err(e) => {
                        let msg = e.to_string();
                        if bad_h {
                            assert!(msg.contains("`hs`"), "{msg}");
                        } else if bad_shape {
                            assert!(matches!(e, Error::ShapeMismatch { .. }), "{msg}");
                            assert!(msg.contains("`targets`"), "{msg}");
                        } else {
                            assert!(
                                bad_id && matches!(e, Error::IndexOutOfRange { .. }),
                                "{msg}"
                            );
                            assert!(msg.contains("`targets`"), "{msg}");
                        }
                        assert_eq!(state(&head), state_before, "a failed call changed the head");
                    }
                }
            }
            Op::Backward(dout) => {
                let dout = f64::from(*dout) / 4.0;
                match (head.backward(T::from_f64(dout)), &last) {
                    (Ok(dhs), Some(l)) => {
                        let rows = l.t * l.n;
                        assert_eq!(dhs.dim(), (l.t, l.n, h));
                        let dhs: Vec<f64> = dhs.iter().map(|x| x.to_f64()).collect();
                        if l.degenerate || l.hs.iter().any(|x| !x.is_finite()) {
                            continue;
                        }
                        let tol =
                            16.0 * (rows as f64 + h as f64 + v as f64 + 4.0) * eps * (1.0 + l.mag);
                        let wmax = w.iter().fold(1.0f64, |m, x| m.max(x.abs()));
                        let hmax = l.hs.iter().fold(1.0f64, |m, x| m.max(x.abs()));
                        for row in 0..rows {
                            for k in 0..h {
                                let want: f64 =
                                    (0..v).map(|j| dout * l.ds[row * v + j] * w[[k, j]]).sum();
                                let got = dhs[row * h + k];
                                let t = tol * dout.abs() * wmax * v as f64;
                                assert!(close(got, want, t), "dhs {got} vs {want} (tol {t})");
                            }
                        }
                        let gw = head.grad_w();
                        for k in 0..h {
                            for j in 0..v {
                                let want: f64 = (0..rows)
                                    .map(|r| dout * l.hs[r * h + k] * l.ds[r * v + j])
                                    .sum();
                                let got = gw[[k, j]].to_f64();
                                let t = tol * dout.abs() * hmax * rows.max(1) as f64;
                                assert!(close(got, want, t), "dW {got} vs {want} (tol {t})");
                            }
                        }
                        for j in 0..v {
                            let want: f64 = (0..rows).map(|r| dout * l.ds[r * v + j]).sum();
                            let got = head.grad_b()[j].to_f64();
                            let t = tol * dout.abs() * rows.max(1) as f64;
                            assert!(close(got, want, t), "db {got} vs {want} (tol {t})");
                        }
                    }
                    (Ok(_), None) => panic!("backward before forward accepted"),
                    (Err(e), None) => assert!(matches!(e, Error::InvalidState { .. }), "{e}"),
                    (Err(e), Some(_)) => panic!("backward after a forward refused: {e}"),
                }
            }
            Op::BlockRows(rows) => {
                let rows = rows.get();
                match head.set_block_rows(rows) {
                    Ok(()) => assert!(rows > 0),
                    Err(e) => {
                        assert!(rows == 0 && e.to_string().contains("`rows`"), "{e}");
                        assert_eq!(state(&head), state_before);
                    }
                }
            }
            Op::Threads(t) => head.set_parallelism(match t % 3 {
                0 => Parallelism::Auto,
                1 => Parallelism::Serial,
                _ => Parallelism::Rayon(usize::from(*t % 5)),
            }),
            Op::Update(step) => {
                let step = T::from_f64(f64::from(*step) / 64.0);
                for p in head.param_array() {
                    let mut value = p.value;
                    value.zip_mut_with(&p.grad, |x, &g| *x -= step * g);
                }
                // The next forward packs the new W: the model reads the weights again.
            }
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
