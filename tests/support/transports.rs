//! Helpers of the transport tests (`e2e_transport_ws_tls`, `e2e_transport_clients`): a
//! server with its ws, wss and TLS listeners on loopback ports the test chose, what the admin
//! API lists, and certificates made with openssl.

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use super::free_port;
use super::http::Reply;
use super::rig::{admin_get, Rig, CONFIG};
use super::stream_ua::{self, Kind, StreamUa};

/// The three listeners on ports of our choosing.
pub struct Ports {
    pub ws: SocketAddr,
    pub wss: SocketAddr,
    pub tls: SocketAddr,
}

impl Ports {
    pub fn new() -> Ports {
        let p = || SocketAddr::from(([127, 0, 0, 1], free_port()));
        Ports {
            ws: p(),
            wss: p(),
            tls: p(),
        }
    }

    pub fn of(&self, k: Kind) -> SocketAddr {
        match k {
            Kind::Ws => self.ws,
            Kind::Wss => self.wss,
            Kind::Tls => self.tls,
            Kind::Tcp => panic!("SIP over TCP is on the server's SIP port (Server::sip)"),
        }
    }

    pub fn flags(&self) -> Vec<String> {
        vec![
            "--ws-listen".into(),
            self.ws.to_string(),
            "--wss-listen".into(),
            self.wss.to_string(),
            "--sip-tls-listen".into(),
            self.tls.to_string(),
        ]
    }
}

/// A call-test rig (see `rig`) with the three listeners on `ports` and more `serve` flags.
pub fn rig_with(replies: Vec<Reply>, ports: &Ports, more: &[&str]) -> Rig {
    let flags = ports.flags();
    let mut args: Vec<&str> = flags.iter().map(String::as_str).collect();
    args.extend_from_slice(more);
    Rig::configured_with(replies, None, CONFIG, &args)
}

/// A script that connects the SIP user `user`.
pub fn connect(user: &str) -> Value {
    json!([{"action": "connect", "timeout": 20, "call": [{"type": "sip", "user": user}]}])
}

/// A client of `rig` for `user` (password `pw-<user>`) over `kind`.
pub fn client(rig: &Rig, ports: &Ports, kind: Kind, user: &str) -> StreamUa {
    StreamUa::connect(
        kind,
        ports.of(kind),
        &stream_ua::self_signed(&rig.srv.dir),
        user,
        &format!("pw-{user}"),
    )
}

/// The live registrations of `user` as the admin API lists them.
pub fn registrations_of(rig: &Rig, user: &str) -> Vec<Value> {
    let (status, body) = admin_get(&rig.srv, "/admin/v1/registrations");
    assert_eq!(status, 200, "{body}");
    body["registrations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["username"] == user)
        .cloned()
        .collect()
}

/// Whether the server hangs up on `s` within `wait` (reads until EOF or a reset).
pub fn hung_up(s: &mut TcpStream, wait: Duration) -> bool {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) => {
                return !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                )
            }
        }
    }
}

/// A self-signed certificate for `localhost` made by openssl, in `dir` as `name`-cert.pem and
/// `name`-key.pem.
pub fn openssl_pair(dir: &Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let cert = dir.join(format!("{name}-cert.pem"));
    let key = dir.join(format!("{name}-key.pem"));
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost"])
        // An end-entity certificate (openssl makes a CA by default, which rustls refuses).
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    (cert, key)
}
