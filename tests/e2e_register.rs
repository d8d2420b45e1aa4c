//! Issue "Foundation", end to end: the real binary on loopback, an app created with the CLI,
//! 100 endpoints added through `/v1/endpoint/add_sip`, registered by SIPp with digest auth;
//! then `kill -9` and a restart: the bindings are still there with their original expiry, a
//! re-REGISTER works, and a binding that expired while the server was down does not come back.

mod support;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{json, Value};
use support::{sipp, test_file, Server};

const USERS: usize = 100;

fn users_csv(dir: &std::path::Path, name: &str, users: &[String], realm: &str) -> String {
    let mut csv = String::from("SEQUENTIAL\n");
    for u in users {
        writeln!(
            csv,
            "{u};{realm};[authentication username={u} password=pw-{u}-secret]"
        )
        .unwrap();
    }
    let path = dir.join(name);
    std::fs::write(&path, csv).unwrap();
    path.to_string_lossy().into_owned()
}

/// Runs SIPp from local `port` (the same port means the same Contact, so a refresh).
fn register(srv: &Server, port: u16, csv: &str, calls: usize, expires: u32) -> i32 {
    let port = port.to_string();
    let calls = calls.to_string();
    let expires = expires.to_string();
    let scenario = test_file("sipp/register_auth.xml");
    sipp(
        &[
            &srv.sip.to_string(),
            "-sf",
            scenario.to_str().unwrap(),
            "-inf",
            csv,
            "-set",
            "expires",
            &expires,
            "-m",
            &calls,
            "-r",
            "200",
            "-l",
            "50",
            "-i",
            "127.0.0.1",
            "-p",
            &port,
            "-timeout",
            "60s",
        ],
        Duration::from_secs(90),
    )
}

fn registrations(srv: &Server) -> HashMap<String, Value> {
    let list = srv.cli_json(&["registrations", "--json"]);
    list.as_array()
        .expect("array")
        .iter()
        .map(|r| (r["username"].as_str().unwrap().to_string(), r.clone()))
        .collect()
}

#[test]
fn hundred_sipp_registrations_survive_kill_9_and_expired_ones_do_not_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ringmaster.toml");
    // A short minimum so one binding can expire during the test.
    std::fs::write(&config, "[registrar]\nmin_expires = 1\n").unwrap();
    let mut srv = Server::start(dir.path(), &["--config", config.to_str().unwrap()]);

    let app = srv.cli_json(&[
        "app",
        "create",
        "--name",
        "e2e",
        "--answer-url",
        "http://127.0.0.1:9/answer",
        "--json",
    ]);
    let appid = app["appid"].as_u64().expect("numeric appid");
    let secret = app["secret"].as_str().unwrap().to_string();
    let realm = app["realm"].as_str().unwrap().to_string();
    assert_eq!(realm, "test.local");

    let users: Vec<String> = (0..USERS).map(|i| format!("user{i:03}")).collect();
    for u in users
        .iter()
        .chain(std::iter::once(&"shortlived".to_string()))
    {
        let (status, body) = srv.post(
            "/v1/endpoint/add_sip",
            json!({"appid": appid, "secret": secret, "username": u, "password": format!("pw-{u}-secret")}),
        );
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["code"], "cmi-200");
    }

    let phone_port = support::free_port();
    let csv = users_csv(dir.path(), "users.csv", &users, &realm);
    assert_eq!(
        register(&srv, phone_port, &csv, USERS, 3600),
        0,
        "SIPp reported failed registrations"
    );

    let before = registrations(&srv);
    assert_eq!(before.len(), USERS, "{USERS} of {USERS} registered");
    for u in &users {
        let r = &before[u];
        assert_eq!(r["realm"], "test.local");
        assert_eq!(r["transport"], "udp");
        assert_eq!(r["appid"].as_u64(), Some(appid));
        assert!(r["contact"]
            .as_str()
            .unwrap()
            .starts_with(&format!("sip:{u}@127.0.0.1:")));
    }

    // One more binding, for 2 seconds only; the server dies before it expires.
    let short = users_csv(dir.path(), "short.csv", &["shortlived".to_string()], &realm);
    assert_eq!(register(&srv, support::free_port(), &short, 1, 2), 0);
    assert!(registrations(&srv).contains_key("shortlived"));

    srv.kill9();
    std::thread::sleep(Duration::from_secs(3));
    srv.restart();

    let after = registrations(&srv);
    assert_eq!(
        after.len(),
        USERS,
        "every acknowledged binding survived, the expired one did not"
    );
    assert!(!after.contains_key("shortlived"));
    for u in &users {
        assert_eq!(
            after[u]["expires_at"], before[u]["expires_at"],
            "{u}: original expiry kept"
        );
        assert_eq!(after[u]["contact"], before[u]["contact"]);
    }

    // Re-REGISTER after the restart works (fresh challenge, same credentials).
    let again = users_csv(dir.path(), "again.csv", &users[..10], &realm);
    assert_eq!(register(&srv, phone_port, &again, 10, 600), 0);
    let refreshed = registrations(&srv);
    assert_eq!(
        refreshed.len(),
        USERS,
        "a refresh from the same contact adds no binding"
    );
    for u in &users[..10] {
        let exp = refreshed[u]["expires_in"].as_u64().unwrap();
        assert!(
            exp <= 600 && exp > 500,
            "{u} refreshed with the new expiry, got {exp}"
        );
    }
    assert_eq!(
        refreshed["user050"]["expires_at"],
        before["user050"]["expires_at"]
    );
}
