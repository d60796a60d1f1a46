//! `recur eval`: the perplexity of a saved model on a text, read in the model's own
//! vocabulary.

use super::EvalArgs;
use crate::kernels::Float;
use crate::lm::corpus::{read_text, Vocab, UNK};
use crate::lm::{eval_held_out, eval_perplexity, model_file, LmError, LmResult};

/// Runs `recur eval` with `args`.
pub fn run(args: &EvalArgs) -> LmResult<()> {
    if args.f64 {
        eval_typed::<f64>(args)
    } else {
        eval_typed::<f32>(args)
    }
}

/// The vocabulary a saved model was trained with, or an error saying it has none.
pub fn vocab_of(path: &str, vocab: Option<Vocab>) -> LmResult<Vocab> {
    vocab.ok_or_else(|| {
        LmError::ModelFile(format!(
            "{path} has no vocabulary (metadata `{}`): save it with `recur train --save`, which records it",
            model_file::VOCAB_KEY
        ))
    })
}

fn eval_typed<T: Float>(args: &EvalArgs) -> LmResult<()> {
    let saved = model_file::load::<T>(&args.model)?;
    let vocab = vocab_of(&args.model, saved.vocab)?;
    let mut model = saved.model;
    let text = read_text(&args.corpus)?;
    let encoded = vocab.encode(&text, args.tokens)?;
    let ppl = match (args.batch, args.time) {
        (None, None) => eval_held_out(&mut model, &encoded.ids)?,
        (batch, time) => eval_perplexity(
            &mut model,
            &encoded.ids,
            batch.unwrap_or(10),
            time.unwrap_or(35),
        )?,
    };
    let (v, d, h) = model.dims();
    println!(
        "recur eval: {} (V = {v}, D = {d}, H = {h}, {})",
        args.model,
        T::NAME
    );
    println!(
        "  text: {}: {} tokens, {} outside the vocabulary (read as {UNK})",
        args.corpus,
        encoded.ids.len(),
        encoded.unknown
    );
    println!("  perplexity: {ppl:.3}");
    Ok(())
}
