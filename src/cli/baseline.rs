//! The per-step TimeRnn of the book, written with ndarray's `dot` (which calls
//! matrixmultiply) exactly as the numpy code does it: for each `t`, two GEMMs, a bias and a
//! tanh forward; for each `t` backwards, the tanh derivative and four GEMMs. It is the
//! baseline `recur bench` and the criterion bench `benches/rnn.rs` (which includes this file
//! by `#[path]`) compare the fused [`recur::layers::TimeRnn`] with.

use recur::layers::ndarray::{Array1, Array2, Array3, ArrayView3, Axis};

/// Book-style TimeRnn: `wx: (D, H)`, `wh: (H, H)`, `b: (H)`; batch of `(T, N, D)`.
#[derive(Clone, Debug)]
pub struct PerStepRnn {
    /// `(D, H)`.
    pub wx: Array2<f32>,
    /// `(H, H)`.
    pub wh: Array2<f32>,
    /// `(H)`.
    pub b: Array1<f32>,
    hs: Array3<f32>,
    xs: Array3<f32>,
    /// Gradients of the last backward.
    pub grads: (Array2<f32>, Array2<f32>, Array1<f32>),
}

impl PerStepRnn {
    /// A layer with the given weights.
    pub fn new(wx: Array2<f32>, wh: Array2<f32>, b: Array1<f32>) -> Self {
        let (d, h) = wx.dim();
        PerStepRnn {
            grads: (
                Array2::zeros((d, h)),
                Array2::zeros((h, h)),
                Array1::zeros(h),
            ),
            wx,
            wh,
            b,
            hs: Array3::zeros((0, 0, 0)),
            xs: Array3::zeros((0, 0, 0)),
        }
    }

    /// `xs: (T, N, D)` → `hs: (T, N, H)`, from `h0 = 0`.
    pub fn forward(&mut self, xs: ArrayView3<'_, f32>) -> &Array3<f32> {
        let (t_len, n, _) = xs.dim();
        let h = self.wh.nrows();
        let mut hs = Array3::zeros((t_len, n, h));
        let mut prev = Array2::<f32>::zeros((n, h));
        for t in 0..t_len {
            let x = xs.index_axis(Axis(0), t);
            let next = (x.dot(&self.wx) + prev.dot(&self.wh) + &self.b).mapv(f32::tanh);
            hs.index_axis_mut(Axis(0), t).assign(&next);
            prev = next;
        }
        self.xs = xs.to_owned();
        self.hs = hs;
        &self.hs
    }

    /// `dhs: (T, N, H)` → `dxs: (T, N, D)`; accumulates the gradients over the steps.
    pub fn backward(&mut self, dhs: ArrayView3<'_, f32>) -> Array3<f32> {
        let (t_len, n, h) = dhs.dim();
        let d = self.wx.nrows();
        let mut dxs = Array3::zeros((t_len, n, d));
        let (mut gwx, mut gwh, mut gb) = (
            Array2::zeros((d, h)),
            Array2::zeros((h, h)),
            Array1::zeros(h),
        );
        let mut dh = Array2::<f32>::zeros((n, h));
        for t in (0..t_len).rev() {
            let ht = self.hs.index_axis(Axis(0), t);
            let dt = (&dhs.index_axis(Axis(0), t) + &dh) * ht.mapv(|y| 1.0 - y * y);
            // index_axis, not `s![t - 1, .., ..]`: the macro's expansion allows unsafe code,
            // which the command forbids.
            let prev = if t > 0 {
                self.hs.index_axis(Axis(0), t - 1).to_owned()
            } else {
                Array2::zeros((n, h))
            };
            gb += &dt.sum_axis(Axis(0));
            gwh += &prev.t().dot(&dt);
            gwx += &self.xs.index_axis(Axis(0), t).t().dot(&dt);
            dxs.index_axis_mut(Axis(0), t).assign(&dt.dot(&self.wx.t()));
            dh = dt.dot(&self.wh.t());
        }
        self.grads = (gwx, gwh, gb);
        dxs
    }
}
