//! `ringmaster`: the server and the operator's command line.
//!
//! `ringmaster serve` runs the engine; the other commands are clients of a running server's
//! admin API (only one process may open the store), except `pcmo`, which works offline.

mod cli;

use clap::Parser;

/// mimalloc instead of glibc malloc: the SIP and call paths allocate many small short-lived
/// buffers. Measured in the same REGISTER benchmark: 6,000/s took 65% CPU with glibc and 50%
/// with mimalloc, and glibc's run collapsed at 10,000/s where mimalloc's held 10,759/s. The
/// price (with huge pages off, below): ~24 MiB more idle RSS; per held call 38.7 KiB against
/// glibc's 38.1 (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<std::process::ExitCode> {
    // mimalloc asks for transparent huge pages and returns freed memory after 10 ms; together
    // they made the SIP thread zero fresh 2 MiB pages over and over (8% of its time in the
    // calls benchmark). 4 KiB pages cost less to fault in and keep RSS closer to use.
    #[cfg(target_os = "linux")]
    let _ = nix::sys::prctl::set_thp_disable(true);
    let args = cli::Args::parse();
    cli::run(args)
}
