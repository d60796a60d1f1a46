//! Measures the FMA peak of one core (and of all cores together): long chains of
//! independent vector FMAs, enough of them to cover the FMA latency on every FMA pipe.
//!
//! ```text
//! cargo run --release --example fma_peak
//! ```
//!
//! Each kernel keeps `ACC` independent accumulators in registers and applies
//! `acc = acc * x + y` to each of them `ITERS` times. With FMA latency `L` cycles and `P`
//! FMA pipes, at least `L·P` independent chains are needed to issue one FMA per pipe per
//! cycle (Zen 3: L = 4, P = 2 → 8; Intel Skylake-SP AVX-512: L = 4, P = 2 → 8). We use 12
//! for AVX2 (of 16 ymm registers) and 24 for AVX-512 (of 32 zmm registers), so that
//! scheduling slack never limits the rate. The values stay bounded (`x = 1 - 2^-20`,
//! `y` small) so no denormals or infinities appear.
//!
//! Reported: GFLOP/s (2 flops per FMA lane) per core, the flops per TSC tick (the TSC runs
//! at the nominal clock; more than the architectural flops/cycle means the core is
//! boosting above nominal), and the same with one thread per core.

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// FMAs per accumulator per call.
    pub const ITERS: u64 = 20_000_000;

    macro_rules! fma_chain {
        ($name:ident, $feat:literal, $v:ty, $set1:ident, $fma:ident, $add:ident, $t:ty,
         $acc:literal) => {
            /// Runs `ITERS` rounds of `$acc` independent FMAs; returns a value depending
            /// on every accumulator (so nothing is optimized away).
            #[target_feature(enable = $feat)]
            pub fn $name(x: $t, y: $t) -> $t {
                let xv = $set1(x);
                let yv = $set1(y);
                let mut acc = [$set1(1.0); $acc];
                for (i, a) in acc.iter_mut().enumerate() {
                    *a = $set1(1.0 + i as $t);
                }
                for _ in 0..ITERS {
                    for a in acc.iter_mut() {
                        *a = $fma(*a, xv, yv);
                    }
                }
                let mut s = acc[0];
                for a in &acc[1..] {
                    s = $add(s, *a);
                }
                let mut lanes = [0.0 as $t; 16];
                // SAFETY: `lanes` holds 16 elements, at least one vector's worth.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        &s as *const $v as *const $t,
                        lanes.as_mut_ptr(),
                        std::mem::size_of::<$v>() / std::mem::size_of::<$t>(),
                    )
                };
                lanes.iter().sum()
            }
        };
    }

    fma_chain!(
        avx2_f32,
        "avx2,fma",
        __m256,
        _mm256_set1_ps,
        _mm256_fmadd_ps,
        _mm256_add_ps,
        f32,
        12
    );
    fma_chain!(
        avx2_f64,
        "avx2,fma",
        __m256d,
        _mm256_set1_pd,
        _mm256_fmadd_pd,
        _mm256_add_pd,
        f64,
        12
    );
    fma_chain!(
        avx512_f32,
        "avx512f",
        __m512,
        _mm512_set1_ps,
        _mm512_fmadd_ps,
        _mm512_add_ps,
        f32,
        24
    );
    fma_chain!(
        avx512_f64,
        "avx512f",
        __m512d,
        _mm512_set1_pd,
        _mm512_fmadd_pd,
        _mm512_add_pd,
        f64,
        24
    );
}

#[cfg(target_arch = "x86_64")]
fn main() {
    use std::arch::is_x86_feature_detected as has;
    use std::time::Instant;

    struct Case {
        name: &'static str,
        available: bool,
        flops_per_round: u64,
        run: fn() -> f64,
    }
    let cases = [
        Case {
            name: "avx2+fma f32 (12 x ymm)",
            available: has!("avx2") && has!("fma"),
            flops_per_round: 12 * 8 * 2,
            // SAFETY: only called when `available` (AVX2 and FMA detected).
            run: || unsafe { x86::avx2_f32(1.0 - 1.0 / 1048576.0, 1e-7) } as f64,
        },
        Case {
            name: "avx2+fma f64 (12 x ymm)",
            available: has!("avx2") && has!("fma"),
            flops_per_round: 12 * 4 * 2,
            // SAFETY: only called when `available` (AVX2 and FMA detected).
            run: || unsafe { x86::avx2_f64(1.0 - 1.0 / 1048576.0, 1e-7) },
        },
        Case {
            name: "avx512f f32 (24 x zmm)",
            available: has!("avx512f"),
            flops_per_round: 24 * 16 * 2,
            // SAFETY: only called when `available` (AVX-512F detected).
            run: || unsafe { x86::avx512_f32(1.0 - 1.0 / 1048576.0, 1e-7) } as f64,
        },
        Case {
            name: "avx512f f64 (24 x zmm)",
            available: has!("avx512f"),
            flops_per_round: 24 * 8 * 2,
            // SAFETY: only called when `available` (AVX-512F detected).
            run: || unsafe { x86::avx512_f64(1.0 - 1.0 / 1048576.0, 1e-7) },
        },
    ];
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("FMA peak, {} rounds per run, best of 5 runs", x86::ITERS);
    for case in &cases {
        if !case.available {
            println!("{:<26} unavailable on this CPU", case.name);
            continue;
        }
        let flops = (case.flops_per_round * x86::ITERS) as f64;
        // One core.
        let mut best = f64::INFINITY;
        let mut best_ticks = u64::MAX;
        for _ in 0..5 {
            // SAFETY: `_rdtsc` has no preconditions on x86-64.
            let t0 = unsafe { std::arch::x86_64::_rdtsc() };
            let start = Instant::now();
            std::hint::black_box((case.run)());
            let secs = start.elapsed().as_secs_f64();
            // SAFETY: as above.
            let t1 = unsafe { std::arch::x86_64::_rdtsc() };
            if secs < best {
                best = secs;
                best_ticks = t1 - t0;
            }
        }
        // All cores, one thread each.
        let mut best_all = f64::INFINITY;
        for _ in 0..3 {
            let start = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..threads {
                    s.spawn(|| std::hint::black_box((case.run)()));
                }
            });
            best_all = best_all.min(start.elapsed().as_secs_f64());
        }
        println!(
            "{:<26} {:7.1} GFLOP/s per core  ({:.1} flop per TSC tick)   {} threads: {:7.1} GFLOP/s",
            case.name,
            flops / best / 1e9,
            flops / best_ticks as f64,
            threads,
            flops * threads as f64 / best_all / 1e9,
        );
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn main() {
    println!("fma_peak measures x86-64 AVX2 / AVX-512 only");
}
