//! TimeRnn forward and forward+backward against the book's per-step code (ndarray `dot`,
//! i.e. matrixmultiply, per step), f32, 1 and 2 threads. Throughput in FLOPs: forward
//! `2·T·N·(D+H)·H`, backward twice that.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use recur::kernels::Parallelism;
use recur::layers::TimeRnn;
use std::hint::black_box;
use std::time::Duration;

#[path = "common/rnn_case.rs"]
mod rnn_case;
use rnn_case::data;

// The command's `recur bench` compares with the same per-step code.
#[path = "../src/cli/baseline.rs"]
mod baseline;
use baseline::PerStepRnn;

/// (T, N, D, H): the seed's size, the book's chapter 5 model, and larger models.
const SHAPES: &[(usize, usize, usize, usize)] = &[
    (4, 5, 3, 4),
    (5, 10, 100, 100),
    (35, 20, 650, 650),
    (64, 64, 256, 256),
    (100, 128, 1024, 1024),
];

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
