//! The element types recur computes in: [`Float`], implemented for `f32` and `f64`.
//!
//! The bottom of the crate: arithmetic and constants only. No operation and no SIMD tier
//! is named here; an operation reaches its per-type entry points through [`Family`].

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

/// A floating-point element type: `f32` or `f64`.
///
/// The trait is sealed; every kernel and layer in recur is generic over it.
///
/// ```
/// use recur_kernels::Float;
/// fn norm2<T: Float>(x: &[T]) -> T {
///     x.iter().fold(T::ZERO, |acc, &v| v.mul_add(v, acc)).sqrt()
/// }
/// assert_eq!(norm2(&[3.0f32, 4.0]), 5.0);
/// ```
pub trait Float:
    Copy
    + Send
    + Sync
    + Default
    + Debug
    + Display
    + PartialEq
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Sum
    + 'static
    + private::Sealed
{
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// Machine epsilon (the distance from 1 to the next larger value).
    const EPSILON: Self;
    /// Positive infinity.
    const INFINITY: Self;
    /// A quiet NaN.
    const NAN: Self;
    /// `"f32"` or `"f64"`.
    const NAME: &'static str;

    /// Converts from `f64`, rounding to nearest.
    fn from_f64(x: f64) -> Self;
    /// Converts to `f64` (exact).
    fn to_f64(self) -> f64;
    /// Converts from `usize`, rounding to nearest.
    fn from_usize(x: usize) -> Self;
    /// `self * a + b` with one rounding.
    fn mul_add(self, a: Self, b: Self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// Natural exponential.
    fn exp(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// Hyperbolic tangent, scalar: for `f32` the libm `f64` evaluation rounded once to `f32`
    /// (within 1 ulp), for `f64` the platform libm `tanh`. This is the independent reference
    /// the slice kernel `recur_kernels::tanh` is tested against, not the same algorithm (and not
    /// always the same bits); both are within 1 ulp for `f32`.
    fn tanh(self) -> Self;
    /// `true` for neither NaN nor infinite.
    fn is_finite(self) -> bool;
    /// `true` for NaN.
    fn is_nan(self) -> bool;
    /// The larger of two values (NaN-ignoring, as `f32::max`).
    fn max(self, other: Self) -> Self;
    /// The smaller of two values (NaN-ignoring, as `f32::min`).
    fn min(self, other: Self) -> Self;
}

pub(crate) use private::{Family, Typed};

// Items public inside a private module: nameable in this crate only, and usable in the
// signature of the seal's methods.
pub(crate) mod private {
    use super::Float;

    /// A family of types indexed by the element type, such as an operation's argument struct
    /// `Op<'a, T>` for `T = f32` and `T = f64`. [`Float`]'s seal sorts a `F::Of<T>` into
    /// [`Typed`], which is how a public generic function reaches the operation's entry points
    /// compiled once per element type inside recur-kernels (so a downstream crate that calls
    /// `gemm::<f32>` links to the compiled GEMM instead of instantiating every tier,
    /// micro-kernel and epilogue again).
    pub trait Family {
        /// The member for element type `T`.
        type Of<T: Float>;
    }

    /// A member of a [`Family`], sorted by its element type.
    pub enum Typed<F: Family> {
        /// The `f32` member.
        F32(F::Of<f32>),
        /// The `f64` member.
        F64(F::Of<f64>),
    }

    /// The seal of [`Float`]: users cannot name this trait, so `Float` is implemented for
    /// `f32` and `f64` only, and its method is not part of the public API.
    pub trait Sealed: Sized {
        /// Sorts a value of a type family by its element type: `Typed::F32` for `f32`,
        /// `Typed::F64` for `f64`. The operations use it to reach their compiled-once
        /// per-type entry points (see [`super::Family`]) without a cast and without the
        /// element type knowing any operation.
        fn typed<F: Family>(x: F::Of<Self>) -> Typed<F>
        where
            Self: Float;
    }
}

macro_rules! impl_float {
    ($t:ident, $variant:ident) => {
        impl Float for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const EPSILON: Self = $t::EPSILON;
            const INFINITY: Self = $t::INFINITY;
            const NAN: Self = $t::NAN;
            const NAME: &'static str = stringify!($t);

            #[inline(always)]
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn from_usize(x: usize) -> Self {
                x as $t
            }
            #[inline(always)]
            fn mul_add(self, a: Self, b: Self) -> Self {
                $t::mul_add(self, a, b)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                $t::abs(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                $t::sqrt(self)
            }
            #[inline(always)]
            fn exp(self) -> Self {
                $t::exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                $t::ln(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                (self as f64).tanh() as $t
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                $t::is_finite(self)
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                $t::is_nan(self)
            }
            #[inline(always)]
            fn max(self, other: Self) -> Self {
                $t::max(self, other)
            }
            #[inline(always)]
            fn min(self, other: Self) -> Self {
                $t::min(self, other)
            }
        }

        impl private::Sealed for $t {
            #[inline(always)]
            fn typed<F: Family>(x: F::Of<Self>) -> Typed<F> {
                Typed::$variant(x)
            }
        }
    };
}

impl_float!(f32, F32);
impl_float!(f64, F64);
