//! Bad input at every fallible public function (issue #7, "No input can break it"): each
//! bad argument gets an `Err` whose message names the argument (and both shapes where
//! shapes are involved), and the object is still usable afterwards: the next valid call
//! succeeds and is correct. `tests/layers.rs` and `crates/kernels/tests/gemm.rs` cover the
//! `TimeRnn` errors and the `b` / `c` / `bias` errors of `gemm`; this file covers the rest.

use recur::kernels::{
    gemm, gemm_packed, gemm_with, tanh, tanh_backward, Epilogue, Error, MatMut, MatRef, PackedB,
    Parallelism,
};
use recur::layers::ndarray::{array, Array1, Array2, Array3};
use recur::layers::optim::{clip_grads, Adam, Optimizer, Sgd};
use recur::layers::{Embedding, ParamMut, SoftmaxCrossEntropy, TimeAffine, TimeRnn};
use recur::lm::model_file::{from_bytes, to_bytes};
use recur::lm::{train, Corpus, LmError, SimpleRnnlm, TrainConfig};

/// The message names `` `arg` `` and contains every one of `parts`.
#[track_caller]
fn assert_names(msg: &str, arg: &str, parts: &[&str]) {
    assert!(
        msg.contains(&format!("`{arg}`")),
        "{msg:?} does not name `{arg}`"
    );
    for p in parts {
        assert!(msg.contains(p), "{msg:?} lacks {p:?}");
    }
}

fn bits(x: &[f32]) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}

// ---------------------------------------------------------------- views

#[test]
fn view_constructors_name_the_slice_and_both_sizes() {
    let d = [1.0f32, 2.0, 3.0, 4.0, 5.0];
    let e = MatRef::from_slice(&d, 2, 3).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
    assert_names(&e.to_string(), "data", &["2 * 3 = 6", "5 elements"]);
    let e = MatRef::from_slice(&d, usize::MAX, 2).unwrap_err();
    assert!(matches!(e, Error::SizeOverflow { .. }), "{e}");
    assert_names(
        &e.to_string(),
        "rows * cols",
        &[&format!("({}, 2)", usize::MAX)],
    );

    let e = MatRef::from_strided(&d, 2, 3, 3, 1).unwrap_err();
    assert!(matches!(e, Error::OutOfBounds { .. }), "{e}");
    assert_names(
        &e.to_string(),
        "data",
        &["2 x 3, strides (3, 1)", "offset 5", "length 5"],
    );
    let e = MatRef::from_strided(&d, 3, 2, usize::MAX, 1).unwrap_err();
    assert_names(&e.to_string(), "data", &["overflows usize", "length 5"]);
    let e = MatRef::from_strided(&d, usize::MAX, usize::MAX, 1, 1).unwrap_err();
    assert_names(&e.to_string(), "data", &["overflows usize"]);

    let mut m = [0.0f32; 6];
    let e = MatMut::from_slice(&mut m, 4, 2).unwrap_err();
    assert_names(&e.to_string(), "data", &["4 * 2 = 8", "6 elements"]);
    let e = MatMut::from_strided(&mut m, 2, 2, 1, 1).unwrap_err();
    assert!(matches!(e, Error::AliasingStrides { .. }), "{e}");
    assert_names(&e.to_string(), "data", &["2 x 2, strides (1, 1)", "share"]);
    let e = MatMut::from_strided(&mut m, 3, 1, 0, 1).unwrap_err();
    assert!(matches!(e, Error::AliasingStrides { .. }), "{e}");
    let e = MatMut::from_strided(&mut m, 2, 4, 4, 1).unwrap_err();
    assert!(matches!(e, Error::OutOfBounds { .. }), "{e}");
    assert_names(&e.to_string(), "data", &["offset 7", "length 6"]);

    // The slices are untouched and usable.
    let a = MatRef::from_strided(&d, 2, 2, 3, 1).unwrap();
    assert_eq!((a.get(1, 0), a.get(1, 1)), (Some(4.0), Some(5.0)));
    let mut c = MatMut::from_strided(&mut m, 2, 3, 1, 2).unwrap();
    assert!(c.set(1, 2, 9.0));
    assert_eq!(m, [0.0, 0.0, 0.0, 0.0, 0.0, 9.0]);
}

// ---------------------------------------------------------------- gemm

/// `a: (2, 3)`, `b: (3, 2)`, and `a·b` by hand.
const A: [f32; 6] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
const B: [f32; 6] = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0];
const AB: [f32; 4] = [4.0, 5.0, 10.0, 11.0];

fn a() -> MatRef<'static, f32> {
    MatRef::from_slice(&A, 2, 3).unwrap()
}
fn b() -> MatRef<'static, f32> {
    MatRef::from_slice(&B, 3, 2).unwrap()
}

#[test]
fn gemm_shape_errors_name_the_argument_and_leave_c_alone() {
    let mut c = [7.0f32; 4];
    let e = gemm(
        1.0,
        a(),
        a(),
        0.0,
        MatMut::from_slice(&mut c, 2, 2).unwrap(),
    )
    .unwrap_err();
    assert_names(&e.to_string(), "b", &["(2, 3)", "(3, _)"]);
    let mut c3 = [7.0f32; 6];
    let e = gemm(
        1.0,
        a(),
        b(),
        0.0,
        MatMut::from_slice(&mut c3, 3, 2).unwrap(),
    )
    .unwrap_err();
    assert_names(&e.to_string(), "c", &["(3, 2)", "(2, 2)"]);
    assert_eq!(c, [7.0; 4]);
    assert_eq!(c3, [7.0; 6]);
    gemm(
        1.0,
        a(),
        b(),
        0.0,
        MatMut::from_slice(&mut c, 2, 2).unwrap(),
    )
    .unwrap();
    assert_eq!(c, AB);
}

#[test]
fn gemm_with_epilogue_shape_errors() {
    let mut c = [7.0f32; 4];
    let bias = [1.0f32, 2.0, 3.0];
    for epi in [Epilogue::Bias(&bias), Epilogue::BiasTanh(&bias)] {
        let cv = MatMut::from_slice(&mut c, 2, 2).unwrap();
        let e = gemm_with(1.0, a(), b(), 0.0, cv, epi, Parallelism::Serial).unwrap_err();
        assert_names(&e.to_string(), "bias", &["(3)", "(2)"]);
    }
    let e23 = [0.0f32; 6];
    let y22 = [0.5f32; 4];
    let e22 = [1.0f32; 4];
    let cases = [
        (
            MatRef::from_slice(&e23, 2, 3).unwrap(),
            MatRef::from_slice(&y22, 2, 2).unwrap(),
            "e",
            "(2, 3)",
        ),
        (
            MatRef::from_slice(&e22, 2, 2).unwrap(),
            MatRef::from_slice(&e23, 3, 2).unwrap(),
            "y",
            "(3, 2)",
        ),
        (
            MatRef::from_slice(&e22, 2, 2).unwrap(),
            MatRef::from_slice(&y22, 2, 2)
                .unwrap()
                .t()
                .submatrix(0, 0, 2, 1)
                .unwrap(),
            "y",
            "(2, 1)",
        ),
    ];
    for (ev, yv, arg, got) in cases {
        let cv = MatMut::from_slice(&mut c, 2, 2).unwrap();
        let epi = Epilogue::TanhBackward { e: ev, y: yv };
        let err = gemm_with(1.0, a(), b(), 0.0, cv, epi, Parallelism::Serial).unwrap_err();
        assert_names(&err.to_string(), arg, &[got, "(2, 2)"]);
    }
    assert_eq!(c, [7.0; 4]);
    // Then valid calls work: bias, and the backward epilogue (v + e)·(1 − y²).
    let bias2 = [1.0f32, -1.0];
    let cv = MatMut::from_slice(&mut c, 2, 2).unwrap();
    gemm_with(
        1.0,
        a(),
        b(),
        0.0,
        cv,
        Epilogue::Bias(&bias2),
        Parallelism::Serial,
    )
    .unwrap();
    assert_eq!(c, [5.0, 4.0, 11.0, 10.0]);
    let epi = Epilogue::TanhBackward {
        e: MatRef::from_slice(&e22, 2, 2).unwrap(),
        y: MatRef::from_slice(&y22, 2, 2).unwrap(),
    };
    let cv = MatMut::from_slice(&mut c, 2, 2).unwrap();
    gemm_with(1.0, a(), b(), 0.0, cv, epi, Parallelism::Serial).unwrap();
    assert_eq!(c, AB.map(|v| (v + 1.0) * 0.75));
}

#[test]
fn gemm_packed_with_a_packed_b_of_the_wrong_depth() {
    let b2 = [1.0f32, 2.0, 3.0, 4.0];
    let packed = PackedB::new(MatRef::from_slice(&b2, 2, 2).unwrap()).unwrap(); // (k, n) = (2, 2)
    let mut c = [7.0f32; 4];
    let cv = MatMut::from_slice(&mut c, 2, 2).unwrap();
    let e = gemm_packed(
        1.0,
        a(),
        &packed,
        0.0,
        cv,
        Epilogue::None,
        Parallelism::Serial,
    )
    .unwrap_err();
    assert_names(&e.to_string(), "b", &["(2, 2)", "(3, _)", "(2, 3)"]);
    assert_eq!(c, [7.0; 4]);
    // A C of the wrong shape, and a bias of the wrong length, against a valid PackedB.
    let good = PackedB::new(b()).unwrap();
    let mut c6 = [7.0f32; 6];
    let cv = MatMut::from_slice(&mut c6, 2, 3).unwrap();
    let e = gemm_packed(
        1.0,
        a(),
        &good,
        0.0,
        cv,
        Epilogue::None,
        Parallelism::Serial,
    )
    .unwrap_err();
    assert_names(&e.to_string(), "c", &["(2, 3)", "(2, 2)"]);
    let cv = MatMut::from_slice(&mut c, 2, 2).unwrap();
    let e = gemm_packed(
        1.0,
        a(),
        &good,
        0.0,
        cv,
        Epilogue::Bias(&[1.0]),
        Parallelism::Serial,
    )
    .unwrap_err();
    assert_names(&e.to_string(), "bias", &["(1)", "(2)"]);
    // The PackedB is still usable.
    let cv = MatMut::from_slice(&mut c, 2, 2).unwrap();
    gemm_packed(
        1.0,
        a(),
        &good,
        0.0,
        cv,
        Epilogue::None,
        Parallelism::Serial,
    )
    .unwrap();
    assert_eq!(c, AB);
}

// ---------------------------------------------------------------- tanh

#[test]
fn tanh_length_errors_write_nothing() {
    let x = [0.0f32, 1.0, -1.0];
    let mut y = [9.0f32; 4];
    let e = tanh(&x, &mut y).unwrap_err();
    assert_names(&e.to_string(), "y", &["(4)", "(3)"]);
    assert_eq!(y, [9.0; 4]);
    let mut dx = [9.0f32; 3];
    let e = tanh_backward(&x, &[1.0, 1.0], &mut dx).unwrap_err();
    assert_names(&e.to_string(), "dy", &["(2)", "(3)"]);
    let mut dx2 = [9.0f32; 2];
    let e = tanh_backward(&x, &[1.0; 3], &mut dx2).unwrap_err();
    assert_names(&e.to_string(), "dx", &["(2)", "(3)"]);
    assert_eq!((dx, dx2), ([9.0; 3], [9.0; 2]));
    tanh(&x, &mut y[..3]).unwrap();
    assert_eq!(bits(&y[..3]), bits(&[0.0, 1f32.tanh(), (-1f32).tanh()]));
    tanh_backward(&[0.5, 0.0, 1.0], &[2.0; 3], &mut dx).unwrap();
    assert_eq!(dx, [1.5, 2.0, 0.0]);
}

// ---------------------------------------------------------------- Embedding

#[test]
fn embedding_errors_leave_the_layer_usable() {
    let w = Array2::from_shape_fn((4, 2), |(v, d)| (v * 10 + d) as f32); // (V, D) = (4, 2)
    let mut emb = Embedding::new(w);
    let e = emb.backward(Array3::zeros((1, 1, 2)).view()).unwrap_err();
    assert!(matches!(e, Error::InvalidState { .. }), "{e}");
    assert!(e.to_string().contains("before forward"), "{e}");
    let e = emb.forward(array![[0u32, 1], [2, 4]].view()).unwrap_err();
    assert_names(&e.to_string(), "ids", &["[t=1, n=1]", "4", "below 4"]);
    let e = emb.forward(array![[u32::MAX]].view()).unwrap_err();
    assert_names(&e.to_string(), "ids", &[&u32::MAX.to_string()]);
    // A failed forward does not count as a forward.
    assert!(emb.backward(Array3::zeros((2, 2, 2)).view()).is_err());
    let xs = emb
        .forward(array![[3u32, 1], [1, 0]].view())
        .unwrap()
        .to_owned();
    assert_eq!(
        xs,
        array![[[30.0, 31.0], [10.0, 11.0]], [[10.0, 11.0], [0.0, 1.0]]]
    );
    for bad in [(2, 2, 3), (2, 1, 2), (1, 2, 2)] {
        let e = emb.backward(Array3::zeros(bad).view()).unwrap_err();
        let got = format!("({}, {}, {})", bad.0, bad.1, bad.2);
        assert_names(&e.to_string(), "dout", &[&got, "(2, 2, 2)"]);
    }
    // Failed forward after a good one: backward still refers to the good one.
    assert!(emb.forward(array![[9u32]].view()).is_err());
    emb.backward(Array3::ones((2, 2, 2)).view()).unwrap();
    assert_eq!(
        emb.grad_w().to_owned(),
        array![[1.0, 1.0], [2.0, 2.0], [0.0, 0.0], [1.0, 1.0]]
    );
}

// ---------------------------------------------------------------- TimeRnn

fn rnn() -> TimeRnn<f64> {
    let wx = Array2::from_shape_fn((2, 3), |(i, j)| (i + j) as f64 * 0.1); // (D, H) = (2, 3)
    let wh = Array2::from_shape_fn((3, 3), |(i, j)| (i as f64 - j as f64) * 0.1);
    TimeRnn::new(wx, wh, Array1::from_elem(3, 0.05)).unwrap()
}

#[test]
fn time_rnn_constructor_and_state_errors() {
    let e = TimeRnn::new(
        Array2::<f64>::zeros((2, 3)),
        Array2::zeros((3, 2)),
        Array1::zeros(3),
    )
    .unwrap_err();
    assert_names(&e.to_string(), "wh", &["(3, 2)", "(3, 3)"]);
    let e = TimeRnn::new(
        Array2::<f64>::zeros((2, 3)),
        Array2::zeros((3, 3)),
        Array1::zeros(2),
    )
    .unwrap_err();
    assert_names(&e.to_string(), "b", &["(2)", "(3)"]);
    let mut r = rnn();
    let xs = Array3::from_shape_fn((2, 1, 2), |(t, _, d)| (t + d) as f64);
    let want = r.forward(xs.view()).unwrap().to_owned();
    let e = r.set_state(Array2::zeros((1, 4)).view()).unwrap_err();
    assert_names(&e.to_string(), "h", &["(1, 4)", "(_, 3)"]);
    assert!(r.state().is_none(), "a refused state was kept");
    assert_eq!(r.forward(xs.view()).unwrap().to_owned(), want);
    // A state for another batch size is refused at the forward; reset makes it usable.
    r.set_state(Array2::zeros((2, 3)).view()).unwrap();
    let e = r.forward(xs.view()).unwrap_err();
    assert_names(&e.to_string(), "state", &["(2, 3)", "(1, 3)"]);
    let e = r.forward(Array3::zeros((2, 1, 5)).view()).unwrap_err();
    assert_names(&e.to_string(), "xs", &["(2, 1, 5)", "2)"]);
    r.set_state(Array2::zeros((1, 3)).view()).unwrap();
    assert_eq!(r.forward(xs.view()).unwrap().to_owned(), want);
    let e = r.backward(Array3::zeros((2, 2, 3)).view()).unwrap_err();
    assert_names(&e.to_string(), "dhs", &["(2, 2, 3)", "(2, 1, 3)"]);
    assert_eq!(
        r.backward(Array3::ones((2, 1, 3)).view()).unwrap().dim(),
        (2, 1, 2)
    );
}

#[test]
fn time_rnn_sizes_that_overflow_are_errors() {
    // (T+1)·N·H overflows usize: D = 0, so xs has no element and costs nothing.
    let mut r = TimeRnn::new(
        Array2::<f32>::zeros((0, 4)),
        Array2::zeros((4, 4)),
        Array1::zeros(4),
    )
    .unwrap();
    let huge = 1usize << 61;
    let e = r.forward(Array3::zeros((huge, 2, 0)).view()).unwrap_err();
    assert!(matches!(e, Error::SizeOverflow { .. }), "{e}");
    assert_names(&e.to_string(), "xs", &[&huge.to_string()]);
    // (T+1)·N·H fits in usize, but not its size in bytes: still an Err, not a panic.
    let e = r
        .forward(Array3::zeros((1 << 31, 1 << 29, 0)).view())
        .unwrap_err();
    assert_names(&e.to_string(), "xs", &[&(1usize << 31).to_string()]);
    // Still usable.
    assert_eq!(
        r.forward(Array3::zeros((3, 2, 0)).view()).unwrap().dim(),
        (3, 2, 4)
    );
}

// ---------------------------------------------------------------- TimeAffine

#[test]
fn time_affine_errors_leave_the_layer_usable() {
    let e = TimeAffine::new(Array2::<f32>::zeros((2, 3)), Array1::zeros(2)).unwrap_err();
    assert_names(&e.to_string(), "b", &["(2)", "(3)"]);
    let mut fc = TimeAffine::new(
        array![[1.0f32, 0.0, 2.0], [0.0, 1.0, 0.0]],
        array![0.5, 0.0, 0.0],
    )
    .unwrap(); // (H, V) = (2, 3)
    let e = fc.backward(Array3::zeros((1, 1, 3)).view()).unwrap_err();
    assert!(matches!(e, Error::InvalidState { .. }), "{e}");
    let e = fc.forward(Array3::zeros((1, 2, 3)).view()).unwrap_err();
    assert_names(&e.to_string(), "xs", &["(1, 2, 3)", "2)"]);
    let xs = array![[[1.0f32, 2.0]]];
    let ys = fc.forward(xs.view()).unwrap().to_owned();
    assert_eq!(ys, array![[[1.5, 2.0, 2.0]]]);
    let e = fc.backward(Array3::zeros((1, 1, 2)).view()).unwrap_err();
    assert_names(&e.to_string(), "dys", &["(1, 1, 2)", "(1, 1, 3)"]);
    let e = fc.forward(Array3::zeros((1, 1, 3)).view()).unwrap_err();
    assert_names(&e.to_string(), "xs", &["(1, 1, 3)"]);
    // The failed forward left the last good one in place for backward.
    let dxs = fc
        .backward(array![[[1.0f32, 0.0, 1.0]]].view())
        .unwrap()
        .to_owned();
    assert_eq!(dxs, array![[[3.0, 0.0]]]);
    assert_eq!(fc.grad_b().to_owned(), array![1.0, 0.0, 1.0]);
    // Sizes that overflow: H = 0, so xs has no element.
    let mut wide = TimeAffine::new(Array2::<f32>::zeros((0, 4)), Array1::zeros(4)).unwrap();
    let e = wide
        .forward(Array3::zeros((1 << 31, 1 << 31, 0)).view())
        .unwrap_err();
    assert!(matches!(e, Error::SizeOverflow { .. }), "{e}");
    assert_names(&e.to_string(), "xs", &[&(1usize << 31).to_string()]);
    // (T, N, V) fits in usize, but not its size in bytes: still an Err, not a panic.
    let e = wide
        .forward(Array3::zeros((1 << 31, 1 << 30, 0)).view())
        .unwrap_err();
    assert_names(&e.to_string(), "xs", &[&(1usize << 31).to_string()]);
    assert_eq!(
        wide.forward(Array3::zeros((2, 1, 0)).view()).unwrap().dim(),
        (2, 1, 4)
    );
}

// ---------------------------------------------------------------- SoftmaxCrossEntropy

#[test]
fn softmax_cross_entropy_errors() {
    let mut l = SoftmaxCrossEntropy::<f64>::new();
    let e = l.backward(1.0).unwrap_err();
    assert!(matches!(e, Error::InvalidState { .. }), "{e}");
    let scores = Array3::<f64>::zeros((2, 1, 3)); // (T, N, V) = (2, 1, 3)
    let e = l
        .forward(scores.view(), array![[0u32, 1]].view())
        .unwrap_err();
    assert_names(&e.to_string(), "targets", &["(1, 2)", "(2, 1)"]);
    let e = l
        .forward(scores.view(), array![[0u32], [3]].view())
        .unwrap_err();
    assert_names(&e.to_string(), "targets", &["[t=1, n=0]", "3", "below 3"]);
    let loss = l
        .forward(scores.view(), array![[0u32], [2]].view())
        .unwrap();
    assert!((loss - 3f64.ln()).abs() < 1e-15);
    let g = l.backward(1.0).unwrap().to_owned();
    let third = 1.0 / 3.0 / 2.0;
    assert!((g[[0, 0, 0]] - (third - 0.5)).abs() < 1e-15 && (g[[1, 0, 0]] - third).abs() < 1e-15);
}

// ---------------------------------------------------------------- optimizers

fn param<'a>(
    name: &'static str,
    w: &'a mut Array1<f64>,
    g: &'a mut Array1<f64>,
) -> ParamMut<'a, f64> {
    ParamMut {
        name,
        value: w.view_mut().into_dyn(),
        grad: g.view_mut().into_dyn(),
        rows: None,
    }
}

#[test]
fn clip_grads_errors_leave_the_gradients_alone() {
    let mut w = array![0.0, 0.0];
    let mut g = array![3.0, 4.0];
    for bad in [0.0, -1.0, f64::NAN] {
        let mut p = [param("w", &mut w, &mut g)];
        let e = clip_grads(&mut p, bad).unwrap_err();
        assert_names(&e.to_string(), "max_norm", &["positive"]);
    }
    assert_eq!(g, array![3.0, 4.0]);
    let mut gi = array![f64::INFINITY, 1.0];
    let mut p = [param("w", &mut w, &mut gi)];
    let e = clip_grads(&mut p, 1.0).unwrap_err();
    assert!(
        matches!(e, Error::NonFinite { .. }) && e.to_string().contains("norm"),
        "{e}"
    );
    let mut p = [param("w", &mut w, &mut g)];
    assert_eq!(clip_grads(&mut p, 1.0).unwrap(), 5.0);
    assert!((g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6);
}

#[test]
fn adam_refuses_other_parameters_and_keeps_working() {
    let mut opt = Adam::new(0.1);
    let (mut w, mut g) = (array![1.0, 1.0], array![1.0, -1.0]);
    opt.step(&mut [param("w", &mut w, &mut g)]).unwrap();
    let after_one = w.clone();
    let (mut w3, mut g3) = (array![1.0, 1.0, 1.0], array![1.0, 1.0, 1.0]);
    let e = opt.step(&mut [param("w", &mut w3, &mut g3)]).unwrap_err();
    assert_names(&e.to_string(), "params", &[]);
    let (mut v, mut gv) = (array![0.0], array![0.0]);
    let e = opt
        .step(&mut [param("w", &mut w, &mut g), param("v", &mut v, &mut gv)])
        .unwrap_err();
    assert_names(&e.to_string(), "params", &["2 parameters", "1 parameters"]);
    assert_eq!(w, after_one, "a refused step moved the parameters");
    assert_eq!(w3, array![1.0, 1.0, 1.0]);
    // The next valid step is the second step of the original parameters.
    opt.step(&mut [param("w", &mut w, &mut g)]).unwrap();
    let mut fresh = Adam::new(0.1);
    let (mut wf, mut gf) = (array![1.0, 1.0], array![1.0, -1.0]);
    fresh.step(&mut [param("w", &mut wf, &mut gf)]).unwrap();
    fresh.step(&mut [param("w", &mut wf, &mut gf)]).unwrap();
    assert_eq!(w, wf);
    Sgd::new(0.5)
        .step(&mut [param("w", &mut w, &mut g)])
        .unwrap();
}

// ---------------------------------------------------------------- language model

#[test]
fn simple_rnnlm_from_weights_names_the_weight() {
    let (v, d, h) = (5, 2, 3);
    let ok = || {
        (
            Array2::<f32>::zeros((v, d)),
            Array2::<f32>::zeros((d, h)),
            Array2::<f32>::zeros((h, h)),
            Array1::<f32>::zeros(h),
            Array2::<f32>::zeros((h, v)),
            Array1::<f32>::zeros(v),
        )
    };
    let (we, _, wh, b, wa, ba) = ok();
    let e = SimpleRnnlm::from_weights(we, Array2::zeros((3, 3)), wh, b, wa, ba).unwrap_err();
    assert_names(&e.to_string(), "wx", &["(3, 3)", "(2, 3)"]);
    let (we, wx, wh, b, _, ba) = ok();
    let e = SimpleRnnlm::from_weights(we, wx, wh, b, Array2::zeros((3, 4)), ba).unwrap_err();
    assert_names(&e.to_string(), "w_affine", &["(3, 4)", "(3, 5)"]);
    let (we, _, _, b, _, ba) = ok();
    let e = SimpleRnnlm::from_weights(
        we,
        Array2::zeros((2, 4)),
        Array2::zeros((4, 3)),
        b,
        Array2::zeros((4, 5)),
        ba,
    )
    .unwrap_err();
    assert_names(&e.to_string(), "wh", &["(4, 3)", "(4, 4)"]);
    let (we, wx, wh, _, wa, ba) = ok();
    let e = SimpleRnnlm::from_weights(we, wx, wh, Array1::zeros(2), wa, ba).unwrap_err();
    assert_names(&e.to_string(), "b", &["(2)", "(3)"]);
    let (we, wx, wh, b, wa, _) = ok();
    let e = SimpleRnnlm::from_weights(we, wx, wh, b, wa, Array1::zeros(4)).unwrap_err();
    assert_names(&e.to_string(), "b", &["(4)", "(5)"]);
    let (we, wx, wh, b, wa, ba) = ok();
    let mut m = SimpleRnnlm::from_weights(we, wx, wh, b, wa, ba).unwrap();
    assert_eq!(m.dims(), (v, d, h));
    let loss = m
        .forward(array![[0u32]].view(), array![[1u32]].view())
        .unwrap();
    assert!((loss - (5f32).ln()).abs() < 1e-6);
}

/// A safetensors file with the given `(name, dtype, shape)` tensors, zero-filled.
fn file_with(tensors: &[(&str, safetensors::Dtype, Vec<usize>)]) -> Vec<u8> {
    let data: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, dt, shape)| vec![0u8; shape.iter().product::<usize>() * dt.bitsize() / 8])
        .collect();
    let views: Vec<(&str, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .zip(&data)
        .map(|((name, dt, shape), bytes)| {
            (
                *name,
                safetensors::tensor::TensorView::new(*dt, shape.clone(), bytes).unwrap(),
            )
        })
        .collect();
    safetensors::serialize(views, None).unwrap()
}

fn model_tensors(
    v: usize,
    d: usize,
    h: usize,
) -> Vec<(&'static str, safetensors::Dtype, Vec<usize>)> {
    use safetensors::Dtype::F32;
    vec![
        ("embed.weight", F32, vec![v, d]),
        ("rnn.weight_ih_l0", F32, vec![h, d]),
        ("rnn.weight_hh_l0", F32, vec![h, h]),
        ("rnn.bias_ih_l0", F32, vec![h]),
        ("rnn.bias_hh_l0", F32, vec![h]),
        ("fc.weight", F32, vec![v, h]),
        ("fc.bias", F32, vec![v]),
    ]
}

#[test]
fn model_files_that_do_not_fit_are_clear_errors() {
    let msg = |bytes: &[u8]| match from_bytes::<f32>(bytes) {
        Err(LmError::ModelFile(m)) => m,
        Err(other) => panic!("not a ModelFile error: {other}"),
        Ok(_) => panic!("a bad file loaded"),
    };
    assert!(!msg(b"").is_empty());
    assert!(!msg(&[0xff; 64]).is_empty());
    let good = file_with(&model_tensors(5, 2, 3));
    let m = from_bytes::<f32>(&good).unwrap();
    assert_eq!(m.dims(), (5, 2, 3));
    assert!(!msg(&good[..good.len() - 1]).is_empty());
    // A tensor of the wrong shape: named, with both shapes.
    let mut t = model_tensors(5, 2, 3);
    t[5].2 = vec![5, 4];
    let m = msg(&file_with(&t));
    assert!(
        m.contains("fc.weight") && m.contains("[5, 4]") && m.contains("[5, 3]"),
        "{m}"
    );
    // A missing tensor, a wrong dtype, a 1-D embedding.
    let mut t = model_tensors(5, 2, 3);
    t.remove(3);
    assert!(msg(&file_with(&t)).contains("rnn.bias_ih_l0"));
    let mut t = model_tensors(5, 2, 3);
    t[6].1 = safetensors::Dtype::I32;
    let m = msg(&file_with(&t));
    assert!(m.contains("fc.bias") && m.contains("I32"), "{m}");
    let mut t = model_tensors(5, 2, 3);
    t[0].2 = vec![10];
    assert!(msg(&file_with(&t)).contains("embed.weight"));
    // A round trip still works after all that.
    let model = SimpleRnnlm::<f32>::new(4, 2, 2, 7).unwrap();
    assert_eq!(
        from_bytes::<f32>(&to_bytes(&model).unwrap())
            .unwrap()
            .dims(),
        (4, 2, 2)
    );
}

#[test]
fn corpus_file_errors_name_the_file() {
    let dir = std::env::temp_dir().join(format!("recur-bad-input-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let missing = dir.join("no-such-file.txt");
    let e = Corpus::from_file(missing.to_str().unwrap(), None).unwrap_err();
    assert!(matches!(e, LmError::Io { .. }), "{e}");
    assert!(e.to_string().contains("no-such-file.txt"), "{e}");
    let e = Corpus::from_file(dir.to_str().unwrap(), None).unwrap_err();
    assert!(matches!(e, LmError::Io { .. }), "{e}");
    let bad = dir.join("bad.txt");
    std::fs::write(&bad, b"a b\nc \xc3\x28 d\n").unwrap();
    let e = Corpus::from_file(bad.to_str().unwrap(), None).unwrap_err();
    assert!(
        e.to_string().contains("bad.txt") && e.to_string().contains("offset 6"),
        "{e}"
    );
    std::fs::write(&bad, "a b\nc d\n").unwrap();
    assert_eq!(
        Corpus::from_file(bad.to_str().unwrap(), None).unwrap().ids,
        [0, 1, 2, 3, 4, 2]
    );
}

#[test]
fn train_refuses_corpora_and_windows_that_do_not_fit() {
    let corpus: Vec<u32> = (0..20).map(|i| i % 4).collect();
    let mut model = SimpleRnnlm::<f32>::new(4, 3, 3, 1).unwrap();
    let cfg = |batch, time| TrainConfig {
        batch,
        time,
        epochs: 1,
        max_grad: Some(1.0),
        max_windows: None,
    };
    let run = |model: &mut SimpleRnnlm<f32>, corpus: &[u32], c: TrainConfig| {
        train(model, corpus, &c, &mut Sgd::new(0.1), |_, _, _| {}, |_| {})
    };
    let e = run(&mut model, &corpus, cfg(4, 5)).unwrap_err();
    assert!(
        e.to_string().contains("too few") && e.to_string().contains("4 x 5"),
        "{e}"
    );
    for (b, t) in [(0, 3), (3, 0)] {
        let e = run(&mut model, &corpus, cfg(b, t)).unwrap_err();
        assert!(e.to_string().contains("at least 1"), "{e}");
    }
    // batch x time overflows usize: an Err, not a panic.
    for (b, t) in [(usize::MAX, 2), (1 << 63, 2), (1 << 32, 1 << 32)] {
        let e = run(&mut model, &corpus, cfg(b, t)).unwrap_err();
        assert!(e.to_string().contains("too few"), "{e}");
    }
    // Ids >= V in the corpus: refused before the first window, naming the token.
    let before = recur::lm::model_file::to_bytes(&model).unwrap();
    let e = run(&mut model, &[0, 1, 2, 3, 0, 1, 9, 2, 3], cfg(1, 2)).unwrap_err();
    assert!(
        e.to_string().contains("token 6") && e.to_string().contains("V = 4"),
        "{e}"
    );
    assert_eq!(recur::lm::model_file::to_bytes(&model).unwrap(), before);
    // Then a valid run trains.
    model.reset_state();
    let stats = run(&mut model, &corpus, cfg(2, 3)).unwrap();
    assert_eq!(stats.len(), 1);
    assert!(stats[0].loss.is_finite());
}

#[test]
fn simple_rnnlm_new_refuses_absurd_sizes_before_allocating() {
    let cases: [(usize, usize, usize, &str, &str); 5] = [
        (10, 4, 1 << 32, "`h`", "more elements than usize counts"),
        (
            usize::MAX,
            2,
            3,
            "`v` and `d`",
            "more elements than usize counts",
        ),
        (
            0,
            usize::MAX,
            2,
            "`d` and `h`",
            "more elements than usize counts",
        ),
        // Each weight fits in usize, the whole model does not fit in MAX_PARAMS.
        (
            1 << 20,
            1 << 11,
            1,
            "`v` and `d`",
            "at most 1073741824 parameters",
        ),
        (2, 2, 1 << 16, "`h`", "at most 1073741824 parameters"),
    ];
    for (v, d, h, arg, part) in cases {
        let e = SimpleRnnlm::<f32>::new(v, d, h, 1).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, LmError::Config(_)), "{msg}");
        assert!(msg.contains(arg) && msg.contains(part), "{msg}");
        assert!(msg.contains(&format!("v = {v}, d = {d}, h = {h}")), "{msg}");
    }
    // Zero sizes are allowed (empty weights).
    assert_eq!(
        SimpleRnnlm::<f64>::new(0, 0, 0, 1).unwrap().dims(),
        (0, 0, 0)
    );
}
