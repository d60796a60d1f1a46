//! recur's TimeRnn forward and forward+backward on the peer harness's shapes, printed as
//! the JSON lines of its `rnn.sh` (oneDNN's RNN primitive; the harness is kept outside
//! this repository), system `recur`, timed the same way: 0.05 s of warm-up that estimates the call time, then enough calls for `ANCHOR_MIN_TIME` (0.3)
//! seconds and at least `ANCHOR_MIN_REPS` (5), each timed alone; the median is reported.
//!
//! ```text
//! cargo run --release --example peers_rnn -- [tiny,simple,better,mid,large] [THREADS]
//! ```

use recur::kernels::Parallelism;
use recur::layers::TimeRnn;
use std::hint::black_box;
use std::time::Instant;

#[path = "../benches/common/rnn_case.rs"]
mod rnn_case;

const SHAPES: [(&str, [usize; 4]); 5] = [
    ("tiny", [4, 5, 3, 4]),
    ("simple", [5, 10, 100, 100]),
    ("better", [35, 20, 650, 650]),
    ("mid", [64, 64, 256, 256]),
    ("large", [100, 128, 1024, 1024]),
];

/// `(median, min)` seconds of `f` by the harness's protocol.
fn measure(mut f: impl FnMut()) -> (f64, f64) {
    let env = |k: &str, d: f64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let (min_time, min_reps) = (
        env("ANCHOR_MIN_TIME", 0.3),
        env("ANCHOR_MIN_REPS", 5.0) as usize,
    );
    let (t0, mut warm) = (Instant::now(), 0usize);
    while warm < 2 || t0.elapsed().as_secs_f64() < 0.05 {
        f();
        warm += 1;
    }
    let est = t0.elapsed().as_secs_f64() / warm as f64;
    let reps = min_reps
        .max((min_time / est.max(1e-9)).ceil() as usize)
        .min(20_000);
    let mut ts: Vec<f64> = Vec::with_capacity(reps);
    let mut total = 0.0;
    while ts.len() < reps || (total < min_time && ts.len() < 20_000) {
        let s = Instant::now();
        f();
        let d = s.elapsed().as_secs_f64();
        ts.push(d);
        total += d;
    }
    ts.sort_by(f64::total_cmp);
    let n = ts.len();
    let med = if n % 2 == 1 {
        ts[n / 2]
    } else {
        0.5 * (ts[n / 2 - 1] + ts[n / 2])
    };
    (med, ts[0])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let wanted = args
        .first()
        .map_or("tiny,simple,better,mid", String::as_str);
    let threads: usize = args.get(1).map_or(Ok(1), |t| t.parse())?;
    let par = if threads > 1 {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::Serial
    };
    for name in wanted.split(',') {
        let Some(&(_, [t, n, d, h])) = SHAPES.iter().find(|(s, _)| *s == name) else {
            return Err(
                format!("unknown shape {name}; known: tiny, simple, better, mid, large").into(),
            );
        };
        let (wx, wh, b, xs, dhs) = rnn_case::data(t, n, d, h);
        let mut rnn = TimeRnn::new(wx, wh, b)?;
        rnn.set_parallelism(par);
        let fwd_flops = 2.0 * (t * n * h * (d + h)) as f64;
        let bwd_flops = 2.0 * fwd_flops; // dXS, dWx, dWh and dH_prev: twice the forward
        let (fwd, _) = measure(|| {
            black_box(rnn.forward(xs.view()).expect("shapes agree"));
        });
        let (both, both_min) = measure(|| {
            black_box(rnn.forward(xs.view()).expect("shapes agree"));
            black_box(rnn.backward(dhs.view()).expect("shapes agree"));
        });
        for (mode, secs, min, flops) in [
            ("fwd", fwd, fwd, fwd_flops),
            ("fwd+bwd", both, both_min, fwd_flops + bwd_flops),
        ] {
            println!(
                "{{\"system\":\"recur\",\"shape\":\"{name}\",\"T\":{t},\"N\":{n},\"D\":{d},\"H\":{h},\"threads\":{threads},\"simd\":\"{}\",\"mode\":\"{mode}\",\"flops\":{flops},\"gflops\":{:.6},\"median_ms\":{:.6},\"min_ms\":{:.6}}}",
                recur::kernels::simd_level(),
                flops / secs / 1e9,
                secs * 1e3,
                min * 1e3
            );
        }
    }
    Ok(())
}
