//! `ringmaster pcmo check|explain FILE...`: offline tools for app owners.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum PcmoCommand {
    /// Validate scripts; print every error and warning (exit 1 if any script has errors).
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// One JSON report per file, one per line.
        #[arg(long)]
        json: bool,
    },
    /// Say in plain words what scripts will do (exit 1 if a script is invalid).
    Explain {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

pub fn run(cmd: PcmoCommand) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    match cmd {
        PcmoCommand::Check { files, json } => {
            for f in files {
                let text = read(&f, &mut failed);
                let Some(text) = text else { continue };
                let report = pcmo::check(&text);
                failed |= !report.is_ok();
                if json {
                    let mut v = serde_json::to_value(&report)?;
                    v["file"] = serde_json::Value::String(f.display().to_string());
                    println!("{v}");
                } else {
                    println!("{}:\n{report}", f.display());
                }
            }
        }
        PcmoCommand::Explain { files } => {
            for f in files {
                let Some(text) = read(&f, &mut failed) else {
                    continue;
                };
                match pcmo::Script::parse(&text) {
                    Ok(script) => println!("{}:\n{}", f.display(), pcmo::explain(&script)),
                    Err(report) => {
                        println!("{}:\n{report}", f.display());
                        failed = true;
                    }
                }
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn read(f: &PathBuf, failed: &mut bool) -> Option<String> {
    match std::fs::read_to_string(f) {
        Ok(t) => Some(t),
        Err(e) => {
            eprintln!("{}: {e}", f.display());
            *failed = true;
            None
        }
    }
}
