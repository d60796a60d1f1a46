//! The lecture's example, written out below: 5 sentences of 4 words each, every word
//! already an id from a vocabulary of V = 10 words (0 to 9), so the input is `(N, T) =
//! (5, 4)`. An Embedding turns each id into a D = 3 vector and a TimeRnn (H = 4) runs over
//! the 4 steps; checked against an independent per-step reference written here, in the
//! book's batch-major order.

use recur::layers::ndarray::{array, Array1, Array2, Array3};
use recur::layers::{ids_to_time_major, to_batch_major, Embedding, TimeRnn};

/// The seed's ids, batch-major `(N, T) = (5, 4)`.
fn seed_ids() -> Array2<u32> {
    array![
        [0, 1, 2, 3],
        [0, 3, 4, 2],
        [5, 6, 7, 5],
        [9, 1, 2, 5],
        [4, 5, 6, 8]
    ]
}

const V: usize = 10;
const D: usize = 3;
const H: usize = 4;

/// Deterministic, irregular weights.
fn weights() -> (Array2<f64>, Array2<f64>, Array2<f64>, Array1<f64>) {
    let w_embed = Array2::from_shape_fn((V, D), |(v, d)| ((v * 7 + d * 3) as f64 * 0.37).sin());
    let wx = Array2::from_shape_fn((D, H), |(d, h)| ((d * 5 + h) as f64 * 0.91).cos() * 0.8);
    let wh = Array2::from_shape_fn((H, H), |(a, b)| {
        ((a * 3 + b * 11) as f64 * 0.53).sin() * 0.6
    });
    let b = Array1::from_shape_fn(H, |h| 0.1 * h as f64 - 0.15);
    (w_embed, wx, wh, b)
}

/// The book's computation for sentence `n`, word by word: `x_t = W_embed[id]`,
/// `h_t = tanh(x_t·Wx + h_{t−1}·Wh + b)`. Returns `(N, T, H)`.
fn per_step_reference(ids: &Array2<u32>) -> Array3<f64> {
    let (w_embed, wx, wh, b) = weights();
    let (n_len, t_len) = ids.dim();
    let mut out = Array3::zeros((n_len, t_len, H));
    for n in 0..n_len {
        let mut h = [0.0f64; H];
        for t in 0..t_len {
            let x = w_embed.row(ids[[n, t]] as usize);
            let mut next = [0.0f64; H];
            for j in 0..H {
                let mut z = b[j];
                for k in 0..D {
                    z += x[k] * wx[[k, j]];
                }
                for k in 0..H {
                    z += h[k] * wh[[k, j]];
                }
                next[j] = z.tanh();
            }
            h = next;
            for j in 0..H {
                out[[n, t, j]] = h[j];
            }
        }
    }
    out
}

#[test]
fn seed_example_shapes_and_values() {
    let ids = seed_ids();
    assert_eq!(ids.dim(), (5, 4)); // (N, T)
    let tm = ids_to_time_major(ids.view());
    assert_eq!(tm.dim(), (4, 5)); // (T, N)
    assert_eq!(tm.column(2), ids.row(2)); // sentence 2 is column 2

    let (w_embed, wx, wh, b) = weights();
    let mut emb = Embedding::new(w_embed);
    let mut rnn = TimeRnn::new(wx, wh, b).unwrap();
    let xs = emb.forward(tm.view()).unwrap().to_owned();
    assert_eq!(xs.dim(), (4, 5, 3)); // (T, N, D)
    let hs = rnn.forward(xs.view()).unwrap().to_owned();
    assert_eq!(hs.dim(), (4, 5, 4)); // (T, N, H)

    let want = per_step_reference(&ids); // (N, T, H)
    let got = to_batch_major(hs.view());
    for (g, w) in got.iter().zip(want.iter()) {
        assert!((g - w).abs() <= 1e-14, "{g} vs {w}");
    }

    // Backward through both layers: shapes chain back to the table.
    let dxs = rnn
        .backward(Array3::ones((4, 5, 4)).view())
        .unwrap()
        .to_owned();
    assert_eq!(dxs.dim(), (4, 5, 3));
    emb.backward(dxs.view()).unwrap();
    assert_eq!(emb.grad_w().dim(), (10, 3));
    // Word 0 starts sentences 0 and 1: its row collects both gradients.
    assert!(emb.grad_w().row(0).iter().all(|&g| g != 0.0));
}

#[test]
fn seed_example_in_f32_tracks_f64() {
    let ids = ids_to_time_major(seed_ids().view());
    let (w_embed, wx, wh, b) = weights();
    let mut emb = Embedding::new(w_embed.mapv(|x| x as f32));
    let mut rnn = TimeRnn::new(
        wx.mapv(|x| x as f32),
        wh.mapv(|x| x as f32),
        b.mapv(|x| x as f32),
    )
    .unwrap();
    let xs = emb.forward(ids.view()).unwrap().to_owned();
    let hs = rnn.forward(xs.view()).unwrap();
    let want = per_step_reference(&seed_ids());
    for (g, w) in to_batch_major(hs).iter().zip(want.iter()) {
        assert!((*g as f64 - w).abs() <= 2e-6, "{g} vs {w}");
    }
}

/// Hand-sized literal case, T = 2, N = 1, D = 2, H = 2, with the outputs and gradients
/// (for dL/dhs = 1 everywhere) computed outside Rust by a plain-Python per-step loop
/// (`math.tanh`, explicit BPTT), printed with `repr` and pasted here.
#[test]
fn literal_two_step_case() {
    let wx = array![[0.5, -0.3], [0.2, 0.8]];
    let wh = array![[0.1, -0.4], [0.7, 0.3]];
    let b = array![0.05, -0.1];
    let xs = array![[[1.0, -1.0]], [[0.5, 2.0]]]; // (T, N, D) = (2, 1, 2)
    let mut rnn = TimeRnn::new(wx, wh, b).unwrap();
    let hs = rnn.forward(xs.view()).unwrap().to_owned();
    let want_hs = array![
        [[0.3363755443363322, -0.8336546070121553]],
        [[0.14896260375409281, 0.7466552626875023]]
    ];
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-15;
    assert!(
        hs.iter().zip(want_hs.iter()).all(|(&a, &b)| close(a, b)),
        "{hs}"
    );
    let dxs = rnn
        .backward(Array3::ones((2, 1, 2)).view())
        .unwrap()
        .to_owned();
    let want_dxs = array![
        [[0.2420105305397133, 0.6067492591645943]],
        [[0.35615329573108345, 0.549566763497406]]
    ];
    assert!(
        dxs.iter().zip(want_dxs.iter()).all(|(&a, &b)| close(a, b)),
        "{dxs}"
    );
    let want_gwx = array![
        [1.305498989126507, 0.7755410538599947],
        [1.1390263675804957, 0.33072374289264783]
    ];
    let want_gwh = array![
        [0.32891141900251386, 0.14884816927511682],
        [-0.8151559302307301, -0.36889709775528245]
    ];
    let want_gb = array![1.7944040604679075, 0.9967940132105233];
    let want_dh0 = array![[-0.14005584602527588, 0.7379021708024144]];
    assert!(rnn
        .grad_wx()
        .iter()
        .zip(want_gwx.iter())
        .all(|(&a, &b)| close(a, b)));
    assert!(rnn
        .grad_wh()
        .iter()
        .zip(want_gwh.iter())
        .all(|(&a, &b)| close(a, b)));
    assert!(rnn
        .grad_b()
        .iter()
        .zip(want_gb.iter())
        .all(|(&a, &b)| close(a, b)));
    assert!(rnn
        .grad_h0()
        .iter()
        .zip(want_dh0.iter())
        .all(|(&a, &b)| close(a, b)));
}
