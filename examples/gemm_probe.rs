//! Quick GEMM timing for tuning sessions (the criterion bench `benches/gemm.rs` is the
//! record): prints the median and best GFLOP/s of one shape, by wall clock, and the median
//! by the thread's CPU time (which leaves out preemption and hypervisor steal time, so it is
//! the steadier number on a shared machine).
//!
//! ```text
//! cargo run --release --example gemm_probe -- <f32|f64> <m> <k> <n> [opts...]
//!   opts: tier=scalar|avx2|avx512   threads=<n>   packed (pre-packed B, beta = 1)
//!         ta (A given as a (k, m) row-major matrix, viewed transposed)   mm (matrixmultiply)
//!         secs=<seconds>   iters=<n> (exactly n calls, no timing: for callgrind)
//!         align=<bytes> (A, B and C start that many bytes past a 64-byte boundary; without
//!         it they are plain `Vec`s, wherever the allocator puts them)
//! ```

use recur::kernels::dispatch::with_level;
use recur::kernels::{gemm_packed, gemm_with, Epilogue, Float, Level, MatMut, MatRef, PackedB};
use recur::kernels::{Parallelism, Result};
use std::time::Instant;

#[path = "../benches/common/aligned.rs"]
mod aligned;
use aligned::placed;

struct Opts {
    m: usize,
    k: usize,
    n: usize,
    tier: Level,
    threads: usize,
    packed: bool,
    ta: bool,
    mm: bool,
    secs: f64,
    iters: Option<usize>,
    align: Option<usize>,
}

fn run<T: Float>(o: &Opts, mm: fn(&Opts, &[T], &[T], &mut [T])) -> Result<()> {
    let (m, k, n) = (o.m, o.k, o.n);
    let a: Vec<T> = (0..m * k)
        .map(|i| T::from_f64(((i * 7) % 13) as f64 / 13.0 - 0.5))
        .collect();
    let b: Vec<T> = (0..k * n)
        .map(|i| T::from_f64(((i * 5) % 11) as f64 / 11.0 - 0.5))
        .collect();
    let (a, ra) = placed(a, o.align);
    let (b, rb) = placed(b, o.align);
    let (mut c, rc) = placed(vec![T::ZERO; m * n], o.align);
    let (a, b, c) = (&a[ra], &b[rb], &mut c[rc]);
    let av = if o.ta {
        MatRef::from_slice(a, k, m)?.t()
    } else {
        MatRef::from_slice(a, m, k)?
    };
    let bv = MatRef::from_slice(b, k, n)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(o.threads)
        .build()
        .expect("thread pool");
    let packed = with_level(o.tier, || PackedB::new(bv))?;
    let par = if o.threads > 1 {
        Parallelism::Rayon(o.threads)
    } else {
        Parallelism::Serial
    };
    let mut once = || -> Result<()> {
        if o.mm {
            mm(o, a, b, c);
            return Ok(());
        }
        let cv = MatMut::from_slice(c, m, n)?;
        let call = || {
            with_level(o.tier, || {
                if o.packed {
                    gemm_packed(T::ONE, av, &packed, T::ONE, cv, Epilogue::None, par)
                } else {
                    gemm_with(T::ONE, av, bv, T::ZERO, cv, Epilogue::None, par)
                }
            })
        };
        // Only hop onto the pool when it is used: `install` costs a thread wake-up.
        if o.threads > 1 {
            pool.install(call)
        } else {
            call()
        }
    };
    if let Some(iters) = o.iters {
        // Fixed call count, for `valgrind --tool=callgrind` instruction counts.
        for _ in 0..iters {
            once()?;
        }
        return Ok(());
    }
    // Warm up, then size the batch so that one sample takes ~2 ms.
    let t = Instant::now();
    once()?;
    once()?;
    let per = t.elapsed().as_secs_f64() / 2.0;
    let batch = ((2e-3 / per) as usize).max(1);
    let mut samples = Vec::new();
    let mut cpu_samples = Vec::new();
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < o.secs || samples.len() < 5 {
        let c0 = thread_cpu_ns();
        let t = Instant::now();
        for _ in 0..batch {
            once()?;
        }
        samples.push(t.elapsed().as_secs_f64() / batch as f64);
        if let (Some(c0), Some(c1)) = (c0, thread_cpu_ns()) {
            cpu_samples.push((c1 - c0) as f64 * 1e-9 / batch as f64);
        }
    }
    samples.sort_by(f64::total_cmp);
    cpu_samples.sort_by(f64::total_cmp);
    let flops = 2.0 * (m * n * k) as f64;
    let med = samples[samples.len() / 2];
    let cpu_med = cpu_samples
        .get(cpu_samples.len() / 2)
        .copied()
        .unwrap_or(f64::NAN);
    println!(
        "{} {}x{}x{} {}: median {:8.2} GFLOP/s ({:.3} us)  best {:8.2} GFLOP/s  cpu-time median {:8.2} GFLOP/s  [{} samples x {}]",
        T::NAME,
        m,
        k,
        n,
        if o.mm {
            "matrixmultiply"
        } else {
            o.tier.name()
        },
        flops / med / 1e9,
        med * 1e6,
        flops / samples[0] / 1e9,
        flops / cpu_med / 1e9,
        samples.len(),
        batch
    );
    Ok(())
}

/// This thread's time on a CPU in ns (`/proc/thread-self/schedstat`): excludes the time
/// the thread was preempted and, on a paravirtualized guest, the hypervisor's steal time.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        eprintln!("usage: gemm_probe <f32|f64> <m> <k> <n> [tier=..] [threads=..] [packed] [ta] [mm] [secs=..] [iters=..] [align=..]");
        std::process::exit(2);
    }
    let num = |s: &str| s.parse::<usize>().expect("a number");
    let mut o = Opts {
        m: num(&args[1]),
        k: num(&args[2]),
        n: num(&args[3]),
        tier: recur::kernels::dispatch::detected_level(),
        threads: 1,
        packed: false,
        ta: false,
        mm: false,
        secs: 1.0,
        iters: None,
        align: None,
    };
    for arg in &args[4..] {
        match arg.split_once('=') {
            Some(("tier", v)) => o.tier = Level::parse(v).expect("tier name"),
            Some(("threads", v)) => o.threads = num(v),
            Some(("secs", v)) => o.secs = v.parse().expect("seconds"),
            Some(("iters", v)) => o.iters = Some(num(v)),
            Some(("align", v)) => o.align = Some(num(v)),
            None if arg == "packed" => o.packed = true,
            None if arg == "ta" => o.ta = true,
            None if arg == "mm" => o.mm = true,
            _ => panic!("unknown option {arg}"),
        }
    }
    if args[0] == "f64" {
        run::<f64>(&o, |o, a, b, c| {
            let (rsa, csa) = if o.ta { (1, o.m) } else { (o.k, 1) };
            // SAFETY: the pointers and strides describe the row-major buffers of `run`.
            unsafe {
                matrixmultiply::dgemm(
                    o.m,
                    o.k,
                    o.n,
                    1.0,
                    a.as_ptr(),
                    rsa as isize,
                    csa as isize,
                    b.as_ptr(),
                    o.n as isize,
                    1,
                    if o.packed { 1.0 } else { 0.0 },
                    c.as_mut_ptr(),
                    o.n as isize,
                    1,
                )
            }
        })
    } else {
        run::<f32>(&o, |o, a, b, c| {
            let (rsa, csa) = if o.ta { (1, o.m) } else { (o.k, 1) };
            // SAFETY: the pointers and strides describe the row-major buffers of `run`.
            unsafe {
                matrixmultiply::sgemm(
                    o.m,
                    o.k,
                    o.n,
                    1.0,
                    a.as_ptr(),
                    rsa as isize,
                    csa as isize,
                    b.as_ptr(),
                    o.n as isize,
                    1,
                    if o.packed { 1.0 } else { 0.0 },
                    c.as_mut_ptr(),
                    o.n as isize,
                    1,
                )
            }
        })
    }
}
