//! `recur`: runs the lecture's example through Embedding and TimeRnn on the fastest SIMD
//! tier of this machine, then checks every gradient of both layers against finite
//! differences and prints the table.

use recur::check::harness::{EmbeddingCheck, TimeRnnCheck};
use recur::check::{check_gradients, CheckOptions, GradReport};
use recur::kernels::simd_level;
use recur::layers::ndarray::{array, Array1, Array2, Array3};
use recur::layers::{ids_to_time_major, Embedding, TimeRnn};
use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("gradient check FAILED");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> recur::kernels::Result<bool> {
    println!("recur: SIMD level {}", simd_level());
    // The lecture's 5 sentences of 4 word ids, batch-major (N, T) = (5, 4), V = 10.
    let ids = array![
        [0u32, 1, 2, 3],
        [0, 3, 4, 2],
        [5, 6, 7, 5],
        [9, 1, 2, 5],
        [4, 5, 6, 8]
    ];
    let (v, d, h) = (10, 3, 4);
    let tm = ids_to_time_major(ids.view());
    let w_embed = Array2::from_shape_fn((v, d), |(i, j)| ((i * 7 + j * 3) as f32 * 0.37).sin());
    let wx = Array2::from_shape_fn((d, h), |(i, j)| ((i * 5 + j) as f32 * 0.91).cos() * 0.8);
    let wh = Array2::from_shape_fn((h, h), |(i, j)| {
        ((i * 3 + j * 11) as f32 * 0.53).sin() * 0.6
    });
    let b = Array1::from_shape_fn(h, |j| 0.1 * j as f32 - 0.15);
    let mut emb = Embedding::new(w_embed.clone());
    let mut rnn = TimeRnn::new(wx.clone(), wh.clone(), b.clone())?;
    println!(
        "ids  (N, T)    = {:?} -> time-major (T, N) = {:?}",
        ids.dim(),
        tm.dim()
    );
    let xs = emb.forward(tm.view())?.to_owned();
    println!(
        "xs   (T, N, D) = {:?}   (Embedding, V = {v}, D = {d})",
        xs.dim()
    );
    let hs = rnn.forward(xs.view())?.to_owned();
    println!("hs   (T, N, H) = {:?}   (TimeRnn, H = {h})", hs.dim());
    println!("h at the last step, one row per sentence:");
    for n in 0..hs.dim().1 {
        let row: Vec<String> = (0..h).map(|j| format!("{:+.5}", hs[[3, n, j]])).collect();
        println!("  sentence {n}: [{}]", row.join(", "));
    }
    let dxs = rnn.backward(Array3::ones(hs.dim()).view())?.to_owned();
    emb.backward(dxs.view())?;
    println!(
        "backward: dxs {:?}, dW_embed {:?}",
        dxs.dim(),
        emb.grad_w().dim()
    );

    println!(
        "\ngradient check (f64, central differences with Richardson, |a - n| <= 1e-9 + 1e-6|n|):"
    );
    let r = Array3::from_shape_fn((4, 5, h), |(t, n, j)| {
        ((t * 13 + n * 5 + j) as f64 * 0.77).sin()
    });
    let h0 = Array2::from_shape_fn((5, h), |(n, j)| ((n + j) as f64 * 0.4).cos() * 0.5);
    let mut rnn_check = TimeRnnCheck::new(
        wx.mapv(f64::from),
        wh.mapv(f64::from),
        b.mapv(f64::from),
        xs.mapv(f64::from),
        Some(h0),
        r,
        true,
    )?;
    let rnn_report = check_gradients(&mut rnn_check, &CheckOptions::default())?;
    let mut emb_check = EmbeddingCheck {
        emb: Embedding::new(w_embed.mapv(f64::from)),
        ids: tm,
        r: Array3::from_shape_fn((4, 5, d), |(t, n, j)| ((t + 2 * n + 3 * j) as f64).cos()),
    };
    let emb_report = check_gradients(&mut emb_check, &CheckOptions::default())?;
    print_report("TimeRnn", &rnn_report);
    print_report("Embedding", &emb_report);
    Ok(rnn_report.passed() && emb_report.passed())
}

fn print_report(layer: &str, report: &GradReport) {
    for e in &report.entries {
        println!(
            "  {layer:<10} {:<4} {:>3} elements  max rel err {:>9.2e}  {}",
            e.name,
            e.checked,
            e.max_rel,
            if e.passed { "ok" } else { "FAIL" }
        );
    }
}
