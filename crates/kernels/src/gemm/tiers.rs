//! The GEMM's kernel trait, [`Kernel`], and its per-tier table: block sizes per tier and
//! element type, bound to the micro-kernel instantiations; and the dispatch of a GEMM
//! computation onto the tier's token ([`run_kernel`]).
//!
//! Legend: `MR x NR` is the register tile of the micro-kernel (C rows x C columns; the
//! vectors run along the columns, `NR = NV * LANES`); `KC` cuts the reduction dimension so
//! that one packed B micro-panel (`KC x NR`) stays close to the core (it is read once per A
//! micro-panel); `MC` cuts the rows of A so that the packed A block (`MC x KC`) stays in
//! L2; `NC` cuts the columns of B so that the packed B block (`KC x NC`) stays in L3.
//!
//! `KC` is a constant of the tier and element type: it fixes where the reduction is cut,
//! and so the rounding of every element, which must not depend on the machine a tier runs
//! on. `MC` and `NC` change no result and are computed from the caches the CPU reports
//! ([`Blocking`]).

use super::kernel::{microkernel, tanh_tile_in_place, BCopy, TileDst};
use super::loops::{gemm_block, Problem};
use crate::simd::dispatch::{cache_sizes, CacheSizes, Level};
use crate::simd::{dispatch, forward_tier_op, Scalar, Simd, TierOp};
use crate::vmath::VMath;
use std::marker::PhantomData;
use std::ops::Range;

/// Problems with `m·n·k` up to this (and `k <= KC`, B rows with unit stride) skip
/// packing: the micro-kernels read A and B in place, with no packing buffers.
pub(crate) const SMALL_MAX_MNK: usize = 64 * 64 * 64;

/// [`SMALL_MAX_MNK`] (chosen with `benches/gemm.rs`: at `sq-64` the small path runs at
/// matrixmultiply's rate; above, packing pays).
#[inline(always)]
pub(crate) fn small_max_mnk() -> usize {
    SMALL_MAX_MNK
}

/// Most rows of a tile of [`Kernel::kernel_wide`].
pub(crate) const WIDE_ROWS: usize = 4;

/// Vectors of C's rows per group of the column path (a C of one column: `Kernel::column_rows`
/// and the loops' `gemm_column`): 8 independent FMA chains, enough to keep two FMA pipes
/// of 4 cycles' latency busy.
pub(crate) const COLUMN_NV: usize = 8;

/// Vectors per row of the wide tile with `rows` rows (`1..=WIDE_ROWS`): 12 accumulators
/// whatever the row count, as many as the AVX2 tile (`6 x 2`) has. A C of at most four
/// rows has one row panel, and the `rows x NR` tile of [`Kernel::kernel_b_direct`] holds
/// `2 * rows` accumulators: at one row, two FMA chains where the two FMA pipes with a
/// latency of 4 cycles need 8 to run full.
pub(crate) const WIDE_NV: [usize; WIDE_ROWS] = [12, 6, 4, 3];

/// Columns of the wide tile with `rows` rows, for a tier with `lanes` lanes.
#[inline(always)]
pub(crate) fn wide_cols(rows: usize, lanes: usize) -> usize {
    WIDE_NV[rows - 1] * lanes
}

/// A SIMD tier with its GEMM blocking and micro-kernels.
///
/// Micro-kernel contract (every entry point): compute the `rows x NR` product of an A
/// micro-panel (`rows <= MR` rows, `kc` columns) and a B micro-panel (`kc` rows), each
/// element reduced over `p = 0..kc` by FMAs into a zero accumulator (so the result does
/// not depend on `rows`, on the layout of the operands or on which entry point ran), and
/// store `C ← f(alpha·AB + beta·C)` into the `dst.mr x dst.nr` tile described by `dst` (C
/// is not read when `dst.read_c` is false). `MR` and `NR` are unrolled completely and `k`
/// 4x. Each tier compiles its kernels as separate `#[target_feature]` functions (one per
/// row count), so the loop nest calls them instead of inlining a dozen copies.
pub(crate) trait Kernel<T: VMath>: Simd<T> {
    /// Rows of the register tile (the largest `rows` of a micro-kernel call).
    const MR: usize;
    /// Columns of the register tile (a multiple of `LANES`).
    const NR: usize;
    /// Depth of one packed block (reduction dimension).
    const KC: usize;

    /// Packed A (element `(i, p)` at `a + p * MR + i`), packed B (element `(p, j)` at
    /// `b + p * NR + j`, zero-padded to `NR` columns).
    ///
    /// # Safety
    /// `1 <= rows <= MR`, `dst.mr <= rows`, `dst.nr <= NR`; the A elements for `i < rows`,
    /// `p < kc` and the `kc x NR` B micro-panel readable; `dst` as documented on
    /// [`TileDst`].
    unsafe fn kernel_packed(
        self,
        rows: usize,
        kc: usize,
        a: *const T,
        b: *const T,
        dst: &TileDst<T>,
    );

    /// `tanh` in place on the `mr x nr` tile of C at `c` (element `(i, j)` at
    /// `c + i * rsc + j * csc`): the second pass of the tanh epilogues, compiled once per
    /// tier and element type.
    ///
    /// # Safety
    /// The tile's elements must be readable and writable.
    unsafe fn tanh_tile(self, c: *mut T, rsc: usize, csc: usize, mr: usize, nr: usize);

    /// [`gemm_block`] of `rows x cols` compiled with the tier's target features: how a
    /// rayon task re-enters the tier on its worker thread.
    fn block(self, p: &Problem<'_, T>, rows: Range<usize>, cols: Range<usize>);

    /// Packed A (element `(i, p)` at `a + p * MR + i`, as [`Kernel::kernel_packed`]), B
    /// read in place: element `(p, j)` at `b + p * rsb + j` for `j < dst.nr` only (the
    /// last vector of each B row is loaded with a mask). The skinny-A path: B is not
    /// packed where too few A panels would reuse a packed copy to pay for it.
    ///
    /// # Safety
    /// `1 <= rows <= MR`, `dst.mr <= rows`, `1 <= dst.nr <= NR`; the packed A elements for
    /// `i < rows`, `p < kc` and the B elements `(p, j)`, `p < kc`, `j < dst.nr`
    /// readable; `dst` as documented on [`TileDst`].
    unsafe fn kernel_b_direct(
        self,
        rows: usize,
        kc: usize,
        a: *const T,
        b: *const T,
        rsb: usize,
        dst: &TileDst<T>,
    );

    /// A packed or in place (element `(i, p)` at `a + i * rsa + p * csa`), B read in place
    /// with all `NR` columns (element `(p, j)` at `b + p * rsb + j`, the row `copy.ahead`
    /// ahead prefetched), and each B row copied, as the k loop loads it, to `copy.to + p *
    /// NR`: the packed micro-panel that [`Kernel::kernel_packed`] reads. The first row
    /// panel of a block packs B this way, so the block needs no separate packing pass.
    ///
    /// # Safety
    /// `1 <= rows <= MR`, `dst.mr <= rows`, `dst.nr <= NR`; the A elements for `i < rows`,
    /// `p < kc` and the B elements `(p, j)`, `p < kc`, `j < NR` readable; `copy.to ..
    /// copy.to + kc * NR` writable and disjoint from A, B and C; `dst` as documented on
    /// [`TileDst`].
    #[allow(clippy::too_many_arguments)]
    unsafe fn kernel_copying_b(
        self,
        rows: usize,
        kc: usize,
        a: *const T,
        rsa: usize,
        csa: usize,
        b: *const T,
        rsb: usize,
        copy: BCopy<T>,
        dst: &TileDst<T>,
    );

    /// A and B both read in place: A element `(i, p)` at `a + i * rsa + p * csa`, B
    /// element `(p, j)` at `b + p * rsb + j` for `j < dst.nr` only (no padding needed:
    /// the last vector of each B row is loaded with a mask).
    ///
    /// # Safety
    /// As [`Kernel::kernel_packed`], with `1 <= dst.nr <= NR` and the B elements `(p, j)`,
    /// `p < kc`, `j < dst.nr` readable.
    #[allow(clippy::too_many_arguments)]
    unsafe fn kernel_direct(
        self,
        rows: usize,
        kc: usize,
        a: *const T,
        rsa: usize,
        csa: usize,
        b: *const T,
        rsb: usize,
        dst: &TileDst<T>,
    );

    /// The k loop of the column path ([`super::loops`]' `gemm_column`) over a row-major A
    /// (unit column stride), with the transposition done in registers: `acc[v]` lane `l`
    /// accumulates row `r = v * LANES + l` of C (`r < h`), the products `A(r, p) · b(p)`
    /// for `p = 0..kc` in order, one FMA each, into the value it holds, from A element
    /// `(r, p)` at `a + r * rsa + p` and `b(p)` at `b + p * rsb`; lanes of rows `h..`
    /// hold unspecified values. Returns `false`, having done nothing, on a tier without
    /// one (the caller then transposes A through a buffer).
    ///
    /// # Safety
    /// `1 <= h <= COLUMN_NV * LANES`; the A elements for `r < h`, `p < kc` and the B
    /// elements for `p < kc` readable.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    unsafe fn column_rows(
        self,
        kc: usize,
        a: *const T,
        rsa: usize,
        h: usize,
        b: *const T,
        rsb: usize,
        acc: &mut [Self::V; COLUMN_NV],
    ) -> bool {
        let _ = (kc, a, rsa, h, b, rsb, acc);
        false
    }

    /// A tile of `rows <= WIDE_ROWS` rows and [`wide_cols`]`(rows, LANES)` columns, with
    /// A packed or in place (element `(i, p)` at `a + i * rsa + p * csa`) and B read in
    /// place (element `(p, j)` at `b + p * rsb + j`, the rows ahead prefetched): the tile
    /// of a C with one row panel of at most four rows, which keeps as many FMA chains in
    /// flight as the `MR x NR` tile.
    ///
    /// # Safety
    /// `1 <= rows <= WIDE_ROWS`, `dst.mr == rows`, `dst.nr == wide_cols(rows, LANES)`;
    /// the A elements for `i < rows`, `p < kc` and the B elements `(p, j)`, `p < kc`, `j <
    /// dst.nr` readable; `dst` as documented on [`TileDst`].
    #[allow(clippy::too_many_arguments)]
    unsafe fn kernel_wide(
        self,
        rows: usize,
        kc: usize,
        a: *const T,
        rsa: usize,
        csa: usize,
        b: *const T,
        rsb: usize,
        dst: &TileDst<T>,
    );

    /// A tile of two row panels and one vector: `rows` in `MR + 1 ..= 2·MR`, `dst.nr <=
    /// LANES` columns (a right edge of C one vector wide or less), A read in place
    /// (element `(i, p)` at `a + i * rsa + p`) and B a packed micro-panel (element `(p, j)`
    /// at `b + p * NR + j`, zero-padded to `NR`). A one-vector tile of `MR` rows has `MR`
    /// FMA chains, too few to keep both FMA pipes busy; this one has twice as many. Each
    /// element of C is the same chain of FMAs as in [`Kernel::kernel_direct`]: the same
    /// bits. Returns false, having done nothing, where the tier has no tile of `rows` rows
    /// (the caller then runs the two panels one at a time).
    ///
    /// # Safety
    /// `dst.mr == rows`, `1 <= dst.nr <= LANES`; the A elements for `i < rows`, `p < kc`
    /// and the `kc x NR` B micro-panel readable; `dst` as documented on [`TileDst`].
    unsafe fn kernel_edge_pair(
        self,
        rows: usize,
        kc: usize,
        a: *const T,
        rsa: usize,
        b: *const T,
        dst: &TileDst<T>,
    ) -> bool;
}

/// The packed-block sizes of a tier on this CPU: `mc` rows of A and `nc` columns of B.
///
/// The BLIS analytical model (Low, Igual, Smith, Quintana-Ortí, "Analytical modeling is
/// enough for high-performance BLIS", 2016): the packed A block (`mc x KC`) lives in L2,
/// the packed B block (`KC x nc`) in L3, each within a share of its cache that leaves room
/// for what streams through it (B micro-panels and C tiles through L2, A blocks and C
/// through L3). With `s` the element size:
///
/// ```text
/// mc = clamp(⌊(L2 / 4) / (KC·s·MR)⌋·MR,  MR .. MC_MAX)       packed A block in L2
/// nc = clamp(⌊(L3 / 2) / (KC·s·NR)⌋·NR,  NR .. NC_MAX)       packed B block in L3
/// ```
///
/// `L2` is one core's L2 and `L3` one logical CPU's share of the last-level cache (L2
/// again on a CPU without L3), as [`cache_sizes`] reports them. The L2 share is a quarter,
/// not the model's "all ways but the ones B and C need": on AMD Zen 3 (512 KiB L2) an A
/// block of half the L2 (`mc = 252` for f32 on the AVX2 tier) ran 512³ and 256³ 4–6%
/// slower than a quarter (`mc = 126`), while a quarter matched the best fixed `mc` (144)
/// measured there before. On the CPUs measured so far this gives: Zen 3 f32 AVX2 `mc =
/// 126`; Zen 4 (1 MiB L2) f32 AVX-512 `mc = 168`; Xeon (2 MiB L2) `mc = 336`, where `mc`
/// from 144 to 960 measured the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Blocking {
    pub mc: usize,
    pub nc: usize,
}

/// Largest `mc` of [`Blocking`] (bounds the A packing buffer: 1.5 MiB at depth 384).
const MC_MAX: usize = 1024;
/// Largest `nc` of [`Blocking`] (bounds the B packing buffer: 12 MiB at depth 384).
const NC_MAX: usize = 8192;

impl Blocking {
    /// The blocking of tier `S` on a CPU with `caches`.
    #[inline]
    pub(crate) fn for_caches<T: VMath, S: Kernel<T>>(caches: &CacheSizes) -> Self {
        let bytes = S::KC * std::mem::size_of::<T>();
        let fit = |budget: usize, unit: usize, max: usize| {
            let n = budget / bytes / unit * unit;
            n.clamp(unit, max / unit * unit)
        };
        let l3 = if caches.l3 > 0 { caches.l3 } else { caches.l2 };
        Blocking {
            mc: fit(caches.l2 / 4, S::MR, MC_MAX),
            nc: fit(l3 / 2, S::NR, NC_MAX),
        }
    }

    /// The blocking of tier `S` on this CPU.
    #[inline]
    pub(crate) fn new<T: VMath, S: Kernel<T>>() -> Self {
        Self::for_caches::<T, S>(&cache_sizes())
    }
}

macro_rules! tier {
    ($tok:ty, $t:ty, [$($feat:meta)?], mr = $mr:literal, nv = $nv:literal, kc = $kc:expr,
     rows = [$($r:literal),*], nvs = [$($v:literal),*], pairs = [$($pr:literal),*]
     $(, column = $col:path)?) => {
        impl Kernel<$t> for $tok {
            const MR: usize = $mr;
            const NR: usize = $nv * <$tok as Simd<$t>>::LANES;
            const KC: usize = $kc;

            $(
            #[inline(always)]
            unsafe fn column_rows(
                self,
                kc: usize,
                a: *const $t,
                rsa: usize,
                h: usize,
                b: *const $t,
                rsb: usize,
                acc: &mut [Self::V; COLUMN_NV],
            ) -> bool {
                // SAFETY: forwarded contract of `Kernel::column_rows`; the token proves
                // the target features of `$col`.
                unsafe { $col(self, kc, a, rsa, h, b, rsb, acc) };
                true
            }
            )?

            #[inline(always)]
            unsafe fn kernel_packed(
                self,
                rows: usize,
                kc: usize,
                a: *const $t,
                b: *const $t,
                dst: &TileDst<$t>,
            ) {
                // Both strides are compile-time constants here, so the broadcasts and the
                // B loads use constant offsets from two pointers (no address arithmetic
                // in the loop).
                $(#[$feat])?
                unsafe fn k<const R: usize>(
                    s: $tok,
                    kc: usize,
                    a: *const $t,
                    b: *const $t,
                    dst: &TileDst<$t>,
                ) {
                    const NR: usize = $nv * <$tok as Simd<$t>>::LANES;
                    const L: usize = <$tok as Simd<$t>>::LANES;
                    // SAFETY: forwarded contract of `Kernel::kernel_packed`.
                    unsafe {
                        microkernel::<$t, $tok, R, $nv, true, false, false>(
                            s, kc, a, 1, $mr, b, NR, L, BCopy::NONE, dst,
                        )
                    }
                }
                debug_assert!((1..=$mr).contains(&rows) && dst.mr <= rows);
                // SAFETY: forwarded contract; the token proves the target features of `k`.
                unsafe {
                    match rows {
                        $($r => k::<$r>(self, kc, a, b, dst),)*
                        _ => k::<$mr>(self, kc, a, b, dst),
                    }
                }
            }

            #[inline(always)]
            fn block(self, p: &Problem<'_, $t>, rows: Range<usize>, cols: Range<usize>) {
                $(#[$feat])?
                unsafe fn k(s: $tok, p: &Problem<'_, $t>, rows: Range<usize>, cols: Range<usize>) {
                    gemm_block(s, p, rows, cols)
                }
                // SAFETY: the token proves the target features of `k`.
                unsafe { k(self, p, rows, cols) }
            }

            #[inline(always)]
            unsafe fn tanh_tile(self, c: *mut $t, rsc: usize, csc: usize, mr: usize, nr: usize) {
                $(#[$feat])?
                unsafe fn k(s: $tok, c: *mut $t, rsc: usize, csc: usize, mr: usize, nr: usize) {
                    // SAFETY: forwarded contract of `Kernel::tanh_tile`.
                    unsafe { tanh_tile_in_place(s, c, rsc, csc, mr, nr) }
                }
                // SAFETY: forwarded contract; the token proves the target features of `k`.
                unsafe { k(self, c, rsc, csc, mr, nr) }
            }

            #[inline(always)]
            unsafe fn kernel_b_direct(
                self,
                rows: usize,
                kc: usize,
                a: *const $t,
                b: *const $t,
                rsb: usize,
                dst: &TileDst<$t>,
            ) {
                $(#[$feat])?
                unsafe fn k<const R: usize>(
                    s: $tok,
                    kc: usize,
                    a: *const $t,
                    b: *const $t,
                    rsb: usize,
                    dst: &TileDst<$t>,
                ) {
                    const L: usize = <$tok as Simd<$t>>::LANES;
                    let nv = dst.nr.div_ceil(L);
                    let last = dst.nr - (nv - 1) * L;
                    // SAFETY: forwarded contract of `Kernel::kernel_b_direct`; A's strides
                    // are the packed layout's constants, B row `p` holds
                    // (nv - 1) * L + last = dst.nr readable elements.
                    unsafe {
                        match nv {
                            $($v => microkernel::<$t, $tok, R, $v, true, true, false>(
                                s, kc, a, 1, $mr, b, rsb, last, BCopy::NONE, dst
                            ),)*
                            _ => microkernel::<$t, $tok, R, $nv, true, true, false>(
                                s, kc, a, 1, $mr, b, rsb, last, BCopy::NONE, dst
                            ),
                        }
                    }
                }
                debug_assert!((1..=$mr).contains(&rows) && dst.mr <= rows);
                debug_assert!((1..=<Self as Kernel<$t>>::NR).contains(&dst.nr));
                // SAFETY: forwarded contract; the token proves the target features of `k`.
                unsafe {
                    match rows {
                        $($r => k::<$r>(self, kc, a, b, rsb, dst),)*
                        _ => k::<$mr>(self, kc, a, b, rsb, dst),
                    }
                }
            }

            #[inline(always)]
            unsafe fn kernel_copying_b(
                self,
                rows: usize,
                kc: usize,
                a: *const $t,
                rsa: usize,
                csa: usize,
                b: *const $t,
                rsb: usize,
                copy: BCopy<$t>,
                dst: &TileDst<$t>,
            ) {
                $(#[$feat])?
                #[allow(clippy::too_many_arguments)]
                unsafe fn k<const R: usize>(
                    s: $tok,
                    kc: usize,
                    a: *const $t,
                    rsa: usize,
                    csa: usize,
                    b: *const $t,
                    rsb: usize,
                    copy: BCopy<$t>,
                    dst: &TileDst<$t>,
                ) {
                    const L: usize = <$tok as Simd<$t>>::LANES;
                    // SAFETY: forwarded contract of `Kernel::kernel_copying_b` (B rows of
                    // NR = $nv * L readable elements, `copy.to` of kc * NR writable ones).
                    unsafe {
                        microkernel::<$t, $tok, R, $nv, false, true, true>(
                            s, kc, a, rsa, csa, b, rsb, L, copy, dst,
                        )
                    }
                }
                debug_assert!((1..=$mr).contains(&rows) && dst.mr <= rows);
                // SAFETY: forwarded contract; the token proves the target features of `k`.
                unsafe {
                    match rows {
                        $($r => k::<$r>(self, kc, a, rsa, csa, b, rsb, copy, dst),)*
                        _ => k::<$mr>(self, kc, a, rsa, csa, b, rsb, copy, dst),
                    }
                }
            }

            #[inline(always)]
            unsafe fn kernel_direct(
                self,
                rows: usize,
                kc: usize,
                a: *const $t,
                rsa: usize,
                csa: usize,
                b: *const $t,
                rsb: usize,
                dst: &TileDst<$t>,
            ) {
                $(#[$feat])?
                #[allow(clippy::too_many_arguments)]
                unsafe fn k<const R: usize>(
                    s: $tok,
                    kc: usize,
                    a: *const $t,
                    rsa: usize,
                    csa: usize,
                    b: *const $t,
                    rsb: usize,
                    dst: &TileDst<$t>,
                ) {
                    const L: usize = <$tok as Simd<$t>>::LANES;
                    // As few vectors as the tile has columns: a 4-column C is one vector
                    // per row, not NV.
                    let nv = dst.nr.div_ceil(L);
                    let last = dst.nr - (nv - 1) * L;
                    // SAFETY: forwarded contract of `Kernel::kernel_direct`; B row `p`
                    // holds (nv - 1) * L + last = dst.nr readable elements.
                    unsafe {
                        match nv {
                            $($v => microkernel::<$t, $tok, R, $v, false, false, false>(
                                s, kc, a, rsa, csa, b, rsb, last, BCopy::NONE, dst
                            ),)*
                            _ => microkernel::<$t, $tok, R, $nv, false, false, false>(
                                s, kc, a, rsa, csa, b, rsb, last, BCopy::NONE, dst
                            ),
                        }
                    }
                }
                debug_assert!((1..=$mr).contains(&rows) && dst.mr <= rows);
                debug_assert!((1..=<Self as Kernel<$t>>::NR).contains(&dst.nr));
                // SAFETY: forwarded contract; the token proves the target features of `k`.
                unsafe {
                    match rows {
                        $($r => k::<$r>(self, kc, a, rsa, csa, b, rsb, dst),)*
                        _ => k::<$mr>(self, kc, a, rsa, csa, b, rsb, dst),
                    }
                }
            }

            #[inline(always)]
            unsafe fn kernel_wide(
                self,
                rows: usize,
                kc: usize,
                a: *const $t,
                rsa: usize,
                csa: usize,
                b: *const $t,
                rsb: usize,
                dst: &TileDst<$t>,
            ) {
                $(#[$feat])?
                #[allow(clippy::too_many_arguments)]
                unsafe fn k<const R: usize, const NV: usize>(
                    s: $tok,
                    kc: usize,
                    a: *const $t,
                    rsa: usize,
                    csa: usize,
                    b: *const $t,
                    rsb: usize,
                    dst: &TileDst<$t>,
                ) {
                    const L: usize = <$tok as Simd<$t>>::LANES;
                    // SAFETY: forwarded contract of `Kernel::kernel_wide`: B row `p` holds
                    // NV * L = dst.nr readable elements.
                    unsafe {
                        microkernel::<$t, $tok, R, NV, false, true, false>(
                            s, kc, a, rsa, csa, b, rsb, L, BCopy::NONE, dst,
                        )
                    }
                }
                const L: usize = <$tok as Simd<$t>>::LANES;
                debug_assert!((1..=WIDE_ROWS).contains(&rows) && dst.mr == rows);
                debug_assert_eq!(dst.nr, wide_cols(rows, L));
                // SAFETY: forwarded contract; the token proves the target features of `k`.
                unsafe {
                    match rows {
                        1 => k::<1, { WIDE_NV[0] }>(self, kc, a, rsa, csa, b, rsb, dst),
                        2 => k::<2, { WIDE_NV[1] }>(self, kc, a, rsa, csa, b, rsb, dst),
                        3 => k::<3, { WIDE_NV[2] }>(self, kc, a, rsa, csa, b, rsb, dst),
                        _ => k::<4, { WIDE_NV[3] }>(self, kc, a, rsa, csa, b, rsb, dst),
                    }
                }
            }

            #[inline(always)]
            unsafe fn kernel_edge_pair(
                self,
                rows: usize,
                kc: usize,
                a: *const $t,
                rsa: usize,
                b: *const $t,
                dst: &TileDst<$t>,
            ) -> bool {
                $(#[$feat])?
                #[allow(dead_code)] // on tiers without pairs
                unsafe fn k<const R: usize>(
                    s: $tok,
                    kc: usize,
                    a: *const $t,
                    rsa: usize,
                    b: *const $t,
                    dst: &TileDst<$t>,
                ) {
                    const NR: usize = $nv * <$tok as Simd<$t>>::LANES;
                    const L: usize = <$tok as Simd<$t>>::LANES;
                    // SAFETY: forwarded contract of `Kernel::kernel_edge_pair`: B row `p`
                    // of the packed micro-panel holds NR >= L readable elements.
                    unsafe {
                        microkernel::<$t, $tok, R, 1, false, false, false>(
                            s, kc, a, rsa, 1, b, NR, L, BCopy::NONE, dst,
                        )
                    }
                }
                debug_assert!(dst.mr == rows && dst.nr <= <Self as Simd<$t>>::LANES);
                let _ = (kc, a, rsa, b); // unused on tiers without pairs
                #[allow(unused_unsafe)] // no unsafe call on tiers without pairs
                // SAFETY: forwarded contract; the token proves the target features of `k`.
                unsafe {
                    match rows {
                        $($pr => {
                            k::<$pr>(self, kc, a, rsa, b, dst);
                            true
                        })*
                        _ => false,
                    }
                }
            }
        }
    };
}

tier!(
    Scalar,
    f32,
    [],
    mr = 4,
    nv = 4,
    kc = 256,
    rows = [1, 2, 3],
    nvs = [1, 2, 3],
    pairs = []
);
tier!(
    Scalar,
    f64,
    [],
    mr = 4,
    nv = 4,
    kc = 256,
    rows = [1, 2, 3],
    nvs = [1, 2, 3],
    pairs = []
);

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
    use crate::simd::{V3, V4};
    use pulp::bytemuck::cast;
    use std::arch::x86_64::*;

    /// [`Kernel::column_rows`] for f32 on AVX2: the rows in groups of 8, up to 4 groups
    /// (32 rows, 4 FMA chains) at a time through the whole k loop ([`column_groups`]);
    /// the last `h % 8` rows one column at a time. Against the buffer transpose of the
    /// other tiers (Zen 4, `gemm_probe`, 3 alternated rounds, GFLOP/s): 256 x 256 x 1 12.2
    /// -> 17.0, 1000 x 1000 x 1 11.2 -> 13.9, 1024 x 1024 x 1 8.1 -> 10.5, 4096 x 4096 x 1
    /// 3.3 -> 5.7.
    ///
    /// # Safety
    /// As [`Kernel::column_rows`]; AVX2 and FMA available.
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn column_rows_f32(
        _s: V3,
        kc: usize,
        a: *const f32,
        rsa: usize,
        h: usize,
        b: *const f32,
        rsb: usize,
        acc: &mut [<V3 as Simd<f32>>::V; COLUMN_NV],
    ) {
        debug_assert!((1..=COLUMN_NV * 8).contains(&h));
        let mut regs: [__m256; COLUMN_NV] = std::array::from_fn(|g| cast(acc[g]));
        let full = h / 8;
        // B's column in chunks of up to 256 elements, copied to the stack unless they are
        // contiguous already: the broadcasts then use constant offsets (one general-purpose
        // register fewer in a loop that is short of them). The chains carry across chunks.
        let mut bcopy = [0.0f32; 256];
        let mut k0 = 0;
        while k0 < kc {
            let len = (kc - k0).min(bcopy.len());
            let bk = if rsb == 1 {
                b.wrapping_add(k0)
            } else {
                for (x, v) in bcopy[..len].iter_mut().enumerate() {
                    // SAFETY: k0 + x < kc: B element k0 + x is readable (caller).
                    *v = unsafe { *b.add((k0 + x) * rsb) };
                }
                bcopy.as_ptr()
            };
            let ak = a.wrapping_add(k0);
            let mut g = 0;
            // SAFETY: (every call) rows 8g..8(g + G) <= 8 * full <= h of A hold columns
            // k0..k0 + len <= kc; `bk` holds len readable elements.
            unsafe {
                while g + 4 <= full {
                    column_groups::<4>(len, ak.add(g * 8 * rsa), rsa, bk, &mut regs[g..g + 4]);
                    g += 4;
                }
                let rest = &mut regs[g..];
                match full - g {
                    3 => column_groups::<3>(len, ak.add(g * 8 * rsa), rsa, bk, rest),
                    2 => column_groups::<2>(len, ak.add(g * 8 * rsa), rsa, bk, rest),
                    1 => column_groups::<1>(len, ak.add(g * 8 * rsa), rsa, bk, rest),
                    _ => {}
                }
            }
            if full * 8 < h {
                // The last rows: lanes past row h - 1 read that row again (never stored).
                let r0 = full * 8;
                let row = |l: usize| ak.wrapping_add((r0 + l).min(h - 1) * rsa);
                let mut last = regs[full];
                for p in 0..len {
                    // SAFETY: k0 + p < kc: that element of rows r0..h and bk + p are
                    // readable.
                    unsafe {
                        let col = _mm256_setr_ps(
                            *row(0).add(p),
                            *row(1).add(p),
                            *row(2).add(p),
                            *row(3).add(p),
                            *row(4).add(p),
                            *row(5).add(p),
                            *row(6).add(p),
                            *row(7).add(p),
                        );
                        last = _mm256_fmadd_ps(col, _mm256_broadcast_ss(&*bk.add(p)), last);
                    }
                }
                regs[full] = last;
            }
            k0 += len;
        }
        for (v, r) in acc.iter_mut().zip(regs) {
            *v = cast(r);
        }
    }

    /// `G` groups of 8 rows of [`column_rows_f32`] (row `8g + l` at `a + (8g + l) * rsa`),
    /// accumulated into `acc[g]`: 16 columns at a time ([`column_block`]), a whole cache
    /// line of each row used at once (with rows 4 KiB apart, all in one L1 set, a line
    /// read for 8 columns was gone before the next 8), then the last `kc % 16` one at a
    /// time. Each group's FMA chain takes the columns in order, as every other kernel does.
    ///
    /// # Safety
    /// Rows `0..8G` of A hold `kc` readable elements, B (contiguous) `kc`;
    /// `acc.len() >= G`; AVX2 and FMA available.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn column_groups<const G: usize>(
        kc: usize,
        a: *const f32,
        rsa: usize,
        b: *const f32,
        acc: &mut [__m256],
    ) {
        let mut chains: [__m256; G] = std::array::from_fn(|g| acc[g]);
        let blocks = kc / 16;
        // Group g runs g blocks behind group 0, so that the groups' rows are read 64
        // bytes apart: with rows 4 KiB apart, the 32 lines of one column block fall into
        // one 8-way L1 set and evict each other; skewed, each set holds one group's 8.
        let group = |g: usize| a.wrapping_add(g * 8 * rsa);
        // SAFETY: (every `column_block`) block t - g < blocks of group g: its rows hold
        // columns 16(t - g)..16(t - g + 1) <= kc, and B those rows (caller).
        unsafe {
            // The ramps, where some groups have no block to run.
            let ramp = |chains: &mut [__m256; G], t: usize| {
                for (g, chain) in chains.iter_mut().enumerate() {
                    if t >= g && t - g < blocks {
                        *chain = column_block(*chain, group(g), rsa, b, (t - g) * 16);
                    }
                }
            };
            let steady = (G - 1)..blocks.max(G - 1);
            for t in 0..steady.start.min(blocks + G - 1) {
                ramp(&mut chains, t);
            }
            for t in steady.clone() {
                for (g, chain) in chains.iter_mut().enumerate() {
                    *chain = column_block(*chain, group(g), rsa, b, (t - g) * 16);
                }
            }
            for t in steady.end.max(steady.start)..blocks + G - 1 {
                ramp(&mut chains, t);
            }
        }
        let mut p = blocks * 16;
        while p < kc {
            // SAFETY: p < kc: element p of the rows and b + p are readable.
            unsafe {
                let bp = _mm256_broadcast_ss(&*b.add(p));
                for (g, chain) in chains.iter_mut().enumerate() {
                    let row = |l: usize| a.add((g * 8 + l) * rsa + p);
                    let col = _mm256_setr_ps(
                        *row(0),
                        *row(1),
                        *row(2),
                        *row(3),
                        *row(4),
                        *row(5),
                        *row(6),
                        *row(7),
                    );
                    *chain = _mm256_fmadd_ps(col, bp, *chain);
                }
            }
            p += 1;
        }
        acc[..G].copy_from_slice(&chains);
    }

    /// One block of [`column_groups`]: columns `p..p + 16` of the 8 rows from `a` (row
    /// `l` at `a + l * rsa`) into `chain`, in order. Each 4 columns are loaded, per row
    /// pair `(l, l + 4)`, into the two 128-bit lanes of one vector and transposed inside
    /// the lanes (4 unpacks, 4 shuffles): vector `u` holds column `p + u` of the 8 rows,
    /// 0-3 in the low lane and 4-7 in the high one.
    ///
    /// # Safety
    /// The 8 rows hold columns `p..p + 16`, B (contiguous) elements `p..p + 16` are
    /// readable; AVX2 and FMA available.
    #[inline(always)]
    unsafe fn column_block(
        mut chain: __m256,
        a: *const f32,
        rsa: usize,
        b: *const f32,
        p: usize,
    ) -> __m256 {
        let base = a.wrapping_add(p);
        for q in (0..16).step_by(4) {
            // SAFETY: rows l < 8 hold columns p + q..p + q + 4 (p + 16 within the rows),
            // b + p + q + u for u < 4 is readable (caller); the caller's target
            // features include AVX2 and FMA.
            unsafe {
                let x = |l: usize| {
                    _mm256_insertf128_ps::<1>(
                        _mm256_castps128_ps256(_mm_loadu_ps(base.add(l * rsa + q))),
                        _mm_loadu_ps(base.add((l + 4) * rsa + q)),
                    )
                };
                let (x0, x1, x2, x3) = (x(0), x(1), x(2), x(3));
                let (t0, t1) = (_mm256_unpacklo_ps(x0, x1), _mm256_unpackhi_ps(x0, x1));
                let (t2, t3) = (_mm256_unpacklo_ps(x2, x3), _mm256_unpackhi_ps(x2, x3));
                let cols = [
                    _mm256_shuffle_ps::<0x44>(t0, t2),
                    _mm256_shuffle_ps::<0xEE>(t0, t2),
                    _mm256_shuffle_ps::<0x44>(t1, t3),
                    _mm256_shuffle_ps::<0xEE>(t1, t3),
                ];
                for (u, col) in cols.into_iter().enumerate() {
                    let bu = _mm256_broadcast_ss(&*b.add(p + q + u));
                    chain = _mm256_fmadd_ps(col, bu, chain);
                }
            }
        }
        chain
    }

    // AVX2+FMA: 16 ymm registers; 6 x 2 accumulators + 2 B vectors + 1 broadcast.
    tier!(
        V3,
        f32,
        [target_feature(enable = "avx2,fma")],
        mr = 6,
        nv = 2,
        kc = 256,
        rows = [1, 2, 3, 4, 5],
        nvs = [1],
        pairs = [7, 8, 9, 10, 11, 12],
        column = column_rows_f32
    );
    tier!(
        V3,
        f64,
        [target_feature(enable = "avx2,fma")],
        mr = 6,
        nv = 2,
        kc = 256,
        rows = [1, 2, 3, 4, 5],
        nvs = [1],
        pairs = [7, 8, 9, 10, 11, 12]
    );
    // AVX-512: 32 zmm registers; 12 x 2 accumulators + 2 B vectors + 1 broadcast.
    tier!(
        V4,
        f32,
        [target_feature(enable = "avx512f,avx2,fma")],
        mr = 12,
        nv = 2,
        kc = 384,
        rows = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
        nvs = [1],
        pairs = []
    );
    tier!(
        V4,
        f64,
        [target_feature(enable = "avx512f,avx2,fma")],
        mr = 12,
        nv = 2,
        kc = 256,
        rows = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
        nvs = [1],
        pairs = []
    );
}

#[cfg(target_arch = "aarch64")]
mod aarch64 {
    use super::*;
    use crate::simd::Neon;

    // NEON: 32 q registers; 8 x 3 accumulators + 3 B vectors + 1 broadcast. One rank-1
    // step of the 8 x 12 f32 tile (8 x 6 in f64) is 3 B loads and 8 broadcasts for 24
    // FMAs. Block sizes mirror the AVX2 tier's (not tuned: no aarch64 machine here).
    tier!(
        Neon,
        f32,
        [target_feature(enable = "neon")],
        mr = 8,
        nv = 3,
        kc = 256,
        rows = [1, 2, 3, 4, 5, 6, 7],
        nvs = [1, 2],
        pairs = []
    );
    tier!(
        Neon,
        f64,
        [target_feature(enable = "neon")],
        mr = 8,
        nv = 3,
        kc = 256,
        rows = [1, 2, 3, 4, 5, 6, 7],
        nvs = [1, 2],
        pairs = []
    );
}

/// A GEMM computation generic over the kernel tier: `with_kernel` must be
/// `#[inline(always)]`, so that it is compiled inside the tier's target features.
pub(crate) trait WithKernel<T: VMath> {
    /// What the computation returns.
    type Output;
    /// Runs the computation with token `s`.
    fn with_kernel<S: Kernel<T>>(self, s: S) -> Self::Output;
}

/// A [`WithKernel`] computation as a [`TierOp`] (for `f32` and `f64`, whose every tier
/// has a [`Kernel`] row in the table above).
pub(crate) struct OnKernel<T, Op>(Op, PhantomData<T>);

forward_tier_op!(impl[Op: WithKernel<f32>] for OnKernel<f32, Op>, output Op::Output, via with_kernel);
forward_tier_op!(impl[Op: WithKernel<f64>] for OnKernel<f64, Op>, output Op::Output, via with_kernel);

/// Runs `op` on the tier `level` (or the best lower one this CPU has).
#[inline(always)]
pub(crate) fn run_kernel<T: VMath, Op: WithKernel<T>>(level: Level, op: Op) -> Op::Output
where
    OnKernel<T, Op>: TierOp<Output = Op::Output>,
{
    dispatch(level, OnKernel(op, PhantomData))
}

#[cfg(test)]
mod tests {
    //! Every micro-kernel entry point of every tier this CPU has, tile by tile: each row
    //! count `1..=MR`, each stored width `1..=NR` (the edges), several depths, with and
    //! without reading C, against an `f64` evaluation of the same tile.
    use super::*;
    use crate::element::Float;
    use crate::gemm::kernel::{EpiTile, COPY_B_AHEAD_CACHED};
    use crate::simd::dispatch::available_levels;

    /// Deterministic values in [-1, 1).
    fn values<T: Float>(seed: u64, n: usize) -> Vec<T> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                T::from_f64((x >> 11) as f64 / (1u64 << 52) as f64 - 1.0)
            })
            .collect()
    }

    /// The `h x width` tile at the start of row-major `c` (row stride `ldc`):
    /// `C ← alpha·AB + beta·C` (C read or not), with or without a bias.
    fn test_tile<T: VMath>(
        c: &mut [T],
        ldc: usize,
        (h, width): (usize, usize),
        (alpha, beta): (T, T),
        read_c: bool,
        bias: Option<&[T]>,
    ) -> TileDst<T> {
        TileDst {
            c: c.as_mut_ptr(),
            rsc: ldc,
            csc: 1,
            mr: h,
            nr: width,
            alpha,
            beta,
            read_c,
            epi: bias.map_or(EpiTile::None, |b| EpiTile::Bias(b.as_ptr())),
        }
    }

    struct EveryTile;

    impl<T: VMath> WithKernel<T> for EveryTile {
        type Output = usize;
        #[inline(always)]
        fn with_kernel<S: Kernel<T>>(self, s: S) -> usize {
            let (mr, nr) = (S::MR, S::NR);
            let mut checked = 0;
            for kc in [0usize, 1, 2, 3, 4, 5, 8, 17] {
                // Packed A: element (i, p) at p * MR + i; packed B: (p, j) at p * NR + j.
                let a: Vec<T> = values(kc as u64 + 1, mr * kc.max(1));
                let b: Vec<T> = values(kc as u64 + 101, nr * kc.max(1));
                let bias: Vec<T> = values(7, nr);
                for rows in 1..=mr {
                    for width in 1..=nr {
                        for (read_c, with_bias) in [(false, false), (true, false), (true, true)] {
                            // C is an (MR, NR + 3) row-major buffer; the tile is its corner,
                            // the rest a guard band that must stay untouched.
                            let ldc = nr + 3;
                            let c0: Vec<T> = values(rows as u64 * 31 + width as u64, mr * ldc);
                            let (alpha, beta) = (T::from_f64(1.5), T::from_f64(-0.5));
                            for entry in ["packed", "direct", "copying_b"] {
                                let mut c = c0.clone();
                                let mut copy = vec![T::from_f64(7.0); nr * kc + 1];
                                let epi_bias = with_bias.then_some(&bias[..]);
                                let dst = test_tile(
                                    &mut c,
                                    ldc,
                                    (rows, width),
                                    (alpha, beta),
                                    read_c,
                                    epi_bias,
                                );
                                // SAFETY: A holds MR x kc (as rows x kc, strides (1, MR)),
                                // B holds kc x NR, and the tile lies inside `c`.
                                unsafe {
                                    match entry {
                                        "direct" => s.kernel_direct(
                                            rows,
                                            kc,
                                            a.as_ptr(),
                                            1,
                                            mr,
                                            b.as_ptr(),
                                            nr,
                                            &dst,
                                        ),
                                        "copying_b" => s.kernel_copying_b(
                                            rows,
                                            kc,
                                            a.as_ptr(),
                                            1,
                                            mr,
                                            b.as_ptr(),
                                            nr,
                                            BCopy {
                                                to: copy.as_mut_ptr(),
                                                ahead: COPY_B_AHEAD_CACHED,
                                            },
                                            &dst,
                                        ),
                                        _ => {
                                            s.kernel_packed(rows, kc, a.as_ptr(), b.as_ptr(), &dst)
                                        }
                                    }
                                }
                                // The copy is B's micro-panel exactly, and nothing past it.
                                if entry == "copying_b" {
                                    for (x, (got, want)) in
                                        copy[..nr * kc].iter().zip(&b).enumerate()
                                    {
                                        assert!(
                                            got.to_f64().to_bits() == want.to_f64().to_bits(),
                                            "{:?} {} kc={kc}: copy of B at {x}",
                                            S::LEVEL,
                                            T::NAME
                                        );
                                    }
                                    assert!(copy[nr * kc].to_f64() == 7.0, "past the copy");
                                }
                                for i in 0..mr {
                                    for j in 0..ldc {
                                        let (got, old) = (c[i * ldc + j], c0[i * ldc + j]);
                                        let ctx = format!(
                                            "{:?} {} rows={rows} width={width} kc={kc} \
                                             read_c={read_c} bias={with_bias} {entry} \
                                             at ({i}, {j})",
                                            S::LEVEL,
                                            T::NAME
                                        );
                                        if i >= rows || j >= width {
                                            assert!(
                                                got.to_f64().to_bits() == old.to_f64().to_bits(),
                                                "{ctx}: outside the tile, changed"
                                            );
                                            continue;
                                        }
                                        let (mut ab, mut mag) = (0.0f64, 0.0f64);
                                        for p in 0..kc {
                                            let t = a[p * mr + i].to_f64() * b[p * nr + j].to_f64();
                                            ab += t;
                                            mag += t.abs();
                                        }
                                        let mut want = alpha.to_f64() * ab;
                                        if read_c {
                                            want += beta.to_f64() * old.to_f64();
                                        }
                                        if with_bias {
                                            want += bias[j].to_f64();
                                        }
                                        let tol = 4.0
                                            * T::EPSILON.to_f64()
                                            * (1.5 * mag + 0.5 + 1.0 + (kc as f64) * mag);
                                        assert!(
                                            (got.to_f64() - want).abs() <= tol,
                                            "{ctx}: {got} vs {want}"
                                        );
                                    }
                                }
                                checked += 1;
                            }
                        }
                    }
                }
            }
            checked
        }
    }

    /// Checks the blocking of one tier over several CPUs' caches.
    struct BlockingRules;

    impl<T: VMath> WithKernel<T> for BlockingRules {
        type Output = ();
        #[inline(always)]
        fn with_kernel<S: Kernel<T>>(self, _s: S) {
            let caches = |l1d, l2, l3| CacheSizes {
                l1d,
                l2,
                l3,
                source: crate::simd::dispatch::CacheSource::Cpuid,
            };
            let cpus = [
                CacheSizes::FALLBACK,
                cache_sizes(),
                caches(32 << 10, 512 << 10, 2 << 20), // Zen 3, one thread's L3 share
                caches(48 << 10, 2 << 20, 130 << 20), // Xeon, 2 cores of a 260 MiB L3
                caches(32 << 10, 1 << 20, 0),         // no L3
                caches(4 << 10, 4 << 10, 4 << 10),    // tiny: clamped to one tile
                caches(1 << 20, 1 << 30, 4 << 30),    // huge: clamped to the maxima
            ];
            let bytes = S::KC * std::mem::size_of::<T>();
            for cpu in cpus {
                let b = Blocking::for_caches::<T, S>(&cpu);
                let ctx = format!("{:?} {} {cpu:?}: {b:?}", S::LEVEL, T::NAME);
                assert!(
                    b.mc >= S::MR && b.mc.is_multiple_of(S::MR) && b.mc <= MC_MAX,
                    "{ctx}"
                );
                assert!(
                    b.nc >= S::NR && b.nc.is_multiple_of(S::NR) && b.nc <= NC_MAX,
                    "{ctx}"
                );
                // Within the budget unless clamped up to one tile, and not a whole tile
                // short of it unless clamped down.
                let (a_budget, b_budget) =
                    (cpu.l2 / 4, if cpu.l3 > 0 { cpu.l3 } else { cpu.l2 } / 2);
                assert!(b.mc == S::MR || b.mc * bytes <= a_budget, "{ctx}");
                assert!(b.nc == S::NR || b.nc * bytes <= b_budget, "{ctx}");
                assert!(
                    b.mc + S::MR > (MC_MAX / S::MR * S::MR).min(a_budget / bytes),
                    "{ctx}"
                );
                assert!(
                    b.nc + S::NR > (NC_MAX / S::NR * S::NR).min(b_budget / bytes),
                    "{ctx}"
                );
            }
        }
    }

    #[test]
    fn blocking_follows_the_caches_on_every_tier() {
        for level in available_levels() {
            run_kernel::<f32, _>(level, BlockingRules);
            run_kernel::<f64, _>(level, BlockingRules);
        }
        // The figure the documentation of `Blocking` quotes (AVX2, f32, Zen 3).
        #[cfg(target_arch = "x86_64")]
        if available_levels().contains(&Level::Avx2) {
            struct Zen3;
            impl WithKernel<f32> for Zen3 {
                type Output = (usize, usize);
                #[inline(always)]
                fn with_kernel<S: Kernel<f32>>(self, _s: S) -> (usize, usize) {
                    let zen3 = CacheSizes {
                        l2: 512 << 10,
                        l3: 2 << 20,
                        ..CacheSizes::FALLBACK
                    };
                    let b = Blocking::for_caches::<f32, S>(&zen3);
                    (b.mc, b.nc)
                }
            }
            assert_eq!(run_kernel::<f32, _>(Level::Avx2, Zen3), (126, 1024));
        }
    }

    /// `kernel_edge_pair` against its two row panels run by `kernel_direct`: every row
    /// count of the tier's pairs, every width up to a vector, with and without reading C
    /// and a bias, several depths, bit for bit (and the guard band around the tile
    /// untouched). Returns the pairs checked (0 on tiers without them).
    struct EdgePairs;

    impl<T: VMath> WithKernel<T> for EdgePairs {
        type Output = usize;
        #[inline(always)]
        fn with_kernel<S: Kernel<T>>(self, s: S) -> usize {
            let (mr, nr, lanes) = (S::MR, S::NR, S::LANES);
            let mut checked = 0;
            for kc in [0usize, 1, 3, 8, 17] {
                // A row-major, rows 2·MR, row stride kc + 2; B packed, kc x NR.
                let rsa = kc + 2;
                let a: Vec<T> = values(kc as u64 + 3, 2 * mr * rsa);
                let b: Vec<T> = values(kc as u64 + 203, nr * kc.max(1));
                let bias: Vec<T> = values(9, nr);
                for rows in mr + 1..=2 * mr {
                    for width in 1..=lanes {
                        for (read_c, with_bias) in [(false, false), (true, false), (true, true)] {
                            let ldc = nr + 3;
                            let c0: Vec<T> = values(rows as u64 * 7 + width as u64, 2 * mr * ldc);
                            let (alpha, beta) = (T::from_f64(1.5), T::from_f64(-0.5));
                            let bias = with_bias.then_some(&bias[..]);
                            let tile = |c: &mut Vec<T>, r0: usize, h: usize| {
                                let c = &mut c[r0 * ldc..];
                                test_tile(c, ldc, (h, width), (alpha, beta), read_c, bias)
                            };
                            let mut pair = c0.clone();
                            let dst = tile(&mut pair, 0, rows);
                            // SAFETY: A holds 2·MR >= rows rows of kc elements (row stride
                            // rsa), B a kc x NR micro-panel, and the tile lies inside `pair`.
                            let done = unsafe {
                                s.kernel_edge_pair(rows, kc, a.as_ptr(), rsa, b.as_ptr(), &dst)
                            };
                            if !done {
                                assert_eq!(pair, c0, "{:?}: declined, yet wrote C", S::LEVEL);
                                continue;
                            }
                            let mut halves = c0.clone();
                            let h0 = rows / 2;
                            for (r0, h) in [(0, h0), (h0, rows - h0)] {
                                let dst = tile(&mut halves, r0, h);
                                // SAFETY: rows r0..r0 + h <= 2·MR of A, h <= MR; B's rows
                                // hold NR >= width elements; the tile lies inside `halves`.
                                unsafe {
                                    s.kernel_direct(
                                        h,
                                        kc,
                                        a[r0 * rsa..].as_ptr(),
                                        rsa,
                                        1,
                                        b.as_ptr(),
                                        nr,
                                        &dst,
                                    )
                                };
                            }
                            let bits = |v: &[T]| -> Vec<u64> {
                                v.iter().map(|x| x.to_f64().to_bits()).collect()
                            };
                            assert_eq!(
                                bits(&pair),
                                bits(&halves),
                                "{:?} {} rows={rows} width={width} kc={kc} read_c={read_c} \
                                 bias={with_bias}",
                                S::LEVEL,
                                T::NAME
                            );
                            checked += 1;
                        }
                    }
                }
            }
            checked
        }
    }

    #[test]
    fn edge_pair_tiles_have_the_bits_of_their_two_panels() {
        for level in available_levels() {
            let n32 = run_kernel::<f32, _>(level, EdgePairs);
            let n64 = run_kernel::<f64, _>(level, EdgePairs);
            if level == Level::Avx2 {
                assert!(n32 > 0 && n64 > 0, "{level:?}: no pair checked");
            }
        }
    }

    #[test]
    fn every_micro_kernel_tile_and_edge_on_every_tier() {
        for level in available_levels() {
            let n32 = run_kernel::<f32, _>(level, EveryTile);
            let n64 = run_kernel::<f64, _>(level, EveryTile);
            assert!(n32 > 0 && n64 > 0, "{level:?}: no tile checked");
        }
    }
}
