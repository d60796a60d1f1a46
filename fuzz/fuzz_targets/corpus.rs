//! `Corpus::from_text` / `Corpus::extend_text` on arbitrary strings and `Corpus::from_file`
//! on arbitrary bytes written to a temporary file: never a panic; the ids follow the PTB
//! rules (words split on white space, a `<eos>` for every newline, ids in order of first
//! appearance, the first `max_tokens` tokens only); a file loads exactly when it is UTF-8,
//! as its text would.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use recur::lm::corpus::{Corpus, Vocab, EOS};

#[derive(Arbitrary, Debug)]
enum Input {
    Text {
        text: String,
        max_tokens: Option<u16>,
        /// Tokenise a second text with the vocabulary of the first.
        more: Option<String>,
    },
    File {
        bytes: Vec<u8>,
        max_tokens: Option<u16>,
    },
}

/// The tokens of `text` by the PTB rules, written independently of the reader.
fn tokens(text: &str) -> Vec<&str> {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        out.extend(line.split_whitespace());
        if i + 1 < lines.len() {
            out.push(EOS);
        }
    }
    out
}

fn check(c: &Corpus, text: &str, max_tokens: Option<usize>, known: &Vocab) {
    let mut want = tokens(text);
    if let Some(m) = max_tokens {
        want.truncate(m);
    }
    assert_eq!(c.ids.len(), want.len());
    // Ids of known words are kept; new words get the next ids in order of appearance.
    let mut next = known.len();
    for (&id, &w) in c.ids.iter().zip(&want) {
        assert_eq!(c.vocab.word(id), Some(w));
        assert_eq!(c.vocab.id(w), Some(id));
        match known.id(w) {
            Some(k) => assert_eq!(k, id),
            None if id as usize == next => next += 1,
            None => assert!((id as usize) < next, "id {id} skips ahead of {next}"),
        }
    }
    assert_eq!(c.vocab.len(), next);
    assert_eq!(c.vocab.is_empty(), next == 0);
}

fuzz_target!(|inp: Input| match inp {
    Input::Text {
        text,
        max_tokens,
        more,
    } => {
        let max = max_tokens.map(usize::from);
        let c = Corpus::from_text(&text, max);
        check(&c, &text, max, &Vocab::default());
        if let Some(more) = more {
            let c2 = Corpus::extend_text(&more, max, c.vocab.clone());
            check(&c2, &more, max, &c.vocab);
        }
    }
    Input::File { bytes, max_tokens } => {
        let max = max_tokens.map(usize::from);
        let dir = std::env::temp_dir().join(format!("recur-fuzz-corpus-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("input.txt");
        std::fs::write(&path, &bytes).expect("temp file");
        let path = path.to_str().expect("UTF-8 temp path");
        match (Corpus::from_file(path, max), std::str::from_utf8(&bytes)) {
            (Ok(c), Ok(text)) => {
                let direct = Corpus::from_text(text, max);
                assert_eq!(c.ids, direct.ids);
                assert_eq!(c.vocab, direct.vocab);
            }
            (Err(e), Err(_)) => assert!(e.to_string().contains("UTF-8"), "{e}"),
            (Ok(_), Err(_)) => panic!("a file that is not UTF-8 was read"),
            (Err(e), Ok(_)) => panic!("a UTF-8 file was refused: {e}"),
        }
        let missing = dir.join("missing.txt");
        assert!(Corpus::from_file(missing.to_str().expect("path"), max).is_err());
    }
});
