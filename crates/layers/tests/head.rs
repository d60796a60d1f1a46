//! The fused `LmHead` against the unfused `TimeAffine` + `SoftmaxCrossEntropy`, against
//! f64 finite differences, across thread counts and block sizes, and on bad input.

use ndarray::{Array1, Array2, Array3};
use recur_layers::{Error, LmHead, Parallelism, Parameters, SoftmaxCrossEntropy, TimeAffine};
use recur_testkit::Rng;

const IGNORE: u32 = u32::MAX;

fn weights(rng: &mut Rng, h: usize, v: usize) -> (Array2<f64>, Array1<f64>) {
    let w = Array2::from_shape_vec((h, v), rng.vec_f64(h * v, -1.0, 1.0)).unwrap();
    let b = Array1::from_vec(rng.vec_f64(v, -0.5, 0.5));
    (w, b)
}

fn inputs(rng: &mut Rng, t: usize, n: usize, h: usize, v: usize) -> (Array3<f64>, Array2<u32>) {
    let hs = Array3::from_shape_vec((t, n, h), rng.vec_f64(t * n * h, -2.0, 2.0)).unwrap();
    // Every fifth target ignored.
    let ts = Array2::from_shape_simple_fn((t, n), || {
        if rng.below(5) == 0 {
            IGNORE
        } else {
            rng.below(v) as u32
        }
    });
    (hs, ts)
}

fn f32s<D: ndarray::Dimension>(a: &ndarray::Array<f64, D>) -> ndarray::Array<f32, D> {
    a.mapv(|x| x as f32)
}

fn max_diff<D: ndarray::Dimension>(
    a: ndarray::ArrayView<f32, D>,
    b: ndarray::ArrayView<f32, D>,
) -> f32 {
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Loss, dW, db, dHS of the unfused chain.
fn unfused(
    w: &Array2<f32>,
    b: &Array1<f32>,
    hs: &Array3<f32>,
    ts: &Array2<u32>,
) -> (f32, Array2<f32>, Array1<f32>, Array3<f32>) {
    let mut fc = TimeAffine::new(w.clone(), b.clone()).unwrap();
    let mut loss = SoftmaxCrossEntropy::new().with_ignore_label(Some(IGNORE));
    let ys = fc.forward(hs.view()).unwrap();
    let l = loss.forward(ys, ts.view()).unwrap();
    let dys = loss.backward(1.0).unwrap().to_owned();
    let dhs = fc.backward(dys.view()).unwrap().to_owned();
    (l, fc.grad_w().to_owned(), fc.grad_b().to_owned(), dhs)
}

#[test]
fn equals_the_unfused_chain_within_f32_rounding() {
    let mut rng = Rng::new(14);
    for &(t, n, h, v) in &[
        (1, 1, 1, 1),
        (3, 2, 5, 7),
        (7, 3, 17, 101),
        (5, 4, 33, 300),
        (35, 2, 8, 1000),
    ] {
        let (w, b) = weights(&mut rng, h, v);
        let (hs, ts) = inputs(&mut rng, t, n, h, v);
        let (w, b, hs) = (f32s(&w), f32s(&b), f32s(&hs));
        let (l0, gw0, gb0, dhs0) = unfused(&w, &b, &hs, &ts);
        let mut head = LmHead::new(w.clone(), b.clone())
            .unwrap()
            .with_ignore_label(Some(IGNORE));
        head.set_block_rows(4).unwrap();
        let l = head.forward(hs.view(), ts.view()).unwrap();
        let dhs = head.backward(1.0).unwrap().to_owned();
        let shape = (t, n, h, v);
        assert!(
            (l - l0).abs() <= 1e-5 * l0.abs().max(1.0),
            "{shape:?}: loss {l} vs {l0}"
        );
        // Gradient entries are O(1/count); sums over up to T·N rows of them.
        let tol = 1e-6 * (t * n) as f32;
        assert!(max_diff(head.grad_w(), gw0.view()) <= tol, "{shape:?}: dW");
        assert!(max_diff(head.grad_b(), gb0.view()) <= tol, "{shape:?}: db");
        assert!(max_diff(dhs.view(), dhs0.view()) <= tol, "{shape:?}: dHS");
        assert_eq!(head.count(), ts.iter().filter(|&&x| x != IGNORE).count());
        // Evaluation: the very same loss bits, and backward still backs the forward.
        assert_eq!(head.evaluate(hs.view(), ts.view()).unwrap(), l, "{shape:?}");
        assert_eq!(head.backward(1.0).unwrap().to_owned(), dhs);
    }
}

/// Central differences in f64 of the head's loss with respect to one element.
fn numeric(
    head: &mut LmHead<f64>,
    hs: &Array3<f64>,
    ts: &Array2<u32>,
    which: usize,
    i: usize,
) -> f64 {
    let eps = 1e-6;
    let mut at = |delta: f64| {
        let mut hs = hs.clone();
        {
            let mut p = head.params_mut();
            match which {
                0 | 1 => {
                    let x = p[which].value.iter_mut().nth(i).unwrap();
                    *x += delta;
                }
                _ => {
                    drop(p);
                    *hs.iter_mut().nth(i).unwrap() += delta;
                }
            }
        }
        let l = head.evaluate(hs.view(), ts.view()).unwrap();
        if which < 2 {
            let mut p = head.params_mut();
            *p[which].value.iter_mut().nth(i).unwrap() -= delta;
        }
        l
    };
    (at(eps) - at(-eps)) / (2.0 * eps)
}

#[test]
fn gradients_match_f64_finite_differences() {
    let mut rng = Rng::new(3);
    for &(t, n, h, v) in &[(2, 3, 4, 5), (3, 1, 2, 9)] {
        let (w, b) = weights(&mut rng, h, v);
        let (hs, ts) = inputs(&mut rng, t, n, h, v);
        let mut head = LmHead::new(w, b).unwrap().with_ignore_label(Some(IGNORE));
        head.set_block_rows(2).unwrap();
        head.forward(hs.view(), ts.view()).unwrap();
        let dhs = head.backward(1.0).unwrap().to_owned();
        let analytic = [
            head.grad_w().iter().copied().collect::<Vec<_>>(),
            head.grad_b().to_vec(),
            dhs.iter().copied().collect(),
        ];
        for (which, grads) in analytic.iter().enumerate() {
            for (i, &g) in grads.iter().enumerate() {
                let num = numeric(&mut head, &hs, &ts, which, i);
                assert!(
                    (g - num).abs() <= 1e-8 + 1e-6 * num.abs(),
                    "(T, N, H, V) = {:?}, tensor {which}[{i}]: analytic {g}, numeric {num}",
                    (t, n, h, v)
                );
            }
        }
    }
}

#[test]
fn bits_do_not_depend_on_threads_or_block_size() {
    let mut rng = Rng::new(5);
    // Large enough for the row blocks, the GEMMs and the column sums to use threads.
    let (t, n, h, v) = (35, 8, 64, 3001);
    let (w, b) = weights(&mut rng, h, v);
    let (hs, ts) = inputs(&mut rng, t, n, h, v);
    let (w, b, hs) = (f32s(&w), f32s(&b), f32s(&hs));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    let run = |par: Parallelism, rows: Option<usize>| {
        let mut head = LmHead::new(w.clone(), b.clone())
            .unwrap()
            .with_ignore_label(Some(IGNORE));
        head.set_parallelism(par);
        if let Some(r) = rows {
            head.set_block_rows(r).unwrap();
        }
        let l = head.forward(hs.view(), ts.view()).unwrap();
        let e = head.evaluate(hs.view(), ts.view()).unwrap();
        let dhs = head.backward(1.0).unwrap().to_owned();
        (
            l,
            e,
            head.grad_w().to_owned(),
            head.grad_b().to_owned(),
            dhs,
        )
    };
    let serial = run(Parallelism::Serial, None);
    assert_eq!(serial.0, serial.1);
    for par in [
        Parallelism::Rayon(2),
        Parallelism::Rayon(3),
        Parallelism::Auto,
    ] {
        for rows in [None, Some(1), Some(7), Some(1000)] {
            let got = pool.install(|| run(par, rows));
            assert!(got == serial, "{par:?}, block rows {rows:?}");
        }
    }
}

#[test]
fn empty_shapes_and_all_ignored() {
    let mut head = LmHead::new(Array2::<f32>::ones((3, 4)), Array1::zeros(4)).unwrap();
    for (t, n) in [(0, 2), (2, 0), (0, 0)] {
        let hs = Array3::zeros((t, n, 3));
        let ts = Array2::zeros((t, n));
        assert_eq!(head.forward(hs.view(), ts.view()).unwrap(), 0.0);
        assert_eq!(head.backward(1.0).unwrap().dim(), (t, n, 3));
        assert!(head.grad_w().iter().all(|&g| g == 0.0));
        assert_eq!(head.evaluate(hs.view(), ts.view()).unwrap(), 0.0);
        assert_eq!(head.scores(hs.view()).unwrap().dim(), (t, n, 4));
    }
    // Every target ignored: loss 0, zero gradients.
    let mut head = head.with_ignore_label(Some(2));
    let hs = Array3::from_elem((2, 2, 3), 0.5);
    assert_eq!(
        head.forward(hs.view(), Array2::from_elem((2, 2), 2).view())
            .unwrap(),
        0.0
    );
    assert_eq!(head.count(), 0);
    assert!(head.backward(1.0).unwrap().iter().all(|&g| g == 0.0));
    assert!(head.grad_b().iter().all(|&g| g == 0.0));
    // V = 0: only ignored targets are possible; H = 0: scores are the bias.
    let mut empty = LmHead::new(Array2::<f64>::zeros((2, 0)), Array1::zeros(0))
        .unwrap()
        .with_ignore_label(Some(IGNORE));
    let l = empty
        .forward(
            Array3::zeros((1, 1, 2)).view(),
            Array2::from_elem((1, 1), IGNORE).view(),
        )
        .unwrap();
    assert_eq!(l, 0.0);
    assert!(empty
        .forward(
            Array3::zeros((1, 1, 2)).view(),
            Array2::zeros((1, 1)).view()
        )
        .is_err());
    let mut h0 = LmHead::new(
        Array2::<f64>::zeros((0, 2)),
        ndarray::array![0.0, 2f64.ln()],
    )
    .unwrap();
    let l = h0
        .forward(
            Array3::zeros((1, 1, 0)).view(),
            ndarray::array![[1u32]].view(),
        )
        .unwrap();
    assert!((l - (1.5f64.ln())).abs() < 1e-15, "{l}");
}

#[test]
fn bad_input_is_an_err_and_changes_nothing() {
    let mut rng = Rng::new(9);
    let (w, b) = weights(&mut rng, 4, 6);
    let (hs, ts) = inputs(&mut rng, 3, 2, 4, 6);
    let mut head = LmHead::new(w, b).unwrap().with_ignore_label(Some(IGNORE));
    assert!(matches!(
        head.backward(1.0),
        Err(Error::InvalidState { .. })
    ));
    let l = head.forward(hs.view(), ts.view()).unwrap();
    let dhs = head.backward(1.0).unwrap().to_owned();
    let before = (head.grad_w().to_owned(), head.grad_b().to_owned());
    let check = |e: Error, arg: &str| {
        let s = e.to_string();
        assert!(s.contains(&format!("`{arg}`")), "{s}");
    };
    // A target >= V, a wrong hs width, targets of another shape; forward and evaluate.
    let mut bad = ts.clone();
    bad[[2, 1]] = 6;
    let e = head.forward(hs.view(), bad.view()).unwrap_err();
    assert!(e.to_string().contains("[t=2, n=1]"), "{e}");
    check(e, "targets");
    check(head.evaluate(hs.view(), bad.view()).unwrap_err(), "targets");
    let wide = Array3::zeros((3, 2, 5));
    check(head.forward(wide.view(), ts.view()).unwrap_err(), "hs");
    check(head.scores(wide.view()).unwrap_err(), "hs");
    check(
        head.forward(hs.view(), Array2::zeros((2, 3)).view())
            .unwrap_err(),
        "targets",
    );
    check(head.set_block_rows(0).unwrap_err(), "rows");
    check(
        LmHead::new(Array2::<f32>::zeros((2, 3)), Array1::zeros(2)).unwrap_err(),
        "b",
    );
    // The last forward is still what backward sees, bit for bit.
    assert_eq!(head.backward(1.0).unwrap().to_owned(), dhs);
    assert_eq!((head.grad_w().to_owned(), head.grad_b().to_owned()), before);
    assert_eq!(head.forward(hs.view(), ts.view()).unwrap(), l);
    // NaN propagates, without a panic.
    let mut nan = hs.clone();
    nan[[0, 0, 0]] = f64::NAN;
    assert!(head.forward(nan.view(), ts.view()).unwrap().is_nan() || ts[[0, 0]] == IGNORE);
}

#[test]
fn new_weights_through_params_mut_are_used() {
    let mut rng = Rng::new(2);
    let (w, b) = weights(&mut rng, 3, 5);
    let (hs, ts) = inputs(&mut rng, 2, 2, 3, 5);
    let mut head = LmHead::new(w.clone(), b.clone())
        .unwrap()
        .with_ignore_label(Some(IGNORE));
    head.forward(hs.view(), ts.view()).unwrap();
    for p in head.params_mut() {
        let mut v = p.value;
        v.mapv_inplace(|x| x * 0.5);
    }
    let mut fresh = LmHead::new(w.mapv(|x| x * 0.5), b.mapv(|x| x * 0.5))
        .unwrap()
        .with_ignore_label(Some(IGNORE));
    assert_eq!(
        head.forward(hs.view(), ts.view()).unwrap(),
        fresh.forward(hs.view(), ts.view()).unwrap()
    );
    assert_eq!(
        head.scores(hs.view()).unwrap(),
        fresh.scores(hs.view()).unwrap()
    );
}

#[test]
fn every_simd_tier_gives_the_unfused_result() {
    use recur_kernels::dispatch::{available_levels, with_level};
    let mut rng = Rng::new(8);
    let (w, b) = weights(&mut rng, 9, 40);
    let (hs, ts) = inputs(&mut rng, 4, 3, 9, 40);
    let (w, b, hs) = (f32s(&w), f32s(&b), f32s(&hs));
    let (l0, gw0, _, _) = unfused(&w, &b, &hs, &ts);
    // One head across tiers: its packed W follows the tier.
    let mut head = LmHead::new(w, b).unwrap().with_ignore_label(Some(IGNORE));
    for level in available_levels() {
        with_level(level, || {
            let l = head.forward(hs.view(), ts.view()).unwrap();
            assert!((l - l0).abs() <= 1e-5 * l0, "{level:?}");
            head.backward(1.0).unwrap();
            assert!(max_diff(head.grad_w(), gw0.view()) <= 1e-5, "{level:?}");
        });
    }
}
