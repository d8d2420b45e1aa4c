//! SIPp as a registered phone whose exit code means something.
//!
//! Pairing `register_wait.xml` with `-oocsf uas_ring.xml` in one SIPp does not prove that the
//! phone saw its CANCEL: SIPp's exit code counts only the main scenario, and an out-of-call
//! call that never completes is just "aborted" when the main one ends (checked with SIPp
//! 3.6.1: the process exits 0). So a phone here is two SIPp runs on the same UDP port: one
//! registers (and exits 0 only on a 200), then one runs the phone's scenario as a UAS for a
//! given number of calls. Its exit code is 0 only if every call went through the whole
//! scenario (for `uas_ring.xml`: INVITE, CANCEL, 200, 487, ACK).

use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, sipp, test_file, Server};

pub struct SippPhone {
    child: Option<Child>,
    pub port: u16,
    errors: PathBuf,
}

impl SippPhone {
    /// Registers `user` (password `pw-<user>`, see `Rig::endpoint`) from a fresh port, then
    /// starts `scenario` (a file under tests/sipp/) on that port for `calls` calls; every
    /// call must complete within `limit`.
    pub fn start(
        srv: &Server,
        dir: &std::path::Path,
        user: &str,
        scenario: &str,
        calls: u32,
        limit: Duration,
    ) -> SippPhone {
        SippPhone::start_with(srv, dir, user, scenario, calls, limit, &[])
    }

    /// [`SippPhone::start`] with more SIPp arguments for the phone's run (`-set ring_ms 500`,
    /// `-rtp_echo`...).
    pub fn start_with(
        srv: &Server,
        dir: &std::path::Path,
        user: &str,
        scenario: &str,
        calls: u32,
        limit: Duration,
        extra: &[&str],
    ) -> SippPhone {
        let port = free_port();
        let csv = dir.join(format!("{user}-{port}.csv"));
        std::fs::write(
            &csv,
            format!("SEQUENTIAL\n{user};test.local;[authentication username={user} password=pw-{user}]\n"),
        )
        .unwrap();
        let reg = test_file("sipp/register_auth.xml");
        let code = sipp(
            &[
                &srv.sip.to_string(),
                "-sf",
                reg.to_str().unwrap(),
                "-inf",
                csv.to_str().unwrap(),
                "-set",
                "expires",
                "300",
                "-m",
                "1",
                "-i",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-timeout",
                "10s",
            ],
            Duration::from_secs(15),
        );
        assert_eq!(code, 0, "SIPp could not register {user}");
        let errors = dir.join(format!("sipp-{user}-{port}-errors.log"));
        let child = Command::new("sipp")
            .args([
                "-sf",
                test_file(&format!("sipp/{scenario}")).to_str().unwrap(),
            ])
            .args(["-i", "127.0.0.1", "-p", &port.to_string()])
            .args(["-mp", &free_port().to_string()])
            .args(["-m", &calls.to_string()])
            .args(["-timeout", &format!("{}s", limit.as_secs().max(1))])
            .args(extra)
            .args(["-timeout_error", "-nostdin", "-trace_err", "-error_file"])
            .arg(&errors)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sipp");
        let mut phone = SippPhone {
            child: Some(child),
            port,
            errors,
        };
        phone.wait_bound();
        phone
    }

    /// Until SIPp holds its port (so an INVITE cannot arrive before it listens).
    fn wait_bound(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while UdpSocket::bind(("127.0.0.1", self.port)).is_ok() {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("SIPp phone exited at start: {status}; {}", self.errors());
            }
            assert!(Instant::now() < deadline, "SIPp phone never bound its port");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn errors(&self) -> String {
        std::fs::read_to_string(&self.errors).unwrap_or_default()
    }

    /// Waits for SIPp to finish (it exits on its own after its calls or its `-timeout`);
    /// returns its exit code and its error log.
    pub fn finish(mut self, limit: Duration) -> (i32, String) {
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return (status.code().unwrap_or(-1), self.errors());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return (
                    -1,
                    format!("still running after {limit:?}; {}", self.errors()),
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for SippPhone {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
