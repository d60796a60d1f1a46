//! The portable tier: one element per "vector". Runs everywhere, including under Miri.

use super::Simd;
use crate::dispatch::Level;
use crate::float::Float;

/// Token of the portable tier (always available).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scalar;

// SAFETY: the scalar tier uses no instruction-set extension, so a token may always exist.
unsafe impl<T: Float> Simd<T> for Scalar {
    type V = T;
    const LANES: usize = 1;
    const LEVEL: Level = Level::Scalar;

    #[inline(always)]
    fn splat(self, x: T) -> T {
        x
    }
    #[inline(always)]
    unsafe fn load(self, p: *const T) -> T {
        // SAFETY: the caller guarantees one readable element at `p`.
        unsafe { p.read_unaligned() }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut T, v: T) {
        // SAFETY: the caller guarantees one writable element at `p`.
        unsafe { p.write_unaligned(v) }
    }
    #[inline(always)]
    fn add(self, a: T, b: T) -> T {
        a + b
    }
    #[inline(always)]
    fn sub(self, a: T, b: T) -> T {
        a - b
    }
    #[inline(always)]
    fn mul(self, a: T, b: T) -> T {
        a * b
    }
    #[inline(always)]
    fn div(self, a: T, b: T) -> T {
        a / b
    }
    #[inline(always)]
    fn fma(self, a: T, b: T, c: T) -> T {
        a.mul_add(b, c)
    }
    #[inline(always)]
    fn fnma(self, a: T, b: T, c: T) -> T {
        (-a).mul_add(b, c)
    }
    #[inline(always)]
    fn min(self, a: T, b: T) -> T {
        if a < b {
            a
        } else {
            b
        }
    }
    #[inline(always)]
    fn max(self, a: T, b: T) -> T {
        if a > b {
            a
        } else {
            b
        }
    }
    #[inline(always)]
    fn abs(self, a: T) -> T {
        a.abs()
    }

    type M = bool;
    #[inline(always)]
    fn lt(self, a: T, b: T) -> bool {
        a < b
    }
    #[inline(always)]
    fn select(self, m: bool, a: T, b: T) -> T {
        if m {
            a
        } else {
            b
        }
    }
    #[inline(always)]
    fn and(self, a: T, b: T) -> T {
        T::from_bits64(a.to_bits64() & b.to_bits64())
    }
    #[inline(always)]
    fn or(self, a: T, b: T) -> T {
        T::from_bits64(a.to_bits64() | b.to_bits64())
    }
    #[inline(always)]
    fn xor(self, a: T, b: T) -> T {
        T::from_bits64(a.to_bits64() ^ b.to_bits64())
    }
    #[inline(always)]
    fn round(self, a: T) -> T {
        a.round_ties_even_()
    }
    #[inline(always)]
    fn ldexp(self, a: T, k: T) -> T {
        a.ldexp_bits(k)
    }
}
