//! The `recur` command: trains an RNN language model (the default), evaluates or samples
//! from a saved one, checks gradients, runs the lecture's example, or prints a quick
//! speed table. It lives in the library (`recur::cli`, arguments in `src/cli/mod.rs`, one
//! module per subcommand), so that tests and the fuzz target run the same code.

#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    recur::cli::main()
}
