//! TimeRnn forward and forward+backward against the book's per-step code (ndarray `dot`,
//! i.e. matrixmultiply, per step), f32, 1 and 2 threads. Throughput in FLOPs: forward
//! `2·T·N·(D+H)·H`, backward twice that.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use recur::baseline::PerStepRnn;
use recur::kernels::Parallelism;
use recur::layers::ndarray::{Array1, Array2, Array3};
use recur::layers::TimeRnn;
use std::hint::black_box;
use std::time::Duration;

/// (T, N, D, H): the seed's size, the book's chapter 5 model, and larger models.
const SHAPES: &[(usize, usize, usize, usize)] = &[
    (4, 5, 3, 4),
    (5, 10, 100, 100),
    (35, 20, 650, 650),
    (64, 64, 256, 256),
    (100, 128, 1024, 1024),
];

/// Weights `wx, wh, b`, input `xs` and output gradient `dhs` of one shape.
type Case = (
    Array2<f32>,
    Array2<f32>,
    Array1<f32>,
    Array3<f32>,
    Array3<f32>,
);

fn data(t: usize, n: usize, d: usize, h: usize) -> Case {
    let wx = Array2::from_shape_fn((d, h), |(i, j)| {
        ((i * 7 + j * 3) as f32 * 0.01).sin() * 0.05
    });
    let wh = Array2::from_shape_fn((h, h), |(i, j)| ((i * 5 + j) as f32 * 0.013).cos() * 0.05);
    let b = Array1::from_shape_fn(h, |j| (j as f32 * 0.1).sin() * 0.1);
    let xs = Array3::from_shape_fn((t, n, d), |(a, b2, c)| {
        ((a + b2 * 3 + c) as f32 * 0.07).sin()
    });
    let dhs = Array3::from_shape_fn((t, n, h), |(a, b2, c)| {
        ((a * 3 + b2 + c) as f32 * 0.05).cos()
    });
    (wx, wh, b, xs, dhs)
}

fn label(t: usize, n: usize, d: usize, h: usize) -> String {
    format!("T{t}_N{n}_D{d}_H{h}")
}

fn bench_rnn(c: &mut Criterion) {
    let two = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("pool");
    for (group_name, backward) in [("time_rnn_forward", false), ("time_rnn_fwd_bwd", true)] {
        let mut group = c.benchmark_group(group_name);
        for &(t, n, d, h) in SHAPES {
            let big = t * n * (d + h) * h > 100_000_000;
            group.sample_size(if big { 10 } else { 50 });
            group.measurement_time(Duration::from_secs(if big { 20 } else { 3 }));
            group.warm_up_time(Duration::from_millis(if big { 500 } else { 300 }));
            let flops = 2 * t * n * (d + h) * h * if backward { 3 } else { 1 };
            group.throughput(Throughput::Elements(flops as u64));
            let (wx, wh, b, xs, dhs) = data(t, n, d, h);
            let id = label(t, n, d, h);
            let mut ours = TimeRnn::new(wx.clone(), wh.clone(), b.clone()).expect("shapes");
            ours.set_parallelism(Parallelism::Serial);
            group.bench_function(BenchmarkId::new("recur-1t", &id), |bench| {
                bench.iter(|| {
                    black_box(ours.forward(xs.view()).expect("valid"));
                    if backward {
                        black_box(ours.backward(dhs.view()).expect("valid"));
                    }
                })
            });
            ours.set_parallelism(Parallelism::Rayon(2));
            group.bench_function(BenchmarkId::new("recur-2t", &id), |bench| {
                two.install(|| {
                    bench.iter(|| {
                        black_box(ours.forward(xs.view()).expect("valid"));
                        if backward {
                            black_box(ours.backward(dhs.view()).expect("valid"));
                        }
                    })
                })
            });
            let mut base = PerStepRnn::new(wx, wh, b);
            group.bench_function(BenchmarkId::new("per-step-ndarray", &id), |bench| {
                bench.iter(|| {
                    black_box(base.forward(xs.view()));
                    if backward {
                        black_box(base.backward(dhs.view()));
                    }
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_rnn);
criterion_main!(benches);
