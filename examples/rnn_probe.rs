//! Quick TimeRnn timing for profiling sessions (the criterion bench `benches/rnn.rs` is the
//! record): median forward and backward times of one f32 shape on one thread, by wall
//! clock; with `iters=<n>` it runs exactly n forward+backward passes and prints nothing
//! else, for `perf record` or callgrind.
//!
//! ```text
//! cargo run --release --example rnn_probe -- <T> <N> <D> <H> [secs=<seconds>] [iters=<n>]
//! ```

use recur::kernels::Parallelism;
use recur::layers::TimeRnn;
use std::hint::black_box;
use std::time::{Duration, Instant};

#[path = "../benches/common/rnn_case.rs"]
mod rnn_case;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dims: Vec<usize> = args
        .iter()
        .filter(|a| !a.contains('='))
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let [t, n, d, h] = dims[..] else {
        return Err("usage: rnn_probe <T> <N> <D> <H> [secs=<s>] [iters=<n>]".into());
    };
    let opt = |key: &str| {
        args.iter()
            .find_map(|a| a.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
            .map(str::to_owned)
    };
    let secs: f64 = opt("secs").map_or(Ok(3.0), |v| v.parse())?;
    let iters: Option<usize> = opt("iters").map(|v| v.parse()).transpose()?;

    let (wx, wh, b, xs, dhs) = rnn_case::data(t, n, d, h);
    let mut rnn = TimeRnn::new(wx, wh, b)?;
    rnn.set_parallelism(Parallelism::Serial);

    if let Some(iters) = iters {
        for _ in 0..iters {
            black_box(rnn.forward(xs.view())?);
            black_box(rnn.backward(dhs.view())?);
        }
        return Ok(());
    }
    let (mut fwd, mut bwd) = (Vec::new(), Vec::new());
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs_f64(secs) || fwd.len() < 5 {
        let t0 = Instant::now();
        black_box(rnn.forward(xs.view())?);
        let t1 = Instant::now();
        black_box(rnn.backward(dhs.view())?);
        fwd.push((t1 - t0).as_secs_f64());
        bwd.push(t1.elapsed().as_secs_f64());
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (f, b) = (median(&mut fwd), median(&mut bwd));
    let flops = 2.0 * (t * n * (d + h) * h) as f64;
    println!(
        "TimeRnn f32 (T, N, D, H) = ({t}, {n}, {d}, {h}), 1 thread, {} passes: forward {:.3} ms \
         ({:.1} GFLOP/s), backward {:.3} ms ({:.1} GFLOP/s)",
        fwd.len(),
        f * 1e3,
        flops / f * 1e-9,
        b * 1e3,
        2.0 * flops / b * 1e-9
    );
    Ok(())
}
