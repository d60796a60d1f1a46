//! Helpers shared by the fuzz targets: their tensor entries ([`entry`]) and dimension and
//! stride values that reach the edges of `usize` ([`Dim`]). The generator and the ulp
//! distances are recur-testkit's, shared with the tests.

use arbitrary::Arbitrary;
use recur::kernels::Float;
use recur::layers::ndarray::{s, Array3, ArrayView3};
use recur_testkit::Rng;

/// A tensor entry for the targets: uniform in `[-1, 3)`, from `rng`.
///
/// The targets fill their tensors from a fuzzed seed through [`recur_testkit::Rng`], so
/// the fuzzer controls the structure (shapes, strides, call order) with few bytes and the
/// values stay well conditioned. `[-1, 3)` is the range their former local `Rng::unit`
/// produced (`v / 2⁵² · 2 − 1` for a 53-bit `v`; its documentation said `[-1, 1)`): kept,
/// bit for bit, so that the committed seeds reach the same values.
pub fn entry(rng: &mut Rng) -> f64 {
    rng.uniform_f64(-1.0, 3.0)
}

/// A `usize` that is small most of the time but can be anything, in particular a value
/// near a power of two or `usize::MAX`, so that products and sums of dimensions and
/// strides overflow.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum Dim {
    Small(u8),
    Tiny(bool),
    Pow2 { shift: u8, delta: i8 },
    NearMax(u8),
    Any(usize),
}

impl Dim {
    pub fn get(self) -> usize {
        match self {
            Dim::Small(v) => v as usize % 20,
            Dim::Tiny(b) => b as usize,
            Dim::Pow2 { shift, delta } => {
                (1usize << (shift % usize::BITS as u8)).wrapping_add(delta as isize as usize)
            }
            Dim::NearMax(d) => usize::MAX - d as usize,
            Dim::Any(v) => v,
        }
    }
}

/// A memory layout of a `(T, N, C)` input for the layer targets: [`Layout3::storage`]
/// makes the array that holds it, [`Layout3::view`] reads it back as `(T, N, C)`.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum Layout3 {
    Standard,
    /// A `(N, T, C)` array viewed as `(T, N, C)`.
    Permuted,
    /// Read through a negative stride along T.
    Reversed,
    /// Every other element of a `(T, N, 2C)` array (stride 2 along C).
    Strided,
    /// One `(1, N, C)` step broadcast over T (stride 0).
    Broadcast,
}

impl Layout3 {
    /// The array behind a `(T, N, C)` view in this layout, its elements from `val`.
    pub fn storage<T>(self, (t, n, c): (usize, usize, usize), val: impl FnMut() -> T) -> Array3<T> {
        let shape = match self {
            Layout3::Standard | Layout3::Reversed => (t, n, c),
            Layout3::Permuted => (n, t, c),
            Layout3::Strided => (t, n, 2 * c),
            Layout3::Broadcast => (t.min(1), n, c),
        };
        Array3::from_shape_simple_fn(shape, val)
    }

    /// `storage` (made by [`Layout3::storage`] for `dim`) read as `(T, N, C)` = `dim`.
    pub fn view<T>(self, storage: &Array3<T>, dim: (usize, usize, usize)) -> ArrayView3<'_, T> {
        let v = match self {
            Layout3::Standard => storage.view(),
            Layout3::Permuted => storage.view().permuted_axes([1, 0, 2]),
            Layout3::Reversed => storage.slice(s![..;-1, .., ..]),
            Layout3::Strided => storage.slice(s![.., .., ..;2]),
            Layout3::Broadcast => storage.broadcast(dim).expect("broadcast over T"),
        };
        assert_eq!(v.dim(), dim);
        v
    }
}

/// A value that is not finite, put into a layer's input.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum Special {
    Nan,
    Inf,
    NegInf,
}

impl Special {
    pub fn get(self) -> f64 {
        match self {
            Special::Nan => f64::NAN,
            Special::Inf => f64::INFINITY,
            Special::NegInf => f64::NEG_INFINITY,
        }
    }
}

/// Whether `got` is `want` (computed in f64) within `tol`, with IEEE
/// semantics for the non-finite: NaN wants NaN, an infinity wants the same infinity.
pub fn close(got: f64, want: f64, tol: f64) -> bool {
    if want.is_nan() {
        got.is_nan()
    } else if want.is_infinite() {
        got == want
    } else {
        got.is_finite() && (got - want).abs() <= tol
    }
}

/// The bit patterns of `x` (as f64), to compare results bit for bit (NaN equals NaN).
pub fn bits<'a, T: Float + 'a>(x: impl Iterator<Item = &'a T>) -> Vec<u64> {
    x.map(|v| v.to_f64().to_bits()).collect()
}

/// The bit patterns of `x` (as f64) with every NaN made the same, to compare results that
/// must agree bit for bit where a NaN's payload and sign may depend on the operation order.
pub fn value_bits<'a, T: Float + 'a>(x: impl Iterator<Item = &'a T>) -> Vec<u64> {
    x.map(|v| {
        let v = v.to_f64();
        if v.is_nan() {
            f64::NAN.to_bits()
        } else {
            v.to_bits()
        }
    })
    .collect()
}
