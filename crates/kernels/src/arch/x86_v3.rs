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
     $andnot:ident, $neg0:expr, $maskload:ident, $store_first:ident) => {
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

            #[inline(always)]
            unsafe fn load_first(self, p: *const $t, n: usize) -> $v {
                debug_assert!((1..=$lanes).contains(&n));
                // A masked load (`vmaskmovps/pd`): lanes outside the mask read nothing and
                // cannot fault. Cheap on Zen 3 and Intel alike.
                // SAFETY: AVX is available (token); only the first `n` elements are
                // accessed, which the caller guarantees readable.
                unsafe { $maskload(p, first_lanes_mask::<$lanes>(n)) }
            }

            #[inline(always)]
            unsafe fn store_first(self, p: *mut $t, n: usize, v: $v) {
                debug_assert!((1..=$lanes).contains(&n));
                // Not `vmaskmovps` as a store: on Zen 3 it costs ~13 cycles (measured:
                // 4.1 ns per store at 3.2 GHz vs 0.3 ns for a plain store). Split `n`
                // into plain 128/64/32-bit stores instead.
                // SAFETY: AVX is available (token); each store below writes inside
                // `p..p + n`, which the caller guarantees writable.
                unsafe { $store_first(p, n, v) }
            }
            v3_ext!($t, $v);
        }
    };
}

/// The mask of a `vmaskmov` load whose first `n` lanes (of `LANES`, 32- or 64-bit) are
/// set: a window into a static table, so no arithmetic per call.
#[inline(always)]
fn first_lanes_mask<const LANES: usize>(n: usize) -> __m256i {
    // 32-bit lanes: 8 x -1 then 8 x 0; 64-bit lanes: each pair of i32 forms one lane.
    static TABLE: [i32; 16] = [-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0];
    let words_per_lane = 8 / LANES;
    let start = 8 - n * words_per_lane;
    // SAFETY: `1 <= n <= LANES` gives `0 <= start <= 8 - words_per_lane`, so the 8 words
    // read are inside the 16-word table; AVX is available in every caller (they run under
    // the V3 target features).
    unsafe { _mm256_loadu_si256(TABLE.as_ptr().add(start).cast::<__m256i>()) }
}

/// Stores lanes `0..n` (`1 <= n <= 8`) of `v` with plain stores.
///
/// # Safety
/// AVX must be available; `p..p + n` writable.
#[inline(always)]
unsafe fn store_first_ps(p: *mut f32, n: usize, v: __m256) {
    // SAFETY: forwarded contract; every store writes below `p + n`.
    unsafe {
        if n == 8 {
            _mm256_storeu_ps(p, v);
            return;
        }
        let mut rest = _mm256_castps256_ps128(v);
        let (mut p, mut n) = (p, n);
        if n >= 4 {
            _mm_storeu_ps(p, rest);
            rest = _mm256_extractf128_ps::<1>(v);
            p = p.add(4);
            n -= 4;
        }
        if n >= 2 {
            _mm_store_sd(p.cast::<f64>(), _mm_castps_pd(rest));
            rest = _mm_movehl_ps(rest, rest);
            p = p.add(2);
            n -= 2;
        }
        if n == 1 {
            _mm_store_ss(p, rest);
        }
    }
}

/// Stores lanes `0..n` (`1 <= n <= 4`) of `v` with plain stores.
///
/// # Safety
/// AVX must be available; `p..p + n` writable.
#[inline(always)]
unsafe fn store_first_pd(p: *mut f64, n: usize, v: __m256d) {
    // SAFETY: forwarded contract; every store writes below `p + n`.
    unsafe {
        if n == 4 {
            _mm256_storeu_pd(p, v);
            return;
        }
        let mut rest = _mm256_castpd256_pd128(v);
        let (mut p, mut n) = (p, n);
        if n >= 2 {
            _mm_storeu_pd(p, rest);
            rest = _mm256_extractf128_pd::<1>(v);
            p = p.add(2);
            n -= 2;
        }
        if n == 1 {
            _mm_store_sd(p, rest);
        }
    }
}

/// The primitives appended to [`Simd`] (masks, bit operations, rounding, exponent
/// scaling): emitted as associated items at the end of the `impl` above, forwarding to the
/// per-type intrinsics of [`Ext`].
macro_rules! v3_ext {
    ($t:ty, $v:ty) => {
        type M = $v;
        #[inline(always)]
        fn lt(self, a: $v, b: $v) -> $v {
            // SAFETY: AVX2 and FMA are available (token).
            unsafe { <$t as Ext>::lt(a, b) }
        }
        #[inline(always)]
        fn select(self, m: $v, a: $v, b: $v) -> $v {
            // SAFETY: AVX2 and FMA are available (token).
            unsafe { <$t as Ext>::select(m, a, b) }
        }
        #[inline(always)]
        fn and(self, a: $v, b: $v) -> $v {
            // SAFETY: AVX2 and FMA are available (token).
            unsafe { <$t as Ext>::and(a, b) }
        }
        #[inline(always)]
        fn or(self, a: $v, b: $v) -> $v {
            // SAFETY: AVX2 and FMA are available (token).
            unsafe { <$t as Ext>::or(a, b) }
        }
        #[inline(always)]
        fn xor(self, a: $v, b: $v) -> $v {
            // SAFETY: AVX2 and FMA are available (token).
            unsafe { <$t as Ext>::xor(a, b) }
        }
        #[inline(always)]
        fn round(self, a: $v) -> $v {
            // SAFETY: AVX2 and FMA are available (token).
            unsafe { <$t as Ext>::round(a) }
        }
        #[inline(always)]
        fn ldexp(self, a: $v, k: $v) -> $v {
            // SAFETY: AVX2 and FMA are available (token).
            unsafe { <$t as Ext>::ldexp(a, k) }
        }
    };
}

/// Per-type AVX2 intrinsics behind the appended [`Simd`] primitives.
///
/// Every function requires AVX2 (callers hold a `V3` token). (`pub` only so that it may
/// appear in the `Simd` impls; the module is crate-private.)
pub trait Ext {
    /// The vector type.
    type V;
    /// # Safety
    /// The CPU supports the tier's instruction set (for this and every function below).
    unsafe fn lt(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn select(m: Self::V, a: Self::V, b: Self::V) -> Self::V;
    unsafe fn and(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn or(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn xor(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn round(a: Self::V) -> Self::V;
    unsafe fn ldexp(a: Self::V, k: Self::V) -> Self::V;
}

macro_rules! impl_ext {
    ($t:ty, $v:ty, $cmp:ident, $blendv:ident, $and:ident, $or:ident, $xor:ident,
     $round:ident, $tobits:ident, $frombits:ident, $set1:ident, $addf:ident, $slli:ident,
     $addi:ident, $mant:literal, $magic:expr) => {
        impl Ext for $t {
            type V = $v;
            #[inline(always)]
            unsafe fn lt(a: $v, b: $v) -> $v {
                // SAFETY: AVX is available (caller).
                unsafe { $cmp::<_CMP_LT_OQ>(a, b) }
            }
            #[inline(always)]
            unsafe fn select(m: $v, a: $v, b: $v) -> $v {
                // SAFETY: AVX is available (caller). `blendv` takes its second operand where
                // the mask lane's sign bit is set; comparison masks are all ones or zeros.
                unsafe { $blendv(b, a, m) }
            }
            #[inline(always)]
            unsafe fn and(a: $v, b: $v) -> $v {
                // SAFETY: AVX is available (caller).
                unsafe { $and(a, b) }
            }
            #[inline(always)]
            unsafe fn or(a: $v, b: $v) -> $v {
                // SAFETY: AVX is available (caller).
                unsafe { $or(a, b) }
            }
            #[inline(always)]
            unsafe fn xor(a: $v, b: $v) -> $v {
                // SAFETY: AVX is available (caller).
                unsafe { $xor(a, b) }
            }
            #[inline(always)]
            unsafe fn round(a: $v) -> $v {
                // SAFETY: AVX is available (caller).
                unsafe { $round::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(a) }
            }
            #[inline(always)]
            unsafe fn ldexp(a: $v, k: $v) -> $v {
                // `k + 1.5·2^p` (p = stored mantissa bits) holds the integer `k` in two's
                // complement in its low mantissa bits (|k| < 2^22); a left shift by p drops
                // every other bit and lines `k` up with the exponent field, where an integer
                // add scales `a` by 2^k.
                // SAFETY: AVX2 is available (caller); the casts only reinterpret bits.
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
    __m256,
    _mm256_cmp_ps,
    _mm256_blendv_ps,
    _mm256_and_ps,
    _mm256_or_ps,
    _mm256_xor_ps,
    _mm256_round_ps,
    _mm256_castps_si256,
    _mm256_castsi256_ps,
    _mm256_set1_ps,
    _mm256_add_ps,
    _mm256_slli_epi32,
    _mm256_add_epi32,
    23,
    12_582_912.0f32
);
impl_ext!(
    f64,
    __m256d,
    _mm256_cmp_pd,
    _mm256_blendv_pd,
    _mm256_and_pd,
    _mm256_or_pd,
    _mm256_xor_pd,
    _mm256_round_pd,
    _mm256_castpd_si256,
    _mm256_castsi256_pd,
    _mm256_set1_pd,
    _mm256_add_pd,
    _mm256_slli_epi64,
    _mm256_add_epi64,
    52,
    6_755_399_441_055_744.0f64
);

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
    -0.0f32,
    _mm256_maskload_ps,
    store_first_ps
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
    -0.0f64,
    _mm256_maskload_pd,
    store_first_pd
);
