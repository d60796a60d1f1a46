//! The portable tier's hooks: one element per "vector". Runs everywhere, including under
//! Miri.

use super::dispatch::Level;
use super::{Isa, Scalar};

/// `a · 2^k` by adding the integer `k` to the exponent field of `a`: the scalar form of
/// [`super::Simd::ldexp`], with the same contract and the same bits.
macro_rules! ldexp_bits {
    ($a:expr, $k:expr, $t:ident, $bits:ident, $ibits:ident) => {{
        // `as` saturates (NaN -> 0), so this never overflows a shift.
        let k = ($k as $ibits) as $bits;
        $t::from_bits($a.to_bits().wrapping_add(k << ($t::MANTISSA_DIGITS - 1)))
    }};
}

impl Isa for Scalar {
    const LEVEL: Level = Level::Scalar;

    #[inline(always)]
    fn round_f32s(self, a: f32) -> f32 {
        a.round_ties_even()
    }
    #[inline(always)]
    fn round_f64s(self, a: f64) -> f64 {
        a.round_ties_even()
    }
    #[inline(always)]
    fn ldexp_f32s(self, a: f32, k: f32) -> f32 {
        ldexp_bits!(a, k, f32, u32, i32)
    }
    #[inline(always)]
    fn ldexp_f64s(self, a: f64, k: f64) -> f64 {
        ldexp_bits!(a, k, f64, u64, i64)
    }
    #[inline(always)]
    unsafe fn load_first_f32s(self, p: *const f32, _n: usize) -> f32 {
        // SAFETY: `1 <= n <= LANES = 1`: the one element at `p` is readable (caller).
        unsafe { p.read_unaligned() }
    }
    #[inline(always)]
    unsafe fn load_first_f64s(self, p: *const f64, _n: usize) -> f64 {
        // SAFETY: as above.
        unsafe { p.read_unaligned() }
    }
    #[inline(always)]
    unsafe fn store_first_f32s(self, p: *mut f32, _n: usize, v: f32) {
        // SAFETY: `1 <= n <= LANES = 1`: the one element at `p` is writable (caller).
        unsafe { p.write_unaligned(v) }
    }
    #[inline(always)]
    unsafe fn store_first_f64s(self, p: *mut f64, _n: usize, v: f64) {
        // SAFETY: as above.
        unsafe { p.write_unaligned(v) }
    }
}
