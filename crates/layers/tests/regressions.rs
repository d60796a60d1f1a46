//! Regressions of issue 15 ("Nothing breaks it and nothing is lost") in the layers and the
//! optimizers: each test failed (panicked, or returned a wrong result) on the code before
//! its fix.

use ndarray::{array, s, Array1, Array2, Array3, ArrayViewMutD};
use recur_layers::optim::{clip_grads, Adam, Optimizer, Sgd};
use recur_layers::{Error, ParamMut, Parameters, SoftmaxCrossEntropy, TimeAffine, TimeRnn};

fn bits32(x: impl IntoIterator<Item = f32>) -> Vec<u32> {
    x.into_iter().map(f32::to_bits).collect()
}

fn bits64(x: impl IntoIterator<Item = f64>) -> Vec<u64> {
    x.into_iter().map(f64::to_bits).collect()
}

fn param<'a>(
    name: &'static str,
    value: ArrayViewMutD<'a, f64>,
    grad: ArrayViewMutD<'a, f64>,
) -> ParamMut<'a, f64> {
    ParamMut::dense(name, value, grad)
}

/// The bias `(0.1, 0.2, 0.3, 0.4)` in three memory orders: contiguous, every other
/// element of a longer array, and reversed.
fn biases() -> [Array1<f32>; 3] {
    let plain = array![0.1f32, 0.2, 0.3, 0.4];
    let strided = array![0.1f32, 9.0, 0.2, 9.0, 0.3, 9.0, 0.4, 9.0].slice_move(s![..;2]);
    let reversed = array![0.4f32, 0.3, 0.2, 0.1].slice_move(s![..;-1]);
    assert!(strided.as_slice().is_none() && reversed.as_slice().is_none());
    [plain, strided, reversed]
}

// ---------------------------------------------------------------- 1: non-contiguous bias

#[test]
fn time_rnn_accepts_a_bias_of_any_layout() {
    let (t, n, d, h) = (3, 2, 3, 4);
    let wx = Array2::from_shape_fn((d, h), |(i, j)| (i as f32 - j as f32) * 0.1);
    let wh = Array2::from_shape_fn((h, h), |(i, j)| (i * h + j) as f32 * 0.01 - 0.05);
    let xs = Array3::from_shape_fn((t, n, d), |(a, b, c)| (a + 2 * b + 3 * c) as f32 * 0.1);
    let dhs = Array3::from_shape_fn((t, n, h), |(a, b, c)| (a * b + c) as f32 * 0.1 - 0.2);
    let mut results = Vec::new();
    for b in biases() {
        let mut rnn = TimeRnn::new(wx.clone(), wh.clone(), b).unwrap();
        assert_eq!(rnn.b(), array![0.1f32, 0.2, 0.3, 0.4]);
        let hs = bits32(rnn.forward(xs.view()).unwrap().iter().copied());
        let dxs = bits32(rnn.backward(dhs.view()).unwrap().iter().copied());
        let gb = bits32(rnn.grad_b().iter().copied());
        // The optimizer sees a contiguous bias and updates it like any other.
        Sgd::new(0.5).step(&mut rnn.params_mut()).unwrap();
        let b = bits32(rnn.b().iter().copied());
        results.push((hs, dxs, gb, b));
    }
    assert!(results.iter().all(|r| *r == results[0]));
}

#[test]
fn time_affine_accepts_a_bias_of_any_layout() {
    let (t, n, h, v) = (2, 3, 2, 4);
    let w = Array2::from_shape_fn((h, v), |(i, j)| (i as f32 + 1.0) * (j as f32 - 1.5));
    let xs = Array3::from_shape_fn((t, n, h), |(a, b, c)| (a + b + c) as f32 * 0.5);
    let dys = Array3::from_shape_fn((t, n, v), |(a, b, c)| (a + 2 * b) as f32 - c as f32);
    let mut results = Vec::new();
    for b in biases() {
        let mut fc = TimeAffine::new(w.clone(), b).unwrap();
        let ys = bits32(fc.forward(xs.view()).unwrap().iter().copied());
        let dxs = bits32(fc.backward(dys.view()).unwrap().iter().copied());
        let gb = bits32(fc.grad_b().iter().copied());
        Sgd::new(0.5).step(&mut fc.params_mut()).unwrap();
        results.push((ys, dxs, gb, bits32(fc.b().iter().copied())));
    }
    assert!(results.iter().all(|r| *r == results[0]));
}

// ------------------------------------- 2: the ignore label changed between forward and backward

#[test]
fn softmax_backward_uses_the_ignore_label_of_its_forward() {
    let scores = array![[[1.0f64, 2.0, 0.5], [0.0, -1.0, 3.0]]]; // (T, N, V) = (1, 2, 3)
    let targets = array![[u32::MAX, 2]];
    let mut reference = SoftmaxCrossEntropy::new().with_ignore_label(Some(u32::MAX));
    let loss = reference.forward(scores.view(), targets.view()).unwrap();
    let want = bits64(reference.backward(1.0).unwrap().iter().copied());

    let mut l = SoftmaxCrossEntropy::new().with_ignore_label(Some(u32::MAX));
    assert_eq!(
        l.forward(scores.view(), targets.view()).unwrap().to_bits(),
        loss.to_bits()
    );
    // The builder between forward and backward: the backward still belongs to the forward
    // (whose target u32::MAX was ignored); the new label applies from the next forward.
    let mut l = l.with_ignore_label(None);
    assert_eq!(bits64(l.backward(1.0).unwrap().iter().copied()), want);
    assert_eq!(l.count(), 1);
    let e = l.forward(scores.view(), targets.view()).unwrap_err();
    assert!(matches!(e, Error::IndexOutOfRange { .. }), "{e}");
    // And the other way round: a label set after a forward that counted every position.
    let mut l = SoftmaxCrossEntropy::new();
    l.forward(scores.view(), array![[0u32, 2]].view()).unwrap();
    let mut l = l.with_ignore_label(Some(0));
    let g = l.backward(1.0).unwrap().to_owned();
    assert!(g.slice(s![0, 0, ..]).iter().any(|&x| x != 0.0), "{g}");
}

// ---------------------------------------------------------------- optimizers

#[test]
fn adam_refuses_a_gradient_of_another_shape_and_updates_nothing() {
    let mut fresh = Adam::new(0.1);
    let mut opt = fresh.clone();
    let (mut w, mut g_short) = (array![1.0, 2.0, 3.0], array![0.5, 0.5]);
    let e = opt
        .step(&mut [param(
            "w",
            w.view_mut().into_dyn(),
            g_short.view_mut().into_dyn(),
        )])
        .unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("`grad`") && msg.contains("(2)") && msg.contains("(3)"),
        "{msg}"
    );
    assert_eq!(
        w,
        array![1.0, 2.0, 3.0],
        "a refused step moved the parameter"
    );
    // The refused step was not counted and set no moments: the next step is a first step.
    let mut g = array![0.5, -0.5, 1.0];
    let mut w2 = w.clone();
    opt.step(&mut [param("w", w.view_mut().into_dyn(), g.view_mut().into_dyn())])
        .unwrap();
    fresh
        .step(&mut [param(
            "w",
            w2.view_mut().into_dyn(),
            g.view_mut().into_dyn(),
        )])
        .unwrap();
    assert_eq!(bits64(w.iter().copied()), bits64(w2.iter().copied()));
}

#[test]
fn sgd_validates_every_parameter_before_updating_any() {
    let mut a = array![1.0, 2.0];
    let mut ga = array![1.0, 1.0];
    let mut b = array![1.0, 2.0, 3.0];
    let mut gb = array![1.0, 1.0];
    let e = Sgd::new(0.5)
        .step(&mut [
            param("a", a.view_mut().into_dyn(), ga.view_mut().into_dyn()),
            param("b", b.view_mut().into_dyn(), gb.view_mut().into_dyn()),
        ])
        .unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("`grad`") && msg.contains("\"b\""), "{msg}");
    assert_eq!(
        a,
        array![1.0, 2.0],
        "the first parameter moved before the error"
    );
    assert_eq!(b, array![1.0, 2.0, 3.0]);
}

#[test]
fn sgd_does_not_broadcast_or_panic_on_strided_parameters() {
    // A strided value with a one-element gradient was broadcast (every element moved by
    // the same gradient); with a three-element gradient, ndarray panicked.
    for glen in [1, 3] {
        let mut w = Array1::from_elem(8, 1.0f64);
        let mut g = Array1::from_elem(glen, 1.0f64);
        let e = Sgd::new(0.5)
            .step(&mut [param(
                "w",
                w.slice_mut(s![..;2]).into_dyn(),
                g.view_mut().into_dyn(),
            )])
            .unwrap_err();
        assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
        assert!(w.iter().all(|&x| x == 1.0));
    }
    // Equal shapes, any layouts: the update is the contiguous one.
    let mut w = Array1::from_shape_fn(8, |i| i as f64);
    let mut g = Array1::from_shape_fn(4, |i| i as f64 + 0.5);
    Sgd::new(0.5)
        .step(&mut [param(
            "w",
            w.slice_mut(s![..;-2]).into_dyn(),
            g.view_mut().into_dyn(),
        )])
        .unwrap();
    assert_eq!(w, array![0.0, -0.75, 2.0, 1.75, 4.0, 4.25, 6.0, 6.75]);
}

#[test]
fn clip_grads_of_huge_f64_gradients_clips_instead_of_failing() {
    let mut w = array![0.0f64, 0.0];
    let mut g = array![3e200f64, 4e200];
    let norm = clip_grads(
        &mut [param("w", w.view_mut().into_dyn(), g.view_mut().into_dyn())],
        1.0,
    )
    .unwrap();
    assert!((norm / 5e200 - 1.0).abs() < 1e-15, "{norm}");
    assert!(
        (g[0] - 0.6).abs() < 1e-12 && (g[1] - 0.8).abs() < 1e-12,
        "{g}"
    );
    // Tiny gradients: the squares underflow, the norm does not.
    let mut g = array![3e-200f64, 4e-200];
    let norm = clip_grads(
        &mut [param("w", w.view_mut().into_dyn(), g.view_mut().into_dyn())],
        1.0,
    )
    .unwrap();
    assert!((norm / 5e-200 - 1.0).abs() < 1e-15, "{norm}");
    assert_eq!(g, array![3e-200, 4e-200]);
    // Infinite and NaN gradients are still refused, and left alone.
    for bad in [f64::INFINITY, f64::NAN] {
        let mut g = array![1e300, bad];
        let e = clip_grads(
            &mut [param("w", w.view_mut().into_dyn(), g.view_mut().into_dyn())],
            1.0,
        )
        .unwrap_err();
        assert!(matches!(e, Error::NonFinite { .. }), "{e}");
        assert_eq!(g[0], 1e300);
    }
}

// ---------------------------------------------------------------- hyperparameters

/// `step` on one parameter `(1, 2)` with gradient `(1, 1)`; the parameter must be
/// unchanged on `Err`.
fn try_step(opt: &mut dyn Optimizer<f64>) -> Result<(), Error> {
    let mut w = array![1.0, 2.0];
    let mut g = array![1.0, 1.0];
    let r = opt.step(&mut [param("w", w.view_mut().into_dyn(), g.view_mut().into_dyn())]);
    if r.is_err() {
        assert_eq!(w, array![1.0, 2.0]);
    }
    r
}

#[track_caller]
fn assert_refused(r: Result<(), Error>, arg: &str) {
    let e = r.unwrap_err();
    assert!(matches!(e, Error::InvalidArgument { .. }), "{e}");
    assert!(e.to_string().contains(&format!("`{arg}`")), "{e}");
}

#[test]
fn optimizers_refuse_hyperparameters_out_of_range() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0, 0.0] {
        let mut sgd = Sgd::new(bad);
        assert_refused(sgd.validate(), "lr");
        assert_refused(try_step(&mut sgd), "lr");
        let mut adam = Adam::new(bad);
        assert_refused(adam.validate(), "lr");
        assert_refused(try_step(&mut adam), "lr");
        let mut adam = Adam::new(0.1);
        adam.eps = bad;
        assert_refused(try_step(&mut adam), "eps");
    }
    for bad in [f64::NAN, f64::INFINITY, -0.1, 1.0, 1.5] {
        let mut adam = Adam::new(0.1);
        adam.beta1 = bad;
        assert_refused(try_step(&mut adam), "beta1");
        let mut adam = Adam::new(0.1);
        adam.beta2 = bad;
        assert_refused(try_step(&mut adam), "beta2");
    }
    // A refused step counts for nothing: fixing the field gives a first step.
    let mut adam = Adam::new(0.1);
    adam.beta1 = 1.0;
    assert!(try_step(&mut adam).is_err());
    adam.beta1 = 0.9;
    let (mut w, mut g) = (array![1.0, 2.0], array![1.0, 1.0]);
    adam.step(&mut [param("w", w.view_mut().into_dyn(), g.view_mut().into_dyn())])
        .unwrap();
    assert!((w[0] - 0.9).abs() < 1e-6, "{w}");
    assert!(Sgd::new(0.1).validate().is_ok() && Adam::new(0.1f32).validate().is_ok());
}

#[test]
fn clip_grads_refuses_every_max_norm_out_of_range() {
    let mut w = array![0.0f64, 0.0];
    let mut g = array![3.0f64, 4.0];
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let e = clip_grads(
            &mut [param("w", w.view_mut().into_dyn(), g.view_mut().into_dyn())],
            bad,
        )
        .unwrap_err();
        assert!(matches!(e, Error::InvalidArgument { .. }), "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains("`max_norm`") && msg.contains("positive"),
            "{msg}"
        );
    }
    assert_eq!(g, array![3.0, 4.0]);
}

/// A broadcast view of 2^46 elements: its buffers (2^48 bytes and more) fit in `isize` but
/// in no address space, so each forward must refuse it at once with `AllocationFailed`
/// naming the argument, before scanning it (a scan of 2^46 ids takes hours) and without
/// aborting in the allocator; the layer then works as if the call never happened.
#[test]
fn huge_broadcast_inputs_are_refused_before_any_scan_or_allocation() {
    use recur_layers::{Embedding, LmHead};
    const BIG: usize = 1 << 23;
    let ids = ndarray::arr0(0u32);
    let ids = ids.broadcast((BIG, BIG)).unwrap();
    let x = ndarray::arr0(0.5f32);
    let xs = x.broadcast((BIG, BIG, 1)).unwrap();
    let alloc = |e: Error, arg: &str| {
        let msg = e.to_string();
        assert!(matches!(e, Error::AllocationFailed { .. }), "{msg}");
        assert!(msg.contains(&format!("`{arg}`")), "{msg}");
    };
    let small_ids = array![[0u32]];
    let small = Array3::from_elem((1, 1, 1), 0.5f32);

    let mut emb = Embedding::new(array![[2.0f32]]);
    alloc(emb.forward(ids).unwrap_err(), "ids");
    assert_eq!(emb.forward(small_ids.view()).unwrap(), small.mapv(|_| 2.0));

    let mut sce = SoftmaxCrossEntropy::<f32>::new();
    alloc(sce.forward(xs, ids).unwrap_err(), "scores");
    assert_eq!(sce.forward(small.view(), small_ids.view()).unwrap(), 0.0);

    let mut head = LmHead::new(array![[1.0f32, 0.0]], array![0.0f32, 0.0]).unwrap();
    let twin = head.clone();
    alloc(head.forward(xs, ids).unwrap_err(), "hs");
    alloc(head.evaluate(xs, ids).unwrap_err(), "hs");
    alloc(head.scores(xs).unwrap_err(), "hs");
    let mut twin = twin;
    let (a, b) = (
        head.forward(small.view(), small_ids.view()).unwrap(),
        twin.forward(small.view(), small_ids.view()).unwrap(),
    );
    assert_eq!(a.to_bits(), b.to_bits());

    let mut rnn = TimeRnn::new(array![[1.0f32]], array![[0.5f32]], array![0.0f32]).unwrap();
    alloc(rnn.forward(xs).unwrap_err(), "xs");
    assert_eq!(rnn.forward(small.view()).unwrap(), small.mapv(f32::tanh));

    let mut aff = TimeAffine::new(array![[3.0f32]], array![1.0f32]).unwrap();
    alloc(aff.forward(xs).unwrap_err(), "xs");
    assert_eq!(
        aff.forward(small.view()).unwrap(),
        small.mapv(|x| 3.0 * x + 1.0)
    );
}

/// `set_block_rows(usize::MAX)` is allowed ("at least 1"); the forward's `block_rows · V`
/// overflowed (a panic with overflow checks). Now the blocks are clamped to the rows, and
/// the results are those of any other block size, bit for bit.
#[test]
fn lm_head_with_the_largest_block_rows_gives_the_same_bits() {
    use recur_layers::LmHead;
    let w = Array2::from_shape_fn((3, 5), |(i, j)| (i as f32 - 1.0) * 0.3 + j as f32 * 0.1);
    let b = array![0.1f32, -0.2, 0.0, 0.3, 0.05];
    let hs = Array3::from_shape_fn((2, 3, 3), |(t, n, k)| ((t * 9 + n * 3 + k) as f32).sin());
    let ts = array![[0u32, 4, 2], [1, 3, 0]];
    let mut plain = LmHead::new(w.clone(), b.clone()).unwrap();
    let mut huge = LmHead::new(w, b).unwrap();
    huge.set_block_rows(usize::MAX).unwrap();
    for (a, b) in [
        (
            plain.forward(hs.view(), ts.view()).unwrap(),
            huge.forward(hs.view(), ts.view()).unwrap(),
        ),
        (
            plain.evaluate(hs.view(), ts.view()).unwrap(),
            huge.evaluate(hs.view(), ts.view()).unwrap(),
        ),
    ] {
        assert_eq!(a.to_bits(), b.to_bits());
    }
    let (da, db) = (
        plain.backward(1.0).unwrap().to_owned(),
        huge.backward(1.0).unwrap().to_owned(),
    );
    assert_eq!(bits32(da), bits32(db));
    assert_eq!(
        bits32(plain.grad_w().iter().copied()),
        bits32(huge.grad_w().iter().copied())
    );
}

/// `LmHead::evaluate` gives `forward`'s loss at the language model's size (T·N = 350 rows,
/// V = 10,000: several row blocks), on one thread and on two.
#[test]
fn lm_head_evaluate_equals_forward_at_language_model_size() {
    use recur_kernels::Parallelism;
    use recur_layers::LmHead;
    let (t_len, n, h, v) = (35usize, 10usize, 100usize, 10_000usize);
    let mut rng = recur_testkit::Rng::new(404);
    let w = Array2::from_shape_vec((h, v), rng.vec_f32(h * v, -0.5, 0.5)).unwrap();
    let b = Array1::from_vec(rng.vec_f32(v, -0.5, 0.5));
    let hs = Array3::from_shape_vec((t_len, n, h), rng.vec_f32(t_len * n * h, -2.0, 2.0)).unwrap();
    let ts = Array2::from_shape_fn((t_len, n), |_| rng.below(v) as u32);
    for par in [Parallelism::Serial, Parallelism::Rayon(2)] {
        let mut head = LmHead::new(w.clone(), b.clone()).unwrap();
        head.set_parallelism(par);
        let fwd = head.forward(hs.view(), ts.view()).unwrap();
        let eval = head.evaluate(hs.view(), ts.view()).unwrap();
        assert_eq!(
            fwd.to_bits(),
            eval.to_bits(),
            "{par:?}: forward {fwd}, evaluate {eval}"
        );
    }
}
