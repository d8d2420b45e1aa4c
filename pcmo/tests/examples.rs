//! The example scripts in `examples/pcmo/` are valid without a single warning, and `explain`
//! describes each exactly as its snapshot in `tests/data/explain/` says. After a deliberate
//! wording change, regenerate the snapshots with `PCMO_UPDATE_SNAPSHOTS=1 cargo test -p pcmo`.

use std::path::{Path, PathBuf};

use pcmo::{check, explain, Script};

fn examples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/pcmo");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("examples/pcmo exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_required_examples_exist() {
    let names: Vec<String> = examples()
        .iter()
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    for required in [
        "single-ring",
        "group-ring-timeout-loop",
        "sequential-v3-pipeline",
        "bridge-to-number",
        "ivr-play-get-input",
    ] {
        assert!(
            names.iter().any(|n| n == required),
            "examples/pcmo/{required}.json is missing"
        );
    }
}

#[test]
fn examples_check_clean() {
    for file in examples() {
        let text = std::fs::read_to_string(&file).expect("readable example");
        let report = check(&text);
        assert!(
            report.is_ok() && report.warnings.is_empty(),
            "{}:\n{report}",
            file.display()
        );
        assert_eq!(report.to_string(), "0 errors, 0 warnings");
    }
}

#[test]
fn examples_explain_as_snapshotted() {
    let snapshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/explain");
    let update = std::env::var_os("PCMO_UPDATE_SNAPSHOTS").is_some();
    for file in examples() {
        let text = std::fs::read_to_string(&file).expect("readable example");
        let script = Script::parse(&text).expect("valid example");
        let described = explain(&script);
        let name = file
            .file_stem()
            .expect("a file name")
            .to_string_lossy()
            .into_owned();
        let snapshot = snapshots.join(format!("{name}.txt"));
        if update {
            std::fs::write(&snapshot, &described).expect("writable snapshot");
            continue;
        }
        let expected = std::fs::read_to_string(&snapshot).unwrap_or_else(|_| {
            panic!(
                "no snapshot {}; run with PCMO_UPDATE_SNAPSHOTS=1",
                snapshot.display()
            )
        });
        assert_eq!(described, expected, "explain of {} changed", file.display());
    }
}
