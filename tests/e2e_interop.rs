//! Interop with a real softphone stack: Debian's baresip registers over UDP and over TCP with
//! the default digest settings, unregisters on exit, and an endpoint removed through the API
//! loses its binding at once.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use support::{free_port, Server};

/// A baresip process (killed by PID on drop).
struct Baresip(Child);

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn baresip(dir: &std::path::Path, srv: &Server, transport: &str, seconds: u32) -> Baresip {
    assert!(
        Command::new("baresip").arg("-h").output().is_ok(),
        "baresip is not installed; run scripts/setup (installs Debian's baresip-core)"
    );
    let conf = dir.join(format!("baresip-{transport}"));
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(
        conf.join("config"),
        format!(
            "sip_listen 127.0.0.1:{}\nmodule_path /usr/lib/baresip/modules\nmodule_app account.so\n",
            free_port()
        ),
    )
    .unwrap();
    std::fs::write(
        conf.join("accounts"),
        format!(
            "<sip:carol@test.local>;auth_pass=carol-pass-1;outbound=\"sip:{};transport={transport}\";regint=600\n",
            srv.sip
        ),
    )
    .unwrap();
    let child = Command::new("baresip")
        .arg("-f")
        .arg(&conf)
        .arg("-t")
        .arg(seconds.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start baresip");
    Baresip(child)
}

/// Polls the registrations of `user` until `want` holds (bounded).
fn wait_for(
    srv: &Server,
    user: &str,
    want: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let all = srv.cli_json(&["registrations", "--json"]);
        let mine: Vec<_> = all
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["username"] == user)
            .cloned()
            .collect();
        if want(&mine) {
            return mine;
        }
        assert!(
            Instant::now() < deadline,
            "registrations of {user} never satisfied the check: {mine:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn baresip_registers_over_udp_and_tcp_and_removal_drops_the_binding() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &[]);
    let app = srv.cli_json(&[
        "app",
        "create",
        "--name",
        "interop",
        "--answer-url",
        "http://127.0.0.1:9/a",
        "--json",
    ]);
    let (appid, secret) = (
        app["appid"].as_u64().unwrap(),
        app["secret"].as_str().unwrap().to_string(),
    );
    let add = || {
        srv.post("/v1/endpoint/add_sip", json!({"appid": appid, "secret": secret, "username": "carol", "password": "carol-pass-1"}))
    };
    assert_eq!(add().0, 200);

    // UDP: registers, then unregisters (Expires: 0) when it quits.
    let mut phone = baresip(dir.path(), &srv, "udp", 3);
    let regs = wait_for(&srv, "carol", |r| r.len() == 1);
    assert_eq!(regs[0]["transport"], "udp");
    assert!(regs[0]["expires_in"].as_u64().unwrap() > 500);
    let _ = phone.0.wait();
    wait_for(&srv, "carol", |r| r.is_empty());

    // TCP: registers; removing the endpoint drops the binding at once.
    let _phone = baresip(dir.path(), &srv, "tcp", 30);
    let regs = wait_for(&srv, "carol", |r| r.len() == 1);
    assert_eq!(regs[0]["transport"], "tcp");
    let (s, _) = srv.post(
        "/v1/endpoint/remove_sip",
        json!({"appid": appid, "secret": secret, "username": "carol"}),
    );
    assert_eq!(s, 200);
    let now = srv.cli_json(&["registrations", "--json"]);
    assert!(
        now.as_array()
            .unwrap()
            .iter()
            .all(|r| r["username"] != "carol"),
        "binding gone with the endpoint: {now}"
    );
}
