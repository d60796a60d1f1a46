//! `recur generate`: text sampled from a saved model, word by word, after a prompt.

use super::eval::vocab_of;
use super::GenerateArgs;
use crate::layers::ndarray::{Array2, Axis};
use crate::lm::corpus::{EOS, UNK};
use crate::lm::rng::Rng;
use crate::lm::{model_file, LmError, LmResult};

/// Runs `recur generate` with `args`.
pub fn run(args: &GenerateArgs) -> LmResult<()> {
    if !(args.temperature.is_finite() && args.temperature >= 0.0) {
        return Err(LmError::Config(format!(
            "--temperature must be finite and >= 0, got {}",
            args.temperature
        )));
    }
    let saved = model_file::load::<f32>(&args.model)?;
    let vocab = vocab_of(&args.model, saved.vocab)?;
    let mut model = saved.model;
    let mut ids = vocab.encode(&args.prompt, None)?.ids;
    if ids.is_empty() {
        // No prompt: start as after the end of a sentence.
        ids.push(vocab.id(EOS).ok_or_else(|| {
            LmError::Config(format!(
                "--prompt is empty and the vocabulary has no {EOS} to start from"
            ))
        })?);
    }
    let unk = vocab.id(UNK);
    let mut rng = Rng::new(args.seed);
    let mut text: Vec<&str> = Vec::new();
    let mut input = Array2::from_shape_vec((ids.len(), 1), ids.clone())
        .map_err(|e| LmError::Config(e.to_string()))?;
    model.reset_state();
    for _ in 0..args.words {
        let scores = model.scores(input.view())?;
        let last = scores.shape()[0] - 1;
        let row: Vec<f64> = scores
            .index_axis(Axis(0), last)
            .index_axis(Axis(0), 0)
            .iter()
            .map(|&s| s as f64)
            .collect();
        let next = sample(&row, args.temperature, unk, &mut rng);
        text.push(vocab.word(next).unwrap_or(UNK));
        input = Array2::from_elem((1, 1), next);
    }
    let prompt = args.prompt.trim();
    let mut out = String::from(prompt);
    for w in text {
        if w == EOS {
            out.push('\n');
        } else {
            if !(out.is_empty() || out.ends_with('\n')) {
                out.push(' ');
            }
            out.push_str(w);
        }
    }
    println!("{out}");
    Ok(())
}

/// An id drawn from `softmax(scores / temperature)` (the most likely one at temperature
/// 0), never `skip` (`<unk>`) while another word has a chance. Non-finite scores count as
/// impossible.
fn sample(scores: &[f64], temperature: f64, skip: Option<u32>, rng: &mut Rng) -> u32 {
    let allowed = |i: usize| Some(i as u32) != skip && scores[i].is_finite();
    let best = (0..scores.len())
        .filter(|&i| allowed(i))
        .max_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let Some(best) = best else {
        return skip.unwrap_or(0);
    };
    if temperature == 0.0 {
        return best as u32;
    }
    let weights: Vec<f64> = (0..scores.len())
        .map(|i| {
            if allowed(i) {
                ((scores[i] - scores[best]) / temperature).exp()
            } else {
                0.0
            }
        })
        .collect();
    let total: f64 = weights.iter().sum();
    let mut u = rng.uniform() * total;
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i as u32;
        }
        u -= w;
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_follows_the_temperature_and_skips_unk() {
        let mut rng = Rng::new(3);
        let scores = [0.0, 2.0, 1.0, 5.0];
        assert_eq!(sample(&scores, 0.0, None, &mut rng), 3);
        assert_eq!(sample(&scores, 0.0, Some(3), &mut rng), 1);
        let mut counts = [0usize; 4];
        for _ in 0..20_000 {
            counts[sample(&scores, 1.0, Some(3), &mut rng) as usize] += 1;
        }
        assert_eq!(counts[3], 0);
        // P(1) / P(2) = e at temperature 1.
        let ratio = counts[1] as f64 / counts[2] as f64;
        assert!((ratio - 1f64.exp()).abs() < 0.15, "{counts:?}");
        assert_eq!(sample(&[f64::NAN, f64::NAN], 1.0, None, &mut rng), 0);
    }
}
