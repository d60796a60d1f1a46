//! What the trainer reads: the token ids of a training text and of an optional held-out
//! text, from files in the PTB format or from the built-in synthetic corpus.

use super::corpus::{Corpus, Vocab, EOS};
use super::error::{LmError, LmResult};
use super::synthetic::MarkovSource;

/// Words of the built-in corpus's Markov source (it adds `<eos>`).
pub const SYNTHETIC_WORDS: usize = 60;
/// Seed of the built-in corpus's Markov source: its words and transition table.
pub const SYNTHETIC_SOURCE_SEED: u64 = 2024;
/// Training tokens of the built-in corpus when no number is asked for.
pub const SYNTHETIC_TRAIN_TOKENS: usize = 40_000;
/// The most held-out tokens of the built-in corpus: it holds out a quarter as many tokens
/// as it trains on, at least [`SYNTHETIC_MIN_TEST_TOKENS`] and at most this.
pub const SYNTHETIC_TEST_TOKENS: usize = 10_000;
/// The fewest held-out tokens of the built-in corpus.
pub const SYNTHETIC_MIN_TEST_TOKENS: usize = 100;
/// The most training tokens the built-in corpus draws (its text is made in memory first).
pub const SYNTHETIC_MAX_TOKENS: usize = 100_000_000;

/// Training ids, optional held-out ids, and what is known about them.
#[derive(Clone, Debug)]
pub struct TrainData {
    /// The training text's ids.
    pub train: Vec<u32>,
    /// The held-out text's ids, in the training vocabulary (extended by its new words).
    pub test: Option<Vec<u32>>,
    /// `V`: the vocabulary size of both texts together.
    pub vocab: usize,
    /// The words of both texts together, the word of id `i` at `i` (`V` of them).
    pub words: Vocab,
    /// One line saying where the text came from and how large it is.
    pub description: String,
    /// The best perplexity any model can reach, when known (the built-in corpus).
    pub optimum: Option<f64>,
}

impl TrainData {
    /// Reads a training file (its first `max_tokens` words, if given) and, optionally, a
    /// held-out file, which keeps the training ids and gives its new words the next ones.
    ///
    /// ```
    /// use recur::lm::TrainData;
    /// let dir = std::env::temp_dir().join(format!("recur-doc-data-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let (train, test) = (dir.join("train.txt"), dir.join("test.txt"));
    /// std::fs::write(&train, "the cat sat\nthe dog sat\n")?;
    /// std::fs::write(&test, "the bird sat\n")?;
    /// let data = TrainData::from_files(
    ///     train.to_str().unwrap(),
    ///     Some(test.to_str().unwrap()),
    ///     None,
    /// )?;
    /// assert_eq!(data.train, [0, 1, 2, 3, 0, 4, 2, 3]);
    /// assert_eq!(data.test.as_deref(), Some(&[0, 5, 2, 3][..]));
    /// assert_eq!(data.vocab, 6); // the, cat, sat, <eos>, dog, bird
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`LmError::Io`](super::LmError::Io) if a file cannot be read,
    /// [`LmError::Corpus`](super::LmError::Corpus) if it is not UTF-8.
    pub fn from_files(
        train: &str,
        test: Option<&str>,
        max_tokens: Option<usize>,
    ) -> LmResult<TrainData> {
        let train_c = Corpus::from_file(train, max_tokens)?;
        let (test_ids, vocab) = match test {
            Some(path) => {
                let c = Corpus::extend_file(path, None, train_c.vocab)?;
                (Some(c.ids), c.vocab)
            }
            None => (None, train_c.vocab),
        };
        Ok(TrainData {
            description: format!("{train}: {} tokens, V = {}", train_c.ids.len(), vocab.len()),
            train: train_c.ids,
            test: test_ids,
            vocab: vocab.len(),
            words: vocab,
            optimum: None,
        })
    }

    /// The built-in corpus: `tokens` (default [`SYNTHETIC_TRAIN_TOKENS`]) training tokens
    /// and a quarter as many held-out ones (between [`SYNTHETIC_MIN_TEST_TOKENS`] and
    /// [`SYNTHETIC_TEST_TOKENS`]) drawn from the Markov source of [`SYNTHETIC_WORDS`]
    /// words, with samples chosen by `seed`; its optimum is known. The vocabulary holds
    /// the words of the training draw and of a held-out draw of [`SYNTHETIC_TEST_TOKENS`],
    /// whatever the number of tokens held out (the first ones of that draw).
    ///
    /// ```
    /// use recur::lm::TrainData;
    /// let data = TrainData::synthetic(Some(1000), 1)?;
    /// assert_eq!(data.train.len(), 1000);
    /// assert_eq!(data.test.map(|t| t.len()), Some(250));
    /// let data = TrainData::synthetic(None, 1)?;
    /// assert_eq!((data.train.len(), data.test.map(|t| t.len())), (40_000, Some(10_000)));
    /// assert!(data.optimum.unwrap() > 1.0);
    /// assert!(TrainData::synthetic(Some(10_000_000_000_000), 1).is_err());
    /// # Ok::<(), recur::lm::LmError>(())
    /// ```
    ///
    /// # Errors
    /// [`LmError::Corpus`] if `tokens` is above [`SYNTHETIC_MAX_TOKENS`].
    pub fn synthetic(tokens: Option<usize>, seed: u64) -> LmResult<TrainData> {
        let tokens = tokens.unwrap_or(SYNTHETIC_TRAIN_TOKENS);
        if tokens > SYNTHETIC_MAX_TOKENS {
            return Err(LmError::Corpus(format!(
                "the built-in corpus draws at most {SYNTHETIC_MAX_TOKENS} tokens, {tokens} were asked for (--tokens); give a --corpus file for more"
            )));
        }
        let src = MarkovSource::new(SYNTHETIC_WORDS, SYNTHETIC_SOURCE_SEED);
        let mut vocab = Vocab::default();
        let train = draw_ids(&src, tokens, seed, &mut vocab);
        let mut test = draw_ids(
            &src,
            SYNTHETIC_TEST_TOKENS,
            seed.wrapping_add(7919),
            &mut vocab,
        );
        let test_tokens = (tokens / 4).clamp(SYNTHETIC_MIN_TEST_TOKENS, SYNTHETIC_TEST_TOKENS);
        test.truncate(test_tokens);
        Ok(TrainData {
            description: format!(
                "built-in Markov corpus: {SYNTHETIC_WORDS} words + <eos>, {tokens} training tokens, \
                 {} held-out; entropy rate {:.4} nats/word",
                test.len(),
                src.entropy_rate()
            ),
            train,
            vocab: vocab.len(),
            words: vocab,
            test: Some(test),
            optimum: Some(src.optimal_perplexity()),
        })
    }
}

/// The ids of `tokens` states drawn from `src` with `seed` (see [`MarkovSource::draw`]),
/// the words new to `vocab` added to it in order of first appearance: the ids
/// [`Corpus::extend_text`] gives the text of [`MarkovSource::generate`], without writing
/// the text or hashing each of its words.
fn draw_ids(src: &MarkovSource, tokens: usize, seed: u64, vocab: &mut Vocab) -> Vec<u32> {
    let mut id_of: Vec<Option<u32>> = vec![None; src.vocab_size()];
    src.draw(tokens, seed)
        .map(|s| *id_of[s].get_or_insert_with(|| vocab.id_or_insert(src.word(s).unwrap_or(EOS))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawn_ids_are_those_of_the_tokenised_text() {
        for (words, tokens, seed) in [
            (2, 0, 0),
            (2, 1, 1),
            (5, 97, 2),
            (60, 4000, 3),
            (5000, 3000, 4),
        ] {
            let src = MarkovSource::new(words, 11);
            let text_train = Corpus::from_text(&src.generate(tokens, seed), None);
            let text_test =
                Corpus::extend_text(&src.generate(500, seed + 1), None, text_train.vocab);
            let mut vocab = Vocab::default();
            let train = draw_ids(&src, tokens, seed, &mut vocab);
            let test = draw_ids(&src, 500, seed + 1, &mut vocab);
            assert_eq!((train, test), (text_train.ids, text_test.ids));
            assert_eq!(vocab.len(), text_test.vocab.len());
            for id in 0..vocab.len() as u32 {
                assert_eq!(vocab.word(id), text_test.vocab.word(id));
            }
        }
    }
}
