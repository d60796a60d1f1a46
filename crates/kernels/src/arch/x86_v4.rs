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
            v4_ext!($t, $v);
        }
    };
}

/// A `__mmask16` with the low `n` bits set (`n <= 16`).
#[inline(always)]
fn first_lanes_mask(n: usize) -> __mmask16 {
    ((1u32 << n) - 1) as __mmask16
}

/// The primitives appended to [`Simd`] (masks, bit operations, rounding, exponent
/// scaling): emitted as associated items at the end of the `impl` above, forwarding to the
/// per-type intrinsics of [`Ext`].
macro_rules! v4_ext {
    ($t:ty, $v:ty) => {
        type M = <$t as Ext>::M;
        #[inline(always)]
        fn lt(self, a: $v, b: $v) -> Self::M {
            // SAFETY: AVX-512F is available (token).
            unsafe { <$t as Ext>::lt(a, b) }
        }
        #[inline(always)]
        fn select(self, m: Self::M, a: $v, b: $v) -> $v {
            // SAFETY: AVX-512F is available (token).
            unsafe { <$t as Ext>::select(m, a, b) }
        }
        #[inline(always)]
        fn and(self, a: $v, b: $v) -> $v {
            // SAFETY: AVX-512F is available (token).
            unsafe { <$t as Ext>::and(a, b) }
        }
        #[inline(always)]
        fn or(self, a: $v, b: $v) -> $v {
            // SAFETY: AVX-512F is available (token).
            unsafe { <$t as Ext>::or(a, b) }
        }
        #[inline(always)]
        fn xor(self, a: $v, b: $v) -> $v {
            // SAFETY: AVX-512F is available (token).
            unsafe { <$t as Ext>::xor(a, b) }
        }
        #[inline(always)]
        fn round(self, a: $v) -> $v {
            // SAFETY: AVX-512F is available (token).
            unsafe { <$t as Ext>::round(a) }
        }
        #[inline(always)]
        fn ldexp(self, a: $v, k: $v) -> $v {
            // SAFETY: AVX-512F is available (token).
            unsafe { <$t as Ext>::ldexp(a, k) }
        }
    };
}

/// Per-type AVX-512F intrinsics behind the appended [`Simd`] primitives.
///
/// Every function requires AVX-512F (callers hold a `V4` token). (`pub` only so that it
/// may appear in the `Simd` impls; the module is crate-private.)
pub trait Ext {
    /// The vector type.
    type V;
    /// The mask type.
    type M;
    /// # Safety
    /// The CPU supports the tier's instruction set (for this and every function below).
    unsafe fn lt(a: Self::V, b: Self::V) -> Self::M;
    unsafe fn select(m: Self::M, a: Self::V, b: Self::V) -> Self::V;
    unsafe fn and(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn or(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn xor(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn round(a: Self::V) -> Self::V;
    unsafe fn ldexp(a: Self::V, k: Self::V) -> Self::V;
}

macro_rules! impl_ext {
    ($t:ty, $v:ty, $m:ty, $cmp:ident, $blend:ident, $tobits:ident, $frombits:ident,
     $round:ident, $set1:ident, $addf:ident, $slli:ident, $addi:ident, $mant:literal,
     $magic:expr) => {
        impl Ext for $t {
            type V = $v;
            type M = $m;
            #[inline(always)]
            unsafe fn lt(a: $v, b: $v) -> $m {
                // SAFETY: AVX-512F is available (caller).
                unsafe { $cmp::<_CMP_LT_OQ>(a, b) }
            }
            #[inline(always)]
            unsafe fn select(m: $m, a: $v, b: $v) -> $v {
                // SAFETY: AVX-512F is available (caller). `mask_blend(k, x, y)` takes `y`
                // where the mask bit is set.
                unsafe { $blend(m, b, a) }
            }
            // AVX-512F has no floating-point `and`/`or`/`xor` (that is AVX-512DQ): use the
            // 512-bit integer forms on the reinterpreted bits.
            #[inline(always)]
            unsafe fn and(a: $v, b: $v) -> $v {
                // SAFETY: AVX-512F is available (caller); the casts only reinterpret bits.
                unsafe { $frombits(_mm512_and_si512($tobits(a), $tobits(b))) }
            }
            #[inline(always)]
            unsafe fn or(a: $v, b: $v) -> $v {
                // SAFETY: AVX-512F is available (caller); the casts only reinterpret bits.
                unsafe { $frombits(_mm512_or_si512($tobits(a), $tobits(b))) }
            }
            #[inline(always)]
            unsafe fn xor(a: $v, b: $v) -> $v {
                // SAFETY: AVX-512F is available (caller); the casts only reinterpret bits.
                unsafe { $frombits(_mm512_xor_si512($tobits(a), $tobits(b))) }
            }
            #[inline(always)]
            unsafe fn round(a: $v) -> $v {
                // SAFETY: AVX-512F is available (caller).
                unsafe { $round::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(a) }
            }
            #[inline(always)]
            unsafe fn ldexp(a: $v, k: $v) -> $v {
                // The same exponent-field add as the AVX2 tier (so the same bits):
                // `k + 1.5·2^p` (p = stored mantissa bits) holds the integer `k` in two's
                // complement in its low mantissa bits (|k| < 2^22); a left shift by p drops
                // every other bit and lines `k` up with the exponent field.
                // SAFETY: AVX-512F is available (caller); the casts only reinterpret bits.
                unsafe {
                    let kbits = $slli::<$mant>($tobits($addf(k, $set1($magic))));
                    $frombits($addi($tobits(a), kbits))
                }
            }
        }
    };
}

impl_ext!(
    f32,
    __m512,
    __mmask16,
    _mm512_cmp_ps_mask,
    _mm512_mask_blend_ps,
    _mm512_castps_si512,
    _mm512_castsi512_ps,
    _mm512_roundscale_ps,
    _mm512_set1_ps,
    _mm512_add_ps,
    _mm512_slli_epi32,
    _mm512_add_epi32,
    23,
    12_582_912.0f32
);
impl_ext!(
    f64,
    __m512d,
    __mmask8,
    _mm512_cmp_pd_mask,
    _mm512_mask_blend_pd,
    _mm512_castpd_si512,
    _mm512_castsi512_pd,
    _mm512_roundscale_pd,
    _mm512_set1_pd,
    _mm512_add_pd,
    _mm512_slli_epi64,
    _mm512_add_epi64,
    52,
    6_755_399_441_055_744.0f64
);

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
