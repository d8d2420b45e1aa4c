//! End-to-end test support: the real `ringmaster` binary on loopback, its CLI, HTTP calls and
//! SIPp. Every process started here is stopped by PID when its handle drops, every wait is
//! bounded, and every address is on 127.0.0.0/8.
//!
//! For the call tests: [`rig`] (a server, the app's web server and an app), [`http`] (that
//! web server: answer URL and event URL), [`ua`] and [`rtp`] (a test SIP phone with RTP),
//! [`phone`] (SIPp as a registered phone).
//!
//! For the media tests: [`audio`] (RTP capture, G.711 tones, decoding and measures, WAV
//! files) and [`caller`] (SIPp as a caller whose audio the test hears).
#![allow(dead_code)]

pub mod audio;
pub mod bandwidth;
pub mod baresip;
pub mod browser;
pub mod caller;
pub mod cloudua;
pub mod cloudua_rig;
pub mod http;
pub mod phone;
pub mod postgres;
pub mod reports;
pub mod rig;
pub mod rtp;
pub mod store_node;
pub mod stream_agent;
pub mod stream_calls;
pub mod stream_ua;
pub mod transports;
pub mod ua;
pub mod wire;

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_ringmaster");

/// The listeners that are on by default on fixed ports (ws 8088, wss 8089, TLS 5061): tests
/// running side by side would fight over them, so every server a test starts has them off
/// unless the test names its own loopback port for one.
const FIXED_PORT_LISTENERS: [&str; 3] = ["--ws-listen", "--wss-listen", "--sip-tls-listen"];

/// `--ws-listen off` and the others, for each fixed-port listener `extra` does not set.
pub fn fixed_ports_off(extra: &[String]) -> Vec<String> {
    FIXED_PORT_LISTENERS
        .iter()
        .filter(|flag| !extra.iter().any(|e| e == *flag))
        .flat_map(|flag| [flag.to_string(), "off".to_string()])
        .collect()
}

/// Where [`free_port`] hands out ports: below the kernel's ephemeral range (32768-60999 on
/// Linux) and below the RTP windows [`rig`] gives servers (20000-29999). A port the kernel
/// chose for us (bind to port 0, then closed) could be handed by the kernel to another
/// socket, an outgoing HTTP connection say, before the server binds it: CI once failed on
/// exactly that ("Address already in use"). Ports from this window are never auto-assigned.
const PORT_WINDOW: std::ops::Range<u32> = 10_000..20_000;
/// Ports handed out are this far apart, so SIPp's media port and the port after it (RTCP) are
/// never another allocation's.
const PORT_STEP: u32 = 4;

/// A port free for both UDP and TCP on 127.0.0.1, never the same twice in a test process.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let slots = PORT_WINDOW.len() as u32 / PORT_STEP;
    // Each test binary starts at its own place in the window (binaries run one after the other,
    // but a server a previous one stopped may still be closing its sockets).
    let _ = NEXT.compare_exchange(
        u32::MAX,
        std::process::id() % slots,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..slots {
        let slot = NEXT.fetch_add(1, Ordering::SeqCst) % slots;
        let port = (PORT_WINDOW.start + slot * PORT_STEP) as u16;
        if UdpSocket::bind(("127.0.0.1", port)).is_ok()
            && TcpListener::bind(("127.0.0.1", port)).is_ok()
        {
            return port;
        }
    }
    panic!("no free port in {PORT_WINDOW:?}");
}

/// A running `ringmaster serve`.
pub struct Server {
    pub dir: PathBuf,
    pub sip: SocketAddr,
    pub http: SocketAddr,
    extra: Vec<String>,
    child: Option<Child>,
}

impl Server {
    /// Starts the server on fresh loopback ports with its data in `dir`.
    pub fn start(dir: &Path, extra: &[&str]) -> Server {
        Server::start_at([127, 0, 0, 1], dir, extra)
    }

    /// [`Server::start`] with SIP and HTTP on another loopback address (`[127, 0, 0, 2]`:
    /// one node of several on one machine).
    pub fn start_at(ip: [u8; 4], dir: &Path, extra: &[&str]) -> Server {
        assert_eq!(ip[0], 127, "tests stay on loopback");
        let mut s = Server {
            dir: dir.to_path_buf(),
            sip: SocketAddr::from((ip, free_port())),
            http: SocketAddr::from((ip, free_port())),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            child: None,
        };
        // Something outside the tests may still take a port between our check and the
        // server's bind: then fresh ports, a few times (the log keeps each attempt).
        for _ in 0..3 {
            match s.try_spawn() {
                Ok(()) => return s,
                Err(log) if log.contains("Address already in use") => {
                    s.sip = SocketAddr::from((ip, free_port()));
                    s.http = SocketAddr::from((ip, free_port()));
                }
                Err(log) => panic!("ringmaster exited during start; log:\n{log}"),
            }
        }
        panic!(
            "ringmaster found its ports taken three times; log:\n{}",
            s.log()
        );
    }

    fn spawn(&mut self) {
        if let Err(log) = self.try_spawn() {
            panic!("ringmaster exited during start; log:\n{log}");
        }
    }

    /// Starts the process and waits until it is healthy; the log if it exited first.
    fn try_spawn(&mut self) -> Result<(), String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.log"))
            .expect("log file");
        let child = Command::new(BIN)
            .arg("serve")
            .arg("--data-dir")
            .arg(&self.dir)
            .arg("--sip-listen")
            .arg(self.sip.to_string())
            .arg("--http-listen")
            .arg(self.http.to_string())
            .arg("--sip-domain")
            .arg("test.local")
            .args(&self.extra)
            .args(fixed_ports_off(&self.extra))
            .env(
                "RUST_LOG",
                std::env::var("RINGMASTER_E2E_LOG").unwrap_or_else(|_| "info".into()),
            )
            // tracing's fmt subscriber writes to stdout: both streams go to the log file.
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start ringmaster");
        self.child = Some(child);
        self.wait_healthy()
    }

    fn wait_healthy(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let url = format!("http://{}/health", self.http);
        while Instant::now() < deadline {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    self.child = None;
                    return Err(format!("(exit status {status})\n{}", self.log()));
                }
            }
            if ureq::get(&url)
                .timeout(Duration::from_millis(500))
                .call()
                .is_ok()
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("ringmaster did not become healthy; log:\n{}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// `kill -9`, as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts again on the same ports and data directory.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Sends a signal (`"TERM"`, `"INT"`...) to the server process, by its PID, with the
    /// `kill` program (the workspace forbids the unsafe `libc::kill`).
    pub fn signal(&self, signal: &str) {
        if let Some(pid) = self.pid() {
            let ok = Command::new("kill")
                .arg(format!("-{signal}"))
                .arg(pid.to_string())
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "kill -{signal} {pid}");
        }
    }

    /// Waits (at most `limit`) for the server to exit by itself; its exit status, or None if
    /// it is still running (it is then left for `Drop` to kill).
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    self.child = None;
                    return Some(status);
                }
            } else {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Runs an operator command against this server.
    pub fn cli(&self, args: &[&str]) -> Output {
        let out = Command::new(BIN)
            .args(args)
            .arg("--server")
            .arg(format!("http://{}", self.http))
            .arg("--data-dir")
            .arg(&self.dir)
            .output()
            .expect("run ringmaster cli");
        out
    }

    /// Runs an operator command that prints JSON and parses it.
    pub fn cli_json(&self, args: &[&str]) -> Value {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{args:?} printed no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// An app (answer URL on a dead port) with these endpoints, as `(username, password)`;
    /// the app's JSON (`appid`, `secret`).
    pub fn app_with_endpoints(&self, endpoints: &[(&str, &str)]) -> Value {
        let app = self.cli_json(&[
            "app",
            "create",
            "--name",
            "defence",
            "--answer-url",
            "http://127.0.0.1:9/answer",
            "--json",
        ]);
        for (user, password) in endpoints {
            let (status, body) = self.post(
                "/v1/endpoint/add_sip",
                serde_json::json!({"appid": app["appid"], "secret": app["secret"],
                                   "username": user, "password": password}),
            );
            assert_eq!(status, 200, "add_sip {user}: {body}");
        }
        app
    }

    /// POSTs JSON to the HTTP API; returns the status and the JSON answer.
    pub fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let url = format!("http://{}{}", self.http, path);
        let resp = ureq::post(&url)
            .timeout(Duration::from_secs(10))
            .send_json(body);
        let resp = match resp {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("POST {url}: {e}"),
        };
        let status = resp.status();
        (status, resp.into_json().unwrap_or(Value::Null))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// SIPp, bounded in time, killed by PID if it overruns. Returns its exit code (0: every call
/// succeeded).
pub fn sipp(args: &[&str], limit: Duration) -> i32 {
    assert!(
        Command::new("sipp").arg("-v").output().is_ok(),
        "SIPp is not installed; run scripts/setup (installs Debian's sip-tester)"
    );
    let mut child = Command::new("sipp")
        .args(args)
        .args(["-nostdin", "-timeout_error"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sipp");
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("sipp overran {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Path of a file under tests/.
pub fn test_file(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(rel)
}

/// Ends a helper program driven over stdin: closing its stdin asks it to exit; it is killed
/// (by PID, through the `Child`) if it has not within two seconds.
pub fn close_then_kill(stdin: Option<std::process::ChildStdin>, child: &mut Child) {
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}
