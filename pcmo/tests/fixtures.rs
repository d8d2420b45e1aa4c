//! Script fixtures: every `tests/data/good/*.json` parses (with exactly the warnings in its
//! `.expect` file, if any; none otherwise), and every `tests/data/bad/*.json` gives exactly
//! the errors listed in its `.expect` file, one `code path` per line (`""` is the root).

use std::path::{Path, PathBuf};

use pcmo::{check, Script};

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixture directory exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

/// Reads `NAME.expect` next to `NAME.json`: lines of `[warning] code path`.
fn expectations(json: &Path, prefix: Option<&str>) -> Vec<(String, String)> {
    let Ok(text) = std::fs::read_to_string(json.with_extension("expect")) else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|line| {
            let line = match prefix {
                Some(p) => line
                    .strip_prefix(p)
                    .unwrap_or_else(|| panic!("{}: expected `{p}` lines", json.display()))
                    .trim(),
                None => line.trim(),
            };
            let (code, path) = line
                .split_once(' ')
                .unwrap_or_else(|| panic!("{}: bad line {line:?}", json.display()));
            let path = if path == "\"\"" {
                String::new()
            } else {
                path.to_string()
            };
            (code.to_string(), path)
        })
        .collect()
}

#[test]
fn good_fixtures_parse() {
    let files = fixtures("good");
    assert!(
        files.len() >= 15,
        "found only {} good fixtures",
        files.len()
    );
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable fixture");
        let script = Script::parse(&text)
            .unwrap_or_else(|r| panic!("{} should be valid:\n{r}", file.display()));
        assert!(!script.is_empty());
        let warnings: Vec<(String, String)> = script
            .warnings()
            .iter()
            .map(|w| (w.code().as_str().to_string(), w.path.to_string()))
            .collect();
        assert_eq!(
            warnings,
            expectations(&file, Some("warning")),
            "{}: warnings",
            file.display()
        );
    }
}

#[test]
fn bad_fixtures_give_exactly_their_errors() {
    let files = fixtures("bad");
    assert!(files.len() >= 50, "found only {} bad fixtures", files.len());
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable fixture");
        let expected = expectations(&file, None);
        assert!(!expected.is_empty(), "{}: missing .expect", file.display());
        let report = check(&text);
        let actual: Vec<(String, String)> = report
            .errors
            .iter()
            .map(|e| (e.code().as_str().to_string(), e.path.to_string()))
            .collect();
        assert_eq!(actual, expected, "{}:\n{report}", file.display());
    }
}

#[test]
fn every_error_code_has_a_bad_fixture() {
    let mut seen = std::collections::HashSet::new();
    for file in fixtures("bad") {
        for (code, _) in expectations(&file, None) {
            seen.insert(code);
        }
    }
    // too_large needs a 256 KiB file; the unit tests in script.rs cover it.
    for code in pcmo::ErrorCode::ALL
        .iter()
        .filter(|c| c.as_str() != "too_large")
    {
        assert!(
            seen.contains(code.as_str()),
            "no bad fixture shows `{code}`"
        );
    }
}
