//! The Cloud SIP UA tests' "thin device": `tests/cloudua/device.py` (PyJWT for the tokens,
//! pylibsrtp for SRTP, its own G.711 and tone detector; none of it ringmaster's code), run
//! from the venv scripts/setup makes (target/tools/cloudua-py) and driven over stdin/stdout
//! JSON lines. It serves the callbacks on its own loopback port, calls the REST API, and
//! sends and receives its own RTP. Killed by PID on drop; every wait is bounded.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How long one command may take (an HTTP call is bounded at 10 s in the device).
const COMMAND_LIMIT: Duration = Duration::from_secs(20);

fn python() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/cloudua-py/bin/python");
    assert!(
        p.exists(),
        "the thin device's venv is missing; run scripts/setup (PyJWT, cryptography and pylibsrtp into target/tools/cloudua-py)"
    );
    p
}

/// The `Authorization` a request carries.
pub enum Auth {
    /// `Bearer <a token minted per this spec>`: `{"alg": "HS256"|"RS256"|"ES256"|"none"|
    /// "HS256-raw", "key": file, "aud", "domain", "iss", "exp_in" (s, null: no exp),
    /// "nbf_in", "claims": {..}}` (see `mint` in device.py).
    Token(Value),
    /// `Bearer <this string>` as it is.
    Bearer(String),
    /// No `Authorization` header.
    None,
}

/// The key files the device made (`keys`): the HS256 secret, RSA and EC P-256 PEM pairs.
#[derive(Debug, Clone)]
pub struct Keys {
    pub hs256: PathBuf,
    pub rsa_private: PathBuf,
    pub rsa_public: PathBuf,
    pub ec_private: PathBuf,
    pub ec_public: PathBuf,
}

/// What one of the device's RTP ports received so far.
#[derive(Debug, Clone)]
pub struct Heard {
    /// 20 ms frames that are clearly the asked tone.
    pub frames: usize,
    pub packets: usize,
    pub audio_packets: usize,
    /// Packets libsrtp refused (authentication or replay).
    pub srtp_failures: usize,
    pub sources: Vec<String>,
}

/// An HTTP answer: status, JSON (or text) body, headers with lower-case names.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub headers: Value,
}

pub struct Device {
    child: Child,
    stdin: Option<ChildStdin>,
    answers: Receiver<Value>,
    /// Every callback received, in order: `{"callback", "path", "body", "signature",
    /// "signature_ok", "failed"}`.
    callbacks: Arc<Mutex<Vec<Value>>>,
    /// Indexes of callbacks [`Device::wait_callback`] already returned.
    taken: Mutex<HashSet<usize>>,
    /// Where ringmaster's callbacks reach this device (`http://127.0.0.1:PORT/cb`).
    pub callback_base: String,
    /// ringmaster's HTTP base (`http://127.0.0.1:PORT`) and the device's domain.
    pub api: String,
    pub domain: String,
    log: PathBuf,
}

impl Device {
    /// Starts a device of `domain` talking to ringmaster at `http`; its stderr goes to
    /// `dir/device-<domain>.log`.
    pub fn start(dir: &Path, http: SocketAddr, domain: &str) -> Device {
        let log = dir.join(format!("device-{domain}-{}.log", super::ua::token()));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cloudua/device.py");
        let mut child = Command::new(python())
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("device log"))
            .spawn()
            .expect("start the thin device");
        let stdout = child.stdout.take().unwrap();
        let (tx, answers) = channel();
        let callbacks = Arc::new(Mutex::new(Vec::new()));
        let cbs = callbacks.clone();
        // One reader: callbacks go to their list, everything else is an answer (or `ready`).
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let Ok(v) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if v.get("callback").is_some() {
                    cbs.lock().unwrap().push(v);
                } else if tx.send(v).is_err() {
                    break;
                }
            }
        });
        let mut d = Device {
            stdin: child.stdin.take(),
            child,
            answers,
            callbacks,
            taken: Mutex::new(HashSet::new()),
            callback_base: String::new(),
            api: format!("http://{http}"),
            domain: domain.to_string(),
            log,
        };
        let ready = d
            .answers
            .recv_timeout(COMMAND_LIMIT)
            .unwrap_or_else(|_| panic!("the thin device did not start:\n{}", d.log()));
        d.callback_base = ready["ready"]["callback_base"]
            .as_str()
            .unwrap_or_else(|| panic!("not a ready line: {ready}"))
            .to_string();
        d
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Runs one command; its `ok` value (panics on `error`).
    pub fn cmd(&mut self, cmd: Value) -> Value {
        let stdin = self.stdin.as_mut().expect("device stdin");
        writeln!(stdin, "{cmd}").expect("write to the device");
        stdin.flush().unwrap();
        let answer = self
            .answers
            .recv_timeout(COMMAND_LIMIT)
            .unwrap_or_else(|_| {
                panic!(
                    "the device did not answer {cmd} within {COMMAND_LIMIT:?}:\n{}",
                    self.log()
                )
            });
        match answer.get("ok") {
            Some(v) => v.clone(),
            None => panic!("device command {cmd} failed: {answer}\n{}", self.log()),
        }
    }

    /// Generates an HS256 secret and RSA and EC P-256 key pairs into `dir`.
    pub fn keys(&mut self, dir: &Path) -> Keys {
        let k = self.cmd(json!({"cmd": "keys", "dir": dir}));
        let p = |name: &str| PathBuf::from(k[name].as_str().expect("key path"));
        Keys {
            hs256: p("hs256"),
            rsa_private: p("rsa_private"),
            rsa_public: p("rsa_public"),
            ec_private: p("ec_private"),
            ec_public: p("ec_public"),
        }
    }

    /// A token minted per `spec` (see [`Auth::Token`]).
    pub fn token(&mut self, spec: Value) -> String {
        self.cmd(json!({"cmd": "token", "spec": spec}))
            .as_str()
            .expect("a token")
            .to_string()
    }

    /// A fresh SDES key: `inline:<base64 of 30 random bytes>`.
    pub fn srtp_key(&mut self) -> String {
        self.cmd(json!({"cmd": "srtp_key"}))
            .as_str()
            .unwrap()
            .to_string()
    }

    fn request(&mut self, mut cmd: Value, domain: Option<&str>, auth: Auth) -> Answer {
        cmd["api"] = json!(self.api);
        cmd["domain"] = json!(domain.unwrap_or(&self.domain));
        match auth {
            Auth::Token(spec) => cmd["auth"] = json!({"token": spec}),
            Auth::Bearer(s) => cmd["auth"] = json!({"bearer": s}),
            Auth::None => {}
        }
        let a = self.cmd(cmd);
        Answer {
            status: a["status"].as_u64().expect("status") as u16,
            body: a["body"].clone(),
            headers: a["headers"].clone(),
        }
    }

    /// POST /mediaservice/{domain}/{route} with a JSON body.
    pub fn post(&mut self, route: &str, body: Value, auth: Auth) -> Answer {
        self.request(
            json!({"cmd": "post", "route": route, "body": body}),
            None,
            auth,
        )
    }

    /// The same to another domain's path (the token still says what `auth` says).
    pub fn post_to(&mut self, domain: &str, route: &str, body: Value, auth: Auth) -> Answer {
        self.request(
            json!({"cmd": "post", "route": route, "body": body}),
            Some(domain),
            auth,
        )
    }

    /// POST with this body text as it is (bad JSON, say).
    pub fn post_raw(&mut self, route: &str, raw: &str, auth: Auth) -> Answer {
        self.request(
            json!({"cmd": "post", "route": route, "raw": raw}),
            None,
            auth,
        )
    }

    /// The CORS preflight a browser sends before a POST to `route`.
    pub fn options(&mut self, route: &str) -> Answer {
        self.request(
            json!({"cmd": "options", "route": route, "headers": {
                "Origin": "http://device.test",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type"}}),
            None,
            Auth::None,
        )
    }

    /// What `/newRemoteCall` answers from now on: `{"sessionReferenceId": reference}`, or
    /// `{}` with `Value::Null`.
    pub fn reply(&mut self, reference: Value) {
        self.cmd(json!({"cmd": "reply", "session_reference_id": reference}));
    }

    /// Checks every callback's `X-Ringmaster-Signature` with this secret from now on (its
    /// entry's `signature_ok`).
    pub fn signing(&mut self, secret: &str) {
        self.cmd(json!({"cmd": "signing", "secret": secret}));
    }

    /// Answers the next `times` callbacks `name` with 500 (ringmaster must retry them).
    pub fn fail(&mut self, name: &str, times: u32) {
        self.cmd(json!({"cmd": "fail", "callback": name, "times": times}));
    }

    /// Every callback received so far (full entries, see [`Device::callbacks`]).
    pub fn callbacks(&self) -> Vec<Value> {
        self.callbacks.lock().unwrap().clone()
    }

    /// The bodies of the callbacks named `name` received so far.
    pub fn bodies(&self, name: &str) -> Vec<Value> {
        self.callbacks()
            .into_iter()
            .filter(|c| c["callback"] == name)
            .map(|c| c["body"].clone())
            .collect()
    }

    /// The next callback `name` not returned before (its full entry), if one comes in time.
    pub fn try_callback_entry(&self, name: &str, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let cbs = self.callbacks.lock().unwrap();
                let mut taken = self.taken.lock().unwrap();
                if let Some(i) = (0..cbs.len()).find(|i| {
                    !taken.contains(i) && cbs[*i]["callback"] == name && cbs[*i]["failed"] != true
                }) {
                    taken.insert(i);
                    return Some(cbs[i].clone());
                }
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The body of the next callback `name` (answered 200); panics if none comes in time.
    pub fn wait_callback(&self, name: &str, timeout: Duration) -> Value {
        match self.try_callback_entry(name, timeout) {
            Some(c) => c["body"].clone(),
            None => panic!(
                "no {name} callback within {timeout:?}; received: {:#?}",
                self.callbacks()
            ),
        }
    }

    /// Opens (or reuses) RTP port `name` on 127.0.0.1; `srtp` may carry `{"suite", "remote":
    /// "inline:…"}` (the key the device decrypts with). Returns the port.
    pub fn rtp_open(&mut self, name: &str, srtp: Option<Value>) -> u16 {
        let v = self.cmd(json!({"cmd": "rtp_open", "name": name, "srtp": srtp}));
        v["port"].as_u64().expect("port") as u16
    }

    /// Sends a `hz` tone in `codec` (PCMU/PCMA) from port `name` to `to`, 20 ms a packet in
    /// real time until [`Device::rtp_stop`]; `srtp` `{"suite", "local", "remote"}` (encrypt
    /// with `local`, decrypt with `remote`).
    pub fn rtp_send(
        &mut self,
        name: &str,
        to: SocketAddr,
        codec: &str,
        hz: u32,
        srtp: Option<Value>,
    ) {
        self.cmd(
            json!({"cmd": "rtp_send", "name": name, "ip": to.ip().to_string(),
                        "port": to.port(), "codec": codec, "hz": hz, "srtp": srtp}),
        );
    }

    pub fn rtp_stop(&mut self, name: &str) {
        self.cmd(json!({"cmd": "rtp_stop", "name": name}));
    }

    /// What port `name` received so far, with the frames of a `hz` tone.
    pub fn heard(&mut self, name: &str, hz: u32) -> Heard {
        let v = self.cmd(json!({"cmd": "heard", "name": name, "hz": hz}));
        let n = |k: &str| v[k].as_u64().unwrap_or(0) as usize;
        Heard {
            frames: n("frames"),
            packets: n("packets"),
            audio_packets: n("audio_packets"),
            srtp_failures: n("srtp_failures"),
            sources: v["sources"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// Waits (bounded) until port `name` heard `frames` frames of `hz`; the last measure.
    pub fn wait_heard(&mut self, name: &str, hz: u32, frames: usize, timeout: Duration) -> Heard {
        let deadline = Instant::now() + timeout;
        loop {
            let h = self.heard(name, hz);
            if h.frames >= frames || Instant::now() > deadline {
                return h;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Device {
    /// Closing stdin asks the device to stop its threads and exit; it is killed (by PID,
    /// through the `Child`) if it has not within two seconds.
    fn drop(&mut self) {
        super::close_then_kill(self.stdin.take(), &mut self.child);
    }
}
