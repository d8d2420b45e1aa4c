//! `ringmaster pcmo check --json` (the binary) says of every fixture in pcmo/tests/data what
//! `pcmo::check` says: the same verdict, error codes and paths. `engine/tests/script_agreement.rs`
//! shows the engine's script start agrees with `pcmo::check`, so the three agree.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_ringmaster");

fn fixtures() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for kind in ["good", "bad"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("pcmo/tests/data")
            .join(kind);
        for e in std::fs::read_dir(&dir).expect("fixture directory") {
            let p = e.expect("entry").path();
            if p.extension().is_some_and(|x| x == "json") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

fn codes(errors: &Value) -> Vec<(String, String)> {
    errors
        .as_array()
        .expect("errors array")
        .iter()
        .map(|e| {
            (
                e["code"].as_str().unwrap().to_string(),
                e["path"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_cli_check_agrees_with_the_library_on_every_fixture() {
    let files = fixtures();
    assert!(files.len() >= 65, "{} fixtures", files.len());
    let out = Command::new(BIN)
        .args(["pcmo", "check", "--json"])
        .args(&files)
        .output()
        .expect("run ringmaster pcmo check");
    assert_eq!(out.status.code(), Some(1), "some fixtures are bad: exit 1");
    let text = String::from_utf8(out.stdout).unwrap();
    let reports: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON report per line"))
        .collect();
    assert_eq!(reports.len(), files.len());
    for (file, cli) in files.iter().zip(&reports) {
        assert_eq!(cli["file"], file.display().to_string());
        let lib =
            serde_json::to_value(pcmo::check(&std::fs::read_to_string(file).unwrap())).unwrap();
        assert_eq!(cli["ok"], lib["ok"], "{}", file.display());
        assert_eq!(
            codes(&cli["errors"]),
            codes(&lib["errors"]),
            "{}",
            file.display()
        );
        let good = file.parent().unwrap().ends_with("good");
        assert_eq!(cli["ok"], good, "{}: {cli}", file.display());
    }
    let agents = reports
        .iter()
        .find(|r| {
            r["file"]
                .as_str()
                .unwrap()
                .ends_with("bad/v3_connect_agents.json")
        })
        .expect("the agent fixture");
    assert_eq!(codes(&agents["errors"])[0].0, "agent_unsupported");
}
