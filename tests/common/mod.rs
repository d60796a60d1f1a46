//! Helpers shared by the integration tests: a small deterministic RNG and fast-mode switch.
#![allow(dead_code)]

/// xorshift64*: deterministic, dependency-free test data.
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
    /// Uniform in `[lo, hi)`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    /// Uniform in `[-1, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
    /// An integer in `[-4, 4]` (products and sums stay exact in f32 for moderate k).
    pub fn small_int(&mut self) -> f64 {
        self.below(9) as f64 - 4.0
    }
}

/// `RECUR_FAST_TEST=1` trims the big sweeps (for Miri and quick local runs).
pub fn fast() -> bool {
    std::env::var("RECUR_FAST_TEST").is_ok_and(|v| v != "0")
}
