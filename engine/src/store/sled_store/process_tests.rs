//! Tests that need a second process: a store held by another process, a process killed with
//! SIGKILL after a flush, and a read-only directory opened by an unprivileged user.
//!
//! The second process is this test binary again, running only the ignored test [`child`], told
//! what to do through environment variables.

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::tests::{seeded_store, snapshot};
use super::*;
use crate::store::conformance;

const MODE: &str = "RINGMASTER_STORE_CHILD";
const DIRS: &str = "RINGMASTER_STORE_DIRS";
const READY: &str = "CHILD-READY";
const OK: &str = "CHILD-OK";
/// The uid the read-only test drops to when it runs as root (root ignores file modes).
const NOBODY: u32 = 65534;

/// The test binary, told to run only [`child`] in `mode` on `dirs`.
fn child_command(exe: &Path, mode: &str, dirs: &[&Path]) -> Command {
    let dirs: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    let mut command = Command::new(exe);
    command
        .args([
            "--exact",
            "store::sled_store::process_tests::child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(MODE, mode)
        .env(DIRS, dirs.join("\n"))
        .stdout(Stdio::piped());
    command
}

/// The child's half of every test here. Does nothing (and so passes) unless a parent test
/// started it: it only has a job when `RINGMASTER_STORE_CHILD` is set.
#[test]
#[ignore = "a child process of the other tests in this module"]
fn child() {
    let Ok(mode) = std::env::var(MODE) else {
        return;
    };
    let dirs: Vec<PathBuf> = std::env::var(DIRS)
        .unwrap()
        .lines()
        .map(PathBuf::from)
        .collect();
    match mode.as_str() {
        "write-flush-hang" => {
            let store = SledStore::open(&dirs[0]).unwrap();
            conformance::seed(&store);
            store.flush().unwrap();
            println!("{READY}");
            // Hold the store open until the parent kills us.
            loop {
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        }
        "open-read-only" => {
            for dir in &dirs {
                match SledStore::open(dir) {
                    Err(StoreError::Open { source, .. }) => {
                        assert_eq!(source.kind(), std::io::ErrorKind::PermissionDenied);
                    }
                    other => panic!("expected Open(PermissionDenied) for {dir:?}, got {other:?}"),
                }
            }
            println!("{OK}");
        }
        other => panic!("unknown child mode {other}"),
    }
}

#[test]
fn flushed_writes_survive_sigkill_and_a_live_holder_locks_others_out() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    let exe = std::env::current_exe().unwrap();
    let mut child = child_command(&exe, "write-flush-hang", &[&store_dir])
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let ready = stdout
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains(READY)); // libtest may print its "test ... " prefix on the same line
    assert!(ready, "the child did not get to its flush");

    let held = SledStore::open(&store_dir);
    assert!(
        matches!(held, Err(StoreError::Locked { .. })),
        "another process holds it: {held:?}"
    );
    child.kill().unwrap(); // SIGKILL: no destructor, no final flush.
    child.wait().unwrap();

    let store = SledStore::open(&store_dir).unwrap();
    assert_eq!(
        store.endpoint("seed.example", "bob").unwrap(),
        Some(conformance::endpoint(1, "seed.example", "bob"))
    );
    assert_eq!(store.endpoints_of_app(AppId(1), 0, 10).unwrap().1, 3);
    assert_eq!(
        store
            .bindings(&Aor::new("alice", "seed.example"))
            .unwrap()
            .len(),
        1
    );
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// Makes `dir` and everything under it read-only (directories stay searchable).
fn make_read_only(dir: &Path) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            make_read_only(&path);
        } else {
            set_mode(&path, 0o444);
        }
    }
    set_mode(dir, 0o555);
}

#[test]
fn a_read_only_directory_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    set_mode(dir.path(), 0o755);
    let existing = dir.path().join("existing");
    seeded_store(&existing);
    let empty = dir.path().join("empty");
    fs::create_dir(&empty).unwrap();
    make_read_only(&existing);
    make_read_only(&empty);
    let before = (snapshot(&existing), snapshot(&empty));

    let root = fs::metadata("/proc/self").unwrap().uid() == 0;
    if root {
        // Root writes through any file mode, so ask an unprivileged user. It runs a copy of
        // this binary, because the build directory may not be readable for it.
        let exe = dir.path().join("child-exe");
        fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
        set_mode(&exe, 0o755);
        let output = child_command(&exe, "open-read-only", &[&existing, &empty])
            .uid(NOBODY)
            .gid(NOBODY)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success() && stdout.contains(OK), "{stdout}");
    } else {
        for path in [&existing, &empty] {
            match SledStore::open(path) {
                Err(StoreError::Open { source, .. }) => {
                    assert_eq!(source.kind(), std::io::ErrorKind::PermissionDenied)
                }
                other => panic!("expected Open(PermissionDenied), got {other:?}"),
            }
        }
    }
    assert_eq!((snapshot(&existing), snapshot(&empty)), before);
    // Let the temporary directory be removed.
    set_mode(&existing, 0o755);
    set_mode(&empty, 0o755);
}
