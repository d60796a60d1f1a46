//! Packing of GEMM operands into micro-panels, and the reusable aligned buffers they live
//! in.
//!
//! ```text
//! B block (KC x NC), packed as NR-column micro-panels, each stored row by row:
//!
//!   columns:  | 0 .. NR-1 | NR .. 2NR-1 | ...          packed memory:
//!   p = 0     |  panel 0  |   panel 1   |              [panel 0: row 0 (NR), row 1 (NR), ...,
//!   p = 1     |     |     |      |      |               row KC-1][panel 1: row 0, ...]...
//!   ...       |     v     |      v      |
//!
//! A block (MC x KC), packed as MR-row micro-panels, each stored column by column:
//!
//!   rows 0 .. MR-1      -> panel 0: [col 0 (MR values), col 1 (MR values), ...]
//!   rows MR .. 2MR-1    -> panel 1: ...
//! ```
//!
//! Edge panels are zero-padded to the full MR or NR, so the micro-kernel never branches on
//! the edge inside its loop; the padding lanes' results are discarded by the tile store.

use super::tiers::Kernel;
use crate::element::Float;
use crate::simd::gather;
use crate::view::MatRef;
use crate::vmath::VMath;
use std::cell::Cell;
use std::thread::LocalKey;

/// 64-byte aligned chunk: the unit of the packing buffers (a cache line).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([u8; 64]);

/// A growable, 64-byte aligned scratch buffer, reused across calls.
#[derive(Default)]
pub(crate) struct AlignedBuf {
    lines: Vec<Line>,
}

impl AlignedBuf {
    /// A slice of `len` elements of `T` (contents unspecified), growing the buffer if needed.
    pub(crate) fn slice_mut<T: Float>(&mut self, len: usize) -> &mut [T] {
        let bytes = len
            .checked_mul(std::mem::size_of::<T>())
            .expect("packing buffer size overflows usize");
        let lines = bytes.div_ceil(64);
        if self.lines.len() < lines {
            self.lines.resize(lines, Line([0; 64]));
        }
        // SAFETY: the buffer holds at least `len * size_of::<T>()` initialised bytes,
        // aligned to 64 >= align_of::<T>(); T is f32 or f64, for which every bit pattern
        // is a valid value; the returned borrow is tied to `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast::<T>(), len) }
    }
}

thread_local! {
    static A_BUF: Cell<AlignedBuf> = const { Cell::new(AlignedBuf { lines: Vec::new() }) };
    static B_BUF: Cell<AlignedBuf> = const { Cell::new(AlignedBuf { lines: Vec::new() }) };
}

/// A packing buffer borrowed from this thread's cache for the life of the guard, and
/// given back (if it is the larger one) on drop.
///
/// A guard rather than a `with_buf(|buf| ...)` closure: the GEMM body runs inside a
/// `#[target_feature]` function, and a closure handed to a function that is not inlined
/// would be compiled *without* those features, so every SIMD primitive in it would
/// become a call (that cost 70x on `gemm_f32/ours-avx2+fma/1024`).
pub(crate) struct BufGuard {
    key: &'static LocalKey<Cell<AlignedBuf>>,
    pub(crate) buf: AlignedBuf,
}

impl BufGuard {
    /// This thread's A-packing buffer (an empty one if it is already in use).
    #[inline(always)]
    pub(crate) fn a() -> Self {
        Self::take(&A_BUF)
    }

    /// This thread's B-packing buffer (an empty one if it is already in use).
    #[inline(always)]
    pub(crate) fn b() -> Self {
        Self::take(&B_BUF)
    }

    #[inline(always)]
    fn take(key: &'static LocalKey<Cell<AlignedBuf>>) -> Self {
        BufGuard {
            key,
            buf: key.with(Cell::take),
        }
    }
}

impl Drop for BufGuard {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        // `try_with`: during thread teardown the cache may already be gone; then the
        // buffer is simply freed.
        let _ = self.key.try_with(|cell| {
            let cached = cell.take();
            cell.set(if cached.lines.len() >= buf.lines.len() {
                cached
            } else {
                buf
            });
        });
    }
}

/// Packs `b` (`kc x nc`) into `ceil(nc / NR)` zero-padded `NR`-column micro-panels in
/// `dst`; panel `jp` starts at `jp * panel_stride` (`panel_stride >= kc * NR`).
///
/// Runs inside the tier's target features: a full panel row of a row-major source is
/// `NR / LANES` vector loads and stores (a `memcpy` call per 64-byte row cost 7% of
/// `gemm_f32/ours-avx2+fma/512`).
#[inline(always)]
pub(crate) fn pack_b<T: VMath, S: Kernel<T>>(
    s: S,
    b: MatRef<'_, T>,
    dst: &mut [T],
    panel_stride: usize,
) {
    let (nr, lanes) = (S::NR, S::LANES);
    let (kc, nc) = (b.rows(), b.cols());
    let panels = nc.div_ceil(nr);
    assert!(panel_stride >= kc * nr);
    assert!(dst.len() >= panels.saturating_sub(1) * panel_stride + kc * nr);
    let (rs, cs) = (b.row_stride(), b.col_stride());
    let src = b.as_slice().as_ptr();
    for jp in 0..panels {
        let j0 = jp * nr;
        let w = nr.min(nc - j0);
        let out = dst[jp * panel_stride..].as_mut_ptr();
        // SAFETY: (all three branches) source elements (p, j0 + j) for p < kc, j < w are
        // inside the view `b` (a `MatRef` only addresses elements of its slice);
        // destination elements p * NR + j for p < kc, j < NR are inside `dst` (asserted).
        unsafe {
            if cs == 1 && w == nr {
                for p in 0..kc {
                    let from = src.add(p * rs + j0);
                    let to = out.add(p * nr);
                    for v in 0..nr / lanes {
                        s.store(to.add(v * lanes), s.load(from.add(v * lanes)));
                    }
                }
            } else if cs == 1 {
                // The right edge: each row as vectors, the last valid one loaded with a
                // mask (`gather` never reads past the row's end), zeros beyond.
                let zero = s.splat(T::ZERO);
                for p in 0..kc {
                    let (from, to) = (src.add(p * rs + j0), out.add(p * nr));
                    for j in (0..nr).step_by(lanes) {
                        let x = if j < w {
                            gather(s, from.add(j), 1, lanes.min(w - j))
                        } else {
                            zero
                        };
                        s.store(to.add(j), x);
                    }
                }
            } else {
                // Column by column, so that a column-major source (a transposed view) is
                // read sequentially.
                pack_lines(src.wrapping_add(j0 * cs), cs, rs, out, nr, w, nr, kc);
            }
        }
    }
}

/// Writes `lines` lines of a micro-panel whose line `x` holds, at `out + x + q * width`
/// for `q < len`, the source elements `src + x * line_stride + q * step`; lines
/// `valid..lines` are zeros. Each line is one tight loop with no per-element test: the
/// short A panels (lines = rows) and the edge panels of a transposed B (lines = columns).
///
/// # Safety
/// The source elements for `x < valid`, `q < len` readable; `out + x + q * width` for
/// `x < lines`, `q < len` writable.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn pack_lines<T: Float>(
    src: *const T,
    line_stride: usize,
    step: usize,
    out: *mut T,
    width: usize,
    valid: usize,
    lines: usize,
    len: usize,
) {
    for x in 0..valid {
        // `wrapping_add`: with len = 0 the operands may be empty views (dangling
        // pointers) and nothing is dereferenced, but an in-bounds `add` would be UB.
        let (from, to) = (src.wrapping_add(x * line_stride), out.wrapping_add(x));
        for q in 0..len {
            // SAFETY: x < valid, q < len (caller).
            unsafe { *to.add(q * width) = *from.add(q * step) };
        }
    }
    for x in valid..lines {
        for q in 0..len {
            // SAFETY: x < lines, q < len (caller).
            unsafe { *out.add(x + q * width) = T::ZERO };
        }
    }
}

/// Packs `a` (`h x kc`, `h <= MR`) into one `MR`-row micro-panel stored column by column
/// (element `(i, p)` at `p * MR + i`), rows `h..MR` zero-padded.
#[inline(always)]
pub(crate) fn pack_a<T: VMath, S: Kernel<T>>(a: MatRef<'_, T>, dst: &mut [T]) {
    let mr = S::MR;
    let (h, kc) = (a.rows(), a.cols());
    assert!(h <= mr && dst.len() >= mr * kc);
    let (rs, cs) = (a.row_stride(), a.col_stride());
    let src = a.as_slice().as_ptr();
    let out = dst.as_mut_ptr();
    // SAFETY: source elements (i, p) for i < h, p < kc are inside the view `a`;
    // destination elements p * MR + i for p < kc, i < MR are inside `dst` (asserted).
    unsafe {
        if h == mr {
            // Column by column, unrolled over the MR rows: MR loads and MR contiguous
            // stores per p. (Row by row measured 3-5% slower at 1024³ although it
            // executes fewer instructions; for a transposed view the loads are
            // contiguous too.)
            for p in 0..kc {
                for i in 0..mr {
                    *out.add(p * mr + i) = *src.add(i * rs + p * cs);
                }
            }
            return;
        }
        // A short panel (the last rows, or an even row split such as 20 rows as 4 x 5):
        // row by row. Column by column with an `i < h` test per element executed ~3x
        // the instructions (callgrind, TimeRnn (5, 10, 100, 100)).
        pack_lines(src, rs, cs, out, mr, h, mr, kc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::Scalar;

    #[test]
    fn pack_b_pads_and_orders() {
        let d: Vec<f32> = (0..15).map(|x| x as f32 + 1.0).collect(); // 3 x 5
        let b = MatRef::from_slice(&d, 3, 5).unwrap();
        let mut out = vec![f32::NAN; 2 * 3 * 4];
        pack_b(Scalar, b, &mut out, 12); // Scalar: NR = 4
        assert_eq!(&out[..4], &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(&out[4..8], &[6.0, 7.0, 8.0, 9.0]);
        assert_eq!(&out[12..16], &[5.0, 0.0, 0.0, 0.0]);
        assert_eq!(&out[20..24], &[15.0, 0.0, 0.0, 0.0]);
        // Same through a strided (transposed) source.
        let dt: Vec<f32> = (0..15).map(|i| d[(i % 3) * 5 + i / 3]).collect(); // 5 x 3
        let bt = MatRef::from_slice(&dt, 5, 3).unwrap().t();
        let mut out2 = vec![f32::NAN; 24];
        pack_b(Scalar, bt, &mut out2, 12);
        assert_eq!(out, out2);
    }

    #[test]
    fn pack_a_pads_and_orders() {
        let d: Vec<f64> = (0..10).map(|x| x as f64 + 1.0).collect(); // 5 x 2
        let a = MatRef::from_slice(&d, 5, 2).unwrap();
        let mut out = vec![f64::NAN; 2 * 4 * 2];
        // Scalar: MR = 4; two panels, the second one zero-padded.
        pack_a::<f64, Scalar>(a.submatrix(0, 0, 4, 2).unwrap(), &mut out[..8]);
        pack_a::<f64, Scalar>(a.submatrix(4, 0, 1, 2).unwrap(), &mut out[8..]);
        assert_eq!(&out[..8], &[1.0, 3.0, 5.0, 7.0, 2.0, 4.0, 6.0, 8.0]);
        assert_eq!(&out[8..], &[9.0, 0.0, 0.0, 0.0, 10.0, 0.0, 0.0, 0.0]);
        let dt: Vec<f64> = (0..10).map(|i| d[(i % 5) * 2 + i / 5]).collect(); // 2 x 5
        let at = MatRef::from_slice(&dt, 2, 5).unwrap().t();
        let mut out2 = vec![f64::NAN; 16];
        pack_a::<f64, Scalar>(at.submatrix(0, 0, 4, 2).unwrap(), &mut out2[..8]);
        pack_a::<f64, Scalar>(at.submatrix(4, 0, 1, 2).unwrap(), &mut out2[8..]);
        assert_eq!(out, out2);
    }

    #[test]
    fn aligned_buf_is_aligned_and_grows() {
        let mut buf = AlignedBuf::default();
        let s = buf.slice_mut::<f32>(100);
        assert_eq!(s.as_ptr() as usize % 64, 0);
        assert_eq!(s.len(), 100);
        let s = buf.slice_mut::<f64>(1000);
        assert_eq!(s.len(), 1000);
    }
}
