//! `recur::lm::model_file::read` on arbitrary bytes, on safetensors files built from
//! arbitrary (often almost valid) headers and `__metadata__` (vocabularies of any length,
//! repeated or odd words, training entries), and on valid files with a vocabulary and
//! training settings, mutated: `Err` or `Ok`, never a panic; a model that loads has
//! consistent dimensions, finite weights and a vocabulary of `V` distinct words, runs, and
//! saves back (with its vocabulary and settings) to a file that reads to the same bits.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use recur::kernels::Float;
use recur::layers::ndarray::Array2;
use recur::lm::model_file::{read, to_bytes_with, SavedModel, TRAIN_KEY_PREFIX, VOCAB_KEY};
use recur::lm::{Corpus, SimpleRnnlm};
use std::collections::BTreeMap;

const NAMES: [&str; 7] = [
    "embed.weight",
    "rnn.weight_ih_l0",
    "rnn.weight_hh_l0",
    "rnn.bias_ih_l0",
    "rnn.bias_hh_l0",
    "fc.weight",
    "fc.bias",
];
const DTYPES: [&str; 8] = ["F32", "F64", "F16", "BF16", "I64", "U8", "BOOL", "F8_E4M3"];

#[derive(Arbitrary, Debug)]
struct Tensor {
    /// Index into `NAMES` (or a made-up name beyond it).
    name: u8,
    dtype: u8,
    /// Dimensions: small, or huge (overflowing products).
    shape: Vec<Dim>,
    /// Added to the byte length the shape needs (a truncated or overlong payload).
    len_delta: i8,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Dim {
    Small(u8),
    Huge(u64),
}

#[derive(Arbitrary, Debug)]
enum Input {
    Raw(Vec<u8>),
    /// A file with a well-formed JSON header describing these tensors, with offsets
    /// computed from their declared lengths.
    Built {
        tensors: Vec<Tensor>,
        /// Corrupt the 8-byte header length by this amount.
        header_delta: i8,
        metadata: Option<Meta>,
        f64_model: bool,
        seed: u8,
    },
    /// A valid model of dims (V, D, H) with a vocabulary and a training entry, some bytes
    /// of which are then changed.
    Mutated {
        v: u8,
        d: u8,
        h: u8,
        flips: Vec<(u16, u8)>,
        f64_model: bool,
    },
}

/// A header's `__metadata__`: a vocabulary (as a JSON array, or any string) and entries.
#[derive(Arbitrary, Debug)]
struct Meta {
    vocab: Option<Vocab>,
    entries: Vec<(String, String)>,
}

#[derive(Arbitrary, Debug)]
enum Vocab {
    /// `words` as a JSON array of strings.
    Words(Vec<String>),
    /// `w0`, `w1`, … : `V` distinct words when the length is right.
    Numbered(u8),
    /// Any string (usually not JSON).
    Raw(String),
}

fn meta_json(meta: &Meta) -> String {
    let mut map = serde_json::Map::new();
    map.insert("format".into(), "pt".into());
    match &meta.vocab {
        Some(Vocab::Words(w)) => {
            map.insert(
                VOCAB_KEY.into(),
                serde_json::to_string(w).expect("json").into(),
            );
        }
        Some(Vocab::Numbered(n)) => {
            let words: Vec<String> = (0..*n % 8).map(|i| format!("w{i}")).collect();
            map.insert(
                VOCAB_KEY.into(),
                serde_json::to_string(&words).expect("json").into(),
            );
        }
        Some(Vocab::Raw(r)) => {
            map.insert(VOCAB_KEY.into(), r.clone().into());
        }
        None => {}
    }
    for (k, v) in meta.entries.iter().take(4) {
        map.insert(format!("{TRAIN_KEY_PREFIX}{k}"), v.clone().into());
    }
    serde_json::Value::Object(map).to_string()
}

fn build(tensors: &[Tensor], header_delta: i8, metadata: Option<&Meta>, seed: u8) -> Vec<u8> {
    let mut header = String::from("{");
    let mut data = Vec::new();
    let mut first = true;
    if let Some(meta) = metadata {
        header.push_str(&format!("\"__metadata__\":{}", meta_json(meta)));
        first = false;
    }
    for (i, t) in tensors.iter().take(10).enumerate() {
        let name = match NAMES.get(t.name as usize % 9) {
            Some(n) => n.to_string(),
            None => format!("extra{i}"),
        };
        let dtype = DTYPES[t.dtype as usize % DTYPES.len()];
        let size: u64 = match dtype {
            "F64" | "I64" => 8,
            "F32" => 4,
            "F16" | "BF16" => 2,
            _ => 1,
        };
        let dims: Vec<u64> = t
            .shape
            .iter()
            .take(3)
            .map(|d| match *d {
                Dim::Small(v) => u64::from(v % 6),
                Dim::Huge(v) => v,
            })
            .collect();
        let want = dims
            .iter()
            .try_fold(size, |acc, &d| acc.checked_mul(d))
            .unwrap_or(u64::MAX);
        let len = (want.min(4096) as i64 + i64::from(t.len_delta)).max(0) as usize;
        let begin = data.len();
        data.extend((0..len).map(|k| (k as u8).wrapping_mul(31).wrapping_add(seed)));
        let shape: Vec<String> = dims.iter().map(u64::to_string).collect();
        if !first {
            header.push(',');
        }
        first = false;
        header.push_str(&format!(
            "\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{}],\"data_offsets\":[{begin},{}]}}",
            shape.join(","),
            data.len()
        ));
    }
    header.push('}');
    let hlen = (header.len() as i64 + i64::from(header_delta)).max(0) as u64;
    let mut out = hlen.to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&data);
    out
}

fn load<T: Float>(bytes: &[u8]) {
    let Ok(saved) = read::<T>(bytes) else {
        return;
    };
    let SavedModel {
        mut model,
        vocab,
        metadata,
    } = saved;
    let saved = SavedModel {
        model: model.clone(),
        vocab,
        metadata,
    };
    let (v, d, h) = model.dims();
    assert_eq!(model.embed.weight().dim(), (v, d));
    assert_eq!(model.rnn.wx().dim(), (d, h));
    assert_eq!(model.rnn.wh().dim(), (h, h));
    assert_eq!(model.affine.w().dim(), (h, v));
    let weights = |m: &mut SimpleRnnlm<T>| -> Vec<f64> {
        m.param_array()
            .iter()
            .flat_map(|p| p.value.iter().map(|x| x.to_f64()).collect::<Vec<_>>())
            .collect()
    };
    let bits = weights(&mut model);
    assert!(
        bits.iter().all(|x| x.is_finite()),
        "a model with a non-finite weight loaded"
    );
    if let Some(vocab) = &saved.vocab {
        assert_eq!(vocab.len(), v, "a vocabulary of the wrong length loaded");
        for id in 0..v as u32 {
            let w = vocab.word(id).expect("V words");
            assert_eq!(vocab.id(w), Some(id), "the word {w:?} is not unique");
        }
    }
    // It runs (ids < V), and saves (vocabulary and settings too) to a file that reads back
    // to the same bits.
    if v > 0
        && v.checked_mul(d.saturating_add(h))
            .is_some_and(|x| x < 1 << 16)
    {
        let ids = Array2::from_shape_fn((2, 1), |(t, _)| (t % v) as u32);
        let ys = model.scores(ids.view()).expect("a loaded model runs");
        assert_eq!(ys.dim(), (2, 1, v));
        model.reset_state();
    }
    let train: BTreeMap<String, String> = saved
        .training()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let again = to_bytes_with(&model, saved.vocab.as_ref(), &train).expect("a loaded model saves");
    let back = read::<T>(&again).expect("a saved model loads");
    let mut back_model = back.model.clone();
    assert_eq!(back_model.dims(), (v, d, h));
    let back_bits = weights(&mut back_model);
    assert_eq!(back_bits.len(), bits.len());
    // Every value reads back exactly (compared as numbers: the RNN bias is saved as the
    // pair (b, 0), whose sum turns −0 into +0).
    assert_eq!(
        back_bits, bits,
        "the weights changed through a save and a load"
    );
    let back_train: Vec<(&str, &str)> = back.training().collect();
    let want_train: Vec<(&str, &str)> = train.iter().map(|(k, v)| (&k[..], &v[..])).collect();
    assert_eq!(back_train, want_train);
    match (&saved.vocab, &back.vocab) {
        (Some(a), Some(b)) => {
            assert!((0..v as u32).all(|id| a.word(id) == b.word(id)));
        }
        (None, None) => {}
        _ => panic!("the vocabulary was lost or made up through a save and a load"),
    }
}

fuzz_target!(|inp: Input| {
    match inp {
        Input::Raw(bytes) => {
            load::<f32>(&bytes);
            load::<f64>(&bytes);
        }
        Input::Built {
            tensors,
            header_delta,
            metadata,
            f64_model,
            seed,
        } => {
            let bytes = build(&tensors, header_delta, metadata.as_ref(), seed);
            if f64_model {
                load::<f64>(&bytes);
            } else {
                load::<f32>(&bytes);
            }
        }
        Input::Mutated {
            v,
            d,
            h,
            flips,
            f64_model,
        } => {
            let (v, d, h) = (v as usize % 6, d as usize % 5, h as usize % 5);
            let text: String = (0..v.saturating_sub(1)).map(|i| format!("w{i} ")).collect();
            // `v − 1` words and `<eos>`.
            let corpus = Corpus::from_text(&format!("{text}\n"), None);
            let vocab = (corpus.vocab.len() == v).then_some(&corpus.vocab);
            let train = BTreeMap::from([("lr".to_string(), "0.1".to_string())]);
            let mut bytes = if f64_model {
                to_bytes_with(
                    &SimpleRnnlm::<f64>::new(v, d, h, 1).expect("tiny"),
                    vocab,
                    &train,
                )
            } else {
                to_bytes_with(
                    &SimpleRnnlm::<f32>::new(v, d, h, 1).expect("tiny"),
                    vocab,
                    &train,
                )
            }
            .expect("a new model saves");
            for &(at, xor) in flips.iter().take(4) {
                let i = at as usize % bytes.len();
                bytes[i] ^= xor;
            }
            load::<f32>(&bytes);
            load::<f64>(&bytes);
        }
    }
});
