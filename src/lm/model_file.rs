//! Saving and loading a [`SimpleRnnlm`] as safetensors, with the names and layouts of
//! PyTorch's `nn.Embedding` / `nn.RNN` / `nn.Linear`, so that a model trained here loads
//! into
//! `embed = nn.Embedding(V, D); rnn = nn.RNN(D, H, batch_first=False); fc = nn.Linear(H, V)`
//! unchanged:
//!
//! | name | shape | recur |
//! |---|---|---|
//! | `embed.weight` | `(V, D)` | `W_embed` |
//! | `rnn.weight_ih_l0` | `(H, D)` | `Wxᵀ` |
//! | `rnn.weight_hh_l0` | `(H, H)` | `Whᵀ` |
//! | `rnn.bias_ih_l0` | `(H)` | `b` |
//! | `rnn.bias_hh_l0` | `(H)` | zeros (loading sums the two biases) |
//! | `fc.weight` | `(V, H)` | `W_affineᵀ` |
//! | `fc.bias` | `(V)` | `b_affine` |
//!
//! Tensors are stored as `F32` for `f32` models and `F64` for `f64` ones; loading accepts
//! either and converts.
//!
//! The file's `__metadata__` (string to string) holds, besides PyTorch's `format = pt`:
//!
//! | key | value |
//! |---|---|
//! | `recur.format` | `1`, the version of this layout |
//! | `recur.dims` | `V,D,H` |
//! | `recur.dtype` | `f32` or `f64` |
//! | `recur.vocab` | the vocabulary, a JSON array of strings, the word of id `i` at index `i` |
//! | `recur.train.*` | the training run's settings (optimizer, lr, batch, ...), as text |
//!
//! so a model is used again without the corpus it came from
//! (`json.loads(meta["recur.vocab"])` in Python). Files of other programs, without these
//! keys, load too; their vocabulary is then unknown ([`SavedModel::vocab`] is `None`).
//!
//! Non-finite weights are refused on save and on load, naming the tensor, and so are `F64`
//! values too large for an `f32` model. Files are written atomically
//! ([`files::write_atomic`]): a failed save leaves the previous file as it was.

use super::corpus::Vocab;
use super::error::{LmError, LmResult};
use super::files;
use super::model::SimpleRnnlm;
use recur_kernels::Float;
use recur_layers::ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

/// The largest model file [`load`] reads: 64 GiB (a `V = 10⁶`, `H = 4096` model in `f64`
/// is 65 GB).
pub const MAX_MODEL_BYTES: u64 = 64 << 30;

/// Metadata key of the vocabulary (a JSON array of strings).
pub const VOCAB_KEY: &str = "recur.vocab";
/// Metadata key prefix of the training settings.
pub const TRAIN_KEY_PREFIX: &str = "recur.train.";

/// A model with what its file says about it.
#[derive(Clone, Debug)]
pub struct SavedModel<T> {
    /// The weights.
    pub model: SimpleRnnlm<T>,
    /// The vocabulary (the word of each id), if the file has one.
    pub vocab: Option<Vocab>,
    /// Every `__metadata__` entry of the file, the vocabulary's included.
    pub metadata: BTreeMap<String, String>,
}

impl<T> SavedModel<T> {
    /// The training settings recorded in the file (`recur.train.*`), without the prefix.
    pub fn training(&self) -> impl Iterator<Item = (&str, &str)> {
        self.metadata
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(TRAIN_KEY_PREFIX).map(|k| (k, v.as_str())))
    }
}

fn bytes_of<T: Float>(values: impl Iterator<Item = T>) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        if T::NAME == "f32" {
            out.extend_from_slice(&(v.to_f64() as f32).to_le_bytes());
        } else {
            out.extend_from_slice(&v.to_f64().to_le_bytes());
        }
    }
    out
}

/// The model's tensors under their PyTorch names, serialized as safetensors bytes, with
/// no vocabulary: as [`to_bytes_with`]`(model, None, &BTreeMap::new())`.
///
/// # Errors
/// As [`to_bytes_with`].
pub fn to_bytes<T: Float>(model: &SimpleRnnlm<T>) -> LmResult<Vec<u8>> {
    to_bytes_with(model, None, &BTreeMap::new())
}

/// The first non-finite value of `values`, as an error naming `name`.
fn check_finite<T: Float>(name: &str, values: impl Iterator<Item = T>) -> LmResult<()> {
    match values.enumerate().find(|(_, x)| !x.is_finite()) {
        None => Ok(()),
        Some((i, x)) => Err(LmError::ModelFile(format!(
            "tensor `{name}` has the non-finite value {x} at flat index {i}; refused"
        ))),
    }
}

/// The model's tensors under their PyTorch names, and in `__metadata__` its dimensions,
/// `vocab` (if given) and each `training` entry under `recur.train.<key>`, serialized as
/// safetensors bytes.
///
/// ```
/// use recur::lm::{model_file, Corpus, SimpleRnnlm};
/// use std::collections::BTreeMap;
/// let corpus = Corpus::from_text("the cat sat\n", None); // V = 4 with <eos>
/// let model = SimpleRnnlm::<f32>::new(4, 3, 5, 1)?;
/// let train = BTreeMap::from([("lr".to_string(), "0.1".to_string())]);
/// let bytes = model_file::to_bytes_with(&model, Some(&corpus.vocab), &train)?;
/// let saved = model_file::read::<f32>(&bytes)?;
/// assert_eq!(saved.vocab.as_ref().unwrap().word(1), Some("cat"));
/// assert_eq!(saved.training().collect::<Vec<_>>(), [("lr", "0.1")]);
/// # Ok::<(), recur::lm::LmError>(())
/// ```
///
/// # Errors
/// [`LmError::ModelFile`] if a weight is NaN or infinite (naming the tensor), if `vocab`
/// does not have `V` words, or if serialization fails.
pub fn to_bytes_with<T: Float>(
    model: &SimpleRnnlm<T>,
    vocab: Option<&Vocab>,
    training: &BTreeMap<String, String>,
) -> LmResult<Vec<u8>> {
    let dtype = if T::NAME == "f32" {
        Dtype::F32
    } else {
        Dtype::F64
    };
    let (v, d, h) = model.dims();
    let t2 = |a: ArrayView2<'_, T>| bytes_of(a.t().iter().copied());
    let m2 = |a: ArrayView2<'_, T>| bytes_of(a.iter().copied());
    let m1 = |a: ArrayView1<'_, T>| bytes_of(a.iter().copied());
    let tensors: Vec<(&str, Vec<usize>, Vec<u8>)> = vec![
        ("embed.weight", vec![v, d], m2(model.embed.weight())),
        ("rnn.weight_ih_l0", vec![h, d], t2(model.rnn.wx())),
        ("rnn.weight_hh_l0", vec![h, h], t2(model.rnn.wh())),
        ("rnn.bias_ih_l0", vec![h], m1(model.rnn.b())),
        ("rnn.bias_hh_l0", vec![h], bytes_of((0..h).map(|_| T::ZERO))),
        ("fc.weight", vec![v, h], t2(model.affine.w())),
        ("fc.bias", vec![v], m1(model.affine.b())),
    ];
    check_finite("embed.weight", model.embed.weight().iter().copied())?;
    check_finite("rnn.weight_ih_l0", model.rnn.wx().iter().copied())?;
    check_finite("rnn.weight_hh_l0", model.rnn.wh().iter().copied())?;
    check_finite("rnn.bias_ih_l0", model.rnn.b().iter().copied())?;
    check_finite("fc.weight", model.affine.w().iter().copied())?;
    check_finite("fc.bias", model.affine.b().iter().copied())?;
    let views: Vec<(&str, TensorView<'_>)> = tensors
        .iter()
        .map(|(name, shape, data)| {
            TensorView::new(dtype, shape.clone(), data)
                .map(|tv| (*name, tv))
                .map_err(|e| LmError::ModelFile(format!("{name}: {e}")))
        })
        .collect::<LmResult<_>>()?;
    let mut meta: HashMap<String, String> = training
        .iter()
        .map(|(k, v)| (format!("{TRAIN_KEY_PREFIX}{k}"), v.clone()))
        .collect();
    meta.insert("format".into(), "pt".into());
    meta.insert("recur.format".into(), "1".into());
    meta.insert("recur.dims".into(), format!("{v},{d},{h}"));
    meta.insert("recur.dtype".into(), T::NAME.into());
    if let Some(vocab) = vocab {
        if vocab.len() != v {
            return Err(LmError::ModelFile(format!(
                "the vocabulary has {} words, the model has V = {v}",
                vocab.len()
            )));
        }
        let words: Vec<&str> = (0..v as u32).filter_map(|i| vocab.word(i)).collect();
        let json = serde_json::to_string(&words).map_err(|e| LmError::ModelFile(e.to_string()))?;
        meta.insert(VOCAB_KEY.into(), json);
    }
    let bytes =
        safetensors::serialize(views, Some(meta)).map_err(|e| LmError::ModelFile(e.to_string()))?;
    canonical_header(bytes)
}

/// `bytes` with the JSON header's keys in sorted order, so that the same model always
/// gives the same file (safetensors writes its metadata in hash-map order). The data
/// section, and so every offset, is unchanged; the header stays padded to 8 bytes.
fn canonical_header(bytes: Vec<u8>) -> LmResult<Vec<u8>> {
    let bad = |why: &str| LmError::ModelFile(format!("serialized header: {why}"));
    let len = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
        .ok_or_else(|| bad("too short"))?;
    let end = usize::try_from(len)
        .ok()
        .and_then(|n| n.checked_add(8))
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| bad("length out of range"))?;
    // serde_json's map is a BTreeMap: parsing and printing sorts every object's keys.
    let header: serde_json::Value =
        serde_json::from_slice(&bytes[8..end]).map_err(|e| bad(&e.to_string()))?;
    let mut text = serde_json::to_string(&header).map_err(|e| bad(&e.to_string()))?;
    while text.len() % 8 != 0 {
        text.push(' ');
    }
    let mut out = Vec::with_capacity(8 + text.len() + bytes.len() - end);
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(&bytes[end..]);
    Ok(out)
}

/// Writes the model to `path` atomically, with its vocabulary and training settings in
/// the metadata (see the module docs for the layout): a save that fails (a NaN weight, a
/// full disk, a missing folder) leaves any previous file at `path` as it was.
///
/// # Errors
/// As [`to_bytes_with`], and [`LmError::Io`] naming `path` if the file cannot be written.
pub fn save<T: Float>(
    model: &SimpleRnnlm<T>,
    vocab: Option<&Vocab>,
    training: &BTreeMap<String, String>,
    path: impl AsRef<Path>,
) -> LmResult<()> {
    let bytes = to_bytes_with(model, vocab, training)?;
    files::write_atomic(path.as_ref(), |w: &mut dyn Write| w.write_all(&bytes))
}

fn read_tensor<T: Float>(st: &SafeTensors<'_>, name: &str, shape: &[usize]) -> LmResult<Vec<T>> {
    let tv = st
        .tensor(name)
        .map_err(|_| LmError::ModelFile(format!("missing tensor `{name}`")))?;
    if tv.shape() != shape {
        return Err(LmError::ModelFile(format!(
            "tensor `{name}` has shape {:?}, expected {:?}",
            tv.shape(),
            shape
        )));
    }
    let data = tv.data();
    let values: Vec<T> = match tv.dtype() {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|c| T::from_f64(f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64))
            .collect(),
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|c| {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                T::from_f64(f64::from_le_bytes(b))
            })
            .collect(),
        other => {
            return Err(LmError::ModelFile(format!(
                "tensor `{name}` has dtype {other:?}, expected F32 or F64"
            )))
        }
    };
    if values.len() != shape.iter().product::<usize>() {
        return Err(LmError::ModelFile(format!(
            "tensor `{name}` has truncated data"
        )));
    }
    // A finite f64 beyond f32's range becomes infinite in an f32 model: refused too.
    check_finite(name, values.iter().copied()).map_err(|e| match (tv.dtype(), T::NAME) {
        (Dtype::F64, "f32") => LmError::ModelFile(format!(
            "{} (or a value beyond the f32 range)",
            e.to_string().trim_start_matches("model file: ")
        )),
        _ => e,
    })?;
    Ok(values)
}

fn shape_of(st: &SafeTensors<'_>, name: &str) -> LmResult<Vec<usize>> {
    st.tensor(name)
        .map(|t| t.shape().to_vec())
        .map_err(|_| LmError::ModelFile(format!("missing tensor `{name}`")))
}

/// Reads a model from safetensors bytes (ours or PyTorch's: the two RNN biases are
/// summed), without its metadata: as [`read`]`(bytes)?.model`.
///
/// # Errors
/// As [`read`].
pub fn from_bytes<T: Float>(bytes: &[u8]) -> LmResult<SimpleRnnlm<T>> {
    read(bytes).map(|saved| saved.model)
}

/// The vocabulary of a file's metadata: a JSON array of `V` distinct strings.
fn vocab_of(json: &str, v: usize) -> LmResult<Vocab> {
    let bad = |why: String| LmError::ModelFile(format!("metadata `{VOCAB_KEY}`: {why}"));
    let words: Vec<String> =
        serde_json::from_str(json).map_err(|e| bad(format!("not a JSON array of strings: {e}")))?;
    if words.len() != v {
        return Err(bad(format!("{} words, the model has V = {v}", words.len())));
    }
    let mut vocab = Vocab::default();
    for (i, w) in words.iter().enumerate() {
        if vocab.id_or_insert(w) as usize != i {
            return Err(bad(format!(
                "the word {w:?} appears twice (ids {} and {i})",
                vocab.id(w).unwrap_or(0)
            )));
        }
    }
    Ok(vocab)
}

/// Reads a model and its metadata from safetensors bytes (ours or PyTorch's: the two RNN
/// biases are summed).
///
/// # Errors
/// [`LmError::ModelFile`] for a malformed file, a missing tensor, a wrong shape or dtype,
/// a NaN or infinite weight (naming the tensor), or a malformed vocabulary.
pub fn read<T: Float>(bytes: &[u8]) -> LmResult<SavedModel<T>> {
    let (_, header) =
        SafeTensors::read_metadata(bytes).map_err(|e| LmError::ModelFile(e.to_string()))?;
    let metadata: BTreeMap<String, String> = header
        .metadata()
        .as_ref()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let st = SafeTensors::deserialize(bytes).map_err(|e| LmError::ModelFile(e.to_string()))?;
    let emb_shape = shape_of(&st, "embed.weight")?;
    let hh_shape = shape_of(&st, "rnn.weight_hh_l0")?;
    let (&[v, d], &[h, _]) = (emb_shape.as_slice(), hh_shape.as_slice()) else {
        return Err(LmError::ModelFile(
            "`embed.weight` and `rnn.weight_hh_l0` must be 2-D".to_string(),
        ));
    };
    let arr2 = |vals: Vec<T>, r: usize, c: usize| {
        Array2::from_shape_vec((r, c), vals).map_err(|e| LmError::ModelFile(e.to_string()))
    };
    let w_embed = arr2(read_tensor(&st, "embed.weight", &[v, d])?, v, d)?;
    let wx = arr2(read_tensor(&st, "rnn.weight_ih_l0", &[h, d])?, h, d)?.reversed_axes();
    let wh = arr2(read_tensor(&st, "rnn.weight_hh_l0", &[h, h])?, h, h)?.reversed_axes();
    let b_ih: Vec<T> = read_tensor(&st, "rnn.bias_ih_l0", &[h])?;
    let b_hh: Vec<T> = read_tensor(&st, "rnn.bias_hh_l0", &[h])?;
    let b = Array1::from_iter(b_ih.iter().zip(&b_hh).map(|(&a, &c)| a + c));
    // Two finite biases can add up to an infinity, which no save would write back.
    check_finite("rnn.bias_ih_l0 + rnn.bias_hh_l0", b.iter().copied())?;
    let w_aff = arr2(read_tensor(&st, "fc.weight", &[v, h])?, v, h)?.reversed_axes();
    let b_aff = Array1::from_vec(read_tensor(&st, "fc.bias", &[v])?);
    let vocab = metadata
        .get(VOCAB_KEY)
        .map(|json| vocab_of(json, v))
        .transpose()?;
    let model = SimpleRnnlm::from_weights(w_embed, wx, wh, b, w_aff, b_aff)?;
    Ok(SavedModel {
        model,
        vocab,
        metadata,
    })
}

/// Reads a model and its metadata from the file at `path` (at most [`MAX_MODEL_BYTES`]).
///
/// # Errors
/// [`LmError::Io`] naming `path` if it cannot be read or is larger than that, otherwise
/// as [`read`].
pub fn load<T: Float>(path: impl AsRef<Path>) -> LmResult<SavedModel<T>> {
    let path = path.as_ref();
    if !path.is_file() && path.exists() {
        return Err(LmError::Io {
            path: path.display().to_string(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a regular file (a model is read from a file)",
            ),
        });
    }
    read(&files::read_bounded(path, MAX_MODEL_BYTES)?).map_err(|e| match e {
        LmError::ModelFile(m) => LmError::ModelFile(format!("{}: {m}", path.display())),
        other => other,
    })
}

/// Reads a model from `path` to go on training it on a corpus whose vocabulary is
/// `vocab`: as [`load`], and the file's vocabulary must be `vocab`, word for word (a file
/// without a vocabulary, from another program, must have `V = vocab.len()`).
///
/// ```
/// use recur::lm::{model_file, Corpus, SimpleRnnlm};
/// use std::collections::BTreeMap;
/// let path = std::env::temp_dir().join(format!("recur-doc-init-{}.safetensors", std::process::id()));
/// let corpus = Corpus::from_text("the cat sat\n", None); // V = 4
/// let model = SimpleRnnlm::<f32>::new(4, 3, 4, 1)?;
/// model_file::save(&model, Some(&corpus.vocab), &BTreeMap::new(), &path)?;
/// assert_eq!(model_file::load_for_vocab::<f32>(&path, &corpus.vocab)?.dims(), (4, 3, 4));
/// // The same number of words, in another order: refused, naming the first difference.
/// let other = Corpus::from_text("cat the sat\n", None);
/// let err = model_file::load_for_vocab::<f32>(&path, &other.vocab).unwrap_err();
/// assert!(err.to_string().contains("id 0 is \"the\" in the model, \"cat\" in the corpus"), "{err}");
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`load`]; [`LmError::ModelFile`] if the vocabularies differ.
pub fn load_for_vocab<T: Float>(path: impl AsRef<Path>, vocab: &Vocab) -> LmResult<SimpleRnnlm<T>> {
    let path = path.as_ref();
    let saved = load::<T>(path)?;
    let v = saved.model.dims().0;
    if v != vocab.len() {
        return Err(LmError::ModelFile(format!(
            "{} has V = {v}, the corpus needs V = {}",
            path.display(),
            vocab.len()
        )));
    }
    if let Some(own) = &saved.vocab {
        let differ = (0..v as u32).filter(|&i| own.word(i) != vocab.word(i));
        let count = differ.clone().count();
        if let Some(i) = differ.clone().next() {
            return Err(LmError::ModelFile(format!(
                "{} was trained on another vocabulary: id {i} is {:?} in the model, {:?} in the corpus ({count} of {v} ids differ)",
                path.display(),
                own.word(i).unwrap_or(""),
                vocab.word(i).unwrap_or("")
            )));
        }
    }
    Ok(saved.model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use recur_layers::ndarray::Array2 as A2;
    use recur_layers::Parameters;

    #[test]
    fn roundtrip_is_bit_identical() {
        let mut m = SimpleRnnlm::<f32>::new(11, 5, 7, 3).unwrap();
        let bytes = to_bytes(&m).unwrap();
        // The same model, the same bytes (the header's keys are sorted).
        for _ in 0..8 {
            assert_eq!(to_bytes(&m).unwrap(), bytes);
        }
        let mut back: SimpleRnnlm<f32> = from_bytes(&bytes).unwrap();
        let xs = A2::from_shape_fn((4, 3), |(t, n)| ((t * 3 + n) % 11) as u32);
        let a = m.scores(xs.view()).unwrap().to_owned();
        let b = back.scores(xs.view()).unwrap().to_owned();
        assert!(a
            .iter()
            .zip(b.iter())
            .all(|(x, y)| x.to_bits() == y.to_bits()));
    }

    #[test]
    fn bad_files_are_clear_errors() {
        let m = SimpleRnnlm::<f64>::new(5, 2, 3, 1).unwrap();
        let bytes = to_bytes(&m).unwrap();
        let err = from_bytes::<f64>(&bytes[..bytes.len() - 9]).unwrap_err();
        assert!(matches!(err, LmError::ModelFile(_)), "{err}");
        assert!(from_bytes::<f64>(b"not a safetensors file").is_err());
        // A file missing a tensor.
        let only = safetensors::serialize(
            vec![(
                "embed.weight",
                TensorView::new(Dtype::F64, vec![1, 1], &[0u8; 8]).unwrap(),
            )],
            None,
        )
        .unwrap();
        let err = from_bytes::<f32>(&only).unwrap_err();
        assert!(err.to_string().contains("rnn.weight_hh_l0"), "{err}");
        // f64 file into an f32 model converts.
        let m32: SimpleRnnlm<f32> = from_bytes(&bytes).unwrap();
        assert_eq!(m32.dims(), (5, 2, 3));
    }

    #[test]
    fn non_finite_weights_are_refused_on_save_and_load() {
        let mut m = SimpleRnnlm::<f32>::new(5, 2, 3, 1).unwrap();
        let good = to_bytes(&m).unwrap();
        m.affine.params_mut()[0].value.as_slice_mut().unwrap()[4] = f32::NAN;
        let err = to_bytes(&m).unwrap_err().to_string();
        assert!(err.contains("fc.weight") && err.contains("NaN"), "{err}");
        // The same NaN written by another program: refused on load, naming the tensor.
        let m64 = SimpleRnnlm::<f64>::new(5, 2, 3, 1).unwrap();
        let mut bytes = to_bytes(&m64).unwrap();
        let st = SafeTensors::deserialize(&good).unwrap();
        assert!(st.tensor("embed.weight").is_ok());
        // Overwrite the last 8 bytes (the end of `fc.bias` or another tensor's data) with
        // a value too large for f32: fine as f64, refused as f32.
        let n = bytes.len();
        bytes[n - 8..].copy_from_slice(&1e300f64.to_le_bytes());
        assert!(from_bytes::<f64>(&bytes).is_ok());
        let err = from_bytes::<f32>(&bytes).unwrap_err().to_string();
        assert!(err.contains("beyond the f32 range"), "{err}");
        bytes[n - 8..].copy_from_slice(&f64::INFINITY.to_le_bytes());
        let err = from_bytes::<f64>(&bytes).unwrap_err().to_string();
        assert!(err.contains("non-finite value inf"), "{err}");
    }

    #[test]
    fn biases_whose_sum_overflows_are_refused_on_load() {
        // A PyTorch-style file: zero weights, both RNN biases f32::MAX (each finite).
        let (v, d, h) = (3usize, 2usize, 2usize);
        let tensors: [(&str, Vec<usize>, f32); 7] = [
            ("embed.weight", vec![v, d], 0.0),
            ("rnn.weight_ih_l0", vec![h, d], 0.0),
            ("rnn.weight_hh_l0", vec![h, h], 0.0),
            ("rnn.bias_ih_l0", vec![h], f32::MAX),
            ("rnn.bias_hh_l0", vec![h], f32::MAX),
            ("fc.weight", vec![v, h], 0.0),
            ("fc.bias", vec![v], 0.0),
        ];
        let data: Vec<Vec<u8>> = tensors
            .iter()
            .map(|(_, shape, x)| {
                let n: usize = shape.iter().product();
                (0..n).flat_map(|_| x.to_le_bytes()).collect()
            })
            .collect();
        let file = |tensors: &[(&str, Vec<usize>, f32)], data: &[Vec<u8>]| {
            let views = tensors.iter().zip(data).map(|((name, shape, _), bytes)| {
                let view = safetensors::tensor::TensorView::new(Dtype::F32, shape.clone(), bytes);
                (*name, view.unwrap())
            });
            safetensors::serialize(views, None).unwrap()
        };
        let err = from_bytes::<f32>(&file(&tensors, &data))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("rnn.bias_ih_l0 + rnn.bias_hh_l0") && err.contains("inf"),
            "{err}"
        );
        // In f64 the sum is finite: the model loads and saves back to the same model.
        let m = from_bytes::<f64>(&file(&tensors, &data)).unwrap();
        let again = from_bytes::<f64>(&to_bytes(&m).unwrap()).unwrap();
        assert_eq!(again.rnn.b(), m.rnn.b());
    }

    #[test]
    fn the_vocabulary_and_settings_round_trip() {
        let corpus = crate::lm::Corpus::from_text("b a c\n a \"q\" ü\n", None);
        let v = corpus.vocab.len();
        let m = SimpleRnnlm::<f64>::new(v, 2, 3, 1).unwrap();
        let train = BTreeMap::from([("optimizer".to_string(), "Sgd".to_string())]);
        let saved = read::<f64>(&to_bytes_with(&m, Some(&corpus.vocab), &train).unwrap()).unwrap();
        assert_eq!(saved.vocab.as_ref(), Some(&corpus.vocab));
        assert_eq!(saved.metadata["recur.dims"], format!("{v},2,3"));
        assert_eq!(saved.training().collect::<Vec<_>>(), [("optimizer", "Sgd")]);
        // A vocabulary of the wrong size is refused on save.
        let short = crate::lm::Corpus::from_text("a\n", None).vocab;
        assert!(to_bytes_with(&m, Some(&short), &train).is_err());
        // A malformed vocabulary in a file: refused on load.
        for bad in [
            "not json",
            "[\"a\"]",
            "[\"a\",\"a\",\"b\",\"c\",\"d\",\"e\"]",
        ] {
            let tensors = to_bytes(&m).unwrap();
            let st = SafeTensors::deserialize(&tensors).unwrap();
            let views: Vec<(String, TensorView<'_>)> = st.tensors();
            let meta = HashMap::from([(VOCAB_KEY.to_string(), bad.to_string())]);
            let file = safetensors::serialize(views, Some(meta)).unwrap();
            let err = read::<f64>(&file).unwrap_err().to_string();
            assert!(err.contains(VOCAB_KEY), "{bad}: {err}");
        }
    }
}
