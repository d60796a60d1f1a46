//! The built-in corpus: text from a first-order Markov source over a small vocabulary of
//! made-up words, whose entropy rate, and so the best perplexity any model can reach, is
//! known exactly.
//!
//! Each word is followed by one of a few successors (and, often, the end of the sentence),
//! with skewed probabilities; sentences start from the `<eos>` state. A language model
//! that learns the transitions reaches perplexity `exp(H)`, where
//! `H = −Σ_s π_s Σ_j P(j | s) ln P(j | s)` is the entropy rate (nats per word) and `π` the
//! stationary distribution; no model can do better on average.

use super::rng::Rng;

/// A first-order Markov source of words, state 0 being the end of a sentence.
#[derive(Clone, Debug)]
pub struct MarkovSource {
    words: Vec<String>,
    /// For each state: its successors and their probabilities (summing to 1).
    next: Vec<Vec<(usize, f64)>>,
    stationary: Vec<f64>,
}

const SYLLABLES: [&str; 16] = [
    "ka", "lo", "mi", "ne", "ru", "ta", "po", "si", "ve", "do", "gu", "ha", "ji", "be", "zo", "fe",
];

impl MarkovSource {
    /// The most words a source has.
    pub const MAX_WORDS: usize = 1 << 16;

    /// A source with `words` words plus the end of sentence, drawn from `seed`; `words` is
    /// taken into `2..=`[`MarkovSource::MAX_WORDS`].
    ///
    /// ```
    /// use recur::lm::MarkovSource;
    /// assert_eq!(MarkovSource::new(2, 0).vocab_size(), 3); // 2 words and <eos>
    /// assert_eq!(MarkovSource::new(0, 0).vocab_size(), 3);
    /// assert_eq!(MarkovSource::new(usize::MAX, 0).vocab_size(), MarkovSource::MAX_WORDS + 1);
    /// ```
    pub fn new(words: usize, seed: u64) -> Self {
        let words = words.clamp(2, Self::MAX_WORDS);
        let mut rng = Rng::new(seed);
        let states = words + 1;
        let names: Vec<String> = (0..words)
            .map(|i| {
                let s = SYLLABLES.len();
                format!(
                    "{}{}{}",
                    SYLLABLES[i % s],
                    SYLLABLES[(i / s + i) % s],
                    SYLLABLES[(i * 7 + 3) % s]
                )
            })
            .collect();
        let mut next = Vec::with_capacity(states);
        for s in 0..states {
            // 2..=5 word successors, never more than there are words.
            let k = (2 + rng.below(4)).min(words);
            let mut succ: Vec<usize> = Vec::new();
            while succ.len() < k {
                let cand = 1 + rng.below(words);
                if !succ.contains(&cand) {
                    succ.push(cand);
                }
            }
            // Zipf-like weights with some noise.
            let mut probs: Vec<(usize, f64)> = succ
                .iter()
                .enumerate()
                .map(|(r, &c)| (c, (0.5 + rng.uniform()) / (r as f64 + 1.0)))
                .collect();
            if s != 0 {
                // End the sentence with probability 0.1..0.25.
                let p_end = 0.1 + 0.15 * rng.uniform();
                let total: f64 = probs.iter().map(|p| p.1).sum();
                for p in &mut probs {
                    p.1 *= (1.0 - p_end) / total;
                }
                probs.push((0, p_end));
            } else {
                let total: f64 = probs.iter().map(|p| p.1).sum();
                for p in &mut probs {
                    p.1 /= total;
                }
            }
            next.push(probs);
        }
        let mut src = MarkovSource {
            words: names,
            next,
            stationary: Vec::new(),
        };
        src.stationary = src.compute_stationary();
        src
    }

    fn compute_stationary(&self) -> Vec<f64> {
        let n = self.next.len();
        let mut pi = vec![1.0 / n as f64; n];
        for _ in 0..10_000 {
            let mut nxt = vec![0.0; n];
            for (s, succ) in self.next.iter().enumerate() {
                for &(j, p) in succ {
                    nxt[j] += pi[s] * p;
                }
            }
            // Average with the previous iterate: converges also for periodic chains.
            let mut delta = 0.0f64;
            for (a, b) in pi.iter_mut().zip(&nxt) {
                let v = 0.5 * (*a + b);
                delta = delta.max((v - *a).abs());
                *a = v;
            }
            if delta < 1e-15 {
                break;
            }
        }
        pi
    }

    /// The entropy rate in nats per word (counting `<eos>` as a word).
    pub fn entropy_rate(&self) -> f64 {
        self.next
            .iter()
            .zip(&self.stationary)
            .map(|(succ, &pi)| pi * succ.iter().map(|&(_, p)| -p * p.ln()).sum::<f64>())
            .sum()
    }

    /// `exp(entropy rate)`: the best expected perplexity of any model.
    pub fn optimal_perplexity(&self) -> f64 {
        self.entropy_rate().exp()
    }

    /// The number of distinct tokens, `<eos>` included.
    pub fn vocab_size(&self) -> usize {
        self.words.len() + 1
    }

    /// `tokens` tokens of text, one sentence per line (each newline is one `<eos>`
    /// token), drawn with `seed`: the words of [`MarkovSource::draw`].
    pub fn generate(&self, tokens: usize, seed: u64) -> String {
        let mut out = String::new();
        for state in self.draw(tokens, seed) {
            match self.word(state) {
                Some(w) => {
                    out.push_str(w);
                    out.push(' ');
                }
                None => out.push('\n'),
            }
        }
        out
    }

    /// The states of `tokens` steps of the chain from the end of a sentence, drawn with
    /// `seed`: 0 for an end of sentence, `s` for the word [`MarkovSource::word`]`(s)`.
    ///
    /// ```
    /// use recur::lm::MarkovSource;
    /// let src = MarkovSource::new(5, 1);
    /// let states: Vec<usize> = src.draw(8, 3).collect();
    /// assert_eq!(states.len(), 8);
    /// assert!(states.iter().all(|&s| s < src.vocab_size()));
    /// ```
    pub fn draw(&self, tokens: usize, seed: u64) -> impl Iterator<Item = usize> + '_ {
        let mut rng = Rng::new(seed ^ 0xC0FF_EE00);
        let mut state = 0usize;
        (0..tokens).map(move |_| {
            let u = rng.uniform();
            let succ = &self.next[state];
            let mut acc = 0.0;
            let mut pick = succ[succ.len() - 1].0;
            for &(j, p) in succ {
                acc += p;
                if u < acc {
                    pick = j;
                    break;
                }
            }
            state = pick;
            pick
        })
    }

    /// The word of state `state` (`1..vocab_size()`); `None` for the end of sentence
    /// (state 0) and states past the last word.
    ///
    /// ```
    /// use recur::lm::MarkovSource;
    /// let src = MarkovSource::new(3, 0);
    /// assert_eq!((src.word(0), src.word(1).is_some(), src.word(4)), (None, true, None));
    /// ```
    pub fn word(&self, state: usize) -> Option<&str> {
        let i = state.checked_sub(1)?;
        self.words.get(i).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lm::corpus::Corpus;

    #[test]
    fn empirical_entropy_matches_the_rate() {
        let src = MarkovSource::new(40, 3);
        let sum: f64 = src.stationary.iter().sum();
        assert!((sum - 1.0).abs() < 1e-9);
        for succ in &src.next {
            assert!((succ.iter().map(|p| p.1).sum::<f64>() - 1.0).abs() < 1e-12);
        }
        // The average −ln P(next | current) along a long sample converges to the rate.
        let text = src.generate(200_000, 9);
        let c = Corpus::from_text(&text, None);
        assert_eq!(c.ids.len(), 200_000);
        let mut state = 0usize;
        let mut nll = 0.0;
        let word_index: std::collections::HashMap<&str, usize> = src
            .words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.as_str(), i + 1))
            .collect();
        for &id in &c.ids {
            let w = c.vocab.word(id).unwrap();
            let j = if w == "<eos>" { 0 } else { word_index[w] };
            let p = src.next[state].iter().find(|e| e.0 == j).unwrap().1;
            nll -= p.ln();
            state = j;
        }
        let rate = nll / c.ids.len() as f64;
        assert!(
            (rate - src.entropy_rate()).abs() < 0.02,
            "{rate} vs {}",
            src.entropy_rate()
        );
        assert!(src.optimal_perplexity() > 2.0 && src.optimal_perplexity() < 8.0);
    }
}
