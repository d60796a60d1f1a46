//! The fast mode: `⟨∇L, u⟩` against the directional finite difference of the loss along
//! random directions `u` over all tensors at once: `2·levels` loss evaluations per
//! direction, whatever the number of elements. On a failure, the direction is restricted
//! to each tensor, then bisected within the failing one down to a slice of a few elements.
//!
//! Each level perturbs every element by `s·u_i` and uses the realized displacements
//! `δ_i = (x_i + s·u_i) − x_i` for the analytic prediction `Σ g_i·δ_i`, so the tableau
//! runs on the discrepancy between the loss difference and its prediction.

use crate::check::{analytic, sync_twin, tensor, validate};
use crate::fd::{tableau, Level};
use crate::ndarray::ArrayD;
use crate::report::{unravel, Outcome, Verdict};
use crate::sampling::SplitMix;
use crate::{CheckError, FdOptions, GradCheck, Loss, Tolerance};
use recur_layers::Float;
use std::fmt;

/// Settings of [`check_directions`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FastOptions {
    /// Random directions (entries uniform in `[−1, 1)`, so an error vector `e` is missed
    /// only where `⟨e, u⟩` is near zero for every direction).
    pub directions: usize,
    /// Seed of the directions.
    pub seed: u64,
    /// Finite differences; `None`: [`FdOptions::for_epsilon`] of the FD model's type.
    pub fd: Option<FdOptions>,
    /// Tolerance; `None`: [`Tolerance::for_epsilon`] of the analytic gradient's type.
    pub tol: Option<Tolerance>,
    /// Bisect a failing direction down to the tensor and slice.
    pub locate: bool,
    /// Stop bisecting at slices of at most this many elements.
    pub min_slice: usize,
}

impl Default for FastOptions {
    /// Two directions, seed 1, bisection down to 8 elements.
    fn default() -> Self {
        FastOptions {
            directions: 2,
            seed: 1,
            fd: None,
            tol: None,
            locate: true,
            min_slice: 8,
        }
    }
}

/// One directional comparison.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DirectionCheck {
    /// `⟨∇L, u⟩`.
    pub analytic: f64,
    /// The finite-difference directional derivative.
    pub numeric: f64,
    /// The floor it was judged with.
    pub floor: f64,
    /// The deciding ratio.
    pub ratio: f64,
    /// The judgement.
    pub outcome: Outcome,
}

/// Where bisection located an error: a flat range of one tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Location {
    /// The tensor.
    pub tensor: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// The flat range `start..end`.
    pub start: usize,
    /// End of the range (exclusive).
    pub end: usize,
    /// The multi-dimensional index of `start`.
    pub first: Vec<usize>,
    /// The multi-dimensional index of `end − 1`.
    pub last: Vec<usize>,
    /// The direction restricted to that range.
    pub check: DirectionCheck,
}

/// The result of [`check_directions`].
#[derive(Clone, Debug, Default)]
pub struct FastReport {
    /// One per direction.
    pub directions: Vec<DirectionCheck>,
    /// Where the first failing direction's error is, if bisection ran and found it.
    pub location: Option<Location>,
    /// Loss evaluations used.
    pub evaluations: usize,
}

impl FastReport {
    /// The worst outcome over the directions.
    pub fn verdict(&self) -> Verdict {
        let v = |o: Outcome| match o {
            Outcome::PassRel | Outcome::PassFloor => Verdict::Pass,
            Outcome::Inconclusive => Verdict::Inconclusive,
            Outcome::Fail => Verdict::Fail,
        };
        self.directions
            .iter()
            .map(|d| v(d.outcome))
            .max()
            .unwrap_or(Verdict::Pass)
    }
    /// Whether every direction passed.
    pub fn passed(&self) -> bool {
        self.verdict() == Verdict::Pass
    }
    /// The largest deciding ratio.
    pub fn ratio(&self) -> f64 {
        self.directions.iter().map(|d| d.ratio).fold(0.0, f64::max)
    }
    /// `1 / ratio()`.
    pub fn headroom(&self) -> f64 {
        1.0 / self.ratio()
    }
}

impl fmt::Display for FastReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, d) in self.directions.iter().enumerate() {
            writeln!(
                f,
                "direction {k}: <g, u> = {:.9e}, FD = {:.9e}, floor {:.2e}, ratio {:.3}, headroom {:.2}, {:?}",
                d.analytic,
                d.numeric,
                d.floor,
                d.ratio,
                1.0 / d.ratio,
                d.outcome
            )?;
        }
        if let Some(l) = &self.location {
            writeln!(
                f,
                "located: `{}` elements {}..{} ({:?} to {:?}): <g, u> = {:.6e}, FD = {:.6e}",
                l.tensor, l.start, l.end, l.first, l.last, l.check.analytic, l.check.numeric
            )?;
        }
        write!(
            f,
            "{} loss evaluations: {}",
            self.evaluations,
            self.verdict()
        )
    }
}

/// Which elements a directional check perturbs.
#[derive(Clone, Copy, Debug)]
enum Mask {
    All,
    Range(usize, usize, usize),
}

impl Mask {
    fn covers(&self, i: usize) -> Option<(usize, usize)> {
        match *self {
            Mask::All => Some((0, usize::MAX)),
            Mask::Range(t, s, e) if t == i => Some((s, e)),
            Mask::Range(..) => None,
        }
    }
}

struct Ctx<'a, U> {
    grads: &'a [ArrayD<f64>],
    scales: Vec<f64>,
    base: Vec<ArrayD<U>>,
    fd: FdOptions,
    tol: Tolerance,
    eps_a: f64,
    evaluations: usize,
}

fn restore<F: GradCheck + ?Sized>(
    m: &mut F,
    base: &[ArrayD<F::Elem>],
) -> Result<(), CheckError<F::Error>> {
    for (i, b) in base.iter().enumerate() {
        tensor(m, i, base.len())?.assign(b);
    }
    Ok(())
}

fn directional<F: GradCheck + ?Sized>(
    m: &mut F,
    ctx: &mut Ctx<'_, F::Elem>,
    u: &[Vec<f64>],
    mask: Mask,
) -> Result<DirectionCheck, CheckError<F::Error>> {
    let eps_l = F::Elem::EPSILON.to_f64();
    let count = ctx.base.len();
    let (mut a_nominal, mut a_noise2) = (0.0, 0.0);
    for (i, (g, ui)) in ctx.grads.iter().zip(u).enumerate() {
        if let Some((s, e)) = mask.covers(i) {
            for (j, (&gj, &uj)) in g.iter().zip(ui).enumerate() {
                if (s..e).contains(&j) {
                    a_nominal += gj * uj;
                    a_noise2 += (ctx.scales[i] * uj).powi(2);
                }
            }
        }
    }
    let mut levels = Vec::with_capacity(ctx.fd.levels);
    for k in 0..ctx.fd.levels {
        let h = ctx.fd.step / 2f64.powi(k as i32);
        let eval = |m: &mut F, s: f64| -> Result<(Loss, f64), CheckError<F::Error>> {
            let mut pred = 0.0;
            for (i, ui) in u.iter().enumerate().take(count) {
                let Some((lo, hi)) = mask.covers(i) else {
                    continue;
                };
                let mut t = tensor(m, i, count)?;
                let it = t
                    .iter_mut()
                    .zip(ctx.base[i].iter())
                    .zip(ctx.grads[i].iter());
                for (j, ((x, &b), &g)) in it.enumerate() {
                    if (lo..hi).contains(&j) {
                        let xn = b + F::Elem::from_f64(s * ui[j]);
                        *x = xn;
                        pred += g * (xn.to_f64() - b.to_f64());
                    }
                }
            }
            let l = m.loss().map_err(CheckError::Model)?;
            Ok((l, pred))
        };
        let r = eval(m, h).and_then(|p| eval(m, -h).map(|q| (p, q)));
        ctx.evaluations += 2;
        let ((lp, pp), (lm, pm)) = match r {
            Ok(v) => v,
            Err(e) => {
                restore(m, &ctx.base)?;
                return Err(e);
            }
        };
        levels.push(Level {
            diff: lp.value - lm.value,
            predicted: pp - pm,
            step: 2.0 * h,
            noise: 2.0 * eps_l * lp.scale.max(lm.scale),
        });
    }
    restore(m, &ctx.base)?;
    let est = tableau(&levels);
    let numeric = a_nominal + est.value;
    let floor = ctx.tol.safety * est.error()
        + ctx.tol.analytic_ulps * ctx.eps_a * a_noise2.sqrt()
        + ctx.tol.atol;
    let g = a_nominal.abs().max(numeric.abs());
    let (outcome, ratio, _) = ctx.tol.judge(a_nominal, numeric, floor, g);
    Ok(DirectionCheck {
        analytic: a_nominal,
        numeric,
        floor,
        ratio,
        outcome,
    })
}

fn run<F: GradCheck + ?Sized>(
    names: &[String],
    shapes: &[Vec<usize>],
    grads: &[ArrayD<f64>],
    m: &mut F,
    eps_a: f64,
    opts: &FastOptions,
) -> Result<FastReport, CheckError<F::Error>> {
    let fd = opts
        .fd
        .unwrap_or_else(|| FdOptions::for_epsilon(F::Elem::EPSILON.to_f64()));
    let tol = opts.tol.unwrap_or_else(|| Tolerance::for_epsilon(eps_a));
    validate(&fd, &tol)?;
    let mut base = Vec::with_capacity(names.len());
    for i in 0..names.len() {
        base.push(tensor(m, i, names.len())?.to_owned());
    }
    let scales = grads
        .iter()
        .map(|g| g.iter().fold(0.0f64, |a, x| a.max(x.abs())))
        .collect();
    let mut ctx = Ctx {
        grads,
        scales,
        base,
        fd,
        tol,
        eps_a,
        evaluations: 0,
    };
    let mut report = FastReport::default();
    let mut failing: Option<Vec<Vec<f64>>> = None;
    for d in 0..opts.directions {
        let mut rng = SplitMix::new(opts.seed, d);
        let u: Vec<Vec<f64>> = grads
            .iter()
            .map(|g| (0..g.len()).map(|_| rng.symmetric()).collect())
            .collect();
        let c = directional(m, &mut ctx, &u, Mask::All)?;
        if c.outcome == Outcome::Fail && failing.is_none() {
            failing = Some(u);
        }
        report.directions.push(c);
    }
    if let (true, Some(u)) = (opts.locate, failing) {
        let mut best: Option<(usize, DirectionCheck)> = None;
        for (i, g) in grads.iter().enumerate() {
            let c = directional(m, &mut ctx, &u, Mask::Range(i, 0, g.len()))?;
            if c.outcome == Outcome::Fail && best.is_none_or(|(_, b)| c.ratio > b.ratio) {
                best = Some((i, c));
            }
        }
        if let Some((i, mut check)) = best {
            let (mut s, mut e) = (0, grads[i].len());
            while e - s > opts.min_slice.max(1) {
                let mid = s + (e - s) / 2;
                let lo = directional(m, &mut ctx, &u, Mask::Range(i, s, mid))?;
                let hi = directional(m, &mut ctx, &u, Mask::Range(i, mid, e))?;
                let pick = [(lo, s, mid), (hi, mid, e)]
                    .into_iter()
                    .filter(|(c, ..)| c.outcome == Outcome::Fail)
                    .max_by(|a, b| a.0.ratio.total_cmp(&b.0.ratio));
                match pick {
                    Some((c, a, b)) => {
                        check = c;
                        s = a;
                        e = b;
                    }
                    None => break,
                }
            }
            report.location = Some(Location {
                tensor: names[i].clone(),
                shape: shapes[i].clone(),
                start: s,
                end: e,
                first: unravel(s, &shapes[i]),
                last: unravel(e.saturating_sub(1), &shapes[i]),
                check,
            });
        }
    }
    report.evaluations = ctx.evaluations;
    Ok(report)
}

/// The fast check of `model` in its own precision (see the module docs). Every tensor is
/// left bit for bit as it was.
///
/// ```
/// use recur_check::ndarray::{Array1, Array2, Array3};
/// use recur_check::{check_directions, FastOptions, TimeRnnCheck};
/// let f = |i: usize| ((i * 37 % 17) as f64 / 8.0 - 1.0) * 0.5;
/// let mut rnn = TimeRnnCheck::new(
///     Array2::from_shape_fn((3, 4), |(a, b)| f(a * 4 + b)),
///     Array2::from_shape_fn((4, 4), |(a, b)| f(20 + a * 4 + b)),
///     Array1::from_shape_fn(4, |a| f(40 + a)),
///     Array3::from_shape_fn((5, 2, 3), |(a, b, c)| f(60 + a * 6 + b * 3 + c)),
///     None,
///     Array3::from_shape_fn((5, 2, 4), |(a, b, c)| f(90 + a * 8 + b * 4 + c)),
///     false,
/// )?;
/// let report = check_directions(&mut rnn, &FastOptions::default())?;
/// assert!(report.passed(), "{report}");
/// assert_eq!(report.evaluations, 8); // 2 directions x 2 levels x 2 signs
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// Those of [`check_gradients`](crate::check_gradients).
pub fn check_directions<M: GradCheck + ?Sized>(
    model: &mut M,
    opts: &FastOptions,
) -> Result<FastReport, CheckError<M::Error>> {
    let (names, shapes, grads) = analytic(model)?;
    let eps = M::Elem::EPSILON.to_f64();
    run(&names, &shapes, &grads, model, eps, opts)
}

/// The fast check of `model`'s analytic gradients against directional differences of its
/// `f64` twin (see [`check_with_twin`](crate::check_with_twin)).
///
/// # Errors
/// Those of [`check_with_twin`](crate::check_with_twin).
pub fn check_directions_with_twin<M, W>(
    model: &mut M,
    twin: &mut W,
    opts: &FastOptions,
) -> Result<FastReport, CheckError<M::Error>>
where
    M: GradCheck + ?Sized,
    W: GradCheck<Elem = f64, Error = M::Error> + ?Sized,
{
    sync_twin(model, twin)?;
    let (names, shapes, grads) = analytic(model)?;
    let eps = M::Elem::EPSILON.to_f64();
    run(&names, &shapes, &grads, twin, eps, opts)
}
