//! Provisioning with the PIOPIY-style API, then placing a call over REST.
//!
//! ```sh
//! cargo run --example provision_and_call -- http://127.0.0.1:8080 <appid> <secret> <to>
//! ```
//!
//! Adds the SIP users `alice` and `bob` (the answer is printed, including `connect_URL`, the
//! address to configure in the phones), lists the app's users, then asks ringmaster to call
//! `<to>` (a number, through the trunk, or one of the app's SIP users) and, once answered,
//! connect it to alice and bob together.

use serde_json::{json, Value};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base, appid, secret, to] = args.as_slice() else {
        eprintln!("usage: provision_and_call BASE_URL APPID SECRET TO");
        std::process::exit(2);
    };
    let appid: u64 = appid.parse()?;
    let http = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        let req = http.post(format!("{base}{path}")).json(&body);
        async move {
            let resp = req.send().await?;
            let status = resp.status();
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            Ok::<_, reqwest::Error>((status, body))
        }
    };
    for (user, password) in [("alice", "alice-secret-1"), ("bob", "bob-secret-1")] {
        let (status, body) = post(
            "/v1/endpoint/add_sip",
            json!({"appid": appid, "secret": secret, "username": user, "password": password}),
        )
        .await?;
        println!("add_sip {user}: {status} {body}");
    }
    let (_, list) = post(
        "/v1/endpoint/list_sip",
        json!({"appid": appid, "secret": secret, "page": 1}),
    )
    .await?;
    println!("list_sip: {list}");
    let (status, placed) = post(
        "/v1/pcmo_make_call",
        json!({
            "appid": appid, "secret": secret, "from": 914471000000u64, "to": to,
            "extra_params": {"campaign": "example"},
            "pcmo": [{"action": "connect", "ring_type": "group", "timeout": 30,
                      "call": [{"type": "sip", "user": "alice"}, {"type": "sip", "user": "bob"}]}]
        }),
    )
    .await?;
    println!("pcmo_make_call: {status} {placed}");
    Ok(())
}
