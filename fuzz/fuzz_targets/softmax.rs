//! `SoftmaxCrossEntropy` with arbitrary small `(T, N, V)`, scores in any layout (permuted,
//! reversed, strided, broadcast) with NaN and infinities, targets of any shape with ids
//! beyond `V`, and `with_ignore_label` (the builder) called between forward and backward:
//! each call is an `Err` that changes nothing, or agrees with an `f64` model (the mean of
//! `logsumexp(s) − s[target]` over the positions the forward counted; the backward is
//! `dout·(softmax − onehot)/count` on those positions, zero elsewhere, whatever the label
//! is by then).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use recur::kernels::{Error, Float};
use recur::layers::ndarray::{Array2, Array3};
use recur::layers::SoftmaxCrossEntropy;
use recur_fuzz::{bits, close, entry, Layout3, Special};
use recur_testkit::Rng;

#[derive(Arbitrary, Debug)]
enum Op {
    Forward {
        t: u8,
        n: u8,
        v: u8,
        /// Nonzero: targets of another `(T, N)`.
        dt: i8,
        dn: i8,
        layout: Layout3,
        /// Scores times `2^scale` (large ones test the stable log-sum-exp).
        scale: u8,
        seed: u64,
        /// Targets; a position beyond this list gets `(t·N + n) % V`.
        targets: Vec<u32>,
        specials: Vec<(u16, Special)>,
    },
    Backward {
        dout: i8,
    },
    /// `with_ignore_label`, between any two calls.
    Relabel(Option<u32>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    ignore: Option<u32>,
    f64: bool,
    ops: Vec<Op>,
}

/// What the model keeps of the last successful forward: the scores `(T, N, V)` in f64,
/// the targets, and the label it ignored.
struct Last {
    scores: Array3<f64>,
    targets: Array2<u32>,
    ignore: Option<u32>,
}

impl Last {
    fn counted(&self, t: usize, n: usize) -> bool {
        Some(self.targets[[t, n]]) != self.ignore
    }
    fn count(&self) -> usize {
        self.targets
            .iter()
            .filter(|&&x| Some(x) != self.ignore)
            .count()
    }
    /// `(softmax of row (t, n), its loss term)`, in f64 with the same max shift.
    fn row(&self, t: usize, n: usize) -> (Vec<f64>, f64) {
        let row: Vec<f64> = (0..self.scores.dim().2)
            .map(|j| self.scores[[t, n, j]])
            .collect();
        let max = row
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, |m, x| if x > m { x } else { m });
        let max = if max.is_finite() { max } else { 0.0 };
        let e: Vec<f64> = row.iter().map(|x| (x - max).exp()).collect();
        let sum: f64 = e.iter().sum();
        let target = self.targets[[t, n]] as usize;
        let term = if self.counted(t, n) {
            sum.ln() - (row[target] - max)
        } else {
            0.0
        };
        (e.iter().map(|x| x / sum).collect(), term)
    }
}

fn run<T: Float>(inp: &Input) {
    let eps = T::EPSILON.to_f64();
    let mut loss = SoftmaxCrossEntropy::<T>::new().with_ignore_label(inp.ignore);
    let mut ignore = inp.ignore;
    let mut last: Option<Last> = None;
    for op in inp.ops.iter().take(8) {
        match op {
            Op::Forward {
                t,
                n,
                v,
                dt,
                dn,
                layout,
                scale,
                seed,
                targets,
                specials,
            } => {
                let dim = (*t as usize % 4, *n as usize % 4, *v as usize % 6);
                let tdim = (
                    (dim.0 as isize + *dt as isize % 2).max(0) as usize,
                    (dim.1 as isize + *dn as isize % 2).max(0) as usize,
                );
                let mut rng = Rng::new(*seed);
                let k = 2f64.powi(i32::from(*scale % 12));
                let mut storage = layout.storage(dim, || T::from_f64((entry(&mut rng) - 1.0) * k));
                let count = storage.len();
                for &(i, sp) in specials.iter().take(2) {
                    if count > 0 {
                        let i = i as usize % count;
                        storage.as_slice_mut().expect("contiguous")[i] = T::from_f64(sp.get());
                    }
                }
                let view = layout.view(&storage, dim);
                let tg = Array2::from_shape_fn(tdim, |(a, b)| {
                    targets
                        .get(a * tdim.1 + b)
                        .map_or(((a * tdim.1 + b) % dim.2.max(1)) as u32, |&x| {
                            x % (dim.2 as u32 + 2)
                        })
                });
                let probs_before = loss.probs().map(|p| bits(p.iter()));
                let count_before = loss.count();
                let bad_shape = tdim != (dim.0, dim.1);
                let bad_id = tg.iter().any(|&x| Some(x) != ignore && x as usize >= dim.2);
                match loss.forward(view, tg.view()) {
                    Ok(got) => {
                        assert!(!bad_shape && !bad_id, "bad targets accepted");
                        let model = Last {
                            scores: view.mapv(|x| x.to_f64()),
                            targets: tg,
                            ignore,
                        };
                        let c = model.count();
                        assert_eq!(loss.count(), c);
                        let mut total = 0.0;
                        let mut mag = 0.0;
                        for a in 0..dim.0 {
                            for b in 0..dim.1 {
                                let (_, term) = model.row(a, b);
                                total += term;
                                mag += term.abs() + k * 4.0;
                            }
                        }
                        let want = if c == 0 { 0.0 } else { total / c as f64 };
                        let tol = 16.0 * (dim.2 as f64 + 4.0) * eps * (1.0 + mag / c.max(1) as f64);
                        let got = got.to_f64();
                        // A non-finite score makes its term NaN or infinite; which one
                        // depends on the order of IEEE operations, so only its class counts.
                        if want.is_finite() {
                            assert!(close(got, want, tol), "loss {got} want {want} (tol {tol})");
                        } else {
                            assert!(!got.is_finite(), "loss {got} want {want}");
                        }
                        last = Some(model);
                    }
                    Err(e) => {
                        let msg = e.to_string();
                        if bad_shape {
                            assert!(matches!(e, Error::ShapeMismatch { .. }), "{msg}");
                        } else {
                            assert!(
                                bad_id && matches!(e, Error::IndexOutOfRange { .. }),
                                "{msg}"
                            );
                        }
                        assert!(msg.contains("`targets`"), "{msg}");
                        assert_eq!(loss.probs().map(|p| bits(p.iter())), probs_before);
                        assert_eq!(loss.count(), count_before);
                    }
                }
            }
            Op::Backward { dout } => {
                let dout = f64::from(*dout) / 4.0;
                match (loss.backward(T::from_f64(dout)), &last) {
                    (Ok(g), Some(m)) => {
                        assert_eq!(g.dim(), m.scores.dim());
                        let c = m.count();
                        for a in 0..g.dim().0 {
                            for b in 0..g.dim().1 {
                                let (p, _) = m.row(a, b);
                                // A row with NaN or +inf has no finite maximum to shift by:
                                // its exponentials overflow in T where f64's may not.
                                let degenerate = (0..p.len()).any(|j| {
                                    let x = m.scores[[a, b, j]];
                                    x.is_nan() || x == f64::INFINITY
                                });
                                for (j, &pj) in p.iter().enumerate() {
                                    let got = g[[a, b, j]].to_f64();
                                    if !m.counted(a, b) {
                                        assert_eq!(got, 0.0, "ignored position [{a}, {b}]");
                                        continue;
                                    }
                                    let onehot =
                                        f64::from(u8::from(j == m.targets[[a, b]] as usize));
                                    let want = dout * (pj - onehot) / c as f64;
                                    let tol =
                                        16.0 * (p.len() as f64 + 4.0) * eps * dout.abs() / c as f64;
                                    if want.is_finite() && !degenerate {
                                        assert!(
                                            close(got, want, tol),
                                            "grad [{a}, {b}, {j}] = {got} want {want}"
                                        );
                                    }
                                }
                            }
                        }
                    }
                    (Ok(_), None) => panic!("backward before forward accepted"),
                    (Err(e), None) => assert!(matches!(e, Error::InvalidState { .. }), "{e}"),
                    (Err(e), Some(_)) => panic!("backward after a forward refused: {e}"),
                }
            }
            Op::Relabel(label) => {
                loss = loss.with_ignore_label(*label);
                ignore = *label;
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
