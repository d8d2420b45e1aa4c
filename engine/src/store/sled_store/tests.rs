//! Tests of the sled backend in this process: conformance, persistence, refusals on open.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::*;
use crate::store::conformance;
use crate::store::GroupCommit;

/// Every file and directory under `dir` with its full contents: two snapshots are equal only if
/// nothing was created, removed or changed.
pub(super) fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut found = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta = fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            for entry in fs::read_dir(&path).unwrap() {
                pending.push(entry.unwrap().path());
            }
            found.insert(path, None);
        } else {
            found.insert(path.clone(), Some(fs::read(&path).unwrap()));
        }
    }
    found
}

/// A store with the conformance seed, flushed and closed.
pub(super) fn seeded_store(dir: &Path) {
    let store = SledStore::open(dir).unwrap();
    conformance::seed(&store);
    store.flush().unwrap();
}

#[test]
fn conformance() {
    let dir = tempfile::tempdir().unwrap();
    conformance::run(&SledStore::open(&dir.path().join("store")).unwrap());
}

#[test]
fn concurrent_inserts_conflict() {
    let dir = tempfile::tempdir().unwrap();
    conformance::concurrent_inserts(Arc::new(SledStore::open(dir.path()).unwrap()));
}

#[test]
fn bindings_never_outlive_their_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    conformance::bindings_race_deletes(Arc::new(SledStore::open(dir.path()).unwrap()));
}

#[test]
fn concurrent_cdr_inserts_store_one() {
    let dir = tempfile::tempdir().unwrap();
    conformance::calls::concurrent_cdr_inserts(Arc::new(SledStore::open(dir.path()).unwrap()));
}

#[test]
fn records_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    seeded_store(dir.path());
    let store = SledStore::open(dir.path()).unwrap();
    let (page, total) = store.endpoints_of_app(AppId(1), 0, 10).unwrap();
    let names: Vec<_> = page.iter().map(|e| e.username.as_str()).collect();
    assert_eq!((names, total), (vec!["alice", "bob", "carol"], 3));
    let all = store.all_bindings().unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].0, Aor::new("alice", "seed.example"));
    assert_eq!(all[0].1[0].expires_at, 1_700_003_600);
}

#[test]
fn a_new_store_gets_a_marker_and_an_existing_one_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a").join("store");
    drop(SledStore::open(&path).unwrap());
    let marker = fs::read(path.join(MARKER_FILE)).unwrap();
    let marker: serde_json::Value = serde_json::from_slice(&marker).unwrap();
    assert_eq!(marker["format"], FORMAT_VERSION);
    assert!(!path.join(format!("{MARKER_FILE}.tmp")).exists());
    drop(SledStore::open(&path).unwrap());
}

#[test]
fn a_second_open_in_the_same_process_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let first = SledStore::open(dir.path()).unwrap();
    conformance::seed(&first);
    match SledStore::open(dir.path()) {
        Err(StoreError::Locked { path }) => assert_eq!(path, dir.path().display().to_string()),
        other => panic!("expected Locked, got {other:?}"),
    }
    // The refused open did not disturb the first handle.
    assert_eq!(first.endpoints_of_app(AppId(1), 0, 10).unwrap().1, 3);
    first.flush().unwrap();
    drop(first);
    assert!(
        SledStore::open(dir.path()).is_ok(),
        "free again once closed"
    );
}

#[test]
fn a_file_in_place_of_the_directory_is_refused_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("store");
    fs::write(&file, b"not a store").unwrap();
    match SledStore::open(&file) {
        Err(StoreError::Open { source, .. }) => {
            assert_eq!(source.kind(), io::ErrorKind::NotADirectory)
        }
        other => panic!("expected Open, got {other:?}"),
    }
    assert_eq!(fs::read(&file).unwrap(), b"not a store");
}

#[test]
fn a_foreign_directory_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("admin.token"), b"t0ken").unwrap();
    let before = snapshot(dir.path());
    let err = SledStore::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::NotAStore { .. }), "{err:?}");
    assert!(err.to_string().contains(MARKER_FILE), "{err}");
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn a_store_of_a_newer_format_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    seeded_store(dir.path());
    let marker = format!(
        r#"{{"format":{},"backend":"sled-0.34"}}"#,
        FORMAT_VERSION + 1
    );
    fs::write(dir.path().join(MARKER_FILE), marker).unwrap();
    let before = snapshot(dir.path());
    match SledStore::open(dir.path()) {
        Err(
            e @ StoreError::FormatVersion {
                found, supported, ..
            },
        ) => {
            assert_eq!(
                (found, supported),
                (Some(FORMAT_VERSION + 1), FORMAT_VERSION)
            );
            assert!(e.to_string().contains("format version 2"), "{e}");
        }
        other => panic!("expected FormatVersion, got {other:?}"),
    }
    assert_eq!(snapshot(dir.path()), before, "not a byte changed");

    fs::write(dir.path().join(MARKER_FILE), b"{garbled").unwrap();
    assert!(matches!(
        SledStore::open(dir.path()),
        Err(StoreError::FormatVersion { found: None, .. })
    ));
}

#[test]
fn a_record_that_does_not_decode_is_reported_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    conformance::seed(&store);
    store
        .endpoints
        .insert(key::endpoint("seed.example", "bob").unwrap(), &b"{oops"[..])
        .unwrap();
    match store.endpoint("seed.example", "bob") {
        Err(StoreError::Corrupt { key, .. }) => assert_eq!(key, "seed.example\\x00bob"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert!(matches!(
        store.endpoints_of_app(AppId(1), 0, 10),
        Err(StoreError::Corrupt { .. })
    ));
    assert!(matches!(
        store.delete_endpoint("seed.example", "bob"),
        Err(StoreError::Corrupt { .. })
    ));
}

#[test]
fn debug_shows_the_path_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    conformance::seed(&store);
    let shown = format!("{store:?}");
    assert!(shown.starts_with("SledStore { path:"), "{shown}");
    assert!(!shown.contains(conformance::HA1_MARK));
}

#[tokio::test]
async fn group_commit_on_sled_then_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SledStore::open(dir.path()).unwrap());
    let commit = GroupCommit::start(store.clone()).unwrap();
    conformance::seed(store.as_ref());
    commit.sync().await.unwrap();
    drop(commit);
    drop(store);
    let reopened = SledStore::open(dir.path()).unwrap();
    assert_eq!(reopened.endpoints_of_app(AppId(1), 0, 10).unwrap().1, 3);
}

#[test]
fn routing_cdrs_and_deliveries_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SledStore::open(dir.path()).unwrap();
        conformance::seed(&store);
        store
            .insert_trunk(&conformance::trunk("carrier", &["192.0.2.1"]))
            .unwrap();
        store
            .insert_number(&Number {
                number: "14155550100".into(),
                app: AppId(1),
                created_at: 1,
                name: None,
            })
            .unwrap();
        let hook = conformance::delivery(7, Some("call-1"));
        store
            .insert_cdr(&conformance::cdr(1, "call-1", "a", 1_000), Some(&hook))
            .unwrap();
        store.flush().unwrap();
    }
    let store = SledStore::open(dir.path()).unwrap();
    assert_eq!(
        store.trunk("carrier").unwrap().unwrap().allow_ips,
        ["192.0.2.1".parse::<std::net::IpAddr>().unwrap()]
    );
    assert_eq!(store.numbers(Some(AppId(1))).unwrap().len(), 1);
    assert_eq!(store.cdrs(Some(AppId(1)), 10, None).unwrap().len(), 1);
    assert_eq!(
        store.deliveries().unwrap(),
        [conformance::delivery(7, Some("call-1"))]
    );
}
