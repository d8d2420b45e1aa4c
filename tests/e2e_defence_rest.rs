//! The REST API under password guessing: an unknown appid and a wrong secret get byte-identical
//! answers, and after 10 failures from one address every request from it gets 429 with
//! Retry-After (the right secret too), with one security log line per failure.

mod support;

use std::time::Duration;

use serde_json::json;
use support::Server;

/// Status, Retry-After and raw body of a POST.
fn post_raw(srv: &Server, path: &str, body: serde_json::Value) -> (u16, Option<String>, String) {
    let url = format!("http://{}{}", srv.http, path);
    let resp = match ureq::post(&url)
        .timeout(Duration::from_secs(5))
        .send_json(body)
    {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("POST {url}: {e}"),
    };
    let status = resp.status();
    let retry = resp.header("Retry-After").map(str::to_string);
    (status, retry, resp.into_string().unwrap())
}

#[test]
fn repeated_app_authentication_failures_get_429_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &[]);
    let app = srv.cli_json(&[
        "app",
        "create",
        "--name",
        "rest",
        "--answer-url",
        "http://127.0.0.1:9/answer",
        "--json",
    ]);
    let appid = app["appid"].as_u64().unwrap();
    let secret = app["secret"].as_str().unwrap().to_string();

    let list = |appid: u64, secret: &str| {
        post_raw(
            &srv,
            "/v1/endpoint/list_sip",
            json!({"appid": appid, "secret": secret}),
        )
    };
    let (s1, _, unknown) = list(appid + 12345, "whatever");
    let (s2, _, wrong) = list(appid, "not-the-secret");
    assert_eq!((s1, s2), (420, 420));
    assert_eq!(
        unknown, wrong,
        "an unknown appid and a wrong secret look the same"
    );

    for i in 2..9 {
        let (s, _, _) = list(appid, &format!("guess-{i}"));
        assert_eq!(s, 420, "failure {}", i + 1);
    }
    let (ok, _, _) = list(appid, &secret);
    assert_eq!(ok, 200, "nine failures: still served");
    let (s, _, _) = list(appid, "guess-10");
    assert_eq!(s, 420, "the tenth failure");
    let (s, retry, body) = list(appid, &secret);
    assert_eq!(s, 429, "{body}");
    let retry: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((295..=300).contains(&retry), "{retry}");
    assert!(body.contains("too_many_failures"), "{body}");
    // Every route, the admin API included.
    let admin = ureq::get(&format!("http://{}/admin/v1/apps", srv.http))
        .timeout(Duration::from_secs(5))
        .call();
    assert!(matches!(admin, Err(ureq::Error::Status(429, _))));

    let log = srv.log();
    let events = log
        .lines()
        .filter(|l| l.contains("event=\"rest_auth_failed\""))
        .count();
    assert_eq!(events, 10, "{log}");
}
