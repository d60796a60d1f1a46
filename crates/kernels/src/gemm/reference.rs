//! A naive GEMM that accumulates in `f64`: the oracle the optimized kernels are tested
//! against (also usable by users' tests and by the fuzz targets).

use crate::element::Float;
use crate::error::{Error, Result};
use crate::view::{MatMut, MatRef};

/// `C ← alpha·A·B + beta·C`, each dot product accumulated in `f64` and rounded once to
/// `T`. As [`crate::gemm`], C is not read when `beta == 0`.
///
/// ```
/// use recur_kernels::{reference::gemm_reference, MatMut, MatRef};
/// let a = [1.0f32, 2.0];
/// let b = [3.0f32, 4.0];
/// let mut c = [0.0f32];
/// gemm_reference(1.0, MatRef::from_slice(&a, 1, 2)?, MatRef::from_slice(&b, 2, 1)?,
///                0.0, MatMut::from_slice(&mut c, 1, 1)?)?;
/// assert_eq!(c, [11.0]);
/// # Ok::<(), recur_kernels::Error>(())
/// ```
///
/// # Errors
/// [`Error::ShapeMismatch`] naming `b` or `c` when the shapes do not chain.
pub fn gemm_reference<T: Float>(
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    mut c: MatMut<'_, T>,
) -> Result<()> {
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    if b.rows() != k {
        return Err(Error::ShapeMismatch {
            op: "gemm_reference",
            arg: "b",
            expected: format!("({k}, _)"),
            got: format!("({}, {})", b.rows(), n),
        });
    }
    if c.rows() != m || c.cols() != n {
        return Err(Error::ShapeMismatch {
            op: "gemm_reference",
            arg: "c",
            expected: format!("({m}, {n})"),
            got: format!("({}, {})", c.rows(), c.cols()),
        });
    }
    for i in 0..m {
        for j in 0..n {
            let mut acc = 0.0f64;
            for p in 0..k {
                acc += a.at(i, p).to_f64() * b.at(p, j).to_f64();
            }
            let mut v = alpha.to_f64() * acc;
            if beta != T::ZERO {
                v += beta.to_f64() * c.at_mut(i, j).to_f64();
            }
            *c.at_mut(i, j) = T::from_f64(v);
        }
    }
    Ok(())
}
