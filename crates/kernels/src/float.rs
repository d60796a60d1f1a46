//! The element types recur computes in: [`Float`], implemented for `f32` and `f64`.

use crate::arch::WithSimd;
use crate::dispatch::Level;
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
    /// the slice kernel [`crate::tanh()`] is tested against, not the same algorithm (and not
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

pub(crate) mod private {
    use super::*;

    /// Per-type hooks of the kernels; users cannot name this trait, so `Float` is sealed
    /// and these functions are not part of the public API.
    pub trait Sealed: Sized + crate::tanh::consts::TanhConsts {
        /// Runs `op` with the SIMD token of `level` for this element type.
        ///
        /// `level` must not exceed what the CPU supports (callers pass
        /// [`crate::dispatch::level`] or a level a `PackedB` was built with, which came
        /// from it); a higher level falls back to the scalar tier.
        fn dispatch<Op: WithSimd<Self>>(level: Level, op: Op) -> Op::Output
        where
            Self: Float;

        /// The kernels' entry points, one per operation, each compiled once in this crate
        /// for each element type (`#[inline(never)]` in the impls). The public generic
        /// functions forward here, so a downstream crate that calls `gemm::<f32>` links to
        /// the compiled GEMM instead of instantiating its every tier, micro-kernel and
        /// epilogue again (which made each test binary and doctest take minutes to build).
        #[allow(private_interfaces)]
        fn run_gemm(level: Level, op: crate::gemm::GemmOp<'_, '_, Self>) -> crate::Result<()>
        where
            Self: Float;
        /// [`Self::run_gemm`] for packing a `PackedB`.
        #[allow(private_interfaces)]
        fn run_pack(
            level: Level,
            op: crate::gemm::PackOp<'_, '_, Self>,
        ) -> crate::Result<(Level, usize)>
        where
            Self: Float;
        /// [`Self::run_gemm`] for `tanh` and `tanh_inplace`.
        #[allow(private_interfaces)]
        fn run_tanh(level: Level, op: crate::tanh::TanhOp<'_, Self>)
        where
            Self: Float;
        /// [`Self::run_gemm`] for `tanh_backward`.
        #[allow(private_interfaces)]
        fn run_tanh_backward(level: Level, op: crate::tanh::TanhBackwardOp<'_, Self>)
        where
            Self: Float;
        /// [`Self::run_gemm`] for `axpy`.
        #[allow(private_interfaces)]
        fn run_axpy(level: Level, op: crate::elementwise::AxpyOp<'_, Self>)
        where
            Self: Float;
        /// [`Self::run_gemm`] for `exp_inplace`.
        #[allow(private_interfaces)]
        fn run_exp(level: Level, op: crate::elementwise::ExpOp<'_, Self>)
        where
            Self: Float;

        /// The bit pattern, zero-extended to 64 bits.
        fn to_bits64(self) -> u64;
        /// The value with bit pattern `b` (truncated to the type's width).
        fn from_bits64(b: u64) -> Self;
        /// Rounds to the nearest integer, ties to even.
        fn round_ties_even_(self) -> Self;
        /// `self · 2^k` by adding the integer `k` to the exponent field (the scalar form of
        /// `Simd::ldexp`, with the same contract and the same bits).
        fn ldexp_bits(self, k: Self) -> Self;
    }
}

macro_rules! impl_float {
    ($t:ident, $bits:ident, $ibits:ident) => {
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

        // The entry points take the crate-private operation structs (see `Sealed`).
        #[allow(private_interfaces)]
        impl private::Sealed for $t {
            #[inline(always)]
            fn dispatch<Op: WithSimd<Self>>(level: Level, op: Op) -> Op::Output {
                crate::arch::dispatch_op::<$t, Op>(level, op)
            }

            #[inline(never)]
            fn run_gemm(level: Level, op: crate::gemm::GemmOp<'_, '_, Self>) -> crate::Result<()> {
                Self::dispatch(level, op)
            }
            #[inline(never)]
            fn run_pack(
                level: Level,
                op: crate::gemm::PackOp<'_, '_, Self>,
            ) -> crate::Result<(Level, usize)> {
                Self::dispatch(level, op)
            }
            #[inline(never)]
            fn run_tanh(level: Level, op: crate::tanh::TanhOp<'_, Self>) {
                Self::dispatch(level, op)
            }
            #[inline(never)]
            fn run_tanh_backward(level: Level, op: crate::tanh::TanhBackwardOp<'_, Self>) {
                Self::dispatch(level, op)
            }
            #[inline(never)]
            fn run_axpy(level: Level, op: crate::elementwise::AxpyOp<'_, Self>) {
                Self::dispatch(level, op)
            }
            #[inline(never)]
            fn run_exp(level: Level, op: crate::elementwise::ExpOp<'_, Self>) {
                Self::dispatch(level, op)
            }

            #[inline(always)]
            fn to_bits64(self) -> u64 {
                u64::from(self.to_bits())
            }
            #[inline(always)]
            fn from_bits64(b: u64) -> Self {
                $t::from_bits(b as $bits)
            }
            #[inline(always)]
            fn round_ties_even_(self) -> Self {
                $t::round_ties_even(self)
            }
            #[inline(always)]
            fn ldexp_bits(self, k: Self) -> Self {
                // `as` saturates (NaN -> 0), so this never overflows a shift.
                let k = (k as $ibits) as $bits;
                $t::from_bits(self.to_bits().wrapping_add(k << ($t::MANTISSA_DIGITS - 1)))
            }
        }
    };
}

impl_float!(f32, u32, i32);
impl_float!(f64, u64, i64);
