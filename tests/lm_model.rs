//! `SimpleRnnlm` with the fused head and the row-sparse embedding gradient: the same
//! loss and gradients as the unfused chain, a refused window changes nothing, and
//! evaluation is forward without backward.

use recur::kernels::{Error, Parallelism};
use recur::layers::ndarray::Array2;
use recur::layers::{Embedding, Parameters, SoftmaxCrossEntropy, TimeAffine};
use recur::lm::SimpleRnnlm;

fn window(t: usize, n: usize, v: usize, shift: usize) -> (Array2<u32>, Array2<u32>) {
    let xs = Array2::from_shape_fn((t, n), |(a, b)| ((a * 7 + b * 13 + shift) % v) as u32);
    let ts = Array2::from_shape_fn((t, n), |(a, b)| ((a * 5 + b * 3 + shift + 1) % v) as u32);
    (xs, ts)
}

/// Everything a step leaves behind: loss, every gradient, the carried state.
fn snapshot(m: &mut SimpleRnnlm<f32>) -> (Vec<Vec<f32>>, Option<Array2<f32>>) {
    let grads = m
        .params_mut()
        .iter()
        .map(|p| p.grad.iter().copied().collect())
        .collect();
    (grads, m.rnn.state().map(|s| s.to_owned()))
}

#[test]
fn fused_model_equals_the_unfused_chain() {
    let (v, d, h, t, n) = (97, 8, 12, 6, 5);
    let mut m = SimpleRnnlm::<f32>::new(v, d, h, 7).unwrap();
    m.affine.set_block_rows(4).unwrap();
    let mut emb = Embedding::new(m.embed.weight().to_owned());
    let mut rnn = m.rnn.clone();
    let mut fc = TimeAffine::new(m.affine.w().to_owned(), m.affine.b().to_owned()).unwrap();
    let mut sce = SoftmaxCrossEntropy::new();
    for shift in 0..3 {
        let (xs, ts) = window(t, n, v, shift);
        let loss = m.forward(xs.view(), ts.view()).unwrap();
        m.backward().unwrap();
        let e = emb.forward(xs.view()).unwrap();
        let hs = rnn.forward(e).unwrap();
        let ys = fc.forward(hs).unwrap();
        let loss0 = sce.forward(ys, ts.view()).unwrap();
        let dys = sce.backward(1.0).unwrap().to_owned();
        let dhs = fc.backward(dys.view()).unwrap().to_owned();
        let dxs = rnn.backward(dhs.view()).unwrap().to_owned();
        emb.backward(dxs.view()).unwrap();
        assert!((loss - loss0).abs() <= 1e-5 * loss0, "{loss} vs {loss0}");
        let close = |a: &[f32], b: &[f32], what: &str| {
            let worst = a
                .iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f32::max);
            assert!(worst <= 1e-5, "{what}: {worst}");
        };
        close(
            m.affine.grad_w().as_slice().unwrap(),
            fc.grad_w().as_slice().unwrap(),
            "dW",
        );
        close(
            m.affine.grad_b().as_slice().unwrap(),
            fc.grad_b().as_slice().unwrap(),
            "db",
        );
        close(
            m.rnn.grad_wh().as_slice().unwrap(),
            rnn.grad_wh().as_slice().unwrap(),
            "dWh",
        );
        close(
            m.embed.grad_w().as_slice().unwrap(),
            emb.grad_w().as_slice().unwrap(),
            "dW_embed",
        );
        assert_eq!(m.embed.grad_rows().len(), {
            let mut ids: Vec<u32> = xs.iter().copied().collect();
            ids.sort_unstable();
            ids.dedup();
            ids.len()
        });
    }
}

#[test]
fn a_refused_window_changes_nothing() {
    let (v, t, n) = (20, 4, 3);
    for bad in 0..4 {
        let mut m = SimpleRnnlm::<f32>::new(v, 5, 6, 1).unwrap();
        let (xs, ts) = window(t, n, v, 0);
        m.forward(xs.view(), ts.view()).unwrap();
        m.backward().unwrap();
        let before = snapshot(&mut m);
        // A bad target, a bad input id, targets of another shape, another batch size
        // than the carried state's: each refused before any layer runs.
        let (mut xs2, mut ts2) = window(t, n, v, 1);
        let e = match bad {
            0 => {
                ts2[[3, 2]] = v as u32;
                m.forward(xs2.view(), ts2.view()).unwrap_err()
            }
            1 => {
                xs2[[1, 0]] = 99;
                m.forward(xs2.view(), ts2.view()).unwrap_err()
            }
            2 => m
                .forward(xs2.view(), Array2::zeros((t, n + 1)).view())
                .unwrap_err(),
            _ => {
                let (xs3, ts3) = window(t, n + 1, v, 1);
                m.forward(xs3.view(), ts3.view()).unwrap_err()
            }
        };
        let arg = ["`ts`", "`xs`", "`ts`", "`xs`"][bad];
        assert!(e.to_string().contains(arg), "{e}");
        // The next backward backs the first window, and the state did not move.
        m.backward().unwrap();
        assert!(snapshot(&mut m) == before, "case {bad}: {e}");
        // And the model goes on as if the refused call had not happened.
        let mut twin = SimpleRnnlm::<f32>::new(v, 5, 6, 1).unwrap();
        let (xs, ts) = window(t, n, v, 0);
        twin.forward(xs.view(), ts.view()).unwrap();
        let (xs1, ts1) = window(t, n, v, 1);
        assert_eq!(
            m.forward(xs1.view(), ts1.view()).unwrap(),
            twin.forward(xs1.view(), ts1.view()).unwrap()
        );
    }
}

#[test]
fn evaluate_is_forward_without_backward() {
    let v = 50;
    let mut a = SimpleRnnlm::<f32>::new(v, 6, 9, 2).unwrap();
    let mut b = a.clone();
    for shift in 0..3 {
        let (xs, ts) = window(5, 4, v, shift);
        let la = a.forward(xs.view(), ts.view()).unwrap();
        let lb = b.evaluate(xs.view(), ts.view()).unwrap();
        assert_eq!(la, lb, "window {shift}"); // same bits, state carried alike
    }
    assert!(matches!(b.backward(), Err(Error::InvalidState { .. })));
    let (xs, _) = window(5, 4, v, 9);
    let scores = b.scores(xs.view()).unwrap().to_owned();
    assert_eq!(scores.dim(), (5, 4, v));
    assert!(matches!(b.backward(), Err(Error::InvalidState { .. })));
    assert!(a.backward().is_ok());
}

#[test]
fn training_steps_do_not_depend_on_threads() {
    let (v, d, h) = (1500, 64, 48);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    let run = |par: Parallelism| {
        let mut m = SimpleRnnlm::<f32>::new(v, d, h, 5).unwrap();
        m.set_parallelism(par);
        m.affine.set_block_rows(16).unwrap();
        let mut sgd = recur::layers::Sgd::new(0.5);
        recur::layers::Optimizer::set_parallelism(&mut sgd, par);
        let mut losses = Vec::new();
        for shift in 0..3 {
            let (xs, ts) = window(35, 8, v, shift);
            losses.push(
                m.train_step(xs.view(), ts.view(), Some(1.0), &mut sgd)
                    .unwrap(),
            );
        }
        (
            losses,
            m.embed.weight().to_owned(),
            m.affine.w().to_owned(),
            m.rnn.wh().to_owned(),
        )
    };
    let serial = run(Parallelism::Serial);
    assert!(pool.install(|| run(Parallelism::Rayon(3))) == serial);
    assert!(pool.install(|| run(Parallelism::Auto)) == serial);
}
