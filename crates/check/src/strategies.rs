//! proptest strategies: small shapes (so finite differences stay fast), values in
//! `[−1, 1]` (so they stay well conditioned), and token ids.

use crate::ndarray::{Array1, Array2, Array3};
use proptest::prelude::*;

/// Values in `[−1, 1]`.
pub fn unit() -> impl Strategy<Value = f64> {
    -1.0f64..=1.0
}

/// A `(rows, cols)` array of values in `[−1, 1]`.
pub fn array2(rows: usize, cols: usize) -> impl Strategy<Value = Array2<f64>> {
    proptest::collection::vec(unit(), rows * cols)
        .prop_map(move |v| Array2::from_shape_vec((rows, cols), v).expect("rows * cols values"))
}

/// A `(len)` array of values in `[−1, 1]`.
pub fn array1(len: usize) -> impl Strategy<Value = Array1<f64>> {
    proptest::collection::vec(unit(), len).prop_map(Array1::from_vec)
}

/// A `(a, b, c)` array of values in `[−1, 1]`.
pub fn array3(a: usize, b: usize, c: usize) -> impl Strategy<Value = Array3<f64>> {
    proptest::collection::vec(unit(), a * b * c)
        .prop_map(move |v| Array3::from_shape_vec((a, b, c), v).expect("a * b * c values"))
}

/// Dimensions of a TimeRnn case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RnnDims {
    /// Time steps.
    pub t: usize,
    /// Batch.
    pub n: usize,
    /// Input width.
    pub d: usize,
    /// Hidden width.
    pub h: usize,
}

/// `T` in 1..=6, `N` in 1..=4, `D` and `H` in 1..=12 (1 is drawn often).
pub fn rnn_dims() -> impl Strategy<Value = RnnDims> {
    let small = |max: usize| prop_oneof![1 => Just(1usize), 4 => 1..=max];
    (small(6), small(4), small(12), small(12)).prop_map(|(t, n, d, h)| RnnDims { t, n, d, h })
}

/// Everything a TimeRnn gradient check needs.
#[derive(Clone, Debug)]
pub struct TimeRnnCase {
    /// Its dimensions.
    pub dims: RnnDims,
    /// `(D, H)`.
    pub wx: Array2<f64>,
    /// `(H, H)`.
    pub wh: Array2<f64>,
    /// `(H)`.
    pub b: Array1<f64>,
    /// `(T, N, D)`.
    pub xs: Array3<f64>,
    /// `(N, H)`, present in about half of the cases.
    pub h0: Option<Array2<f64>>,
    /// Loss weights `(T, N, H)`.
    pub r: Array3<f64>,
}

/// A random [`TimeRnnCase`] with [`rnn_dims`].
pub fn time_rnn_case() -> impl Strategy<Value = TimeRnnCase> {
    rnn_dims().prop_flat_map(|dims| {
        let RnnDims { t, n, d, h } = dims;
        (
            array2(d, h),
            array2(h, h),
            array1(h),
            array3(t, n, d),
            proptest::option::of(array2(n, h)),
            array3(t, n, h),
        )
            .prop_map(move |(wx, wh, b, xs, h0, r)| TimeRnnCase {
                dims,
                wx,
                wh,
                b,
                xs,
                h0,
                r,
            })
    })
}

/// Everything an Embedding gradient check needs.
#[derive(Clone, Debug)]
pub struct EmbeddingCase {
    /// `(V, D)`.
    pub w: Array2<f64>,
    /// `(T, N)`, all `< V`.
    pub ids: Array2<u32>,
    /// Loss weights `(T, N, D)`.
    pub r: Array3<f64>,
}

/// `V` in 1..=20, `D` in 1..=12, `(T, N)` as [`rnn_dims`]; ids are drawn from the first
/// few rows of the table so that repeated ids (which must accumulate) are common.
pub fn embedding_case() -> impl Strategy<Value = EmbeddingCase> {
    (1usize..=20, 1usize..=12, rnn_dims()).prop_flat_map(|(v, d, dims)| {
        let (t, n) = (dims.t, dims.n);
        let id_max = v.min(4) as u32;
        (
            array2(v, d),
            proptest::collection::vec(0..id_max, t * n),
            array3(t, n, d),
        )
            .prop_map(move |(w, ids, r)| EmbeddingCase {
                w,
                ids: Array2::from_shape_vec((t, n), ids).expect("t * n ids"),
                r,
            })
    })
}
