//! The AVX-512 tier: x86-64 AVX-512F with AVX2 and FMA (x86-64-v4 subset).

use super::{Simd, WithSimd};
use crate::dispatch::Level;
use std::arch::x86_64::*;

/// Token proving that the CPU supports AVX-512F with AVX2 and FMA (x86-64-v4 subset).
#[derive(Clone, Copy, Debug)]
pub(crate) struct V4;

impl V4 {
    /// Returns a token if the running CPU supports AVX-512F with AVX2 and FMA (x86-64-v4 subset).
    #[inline(always)]
    pub(crate) fn try_new() -> Option<Self> {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
        {
            Some(V4)
        } else {
            None
        }
    }
}

/// Runs `op` with all of AVX-512F with AVX2 and FMA (x86-64-v4 subset) enabled for its (inlined) body.
#[inline]
pub(crate) fn run<T: crate::Float, Op: WithSimd<T>>(token: V4, op: Op) -> Op::Output
where
    V4: crate::gemm::params::Tier<T>,
{
    #[target_feature(enable = "avx512f,avx2,fma")]
    #[inline]
    unsafe fn inner<T: crate::Float, Op: WithSimd<T>>(token: V4, op: Op) -> Op::Output
    where
        V4: crate::gemm::params::Tier<T>,
    {
        op.with_simd(token)
    }
    // SAFETY: `token` exists only if the CPU supports these features (see `try_new`).
    unsafe { inner(token, op) }
}

macro_rules! impl_v4 {
    ($t:ty, $v:ty, $lanes:expr, $set1:ident, $loadu:ident, $storeu:ident, $add:ident,
     $sub:ident, $mul:ident, $div:ident, $fmadd:ident, $fnmadd:ident, $min:ident, $max:ident,
     $abs:ident, $maskz_load:ident, $mask_store:ident, $mask_ty:ty) => {
        // SAFETY: `V4` is only constructed after AVX-512F, AVX2 and FMA were detected, so every
        // intrinsic below may run; loads and stores are guarded by their own contracts.
        unsafe impl Simd<$t> for V4 {
            type V = $v;
            const LANES: usize = $lanes;
            const LEVEL: Level = Level::Avx512;

            #[inline(always)]
            fn splat(self, x: $t) -> $v {
                // SAFETY: AVX-512F is available (token).
                unsafe { $set1(x) }
            }
            #[inline(always)]
            unsafe fn load(self, p: *const $t) -> $v {
                // SAFETY: the caller guarantees LANES readable elements; AVX available.
                unsafe { $loadu(p) }
            }
            #[inline(always)]
            unsafe fn store(self, p: *mut $t, v: $v) {
                // SAFETY: the caller guarantees LANES writable elements; AVX available.
                unsafe { $storeu(p, v) }
            }
            #[inline(always)]
            fn add(self, a: $v, b: $v) -> $v {
                // SAFETY: AVX-512F is available (token).
                unsafe { $add(a, b) }
            }
            #[inline(always)]
            fn sub(self, a: $v, b: $v) -> $v {
                // SAFETY: AVX-512F is available (token).
                unsafe { $sub(a, b) }
            }
            #[inline(always)]
            fn mul(self, a: $v, b: $v) -> $v {
                // SAFETY: AVX-512F is available (token).
                unsafe { $mul(a, b) }
            }
            #[inline(always)]
            fn div(self, a: $v, b: $v) -> $v {
                // SAFETY: AVX-512F is available (token).
                unsafe { $div(a, b) }
            }
            #[inline(always)]
            fn fma(self, a: $v, b: $v, c: $v) -> $v {
                // SAFETY: AVX-512F is available (token).
                unsafe { $fmadd(a, b, c) }
            }
            #[inline(always)]
            fn fnma(self, a: $v, b: $v, c: $v) -> $v {
                // SAFETY: AVX-512F is available (token).
                unsafe { $fnmadd(a, b, c) }
            }
            #[inline(always)]
            fn min(self, a: $v, b: $v) -> $v {
                // SAFETY: AVX-512F is available (token).
                unsafe { $min(a, b) }
            }
            #[inline(always)]
            fn max(self, a: $v, b: $v) -> $v {
                // SAFETY: AVX-512F is available (token).
                unsafe { $max(a, b) }
            }
            #[inline(always)]
            fn abs(self, a: $v) -> $v {
                // SAFETY: AVX-512F is available (token).
                unsafe { $abs(a) }
            }

            #[inline(always)]
            unsafe fn load_first(self, p: *const $t, n: usize) -> $v {
                debug_assert!((1..=$lanes).contains(&n));
                // SAFETY: AVX-512F is available (token); masked-off lanes are not
                // accessed (no fault), the first `n` are readable (caller).
                unsafe { $maskz_load(first_lanes_mask(n) as $mask_ty, p) }
            }

            #[inline(always)]
            unsafe fn store_first(self, p: *mut $t, n: usize, v: $v) {
                debug_assert!((1..=$lanes).contains(&n));
                // AVX-512 masked stores are as cheap as plain ones.
                // SAFETY: AVX-512F is available (token); masked-off lanes are not
                // written, the first `n` are writable (caller).
                unsafe { $mask_store(p, first_lanes_mask(n) as $mask_ty, v) }
            }
        }
    };
}

/// A `__mmask16` with the low `n` bits set (`n <= 16`).
#[inline(always)]
fn first_lanes_mask(n: usize) -> __mmask16 {
    ((1u32 << n) - 1) as __mmask16
}

impl_v4!(
    f32,
    __m512,
    16,
    _mm512_set1_ps,
    _mm512_loadu_ps,
    _mm512_storeu_ps,
    _mm512_add_ps,
    _mm512_sub_ps,
    _mm512_mul_ps,
    _mm512_div_ps,
    _mm512_fmadd_ps,
    _mm512_fnmadd_ps,
    _mm512_min_ps,
    _mm512_max_ps,
    _mm512_abs_ps,
    _mm512_maskz_loadu_ps,
    _mm512_mask_storeu_ps,
    __mmask16
);
impl_v4!(
    f64,
    __m512d,
    8,
    _mm512_set1_pd,
    _mm512_loadu_pd,
    _mm512_storeu_pd,
    _mm512_add_pd,
    _mm512_sub_pd,
    _mm512_mul_pd,
    _mm512_div_pd,
    _mm512_fmadd_pd,
    _mm512_fnmadd_pd,
    _mm512_min_pd,
    _mm512_max_pd,
    _mm512_abs_pd,
    _mm512_maskz_loadu_pd,
    _mm512_mask_storeu_pd,
    __mmask8
);
