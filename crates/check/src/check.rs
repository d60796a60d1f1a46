//! The element-wise check: every (or every sampled) element of every tensor perturbed on
//! its own, against the analytic gradient, in the model's own precision or on an `f64`
//! twin.

use crate::fd::{tableau, FdOptions, Level};
use crate::ndarray::{ArrayD, ArrayViewMutD, IxDyn};
use crate::report::{unravel, Comparison, GradReport, Measured};
use crate::{CheckError, CheckOptions, GradCheck, Tolerance};
use recur_layers::Float;

/// Tensor `i` of `model`, or [`CheckError::NoTensor`].
pub(crate) fn tensor<M: GradCheck + ?Sized>(
    model: &mut M,
    i: usize,
    count: usize,
) -> Result<ArrayViewMutD<'_, M::Elem>, CheckError<M::Error>> {
    model
        .tensor_mut(i)
        .ok_or(CheckError::NoTensor { index: i, count })
}

/// Names, shapes and `f64` analytic gradients of a model's tensors.
pub(crate) type Analytic = (Vec<String>, Vec<Vec<usize>>, Vec<ArrayD<f64>>);

/// The tensors' names and shapes, and the analytic gradients in `f64`, validated.
pub(crate) fn analytic<M: GradCheck + ?Sized>(
    model: &mut M,
) -> Result<Analytic, CheckError<M::Error>> {
    let names = model.tensor_names();
    let grads = model.gradients().map_err(CheckError::Model)?;
    if grads.len() != names.len() {
        return Err(CheckError::GradientCount {
            expected: names.len(),
            got: grads.len(),
        });
    }
    let mut shapes = Vec::with_capacity(names.len());
    for (i, (name, g)) in names.iter().zip(&grads).enumerate() {
        let shape = tensor(model, i, names.len())?.shape().to_vec();
        if g.shape() != shape.as_slice() {
            return Err(CheckError::GradientShape {
                tensor: name.clone(),
                expected: shape,
                got: g.shape().to_vec(),
            });
        }
        shapes.push(shape);
    }
    let grads = grads.into_iter().map(|g| g.mapv(|x| x.to_f64())).collect();
    Ok((names, shapes, grads))
}

/// Copies every tensor of `model` into `twin` (converted to `f64`), after checking that
/// their names and shapes agree.
pub(crate) fn sync_twin<M, W>(model: &mut M, twin: &mut W) -> Result<(), CheckError<M::Error>>
where
    M: GradCheck + ?Sized,
    W: GradCheck<Elem = f64, Error = M::Error> + ?Sized,
{
    let names = model.tensor_names();
    let twin_names = twin.tensor_names();
    if names != twin_names {
        return Err(CheckError::TwinMismatch {
            tensor: "tensor names".into(),
            expected: format!("{names:?}"),
            got: format!("{twin_names:?}"),
        });
    }
    for (i, name) in names.iter().enumerate() {
        let src = tensor(model, i, names.len())?.to_owned();
        let count = names.len();
        let mut dst = twin
            .tensor_mut(i)
            .ok_or(CheckError::NoTensor { index: i, count })?;
        if dst.shape() != src.shape() {
            return Err(CheckError::TwinMismatch {
                tensor: name.clone(),
                expected: format!("{:?}", src.shape()),
                got: format!("{:?}", dst.shape()),
            });
        }
        dst.zip_mut_with(&src, |d, &s| *d = s.to_f64());
    }
    Ok(())
}

pub(crate) fn validate<E>(fd: &FdOptions, tol: &Tolerance) -> Result<(), CheckError<E>> {
    match fd.problem().or_else(|| tol.problem()) {
        Some((name, expected, got)) => Err(CheckError::InvalidOption {
            name,
            expected,
            got,
        }),
        None => Ok(()),
    }
}

/// Reads element `flat` of tensor `i`.
fn get<M: GradCheck + ?Sized>(
    m: &mut M,
    i: usize,
    count: usize,
    idx: &IxDyn,
) -> Result<M::Elem, CheckError<M::Error>> {
    let t = tensor(m, i, count)?;
    Ok(t[idx.clone()])
}

/// Writes element `idx` of tensor `i`.
fn set<M: GradCheck + ?Sized>(
    m: &mut M,
    i: usize,
    count: usize,
    idx: &IxDyn,
    v: M::Elem,
) -> Result<(), CheckError<M::Error>> {
    let mut t = tensor(m, i, count)?;
    t[idx.clone()] = v;
    Ok(())
}

/// The numeric derivative of `fd_model`'s loss with respect to element `idx` of tensor
/// `i`, and its error bound; the element is restored bit for bit, also on an error.
pub(crate) fn element_derivative<F: GradCheck + ?Sized>(
    fd_model: &mut F,
    i: usize,
    count: usize,
    idx: &IxDyn,
    fd: &FdOptions,
) -> Result<(f64, f64), CheckError<F::Error>> {
    let eps = F::Elem::EPSILON.to_f64();
    let x0 = get(fd_model, i, count, idx)?;
    let mut levels = Vec::with_capacity(fd.levels);
    let mut run = |fd_model: &mut F| -> Result<(), CheckError<F::Error>> {
        for k in 0..fd.levels {
            let h = F::Elem::from_f64(fd.step / 2f64.powi(k as i32));
            let (xp, xm) = (x0 + h, x0 - h);
            set(fd_model, i, count, idx, xp)?;
            let lp = fd_model.loss().map_err(CheckError::Model)?;
            set(fd_model, i, count, idx, xm)?;
            let lm = fd_model.loss().map_err(CheckError::Model)?;
            levels.push(Level {
                diff: lp.value - lm.value,
                predicted: 0.0,
                step: xp.to_f64() - xm.to_f64(),
                noise: 2.0 * eps * lp.scale.max(lm.scale),
            });
        }
        Ok(())
    };
    let r = run(fd_model);
    set(fd_model, i, count, idx, x0)?;
    r?;
    let est = tableau(&levels);
    Ok((est.value, est.error()))
}

/// The element-wise comparison of `grads` (computed in a type of epsilon `eps_analytic`)
/// with finite differences of `fd_model`.
pub(crate) fn compare<F: GradCheck + ?Sized>(
    names: &[String],
    shapes: &[Vec<usize>],
    grads: &[ArrayD<f64>],
    fd_model: &mut F,
    eps_analytic: f64,
    opts: &CheckOptions,
) -> Result<GradReport, CheckError<F::Error>> {
    let fd = opts.fd_for(F::Elem::EPSILON.to_f64());
    let tol = opts.tol_for(eps_analytic);
    validate(&fd, &tol)?;
    let mut entries = Vec::with_capacity(names.len());
    for (i, ((name, shape), grad)) in names.iter().zip(shapes).zip(grads).enumerate() {
        let mut measured = Vec::new();
        for j in opts.sampling.indices(grad.len(), i) {
            let idx = IxDyn(&unravel(j, shape));
            let (numeric, fd_error) = element_derivative(fd_model, i, names.len(), &idx, &fd)?;
            measured.push(Measured {
                index: j,
                analytic: grad[idx],
                numeric,
                fd_error,
            });
        }
        entries.push(Comparison::judge(
            name,
            shape,
            &measured,
            eps_analytic,
            &tol,
        ));
    }
    Ok(GradReport { entries })
}
