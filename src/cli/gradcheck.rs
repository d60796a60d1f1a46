//! `recur gradcheck`: every layer's gradients against recur-check's finite differences
//! ([`crate::check::check_gradients`]), on random small shapes, as a table.

use super::GradcheckArgs;
use crate::check::harness::{EmbeddingCheck, SoftmaxCheck, TimeAffineCheck, TimeRnnCheck};
use crate::check::{check_gradients, CheckOptions, GradCheck};
use crate::kernels::simd_level;
use crate::layers::ndarray::{Array1, Array2, Array3};
use crate::layers::{Embedding, SoftmaxCrossEntropy, TimeAffine};
use crate::lm::rng::Rng;
use crate::lm::{LmError, LmResult};

fn randn2(rng: &mut Rng, r: usize, c: usize) -> Array2<f64> {
    Array2::from_shape_simple_fn((r, c), || rng.uniform() * 2.0 - 1.0)
}
fn randn3(rng: &mut Rng, a: usize, b: usize, c: usize) -> Array3<f64> {
    Array3::from_shape_simple_fn((a, b, c), || rng.uniform() * 2.0 - 1.0)
}

/// Every layer's gradients on `args.cases` random shapes, as a table; fails if any fails.
pub fn run(args: &GradcheckArgs) -> LmResult<()> {
    let mut rng = Rng::new(args.seed);
    let opts = CheckOptions::default();
    println!(
        "recur gradcheck: f64, central differences with Richardson (h = {}), pass if |a - n| <= {} + {}|n|; SIMD {}",
        opts.fd.step,
        opts.tol.atol,
        opts.tol.rtol,
        simd_level()
    );
    println!(
        "{:<22} {:<7} {:>16} {:>12}  verdict",
        "layer", "tensor", "(T, N, D|V, H)", "max rel err"
    );
    let mut all_ok = true;
    for case in 0..args.cases {
        let t = 1 + rng.below(6);
        let n = 1 + rng.below(4);
        let d = 1 + rng.below(12);
        let h = 1 + rng.below(12);
        let v = 1 + rng.below(20);
        let shape = format!("({t}, {n}, {d}, {h})");
        let h0 = if case % 2 == 0 {
            Some(randn2(&mut rng, n, h))
        } else {
            None
        };
        let mut rnn = TimeRnnCheck::new(
            randn2(&mut rng, d, h),
            randn2(&mut rng, h, h),
            Array1::from_shape_simple_fn(h, || rng.uniform() - 0.5),
            randn3(&mut rng, t, n, d),
            h0,
            randn3(&mut rng, t, n, h),
            case % 2 == 0,
        )?;
        all_ok &= report("TimeRnn", &shape, &mut rnn, &opts)?;
        let ids = Array2::from_shape_simple_fn((t, n), || rng.below(v.min(4)) as u32);
        let mut emb = EmbeddingCheck {
            emb: Embedding::new(randn2(&mut rng, v, d)),
            ids,
            r: randn3(&mut rng, t, n, d),
        };
        all_ok &= report(
            "Embedding",
            &format!("({t}, {n}, {v}, {d})"),
            &mut emb,
            &opts,
        )?;
        let mut fc = TimeAffineCheck {
            fc: TimeAffine::new(
                randn2(&mut rng, h, v),
                Array1::from_shape_simple_fn(v, || rng.uniform()),
            )?,
            xs: randn3(&mut rng, t, n, h),
            r: randn3(&mut rng, t, n, v),
        };
        all_ok &= report(
            "TimeAffine",
            &format!("({t}, {n}, {v}, {h})"),
            &mut fc,
            &opts,
        )?;
        let mut sm = SoftmaxCheck {
            loss: SoftmaxCrossEntropy::new(),
            scores: randn3(&mut rng, t, n, v).mapv(|x| 3.0 * x),
            targets: Array2::from_shape_simple_fn((t, n), || rng.below(v) as u32),
        };
        all_ok &= report(
            "SoftmaxCrossEntropy",
            &format!("({t}, {n}, {v}, -)"),
            &mut sm,
            &opts,
        )?;
    }
    if all_ok {
        println!("all gradients agree with finite differences");
        Ok(())
    } else {
        Err(LmError::CheckFailed(
            "some gradient disagrees with finite differences".into(),
        ))
    }
}

fn report<M: GradCheck>(
    layer: &str,
    shape: &str,
    m: &mut M,
    opts: &CheckOptions,
) -> LmResult<bool> {
    let r = check_gradients(m, opts)?;
    for e in &r.entries {
        println!(
            "{layer:<22} {:<7} {shape:>16} {:>12.2e}  {}",
            e.name,
            e.max_rel,
            if e.passed { "ok" } else { "FAIL" }
        );
    }
    Ok(r.passed())
}
