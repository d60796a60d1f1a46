//! GEMM throughput: recur vs matrixmultiply on a few shapes (FLOP rates: 2·m·n·k).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use recur::kernels::{gemm, MatMut, MatRef};

fn bench_gemm_f32(c: &mut Criterion) {
    let mut group = c.benchmark_group("gemm_f32");
    for &(m, k, n) in &[(64, 64, 64), (20, 650, 650), (256, 256, 256)] {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.1).collect();
        let mut out = vec![0.0f32; m * n];
        let shape = format!("{m}x{k}x{n}");
        group.throughput(Throughput::Elements((2 * m * n * k) as u64));
        group.bench_function(BenchmarkId::new("recur", &shape), |bench| {
            bench.iter(|| {
                gemm(
                    1.0,
                    MatRef::from_slice(&a, m, k).unwrap(),
                    MatRef::from_slice(&b, k, n).unwrap(),
                    0.0,
                    MatMut::from_slice(&mut out, m, n).unwrap(),
                )
                .unwrap()
            })
        });
        group.bench_function(BenchmarkId::new("matrixmultiply", &shape), |bench| {
            bench.iter(|| {
                // SAFETY: the pointers and strides describe the row-major buffers above.
                unsafe {
                    matrixmultiply::sgemm(
                        m,
                        k,
                        n,
                        1.0,
                        a.as_ptr(),
                        k as isize,
                        1,
                        b.as_ptr(),
                        n as isize,
                        1,
                        0.0,
                        out.as_mut_ptr(),
                        n as isize,
                        1,
                    )
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_gemm_f32);
criterion_main!(benches);
