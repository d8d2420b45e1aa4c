//! One call test's world: a fresh `ringmaster serve` (own ports, own data directory, own RTP
//! range), the app's web server ([`HttpStub`]) and an app created with the CLI whose answer
//! and event URLs point at it. Endpoints get the password `pw-<user>`.

use std::time::Duration;

use serde_json::{json, Value};

use super::http::{HttpStub, Reply};
use super::ua::Ua;
use super::{free_port, Server};

pub struct Rig {
    // Field order is drop order: the server stops before its directory goes.
    pub srv: Server,
    pub web: HttpStub,
    pub appid: u64,
    pub secret: String,
    /// ringmaster's RTP ports (`--rtp-ports`), inclusive.
    pub rtp_ports: (u16, u16),
    pub dir: tempfile::TempDir,
}

/// Settings every call test shares: a 1.5 s answer-URL budget keeps the failure tests short;
/// the scripts' `action_url`, `file_url` and SIP URIs point at loopback (the stub, the test
/// phones), which the egress policy refuses unless allowed. `[calls]` comes last: tests
/// append keys to it.
pub const CONFIG: &str = "[policy]\nallow_networks = [\"127.0.0.0/8\"]\n[calls]\nanswer_timeout_ms = 1500\nanswer_connect_timeout_ms = 1000\n";

impl Rig {
    /// A server whose app's answer URL replies `replies` in turn (the last one repeats).
    pub fn start(replies: Vec<Reply>) -> Rig {
        Rig::with(replies, None)
    }

    /// Same, with an app created through the admin API from `app` (extra fields such as
    /// `fallback_pcmo`; `answer_url` may be overridden, e.g. with a dead port).
    pub fn with(replies: Vec<Reply>, app: Option<Value>) -> Rig {
        Rig::configured(replies, app, CONFIG)
    }

    /// Same, with this TOML settings file instead of [`CONFIG`].
    pub fn configured(replies: Vec<Reply>, app: Option<Value>, config_toml: &str) -> Rig {
        Rig::configured_with(replies, app, config_toml, &[])
    }

    /// Same, with more `serve` flags (`--ws-listen 127.0.0.1:PORT`, say).
    pub fn configured_with(
        replies: Vec<Reply>,
        app: Option<Value>,
        config_toml: &str,
        flags: &[&str],
    ) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("ringmaster.toml");
        std::fs::write(&config, config_toml).unwrap();
        // A window of 200 ports below the kernel's ephemeral range, different per server so
        // parallel tests rarely contend (ringmaster skips pairs it cannot bind anyway).
        let low = 20_000 + (free_port() / 4 % 50) * 200;
        let rtp_ports = (low, low + 199);
        let range = format!("{}-{}", rtp_ports.0, rtp_ports.1);
        let mut args = vec!["--config", config.to_str().unwrap(), "--rtp-ports", &range];
        args.extend_from_slice(flags);
        let srv = Server::start(dir.path(), &args);
        let web = HttpStub::start(replies);
        let mut body = json!({
            "name": "calls-e2e",
            "answer_url": web.answer_url(),
            "event_url": web.event_url(),
        });
        if let Some(Value::Object(extra)) = app {
            for (k, v) in extra {
                body[k] = v;
            }
        }
        let (status, app) = admin_post(&srv, "/admin/v1/apps", body);
        assert_eq!(status, 201, "app create: {app}");
        Rig {
            appid: app["appid"].as_u64().expect("appid"),
            secret: app["secret"].as_str().unwrap().to_string(),
            srv,
            web,
            rtp_ports,
            dir,
        }
    }

    /// Adds endpoint `user` (password `pw-<user>`) through the PIOPIY endpoint API.
    pub fn endpoint(&self, user: &str) {
        let (status, body) = self.srv.post(
            "/v1/endpoint/add_sip",
            json!({"appid": self.appid, "secret": self.secret, "username": user, "password": format!("pw-{user}")}),
        );
        assert_eq!(status, 200, "add_sip {user}: {body}");
    }

    /// A test UA for `user` (not registered yet).
    pub fn ua(&self, user: &str) -> Ua {
        Ua::new(self.srv.sip, "test.local", user, &format!("pw-{user}"))
    }

    /// A test UA for `user`, registered.
    pub fn phone(&self, user: &str) -> Ua {
        let mut ua = self.ua(user);
        ua.register(300);
        ua
    }

    /// True when `port` is one of ringmaster's RTP ports.
    pub fn is_rtp_port(&self, port: u16) -> bool {
        (self.rtp_ports.0..=self.rtp_ports.1).contains(&port)
    }

    /// The server answers SIP (an OPTIONS gets a response) and HTTP (health).
    pub fn assert_alive(&self) {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let me = sock.local_addr().unwrap();
        let options = format!(
            "OPTIONS sip:test.local SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKalive{p};rport\r\nFrom: <sip:probe@test.local>;tag=p{p}\r\nTo: <sip:test.local>\r\nCall-ID: alive-{p}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            p = me.port()
        );
        sock.send_to(options.as_bytes(), self.srv.sip).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let mut buf = [0u8; 4096];
        let (n, _) = sock
            .recv_from(&mut buf)
            .unwrap_or_else(|e| panic!("no answer to OPTIONS ({e}); log:\n{}", self.srv.log()));
        assert!(
            buf[..n].starts_with(b"SIP/2.0 200"),
            "OPTIONS: {}",
            String::from_utf8_lossy(&buf[..n])
        );
        let health = ureq::get(&format!("http://{}/health", self.srv.http))
            .timeout(Duration::from_secs(3))
            .call();
        assert!(health.is_ok(), "health after the call: {health:?}");
        assert!(
            !self.srv.log().contains("panicked"),
            "the server log shows a panic:\n{}",
            self.srv.log()
        );
    }
}

impl Drop for Rig {
    /// `RINGMASTER_E2E_KEEP=1` keeps the data directory (server log, SIPp error logs) of
    /// every test for a look after the run.
    fn drop(&mut self) {
        if std::env::var_os("RINGMASTER_E2E_KEEP").is_some() {
            let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
            eprintln!("kept {}", dir.keep().display());
        }
    }
}

/// POSTs to the admin API with the server's admin token.
pub fn admin_post(srv: &Server, path: &str, body: Value) -> (u16, Value) {
    let token = std::fs::read_to_string(srv.dir.join("admin.token")).expect("admin token");
    let resp = ureq::post(&format!("http://{}{}", srv.http, path))
        .set("authorization", &format!("Bearer {}", token.trim()))
        .timeout(Duration::from_secs(10))
        .send_json(body);
    let resp = match resp {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("POST {path}: {e}"),
    };
    (resp.status(), resp.into_json().unwrap_or(Value::Null))
}

/// GETs from the admin API with the server's admin token.
pub fn admin_get(srv: &Server, path: &str) -> (u16, Value) {
    admin_get_as(srv, srv, path)
}

/// GETs from `srv`'s admin API with the admin token of `token_of` (several nodes sharing a
/// store share one token).
pub fn admin_get_as(token_of: &Server, srv: &Server, path: &str) -> (u16, Value) {
    let token = std::fs::read_to_string(token_of.dir.join("admin.token")).expect("admin token");
    let resp = ureq::get(&format!("http://{}{}", srv.http, path))
        .set("authorization", &format!("Bearer {}", token.trim()))
        .timeout(Duration::from_secs(10))
        .call();
    let resp = match resp {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("GET {path}: {e}"),
    };
    (resp.status(), resp.into_json().unwrap_or(Value::Null))
}

/// How a request to the HTTP API authenticates.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    /// The server's admin token.
    Admin,
    /// HTTP Basic `appid:secret`.
    App(u64, &'a str),
    None,
}

/// `method` on the HTTP API with `auth`; returns the status and the raw body.
pub fn api_raw(srv: &Server, method: &str, path: &str, auth: Auth) -> (u16, Vec<u8>) {
    use base64::Engine as _;
    let mut req = ureq::request(method, &format!("http://{}{}", srv.http, path))
        .timeout(Duration::from_secs(10));
    match auth {
        Auth::Admin => {
            let token = std::fs::read_to_string(srv.dir.join("admin.token")).expect("admin token");
            req = req.set("authorization", &format!("Bearer {}", token.trim()));
        }
        Auth::App(appid, secret) => {
            let basic =
                base64::engine::general_purpose::STANDARD.encode(format!("{appid}:{secret}"));
            req = req.set("authorization", &format!("Basic {basic}"));
        }
        Auth::None => {}
    }
    let resp = match req.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {path}: {e}"),
    };
    let status = resp.status();
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut resp.into_reader(), &mut body).expect("read body");
    (status, body)
}

impl Rig {
    /// The JSON bodies posted to the event URL so far that `keep` accepts.
    pub fn events(&self, keep: impl Fn(&Value) -> bool) -> Vec<Value> {
        self.web
            .hits("/events")
            .iter()
            .map(|h| h.json())
            .filter(|b| keep(b))
            .collect()
    }

    /// The `error` events' `error` objects so far.
    pub fn error_events(&self) -> Vec<Value> {
        self.events(|b| b["status"] == "error")
            .into_iter()
            .map(|b| b["error"].clone())
            .collect()
    }
}
