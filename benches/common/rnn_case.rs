//! The deterministic TimeRnn inputs shared by `benches/rnn.rs` and `examples/rnn_probe.rs`
//! (included by `#[path]`), so that the probe times exactly what the bench times.

use recur::layers::ndarray::{Array1, Array2, Array3};

/// Weights `wx: (D, H)`, `wh: (H, H)`, `b: (H)`, input `xs: (T, N, D)` and output gradient
/// `dhs: (T, N, H)` of one shape.
pub type Case = (
    Array2<f32>,
    Array2<f32>,
    Array1<f32>,
    Array3<f32>,
    Array3<f32>,
);

/// The case of shape `(T, N, D, H)`: smooth values of magnitude ≤ 1 (weights ≤ 0.05).
pub fn data(t: usize, n: usize, d: usize, h: usize) -> Case {
    let wx = Array2::from_shape_fn((d, h), |(i, j)| {
        ((i * 7 + j * 3) as f32 * 0.01).sin() * 0.05
    });
    let wh = Array2::from_shape_fn((h, h), |(i, j)| ((i * 5 + j) as f32 * 0.013).cos() * 0.05);
    let b = Array1::from_shape_fn(h, |j| (j as f32 * 0.1).sin() * 0.1);
    let xs = Array3::from_shape_fn((t, n, d), |(a, b2, c)| {
        ((a + b2 * 3 + c) as f32 * 0.07).sin()
    });
    let dhs = Array3::from_shape_fn((t, n, h), |(a, b2, c)| {
        ((a * 3 + b2 + c) as f32 * 0.05).cos()
    });
    (wx, wh, b, xs, dhs)
}
