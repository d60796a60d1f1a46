//! tanh throughput: ours on every tier this CPU runs, against a scalar `f32::tanh` /
//! `f64::tanh` loop (the platform libm), and a plain copy as the memory-bound baseline.
//!
//! Groups `tanh_f32` and `tanh_f64`; ids are `impl/size` with
//! - `std`: `y[i] = x[i].tanh()` in a loop;
//! - `ours-<tier>`: `recur_kernels::tanh(&x, &mut y)` under `with_level(tier)`;
//! - `inplace-<tier>`: `recur_kernels::tanh_inplace(&mut y)` (the buffer is re-used, so
//!   later runs see tanh of tanh…, which changes nothing for a branch-free kernel);
//! - `copy`: `y.copy_from_slice(&x)`, same bytes read and written as `ours`.
//!
//! Sizes 1 Ki and 64 Ki elements (in cache) and 16 Mi (memory-bound). Throughput is in
//! elements. Inputs are uniform in [−5, 5] (deterministic), which mixes both branches of
//! the kernel in every vector; the kernel has no data-dependent branches.
//!
//! Run: `cargo bench --bench tanh` (tiers the CPU lacks are skipped, and said so).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use recur_kernels::dispatch::{available_levels, with_level};
use recur_kernels::{Float, Level};
use std::hint::black_box;
use std::time::Duration;

const SIZES: [(usize, &str); 3] = [(1 << 10, "1Ki"), (1 << 16, "64Ki"), (1 << 24, "16Mi")];

fn inputs<T: Float>(n: usize) -> Vec<T> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let u = (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
            T::from_f64(10.0 * u - 5.0)
        })
        .collect()
}

fn bench_type<T: Float + TanhStd>(c: &mut Criterion) {
    let mut group = c.benchmark_group(format!("tanh_{}", T::NAME));
    for level in [Level::Avx512] {
        if !available_levels().contains(&level) {
            eprintln!(
                "tanh_{}: ours-{} skipped: this CPU lacks it",
                T::NAME,
                level.name()
            );
        }
    }
    for (n, label) in SIZES {
        let big = n >= 1 << 20;
        group.throughput(Throughput::Elements(n as u64));
        if big {
            group.sample_size(10);
            group.warm_up_time(Duration::from_secs(1));
            group.measurement_time(Duration::from_secs(4));
        } else {
            group.sample_size(50);
            group.warm_up_time(Duration::from_millis(500));
            group.measurement_time(Duration::from_secs(2));
        }
        let x = inputs::<T>(n);
        let mut y = vec![T::ZERO; n];

        group.bench_function(BenchmarkId::new("std", label), |b| {
            b.iter(|| {
                for (o, &i) in y.iter_mut().zip(black_box(&x)) {
                    *o = i.tanh_std();
                }
                black_box(&mut y);
            })
        });
        for level in available_levels() {
            group.bench_function(
                BenchmarkId::new(format!("ours-{}", level.name()), label),
                |b| {
                    with_level(level, || {
                        b.iter(|| {
                            recur_kernels::tanh(black_box(&x), black_box(&mut y)).unwrap();
                        })
                    })
                },
            );
            y.copy_from_slice(&x);
            group.bench_function(
                BenchmarkId::new(format!("inplace-{}", level.name()), label),
                |b| {
                    with_level(level, || {
                        b.iter(|| recur_kernels::tanh_inplace(black_box(&mut y)));
                    })
                },
            );
        }
        group.bench_function(BenchmarkId::new("copy", label), |b| {
            b.iter(|| {
                y.copy_from_slice(black_box(&x));
                black_box(&mut y);
            })
        });
    }
    group.finish();
}

/// The platform libm's tanh, in the element type (`f32::tanh` / `f64::tanh`).
trait TanhStd {
    fn tanh_std(self) -> Self;
}
impl TanhStd for f32 {
    #[inline]
    fn tanh_std(self) -> f32 {
        self.tanh()
    }
}
impl TanhStd for f64 {
    #[inline]
    fn tanh_std(self) -> f64 {
        self.tanh()
    }
}

fn tanh_f32(c: &mut Criterion) {
    bench_type::<f32>(c);
}

fn tanh_f64(c: &mut Criterion) {
    bench_type::<f64>(c);
}

criterion_group!(benches, tanh_f32, tanh_f64);
criterion_main!(benches);
