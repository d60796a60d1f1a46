//! The BLIS loop nest around the micro-kernel, for one block of C.
//!
//! Legend: `m, n, k` are the problem dimensions; `jc, pc, ic, jr, ir` the loop indices of
//! BLIS loops 5 to 1 (over NC, KC, MC, NR, MR); `rsa/csa`, `rsc/csc` row and column
//! strides of A and C. A block of C (a range of rows and of columns) is always computed
//! by one thread, and every element of C is reduced over `k` in the same `KC` blocks in
//! the same order whatever the block split, so results are bit-identical for any number
//! of threads.

use super::kernel::{
    column_k_loop, column_store, prefetch_row, BCopy, EpiTile, TileDst, COPY_B_AHEAD_CACHED,
    COPY_B_AHEAD_STREAMED,
};
use super::pack::{pack_a_block, pack_b, pack_lines, transpose_lines, BufGuard, RowSplit};
use super::tiers::{wide_cols, Blocking, Kernel, COLUMN_NV, WIDE_ROWS};
use super::Epilogue;
use crate::element::Float;
use crate::view::MatRef;
use crate::vmath::VMath;
use std::ops::Range;

/// The right-hand operand: a view to pack block by block, or micro-panels packed once.
#[derive(Clone, Copy)]
pub(crate) enum BSrc<'a, T> {
    /// Packed per `(KC, NC)` block on the fly.
    View(MatRef<'a, T>),
    /// Packed once: `NR`-column panels of full depth `k`, panel `jp` at `jp * k * NR`.
    Packed(&'a [T]),
}

/// One GEMM `C ← f(alpha·A·B + beta·C)`, validated by the caller.
pub(crate) struct Problem<'a, T> {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub alpha: T,
    pub beta: T,
    pub a: MatRef<'a, T>,
    pub b: BSrc<'a, T>,
    pub c: *mut T,
    pub rsc: usize,
    pub csc: usize,
    pub epi: Epilogue<'a, T>,
}

// SAFETY: the raw pointer `c` addresses the elements of a `MatMut` borrowed mutably for
// the duration of the call; threads only ever write disjoint blocks of it (see `gemm_par`),
// and everything else in `Problem` is shared, read-only data.
unsafe impl<T: Float> Sync for Problem<'_, T> {}

impl<T: Float> Problem<'_, T> {
    /// The `h x w` tile of C at `(i, j)` as a micro-kernel stores it in a reduction block
    /// that is the `first` and / or the `last` one: beta applies in the first block only
    /// (C is not read there when beta = 0; later blocks add to it), the epilogue in the
    /// last only.
    #[inline(always)]
    fn tile(&self, i: usize, j: usize, h: usize, w: usize, first: bool, last: bool) -> TileDst<T> {
        TileDst {
            c: self.c.wrapping_add(i * self.rsc + j * self.csc),
            rsc: self.rsc,
            csc: self.csc,
            mr: h,
            nr: w,
            alpha: self.alpha,
            beta: if first { self.beta } else { T::ONE },
            read_c: !first || self.beta != T::ZERO,
            epi: if last {
                tile_epi(&self.epi, i, j)
            } else {
                EpiTile::None
            },
        }
    }
}

/// The tile form of the epilogue at C element `(i, j)`.
#[inline(always)]
fn tile_epi<T: Float>(epi: &Epilogue<'_, T>, i: usize, j: usize) -> EpiTile<T> {
    match *epi {
        Epilogue::None => EpiTile::None,
        Epilogue::Bias(b) => EpiTile::Bias(b[j..].as_ptr()),
        Epilogue::Tanh => EpiTile::Tanh,
        Epilogue::BiasTanh(b) => EpiTile::BiasTanh(b[j..].as_ptr()),
        Epilogue::TanhBackward { e, y } => EpiTile::TanhBackward {
            e: e.as_slice()[i * e.row_stride() + j * e.col_stride()..].as_ptr(),
            rse: e.row_stride(),
            cse: e.col_stride(),
            y: y.as_slice()[i * y.row_stride() + j * y.col_stride()..].as_ptr(),
            rsy: y.row_stride(),
            csy: y.col_stride(),
        },
    }
}

/// Computes the block `rows x cols` of C (with `cols.start` a multiple of `NR` when B is
/// pre-packed).
#[inline(always)]
pub(crate) fn gemm_block<T: VMath, S: Kernel<T>>(
    s: S,
    p: &Problem<'_, T>,
    rows: Range<usize>,
    cols: Range<usize>,
) {
    if rows.is_empty() || cols.is_empty() {
        return;
    }
    let mut bbuf = BufGuard::b();
    let mut abuf = BufGuard::a();
    gemm_block_in(s, p, rows, cols, &mut bbuf, &mut abuf)
}

#[inline(always)]
fn gemm_block_in<T: VMath, S: Kernel<T>>(
    s: S,
    p: &Problem<'_, T>,
    rows: Range<usize>,
    cols: Range<usize>,
    bbuf: &mut BufGuard,
    abuf: &mut BufGuard,
) {
    if let Some(b) = column_path_applies::<T, S>(p) {
        return gemm_column(s, p, b, rows, abuf);
    }
    let blocking = Blocking::new::<T, S>();
    if let BSrc::View(b) = p.b {
        // The skinny path up to one A block (`mc` rows): a packed B micro-panel would
        // serve the A panels of that block only, which read it from L1 just as well in
        // place after the first; beyond it, a packed B block is reused by every A block,
        // and packing pays. (Measured on Intel AVX-512 at 16 to 128 rows: 1.05–1.45x
        // faster than packing B, never slower.) Not where the packed path reads A in
        // place (C at most 8 strips wide): there packing A, which the skinny path must,
        // costs more than packing B (Zen 3: 64 x 128 x 128 82 -> 87 GFLOP/s, 100 x 128 x
        // 128 82 -> 90, 120 x 64 x 64 75 -> 85; 16 and 20 rows unchanged).
        if b.col_stride() == 1
            && rows.len() <= blocking.mc
            && !reads_a_in_place::<T, S>(p.a, cols.len())
        {
            return gemm_block_skinny(s, p, b, rows, cols, blocking, bbuf, abuf);
        }
    }
    gemm_block_packed(s, p, rows, cols, blocking, bbuf, abuf)
}

/// The BLIS loops 5 to 3 with both operands packed (B per `(KC, nc)` block, or
/// pre-packed), in blocks of `blocking` (which changes no bit of the result).
#[inline(always)]
fn gemm_block_packed<T: VMath, S: Kernel<T>>(
    s: S,
    p: &Problem<'_, T>,
    rows: Range<usize>,
    cols: Range<usize>,
    blocking: Blocking,
    bbuf: &mut BufGuard,
    abuf: &mut BufGuard,
) {
    debug_assert!(blocking.mc.is_multiple_of(S::MR) && blocking.nc.is_multiple_of(S::NR));
    debug_assert!(blocking.mc > 0 && blocking.nc > 0);
    let (mr, nr) = (S::MR, S::NR);
    let k = p.k;
    let a_in_place = reads_a_in_place::<T, S>(p.a, cols.len());
    // Row blocks of near-equal height (a multiple of MR), so that 128 rows with mc = 126
    // run as 2 x 64, not 126 + 2. A read in place needs no L2 budget of its own: up to
    // twice `mc` rows are one block.
    let limit = if a_in_place {
        2 * blocking.mc
    } else {
        blocking.mc
    };
    let blocks = rows.len().div_ceil(limit).max(1);
    let mc_step = rows.len().div_ceil(blocks).next_multiple_of(mr);
    let one_a_block = blocks == 1;
    let ahead = copy_b_ahead::<T, S>(rows.len(), k, cols.len(), blocking);
    // Loop 5: columns of C in NC-wide blocks (packed B block lives in L3).
    let mut jc = cols.start;
    while jc < cols.end {
        let nc = blocking.nc.min(cols.end - jc);
        // Loop 4: the reduction dimension in KC-deep blocks (B micro-panel lives in L1).
        // It runs once with kc = 0 when k = 0, so that C is still scaled and f applied.
        let mut pc = 0;
        loop {
            let kc = S::KC.min(k - pc);
            let b_block = match p.b {
                BSrc::View(b) => {
                    let panels = nc.div_ceil(nr);
                    let block = b.submatrix(pc, jc, kc, nc).expect("block inside B");
                    if block.col_stride() == 1 {
                        // The first row panel's kernels pack the full micro-panels as they
                        // read them; the right edge's partial one is packed here. With one
                        // A block every micro-panel is packed into the same place (two
                        // micro-panels of buffer: the full ones, then the edge); with
                        // several, into the whole packed block, which the other A blocks
                        // then read as packed.
                        let full = nc / nr;
                        let (len, stride, edge_at) = if one_a_block {
                            (2 * kc * nr, 0, kc * nr)
                        } else {
                            (panels * kc * nr, kc * nr, full * kc * nr)
                        };
                        let dst = bbuf.slice_mut::<T>(len);
                        if full < panels {
                            let edge = block.submatrix(0, full * nr, kc, nc - full * nr);
                            let edge = edge.expect("edge inside the block");
                            pack_b(s, edge, &mut dst[edge_at..], kc * nr);
                        }
                        BBlock::Copied(CopyB {
                            b: block.as_slice().as_ptr(),
                            rsb: block.row_stride(),
                            full,
                            strip: dst.as_mut_ptr(),
                            strip_stride: stride,
                            edge: dst.as_ptr().wrapping_add(edge_at),
                            ahead,
                        })
                    } else {
                        let dst = bbuf.slice_mut::<T>(panels * kc * nr);
                        pack_b(s, block, dst, kc * nr);
                        BBlock::Packed {
                            b: dst.as_ptr(),
                            panel_stride: kc * nr,
                        }
                    }
                }
                BSrc::Packed(data) => {
                    debug_assert_eq!(jc % nr, 0);
                    BBlock::Packed {
                        b: data[(jc / nr) * k * nr + pc * nr..].as_ptr(),
                        panel_stride: k * nr,
                    }
                }
            };
            // Loop 3: rows of C in MC-tall blocks (packed A block lives in L2).
            let mut ic = rows.start;
            while ic < rows.end {
                let mc = mc_step.min(rows.end - ic);
                let a_block = p.a.submatrix(ic, pc, mc, kc).expect("block inside A");
                let split = RowSplit::new(mc, mr);
                let a_src = if a_in_place {
                    ASrc::InPlace {
                        a: a_block.as_slice().as_ptr(),
                        rsa: a_block.row_stride(),
                    }
                } else {
                    // `MR`-row micro-panels, panel `q` at `q * MR * kc`.
                    let dst = abuf.slice_mut::<T>(split.panels * mr * kc);
                    pack_a_block::<T, S>(s, a_block, dst);
                    ASrc::Packed(dst.as_ptr())
                };
                let blk = Block {
                    ic,
                    jc,
                    nc,
                    kc,
                    first: pc == 0,
                    last: pc + kc >= k,
                };
                // The first A block packs B as it goes; the others read what it packed.
                let b_now = match b_block {
                    BBlock::Copied(cb) if ic != rows.start => {
                        // Several A blocks: the whole packed block (stride 0 only for
                        // kc = 0, whose micro-panels are empty).
                        debug_assert_eq!(cb.strip_stride, kc * nr);
                        BBlock::Packed {
                            b: cb.strip.cast_const(),
                            panel_stride: cb.strip_stride,
                        }
                    }
                    other => other,
                };
                macro_kernel(s, p, &blk, split, a_src, b_now);
                ic += mc;
            }
            pc += kc;
            if pc >= k {
                break;
            }
        }
        jc += nc;
    }
}

/// The skinny path of [`gemm_block_in`] (few rows, B with unit column stride): the same
/// `KC` blocks of the reduction in the same order, A packed per block as on the packed
/// path, but B not packed per `(KC, NC)` block: a packed block of B would be read by only
/// a few A panels, so packing it in a pass of its own costs more than it saves. B is read
/// in place by the micro-kernel, copied a few strips at a time into a small buffer, or
/// copied one strip at a time by the first row panel's kernel ([`SkinnyB`]). The
/// micro-kernel reduces each element in the same order whichever way, so the path taken
/// never changes a bit.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn gemm_block_skinny<T: VMath, S: Kernel<T>>(
    s: S,
    p: &Problem<'_, T>,
    b: MatRef<'_, T>,
    rows: Range<usize>,
    cols: Range<usize>,
    blocking: Blocking,
    bbuf: &mut BufGuard,
    abuf: &mut BufGuard,
) {
    let (mr, nr, k) = (S::MR, S::NR, p.k);
    let split = RowSplit::new(rows.len(), mr);
    let rsb = b.row_stride();
    let b0 = b.as_slice().as_ptr();
    let b_fits_l3 = cols.len() <= blocking.nc;
    let mode = SkinnyB::choose::<T>(rsb, split.panels, b_fits_l3);
    // B streamed from memory and read in place: the panels after the first ask for the
    // next strip's rows, a share each ([`prefetch_next_strip`]).
    let ask_next = mode == SkinnyB::InPlace && !b_fits_l3 && split.panels >= 2;
    let ahead = copy_b_ahead::<T, S>(rows.len(), k, cols.len(), blocking);
    let mut pc = 0;
    loop {
        let kc = S::KC.min(k - pc);
        let a_block =
            p.a.submatrix(rows.start, pc, rows.len(), kc)
                .expect("block inside A");
        let dst = abuf.slice_mut::<T>(split.panels * mr * kc);
        pack_a_block::<T, S>(s, a_block, dst);
        let a = dst.as_ptr();
        let (first, last) = (pc == 0, pc + kc >= k);
        // A single row panel of at most `WIDE_ROWS` rows: no other panel reuses B, so B is
        // read in place, in wide tiles, then the rest of the columns in `NR`-wide ones.
        if rows.len() <= WIDE_ROWS {
            let h = rows.len();
            let w = wide_cols(h, S::LANES);
            let mut j = cols.start;
            while j < cols.end {
                let width = if cols.end - j >= w {
                    w
                } else {
                    nr.min(cols.end - j)
                };
                let tile = p.tile(rows.start, j, h, width, first, last);
                let bj = b0.wrapping_add(pc * rsb + j);
                // SAFETY: the packed A panel (h <= MR rows, kc columns) is inside the
                // buffer; B rows pc..pc + kc, columns j..j + width are inside the view `b`
                // (unit column stride); the h x width C tile at (rows.start, j) is inside
                // the validated C view; epilogue operands were validated to C's shape.
                unsafe {
                    if width == w {
                        s.kernel_wide(h, kc, a, 1, mr, bj, rsb, &tile)
                    } else {
                        s.kernel_b_direct(h, kc, a, bj, rsb, &tile)
                    }
                };
                j += width;
            }
            pc += kc;
            if pc >= k {
                break;
            }
            continue;
        }
        // Rows of the next strip that each row panel after the first asks for.
        let share = kc.div_ceil(split.panels.saturating_sub(1).max(1));
        let group = if mode == SkinnyB::Strips {
            STRIP_GROUP
        } else {
            1
        };
        // One strip's buffer for `Copied`, a group's for `Strips`.
        let buf = bbuf.slice_mut::<T>(group * kc * nr).as_mut_ptr();
        let mut jg = cols.start;
        while jg < cols.end {
            let gw = (group * nr).min(cols.end - jg);
            if mode == SkinnyB::Strips {
                let block = b.submatrix(pc, jg, kc, gw).expect("strips inside B");
                // SAFETY: the buffer holds group * kc * NR >= ceil(gw / NR) * kc * NR
                // elements, and no other reference to it is live.
                let dst = unsafe { std::slice::from_raw_parts_mut(buf, group * kc * nr) };
                pack_b(s, block, dst, kc * nr);
            }
            for x in 0..gw.div_ceil(nr) {
                let j = jg + x * nr;
                let nr_eff = nr.min(cols.end - j);
                let bj = b0.wrapping_add(pc * rsb + j);
                for q in 0..split.panels {
                    if ask_next && q >= 1 && j + nr < cols.end {
                        let from = (q - 1) * share;
                        let next = b0.wrapping_add(pc * rsb + j + nr);
                        prefetch_next_strip(next, rsb, from..kc.min(from + share), nr);
                    }
                    let (r0, h) = split.panel(q);
                    let i = rows.start + r0;
                    let tile = p.tile(i, j, h, nr_eff, first, last);
                    let a_q = a.wrapping_add(q * mr * kc);
                    // SAFETY: the packed A panel q (h <= MR rows, kc columns) is inside the
                    // buffer; B rows pc..pc + kc, columns j..j + nr_eff are inside the view
                    // `b` (unit column stride), and their packed, zero-padded copy (strip
                    // x of the group, or the one strip that the first row panel writes
                    // before the others read it) inside `bbuf`, disjoint from A, B and C;
                    // the h x nr_eff C tile at (i, j) is inside the validated C view;
                    // epilogue operands were validated to C's shape.
                    unsafe {
                        match mode {
                            SkinnyB::Strips => {
                                s.kernel_packed(h, kc, a_q, buf.wrapping_add(x * kc * nr), &tile)
                            }
                            SkinnyB::Copied if nr_eff == nr && q == 0 => {
                                let copy = BCopy { to: buf, ahead };
                                s.kernel_copying_b(h, kc, a_q, 1, mr, bj, rsb, copy, &tile)
                            }
                            SkinnyB::Copied if nr_eff == nr => {
                                s.kernel_packed(h, kc, a_q, buf, &tile)
                            }
                            // In place, and the right edge's partial strip of `Copied`.
                            _ => s.kernel_b_direct(h, kc, a_q, bj, rsb, &tile),
                        }
                    };
                }
            }
            jg += gw;
        }
        pc += kc;
        if pc >= k {
            break;
        }
    }
}

/// Asks for rows `rows` of the `NR`-wide strip of B at `strip` (row stride `rsb`), every
/// cache line of each ([`prefetch_row`]). Where B is read in place from memory
/// (C wider than `NC`: the LM head's 100 x 700 x 10000 with A transposed, B's rows 40 KB
/// apart, each a page of its own), the first row panel of each strip waited on every row:
/// the kernel's own prefetch, four rows ahead, is far too close for memory. Spread over
/// the other row panels of the strip before, the next strip arrives in time. Interleaved
/// A/B on Zen 4 with AVX2 (7 rounds, medians, GFLOP/s): 100 x 700 x 10000 (A transposed)
/// 68.3 -> 74.9, 100 x 700 x 10000 73.6 -> 75.0, 64 x 650 x 10000 67.4 -> 71.0, 16 x
/// 650 x 10000 41.2 -> 48.4, 40 x 1024 x 10000 67.0 -> 70.7.
#[inline(always)]
fn prefetch_next_strip<T>(strip: *const T, rsb: usize, rows: Range<usize>, nr: usize) {
    for r in rows {
        prefetch_row(strip.wrapping_add(r * rsb), nr);
    }
}

/// How the skinny path reads B.
///
/// - `Copied` when C is at most `NC` columns wide (the B block that the packed path keeps
///   in L3), from 8 row panels up, or from 2 where the rows of B fall into one or two L1
///   sets: the first row panel's kernel reads each strip (`kc x NR`) in place and writes
///   its packed copy as it goes (`Kernel::kernel_copying_b`), and the other panels read
///   the copy, contiguous and in L1. Zen 3, against the best of the other two: 64 x 256 x
///   256 85 -> 90 GFLOP/s, 120 x 256 x 256 82 -> 90, 64 x 650 x 650 87 -> 90, 64 x 1024 x
///   1024 equal. With 3 to 7 panels the copy does not pay where B read in place stays in
///   L1 (Zen 4 with AVX2: 16 x 650 x 650 76 in place, 74 copied; 16 x 256 x 256 equal),
///   but beats the packing pass of `Strips` where it cannot (same CPU, against `Strips`:
///   12 x 1024 x 1024 49 -> 57, 16 x 1024 x 1024 59 -> 72, 32 x 1024 x 1024 64 -> 77,
///   32 x 512 x 512 73 -> 81, 20 x 2048 x 2048 47 -> 53). With a wider B, streamed from
///   memory, the copying kernel waits on memory where the unrolled in-place kernel does
///   not: 100 x 700 x 10000 (A transposed) 81 in place, 78 copied.
/// - `Strips` where `Copied` is not used and the rows of B fall into one or two L1 sets
///   ([`l1_sets_spanned`]: strides that are multiples of 2 KiB), or four with 8 row
///   panels or more (C wider than `NC`, or a single row panel for two sets or fewer): a
///   strip read in place cannot stay in L1 for the next row panel and every row misses
///   (16 x 1024 x 1024 ran at 27 GFLOP/s in place and 66 copied, 16 x 2048 x 2048 at 25
///   and 47; at four sets the copy pays once 8 panels reuse it: 64 x 256 x 256 83 in
///   place, 86 copied), so the strips are copied [`STRIP_GROUP`] at a time by a packing
///   pass.
/// - `InPlace` everywhere else: the micro-kernel reads B in place with the rows ahead
///   prefetched; faster than a copy even with rows pages apart (Zen 3: 16 x 1100 x 1100
///   87 against 69 copied, 40 x 3000 x 3000 72 against 52).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum SkinnyB {
    InPlace,
    Strips,
    Copied,
}

impl SkinnyB {
    #[inline(always)]
    fn choose<T>(row_stride: usize, panels: usize, b_fits_l3: bool) -> Self {
        let sets = l1_sets_spanned(row_stride.saturating_mul(std::mem::size_of::<T>()));
        if b_fits_l3 && (panels >= 8 || (sets <= 2 && panels >= 2)) {
            SkinnyB::Copied
        } else if sets <= 2 || (sets <= 4 && panels >= 8) {
            SkinnyB::Strips
        } else {
            SkinnyB::InPlace
        }
    }
}

/// Bytes after which the set index of L1 repeats: 64 sets of 64-byte lines on the x86-64
/// cores this library targets (and the common Arm cores), whatever the associativity.
const L1_SET_PERIOD: usize = 4096;

/// How many L1 sets the lines of a column of rows `stride` bytes apart fall into (of
/// `L1_SET_PERIOD / 64`): rows whose stride is a multiple of 1 KiB use only 4.
#[inline(always)]
fn l1_sets_spanned(stride: usize) -> usize {
    // gcd(stride, L1_SET_PERIOD), both being (multiples of) powers of two: the lowest set
    // bit of the stride, at most L1_SET_PERIOD (also for a zero stride).
    let gcd = 1usize << stride.trailing_zeros().min(L1_SET_PERIOD.trailing_zeros());
    (L1_SET_PERIOD / gcd).min(L1_SET_PERIOD / 64)
}

/// Strips of B that the skinny path copies at once (a TLB entry of B then serves
/// `STRIP_GROUP` cache lines of a row rather than one; 64 KiB of f32 on the AVX2 tier).
const STRIP_GROUP: usize = 4;

/// Where the macro-kernel reads the A block from.
#[derive(Clone, Copy)]
enum ASrc<T> {
    /// Packed `MR`-row micro-panels, panel `q` at `q * MR * kc`.
    Packed(*const T),
    /// In place: a row-major block (unit column stride), row `i` at `a + i * rsa`.
    InPlace { a: *const T, rsa: usize },
}

/// Whether the packed path reads a row-major A in place instead of packing it, for a
/// block of `cols` columns of C: when each A element is used by at most 8 strips of
/// `NR` columns, packing A costs more than reading its rows in place saves (six row
/// streams of broadcasts, each sequential). On Zen 3 (AVX2, 6 x 16 tiles) in place was
/// faster at n = 48 (74 -> 90 GFLOP/s, 1000 x 1000 x 48) and n = 100 (71 -> 80,
/// 700 x 1000 x 100; the language model's `dHS = dS·Wᵀ`, 700 x 10000 x 100, 63 -> 70),
/// slower at n = 200 and 256 (by 4-5%). The micro-kernel's arithmetic is the same either
/// way: no bit changes.
#[inline(always)]
fn reads_a_in_place<T: VMath, S: Kernel<T>>(a: MatRef<'_, T>, cols: usize) -> bool {
    a.col_stride() == 1 && cols.div_ceil(S::NR) <= 8
}

/// The `(kc, nc)` block of B that the macro-kernel reads.
#[derive(Clone, Copy)]
enum BBlock<T> {
    /// Packed micro-panels, `jp` at `b + jp * panel_stride`.
    Packed { b: *const T, panel_stride: usize },
    /// Packed one micro-panel at a time by the first row panel of the first A block.
    Copied(CopyB<T>),
}

/// A `(kc, nc)` block of B that the macro-kernel packs as it goes. The kernel of the
/// first row panel reads micro-panel `jp < full` in place (row `p`, column `j` at `b + p *
/// rsb + jp * NR + j`) and stores each row it loads at `strip + jp * strip_stride + p *
/// NR`, where the other row panels read it; the partial micro-panel of the right edge is
/// packed beforehand at `edge`. With a single A block the packed micro-panel serves that
/// block only, so one buffer serves every micro-panel and stays in L1 (`strip_stride =
/// 0`). With several, the micro-panels fill the whole packed block (`strip_stride = kc *
/// NR`), which the later A blocks read as [`BBlock::Packed`]. This replaces the packing
/// pass over B, whose stores of the whole block (64 KiB for 128 x 128, more than L1) went
/// out to L2 only to be read back: Zen 3, 64 x 128 x 128 86 -> 92 GFLOP/s, 100 x 128 x 128
/// 90 -> 93, 32 x 128 x 128 80 -> 88, 16 x 128 x 128 and 64 x 64 x 64 unchanged (within
/// 1%).
#[derive(Clone, Copy)]
struct CopyB<T> {
    b: *const T,
    rsb: usize,
    full: usize,
    strip: *mut T,
    strip_stride: usize,
    edge: *const T,
    /// Rows of B ahead that the copying kernel asks for ([`BCopy::ahead`]).
    ahead: usize,
}

/// [`BCopy::ahead`] for a `k x n` B and an `m x n` C: [`COPY_B_AHEAD_CACHED`] when both
/// fit the L3 share that the blocking gives a packed B block (`KC x nc`),
/// [`COPY_B_AHEAD_STREAMED`] otherwise, B then coming from memory (a C of 700 x 10000
/// streaming through L3 evicts a B of 100 x 10000 between calls).
#[inline(always)]
fn copy_b_ahead<T: VMath, S: Kernel<T>>(m: usize, k: usize, n: usize, blocking: Blocking) -> usize {
    if k.saturating_add(m).saturating_mul(n) <= S::KC * blocking.nc {
        COPY_B_AHEAD_CACHED
    } else {
        COPY_B_AHEAD_STREAMED
    }
}

/// Position of one `(ic, pc, jc)` block inside the problem.
struct Block {
    ic: usize,
    jc: usize,
    nc: usize,
    kc: usize,
    /// First block of the reduction: beta applies (C is not read when beta = 0).
    first: bool,
    /// Last block of the reduction: the epilogue applies.
    last: bool,
}

/// Loops 2 and 1: every micro-tile of one `mc x nc` block of C, from the A block `a` and
/// the B block `b`.
#[inline(always)]
fn macro_kernel<T: VMath, S: Kernel<T>>(
    s: S,
    p: &Problem<'_, T>,
    blk: &Block,
    split: RowSplit,
    a: ASrc<T>,
    b: BBlock<T>,
) {
    let (mr, nr, kc) = (S::MR, S::NR, blk.kc);
    // Loop 2: NR-wide micro-panels of the packed B block (each stays in L1 for loop 1).
    let mut jr = 0;
    while jr < blk.nc {
        let nr_eff = nr.min(blk.nc - jr);
        let jp = jr / nr;
        // The packed micro-panel, and where the first row panel reads B in place to
        // write it (when it does).
        let (bp, copy_from) = match b {
            BBlock::Packed { b, panel_stride } => (b.wrapping_add(jp * panel_stride), None),
            BBlock::Copied(cb) if jp < cb.full => {
                let strip = cb.strip.wrapping_add(jp * cb.strip_stride);
                (strip.cast_const(), Some((cb, strip)))
            }
            BBlock::Copied(cb) => (cb.edge, None),
        };
        // Loop 1: the row micro-panels of the A block.
        let mut paired = false;
        for q in 0..split.panels {
            if std::mem::take(&mut paired) {
                continue; // computed with panel q - 1
            }
            let (r0, h) = split.panel(q);
            let (i, j) = (blk.ic + r0, blk.jc + jr);
            // A right edge one vector wide or less, A read in place, B a packed micro-panel
            // (an edge is never read in place: `copy_from` is for full micro-panels): two
            // row panels in one tile, FMA chains enough to fill the pipes.
            if let (ASrc::InPlace { a, rsa }, true, true, None) =
                (a, nr_eff <= S::LANES, q + 1 < split.panels, copy_from)
            {
                let rows = h + split.panel(q + 1).1;
                let dst = p.tile(i, j, rows, nr_eff, blk.first, blk.last);
                let a_q = a.wrapping_add(r0 * rsa);
                // SAFETY: as below, for rows r0..r0 + rows of the block (panels q and
                // q + 1, adjacent) and the packed B micro-panel, zero-padded to NR.
                paired = unsafe { s.kernel_edge_pair(rows, kc, a_q, rsa, bp, &dst) };
                if paired {
                    continue;
                }
            }
            let dst = p.tile(i, j, h, nr_eff, blk.first, blk.last);
            let (a_q, rsa, csa) = match a {
                ASrc::Packed(a) => (a.wrapping_add(q * mr * kc), 1, mr),
                ASrc::InPlace { a, rsa } => (a.wrapping_add(r0 * rsa), rsa, 1),
            };
            // SAFETY: the A panel (rows r0..r0 + h of the block, kc columns, h <= MR) is
            // inside the packed buffer, or inside the view `p.a` when read in place; the B
            // micro-panel holds kc rows of NR elements (packed here, or inside the
            // `PackedB` whose depth is k); the h x nr_eff C tile at (i, j) is inside the
            // validated C view; epilogue operands were validated to C's shape. When B is
            // copied, micro-panel jp < full is NR columns of B's block read in place (kc
            // rows a row stride apart), and `strip` (kc x NR, in the B buffer, disjoint
            // from A, B and C) is written by the first row panel (q = 0) before the
            // others read it.
            unsafe {
                if let (0, Some((cb, strip))) = (q, copy_from) {
                    let b_in = cb.b.wrapping_add(jr);
                    let copy = BCopy {
                        to: strip,
                        ahead: cb.ahead,
                    };
                    s.kernel_copying_b(h, kc, a_q, rsa, csa, b_in, cb.rsb, copy, &dst);
                    continue;
                }
                match a {
                    ASrc::Packed(a) => {
                        s.kernel_packed(h, kc, a.wrapping_add(q * mr * kc), bp, &dst)
                    }
                    // The packed B micro-panel read as a matrix with row stride NR.
                    ASrc::InPlace { a, rsa } => {
                        s.kernel_direct(h, kc, a.wrapping_add(r0 * rsa), rsa, 1, bp, nr, &dst)
                    }
                }
            }
        }
        jr += nr;
    }
}

/// Whether `C ← f(alpha·A·B + beta·C)` takes the column path ([`gemm_column`]): C of one
/// column, at least `MR` rows, B not pre-packed, and an epilogue without a bias (a bias
/// is per column of C, which the column path's transposed tiles cannot index).
#[inline(always)]
pub(crate) fn column_path_applies<'a, T: VMath, S: Kernel<T>>(
    p: &Problem<'a, T>,
) -> Option<MatRef<'a, T>> {
    match (p.b, &p.epi) {
        (_, Epilogue::Bias(_) | Epilogue::BiasTanh(_)) => None,
        (BSrc::View(b), _) if p.n == 1 && p.m >= S::MR => Some(b),
        _ => None,
    }
}

/// Steps of the reduction that the column path transposes at a time (a `COLUMN_NV *
/// LANES x COLUMN_CHUNK` block of A, 8 KiB for f32 on AVX2, read back from L1).
const COLUMN_CHUNK: usize = 32;

/// The column path: `rows` of a C of one column (a matrix-vector product). The tiles of
/// the other paths put C's columns in the vector lanes, so one column would use one lane
/// in `LANES`; here C's rows take the lanes ([`column_k_loop`]), in groups of `COLUMN_NV *
/// LANES` rows. A row-major A is transposed in registers where the tier can
/// ([`Kernel::column_rows`]: AVX2 f32), otherwise a few steps at a time into a small
/// buffer; a column-major A (a transposed view) is read in place where a whole group fits.
///
/// The reduction runs in the same `KC` blocks as on the other paths, each from zero and
/// in order, and each block is stored to C as their tiles store it ([`column_store`]), so
/// every element of C has the same bits whichever path computed it.
#[inline(always)]
fn gemm_column<T: VMath, S: Kernel<T>>(
    s: S,
    p: &Problem<'_, T>,
    b: MatRef<'_, T>,
    rows: Range<usize>,
    abuf: &mut BufGuard,
) {
    let w = COLUMN_NV * S::LANES;
    let (rsa, csa, rsb, k) = (p.a.row_stride(), p.a.col_stride(), b.row_stride(), p.k);
    let (a0, b0) = (p.a.as_slice().as_ptr(), b.as_slice().as_ptr());
    let mut i = rows.start;
    while i < rows.end {
        let h = w.min(rows.end - i);
        // Runs once with kc = 0 when k = 0, so that C is still scaled and f applied.
        let mut pc = 0;
        loop {
            let kc = S::KC.min(k - pc);
            let mut acc = [s.splat(T::ZERO); COLUMN_NV];
            // A row-major A transposed in registers, where the tier can.
            // SAFETY: A rows i..i + h (1 <= h <= w), columns pc..pc + kc are inside the
            // view `p.a` (unit column stride), and B's column holds rows pc..pc + kc.
            let in_registers = csa == 1
                && unsafe {
                    let src = a0.wrapping_add(i * rsa + pc);
                    s.column_rows(kc, src, rsa, h, b0.wrapping_add(pc * rsb), rsb, &mut acc)
                };
            let mut q = if in_registers { kc } else { 0 };
            while q < kc {
                let buf = abuf.slice_mut::<T>(w * COLUMN_CHUNK).as_mut_ptr();
                let len = COLUMN_CHUNK.min(kc - q);
                let src = a0.wrapping_add(i * rsa + (pc + q) * csa);
                // SAFETY: A rows i..i + h, columns pc + q..pc + q + len are inside the view
                // `p.a`; in place, the group's w = h rows of each column are contiguous
                // (unit row stride); otherwise the buffer holds w x COLUMN_CHUNK >= w x len
                // elements, disjoint from A, B and C, and rows h..w are zero-filled. B's
                // column holds rows pc + q..pc + q + len.
                unsafe {
                    let (at, ats) = if rsa == 1 && h == w {
                        (src, csa)
                    } else {
                        if csa == 1 {
                            transpose_lines(src, rsa, buf, w, h, w, len);
                        } else {
                            pack_lines(src, rsa, csa, buf, w, h, w, len);
                        }
                        (buf.cast_const(), w)
                    };
                    let bq = b0.wrapping_add((pc + q) * rsb);
                    column_k_loop::<T, S, COLUMN_NV>(s, len, at, ats, bq, rsb, &mut acc);
                }
                q += len;
            }
            let tile = p.tile(i, 0, h, 1, pc == 0, pc + kc >= k);
            // `column_path_applies` keeps the bias epilogues (the only ones without a
            // transposed form) off this path.
            let epi = tile.epi.transposed();
            debug_assert!(epi.is_some());
            let dst = TileDst {
                rsc: tile.csc,
                csc: tile.rsc,
                mr: 1,
                nr: h,
                epi: epi.unwrap_or(EpiTile::None),
                ..tile
            };
            // SAFETY: the transposed view of the h x 1 C tile at (i, 0), inside the
            // validated C view: element (0, x) is C's (i + x, 0), x < h <= w; the
            // epilogue operands (no bias) were validated to C's shape and are read at the
            // same transposed places.
            unsafe { column_store::<T, S, COLUMN_NV>(s, acc, &dst) };
            pc += kc;
            if pc >= k {
                break;
            }
        }
        i += h;
    }
}

/// Whether `C ← f(alpha·A·B + beta·C)` takes the small-problem path: no packing, no
/// packing buffers, every micro-tile read straight from the views (see
/// [`super::tiers::SMALL_MAX_MNK`] for the crossover). Needs B rows with unit stride
/// (vector loads) and `k <= KC`, so that the reduction runs in the same single block, in
/// the same order, as on the packed path: which path ran never changes a bit.
#[inline(always)]
pub(crate) fn small_path_applies<'a, T: VMath, S: Kernel<T>>(
    p: &Problem<'a, T>,
) -> Option<MatRef<'a, T>> {
    if column_path_applies::<T, S>(p).is_some() {
        return None;
    }
    match p.b {
        BSrc::View(b)
            if p.k <= S::KC
                && (b.col_stride() == 1 || p.n == 1)
                && p.m.saturating_mul(p.n).saturating_mul(p.k) <= super::tiers::small_max_mnk() =>
        {
            Some(b)
        }
        _ => None,
    }
}

/// The small-problem path: loops 2 and 1 over all of C (`k <= KC`, one reduction block),
/// A and B read in place.
#[inline(always)]
pub(crate) fn gemm_small<T: VMath, S: Kernel<T>>(s: S, p: &Problem<'_, T>, b: MatRef<'_, T>) {
    let nr = S::NR;
    let split = RowSplit::new(p.m, S::MR);
    let (rsa, csa) = (p.a.row_stride(), p.a.col_stride());
    let a0 = p.a.as_slice().as_ptr();
    let b0 = b.as_slice().as_ptr();
    // A single row panel of at most `WIDE_ROWS` rows: wide tiles first, then the rest of
    // the columns in `NR`-wide ones.
    let mut jr = 0;
    if split.panels == 1 && p.m <= WIDE_ROWS {
        let w = wide_cols(p.m, S::LANES);
        while p.n - jr >= w {
            let dst = p.tile(0, jr, p.m, w, true, true);
            // SAFETY: A rows 0..m (all k columns) are inside the view `p.a`; B rows 0..k,
            // columns jr..jr + w are inside the view `b` (unit column stride: w > 1
            // columns); the m x w C tile at (0, jr) is inside the validated C view;
            // epilogue operands were validated to C's shape.
            unsafe {
                s.kernel_wide(
                    p.m,
                    p.k,
                    a0,
                    rsa,
                    csa,
                    b0.wrapping_add(jr),
                    b.row_stride(),
                    &dst,
                )
            };
            jr += w;
        }
    }
    // Loop 2: NR-wide column blocks of B and C.
    while jr < p.n {
        let nr_eff = nr.min(p.n - jr);
        // Loop 1: row micro-panels.
        for q in 0..split.panels {
            let (i, h) = split.panel(q);
            // One reduction block: the first and the last.
            let dst = p.tile(i, jr, h, nr_eff, true, true);
            // SAFETY: A rows i..i + h (all k columns) are inside the view `p.a`; B rows
            // 0..k, columns jr..jr + nr_eff are inside the view `b` (unit column stride,
            // or a single column); the h x nr_eff C tile at (i, jr) is inside the
            // validated C view; epilogue operands were validated to C's shape.
            unsafe {
                s.kernel_direct(
                    h,
                    p.k,
                    a0.wrapping_add(i * rsa),
                    rsa,
                    csa,
                    b0.wrapping_add(jr),
                    b.row_stride(),
                    &dst,
                )
            };
        }
        jr += nr;
    }
}

#[cfg(test)]
mod tests {
    use super::super::pack::BufGuard;
    use super::super::tiers::{run_kernel, WithKernel};
    use super::*;
    use crate::simd::dispatch::available_levels;
    use crate::view::MatMut;

    #[test]
    fn row_split_is_contiguous_even_and_within_mr() {
        for mr in [1, 4, 6, 12] {
            for mc in 0..=60 {
                let split = RowSplit::new(mc, mr);
                assert_eq!(split.panels, mc.div_ceil(mr), "mc={mc} mr={mr}");
                let mut next = 0;
                let (mut lo, mut hi) = (usize::MAX, 0);
                for q in 0..split.panels {
                    let (r0, h) = split.panel(q);
                    assert_eq!(r0, next, "mc={mc} mr={mr} q={q}");
                    assert!((1..=mr).contains(&h), "mc={mc} mr={mr} q={q} h={h}");
                    next += h;
                    lo = lo.min(h);
                    hi = hi.max(h);
                }
                assert_eq!(next, mc);
                assert!(split.panels == 0 || hi - lo <= 1, "mc={mc} mr={mr}");
            }
        }
        // The RNN step shape of the benches: 20 rows as 4 x 5.
        let s = RowSplit::new(20, 6);
        assert_eq!(
            (0..4).map(|q| s.panel(q).1).collect::<Vec<_>>(),
            [5, 5, 5, 5]
        );
    }

    /// Runs one problem through the small path and through the packed path on one tier.
    struct BothPaths<'p, 'a> {
        p: &'p Problem<'a, f64>,
        c_packed: *mut f64,
    }

    impl WithKernel<f64> for BothPaths<'_, '_> {
        /// Whether the small path was taken; `None` for a C of one column that the column
        /// path takes instead (checked against wider C by `tests/gemm.rs`).
        type Output = Option<bool>;
        #[inline(always)]
        fn with_kernel<S: Kernel<f64>>(self, s: S) -> Option<bool> {
            if column_path_applies::<f64, S>(self.p).is_some() {
                return None;
            }
            let Some(b) = small_path_applies::<f64, S>(self.p) else {
                return Some(false);
            };
            gemm_small(s, self.p, b);
            let packed = Problem {
                c: self.c_packed,
                ..*self.p
            };
            gemm_block(s, &packed, 0..packed.m, 0..packed.n);
            Some(true)
        }
    }

    /// Runs one problem through the skinny path, and through the packed path with the
    /// CPU's blocking and with two others (the smallest blocks, and blocks that cut the
    /// rows and columns at odd places): each writes its own C. Returns the CPU's `mc`.
    struct SkinnyAndPacked<'p, 'a> {
        p: &'p Problem<'a, f32>,
        c_packed: [*mut f32; 3],
    }

    impl WithKernel<f32> for SkinnyAndPacked<'_, '_> {
        type Output = usize;
        #[inline(always)]
        fn with_kernel<S: Kernel<f32>>(self, s: S) -> usize {
            let BSrc::View(b) = self.p.b else {
                unreachable!("the test passes a view")
            };
            let (mut bbuf, mut abuf) = (BufGuard::b(), BufGuard::a());
            let cpu = Blocking::new::<f32, S>();
            gemm_block_skinny(
                s,
                self.p,
                b,
                0..self.p.m,
                0..self.p.n,
                cpu,
                &mut bbuf,
                &mut abuf,
            );
            let blockings = [
                cpu,
                Blocking {
                    mc: S::MR,
                    nc: S::NR,
                },
                Blocking {
                    mc: 2 * S::MR,
                    nc: 3 * S::NR,
                },
            ];
            for (c, blocking) in self.c_packed.into_iter().zip(blockings) {
                let packed = Problem { c, ..*self.p };
                gemm_block_packed(
                    s,
                    &packed,
                    0..packed.m,
                    0..packed.n,
                    blocking,
                    &mut bbuf,
                    &mut abuf,
                );
            }
            cpu.mc
        }
    }

    /// The skinny path (B read in place) gives the same bits as the packed path, whatever
    /// its blocking, on every tier, across several KC blocks, at the right edge and with
    /// each epilogue kind.
    #[test]
    fn skinny_path_matches_packed_path_bit_for_bit() {
        let mut x = 0x9876_5432_u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x >> 11) as f64 / (1u64 << 53) as f64 - 0.5) as f32
        };
        for level in available_levels() {
            for (m, k, n) in [
                (1, 1, 1),
                (5, 7, 3),
                (16, 300, 70),
                (20, 800, 33),
                (13, 0, 9),
                (37, 1000, 129),
                (8, 257, 16),
                // Many row panels (AVX2: 9 and 14 panels of 6), B read in place.
                (50, 300, 70),
                (80, 40, 150),
                // 9 row panels: the first copies each strip of B (`SkinnyB::Copied`),
                // with a partial strip at the right edge, B's row stride 1 KiB.
                (50, 300, 253),
                // B's row stride (n + 3 elements) 2 KiB, 4 KiB: with two or three row
                // panels the first copies each strip (`SkinnyB::Copied`); with one, the
                // strips are packed a group at a time (`SkinnyB::Strips`); partial last
                // strips, and a partial last group.
                (7, 30, 509),
                (13, 30, 1021),
                (5, 20, 1021),
                // One row panel of at most `WIDE_ROWS` rows: wide tiles, then NR-wide
                // ones, B read in place (with a 4 KiB row stride in the last).
                (1, 300, 389),
                (2, 257, 200),
                (3, 40, 521),
                (4, 600, 333),
                (1, 3, 1021),
                // C wider than any tier's `NC` (`NC_MAX`): B read in place, and the row
                // panels after the first ask for the next strip (`prefetch_next_strip`),
                // the last strip partial.
                (13, 40, 8203),
            ] {
                let a: Vec<f32> = (0..m * k).map(|_| next()).collect();
                let b: Vec<f32> = (0..k * (n + 3)).map(|_| next()).collect();
                let bias: Vec<f32> = (0..n).map(|_| next()).collect();
                let c0: Vec<f32> = (0..m * n).map(|_| next()).collect();
                for (epi, beta) in [
                    (Epilogue::None, 0.0),
                    (Epilogue::Bias(&bias), 1.0),
                    (Epilogue::BiasTanh(&bias), -0.5),
                ] {
                    let mut c_skinny = c0.clone();
                    let mut c_packed = [c0.clone(), c0.clone(), c0.clone()];
                    let mut cv = MatMut::from_slice(&mut c_skinny, m, n).unwrap();
                    // B with a row stride larger than its width (n + 3).
                    let bv = MatRef::from_slice(&b, k, n + 3)
                        .unwrap()
                        .submatrix(0, 0, k, n)
                        .unwrap();
                    let p = Problem {
                        m,
                        n,
                        k,
                        alpha: 0.75,
                        beta,
                        a: MatRef::from_slice(&a, m, k).unwrap(),
                        b: BSrc::View(bv),
                        c: cv.ptr_mut(),
                        rsc: n,
                        csc: 1,
                        epi,
                    };
                    let mc = run_kernel(
                        level,
                        SkinnyAndPacked {
                            p: &p,
                            c_packed: c_packed.each_mut().map(|c| c.as_mut_ptr()),
                        },
                    );
                    assert!(m <= mc, "{level:?}: {m} rows exceed mc = {mc}");
                    for (b, c_packed) in c_packed.iter().enumerate() {
                        for (i, (x, y)) in c_skinny.iter().zip(c_packed).enumerate() {
                            assert_eq!(
                                x.to_bits(),
                                y.to_bits(),
                                "{level:?} {m}x{k}x{n} {epi:?} blocking {b} at {i}: {x} vs {y}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn skinny_b_mode_follows_panels_and_l1_sets() {
        assert_eq!(l1_sets_spanned(0), 1);
        assert_eq!(l1_sets_spanned(4), 64);
        assert_eq!(l1_sets_spanned(650 * 4), 64);
        assert_eq!(l1_sets_spanned(256 * 4), 4);
        assert_eq!(l1_sets_spanned(512 * 4), 2);
        assert_eq!(l1_sets_spanned(1024 * 4), 1);
        assert_eq!(l1_sets_spanned(3 * 4096), 1);
        assert_eq!(l1_sets_spanned(usize::MAX), 64);
        use SkinnyB::*;
        assert_eq!(SkinnyB::choose::<f32>(650, 3, true), InPlace);
        assert_eq!(SkinnyB::choose::<f32>(650, 21, true), Copied);
        assert_eq!(SkinnyB::choose::<f32>(1100, 3, true), InPlace);
        assert_eq!(SkinnyB::choose::<f32>(256, 3, true), InPlace);
        assert_eq!(SkinnyB::choose::<f32>(256, 8, true), Copied);
        assert_eq!(SkinnyB::choose::<f32>(512, 1, true), Strips);
        assert_eq!(SkinnyB::choose::<f64>(512, 1, true), Strips);
        // One or two L1 sets: a copy by the first of two or more row panels.
        assert_eq!(SkinnyB::choose::<f32>(1024, 3, true), Copied);
        assert_eq!(SkinnyB::choose::<f32>(1024, 2, true), Copied);
        assert_eq!(SkinnyB::choose::<f32>(512, 2, true), Copied);
        assert_eq!(SkinnyB::choose::<f32>(1024, 1, true), Strips);
        assert_eq!(SkinnyB::choose::<f32>(1024, 9, true), Copied);
        assert_eq!(SkinnyB::choose::<f32>(usize::MAX, 3, true), InPlace);
        assert_eq!(SkinnyB::choose::<f32>(10000, 17, false), InPlace);
        assert_eq!(SkinnyB::choose::<f32>(1024, 17, false), Strips);
        // Four L1 sets (a 1 KiB stride): strips from 8 panels when `Copied` is out.
        assert_eq!(SkinnyB::choose::<f32>(256, 8, false), Strips);
        assert_eq!(SkinnyB::choose::<f32>(256, 7, false), InPlace);
    }

    /// The small path takes every shape of the integration sweep `all_small_shapes_every_tier`
    /// whose B has unit column stride, on every tier, and gives the same bits as the packed
    /// path (so the integration tests' exact checks cover both).
    #[test]
    fn small_path_matches_packed_path_bit_for_bit() {
        let mut x = 0x1234_5678_u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        // Every shape up to 17 x 17 x 17, and one row panel of at most `WIDE_ROWS` rows
        // with C wide enough for wide tiles (`Kernel::kernel_wide`) on every tier.
        let shapes = (1..=17)
            .flat_map(|m| (0..=17).flat_map(move |k| (1..=17).map(move |n| (m, k, n))))
            .chain((1..=WIDE_ROWS).flat_map(|m| {
                [0, 1, 5, 40]
                    .into_iter()
                    .flat_map(move |k| [47, 96, 97, 200, 389].map(|n| (m, k, n)))
            }))
            .collect::<Vec<_>>();
        for level in available_levels() {
            for &(m, k, n) in &shapes {
                let a: Vec<f64> = (0..m * k).map(|_| next()).collect();
                let b: Vec<f64> = (0..k * n).map(|_| next()).collect();
                let bias: Vec<f64> = (0..n).map(|_| next()).collect();
                let c0: Vec<f64> = (0..m * n).map(|_| next()).collect();
                for (epi, beta) in [
                    (Epilogue::None, 0.0),
                    (Epilogue::Bias(&bias), 1.0),
                    (Epilogue::Tanh, -0.5),
                ] {
                    let mut c_small = c0.clone();
                    let mut c_packed = c0.clone();
                    let mut cv = MatMut::from_slice(&mut c_small, m, n).unwrap();
                    let p = Problem {
                        m,
                        n,
                        k,
                        alpha: 1.5,
                        beta,
                        a: MatRef::from_slice(&a, m, k).unwrap(),
                        b: BSrc::View(MatRef::from_slice(&b, k, n).unwrap()),
                        c: cv.ptr_mut(),
                        rsc: n,
                        csc: 1,
                        epi,
                    };
                    let Some(took_small) = run_kernel(
                        level,
                        BothPaths {
                            p: &p,
                            c_packed: c_packed.as_mut_ptr(),
                        },
                    ) else {
                        continue;
                    };
                    assert!(took_small, "{level:?} {m}x{k}x{n}: small path not taken");
                    for (i, (x, y)) in c_small.iter().zip(&c_packed).enumerate() {
                        assert_eq!(
                            x.to_bits(),
                            y.to_bits(),
                            "{level:?} {m}x{k}x{n} {epi:?} at {i}: {x} vs {y}"
                        );
                    }
                }
            }
        }
    }
}
