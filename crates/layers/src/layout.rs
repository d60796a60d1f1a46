//! Converters between the book's batch-major `(N, T)` / `(N, T, ·)` layout and recur's
//! time-major `(T, N)` / `(T, N, ·)` layout. Each returns a new standard-layout
//! (row-major, contiguous) array.

use ndarray::{Array2, Array3, ArrayView2, ArrayView3};

/// Token ids `(N, T)` → `(T, N)`.
///
/// ```
/// use recur_layers::{ids_to_time_major, ndarray::array};
/// let ids = array![[0u32, 1, 2], [3, 4, 5]]; // N = 2 sentences of T = 3 words
/// assert_eq!(ids_to_time_major(ids.view()), array![[0, 3], [1, 4], [2, 5]]);
/// ```
pub fn ids_to_time_major(ids: ArrayView2<'_, u32>) -> Array2<u32> {
    ids.t().as_standard_layout().into_owned()
}

/// Token ids `(T, N)` → `(N, T)`.
pub fn ids_to_batch_major(ids: ArrayView2<'_, u32>) -> Array2<u32> {
    ids.t().as_standard_layout().into_owned()
}

/// A tensor `(N, T, C)` → `(T, N, C)`.
///
/// ```
/// use recur_layers::{to_batch_major, to_time_major, ndarray::Array3};
/// let x = Array3::from_shape_fn((2, 3, 4), |(n, t, c)| (n * 100 + t * 10 + c) as f32);
/// let tm = to_time_major(x.view());
/// assert_eq!(tm.dim(), (3, 2, 4));
/// assert_eq!(tm[[2, 1, 3]], 123.0);
/// assert_eq!(to_batch_major(tm.view()), x);
/// ```
pub fn to_time_major<A: Clone>(x: ArrayView3<'_, A>) -> Array3<A> {
    x.permuted_axes([1, 0, 2]).as_standard_layout().into_owned()
}

/// A tensor `(T, N, C)` → `(N, T, C)`.
pub fn to_batch_major<A: Clone>(x: ArrayView3<'_, A>) -> Array3<A> {
    x.permuted_axes([1, 0, 2]).as_standard_layout().into_owned()
}
