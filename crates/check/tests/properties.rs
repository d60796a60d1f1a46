//! Gradient and consistency properties of recur's layers, on random small shapes
//! (T, N, D, H down to 1), in f64 against central finite differences and in f32 against
//! finite differences of the f64 twin, with loss sums up to about 10⁴.
//!
//! `RECUR_CHECK_CASES` (or `PROPTEST_CASES`) sets the number of cases of every property;
//! the default keeps the workspace test run short. The acceptance run of issue 16 is
//! `RECUR_CHECK_CASES=10000 cargo test --release -p recur-check --test properties`.

use proptest::prelude::*;
use recur_check::harness::{EmbeddingCheck, SoftmaxCheck, TimeAffineCheck, TimeRnnCheck};
use recur_check::ndarray::{Array2, Array3};
use recur_check::strategies::{embedding_case, rnn_dims, time_rnn_case, TimeRnnCase};
use recur_check::{check_gradients, check_with_twin, reference, CheckOptions, GradReport, Verdict};
use recur_kernels::dispatch::{available_levels, with_level};
use recur_layers::{Embedding, TimeAffine, TimeRnn};

fn config(default_cases: u32) -> ProptestConfig {
    let cases = ["RECUR_CHECK_CASES", "PROPTEST_CASES"]
        .iter()
        .find_map(|v| std::env::var(v).ok()?.parse().ok())
        .unwrap_or(default_cases);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// No false failure, and nothing inconclusive either.
fn assert_pass(report: &GradReport, what: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(report.verdict(), Verdict::Pass, "{}\n{}", what, report);
    Ok(())
}

/// A loss-weight factor `10^u`, `u` in `[0, 2.5]`: loss sums from ~1 up to ~10⁴.
fn loss_factor() -> impl Strategy<Value = f64> {
    prop_oneof![Just(1.0), (0.0f64..=2.5).prop_map(|u| 10f64.powf(u))]
}

fn val(seed: u64, i: usize, lo: f64, hi: f64) -> f64 {
    let x = (seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_mul(0xD6E8_FEB8_6659_FD93)
        >> 11;
    lo + (hi - lo) * x as f64 / (1u64 << 53) as f64
}

fn rnn_check(case: &TimeRnnCase, factor: f64, stateful: bool) -> TimeRnnCheck<f64> {
    TimeRnnCheck::new(
        case.wx.clone(),
        case.wh.clone(),
        case.b.clone(),
        case.xs.clone(),
        case.h0.clone(),
        case.r.mapv(|x| x * factor),
        stateful,
    )
    .unwrap()
}

fn affine_check(
    dims: recur_check::strategies::RnnDims,
    v: usize,
    seed: u64,
    factor: f64,
) -> TimeAffineCheck<f64> {
    let (t, n, h) = (dims.t, dims.n, dims.h);
    let w = Array2::from_shape_fn((h, v), |(a, b)| val(seed, a * v + b, -1.0, 1.0));
    let b = recur_check::ndarray::Array1::from_shape_fn(v, |a| val(seed, 500 + a, -1.0, 1.0));
    let xs = Array3::from_shape_fn((t, n, h), |(a, b2, c)| {
        val(seed, 1000 + (a * n + b2) * h + c, -1.0, 1.0)
    });
    let r = Array3::from_shape_fn((t, n, v), |(a, b2, c)| {
        factor * val(seed, 5000 + (a * n + b2) * v + c, -1.0, 1.0)
    });
    TimeAffineCheck {
        fc: TimeAffine::new(w, b).unwrap(),
        xs,
        r,
    }
}

fn softmax_check(
    dims: recur_check::strategies::RnnDims,
    v: usize,
    seed: u64,
    ignore_some: bool,
) -> SoftmaxCheck<f64> {
    let (t, n) = (dims.t, dims.n);
    let scores = Array3::from_shape_fn((t, n, v), |(a, b, c)| {
        val(seed, (a * n + b) * v + c, -3.0, 3.0)
    });
    let targets = Array2::from_shape_fn((t, n), |(a, b)| {
        if ignore_some && (a + b) % 3 == 0 {
            u32::MAX
        } else {
            ((a * 7 + b * 3) % v) as u32
        }
    });
    SoftmaxCheck::new(scores, targets, Some(u32::MAX))
}

proptest! {
    #![proptest_config(config(32))]

    /// TimeRnn in f64 on every SIMD tier, and in f32 against its f64 twin: dWx, dWh, db,
    /// dxs (and dh0 when a state is set) pass.
    #[test]
    fn time_rnn_gradients(case in time_rnn_case(), factor in loss_factor()) {
        for level in available_levels() {
            with_level(level, || -> Result<(), TestCaseError> {
                let mut check = rnn_check(&case, factor, false);
                let report = check_gradients(&mut check, &CheckOptions::default()).unwrap();
                assert_pass(&report, &format!("f64 {level:?} {:?} x{factor}", case.dims))?;
                let mut c32 = check.cast::<f32>().unwrap();
                let mut twin = c32.twin().unwrap();
                let report = check_with_twin(&mut c32, &mut twin, &CheckOptions::default()).unwrap();
                assert_pass(&report, &format!("f32 {level:?} {:?} x{factor}", case.dims))
            })?;
        }
    }

    /// Stateful mode with a state set by `set_state` (dh0 included), f64 and f32.
    #[test]
    fn stateful_time_rnn_gradients(case in time_rnn_case(), seed in any::<u64>()) {
        let (n, h) = (case.dims.n, case.dims.h);
        let mut case = case;
        case.h0 = Some(case.h0.clone().unwrap_or_else(|| Array2::from_shape_fn((n, h), |(i, j)| val(seed, i * h + j, -0.9, 0.9))));
        let mut check = rnn_check(&case, 1.0, true);
        let report = check_gradients(&mut check, &CheckOptions::default()).unwrap();
        assert_pass(&report, &format!("{:?}", case.dims))?;
        prop_assert!(report.get("h0").is_some());
        let mut c32 = check.cast::<f32>().unwrap();
        let mut twin = c32.twin().unwrap();
        assert_pass(&check_with_twin(&mut c32, &mut twin, &CheckOptions::default()).unwrap(), "f32")?;
    }

    /// The embedding gradient, with repeated ids, in f64 and f32 (also f32 FD in f32).
    #[test]
    fn embedding_gradients(case in embedding_case(), factor in loss_factor()) {
        let mut check = EmbeddingCheck { emb: Embedding::new(case.w.clone()), ids: case.ids.clone(), r: case.r.mapv(|x| x * factor) };
        assert_pass(&check_gradients(&mut check, &CheckOptions::default()).unwrap(), "f64")?;
        let mut c32 = check.cast::<f32>();
        let mut twin = c32.twin();
        assert_pass(&check_with_twin(&mut c32, &mut twin, &CheckOptions::default()).unwrap(), "f32 twin")?;
        // The embedding's loss is linear in w: f32 FD in f32 resolves it too.
        prop_assert_ne!(check_gradients(&mut c32, &CheckOptions::default()).unwrap().verdict(), Verdict::Fail);
    }

    /// TimeAffine: dW, db, dxs, f64 and f32.
    #[test]
    fn time_affine_gradients(dims in rnn_dims(), v in 1usize..=12, seed in any::<u64>(), factor in loss_factor()) {
        let mut check = affine_check(dims, v, seed, factor);
        assert_pass(&check_gradients(&mut check, &CheckOptions::default()).unwrap(), "f64")?;
        let mut c32 = check.cast::<f32>().unwrap();
        let mut twin = c32.twin().unwrap();
        assert_pass(&check_with_twin(&mut c32, &mut twin, &CheckOptions::default()).unwrap(), "f32")?;
    }

    /// Softmax cross-entropy (an ignored label in play), f64 and f32.
    #[test]
    fn softmax_cross_entropy_gradient(dims in rnn_dims(), v in 1usize..=12, seed in any::<u64>(), ignore_some in any::<bool>()) {
        let mut check = softmax_check(dims, v, seed, ignore_some);
        assert_pass(&check_gradients(&mut check, &CheckOptions::default()).unwrap(), "f64")?;
        let mut c32 = check.cast::<f32>();
        let mut twin = c32.twin();
        assert_pass(&check_with_twin(&mut c32, &mut twin, &CheckOptions::default()).unwrap(), "f32")?;
    }

    /// The fast forward equals the naive per-step f64 reference.
    #[test]
    fn time_rnn_forward_matches_per_step_reference(case in time_rnn_case()) {
        let mut rnn = TimeRnn::new(case.wx.clone(), case.wh.clone(), case.b.clone()).unwrap();
        if let Some(h0) = &case.h0 {
            rnn.set_state(h0.view()).unwrap();
        }
        let hs = rnn.forward(case.xs.view()).unwrap().to_owned();
        let want = reference::time_rnn_forward(
            case.wx.view(), case.wh.view(), case.b.view(), case.xs.view(),
            case.h0.as_ref().map(|h| h.view()),
        ).unwrap();
        for (a, b) in hs.iter().zip(want.iter()) {
            prop_assert!((a - b).abs() <= 1e-13, "{} vs {}", a, b);
        }
    }

    /// k forward windows with the state carried equal one forward over k·T steps.
    #[test]
    fn stateful_windows_equal_one_long_forward(case in time_rnn_case(), k in 1usize..=4) {
        let xs = Array3::from_shape_fn((k * case.dims.t, case.dims.n, case.dims.d), |(a, b, c)| {
            case.xs[[a % case.dims.t, b, c]] * if a / case.dims.t % 2 == 0 { 1.0 } else { -0.5 }
        });
        let rnn = TimeRnn::new(case.wx.clone(), case.wh.clone(), case.b.clone()).unwrap();
        prop_assert!(recur_check::probes::probe_stateful_windows(&rnn, xs.view(), k).unwrap().is_empty());
        let r32 = TimeRnn::new(case.wx.mapv(|x| x as f32), case.wh.mapv(|x| x as f32), case.b.mapv(|x| x as f32)).unwrap();
        prop_assert!(recur_check::probes::probe_stateful_windows(&r32, xs.mapv(|x| x as f32).view(), k).unwrap().is_empty());
    }
}
