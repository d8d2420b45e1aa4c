//! A real softphone for the tests: Debian's baresip (scripts/setup installs baresip-core),
//! registered with an account, sending its own sine tone (`ausine`) and dumping the audio it
//! receives to a WAV (`sndfile`), so a test checks what the phone heard. It answers calls
//! itself (`answermode=auto`) and can dial at start (`-e /dial …`). Killed by PID on drop.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::free_port;

pub struct Baresip {
    child: Child,
    pub dir: PathBuf,
}

/// How a phone is set up.
pub struct PhoneSpec<'a> {
    /// `user@domain` of the account.
    pub aor: &'a str,
    pub password: &'a str,
    /// ringmaster's SIP address (the outbound proxy).
    pub server: SocketAddr,
    /// The tone the phone sends, Hz.
    pub tone: u32,
    /// Dial this at start (a number or a SIP URI).
    pub dial: Option<&'a str>,
    /// Quit after this many seconds.
    pub seconds: u32,
}

/// What some tests add to a phone: SRTP, SIP over TLS.
#[derive(Default)]
pub struct Secure<'a> {
    /// The account's `mediaenc` (`srtp-mand`, `srtp`); loads `srtp.so`.
    pub mediaenc: Option<&'a str>,
    /// Register and call over TLS to this address, trusting this CA (our self-signed
    /// certificate), with a SIP trace in the log (`-s`).
    pub tls: Option<(SocketAddr, &'a Path)>,
}

impl Baresip {
    pub fn start(dir: &Path, spec: &PhoneSpec<'_>) -> Baresip {
        Baresip::start_secure(dir, spec, &Secure::default())
    }

    pub fn start_secure(dir: &Path, spec: &PhoneSpec<'_>, secure: &Secure<'_>) -> Baresip {
        assert!(
            Command::new("baresip").arg("-h").output().is_ok(),
            "baresip is not installed; run scripts/setup (installs Debian's baresip-core)"
        );
        let user = spec.aor.split('@').next().unwrap_or("phone");
        let conf = dir.join(format!("baresip-{user}"));
        std::fs::create_dir_all(&conf).unwrap();
        let mut extra = String::new();
        let mut params = String::new();
        if let Some(enc) = secure.mediaenc {
            extra.push_str("module srtp.so\n");
            params.push_str(&format!(";mediaenc={enc}"));
        }
        let outbound = match secure.tls {
            Some((addr, ca)) => {
                extra.push_str(&format!("sip_cafile {}\n", ca.display()));
                format!("sip:{addr};transport=tls")
            }
            None => format!("sip:{}", spec.server),
        };
        // ausine makes 48 kHz stereo only; baresip resamples it for G.711.
        std::fs::write(
            conf.join("config"),
            format!(
                "sip_listen 127.0.0.1:{}\n{extra}module_path /usr/lib/baresip/modules\nmodule g711.so\nmodule ausine.so\nmodule aubridge.so\nmodule sndfile.so\nmodule menu.so\nmodule_app account.so\naudio_source ausine,{}\naudio_player aubridge,sink\nausrc_srate 48000\nausrc_channels 2\nsnd_path {}\n",
                free_port(),
                spec.tone,
                conf.display()
            ),
        )
        .unwrap();
        std::fs::write(
            conf.join("accounts"),
            format!(
                "<sip:{}>;auth_pass={};outbound=\"{outbound}\"{params};regint=600;answermode=auto\n",
                spec.aor, spec.password
            ),
        )
        .unwrap();
        let mut cmd = Command::new("baresip");
        cmd.arg("-f")
            .arg(&conf)
            .arg("-t")
            .arg(spec.seconds.to_string());
        if secure.tls.is_some() {
            // Loopback only (its SDP must not name the machine's other addresses), and a SIP
            // trace that says over which transport each message went.
            cmd.args(["-n", "127.0.0.1", "-s"]);
        }
        if let Some(to) = spec.dial {
            cmd.arg("-e").arg(format!("/dial {to}"));
        }
        let log = std::fs::File::create(conf.join("baresip.log")).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start baresip");
        Baresip { child, dir: conf }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("baresip.log")).unwrap_or_default()
    }

    /// Waits (bounded) until the log contains `text`.
    pub fn wait_log(&self, text: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.log().contains(text) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Asks baresip to quit, as its user would (SIGTERM by PID, with the `kill` program):
    /// it hangs up its calls (BYE) and unregisters before it exits.
    pub fn quit(&self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
    }

    /// The audio the phone received in its calls so far (8 kHz mono samples of every
    /// `dump-*-dec.wav`, in file-name order).
    pub fn heard(&self) -> Vec<i16> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with("-dec.wav"))
            .collect();
        files.sort();
        let mut out = Vec::new();
        for f in files {
            // The file's header is final only when the call ended; read the samples as
            // they are (hound stops at what the header says, so read raw past the header).
            let bytes = std::fs::read(&f).unwrap_or_default();
            out.extend(
                bytes
                    .get(44..)
                    .unwrap_or_default()
                    .chunks_exact(2)
                    .map(|b| i16::from_le_bytes([b[0], b[1]])),
            );
        }
        out
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
