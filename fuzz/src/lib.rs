//! Helpers shared by the fuzz targets: their tensor entries ([`entry`]) and dimension and
//! stride values that reach the edges of `usize` ([`Dim`]). The generator and the ulp
//! distances are recur-testkit's, shared with the tests.

use arbitrary::Arbitrary;
use recur_testkit::Rng;

/// A tensor entry for the targets: uniform in `[-1, 3)`, from `rng`.
///
/// The targets fill their tensors from a fuzzed seed through [`recur_testkit::Rng`], so
/// the fuzzer controls the structure (shapes, strides, call order) with few bytes and the
/// values stay well conditioned. `[-1, 3)` is the range their former local `Rng::unit`
/// produced (`v / 2⁵² · 2 − 1` for a 53-bit `v`; its documentation said `[-1, 1)`): kept,
/// bit for bit, so that the committed seeds reach the same values.
pub fn entry(rng: &mut Rng) -> f64 {
    rng.uniform_f64(-1.0, 3.0)
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
