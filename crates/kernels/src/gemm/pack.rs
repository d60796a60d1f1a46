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

use crate::float::Float;
use crate::view::MatRef;
use std::cell::RefCell;

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
    static A_BUF: RefCell<AlignedBuf> = RefCell::new(AlignedBuf::default());
    static B_BUF: RefCell<AlignedBuf> = RefCell::new(AlignedBuf::default());
}

/// Runs `f` with this thread's A-packing buffer (or a fresh one if it is in use).
pub(crate) fn with_a_buf<R>(f: impl FnOnce(&mut AlignedBuf) -> R) -> R {
    with_buf(&A_BUF, f)
}

/// Runs `f` with this thread's B-packing buffer (or a fresh one if it is in use).
pub(crate) fn with_b_buf<R>(f: impl FnOnce(&mut AlignedBuf) -> R) -> R {
    with_buf(&B_BUF, f)
}

fn with_buf<R>(
    key: &'static std::thread::LocalKey<RefCell<AlignedBuf>>,
    f: impl FnOnce(&mut AlignedBuf) -> R,
) -> R {
    let mut f = Some(f);
    let out = key.with(|cell| {
        cell.try_borrow_mut()
            .ok()
            .map(|mut buf| (f.take().expect("called once"))(&mut buf))
    });
    match out {
        Some(r) => r,
        None => (f.take().expect("called once"))(&mut AlignedBuf::default()),
    }
}

/// Packs `b` (`kc x nc`) into `ceil(nc / nr)` zero-padded `nr`-column micro-panels in
/// `dst`; panel `jp` starts at `jp * panel_stride` (`panel_stride >= kc * nr`).
pub(crate) fn pack_b<T: Float>(b: MatRef<'_, T>, nr: usize, dst: &mut [T], panel_stride: usize) {
    let (kc, nc) = (b.rows(), b.cols());
    let panels = nc.div_ceil(nr);
    debug_assert!(panel_stride >= kc * nr);
    debug_assert!(dst.len() >= panels.saturating_sub(1) * panel_stride + kc * nr);
    for jp in 0..panels {
        let j0 = jp * nr;
        let w = nr.min(nc - j0);
        let panel = &mut dst[jp * panel_stride..jp * panel_stride + kc * nr];
        for (p, row) in panel.chunks_exact_mut(nr).enumerate() {
            if b.col_stride() == 1 {
                let start = p * b.row_stride() + j0;
                row[..w].copy_from_slice(&b.as_slice()[start..start + w]);
            } else {
                for (j, slot) in row[..w].iter_mut().enumerate() {
                    *slot = b.at(p, j0 + j);
                }
            }
            row[w..].fill(T::ZERO);
        }
    }
}

/// Packs `a` (`mc x kc`) into `ceil(mc / mr)` zero-padded `mr`-row micro-panels stored
/// column by column in `dst`; panel `ip` starts at `ip * mr * kc`.
pub(crate) fn pack_a<T: Float>(a: MatRef<'_, T>, mr: usize, dst: &mut [T]) {
    let (mc, kc) = (a.rows(), a.cols());
    let panels = mc.div_ceil(mr);
    debug_assert!(dst.len() >= panels * mr * kc);
    for ip in 0..panels {
        let i0 = ip * mr;
        let h = mr.min(mc - i0);
        let panel = &mut dst[ip * mr * kc..(ip + 1) * mr * kc];
        if a.row_stride() == 1 {
            // Column-major source: each column of the panel is contiguous.
            for (p, col) in panel.chunks_exact_mut(mr).enumerate() {
                let start = i0 + p * a.col_stride();
                col[..h].copy_from_slice(&a.as_slice()[start..start + h]);
                col[h..].fill(T::ZERO);
            }
        } else {
            for (p, col) in panel.chunks_exact_mut(mr).enumerate() {
                for (i, slot) in col.iter_mut().enumerate() {
                    *slot = if i < h { a.at(i0 + i, p) } else { T::ZERO };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_b_pads_and_orders() {
        let d: Vec<f32> = (0..15).map(|x| x as f32 + 1.0).collect(); // 3 x 5
        let b = MatRef::from_slice(&d, 3, 5).unwrap();
        let mut out = vec![f32::NAN; 2 * 3 * 4];
        pack_b(b, 4, &mut out, 12);
        assert_eq!(&out[..4], &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(&out[4..8], &[6.0, 7.0, 8.0, 9.0]);
        assert_eq!(&out[12..16], &[5.0, 0.0, 0.0, 0.0]);
        assert_eq!(&out[20..24], &[15.0, 0.0, 0.0, 0.0]);
        // Same through a strided (transposed) source.
        let dt: Vec<f32> = (0..15).map(|i| d[(i % 3) * 5 + i / 3]).collect(); // 5 x 3
        let bt = MatRef::from_slice(&dt, 5, 3).unwrap().t();
        let mut out2 = vec![f32::NAN; 24];
        pack_b(bt, 4, &mut out2, 12);
        assert_eq!(out, out2);
    }

    #[test]
    fn pack_a_pads_and_orders() {
        let d: Vec<f64> = (0..10).map(|x| x as f64 + 1.0).collect(); // 5 x 2
        let a = MatRef::from_slice(&d, 5, 2).unwrap();
        let mut out = vec![f64::NAN; 2 * 4 * 2];
        pack_a(a, 4, &mut out);
        assert_eq!(&out[..8], &[1.0, 3.0, 5.0, 7.0, 2.0, 4.0, 6.0, 8.0]);
        assert_eq!(&out[8..], &[9.0, 0.0, 0.0, 0.0, 10.0, 0.0, 0.0, 0.0]);
        let dt: Vec<f64> = (0..10).map(|i| d[(i % 5) * 2 + i / 5]).collect(); // 2 x 5
        let at = MatRef::from_slice(&dt, 2, 5).unwrap().t();
        let mut out2 = vec![f64::NAN; 16];
        pack_a(at, 4, &mut out2);
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
