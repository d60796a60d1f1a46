//! The AVX2+FMA tier: x86-64 AVX2 and FMA (x86-64-v3).

use super::{Simd, WithSimd};
use crate::dispatch::Level;
use std::arch::x86_64::*;

/// Token proving that the CPU supports AVX2 and FMA (x86-64-v3).
#[derive(Clone, Copy, Debug)]
pub(crate) struct V3;

impl V3 {
    /// Returns a token if the running CPU supports AVX2 and FMA (x86-64-v3).
    #[inline(always)]
    pub(crate) fn try_new() -> Option<Self> {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            Some(V3)
        } else {
            None
        }
    }
}

/// Runs `op` with all of AVX2 and FMA (x86-64-v3) enabled for its (inlined) body.
#[inline]
pub(crate) fn run<T: crate::Float, Op: WithSimd<T>>(token: V3, op: Op) -> Op::Output
where
    V3: crate::gemm::params::Tier<T>,
{
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn inner<T: crate::Float, Op: WithSimd<T>>(token: V3, op: Op) -> Op::Output
    where
        V3: crate::gemm::params::Tier<T>,
    {
        op.with_simd(token)
    }
    // SAFETY: `token` exists only if the CPU supports these features (see `try_new`).
    unsafe { inner(token, op) }
}

macro_rules! impl_v3 {
    ($t:ty, $v:ty, $lanes:expr, $set1:ident, $loadu:ident, $storeu:ident, $add:ident,
     $sub:ident, $mul:ident, $div:ident, $fmadd:ident, $fnmadd:ident, $min:ident, $max:ident,
     $andnot:ident, $neg0:expr) => {
        // SAFETY: `V3` is only constructed after AVX2 and FMA were detected, so every
        // intrinsic below may run; loads and stores are guarded by their own contracts.
        unsafe impl Simd<$t> for V3 {
            type V = $v;
            const LANES: usize = $lanes;
            const LEVEL: Level = Level::Avx2;

            #[inline(always)]
            fn splat(self, x: $t) -> $v {
                // SAFETY: AVX is available (token).
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
                // SAFETY: AVX is available (token).
                unsafe { $add(a, b) }
            }
            #[inline(always)]
            fn sub(self, a: $v, b: $v) -> $v {
                // SAFETY: AVX is available (token).
                unsafe { $sub(a, b) }
            }
            #[inline(always)]
            fn mul(self, a: $v, b: $v) -> $v {
                // SAFETY: AVX is available (token).
                unsafe { $mul(a, b) }
            }
            #[inline(always)]
            fn div(self, a: $v, b: $v) -> $v {
                // SAFETY: AVX is available (token).
                unsafe { $div(a, b) }
            }
            #[inline(always)]
            fn fma(self, a: $v, b: $v, c: $v) -> $v {
                // SAFETY: FMA is available (token).
                unsafe { $fmadd(a, b, c) }
            }
            #[inline(always)]
            fn fnma(self, a: $v, b: $v, c: $v) -> $v {
                // SAFETY: FMA is available (token).
                unsafe { $fnmadd(a, b, c) }
            }
            #[inline(always)]
            fn min(self, a: $v, b: $v) -> $v {
                // SAFETY: AVX is available (token).
                unsafe { $min(a, b) }
            }
            #[inline(always)]
            fn max(self, a: $v, b: $v) -> $v {
                // SAFETY: AVX is available (token).
                unsafe { $max(a, b) }
            }
            #[inline(always)]
            fn abs(self, a: $v) -> $v {
                // SAFETY: AVX is available (token).
                unsafe { $andnot($set1($neg0), a) }
            }
        }
    };
}

impl_v3!(
    f32,
    __m256,
    8,
    _mm256_set1_ps,
    _mm256_loadu_ps,
    _mm256_storeu_ps,
    _mm256_add_ps,
    _mm256_sub_ps,
    _mm256_mul_ps,
    _mm256_div_ps,
    _mm256_fmadd_ps,
    _mm256_fnmadd_ps,
    _mm256_min_ps,
    _mm256_max_ps,
    _mm256_andnot_ps,
    -0.0f32
);
impl_v3!(
    f64,
    __m256d,
    4,
    _mm256_set1_pd,
    _mm256_loadu_pd,
    _mm256_storeu_pd,
    _mm256_add_pd,
    _mm256_sub_pd,
    _mm256_mul_pd,
    _mm256_div_pd,
    _mm256_fmadd_pd,
    _mm256_fnmadd_pd,
    _mm256_min_pd,
    _mm256_max_pd,
    _mm256_andnot_pd,
    -0.0f64
);
