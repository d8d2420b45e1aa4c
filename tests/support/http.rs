//! A small HTTP server inside the test, on loopback: it plays the app's web server.
//!
//! `/answer` answers with a scripted [`Reply`] per request (the n-th request gets the n-th
//! reply, the last one repeats), so a test can make the answer URL fail, stall or answer
//! garbage. A path given a fixed reply with `route` (an action URL, a prompt file) gets it; every
//! other path (the event URL) answers 200. Every request is recorded with its
//! headers and raw body, so a test can check what ringmaster sent and verify the signatures
//! over the exact bytes. Plain `std` (one thread per connection, `Connection: close`): the
//! stub must not share a runtime or a bug with the server it checks.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// How `/answer` answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// 200 with this JSON body (a PCMO script).
    Json(Value),
    /// 200 with this body as is (e.g. JSON that does not parse).
    Text(String),
    /// This status, empty body.
    Status(u16),
    /// Waits, then replies (a slow app; the wait ends early when the stub is dropped).
    After(Duration, Box<Reply>),
    /// 200 with these bytes and this content type (a file for `file_url`).
    Bytes(&'static str, Vec<u8>),
    /// 302 to this URL.
    Redirect(String),
}

/// One request the stub received.
#[derive(Debug, Clone)]
pub struct Hit {
    pub path: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Hit {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} body is not JSON ({e}): {}",
                self.path,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Checks `X-Ringmaster-Signature` over the raw body with the app's secret, as a receiver
    /// would (5 minutes of tolerance).
    pub fn verify_signature(&self, secret: &str) -> Result<(), String> {
        let header = self
            .header("x-ringmaster-signature")
            .ok_or("no X-Ringmaster-Signature header")?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        engine::webhook::verify(secret, header, &self.body, now, 300).map_err(|e| e.to_string())
    }
}

struct Shared {
    replies: Vec<Reply>,
    /// Fixed replies of other paths (see [`HttpStub::route`]).
    routes: Vec<(String, Reply)>,
    answers_served: usize,
    hits: Vec<Hit>,
}

/// The running stub; stops accepting when dropped.
pub struct HttpStub {
    pub addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
}

impl HttpStub {
    /// Serves `/answer` with `replies` (at least one).
    pub fn start(replies: Vec<Reply>) -> HttpStub {
        HttpStub::start_on("127.0.0.1", replies)
    }

    /// Same, on another loopback address (`127.0.0.5`), for tests of address policies.
    pub fn start_on(ip: &str, replies: Vec<Reply>) -> HttpStub {
        assert!(!replies.is_empty(), "the answer URL needs a reply");
        assert!(ip.starts_with("127."), "tests stay on loopback");
        let listener = TcpListener::bind((ip, 0)).expect("bind http stub");
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Mutex::new(Shared {
            replies,
            routes: Vec::new(),
            answers_served: 0,
            hits: Vec::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (shared.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (s, st) = (s.clone(), st.clone());
                std::thread::spawn(move || serve(conn, &s, &st));
            }
        });
        HttpStub { addr, shared, stop }
    }

    /// A stub whose answer URL always returns `script`.
    pub fn script(script: Value) -> HttpStub {
        HttpStub::start(vec![Reply::Json(script)])
    }

    /// Replaces the replies of `/answer` (counting starts again), for scripts that name
    /// addresses known only once the phones exist.
    pub fn set_replies(&self, replies: Vec<Reply>) {
        assert!(!replies.is_empty(), "the answer URL needs a reply");
        let mut s = self.shared.lock().unwrap();
        s.replies = replies;
        s.answers_served = 0;
    }

    /// Every request to `path` (exact, query included) gets `reply` from now on: an action
    /// URL's script, a prompt file, a status.
    pub fn route(&self, path: &str, reply: Reply) {
        let mut s = self.shared.lock().unwrap();
        s.routes.retain(|(p, _)| p != path);
        s.routes.push((path.to_string(), reply));
    }

    /// `http://<stub>/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn answer_url(&self) -> String {
        format!("http://{}/answer", self.addr)
    }

    pub fn event_url(&self) -> String {
        format!("http://{}/events", self.addr)
    }

    /// Every request whose target starts with `prefix` (a GET with its query), in order.
    pub fn hits_prefixed(&self, prefix: &str) -> Vec<Hit> {
        let s = self.shared.lock().unwrap();
        s.hits
            .iter()
            .filter(|h| h.path.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// Every request to `path` so far, in arrival order.
    pub fn hits(&self, path: &str) -> Vec<Hit> {
        let s = self.shared.lock().unwrap();
        s.hits.iter().filter(|h| h.path == path).cloned().collect()
    }

    /// Waits (bounded) until `done` holds for the requests to `path`; returns them.
    pub fn wait_hits(
        &self,
        path: &str,
        timeout: Duration,
        done: impl Fn(&[Hit]) -> bool,
    ) -> Vec<Hit> {
        let deadline = Instant::now() + timeout;
        loop {
            let hits = self.hits(path);
            if done(&hits) {
                return hits;
            }
            if Instant::now() > deadline {
                let bodies: Vec<String> = hits
                    .iter()
                    .map(|h| String::from_utf8_lossy(&h.body).into_owned())
                    .collect();
                panic!("{path}: condition not met in {timeout:?}; got {bodies:#?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for HttpStub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so its thread ends.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

/// One connection: one request, one reply, close.
fn serve(conn: TcpStream, shared: &Mutex<Shared>, stop: &AtomicBool) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 {
            return;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((n, v)) = h.split_once(':') {
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let reply = {
        let mut s = shared.lock().unwrap();
        s.hits.push(Hit {
            path: path.clone(),
            headers,
            body,
            at: Instant::now(),
        });
        if let Some((_, r)) = s.routes.iter().find(|(p, _)| *p == path) {
            r.clone()
        } else if path == "/answer" {
            let i = s.answers_served.min(s.replies.len() - 1);
            s.answers_served += 1;
            s.replies[i].clone()
        } else {
            Reply::Text(String::new())
        }
    };
    let mut conn = reader.into_inner();
    respond(&mut conn, reply, stop);
}

fn respond(conn: &mut TcpStream, reply: Reply, stop: &AtomicBool) {
    let mut location = String::new();
    let (status, body, ctype) = match reply {
        Reply::Redirect(to) => {
            location = format!("location: {to}\r\n");
            (302, Vec::new(), "text/plain")
        }
        Reply::Json(v) => (200, v.to_string().into_bytes(), "application/json"),
        Reply::Text(t) => (200, t.into_bytes(), "application/json"),
        Reply::Status(s) => (s, Vec::new(), "application/json"),
        Reply::Bytes(ctype, bytes) => (200, bytes, ctype),
        Reply::After(wait, then) => {
            let until = Instant::now() + wait;
            while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
            return respond(conn, *then, stop);
        }
    };
    let head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: {ctype}\r\n{location}content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(&body);
    let _ = conn.flush();
}
