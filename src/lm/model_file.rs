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

use super::error::{LmError, LmResult};
use super::model::SimpleRnnlm;
use recur_kernels::Float;
use recur_layers::ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::HashMap;

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

/// The model's tensors under their PyTorch names, serialized as safetensors bytes.
///
/// # Errors
/// [`LmError::ModelFile`] if serialization fails.
pub fn to_bytes<T: Float>(model: &SimpleRnnlm<T>) -> LmResult<Vec<u8>> {
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
    let views: Vec<(&str, TensorView<'_>)> = tensors
        .iter()
        .map(|(name, shape, data)| {
            TensorView::new(dtype, shape.clone(), data)
                .map(|tv| (*name, tv))
                .map_err(|e| LmError::ModelFile(format!("{name}: {e}")))
        })
        .collect::<LmResult<_>>()?;
    let meta = HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize(views, Some(meta)).map_err(|e| LmError::ModelFile(e.to_string()))
}

/// Writes the model to `path` (see the module docs for the layout).
///
/// # Errors
/// [`LmError::Io`] if the file cannot be written.
pub fn save<T: Float>(model: &SimpleRnnlm<T>, path: &str) -> LmResult<()> {
    let bytes = to_bytes(model)?;
    std::fs::write(path, bytes).map_err(|source| LmError::Io {
        path: path.to_string(),
        source,
    })
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
            .map(|c| T::from_f64(f64::from_le_bytes(c.try_into().expect("8 bytes"))))
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
    Ok(values)
}

fn shape_of(st: &SafeTensors<'_>, name: &str) -> LmResult<Vec<usize>> {
    st.tensor(name)
        .map(|t| t.shape().to_vec())
        .map_err(|_| LmError::ModelFile(format!("missing tensor `{name}`")))
}

/// Reads a model from safetensors bytes (ours or PyTorch's: the two RNN biases are
/// summed).
///
/// # Errors
/// [`LmError::ModelFile`] for a malformed file, a missing tensor, a wrong shape or dtype.
pub fn from_bytes<T: Float>(bytes: &[u8]) -> LmResult<SimpleRnnlm<T>> {
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
    let w_aff = arr2(read_tensor(&st, "fc.weight", &[v, h])?, v, h)?.reversed_axes();
    let b_aff = Array1::from_vec(read_tensor(&st, "fc.bias", &[v])?);
    Ok(SimpleRnnlm::from_weights(w_embed, wx, wh, b, w_aff, b_aff)?)
}

/// Reads a model from `path`.
///
/// # Errors
/// [`LmError::Io`] if the file cannot be read, otherwise as [`from_bytes`].
pub fn load<T: Float>(path: &str) -> LmResult<SimpleRnnlm<T>> {
    let bytes = std::fs::read(path).map_err(|source| LmError::Io {
        path: path.to_string(),
        source,
    })?;
    from_bytes(&bytes)
}

/// Reads a model from `path` to go on training it on a corpus of `vocab` words: as
/// [`load`], and its `V` must be `vocab`.
///
/// ```
/// use recur::lm::{model_file, SimpleRnnlm};
/// let path = std::env::temp_dir().join(format!("recur-doc-init-{}.safetensors", std::process::id()));
/// let path = path.to_str().unwrap();
/// model_file::save(&SimpleRnnlm::<f32>::new(7, 3, 4, 1), path)?;
/// assert_eq!(model_file::load_for_vocab::<f32>(path, 7)?.dims(), (7, 3, 4));
/// let err = model_file::load_for_vocab::<f32>(path, 8).unwrap_err();
/// assert!(err.to_string().contains("has V = 7, the corpus needs V = 8"), "{err}");
/// # std::fs::remove_file(path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`load`]; [`LmError::ModelFile`] if the model has another vocabulary size.
pub fn load_for_vocab<T: Float>(path: &str, vocab: usize) -> LmResult<SimpleRnnlm<T>> {
    let m = load(path)?;
    if m.dims().0 != vocab {
        return Err(LmError::ModelFile(format!(
            "{path} has V = {}, the corpus needs V = {vocab}",
            m.dims().0
        )));
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use recur_layers::ndarray::Array2 as A2;

    #[test]
    fn roundtrip_is_bit_identical() {
        let mut m = SimpleRnnlm::<f32>::new(11, 5, 7, 3);
        let bytes = to_bytes(&m).unwrap();
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
        let m = SimpleRnnlm::<f64>::new(5, 2, 3, 1);
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
}
