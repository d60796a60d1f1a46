//! The row-sparse embedding gradient: its rows and values, and what SGD, Adam and the
//! clipping norm do with it, against the dense form of the same gradient.

use ndarray::{Array2, Array3};
use recur_layers::optim::{clip_grads_with, grad_norm, Adam, Optimizer, Sgd};
use recur_layers::{Embedding, Error, Parallelism, Parameters};
use recur_testkit::Rng;

fn table(rng: &mut Rng, v: usize, d: usize) -> Array2<f32> {
    Array2::from_shape_vec((v, d), rng.vec_f32(v * d, -1.0, 1.0)).unwrap()
}

fn window(rng: &mut Rng, t: usize, n: usize, d: usize, v: usize) -> (Array2<u32>, Array3<f32>) {
    // Ids from a small range, so that many repeat.
    let ids = Array2::from_shape_simple_fn((t, n), || rng.below(v.min(40)) as u32 * 3 % v as u32);
    let dout = Array3::from_shape_vec((t, n, d), rng.vec_f32(t * n * d, -1.0, 1.0)).unwrap();
    (ids, dout)
}

/// The dense reference: zeros, then rows added in (t, n) order.
fn dense_grad(v: usize, d: usize, ids: &Array2<u32>, dout: &Array3<f32>) -> Array2<f32> {
    let mut g = Array2::zeros((v, d));
    for ((t, n), &id) in ids.indexed_iter() {
        for k in 0..d {
            g[[id as usize, k]] += dout[[t, n, k]];
        }
    }
    g
}

#[test]
fn rows_are_sorted_and_sums_are_the_dense_ones() {
    let mut rng = Rng::new(1);
    let (v, d) = (300, 7);
    let mut emb = Embedding::new(table(&mut rng, v, d));
    for _ in 0..3 {
        let (ids, dout) = window(&mut rng, 6, 5, d, v);
        emb.forward(ids.view()).unwrap();
        emb.backward(dout.view()).unwrap();
        let mut want: Vec<u32> = ids.iter().copied().collect();
        want.sort_unstable();
        want.dedup();
        assert_eq!(emb.grad_rows(), &want[..]);
        // Bit for bit the dense scatter-add, and the rows of the previous window are zero
        // again.
        assert_eq!(emb.grad_w(), dense_grad(v, d, &ids, &dout));
    }
}

#[test]
fn sgd_and_clipping_give_exactly_the_dense_result() {
    let mut rng = Rng::new(2);
    let (v, d) = (500, 40); // 20,000 elements: several leaves of the norm's tree
    let w0 = table(&mut rng, v, d);
    let (ids, dout) = window(&mut rng, 35, 4, d, v);
    let step = |sparse: bool, max_norm: f32| {
        let mut emb = Embedding::new(w0.clone());
        emb.forward(ids.view()).unwrap();
        emb.backward(dout.view()).unwrap();
        let mut params = emb.params_mut();
        assert!(params[0].rows.is_some());
        if !sparse {
            params[0].rows = None;
        }
        let norm = clip_grads_with(&mut params, max_norm, Parallelism::Serial).unwrap();
        Sgd::new(0.1f32).step(&mut params).unwrap();
        drop(params);
        (norm, emb.weight().to_owned(), emb.grad_w().to_owned())
    };
    for max_norm in [1e9, 0.5] {
        let sparse = step(true, max_norm);
        let dense = step(false, max_norm);
        assert_eq!(sparse.0.to_bits(), dense.0.to_bits(), "norm");
        assert!(
            sparse.1 == dense.1,
            "weights after SGD, max_norm {max_norm}"
        );
        assert!(sparse.2 == dense.2, "clipped gradient, max_norm {max_norm}");
    }
    // And the weights moved where the gradient is nonzero only.
    let (_, w, g) = step(true, 1e9);
    for r in 0..v {
        let touched = g.row(r).iter().any(|&x| x != 0.0);
        assert_eq!(w.row(r) != w0.row(r), touched, "row {r}");
    }
}

#[test]
fn adam_is_lazy_on_untouched_rows() {
    let (v, d) = (6, 2);
    let w0 = Array2::from_shape_fn((v, d), |(r, k)| (r * d + k) as f64 * 0.1);
    let mut emb = Embedding::new(w0.clone());
    let mut opt = Adam::new(0.01);
    let mut run = |ids: Array2<u32>| {
        emb.forward(ids.view()).unwrap();
        emb.backward(Array3::ones((ids.nrows(), ids.ncols(), d)).view())
            .unwrap();
        opt.step(&mut emb.params_mut()).unwrap();
        emb.weight().to_owned()
    };
    let w1 = run(ndarray::array![[1u32, 3]]);
    // Step 1: each touched element moves by lr (m/√v = g/|g|), the rest stays.
    for r in 0..v {
        let moved = if r == 1 || r == 3 { 0.01 } else { 0.0 };
        for k in 0..d {
            assert!((w0[[r, k]] - w1[[r, k]] - moved).abs() < 1e-6, "row {r}");
        }
    }
    // Step 2 touches row 3 only: row 1 keeps its value (dense Adam would move it again
    // with its decayed moments).
    let w2 = run(ndarray::array![[3u32]]);
    assert_eq!(w2.row(1), w1.row(1));
    assert!(w2.row(3).iter().zip(w1.row(3)).all(|(a, b)| a < b));
    assert_eq!(w2.row(0), w0.row(0));
}

#[test]
fn bad_row_lists_are_refused_before_any_update() {
    let mut w = Array2::from_elem((4, 2), 1.0f64);
    let mut g = Array2::from_elem((4, 2), 0.5f64);
    for rows in [&[2u32, 1][..], &[1, 1], &[4]] {
        let mut params = [recur_layers::ParamMut {
            name: "w",
            value: w.view_mut().into_dyn(),
            grad: g.view_mut().into_dyn(),
            rows: Some(rows),
        }];
        let e = Sgd::new(0.1).step(&mut params).unwrap_err();
        assert!(
            matches!(e, Error::InvalidArgument { arg: "params", .. }),
            "{e}"
        );
        assert!(Adam::new(0.1).step(&mut params).is_err());
        assert!(clip_grads_with(&mut params, 1e-3, Parallelism::Serial).is_err());
    }
    assert!(w.iter().all(|&x| x == 1.0) && g.iter().all(|&x| x == 0.5));
}

#[test]
fn bits_do_not_depend_on_threads() {
    let mut rng = Rng::new(4);
    let (v, d) = (2000, 100);
    let w0 = table(&mut rng, v, d);
    let (ids, dout) = window(&mut rng, 35, 20, d, v);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    let run = |par: Parallelism| {
        let mut emb = Embedding::new(w0.clone());
        emb.set_parallelism(par);
        let xs = emb.forward(ids.view()).unwrap().to_owned();
        emb.backward(dout.view()).unwrap();
        // A dense parameter too: the table's gradient with rows dropped.
        let mut dense = emb.grad_w().to_owned();
        let mut dense_w = w0.clone();
        let mut params = emb.params_mut();
        params.push(recur_layers::ParamMut::dense(
            "dense",
            dense_w.view_mut().into_dyn(),
            dense.view_mut().into_dyn(),
        ));
        let norm = clip_grads_with(&mut params, 0.1, par).unwrap();
        let mut sgd = Sgd::new(0.5);
        sgd.set_parallelism(par);
        sgd.step(&mut params).unwrap();
        let mut adam = Adam::new(0.5);
        adam.set_parallelism(par);
        adam.step(&mut params).unwrap();
        let serial_norm = grad_norm(&params);
        drop(params);
        (
            xs,
            norm,
            serial_norm,
            emb.weight().to_owned(),
            emb.grad_w().to_owned(),
            dense_w,
        )
    };
    let serial = run(Parallelism::Serial);
    for par in [
        Parallelism::Rayon(2),
        Parallelism::Rayon(3),
        Parallelism::Auto,
    ] {
        assert!(pool.install(|| run(par)) == serial, "{par:?}");
    }
}
