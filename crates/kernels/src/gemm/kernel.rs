//! The register-tiled micro-kernel, generic over the SIMD tier, and its tile store with
//! the fused epilogues.
//!
//! Contract: the kernel computes `AB = A_panel · B_panel` for one `MR x NR` tile with
//! `MR x NV` vector accumulators (`NR = NV * LANES`; vectors run along the columns of C),
//! then writes `C ← f(alpha·AB + beta·C)` where `f` is the epilogue (only on the last
//! block of the reduction dimension). When `beta` is not applied (`read_c == false`), C is
//! written without being read, so NaN in C does not leak. Full tiles of a C with unit
//! column stride are loaded and stored as vectors; edge tiles and strided C go through a
//! gather / scatter of each row into a local vector with the *same* arithmetic, so an
//! element's value never depends on where its tile falls.

use super::tiers::Kernel;
use crate::simd::{gather, scatter, Simd, SimdElement};
use crate::vmath::{tanh_backward_vec, tanh_run, tanh_vec, VMath};

/// The per-tile form of an epilogue: pointers already offset to the tile's origin.
#[derive(Clone, Copy, Debug)]
pub enum EpiTile<T> {
    /// `f(v) = v`.
    None,
    /// `f(v) = v + bias[j]`; `bias[j]` at `ptr + j`.
    Bias(*const T),
    /// `f(v) = tanh(v)`.
    Tanh,
    /// `f(v) = tanh(v + bias[j])`.
    BiasTanh(*const T),
    /// `f(v) = (v + E[i, j]) · (1 − Y[i, j]²)`.
    TanhBackward {
        e: *const T,
        rse: usize,
        cse: usize,
        y: *const T,
        rsy: usize,
        csy: usize,
    },
}

/// Where and how a micro-kernel stores its tile.
///
/// Element `(i, j)` of the tile lives at `c + i * rsc + j * csc` for `i < mr`, `j < nr`
/// (`mr <= MR`, `nr <= NR`); those locations must be writable (and readable when
/// `read_c`), and the epilogue's operands readable at the same `(i, j)`.
pub struct TileDst<T> {
    pub c: *mut T,
    pub rsc: usize,
    pub csc: usize,
    pub mr: usize,
    pub nr: usize,
    pub alpha: T,
    pub beta: T,
    pub read_c: bool,
    pub epi: EpiTile<T>,
}

/// Largest register tile (`MR * NR` elements) any tier uses: sizes the spill buffer of
/// the edge path of [`store_tile`].
const MAX_TILE: usize = 512;

/// One rank-1 update of the register tile: `acc[i][v] += A(i, p) · B(p, v·LANES..)`.
///
/// The last B vector holds `last` valid elements (`LANES` for a full or zero-padded packed
/// row; fewer at the right edge of a B read in place, loaded without touching memory past
/// the row's end). With `COPY_B`, the B row's vectors are also stored at `copy`.
///
/// # Safety
/// `a + i * rsa` must be readable for `i < MR`, and `b .. b + (NV - 1) * LANES + last`;
/// with `COPY_B`, `copy .. copy + NV * LANES` writable.
#[inline(always)]
unsafe fn rank1<
    T: SimdElement,
    S: Simd<T>,
    const MR: usize,
    const NV: usize,
    const COPY_B: bool,
>(
    s: S,
    acc: &mut [[S::V; NV]; MR],
    a: *const T,
    rsa: usize,
    b: *const T,
    last: usize,
    copy: *mut T,
) {
    let mut bv = [s.splat(T::ZERO); NV];
    for (v, bvv) in bv.iter_mut().enumerate() {
        // SAFETY: the B row holds (NV - 1) * LANES + last readable elements (caller).
        *bvv = unsafe {
            if v + 1 < NV || last == S::LANES {
                s.load(b.add(v * S::LANES))
            } else {
                s.load_first(b.add(v * S::LANES), last)
            }
        };
    }
    for (i, acc_i) in acc.iter_mut().enumerate() {
        // A broadcast straight from memory (`vbroadcastss m32`), no register shuffle.
        // SAFETY: A element (i, p) is readable for i < MR (caller).
        let ai = s.splat(unsafe { *a.add(i * rsa) });
        for (accv, &bvv) in acc_i.iter_mut().zip(&bv) {
            *accv = s.fma(ai, bvv, *accv);
        }
    }
    if COPY_B {
        for (v, &bvv) in bv.iter().enumerate() {
            // SAFETY: `copy` holds NV * LANES writable elements (caller).
            unsafe { s.store(copy.add(v * S::LANES), bvv) };
        }
    }
}

/// `MR x (NV * LANES)` micro-kernel; see [`super::tiers::Kernel`].
///
/// The `MR x NV` accumulators stay in registers for the whole `k` loop (every index into
/// `acc` is a compile-time constant after unrolling; the edge path of [`store_tile`] spills
/// them to a separate buffer instead of indexing them at run time, which would pin the
/// whole array to the stack). `k` is unrolled 4x with a remainder loop. Each element of
/// the tile is reduced in the order `p = 0, 1, .., kc - 1` with one rounding per FMA,
/// whatever `MR`, `NV` or the operand layout, so the row and column split of C never
/// changes a result. `PREFETCH_C` asks for the C tile before the k loop, `PREFETCH_B` for
/// the B rows ahead of it (for a B read in place; see [`B_PREFETCH_ROWS`]). `COPY_B`
/// stores each B row, as it is loaded, at `copy.to + p * NV * LANES`: the packed B
/// micro-panel, written by the first row panel that reads B in place.
///
/// # Safety
/// A element `(i, p)` at `a + i * rsa + p * csa` must be readable for `i < MR`, `p < kc`;
/// B element `(p, j)` at `b + p * rsb + j` for `p < kc`, `j < (NV - 1) * LANES + last`
/// (`1 <= last <= LANES`); with `COPY_B`, `last == LANES` and `copy.to .. copy.to + kc * NV *
/// LANES` writable (and disjoint from A, B and C); `dst` must satisfy the contract of
/// [`TileDst`].
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) unsafe fn microkernel<
    T: VMath,
    S: Kernel<T>,
    const MR: usize,
    const NV: usize,
    const PREFETCH_C: bool,
    const PREFETCH_B: bool,
    const COPY_B: bool,
>(
    s: S,
    kc: usize,
    a: *const T,
    rsa: usize,
    csa: usize,
    b: *const T,
    rsb: usize,
    last: usize,
    copy: BCopy<T>,
    dst: &TileDst<T>,
) {
    // Ask for the C tile now, so that its lines (often in L3 or memory: each row of a
    // large C is in another page) arrive while the k loop runs, not at the store.
    // (Not on the small-problem path, where C is hot and the prefetches are pure cost.)
    let nr = NV * S::LANES;
    if PREFETCH_C {
        for i in 0..MR {
            let row = dst.c.wrapping_add(i * dst.rsc);
            prefetch(row);
            prefetch(row.wrapping_add((nr - 1) * dst.csc));
        }
    }
    // Two copies of the k loop, so that the full-width one (every packed B, and B read in
    // place away from its right edge) has no per-step test of `last`.
    // SAFETY: forwarded contract.
    let acc = unsafe {
        if COPY_B {
            debug_assert_eq!(last, S::LANES);
            k_loop::<T, S, MR, NV, PREFETCH_B, true>(s, kc, a, rsa, csa, b, rsb, S::LANES, copy)
        } else if last == S::LANES {
            k_loop::<T, S, MR, NV, PREFETCH_B, false>(s, kc, a, rsa, csa, b, rsb, S::LANES, copy)
        } else {
            k_loop::<T, S, MR, NV, PREFETCH_B, false>(s, kc, a, rsa, csa, b, rsb, last, copy)
        }
    };
    // SAFETY: forwarded contract.
    unsafe { store_tile::<T, S, MR, NV>(s, acc, dst) }
}

/// Rows of B ahead of the k loop that [`k_loop`] asks for when it reads B in place
/// (`PREFETCH_B`): the rows of a B read in place are a row stride apart (2,600 bytes for
/// `H = 650`), too far for the L1 prefetcher to run ahead, and the first row panel of each
/// strip finds them in L3. Four rows (24 cycles of a 6 x 16 AVX2 tile) took 16 x 650 x 650
/// from 74 to 83 GFLOP/s, 20 x 650 x 650 from 75 to 82 and 16 x 256 x 256 from 76–77 to
/// 79–82 on Zen 3, and left 16 x 128 x 128 (B in L2) unchanged; 8 and 16 rows were no
/// better, and prefetching for the first row panel only (whose rows are the ones not yet
/// in L1) was slower (78).
const B_PREFETCH_ROWS: usize = 4;

/// Where the copying k loop (`COPY_B`) stores B's rows (`to`, row `p` at `to + p * NR`)
/// and how many rows of B ahead it asks for (`ahead`); unused by the other k loops.
///
/// The distance depends on where B comes from. From memory (B and C larger than the L3
/// share of the blocking) it needs [`COPY_B_AHEAD_STREAMED`]. From L2 or L3 that distance is
/// harmful where the rows fall into few L1 sets (row strides that are multiples of 4 KiB
/// map every row to one set of 8 ways, and 16 rows in flight evict each other), and
/// [`COPY_B_AHEAD_CACHED`] is as fast or faster everywhere.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BCopy<T> {
    pub to: *mut T,
    pub ahead: usize,
}

impl<T> BCopy<T> {
    /// No copy: the argument of every k loop but the copying one.
    pub(crate) const NONE: Self = BCopy {
        to: std::ptr::null_mut(),
        ahead: 0,
    };
}

/// [`BCopy::ahead`] for a B that fits the L3 share: on Zen 3, 4 rows rather than 16 took
/// 64 x 1024 x 1024 from 81 to 85 GFLOP/s, 126 x 256 x 2048 from 88.6 to 90.9 and 128 x
/// 128 x 128 from 93.5 to 95.4, and left 64 x 650 x 650 and 64 x 256 x 256 unchanged.
pub(crate) const COPY_B_AHEAD_CACHED: usize = 4;

/// [`BCopy::ahead`] for a B streamed from memory: on Zen 3, 16 rows rather than 4 took
/// 64 x 4096 x 4096 from 68 to 75 GFLOP/s and 100 x 700 x 8000 (A transposed) from 79 to
/// 86 (and 100 x 700 x 10000 from 70 to 78 against the earlier 4).
pub(crate) const COPY_B_AHEAD_STREAMED: usize = 16;

/// One step of the copying k loop: asks for B's row `ahead` elements on (its first and
/// last byte), then the rank-1 update with the row stored at `to`.
///
/// # Safety
/// As [`rank1`] with `COPY_B` and a full last vector.
#[inline(always)]
unsafe fn copy_step<T: SimdElement, S: Simd<T>, const MR: usize, const NV: usize>(
    s: S,
    acc: &mut [[S::V; NV]; MR],
    a: *const T,
    rsa: usize,
    b: *const T,
    ahead: usize,
    to: *mut T,
) {
    prefetch_row(b.wrapping_add(ahead), NV * S::LANES);
    // SAFETY: forwarded contract.
    unsafe { rank1::<T, S, MR, NV, true>(s, acc, a, rsa, b, S::LANES, to) };
}

/// The k loop of [`microkernel`]: returns the `MR x NV` accumulators. With `PREFETCH_B`
/// (always with `COPY_B`), each step also asks for every cache line of the B row
/// [`B_PREFETCH_ROWS`] ahead ([`prefetch_row`]; a row of the tile spans one line more
/// when it does not start one). With `COPY_B`, step `p` stores B's row at `copy.to + p * NV * LANES`
/// and asks for the row `copy.ahead` ahead instead.
///
/// # Safety
/// As [`microkernel`].
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn k_loop<
    T: SimdElement,
    S: Simd<T>,
    const MR: usize,
    const NV: usize,
    const PREFETCH_B: bool,
    const COPY_B: bool,
>(
    s: S,
    kc: usize,
    a: *const T,
    rsa: usize,
    csa: usize,
    b: *const T,
    rsb: usize,
    last: usize,
    copy: BCopy<T>,
) -> [[S::V; NV]; MR] {
    let mut acc = [[s.splat(T::ZERO); NV]; MR];
    let (mut a, mut b) = (a, b);
    if COPY_B {
        // Two steps at a time. Unrolled 4x like the loop below, the copy's stores made
        // LLVM spill three accumulators to the stack (a store and a reload on their FMA
        // chains every step), and the copying panel ran at half the speed of the others;
        // at 2x nothing spills and two steps share the loop's pointer updates (Zen 3,
        // 64-byte aligned operands: 64 x 128 x 128 94.3 -> 94.9 GFLOP/s, 128 x 256 x 256
        // and 64 x 1024 x 1024 +0-2%, within the noise).
        let ahead = copy.ahead * rsb;
        let nr = NV * S::LANES;
        let mut copy = copy.to;
        let mut left = kc;
        // SAFETY: (both loops) steps `p < kc` only: A, B and the copy's row p are inside
        // what the caller guarantees readable (writable for the copy).
        unsafe {
            while left >= 2 {
                copy_step::<T, S, MR, NV>(s, &mut acc, a, rsa, b, ahead, copy);
                let (a1, b1) = (a.add(csa), b.add(rsb));
                copy_step::<T, S, MR, NV>(s, &mut acc, a1, rsa, b1, ahead, copy.add(nr));
                // `wrapping_add`: after the last step the pointers may point past their
                // allocation; they are not dereferenced then.
                a = a.wrapping_add(2 * csa);
                b = b.wrapping_add(2 * rsb);
                copy = copy.wrapping_add(2 * nr);
                left -= 2;
            }
            if left == 1 {
                copy_step::<T, S, MR, NV>(s, &mut acc, a, rsa, b, ahead, copy);
            }
        }
        return acc;
    }
    let nil = copy.to;
    let mut left = kc;
    // SAFETY: (whole loop) steps `p < kc` only, as the caller guarantees readable.
    unsafe {
        while left >= 4 {
            if PREFETCH_B {
                for u in 0..4 {
                    // Any address: a prefetch never faults (rows past the block, or past
                    // B's end, are harmless).
                    prefetch_row(b.wrapping_add((B_PREFETCH_ROWS + u) * rsb), NV * S::LANES);
                }
            }
            rank1::<T, S, MR, NV, false>(s, &mut acc, a, rsa, b, last, nil);
            rank1::<T, S, MR, NV, false>(s, &mut acc, a.add(csa), rsa, b.add(rsb), last, nil);
            let (a2, b2) = (a.add(2 * csa), b.add(2 * rsb));
            rank1::<T, S, MR, NV, false>(s, &mut acc, a2, rsa, b2, last, nil);
            let (a3, b3) = (a.add(3 * csa), b.add(3 * rsb));
            rank1::<T, S, MR, NV, false>(s, &mut acc, a3, rsa, b3, last, nil);
            // `wrapping_add`: after the last step the pointers may point past their
            // allocation; they are not dereferenced then.
            a = a.wrapping_add(4 * csa);
            b = b.wrapping_add(4 * rsb);
            left -= 4;
        }
        while left > 0 {
            rank1::<T, S, MR, NV, false>(s, &mut acc, a, rsa, b, last, nil);
            a = a.wrapping_add(csa);
            b = b.wrapping_add(rsb);
            left -= 1;
        }
    }
    acc
}

/// Asks for every cache line of the `n` elements from `row`: the first and the last
/// element, and one every 64 bytes between (two lines for a 16-float row that does not
/// start a line, seven for the 96 floats of a one-row wide tile).
#[inline(always)]
pub(crate) fn prefetch_row<T>(row: *const T, n: usize) {
    let step = (64 / std::mem::size_of::<T>()).max(1);
    prefetch(row);
    for off in (step..n).step_by(step) {
        prefetch(row.wrapping_add(off));
    }
    prefetch(row.wrapping_add(n - 1));
}

/// Hints the cache line holding `p` into L1 (any address: a prefetch never faults).
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 (SSE, part of x86-64) only hints the cache; it does not access
    // memory architecturally and never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// What the store does to each vector of `alpha·AB + beta·C`, by epilogue: the store is
/// compiled once per kind (a const parameter), so the choice is made once per tile rather
/// than once per vector. `tanh` is not one of them: the tanh epilogues store with
/// [`S_PLAIN`] or [`S_BIAS`], then run a second pass over the stored tile (see
/// [`store_tile`]).
const S_PLAIN: u8 = 0;
/// `+ bias[j]`.
const S_BIAS: u8 = 1;
/// `(v + E[i, j]) · (1 − Y[i, j]²)`.
const S_TANH_BACKWARD: u8 = 2;

/// The operands of an [`EpiTile`], flattened (unused fields are null / 0).
#[derive(Clone, Copy)]
struct EpiPtrs<T> {
    bias: *const T,
    e: *const T,
    rse: usize,
    cse: usize,
    y: *const T,
    rsy: usize,
    csy: usize,
}

impl<T> EpiTile<T> {
    /// The same epilogue for the transposed tile (element `(i, j)` becomes `(j, i)`), or
    /// `None` for a per-column bias, which has no transposed form ([`column_store`]).
    #[inline(always)]
    pub(crate) fn transposed(self) -> Option<Self> {
        match self {
            EpiTile::None => Some(EpiTile::None),
            EpiTile::Tanh => Some(EpiTile::Tanh),
            EpiTile::TanhBackward {
                e,
                rse,
                cse,
                y,
                rsy,
                csy,
            } => Some(EpiTile::TanhBackward {
                e,
                rse: cse,
                cse: rse,
                y,
                rsy: csy,
                csy: rsy,
            }),
            EpiTile::Bias(_) | EpiTile::BiasTanh(_) => None,
        }
    }

    /// The store kind, whether a tanh pass follows the store, and the operands.
    #[inline(always)]
    fn decode(&self) -> (u8, bool, EpiPtrs<T>) {
        let mut ptrs = EpiPtrs {
            bias: std::ptr::null(),
            e: std::ptr::null(),
            rse: 0,
            cse: 0,
            y: std::ptr::null(),
            rsy: 0,
            csy: 0,
        };
        let (kind, tanh) = match *self {
            EpiTile::None => (S_PLAIN, false),
            EpiTile::Bias(b) => {
                ptrs.bias = b;
                (S_BIAS, false)
            }
            EpiTile::Tanh => (S_PLAIN, true),
            EpiTile::BiasTanh(b) => {
                ptrs.bias = b;
                (S_BIAS, true)
            }
            EpiTile::TanhBackward {
                e,
                rse,
                cse,
                y,
                rsy,
                csy,
            } => {
                ptrs = EpiPtrs {
                    bias: std::ptr::null(),
                    e,
                    rse,
                    cse,
                    y,
                    rsy,
                    csy,
                };
                (S_TANH_BACKWARD, false)
            }
        };
        (kind, tanh, ptrs)
    }
}

/// Applies `C ← f(alpha·acc + beta·C)` to one tile.
///
/// Whole tiles with contiguous rows (almost every tile) are tested for first and stored by
/// straight-line code ([`store_whole_tile`]); the other tiles go through
/// [`store_edge_tile`]. In that order the accumulators reach the whole-tile store in
/// registers: with the kind's `match` first and the whole/edge test inside each arm, LLVM
/// spilled all twelve AVX2 accumulators to the stack at the end of the k loop and reloaded
/// them in the store (a 6 x 16 tile with k = 128 lost 8% of its time outside the k loop;
/// 16 x 128 x 128 went from 91 to 93 GFLOP/s and 64 x 128 x 128 from 93.9 to 94.9 on Zen 3
/// with this order).
///
/// # Safety
/// `dst` must satisfy the contract of [`TileDst`].
#[inline(always)]
unsafe fn store_tile<T: VMath, S: Kernel<T>, const MR: usize, const NV: usize>(
    s: S,
    acc: [[S::V; NV]; MR],
    dst: &TileDst<T>,
) {
    let (kind, tanh, ptrs) = dst.epi.decode();
    let nr = NV * S::LANES;
    let contiguous = kind != S_TANH_BACKWARD || (ptrs.cse == 1 && ptrs.csy == 1);
    // SAFETY: (all arms) forwarded contract; the whole-tile arms only for a tile of all
    // MR x NR elements with contiguous rows, as are the epilogue's operands.
    unsafe {
        if dst.mr == MR && dst.nr == nr && dst.csc == 1 && contiguous {
            match kind {
                S_PLAIN => store_whole_tile::<T, S, MR, NV, S_PLAIN>(s, &acc, dst, &ptrs),
                S_BIAS => store_whole_tile::<T, S, MR, NV, S_BIAS>(s, &acc, dst, &ptrs),
                _ => store_whole_tile::<T, S, MR, NV, S_TANH_BACKWARD>(s, &acc, dst, &ptrs),
            }
        } else {
            match kind {
                S_PLAIN => store_edge_tile::<T, S, MR, NV, S_PLAIN>(s, acc, dst, &ptrs, contiguous),
                S_BIAS => store_edge_tile::<T, S, MR, NV, S_BIAS>(s, acc, dst, &ptrs, contiguous),
                _ => {
                    store_edge_tile::<T, S, MR, NV, S_TANH_BACKWARD>(s, acc, dst, &ptrs, contiguous)
                }
            }
        }
        if tanh {
            // tanh in place over the tile just stored, by the tier's one compiled copy of
            // the slice kernel, rather than inlined after every vector of every micro-kernel
            // variant: the same bits (the stored values are the pre-activations, exactly)
            // and a fraction of the code.
            s.tanh_tile(dst.c, dst.rsc, dst.csc, dst.mr.min(MR), dst.nr);
        }
    }
}

/// The k loop of a C of one column (a matrix-vector product), with C's rows in the
/// vector lanes: `acc[v]` lane `l` accumulates row `v * LANES + l`, from the transposed
/// A (row `x` of step `q` at `at + q * ats + x`) and B's one column (step `q` at `b + q *
/// rsb`).
///
/// Each row is reduced in the order `q = 0, 1, .., kc - 1` with one rounding per FMA of
/// the same product as [`rank1`] (`fma(a, b, acc)` is `fma(b, a, acc)`): the bits of the
/// `MR x NR` micro-kernels' column 0 when the caller keeps their reduction blocks. `NV`
/// independent accumulators keep both FMA pipes busy.
///
/// # Safety
/// `at + q * ats .. at + q * ats + NV * LANES` readable and `b + q * rsb` readable for
/// `q < kc`.
#[inline(always)]
pub(crate) unsafe fn column_k_loop<T: VMath, S: Kernel<T>, const NV: usize>(
    s: S,
    kc: usize,
    at: *const T,
    ats: usize,
    b: *const T,
    rsb: usize,
    acc: &mut [S::V; NV],
) {
    for q in 0..kc {
        // SAFETY: q < kc (caller).
        unsafe {
            let bq = s.splat(*b.add(q * rsb));
            let row = at.add(q * ats);
            for (v, accv) in acc.iter_mut().enumerate() {
                *accv = s.fma(s.load(row.add(v * S::LANES)), bq, *accv);
            }
        }
    }
}

/// Stores the accumulators of [`column_k_loop`] as one row of `NV * LANES` elements:
/// `dst` is the transposed view of the column tile (`mr = 1`, `nr` rows of C, `csc` C's
/// row stride, the epilogue [`EpiTile::transposed`]). The per-element arithmetic of
/// [`store_tile`] does not depend on the element's place, so the bits are those of the
/// untransposed tile.
///
/// # Safety
/// As [`store_tile`] with `MR = 1`.
#[inline(always)]
pub(crate) unsafe fn column_store<T: VMath, S: Kernel<T>, const NV: usize>(
    s: S,
    acc: [S::V; NV],
    dst: &TileDst<T>,
) {
    // SAFETY: forwarded contract.
    unsafe { store_tile::<T, S, 1, NV>(s, [acc], dst) }
}

/// [`store_tile`] of a tile that is cut by an edge of C, or whose rows (or the epilogue
/// operands' rows, `contiguous == false`) are strided, for the store kind `K`.
///
/// # Safety
/// `dst` must satisfy the contract of [`TileDst`]; `ptrs` are its decoded operands.
#[inline(always)]
unsafe fn store_edge_tile<T: VMath, S: Kernel<T>, const MR: usize, const NV: usize, const K: u8>(
    s: S,
    acc: [[S::V; NV]; MR],
    dst: &TileDst<T>,
    ptrs: &EpiPtrs<T>,
    contiguous: bool,
) {
    const { assert!(MR * NV * S::LANES <= MAX_TILE) };
    let lanes = S::LANES;
    let alpha = s.splat(dst.alpha);
    let beta = s.splat(dst.beta);
    if dst.mr == MR && dst.csc == 1 && contiguous {
        // Rows of C are contiguous: straight from the registers, with a partial (masked)
        // last vector when the tile is cut by the right edge of C.
        for (i, acc_i) in acc.iter().enumerate() {
            for (v, &ab) in acc_i.iter().enumerate() {
                let j = v * lanes;
                if j >= dst.nr {
                    break;
                }
                let n = lanes.min(dst.nr - j);
                // SAFETY: elements (i, j..j + n) are in the tile (i < MR = mr, j + n <= nr)
                // and contiguous (unit column stride), as are the epilogue operands.
                unsafe {
                    let p = dst.c.add(i * dst.rsc + j);
                    let c_old = if dst.read_c {
                        Some(gather(s, p, 1, n))
                    } else {
                        None
                    };
                    let operands = load_epi::<T, S, K>(s, ptrs, i, j, n);
                    let out = finish::<T, S, K>(s, ab, alpha, beta, c_old, operands);
                    scatter(s, p, 1, n, out);
                }
            }
        }
    } else {
        // Spill the accumulators with constant indices, then walk the partial tile.
        let mut spill = [std::mem::MaybeUninit::<T>::uninit(); MAX_TILE];
        let sp = spill.as_mut_ptr().cast::<T>();
        for (i, acc_i) in acc.iter().enumerate() {
            for (v, &ab) in acc_i.iter().enumerate() {
                // SAFETY: (i * NV + v + 1) * LANES <= MR * NR <= MAX_TILE (asserted).
                unsafe { s.store(sp.add((i * NV + v) * lanes), ab) };
            }
        }
        for i in 0..dst.mr.min(MR) {
            for v in 0..NV {
                let j = v * lanes;
                if j >= dst.nr {
                    break;
                }
                let n = lanes.min(dst.nr - j);
                // SAFETY: the spill slot was written above; elements (i, j..j + n) are in
                // the tile (i < mr, j + n <= nr).
                unsafe {
                    let ab = s.load(sp.add((i * NV + v) * lanes));
                    let p = dst.c.add(i * dst.rsc + j * dst.csc);
                    let c_old = if dst.read_c {
                        Some(gather(s, p, dst.csc, n))
                    } else {
                        None
                    };
                    let operands = load_epi::<T, S, K>(s, ptrs, i, j, n);
                    let out = finish::<T, S, K>(s, ab, alpha, beta, c_old, operands);
                    scatter(s, p, dst.csc, n, out);
                }
            }
        }
    }
}

/// [`store_tile`] of a whole `MR x NR` tile whose rows, and the epilogue operands' rows,
/// are contiguous, for the store kind `K`: every vector a full load and store, C read only
/// with `READ_C`. The edge loop ([`store_edge_tile`]) tests each vector for the right edge
/// and, with those tests, was compiled as a loop over the rows with the accumulators
/// spilled to the stack and reloaded by index (about 50 cycles a tile, 10% of a
/// `64 x 128 x 128` GEMM).
///
/// # Safety
/// `dst` must satisfy the contract of [`TileDst`] with `dst.mr == MR`, `dst.nr == NR` and
/// `dst.csc == 1`; the epilogue operands' rows contiguous (`cse == csy == 1`).
#[inline(always)]
unsafe fn store_whole_tile<
    T: VMath,
    S: Kernel<T>,
    const MR: usize,
    const NV: usize,
    const K: u8,
>(
    s: S,
    acc: &[[S::V; NV]; MR],
    dst: &TileDst<T>,
    ptrs: &EpiPtrs<T>,
) {
    let (alpha, beta) = (s.splat(dst.alpha), s.splat(dst.beta));
    // SAFETY: forwarded contract.
    unsafe {
        if dst.read_c {
            store_whole_rows::<T, S, MR, NV, K, true>(s, acc, dst, ptrs, alpha, beta);
        } else {
            store_whole_rows::<T, S, MR, NV, K, false>(s, acc, dst, ptrs, alpha, beta);
        }
    }
}

/// The body of [`store_whole_tile`], with C read (for `beta`) only when `READ_C`.
///
/// # Safety
/// As [`store_whole_tile`].
#[inline(always)]
unsafe fn store_whole_rows<
    T: VMath,
    S: Kernel<T>,
    const MR: usize,
    const NV: usize,
    const K: u8,
    const READ_C: bool,
>(
    s: S,
    acc: &[[S::V; NV]; MR],
    dst: &TileDst<T>,
    ptrs: &EpiPtrs<T>,
    alpha: S::V,
    beta: S::V,
) {
    let zero = s.splat(T::ZERO);
    for (i, acc_i) in acc.iter().enumerate() {
        for (v, &ab) in acc_i.iter().enumerate() {
            let j = v * S::LANES;
            // SAFETY: elements (i, j..j + LANES) are in the tile (i < MR, j + LANES <=
            // NR), contiguous, as are the epilogue operands (caller).
            unsafe {
                let p = dst.c.add(i * dst.rsc + j);
                let c_old = if READ_C { Some(s.load(p)) } else { None };
                let operands = match K {
                    S_BIAS => (s.load(ptrs.bias.add(j)), zero),
                    S_TANH_BACKWARD => (
                        s.load(ptrs.e.add(i * ptrs.rse + j)),
                        s.load(ptrs.y.add(i * ptrs.rsy + j)),
                    ),
                    _ => (zero, zero),
                };
                s.store(p, finish::<T, S, K>(s, ab, alpha, beta, c_old, operands));
            }
        }
    }
}

/// The operand vectors of epilogue kind `K` for tile row `i`, columns `j..j + n`.
///
/// # Safety
/// The epilogue's operands must be readable at those positions.
#[inline(always)]
unsafe fn load_epi<T: SimdElement, S: Simd<T>, const K: u8>(
    s: S,
    ptrs: &EpiPtrs<T>,
    i: usize,
    j: usize,
    n: usize,
) -> (S::V, S::V) {
    let zero = s.splat(T::ZERO);
    // SAFETY: forwarded contract; `gather` with stride 1 never reads past `n` elements.
    unsafe {
        match K {
            S_BIAS => (gather(s, ptrs.bias.add(j), 1, n), zero),
            S_TANH_BACKWARD => (
                gather(s, ptrs.e.add(i * ptrs.rse + j * ptrs.cse), ptrs.cse, n),
                gather(s, ptrs.y.add(i * ptrs.rsy + j * ptrs.csy), ptrs.csy, n),
            ),
            _ => (zero, zero),
        }
    }
}

/// `f(alpha·ab + beta·c_old)` for epilogue kind `K`, the arithmetic shared by the vector
/// and edge paths (and by every micro-kernel, so an element never depends on its path).
#[inline(always)]
fn finish<T: SimdElement, S: Simd<T>, const K: u8>(
    s: S,
    ab: S::V,
    alpha: S::V,
    beta: S::V,
    c_old: Option<S::V>,
    (op0, op1): (S::V, S::V),
) -> S::V {
    let mut x = s.mul(alpha, ab);
    if let Some(c) = c_old {
        x = s.fma(beta, c, x);
    }
    match K {
        S_BIAS => s.add(x, op0),
        S_TANH_BACKWARD => tanh_backward_vec(s, op1, s.add(x, op0)),
        _ => x,
    }
}

/// `tanh` in place on the `mr x nr` tile at `c` (element `(i, j)` at `c + i·rsc + j·csc`):
/// the second pass of the GEMM's tanh epilogues ([`Kernel::tanh_tile`]). Every element gets
/// the bits of [`tanh_vec`], like the slice kernels.
///
/// # Safety
/// The tile's elements must be readable and writable.
#[inline(always)]
pub(crate) unsafe fn tanh_tile_in_place<T: VMath, S: Simd<T>>(
    s: S,
    c: *mut T,
    rsc: usize,
    csc: usize,
    mr: usize,
    nr: usize,
) {
    if csc == 1 && (rsc == nr || mr == 1) {
        // The tile's rows are adjacent (a C exactly as wide as the tile): one run over
        // its `mr·nr` elements, so a narrow tile pays for one partial vector, not one a
        // row (a 5 x 4 tile: three vectors instead of five masked ones).
        // SAFETY: the tile's elements are the `mr·nr` contiguous elements from `c`.
        unsafe { tanh_run(s, c, c, mr * nr) };
        return;
    }
    for i in 0..mr {
        let row = c.wrapping_add(i * rsc);
        if csc == 1 {
            // SAFETY: row i holds nr contiguous elements of the tile.
            unsafe { tanh_run(s, row, row, nr) };
            continue;
        }
        let mut j = 0;
        while j < nr {
            let len = S::LANES.min(nr - j);
            // The GEMM store path's strided gather / scatter (missing lanes are 0).
            // SAFETY: elements (i, j..j + len) are in the tile, at stride csc.
            unsafe {
                let p = row.add(j * csc);
                let y = tanh_vec(s, gather(s, p, csc, len));
                scatter(s, p, csc, len, y);
            }
            j += len;
        }
    }
}
