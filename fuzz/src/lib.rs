//! Helpers shared by the fuzz targets: a deterministic value generator, dimension and
//! stride values that reach the edges of `usize`, and ulp distances.

use arbitrary::Arbitrary;

/// xorshift64*: fills tensors from a fuzzed seed, so the fuzzer controls the structure
/// (shapes, strides, call order) with few bytes and the values stay well conditioned.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// Uniform in `[-1, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 52) as f64 * 2.0 - 1.0
    }
    /// An integer in `[-lim, lim]`.
    pub fn int(&mut self, lim: u64) -> f64 {
        self.below(2 * lim + 1) as f64 - lim as f64
    }
}

/// A `usize` that is small most of the time but can be anything, in particular a value
/// near a power of two or `usize::MAX`, so that products and sums of dimensions and
/// strides overflow.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum Dim {
    Small(u8),
    Tiny(bool),
    Pow2 { shift: u8, delta: i8 },
    NearMax(u8),
    Any(usize),
}

impl Dim {
    pub fn get(self) -> usize {
        match self {
            Dim::Small(v) => v as usize % 20,
            Dim::Tiny(b) => b as usize,
            Dim::Pow2 { shift, delta } => {
                (1usize << (shift % usize::BITS as u8)).wrapping_add(delta as isize as usize)
            }
            Dim::NearMax(d) => usize::MAX - d as usize,
            Dim::Any(v) => v,
        }
    }
}

/// Distance in units in the last place between two finite `f32` of any sign.
pub fn ulps_f32(a: f32, b: f32) -> u64 {
    fn key(x: f32) -> i64 {
        let i = x.to_bits() as i32;
        if i < 0 {
            i64::from(i32::MIN) - i64::from(i)
        } else {
            i64::from(i)
        }
    }
    (key(a) - key(b)).unsigned_abs()
}

/// Distance in units in the last place between two finite `f64` of any sign.
pub fn ulps_f64(a: f64, b: f64) -> u128 {
    fn key(x: f64) -> i128 {
        let i = x.to_bits() as i64;
        if i < 0 {
            i128::from(i64::MIN) - i128::from(i)
        } else {
            i128::from(i)
        }
    }
    (key(a) - key(b)).unsigned_abs()
}
