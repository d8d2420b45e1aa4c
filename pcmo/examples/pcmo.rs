//! `cargo run -p pcmo --example pcmo -- check|explain FILE...`: the library side of
//! `ringmaster pcmo check` / `explain`, runnable before the binary wires them in.
//!
//! `check` prints the report and exits 1 if any file has errors; `explain` prints the plain
//! words description, or the report if the script is invalid.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, files)) = args.split_first() else {
        eprintln!("usage: pcmo check|explain FILE...");
        return ExitCode::from(2);
    };
    let mut failed = false;
    for file in files {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) => {
                eprintln!("{file}: {e}");
                failed = true;
                continue;
            }
        };
        match command.as_str() {
            "check" => {
                let report = pcmo::check(&text);
                println!("{file}:\n{report}");
                failed |= !report.is_ok();
            }
            "explain" => match pcmo::Script::parse(&text) {
                Ok(script) => println!("{file}:\n{}", pcmo::explain(&script)),
                Err(report) => {
                    println!("{file}:\n{report}");
                    failed = true;
                }
            },
            other => {
                eprintln!("unknown command {other:?}; use check or explain");
                return ExitCode::from(2);
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
