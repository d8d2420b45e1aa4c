//! Golden interpreter runs: every `tests/golden/*.golden` file is a script, a list of events
//! and the exact commands each event must produce (format in `common/mod.rs`).

mod common;

use std::path::PathBuf;

#[test]
fn golden_runs() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/golden exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "golden"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 20,
        "expected the full golden suite, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable golden file");
        if let Err(why) = common::run_golden(&text) {
            failures.push(format!("{}: {why}", file.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden run(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
