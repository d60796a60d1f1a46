//! The `recur` command: trains an RNN language model (the default), evaluates or samples
//! from a saved one, checks gradients, runs the lecture's example, or prints a quick
//! speed table. The arguments are in `cli/mod.rs`, each subcommand in its own module of
//! `cli/`; the work is the library's.

#![forbid(unsafe_code)]

mod cli;

use clap::Parser;
use cli::{Cli, Command, TrainArgs};
use std::process::ExitCode;

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        None => cli::train::run(&TrainArgs::default()),
        Some(Command::Train(args)) => cli::train::run(&args),
        Some(Command::Eval(args)) => cli::eval::run(&args),
        Some(Command::Generate(args)) => cli::generate::run(&args),
        Some(Command::Gradcheck(args)) => cli::gradcheck::run(&args),
        Some(Command::Bench(args)) => cli::bench::run(&args),
        Some(Command::Seed) => cli::seed::run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
