//! Softmax cross-entropy over time: the loss of a language model.

use crate::util::{buffer_len, reserve, shape_err};
use ndarray::{ArrayView2, ArrayView3};
use recur_kernels::{exp_inplace, Error, Float, Result};

/// Softmax with cross-entropy loss over `(T, N)` positions.
///
/// `scores: (T, N, V)` and `targets: (T, N)` (ids `< V`). The loss is the mean over the
/// positions whose target is not the ignore label of `−log softmax(scores[t, n])[target]`,
/// computed with a numerically stable log-sum-exp. The softmax of the forward is kept, so
/// the backward (`(softmax − onehot) / count`) reuses it.
///
/// ```
/// use recur_layers::{SoftmaxCrossEntropy, ndarray::array};
/// let mut loss = SoftmaxCrossEntropy::<f64>::new();
/// let scores = array![[[0.0, 0.0]]];         // (T, N, V) = (1, 1, 2)
/// let l = loss.forward(scores.view(), array![[1u32]].view())?;
/// assert!((l - 2f64.ln()).abs() < 1e-15);
/// let d = loss.backward(1.0)?;
/// assert_eq!(d.to_owned(), array![[[0.5, -0.5]]]);
/// # Ok::<(), recur_layers::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct SoftmaxCrossEntropy<T> {
    ignore_label: Option<u32>,
    /// The ignore label of the last forward: the backward belongs to that forward, even
    /// if [`SoftmaxCrossEntropy::with_ignore_label`] changed the label in between.
    forward_ignore_label: Option<u32>,
    /// Softmax of the last forward, `(T, N, V)`.
    probs: Vec<T>,
    /// Gradient of the last backward, `(T, N, V)`.
    grad: Vec<T>,
    targets: Vec<u32>,
    shape: Option<(usize, usize, usize)>,
    count: usize,
}

impl<T: Float> SoftmaxCrossEntropy<T> {
    /// A loss with no ignore label.
    pub fn new() -> Self {
        SoftmaxCrossEntropy {
            ignore_label: None,
            forward_ignore_label: None,
            probs: Vec::new(),
            grad: Vec::new(),
            targets: Vec::new(),
            shape: None,
            count: 0,
        }
    }

    /// Positions whose target equals `label` do not count in the loss and get a zero
    /// gradient (the book uses `-1`; here any `u32`, e.g. `u32::MAX`). The label applies
    /// from the next forward on: a backward after it still uses the label of its forward.
    ///
    /// ```
    /// use recur_layers::{SoftmaxCrossEntropy, ndarray::array};
    /// let mut loss = SoftmaxCrossEntropy::<f32>::new().with_ignore_label(Some(7));
    /// loss.forward(array![[[0.0, 0.0]]].view(), array![[7u32]].view())?; // (T, N, V) = (1, 1, 2)
    /// let mut loss = loss.with_ignore_label(None);
    /// assert_eq!(loss.backward(1.0)?.to_owned(), array![[[0.0, 0.0]]]); // 7 was ignored
    /// # Ok::<(), recur_layers::Error>(())
    /// ```
    #[must_use]
    pub fn with_ignore_label(mut self, label: Option<u32>) -> Self {
        self.ignore_label = label;
        self
    }

    /// The number of positions that counted in the last forward.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The softmax of the last forward, `(T, N, V)`.
    pub fn probs(&self) -> Option<ArrayView3<'_, T>> {
        let shape = self.shape?;
        ArrayView3::from_shape(shape, &self.probs[..]).ok()
    }

    /// The mean loss over the counted positions (0 when none count). Scores may be any
    /// memory order; NaN in the scores gives a NaN loss.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] naming `targets` if it is not `(T, N)` of `scores`;
    /// [`Error::IndexOutOfRange`] naming `targets` for a target `>= V` (other than the
    /// ignore label); [`Error::SizeOverflow`] naming `scores` if `(T, N, V)` elements do
    /// not fit in one allocation. The layer is unchanged.
    pub fn forward(
        &mut self,
        scores: ArrayView3<'_, T>,
        targets: ArrayView2<'_, u32>,
    ) -> Result<T> {
        let op = "SoftmaxCrossEntropy::forward";
        let (t_len, n, v) = scores.dim();
        if targets.dim() != (t_len, n) {
            let (a, b) = targets.dim();
            return Err(shape_err(
                op,
                "targets",
                format!("(T, N) = ({t_len}, {n}) of scores"),
                &[a, b],
            ));
        }
        // Sizes first: a broadcast view can have more elements than any buffer (and than
        // a scan of its targets could finish).
        if buffer_len::<T>(t_len.checked_mul(n).and_then(|tn| tn.checked_mul(v))).is_none()
            || buffer_len::<u32>(t_len.checked_mul(n)).is_none()
        {
            return Err(Error::SizeOverflow {
                op,
                arg: "scores",
                shape: format!("(T, N, V) = ({t_len}, {n}, {v})"),
            });
        }
        let shape = || format!("(T, N, V) = ({t_len}, {n}, {v})");
        let len = t_len * n * v; // checked above
        reserve(&mut self.probs, len, op, "scores", shape)?;
        reserve(&mut self.grad, len, op, "scores", shape)?;
        reserve(&mut self.targets, t_len * n, op, "scores", shape)?;
        let ignore = self.ignore_label;
        if let Some(((t, i), &id)) = targets
            .indexed_iter()
            .find(|&(_, &id)| Some(id) != ignore && id as usize >= v)
        {
            return Err(Error::IndexOutOfRange {
                op,
                arg: "targets",
                position: format!("[t={t}, n={i}]"),
                index: id as usize,
                bound: v,
            });
        }
        self.targets.clear();
        self.targets.extend(targets.iter().copied());
        crate::util::copy_into(&mut self.probs, scores.view());
        let mut total = 0.0f64;
        let mut count = 0usize;
        if v > 0 {
            for (row, &target) in self.probs.chunks_exact_mut(v).zip(&self.targets) {
                // log-sum-exp around the row maximum: no overflow, no underflow to log 0.
                let max = row
                    .iter()
                    .copied()
                    .fold(-T::INFINITY, |m, x| if x > m { x } else { m });
                let max = if max.is_finite() { max } else { T::ZERO };
                let counted = Some(target) != ignore;
                let shifted_target = if counted {
                    row[target as usize] - max
                } else {
                    T::ZERO
                };
                for x in row.iter_mut() {
                    *x -= max;
                }
                exp_inplace(row);
                let sum: T = row.iter().copied().sum();
                if counted {
                    total += sum.ln().to_f64() - shifted_target.to_f64();
                    count += 1;
                }
                let inv = T::ONE / sum;
                for x in row.iter_mut() {
                    *x *= inv;
                }
            }
        }
        self.count = count;
        self.forward_ignore_label = ignore;
        self.shape = Some((t_len, n, v));
        Ok(if count == 0 {
            T::ZERO
        } else {
            T::from_f64(total / count as f64)
        })
    }

    /// The gradient of `dout · loss` with respect to the scores of the last forward,
    /// `(T, N, V)`: `dout · (softmax − onehot(target)) / count`, zero on the positions that
    /// forward ignored.
    ///
    /// # Errors
    /// [`Error::InvalidState`] before any forward.
    pub fn backward(&mut self, dout: T) -> Result<ArrayView3<'_, T>> {
        let shape = self.shape.ok_or(Error::InvalidState {
            op: "SoftmaxCrossEntropy::backward",
            reason: "backward called before forward",
        })?;
        let v = shape.2;
        let scale = if self.count == 0 {
            T::ZERO
        } else {
            dout / T::from_usize(self.count)
        };
        self.grad.resize(self.probs.len(), T::ZERO);
        if v > 0 {
            let rows = self
                .grad
                .chunks_exact_mut(v)
                .zip(self.probs.chunks_exact(v));
            for ((g, p), &target) in rows.zip(&self.targets) {
                if Some(target) == self.forward_ignore_label {
                    g.fill(T::ZERO);
                    continue;
                }
                for (gj, &pj) in g.iter_mut().zip(p) {
                    *gj = pj * scale;
                }
                g[target as usize] = (p[target as usize] - T::ONE) * scale;
            }
        }
        Ok(ArrayView3::from_shape(shape, &self.grad[..]).expect("buffer sized (T, N, V)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array3};

    #[test]
    fn stable_for_large_scores_and_ignores_label() {
        let mut l = SoftmaxCrossEntropy::<f32>::new().with_ignore_label(Some(u32::MAX));
        let scores = array![[[1000.0f32, 0.0], [0.0, -1000.0]]]; // (1, 2, 2)
        let loss = l
            .forward(scores.view(), array![[1u32, u32::MAX]].view())
            .unwrap();
        assert_eq!(loss, 1000.0);
        assert_eq!(l.count(), 1);
        let g = l.backward(1.0).unwrap().to_owned();
        assert_eq!(g, array![[[1.0, -1.0], [0.0, 0.0]]]);
        let err = l
            .forward(scores.view(), array![[2u32, 0]].view())
            .unwrap_err();
        assert!(err.to_string().contains("`targets`"), "{err}");
        let err = l.forward(scores.view(), array![[0u32]].view()).unwrap_err();
        assert!(err.to_string().contains("(1, 1)"), "{err}");
        assert!(
            l.forward(
                Array3::zeros((0, 3, 4)).view(),
                ndarray::Array2::zeros((0, 3)).view()
            )
            .unwrap()
                == 0.0
        );
    }
}
