//! Issue 16, the Bandwidth App Platform v1 account model end to end: the real binary, users
//! made with the real CLI (`ringmaster user create --json`), and the real SDKs, unchanged
//! (bandwidth-sdk 3.1.0 from PyPI and node-bandwidth 4.0.0 from npm, installed by
//! scripts/setup under target/tools; only their base URL set): every application, domain,
//! endpoint, token and phone-number call with values read back, lists paged by `Link`. Then a
//! SIP phone (SIPp) registers with an SDK-made endpoint's password and with its token, and
//! `enabled:false` set by the SDK makes its REGISTER fail. Bad input gets Bandwidth's error
//! shape: unknown and other users' ids 404, malformed JSON 400, oversize 413, wrong Basic
//! auth 401 with one body whether the user exists or not, and a user past its rate 429.

mod support;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{free_port, sipp, test_file, Server};

const NUMBER_A: &str = "15554443333";
const NUMBER_C: &str = "15554449999";
const CALLBACK: &str = "https://app.example.com/bw";

fn tool(rel: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/tools")
        .join(rel);
    assert!(
        p.exists(),
        "{} is missing; run scripts/setup (installs bandwidth-sdk 3.1.0 and node-bandwidth 4.0.0)",
        p.display()
    );
    p
}

/// Runs `cmd` to completion within `limit` (killed past it); its output.
fn bounded(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the SDK script");
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return child.wait_with_output().expect("script output");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("script output");
            panic!(
                "SDK script overran {limit:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The JSON object an SDK script printed on its last line; panics with its output if it failed.
fn script_result(what: &str, out: Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{what} failed:\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{what} printed no JSON ({e}): {stdout}"))
}

fn python(args: &[&str]) -> Value {
    let mut cmd = Command::new(tool("bandwidth-py/bin/python"));
    cmd.arg(test_file("bandwidth/crud.py")).args(args);
    script_result(
        "bandwidth-sdk (python)",
        bounded(cmd, Duration::from_secs(120)),
    )
}

fn node(args: &[&str]) -> Value {
    let mut cmd = Command::new("node");
    cmd.env("NODE_PATH", tool("bandwidth-node/node_modules"))
        .arg(test_file("bandwidth/crud.js"))
        .args(args);
    script_result("node-bandwidth", bounded(cmd, Duration::from_secs(120)))
}

/// A user made with the real CLI: exactly one JSON object with three strings.
struct User {
    id: String,
    token: String,
    secret: String,
}

fn create_user(srv: &Server, apps: &[u64]) -> User {
    let mut args = vec![
        "user".to_string(),
        "create".to_string(),
        "--json".to_string(),
    ];
    for a in apps {
        args.push("--app".into());
        args.push(a.to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = srv.cli(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.trim().lines().count(), 1, "one line: {text}");
    let v: Value = serde_json::from_str(text.trim()).unwrap();
    let obj = v.as_object().expect("one JSON object");
    assert_eq!(obj.len(), 3, "{v}");
    let field = |k: &str| obj[k].as_str().expect(k).to_string();
    let user = User {
        id: field("user_id"),
        token: field("token"),
        secret: field("secret"),
    };
    assert!(
        user.id.starts_with("u-") && user.token.starts_with("t-"),
        "{v}"
    );
    user
}

fn create_app(srv: &Server, name: &str) -> u64 {
    srv.cli_json(&[
        "app",
        "create",
        "--name",
        name,
        "--answer-url",
        "https://example.com/a",
        "--json",
    ])["appid"]
        .as_u64()
        .unwrap()
}

fn base(srv: &Server) -> String {
    format!("http://{}", srv.http)
}

fn sdk_args<'a>(srv_base: &'a str, u: &'a User) -> Vec<&'a str> {
    vec![srv_base, &u.id, &u.token, &u.secret]
}

/// SIPp REGISTERs `user@realm` with `password`; its exit code (0: registered).
fn register(srv: &Server, user: &str, realm: &str, password: &str) -> i32 {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("users.csv");
    std::fs::write(
        &csv,
        format!(
            "SEQUENTIAL\n{user};{realm};[authentication username={user} password={password}]\n"
        ),
    )
    .unwrap();
    let port = free_port().to_string();
    let scenario = test_file("sipp/register_auth.xml");
    sipp(
        &[
            &srv.sip.to_string(),
            "-sf",
            scenario.to_str().unwrap(),
            "-inf",
            csv.to_str().unwrap(),
            "-set",
            "expires",
            "300",
            "-m",
            "1",
            "-i",
            "127.0.0.1",
            "-p",
            &port,
            "-timeout",
            "15s",
        ],
        Duration::from_secs(30),
    )
}

fn registered(srv: &Server, user: &str, realm: &str) -> bool {
    srv.cli_json(&["registrations", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["username"] == user && r["realm"].as_str() == Some(realm))
}

#[test]
fn sdks_round_trip_every_crud_call_and_an_sdk_endpoint_registers() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &[]);
    let suffix = "bwapp.test.local";
    // The operator's side: PIOPIY apps with numbers, granted to two users.
    let (granted_a, granted_c) = (create_app(&srv, "granted-a"), create_app(&srv, "granted-c"));
    for (n, app) in [(NUMBER_A, granted_a), (NUMBER_C, granted_c)] {
        srv.cli_json(&["number", "add", n, "--app", &app.to_string(), "--json"]);
    }
    let a = create_user(&srv, &[granted_a]);
    let c = create_user(&srv, &[granted_c]);
    let b = create_user(&srv, &[]);
    let url = base(&srv);

    // Python, as user A.
    let granted = granted_a.to_string();
    let mut args = sdk_args(&url, &a);
    args.extend([suffix, CALLBACK, NUMBER_A, &granted]);
    let py = python(&args);
    let realm = py["realm"].as_str().unwrap().to_string();
    assert_eq!(realm, format!("xyz-corp-py.{suffix}"));

    // A SIP phone registers with the SDK-made endpoint's password, and with its token.
    assert_eq!(
        register(&srv, "jsmith_mobile", &realm, "abc123"),
        0,
        "{}",
        srv.log()
    );
    assert!(registered(&srv, "jsmith_mobile", &realm));
    assert_ne!(register(&srv, "jsmith_mobile", &realm, "wrong-password"), 0);
    let token = py["token"].as_str().unwrap();
    assert_eq!(
        register(&srv, "jsmith_mobile", &realm, token),
        0,
        "the token registers"
    );

    // node-bandwidth (as the same user) disables the endpoint: registrations go, REGISTER fails.
    let (domain_id, endpoint_id) = (
        py["domain_id"].as_str().unwrap(),
        py["endpoint_id"].as_str().unwrap(),
    );
    let mut args = vec!["enable"];
    args.extend(sdk_args(&url, &a));
    args.extend([domain_id, endpoint_id, "false"]);
    assert_eq!(node(&args)["enabled"], false);
    assert!(!registered(&srv, "jsmith_mobile", &realm));
    assert_ne!(register(&srv, "jsmith_mobile", &realm, "abc123"), 0);
    *args.last_mut().unwrap() = "true";
    assert_eq!(node(&args)["enabled"], true);
    assert_eq!(register(&srv, "jsmith_mobile", &realm, "abc123"), 0);

    // node-bandwidth's own CRUD, as user C (it sees none of A's resources).
    let mut args = vec!["crud"];
    args.extend(sdk_args(&url, &c));
    args.extend([suffix, CALLBACK, NUMBER_C]);
    node(&args);

    // The operator lists and deletes users; a deleted user's credentials stop working.
    let users = srv.cli_json(&["user", "list", "--json"]);
    let ids: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user_id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&a.id.as_str()) && ids.contains(&b.id.as_str()),
        "{users}"
    );
    assert!(
        !users.to_string().contains(&b.secret),
        "secrets are never listed"
    );
    let (status, _) = get(&srv, &b, &b.id, "domains");
    assert_eq!(status, 200);
    assert!(srv.cli(&["user", "delete", &b.id]).status.success());
    let (status, _) = get(&srv, &b, &b.id, "domains");
    assert_eq!(status, 401);
    let out = srv.cli(&["user", "create", "--app", "999", "--json"]);
    assert!(!out.status.success(), "--app must name an existing app");
}

/// `GET /v1/users/{path_user}/{rest}` with `u`'s credentials.
fn get(srv: &Server, u: &User, path_user: &str, rest: &str) -> (u16, Value) {
    request(
        srv,
        "GET",
        path_user,
        rest,
        Some((&u.token, &u.secret)),
        None,
    )
}

fn request(
    srv: &Server,
    method: &str,
    path_user: &str,
    rest: &str,
    auth: Option<(&str, &str)>,
    body: Option<&[u8]>,
) -> (u16, Value) {
    let (status, v, _) = request_full(srv, method, path_user, rest, auth, body);
    (status, v)
}

fn request_full(
    srv: &Server,
    method: &str,
    path_user: &str,
    rest: &str,
    auth: Option<(&str, &str)>,
    body: Option<&[u8]>,
) -> (u16, Value, Option<String>) {
    use base64::Engine as _;
    let url = format!("{}/v1/users/{path_user}/{rest}", base(srv));
    let mut req = ureq::request(method, &url).timeout(Duration::from_secs(10));
    if let Some((t, s)) = auth {
        let enc = base64::engine::general_purpose::STANDARD.encode(format!("{t}:{s}"));
        req = req.set("Authorization", &format!("Basic {enc}"));
    }
    let result = match body {
        Some(b) => req.set("Content-Type", "application/json").send_bytes(b),
        None => req.call(),
    };
    let resp = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = resp.status();
    let reset = resp.header("X-RateLimit-Reset").map(str::to_string);
    let text = resp.into_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        reset,
    )
}

fn assert_bandwidth_error(v: &Value, code: &str) {
    for k in ["category", "code", "message", "details"] {
        assert!(v.get(k).is_some(), "no {k} in {v}");
    }
    assert_eq!(v["code"], code, "{v}");
}

#[test]
fn bad_input_gets_bandwidth_errors_and_users_are_walled() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ringmaster.toml");
    // Room for the 101 domain creations below.
    std::fs::write(&config, "[bandwidth]\nburst = 1000\n").unwrap();
    let srv = Server::start(dir.path(), &["--config", config.to_str().unwrap()]);
    let a = create_user(&srv, &[]);
    let b = create_user(&srv, &[]);
    let auth_a = Some((a.token.as_str(), a.secret.as_str()));
    let auth_b = Some((b.token.as_str(), b.secret.as_str()));

    let body = br#"{"name":"walled","description":"A's"}"#;
    let (status, _, _) = request_full(&srv, "POST", &a.id, "domains", auth_a, Some(body));
    assert_eq!(status, 201);
    let (_, list) = get(&srv, &a, &a.id, "domains");
    let domain = list[0]["id"].as_str().unwrap().to_string();

    // Unknown ids, and another user's ids under its own path, are the same 404.
    let (status, unknown) = get(&srv, &a, &a.id, "domains/rd-doesnotexist");
    assert_eq!(status, 404);
    assert_bandwidth_error(&unknown, "not-found");
    let (status, other) = get(&srv, &b, &b.id, &format!("domains/{domain}"));
    assert_eq!(status, 404);
    assert_eq!(other, unknown, "another user's domain looks unknown");
    let (status, _) = get(&srv, &b, &b.id, &format!("domains/{domain}/endpoints"));
    assert_eq!(status, 404);
    let (status, _) = request(
        &srv,
        "DELETE",
        &b.id,
        &format!("domains/{domain}"),
        auth_b,
        None,
    );
    assert_eq!(status, 404);
    let (status, _) = get(&srv, &a, &a.id, "applications/a-1234567");
    assert_eq!(status, 404);
    let (status, v) = get(&srv, &a, &a.id, "no-such-resource");
    assert_eq!(status, 404);
    assert_bandwidth_error(&v, "not-found");

    // Wrong Basic auth: the same 401 body for an existing and an unknown user, and for B's
    // valid credentials on A's path.
    let (s1, existing) = request(
        &srv,
        "GET",
        &a.id,
        "domains",
        Some((&a.token, "wrong")),
        None,
    );
    let (s2, missing) = request(&srv, "GET", "u-nosuchuser00000000", "domains", auth_a, None);
    let (s3, crossed) = request(&srv, "GET", &a.id, "domains", auth_b, None);
    let (s4, none) = request(&srv, "GET", &a.id, "domains", None, None);
    assert_eq!((s1, s2, s3, s4), (401, 401, 401, 401));
    assert_bandwidth_error(&existing, "unauthorized");
    assert_eq!(existing, missing);
    assert_eq!(existing, crossed);
    assert_eq!(existing, none);

    // Malformed JSON, oversize bodies, missing fields, out-of-scope features.
    let (status, v) = request(&srv, "POST", &a.id, "domains", auth_a, Some(b"{\"name\":"));
    assert_eq!(status, 400);
    assert_bandwidth_error(&v, "invalid-json");
    let big = format!(
        "{{\"name\":\"x\",\"description\":\"{}\"}}",
        "a".repeat(70_000)
    );
    let (status, v) = request(&srv, "POST", &a.id, "domains", auth_a, Some(big.as_bytes()));
    assert_eq!(status, 413);
    assert_bandwidth_error(&v, "request-too-large");
    let (status, v) = request(
        &srv,
        "POST",
        &a.id,
        "domains",
        auth_a,
        Some(b"{\"name\":\"x\"}"),
    );
    assert_eq!(status, 400);
    assert_bandwidth_error(&v, "invalid-request");
    let (status, v) = request(
        &srv,
        "POST",
        &a.id,
        "domains",
        auth_a,
        Some(b"{\"name\":\"a.b\",\"description\":\"\"}"),
    );
    assert_eq!(status, 400, "{v}");
    let (status, v) = get(&srv, &a, &a.id, "conferences");
    assert_eq!(status, 403);
    assert_bandwidth_error(&v, "feature-not-available");
    let (status, v) = get(&srv, &a, &a.id, "domains?size=5000");
    assert_eq!(status, 400);
    assert_bandwidth_error(&v, "invalid-request");
    // `"enabled":"true"` as the seed guide sends it; `null` fields are absent.
    let ep = br#"{"name":"seed","description":null,"enabled":"true","applicationId":null,"credentials":{"password":"abc123"}}"#;
    let (status, _) = request(
        &srv,
        "POST",
        &a.id,
        &format!("domains/{domain}/endpoints"),
        auth_a,
        Some(ep),
    );
    assert_eq!(status, 201);

    // At most 100 domains per user (Bandwidth's limit); names are unique across users.
    for i in 1..100 {
        let body = format!(r#"{{"name":"many-{i}","description":"d"}}"#);
        let (status, _) = request(
            &srv,
            "POST",
            &a.id,
            "domains",
            auth_a,
            Some(body.as_bytes()),
        );
        assert_eq!(status, 201, "domain {i}");
    }
    let body = br#"{"name":"one-too-many","description":"d"}"#;
    let (status, v) = request(&srv, "POST", &a.id, "domains", auth_a, Some(body));
    assert_eq!(status, 403);
    assert_bandwidth_error(&v, "domain-limit-reached");
    let taken = br#"{"name":"walled","description":"B's"}"#;
    let (status, v) = request(&srv, "POST", &b.id, "domains", auth_b, Some(taken));
    assert_eq!(status, 409);
    assert_bandwidth_error(&v, "domain-name-already-exists");
    let (_, page) = get(&srv, &a, &a.id, "domains?size=1000");
    assert_eq!(page.as_array().unwrap().len(), 100);
}

#[test]
fn a_user_past_its_rate_gets_429_with_the_reset_time() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ringmaster.toml");
    std::fs::write(&config, "[bandwidth]\nrate_per_sec = 1\nburst = 3\n").unwrap();
    let srv = Server::start(dir.path(), &["--config", config.to_str().unwrap()]);
    let a = create_user(&srv, &[]);
    let auth = Some((a.token.as_str(), a.secret.as_str()));
    // Twenty requests at one per second with a burst of three: at least one is refused, however
    // slow the machine.
    let mut refused = None;
    for _ in 0..20 {
        let (status, v, reset) = request_full(&srv, "GET", &a.id, "domains", auth, None);
        if status == 429 {
            refused = Some((v, reset));
            break;
        }
        assert_eq!(status, 200);
    }
    let (v, reset) = refused.expect("the rate limit never answered 429");
    assert_bandwidth_error(&v, "rate-limit-reached");
    let reset: u64 = reset.expect("X-RateLimit-Reset").parse().unwrap();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(
        reset + 5_000 > now_ms && reset < now_ms + 5_000,
        "reset {reset} vs now {now_ms}"
    );
}

#[test]
fn endpoints_without_an_application_or_disabled_cannot_call() {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = Server::start(dir.path(), &[]);
    let a = create_user(&srv, &[]);
    let auth = Some((a.token.as_str(), a.secret.as_str()));
    let post = |rest: &str, body: &str| {
        let (status, _, _) = request_full(&srv, "POST", &a.id, rest, auth, Some(body.as_bytes()));
        assert_eq!(status, 201, "{rest} {body}");
    };
    post(
        "domains",
        r#"{"name":"callers","description":"who may call"}"#,
    );
    let (_, list) = get(&srv, &a, &a.id, "domains");
    let domain = list[0]["id"].as_str().unwrap().to_string();
    post(
        "applications",
        r#"{"name":"calls","incomingCallUrl":"https://app.example.com/in"}"#,
    );
    let (_, apps) = get(&srv, &a, &a.id, "applications");
    let app = apps[0]["id"].as_str().unwrap().to_string();
    let eps = format!("domains/{domain}/endpoints");
    post(
        &eps,
        r#"{"name":"orphan","credentials":{"password":"orphan-pw"}}"#,
    );
    post(
        &eps,
        &format!(
            r#"{{"name":"off","applicationId":"{app}","enabled":false,"credentials":{{"password":"off-pw"}}}}"#
        ),
    );
    let realm = "callers.bwapp.test.local";
    for (user, password) in [("orphan", "orphan-pw"), ("off", "off-pw")] {
        let mut ua = support::ua::Ua::new(srv.sip, realm, user, password);
        let rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut out = ua.invite("+15550001111", rtp.local_addr().unwrap());
        let status = ua
            .final_response(&mut out, Duration::from_secs(5))
            .map(|_| 200)
            .unwrap_or_else(|s| s);
        assert_eq!(status, 403, "{user}: a call from it is refused");
    }
    // The orphan registers (an endpoint without an application is still a SIP user); the
    // disabled one does not.
    assert_eq!(register(&srv, "orphan", realm, "orphan-pw"), 0);
    assert_ne!(register(&srv, "off", realm, "off-pw"), 0);
    // After a restart the registrar serves the Bandwidth domain again (loaded at start-up).
    srv.restart();
    assert_eq!(
        register(&srv, "orphan", realm, "orphan-pw"),
        0,
        "{}",
        srv.log()
    );
    // Deleting the domain deletes its endpoints and the registrar forgets the domain.
    let (status, _) = request(
        &srv,
        "DELETE",
        &a.id,
        &format!("domains/{domain}"),
        auth,
        None,
    );
    assert_eq!(status, 200);
    assert!(!registered(&srv, "orphan", realm));
    assert_ne!(register(&srv, "orphan", realm, "orphan-pw"), 0);
}
