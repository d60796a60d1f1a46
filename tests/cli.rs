//! The `recur` command end to end: train (with metrics, plot and save, then init from the
//! saved model), gradcheck and seed, and clear errors for bad arguments.

use std::process::Command;

fn recur(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_recur"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn train_writes_metrics_plot_and_model_then_resumes() {
    let dir = std::env::temp_dir().join(format!("recur-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let (metrics, plot, model) = (p("m.csv"), p("ppl.svg"), p("m.safetensors"));
    let (ok, out, err) = recur(&[
        "train",
        "--tokens",
        "4000",
        "--epochs",
        "2",
        "--quiet",
        "--metrics",
        &metrics,
        "--plot",
        &plot,
        "--save",
        &model,
        "--threads",
        "1",
    ]);
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("optimal perplexity"), "{out}");
    let csv = std::fs::read_to_string(&metrics).unwrap();
    assert!(
        csv.starts_with("epoch,loss,perplexity,tokens_per_sec,seconds\n1,"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 3);
    assert!(std::fs::read_to_string(&plot).unwrap().contains("<svg"));
    let (ok, out, err) = recur(&[
        "train", "--tokens", "4000", "--epochs", "1", "--quiet", "--init", &model,
    ]);
    assert!(ok, "{out}\n{err}");
    // A model of another vocabulary size is refused.
    let small = p("small.txt");
    std::fs::write(&small, "a b c\n".repeat(200)).unwrap();
    let (ok, _, err) = recur(&[
        "train", "--corpus", &small, "--epochs", "1", "--quiet", "--init", &model,
    ]);
    assert!(!ok && err.contains("V ="), "{err}");
    // The same small corpus trains from scratch.
    let (ok, out, err) = recur(&[
        "train", "--corpus", &small, "--epochs", "1", "--batch", "4", "--time", "5", "--quiet",
    ]);
    assert!(ok && out.contains("V = 4"), "{out}\n{err}");
}

#[test]
fn gradcheck_and_seed_run() {
    let (ok, out, err) = recur(&["gradcheck", "--cases", "1"]);
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains("TimeRnn") && out.contains("SoftmaxCrossEntropy") && !out.contains("FAIL"),
        "{out}"
    );
    let (ok, out, _) = recur(&["seed"]);
    assert!(ok && out.contains("hs   (T, N, H) = (4, 5, 4)"), "{out}");
}

#[test]
fn bad_arguments_are_clear_errors() {
    let (ok, _, err) = recur(&["train", "--corpus", "/nonexistent/corpus.txt"]);
    assert!(!ok && err.contains("/nonexistent/corpus.txt"), "{err}");
    let (ok, _, err) = recur(&["train", "--optimizer", "rmsprop"]);
    assert!(!ok && err.contains("rmsprop"), "{err}");
    let (ok, _, err) = recur(&["train", "--tokens", "10", "--quiet"]);
    assert!(!ok && err.contains("too few"), "{err}");
}
