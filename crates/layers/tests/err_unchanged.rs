//! "An `Err` leaves the object as it was", for every fallible public method of the layers
//! and the optimizers: a failing call followed by a valid one gives, bit for bit, the same
//! result as the valid call alone (on a clone that never saw the failing call), and the
//! failing call changes nothing that `Debug` shows (weights, gradients, state, buffers).

use ndarray::{s, Array1, Array2, Array3, ArrayView3, ArrayViewMutD, IxDyn};
use proptest::prelude::*;
use recur_layers::optim::{clip_grads, Adam, Optimizer, Sgd};
use recur_layers::{Embedding, Error, ParamMut, SoftmaxCrossEntropy, TimeAffine, TimeRnn};
use recur_testkit::Rng;
use std::fmt::Debug;

/// The bit patterns of a result, to compare bit for bit (`-0.0 != 0.0`, NaN == NaN).
fn bits<'a>(x: impl IntoIterator<Item = &'a f32>) -> Vec<u32> {
    x.into_iter().map(|v| v.to_bits()).collect()
}

fn arr3(rng: &mut Rng, dim: (usize, usize, usize)) -> Array3<f32> {
    let (a, b, c) = dim;
    Array3::from_shape_vec(dim, rng.vec_f32(a * b * c, -1.0, 1.0)).unwrap()
}

fn arr2(rng: &mut Rng, dim: (usize, usize)) -> Array2<f32> {
    Array2::from_shape_vec(dim, rng.vec_f32(dim.0 * dim.1, -1.0, 1.0)).unwrap()
}

/// A view of `(T, max(N, 1), C)` far beyond any allocation: one element broadcast.
fn huge<'a>(one: &'a Array3<f32>, n: usize, c: usize) -> ArrayView3<'a, f32> {
    let n = n.max(1);
    one.broadcast((usize::MAX / (2 * n * c.max(1)), n, c))
        .expect("a broadcast shape that fits in isize")
}

/// `bad` must fail; then `obj` must look as before, and `good` on it must give what
/// `good` gives on an untouched clone.
#[track_caller]
fn assert_err_changes_nothing<O: Clone + Debug, R: PartialEq + Debug>(
    obj: &O,
    bad: impl FnOnce(&mut O) -> Result<(), Error>,
    good: impl Fn(&mut O) -> R,
) -> Error {
    let mut subject = obj.clone();
    let mut control = obj.clone();
    let err = bad(&mut subject).expect_err("the bad call must fail");
    assert_eq!(
        format!("{subject:?}"),
        format!("{control:?}"),
        "{err} changed the object"
    );
    assert_eq!(good(&mut subject), good(&mut control), "after {err}");
    err
}

/// Layers are used in three states: fresh, after a forward, after forward and backward.
fn prepare<L>(layer: &mut L, stage: usize, fwd: impl Fn(&mut L), bwd: impl Fn(&mut L)) {
    if stage >= 1 {
        fwd(layer);
    }
    if stage >= 2 {
        bwd(layer);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn time_rnn(
        (t, n, d, h) in (0usize..4, 1usize..4, 1usize..4, 1usize..5),
        stage in 0usize..3,
        stateful in any::<bool>(),
        set_state in any::<bool>(),
        kind in 0usize..6,
        seed in any::<u64>(),
    ) {
        let mut rng = Rng::new(seed);
        let (wx, wh) = (arr2(&mut rng, (d, h)), arr2(&mut rng, (h, h)));
        let b = Array1::from(rng.vec_f32(h, -1.0, 1.0));
        let e = TimeRnn::new(wx.clone(), wh.clone(), Array1::zeros(h + 1)).unwrap_err();
        prop_assert!(e.to_string().contains("`b`"));
        let e = TimeRnn::new(wx.clone(), arr2(&mut rng, (h, h + 1)), b.clone()).unwrap_err();
        prop_assert!(e.to_string().contains("`wh`"));
        let mut rnn = TimeRnn::new(wx, wh, b).unwrap();
        rnn.set_stateful(stateful);
        let (xs, dhs) = (arr3(&mut rng, (t, n, d)), arr3(&mut rng, (t, n, h)));
        // The valid call: a forward of xs reversed in time (a non-contiguous view) and its
        // backward; everything they produce and leave behind.
        let good = |r: &mut TimeRnn<f32>| {
            let hs = bits(r.forward(xs.slice(s![..;-1, .., ..])).unwrap());
            let dxs = bits(r.backward(dhs.view()).unwrap());
            let state = r.state().map(bits);
            (hs, dxs, bits(r.grad_wx()), bits(r.grad_wh()), bits(r.grad_b()),
             bits(r.grad_h0()), state)
        };
        prepare(&mut rnn, stage,
            |r| { r.forward(xs.view()).unwrap(); },
            |r| { r.backward(dhs.view()).unwrap(); });
        if set_state {
            rnn.set_state(arr2(&mut rng, (n, h)).view()).unwrap();
        }
        let one = Array3::zeros((1, 1, d));
        let e = match kind {
            0 => assert_err_changes_nothing(&rnn, |r| r.forward(arr3(&mut rng, (t, n, d + 1)).view()).map(drop), good),
            1 => assert_err_changes_nothing(&rnn, |r| r.backward(arr3(&mut rng, (t, n, h + 1)).view()).map(drop), good),
            2 => assert_err_changes_nothing(&rnn, |r| r.set_state(arr2(&mut rng, (n, h + 1)).view()), good),
            3 => assert_err_changes_nothing(&rnn, |r| r.forward(huge(&one, n, d)).map(drop), good),
            // A batch size other than the state's (when there is one; else a wrong D).
            4 if rnn.state().is_some() => assert_err_changes_nothing(&rnn, |r| r.forward(arr3(&mut rng, (t, n + 1, d)).view()).map(drop), good),
            4 => assert_err_changes_nothing(&rnn, |r| r.forward(Array3::zeros((t, n, 0)).view()).map(drop), good),
            // Backward of another T than the last forward's (or before any forward).
            _ => assert_err_changes_nothing(&rnn, |r| r.backward(arr3(&mut rng, (t + 1, n, h)).view()).map(drop), good),
        };
        prop_assert!(!e.to_string().is_empty());
    }

    #[test]
    fn time_affine(
        (t, n, h, v) in (0usize..4, 0usize..4, 1usize..4, 1usize..5),
        stage in 0usize..3,
        kind in 0usize..4,
        seed in any::<u64>(),
    ) {
        let mut rng = Rng::new(seed);
        let w = arr2(&mut rng, (h, v));
        let b = Array1::from(rng.vec_f32(v, -1.0, 1.0));
        let e = TimeAffine::new(w.clone(), Array1::zeros(v + 1)).unwrap_err();
        prop_assert!(e.to_string().contains("`b`"));
        let mut fc = TimeAffine::new(w, b).unwrap();
        let (xs, dys) = (arr3(&mut rng, (t, n, h)), arr3(&mut rng, (t, n, v)));
        let good = |f: &mut TimeAffine<f32>| {
            let ys = bits(f.forward(xs.slice(s![.., ..;-1, ..])).unwrap());
            let dxs = bits(f.backward(dys.slice(s![..;-1, .., ..])).unwrap());
            (ys, dxs, bits(f.grad_w()), bits(f.grad_b()))
        };
        prepare(&mut fc, stage,
            |f| { f.forward(xs.view()).unwrap(); },
            |f| { f.backward(dys.view()).unwrap(); });
        let one = Array3::zeros((1, 1, h));
        match kind {
            0 => assert_err_changes_nothing(&fc, |f| f.forward(arr3(&mut rng, (t, n, h + 1)).view()).map(drop), good),
            1 => assert_err_changes_nothing(&fc, |f| f.forward(huge(&one, n, h)).map(drop), good),
            2 => assert_err_changes_nothing(&fc, |f| f.backward(arr3(&mut rng, (t, n, v + 1)).view()).map(drop), good),
            _ => assert_err_changes_nothing(&fc, |f| f.backward(arr3(&mut rng, (t, n + 1, v)).view()).map(drop), good),
        };
    }

    #[test]
    fn embedding(
        (t, n, v, d) in (0usize..4, 0usize..4, 1usize..6, 0usize..4),
        stage in 0usize..3,
        kind in 0usize..4,
        seed in any::<u64>(),
    ) {
        let mut rng = Rng::new(seed);
        let mut emb = Embedding::new(arr2(&mut rng, (v, d)));
        let ids = Array2::from_shape_fn((t, n), |_| rng.below(v) as u32);
        let dout = arr3(&mut rng, (t, n, d));
        let good = |e: &mut Embedding<f32>| {
            let xs = bits(e.forward(ids.view()).unwrap());
            e.backward(dout.slice(s![..;-1, .., ..])).unwrap();
            (xs, bits(e.grad_w()))
        };
        prepare(&mut emb, stage,
            |e| { e.forward(ids.view()).unwrap(); },
            |e| { e.backward(dout.view()).unwrap(); });
        match kind {
            0 => {
                // One id out of range, anywhere in a (T+1, N+1) block.
                let mut bad = Array2::from_shape_fn((t + 1, n + 1), |_| rng.below(v) as u32);
                bad[[rng.below(t + 1), rng.below(n + 1)]] = (v + rng.below(3)) as u32;
                assert_err_changes_nothing(&emb, |e| e.forward(bad.view()).map(drop), good)
            }
            1 => assert_err_changes_nothing(&emb, |e| e.backward(arr3(&mut rng, (t, n, d + 1)).view()), good),
            // Ids far beyond any allocation: refused at once (not scanned first).
            2 => {
                let zero = Array2::<u32>::zeros((1, 1));
                let ids = zero.broadcast((usize::MAX / 2, 1)).unwrap();
                assert_err_changes_nothing(&emb, |e| e.forward(ids).map(drop), good)
            }
            _ => assert_err_changes_nothing(&emb, |e| e.backward(arr3(&mut rng, (t + 1, n, d)).view()), good),
        };
    }

    #[test]
    fn softmax_cross_entropy(
        (t, n, v) in (0usize..4, 0usize..4, 1usize..5),
        stage in 0usize..3,
        ignore in prop::option::of(0u32..6),
        relabel in prop::option::of(prop::option::of(0u32..6)),
        kind in 0usize..3,
        seed in any::<u64>(),
    ) {
        let mut rng = Rng::new(seed);
        let mut loss = SoftmaxCrossEntropy::new().with_ignore_label(ignore);
        let scores = arr3(&mut rng, (t, n, v));
        let targets = Array2::from_shape_fn((t, n), |_| rng.below(v) as u32);
        prepare(&mut loss, stage,
            |l| { l.forward(scores.view(), targets.view()).unwrap(); },
            |l| { l.backward(1.0).unwrap(); });
        // A builder between forward and backward.
        if let Some(label) = relabel {
            loss = loss.with_ignore_label(label);
        }
        let good = |l: &mut SoftmaxCrossEntropy<f32>| {
            let backward_first = l.backward(0.5).ok().map(bits);
            let value = l.forward(scores.slice(s![.., ..;-1, ..]), targets.slice(s![.., ..;-1]));
            let value = value.unwrap().to_bits();
            (backward_first, value, bits(l.backward(2.0).unwrap()), l.count())
        };
        let e = match kind {
            0 => assert_err_changes_nothing(&loss, |l| l.forward(scores.view(), Array2::zeros((t, n + 1)).view()).map(drop), good),
            1 => {
                // A target >= V (never the ignore label).
                let mut bad = Array2::from_shape_fn((t + 1, n + 1), |_| rng.below(v) as u32);
                bad[[rng.below(t + 1), rng.below(n + 1)]] = 1000;
                let sc = arr3(&mut rng, (t + 1, n + 1, v));
                assert_err_changes_nothing(&loss, |l| l.forward(sc.view(), bad.view()).map(drop), good)
            }
            _ if stage == 0 => assert_err_changes_nothing(&loss, |l| l.backward(1.0).map(drop), good),
            _ => {
                let one = Array3::zeros((1, 1, v));
                let sc = huge(&one, n, v);
                let tg = Array2::zeros((1, 1));
                let tg = tg.broadcast((sc.dim().0, sc.dim().1)).unwrap();
                assert_err_changes_nothing(&loss, |l| l.forward(sc, tg).map(drop), good)
            }
        };
        prop_assert!(!e.to_string().is_empty());
    }
}

// ---------------------------------------------------------------- optimizers

/// Parameters and gradients of the given shapes, owned: the optimizer's "object" is the
/// optimizer together with them.
#[derive(Clone, Debug)]
struct Params {
    values: Vec<ndarray::ArrayD<f64>>,
    grads: Vec<ndarray::ArrayD<f64>>,
}

impl Params {
    fn new(rng: &mut Rng, shapes: &[Vec<usize>]) -> Self {
        let mut make = |s: &Vec<usize>| {
            let len = s.iter().product();
            ndarray::ArrayD::from_shape_vec(IxDyn(s), rng.vec_f64(len, -2.0, 2.0)).unwrap()
        };
        let values = shapes.iter().map(&mut make).collect();
        let grads = shapes.iter().map(&mut make).collect();
        Params { values, grads }
    }

    fn views(&mut self) -> Vec<ParamMut<'_, f64>> {
        self.values
            .iter_mut()
            .zip(&mut self.grads)
            .map(|(v, g)| ParamMut {
                name: "p",
                value: v.view_mut(),
                grad: g.view_mut(),
                rows: None,
            })
            .collect()
    }

    /// Like `views`, with the gradient of parameter `i` replaced by `grad`.
    fn views_with<'a>(
        &'a mut self,
        i: usize,
        grad: ArrayViewMutD<'a, f64>,
    ) -> Vec<ParamMut<'a, f64>> {
        let mut v = self.views();
        v[i].grad = grad;
        v
    }

    fn fingerprint(&self) -> Vec<u64> {
        self.values
            .iter()
            .chain(&self.grads)
            .flat_map(|a| a.iter().map(|x| x.to_bits()))
            .collect()
    }
}

fn shapes() -> impl Strategy<Value = Vec<Vec<usize>>> {
    prop::collection::vec(prop::collection::vec(0usize..4, 0..3), 1..4)
}

fn bad_value() -> impl Strategy<Value = f64> {
    prop::sample::select(vec![
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -1.0,
        0.0,
        1.0,
        2.0,
    ])
}

/// The optimizer with its parameters, as one object.
#[derive(Clone, Debug)]
struct With<O> {
    opt: O,
    params: Params,
}

fn step<O: Optimizer<f64>>(w: &mut With<O>) -> Vec<u64> {
    w.opt.step(&mut w.params.views()).unwrap();
    w.params.fingerprint()
}

/// A step with one hyperparameter (`field`) set to `bad`, which is put back afterwards:
/// the failing call is the step, not the assignment.
fn step_with<O: Optimizer<f64>>(
    w: &mut With<O>,
    field: fn(&mut O) -> &mut f64,
    bad: f64,
) -> Result<(), Error> {
    let old = std::mem::replace(field(&mut w.opt), bad);
    let r = w.opt.step(&mut w.params.views());
    *field(&mut w.opt) = old;
    r
}

/// A gradient of another shape than parameter `i`'s: one element more.
fn wrong_grad(p: &Params, i: usize) -> ndarray::ArrayD<f64> {
    let mut shape = p.values[i].shape().to_vec();
    match shape.last_mut() {
        Some(last) => *last += 1,
        None => shape.push(1),
    }
    ndarray::ArrayD::zeros(IxDyn(&shape))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn sgd(shapes in shapes(), bad in bad_value(), which in 0usize..3, seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let params = Params::new(&mut rng, &shapes);
        let obj = With { opt: Sgd::new(0.25), params };
        let i = rng.below(shapes.len());
        if which == 0 && !(bad > 0.0 && bad.is_finite()) {
            assert_err_changes_nothing(&obj, |w| step_with(w, |o| &mut o.lr, bad), step);
        } else {
            let mut g = wrong_grad(&obj.params, i);
            assert_err_changes_nothing(&obj, |w| w.opt.step(&mut w.params.views_with(i, g.view_mut())), step);
        }
    }

    #[test]
    fn adam(
        shapes in shapes(),
        steps_before in 0usize..3,
        bad in bad_value(),
        which in 0usize..6,
        seed in any::<u64>(),
    ) {
        let mut rng = Rng::new(seed);
        let mut obj = With { opt: Adam::new(0.01), params: Params::new(&mut rng, &shapes) };
        for _ in 0..steps_before {
            step(&mut obj);
        }
        let i = rng.below(shapes.len());
        let valid = |x: f64, lo_ok: bool| x.is_finite() && (x > 0.0 || lo_ok && x == 0.0);
        match which {
            0 if !valid(bad, false) => { assert_err_changes_nothing(&obj, |w| step_with(w, |o| &mut o.lr, bad), step); }
            1 if !valid(bad, false) => { assert_err_changes_nothing(&obj, |w| step_with(w, |o| &mut o.eps, bad), step); }
            2 if !(valid(bad, true) && bad < 1.0) => { assert_err_changes_nothing(&obj, |w| step_with(w, |o| &mut o.beta1, bad), step); }
            3 if !(valid(bad, true) && bad < 1.0) => { assert_err_changes_nothing(&obj, |w| step_with(w, |o| &mut o.beta2, bad), step); }
            // Other parameters than at the first step: one more (once it has stepped).
            4 if steps_before > 0 => {
                let mut extra = Params::new(&mut rng, &[vec![2]]);
                assert_err_changes_nothing(&obj, |w| {
                    let mut v = w.params.views();
                    v.extend(extra.views());
                    w.opt.step(&mut v)
                }, step);
            }
            _ => {
                let mut g = wrong_grad(&obj.params, i);
                assert_err_changes_nothing(&obj, |w| w.opt.step(&mut w.params.views_with(i, g.view_mut())), step);
            }
        }
    }

    #[test]
    fn clip(
        shapes in shapes(),
        bad in bad_value(),
        poison in prop::sample::select(vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY]),
        scale in prop::sample::select(vec![1.0, 1e-200, 1e150, 1e200]),
        which in 0usize..2,
        seed in any::<u64>(),
    ) {
        let mut rng = Rng::new(seed);
        let mut params = Params::new(&mut rng, &shapes);
        for g in &mut params.grads {
            g.mapv_inplace(|x| x * scale);
        }
        let good = |p: &mut Params| {
            let norm = clip_grads(&mut p.views(), 0.5).unwrap();
            (norm.to_bits(), p.fingerprint())
        };
        // Huge or tiny gradients have a finite, positive norm, unless all are zero.
        let mut probe = params.clone();
        let norm = clip_grads(&mut probe.views(), 1e300).unwrap();
        let any_nonzero = params.grads.iter().any(|g| g.iter().any(|&x| x != 0.0));
        prop_assert!(norm.is_finite() && (norm > 0.0) == any_nonzero, "{norm}");
        if which == 0 && !(bad > 0.0 && bad.is_finite()) {
            assert_err_changes_nothing(&params, |p| clip_grads(&mut p.views(), bad).map(drop), good);
        } else if let Some(i) = params.grads.iter().position(|g| !g.is_empty()) {
            // A NaN or infinite gradient: refused, and nothing is scaled.
            let last = params.grads[i].len() - 1;
            params.grads[i].as_slice_mut().unwrap()[last] = poison;
            let e = assert_err_changes_nothing(&params, |p| clip_grads(&mut p.views(), 0.5).map(drop), |p: &mut Params| p.fingerprint());
            prop_assert!(matches!(e, Error::NonFinite { .. }), "{e}");
        }
    }
}
