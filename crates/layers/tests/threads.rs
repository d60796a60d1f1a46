//! `TimeRnn` gives the same bits on any number of threads: its recurrence is split by
//! rows of the batch when threads are allowed and the work is large enough, each step's
//! GEMM by rows or columns otherwise; neither may change a result.

use ndarray::{Array1, Array2, Array3};
use recur_kernels::Parallelism;
use recur_layers::TimeRnn;
use recur_testkit::Rng;

/// Everything one stateful forward + backward pair (run twice, so the second forward
/// starts from the carried state) leaves behind, as bits.
fn run(par: Parallelism, t: usize, n: usize, d: usize, h: usize) -> Vec<Vec<u32>> {
    let mut rng = Rng::new(77);
    let wx = Array2::from_shape_vec((d, h), rng.vec_f32(d * h, -0.3, 0.3)).unwrap();
    let wh = Array2::from_shape_vec((h, h), rng.vec_f32(h * h, -0.3, 0.3)).unwrap();
    let b = Array1::from_vec(rng.vec_f32(h, -0.1, 0.1));
    let mut rnn = TimeRnn::new(wx, wh, b).unwrap();
    rnn.set_parallelism(par);
    rnn.set_stateful(true);
    let bits = |v: &mut Vec<Vec<u32>>, it: &mut dyn Iterator<Item = f32>| {
        v.push(it.map(f32::to_bits).collect())
    };
    let mut out = Vec::new();
    for _ in 0..2 {
        let xs = Array3::from_shape_vec((t, n, d), rng.vec_f32(t * n * d, -1.0, 1.0)).unwrap();
        let dhs = Array3::from_shape_vec((t, n, h), rng.vec_f32(t * n * h, -1.0, 1.0)).unwrap();
        bits(
            &mut out,
            &mut rnn.forward(xs.view()).unwrap().iter().copied(),
        );
        bits(
            &mut out,
            &mut rnn.backward(dhs.view()).unwrap().iter().copied(),
        );
        bits(&mut out, &mut rnn.grad_wx().iter().copied());
        bits(&mut out, &mut rnn.grad_wh().iter().copied());
        bits(&mut out, &mut rnn.grad_b().iter().copied());
        bits(&mut out, &mut rnn.grad_h0().iter().copied());
        bits(&mut out, &mut rnn.state().unwrap().iter().copied());
    }
    out
}

#[test]
fn time_rnn_bits_do_not_depend_on_threads() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    // (T, N, D, H): batches split in 3 (13 rows: 5 + 4 + 4) and in 2 (9 rows), one too
    // narrow to split (5 rows: each step's GEMM, 2·5·650² flops, splits its columns instead), and one below the
    // threshold of work (everything on one thread).
    for (t, n, d, h) in [
        (8, 13, 7, 150),
        (9, 9, 5, 170),
        (3, 5, 3, 650),
        (3, 20, 4, 30),
    ] {
        let serial = run(Parallelism::Serial, t, n, d, h);
        for par in [
            Parallelism::Rayon(2),
            Parallelism::Rayon(3),
            Parallelism::Rayon(8),
            Parallelism::Auto,
        ] {
            let threaded = pool.install(|| run(par, t, n, d, h));
            for (q, (a, b)) in serial.iter().zip(&threaded).enumerate() {
                assert!(
                    a == b,
                    "{par:?} (T, N, D, H) = {:?}: output {q} differs",
                    (t, n, d, h)
                );
            }
        }
    }
}
