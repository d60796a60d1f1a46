//! `recur seed`: the lecture's example, 5 sentences of 4 word ids (`(N, T) = (5, 4)`,
//! vocabulary `V = 10`), through an Embedding (`D = 3`) and a TimeRnn (`H = 4`), printing
//! each shape on the way and the last hidden state of every sentence.

use crate::kernels::simd_level;
use crate::layers::ndarray::{array, Array1, Array2, Array3};
use crate::layers::{ids_to_time_major, Embedding, TimeRnn};
use crate::lm::LmResult;

/// The lecture's 5 sentences of 4 word ids through Embedding and TimeRnn.
pub fn run() -> LmResult<()> {
    println!("recur seed: SIMD level {}", simd_level());
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
    let mut emb = Embedding::new(w_embed);
    let mut rnn = TimeRnn::new(wx, wh, b)?;
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
    Ok(())
}
