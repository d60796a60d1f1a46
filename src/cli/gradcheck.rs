//! `recur gradcheck`: every layer's gradients, in f64 (finite differences in f64) and in
//! f32 (against finite differences of the f64 twin), with recur-check's self-calibrating
//! verdict ([`crate::check::check_gradients`], [`crate::check::check_with_twin`]), on
//! random small shapes, as a table with each row's headroom.

use super::GradcheckArgs;
use crate::check::harness::{EmbeddingCheck, SoftmaxCheck, TimeAffineCheck, TimeRnnCheck};
use crate::check::{
    check_gradients, check_with_twin, CheckError, CheckOptions, GradCheck, GradReport,
};
use crate::kernels::simd_level;
use crate::layers::ndarray::{Array1, Array2, Array3};
use crate::layers::{Embedding, Error, Float, TimeAffine};
use crate::lm::rng::Rng;
use crate::lm::{LmError, LmResult};

fn rand2<T: Float>(rng: &mut Rng, r: usize, c: usize) -> Array2<T> {
    Array2::from_shape_simple_fn((r, c), || T::from_f64(rng.uniform() * 2.0 - 1.0))
}
fn rand3<T: Float>(rng: &mut Rng, a: usize, b: usize, c: usize) -> Array3<T> {
    Array3::from_shape_simple_fn((a, b, c), || T::from_f64(rng.uniform() * 2.0 - 1.0))
}

fn lm_err(e: CheckError<Error>) -> LmError {
    match e {
        CheckError::Model(e) => LmError::Layer(e),
        other => LmError::CheckFailed(other.to_string()),
    }
}

/// Every layer's gradients on `args.cases` random shapes, as a table; fails if any fails
/// or is inconclusive.
pub fn run(args: &GradcheckArgs) -> LmResult<()> {
    let mut rng = Rng::new(args.seed);
    println!(
        "recur gradcheck: f64 against f64 finite differences, f32 against those of its f64 twin; \
         Richardson tableau (h = 1e-4, 2 levels) on the realized steps; pass if |a - n| <= rtol·|n| + floor \
         (rtol = 16·sqrt(eps): {:.1e} f64, {:.1e} f32; floor measured: FD error, loss magnitude, rounding); SIMD {}",
        crate::check::Tolerance::for_epsilon(f64::EPSILON).rtol,
        crate::check::Tolerance::for_epsilon(f32::EPSILON as f64).rtol,
        simd_level()
    );
    println!(
        "{:<20} {:<5} {:<7} {:>16} {:>7} {:>15} {:>11} {:>9}  verdict",
        "layer",
        "dtype",
        "tensor",
        "(T, N, D|V, H)",
        "checked",
        "rel/floor/inc/x",
        "max rel",
        "headroom"
    );
    let mut all_ok = true;
    for case in 0..args.cases {
        let t = 1 + rng.below(6);
        let n = 1 + rng.below(4);
        let d = 1 + rng.below(12);
        let h = 1 + rng.below(12);
        let v = 1 + rng.below(20);
        let shape = format!("({t}, {n}, {d}, {h})");
        let h0 = (case % 2 == 0).then(|| rand2::<f32>(&mut rng, n, h));
        let mut rnn = TimeRnnCheck::new(
            rand2::<f32>(&mut rng, d, h),
            rand2(&mut rng, h, h),
            Array1::from_shape_simple_fn(h, || rng.uniform() as f32 - 0.5),
            rand3(&mut rng, t, n, d),
            h0,
            rand3(&mut rng, t, n, h),
            case % 2 == 0,
        )?;
        all_ok &= both("TimeRnn", &shape, &mut rnn, |c| c.twin())?;

        let ids = Array2::from_shape_simple_fn((t, n), || rng.below(v.min(4)) as u32);
        let mut emb = EmbeddingCheck {
            emb: Embedding::new(rand2::<f32>(&mut rng, v, d)),
            ids,
            r: rand3(&mut rng, t, n, d),
        };
        all_ok &= both(
            "Embedding",
            &format!("({t}, {n}, {v}, {d})"),
            &mut emb,
            |c| Ok(c.twin()),
        )?;

        let mut fc = TimeAffineCheck {
            fc: TimeAffine::new(
                rand2::<f32>(&mut rng, h, v),
                Array1::from_shape_simple_fn(v, || rng.uniform() as f32),
            )?,
            xs: rand3(&mut rng, t, n, h),
            r: rand3(&mut rng, t, n, v),
        };
        all_ok &= both(
            "TimeAffine",
            &format!("({t}, {n}, {v}, {h})"),
            &mut fc,
            |c| c.twin(),
        )?;

        let mut sm = SoftmaxCheck::new(
            rand3::<f32>(&mut rng, t, n, v).mapv(|x| 3.0 * x),
            Array2::from_shape_simple_fn((t, n), || rng.below(v) as u32),
            None,
        );
        all_ok &= both(
            "SoftmaxCrossEntropy",
            &format!("({t}, {n}, {v}, -)"),
            &mut sm,
            |c| Ok(c.twin()),
        )?;
    }
    if all_ok {
        println!("all gradients agree with finite differences");
        Ok(())
    } else {
        Err(LmError::CheckFailed(
            "some gradient disagrees with finite differences (or could not be decided)".into(),
        ))
    }
}

/// The f32 check against the twin, then the twin's own f64 check; prints both.
fn both<M, W>(
    layer: &str,
    shape: &str,
    m: &mut M,
    twin: impl Fn(&M) -> Result<W, Error>,
) -> LmResult<bool>
where
    M: GradCheck<Elem = f32, Error = Error>,
    W: GradCheck<Elem = f64, Error = Error>,
{
    let opts = CheckOptions::default();
    let mut w = twin(m)?;
    let r64 = check_gradients(&mut w, &opts).map_err(lm_err)?;
    let r32 = check_with_twin(m, &mut w, &opts).map_err(lm_err)?;
    print_rows(layer, "f64", shape, &r64);
    print_rows(layer, "f32", shape, &r32);
    Ok(r64.passed() && r32.passed())
}

fn print_rows(layer: &str, dtype: &str, shape: &str, r: &GradReport) {
    for e in &r.entries {
        println!(
            "{layer:<20} {dtype:<5} {:<7} {shape:>16} {:>7} {:>15} {:>11.2e} {:>9.2}  {}",
            e.name,
            e.checked(),
            format!(
                "{}/{}/{}/{}",
                e.passed_rel, e.passed_floor, e.inconclusive, e.failed
            ),
            e.max_rel,
            e.headroom(),
            e.verdict
        );
    }
}
