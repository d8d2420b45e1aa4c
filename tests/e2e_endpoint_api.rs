//! The PIOPIY-style endpoint API through the real binary: every success shape and every
//! documented error code, plus the admin API's token check.

mod support;

use serde_json::{json, Value};
use support::Server;

fn app(srv: &Server) -> (u64, String) {
    let a = srv.cli_json(&[
        "app",
        "create",
        "--name",
        "api",
        "--answer-url",
        "https://example.com/answer",
        "--json",
    ]);
    (
        a["appid"].as_u64().unwrap(),
        a["secret"].as_str().unwrap().to_string(),
    )
}

fn raw_post(srv: &Server, path: &str, body: &[u8]) -> (u16, Value) {
    let url = format!("http://{}{}", srv.http, path);
    match ureq::post(&url)
        .set("content-type", "application/json")
        .send_bytes(body)
    {
        Ok(r) => (r.status(), r.into_json().unwrap_or(Value::Null)),
        Err(ureq::Error::Status(s, r)) => (s, r.into_json().unwrap_or(Value::Null)),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn endpoint_api_success_shapes_and_every_error_code() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &[]);
    let (appid, secret) = app(&srv);
    let add = |user: &str, pw: &str| {
        srv.post(
            "/v1/endpoint/add_sip",
            json!({"appid": appid, "secret": secret, "username": user, "password": pw}),
        )
    };

    // add_sip: 200 with PIOPIY's fields, our realm and sip_uri; the password echoed.
    let (s, b) = add("alice", "wonderland1");
    assert_eq!(s, 200);
    assert_eq!(b["code"], "cmi-200");
    assert_eq!(b["username"], "alice");
    assert_eq!(b["password"], "wonderland1");
    assert_eq!(b["connect_URL"], format!("sip:{}", srv.sip));
    assert_eq!(
        (b["audio"].clone(), b["video"].clone(), b["type"].clone()),
        (json!(true), json!(true), json!("SIP"))
    );
    assert_eq!(b["realm"], "test.local");
    assert_eq!(b["sip_uri"], "sip:alice@test.local");

    // 400: the username exists.
    let (s, b) = add("alice", "another1");
    assert_eq!(
        (s, b["code"].clone(), b["error"].clone()),
        (400, json!("cmi-400"), json!("username_exists"))
    );
    assert_eq!(b["msg"], "Username already exists");

    // appid as a string of digits works too.
    let (s, _) = srv.post("/v1/endpoint/add_sip", json!({"appid": appid.to_string(), "secret": secret, "username": "bob", "password": "builder12"}));
    assert_eq!(s, 200);

    // get_sip: the password is not stored in clear, so it is null.
    let (s, b) = srv.post(
        "/v1/endpoint/get_sip",
        json!({"appid": appid, "secret": secret, "username": "alice"}),
    );
    assert_eq!(s, 200);
    assert_eq!(b["password"], Value::Null);
    assert_eq!(b["connect_URL"], format!("sip:{}", srv.sip));

    // update_sip echoes the new password.
    let (s, b) = srv.post(
        "/v1/endpoint/update_sip",
        json!({"appid": appid, "secret": secret, "username": "alice", "password": "newpass99"}),
    );
    assert_eq!(s, 200);
    assert_eq!(
        b,
        json!({"code": "cmi-200", "username": "alice", "password": "newpass99", "msg": "Updated successfully"})
    );

    // 400: the username does not exist (get, update, remove).
    for (path, extra) in [
        ("/v1/endpoint/get_sip", json!({})),
        ("/v1/endpoint/update_sip", json!({"password": "whatever1"})),
        ("/v1/endpoint/remove_sip", json!({})),
    ] {
        let mut body = json!({"appid": appid, "secret": secret, "username": "nobody"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (s, b) = srv.post(path, body);
        assert_eq!(
            (s, b["error"].clone()),
            (400, json!("username_not_found")),
            "{path}"
        );
        assert_eq!(b["msg"], "Username does not exist");
    }

    // 420: an unknown app and a wrong secret get byte-identical bodies.
    let unknown = raw_post(
        &srv,
        "/v1/endpoint/get_sip",
        json!({"appid": 1, "secret": secret, "username": "alice"})
            .to_string()
            .as_bytes(),
    );
    let wrong = raw_post(
        &srv,
        "/v1/endpoint/get_sip",
        json!({"appid": appid, "secret": "nope", "username": "alice"})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(unknown.0, 420);
    assert_eq!(unknown, wrong);
    assert_eq!(unknown.1["code"], "cmi-420");

    // 502: a required property is missing.
    let (s, b) = srv.post(
        "/v1/endpoint/add_sip",
        json!({"appid": appid, "secret": secret, "username": "carol"}),
    );
    assert_eq!((s, b["error"].clone()), (502, json!("missing_property")));
    assert_eq!(b["msg"], "Missing required property: password");
    let (s, _) = srv.post("/v1/endpoint/list_sip", json!({"secret": secret}));
    assert_eq!(s, 502);

    // 400: malformed JSON, a non-object, a wrongly typed property.
    let (s, b) = raw_post(&srv, "/v1/endpoint/list_sip", b"{\"appid\": ");
    assert_eq!((s, b["error"].clone()), (400, json!("invalid_json")));
    let (s, _) = raw_post(&srv, "/v1/endpoint/list_sip", b"[1,2]");
    assert_eq!(s, 400);
    let (s, b) = srv.post(
        "/v1/endpoint/list_sip",
        json!({"appid": "12ab", "secret": secret}),
    );
    assert_eq!((s, b["error"].clone()), (400, json!("invalid_property")));

    // 400: usernames and passwords have rules.
    let (s, b) = add("bad name", "password1");
    assert_eq!((s, b["error"].clone()), (400, json!("invalid_username")));
    let (s, b) = add("dave", "short");
    assert_eq!((s, b["error"].clone()), (400, json!("invalid_password")));

    // 413: a body over 64 KiB.
    let big = format!(
        "{{\"appid\": {appid}, \"secret\": \"{secret}\", \"pad\": \"{}\"}}",
        "x".repeat(70_000)
    );
    let (s, b) = raw_post(&srv, "/v1/endpoint/list_sip", big.as_bytes());
    assert_eq!((s, b["error"].clone()), (413, json!("body_too_large")));

    // list_sip: 10 per page, count is the total.
    for i in 0..13 {
        assert_eq!(add(&format!("u{i:02}"), "password1").0, 200);
    }
    let (s, b) = srv.post(
        "/v1/endpoint/list_sip",
        json!({"appid": appid, "secret": secret, "page": 1}),
    );
    assert_eq!(s, 200);
    assert_eq!(b["list"]["count"], 15);
    assert_eq!(b["list"]["rows"].as_array().unwrap().len(), 10);
    assert_eq!(
        b["list"]["rows"][0],
        json!({"username": "alice", "password": null})
    );
    let (_, b) = srv.post(
        "/v1/endpoint/list_sip",
        json!({"appid": appid, "secret": secret, "page": "2"}),
    );
    assert_eq!(b["list"]["rows"].as_array().unwrap().len(), 5);

    // remove_sip.
    let (s, b) = srv.post(
        "/v1/endpoint/remove_sip",
        json!({"appid": appid, "secret": secret, "username": "bob"}),
    );
    assert_eq!(s, 200);
    assert_eq!(
        b,
        json!({"code": "cmi-200", "username": "bob", "msg": "Removed successfully"})
    );
    let (s, _) = srv.post(
        "/v1/endpoint/get_sip",
        json!({"appid": appid, "secret": secret, "username": "bob"}),
    );
    assert_eq!(s, 400);

    // Another app cannot see this app's endpoints.
    let (other, other_secret) = app(&srv);
    let (s, _) = srv.post(
        "/v1/endpoint/get_sip",
        json!({"appid": other, "secret": other_secret, "username": "alice"}),
    );
    assert_eq!(s, 400);

    // The admin API wants the token.
    let url = format!("http://{}/admin/v1/apps", srv.http);
    match ureq::get(&url).call() {
        Err(ureq::Error::Status(401, r)) => {
            assert_eq!(r.into_json::<Value>().unwrap()["error"], "unauthorized")
        }
        other => panic!("admin API without token: {other:?}"),
    }

    // Nothing in the store or the log holds a password in clear.
    drop(srv);
    let mut found = Vec::new();
    for entry in walk(dir.path()) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        for pw in ["wonderland1", "newpass99", "builder12"] {
            if bytes.windows(pw.len()).any(|w| w == pw.as_bytes()) {
                found.push(format!("{} contains {pw}", entry.display()));
            }
        }
    }
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn reveal_mode_shows_passwords_from_a_sealed_copy() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &["--reveal-sip-passwords", "true"]);
    let (appid, secret) = app(&srv);
    let (s, _) = srv.post(
        "/v1/endpoint/add_sip",
        json!({"appid": appid, "secret": secret, "username": "eve", "password": "sealed-pw-1"}),
    );
    assert_eq!(s, 200);
    let (_, b) = srv.post(
        "/v1/endpoint/get_sip",
        json!({"appid": appid, "secret": secret, "username": "eve"}),
    );
    assert_eq!(b["password"], "sealed-pw-1");
    let (_, b) = srv.post(
        "/v1/endpoint/list_sip",
        json!({"appid": appid, "secret": secret}),
    );
    assert_eq!(b["list"]["rows"][0]["password"], "sealed-pw-1");
    drop(srv);
    for entry in walk(dir.path()) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(
            !bytes.windows(11).any(|w| w == b"sealed-pw-1"),
            "{} holds the password in clear",
            entry.display()
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Issue 15 item 4: what a browser app is given. `add_sip` and `get_sip` keep `connect_URL`
/// for SIP phones and add `webrtc_domain` (`host:port` of the wss listener, which a piopiyjs
/// app passes to `login(user, password, webrtc_domain)` as is: piopiyjs dials
/// `'wss://' + webrtc_domain`) and `wss_URL` (what JsSIP and SIP.js connect to). With wss off
/// both are null.
#[test]
fn endpoint_api_gives_browser_apps_the_wss_listener() {
    let dir = tempfile::tempdir().unwrap();
    let wss = std::net::SocketAddr::from(([127, 0, 0, 1], support::free_port()));
    let wss_flag = wss.to_string();
    let srv = Server::start(dir.path(), &["--wss-listen", &wss_flag]);
    let (appid, secret) = app(&srv);
    let (s, added) = srv.post(
        "/v1/endpoint/add_sip",
        json!({"appid": appid, "secret": secret, "username": "webby", "password": "webpass12"}),
    );
    assert_eq!(s, 200, "{added}");
    let (s, got) = srv.post(
        "/v1/endpoint/get_sip",
        json!({"appid": appid, "secret": secret, "username": "webby"}),
    );
    assert_eq!(s, 200, "{got}");
    for b in [&added, &got] {
        assert_eq!(b["connect_URL"], format!("sip:{}", srv.sip));
        assert_eq!(b["webrtc_domain"], wss.to_string());
        assert_eq!(b["wss_URL"], format!("wss://{wss}"));
    }
    drop(srv);

    // The test servers have wss off unless asked: nothing to give.
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &[]);
    let (appid, secret) = app(&srv);
    let (_, b) = srv.post(
        "/v1/endpoint/add_sip",
        json!({"appid": appid, "secret": secret, "username": "webby", "password": "webpass12"}),
    );
    assert_eq!(
        (b["webrtc_domain"].clone(), b["wss_URL"].clone()),
        (Value::Null, Value::Null),
        "{b}"
    );
}
