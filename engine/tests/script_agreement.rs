//! `pcmo check` (the CLI's check path, `pcmo::check`) and the engine's script start agree on
//! every fixture in pcmo/tests/data: a script the check calls valid starts in the engine, and a
//! script it refuses is refused by the engine (503 to the caller) with the very same error
//! codes and JSON paths in the app's error events. `agent` targets are the case in point: the
//! check refuses them, so the engine never gets as far as a run-time 404.

mod common;

use std::path::{Path, PathBuf};

use common::call_rig::Rig;
use engine::call::report::Report;

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../pcmo/tests/data")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixture directory exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

/// What the offline check says: the errors, as (code, path).
fn checked(text: &str) -> Vec<(String, String)> {
    let report = pcmo::check(text);
    report
        .errors
        .iter()
        .map(|e| (e.code().as_str().to_string(), e.path.to_string()))
        .collect()
}

/// What the engine does with the same script as an answer URL's body: whether it refused
/// the script (the caller gets a 503 with cause answer-url-failed) and the validation errors
/// it reported to the app, as (code, path).
fn started(text: &str) -> (bool, Vec<(String, String)>) {
    let mut rig = Rig::inbound(&[("bob", &[1]), ("alice", &[2])], None);
    rig.answer_url(text);
    let validation: Vec<&str> = pcmo::ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    let errors = rig
        .reports
        .iter()
        .filter_map(|r| match r {
            Report::ScriptError { code, path, .. } if validation.contains(&code.as_str()) => {
                Some((code.clone(), path.clone()))
            }
            _ => None,
        })
        .collect();
    let refused = rig.sip().contains(&"A<-503")
        && rig
            .log
            .iter()
            .any(|l| l.starts_with("cdr A") && l.ends_with("answer-url-failed"));
    (refused, errors)
}

#[test]
fn every_good_fixture_is_valid_for_both() {
    let files = fixtures("good");
    assert!(
        files.len() >= 15,
        "found only {} good fixtures",
        files.len()
    );
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable fixture");
        assert_eq!(checked(&text), Vec::new(), "{}: check", file.display());
        let (refused, errors) = started(&text);
        assert!(!refused, "{}: the engine refused it", file.display());
        assert_eq!(errors, Vec::new(), "{}: engine errors", file.display());
    }
}

#[test]
fn every_bad_fixture_is_refused_by_both_with_the_same_errors() {
    let files = fixtures("bad");
    assert!(files.len() >= 50, "found only {} bad fixtures", files.len());
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable fixture");
        let check = checked(&text);
        assert!(
            !check.is_empty(),
            "{}: check found no error",
            file.display()
        );
        let (refused, errors) = started(&text);
        assert!(refused, "{}: the engine started it", file.display());
        assert_eq!(errors, check, "{}: engine vs check", file.display());
    }
}

#[test]
fn an_agent_target_is_refused_by_both_with_agent_unsupported() {
    let text = r#"[{"action": "connect", "params": {"caller_id": "919999999999"},
        "endpoints": [{"type": "sip", "user": "bob"},
                      {"type": "agent", "id": "bdd32bcb-767c-40a5-be4a-5f45eeb348a6"}]}]"#;
    let want = vec![(
        "agent_unsupported".to_string(),
        "/0/endpoints/1/type".to_string(),
    )];
    assert_eq!(checked(text), want);
    let (refused, errors) = started(text);
    assert!(
        refused,
        "the engine must refuse it up front, not ring and 404"
    );
    assert_eq!(errors, want);
}
