//! The `recur` command's argument handling, through `recur::cli::try_run` (what the binary
//! runs): `train`, `eval` and `generate` with any values of their options (NaN, infinite,
//! negative or huge numbers, empty or odd strings, repeated options) and paths that exist,
//! do not exist, are folders, devices or files of the wrong kind. Never a panic or a hang;
//! every budget is tiny (two windows of a few hundred tokens, a small model), and every
//! path the command may write is inside the target's own scratch folder.
//!
//! Checked beyond "no panic": a run that fails leaves the model file it was told to save
//! exactly as it was, and a model the command saved loads again with finite weights.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use recur::lm::model_file;
use std::path::PathBuf;
use std::sync::OnceLock;

/// A path the command is given.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum PathArg {
    /// The scratch folder's good model (saved once at start-up).
    Model,
    /// The scratch folder's small PTB-format text.
    Text,
    /// A file of invalid UTF-8.
    Binary,
    /// A file that does not exist, in the scratch folder.
    Missing,
    /// A file in a folder that does not exist.
    NoFolder,
    /// The scratch folder itself.
    Folder,
    /// `/dev/null` (empty).
    DevNull,
    /// `/dev/zero` (endless).
    DevZero,
    /// An output file in the scratch folder, with this extension.
    Out(Ext),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Ext {
    Safetensors,
    Svg,
    Png,
    Csv,
    Pdf,
    None,
}

/// A number option's value: a typed value, or a string that may not parse.
#[derive(Arbitrary, Debug, Clone)]
enum Num {
    Small(u8),
    Int(u64),
    Float(f64),
    Text(String),
}

#[derive(Arbitrary, Debug, Clone)]
enum Opt {
    Tokens(Num),
    Batch(Num),
    Time(Num),
    Wordvec(Num),
    Hidden(Num),
    Lr(Num),
    MaxGrad(Num),
    Epochs(Num),
    Windows(Num),
    Warmup(Num),
    Seed(Num),
    Threads(u8),
    Optimizer(bool),
    F64,
    Corpus(PathArg),
    Test(PathArg),
    Init(PathArg),
    Save(PathArg),
    Metrics(PathArg),
    Plot(PathArg),
}

#[derive(Arbitrary, Debug)]
enum Input {
    Train(Vec<Opt>),
    Eval {
        model: PathArg,
        corpus: PathArg,
        tokens: Option<Num>,
        batch: Option<Num>,
        time: Option<Num>,
        f64: bool,
    },
    Generate {
        model: PathArg,
        prompt: String,
        words: u8,
        temperature: Num,
        seed: Num,
    },
}

struct Scratch {
    dir: PathBuf,
    model: PathBuf,
    model_bytes: Vec<u8>,
}

fn scratch() -> &'static Scratch {
    static S: OnceLock<Scratch> = OnceLock::new();
    S.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("recur-fuzz-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch folder");
        std::fs::write(
            dir.join("text.txt"),
            "the cat sat\nthe dog sat <unk>\n".repeat(30),
        )
        .expect("text");
        std::fs::write(dir.join("binary.txt"), b"ok \xff\xfe\n").expect("binary");
        let model = dir.join("model.safetensors");
        let text = dir.join("text.txt");
        recur::cli::try_run([
            "recur",
            "train",
            "--corpus",
            text.to_str().unwrap(),
            "--batch",
            "2",
            "--time",
            "3",
            "--wordvec",
            "3",
            "--hidden",
            "4",
            "--windows",
            "2",
            "--quiet",
            "--threads",
            "1",
            "--save",
            model.to_str().unwrap(),
        ])
        .expect("the scratch model trains");
        let model_bytes = std::fs::read(&model).expect("model bytes");
        Scratch {
            dir,
            model,
            model_bytes,
        }
    })
}

fn path(p: PathArg) -> String {
    let s = scratch();
    let out = match p {
        PathArg::Model => s.model.clone(),
        PathArg::Text => s.dir.join("text.txt"),
        PathArg::Binary => s.dir.join("binary.txt"),
        PathArg::Missing => s.dir.join("missing.txt"),
        PathArg::NoFolder => s.dir.join("no-such-folder").join("x.txt"),
        PathArg::Folder => s.dir.clone(),
        PathArg::DevNull => PathBuf::from("/dev/null"),
        PathArg::DevZero => PathBuf::from("/dev/zero"),
        PathArg::Out(ext) => s.dir.join(match ext {
            Ext::Safetensors => "out.safetensors",
            Ext::Svg => "out.svg",
            Ext::Png => "out.png",
            Ext::Csv => "out.csv",
            Ext::Pdf => "out.pdf",
            Ext::None => "out",
        }),
    };
    out.to_str().expect("UTF-8 scratch path").to_string()
}

/// A text to read: as [`path`], but `/dev/zero` becomes `/dev/null` (a corpus read from
/// `/dev/zero` is refused only after 1 GiB, which `tests/cli.rs` checks once; here it
/// would only slow the fuzzer down).
fn text_path(p: PathArg) -> String {
    match p {
        PathArg::DevZero => path(PathArg::DevNull),
        other => path(other),
    }
}

/// An output path: the scratch inputs are never overwritten by a fuzzed run (the model's
/// bytes are the reference of the "nothing is lost" check, and a text replaced by a model
/// would change what later inputs read), so they map to output files that exist once a
/// run has written them.
fn out_path(p: PathArg) -> String {
    match p {
        PathArg::Model => path(PathArg::Out(Ext::Safetensors)),
        PathArg::Text | PathArg::Binary => path(PathArg::Out(Ext::None)),
        other => path(other),
    }
}

fn num(n: &Num, cap: u64) -> String {
    match n {
        Num::Small(v) => v.to_string(),
        Num::Int(v) => v.to_string(),
        Num::Float(v) => {
            // A float that parses as a huge budget is capped like an integer would be.
            if v.is_finite() && *v > cap as f64 {
                cap.to_string()
            } else {
                v.to_string()
            }
        }
        Num::Text(s) => s.chars().take(24).collect(),
    }
}

/// A budget option's value, at most `cap` when it is a number.
fn budget(n: &Num, cap: u64) -> String {
    match n {
        Num::Int(v) if *v > cap => (v % (cap + 1)).to_string(),
        _ => num(n, cap),
    }
}

fuzz_target!(|input: Input| {
    let s = scratch();
    let mut args: Vec<String> = vec!["recur".into()];
    let mut saves: Vec<String> = Vec::new();
    match &input {
        Input::Train(opts) => {
            args.push("train".into());
            // A small model and window unless the input says otherwise (a repeated option's
            // last value wins, and the fuzzed ones come after): the command's defaults
            // (D = H = 100, 20 x 35 windows) would cost a tenth of a second per input.
            for (flag, v) in [
                ("--wordvec", "8"),
                ("--hidden", "8"),
                ("--batch", "4"),
                ("--time", "4"),
            ] {
                args.extend([flag.into(), v.into()]);
            }
            let mut has_corpus = false;
            for opt in opts.iter().take(24) {
                let (flag, value) = match opt {
                    Opt::Tokens(n) => ("--tokens", budget(n, 400)),
                    Opt::Batch(n) => ("--batch", budget(n, 8)),
                    Opt::Time(n) => ("--time", budget(n, 8)),
                    Opt::Wordvec(n) => ("--wordvec", num(n, 16)),
                    Opt::Hidden(n) => ("--hidden", num(n, 16)),
                    Opt::Lr(n) => ("--lr", num(n, u64::MAX)),
                    Opt::MaxGrad(n) => ("--max-grad", num(n, u64::MAX)),
                    Opt::Epochs(n) => ("--epochs", num(n, u64::MAX)),
                    Opt::Windows(n) => ("--windows", budget(n, 2)),
                    Opt::Warmup(n) => ("--warmup", num(n, u64::MAX)),
                    Opt::Seed(n) => ("--seed", num(n, u64::MAX)),
                    Opt::Threads(t) => ("--threads", (t % 3).to_string()),
                    Opt::Optimizer(sgd) => {
                        ("--optimizer", if *sgd { "sgd" } else { "adam" }.into())
                    }
                    Opt::F64 => ("--f64", String::new()),
                    Opt::Corpus(p) => {
                        has_corpus = true;
                        ("--corpus", text_path(*p))
                    }
                    Opt::Test(p) => ("--test", text_path(*p)),
                    Opt::Init(p) => ("--init", path(*p)),
                    Opt::Save(p) => {
                        let p = out_path(*p);
                        saves.push(p.clone());
                        ("--save", p)
                    }
                    Opt::Metrics(p) => ("--metrics", out_path(*p)),
                    Opt::Plot(p) => ("--plot", out_path(*p)),
                };
                args.push(flag.into());
                if !value.is_empty() {
                    args.push(value);
                }
            }
            // The budget, last so that it wins over any fuzzed value of the same option
            // (the last of a repeated option wins): a few windows, a small model.
            args.extend(["--quiet".into(), "--windows".into(), "2".into()]);
            if !has_corpus {
                args.extend(["--tokens".into(), "400".into()]);
            }
            for (flag, cap) in [
                ("--wordvec", 16u64),
                ("--hidden", 16),
                ("--batch", 8),
                ("--time", 8),
            ] {
                // Keep fuzzed sizes (including 0, and from 2³² up, which the command refuses
                // for want of memory), but never a large model: seconds per window, or more
                // memory than the fuzzer allows.
                let last = args.iter().rposition(|a| a == flag);
                if let Some(i) = last {
                    if args
                        .get(i + 1)
                        .and_then(|v| v.parse::<u64>().ok())
                        .is_some_and(|v| v > cap && v < 1 << 32)
                    {
                        args[i + 1] = cap.to_string();
                    }
                }
            }
        }
        Input::Eval {
            model,
            corpus,
            tokens,
            batch,
            time,
            f64,
        } => {
            args.extend([
                "eval".into(),
                "--model".into(),
                path(*model),
                "--corpus".into(),
                text_path(*corpus),
            ]);
            for (flag, n, cap) in [
                ("--tokens", tokens, 600u64),
                ("--batch", batch, 16),
                ("--time", time, 16),
            ] {
                if let Some(n) = n {
                    args.extend([flag.into(), budget(n, cap)]);
                }
            }
            if *f64 {
                args.push("--f64".into());
            }
        }
        Input::Generate {
            model,
            prompt,
            words,
            temperature,
            seed,
        } => {
            args.extend([
                "generate".into(),
                "--model".into(),
                path(*model),
                "--prompt".into(),
                prompt.chars().take(64).collect(),
                "--words".into(),
                (words % 32).to_string(),
                "--temperature".into(),
                num(temperature, u64::MAX),
                "--seed".into(),
                num(seed, u64::MAX),
            ]);
        }
    }
    // The bytes of a save path that is a regular file (`/dev/zero` would never end).
    let read_file = |p: &String| {
        std::fs::symlink_metadata(p)
            .is_ok_and(|m| m.is_file())
            .then(|| std::fs::read(p).ok())
            .flatten()
    };
    let before: Vec<Option<Vec<u8>>> = saves.iter().map(read_file).collect();
    let result = recur::cli::try_run(&args);
    match result {
        Ok(()) => {
            // The model the command saved (to the last --save, which wins) loads again,
            // with finite weights.
            if let Some(bytes) = saves.last().and_then(read_file) {
                model_file::from_bytes::<f64>(&bytes).expect("a saved model loads");
            }
        }
        Err(_) => {
            // A failed run loses nothing: every model it was to save is as it was.
            for (p, old) in saves.iter().zip(&before) {
                assert_eq!(&read_file(p), old, "{p} changed by a failed run: {args:?}");
            }
        }
    }
    assert_eq!(
        std::fs::read(&s.model).expect("the scratch model"),
        s.model_bytes
    );
    // The devices the command was given are still devices: a file renamed over
    // `/dev/null` (which root may do) would be lost for every program on the machine.
    for dev in ["/dev/null", "/dev/zero"] {
        use std::os::unix::fs::FileTypeExt;
        let kind = std::fs::symlink_metadata(dev).map(|m| m.file_type());
        assert!(
            kind.is_ok_and(|k| k.is_char_device()),
            "{dev} is no longer a character device after {args:?}"
        );
    }
});
