//! [`Rng`]: xorshift64*, seeded through a multiplication by the 64-bit golden ratio.

/// A deterministic xorshift64* generator (Marsaglia's xorshift with a multiplicative
/// output scramble; period 2⁶⁴ − 1): test data that is the same on every machine and every
/// run, with no dependency. Not for anything but tests.
///
/// ```
/// use recur_testkit::Rng;
/// let mut rng = Rng::new(7);
/// let x = rng.uniform_f64(-1.0, 1.0);
/// assert!((-1.0..1.0).contains(&x));
/// let i = rng.below(10);
/// assert!(i < 10);
/// ```
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator for `seed` (any value, 0 included): the state is `seed` times the
    /// 64-bit golden ratio `0x9E37_79B9_7F4A_7C15`, with the low bit set so that it is
    /// never 0 (the one state xorshift cannot leave), which spreads nearby seeds apart.
    pub fn new(seed: u64) -> Self {
        Rng {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        }
    }

    /// A generator whose state is `state` as given, not mixed as in [`Rng::new`]: for a
    /// test that has always started its stream from a raw state.
    ///
    /// # Panics
    /// If `state` is 0, from which xorshift only ever gives 0.
    pub fn from_state(state: u64) -> Self {
        assert_ne!(state, 0, "xorshift64* needs a nonzero state");
        Rng { state }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// An integer in `0..n`, by `next_u64() % n` (its bias, under `n / 2⁶⁴`, does not
    /// matter for tests).
    ///
    /// # Panics
    /// If `n` is 0.
    pub fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "Rng::below(0): the range 0..0 is empty");
        // usize -> u64 is lossless on every supported target, and the result is below n.
        (self.next_u64() % n as u64) as usize
    }

    /// An integer in `[-lim, lim]`, as an `f64`: values whose products and sums stay exact
    /// in floating point for moderate sizes, so that results can be compared bit for bit.
    pub fn int(&mut self, lim: u32) -> f64 {
        let lim = u64::from(lim);
        (self.next_u64() % (2 * lim + 1)) as f64 - lim as f64
    }

    /// A value in `[lo, hi)`: `lo + (hi − lo) · u`, with `u` the top 53 bits of
    /// [`next_u64`](Rng::next_u64) over 2⁵³ (uniform in `[0, 1)`, exact). With `hi − lo` a
    /// power of two, as in `(-1, 1)` or `(0, 1)`, the scaling is exact too; otherwise the
    /// final rounding can give `hi` itself.
    pub fn uniform_f64(&mut self, lo: f64, hi: f64) -> f64 {
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        lo + (hi - lo) * u
    }

    /// [`uniform_f64`](Rng::uniform_f64) rounded to `f32` (so the `f32` and `f64` data of a
    /// test can come from the same draws); the rounding can give `hi` itself.
    pub fn uniform_f32(&mut self, lo: f32, hi: f32) -> f32 {
        self.uniform_f64(f64::from(lo), f64::from(hi)) as f32
    }

    /// `n` values of [`uniform_f64`](Rng::uniform_f64)`(lo, hi)`, in draw order.
    pub fn vec_f64(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n).map(|_| self.uniform_f64(lo, hi)).collect()
    }

    /// `n` values of [`uniform_f32`](Rng::uniform_f32)`(lo, hi)`, in draw order.
    pub fn vec_f32(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| self.uniform_f32(lo, hi)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    /// The streams are part of the tests' data: pin them (values from an independent
    /// implementation of xorshift64*).
    #[test]
    fn streams_are_pinned() {
        let mut r = Rng::new(1);
        assert_eq!(
            [r.next_u64(), r.next_u64(), r.next_u64()],
            [
                0x0d83_b3e2_9a21_487a,
                0x54c4_4c79_f1fe_9d67,
                0xa845_f342_007a_0e78
            ]
        );
        let mut r = Rng::from_state(99);
        assert_eq!(
            [r.next_u64(), r.next_u64()],
            [0x4c0a_b4d5_974e_3cef, 0xfb83_e09b_7000_8f29]
        );
    }

    /// `uniform_f64` gives, bit for bit, what the helpers it replaced computed from the
    /// same draws: `v / 2⁵² − 1` for `[-1, 1)`, `v / 2⁵³` for `[0, 1)` and
    /// `v / 2⁵² · 2 − 1` for the fuzz targets' `[-1, 3)`, `v` the top 53 bits.
    #[test]
    fn uniform_matches_the_replaced_formulas() {
        let (mut a, mut b) = (Rng::new(5), Rng::new(5));
        for _ in 0..10_000 {
            let v = (b.next_u64() >> 11) as f64;
            assert_eq!(
                a.uniform_f64(-1.0, 1.0).to_bits(),
                (v / (1u64 << 52) as f64 - 1.0).to_bits()
            );
            let v = (b.next_u64() >> 11) as f64;
            assert_eq!(
                a.uniform_f64(0.0, 1.0).to_bits(),
                (v / (1u64 << 53) as f64).to_bits()
            );
            let v = (b.next_u64() >> 11) as f64;
            assert_eq!(
                a.uniform_f64(-1.0, 3.0).to_bits(),
                (v / (1u64 << 52) as f64 * 2.0 - 1.0).to_bits()
            );
            let v = (b.next_u64() >> 11) as f64;
            assert_eq!(
                a.uniform_f32(-1.0, 1.0).to_bits(),
                ((v / (1u64 << 52) as f64 - 1.0) as f32).to_bits()
            );
        }
    }

    #[test]
    fn ranges() {
        let mut r = Rng::new(0);
        let mut seen = [false; 9];
        for _ in 0..1000 {
            let x = r.uniform_f64(-2.0, 6.0);
            assert!((-2.0..6.0).contains(&x), "{x}");
            let i = r.int(4);
            assert!(i == i.trunc() && (-4.0..=4.0).contains(&i), "{i}");
            seen[(i + 4.0) as usize] = true;
            assert!(r.below(3) < 3);
        }
        assert!(
            seen.iter().all(|&s| s),
            "int(4) never gave some value: {seen:?}"
        );
        assert_eq!(r.vec_f32(7, 0.0, 1.0).len(), 7);
        // vec_* draw in order, like the loop they replace.
        let (mut a, mut b) = (Rng::new(3), Rng::new(3));
        let v = a.vec_f64(5, -1.0, 1.0);
        let w: Vec<f64> = (0..5).map(|_| b.uniform_f64(-1.0, 1.0)).collect();
        assert_eq!(v, w);
    }
}
