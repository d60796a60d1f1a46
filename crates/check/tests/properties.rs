//! Gradient and consistency properties of recur's layers, on random small shapes
//! (T, N, D, H down to 1), checked in f64 against central finite differences.
//!
//! `PROPTEST_CASES` raises (or lowers) the number of cases of every property.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use recur_check::harness::{EmbeddingCheck, TimeRnnCheck};
use recur_check::ndarray::{s, Array2, Array3, ArrayD, ArrayViewMutD, Axis};
use recur_check::strategies::{array1, array2, array3, embedding_case, rnn_dims, time_rnn_case};
use recur_check::{check_gradients, reference, CheckOptions, GradCheck, Result};
use recur_kernels::dispatch::{available_levels, with_level};
use recur_layers::{Embedding, TimeRnn};

fn config(default_cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(48))]

    /// dWx, dWh, db, dxs (and dh0 when a state is set) agree with finite differences
    /// to 1e-6 relative (1e-9 absolute), on every SIMD tier.
    #[test]
    fn time_rnn_gradients_match_finite_differences(case in time_rnn_case()) {
        for level in available_levels() {
            with_level(level, || {
                let mut check = TimeRnnCheck::new(
                    case.wx.clone(), case.wh.clone(), case.b.clone(), case.xs.clone(),
                    case.h0.clone(), case.r.clone(), false,
                ).unwrap();
                let report = check_gradients(&mut check, &CheckOptions::default()).unwrap();
                assert!(report.passed(), "{:?} {:?}\n{report}", level, case.dims);
            });
        }
    }

    /// The same in stateful mode with a state set by `set_state` (dh0 included).
    #[test]
    fn stateful_time_rnn_gradients_match_finite_differences(
        case in time_rnn_case(),
        h0_seed in any::<u64>(),
    ) {
        let (n, h) = (case.dims.n, case.dims.h);
        let h0 = case.h0.clone().unwrap_or_else(|| {
            Array2::from_shape_fn((n, h), |(i, j)| (((h0_seed >> ((i * h + j) % 60)) & 7) as f64 - 3.5) / 4.0)
        });
        let mut check = TimeRnnCheck::new(
            case.wx.clone(), case.wh.clone(), case.b.clone(), case.xs.clone(),
            Some(h0), case.r.clone(), true,
        ).unwrap();
        let report = check_gradients(&mut check, &CheckOptions::default()).unwrap();
        prop_assert!(report.passed(), "{:?}\n{}", case.dims, report);
        prop_assert!(report.get("h0").is_some());
    }

    /// The embedding gradient, with repeated ids, agrees with finite differences.
    #[test]
    fn embedding_gradients_match_finite_differences(case in embedding_case()) {
        let mut check = EmbeddingCheck {
            emb: Embedding::new(case.w.clone()),
            ids: case.ids.clone(),
            r: case.r.clone(),
        };
        let report = check_gradients(&mut check, &CheckOptions::default()).unwrap();
        prop_assert!(report.passed(), "{}", report);
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
        );
        for (a, b) in hs.iter().zip(want.iter()) {
            prop_assert!((a - b).abs() <= 1e-13, "{} vs {}", a, b);
        }
    }

    /// The f32 forward stays within 1e-5 (relative, in the max norm) of the f64 forward.
    #[test]
    fn f32_forward_tracks_f64(case in time_rnn_case()) {
        let to32 = |a: &Array2<f64>| a.mapv(|x| x as f32);
        let mut r64 = TimeRnn::new(case.wx.clone(), case.wh.clone(), case.b.clone()).unwrap();
        let mut r32 = TimeRnn::new(to32(&case.wx), to32(&case.wh), case.b.mapv(|x| x as f32)).unwrap();
        let h64 = r64.forward(case.xs.view()).unwrap().to_owned();
        let h32 = r32.forward(case.xs.mapv(|x| x as f32).view()).unwrap().to_owned();
        let scale = h64.iter().fold(0.0f64, |m, x| m.max(x.abs())).max(f64::MIN_POSITIVE);
        let err = h64.iter().zip(h32.iter()).fold(0.0f64, |m, (a, &b)| m.max((a - b as f64).abs()));
        prop_assert!(err / scale <= 1e-5, "relative error {}", err / scale);
    }

    /// k forward windows with the state carried (stateful mode) give the same hidden
    /// states as one forward over k·T steps.
    #[test]
    fn stateful_windows_equal_one_long_forward(
        dims in rnn_dims(),
        k in 1usize..=4,
        seed in any::<u64>(),
    ) {
        let (t, n, d, h) = (dims.t, dims.n, dims.d, dims.h);
        let val = |i: usize| ((seed.wrapping_mul(i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as f64 / (1u64 << 24) as f64) * 2.0 - 1.0;
        let wx = Array2::from_shape_fn((d, h), |(a, b)| val(a * h + b));
        let wh = Array2::from_shape_fn((h, h), |(a, b)| val(1000 + a * h + b));
        let b = recur_check::ndarray::Array1::from_shape_fn(h, |a| val(2000 + a));
        let xs = Array3::from_shape_fn((k * t, n, d), |(a, b2, c)| val(3000 + (a * n + b2) * d + c));
        let mut long = TimeRnn::new(wx.clone(), wh.clone(), b.clone()).unwrap();
        let want = long.forward(xs.view()).unwrap().to_owned();
        let mut win = TimeRnn::new(wx, wh, b).unwrap();
        win.set_stateful(true);
        for w in 0..k {
            let part = xs.slice(s![w * t..(w + 1) * t, .., ..]);
            let got = win.forward(part).unwrap().to_owned();
            let expect = want.slice(s![w * t..(w + 1) * t, .., ..]);
            for (a, b) in got.iter().zip(expect.iter()) {
                prop_assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "window {}: {} vs {}", w, a, b);
            }
        }
        prop_assert_eq!(win.state().unwrap(), want.index_axis(Axis(0), k * t - 1));
    }
}

/// Corrupts one element of one gradient of another check.
struct OneWrong<M> {
    inner: M,
    tensor: usize,
    index: usize,
}

impl<M: GradCheck> GradCheck for OneWrong<M> {
    fn tensor_names(&self) -> Vec<String> {
        self.inner.tensor_names()
    }
    fn tensor_mut(&mut self, i: usize) -> ArrayViewMutD<'_, f64> {
        self.inner.tensor_mut(i)
    }
    fn loss(&mut self) -> Result<f64> {
        self.inner.loss()
    }
    fn gradients(&mut self) -> Result<Vec<ArrayD<f64>>> {
        let mut g = self.inner.gradients()?;
        if let Some(x) = g[self.tensor].iter_mut().nth(self.index) {
            *x += 1e-5 * (1.0 + x.abs());
        }
        Ok(g)
    }
}

proptest! {
    #![proptest_config(config(16))]

    /// Negative control: the checker rejects a gradient with one wrong element, and names it.
    #[test]
    fn checker_rejects_one_wrong_element(case in time_rnn_case(), pick in any::<prop::sample::Index>()) {
        let inner = TimeRnnCheck::new(
            case.wx.clone(), case.wh.clone(), case.b.clone(), case.xs.clone(),
            case.h0.clone(), case.r.clone(), false,
        ).unwrap();
        let names = inner.tensor_names();
        let tensor = pick.index(names.len());
        let mut probe = inner;
        let len = probe.tensor_mut(tensor).len();
        let index = pick.index(len);
        let mut wrong = OneWrong { inner: probe, tensor, index };
        let report = check_gradients(&mut wrong, &CheckOptions::default()).unwrap();
        prop_assert!(!report.passed());
        let entry = report.get(&names[tensor]).unwrap();
        prop_assert!(!entry.passed);
        prop_assert_eq!(entry.worst_index, Some(index));
        for (i, e) in report.entries.iter().enumerate() {
            prop_assert_eq!(e.passed, i != tensor, "{}", report);
        }
    }
}

#[test]
fn strategies_produce_requested_shapes() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let a = array2(3, 4).new_tree(&mut runner).unwrap().current();
    assert_eq!(a.dim(), (3, 4));
    assert!(a.iter().all(|x| (-1.0..=1.0).contains(x)));
    assert_eq!(array1(5).new_tree(&mut runner).unwrap().current().len(), 5);
    assert_eq!(
        array3(2, 1, 3)
            .new_tree(&mut runner)
            .unwrap()
            .current()
            .dim(),
        (2, 1, 3)
    );
}

proptest! {
    #![proptest_config(config(48))]

    /// TimeAffine: dW, db, dxs agree with finite differences.
    #[test]
    fn time_affine_gradients_match_finite_differences(
        dims in rnn_dims(),
        v in 1usize..=12,
        seed in any::<u64>(),
    ) {
        let (t, n, h) = (dims.t, dims.n, dims.h);
        let val = |i: usize| ((seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)).wrapping_mul(0xD6E8_FEB8_6659_FD93) >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
        let w = Array2::from_shape_fn((h, v), |(a, b)| val(a * v + b));
        let b = recur_check::ndarray::Array1::from_shape_fn(v, |a| val(500 + a));
        let xs = Array3::from_shape_fn((t, n, h), |(a, b2, c)| val(1000 + (a * n + b2) * h + c));
        let r = Array3::from_shape_fn((t, n, v), |(a, b2, c)| val(5000 + (a * n + b2) * v + c));
        let mut check = recur_check::TimeAffineCheck { fc: recur_layers::TimeAffine::new(w, b).unwrap(), xs, r };
        let report = check_gradients(&mut check, &CheckOptions::default()).unwrap();
        prop_assert!(report.passed(), "{}", report);
    }

    /// Softmax cross-entropy: the gradient of the mean loss (with an ignored label in
    /// play) agrees with finite differences.
    #[test]
    fn softmax_cross_entropy_gradient_matches_finite_differences(
        dims in rnn_dims(),
        v in 1usize..=12,
        scores_seed in any::<u64>(),
        ignore_some in any::<bool>(),
    ) {
        let (t, n) = (dims.t, dims.n);
        let val = |i: usize| ((scores_seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)).wrapping_mul(0xD6E8_FEB8_6659_FD93) >> 11) as f64 / (1u64 << 53) as f64 * 6.0 - 3.0;
        let scores = Array3::from_shape_fn((t, n, v), |(a, b, c)| val((a * n + b) * v + c));
        let targets = Array2::from_shape_fn((t, n), |(a, b)| {
            if ignore_some && (a + b) % 3 == 0 { u32::MAX } else { ((a * 7 + b * 3) % v) as u32 }
        });
        let loss = recur_layers::SoftmaxCrossEntropy::new().with_ignore_label(Some(u32::MAX));
        let mut check = recur_check::SoftmaxCheck { loss, scores, targets };
        let report = check_gradients(&mut check, &CheckOptions::default()).unwrap();
        prop_assert!(report.passed(), "{}", report);
    }
}
