//! The SIMD layer: the vector primitives every kernel is written in, the tiers that
//! implement them, CPU detection and the run-time dispatch into a tier.
//!
//! The tiers are [pulp](https://docs.rs/pulp)'s tokens: `pulp::Scalar`, `pulp::x86::V3`
//! (AVX2+FMA), `pulp::x86::V4` (AVX-512) and `pulp::aarch64::Neon`. A token is a
//! zero-sized proof, made by pulp's run-time detection, that its instruction set is
//! available; that proof is what makes the safe methods of [`Simd`] sound, and pulp's
//! `vectorize` trampolines compile a kernel's body with the tier's target features.
//!
//! [`Simd`] is implemented once for every pulp token (one definition per primitive and
//! element type, in [`SimdElement`], in terms of `pulp::Simd`); what pulp lacks, or does slower, is a per-tier hook of [`Isa`]:
//! rounding, the exponent-field `ldexp`, and the partial loads and stores of edge vectors
//! (the AVX2 partial store avoids `vmaskmovps`, which costs ~13 cycles on Zen 3).
//!
//! Everything above this layer (`vmath`, the operations) is generic over `S: Simd<T>`,
//! `#[inline(always)]`, and reaches a tier through [`dispatch`] (a visitor that is handed
//! the concrete token) or [`dispatch_op`] (for bodies that only need `Simd`).

#[cfg(target_arch = "aarch64")]
mod aarch64;
mod cache;
pub mod dispatch;
mod scalar;
#[cfg(target_arch = "x86_64")]
mod x86;

use crate::element::Float;
use dispatch::Level;
use std::marker::PhantomData;

#[cfg(target_arch = "aarch64")]
pub(crate) use pulp::aarch64::Neon;
#[cfg(target_arch = "x86_64")]
pub(crate) use pulp::x86::{V3, V4};
pub(crate) use pulp::Scalar;

/// Vector primitives of one tier for element type `T`.
///
/// Implemented for every [`Isa`] token, which exists only when the CPU supports the
/// tier's instruction set. Methods that take pointers are `unsafe` for the memory they
/// touch only.
pub(crate) trait Simd<T: SimdElement>: Copy + Send + Sync + 'static {
    /// A vector of `LANES` elements.
    type V: Copy;
    /// A lane mask, the result of a comparison.
    type M: Copy;
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
    /// Loads the first `n` elements at `p` (`1 <= n <= LANES`); the other lanes are 0.
    /// Never touches memory past `p + n`.
    ///
    /// # Safety
    /// `p..p + n` must be valid for reads.
    unsafe fn load_first(self, p: *const T, n: usize) -> Self::V;
    /// Stores the first `n` lanes of `v` to `p` (`1 <= n <= LANES`). Never touches memory
    /// past `p + n`.
    ///
    /// # Safety
    /// `p..p + n` must be valid for writes.
    unsafe fn store_first(self, p: *mut T, n: usize, v: Self::V);
    /// Splits a slice into whole vectors and a tail of fewer than `LANES` elements.
    fn as_vectors(x: &[T]) -> (&[Self::V], &[T]);
    /// [`Simd::as_vectors`] of a mutable slice.
    fn as_vectors_mut(x: &mut [T]) -> (&mut [Self::V], &mut [T]);
    /// Loads a slice of at most `LANES` elements; the other lanes are 0.
    fn load_tail(self, x: &[T]) -> Self::V;
    /// Stores the first `x.len() <= LANES` lanes of `v` into `x`.
    fn store_tail(self, x: &mut [T], v: Self::V);

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
    /// Lane-wise `a < b`; false when either is NaN (ordered, quiet).
    fn lt(self, a: Self::V, b: Self::V) -> Self::M;
    /// Lane-wise `if m { a } else { b }`.
    fn select(self, m: Self::M, a: Self::V, b: Self::V) -> Self::V;
    /// Bitwise `a & b` of the lanes' bit patterns.
    fn and(self, a: Self::V, b: Self::V) -> Self::V;
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

/// A pulp token recur runs kernels on, with the per-tier hooks [`Simd`] is built from
/// where `pulp::Simd` has no primitive (or a slower one).
pub(crate) trait Isa: pulp::Simd {
    /// The tier.
    const LEVEL: Level;

    /// Rounds each lane to the nearest integer, ties to even.
    fn round_f32s(self, a: Self::f32s) -> Self::f32s;
    /// Rounds each lane to the nearest integer, ties to even.
    fn round_f64s(self, a: Self::f64s) -> Self::f64s;
    /// `a · 2^k` by an integer add into the exponent field (contract of [`Simd::ldexp`]).
    fn ldexp_f32s(self, a: Self::f32s, k: Self::f32s) -> Self::f32s;
    /// `a · 2^k` by an integer add into the exponent field (contract of [`Simd::ldexp`]).
    fn ldexp_f64s(self, a: Self::f64s, k: Self::f64s) -> Self::f64s;

    /// Lane-wise `if a < b { a } else { b }` (contract of [`Simd::min`]). The x86 tiers
    /// use `minps`, whose definition this is: LLVM does not turn the compare and blend
    /// intrinsics of this default into it.
    #[inline(always)]
    fn minps_f32s(self, a: Self::f32s, b: Self::f32s) -> Self::f32s {
        self.select_f32s(self.less_than_f32s(a, b), a, b)
    }
    /// As [`Isa::minps_f32s`].
    #[inline(always)]
    fn minps_f64s(self, a: Self::f64s, b: Self::f64s) -> Self::f64s {
        self.select_f64s(self.less_than_f64s(a, b), a, b)
    }
    /// Lane-wise `if a > b { a } else { b }` (contract of [`Simd::max`]; x86 `maxps`).
    #[inline(always)]
    fn maxps_f32s(self, a: Self::f32s, b: Self::f32s) -> Self::f32s {
        self.select_f32s(self.less_than_f32s(b, a), a, b)
    }
    /// As [`Isa::maxps_f32s`].
    #[inline(always)]
    fn maxps_f64s(self, a: Self::f64s, b: Self::f64s) -> Self::f64s {
        self.select_f64s(self.less_than_f64s(b, a), a, b)
    }

    /// The first `n` elements at `p` (`1 <= n <= lanes`), other lanes 0.
    ///
    /// # Safety
    /// `p..p + n` readable.
    #[inline(always)]
    unsafe fn load_first_f32s(self, p: *const f32, n: usize) -> Self::f32s {
        // SAFETY: forwarded contract.
        unsafe { load_partial::<f32, Self>(self, p, n) }
    }
    /// The first `n` elements at `p` (`1 <= n <= lanes`), other lanes 0.
    ///
    /// # Safety
    /// `p..p + n` readable.
    #[inline(always)]
    unsafe fn load_first_f64s(self, p: *const f64, n: usize) -> Self::f64s {
        // SAFETY: forwarded contract.
        unsafe { load_partial::<f64, Self>(self, p, n) }
    }
    /// Stores lanes `0..n` of `v` to `p` (`1 <= n <= lanes`).
    ///
    /// # Safety
    /// `p..p + n` writable.
    #[inline(always)]
    unsafe fn store_first_f32s(self, p: *mut f32, n: usize, v: Self::f32s) {
        // SAFETY: forwarded contract.
        unsafe { store_partial::<f32, Self>(self, p, n, v) }
    }
    /// Stores lanes `0..n` of `v` to `p` (`1 <= n <= lanes`).
    ///
    /// # Safety
    /// `p..p + n` writable.
    #[inline(always)]
    unsafe fn store_first_f64s(self, p: *mut f64, n: usize, v: Self::f64s) {
        // SAFETY: forwarded contract.
        unsafe { store_partial::<f64, Self>(self, p, n, v) }
    }
}

/// An element type with its vocabulary on every [`Isa`] token: the one definition of each
/// [`Simd`] primitive for that type, in terms of `pulp::Simd` (`f32s` / `f64s` vectors).
/// [`Simd<T>`] is then implemented for every token and every `T: SimdElement` at once, so
/// generic code needs only the bound `T: SimdElement`.
pub(crate) trait SimdElement: Float {
    /// The vector type on token `P`.
    type V<P: Isa>: Copy;
    /// The mask type on token `P`.
    type M<P: Isa>: Copy;
    /// See [`Simd::splat`].
    fn splat<P: Isa>(p: P, x: Self) -> Self::V<P>;
    /// See [`Simd::load_first`].
    ///
    /// # Safety
    /// As [`Simd::load_first`].
    unsafe fn load_first<P: Isa>(p: P, ptr: *const Self, n: usize) -> Self::V<P>;
    /// See [`Simd::store_first`].
    ///
    /// # Safety
    /// As [`Simd::store_first`].
    unsafe fn store_first<P: Isa>(p: P, ptr: *mut Self, n: usize, v: Self::V<P>);
    /// See [`Simd::as_vectors`].
    fn as_vectors<P: Isa>(x: &[Self]) -> (&[Self::V<P>], &[Self]);
    /// See [`Simd::as_vectors_mut`].
    fn as_vectors_mut<P: Isa>(x: &mut [Self]) -> (&mut [Self::V<P>], &mut [Self]);
    /// See [`Simd::load_tail`].
    fn load_tail<P: Isa>(p: P, x: &[Self]) -> Self::V<P>;
    /// See [`Simd::store_tail`].
    fn store_tail<P: Isa>(p: P, x: &mut [Self], v: Self::V<P>);
    /// See [`Simd::add`].
    fn add<P: Isa>(p: P, a: Self::V<P>, b: Self::V<P>) -> Self::V<P>;
    /// See [`Simd::sub`].
    fn sub<P: Isa>(p: P, a: Self::V<P>, b: Self::V<P>) -> Self::V<P>;
    /// See [`Simd::mul`].
    fn mul<P: Isa>(p: P, a: Self::V<P>, b: Self::V<P>) -> Self::V<P>;
    /// See [`Simd::div`].
    fn div<P: Isa>(p: P, a: Self::V<P>, b: Self::V<P>) -> Self::V<P>;
    /// See [`Simd::fma`].
    fn fma<P: Isa>(p: P, a: Self::V<P>, b: Self::V<P>, c: Self::V<P>) -> Self::V<P>;
    /// See [`Simd::fnma`].
    fn fnma<P: Isa>(p: P, a: Self::V<P>, b: Self::V<P>, c: Self::V<P>) -> Self::V<P>;
    /// See [`Simd::lt`].
    fn lt<P: Isa>(p: P, a: Self::V<P>, b: Self::V<P>) -> Self::M<P>;
    /// See [`Simd::select`].
    fn select<P: Isa>(p: P, m: Self::M<P>, a: Self::V<P>, b: Self::V<P>) -> Self::V<P>;
    /// See [`Simd::and`].
    fn and<P: Isa>(p: P, a: Self::V<P>, b: Self::V<P>) -> Self::V<P>;
    /// See [`Simd::xor`].
    fn xor<P: Isa>(p: P, a: Self::V<P>, b: Self::V<P>) -> Self::V<P>;
    /// See [`Simd::round`].
    fn round<P: Isa>(p: P, a: Self::V<P>) -> Self::V<P>;
    /// See [`Simd::ldexp`].
    fn ldexp<P: Isa>(p: P, a: Self::V<P>, k: Self::V<P>) -> Self::V<P>;
    /// See [`Simd::min`].
    fn min<P: Isa>(p: P, a: Self::V<P>, b: Self::V<P>) -> Self::V<P>;
    /// See [`Simd::max`].
    fn max<P: Isa>(p: P, a: Self::V<P>, b: Self::V<P>) -> Self::V<P>;
}

/// [`SimdElement`] for `$t`: each primitive once, for every token.
macro_rules! impl_simd_element {
    ($t:ident, $v:ident, $m:ident, $lanes:ident, $splat:ident, $add:ident, $sub:ident,
     $mul:ident, $div:ident, $fma:ident, $fnma:ident, $lt:ident,
     $select:ident, $and:ident, $xor:ident, $round:ident, $ldexp:ident, $min:ident, $max:ident,
     $load_first:ident, $store_first:ident, $as_simd:ident, $as_mut_simd:ident) => {
        impl SimdElement for $t {
            type V<P: Isa> = P::$v;
            type M<P: Isa> = P::$m;
            #[inline(always)]
            fn splat<P: Isa>(p: P, x: $t) -> P::$v {
                p.$splat(x)
            }
            #[inline(always)]
            unsafe fn load_first<P: Isa>(p: P, ptr: *const $t, n: usize) -> P::$v {
                debug_assert!((1..=P::$lanes).contains(&n));
                debug_assert_elements::<$t>(ptr, n);
                // SAFETY: forwarded contract.
                unsafe { p.$load_first(ptr, n) }
            }
            #[inline(always)]
            unsafe fn store_first<P: Isa>(p: P, ptr: *mut $t, n: usize, v: P::$v) {
                debug_assert!((1..=P::$lanes).contains(&n));
                debug_assert_elements::<$t>(ptr, n);
                // SAFETY: forwarded contract.
                unsafe { p.$store_first(ptr, n, v) }
            }
            #[inline(always)]
            fn as_vectors<P: Isa>(x: &[$t]) -> (&[P::$v], &[$t]) {
                P::$as_simd(x)
            }
            #[inline(always)]
            fn as_vectors_mut<P: Isa>(x: &mut [$t]) -> (&mut [P::$v], &mut [$t]) {
                P::$as_mut_simd(x)
            }
            #[inline(always)]
            fn load_tail<P: Isa>(p: P, x: &[$t]) -> P::$v {
                // pulp's AVX2 partial loads and stores jump into a table of inline
                // assembly, which Miri cannot run: under Miri the AVX2 tier takes the
                // portable copy through a buffer instead, so the rest of it can be checked.
                #[cfg(miri)]
                if P::LEVEL == Level::Avx2 {
                    // SAFETY: `x` is readable for `x.len() <= LANES` elements (the tail
                    // contract, asserted in `load_partial`).
                    return unsafe { load_partial::<$t, P>(p, x.as_ptr(), x.len()) };
                }
                if x.is_empty() {
                    return p.$splat(0.0);
                }
                // Not pulp's `partial_load`: on x86 it jumps into an out-of-line stub.
                // SAFETY: the `x.len()` (1..=LANES) elements of `x` are readable.
                unsafe { Self::load_first(p, x.as_ptr(), x.len()) }
            }
            #[inline(always)]
            fn store_tail<P: Isa>(p: P, x: &mut [$t], v: P::$v) {
                #[cfg(miri)]
                if P::LEVEL == Level::Avx2 {
                    // SAFETY: as in `load_tail`, for writes.
                    return unsafe { store_partial::<$t, P>(p, x.as_mut_ptr(), x.len(), v) };
                }
                if !x.is_empty() {
                    // SAFETY: the `x.len()` (1..=LANES) elements of `x` are writable.
                    unsafe { Self::store_first(p, x.as_mut_ptr(), x.len(), v) }
                }
            }
            #[inline(always)]
            fn add<P: Isa>(p: P, a: P::$v, b: P::$v) -> P::$v {
                p.$add(a, b)
            }
            #[inline(always)]
            fn sub<P: Isa>(p: P, a: P::$v, b: P::$v) -> P::$v {
                p.$sub(a, b)
            }
            #[inline(always)]
            fn mul<P: Isa>(p: P, a: P::$v, b: P::$v) -> P::$v {
                p.$mul(a, b)
            }
            #[inline(always)]
            fn div<P: Isa>(p: P, a: P::$v, b: P::$v) -> P::$v {
                p.$div(a, b)
            }
            #[inline(always)]
            fn fma<P: Isa>(p: P, a: P::$v, b: P::$v, c: P::$v) -> P::$v {
                p.$fma(a, b, c)
            }
            #[inline(always)]
            fn fnma<P: Isa>(p: P, a: P::$v, b: P::$v, c: P::$v) -> P::$v {
                p.$fnma(a, b, c)
            }
            #[inline(always)]
            fn lt<P: Isa>(p: P, a: P::$v, b: P::$v) -> P::$m {
                p.$lt(a, b)
            }
            #[inline(always)]
            fn select<P: Isa>(p: P, m: P::$m, a: P::$v, b: P::$v) -> P::$v {
                p.$select(m, a, b)
            }
            #[inline(always)]
            fn and<P: Isa>(p: P, a: P::$v, b: P::$v) -> P::$v {
                p.$and(a, b)
            }
            #[inline(always)]
            fn xor<P: Isa>(p: P, a: P::$v, b: P::$v) -> P::$v {
                p.$xor(a, b)
            }
            #[inline(always)]
            fn round<P: Isa>(p: P, a: P::$v) -> P::$v {
                p.$round(a)
            }
            #[inline(always)]
            fn ldexp<P: Isa>(p: P, a: P::$v, k: P::$v) -> P::$v {
                p.$ldexp(a, k)
            }
            #[inline(always)]
            fn min<P: Isa>(p: P, a: P::$v, b: P::$v) -> P::$v {
                p.$min(a, b)
            }
            #[inline(always)]
            fn max<P: Isa>(p: P, a: P::$v, b: P::$v) -> P::$v {
                p.$max(a, b)
            }
        }
    };
}

impl_simd_element!(
    f32,
    f32s,
    m32s,
    F32_LANES,
    splat_f32s,
    add_f32s,
    sub_f32s,
    mul_f32s,
    div_f32s,
    mul_add_f32s,
    negate_mul_add_f32s,
    less_than_f32s,
    select_f32s,
    and_f32s,
    xor_f32s,
    round_f32s,
    ldexp_f32s,
    minps_f32s,
    maxps_f32s,
    load_first_f32s,
    store_first_f32s,
    as_simd_f32s,
    as_mut_simd_f32s
);
impl_simd_element!(
    f64,
    f64s,
    m64s,
    F64_LANES,
    splat_f64s,
    add_f64s,
    sub_f64s,
    mul_f64s,
    div_f64s,
    mul_add_f64s,
    negate_mul_add_f64s,
    less_than_f64s,
    select_f64s,
    and_f64s,
    xor_f64s,
    round_f64s,
    ldexp_f64s,
    minps_f64s,
    maxps_f64s,
    load_first_f64s,
    store_first_f64s,
    as_simd_f64s,
    as_mut_simd_f64s
);

impl<P: Isa, T: SimdElement> Simd<T> for P {
    type V = <T as SimdElement>::V<P>;
    type M = <T as SimdElement>::M<P>;
    const LANES: usize = size_of::<<T as SimdElement>::V<P>>() / size_of::<T>();
    const LEVEL: Level = <P as Isa>::LEVEL;

    #[inline(always)]
    fn splat(self, x: T) -> Self::V {
        <T as SimdElement>::splat(self, x)
    }
    #[inline(always)]
    unsafe fn load(self, p: *const T) -> Self::V {
        debug_assert_elements::<T>(p, <Self as Simd<T>>::LANES);
        // SAFETY: the caller guarantees LANES readable elements, the size of the vector
        // type (a plain array of lanes: any bit pattern is valid).
        unsafe { p.cast::<Self::V>().read_unaligned() }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut T, v: Self::V) {
        debug_assert_elements::<T>(p, <Self as Simd<T>>::LANES);
        // SAFETY: the caller guarantees LANES writable elements.
        unsafe { p.cast::<Self::V>().write_unaligned(v) }
    }
    #[inline(always)]
    unsafe fn load_first(self, p: *const T, n: usize) -> Self::V {
        // SAFETY: forwarded contract.
        unsafe { <T as SimdElement>::load_first(self, p, n) }
    }
    #[inline(always)]
    unsafe fn store_first(self, p: *mut T, n: usize, v: Self::V) {
        // SAFETY: forwarded contract.
        unsafe { <T as SimdElement>::store_first(self, p, n, v) }
    }
    #[inline(always)]
    fn as_vectors(x: &[T]) -> (&[Self::V], &[T]) {
        <T as SimdElement>::as_vectors::<P>(x)
    }
    #[inline(always)]
    fn as_vectors_mut(x: &mut [T]) -> (&mut [Self::V], &mut [T]) {
        <T as SimdElement>::as_vectors_mut::<P>(x)
    }
    #[inline(always)]
    fn load_tail(self, x: &[T]) -> Self::V {
        <T as SimdElement>::load_tail(self, x)
    }
    #[inline(always)]
    fn store_tail(self, x: &mut [T], v: Self::V) {
        <T as SimdElement>::store_tail(self, x, v)
    }
    #[inline(always)]
    fn add(self, a: Self::V, b: Self::V) -> Self::V {
        <T as SimdElement>::add(self, a, b)
    }
    #[inline(always)]
    fn sub(self, a: Self::V, b: Self::V) -> Self::V {
        <T as SimdElement>::sub(self, a, b)
    }
    #[inline(always)]
    fn mul(self, a: Self::V, b: Self::V) -> Self::V {
        <T as SimdElement>::mul(self, a, b)
    }
    #[inline(always)]
    fn div(self, a: Self::V, b: Self::V) -> Self::V {
        <T as SimdElement>::div(self, a, b)
    }
    #[inline(always)]
    fn fma(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        <T as SimdElement>::fma(self, a, b, c)
    }
    #[inline(always)]
    fn fnma(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        <T as SimdElement>::fnma(self, a, b, c)
    }
    #[inline(always)]
    fn min(self, a: Self::V, b: Self::V) -> Self::V {
        <T as SimdElement>::min(self, a, b)
    }
    #[inline(always)]
    fn max(self, a: Self::V, b: Self::V) -> Self::V {
        <T as SimdElement>::max(self, a, b)
    }
    #[inline(always)]
    fn lt(self, a: Self::V, b: Self::V) -> Self::M {
        <T as SimdElement>::lt(self, a, b)
    }
    #[inline(always)]
    fn select(self, m: Self::M, a: Self::V, b: Self::V) -> Self::V {
        <T as SimdElement>::select(self, m, a, b)
    }
    #[inline(always)]
    fn and(self, a: Self::V, b: Self::V) -> Self::V {
        <T as SimdElement>::and(self, a, b)
    }
    #[inline(always)]
    fn xor(self, a: Self::V, b: Self::V) -> Self::V {
        <T as SimdElement>::xor(self, a, b)
    }
    #[inline(always)]
    fn round(self, a: Self::V) -> Self::V {
        <T as SimdElement>::round(self, a)
    }
    #[inline(always)]
    fn ldexp(self, a: Self::V, k: Self::V) -> Self::V {
        <T as SimdElement>::ldexp(self, a, k)
    }
}

/// A computation generic over the SIMD tier: the body of a kernel that needs only the
/// primitives of [`Simd`].
///
/// `with_simd` must be `#[inline(always)]` so that it is compiled inside the tier's
/// target-feature trampoline.
pub(crate) trait WithSimd<T: SimdElement> {
    /// What the computation returns.
    type Output;
    /// Runs the computation with token `s`.
    fn with_simd<S: Simd<T>>(self, s: S) -> Self::Output;
}

/// A computation handed the concrete token of the tier it runs on, for operations that
/// bind their own per-tier tables to the token type (the GEMM's micro-kernels). Each
/// method must be `#[inline(always)]`: it runs inside the tier's target features.
pub(crate) trait TierOp {
    /// What the computation returns.
    type Output;
    /// Runs on the portable tier.
    fn scalar(self, s: Scalar) -> Self::Output;
    /// Runs on AVX2+FMA.
    #[cfg(target_arch = "x86_64")]
    fn v3(self, s: V3) -> Self::Output;
    /// Runs on AVX-512.
    #[cfg(target_arch = "x86_64")]
    fn v4(self, s: V4) -> Self::Output;
    /// Runs on NEON.
    #[cfg(target_arch = "aarch64")]
    fn neon(self, s: Neon) -> Self::Output;
}

/// Runs `op` on the tier `level`, or on the best lower tier this CPU has, with that tier's
/// target features enabled for its (inlined) body.
#[inline(always)]
pub(crate) fn dispatch<Op: TierOp>(level: Level, op: Op) -> Op::Output {
    /// `op` on token `S`, as pulp's `vectorize` takes it.
    struct On<Op, S>(Op, S);
    macro_rules! on {
        ($tok:ty, $method:ident) => {
            impl<Op: TierOp> pulp::NullaryFnOnce for On<Op, $tok> {
                type Output = Op::Output;
                #[inline(always)]
                fn call(self) -> Op::Output {
                    self.0.$method(self.1)
                }
            }
        };
    }
    #[cfg(target_arch = "x86_64")]
    {
        on!(V3, v3);
        on!(V4, v4);
        if level >= Level::Avx512 {
            if let Some(token) = V4::try_new() {
                return token.vectorize(On(op, token));
            }
        }
        if level >= Level::Avx2 {
            if let Some(token) = V3::try_new() {
                return token.vectorize(On(op, token));
            }
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        on!(Neon, neon);
        if level >= Level::Neon {
            if let Some(token) = Neon::try_new() {
                return token.vectorize(On(op, token));
            }
        }
    }
    let _ = level;
    op.scalar(Scalar)
}

/// [`dispatch`] of a [`WithSimd`] body.
#[inline(always)]
pub(crate) fn dispatch_op<T: SimdElement, Op: WithSimd<T>>(level: Level, op: Op) -> Op::Output {
    dispatch(level, Generic(op, PhantomData))
}

/// A [`WithSimd`] body as a [`TierOp`].
struct Generic<T, Op>(Op, PhantomData<T>);

/// Implements [`TierOp`] for a wrapper `$ty` whose field `.0` is a computation, by calling
/// `self.0.$method(token)` on every tier of the architecture: the one list of tiers besides
/// [`dispatch`], shared by [`dispatch_op`]'s wrapper and the GEMM's.
macro_rules! forward_tier_op {
    (impl[$($gen:tt)*] for $ty:ty, output $out:ty, via $method:ident) => {
        impl<$($gen)*> $crate::simd::TierOp for $ty {
            type Output = $out;
            #[inline(always)]
            fn scalar(self, s: $crate::simd::Scalar) -> $out {
                self.0.$method(s)
            }
            #[cfg(target_arch = "x86_64")]
            #[inline(always)]
            fn v3(self, s: $crate::simd::V3) -> $out {
                self.0.$method(s)
            }
            #[cfg(target_arch = "x86_64")]
            #[inline(always)]
            fn v4(self, s: $crate::simd::V4) -> $out {
                self.0.$method(s)
            }
            #[cfg(target_arch = "aarch64")]
            #[inline(always)]
            fn neon(self, s: $crate::simd::Neon) -> $out {
                self.0.$method(s)
            }
        }
    };
}
pub(crate) use forward_tier_op;

forward_tier_op!(impl[T: SimdElement, Op: WithSimd<T>] for Generic<T, Op>, output Op::Output, via with_simd);

/// The preconditions of an access to `n` consecutive elements at `p` that a pointer can
/// show: not null, aligned for `T` (every pointer the kernels derive comes from a slice;
/// a misaligned one means a wrong cast or offset, and a misaligned typed access is
/// undefined behaviour), and `n` elements that span no more than `isize::MAX` bytes (the
/// bound of any allocation, so of `p.add(n)`). Whether the memory is in bounds a pointer
/// cannot tell: AddressSanitizer (`.ci/run`) and Miri check that. Debug builds only.
#[inline(always)]
pub(crate) fn debug_assert_elements<T>(p: *const T, n: usize) {
    debug_assert!(!p.is_null(), "null pointer for {n} elements");
    debug_assert!(
        p.is_aligned(),
        "pointer {p:?} is not aligned to {} bytes",
        align_of::<T>()
    );
    debug_assert!(
        n.checked_mul(size_of::<T>())
            .is_some_and(|b| b <= isize::MAX as usize),
        "{n} elements exceed any allocation"
    );
}

/// [`debug_assert_elements`] for `n <= lanes` elements at stride `stride`: the span from
/// the first to the last, `(n − 1)·stride + 1` elements, within `isize::MAX` bytes.
#[inline(always)]
pub(crate) fn debug_assert_strided<T>(p: *const T, stride: usize, n: usize, lanes: usize) {
    debug_assert!(n <= lanes, "{n} elements for a vector of {lanes} lanes");
    let span = match n {
        0 => Some(0),
        _ => (n - 1).checked_mul(stride).and_then(|e| e.checked_add(1)),
    };
    match span {
        Some(span) => debug_assert_elements(p, span),
        None => debug_assert!(false, "stride {stride} x {n} elements overflows usize"),
    }
}

/// Loads `n <= LANES` elements from `p` into a vector whose other lanes are 0, through a
/// local buffer (the portable partial load).
///
/// # Safety
/// `p..p + n` must be valid for reads.
#[inline(always)]
pub(crate) unsafe fn load_partial<T: SimdElement, S: Simd<T>>(s: S, p: *const T, n: usize) -> S::V {
    debug_assert!(n <= S::LANES);
    debug_assert_elements::<T>(p, n);
    let mut buf = [T::ZERO; 16];
    // SAFETY: the caller guarantees `n` readable elements at `p`; `buf` has room for
    // `n <= LANES <= 16` and does not overlap `p`.
    unsafe { std::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n) };
    // SAFETY: `buf` holds 16 >= LANES elements.
    unsafe { s.load(buf.as_ptr()) }
}

/// Stores the first `n <= LANES` lanes of `v` to `p` through a local buffer.
///
/// # Safety
/// `p..p + n` must be valid for writes.
#[inline(always)]
pub(crate) unsafe fn store_partial<T: SimdElement, S: Simd<T>>(s: S, p: *mut T, n: usize, v: S::V) {
    debug_assert!(n <= S::LANES);
    debug_assert_elements::<T>(p, n);
    let mut buf = [T::ZERO; 16];
    // SAFETY: `buf` holds 16 >= LANES elements.
    unsafe { s.store(buf.as_mut_ptr(), v) };
    // SAFETY: the caller guarantees `n` writable elements at `p`; `buf` is local.
    unsafe { std::ptr::copy_nonoverlapping(buf.as_ptr(), p, n) };
}

/// Loads `n <= LANES` elements at stride `stride` (missing lanes are 0).
///
/// # Safety
/// `p + l * stride` must be readable for `l < n`.
#[inline(always)]
pub(crate) unsafe fn gather<T: SimdElement, S: Simd<T>>(
    s: S,
    p: *const T,
    stride: usize,
    n: usize,
) -> S::V {
    debug_assert_strided::<T>(p, stride, n, S::LANES);
    if stride == 1 {
        // SAFETY: n <= LANES contiguous readable elements.
        return unsafe {
            if n == S::LANES {
                s.load(p)
            } else {
                s.load_first(p, n)
            }
        };
    }
    let mut buf = [T::ZERO; 16];
    for (l, slot) in buf.iter_mut().enumerate().take(n) {
        // SAFETY: l < n.
        *slot = unsafe { *p.add(l * stride) };
    }
    // SAFETY: `buf` holds 16 >= LANES elements.
    unsafe { s.load(buf.as_ptr()) }
}

/// Stores the first `n <= LANES` lanes of `v` at stride `stride`.
///
/// # Safety
/// `p + l * stride` must be writable for `l < n`.
#[inline(always)]
pub(crate) unsafe fn scatter<T: SimdElement, S: Simd<T>>(
    s: S,
    p: *mut T,
    stride: usize,
    n: usize,
    v: S::V,
) {
    debug_assert_strided::<T>(p, stride, n, S::LANES);
    if stride == 1 {
        // SAFETY: n <= LANES contiguous writable elements.
        unsafe {
            if n == S::LANES {
                s.store(p, v)
            } else {
                s.store_first(p, n, v)
            }
        };
        return;
    }
    let mut buf = [T::ZERO; 16];
    // SAFETY: `buf` holds 16 >= LANES elements.
    unsafe { s.store(buf.as_mut_ptr(), v) };
    for (l, &x) in buf.iter().enumerate().take(n) {
        // SAFETY: l < n.
        unsafe { *p.add(l * stride) = x };
    }
}

/// Defines an operation's entry point: `fn $name<T: Float>(level, op: $op<'_, T>) -> $out`,
/// which sorts `op` by element type ([`crate::element::Family`]) and calls one of two
/// non-generic `#[inline(never)]` functions that run `$runner(level, op)` for `f32` or
/// `f64`. Those two are compiled once, in recur-kernels; a downstream crate that calls the
/// public generic function instantiates only the sorting, not the kernels (which made each
/// test binary and doctest take minutes to build).
macro_rules! entry_point {
    ($vis:vis fn $name:ident($op:ident<$($lt:lifetime),+>) -> $out:ty, via $runner:path) => {
        $vis fn $name<$($lt,)+ T: $crate::element::Float>(
            level: $crate::simd::dispatch::Level,
            op: $op<$($lt,)+ T>,
        ) -> $out {
            use $crate::element::{Family, Typed};
            struct Fam<$($lt),+>(std::marker::PhantomData<($(&$lt (),)+)>);
            impl<$($lt),+> Family for Fam<$($lt),+> {
                type Of<U: $crate::element::Float> = $op<$($lt,)+ U>;
            }
            #[inline(never)]
            fn for_f32<$($lt),+>(level: $crate::simd::dispatch::Level, op: $op<$($lt,)+ f32>) -> $out {
                $runner(level, op)
            }
            #[inline(never)]
            fn for_f64<$($lt),+>(level: $crate::simd::dispatch::Level, op: $op<$($lt,)+ f64>) -> $out {
                $runner(level, op)
            }
            match <T as $crate::element::private::Sealed>::typed::<Fam<$($lt),+>>(op) {
                Typed::F32(op) => for_f32(level, op),
                Typed::F64(op) => for_f64(level, op),
            }
        }
    };
}
pub(crate) use entry_point;

#[cfg(test)]
mod tests {
    use super::*;
    use dispatch::{available_levels, with_level};

    /// Runs the primitives vmath relies on, lane by lane, on the tier `with_level` picks.
    struct Primitives<'a, T> {
        a: &'a [T],
        b: &'a [T],
        out: &'a mut Vec<[T; 5]>,
    }

    impl<T: SimdElement> WithSimd<T> for Primitives<'_, T> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: Simd<T>>(self, s: S) {
            for (&a, &b) in self.a.iter().zip(self.b) {
                let (va, vb) = (s.splat(a), s.splat(b));
                let lane0 = |v: S::V| {
                    let mut buf = [T::ZERO; 16];
                    // SAFETY: `buf` holds 16 >= LANES elements.
                    unsafe { s.store(buf.as_mut_ptr(), v) };
                    buf[0]
                };
                let m = s.lt(va, vb);
                self.out.push([
                    lane0(s.select(m, s.splat(T::ONE), s.splat(T::ZERO))),
                    lane0(s.and(va, vb)),
                    lane0(s.xor(va, vb)),
                    lane0(s.round(va)),
                    lane0(s.ldexp(va, s.round(vb))),
                ]);
            }
        }
    }

    fn primitives_match_scalar_semantics<T: SimdElement>(bits: impl Fn(T) -> u64) {
        let vals: Vec<f64> = vec![
            0.0, -0.0, 0.5, 1.5, 2.5, -2.5, 3.7, -3.2, 1e6, 0.75, 20.0, -20.0, 100.0,
        ];
        let vals: Vec<T> = vals.into_iter().map(T::from_f64).collect();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for &x in &vals {
            for &y in &vals {
                a.push(x);
                b.push(y);
            }
        }
        for level in available_levels() {
            let mut out = Vec::new();
            with_level(level, || {
                dispatch_op(
                    dispatch::level(),
                    Primitives {
                        a: &a,
                        b: &b,
                        out: &mut out,
                    },
                )
            });
            for ((&x, &y), got) in a.iter().zip(&b).zip(&out) {
                let ctx = format!("{} {x:?} {y:?}", level.name());
                assert_eq!(got[0], if x < y { T::ONE } else { T::ZERO }, "lt {ctx}");
                assert_eq!(bits(got[1]), bits(x) & bits(y), "and {ctx}");
                assert_eq!(bits(got[2]), bits(x) ^ bits(y), "xor {ctx}");
                let r = x.to_f64().round_ties_even();
                assert_eq!(got[3].to_f64(), r, "round {ctx}");
                let k = y.to_f64().round_ties_even();
                if x != T::ZERO && k.abs() <= 100.0 {
                    assert_eq!(
                        got[4].to_f64(),
                        x.to_f64() * 2f64.powi(k as i32),
                        "ldexp {ctx}"
                    );
                }
            }
        }
    }

    #[test]
    fn primitives_on_every_tier() {
        primitives_match_scalar_semantics::<f32>(|v| u64::from(v.to_bits()));
        primitives_match_scalar_semantics::<f64>(f64::to_bits);
    }

    // The debug assertions of the load / store helpers (what the ASan stage of `.ci/run`,
    // built with debug assertions, enforces on every access the kernels make).
    #[cfg(debug_assertions)]
    #[test]
    #[should_panic(expected = "is not aligned to 4 bytes")]
    fn a_misaligned_element_pointer_is_caught() {
        let words = [0u32; 4];
        let misaligned = words.as_ptr().cast::<u8>().wrapping_add(1).cast::<f32>();
        debug_assert_elements(misaligned, 1);
    }

    #[cfg(debug_assertions)]
    #[test]
    #[should_panic(expected = "overflows usize")]
    fn a_stride_that_overflows_is_caught() {
        let x = [0.0f64; 2];
        debug_assert_strided(x.as_ptr(), usize::MAX / 2 + 1, 3, 4);
    }

    #[cfg(debug_assertions)]
    #[test]
    #[should_panic(expected = "lanes")]
    fn more_elements_than_lanes_are_caught() {
        let x = [0.0f64; 32];
        debug_assert_strided(x.as_ptr(), 1, 17, 16);
    }

    #[test]
    fn valid_element_pointers_pass() {
        let x = [0.0f32; 8];
        debug_assert_elements(x.as_ptr(), 8);
        debug_assert_elements(x[3..].as_ptr(), 5);
        debug_assert_strided(x.as_ptr(), 3, 3, 8);
        debug_assert_strided(x.as_ptr(), usize::MAX, 1, 8);
        debug_assert_strided(x.as_ptr(), 7, 0, 8);
    }
}
