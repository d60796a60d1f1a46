//! Which elements of a tensor an element-wise check visits: all, or a seeded random or
//! stratified subset that cannot alias with the tensor's layout (an evenly spaced subset
//! of `k` elements of a `k × k` matrix is its diagonal, where a transposed gradient is
//! invisible).

/// The element subset of each tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Sampling {
    /// Every element.
    #[default]
    All,
    /// `count` distinct elements drawn uniformly (all of them if the tensor has fewer).
    Random {
        /// Elements per tensor.
        count: usize,
        /// The seed (mixed with the tensor's position, so tensors get different subsets).
        seed: u64,
    },
    /// `count` strata of consecutive flat indices, one element drawn uniformly in each:
    /// every region of the tensor is visited, none in a fixed pattern.
    Stratified {
        /// Elements (strata) per tensor.
        count: usize,
        /// The seed.
        seed: u64,
    },
}

impl Sampling {
    /// The sorted flat indices to check in a tensor of `len` elements, the `tensor`-th of
    /// its model.
    ///
    /// ```
    /// use recur_check::Sampling;
    /// let s = Sampling::Stratified { count: 12, seed: 7 };
    /// let idx = s.indices(144, 1);
    /// assert_eq!(idx.len(), 12);
    /// // One per row of a 12 × 12 matrix, not all on the diagonal.
    /// assert!(idx.iter().enumerate().all(|(r, &i)| i / 12 == r));
    /// assert!(idx.iter().any(|&i| i / 12 != i % 12));
    /// ```
    pub fn indices(&self, len: usize, tensor: usize) -> Vec<usize> {
        match *self {
            Sampling::All => (0..len).collect(),
            Sampling::Random { count, seed } => {
                if count >= len {
                    return (0..len).collect();
                }
                // Floyd's algorithm: `count` distinct values of 0..len.
                let mut rng = SplitMix::new(seed, tensor);
                let mut chosen = std::collections::BTreeSet::new();
                for j in (len - count)..len {
                    let t = rng.below(j + 1);
                    if !chosen.insert(t) {
                        chosen.insert(j);
                    }
                }
                chosen.into_iter().collect()
            }
            Sampling::Stratified { count, seed } => {
                if count >= len {
                    return (0..len).collect();
                }
                let mut rng = SplitMix::new(seed, tensor);
                (0..count)
                    .map(|s| {
                        let lo = s * len / count;
                        let hi = (s + 1) * len / count;
                        lo + rng.below(hi - lo)
                    })
                    .collect()
            }
        }
    }
}

/// SplitMix64: a small, fast, seedable generator (Steele, Lea and Flood, 2014).
#[derive(Clone, Debug)]
pub(crate) struct SplitMix(u64);

impl SplitMix {
    pub(crate) fn new(seed: u64, stream: usize) -> Self {
        SplitMix(seed ^ (stream as u64).wrapping_mul(0xD1B5_4A32_D192_ED03))
    }
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`; the bias of the multiply-shift is below `n / 2⁶⁴`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }
    /// Uniform in `[−1, 1)`.
    pub(crate) fn symmetric(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_subsets_are_distinct_sorted_and_seeded() {
        let s = Sampling::Random { count: 30, seed: 1 };
        let a = s.indices(100, 0);
        assert_eq!(a.len(), 30);
        assert!(a.windows(2).all(|w| w[0] < w[1]) && a[29] < 100);
        assert_eq!(a, s.indices(100, 0));
        assert_ne!(a, s.indices(100, 1));
        assert_eq!(s.indices(5, 0), vec![0, 1, 2, 3, 4]);
        assert_eq!(Sampling::All.indices(3, 9), vec![0, 1, 2]);
        assert!(Sampling::Random { count: 0, seed: 0 }
            .indices(4, 0)
            .is_empty());
        assert!(Sampling::Stratified { count: 0, seed: 0 }
            .indices(4, 0)
            .is_empty());
    }

    #[test]
    fn stratified_visits_every_stratum() {
        let idx = Sampling::Stratified { count: 10, seed: 3 }.indices(1000, 2);
        for (s, &i) in idx.iter().enumerate() {
            assert!((s * 100..(s + 1) * 100).contains(&i));
        }
    }
}
