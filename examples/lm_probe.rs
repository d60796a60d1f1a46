//! A fixed number of `SimpleRnnlm` training steps (forward, backward, clipping, SGD) on one
//! thread, printing only the last loss: a workload for callgrind or `perf record`, not a
//! timer.
//!
//! ```text
//! cargo run --release --example lm_probe -- <V> <D> <H> <N> <T> [iters=<n>]
//! valgrind --tool=callgrind target/release/examples/lm_probe 2000 64 64 10 20 iters=3
//! ```

use recur::kernels::Parallelism;
use recur::layers::ndarray::Array2;
use recur::layers::optim::{clip_grads, Optimizer, Sgd};
use recur::layers::Parameters;
use recur::lm::SimpleRnnlm;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dims: Vec<usize> = args
        .iter()
        .filter(|a| !a.contains('='))
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let [v, d, h, n, t] = dims[..] else {
        return Err("usage: lm_probe <V> <D> <H> <N> <T> [iters=<n>]".into());
    };
    if v == 0 {
        return Err("V must be at least 1".into());
    }
    let iters: usize = args
        .iter()
        .find_map(|a| a.strip_prefix("iters="))
        .map_or(Ok(3), str::parse)?;
    let mut model = SimpleRnnlm::<f32>::new(v, d, h, 1)?;
    model.set_parallelism(Parallelism::Serial);
    let mut sgd = Sgd::new(0.1f32);
    let mut loss = 0.0;
    for i in 0..iters {
        let xs = Array2::from_shape_fn((t, n), |(a, b)| ((a * 31 + b * 17 + i) % v) as u32);
        let ts = Array2::from_shape_fn((t, n), |(a, b)| ((a * 31 + b * 17 + i + 1) % v) as u32);
        loss = model.forward(xs.view(), ts.view())?;
        model.backward()?;
        let mut params = model.params_mut();
        clip_grads(&mut params, 0.25)?;
        sgd.step(&mut params)?;
    }
    println!("{loss}");
    Ok(())
}
