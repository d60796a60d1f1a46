//! The BLIS loop nest around the micro-kernel, for one block of C.
//!
//! Legend: `m, n, k` are the problem dimensions; `jc, pc, ic, jr, ir` the loop indices of
//! BLIS loops 5 to 1 (over NC, KC, MC, NR, MR); `rsa/csa`, `rsc/csc` row and column
//! strides of A and C. A block of C (a range of rows and of columns) is always computed
//! by one thread, and every element of C is reduced over `k` in the same `KC` blocks in
//! the same order whatever the block split, so results are bit-identical for any number
//! of threads.

use super::kernel::{EpiTile, TileDst};
use super::pack::{pack_a, pack_b, with_a_buf, with_b_buf};
use super::params::Tier;
use super::Epilogue;
use crate::float::Float;
use crate::view::MatRef;
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

/// The tile form of the epilogue at C element `(i, j)`.
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
pub(crate) fn gemm_block<T: Float, S: Tier<T>>(
    s: S,
    p: &Problem<'_, T>,
    rows: Range<usize>,
    cols: Range<usize>,
) {
    if rows.is_empty() || cols.is_empty() {
        return;
    }
    with_b_buf(|bbuf| with_a_buf(|abuf| gemm_block_in(s, p, rows, cols, bbuf, abuf)))
}

#[inline(always)]
fn gemm_block_in<T: Float, S: Tier<T>>(
    s: S,
    p: &Problem<'_, T>,
    rows: Range<usize>,
    cols: Range<usize>,
    bbuf: &mut super::pack::AlignedBuf,
    abuf: &mut super::pack::AlignedBuf,
) {
    let (mr, nr) = (S::MR, S::NR);
    // A is read in place (no packing) when one of its strides is 1: either each of the
    // MR rows is a contiguous stream, or each column of a micro-panel is contiguous.
    let direct_a = p.a.col_stride() == 1 || p.a.row_stride() == 1;
    let k = p.k;

    // Loop 5: columns of C in NC-wide blocks (packed B block lives in L3).
    let mut jc = cols.start;
    while jc < cols.end {
        let nc = S::NC.min(cols.end - jc);
        // Loop 4: the reduction dimension in KC-deep blocks (B micro-panel lives in L1).
        // It runs once with kc = 0 when k = 0, so that C is still scaled and f applied.
        let mut pc = 0;
        loop {
            let kc = S::KC.min(k - pc);
            let first = pc == 0;
            let last = pc + kc >= k;
            let (bptr, b_panel_stride): (*const T, usize) = match p.b {
                BSrc::View(b) => {
                    let panels = nc.div_ceil(nr);
                    let dst = bbuf.slice_mut::<T>(panels * kc * nr);
                    let block = b.submatrix(pc, jc, kc, nc).expect("block inside B");
                    pack_b(block, nr, dst, kc * nr);
                    (dst.as_ptr(), kc * nr)
                }
                BSrc::Packed(data) => {
                    debug_assert_eq!(jc % nr, 0);
                    (data[(jc / nr) * k * nr + pc * nr..].as_ptr(), k * nr)
                }
            };
            // Loop 3: rows of C in MC-tall blocks (packed A block lives in L2).
            let mut ic = rows.start;
            while ic < rows.end {
                let mc = S::MC.min(rows.end - ic);
                let a_block = p.a.submatrix(ic, pc, mc, kc).expect("block inside A");
                let packed_a: *const T = if direct_a {
                    std::ptr::null()
                } else {
                    let dst = abuf.slice_mut::<T>(mc.div_ceil(mr) * mr * kc);
                    pack_a(a_block, mr, dst);
                    dst.as_ptr()
                };
                // Loop 2: NR-wide micro-panels of the packed B block.
                let mut jr = 0;
                while jr < nc {
                    let nr_eff = nr.min(nc - jr);
                    let bp = bptr.wrapping_add((jr / nr) * b_panel_stride);
                    // Loop 1: MR-tall micro-panels of A.
                    let mut ir = 0;
                    while ir < mc {
                        let mr_eff = mr.min(mc - ir);
                        let (ap, rsa, csa) = if direct_a && mr_eff == mr {
                            let sub = a_block.submatrix(ir, 0, mr, kc).expect("panel inside A");
                            (sub.as_slice().as_ptr(), sub.row_stride(), sub.col_stride())
                        } else if direct_a {
                            // Partial last panel of an unpacked A: pack it, zero-padded.
                            let sub = a_block
                                .submatrix(ir, 0, mr_eff, kc)
                                .expect("panel inside A");
                            let dst = abuf.slice_mut::<T>(mr * kc);
                            pack_a(sub, mr, dst);
                            (dst.as_ptr(), 1, mr)
                        } else {
                            (packed_a.wrapping_add((ir / mr) * mr * kc), 1, mr)
                        };
                        let (i, j) = (ic + ir, jc + jr);
                        let dst = TileDst {
                            c: p.c.wrapping_add(i * p.rsc + j * p.csc),
                            rsc: p.rsc,
                            csc: p.csc,
                            mr: mr_eff,
                            nr: nr_eff,
                            alpha: p.alpha,
                            beta: if first { p.beta } else { T::ONE },
                            read_c: !first || p.beta != T::ZERO,
                            epi: if last {
                                tile_epi(&p.epi, i, j)
                            } else {
                                EpiTile::None
                            },
                        };
                        // SAFETY: A rows i..i+MR (or the zero-padded copy) and columns
                        // pc..pc+kc are inside the view `p.a` or `abuf`; the B micro-panel
                        // holds kc rows of NR elements (packed here, or inside the
                        // `PackedB` whose depth is k); C elements (i.., j..) of the
                        // mr_eff x nr_eff tile are inside the validated C view; epilogue
                        // operands were validated to C's shape by the caller.
                        unsafe { s.kernel(kc, ap, rsa, csa, bp, &dst) };
                        ir += mr;
                    }
                    jr += nr;
                }
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
