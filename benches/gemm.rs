//! GEMM benchmarks: ours on every SIMD tier this machine has, against matrixmultiply and
//! (small sizes) the naive reference, on the same inputs in the same run.
//!
//! ```text
//! cargo bench --bench gemm                 # everything (a few minutes)
//! cargo bench --bench gemm -- gemm_f32/    # one group
//! ```
//!
//! Throughput is `2·m·n·k` elements, so criterion's `elem/s` read as FLOP/s. Benchmark ids
//! are `<group>/<impl>/<shape>`:
//!
//! * groups `gemm_f32`, `gemm_f64`: impl `ours-<tier>` (`ours-scalar`, `ours-avx2+fma`,
//!   `ours-avx512`: the tiers the CPU lacks are skipped and listed on stderr),
//!   `matrixmultiply`, `naive`; shapes
//!   - `sq-<n>`: `n x n x n`, row-major, `beta = 0`;
//!   - `step-<M>x<K>x<N>`: one RNN step, `C ← A·B + C` with a pre-packed B ([`PackedB`])
//!     and `beta = 1` (matrixmultiply gets the same `beta = 1` on the plain B);
//!   - `batch-<M>x<K>x<N>`: all time steps at once (`(T·N, D) x (D, H)`);
//!   - `ta-<M>x<K>x<N>`: the weight gradient `Xᵀ·dY`, A given as a `K x M` row-major matrix
//!     viewed transposed;
//!   - `tiny-<M>x<K>x<N>`: call overhead.
//! * group `gemm_threads`: `sq-2048` f32 on one and on two rayon threads (`ours-1t`,
//!   `ours-2t`).
//! * impl `openblas` (in `gemm_f32` and `gemm_f64`): the system OpenBLAS through its CBLAS
//!   interface on one thread, with `--features openblas` (needs `libopenblas.so`: Debian's
//!   `libopenblas-dev`): `cargo bench --features openblas --bench gemm`.
//!
//! `M x K x N` means A is `M x K`, B is `K x N`, C is `M x N`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use recur::kernels::dispatch::{available_levels, with_level};
use recur::kernels::reference::gemm_reference;
use recur::kernels::{
    gemm_packed, gemm_with, Epilogue, Float, Level, MatMut, MatRef, PackedB, Parallelism,
};
use std::hint::black_box;
use std::time::Duration;

/// How A is stored.
#[derive(Clone, Copy, PartialEq)]
enum ALayout {
    RowMajor,
    /// Stored as the `K x M` row-major matrix whose transpose is A.
    Transposed,
}

/// One benchmark shape.
#[derive(Clone, Copy)]
struct Shape {
    name: &'static str,
    m: usize,
    k: usize,
    n: usize,
    a: ALayout,
    /// Pre-packed B and `beta = 1` (an RNN step).
    packed_step: bool,
    /// Run the naive reference too.
    naive: bool,
    /// Run the scalar tier too.
    scalar: bool,
    /// Only the best tier (and matrixmultiply): for the largest shapes.
    best_tier_only: bool,
    samples: usize,
}

const fn shape(name: &'static str, m: usize, k: usize, n: usize) -> Shape {
    Shape {
        name,
        m,
        k,
        n,
        a: ALayout::RowMajor,
        packed_step: false,
        naive: false,
        scalar: false,
        best_tier_only: false,
        samples: 20,
    }
}

const SHAPES: &[Shape] = &[
    Shape {
        naive: true,
        scalar: true,
        samples: 50,
        ..shape("tiny-5x3x4", 5, 3, 4)
    },
    Shape {
        naive: true,
        scalar: true,
        samples: 50,
        ..shape("tiny-5x4x4", 5, 4, 4)
    },
    Shape {
        naive: true,
        scalar: true,
        samples: 30,
        ..shape("sq-64", 64, 64, 64)
    },
    Shape {
        scalar: true,
        ..shape("sq-256", 256, 256, 256)
    },
    Shape {
        samples: 10,
        ..shape("sq-1024", 1024, 1024, 1024)
    },
    Shape {
        samples: 10,
        best_tier_only: true,
        ..shape("sq-2048", 2048, 2048, 2048)
    },
    Shape {
        packed_step: true,
        ..shape("step-20x650x650", 20, 650, 650)
    },
    Shape {
        packed_step: true,
        ..shape("step-64x256x256", 64, 256, 256)
    },
    Shape {
        packed_step: true,
        ..shape("step-128x1024x1024", 128, 1024, 1024)
    },
    Shape {
        packed_step: true,
        ..shape("step-16x128x128", 16, 128, 128)
    },
    Shape {
        packed_step: true,
        ..shape("step-16x1024x1024", 16, 1024, 1024)
    },
    Shape {
        samples: 10,
        ..shape("batch-2240x650x650", 2240, 650, 650)
    },
    Shape {
        samples: 10,
        best_tier_only: true,
        ..shape("batch-12800x1024x1024", 12800, 1024, 1024)
    },
    Shape {
        samples: 10,
        a: ALayout::Transposed,
        ..shape("ta-650x700x650", 650, 700, 650)
    },
];

/// Deterministic values in `[-1, 1)`.
fn values<T: Float>(len: usize, seed: u64) -> Vec<T> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let u = (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
            T::from_f64(2.0 * u - 1.0)
        })
        .collect()
}

/// The tiers to run for `s`, and a note for each one skipped.
fn tiers(s: &Shape) -> Vec<Level> {
    let have = available_levels();
    let best = *have.last().expect("at least the scalar tier");
    let mut run = Vec::new();
    for level in [Level::Scalar, Level::Avx2, Level::Avx512] {
        if !have.contains(&level) {
            continue;
        }
        if s.best_tier_only && level != best {
            continue;
        }
        if level == Level::Scalar && !s.scalar && level != best {
            continue;
        }
        run.push(level);
    }
    run
}

/// matrixmultiply's `C ← alpha·A·B + beta·C` for either element type.
trait MmGemm: Float {
    /// # Safety
    /// As `matrixmultiply::sgemm`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn mm(
        m: usize,
        k: usize,
        n: usize,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
    );
}

impl MmGemm for f32 {
    unsafe fn mm(
        m: usize,
        k: usize,
        n: usize,
        a: *const f32,
        rsa: isize,
        csa: isize,
        b: *const f32,
        rsb: isize,
        beta: f32,
        c: *mut f32,
        rsc: isize,
    ) {
        // SAFETY: forwarded contract.
        unsafe { matrixmultiply::sgemm(m, k, n, 1.0, a, rsa, csa, b, rsb, 1, beta, c, rsc, 1) }
    }
}

impl MmGemm for f64 {
    unsafe fn mm(
        m: usize,
        k: usize,
        n: usize,
        a: *const f64,
        rsa: isize,
        csa: isize,
        b: *const f64,
        rsb: isize,
        beta: f64,
        c: *mut f64,
        rsc: isize,
    ) {
        // SAFETY: forwarded contract.
        unsafe { matrixmultiply::dgemm(m, k, n, 1.0, a, rsa, csa, b, rsb, 1, beta, c, rsc, 1) }
    }
}

/// The system OpenBLAS's CBLAS `?gemm` (row-major), for the `openblas` impl.
#[cfg(feature = "openblas")]
mod openblas {
    pub const ROW_MAJOR: i32 = 101;
    pub const NO_TRANS: i32 = 111;
    pub const TRANS: i32 = 112;
    #[link(name = "openblas")]
    extern "C" {
        pub fn cblas_sgemm(
            order: i32,
            ta: i32,
            tb: i32,
            m: i32,
            n: i32,
            k: i32,
            alpha: f32,
            a: *const f32,
            lda: i32,
            b: *const f32,
            ldb: i32,
            beta: f32,
            c: *mut f32,
            ldc: i32,
        );
        pub fn cblas_dgemm(
            order: i32,
            ta: i32,
            tb: i32,
            m: i32,
            n: i32,
            k: i32,
            alpha: f64,
            a: *const f64,
            lda: i32,
            b: *const f64,
            ldb: i32,
            beta: f64,
            c: *mut f64,
            ldc: i32,
        );
        pub fn openblas_set_num_threads(n: i32);
    }
}

/// OpenBLAS's `C ← A·B + beta·C` for either element type: A row-major `m x k` (or stored
/// as the `k x m` row-major matrix whose transpose it is), B `k x n` and C `m x n`
/// row-major.
#[cfg(feature = "openblas")]
trait BlasGemm: Float {
    /// # Safety
    /// The pointers must hold the matrices described, and their sizes fit in `i32`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn blas(
        m: usize,
        k: usize,
        n: usize,
        a: *const Self,
        a_t: bool,
        b: *const Self,
        beta: Self,
        c: *mut Self,
    );
}

#[cfg(feature = "openblas")]
macro_rules! blas_gemm {
    ($t:ty, $f:ident) => {
        impl BlasGemm for $t {
            unsafe fn blas(
                m: usize,
                k: usize,
                n: usize,
                a: *const $t,
                a_t: bool,
                b: *const $t,
                beta: $t,
                c: *mut $t,
            ) {
                let (ta, lda) = if a_t {
                    (openblas::TRANS, m)
                } else {
                    (openblas::NO_TRANS, k)
                };
                let i = |x: usize| i32::try_from(x).expect("a benchmark size fits in i32");
                // SAFETY: forwarded contract; the leading dimensions are those of the
                // row-major matrices described.
                unsafe {
                    openblas::$f(
                        openblas::ROW_MAJOR,
                        ta,
                        openblas::NO_TRANS,
                        i(m),
                        i(n),
                        i(k),
                        1.0,
                        a,
                        i(lda).max(1),
                        b,
                        i(n).max(1),
                        beta,
                        c,
                        i(n).max(1),
                    )
                }
            }
        }
    };
}
#[cfg(feature = "openblas")]
blas_gemm!(f32, cblas_sgemm);
#[cfg(feature = "openblas")]
blas_gemm!(f64, cblas_dgemm);

/// The element types of the benches: matrixmultiply always, OpenBLAS with the feature.
#[cfg(feature = "openblas")]
trait Peers: MmGemm + BlasGemm {}
#[cfg(feature = "openblas")]
impl<T: MmGemm + BlasGemm> Peers for T {}
#[cfg(not(feature = "openblas"))]
trait Peers: MmGemm {}
#[cfg(not(feature = "openblas"))]
impl<T: MmGemm> Peers for T {}

/// Runs `f` on tier `level`: directly when it is the dispatcher's own choice (so that the
/// tiny shapes do not time `with_level`'s thread-local bookkeeping), else under
/// [`with_level`].
#[inline(always)]
fn on_tier<R>(level: Level, f: impl FnOnce() -> R) -> R {
    if level == recur::kernels::dispatch::level() {
        f()
    } else {
        with_level(level, f)
    }
}

fn bench_type<T: Peers>(c: &mut Criterion, group_name: &str) {
    let mut group = c.benchmark_group(group_name);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    for s in SHAPES {
        let (m, k, n) = (s.m, s.k, s.n);
        group.throughput(Throughput::Elements((2 * m * n * k) as u64));
        group.sample_size(s.samples);
        let a = values::<T>(m * k, 1);
        let b = values::<T>(k * n, 2);
        let mut out = values::<T>(m * n, 3);
        let (av, rsa, csa) = match s.a {
            ALayout::RowMajor => (MatRef::from_slice(&a, m, k).unwrap(), k, 1),
            ALayout::Transposed => (MatRef::from_slice(&a, k, m).unwrap().t(), 1, m),
        };
        let bv = MatRef::from_slice(&b, k, n).unwrap();
        let beta = if s.packed_step { T::ONE } else { T::ZERO };
        for level in tiers(s) {
            let id = BenchmarkId::new(format!("ours-{}", level.name()), s.name);
            if s.packed_step {
                let packed = with_level(level, || PackedB::new(bv)).unwrap();
                group.bench_function(id, |bch| {
                    let mut cv = MatMut::from_slice(&mut out, m, n).unwrap();
                    bch.iter(|| {
                        on_tier(level, || {
                            gemm_packed(
                                T::ONE,
                                black_box(av),
                                &packed,
                                beta,
                                cv.rb_mut(),
                                Epilogue::None,
                                Parallelism::Serial,
                            )
                        })
                        .unwrap()
                    })
                });
            } else {
                group.bench_function(id, |bch| {
                    let mut cv = MatMut::from_slice(&mut out, m, n).unwrap();
                    bch.iter(|| {
                        on_tier(level, || {
                            gemm_with(
                                T::ONE,
                                black_box(av),
                                black_box(bv),
                                beta,
                                cv.rb_mut(),
                                Epilogue::None,
                                Parallelism::Serial,
                            )
                        })
                        .unwrap()
                    })
                });
            }
        }
        group.bench_function(BenchmarkId::new("matrixmultiply", s.name), |bch| {
            bch.iter(|| {
                // SAFETY: the pointers and strides describe `a` (m x k, as `av`), `b`
                // (k x n, row-major) and `out` (m x n, row-major).
                unsafe {
                    T::mm(
                        m,
                        k,
                        n,
                        black_box(a.as_ptr()),
                        rsa as isize,
                        csa as isize,
                        black_box(b.as_ptr()),
                        n as isize,
                        beta,
                        out.as_mut_ptr(),
                        n as isize,
                    )
                }
            })
        });
        #[cfg(feature = "openblas")]
        group.bench_function(BenchmarkId::new("openblas", s.name), |bch| {
            // SAFETY: a plain call of OpenBLAS's thread-count setter.
            unsafe { openblas::openblas_set_num_threads(1) };
            bch.iter(|| {
                // SAFETY: `a` holds A (m x k, or its k x m transpose), `b` holds B (k x n)
                // and `out` C (m x n), all row-major; the sizes are small.
                unsafe {
                    T::blas(
                        m,
                        k,
                        n,
                        black_box(a.as_ptr()),
                        s.a == ALayout::Transposed,
                        black_box(b.as_ptr()),
                        beta,
                        out.as_mut_ptr(),
                    )
                }
            })
        });
        if s.naive {
            group.bench_function(BenchmarkId::new("naive", s.name), |bch| {
                let mut cv = MatMut::from_slice(&mut out, m, n).unwrap();
                bch.iter(|| gemm_reference(T::ONE, black_box(av), bv, beta, cv.rb_mut()).unwrap())
            });
        }
    }
    group.finish();
}

fn gemm_f32(c: &mut Criterion) {
    bench_type::<f32>(c, "gemm_f32");
}

fn gemm_f64(c: &mut Criterion) {
    bench_type::<f64>(c, "gemm_f64");
}

/// One versus two threads on `sq-2048` (f32); each in its own rayon pool so that the
/// one-thread run cannot steal a second core.
fn gemm_threads(c: &mut Criterion) {
    let mut group = c.benchmark_group("gemm_threads");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    group.sample_size(10);
    let n = 2048;
    group.throughput(Throughput::Elements((2 * n * n * n) as u64));
    let a = values::<f32>(n * n, 1);
    let b = values::<f32>(n * n, 2);
    let mut out = vec![0.0f32; n * n];
    let av = MatRef::from_slice(&a, n, n).unwrap();
    let bv = MatRef::from_slice(&b, n, n).unwrap();
    for threads in [1usize, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        group.bench_function(
            BenchmarkId::new(format!("ours-{threads}t"), "sq-2048"),
            |bch| {
                let mut cv = MatMut::from_slice(&mut out, n, n).unwrap();
                bch.iter(|| {
                    pool.install(|| {
                        gemm_with(
                            1.0,
                            av,
                            bv,
                            0.0,
                            cv.rb_mut(),
                            Epilogue::None,
                            Parallelism::Rayon(threads),
                        )
                    })
                    .unwrap()
                })
            },
        );
    }
    group.finish();
}

fn report_skipped_tiers() {
    let have = available_levels();
    for level in [Level::Avx2, Level::Avx512] {
        if !have.contains(&level) {
            eprintln!(
                "gemm bench: tier {} not available on this CPU: ours-{} skipped",
                level.name(),
                level.name()
            );
        }
    }
}

fn all(c: &mut Criterion) {
    report_skipped_tiers();
    gemm_f32(c);
    gemm_f64(c);
    gemm_threads(c);
}

criterion_group!(benches, all);
criterion_main!(benches);
