//! Per-instruction-set SIMD primitives, and the run-time dispatch into them.
//!
//! Every kernel body in recur is written once, generic over a token type `S: Simd<T>`
//! (`#[inline(always)]`), and instantiated per tier inside a tiny `#[target_feature]`
//! function here, so that the whole body is compiled for that instruction set (the shape
//! of pulp's `WithSimd`, with our own primitive set so that the GEMM micro-kernels, the
//! tanh kernel and the GEMM epilogues share one vector vocabulary).
//!
//! A token (`Scalar`, `Neon`, `V3`, `V4`) is a zero-sized proof that its instruction set
//! is available: `Neon`, `V3` and `V4` are only constructed after run-time detection.
//! That proof is what makes the safe methods of [`Simd`] sound.

#[cfg(target_arch = "aarch64")]
pub(crate) mod aarch64_neon;
pub(crate) mod scalar;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86_v3;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86_v4;

use crate::dispatch::Level;
use crate::float::Float;
use crate::gemm::params::Tier;

#[cfg(target_arch = "aarch64")]
pub(crate) use aarch64_neon::Neon;
pub(crate) use scalar::Scalar;
#[cfg(target_arch = "x86_64")]
pub(crate) use x86_v3::V3;
#[cfg(target_arch = "x86_64")]
pub(crate) use x86_v4::V4;

/// Vector primitives of one instruction set for element type `T`.
///
/// # Safety
/// A value of an implementing type must only exist when the running CPU supports the
/// instruction set its methods use. Implementations rely on that to call intrinsics from
/// safe methods.
pub unsafe trait Simd<T: Float>: Copy + Send + Sync + 'static {
    /// A vector of `LANES` elements.
    type V: Copy;
    /// Elements per vector.
    const LANES: usize;
    /// The tier this token stands for.
    const LEVEL: Level;

    /// All lanes `x`.
    fn splat(self, x: T) -> Self::V;
    /// Loads `LANES` elements from `p` (any alignment).
    ///
    /// # Safety
    /// `p..p + LANES` must be valid for reads.
    unsafe fn load(self, p: *const T) -> Self::V;
    /// Stores `LANES` elements to `p` (any alignment).
    ///
    /// # Safety
    /// `p..p + LANES` must be valid for writes.
    unsafe fn store(self, p: *mut T, v: Self::V);
    /// `a + b`.
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    /// `a - b`.
    fn sub(self, a: Self::V, b: Self::V) -> Self::V;
    /// `a * b`.
    fn mul(self, a: Self::V, b: Self::V) -> Self::V;
    /// `a / b`, correctly rounded.
    fn div(self, a: Self::V, b: Self::V) -> Self::V;
    /// `a * b + c` with one rounding.
    fn fma(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `c - a * b` with one rounding.
    fn fnma(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// Lane-wise `if a < b { a } else { b }` (so `b` when either is NaN, as x86 `minps`).
    fn min(self, a: Self::V, b: Self::V) -> Self::V;
    /// Lane-wise `if a > b { a } else { b }` (so `b` when either is NaN, as x86 `maxps`).
    fn max(self, a: Self::V, b: Self::V) -> Self::V;
    /// `|a|` (clears the sign bit, NaN stays NaN).
    fn abs(self, a: Self::V) -> Self::V;

    // Appended for the GEMM edge tiles and the small-problem path (keep new primitives
    // at the end of the trait so that concurrent additions merge cleanly).

    /// Loads the first `n` elements at `p` (`1 <= n <= LANES`); the other lanes are 0.
    /// Never touches memory past `p + n`.
    ///
    /// # Safety
    /// `p..p + n` must be valid for reads.
    #[inline(always)]
    unsafe fn load_first(self, p: *const T, n: usize) -> Self::V {
        // SAFETY: forwarded contract.
        unsafe { load_partial(self, p, n, T::ZERO) }
    }
    /// Stores the first `n` lanes of `v` to `p` (`1 <= n <= LANES`). Never touches memory
    /// past `p + n`.
    ///
    /// # Safety
    /// `p..p + n` must be valid for writes.
    #[inline(always)]
    unsafe fn store_first(self, p: *mut T, n: usize, v: Self::V) {
        // SAFETY: forwarded contract.
        unsafe { store_partial(self, p, n, v) }
    }
    /// A lane mask, the result of a comparison (`bool`, a vector of all-ones/all-zeros
    /// lanes, or an AVX-512 mask register).
    type M: Copy;
    /// Lane-wise `a < b`; false when either is NaN (ordered, quiet).
    fn lt(self, a: Self::V, b: Self::V) -> Self::M;
    /// Lane-wise `if m { a } else { b }`.
    fn select(self, m: Self::M, a: Self::V, b: Self::V) -> Self::V;
    /// Bitwise `a & b` of the lanes' bit patterns.
    fn and(self, a: Self::V, b: Self::V) -> Self::V;
    /// Bitwise `a | b` of the lanes' bit patterns.
    fn or(self, a: Self::V, b: Self::V) -> Self::V;
    /// Bitwise `a ^ b` of the lanes' bit patterns.
    fn xor(self, a: Self::V, b: Self::V) -> Self::V;
    /// Rounds to the nearest integer, ties to even (NaN stays NaN).
    fn round(self, a: Self::V) -> Self::V;
    /// `a · 2^k`, exactly, computed by adding `k` to the exponent field of `a`.
    ///
    /// Defined for lanes where `k` is an integer of magnitude below 2^22 and both `a` and
    /// `a · 2^k` are normal finite numbers; any other lane gets an unspecified value (never
    /// undefined behaviour). All tiers give the same bits on defined lanes.
    fn ldexp(self, a: Self::V, k: Self::V) -> Self::V;
}

/// A computation generic over the SIMD tier: the body of a kernel.
///
/// `with_simd` must be `#[inline(always)]` so that it is compiled inside the tier's
/// `#[target_feature]` wrapper.
pub trait WithSimd<T: Float> {
    /// What the computation returns.
    type Output;
    /// Runs the computation with token `s`.
    fn with_simd<S: Tier<T>>(self, s: S) -> Self::Output;
}

/// Runs `op` on the tier `level`, or on the best lower tier this CPU has.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn dispatch_op<T, Op>(level: Level, op: Op) -> Op::Output
where
    T: Float,
    Op: WithSimd<T>,
    Scalar: Tier<T>,
    V3: Tier<T>,
    V4: Tier<T>,
{
    if level >= Level::Avx512 {
        if let Some(token) = V4::try_new() {
            return x86_v4::run(token, op);
        }
    }
    if level >= Level::Avx2 {
        if let Some(token) = V3::try_new() {
            return x86_v3::run(token, op);
        }
    }
    op.with_simd(Scalar)
}

/// Runs `op` on the tier `level`, or on the best lower tier this CPU has.
#[cfg(target_arch = "aarch64")]
#[inline(always)]
pub(crate) fn dispatch_op<T, Op>(level: Level, op: Op) -> Op::Output
where
    T: Float,
    Op: WithSimd<T>,
    Scalar: Tier<T>,
    Neon: Tier<T>,
{
    if level >= Level::Neon {
        if let Some(token) = Neon::try_new() {
            return aarch64_neon::run(token, op);
        }
    }
    op.with_simd(Scalar)
}

/// Runs `op` on the tier `level`, or on the best lower tier this CPU has.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
#[inline(always)]
pub(crate) fn dispatch_op<T, Op>(level: Level, op: Op) -> Op::Output
where
    T: Float,
    Op: WithSimd<T>,
    Scalar: Tier<T>,
{
    let _ = level;
    op.with_simd(Scalar)
}

/// Loads `n <= LANES` elements from `p` into a vector whose other lanes are `fill`.
///
/// # Safety
/// `p..p + n` must be valid for reads.
#[inline(always)]
pub(crate) unsafe fn load_partial<T: Float, S: Simd<T>>(
    s: S,
    p: *const T,
    n: usize,
    fill: T,
) -> S::V {
    debug_assert!(n <= S::LANES);
    let mut buf = [fill; 16];
    // SAFETY: the caller guarantees `n` readable elements at `p`; `buf` has room for
    // `n <= LANES <= 16` and does not overlap `p`.
    unsafe { std::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n) };
    // SAFETY: `buf` holds 16 >= LANES elements.
    unsafe { s.load(buf.as_ptr()) }
}

/// Stores the first `n <= LANES` lanes of `v` to `p`.
///
/// # Safety
/// `p..p + n` must be valid for writes.
#[inline(always)]
pub(crate) unsafe fn store_partial<T: Float, S: Simd<T>>(s: S, p: *mut T, n: usize, v: S::V) {
    debug_assert!(n <= S::LANES);
    let mut buf = [T::ZERO; 16];
    // SAFETY: `buf` holds 16 >= LANES elements.
    unsafe { s.store(buf.as_mut_ptr(), v) };
    // SAFETY: the caller guarantees `n` writable elements at `p`; `buf` is local.
    unsafe { std::ptr::copy_nonoverlapping(buf.as_ptr(), p, n) };
}
