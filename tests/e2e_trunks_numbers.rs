//! Trunks and numbers through the real binary: the operator CLI and the admin API, their
//! errors, the password never leaving in clear (not in answers, the log, or the store files),
//! persistence across `kill -9`, and numbers leaving with their app.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::Server;

/// An admin API call with the server's token; returns the status and the JSON answer.
fn admin(srv: &Server, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let token = std::fs::read_to_string(srv.dir.join("admin.token")).unwrap();
    let url = format!("http://{}{}", srv.http, path);
    let req = ureq::request(method, &url)
        .timeout(Duration::from_secs(10))
        .set("Authorization", &format!("Bearer {}", token.trim()));
    let resp = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    match resp {
        Ok(r) => (r.status(), r.into_json().unwrap_or(Value::Null)),
        Err(ureq::Error::Status(s, r)) => (s, r.into_json().unwrap_or(Value::Null)),
        Err(e) => panic!("{method} {url}: {e}"),
    }
}

/// Runs a CLI command that must fail; returns its stderr.
fn cli_fails(srv: &Server, args: &[&str]) -> String {
    let out = srv.cli(args);
    assert!(!out.status.success(), "{args:?} should fail");
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn create_app(srv: &Server) -> u64 {
    srv.cli_json(&[
        "app",
        "create",
        "--name",
        "numbers",
        "--answer-url",
        "https://example.com/a",
        "--json",
    ])["appid"]
        .as_u64()
        .unwrap()
}

/// Whether any file under `dir` contains `needle`.
fn any_file_contains(dir: &std::path::Path, needle: &[u8]) -> bool {
    std::fs::read_dir(dir).unwrap().any(|entry| {
        let path = entry.unwrap().path();
        if path.is_dir() {
            any_file_contains(&path, needle)
        } else {
            std::fs::read(&path)
                .map(|b| b.windows(needle.len()).any(|w| w == needle))
                .unwrap_or(false)
        }
    })
}

#[test]
fn trunks_through_the_cli_and_the_admin_api() {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = Server::start(dir.path(), &[]);

    let t = srv.cli_json(&[
        "trunk",
        "add",
        "--name",
        "carrier",
        "--address",
        "sip.carrier.example:5080",
        "--transport",
        "tcp",
        "--allow-ip",
        "192.0.2.1",
        "--allow-ip",
        "2001:db8::7",
        "--username",
        "acct",
        "--password",
        "hunter22-secret",
        "--json",
    ]);
    assert_eq!(t["name"], "carrier");
    assert_eq!(t["address"], "sip.carrier.example:5080");
    assert_eq!(
        (t["host"].clone(), t["port"].clone()),
        (json!("sip.carrier.example"), json!(5080))
    );
    assert_eq!(t["transport"], "tcp");
    assert_eq!(t["allow_ips"], json!(["192.0.2.1", "2001:db8::7"]));
    assert_eq!(
        (t["username"].clone(), t["has_password"].clone()),
        (json!("acct"), json!(true))
    );
    assert!(
        t.get("password").is_none() && !t.to_string().contains("hunter22"),
        "{t}"
    );

    // Defaults: UDP, port 5060, no credentials.
    let (s, plain) = admin(
        &srv,
        "POST",
        "/admin/v1/trunks",
        Some(json!({"name": "backup", "address": "192.0.2.50"})),
    );
    assert_eq!(s, 201, "{plain}");
    assert_eq!(
        (plain["address"].clone(), plain["transport"].clone()),
        (json!("192.0.2.50:5060"), json!("udp"))
    );
    assert_eq!(
        (plain["has_password"].clone(), plain["username"].clone()),
        (json!(false), Value::Null)
    );

    // Refusals, each with its code.
    let err = cli_fails(
        &srv,
        &[
            "trunk",
            "add",
            "--name",
            "carrier",
            "--address",
            "192.0.2.9",
        ],
    );
    assert!(err.contains("409") && err.contains("exists"), "{err}");
    let err = cli_fails(
        &srv,
        &[
            "trunk",
            "add",
            "--name",
            "other",
            "--address",
            "192.0.2.9",
            "--allow-ip",
            "192.0.2.1",
        ],
    );
    assert!(err.contains("409") && err.contains("192.0.2.1"), "{err}");
    for (body, field) in [
        (
            json!({"name": "bad name", "address": "192.0.2.9"}),
            "invalid_trunk",
        ),
        (
            json!({"name": "x", "address": "host:99999"}),
            "invalid_trunk",
        ),
        (
            json!({"name": "x", "address": "192.0.2.9", "transport": "sctp"}),
            "invalid_trunk",
        ),
        (
            json!({"name": "x", "address": "192.0.2.9", "username": "u"}),
            "invalid_trunk",
        ),
        (
            json!({"name": "x", "address": "192.0.2.9", "allow_ips": ["nope"]}),
            "invalid_property",
        ),
    ] {
        let (s, b) = admin(&srv, "POST", "/admin/v1/trunks", Some(body.clone()));
        assert_eq!(
            (s, b["error"].as_str().unwrap()),
            (400, field),
            "{body} -> {b}"
        );
    }
    let (s, b) = admin(
        &srv,
        "POST",
        "/admin/v1/trunks",
        Some(json!({"address": "192.0.2.9"})),
    );
    assert_eq!((s, b["error"].clone()), (502, json!("missing_property")));

    let (s, got) = admin(&srv, "GET", "/admin/v1/trunks/carrier", None);
    assert_eq!((s, got["has_password"].clone()), (200, json!(true)));
    let (s, b) = admin(&srv, "GET", "/admin/v1/trunks/nobody", None);
    assert_eq!((s, b["error"].clone()), (404, json!("trunk_not_found")));
    let anonymous = ureq::get(&format!("http://{}/admin/v1/trunks", srv.http)).call();
    assert!(matches!(anonymous, Err(ureq::Error::Status(401, _))));

    // The password: sealed under data/password.key, in no file and no log line in clear.
    assert!(srv.dir.join("password.key").exists());
    assert!(!any_file_contains(
        &srv.dir.join("store"),
        b"hunter22-secret"
    ));
    assert!(!srv.log().contains("hunter22"));

    // Durable: still there after kill -9.
    srv.restart();
    let list = srv.cli_json(&["trunk", "list", "--json"]);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["backup", "carrier"]);
    let text = srv.cli(&["trunk", "list"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("carrier") && text.contains("set") && text.contains("192.0.2.1,2001:db8::7"),
        "{text}"
    );

    let out = srv.cli(&["trunk", "delete", "carrier"]);
    assert!(out.status.success());
    let err = cli_fails(&srv, &["trunk", "delete", "carrier"]);
    assert!(err.contains("404"), "{err}");
    let (_, list) = admin(&srv, "GET", "/admin/v1/trunks", None);
    assert_eq!(list["trunks"].as_array().unwrap().len(), 1);
    // Its source IP is free again.
    let (s, _) = admin(
        &srv,
        "POST",
        "/admin/v1/trunks",
        Some(json!({"name": "new", "address": "192.0.2.60", "allow_ips": ["192.0.2.1"]})),
    );
    assert_eq!(s, 201);
}

#[test]
fn numbers_through_the_cli_and_the_admin_api() {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = Server::start(dir.path(), &[]);
    let appid = create_app(&srv);
    let app = appid.to_string();

    let n = srv.cli_json(&["number", "add", "+14155550100", "--app", &app, "--json"]);
    assert_eq!(
        (n["number"].clone(), n["appid"].clone()),
        (json!("14155550100"), json!(appid))
    );
    let err = cli_fails(&srv, &["number", "add", "14155550100", "--app", &app]);
    assert!(
        err.contains("409") && err.contains("already assigned"),
        "{err}"
    );
    let err = cli_fails(&srv, &["number", "add", "14155550101", "--app", "1"]);
    assert!(
        err.contains("404") && err.contains("App does not exist"),
        "{err}"
    );
    let err = cli_fails(&srv, &["number", "add", "1-415", "--app", &app]);
    assert!(err.contains("400") && err.contains("digits"), "{err}");

    // PIOPIY clients send numbers as JSON numbers.
    let (s, b) = admin(
        &srv,
        "POST",
        "/admin/v1/numbers",
        Some(json!({"number": 4930123456u64, "appid": appid})),
    );
    assert_eq!((s, b["number"].clone()), (201, json!("4930123456")));
    let (s, b) = admin(
        &srv,
        "POST",
        "/admin/v1/numbers",
        Some(json!({"number": "1234567890123456", "appid": appid})),
    );
    assert_eq!((s, b["error"].clone()), (400, json!("invalid_number")));
    let (s, b) = admin(
        &srv,
        "POST",
        "/admin/v1/numbers",
        Some(json!({"appid": appid})),
    );
    assert_eq!((s, b["error"].clone()), (502, json!("missing_property")));

    srv.restart();
    let listed = srv.cli_json(&["number", "list", "--app", &app, "--json"]);
    let digits: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["number"].as_str().unwrap())
        .collect();
    assert_eq!(
        digits,
        ["14155550100", "4930123456"],
        "durable, in digit order"
    );
    let text = srv.cli(&["number", "list"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains(&format!("14155550100      {appid}")));
    let (s, b) = admin(&srv, "GET", "/admin/v1/numbers?app=nope", None);
    assert_eq!((s, b["error"].clone()), (400, json!("invalid_property")));

    let out = srv.cli(&["number", "delete", "+14155550100"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("deleted number 14155550100"));
    let err = cli_fails(&srv, &["number", "delete", "14155550100"]);
    assert!(err.contains("404"), "{err}");

    // Deleting the app takes its numbers with it.
    srv.cli_json(&["number", "add", "14155550100", "--app", &app, "--json"]);
    assert!(srv.cli(&["app", "delete", &app]).status.success());
    let (_, b) = admin(&srv, "GET", "/admin/v1/numbers", None);
    assert_eq!(b["numbers"], json!([]));
    // And the number is free for another app.
    let other = create_app(&srv).to_string();
    srv.cli_json(&["number", "add", "14155550100", "--app", &other, "--json"]);
}
