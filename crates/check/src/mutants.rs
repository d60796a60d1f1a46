//! Negative controls: gradients with a known defect, wrapped around any [`GradCheck`].
//! A checker that passes a mutant proves nothing; [`check_mutants`] runs every
//! [`Mutant::STANDARD`] defect on every tensor and reports which were detected.

use crate::ndarray::{ArrayD, ArrayViewMutD, Axis};
use crate::{CheckError, CheckOptions, GradCheck, Loss, Verdict};
use recur_layers::Float;
use std::fmt;

/// A defect injected into one tensor's analytic gradient.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mutant {
    /// Multiplied by a factor (a missing `1/N` is `Scale(N)`).
    Scale(f64),
    /// Negated.
    SignFlip,
    /// The last two axes transposed in the layout sense: the `(r, c)` block read as the
    /// row-major buffer of its `(c, r)` transpose (for a square block, `g[i, j] = g[j, i]`).
    Transpose,
    /// The slice along the first axis with the largest gradient set to zero: one dropped
    /// time step of a `(T, N, ·)` tensor, one dropped row of a weight.
    DropStep,
    /// All zeros.
    Zero,
}

impl Mutant {
    /// The five standard defects: `Scale(2)`, `SignFlip`, `Transpose`, `DropStep`, `Zero`.
    pub const STANDARD: [Mutant; 5] = [
        Mutant::Scale(2.0),
        Mutant::SignFlip,
        Mutant::Transpose,
        Mutant::DropStep,
        Mutant::Zero,
    ];

    /// Applies the defect to `g` in place; `false` if that changed nothing (a zero
    /// gradient, a transpose of a `(1, c)` block), so there is nothing to detect.
    ///
    /// ```
    /// use recur_check::mutants::Mutant;
    /// use recur_check::ndarray::array;
    /// let mut g = array![[1.0f32, 2.0], [3.0, 4.0]].into_dyn();
    /// assert!(Mutant::Transpose.apply(&mut g));
    /// assert_eq!(g, array![[1.0f32, 3.0], [2.0, 4.0]].into_dyn());
    /// assert!(!Mutant::Zero.apply(&mut array![0.0f64].into_dyn()));
    /// ```
    pub fn apply<T: Float>(&self, g: &mut ArrayD<T>) -> bool {
        let before = g.clone();
        match *self {
            Mutant::Scale(f) => g.mapv_inplace(|x| T::from_f64(x.to_f64() * f)),
            Mutant::SignFlip => g.mapv_inplace(|x| -x),
            Mutant::Zero => g.fill(T::ZERO),
            Mutant::DropStep => {
                if g.ndim() > 0 && !g.is_empty() {
                    let mut best = (0, -1.0);
                    for (k, s) in g.axis_iter(Axis(0)).enumerate() {
                        let w = s.iter().map(|x| x.to_f64().abs()).sum::<f64>();
                        if w > best.1 {
                            best = (k, w);
                        }
                    }
                    g.index_axis_mut(Axis(0), best.0).fill(T::ZERO);
                }
            }
            Mutant::Transpose => {
                let (r, c) = match g.shape() {
                    [.., r, c] => (*r, *c),
                    _ => (0, 0),
                };
                if r * c > 0 {
                    if g.as_slice().is_none() {
                        *g = g.as_standard_layout().into_owned();
                    }
                    let flat: Vec<T> = g.iter().copied().collect();
                    let out = g
                        .as_slice_mut()
                        .into_iter()
                        .flat_map(|s| s.chunks_mut(r * c));
                    for (blk, out) in flat.chunks(r * c).zip(out) {
                        for i in 0..r {
                            for j in 0..c {
                                out[i * c + j] = blk[j * r + i];
                            }
                        }
                    }
                }
            }
        }
        g.iter().zip(before.iter()).any(|(a, b)| a != b)
    }
}

impl fmt::Display for Mutant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mutant::Scale(s) => write!(f, "scale x{s}"),
            Mutant::SignFlip => f.write_str("sign flip"),
            Mutant::Transpose => f.write_str("transpose"),
            Mutant::DropStep => f.write_str("dropped step"),
            Mutant::Zero => f.write_str("zeroed"),
        }
    }
}

/// A model whose gradient of tensor `tensor` carries `mutant`.
#[derive(Debug)]
pub struct Mutated<M> {
    /// The model.
    pub inner: M,
    /// The defect.
    pub mutant: Mutant,
    /// The tensor it is applied to.
    pub tensor: usize,
    /// Whether the last `gradients` call changed anything.
    pub applied: bool,
}

impl<M> Mutated<M> {
    /// `inner` with `mutant` on tensor `tensor`.
    pub fn new(inner: M, mutant: Mutant, tensor: usize) -> Self {
        Mutated {
            inner,
            mutant,
            tensor,
            applied: false,
        }
    }
}

impl<M: GradCheck> GradCheck for Mutated<M> {
    type Elem = M::Elem;
    type Error = M::Error;
    fn tensor_names(&self) -> Vec<String> {
        self.inner.tensor_names()
    }
    fn tensor_mut(&mut self, i: usize) -> Option<ArrayViewMutD<'_, M::Elem>> {
        self.inner.tensor_mut(i)
    }
    fn loss(&mut self) -> Result<Loss, M::Error> {
        self.inner.loss()
    }
    fn gradients(&mut self) -> Result<Vec<ArrayD<M::Elem>>, M::Error> {
        let mut g = self.inner.gradients()?;
        self.applied = match g.get_mut(self.tensor) {
            Some(t) => self.mutant.apply(t),
            None => false,
        };
        Ok(g)
    }
}

/// What became of one mutant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MutantOutcome {
    /// The check failed: detected.
    Detected,
    /// The check passed or was inconclusive: the mutant escaped.
    Escaped,
    /// The defect changes nothing on this gradient.
    NotApplicable,
}

/// One mutant's result.
#[derive(Clone, Debug)]
pub struct MutantResult {
    /// The tensor it was applied to.
    pub tensor: String,
    /// The defect.
    pub mutant: Mutant,
    /// What became of it.
    pub outcome: MutantOutcome,
}

/// Every mutant's result.
#[derive(Clone, Debug, Default)]
pub struct MutationReport {
    /// One per (tensor, mutant).
    pub results: Vec<MutantResult>,
}

impl MutationReport {
    /// Whether no applicable mutant escaped.
    pub fn all_detected(&self) -> bool {
        self.count(MutantOutcome::Escaped) == 0
    }
    /// How many results have `outcome`.
    pub fn count(&self, outcome: MutantOutcome) -> usize {
        self.results.iter().filter(|r| r.outcome == outcome).count()
    }
}

impl fmt::Display for MutationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in &self.results {
            writeln!(
                f,
                "{:<10} {:<14} {:?}",
                r.tensor,
                r.mutant.to_string(),
                r.outcome
            )?;
        }
        Ok(())
    }
}

/// Runs every mutant of `mutants` on every tensor of `model` through `check` (e.g.
/// `|m| check_gradients(m, &opts)`), and reports which were detected.
///
/// ```
/// use recur_check::mutants::{run_mutants, Mutant};
/// use recur_check::ndarray::{Array1, Array2};
/// use recur_check::{check_gradients, CheckOptions, EmbeddingCheck};
/// use recur_layers::Embedding;
/// let w = Array2::from_shape_fn((4, 3), |(v, d)| (v * 3 + d) as f64 / 10.0);
/// let r = recur_check::ndarray::Array3::from_shape_fn((2, 2, 3), |(t, n, d)| (t + n + d) as f64 - 1.5);
/// let mut check = EmbeddingCheck { emb: Embedding::new(w), ids: recur_check::ndarray::array![[0, 1], [1, 3]], r };
/// let report = run_mutants(&mut check, &Mutant::STANDARD, |m| check_gradients(m, &CheckOptions::default()))?;
/// assert!(report.all_detected(), "{report}");
/// # Ok::<(), recur_check::CheckError<recur_check::Error>>(())
/// ```
///
/// # Errors
/// The first error `check` returns.
pub fn run_mutants<M, C>(
    model: &mut M,
    mutants: &[Mutant],
    mut check: C,
) -> Result<MutationReport, CheckError<M::Error>>
where
    M: GradCheck,
    C: FnMut(&mut Mutated<&mut M>) -> Result<crate::GradReport, CheckError<M::Error>>,
{
    let names = model.tensor_names();
    let mut results = Vec::new();
    for (i, name) in names.iter().enumerate() {
        for &mutant in mutants {
            let mut m = Mutated::new(&mut *model, mutant, i);
            let report = check(&mut m)?;
            let outcome = if !m.applied {
                MutantOutcome::NotApplicable
            } else if report.verdict() == Verdict::Fail {
                MutantOutcome::Detected
            } else {
                MutantOutcome::Escaped
            };
            results.push(MutantResult {
                tensor: name.clone(),
                mutant,
                outcome,
            });
        }
    }
    Ok(MutationReport { results })
}

/// [`run_mutants`] with [`check_gradients`](crate::check_gradients) and `opts`.
///
/// # Errors
/// Those of [`check_gradients`](crate::check_gradients).
pub fn check_mutants<M: GradCheck>(
    model: &mut M,
    opts: &CheckOptions,
) -> Result<MutationReport, CheckError<M::Error>> {
    run_mutants(model, &Mutant::STANDARD, |m| {
        crate::check_gradients(m, opts)
    })
}
