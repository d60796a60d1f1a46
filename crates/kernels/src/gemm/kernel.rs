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

use crate::arch::Simd;
use crate::float::Float;

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

impl<T> EpiTile<T> {
    /// True if every operand of the epilogue has unit column stride.
    #[inline(always)]
    fn contiguous(&self) -> bool {
        match *self {
            EpiTile::TanhBackward { cse, csy, .. } => cse == 1 && csy == 1,
            _ => true,
        }
    }
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

/// `MR x (NV * LANES)` micro-kernel; see [`super::params::Tier::kernel`].
///
/// # Safety
/// As [`super::params::Tier::kernel`].
#[inline(always)]
pub(crate) unsafe fn microkernel<T: Float, S: Simd<T>, const MR: usize, const NV: usize>(
    s: S,
    kc: usize,
    a: *const T,
    rsa: usize,
    csa: usize,
    b: *const T,
    dst: &TileDst<T>,
) {
    let nr = NV * S::LANES;
    let mut acc = [[s.splat(T::ZERO); NV]; MR];
    let mut a = a;
    let mut b = b;
    for _ in 0..kc {
        let mut bv = [s.splat(T::ZERO); NV];
        for (v, bvv) in bv.iter_mut().enumerate() {
            // SAFETY: the packed B micro-panel row `p` holds NR = NV * LANES elements.
            *bvv = unsafe { s.load(b.add(v * S::LANES)) };
        }
        for (i, acc_i) in acc.iter_mut().enumerate() {
            // SAFETY: A element (i, p) is readable for i < MR, p < kc (caller).
            let ai = s.splat(unsafe { *a.add(i * rsa) });
            for v in 0..NV {
                acc_i[v] = s.fma(ai, bv[v], acc_i[v]);
            }
        }
        // Step to the next p. `wrapping_add` because after the last step the pointers
        // may point past their allocation; they are not dereferenced then.
        a = a.wrapping_add(csa);
        b = b.wrapping_add(nr);
    }
    // SAFETY: forwarded contract.
    unsafe { store_tile::<T, S, MR, NV>(s, &acc, dst) }
}

/// Applies `C ← f(alpha·acc + beta·C)` to one tile.
///
/// # Safety
/// `dst` must satisfy the contract of [`TileDst`].
#[inline(always)]
unsafe fn store_tile<T: Float, S: Simd<T>, const MR: usize, const NV: usize>(
    s: S,
    acc: &[[S::V; NV]; MR],
    dst: &TileDst<T>,
) {
    let lanes = S::LANES;
    let alpha = s.splat(dst.alpha);
    let beta = s.splat(dst.beta);
    let full = dst.mr == MR && dst.nr == NV * lanes && dst.csc == 1 && dst.epi.contiguous();
    if full {
        for (i, acc_i) in acc.iter().enumerate() {
            for (v, &ab) in acc_i.iter().enumerate() {
                let j = v * lanes;
                // SAFETY: full tile with unit column stride: LANES elements of row i
                // starting at column j are in the tile.
                unsafe {
                    let p = dst.c.add(i * dst.rsc + j);
                    let c_old = if dst.read_c { Some(s.load(p)) } else { None };
                    let operands = load_epi(s, &dst.epi, i, j, lanes);
                    s.store(p, finish(s, ab, alpha, beta, c_old, &dst.epi, operands));
                }
            }
        }
    } else {
        for (i, acc_i) in acc.iter().enumerate().take(dst.mr) {
            for (v, &ab) in acc_i.iter().enumerate() {
                let j = v * lanes;
                if j >= dst.nr {
                    break;
                }
                let n = lanes.min(dst.nr - j);
                // SAFETY: elements (i, j..j + n) are in the tile (i < mr, j + n <= nr).
                unsafe {
                    let p = dst.c.add(i * dst.rsc + j * dst.csc);
                    let c_old = if dst.read_c {
                        Some(gather(s, p, dst.csc, n))
                    } else {
                        None
                    };
                    let operands = load_epi(s, &dst.epi, i, j, n);
                    let out = finish(s, ab, alpha, beta, c_old, &dst.epi, operands);
                    scatter(s, p, dst.csc, n, out);
                }
            }
        }
    }
}

/// The epilogue's operand vectors for tile row `i`, columns `j..j + n`.
///
/// # Safety
/// The epilogue's operands must be readable at those positions.
#[inline(always)]
unsafe fn load_epi<T: Float, S: Simd<T>>(
    s: S,
    epi: &EpiTile<T>,
    i: usize,
    j: usize,
    n: usize,
) -> (S::V, S::V) {
    let zero = s.splat(T::ZERO);
    // SAFETY: forwarded contract; `gather` with n == LANES and stride 1 is a plain load.
    unsafe {
        match *epi {
            EpiTile::None | EpiTile::Tanh => (zero, zero),
            EpiTile::Bias(bias) | EpiTile::BiasTanh(bias) => (gather(s, bias.add(j), 1, n), zero),
            EpiTile::TanhBackward {
                e,
                rse,
                cse,
                y,
                rsy,
                csy,
            } => (
                gather(s, e.add(i * rse + j * cse), cse, n),
                gather(s, y.add(i * rsy + j * csy), csy, n),
            ),
        }
    }
}

/// `f(alpha·ab + beta·c_old)`, the arithmetic shared by the vector and edge paths.
#[inline(always)]
fn finish<T: Float, S: Simd<T>>(
    s: S,
    ab: S::V,
    alpha: S::V,
    beta: S::V,
    c_old: Option<S::V>,
    epi: &EpiTile<T>,
    (op0, op1): (S::V, S::V),
) -> S::V {
    let mut x = s.mul(alpha, ab);
    if let Some(c) = c_old {
        x = s.fma(beta, c, x);
    }
    match epi {
        EpiTile::None => x,
        EpiTile::Bias(_) => s.add(x, op0),
        EpiTile::Tanh => crate::tanh::tanh_vec(s, x),
        EpiTile::BiasTanh(_) => crate::tanh::tanh_vec(s, s.add(x, op0)),
        EpiTile::TanhBackward { .. } => crate::tanh::tanh_backward_vec(s, op1, s.add(x, op0)),
    }
}

/// Loads `n <= LANES` elements at stride `stride` (missing lanes are 0).
///
/// # Safety
/// `p + l * stride` must be readable for `l < n`.
#[inline(always)]
unsafe fn gather<T: Float, S: Simd<T>>(s: S, p: *const T, stride: usize, n: usize) -> S::V {
    if n == S::LANES && stride == 1 {
        // SAFETY: LANES contiguous readable elements.
        return unsafe { s.load(p) };
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
unsafe fn scatter<T: Float, S: Simd<T>>(s: S, p: *mut T, stride: usize, n: usize, v: S::V) {
    if n == S::LANES && stride == 1 {
        // SAFETY: LANES contiguous writable elements.
        unsafe { s.store(p, v) };
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
