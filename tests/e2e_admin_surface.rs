//! The operator's surfaces and tenant limits against the real binary, on loopback: an empty or
//! short admin token (and a blank metrics token) stops start-up with a clear error; a password
//! change (`update_sip`) drops the endpoint's registrations at once and for good (a restart
//! does not bring them back); `/metrics` wants its token when one is set and follows
//! registrations; the admin API can move to a listener of its own; the retention sweep deletes
//! old and over-quota recordings with a log line each; input in log fields stays on one line.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};
use support::ua::Ua;
use support::{free_port, Server, BIN};

/// Starts `ringmaster serve` on `dir` and waits (bounded) for it to exit by itself; its exit
/// status and its output. A server that keeps running is killed by PID and the test fails.
fn serve_until_exit(dir: &std::path::Path, extra: &[&str]) -> (std::process::ExitStatus, String) {
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
        .args(extra)
        .args(support::fixed_ports_off(
            &extra.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        ))
        .current_dir(dir)
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
                "ringmaster kept running with a bad setting; log:\n{}",
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
        let (status, log) = serve_until_exit(dir.path(), &[]);
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
fn a_blank_metrics_token_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ringmaster.toml"),
        "[http]\nmetrics_token = \"  \"\n",
    )
    .unwrap();
    let (status, log) = serve_until_exit(dir.path(), &["--config", "ringmaster.toml"]);
    assert!(!status.success(), "{log}");
    assert!(
        log.contains("metrics_token") && log.contains("is empty"),
        "{log}"
    );
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

/// GET with an optional bearer token: status and body.
fn get(url: &str, bearer: Option<&str>) -> (u16, String) {
    let mut req = ureq::get(url).timeout(Duration::from_secs(5));
    if let Some(t) = bearer {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    match req.call() {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(s, r)) => (s, r.into_string().unwrap_or_default()),
        Err(e) => panic!("GET {url}: {e}"),
    }
}

/// The value of an unlabelled sample in Prometheus text.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
}

#[test]
fn metrics_want_their_token_and_follow_registrations_without_a_scan() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ringmaster.toml");
    let token = "scrape-secret-0123456789";
    std::fs::write(&config, format!("[http]\nmetrics_token = \"{token}\"\n")).unwrap();
    let srv = Server::start(dir.path(), &["--config", config.to_str().unwrap()]);
    let url = format!("http://{}/metrics", srv.http);
    assert_eq!(get(&url, None).0, 401, "no token");
    assert_eq!(get(&url, Some("wrong")).0, 401, "wrong token");
    let (status, text) = get(&url, Some(token));
    assert_eq!(status, 200, "{text}");
    for name in [
        "ringmaster_registrations",
        "ringmaster_apps",
        "ringmaster_uptime_seconds",
        "ringmaster_sip_transactions",
        "ringmaster_calls_live",
        "ringmaster_sip_banned_sources",
        "ringmaster_sip_flood_dropped_total",
        "ringmaster_sip_tracked_sources",
        "ringmaster_sip_tcp_connections",
        "ringmaster_draining",
    ] {
        assert!(sample(&text, name).is_some(), "{name} missing:\n{text}");
    }
    assert_eq!(sample(&text, "ringmaster_registrations"), Some(0.0));
    assert_eq!(sample(&text, "ringmaster_apps"), Some(0.0));

    let app = srv.cli_json(&[
        "app",
        "create",
        "--name",
        "metrics",
        "--answer-url",
        "http://127.0.0.1:9/answer",
        "--json",
    ]);
    let (appid, secret) = (app["appid"].as_u64().unwrap(), app["secret"].clone());
    for user in ["alice", "bob"] {
        let (s, b) = srv.post(
            "/v1/endpoint/add_sip",
            json!({"appid": appid, "secret": secret, "username": user, "password": "pw-123456"}),
        );
        assert_eq!(s, 200, "{b}");
        Ua::new(srv.sip, "test.local", user, "pw-123456").register(300);
    }
    let text = get(&url, Some(token)).1;
    assert_eq!(
        sample(&text, "ringmaster_registrations"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(sample(&text, "ringmaster_apps"), Some(1.0), "{text}");
    // A password change drops bob's binding: the gauge follows once the SIP side has it.
    let (s, b) = srv.post(
        "/v1/endpoint/update_sip",
        json!({"appid": appid, "secret": secret, "username": "bob", "password": "pw-654321"}),
    );
    assert_eq!(s, 200, "{b}");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = get(&url, Some(token)).1;
        if sample(&text, "ringmaster_registrations") == Some(1.0) {
            break;
        }
        assert!(Instant::now() < deadline, "the gauge stayed:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_admin_api_can_have_its_own_listener() {
    let dir = tempfile::tempdir().unwrap();
    let admin = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
    let srv = Server::start(dir.path(), &["--admin-listen", &admin.to_string()]);
    let token = std::fs::read_to_string(dir.path().join("admin.token")).unwrap();
    let token = token.trim();
    let create = |base: std::net::SocketAddr| {
        let resp = ureq::post(&format!("http://{base}/admin/v1/apps"))
            .set("Authorization", &format!("Bearer {token}"))
            .timeout(Duration::from_secs(5))
            .send_json(json!({"name": "split", "answer_url": "http://127.0.0.1:9/answer"}));
        match resp {
            Ok(r) => (r.status(), r.into_json::<Value>().unwrap_or(Value::Null)),
            Err(ureq::Error::Status(s, r)) => (s, r.into_json::<Value>().unwrap_or(Value::Null)),
            Err(e) => panic!("{e}"),
        }
    };
    // The main listener has no admin API, and refuses the admin token where routes are shared.
    assert_eq!(create(srv.http).0, 404);
    for path in ["/admin/v1/apps", "/admin/v1/calls", "/admin/v1/recordings"] {
        let (s, _) = get(&format!("http://{}{path}", srv.http), Some(token));
        assert_eq!(s, 404, "{path} on the main listener");
    }
    let (s, _) = get(
        &format!("http://{}/admin/v1/recordings/abc-1", srv.http),
        Some(token),
    );
    assert_eq!(s, 401, "the admin token is refused on the main listener");

    // The admin listener has it.
    let (s, app) = create(admin);
    assert_eq!(s, 201, "{app}");
    let (s, body) = get(&format!("http://{admin}/admin/v1/apps"), Some(token));
    assert_eq!(s, 200, "{body}");
    assert!(body.contains("split"), "{body}");
    let (s, _) = get(&format!("http://{admin}/health"), None);
    assert_eq!(s, 200);

    // Apps keep using the main listener: the endpoint API and their own recordings (Basic
    // credentials; none recorded, so 404 after the credentials passed).
    let (appid, secret) = (
        app["appid"].as_u64().unwrap(),
        app["secret"].as_str().unwrap(),
    );
    let (s, b) = srv.post(
        "/v1/endpoint/add_sip",
        json!({"appid": appid, "secret": secret, "username": "carol", "password": "pw-123456"}),
    );
    assert_eq!(s, 200, "{b}");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{appid}:{secret}"));
    let resp = ureq::get(&format!("http://{}/admin/v1/recordings/abc-1", srv.http))
        .set("Authorization", &format!("Basic {basic}"))
        .timeout(Duration::from_secs(5))
        .call();
    let status = match resp {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(s, _)) => s,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(
        status, 404,
        "an app's recording route is on the main listener"
    );
    let resp = ureq::post(&format!("http://{admin}/v1/endpoint/list_sip"))
        .timeout(Duration::from_secs(5))
        .send_json(json!({"appid": appid, "secret": secret}));
    assert!(
        matches!(resp, Err(ureq::Error::Status(404, _))),
        "the app API is not on the admin listener"
    );
}

/// Sets a file's modification time with coreutils' `touch -d`.
fn age(path: &std::path::Path, ago: &str) {
    let ok = Command::new("touch")
        .arg("-d")
        .arg(ago)
        .arg(path)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "touch -d {ago} {}", path.display());
}

#[test]
fn the_retention_sweep_deletes_old_and_over_quota_recordings_and_logs_each() {
    let dir = tempfile::tempdir().unwrap();
    let app_dir = dir.path().join("recordings").join("4242424");
    std::fs::create_dir_all(&app_dir).unwrap();
    let files = [
        ("ancient-1", "3 days ago"),
        ("older-1", "3 hours ago"),
        ("newer-1", "2 hours ago"),
    ];
    for (name, ago) in files {
        let p = app_dir.join(format!("{name}.wav"));
        std::fs::write(&p, vec![0u8; 2000]).unwrap();
        age(&p, ago);
    }
    let config = dir.path().join("ringmaster.toml");
    std::fs::write(
        &config,
        "[retention]\nrecordings_max_age_days = 1\nrecordings_max_bytes_per_app = 3000\nsweep_interval_secs = 1\n",
    )
    .unwrap();
    let srv = Server::start(dir.path(), &["--config", config.to_str().unwrap()]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while app_dir.join("older-1.wav").exists() || app_dir.join("ancient-1.wav").exists() {
        assert!(Instant::now() < deadline, "not swept; log:\n{}", srv.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        app_dir.join("newer-1.wav").exists(),
        "the newest fits and stays"
    );
    let log = srv.log();
    for (id, reason) in [("ancient-1", "max_age"), ("older-1", "quota")] {
        assert!(
            log.lines().any(|l| l.contains("retention")
                && l.contains(&format!("recording={id}"))
                && l.contains(&format!("reason=\"{reason}\""))
                && l.contains("appid=4242424")),
            "a structured line for {id} ({reason}):\n{log}"
        );
    }
}

#[test]
fn input_in_log_fields_cannot_forge_a_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &[]);
    let name = "shop\r\n2026-01-01T00:00:00Z ERROR forged: line\x1b[2J";
    let app = srv.cli_json(&[
        "app",
        "create",
        "--name",
        name,
        "--answer-url",
        "http://127.0.0.1:9/answer",
        "--json",
    ]);
    assert!(app["appid"].as_u64().is_some(), "{app}");
    let log = srv.log();
    let created = log
        .lines()
        .find(|l| l.contains("app created"))
        .unwrap_or_else(|| panic!("no app created line:\n{log}"));
    assert!(
        created.contains(r#"name="shop\r\n2026-01-01T00:00:00Z ERROR forged: line\u{1b}[2J""#),
        "{created}"
    );
    assert!(
        !log.lines().any(|l| l.starts_with("2026-01-01T00:00:00Z")),
        "{log}"
    );
    assert!(!log.contains('\x1b'), "no raw escape sequence");
}
