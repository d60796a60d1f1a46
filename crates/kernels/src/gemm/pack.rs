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

use super::kernel::prefetch;
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

/// A growable, 64-byte aligned buffer: the packing buffers, reused across calls, and the
/// storage of a [`super::PackedB`].
#[derive(Clone, Default)]
pub(crate) struct AlignedBuf {
    lines: Vec<Line>,
}

impl std::fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AlignedBuf({} bytes)", self.lines.len() * 64)
    }
}

impl AlignedBuf {
    /// The first `len` elements of `T`.
    ///
    /// # Panics
    /// If the buffer holds fewer than `len` elements (a bug of the caller, which sized it
    /// with [`AlignedBuf::slice_mut`]).
    pub(crate) fn slice<T: Float>(&self, len: usize) -> &[T] {
        assert!(len.saturating_mul(std::mem::size_of::<T>()) <= self.lines.len() * 64);
        // SAFETY: the buffer holds at least `len * size_of::<T>()` initialised bytes
        // (asserted), aligned to 64 >= align_of::<T>(); every bit pattern is a valid f32
        // or f64; the borrow is tied to `&self`.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast::<T>(), len) }
    }

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

/// A packing buffer borrowed from this thread's cache for the life of the guard, on its
/// first use ([`BufGuard::slice_mut`]), and given back (if it is the larger one) on drop.
///
/// Borrowed lazily: most small GEMMs pack nothing, and taking and returning two buffers
/// cost a tiny call more than its arithmetic (on a 5 x 4 x 4 GEMM, the drop's
/// thread-local access and a failed store-to-load forward in it were 7% of a TimeRnn
/// forward+backward at `(T, N, D, H) = (4, 5, 3, 4)`).
///
/// A guard rather than a `with_buf(|buf| ...)` closure: the GEMM body runs inside a
/// `#[target_feature]` function, and a closure handed to a function that is not inlined
/// would be compiled *without* those features, so every SIMD primitive in it would
/// become a call (that cost 70x on `gemm_f32/ours-avx2+fma/1024`).
pub(crate) struct BufGuard {
    key: &'static LocalKey<Cell<AlignedBuf>>,
    buf: Option<AlignedBuf>,
}

impl BufGuard {
    /// This thread's A-packing buffer (an empty one if it is already in use).
    #[inline(always)]
    pub(crate) fn a() -> Self {
        Self::new(&A_BUF)
    }

    /// This thread's B-packing buffer (an empty one if it is already in use).
    #[inline(always)]
    pub(crate) fn b() -> Self {
        Self::new(&B_BUF)
    }

    #[inline(always)]
    fn new(key: &'static LocalKey<Cell<AlignedBuf>>) -> Self {
        BufGuard { key, buf: None }
    }

    /// [`AlignedBuf::slice_mut`] of the buffer, taken from the thread's cache on the
    /// first call (an empty one during thread teardown, when the cache is gone).
    #[inline(always)]
    pub(crate) fn slice_mut<T: Float>(&mut self, len: usize) -> &mut [T] {
        let key = self.key;
        self.buf
            .get_or_insert_with(|| key.try_with(Cell::take).unwrap_or_default())
            .slice_mut(len)
    }
}

impl Drop for BufGuard {
    fn drop(&mut self) {
        let Some(buf) = self.buf.take() else {
            return;
        };
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

/// Panels that [`pack_b`] fills together, row by row, from a row-major source.
const PACK_B_GROUP: usize = 16;

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
    // Full panels of a row-major source, `PACK_B_GROUP` panels at a time, row by row: each row
    // of the group is one contiguous run of the source (`GROUP * NR` elements), so a
    // source page is visited once per group rather than once per panel (with rows a page
    // or more apart, panel by panel took a TLB miss per row of every panel).
    let full = if cs == 1 { nc / nr } else { 0 };
    let mut jp = 0;
    while jp < full {
        let g = PACK_B_GROUP.min(full - jp);
        for p in 0..kc {
            for x in jp..jp + g {
                // SAFETY: source elements (p, x * NR + j), j < NR, are inside the view `b`
                // (x < full = nc / NR); destination x * panel_stride + p * NR + j is inside
                // `dst` (asserted above: x < panels).
                unsafe {
                    let from = src.add(p * rs + x * nr);
                    let to = dst.as_mut_ptr().add(x * panel_stride + p * nr);
                    for v in 0..nr / lanes {
                        s.store(to.add(v * lanes), s.load(from.add(v * lanes)));
                    }
                }
            }
        }
        jp += g;
    }
    for jp in full..panels {
        let j0 = jp * nr;
        let w = nr.min(nc - j0);
        let out = dst[jp * panel_stride..].as_mut_ptr();
        // SAFETY: (all three branches) source elements (p, j0 + j) for p < kc, j < w are
        // inside the view `b` (a `MatRef` only addresses elements of its slice);
        // destination elements p * NR + j for p < kc, j < NR are inside `dst` (asserted).
        unsafe {
            if cs == 1 {
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
                if rs == 1 {
                    transpose_lines(src.wrapping_add(j0 * cs), cs, out, nr, w, nr, kc);
                } else {
                    pack_lines(src.wrapping_add(j0 * cs), cs, rs, out, nr, w, nr, kc);
                }
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
pub(crate) unsafe fn pack_lines<T: Float>(
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
    // The zero lines column by column: contiguous stores (line by line, the compiler
    // emits AVX-512 scatters).
    if valid < lines {
        for q in 0..len {
            for x in valid..lines {
                // SAFETY: x < lines, q < len (caller).
                unsafe { *out.add(x + q * width) = T::ZERO };
            }
        }
    }
}

/// [`pack_lines`] with a unit step (each source line contiguous): a transpose of the
/// lines into the columns of a micro-panel. Element `(x, q)` at `src + x * line_stride + q`
/// goes to `out + x + q * width` for `x < valid`, `q < len`; lines `valid..lines` are zeros.
///
/// On x86-64 the f32 and f64 cases go through 4 x 4 (f32) and 2 x 2 (f64) transposes in
/// SSE registers (part of the x86-64 baseline): left to itself, the compiler vectorizes the
/// element loop of [`pack_lines`] with AVX-512 scatters, which are microcoded on AMD Zen 4
/// and made packing a row-major A a quarter of a `700 x 10000 x 100` GEMM.
///
/// # Safety
/// As [`pack_lines`] with `step = 1`.
#[inline(always)]
pub(crate) unsafe fn transpose_lines<T: Float>(
    src: *const T,
    line_stride: usize,
    out: *mut T,
    width: usize,
    valid: usize,
    lines: usize,
    len: usize,
) {
    #[allow(unused_mut)]
    let (mut done, mut len_done) = (0, 0);
    #[cfg(target_arch = "x86_64")]
    {
        use std::any::TypeId;
        if TypeId::of::<T>() == TypeId::of::<f32>() {
            // SAFETY: T is f32, the type the pointers are cast to; forwarded contract.
            (done, len_done) = unsafe {
                sse::transpose_f32(
                    src.cast(),
                    line_stride,
                    out.cast(),
                    width,
                    valid,
                    lines,
                    len,
                )
            };
        } else if TypeId::of::<T>() == TypeId::of::<f64>() {
            // SAFETY: T is f64, the type the pointers are cast to; forwarded contract.
            (done, len_done) = unsafe {
                sse::transpose_f64(
                    src.cast(),
                    line_stride,
                    out.cast(),
                    width,
                    valid,
                    lines,
                    len,
                )
            };
        }
    }
    // SAFETY: forwarded contract, on the part the blocks did not cover (all of it off
    // x86-64): the last columns of lines `0..done`, then lines `done..lines`.
    unsafe {
        pack_lines(
            src.wrapping_add(len_done),
            line_stride,
            1,
            out.wrapping_add(len_done * width),
            width,
            valid.min(done),
            done,
            len - len_done,
        );
        pack_lines(
            src.wrapping_add(done * line_stride),
            line_stride,
            1,
            out.wrapping_add(done),
            width,
            valid.saturating_sub(done),
            lines - done,
            len,
        );
    }
}

/// The SSE blocks of [`transpose_lines`].
#[cfg(target_arch = "x86_64")]
mod sse {
    use std::arch::x86_64::*;

    /// Lines `0..done` and columns `0..len4` of [`super::transpose_lines`] in 4 x 4
    /// blocks (the zero lines included), `done` and `len4` the largest multiples of 4 not
    /// above `lines` and `len`; returns `(done, len4)`.
    ///
    /// # Safety
    /// As [`super::transpose_lines`].
    #[inline(always)]
    pub(super) unsafe fn transpose_f32(
        src: *const f32,
        line_stride: usize,
        out: *mut f32,
        width: usize,
        valid: usize,
        lines: usize,
        len: usize,
    ) -> (usize, usize) {
        let done = lines / 4 * 4;
        let len4 = len / 4 * 4;
        for x0 in (0..done).step_by(4) {
            let line = |x: usize| src.wrapping_add((x0 + x) * line_stride);
            for q in (0..len4).step_by(4) {
                if q % 16 == 0 {
                    // The lines two groups ahead, one cache line at a time: a row-major
                    // A's rows are a whole row apart, too many streams for the hardware
                    // prefetcher when A comes from memory.
                    for x in 8..12 {
                        // SAFETY: a prefetch never faults, whatever the address.
                        unsafe { _mm_prefetch::<_MM_HINT_T0>(line(x).wrapping_add(q).cast()) };
                    }
                }
                // SAFETY: line x0 + x < valid holds elements q..q + 4 (q + 4 <= len);
                // lines at or past `valid` are not read.
                let load = |x: usize| unsafe {
                    if x0 + x < valid {
                        _mm_loadu_ps(line(x).add(q))
                    } else {
                        _mm_setzero_ps()
                    }
                };
                let (r0, r1, r2, r3) = (load(0), load(1), load(2), load(3));
                let to = out.wrapping_add(x0 + q * width);
                // SAFETY: SSE is part of the x86-64 baseline; out + x0 + x + (q + c) *
                // width for x < 4 <= lines - x0 and c < 4 <= len - q is inside the
                // panel (caller).
                unsafe {
                    let (t0, t1) = (_mm_unpacklo_ps(r0, r1), _mm_unpacklo_ps(r2, r3));
                    let (t2, t3) = (_mm_unpackhi_ps(r0, r1), _mm_unpackhi_ps(r2, r3));
                    _mm_storeu_ps(to, _mm_movelh_ps(t0, t1));
                    _mm_storeu_ps(to.add(width), _mm_movehl_ps(t1, t0));
                    _mm_storeu_ps(to.add(2 * width), _mm_movelh_ps(t2, t3));
                    _mm_storeu_ps(to.add(3 * width), _mm_movehl_ps(t3, t2));
                }
            }
        }
        (done, len4)
    }

    /// As [`transpose_f32`] in 2 x 2 blocks.
    ///
    /// # Safety
    /// As [`super::transpose_lines`].
    #[inline(always)]
    pub(super) unsafe fn transpose_f64(
        src: *const f64,
        line_stride: usize,
        out: *mut f64,
        width: usize,
        valid: usize,
        lines: usize,
        len: usize,
    ) -> (usize, usize) {
        let done = lines / 2 * 2;
        let len2 = len / 2 * 2;
        for x0 in (0..done).step_by(2) {
            let line = |x: usize| src.wrapping_add((x0 + x) * line_stride);
            for q in (0..len2).step_by(2) {
                // SAFETY: as in `transpose_f32`.
                let load = |x: usize| unsafe {
                    if x0 + x < valid {
                        _mm_loadu_pd(line(x).add(q))
                    } else {
                        _mm_setzero_pd()
                    }
                };
                let (r0, r1) = (load(0), load(1));
                let to = out.wrapping_add(x0 + q * width);
                // SAFETY: as in `transpose_f32` (SSE2 is part of the x86-64 baseline).
                unsafe {
                    _mm_storeu_pd(to, _mm_unpacklo_pd(r0, r1));
                    _mm_storeu_pd(to.add(width), _mm_unpackhi_pd(r0, r1));
                }
            }
        }
        (done, len2)
    }
}

/// The row split of an `mc`-row block into `ceil(mc / MR)` micro-panels of near-equal
/// height (`base` or `base + 1` rows; the first `extra` panels have the extra row).
///
/// Equal heights rather than full panels plus a remainder: a 2-row remainder panel
/// would run with 4 of the 12 FMA chains of a 6-row kernel and leave the FMA pipes a third
/// busy; 20 rows run as 4 x 5 rows (10 chains each) instead of 6 + 6 + 6 + 2.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RowSplit {
    pub panels: usize,
    base: usize,
    extra: usize,
}

impl RowSplit {
    #[inline(always)]
    pub(crate) fn new(mc: usize, mr: usize) -> Self {
        if mc <= mr {
            // One panel (also `mc = 0`: no panel); no division on the small path.
            return RowSplit {
                panels: usize::from(mc > 0),
                base: mc,
                extra: 0,
            };
        }
        let panels = mc.div_ceil(mr);
        RowSplit {
            panels,
            base: mc / panels,
            extra: mc % panels,
        }
    }
    /// First row and height of panel `q`.
    #[inline(always)]
    pub(crate) fn panel(&self, q: usize) -> (usize, usize) {
        (
            q * self.base + q.min(self.extra),
            self.base + usize::from(q < self.extra),
        )
    }
}

/// Columns ahead that [`pack_a_block`] asks for when it copies a block column by column
/// (on Zen 3, `650 x 700 x 650` with A transposed: 88 GFLOP/s in that order without the
/// prefetch, 90 with it).
const A_COLUMNS_AHEAD: usize = 2;

/// Packs the A block `a` (`mc x kc`) into the micro-panels of [`pack_a`], split as
/// `RowSplit::new(mc, MR)`: panel `q` (rows `split.panel(q)`) at `dst[q * MR * kc..]`.
///
/// A block whose columns are contiguous (a transposed view, as in a weight gradient
/// `X^T · dY`) is copied column by column of the block, each column read once from start
/// to end, the columns [`A_COLUMNS_AHEAD`] ahead prefetched. Panel by panel, each step
/// read another column, a whole column of A apart and usually in another page: the
/// packing of `650 x 700 x 650` with A transposed waited on those lines for 8% of the
/// GEMM on Zen 3, and the GEMM ran at 88 GFLOP/s against 91 now. Other layouts go panel by
/// panel through [`pack_a`].
#[inline(always)]
pub(crate) fn pack_a_block<T: VMath, S: Kernel<T>>(s: S, a: MatRef<'_, T>, dst: &mut [T]) {
    let (mr, lanes) = (S::MR, S::LANES);
    let (mc, kc) = (a.rows(), a.cols());
    // Derived here rather than taken from the caller, so that every panel is inside `a`.
    let split = RowSplit::new(mc, mr);
    assert!(dst.len() >= split.panels * mr * kc);
    if !(a.row_stride() == 1 && a.col_stride() != 1 && mc > 0) {
        for q in 0..split.panels {
            let (r0, h) = split.panel(q);
            let panel = a.submatrix(r0, 0, h, kc).expect("panel inside the block");
            pack_a::<T, S>(panel, &mut dst[q * mr * kc..(q + 1) * mr * kc]);
        }
        return;
    }
    let cs = a.col_stride();
    let src = a.as_slice().as_ptr();
    let out = dst.as_mut_ptr();
    let line = 64 / size_of::<T>();
    for p in 0..kc {
        let col = src.wrapping_add(p * cs);
        let ahead = col.wrapping_add(A_COLUMNS_AHEAD * cs);
        for i in (0..mc).step_by(line) {
            prefetch(ahead.wrapping_add(i));
        }
        prefetch(ahead.wrapping_add(mc - 1));
        for q in 0..split.panels {
            let (r0, h) = split.panel(q);
            let to = out.wrapping_add(q * mr * kc + p * mr);
            for i0 in (0..mr).step_by(lanes) {
                let n = lanes.min(mr - i0);
                let valid = h.saturating_sub(i0).min(n);
                let from = col.wrapping_add(r0 + i0);
                // SAFETY: column p holds the block's rows 0..mc contiguously (unit row
                // stride), and r0 + i0 + valid <= r0 + h <= mc: a full vector is loaded
                // only when all its LANES rows are in the block (its lanes past `n`, the
                // next panel's rows, are not stored); the stores stay inside panel q's
                // column p (asserted length).
                unsafe {
                    let v = if valid == n && r0 + i0 + lanes <= mc {
                        s.load(from)
                    } else if valid > 0 {
                        // A short panel's rows h..MR are zeros.
                        s.load_first(from, valid)
                    } else {
                        s.splat(T::ZERO)
                    };
                    if n == lanes {
                        s.store(to.add(i0), v);
                    } else {
                        s.store_first(to.add(i0), n, v);
                    }
                }
            }
        }
    }
}

/// Packs `a` (`h x kc`, `h <= MR`) into one `MR`-row micro-panel stored column by column
/// (element `(i, p)` at `p * MR + i`), rows `h..MR` zero-padded.
#[inline(always)]
fn pack_a<T: VMath, S: Kernel<T>>(a: MatRef<'_, T>, dst: &mut [T]) {
    let mr = S::MR;
    let (h, kc) = (a.rows(), a.cols());
    assert!(h <= mr && dst.len() >= mr * kc);
    let (rs, cs) = (a.row_stride(), a.col_stride());
    let src = a.as_slice().as_ptr();
    let out = dst.as_mut_ptr();
    // SAFETY: source elements (i, p) for i < h, p < kc are inside the view `a`;
    // destination elements p * MR + i for p < kc, i < MR are inside `dst` (asserted).
    unsafe {
        if cs == 1 {
            // Rows of A contiguous (the usual row-major A): a transpose into the panel.
            transpose_lines(src, rs, out, mr, h, mr, kc);
            return;
        }
        if h == mr {
            // Column by column, unrolled over the MR rows: MR loads and MR contiguous
            // stores per p. (Row by row measured 3-5% slower at 1024³ although it
            // executes fewer instructions.)
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
    use crate::simd::dispatch::available_levels;
    use crate::simd::{dispatch, forward_tier_op, Scalar};

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

    /// Many panels (several groups of `PACK_B_GROUP`, a partial group, an edge panel),
    /// a source whose rows are longer than the block, and gaps between panels: every
    /// element lands where the layout says, the padding is zero, the gaps are untouched.
    #[test]
    fn pack_b_groups_of_panels_match_the_layout() {
        let nr = <Scalar as Kernel<f32>>::NR;
        for (kc, nc) in [
            (3, (2 * PACK_B_GROUP + 5) * nr + 2),
            (1, PACK_B_GROUP * nr),
            (0, 9),
        ] {
            let ld = nc + 7;
            let d: Vec<f32> = (0..kc.max(1) * ld).map(|x| x as f32 + 1.0).collect();
            let b = MatRef::from_slice(&d, kc.max(1), ld)
                .unwrap()
                .submatrix(0, 0, kc, nc)
                .unwrap();
            let panels = nc.div_ceil(nr);
            let stride = kc * nr + 5;
            let mut out = vec![f32::NAN; panels * stride];
            pack_b(Scalar, b, &mut out, stride);
            for jp in 0..panels {
                for p in 0..kc {
                    for j in 0..nr {
                        let want = if jp * nr + j < nc {
                            d[p * ld + jp * nr + j]
                        } else {
                            0.0
                        };
                        let got = out[jp * stride + p * nr + j];
                        assert_eq!(got, want, "kc={kc} nc={nc} panel {jp} ({p}, {j})");
                    }
                }
                assert!(out[jp * stride + kc * nr..(jp + 1) * stride]
                    .iter()
                    .all(|x| x.is_nan()));
            }
        }
    }

    /// [`pack_a_block`] of a transposed view (contiguous columns, each column's rows
    /// followed by padding, the last column ending the allocation) against the panel
    /// layout element by element: the full-vector loads must never carry another panel's
    /// rows into a short panel's padding, nor read past the block (an exact-size
    /// allocation, checked by AddressSanitizer and Miri).
    #[test]
    fn pack_a_block_of_a_transposed_view_matches_the_panels() {
        fn check<T: VMath, S: Kernel<T>>(s: S) {
            let (mr, pad) = (S::MR, 3);
            for (mc, kc) in [
                (1, 3),
                (2, 1),
                (5, 2),
                (6, 4),
                (7, 3),
                (8, 5),
                (13, 2),
                (20, 3),
            ]
            .into_iter()
            .chain([(25, 2), (31, 3), (126, 4), (127, 2)])
            {
                let lda = mc + pad;
                let data: Vec<T> = (0..(kc - 1) * lda + mc)
                    .map(|x| T::from_f64(x as f64 + 1.0))
                    .collect();
                let a = MatRef::from_strided(&data, mc, kc, 1, lda).unwrap();
                let split = RowSplit::new(mc, mr);
                let mut got = vec![T::from_f64(-7.0); split.panels * mr * kc];
                pack_a_block::<T, S>(s, a, &mut got);
                for q in 0..split.panels {
                    let (r0, h) = split.panel(q);
                    for p in 0..kc {
                        for i in 0..mr {
                            let want = if i < h { a.at(r0 + i, p) } else { T::ZERO };
                            let at = q * mr * kc + p * mr + i;
                            assert_eq!(got[at], want, "{mc} x {kc}: panel {q}, ({i}, {p})");
                        }
                    }
                }
            }
        }
        struct Check;
        impl Check {
            #[inline(always)]
            fn run<S: Kernel<f32> + Kernel<f64>>(self, s: S) {
                check::<f32, S>(s);
                check::<f64, S>(s);
            }
        }
        struct Op(Check);
        forward_tier_op!(impl[] for Op, output (), via run);
        for level in available_levels() {
            dispatch(level, Op(Check));
        }
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

    /// The SSE blocks of `transpose_lines` give exactly the element loop's panel, for
    /// line counts and lengths that are and are not multiples of the blocks.
    #[test]
    fn transpose_lines_matches_the_element_loop() {
        fn check<T: Float>(from: impl Fn(usize) -> T) {
            let (stride, width) = (23, 13);
            let src: Vec<T> = (0..13 * stride).map(&from).collect();
            // Interpreted (Miri), every transpose shape once: full and partial groups of
            // lines and of elements.
            let (all_lines, lens): (&[usize], &[usize]) = if cfg!(miri) {
                (&[3, 5], &[0, 3, 5])
            } else {
                (
                    &[1, 2, 3, 4, 5, 8, 12, 13],
                    &[0, 1, 2, 3, 4, 5, 7, 8, 17, 23],
                )
            };
            for &lines in all_lines {
                for valid in 0..=lines {
                    for &len in lens {
                        let mut want = vec![from(9999); width * len.max(1)];
                        let mut got = want.clone();
                        // SAFETY: lines <= 13 source lines of `stride >= len` elements;
                        // out + x + q * width for x < lines <= width, q < len is inside.
                        unsafe {
                            pack_lines(
                                src.as_ptr(),
                                stride,
                                1,
                                want.as_mut_ptr(),
                                width,
                                valid,
                                lines,
                                len,
                            );
                            transpose_lines(
                                src.as_ptr(),
                                stride,
                                got.as_mut_ptr(),
                                width,
                                valid,
                                lines,
                                len,
                            );
                        }
                        let bits =
                            |v: &[T]| v.iter().map(|x| x.to_f64().to_bits()).collect::<Vec<_>>();
                        assert_eq!(
                            bits(&got),
                            bits(&want),
                            "lines {lines}, valid {valid}, len {len}"
                        );
                    }
                }
            }
        }
        check(|i| i as f32 * 0.5 - 3.0);
        check(|i| i as f64 * 0.25 + 1.0);
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
