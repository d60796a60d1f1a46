//! The checker itself: its verdict (no false pass of the 2e-9-against-1e-9 kind, no false
//! failure on a large loss sum), sampling, mutants on every layer and dtype, the fast mode,
//! diagnoses, probes, and errors instead of panics on bad input.

use recur_check::diagnose::{diagnose, Diagnosis};
use recur_check::harness::{EmbeddingCheck, SoftmaxCheck, TimeAffineCheck, TimeRnnCheck};
use recur_check::mutants::{run_mutants, Mutant, MutantOutcome, Mutated, MutationReport};
use recur_check::ndarray::{array, Array1, Array2, Array3, ArrayD, ArrayViewMutD};
use recur_check::probes::{
    probe_determinism, probe_stateful_windows, probe_threads, probe_tiers, Problem,
};
use recur_check::{
    check_directions, check_directions_with_twin, check_gradients, check_with_twin, reference,
    CheckError, CheckOptions, FastOptions, FdOptions, GradCheck, Loss, Sampling, Tolerance,
    Verdict,
};
use recur_layers::{Embedding, Error, Parallelism, TimeAffine};
use std::convert::Infallible;

fn val(seed: u64, i: usize) -> f64 {
    let x = (seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_mul(0xD6E8_FEB8_6659_FD93)
        >> 11;
    x as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

fn rnn(t: usize, n: usize, d: usize, h: usize, seed: u64, h0: bool) -> TimeRnnCheck<f64> {
    TimeRnnCheck::new(
        Array2::from_shape_fn((d, h), |(a, b)| 0.6 * val(seed, a * h + b)),
        Array2::from_shape_fn((h, h), |(a, b)| 0.6 * val(seed, 10_000 + a * h + b)),
        Array1::from_shape_fn(h, |a| 0.3 * val(seed, 20_000 + a)),
        Array3::from_shape_fn((t, n, d), |(a, b, c)| {
            val(seed, 30_000 + (a * n + b) * d + c)
        }),
        h0.then(|| Array2::from_shape_fn((n, h), |(a, b)| 0.5 * val(seed, 40_000 + a * h + b))),
        Array3::from_shape_fn((t, n, h), |(a, b, c)| {
            val(seed, 50_000 + (a * n + b) * h + c)
        }),
        false,
    )
    .unwrap()
}

/// A closed-form model: `L = Σ_k c_k·x_k` plus `big` terms that do not depend on `x`
/// but set the loss's magnitude; its analytic gradient is `claimed`.
struct Linear {
    x: Array1<f64>,
    c: Vec<f64>,
    claimed: Vec<f64>,
}

impl GradCheck for Linear {
    type Elem = f64;
    type Error = Infallible;
    fn tensor_names(&self) -> Vec<String> {
        vec!["x".into()]
    }
    fn tensor_mut(&mut self, i: usize) -> Option<ArrayViewMutD<'_, f64>> {
        (i == 0).then(|| self.x.view_mut().into_dyn())
    }
    fn loss(&mut self) -> Result<Loss, Infallible> {
        Ok(Loss::from_terms(
            self.x.iter().zip(&self.c).map(|(x, c)| x * c),
        ))
    }
    fn gradients(&mut self) -> Result<Vec<ArrayD<f64>>, Infallible> {
        Ok(vec![Array1::from(self.claimed.clone()).into_dyn()])
    }
}

/// The criterion recur-check had before issue 16.
fn old_criterion() -> CheckOptions {
    CheckOptions {
        tol: Some(Tolerance {
            rtol: 1e-6,
            atol: 1e-9,
            safety: 0.0,
            analytic_ulps: 0.0,
            inconclusive: 1.0,
        }),
        ..CheckOptions::default()
    }
}

#[test]
fn two_e_minus_9_against_one_e_minus_9_fails() {
    let mut m = Linear {
        x: array![0.3, -0.2],
        c: vec![1e-9, 1.0],
        claimed: vec![2e-9, 1.0],
    };
    let report = check_gradients(&mut m, &CheckOptions::default()).unwrap();
    assert_eq!(report.verdict(), Verdict::Fail, "{report}");
    assert_eq!(report.entries[0].worst_index(), Some(vec![0]));
    // The fixed atol = 1e-9 passed it.
    assert!(check_gradients(&mut m, &old_criterion()).unwrap().passed());
    // The correct gradient passes.
    m.claimed = vec![1e-9, 1.0];
    assert!(check_gradients(&mut m, &CheckOptions::default())
        .unwrap()
        .passed());
}

/// A loss summed over 10⁴ outputs of a tanh layer: FD noise beyond 1e-9 at the small
/// gradients, which the old fixed floor called failures.
struct WideSum {
    w: Array1<f64>,
    xs: Vec<f64>,
    r: Vec<f64>,
}

impl GradCheck for WideSum {
    type Elem = f64;
    type Error = Infallible;
    fn tensor_names(&self) -> Vec<String> {
        vec!["w".into()]
    }
    fn tensor_mut(&mut self, i: usize) -> Option<ArrayViewMutD<'_, f64>> {
        (i == 0).then(|| self.w.view_mut().into_dyn())
    }
    fn loss(&mut self) -> Result<Loss, Infallible> {
        let k = self.w.len();
        let mut terms: Vec<f64> = (0..self.xs.len())
            .map(|i| 3.0 * self.r[i] * (self.w[i % (k - 1)] * self.xs[i]).tanh())
            .collect();
        terms.push(1e-3 * self.w[k - 1]);
        Ok(Loss::from_terms(terms))
    }
    fn gradients(&mut self) -> Result<Vec<ArrayD<f64>>, Infallible> {
        let k = self.w.len();
        let mut g = vec![0.0; k];
        for i in 0..self.xs.len() {
            let z = self.w[i % (k - 1)] * self.xs[i];
            g[i % (k - 1)] += 3.0 * self.r[i] * (1.0 - z.tanh().powi(2)) * self.xs[i];
        }
        g[k - 1] = 1e-3;
        Ok(vec![Array1::from(g).into_dyn()])
    }
}

#[test]
fn a_loss_over_ten_thousand_outputs_does_not_fail_falsely() {
    let n = 10_000;
    let mut m = WideSum {
        w: Array1::from_shape_fn(5, |i| 0.5 + 0.1 * i as f64),
        xs: (0..n).map(|i| 2.0 * val(1, i)).collect(),
        r: (0..n).map(|i| val(2, i)).collect(),
    };
    let scale = m.loss().unwrap().scale;
    assert!(scale > 5e3, "{scale}");
    let report = check_gradients(&mut m, &CheckOptions::default()).unwrap();
    assert_eq!(report.verdict(), Verdict::Pass, "{report}");
    assert!(report.entries[0].passed_floor >= 1, "{report}");
    assert_eq!(
        check_gradients(&mut m, &old_criterion()).unwrap().verdict(),
        Verdict::Fail
    );
}

#[test]
fn f32_fd_uses_the_realized_step() {
    // L = x at x = 3 in f32: h = 1e-4 is taken as 1.0014e-4; dividing by the nominal step
    // would report a slope 1.4e-3 off, beyond f32's rtol.
    struct Ident(Array1<f32>);
    impl GradCheck for Ident {
        type Elem = f32;
        type Error = Infallible;
        fn tensor_names(&self) -> Vec<String> {
            vec!["x".into()]
        }
        fn tensor_mut(&mut self, i: usize) -> Option<ArrayViewMutD<'_, f32>> {
            (i == 0).then(|| self.0.view_mut().into_dyn())
        }
        fn loss(&mut self) -> Result<Loss, Infallible> {
            Ok(Loss::from(self.0[0]))
        }
        fn gradients(&mut self) -> Result<Vec<ArrayD<f32>>, Infallible> {
            Ok(vec![array![1.0f32].into_dyn()])
        }
    }
    let opts = CheckOptions {
        fd: Some(FdOptions::central(1e-4)),
        ..CheckOptions::default()
    };
    let report = check_gradients(&mut Ident(array![3.0f32]), &opts).unwrap();
    let e = &report.entries[0].elements[0];
    assert_eq!(e.numeric, 1.0, "{report}");
}

#[test]
fn stratified_sampling_catches_a_transposed_dwh_on_12x12() {
    let mut check = rnn(3, 2, 4, 12, 7, false);
    let opts = CheckOptions::default().with_sampling(Sampling::Stratified { count: 12, seed: 5 });
    let mut m = Mutated::new(&mut check, Mutant::Transpose, 1);
    let report = check_gradients(&mut m, &opts).unwrap();
    assert_eq!(report.get("wh").unwrap().checked(), 12);
    assert_eq!(report.get("wh").unwrap().verdict, Verdict::Fail, "{report}");
    let opts = CheckOptions::default().with_sampling(Sampling::Random { count: 12, seed: 5 });
    assert_eq!(
        check_gradients(&mut m, &opts)
            .unwrap()
            .get("wh")
            .unwrap()
            .verdict,
        Verdict::Fail
    );
}

#[test]
fn a_check_leaves_every_tensor_bit_for_bit() {
    let mut c = rnn(3, 2, 3, 4, 3, true).cast::<f32>().unwrap();
    let before: Vec<_> = (0..5)
        .map(|i| c.tensor_mut(i).unwrap().to_owned())
        .collect();
    check_gradients(&mut c, &CheckOptions::default()).unwrap();
    check_directions(&mut c, &FastOptions::default()).unwrap();
    for (i, b) in before.iter().enumerate() {
        assert_eq!(&c.tensor_mut(i).unwrap().to_owned(), b);
    }
}

fn summary(layer: &str, dtype: &str, r: &MutationReport) -> String {
    format!(
        "{layer:<20} {dtype}: {} detected, {} escaped, {} not applicable",
        r.count(MutantOutcome::Detected),
        r.count(MutantOutcome::Escaped),
        r.count(MutantOutcome::NotApplicable)
    )
}

/// Every standard mutant on every tensor of every recur layer, in f64 (FD in f64) and in
/// f32 (against the f64 twin): detected wherever it changes the gradient.
#[test]
fn every_mutant_is_detected_on_every_layer_in_f32_and_f64() {
    let opts = CheckOptions::default();
    let mut lines = Vec::new();
    let mut check64 = |name: &str, m: &mut dyn FnMut() -> MutationReport| {
        let r = m();
        lines.push(summary(name, "", &r));
        assert!(r.all_detected(), "{name}\n{r}");
        assert!(r.count(MutantOutcome::Detected) >= 3, "{name}\n{r}");
    };
    // TimeRnn.
    let mut c = rnn(4, 3, 5, 6, 11, true);
    check64("TimeRnn f64", &mut || {
        run_mutants(&mut c, &Mutant::STANDARD, |m| check_gradients(m, &opts)).unwrap()
    });
    let mut c32 = c.cast::<f32>().unwrap();
    let mut twin = c32.twin().unwrap();
    check64("TimeRnn f32", &mut || {
        run_mutants(&mut c32, &Mutant::STANDARD, |m| {
            check_with_twin(m, &mut twin, &opts)
        })
        .unwrap()
    });
    // Embedding.
    let w = Array2::from_shape_fn((7, 4), |(a, b)| val(3, a * 4 + b));
    let r = Array3::from_shape_fn((3, 2, 4), |(a, b, c)| val(4, a * 8 + b * 4 + c));
    let ids = array![[0u32, 2], [2, 5], [6, 0]];
    let mut e = EmbeddingCheck {
        emb: Embedding::new(w),
        ids,
        r,
    };
    check64("Embedding f64", &mut || {
        run_mutants(&mut e, &Mutant::STANDARD, |m| check_gradients(m, &opts)).unwrap()
    });
    let mut e32 = e.cast::<f32>();
    let mut twin = e32.twin();
    check64("Embedding f32", &mut || {
        run_mutants(&mut e32, &Mutant::STANDARD, |m| {
            check_with_twin(m, &mut twin, &opts)
        })
        .unwrap()
    });
    // TimeAffine.
    let (t, n, h, v) = (3, 2, 4, 5);
    let mut a = TimeAffineCheck {
        fc: TimeAffine::new(
            Array2::from_shape_fn((h, v), |(i, j)| val(5, i * v + j)),
            Array1::from_shape_fn(v, |i| val(6, i)),
        )
        .unwrap(),
        xs: Array3::from_shape_fn((t, n, h), |(i, j, k)| val(7, (i * n + j) * h + k)),
        r: Array3::from_shape_fn((t, n, v), |(i, j, k)| val(8, (i * n + j) * v + k)),
    };
    check64("TimeAffine f64", &mut || {
        run_mutants(&mut a, &Mutant::STANDARD, |m| check_gradients(m, &opts)).unwrap()
    });
    let mut a32 = a.cast::<f32>().unwrap();
    let mut twin = a32.twin().unwrap();
    check64("TimeAffine f32", &mut || {
        run_mutants(&mut a32, &Mutant::STANDARD, |m| {
            check_with_twin(m, &mut twin, &opts)
        })
        .unwrap()
    });
    // SoftmaxCrossEntropy.
    let scores = Array3::from_shape_fn((3, 2, 5), |(i, j, k)| 3.0 * val(9, (i * 2 + j) * 5 + k));
    let targets = array![[0u32, 4], [u32::MAX, 2], [1, 1]];
    let mut s = SoftmaxCheck::new(scores.clone(), targets.clone(), Some(u32::MAX));
    check64("SoftmaxCrossEntropy f64", &mut || {
        run_mutants(&mut s, &Mutant::STANDARD, |m| check_gradients(m, &opts)).unwrap()
    });
    let mut s32 = s.cast::<f32>();
    let mut twin = s32.twin();
    check64("SoftmaxCrossEntropy f32", &mut || {
        run_mutants(&mut s32, &Mutant::STANDARD, |m| {
            check_with_twin(m, &mut twin, &opts)
        })
        .unwrap()
    });
    // And the fast mode detects them too (TimeRnn, f64 and f32).
    let fast = FastOptions {
        locate: false,
        ..FastOptions::default()
    };
    let r = run_mutants(&mut c, &Mutant::STANDARD, |m| {
        let f = check_directions(m, &fast)?;
        Ok(recur_check::GradReport {
            entries: vec![fake_entry(f.verdict())],
        })
    })
    .unwrap();
    lines.push(summary("TimeRnn f64 fast", "", &r));
    assert!(r.all_detected(), "{r}");
    let mut twin = c32.twin().unwrap();
    let r = run_mutants(&mut c32, &Mutant::STANDARD, |m| {
        let f = check_directions_with_twin(m, &mut twin, &fast)?;
        Ok(recur_check::GradReport {
            entries: vec![fake_entry(f.verdict())],
        })
    })
    .unwrap();
    lines.push(summary("TimeRnn f32 fast", "", &r));
    assert!(r.all_detected(), "{r}");
    println!("{}", lines.join("\n"));
}

/// A one-element report carrying a fast-mode verdict (for `run_mutants`).
fn fake_entry(v: Verdict) -> recur_check::Comparison {
    let m = recur_check::Measured {
        index: 0,
        analytic: 1.0,
        numeric: if v == Verdict::Fail { 2.0 } else { 1.0 },
        fd_error: 0.0,
    };
    recur_check::Comparison::judge("fast", &[1], &[m], f64::EPSILON, &Tolerance::default())
}

#[test]
fn fast_mode_passes_and_bisects_to_the_wrong_slice() {
    let mut c = rnn(5, 3, 6, 7, 21, true);
    let r = check_directions(&mut c, &FastOptions::default()).unwrap();
    assert!(r.passed(), "{r}");
    let mut c32 = c.cast::<f32>().unwrap();
    let mut twin = c32.twin().unwrap();
    assert!(
        check_directions_with_twin(&mut c32, &mut twin, &FastOptions::default())
            .unwrap()
            .passed()
    );
    // Time step 3 of dxs dropped: located in `xs`, inside step 3.
    let mut m = Mutated::new(&mut c, Mutant::DropStep, 3);
    let r = check_directions(
        &mut m,
        &FastOptions {
            min_slice: 4,
            ..FastOptions::default()
        },
    )
    .unwrap();
    assert_eq!(r.verdict(), Verdict::Fail, "{r}");
    let loc = r.location.clone().unwrap();
    assert_eq!(loc.tensor, "xs", "{r}");
    let step = {
        let g = m.inner.gradients().unwrap();
        let mut best = (0, -1.0);
        for t in 0..5 {
            let s: f64 = g[3]
                .index_axis(recur_check::ndarray::Axis(0), t)
                .iter()
                .map(|x| x.abs())
                .sum();
            if s > best.1 {
                best = (t, s);
            }
        }
        best.0
    };
    assert!(
        loc.first[0] == step && loc.last[0] == step && loc.end - loc.start <= 4,
        "{r}"
    );
}

#[test]
fn diagnoses_name_the_pattern() {
    let opts = CheckOptions::default();
    let mut c = rnn(4, 3, 5, 6, 13, false);
    let mut diag = |mutant: Mutant, tensor: usize| {
        let mut m = Mutated::new(&mut c, mutant, tensor);
        let report = check_gradients(&mut m, &opts).unwrap();
        diagnose(&report.entries[tensor])
    };
    assert!(diag(Mutant::Scale(2.0), 0).contains(&Diagnosis::ConstantRatio { ratio: 2.0 }));
    assert!(diag(Mutant::SignFlip, 2).contains(&Diagnosis::SignFlip));
    assert!(diag(Mutant::Transpose, 1).contains(&Diagnosis::Transposed));
    assert!(diag(Mutant::Zero, 0).contains(&Diagnosis::ZeroAnalytic));
    let d = diag(Mutant::DropStep, 3);
    assert!(
        d.iter().any(|d| matches!(
            d,
            Diagnosis::Confined {
                axis: 0,
                label: "time step t",
                ..
            }
        )),
        "{d:?}"
    );
    // An error in one batch row of dxs.
    struct RowBug<'a>(&'a mut TimeRnnCheck<f64>);
    impl GradCheck for RowBug<'_> {
        type Elem = f64;
        type Error = Error;
        fn tensor_names(&self) -> Vec<String> {
            self.0.tensor_names()
        }
        fn tensor_mut(&mut self, i: usize) -> Option<ArrayViewMutD<'_, f64>> {
            self.0.tensor_mut(i)
        }
        fn loss(&mut self) -> Result<Loss, Error> {
            self.0.loss()
        }
        fn gradients(&mut self) -> Result<Vec<ArrayD<f64>>, Error> {
            let mut g = self.0.gradients()?;
            for t in 0..4 {
                for k in 0..5 {
                    g[3][[t, 1, k]] *= 1.5;
                }
            }
            Ok(g)
        }
    }
    let report = check_gradients(&mut RowBug(&mut c), &opts).unwrap();
    let d = diagnose(report.get("xs").unwrap());
    assert!(
        d.iter().any(|d| matches!(
            d,
            Diagnosis::Confined {
                axis: 1,
                index: 1,
                label: "batch row n",
                ..
            }
        )),
        "{d:?}"
    );
    assert!(diagnose(report.get("wx").unwrap()).is_empty());
}

/// A backward that accumulates into its gradient across calls.
struct Accumulating {
    inner: TimeRnnCheck<f64>,
    acc: Option<Vec<ArrayD<f64>>>,
}

impl GradCheck for Accumulating {
    type Elem = f64;
    type Error = Error;
    fn tensor_names(&self) -> Vec<String> {
        self.inner.tensor_names()
    }
    fn tensor_mut(&mut self, i: usize) -> Option<ArrayViewMutD<'_, f64>> {
        self.inner.tensor_mut(i)
    }
    fn loss(&mut self) -> Result<Loss, Error> {
        self.inner.loss()
    }
    fn gradients(&mut self) -> Result<Vec<ArrayD<f64>>, Error> {
        let g = self.inner.gradients()?;
        let acc = match self.acc.take() {
            Some(a) => a.into_iter().zip(g).map(|(a, g)| a + g).collect(),
            None => g,
        };
        self.acc = Some(acc.clone());
        Ok(acc)
    }
}

#[test]
fn probes_find_accumulation_and_pass_recur_layers() {
    let mut bad = Accumulating {
        inner: rnn(3, 2, 3, 4, 1, false),
        acc: None,
    };
    let p = probe_determinism(&mut bad).unwrap();
    assert!(
        p.contains(&Problem::Accumulates {
            tensor: "wx".into()
        }),
        "{p:?}"
    );
    let mut c = rnn(3, 2, 3, 4, 1, true);
    assert!(probe_determinism(&mut c).unwrap().is_empty());
    assert!(probe_determinism(&mut c.cast::<f32>().unwrap())
        .unwrap()
        .is_empty());
    assert!(probe_tiers(&mut c, 1e3).unwrap().is_empty());
    assert!(probe_tiers(&mut c.cast::<f32>().unwrap(), 1e3)
        .unwrap()
        .is_empty());
    // Large enough for the GEMMs to split across threads (above PAR_MIN_FLOPS).
    let mut big = rnn(8, 32, 96, 96, 2, true);
    let pars = [
        Parallelism::Serial,
        Parallelism::Rayon(2),
        Parallelism::Rayon(3),
        Parallelism::Auto,
    ];
    assert!(
        probe_threads(&mut big, &pars, |c, p| c.rnn.set_parallelism(p))
            .unwrap()
            .is_empty()
    );
    let mut big32 = big.cast::<f32>().unwrap();
    assert!(
        probe_threads(&mut big32, &pars, |c, p| c.rnn.set_parallelism(p))
            .unwrap()
            .is_empty()
    );
    let xs = Array3::from_shape_fn((6, 2, 3), |(a, b, k)| val(9, a * 6 + b * 3 + k));
    assert!(probe_stateful_windows(&c.rnn, xs.view(), 3)
        .unwrap()
        .is_empty());
}

/// Issue 15: public helpers return `Err` on bad input instead of panicking.
#[test]
fn bad_input_is_an_error_not_a_panic() {
    // A loss weight of the wrong shape.
    let mut c = rnn(3, 2, 3, 4, 1, false);
    c.r = Array3::zeros((3, 2, 5));
    let e = c.loss().unwrap_err();
    assert!(e.to_string().contains("`r`"), "{e}");
    assert!(matches!(
        check_gradients(&mut c, &CheckOptions::default()),
        Err(CheckError::Model(_))
    ));
    let mut e32 = EmbeddingCheck {
        emb: Embedding::new(Array2::<f32>::zeros((3, 2))),
        ids: array![[0u32]],
        r: Array3::zeros((1, 1, 3)),
    };
    assert!(e32.loss().is_err());
    // Mismatched reference shapes.
    let ok = reference::time_rnn_forward(
        array![[1.0]].view(),
        array![[0.5]].view(),
        array![0.0].view(),
        Array3::zeros((2, 1, 1)).view(),
        None,
    );
    assert!(ok.is_ok());
    for (wh, b, xs, h0) in [
        (
            Array2::zeros((2, 2)),
            Array1::zeros(1),
            Array3::zeros((2, 1, 1)),
            None,
        ),
        (
            Array2::zeros((1, 1)),
            Array1::zeros(3),
            Array3::zeros((2, 1, 1)),
            None,
        ),
        (
            Array2::zeros((1, 1)),
            Array1::zeros(1),
            Array3::zeros((2, 1, 4)),
            None,
        ),
        (
            Array2::zeros((1, 1)),
            Array1::zeros(1),
            Array3::zeros((2, 1, 1)),
            Some(Array2::zeros((3, 1))),
        ),
    ] {
        let r = reference::time_rnn_forward(
            array![[1.0]].view(),
            wh.view(),
            b.view(),
            xs.view(),
            h0.as_ref().map(|h| h.view()),
        );
        assert!(matches!(r, Err(Error::ShapeMismatch { .. })));
    }
    // Contract breaches of a user's model.
    let mut m = Linear {
        x: array![1.0, 2.0],
        c: vec![1.0, 1.0],
        claimed: vec![1.0],
    };
    assert!(matches!(
        check_gradients(&mut m, &CheckOptions::default()),
        Err(CheckError::GradientShape { .. })
    ));
    assert!(matches!(
        check_directions(&mut m, &FastOptions::default()),
        Err(CheckError::GradientShape { .. })
    ));
    struct Liar;
    impl GradCheck for Liar {
        type Elem = f64;
        type Error = Infallible;
        fn tensor_names(&self) -> Vec<String> {
            vec!["a".into(), "b".into()]
        }
        fn tensor_mut(&mut self, _: usize) -> Option<ArrayViewMutD<'_, f64>> {
            None
        }
        fn loss(&mut self) -> Result<Loss, Infallible> {
            Ok(0.0.into())
        }
        fn gradients(&mut self) -> Result<Vec<ArrayD<f64>>, Infallible> {
            Ok(vec![])
        }
    }
    assert!(matches!(
        check_gradients(&mut Liar, &CheckOptions::default()),
        Err(CheckError::GradientCount {
            expected: 2,
            got: 0
        })
    ));
    assert!(matches!(
        probe_determinism(&mut Liar),
        Err(CheckError::NoTensor { index: 0, count: 2 })
    ));
    // Options out of range.
    let mut m = Linear {
        x: array![1.0],
        c: vec![1.0],
        claimed: vec![1.0],
    };
    for fd in [
        FdOptions {
            step: f64::NAN,
            levels: 2,
        },
        FdOptions {
            step: 1e-3,
            levels: 0,
        },
        FdOptions {
            step: -1.0,
            levels: 1,
        },
    ] {
        let opts = CheckOptions {
            fd: Some(fd),
            ..CheckOptions::default()
        };
        assert!(matches!(
            check_gradients(&mut m, &opts),
            Err(CheckError::InvalidOption { .. })
        ));
        assert!(matches!(
            check_directions(
                &mut m,
                &FastOptions {
                    fd: Some(fd),
                    ..FastOptions::default()
                }
            ),
            Err(CheckError::InvalidOption { .. })
        ));
    }
    let opts = CheckOptions {
        tol: Some(Tolerance {
            rtol: f64::NAN,
            ..Tolerance::default()
        }),
        ..CheckOptions::default()
    };
    assert!(matches!(
        check_gradients(&mut m, &opts),
        Err(CheckError::InvalidOption {
            name: "tol.rtol",
            ..
        })
    ));
    // A twin of other shapes.
    let mut c32 = rnn(3, 2, 3, 4, 1, false).cast::<f32>().unwrap();
    let mut other = rnn(3, 2, 3, 5, 1, false);
    assert!(matches!(
        check_with_twin(&mut c32, &mut other, &CheckOptions::default()),
        Err(CheckError::TwinMismatch { .. })
    ));
    let mut with_h0 = rnn(3, 2, 3, 4, 1, true);
    assert!(matches!(
        check_with_twin(&mut c32, &mut with_h0, &CheckOptions::default()),
        Err(CheckError::TwinMismatch { .. })
    ));
    // Probes and mutants on degenerate input.
    assert!(probe_stateful_windows(&c32.rnn, Array3::zeros((3, 2, 3)).view(), 2).is_err());
    assert!(probe_stateful_windows(&c32.rnn, Array3::zeros((3, 2, 3)).view(), 0).is_err());
    for mutant in Mutant::STANDARD {
        assert!(!mutant.apply(&mut ArrayD::<f32>::zeros(vec![0, 3])));
        assert!(!mutant.apply(&mut ArrayD::<f64>::zeros(vec![])) || mutant == Mutant::Zero);
    }
    // Empty tensors check cleanly.
    let mut empty = rnn(0, 2, 3, 4, 1, false);
    assert!(check_gradients(&mut empty, &CheckOptions::default())
        .unwrap()
        .passed());
    assert!(check_directions(&mut empty, &FastOptions::default())
        .unwrap()
        .passed());
}

/// Issue 16, target 3: TimeRnn at (T, N, D, H) = (35, 20, 650, 650) in fast mode.
/// `cargo test --release -p recur-check --test checker -- --ignored --nocapture`
#[test]
#[ignore]
fn fast_mode_time_rnn_35_20_650_650() {
    // Weights scaled by 1/sqrt(fan-in) (as initialised for training): with 0.6·U(-1, 1)
    // the gradient explodes (|dxs| ~ 1e12) and no finite difference is linear.
    let mut c = rnn(35, 20, 650, 650, 3, false);
    let s = 1.0 / 650f64.sqrt();
    c.rnn.wx_mut().mapv_inplace(|x| x * s / 0.6);
    c.rnn.wh_mut().mapv_inplace(|x| x * s / 0.6);
    let start = std::time::Instant::now();
    let r = check_directions(&mut c, &FastOptions::default()).unwrap();
    let elapsed = start.elapsed();
    println!("{r}\nTimeRnn (35, 20, 650, 650) f64, fast mode: {elapsed:?}");
    assert!(r.passed(), "{r}");
}
