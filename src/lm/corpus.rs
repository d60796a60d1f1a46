//! Reading a corpus in the Penn Treebank format: one sentence per line, words split on
//! white space, every newline a `<eos>` token, ids in order of first appearance.

use super::error::{LmError, LmResult};
use super::files::read_bounded;
use std::collections::HashMap;

/// The largest text file read as a corpus: 1 GiB (PTB's training text is 5 MB; WikiText-103's 0.5 GB). A device or
/// a pipe that never ends (`/dev/zero`) is refused once this much has come.
pub const MAX_CORPUS_BYTES: u64 = 1 << 30;

/// The end-of-sentence token that stands for each newline.
pub const EOS: &str = "<eos>";
/// The token that stands for words outside the vocabulary, where a vocabulary has it (PTB's
/// texts do).
pub const UNK: &str = "<unk>";

/// The text of the file at `path` (at most [`MAX_CORPUS_BYTES`]).
///
/// # Errors
/// [`LmError::Io`] if it cannot be read or is too large, [`LmError::Corpus`] if it is not
/// UTF-8.
pub fn read_text(path: &str) -> LmResult<String> {
    let bytes = read_bounded(std::path::Path::new(path), MAX_CORPUS_BYTES)?;
    String::from_utf8(bytes).map_err(|e| {
        LmError::Corpus(format!(
            "{path} is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Text in a fixed vocabulary: the ids, and how many words were not in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    /// The ids, in text order.
    pub ids: Vec<u32>,
    /// Words that were not in the vocabulary and became [`UNK`].
    pub unknown: usize,
}

/// Words and their ids.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Vocab {
    words: Vec<String>,
    ids: HashMap<String, u32>,
}

impl Vocab {
    /// The id of `word`, adding it if new.
    pub fn id_or_insert(&mut self, word: &str) -> u32 {
        if let Some(&id) = self.ids.get(word) {
            return id;
        }
        let id = self.words.len() as u32;
        self.words.push(word.to_string());
        self.ids.insert(word.to_string(), id);
        id
    }
    /// The id of `word`, if known.
    pub fn id(&self, word: &str) -> Option<u32> {
        self.ids.get(word).copied()
    }
    /// The word of `id`, if any.
    pub fn word(&self, id: u32) -> Option<&str> {
        self.words.get(id as usize).map(String::as_str)
    }
    /// `V`, the number of words.
    pub fn len(&self) -> usize {
        self.words.len()
    }
    /// Whether there are no words.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The ids of `text` in this vocabulary, tokenised as [`Corpus::from_text`] does (each
    /// newline an [`EOS`]), its first `max_tokens` words if given. A word outside the
    /// vocabulary becomes [`UNK`] if the vocabulary has it.
    ///
    /// ```
    /// use recur::lm::corpus::Corpus;
    /// let vocab = Corpus::from_text("the <unk> sat\n", None).vocab;
    /// let e = vocab.encode("the dog sat\n", None)?;
    /// assert_eq!((e.ids, e.unknown), (vec![0, 1, 2, 3], 1));
    /// let plain = Corpus::from_text("the cat\n", None).vocab;
    /// let err = plain.encode("the dog\n", None).unwrap_err();
    /// assert!(err.to_string().contains("\"dog\" (token 1) is not in the vocabulary"), "{err}");
    /// # Ok::<(), recur::lm::LmError>(())
    /// ```
    ///
    /// # Errors
    /// [`LmError::Corpus`] naming the first word outside the vocabulary, if the vocabulary
    /// has no [`UNK`].
    pub fn encode(&self, text: &str, max_tokens: Option<usize>) -> LmResult<Encoded> {
        let unk = self.id(UNK);
        let mut out = Encoded {
            ids: Vec::new(),
            unknown: 0,
        };
        for (i, word) in words_of(text)
            .take(max_tokens.unwrap_or(usize::MAX))
            .enumerate()
        {
            let id = match (self.id(word), unk) {
                (Some(id), _) => id,
                (None, Some(unk)) => {
                    out.unknown += 1;
                    unk
                }
                (None, None) => {
                    return Err(LmError::Corpus(format!(
                    "{word:?} (token {i}) is not in the vocabulary of {} words, which has no {UNK}",
                    self.len()
                )))
                }
            };
            out.ids.push(id);
        }
        Ok(out)
    }
}

/// The tokens of `text`: its words split on white space, and [`EOS`] for each newline.
fn words_of(text: &str) -> impl Iterator<Item = &str> {
    let mut segments = text.split('\n').peekable();
    std::iter::from_fn(move || {
        let seg = segments.next()?;
        let eos = segments.peek().is_some().then_some(EOS);
        Some(seg.split_whitespace().chain(eos))
    })
    .flatten()
}

/// A tokenised corpus.
#[derive(Clone, Debug, Default)]
pub struct Corpus {
    /// The word ids, in text order.
    pub ids: Vec<u32>,
    /// The vocabulary (of the whole text read, or of the first `max_tokens` words).
    pub vocab: Vocab,
}

impl Corpus {
    /// Tokenises `text`; `max_tokens` keeps the first words only (their vocabulary too).
    ///
    /// ```
    /// use recur::lm::corpus::Corpus;
    /// let c = Corpus::from_text(" the cat \n the dog \n", None);
    /// assert_eq!(c.ids, [0, 1, 2, 0, 3, 2]);
    /// assert_eq!(c.vocab.word(2), Some("<eos>"));
    /// ```
    pub fn from_text(text: &str, max_tokens: Option<usize>) -> Corpus {
        Self::extend_text(text, max_tokens, Vocab::default())
    }

    /// Tokenises `text` with an existing vocabulary (for held-out text): new words get new
    /// ids after the known ones.
    pub fn extend_text(text: &str, max_tokens: Option<usize>, vocab: Vocab) -> Corpus {
        let mut c = Corpus {
            ids: Vec::new(),
            vocab,
        };
        for w in words_of(text).take(max_tokens.unwrap_or(usize::MAX)) {
            let id = c.vocab.id_or_insert(w);
            c.ids.push(id);
        }
        c
    }

    /// Reads and tokenises a file.
    ///
    /// # Errors
    /// [`LmError::Io`] if it cannot be read or holds more than [`MAX_CORPUS_BYTES`],
    /// [`LmError::Corpus`] if it is not UTF-8.
    pub fn from_file(path: &str, max_tokens: Option<usize>) -> LmResult<Corpus> {
        Self::extend_file(path, max_tokens, Vocab::default())
    }

    /// Reads and tokenises a file with an existing vocabulary, as
    /// [`Corpus::extend_text`] does (for held-out text).
    ///
    /// ```
    /// use recur::lm::corpus::Corpus;
    /// let path = std::env::temp_dir().join(format!("recur-doc-held-out-{}", std::process::id()));
    /// std::fs::write(&path, "the bird\n")?;
    /// let train = Corpus::from_text("the cat\n", None);
    /// let test = Corpus::extend_file(path.to_str().unwrap(), None, train.vocab)?;
    /// assert_eq!(test.ids, [0, 3, 2]); // "bird" is new: id 3 after the, cat, <eos>
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`LmError::Io`] if it cannot be read, [`LmError::Corpus`] if it is not UTF-8.
    pub fn extend_file(path: &str, max_tokens: Option<usize>, vocab: Vocab) -> LmResult<Corpus> {
        Ok(Corpus::extend_text(&read_text(path)?, max_tokens, vocab))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_cases() {
        assert!(Corpus::from_text("", None).ids.is_empty());
        assert_eq!(Corpus::from_text("one", None).ids, [0]);
        assert_eq!(Corpus::from_text("a b\nc", Some(100)).ids, [0, 1, 2, 3]);
        assert_eq!(Corpus::from_text("a b\nc", Some(2)).ids, [0, 1]);
        assert_eq!(Corpus::from_text("a b\nc", Some(3)).vocab.len(), 3);
        assert_eq!(Corpus::from_text("\n\n", None).ids, [0, 0]);
    }

    #[test]
    fn non_utf8_is_a_clear_error() {
        let dir = std::env::temp_dir().join(format!("recur-corpus-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("bad.txt");
        std::fs::write(&p, b"ok \xff\xfe bad\n").unwrap();
        let err = Corpus::from_file(p.to_str().unwrap(), None).unwrap_err();
        assert!(err.to_string().contains("not UTF-8"), "{err}");
        let missing =
            Corpus::from_file(dir.join("missing.txt").to_str().unwrap(), None).unwrap_err();
        assert!(matches!(missing, LmError::Io { .. }));
    }
}
