//! The PostgreSQL store against a real PostgreSQL (Debian's server binaries, started by
//! `scripts/pg` as the postgres user in a temporary directory, on 127.0.0.1, stopped by PID).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::PgStore;
use crate::store::{conformance, AppId, Store, StoreError};

/// A PostgreSQL server of one test.
pub(crate) struct TestDb {
    dir: tempfile::TempDir,
    port: u16,
    pub url: String,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/pg")
}

impl TestDb {
    pub fn start() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            l.local_addr().expect("its address").port()
        };
        let out = Command::new(script())
            .args(["start"])
            .arg(dir.path().join("pg"))
            .arg(port.to_string())
            .output()
            .expect("run scripts/pg");
        assert!(
            out.status.success(),
            "scripts/pg start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
        TestDb { dir, port, url }
    }

    fn pg(&self, args: &[&str]) {
        let ok = Command::new(script())
            .arg(args[0])
            .arg(self.dir.path().join("pg"))
            .args(&args[1..])
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(ok, "scripts/pg {args:?}");
    }

    pub fn stop(&self) {
        self.pg(&["stop", "immediate"]);
    }

    pub fn restart(&self) {
        self.pg(&["start", &self.port.to_string()]);
    }

    /// One SQL statement as the superuser, over the socket.
    pub fn psql(&self, sql: &str) -> String {
        let out = Command::new("runuser")
            .args(["-u", "postgres", "--", "psql", "-qAtX", "-h"])
            .arg(self.dir.path().join("pg"))
            .args(["-p", &self.port.to_string(), "-d", "ringmaster", "-c", sql])
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn open(&self, node: &str) -> Arc<PgStore> {
        PgStore::open(&self.url, node, &self.dir.path().join(node)).expect("open the store")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let data = self.dir.path().join("pg/data/postmaster.pid");
        let pid = std::fs::read_to_string(&data)
            .ok()
            .and_then(|s| s.lines().next().map(str::to_string));
        let _ = Command::new(script())
            .arg("stop")
            .arg(self.dir.path().join("pg"))
            .arg("immediate")
            .status();
        if let (Some(pid), true) = (pid, data.exists()) {
            let _ = Command::new("kill").args(["-9", &pid]).status();
        }
    }
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What a node sees, in a comparable form.
fn snapshot(s: &dyn Store) -> String {
    let apps = s.apps().unwrap();
    let mut out = format!("{apps:?}\n{:?}\n", s.all_bindings().unwrap());
    for a in &apps {
        out += &format!("{:?}\n", s.endpoints_of_app(a.id, 0, usize::MAX).unwrap());
    }
    out += &format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n",
        s.trunks().unwrap(),
        s.numbers(None).unwrap(),
        s.accounts().unwrap(),
        s.cloudua_domains().unwrap(),
        s.cdrs(None, usize::MAX, None).unwrap()
    );
    out
}

#[test]
fn conformance_on_postgresql_and_a_second_node_loads_the_same_state() {
    let db = TestDb::start();
    let a = db.open("n1");
    a.eager.store(true, Ordering::Relaxed);
    conformance::run(a.as_ref());
    a.flush().unwrap();
    let b = db.open("n2");
    assert_eq!(snapshot(a.as_ref()), snapshot(b.as_ref()));
    assert!(
        b.deliveries().unwrap().is_empty(),
        "an outbox is its node's own"
    );
    a.close();
    b.close();
}

#[test]
fn concurrent_writers_on_postgresql() {
    let db = TestDb::start();
    let s = db.open("n1");
    conformance::concurrent_inserts(s.clone());
    conformance::bindings_race_deletes(s.clone());
    conformance::calls::concurrent_cdr_inserts(s.clone());
    s.flush().unwrap();
    let again = db.open("n2");
    assert_eq!(snapshot(s.as_ref()), snapshot(again.as_ref()));
    s.close();
    again.close();
}

#[test]
fn a_write_on_one_node_reaches_the_other_and_a_duplicate_insert_is_refused() {
    let db = TestDb::start();
    let (a, b) = (db.open("n1"), db.open("n2"));
    a.insert_app(&conformance::app(1, "one.example")).unwrap();
    a.insert_endpoint(&conformance::endpoint(1, "one.example", "alice"))
        .unwrap();
    a.flush().unwrap();
    wait_for("n2 to see alice", || {
        b.endpoint("one.example", "alice").unwrap().is_some()
    });
    a.delete_endpoint("one.example", "alice").unwrap();
    a.flush().unwrap();
    wait_for("n2 to see alice go", || {
        b.endpoint("one.example", "alice").unwrap().is_none()
    });
    // Both mirrors accept app 2 before either hears of the other's; the database takes one.
    a.insert_app(&conformance::app(2, "a.example")).unwrap();
    b.insert_app(&conformance::app(2, "b.example")).unwrap();
    a.flush().unwrap();
    assert!(matches!(b.flush(), Err(StoreError::Conflict)));
    wait_for("n2 to reload app 2 from the database", || {
        b.app(AppId(2))
            .unwrap()
            .is_some_and(|x| x.domain == "a.example")
    });
    a.close();
    b.close();
}

#[test]
fn while_postgresql_is_away_writes_are_refused_history_is_kept_and_all_resumes() {
    let db = TestDb::start();
    let a = db.open("n1");
    a.insert_app(&conformance::app(1, "one.example")).unwrap();
    a.flush().unwrap();
    db.stop();
    wait_for("the store to notice", || !a.is_up());
    assert!(matches!(
        a.insert_endpoint(&conformance::endpoint(1, "one.example", "bob")),
        Err(StoreError::Unavailable(_))
    ));
    assert!(a.app(AppId(1)).unwrap().is_some(), "reads go on");
    let cdr = conformance::cdr(1, "call-1", "a", 1_700_000_000_000);
    let d = conformance::delivery(5, Some("call-1"));
    assert!(a.insert_cdr(&cdr, Some(&d)).unwrap());
    a.flush().expect("kept in the journal, so durable");
    db.restart();
    wait_for("the store to come back", || a.is_up());
    a.insert_endpoint(&conformance::endpoint(1, "one.example", "bob"))
        .unwrap();
    a.flush().unwrap();
    let b = db.open("n2");
    assert_eq!(b.cdrs_of_call("call-1").unwrap().len(), 1);
    assert!(b.endpoint("one.example", "bob").unwrap().is_some());
    // The outbox entry is n1's: n1 has it after a restart, n2 never.
    assert!(b.deliveries().unwrap().is_empty());
    a.close();
    let a2 = db.open("n1");
    assert_eq!(a2.deliveries().unwrap().len(), 1);
    a2.close();
    b.close();
}

#[test]
fn start_up_errors_say_what_is_wrong_and_secrets_are_shared() {
    let db = TestDb::start();
    let dir = tempfile::tempdir().unwrap();
    let bad_password = db
        .url
        .replace("ringmaster:ringmaster@", "ringmaster:wrong@");
    let e = PgStore::open(&bad_password, "n1", dir.path())
        .unwrap_err()
        .to_string();
    assert!(e.contains("refused the credentials"), "{e}");
    assert!(!e.contains("wrong"), "the password is not shown: {e}");
    let e = PgStore::open("postgres://x:y@127.0.0.1:1/db", "n1", dir.path())
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot connect"), "{e}");
    let e = PgStore::open("postgres://h:port/db", "n1", dir.path())
        .unwrap_err()
        .to_string();
    assert!(e.contains("not valid"), "{e}");

    let (a, b) = (db.open("n1"), db.open("n2"));
    let k1 = a
        .shared_secret(&[1u8; 32], "admin_token", 32, true)
        .unwrap();
    let k2 = b
        .shared_secret(&[1u8; 32], "admin_token", 32, true)
        .unwrap();
    assert_eq!(k1, k2);
    assert_eq!(k1.len(), 64);
    assert!(b
        .shared_secret(&[2u8; 32], "admin_token", 32, true)
        .is_err());
    let raw = db.psql("SELECT encode(sealed, 'hex') FROM secrets WHERE name = 'admin_token'");
    assert!(!raw.contains(&hex::encode(&k1)), "sealed at rest");
    a.close();
    b.close();

    db.psql("INSERT INTO ringmaster_schema (version) VALUES (99)");
    let e = PgStore::open(&db.url, "n3", dir.path())
        .unwrap_err()
        .to_string();
    assert!(e.contains("schema is version 99"), "{e}");
}

#[test]
fn a_sled_store_is_copied_whole_and_only_into_an_empty_database() {
    let db = TestDb::start();
    let dir = tempfile::tempdir().unwrap();
    let sled = crate::store::SledStore::open(&dir.path().join("store")).unwrap();
    conformance::seed(&sled);
    sled.insert_app(&conformance::app(9, "gone.example"))
        .unwrap();
    sled.delete_app(AppId(9)).unwrap();
    sled.insert_cdr(
        &conformance::cdr(1, "call-9", "a", 1_700_000_000_000),
        Some(&conformance::delivery(3, Some("call-9"))),
    )
    .unwrap();
    sled.flush().unwrap();
    let pg = db.open("n1");
    let copied = pg.copy_from(&sled).unwrap();
    assert_eq!(copied.deleted_apps, 1);
    assert_eq!(copied.cdrs, 1);
    assert_eq!(copied.deliveries, 1);
    assert_eq!(snapshot(&sled), snapshot(pg.as_ref()));
    assert!(matches!(pg.copy_from(&sled), Err(StoreError::Conflict)));
    pg.close();
    let fresh = db.open("n1");
    assert_eq!(snapshot(&sled), snapshot(fresh.as_ref()));
    assert_eq!(fresh.deliveries().unwrap().len(), 1);
    assert!(matches!(
        fresh.insert_app(&conformance::app(9, "again.example")),
        Err(StoreError::Conflict)
    ));
    fresh.close();
}
