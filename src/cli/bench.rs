//! `recur bench`: a quick side-by-side table without criterion. Best of repeated runs,
//! single process; for careful numbers use `cargo bench` (criterion).

use super::baseline::PerStepRnn;
use super::BenchArgs;
use crate::kernels::{
    gemm_packed, gemm_with, simd_level, Epilogue, MatMut, MatRef, PackedB, Parallelism,
};
use crate::layers::ndarray::linalg::general_mat_mul;
use crate::layers::ndarray::{Array1, Array2, Array3, ArrayView2};
use crate::layers::TimeRnn;
use crate::lm::rng::Rng;
use crate::lm::LmResult;
use std::hint::black_box;
use std::time::Instant;

/// Best time of `f` over repeated runs within `budget` seconds (at least 3 runs).
fn best_of(budget: f64, mut f: impl FnMut()) -> f64 {
    f();
    let start = Instant::now();
    let mut best = f64::INFINITY;
    let mut runs = 0;
    while runs < 3 || start.elapsed().as_secs_f64() < budget {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
        runs += 1;
        if runs > 100_000 {
            break;
        }
    }
    best
}

fn rand_vec(rng: &mut Rng, len: usize) -> Vec<f32> {
    (0..len)
        .map(|_| (rng.uniform() * 2.0 - 1.0) as f32)
        .collect()
}

/// Runs `recur bench`: the GEMM table, then the TimeRnn table.
pub fn run(args: &BenchArgs) -> LmResult<()> {
    let mut rng = Rng::new(5);
    let caches = crate::kernels::dispatch::cache_sizes();
    println!(
        "recur bench: SIMD {}, {} threads available; caches (from {:?}): L1d {} KiB, L2 {} KiB, \
         L3 share {} KiB",
        simd_level(),
        rayon::current_num_threads(),
        caches.source,
        caches.l1d >> 10,
        caches.l2 >> 10,
        caches.l3 >> 10
    );
    println!("\nGEMM f32, single thread (GFLOP/s, best of runs)");
    println!(
        "{:<22} {:>10} {:>15} {:>7}",
        "shape m x k x n", "recur", "matrixmultiply", "ratio"
    );
    for &(m, k, n, packed) in &[
        (256, 256, 256, false),
        (1024, 1024, 1024, false),
        (20, 650, 650, true),
        (2240, 650, 650, false),
        (5, 3, 4, false),
    ] {
        let a = rand_vec(&mut rng, m * k);
        let b = rand_vec(&mut rng, k * n);
        let mut c = vec![0.0f32; m * n];
        let flops = 2.0 * (m * n * k) as f64;
        let pb = PackedB::new(MatRef::from_slice(&b, k, n)?)?;
        let ours = best_of(args.seconds, || {
            let av = MatRef::from_slice(&a, m, k).expect("sized");
            let cv = MatMut::from_slice(&mut c, m, n).expect("sized");
            if packed {
                gemm_packed(1.0, av, &pb, 1.0, cv, Epilogue::None, Parallelism::Serial)
                    .expect("valid");
            } else {
                gemm_with(
                    1.0,
                    av,
                    MatRef::from_slice(&b, k, n).expect("sized"),
                    0.0,
                    cv,
                    Epilogue::None,
                    Parallelism::Serial,
                )
                .expect("valid");
            }
            black_box(&c);
        });
        let an = ArrayView2::from_shape((m, k), &a[..]).expect("sized");
        let bn = ArrayView2::from_shape((k, n), &b[..]).expect("sized");
        let mut cn = Array2::<f32>::zeros((m, n));
        let theirs = best_of(args.seconds, || {
            general_mat_mul(1.0, &an, &bn, 1.0, &mut cn);
            black_box(&cn);
        });
        let label = format!("{m}x{k}x{n}{}", if packed { " (packed B)" } else { "" });
        println!(
            "{label:<22} {:>10.1} {:>15.1} {:>6.2}x",
            flops / ours / 1e9,
            flops / theirs / 1e9,
            theirs / ours
        );
    }

    println!("\nTimeRnn f32 forward + backward (ms, best of runs), vs the book's per-step code");
    println!(
        "{:<22} {:>10} {:>10} {:>9} {:>7}",
        "(T, N, D, H)", "recur", "per-step", "GFLOP/s", "ratio"
    );
    for &(t, n, d, h) in &[(4, 5, 3, 4), (5, 10, 100, 100), (35, 20, 650, 650)] {
        let wx = Array2::from_shape_vec((d, h), rand_vec(&mut rng, d * h)).expect("sized") * 0.05;
        let wh = Array2::from_shape_vec((h, h), rand_vec(&mut rng, h * h)).expect("sized") * 0.05;
        let b = Array1::from_vec(rand_vec(&mut rng, h));
        let xs = Array3::from_shape_vec((t, n, d), rand_vec(&mut rng, t * n * d)).expect("sized");
        let dhs = Array3::from_shape_vec((t, n, h), rand_vec(&mut rng, t * n * h)).expect("sized");
        let mut ours = TimeRnn::new(wx.clone(), wh.clone(), b.clone())?;
        ours.set_parallelism(Parallelism::Serial);
        let mut base = PerStepRnn::new(wx, wh, b);
        let t_ours = best_of(args.seconds, || {
            ours.forward(xs.view()).expect("valid");
            black_box(ours.backward(dhs.view()).expect("valid"));
        });
        let t_base = best_of(args.seconds, || {
            base.forward(xs.view());
            black_box(base.backward(dhs.view()));
        });
        let flops = 6.0 * (t * n * (d + h) * h) as f64;
        println!(
            "{:<22} {:>10.3} {:>10.3} {:>9.1} {:>6.2}x",
            format!("({t}, {n}, {d}, {h})"),
            t_ours * 1e3,
            t_base * 1e3,
            flops / t_ours / 1e9,
            t_base / t_ours
        );
    }
    Ok(())
}
