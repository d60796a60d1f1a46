//! General matrix multiply: `C ← f(alpha·A·B + beta·C)` on strided views, with an optional
//! fused epilogue `f` and an optional pre-packed right-hand operand.
//!
//! The implementation follows BLIS: B is packed into `NR`-column micro-panels per
//! `(KC x NC)` block (or once, in a [`PackedB`]), A is read in place when one of its strides
//! is 1 and packed into `MR`-row micro-panels otherwise, and an `MR x NR` register-tiled
//! micro-kernel per SIMD tier does the arithmetic (see `tiers` for the block sizes). A C
//! of one column (a matrix-vector product) puts C's rows, not its columns, in the vector
//! lanes, with the same reduction blocks and order, so it gets the same bits.
//! Large problems are split over rayon threads by blocks of rows or columns of C, never
//! over `k`, so the result is bit-identical for any number of threads.

pub(crate) mod kernel;
pub(crate) mod loops;
pub(crate) mod pack;
pub mod reference;
pub(crate) mod tiers;

use crate::element::Float;
use crate::error::{fmt_shape, Error, Result};
use crate::simd::dispatch::{level, Level};
use crate::simd::entry_point;
use crate::view::{MatMut, MatRef};
use crate::vmath::VMath;
use loops::{gemm_block, BSrc, Problem};
use pack::AlignedBuf;
use tiers::{run_kernel, Kernel, WithKernel};

/// How many threads a GEMM may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Parallelism {
    /// One thread: the caller's.
    Serial,
    /// Up to `n` rayon tasks (`0`: as many as the current rayon pool has threads), for
    /// problems of at least [`PAR_MIN_FLOPS`] floating-point operations; smaller problems
    /// run on the caller's thread.
    Rayon(usize),
    /// `Rayon(0)`.
    #[default]
    Auto,
}

/// Problems with fewer than this many flops (`2·m·n·k`) run single-threaded: below it the
/// cost of waking a second thread exceeds the gain. Tunable.
#[cfg(not(fuzzing))]
pub const PAR_MIN_FLOPS: usize = 1 << 22;

/// Problems with fewer than this many flops (`2·m·n·k`) run single-threaded. In a
/// cargo-fuzz build (`cfg(fuzzing)`) the threshold is 2¹⁶ instead of 2²², so that the fuzz
/// targets reach the multi-threaded split on shapes they can afford by the million.
#[cfg(fuzzing)]
pub const PAR_MIN_FLOPS: usize = 1 << 16;

/// A function applied to each element of the GEMM result while it is still in registers.
///
/// With `v = alpha·(A·B)[i, j] + beta·C[i, j]` (the `beta` term omitted when `beta == 0`),
/// the GEMM stores `C[i, j] = f(v)` where `f` is:
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub enum Epilogue<'a, T> {
    /// `f(v) = v`.
    #[default]
    None,
    /// `f(v) = v + bias[j]`; `bias` has `n` elements (one per column of C).
    Bias(&'a [T]),
    /// `f(v) = tanh(v)` (the vectorized tanh of [`crate::tanh()`], same accuracy).
    Tanh,
    /// `f(v) = tanh(v + bias[j])`.
    BiasTanh(&'a [T]),
    /// `f(v) = (v + e[i, j]) · (1 − y[i, j]²)`: one step of the backward pass through
    /// `y = tanh(·)`, with `e` and `y` of C's shape `(m, n)`.
    TanhBackward {
        /// Added before the multiplication (`dHS[t−1]` in the RNN backward step).
        e: MatRef<'a, T>,
        /// A tanh output (`HS[t−1]`).
        y: MatRef<'a, T>,
    },
}

/// `C ← alpha·A·B + beta·C` for any strides (so any transposes).
///
/// Shapes: `a: (m, k)`, `b: (k, n)`, `c: (m, n)`. When `beta == 0`, C is only written,
/// never read, so NaN or infinity in C does not leak into the result. NaN and infinities
/// in A and B propagate as in IEEE arithmetic. Uses the dispatched SIMD tier
/// ([`crate::simd_level`]) and [`Parallelism::Auto`].
///
/// ```
/// use recur_kernels::{gemm, MatMut, MatRef};
/// let a = [1.0f32, 2.0, 3.0, 4.0]; // (2, 2)
/// let b = [5.0f32, 6.0, 7.0, 8.0]; // (2, 2)
/// let mut c = [f32::NAN; 4];
/// gemm(1.0, MatRef::from_slice(&a, 2, 2)?, MatRef::from_slice(&b, 2, 2)?,
///      0.0, MatMut::from_slice(&mut c, 2, 2)?)?;
/// assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
/// # Ok::<(), recur_kernels::Error>(())
/// ```
///
/// # Errors
/// [`Error::ShapeMismatch`] naming `b` or `c` when the shapes do not chain.
pub fn gemm<T: Float>(
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
) -> Result<()> {
    gemm_with(alpha, a, b, beta, c, Epilogue::None, Parallelism::Auto)
}

/// `C ← f(alpha·A·B + beta·C)` with an [`Epilogue`] `f` and explicit [`Parallelism`].
///
/// # Errors
/// [`Error::ShapeMismatch`] naming the argument (`b`, `c`, `bias`, `e`, `y`) whose shape
/// does not match `a: (m, k)`, `b: (k, n)`, `c: (m, n)`.
pub fn gemm_with<T: Float>(
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
    epilogue: Epilogue<'_, T>,
    par: Parallelism,
) -> Result<()> {
    let op = "gemm";
    check_chain(op, &a, b.rows(), b.cols(), &c)?;
    check_epilogue(op, &epilogue, c.rows(), c.cols())?;
    // A C stored column by column is computed as Cᵀ = Bᵀ·Aᵀ, so that the micro-kernel's
    // vectors run along C's unit stride. Not with a bias (it runs along C's columns).
    let swap = c.col_stride() != 1
        && c.row_stride() == 1
        && c.rows() > 1
        && !matches!(epilogue, Epilogue::Bias(_) | Epilogue::BiasTanh(_));
    if swap {
        let epilogue = match epilogue {
            Epilogue::TanhBackward { e, y } => Epilogue::TanhBackward { e: e.t(), y: y.t() },
            other => other,
        };
        return run(
            alpha,
            b.t(),
            BSrc::View(a.t()),
            beta,
            c.t(),
            epilogue,
            par,
            level(),
            None,
        );
    }
    run(
        alpha,
        a,
        BSrc::View(b),
        beta,
        c,
        epilogue,
        par,
        level(),
        None,
    )
}

/// A right-hand GEMM operand packed once into the micro-panel layout of the current SIMD
/// tier, for reuse by many [`gemm_packed`] calls (the RNN multiplies by the same `Wh` at
/// every step).
///
/// ```
/// use recur_kernels::{gemm_packed, Epilogue, MatMut, MatRef, PackedB, Parallelism};
/// let w = [1.0f64, 0.0, 0.0, 2.0]; // (2, 2)
/// let packed = PackedB::new(MatRef::from_slice(&w, 2, 2)?)?;
/// let x = [3.0f64, 4.0];           // (1, 2)
/// let mut y = [1.0f64, 1.0];
/// // y = tanh(x·W + y)
/// gemm_packed(1.0, MatRef::from_slice(&x, 1, 2)?, &packed, 1.0,
///             MatMut::from_slice(&mut y, 1, 2)?, Epilogue::Tanh, Parallelism::Serial)?;
/// assert!((y[0] - 4.0f64.tanh()).abs() < 1e-15 && (y[1] - 9.0f64.tanh()).abs() < 1e-15);
/// # Ok::<(), recur_kernels::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct PackedB<T> {
    /// The panels ([`PackedB::panels`]), 64-byte aligned: each packed row of a panel is
    /// one or more whole cache lines, never split across two.
    data: AlignedBuf,
    elem: std::marker::PhantomData<T>,
    k: usize,
    n: usize,
    nr: usize,
    level: Level,
}

/// Packs a `PackedB` on the dispatched tier (inside its target features).
pub(crate) struct PackOp<'a, 'b, T> {
    b: MatRef<'b, T>,
    data: &'a mut AlignedBuf,
}

entry_point!(fn run_pack(PackOp<'a, 'b>) -> Result<(Level, usize)>, via run_kernel);

impl<T: VMath> WithKernel<T> for PackOp<'_, '_, T> {
    /// The tier and its `NR`.
    type Output = Result<(Level, usize)>;
    #[inline(always)]
    fn with_kernel<S: Kernel<T>>(self, s: S) -> Result<(Level, usize)> {
        let (k, n) = (self.b.rows(), self.b.cols());
        let nr = S::NR;
        let len = n
            .div_ceil(nr)
            .checked_mul(nr)
            .and_then(|x| x.checked_mul(k))
            // In bytes, within what an allocation can hold.
            .filter(|&x| x <= isize::MAX as usize / std::mem::size_of::<T>())
            .ok_or_else(|| Error::SizeOverflow {
                op: "PackedB::repack",
                arg: "b",
                shape: fmt_shape(&[k, n]),
            })?;
        // No zero fill first: `pack_b` writes every element of every panel, the padding
        // columns of the last one included.
        let data = self.data.slice_mut::<T>(len);
        if len > 0 {
            // len > 0 means k >= 1 and n >= 1, and k * nr <= len cannot overflow. (With no
            // column there is no panel to write: found by `cargo fuzz run gemm`,
            // tests/kernel_regressions.rs.)
            pack::pack_b(s, self.b, data, k * nr);
        }
        Ok((S::LEVEL, nr))
    }
}

impl<T: Float> PackedB<T> {
    /// Packs `b: (k, n)` for the dispatched tier.
    ///
    /// # Errors
    /// [`Error::SizeOverflow`] if the padded size overflows `usize`.
    pub fn new(b: MatRef<'_, T>) -> Result<Self> {
        let mut p = PackedB {
            data: AlignedBuf::default(),
            elem: std::marker::PhantomData,
            k: 0,
            n: 0,
            nr: 1,
            level: Level::Scalar,
        };
        p.repack(b)?;
        Ok(p)
    }

    /// Packs new values (of any shape) into this operand, reusing its allocation when it
    /// is large enough.
    ///
    /// # Errors
    /// [`Error::SizeOverflow`] if the padded size overflows `usize`.
    pub fn repack(&mut self, b: MatRef<'_, T>) -> Result<()> {
        let (level, nr) = run_pack(
            level(),
            PackOp {
                b,
                data: &mut self.data,
            },
        )?;
        (self.k, self.n, self.nr, self.level) = (b.rows(), b.cols(), nr, level);
        Ok(())
    }

    /// `k`, the number of rows of the packed matrix.
    pub fn rows(&self) -> usize {
        self.k
    }
    /// `n`, the number of columns of the packed matrix.
    pub fn cols(&self) -> usize {
        self.n
    }

    /// The packed panels: `ceil(n / NR)` panels of `k x NR` (a size `repack` checked).
    fn panels(&self) -> &[T] {
        self.data.slice(self.n.div_ceil(self.nr) * self.nr * self.k)
    }
}

/// `C ← f(alpha·A·B + beta·C)` with a pre-packed `B`.
///
/// # Errors
/// [`Error::ShapeMismatch`] naming the argument whose shape does not match `a: (m, k)`,
/// `b: (k, n)`, `c: (m, n)`.
pub fn gemm_packed<T: Float>(
    alpha: T,
    a: MatRef<'_, T>,
    b: &PackedB<T>,
    beta: T,
    c: MatMut<'_, T>,
    epilogue: Epilogue<'_, T>,
    par: Parallelism,
) -> Result<()> {
    let op = "gemm_packed";
    check_chain(op, &a, b.k, b.n, &c)?;
    check_epilogue(op, &epilogue, c.rows(), c.cols())?;
    run(
        alpha,
        a,
        BSrc::Packed(b.panels()),
        beta,
        c,
        epilogue,
        par,
        b.level,
        Some(b.nr),
    )
}

/// Checks that `a: (m, k)`, `b: (bk, bn)` and `c` chain. Inlined: the happy path is a few
/// compares on every call, and the error is built out of line (`chain_error`).
#[inline(always)]
fn check_chain<T: Float>(
    op: &'static str,
    a: &MatRef<'_, T>,
    bk: usize,
    bn: usize,
    c: &MatMut<'_, T>,
) -> Result<()> {
    let (m, k) = (a.rows(), a.cols());
    if bk != k || c.rows() != m || c.cols() != bn {
        return Err(chain_error(op, m, k, bk, bn, c.rows(), c.cols()));
    }
    Ok(())
}

#[cold]
#[inline(never)]
fn chain_error(
    op: &'static str,
    m: usize,
    k: usize,
    bk: usize,
    bn: usize,
    cm: usize,
    cn: usize,
) -> Error {
    if bk != k {
        Error::ShapeMismatch {
            op,
            arg: "b",
            expected: format!("(k, n) = ({k}, _) to chain with a: {}", fmt_shape(&[m, k])),
            got: fmt_shape(&[bk, bn]),
        }
    } else {
        Error::ShapeMismatch {
            op,
            arg: "c",
            expected: format!("(m, n) = {}", fmt_shape(&[m, bn])),
            got: fmt_shape(&[cm, cn]),
        }
    }
}

/// Checks the epilogue's operands against C's shape `(m, n)` (inlined, as `check_chain`).
#[inline(always)]
fn check_epilogue<T: Float>(
    op: &'static str,
    epi: &Epilogue<'_, T>,
    m: usize,
    n: usize,
) -> Result<()> {
    let ok = match epi {
        Epilogue::None | Epilogue::Tanh => true,
        Epilogue::Bias(b) | Epilogue::BiasTanh(b) => b.len() == n,
        Epilogue::TanhBackward { e, y } => {
            e.rows() == m && e.cols() == n && y.rows() == m && y.cols() == n
        }
    };
    if ok {
        Ok(())
    } else {
        Err(epilogue_error(op, epi, m, n))
    }
}

#[cold]
#[inline(never)]
fn epilogue_error<T: Float>(op: &'static str, epi: &Epilogue<'_, T>, m: usize, n: usize) -> Error {
    match epi {
        Epilogue::Bias(b) | Epilogue::BiasTanh(b) => Error::ShapeMismatch {
            op,
            arg: "bias",
            expected: format!("(n) = ({n})"),
            got: fmt_shape(&[b.len()]),
        },
        Epilogue::TanhBackward { e, y } => {
            let (arg, v) = if e.rows() != m || e.cols() != n {
                ("e", e)
            } else {
                ("y", y)
            };
            Error::ShapeMismatch {
                op,
                arg,
                expected: format!("(m, n) = {}", fmt_shape(&[m, n])),
                got: fmt_shape(&[v.rows(), v.cols()]),
            }
        }
        Epilogue::None | Epilogue::Tanh => Error::InvalidState {
            op,
            reason: "epilogue check failed without a mismatched operand",
        },
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn run<T: Float>(
    alpha: T,
    a: MatRef<'_, T>,
    b: BSrc<'_, T>,
    beta: T,
    mut c: MatMut<'_, T>,
    epi: Epilogue<'_, T>,
    par: Parallelism,
    tier: Level,
    packed_nr: Option<usize>,
) -> Result<()> {
    let (m, k, n) = (a.rows(), a.cols(), c.cols());
    if m == 0 || n == 0 {
        return Ok(());
    }
    let problem = Problem {
        m,
        n,
        k,
        alpha,
        beta,
        a,
        b,
        c: c.ptr_mut(),
        rsc: c.row_stride(),
        csc: c.col_stride(),
        epi,
    };
    run_gemm(
        tier,
        GemmOp {
            p: &problem,
            par,
            packed_nr,
        },
    )
}

pub(crate) struct GemmOp<'a, T> {
    p: &'a Problem<'a, T>,
    par: Parallelism,
    /// For a pre-packed B: the NR it was packed with, which must be the tier's.
    packed_nr: Option<usize>,
}

entry_point!(fn run_gemm(GemmOp<'a>) -> Result<()>, via run_kernel);

impl<T: VMath> WithKernel<T> for GemmOp<'_, T> {
    type Output = Result<()>;
    #[inline(always)]
    fn with_kernel<S: Kernel<T>>(self, s: S) -> Result<()> {
        let p = self.p;
        if let Some(b) = loops::small_path_applies::<T, S>(p) {
            loops::gemm_small(s, p, b);
            return Ok(());
        }
        if self.packed_nr.is_some_and(|nr| nr != S::NR) {
            return Err(Error::InvalidState {
                op: "gemm_packed",
                reason: "the PackedB was packed for a SIMD tier that is not available",
            });
        }
        let flops = 2usize
            .saturating_mul(p.m)
            .saturating_mul(p.n)
            .saturating_mul(p.k);
        let threads = if flops < PAR_MIN_FLOPS {
            1
        } else {
            match self.par {
                Parallelism::Serial => 1,
                Parallelism::Rayon(0) | Parallelism::Auto => rayon::current_num_threads(),
                Parallelism::Rayon(n) => n,
            }
        };
        if threads <= 1 {
            gemm_block(s, p, 0..p.m, 0..p.n);
            return Ok(());
        }
        // Split C into `threads` blocks of whole MR rows or whole NR columns (the longer
        // side), each computed by one rayon task with its own packing buffers.
        let split_rows = p.m >= p.n;
        let (len, unit) = if split_rows {
            (p.m, S::MR)
        } else {
            (p.n, S::NR)
        };
        let units = len.div_ceil(unit);
        let per = units.div_ceil(threads).max(1) * unit;
        let chunks = len.div_ceil(per);
        use rayon::prelude::*;
        (0..chunks).into_par_iter().for_each(|ci| {
            let r = ci * per..((ci + 1) * per).min(len);
            let (rows, cols) = if split_rows { (r, 0..p.n) } else { (0..p.m, r) };
            // Re-enter the tier's target features on the worker thread.
            s.block(p, rows, cols);
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every packed row of a panel starts a cache line, whatever the allocator: with the
    /// panels in a `Vec`, glibc put them 16 bytes past a page, every 64-byte AVX2 row
    /// spanned two lines, and a packed 20 x 650 x 650 ran 3% slower.
    #[test]
    fn packed_b_panels_start_cache_lines_and_survive_a_repack() {
        let b: Vec<f32> = (0..7 * 40).map(|x| x as f32).collect();
        let mut packed = PackedB::new(MatRef::from_slice(&b, 7, 40).unwrap()).unwrap();
        let data = packed.panels();
        assert_eq!(data.as_ptr() as usize % 64, 0);
        assert_eq!(data.len(), 40usize.div_ceil(packed.nr) * packed.nr * 7);
        let big: Vec<f32> = (0..300 * 301).map(|x| (x % 17) as f32).collect();
        packed
            .repack(MatRef::from_slice(&big, 300, 301).unwrap())
            .unwrap();
        assert_eq!(packed.panels().as_ptr() as usize % 64, 0);
        // The product through the repacked operand equals the reference.
        let a: Vec<f32> = (0..3 * 300).map(|x| (x % 5) as f32 - 2.0).collect();
        let mut c = vec![0.0f32; 3 * 301];
        let (av, cv) = (
            MatRef::from_slice(&a, 3, 300).unwrap(),
            MatMut::from_slice(&mut c, 3, 301).unwrap(),
        );
        gemm_packed(
            1.0,
            av,
            &packed,
            0.0,
            cv,
            Epilogue::None,
            Parallelism::Serial,
        )
        .unwrap();
        for i in 0..3 {
            for j in 0..301 {
                let want: f32 = (0..300).map(|p| a[i * 300 + p] * big[p * 301 + j]).sum();
                assert_eq!(c[i * 301 + j], want, "({i}, {j})");
            }
        }
        // Back to the small shape in the grown buffer, with no zero fill before packing:
        // the padding columns of the last panel must be written zeros, not the big
        // matrix's leftovers.
        packed
            .repack(MatRef::from_slice(&b, 7, 40).unwrap())
            .unwrap();
        let (nr, panels) = (packed.nr, packed.panels());
        for (x, panel) in panels.chunks(7 * nr).enumerate() {
            for (p, row) in panel.chunks(nr).enumerate() {
                for (j, &v) in row.iter().enumerate() {
                    let col = x * nr + j;
                    let want = if col < 40 { b[p * 40 + col] } else { 0.0 };
                    assert_eq!(v, want, "panel {x}, row {p}, column {j}");
                }
            }
        }
    }
}
