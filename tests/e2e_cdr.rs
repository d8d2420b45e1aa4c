//! CDRs through the real binary: PIOPIY's `POST /v1/piopiy/cmiuuid_cdr` and the operator's
//! `GET /admin/v1/calls`. The CDRs are written into the server's store by this test while the
//! server is stopped (only one process may open it; no call path writes CDRs yet), then read
//! back through the HTTP API of the restarted server.

mod support;

use std::time::Duration;

use engine::store::{Cdr, SledStore, Store};
use serde_json::{json, Value};
use support::Server;

fn cdr(appid: u64, call: &str, leg_id: &str, time_ms: u64) -> Cdr {
    support::reports::sample_cdr(appid, call, leg_id, time_ms, "{\"order\":\"42\"}")
}

fn admin_get(srv: &Server, path: &str) -> (u16, Value) {
    let token = std::fs::read_to_string(srv.dir.join("admin.token")).unwrap();
    let resp = ureq::get(&format!("http://{}{}", srv.http, path))
        .timeout(Duration::from_secs(10))
        .set("Authorization", &format!("Bearer {}", token.trim()))
        .call();
    match resp {
        Ok(r) => (r.status(), r.into_json().unwrap()),
        Err(ureq::Error::Status(s, r)) => (s, r.into_json().unwrap_or(Value::Null)),
        Err(e) => panic!("{path}: {e}"),
    }
}

fn create_app(srv: &Server, name: &str) -> (u64, String) {
    let a = srv.cli_json(&[
        "app",
        "create",
        "--name",
        name,
        "--answer-url",
        "https://example.com/a",
        "--json",
    ]);
    (
        a["appid"].as_u64().unwrap(),
        a["secret"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn cmiuuid_cdr_and_the_admin_call_list() {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = Server::start(dir.path(), &[]);
    let (app1, secret1) = create_app(&srv, "one");
    let (app2, _) = create_app(&srv, "two");

    srv.kill9();
    {
        let store = SledStore::open(&dir.path().join("store")).unwrap();
        for (app, call, leg, t) in [
            (app1, "call-1", "b2", 1_800_000_000_900),
            (app1, "call-1", "a", 1_800_000_001_000),
            (app1, "call-1", "b1", 1_800_000_000_800),
            (app2, "call-2", "a", 1_800_000_002_000),
            (app1, "call-3", "a", 1_800_000_003_000),
        ] {
            assert!(store.insert_cdr(&cdr(app, call, leg, t), None).unwrap());
        }
        store.flush().unwrap();
    }
    srv.restart();

    let ask = |body: Value| srv.post("/v1/piopiy/cmiuuid_cdr", body);
    let (s, b) = ask(json!({"appid": app1, "secret": secret1, "cmiuuid": "call-1"}));
    assert_eq!((s, b["code"].clone()), (200, json!(200)), "{b}");
    let cdr = &b["cdr"];
    assert_eq!(
        (cdr["leg"].clone(), cdr["leg_id"].clone()),
        (json!("a"), json!("a")),
        "the A leg"
    );
    for (field, value) in [
        ("type", json!("cdr")),
        ("cmiuuid", json!("call-1")),
        ("cmuuid", json!("call-1")),
        ("appid", json!(app1)),
        ("status", json!("answered")),
        ("cdr_kind", json!("in_answered")),
        ("direction", json!("inbound")),
        ("duration", json!(20)),
        ("rate", json!(0.0)),
        ("call_rate", json!(0.0)),
        ("balance", json!(0.0)),
        ("extra_params", json!("{\"order\":\"42\"}")),
        ("hangup_cause", json!("NORMAL_CLEARING")),
    ] {
        assert_eq!(cdr[field], value, "{field} in {cdr}");
    }
    let legs: Vec<&str> = b["cdrs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["leg_id"].as_str().unwrap())
        .collect();
    assert_eq!(legs, ["a", "b1", "b2"]);

    // PIOPIY's other spelling; appid as a string.
    let (s, b) = ask(json!({"appid": app1.to_string(), "secret": secret1, "cmuuid": "call-1"}));
    assert_eq!((s, b["cdrs"].as_array().unwrap().len()), (200, 3));
    // Errors: bad credentials 420, missing property 502, unknown call and another app's call 404.
    let (s, b) = ask(json!({"appid": app1, "secret": "wrong", "cmiuuid": "call-1"}));
    assert_eq!(
        (s, b["code"].clone(), b["error"].clone()),
        (420, json!("cmi-420"), json!("invalid_credentials"))
    );
    let (s, b) = ask(json!({"appid": app1, "secret": secret1}));
    assert_eq!((s, b["error"].clone()), (502, json!("missing_property")));
    for call in ["call-9", "call-2"] {
        let (s, b) = ask(json!({"appid": app1, "secret": secret1, "cmiuuid": call}));
        assert_eq!(
            (s, b["code"].clone(), b["error"].clone()),
            (404, json!("cmi-404"), json!("call_not_found")),
            "{call}"
        );
    }

    // The admin list: newest first, paged with `next`.
    let (s, page) = admin_get(&srv, "/admin/v1/calls?limit=2");
    assert_eq!(s, 200);
    let ids = |v: &Value| -> Vec<String> {
        v["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                format!(
                    "{}/{}",
                    c["cmiuuid"].as_str().unwrap(),
                    c["leg_id"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(ids(&page), ["call-3/a", "call-2/a"]);
    let next = page["next"].as_str().unwrap().to_owned();
    let (_, rest) = admin_get(&srv, &format!("/admin/v1/calls?limit=10&before={next}"));
    assert_eq!(ids(&rest), ["call-1/a", "call-1/b2", "call-1/b1"]);
    assert_eq!(rest["next"], Value::Null, "the last page");
    let (_, two) = admin_get(&srv, &format!("/admin/v1/calls?app={app2}"));
    assert_eq!(ids(&two), ["call-2/a"]);
    for bad in ["limit=0", "limit=1001", "limit=x", "before=nope", "app=x"] {
        let (s, b) = admin_get(&srv, &format!("/admin/v1/calls?{bad}"));
        assert_eq!(
            (s, b["error"].clone()),
            (400, json!("invalid_property")),
            "{bad}"
        );
    }
}
