//! Block sizes per tier and element type, and the [`Tier`] trait that binds them to the
//! micro-kernel instantiation.
//!
//! Legend: `MR x NR` is the register tile of the micro-kernel (C rows x C columns; the
//! vectors run along the columns, `NR = NV * LANES`); `KC` cuts the reduction dimension so
//! that one packed B micro-panel (`KC x NR`) stays in L1; `MC` cuts the rows of A so that
//! the packed A block (`MC x KC`) stays in L2; `NC` cuts the columns of B so that the
//! packed B block (`KC x NC`) stays in L3.

use super::kernel::{microkernel, TileDst};
use crate::arch::{Scalar, Simd};
use crate::float::Float;

/// A SIMD tier with its GEMM blocking and micro-kernel.
pub trait Tier<T: Float>: Simd<T> {
    /// Rows of the register tile.
    const MR: usize;
    /// Columns of the register tile (a multiple of `LANES`).
    const NR: usize;
    /// Depth of one packed block (reduction dimension).
    const KC: usize;
    /// Rows of one packed A block (a multiple of `MR`).
    const MC: usize;
    /// Columns of one packed B block (a multiple of `NR`).
    const NC: usize;

    /// Computes one `MR x NR` tile product over `kc` steps and stores it into `dst`.
    ///
    /// A element `(i, p)` is at `a + i * rsa + p * csa` for `i < MR`, `p < kc`; the packed
    /// B micro-panel element `(p, j)` is at `b + p * NR + j` for `j < NR`.
    ///
    /// # Safety
    /// All those A and B elements must be readable, and `dst` must describe writable
    /// memory as documented on [`TileDst`].
    unsafe fn kernel(
        self,
        kc: usize,
        a: *const T,
        rsa: usize,
        csa: usize,
        b: *const T,
        dst: &TileDst<T>,
    );
}

macro_rules! tier {
    ($tok:ty, $t:ty, mr = $mr:expr, nv = $nv:expr, kc = $kc:expr, mc = $mc:expr, nc = $nc:expr) => {
        impl Tier<$t> for $tok {
            const MR: usize = $mr;
            const NR: usize = $nv * <$tok as Simd<$t>>::LANES;
            const KC: usize = $kc;
            const MC: usize = $mc;
            const NC: usize = $nc;

            #[inline(always)]
            unsafe fn kernel(
                self,
                kc: usize,
                a: *const $t,
                rsa: usize,
                csa: usize,
                b: *const $t,
                dst: &TileDst<$t>,
            ) {
                // SAFETY: forwarded contract of `Tier::kernel`.
                unsafe { microkernel::<$t, Self, $mr, $nv>(self, kc, a, rsa, csa, b, dst) }
            }
        }
    };
}

tier!(Scalar, f32, mr = 4, nv = 4, kc = 256, mc = 64, nc = 1024);
tier!(Scalar, f64, mr = 4, nv = 4, kc = 256, mc = 64, nc = 1024);

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
    use crate::arch::{V3, V4};

    // AVX2+FMA: 16 ymm registers; 6 x 2 accumulators + 2 B vectors + 1 broadcast.
    tier!(V3, f32, mr = 6, nv = 2, kc = 256, mc = 144, nc = 3072);
    tier!(V3, f64, mr = 6, nv = 2, kc = 256, mc = 72, nc = 2048);
    // AVX-512: 32 zmm registers; 12 x 2 accumulators + 2 B vectors + 1 broadcast.
    tier!(V4, f32, mr = 12, nv = 2, kc = 384, mc = 144, nc = 4096);
    tier!(V4, f64, mr = 12, nv = 2, kc = 256, mc = 96, nc = 2048);
}
