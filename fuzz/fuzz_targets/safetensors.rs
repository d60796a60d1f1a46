//! `recur::lm::model_file::from_bytes` on arbitrary bytes, and on safetensors files built
//! from arbitrary (often almost valid) headers: `Err` or `Ok`, never a panic; a model that
//! loads has consistent dimensions, runs, and saves back to a file that loads again.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use recur::kernels::Float;
use recur::layers::ndarray::Array2;
use recur::lm::model_file::{from_bytes, to_bytes};

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
        metadata: bool,
        f64_model: bool,
        seed: u8,
    },
    /// A valid model of dims (V, D, H), one byte of which is then changed.
    Mutated {
        v: u8,
        d: u8,
        h: u8,
        at: u16,
        xor: u8,
        f64_model: bool,
    },
}

fn build(tensors: &[Tensor], header_delta: i8, metadata: bool, seed: u8) -> Vec<u8> {
    let mut header = String::from("{");
    let mut data = Vec::new();
    let mut first = true;
    if metadata {
        header.push_str("\"__metadata__\":{\"format\":\"pt\"}");
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
    let Ok(mut model) = from_bytes::<T>(bytes) else {
        return;
    };
    let (v, d, h) = model.dims();
    assert_eq!(model.embed.weight().dim(), (v, d));
    assert_eq!(model.rnn.wx().dim(), (d, h));
    assert_eq!(model.rnn.wh().dim(), (h, h));
    assert_eq!(model.affine.w().dim(), (h, v));
    // It runs (ids < V), and saves to a file that loads to the same dimensions.
    if v > 0
        && v.checked_mul(d.saturating_add(h))
            .is_some_and(|x| x < 1 << 16)
    {
        let ids = Array2::from_shape_fn((2, 1), |(t, _)| (t % v) as u32);
        let ys = model.scores(ids.view()).expect("a loaded model runs");
        assert_eq!(ys.dim(), (2, 1, v));
    }
    let again = to_bytes(&model).expect("a loaded model saves");
    let back = from_bytes::<T>(&again).expect("a saved model loads");
    assert_eq!(back.dims(), (v, d, h));
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
            let bytes = build(&tensors, header_delta, metadata, seed);
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
            at,
            xor,
            f64_model,
        } => {
            let (v, d, h) = (v as usize % 6, d as usize % 5, h as usize % 5);
            let mut bytes = if f64_model {
                to_bytes(&recur::lm::SimpleRnnlm::<f64>::new(v, d, h, 1).expect("tiny sizes"))
            } else {
                to_bytes(&recur::lm::SimpleRnnlm::<f32>::new(v, d, h, 1).expect("tiny sizes"))
            }
            .expect("a new model saves");
            if !bytes.is_empty() {
                let i = at as usize % bytes.len();
                bytes[i] ^= xor;
            }
            load::<f32>(&bytes);
            load::<f64>(&bytes);
        }
    }
});
