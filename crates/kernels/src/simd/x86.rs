//! The x86-64 tiers' hooks: AVX2+FMA (`pulp::x86::V3`) and AVX-512 (`pulp::x86::V4`).
//!
//! Register arithmetic goes through pulp's safe intrinsic wrappers (the token's feature
//! fields, such as `self.avx`); only the partial loads and stores touch memory through
//! raw pointers.

use super::dispatch::Level;
use super::{debug_assert_elements, Isa, V3, V4};
use pulp::bytemuck::cast;
use std::arch::x86_64::*;

/// Round to nearest, ties to even, without raising exceptions.
const NEAREST: i32 = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

// `ldexp`: `k + 1.5·2^p` (p = stored mantissa bits) holds the integer `k` in two's
// complement in its low mantissa bits (|k| < 2^22); a left shift by p drops every other
// bit and lines `k` up with the exponent field, where an integer add scales `a` by 2^k.
// Both tiers do exactly this, so they give the same bits.
/// `1.5·2^23`.
const MAGIC_F32: f32 = 12_582_912.0;
/// `1.5·2^52`.
const MAGIC_F64: f64 = 6_755_399_441_055_744.0;

impl Isa for V3 {
    const LEVEL: Level = Level::Avx2;

    #[inline(always)]
    fn round_f32s(self, a: Self::f32s) -> Self::f32s {
        cast(self.avx._mm256_round_ps::<NEAREST>(cast(a)))
    }
    #[inline(always)]
    fn round_f64s(self, a: Self::f64s) -> Self::f64s {
        cast(self.avx._mm256_round_pd::<NEAREST>(cast(a)))
    }
    #[inline(always)]
    fn ldexp_f32s(self, a: Self::f32s, k: Self::f32s) -> Self::f32s {
        let biased = self
            .avx
            ._mm256_add_ps(cast(k), self.avx._mm256_set1_ps(MAGIC_F32));
        let kbits = self.avx2._mm256_slli_epi32::<23>(cast(biased));
        cast(self.avx2._mm256_add_epi32(cast(a), kbits))
    }
    #[inline(always)]
    fn ldexp_f64s(self, a: Self::f64s, k: Self::f64s) -> Self::f64s {
        let biased = self
            .avx
            ._mm256_add_pd(cast(k), self.avx._mm256_set1_pd(MAGIC_F64));
        let kbits = self.avx2._mm256_slli_epi64::<52>(cast(biased));
        cast(self.avx2._mm256_add_epi64(cast(a), kbits))
    }
    #[inline(always)]
    fn minps_f32s(self, a: Self::f32s, b: Self::f32s) -> Self::f32s {
        cast(self.avx._mm256_min_ps(cast(a), cast(b)))
    }
    #[inline(always)]
    fn minps_f64s(self, a: Self::f64s, b: Self::f64s) -> Self::f64s {
        cast(self.avx._mm256_min_pd(cast(a), cast(b)))
    }
    #[inline(always)]
    fn maxps_f32s(self, a: Self::f32s, b: Self::f32s) -> Self::f32s {
        cast(self.avx._mm256_max_ps(cast(a), cast(b)))
    }
    #[inline(always)]
    fn maxps_f64s(self, a: Self::f64s, b: Self::f64s) -> Self::f64s {
        cast(self.avx._mm256_max_pd(cast(a), cast(b)))
    }

    #[inline(always)]
    unsafe fn load_first_f32s(self, p: *const f32, n: usize) -> Self::f32s {
        debug_assert_elements(p, n);
        // A masked load (`vmaskmovps`): lanes outside the mask read nothing and cannot
        // fault. Cheap on Zen 3 and Intel alike.
        // SAFETY: AVX is available (token); only the first `n` elements are accessed,
        // which the caller guarantees readable.
        cast(unsafe { self.avx._mm256_maskload_ps(p, first_lanes_mask(n, 1)) })
    }
    #[inline(always)]
    unsafe fn load_first_f64s(self, p: *const f64, n: usize) -> Self::f64s {
        debug_assert_elements(p, n);
        // SAFETY: as `load_first_f32s`.
        cast(unsafe { self.avx._mm256_maskload_pd(p, first_lanes_mask(n, 2)) })
    }

    #[inline(always)]
    unsafe fn store_first_f32s(self, p: *mut f32, n: usize, v: Self::f32s) {
        debug_assert!((1..=8).contains(&n), "{n} lanes of 8");
        debug_assert_elements(p.cast_const(), n);
        // Not `vmaskmovps` as a store: on Zen 3 it costs ~13 cycles (measured: 4.1 ns per
        // store at 3.2 GHz vs 0.3 ns for a plain store). Split `n` into plain 128/64/32-bit
        // stores instead.
        let v: __m256 = cast(v);
        // SAFETY: AVX is available (token); every store writes inside `p..p + n`, which
        // the caller guarantees writable, and none is a typed access that needs more
        // than the 4-byte alignment of `p` (the 64-bit store is `movq`, unaligned).
        unsafe {
            if n == 8 {
                _mm256_storeu_ps(p, v);
                return;
            }
            let mut rest = self.avx._mm256_castps256_ps128(v);
            let (mut p, mut n) = (p, n);
            if n >= 4 {
                _mm_storeu_ps(p, rest);
                rest = self.avx._mm256_extractf128_ps::<1>(v);
                p = p.add(4);
                n -= 4;
            }
            if n >= 2 {
                _mm_storel_epi64(p.cast::<__m128i>(), _mm_castps_si128(rest));
                rest = self.sse._mm_movehl_ps(rest, rest);
                p = p.add(2);
                n -= 2;
            }
            if n == 1 {
                _mm_store_ss(p, rest);
            }
        }
    }
    #[inline(always)]
    unsafe fn store_first_f64s(self, p: *mut f64, n: usize, v: Self::f64s) {
        debug_assert!((1..=4).contains(&n), "{n} lanes of 4");
        debug_assert_elements(p.cast_const(), n);
        let v: __m256d = cast(v);
        // SAFETY: AVX is available (token); every store writes inside `p..p + n` (caller),
        // and `p` is 8-byte aligned as any `*mut f64` into a slice.
        unsafe {
            if n == 4 {
                _mm256_storeu_pd(p, v);
                return;
            }
            let mut rest = self.avx._mm256_castpd256_pd128(v);
            let (mut p, mut n) = (p, n);
            if n >= 2 {
                _mm_storeu_pd(p, rest);
                rest = self.avx._mm256_extractf128_pd::<1>(v);
                p = p.add(2);
                n -= 2;
            }
            if n == 1 {
                _mm_store_sd(p, rest);
            }
        }
    }
}

/// The mask of a `vmaskmov` load whose first `n` lanes are set, for lanes of
/// `words_per_lane` 32-bit words: a window into a static table, so no arithmetic per call.
#[inline(always)]
fn first_lanes_mask(n: usize, words_per_lane: usize) -> __m256i {
    static TABLE: [i32; 16] = [-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0];
    // `1 <= n <= lanes` (the callers' contract) gives `0 <= start <= 7`: eight words from
    // there stay inside the 16-word table.
    debug_assert!(
        (1..=8 / words_per_lane).contains(&n),
        "{n} lanes of {}",
        8 / words_per_lane
    );
    let start = 8 - n * words_per_lane;
    let mut words = [0i32; 8];
    words.copy_from_slice(&TABLE[start..start + 8]);
    cast(words)
}

impl Isa for V4 {
    const LEVEL: Level = Level::Avx512;

    #[inline(always)]
    fn round_f32s(self, a: Self::f32s) -> Self::f32s {
        cast(self.avx512f._mm512_roundscale_ps::<NEAREST>(cast(a)))
    }
    #[inline(always)]
    fn round_f64s(self, a: Self::f64s) -> Self::f64s {
        cast(self.avx512f._mm512_roundscale_pd::<NEAREST>(cast(a)))
    }
    #[inline(always)]
    fn ldexp_f32s(self, a: Self::f32s, k: Self::f32s) -> Self::f32s {
        let biased = self
            .avx512f
            ._mm512_add_ps(cast(k), self.avx512f._mm512_set1_ps(MAGIC_F32));
        let kbits = self.avx512f._mm512_slli_epi32::<23>(cast(biased));
        cast(self.avx512f._mm512_add_epi32(cast(a), kbits))
    }
    #[inline(always)]
    fn ldexp_f64s(self, a: Self::f64s, k: Self::f64s) -> Self::f64s {
        let biased = self
            .avx512f
            ._mm512_add_pd(cast(k), self.avx512f._mm512_set1_pd(MAGIC_F64));
        let kbits = self.avx512f._mm512_slli_epi64::<52>(cast(biased));
        cast(self.avx512f._mm512_add_epi64(cast(a), kbits))
    }
    #[inline(always)]
    fn minps_f32s(self, a: Self::f32s, b: Self::f32s) -> Self::f32s {
        cast(self.avx512f._mm512_min_ps(cast(a), cast(b)))
    }
    #[inline(always)]
    fn minps_f64s(self, a: Self::f64s, b: Self::f64s) -> Self::f64s {
        cast(self.avx512f._mm512_min_pd(cast(a), cast(b)))
    }
    #[inline(always)]
    fn maxps_f32s(self, a: Self::f32s, b: Self::f32s) -> Self::f32s {
        cast(self.avx512f._mm512_max_ps(cast(a), cast(b)))
    }
    #[inline(always)]
    fn maxps_f64s(self, a: Self::f64s, b: Self::f64s) -> Self::f64s {
        cast(self.avx512f._mm512_max_pd(cast(a), cast(b)))
    }

    // AVX-512 masked loads and stores (`vmovups zmm{k}`): masked-off lanes are neither
    // read nor written and cannot fault. Not pulp's `mask_load_ptr_*`: its V4 masks carry
    // a jump into an out-of-line stub per mask pattern, which in a k loop costs a call
    // and pins two zmm registers per load (the right-edge GEMM tiles ran ~2x slower).
    #[inline(always)]
    unsafe fn load_first_f32s(self, p: *const f32, n: usize) -> Self::f32s {
        debug_assert!((1..=16).contains(&n), "{n} lanes of 16");
        debug_assert_elements(p, n);
        // SAFETY: AVX-512F is available (token); only the first `n` lanes are read, which
        // the caller guarantees readable.
        cast(unsafe { _mm512_maskz_loadu_ps(first_lanes_bits(n) as __mmask16, p) })
    }
    #[inline(always)]
    unsafe fn load_first_f64s(self, p: *const f64, n: usize) -> Self::f64s {
        debug_assert!((1..=8).contains(&n), "{n} lanes of 8");
        debug_assert_elements(p, n);
        // SAFETY: as `load_first_f32s`.
        cast(unsafe { _mm512_maskz_loadu_pd(first_lanes_bits(n) as __mmask8, p) })
    }
    #[inline(always)]
    unsafe fn store_first_f32s(self, p: *mut f32, n: usize, v: Self::f32s) {
        debug_assert!((1..=16).contains(&n), "{n} lanes of 16");
        debug_assert_elements(p.cast_const(), n);
        // SAFETY: AVX-512F is available (token); only the first `n` lanes are written,
        // which the caller guarantees writable.
        unsafe { _mm512_mask_storeu_ps(p, first_lanes_bits(n) as __mmask16, cast(v)) }
    }
    #[inline(always)]
    unsafe fn store_first_f64s(self, p: *mut f64, n: usize, v: Self::f64s) {
        debug_assert!((1..=8).contains(&n), "{n} lanes of 8");
        debug_assert_elements(p.cast_const(), n);
        // SAFETY: as `store_first_f32s`.
        unsafe { _mm512_mask_storeu_pd(p, first_lanes_bits(n) as __mmask8, cast(v)) }
    }
}

/// The mask of the first `n` lanes (`n <= 16`): bit `i` set for `i < n`.
#[inline(always)]
fn first_lanes_bits(n: usize) -> u32 {
    (1u32 << n.min(16)) - 1
}
