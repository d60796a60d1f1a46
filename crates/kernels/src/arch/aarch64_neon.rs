//! The NEON tier: aarch64 Advanced SIMD, 128-bit vectors (4 f32 or 2 f64 lanes), 32
//! vector registers, fused multiply-add and a correctly rounded vector division.
//!
//! NEON is part of the aarch64 baseline, so on every aarch64 CPU the token exists; the
//! detection is kept for symmetry with the x86 tiers (and for targets built without it).

use super::{Simd, WithSimd};
use crate::dispatch::Level;
use std::arch::aarch64::*;

/// Token proving that the CPU supports NEON (aarch64 Advanced SIMD).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Neon;

impl Neon {
    /// Returns a token if the running CPU supports NEON.
    #[inline(always)]
    pub(crate) fn try_new() -> Option<Self> {
        if std::arch::is_aarch64_feature_detected!("neon") {
            Some(Neon)
        } else {
            None
        }
    }
}

/// Runs `op` with NEON enabled for its (inlined) body.
#[inline]
pub(crate) fn run<T: crate::Float, Op: WithSimd<T>>(token: Neon, op: Op) -> Op::Output
where
    Neon: crate::gemm::params::Tier<T>,
{
    #[target_feature(enable = "neon")]
    #[inline]
    unsafe fn inner<T: crate::Float, Op: WithSimd<T>>(token: Neon, op: Op) -> Op::Output
    where
        Neon: crate::gemm::params::Tier<T>,
    {
        op.with_simd(token)
    }
    // SAFETY: `token` exists only if the CPU supports NEON (see `try_new`).
    unsafe { inner(token, op) }
}

macro_rules! impl_neon {
    ($t:ty, $v:ty, $m:ty, $lanes:expr, $dup:ident, $ld:ident, $st:ident,
     $add:ident, $sub:ident, $mul:ident, $div:ident, $fma:ident, $fms:ident, $abs:ident,
     $clt:ident, $cgt:ident, $bsl:ident, $to_u:ident, $from_u:ident, $and:ident, $or:ident,
     $xor:ident, $rndn:ident, $cvt:ident, $shl:ident, $to_s:ident, $from_s:ident,
     $adds:ident, $mant:literal) => {
        // SAFETY: `Neon` is only constructed after NEON was detected, so every intrinsic
        // below may run; loads and stores are guarded by their own contracts.
        unsafe impl Simd<$t> for Neon {
            type V = $v;
            const LANES: usize = $lanes;
            const LEVEL: Level = Level::Neon;

            #[inline(always)]
            fn splat(self, x: $t) -> $v {
                // SAFETY: NEON is available (token).
                unsafe { $dup(x) }
            }
            #[inline(always)]
            unsafe fn load(self, p: *const $t) -> $v {
                // SAFETY: the caller guarantees LANES readable elements; `ld1` has no
                // alignment requirement beyond the element's.
                unsafe { $ld(p) }
            }
            #[inline(always)]
            unsafe fn store(self, p: *mut $t, v: $v) {
                // SAFETY: the caller guarantees LANES writable elements.
                unsafe { $st(p, v) }
            }
            #[inline(always)]
            fn add(self, a: $v, b: $v) -> $v {
                // SAFETY: NEON is available (token).
                unsafe { $add(a, b) }
            }
            #[inline(always)]
            fn sub(self, a: $v, b: $v) -> $v {
                // SAFETY: NEON is available (token).
                unsafe { $sub(a, b) }
            }
            #[inline(always)]
            fn mul(self, a: $v, b: $v) -> $v {
                // SAFETY: NEON is available (token).
                unsafe { $mul(a, b) }
            }
            #[inline(always)]
            fn div(self, a: $v, b: $v) -> $v {
                // SAFETY: NEON is available (token); `fdiv` is correctly rounded.
                unsafe { $div(a, b) }
            }
            #[inline(always)]
            fn fma(self, a: $v, b: $v, c: $v) -> $v {
                // SAFETY: NEON is available (token); `fmla` computes c + a·b, one rounding.
                unsafe { $fma(c, a, b) }
            }
            #[inline(always)]
            fn fnma(self, a: $v, b: $v, c: $v) -> $v {
                // SAFETY: NEON is available (token); `fmls` computes c − a·b, one rounding.
                unsafe { $fms(c, a, b) }
            }
            #[inline(always)]
            fn min(self, a: $v, b: $v) -> $v {
                // `fmin` returns NaN when either input is NaN; the contract (x86 `minps`)
                // wants `b` then, so select on an ordered compare instead.
                // SAFETY: NEON is available (token).
                unsafe { $bsl($clt(a, b), a, b) }
            }
            #[inline(always)]
            fn max(self, a: $v, b: $v) -> $v {
                // SAFETY: NEON is available (token).
                unsafe { $bsl($cgt(a, b), a, b) }
            }
            #[inline(always)]
            fn abs(self, a: $v) -> $v {
                // SAFETY: NEON is available (token); `fabs` clears the sign bit only.
                unsafe { $abs(a) }
            }

            type M = $m;
            #[inline(always)]
            fn lt(self, a: $v, b: $v) -> $m {
                // SAFETY: NEON is available (token); false on NaN (ordered compare).
                unsafe { $clt(a, b) }
            }
            #[inline(always)]
            fn select(self, m: $m, a: $v, b: $v) -> $v {
                // SAFETY: NEON is available (token); `m` lanes are all-ones or all-zeros.
                unsafe { $bsl(m, a, b) }
            }
            #[inline(always)]
            fn and(self, a: $v, b: $v) -> $v {
                // SAFETY: NEON is available (token); the casts only reinterpret bits.
                unsafe { $from_u($and($to_u(a), $to_u(b))) }
            }
            #[inline(always)]
            fn or(self, a: $v, b: $v) -> $v {
                // SAFETY: as `and`.
                unsafe { $from_u($or($to_u(a), $to_u(b))) }
            }
            #[inline(always)]
            fn xor(self, a: $v, b: $v) -> $v {
                // SAFETY: as `and`.
                unsafe { $from_u($xor($to_u(a), $to_u(b))) }
            }
            #[inline(always)]
            fn round(self, a: $v) -> $v {
                // SAFETY: NEON is available (token); `frintn` rounds ties to even.
                unsafe { $rndn(a) }
            }
            #[inline(always)]
            fn ldexp(self, a: $v, k: $v) -> $v {
                // `k` is an integer of magnitude below 2^22 on every defined lane, so the
                // conversion is exact; shifted up to the exponent field, an integer add
                // scales `a` by 2^k (the same bits as the x86 tiers' magic-number form).
                // SAFETY: NEON is available (token); the casts only reinterpret bits.
                unsafe { $from_s($adds($to_s(a), $shl::<$mant>($cvt(k)))) }
            }
        }
    };
}

impl_neon!(
    f32,
    float32x4_t,
    uint32x4_t,
    4,
    vdupq_n_f32,
    vld1q_f32,
    vst1q_f32,
    vaddq_f32,
    vsubq_f32,
    vmulq_f32,
    vdivq_f32,
    vfmaq_f32,
    vfmsq_f32,
    vabsq_f32,
    vcltq_f32,
    vcgtq_f32,
    vbslq_f32,
    vreinterpretq_u32_f32,
    vreinterpretq_f32_u32,
    vandq_u32,
    vorrq_u32,
    veorq_u32,
    vrndnq_f32,
    vcvtq_s32_f32,
    vshlq_n_s32,
    vreinterpretq_s32_f32,
    vreinterpretq_f32_s32,
    vaddq_s32,
    23
);
impl_neon!(
    f64,
    float64x2_t,
    uint64x2_t,
    2,
    vdupq_n_f64,
    vld1q_f64,
    vst1q_f64,
    vaddq_f64,
    vsubq_f64,
    vmulq_f64,
    vdivq_f64,
    vfmaq_f64,
    vfmsq_f64,
    vabsq_f64,
    vcltq_f64,
    vcgtq_f64,
    vbslq_f64,
    vreinterpretq_u64_f64,
    vreinterpretq_f64_u64,
    vandq_u64,
    vorrq_u64,
    veorq_u64,
    vrndnq_f64,
    vcvtq_s64_f64,
    vshlq_n_s64,
    vreinterpretq_s64_f64,
    vreinterpretq_f64_s64,
    vaddq_s64,
    52
);
