//! `tanh`, `tanh_inplace` and `tanh_backward` on arbitrary bit patterns, lengths and
//! misaligned sub-slices, on every SIMD tier of this machine:
//! - f32: within 1 ulp of `(x as f64).tanh()` rounded to f32; f64: within 4 ulp of the
//!   platform's `f64::tanh` (the documented accuracy is libm's, glibc: 2 ulp);
//! - NaN in gives NaN out, `|y| <= 1`, `±0 -> ±0`, `±inf -> ±1`;
//! - `tanh` and `tanh_inplace` give the same bits;
//! - `tanh_backward` is `dy · fma(-y, y, 1)` exactly, as documented;
//! - nothing outside the output sub-slice is written; length mismatches are `Err`s that
//!   write nothing.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use recur::kernels::dispatch::{available_levels, with_level};
use recur::kernels::{tanh, tanh_backward, tanh_inplace, Float};
use recur_testkit::{ulps_between_f32, ulps_between_f64};

#[derive(Arbitrary, Debug)]
struct Input {
    /// Offsets of the sub-slices inside their buffers (misalignment).
    off_x: u8,
    off_y: u8,
    off_dy: u8,
    /// A length mismatch to try first (must be an Err).
    bad_len: Option<u8>,
    /// Raw bit patterns, read as f32 or f64 values.
    bytes: Vec<u8>,
    /// Alternative: a dense bit-pattern range, `start + i * step`.
    range: Option<(u64, u32, u16)>,
    f64: bool,
}

trait Bits: Float + std::fmt::LowerExp {
    fn from_bits_u64(b: u64) -> Self;
    fn bits(self) -> u64;
    const SIZE: usize;
    fn ulps(a: Self, b: Self) -> u64;
    /// The accuracy bound in ulp.
    const MAX_ULPS: u64;
    /// The reference result.
    fn reference(self) -> Self;
    fn fnma1(self) -> Self;
}

impl Bits for f32 {
    fn from_bits_u64(b: u64) -> Self {
        f32::from_bits(b as u32)
    }
    fn bits(self) -> u64 {
        u64::from(self.to_bits())
    }
    const SIZE: usize = 4;
    fn ulps(a: Self, b: Self) -> u64 {
        ulps_between_f32(a, b)
    }
    const MAX_ULPS: u64 = 1;
    fn reference(self) -> Self {
        (self as f64).tanh() as f32
    }
    fn fnma1(self) -> Self {
        (-self).mul_add(self, 1.0)
    }
}

impl Bits for f64 {
    fn from_bits_u64(b: u64) -> Self {
        f64::from_bits(b)
    }
    fn bits(self) -> u64 {
        self.to_bits()
    }
    const SIZE: usize = 8;
    fn ulps(a: Self, b: Self) -> u64 {
        ulps_between_f64(a, b)
    }
    const MAX_ULPS: u64 = 4;
    fn reference(self) -> Self {
        self.tanh()
    }
    fn fnma1(self) -> Self {
        (-self).mul_add(self, 1.0)
    }
}

fn same_bits<T: Bits>(a: T, b: T) -> bool {
    a.bits() == b.bits() || (a.is_nan() && b.is_nan())
}

fn run<T: Bits>(inp: &Input) {
    let xs: Vec<T> = match inp.range {
        Some((start, step, count)) => (0..u64::from(count % 2048))
            .map(|i| T::from_bits_u64(start.wrapping_add(i.wrapping_mul(u64::from(step)))))
            .collect(),
        None => inp
            .bytes
            .chunks_exact(T::SIZE)
            .map(|c| {
                let mut b = [0u8; 8];
                b[..T::SIZE].copy_from_slice(c);
                T::from_bits_u64(u64::from_le_bytes(b))
            })
            .collect(),
    };
    let n = xs.len();
    let (ox, oy, od) = (
        inp.off_x as usize % 16,
        inp.off_y as usize % 16,
        inp.off_dy as usize % 16,
    );
    let guard = T::from_f64(-3.25);
    let mut xbuf = vec![guard; ox + n + 16];
    xbuf[ox..ox + n].copy_from_slice(&xs);
    let x = &xbuf[ox..ox + n];

    for level in available_levels() {
        with_level(level, || {
            // A length mismatch is an Err and writes nothing.
            if let Some(d) = inp.bad_len {
                let d = 1 + d as usize % 4;
                let mut ybad = vec![guard; n + d];
                assert!(tanh(x, &mut ybad).is_err());
                assert!(ybad.iter().all(|v| same_bits(*v, guard)));
                if n >= d {
                    let mut dxbad = vec![guard; n];
                    assert!(tanh_backward(x, &x[d..], &mut dxbad).is_err());
                    assert!(tanh_backward(x, x, &mut dxbad[d..]).is_err());
                    assert!(dxbad.iter().all(|v| same_bits(*v, guard)));
                }
            }
            // tanh into a misaligned sub-slice.
            let mut ybuf = vec![guard; oy + n + 16];
            tanh(x, &mut ybuf[oy..oy + n]).expect("equal lengths");
            assert!(ybuf[..oy]
                .iter()
                .chain(&ybuf[oy + n..])
                .all(|v| same_bits(*v, guard)));
            let y = &ybuf[oy..oy + n];
            for (&xi, &yi) in x.iter().zip(y) {
                if xi.is_nan() {
                    assert!(yi.is_nan(), "{level:?}: tanh(NaN) = {yi:e}");
                    continue;
                }
                assert!(
                    !yi.is_nan() && yi.abs() <= T::ONE,
                    "{level:?}: tanh({xi:e}) = {yi:e}"
                );
                if xi == T::ZERO || !xi.is_finite() {
                    let want = if xi == T::ZERO {
                        xi
                    } else if xi > T::ZERO {
                        T::ONE
                    } else {
                        -T::ONE
                    };
                    assert!(
                        same_bits(yi, want),
                        "{level:?}: tanh({xi:e}) = {yi:e}, want {want:e}"
                    );
                }
                let want = xi.reference();
                assert!(
                    T::ulps(yi, want) <= T::MAX_ULPS,
                    "{level:?} {}: tanh({xi:e}) = {yi:e}, want {want:e} ({} ulp)",
                    T::NAME,
                    T::ulps(yi, want)
                );
            }
            // In place, in another misaligned sub-slice: the same bits.
            let mut zbuf = vec![guard; od + n + 16];
            zbuf[od..od + n].copy_from_slice(x);
            tanh_inplace(&mut zbuf[od..od + n]);
            assert!(zbuf[..od]
                .iter()
                .chain(&zbuf[od + n..])
                .all(|v| same_bits(*v, guard)));
            for (a, b) in zbuf[od..od + n].iter().zip(y) {
                assert!(
                    same_bits(*a, *b),
                    "{level:?}: tanh_inplace {a:e} != tanh {b:e}"
                );
            }
            // Backward, with y = the fuzzed values (any bits) and dy = them reversed.
            let dy: Vec<T> = x.iter().rev().copied().collect();
            let mut dxbuf = vec![guard; ox + n + 16];
            tanh_backward(x, &dy, &mut dxbuf[ox..ox + n]).expect("equal lengths");
            assert!(dxbuf[..ox]
                .iter()
                .chain(&dxbuf[ox + n..])
                .all(|v| same_bits(*v, guard)));
            for i in 0..n {
                let want = dy[i] * x[i].fnma1();
                let got = dxbuf[ox + i];
                assert!(
                    same_bits(got, want),
                    "{level:?}: tanh_backward(y={:e}, dy={:e}) = {got:e}, want {want:e}",
                    x[i],
                    dy[i]
                );
            }
        });
    }
}

fuzz_target!(|inp: Input| {
    if inp.f64 {
        run::<f64>(&inp);
    } else {
        run::<f32>(&inp);
    }
});
