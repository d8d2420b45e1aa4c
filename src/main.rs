//! `ringmaster`: the server and the operator's command line.
//!
//! `ringmaster serve` runs the engine; the other commands are clients of a running server's
//! admin API (only one process may open the store), except `pcmo`, which works offline.

mod cli;

use clap::Parser;

/// mimalloc instead of glibc malloc: the SIP and call paths allocate many small short-lived
/// buffers, and under the REGISTER benchmark glibc's malloc/free took ~12% of the SIP thread.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<std::process::ExitCode> {
    let args = cli::Args::parse();
    cli::run(args)
}
