//! The Bandwidth tests' common parts: a server with a user made by the real CLI, the
//! Bandwidth Python SDK (bandwidth-sdk 3.1.0, unchanged) run one method at a time through
//! `tests/bandwidth/sdk.py`, provisioning of the seed guide's steps 1 and 2, and the app's
//! callbacks as the test's web server received them.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::http::HttpStub;
use super::ua::Ua;
use super::Server;

const SEC: Duration = Duration::from_secs(1);

/// The SDK's venv (scripts/setup).
fn python() -> std::path::PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/bandwidth-py/bin/python");
    assert!(
        p.exists(),
        "the Bandwidth SDK is not installed; run scripts/setup (bandwidth-sdk 3.1.0 into target/tools/bandwidth-py)"
    );
    p
}

pub struct Sdk {
    pub base: String,
    pub user: String,
    pub token: String,
    pub secret: String,
    /// A CA file the SDKs trust (an HTTPS base URL with the server's self-signed certificate),
    /// given through their standard variables (`REQUESTS_CA_BUNDLE`, `NODE_EXTRA_CA_CERTS`).
    pub ca: Option<std::path::PathBuf>,
}

impl Sdk {
    /// Runs one SDK method; `Ok(result)` or `Err(error object)`.
    pub fn call(&self, method: &str, args: Value) -> Result<Value, Value> {
        let mut cmd = Command::new(python());
        cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bandwidth/sdk.py"));
        self.run(cmd, method, args)
    }

    /// Runs one method of node-bandwidth 4.0.0 (`Call.create`, `Bridge.update`, ...) with
    /// `args` (a JSON array of its arguments); `Ok(result)` or `Err(error object)`.
    pub fn node(&self, method: &str, args: Value) -> Result<Value, Value> {
        let modules =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/bandwidth-node/node_modules");
        assert!(
            modules.join("node-bandwidth").exists(),
            "node-bandwidth is not installed; run scripts/setup (node-bandwidth 4.0.0 into target/tools/bandwidth-node)"
        );
        let mut cmd = Command::new("node");
        cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bandwidth/sdk.js"))
            .env("NODE_PATH", modules);
        self.run(cmd, method, args)
    }

    /// Runs an SDK script (`cmd`) for `method` with this user's credentials; both scripts
    /// print `{"result": ..}` or `{"error": ..}`.
    fn run(&self, mut cmd: Command, method: &str, args: Value) -> Result<Value, Value> {
        let out = cmd
            .arg(method)
            .arg(args.to_string())
            .env("BW_BASE", &self.base)
            .env("BW_USER", &self.user)
            .env("BW_TOKEN", &self.token)
            .env("BW_SECRET", &self.secret)
            .envs(self.ca.iter().flat_map(|ca| {
                [
                    ("REQUESTS_CA_BUNDLE", ca.clone()),
                    ("NODE_EXTRA_CA_CERTS", ca.clone()),
                ]
            }))
            .output()
            .expect("run the SDK");
        let text = String::from_utf8_lossy(&out.stdout);
        let v: Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| {
            panic!(
                "{method}: not JSON ({e}): {text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        match v.get("error") {
            Some(e) => Err(e.clone()),
            None => Ok(v["result"].clone()),
        }
    }

    pub fn node_ok(&self, method: &str, args: Value) -> Value {
        self.node(method, args)
            .unwrap_or_else(|e| panic!("{method} failed: {e}"))
    }

    pub fn ok(&self, method: &str, args: Value) -> Value {
        self.call(method, args)
            .unwrap_or_else(|e| panic!("{method} failed: {e}"))
    }
}

/// A server, a user made with the real CLI, and the SDK pointed at it.
pub fn start(dir: &Path) -> (Server, Sdk) {
    let config = dir.join("ringmaster.toml");
    // The app's callbacks and files are on loopback: allowed for this test only.
    std::fs::write(&config, "[policy]\nallow_networks = [\"127.0.0.0/8\"]\n").unwrap();
    let srv = Server::start(dir, &["--config", config.to_str().unwrap()]);
    let user = srv.cli_json(&["user", "create", "--json"]);
    let sdk = Sdk {
        base: format!("http://{}", srv.http),
        user: user["user_id"].as_str().unwrap().into(),
        token: user["token"].as_str().unwrap().into(),
        secret: user["secret"].as_str().unwrap().into(),
        ca: None,
    };
    (srv, sdk)
}

/// Steps 1 and 2: an application (events to `stub`), a domain, endpoints tied to the
/// application; returns (application id, domain id, [(endpoint name, sipUri, realm)]).
pub fn provision(
    sdk: &Sdk,
    stub: &HttpStub,
    names: &[&str],
) -> (String, String, Vec<(String, String, String)>) {
    let app = sdk.ok(
        "account.create_application",
        json!({"name": "guide", "incoming_call_url": stub.url("/bw"), "auto_answer": true}),
    );
    let app = app.as_str().expect("application id").to_string();
    let domain = sdk.ok(
        "account.create_domain",
        json!({"name": format!("guide{}", std::process::id() % 10_000), "description": "seed guide"}),
    );
    let domain = domain.as_str().expect("domain id").to_string();
    let mut eps = Vec::new();
    for n in names {
        let id = sdk.ok(
            "account.create_domain_endpoint",
            json!({"domain_id": domain, "name": n, "password": "s3cret-pass", "application_id": app}),
        );
        let ep = sdk.ok(
            "account.get_domain_endpoint",
            json!({"domain_id": domain, "endpoint_id": id}),
        );
        assert_eq!(ep["application_id"], json!(app), "{ep}");
        let sip_uri = ep["sip_uri"].as_str().expect("sipUri").to_string();
        let realm = ep["credentials"]["realm"]
            .as_str()
            .expect("realm")
            .to_string();
        eps.push((n.to_string(), sip_uri, realm));
    }
    (app, domain, eps)
}

pub fn phone(srv: &Server, name: &str, realm: &str) -> Ua {
    let mut ua = Ua::new(srv.sip, realm, name, "s3cret-pass");
    ua.register(300);
    ua
}

/// The callbacks of `event_type` the app received so far.
pub fn callbacks(stub: &HttpStub, event_type: &str) -> Vec<Value> {
    stub.hits("/bw")
        .iter()
        .map(|h| h.json())
        .filter(|v| v["eventType"] == event_type)
        .collect()
}

pub fn wait_callback(stub: &HttpStub, event_type: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + 10 * SEC;
    loop {
        let got = callbacks(stub, event_type);
        if got.len() >= n || Instant::now() > deadline {
            assert!(
                got.len() >= n,
                "no {event_type} callback; got {:?}",
                stub.hits("/bw")
                    .iter()
                    .map(|h| h.json())
                    .collect::<Vec<_>>()
            );
            return got;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every callback carries these (compat-fields §b6).
pub fn assert_common(cb: &Value, call_id: &str) {
    assert_eq!(cb["callId"], json!(call_id), "{cb}");
    let uri = cb["callUri"].as_str().unwrap_or_default();
    assert!(uri.ends_with(&format!("/calls/{call_id}")), "{cb}");
    let time = cb["time"].as_str().unwrap_or_default();
    assert!(
        time.len() == 24 && time.ends_with('Z'),
        "ISO 8601 time: {cb}"
    );
}
