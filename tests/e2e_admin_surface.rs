//! The operator's surfaces against the real binary: an empty or short admin token stops
//! start-up with an error naming the file; a password change (`update_sip`) drops the
//! endpoint's registrations at once and for good (a restart does not bring them back).

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::ua::Ua;
use support::{free_port, Server, BIN};

/// Starts `ringmaster serve` on `dir` and waits (bounded) for it to exit by itself; its exit
/// status and its output. A server that keeps running is killed by PID and the test fails.
fn serve_until_exit(dir: &std::path::Path) -> (std::process::ExitStatus, String) {
    let log = dir.join("server.log");
    let file = std::fs::File::create(&log).unwrap();
    let mut child = Command::new(BIN)
        .arg("serve")
        .arg("--data-dir")
        .arg(dir)
        .arg("--sip-listen")
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("--http-listen")
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("--sip-domain")
        .arg("test.local")
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .stdin(Stdio::null())
        .spawn()
        .expect("start ringmaster");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, std::fs::read_to_string(&log).unwrap_or_default());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "ringmaster kept running with a bad admin token; log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_empty_or_short_admin_token_refuses_to_start() {
    for token in ["", "\n", "short-token-of-31-characters-xx"] {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("admin.token");
        std::fs::write(&file, token).unwrap();
        let (status, log) = serve_until_exit(dir.path());
        assert!(!status.success(), "token {token:?}: exit {status}\n{log}");
        assert!(
            log.contains(&file.display().to_string()) && log.contains("at least 32"),
            "token {token:?}: the error names the file and the rule:\n{log}"
        );
        assert!(!log.contains("HTTP API listening"), "{log}");
    }
}

/// The usernames with a live registration, from the admin API.
fn registered(srv: &Server) -> Vec<String> {
    let list = srv.cli_json(&["registrations", "--json"]);
    list.as_array()
        .expect("array")
        .iter()
        .map(|r| r["username"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn update_sip_with_a_new_password_drops_the_registrations_durably() {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = Server::start(dir.path(), &[]);
    let app = srv.cli_json(&[
        "app",
        "create",
        "--name",
        "rekey",
        "--answer-url",
        "http://127.0.0.1:9/answer",
        "--json",
    ]);
    let (appid, secret) = (app["appid"].as_u64().unwrap(), app["secret"].clone());
    let call = |path: &str, body: Value| {
        let mut b = json!({"appid": appid, "secret": secret});
        for (k, v) in body.as_object().unwrap() {
            b[k] = v.clone();
        }
        srv.post(path, b)
    };
    for user in ["alice", "bob"] {
        let (s, b) = call(
            "/v1/endpoint/add_sip",
            json!({"username": user, "password": format!("pw-{user}-1")}),
        );
        assert_eq!(s, 200, "{b}");
        Ua::new(srv.sip, "test.local", user, &format!("pw-{user}-1")).register(300);
    }
    assert_eq!(registered(&srv), ["alice", "bob"]);

    // The same password again changes no credentials: the registration stays.
    let (s, b) = call(
        "/v1/endpoint/update_sip",
        json!({"username": "bob", "password": "pw-bob-1"}),
    );
    assert_eq!(s, 200, "{b}");
    let (s, b) = call(
        "/v1/endpoint/update_sip",
        json!({"username": "alice", "password": "pw-alice-2"}),
    );
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        registered(&srv),
        ["bob"],
        "alice's binding went with the 200"
    );
    srv.restart();
    assert_eq!(registered(&srv), ["bob"], "and stays gone after a restart");

    // The new password registers.
    Ua::new(srv.sip, "test.local", "alice", "pw-alice-2").register(300);
    assert_eq!(registered(&srv), ["alice", "bob"]);
}
