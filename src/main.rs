//! `ringmaster`: the server and the operator's command line.
//!
//! `ringmaster serve` runs the engine; the other commands are clients of a running server's
//! admin API (only one process may open the store), except `pcmo`, which works offline.

mod cli;

use clap::Parser;

fn main() -> anyhow::Result<std::process::ExitCode> {
    let args = cli::Args::parse();
    cli::run(args)
}
