//! Layer behaviour at the API boundary: every bad input gets a typed error naming the
//! argument and both shapes, the layer stays usable, empty dimensions work, stateful
//! semantics follow the book, backward overwrites.

use recur::kernels::Error;
use recur::layers::ndarray::{Array1, Array2, Array3};
use recur::layers::{Parameters, TimeRnn};

fn rnn(d: usize, h: usize) -> TimeRnn<f64> {
    let wx = Array2::from_shape_fn((d, h), |(i, j)| ((i * h + j) as f64 * 0.7).sin() * 0.5);
    let wh = Array2::from_shape_fn((h, h), |(i, j)| ((i * h + j) as f64 * 1.3).cos() * 0.4);
    let b = Array1::from_shape_fn(h, |j| j as f64 * 0.01);
    TimeRnn::new(wx, wh, b).unwrap()
}

fn xs(t: usize, n: usize, d: usize) -> Array3<f64> {
    Array3::from_shape_fn((t, n, d), |(a, b, c)| {
        ((a * 31 + b * 7 + c) as f64 * 0.3).sin()
    })
}

fn assert_names(err: &Error, arg: &str, parts: &[&str]) {
    let msg = err.to_string();
    assert!(msg.contains(&format!("`{arg}`")), "{msg}");
    for p in parts {
        assert!(msg.contains(p), "{msg} lacks {p}");
    }
}

#[test]
fn constructor_rejects_mismatched_weights() {
    let err = TimeRnn::new(
        Array2::<f32>::zeros((3, 4)),
        Array2::zeros((4, 5)),
        Array1::zeros(4),
    )
    .unwrap_err();
    assert_names(&err, "wh", &["(4, 5)", "(4, 4)"]);
    let err = TimeRnn::new(
        Array2::<f32>::zeros((3, 4)),
        Array2::zeros((4, 4)),
        Array1::zeros(3),
    )
    .unwrap_err();
    assert_names(&err, "b", &["(3)", "(4)"]);
}

#[test]
fn bad_inputs_are_errors_and_the_layer_stays_usable() {
    let mut r = rnn(3, 4);
    let good = xs(5, 2, 3);
    // backward before forward
    let err = r.backward(Array3::zeros((5, 2, 4)).view()).unwrap_err();
    assert!(matches!(err, Error::InvalidState { .. }), "{err}");
    // wrong D
    let err = r.forward(xs(5, 2, 4).view()).unwrap_err();
    assert_names(&err, "xs", &["(5, 2, 4)", "3)"]);
    let want = r.forward(good.view()).unwrap().to_owned();
    // wrong dhs shape
    let err = r.backward(Array3::zeros((5, 2, 3)).view()).unwrap_err();
    assert_names(&err, "dhs", &["(5, 2, 3)", "(5, 2, 4)"]);
    // wrong state width
    let err = r.set_state(Array2::zeros((2, 5)).view()).unwrap_err();
    assert_names(&err, "h", &["(2, 5)"]);
    // state with another batch size than the next forward's
    r.set_state(Array2::zeros((3, 4)).view()).unwrap();
    let err = r.forward(good.view()).unwrap_err();
    assert_names(&err, "state", &["(3, 4)", "(2, 4)"]);
    r.reset_state();
    // still usable, and still correct
    let again = r.forward(good.view()).unwrap().to_owned();
    assert_eq!(want, again);
    let dxs = r.backward(Array3::ones((5, 2, 4)).view()).unwrap();
    assert_eq!(dxs.dim(), (5, 2, 3));
}

#[test]
fn empty_dimensions_give_empty_results() {
    let mut r = rnn(3, 4);
    assert_eq!(r.forward(xs(0, 2, 3).view()).unwrap().dim(), (0, 2, 4));
    assert_eq!(
        r.backward(Array3::zeros((0, 2, 4)).view()).unwrap().dim(),
        (0, 2, 3)
    );
    assert!(r.grad_wx().iter().all(|&g| g == 0.0));
    assert_eq!(r.forward(xs(3, 0, 3).view()).unwrap().dim(), (3, 0, 4));
    assert_eq!(
        r.backward(Array3::zeros((3, 0, 4)).view()).unwrap().dim(),
        (3, 0, 3)
    );
    let mut z = TimeRnn::new(
        Array2::<f32>::zeros((0, 0)),
        Array2::zeros((0, 0)),
        Array1::zeros(0),
    )
    .unwrap();
    assert_eq!(
        z.forward(Array3::zeros((2, 3, 0)).view()).unwrap().dim(),
        (2, 3, 0)
    );
    assert_eq!(
        z.backward(Array3::zeros((2, 3, 0)).view()).unwrap().dim(),
        (2, 3, 0)
    );
}

#[test]
fn stateful_carries_and_set_state_applies_in_both_modes() {
    let x = xs(4, 2, 3);
    // Not stateful: each forward starts from zeros.
    let mut r = rnn(3, 4);
    let first = r.forward(x.view()).unwrap().to_owned();
    assert!(r.state().is_none());
    assert_eq!(r.forward(x.view()).unwrap().to_owned(), first);
    // set_state applies to the next forward even when not stateful, then is consumed.
    let h0 = Array2::from_elem((2, 4), 0.5);
    r.set_state(h0.view()).unwrap();
    assert_eq!(r.state().unwrap(), h0);
    let from_h0 = r.forward(x.view()).unwrap().to_owned();
    assert_ne!(from_h0, first);
    assert_eq!(r.forward(x.view()).unwrap().to_owned(), first);
    // Stateful: the last hidden state becomes the next h0.
    r.set_stateful(true);
    assert!(r.is_stateful());
    let a = r.forward(x.view()).unwrap().to_owned();
    assert_eq!(a, first);
    assert_eq!(
        r.state().unwrap(),
        a.index_axis(recur::layers::ndarray::Axis(0), 3)
    );
    let b = r.forward(x.view()).unwrap().to_owned();
    assert_ne!(b, first);
    r.reset_state();
    assert_eq!(r.forward(x.view()).unwrap().to_owned(), first);
}

#[test]
fn backward_overwrites_gradients_and_weight_updates_take_effect() {
    let mut r = rnn(3, 4);
    let x = xs(3, 2, 3);
    let dh = Array3::from_elem((3, 2, 4), 0.5);
    r.forward(x.view()).unwrap();
    r.backward(dh.view()).unwrap();
    let g1 = r.grad_wh().to_owned();
    r.backward(dh.view()).unwrap();
    assert_eq!(
        r.grad_wh().to_owned(),
        g1,
        "backward must overwrite, not accumulate"
    );
    // An optimizer step through params_mut changes Wh, and the packed copy follows.
    let before = r.forward(x.view()).unwrap().to_owned();
    for p in r.params_mut() {
        if p.name == "wh" {
            let mut v = p.value;
            v.mapv_inplace(|w| w * 0.5);
        }
    }
    let after = r.forward(x.view()).unwrap().to_owned();
    assert_ne!(before, after);
    let mut fresh = TimeRnn::new(r.wx().to_owned(), r.wh().to_owned(), r.b().to_owned()).unwrap();
    assert_eq!(fresh.forward(x.view()).unwrap().to_owned(), after);
    // So does wh_mut.
    r.wh_mut().fill(0.0);
    let zero_wh = r.forward(x.view()).unwrap().to_owned();
    let mut z = TimeRnn::new(r.wx().to_owned(), Array2::zeros((4, 4)), r.b().to_owned()).unwrap();
    assert_eq!(z.forward(x.view()).unwrap().to_owned(), zero_wh);
}

#[test]
fn non_contiguous_inputs_are_accepted() {
    let mut r = rnn(3, 4);
    let x = xs(4, 2, 3);
    let want = r.forward(x.view()).unwrap().to_owned();
    // The same values through a permuted (batch-major) array viewed time-major.
    let bm = x
        .view()
        .permuted_axes([1, 0, 2])
        .as_standard_layout()
        .into_owned();
    let tm_view = bm.view().permuted_axes([1, 0, 2]);
    assert!(tm_view.as_slice().is_none());
    assert_eq!(r.forward(tm_view).unwrap().to_owned(), want);
    let dh = Array3::from_shape_fn((4, 2, 4), |(a, b, c)| (a + b + c) as f64);
    let d1 = r.backward(dh.view()).unwrap().to_owned();
    let dh_bm = dh
        .view()
        .permuted_axes([1, 0, 2])
        .as_standard_layout()
        .into_owned();
    let d2 = r
        .backward(dh_bm.view().permuted_axes([1, 0, 2]))
        .unwrap()
        .to_owned();
    assert_eq!(d1, d2);
}
