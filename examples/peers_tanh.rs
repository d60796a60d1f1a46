//! recur's f32 `tanh` on every tier this CPU runs, printed as the `TANH` lines of the peer
//! harness's `tanh_bench.c` (glibc's scalar and vector `tanhf`; the harness is kept outside
//! this repository) and timed the same way: inputs uniform in [−10, 10] from the same
//! xorshift generator, sizes 1 Ki, 64 Ki and 16 Mi elements, one calibration pass of at
//! least 0.1 s, then `REPS` (5) timings of `MIN_MEAS` (0.2) seconds each; the line gives
//! the median, minimum and maximum in Gelem/s and the calls per timing.
//!
//! ```text
//! cargo run --release --example peers_tanh -- [SIZES…]   # TANH recur-<tier> <n> <median> <min> <max> <calls>
//! ```
//!
//! The scalar tier is timed only on a CPU without a SIMD tier (it is ~50× slower).

use recur::kernels::dispatch::{available_levels, with_level};
use recur::kernels::Level;
use std::hint::black_box;
use std::time::Instant;

/// The harness's generator: xorshift64 (13, 7, 17), 53 bits scaled to [−10, 10).
fn inputs(n: usize) -> Vec<f32> {
    let mut rng: u64 = 88_172_645_463_325_252;
    (0..n)
        .map(|_| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            ((rng >> 11) as f64 * (20.0 / 9_007_199_254_740_992.0) - 10.0) as f32
        })
        .collect()
}

fn env(key: &str, default: f64) -> f64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let reps = (env("REPS", 5.0) as usize).clamp(1, 64);
    let min_meas = env("MIN_MEAS", 0.2);
    let sizes: Vec<usize> = match std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<Vec<usize>, _>>()
    {
        Ok(v) if !v.is_empty() => v,
        Ok(_) => vec![1 << 10, 1 << 16, 1 << 24],
        Err(e) => return Err(format!("sizes must be element counts: {e}").into()),
    };
    let levels = available_levels();
    let simd: Vec<_> = levels
        .iter()
        .copied()
        .filter(|l| *l != Level::Scalar)
        .collect();
    let levels = if simd.is_empty() { levels } else { simd };
    for n in sizes {
        let x = inputs(n);
        let mut y = vec![0.0f32; n];
        for &level in &levels {
            // The tier is forced once around the whole timing, not per call: a user's call
            // does not pay for `with_level`.
            let (g, iters) = with_level(level, || -> recur::kernels::Result<(Vec<f64>, u64)> {
                let mut run = || recur::kernels::tanh(black_box(&x), &mut y);
                let (t0, mut calls) = (Instant::now(), 0u64);
                while calls < 2 || t0.elapsed().as_secs_f64() < 0.1 {
                    run()?;
                    calls += 1;
                }
                let per_call = t0.elapsed().as_secs_f64() / calls as f64;
                let iters = (min_meas / per_call).ceil().max(1.0) as u64;
                let mut g: Vec<f64> = Vec::with_capacity(reps);
                for _ in 0..reps {
                    let t1 = Instant::now();
                    for _ in 0..iters {
                        run()?;
                    }
                    g.push(n as f64 * iters as f64 / t1.elapsed().as_secs_f64() * 1e-9);
                }
                g.sort_by(f64::total_cmp);
                Ok((g, iters))
            })?;
            println!(
                "TANH recur-{} {n} {:.3} {:.3} {:.3} {iters}",
                level.name(),
                g[reps / 2],
                g[0],
                g[reps - 1]
            );
        }
    }
    Ok(())
}
