//! recur's GEMM on every shape of a shapes file, printed as the `RESULT` lines of the peer
//! harness (`RESULT recur <threads> M K N <flags> <GFLOP/s median> <min> <max> <calls>
//! <max_rel_err>`), so that one table puts recur beside OpenBLAS, oneDNN and MKL measured
//! the same way: one checked call, 0.1 s of warm-up that calibrates the call count, then
//! `REPS` (5) measurements of at least `MIN_MEAS` (0.2) seconds each; the error is the
//! largest over 256 sampled entries against an f64 dot product, relative to `Σ|a·b|`.
//!
//! ```text
//! cargo run --release --example peers_gemm -- SHAPES_FILE [THREADS] [t2]
//! ```
//! A shapes line is `M K N [flags]`, flags `tA` (A stored transposed), `tB` (B stored
//! transposed), `b1` (β = 1), `d` (f64), `t2` (a shape to time with 2 threads too: with the
//! `t2` argument only those shapes run); `#` starts a comment.

use recur::kernels::{gemm_with, Epilogue, Float, MatMut, MatRef, Parallelism};
use std::time::Instant;

#[path = "../benches/common/aligned.rs"]
mod aligned;
use aligned::placed;

struct Shape {
    m: usize,
    k: usize,
    n: usize,
    ta: bool,
    tb: bool,
    b1: bool,
    f64: bool,
    t2: bool,
    flags: String,
}

fn parse(line: &str) -> Option<Shape> {
    let line = line.split('#').next()?.trim();
    let mut words = line.split_whitespace();
    let (m, k, n) = (
        words.next()?.parse().ok()?,
        words.next()?.parse().ok()?,
        words.next()?.parse().ok()?,
    );
    let flags: Vec<&str> = words.collect();
    let has = |f: &str| flags.iter().any(|x| x.split(',').any(|y| y == f));
    let (ta, tb, b1, f64, t2) = (has("tA"), has("tB"), has("b1"), has("d"), has("t2"));
    // The harness's flag text: tA, tB, b1, d in this order, `-` for none.
    let text: String = [(ta, "tA"), (tb, "tB"), (b1, "b1"), (f64, "d")]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, s)| *s)
        .collect();
    Some(Shape {
        m,
        k,
        n,
        ta,
        tb,
        b1,
        f64,
        t2,
        flags: if text.is_empty() { "-".into() } else { text },
    })
}

/// The harness's generator: xorshift, uniform in [-1, 1).
struct Urand(u64);
impl Urand {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 * (2.0 / 9007199254740992.0) - 1.0
    }
}

fn bench<T: Float>(s: &Shape, threads: usize, reps: usize, min_meas: f64) -> String {
    let mut rng = Urand(0x9E37_79B9_7F4A_7C15);
    let (m, k, n) = (s.m, s.k, s.n);
    let a: Vec<T> = (0..m * k).map(|_| T::from_f64(rng.next())).collect();
    let b: Vec<T> = (0..k * n).map(|_| T::from_f64(rng.next())).collect();
    let c0: Vec<T> = (0..m * n).map(|_| T::from_f64(rng.next())).collect();
    // 64-byte aligned, as the harness allocates the peers' operands.
    let (a, ra) = placed(a, Some(0));
    let (b, rb) = placed(b, Some(0));
    let (mut cbuf, rc) = placed(c0.clone(), Some(0));
    let (a, b, c) = (&a[ra], &b[rb], &mut cbuf[rc]);
    let par = if threads > 1 {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::Serial
    };
    let beta = if s.b1 { T::ONE } else { T::ZERO };
    let call = |c: &mut [T]| {
        let av = if s.ta {
            MatRef::from_slice(a, k, m).map(|v| v.t())
        } else {
            MatRef::from_slice(a, m, k)
        };
        let bv = if s.tb {
            MatRef::from_slice(b, n, k).map(|v| v.t())
        } else {
            MatRef::from_slice(b, k, n)
        };
        let (av, bv) = (av.expect("A fits"), bv.expect("B fits"));
        let cv = MatMut::from_slice(c, m, n).expect("C fits");
        gemm_with(T::ONE, av, bv, beta, cv, Epilogue::None, par).expect("shapes agree");
    };
    call(c);
    // The error of 256 sampled entries against an f64 dot product.
    let mut worst = 0.0f64;
    for _ in 0..256 {
        let i = (((rng.next() + 1.0) * 0.5 * m as f64) as usize).min(m.saturating_sub(1));
        let j = (((rng.next() + 1.0) * 0.5 * n as f64) as usize).min(n.saturating_sub(1));
        if m == 0 || n == 0 {
            break;
        }
        let mut acc = if s.b1 { c0[i * n + j].to_f64() } else { 0.0 };
        let mut mag = acc.abs();
        for p in 0..k {
            let x = if s.ta { a[p * m + i] } else { a[i * k + p] }.to_f64();
            let y = if s.tb { b[j * k + p] } else { b[p * n + j] }.to_f64();
            acc += x * y;
            mag += (x * y).abs();
        }
        let e = (c[i * n + j].to_f64() - acc).abs() / if mag > 0.0 { mag } else { 1.0 };
        worst = worst.max(e);
    }
    let (mut calls, t0) = (0usize, Instant::now());
    while t0.elapsed().as_secs_f64() < 0.1 || calls < 2 {
        call(c);
        calls += 1;
    }
    let per_call = t0.elapsed().as_secs_f64() / calls as f64;
    let iters = ((min_meas / per_call).ceil() as usize).max(1);
    let flop = 2.0 * (m * n * k) as f64;
    let mut g: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                call(c);
            }
            flop * iters as f64 / t.elapsed().as_secs_f64() * 1e-9
        })
        .collect();
    g.sort_by(f64::total_cmp);
    format!(
        "RESULT recur {threads} {m} {k} {n} {} {:.2} {:.2} {:.2} {iters} {worst:.1e}",
        s.flags,
        g[reps / 2],
        g[0],
        g[reps - 1]
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        return Err("usage: peers_gemm SHAPES_FILE [THREADS] [t2]".into());
    };
    let threads: usize = args.get(1).map_or(Ok(1), |t| t.parse())?;
    let only_t2 = args.get(2).is_some_and(|a| a == "t2");
    let env = |key: &str, default: f64| {
        std::env::var(key)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let reps = (env("REPS", 5.0) as usize).clamp(1, 64);
    let min_meas = env("MIN_MEAS", 0.2);
    println!("INFO recur simd={}", recur::kernels::simd_level());
    for line in std::fs::read_to_string(path)?.lines() {
        let Some(shape) = parse(line) else { continue };
        if only_t2 && !shape.t2 {
            continue;
        }
        let result = if shape.f64 {
            bench::<f64>(&shape, threads, reps, min_meas)
        } else {
            bench::<f32>(&shape, threads, reps, min_meas)
        };
        println!("{result}");
    }
    Ok(())
}
