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

/// A scratch folder of this test process, `name` inside it.
fn scratch(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("recur-cli-checks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name).to_str().unwrap().to_string()
}

/// A quick run on the built-in corpus (2 windows) with `extra` arguments.
fn quick_train(extra: &[&str]) -> (bool, String, String) {
    let mut args = vec![
        "train",
        "--tokens",
        "2000",
        "--windows",
        "2",
        "--quiet",
        "--threads",
        "1",
    ];
    args.extend_from_slice(extra);
    recur(&args)
}

#[test]
fn outputs_and_settings_are_checked_before_training() {
    let model = scratch("pre.safetensors");
    // An unknown plot format, an unwritable metrics path: refused before any training,
    // and the model asked for is not written.
    for (extra, says) in [
        (vec!["--plot", "curve.pdf"], ".svg or .png"),
        (
            vec!["--metrics", "/nonexistent-folder/m.csv"],
            "/nonexistent-folder/m.csv",
        ),
        (vec!["--lr=nan"], "learning rate"),
        (vec!["--lr=inf"], "learning rate"),
        (vec!["--lr=-1"], "learning rate"),
        (vec!["--lr=1e300"], "learning rate"),
        (vec!["--max-grad=nan"], "max_grad"),
        (vec!["--max-grad=0"], "max_grad"),
        (vec!["--test", "held-out.txt"], "--test needs --corpus"),
        (vec!["--tokens", "10000000000000"], "at most"),
        (vec!["--hidden", "4294967296"], "H = 4294967296"),
        (vec!["--wordvec", "0"], "at least 1"),
        (vec!["--windows", "0"], "--windows"),
        (vec!["--windows", "3", "--warmup", "3"], "--warmup"),
        (vec!["--init", "/dev/zero"], "not a regular file"),
        (vec!["--corpus", "/dev/zero"], "more than"),
    ] {
        let mut args = extra.clone();
        args.extend_from_slice(&["--save", &model]);
        let (ok, out, err) = quick_train(&args);
        assert!(!ok, "{extra:?} was accepted: {out}");
        assert!(err.contains(says), "{extra:?}: {err}");
        assert!(
            !out.contains("epoch "),
            "{extra:?} trained before failing: {out}"
        );
        assert!(
            !std::path::Path::new(&model).exists(),
            "{extra:?} wrote a model"
        );
    }
    // Epochs beyond any capacity, with a window limit: trains 2 windows.
    let (ok, out, err) = quick_train(&["--epochs", "18446744073709551615"]);
    assert!(ok && out.contains("summary: 2 windows"), "{out}\n{err}");
}

/// An output path that exists and is not a regular file (here a socket, which needs no
/// privileges; as root the same held for `/dev/null`, which a rename would replace) is
/// refused before training, and stays what it was.
#[cfg(unix)]
#[test]
fn outputs_that_are_not_regular_files_are_refused_before_training() {
    use std::os::unix::fs::FileTypeExt;
    for (flag, name) in [
        ("--save", "model.sock"),
        ("--metrics", "metrics.sock"),
        ("--plot", "plot.svg"),
    ] {
        let path = scratch(name);
        let _ = std::fs::remove_file(&path);
        let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let (ok, out, err) = quick_train(&[flag, &path]);
        assert!(!ok, "{flag} to a socket was accepted: {out}");
        assert!(
            err.contains("not a regular file") && err.contains(name),
            "{flag}: {err}"
        );
        assert!(
            !out.contains("epoch "),
            "{flag}: trained before failing: {out}"
        );
        let kind = std::fs::symlink_metadata(&path).unwrap().file_type();
        assert!(kind.is_socket(), "{flag}: the socket was replaced");
    }
}

#[test]
fn a_diverged_or_failed_save_never_replaces_a_good_model() {
    let model = scratch("good.safetensors");
    let (ok, out, err) = quick_train(&["--save", &model]);
    assert!(ok, "{out}\n{err}");
    let good = std::fs::read(&model).unwrap();
    // A learning rate that sends the weights to infinity: the run fails at the save,
    // which names the tensor, and the good model stays as it was.
    let (ok, out, err) = quick_train(&[
        "--init",
        &model,
        "--save",
        &model,
        "--optimizer",
        "sgd",
        "--lr",
        "3e38",
        "--windows",
        "4",
    ]);
    assert!(!ok, "a diverged model was saved: {out}");
    assert!(
        err.contains("non-finite") && err.contains("unchanged"),
        "{err}"
    );
    assert_eq!(std::fs::read(&model).unwrap(), good);
    // A write that fails part-way (a file-size limit below the model's size, with the
    // signal ignored so that the write itself fails): an error naming the path, and the
    // previous file intact.
    let script = format!(
        "trap '' XFSZ; ulimit -f 16; exec {} train --tokens 2000 --windows 2 --quiet --threads 1 --init {model} --save {model}",
        env!("CARGO_BIN_EXE_recur")
    );
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the limited save succeeded");
    assert!(err.contains(&model), "{err}");
    assert_eq!(std::fs::read(&model).unwrap(), good);
}

#[test]
fn a_saved_model_carries_its_vocabulary_to_eval_and_generate() {
    let (train_txt, test_txt, model) = (
        scratch("v-train.txt"),
        scratch("v-test.txt"),
        scratch("v.safetensors"),
    );
    std::fs::write(
        &train_txt,
        "the cat sat on the mat\nthe dog sat <unk> here\n".repeat(40),
    )
    .unwrap();
    std::fs::write(&test_txt, "the cat sat on the rug\n".repeat(10)).unwrap();
    let (ok, out, err) = recur(&[
        "train",
        "--corpus",
        &train_txt,
        "--batch",
        "4",
        "--time",
        "5",
        "--epochs",
        "3",
        "--quiet",
        "--threads",
        "1",
        "--save",
        &model,
    ]);
    assert!(ok, "{out}\n{err}");
    let (ok, out, err) = recur(&["eval", "--model", &model, "--corpus", &test_txt]);
    assert!(ok, "{out}\n{err}");
    // "rug" is not in the vocabulary: read as <unk>, once per line.
    assert!(
        out.contains("10 outside the vocabulary") && out.contains("perplexity"),
        "{out}"
    );
    let ppl: f64 = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("perplexity: "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(ppl.is_finite() && ppl > 1.0, "{out}");
    let gen = |seed: &str| {
        recur(&[
            "generate", "--model", &model, "--prompt", "the cat", "--words", "12", "--seed", seed,
        ])
    };
    let (ok, a, err) = gen("5");
    assert!(ok && a.starts_with("the cat"), "{a}\n{err}");
    let words: Vec<&str> = a.split_whitespace().collect();
    assert!(words.len() >= 3, "{a}");
    for w in &words {
        assert!(
            ["the", "cat", "sat", "on", "mat", "dog", "here"].contains(w),
            "{w} is not a word of the corpus: {a}"
        );
    }
    assert_eq!(gen("5").1, a, "the same seed gives the same text");
    // A prompt word outside a vocabulary without <unk> is a clear error; so is a model
    // file without a vocabulary, and a bad temperature.
    let plain = scratch("plain.txt");
    let plain_model = scratch("plain.safetensors");
    std::fs::write(&plain, "a b c\n".repeat(100)).unwrap();
    let (ok, _, err) = recur(&[
        "train",
        "--corpus",
        &plain,
        "--batch",
        "4",
        "--time",
        "5",
        "--epochs",
        "1",
        "--quiet",
        "--save",
        &plain_model,
    ]);
    assert!(ok, "{err}");
    let (ok, _, err) = recur(&["generate", "--model", &plain_model, "--prompt", "a zebra"]);
    assert!(!ok && err.contains("\"zebra\""), "{err}");
    let (ok, _, err) = recur(&["eval", "--model", &plain_model, "--corpus", &test_txt]);
    assert!(!ok && err.contains("\"the\""), "{err}");
    let (ok, _, err) = recur(&["generate", "--model", &plain_model, "--temperature", "nan"]);
    assert!(!ok && err.contains("--temperature"), "{err}");
}

#[test]
fn init_refuses_a_model_of_another_vocabulary_of_the_same_size() {
    let model = scratch("seed1.safetensors");
    let (ok, out, err) = quick_train(&["--seed", "1", "--save", &model]);
    assert!(ok, "{out}\n{err}");
    // Another seed of the built-in corpus: the same V, the ids in another order.
    let (ok, _, err) = quick_train(&["--seed", "2", "--init", &model]);
    assert!(
        !ok && err.contains("another vocabulary") && err.contains("ids differ"),
        "{err}"
    );
    let (ok, out, err) = quick_train(&["--seed", "1", "--init", &model]);
    assert!(ok, "{out}\n{err}");
}
