//! SIPp as a caller whose audio the test hears.
//!
//! SIPp does the signalling (its exit code is 0 only if the whole scenario ran); its SDP puts
//! the audio at `-mp + 1` (`[media_port+1]` in the `uac_media_*.xml` scenarios), a port SIPp
//! leaves alone (it binds `-mp` and `-mp + 2`), where the test's [`Capture`] listens. RTP
//! packets SIPp plays from a capture (`play_pcap_audio`) leave from that same port, so for
//! ringmaster the digits and the listener are one endpoint, as for a real phone.

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::audio::Capture;
use super::{free_port, test_file, Server};

pub struct SippCaller {
    child: Option<Child>,
    errors: PathBuf,
    /// What ringmaster sends to this caller.
    pub capture: Capture,
}

impl SippCaller {
    /// `user` (an endpoint with password `pw-<user>`) calls `service` with `scenario` (a file
    /// under tests/sipp/); `extra`: more SIPp arguments (`-set wait_ms 500`...). SIPp gives up
    /// after `limit`.
    pub fn start(
        srv: &Server,
        dir: &Path,
        user: &str,
        service: &str,
        scenario: &str,
        limit: Duration,
        extra: &[&str],
    ) -> SippCaller {
        let (media_port, listener) = media_ports();
        let csv = dir.join(format!("{user}-caller-{media_port}.csv"));
        std::fs::write(
            &csv,
            format!("SEQUENTIAL\n{user};test.local;[authentication username={user} password=pw-{user}]\n"),
        )
        .unwrap();
        let errors = dir.join(format!("sipp-{user}-{media_port}-errors.log"));
        let child = Command::new("sipp")
            .arg(srv.sip.to_string())
            .args([
                "-sf",
                test_file(&format!("sipp/{scenario}")).to_str().unwrap(),
            ])
            .args(["-inf", csv.to_str().unwrap(), "-s", service, "-m", "1"])
            .args(["-i", "127.0.0.1", "-p", &free_port().to_string()])
            .args(["-mp", &media_port.to_string()])
            .args(["-timeout", &format!("{}s", limit.as_secs().max(1))])
            .args(extra)
            .args(["-timeout_error", "-nostdin", "-trace_err", "-error_file"])
            .arg(&errors)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sipp (scripts/setup installs it)");
        SippCaller {
            child: Some(child),
            errors,
            capture: Capture::on(listener),
        }
    }

    /// Waits for SIPp to end its scenario; returns its exit code and its error log.
    pub fn finish(&mut self, limit: Duration) -> (i32, String) {
        let mut child = self.child.take().expect("finish once");
        let errors = || std::fs::read_to_string(&self.errors).unwrap_or_default();
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return (status.code().unwrap_or(-1), errors());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return (-1, format!("still running after {limit:?}; {}", errors()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for SippCaller {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A SIPp media port `m` with `m` and `m + 2` free, and a socket bound at `m + 1`. Taken
/// below the kernel's ephemeral range and above the rigs' RTP ranges (20000-29999).
fn media_ports() -> (u16, UdpSocket) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let seed = u64::from(nanos ^ std::process::id().wrapping_mul(7919));
    for attempt in 0..500u64 {
        let m = 30_000 + ((seed + attempt * 7) % 2_700) as u16;
        let Ok(listener) = UdpSocket::bind(("127.0.0.1", m + 1)) else {
            continue;
        };
        let free = |p: u16| UdpSocket::bind(("127.0.0.1", p)).is_ok();
        if free(m) && free(m + 2) {
            return (m, listener);
        }
    }
    panic!("no free SIPp media ports");
}
