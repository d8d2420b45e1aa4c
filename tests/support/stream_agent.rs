//! The `stream` tests' voice agents, each a Python WebSocket server on 127.0.0.1 run from the
//! venv scripts/setup makes (target/tools/stream-py) and driven over stdin/stdout JSON lines:
//!
//! - [`Agent`]: tests/stream/agent.py (the `websockets` package, its own G.711, L16, WAV and
//!   tone detector; none of it ringmaster's code): records the upgrade request and every
//!   message, and answers with a tone in either dialect (Twilio `media`, PIOPIY
//!   `streamAudio`), sends marks, `clear`, `break`, `stop`, and closes when told;
//! - [`Pipecat`]: tests/stream/pipecat_agent.py, Pipecat's FastAPI WebSocket transport with its
//!   Twilio serializer and a tone-answering processor.
//!
//! Both are killed by PID on drop; every wait is bounded.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How long one command may take (a report decodes and measures every frame received).
const COMMAND_LIMIT: Duration = Duration::from_secs(20);

fn python() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/stream-py/bin/python");
    assert!(
        p.exists(),
        "the stream agents' venv is missing; run scripts/setup (websockets, pipecat-ai and uvicorn into target/tools/stream-py)"
    );
    p
}

/// A Python program under tests/stream/ printing JSON lines: its process, its stdin, the
/// lines it printed (in a channel) and its stderr log.
struct Process {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Value>,
    log: PathBuf,
}

impl Process {
    fn start(dir: &Path, script: &str, args: &[String]) -> (Process, Value) {
        let log = dir.join(format!(
            "{}-{}.log",
            script.trim_end_matches(".py"),
            super::ua::token()
        ));
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/stream")
            .join(script);
        let mut child = Command::new(python())
            .arg(path)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("agent log"))
            .spawn()
            .expect("start the stream agent");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
            }
        });
        let p = Process {
            stdin: child.stdin.take(),
            child,
            lines,
            log,
        };
        // Pipecat imports a lot (numpy, onnxruntime) before it listens.
        let ready = p
            .lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("{script} did not start:\n{}", p.log()));
        assert!(ready.get("ready").is_some(), "not a ready line: {ready}");
        (p, ready["ready"].clone())
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn cmd(&mut self, cmd: Value) -> Value {
        let stdin = self.stdin.as_mut().expect("agent stdin");
        writeln!(stdin, "{cmd}").expect("write to the agent");
        stdin.flush().unwrap();
        let answer = self.lines.recv_timeout(COMMAND_LIMIT).unwrap_or_else(|_| {
            panic!(
                "the agent did not answer {cmd} within {COMMAND_LIMIT:?}:\n{}",
                self.log()
            )
        });
        match answer.get("ok") {
            Some(v) => v.clone(),
            None => panic!("agent command {cmd} failed: {answer}\n{}", self.log()),
        }
    }
}

impl Drop for Process {
    /// Closing stdin asks the agent to exit; it is killed (by PID, through the `Child`) if it
    /// has not within two seconds.
    fn drop(&mut self) {
        super::close_then_kill(self.stdin.take(), &mut self.child);
    }
}

/// A tone the agent sends: `dialect` "twilio" (`media` in the stream's format) or "piopiy"
/// (`streamAudio`); `pace` "realtime" (20 ms chunks every 20 ms) or "bulk" (all at once).
pub fn tone(dialect: &str, hz: u32, seconds: f64, pace: &str) -> Value {
    json!({"dialect": dialect, "hz": hz, "seconds": seconds, "pace": pace})
}

/// What one stream's media track carried.
#[derive(Debug, Clone, Default)]
pub struct TrackSeen {
    pub frames: usize,
    /// Payload size in bytes → frames of that size.
    pub sizes: Vec<(usize, usize)>,
    /// `chunk` numbers that did not follow the previous one.
    pub bad_chunks: usize,
    /// Frequency → 20 ms blocks clearly of that tone.
    pub tone: Vec<(u32, usize)>,
}

impl TrackSeen {
    pub fn tone_frames(&self, hz: u32) -> usize {
        self.tone
            .iter()
            .find(|(h, _)| *h == hz)
            .map_or(0, |(_, n)| *n)
    }

    /// Frames of exactly `bytes` bytes.
    pub fn frames_of(&self, bytes: usize) -> usize {
        self.sizes
            .iter()
            .find(|(b, _)| *b == bytes)
            .map_or(0, |(_, n)| *n)
    }
}

/// What the agent saw on one WebSocket connection (the raw report is in `raw`).
#[derive(Debug, Clone)]
pub struct Seen {
    pub raw: Value,
}

impl Seen {
    /// The request target (`/agent?x=1`).
    pub fn target(&self) -> &str {
        self.raw["target"].as_str().unwrap_or("")
    }

    /// A header of the upgrade request (name in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.raw["headers"][name].as_str()
    }

    /// `true` when X-Ringmaster-Signature verified with the secret given to
    /// [`Agent::secret`]; otherwise the reason.
    pub fn signature(&self) -> Result<(), String> {
        match &self.raw["signature_ok"] {
            Value::Bool(true) => Ok(()),
            Value::String(why) => Err(why.clone()),
            other => Err(format!("not checked: {other}")),
        }
    }

    /// Event names in order, consecutive `media` folded as `media*N`.
    pub fn events(&self) -> Vec<String> {
        self.raw["events"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn count(&self, event: &str) -> usize {
        self.raw["counts"][event].as_u64().unwrap_or(0) as usize
    }

    pub fn start(&self) -> &Value {
        &self.raw["start"]
    }

    pub fn stop(&self) -> Option<&Value> {
        Some(&self.raw["stop"]).filter(|v| !v.is_null())
    }

    pub fn track(&self, name: &str) -> TrackSeen {
        let t = &self.raw["tracks"][name];
        let pairs = |v: &Value| -> Vec<(u64, usize)> {
            v.as_object()
                .map(|o| {
                    o.iter()
                        .filter_map(|(k, n)| Some((k.parse().ok()?, n.as_u64()? as usize)))
                        .collect()
                })
                .unwrap_or_default()
        };
        TrackSeen {
            frames: t["frames"].as_u64().unwrap_or(0) as usize,
            sizes: pairs(&t["sizes"])
                .into_iter()
                .map(|(k, n)| (k as usize, n))
                .collect(),
            bad_chunks: t["bad_chunks"].as_u64().unwrap_or(0) as usize,
            tone: pairs(&t["tone"])
                .into_iter()
                .map(|(k, n)| (k as u32, n))
                .collect(),
        }
    }

    /// Track names that carried media.
    pub fn tracks(&self) -> Vec<String> {
        self.raw["tracks"]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    }

    pub fn dtmf(&self) -> Vec<String> {
        self.raw["dtmf"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|d| d.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn marks(&self) -> Vec<String> {
        self.raw["marks"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|d| d.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `sequenceNumber`s that did not follow the previous one.
    pub fn bad_sequence(&self) -> usize {
        self.raw["bad_sequence"].as_u64().unwrap_or(0) as usize
    }

    /// Who closed the WebSocket (`"agent"` or `"ringmaster"`), once it is closed.
    pub fn closed_by(&self) -> Option<&str> {
        self.raw["closed"]["by"].as_str()
    }
}

/// tests/stream/agent.py, running.
pub struct Agent {
    process: Process,
    pub port: u16,
}

impl Agent {
    /// Starts an agent; its stderr goes to `dir/agent-<n>.log`.
    pub fn start(dir: &Path) -> Agent {
        let (process, ready) = Process::start(dir, "agent.py", &[]);
        let port = ready["port"].as_u64().expect("port") as u16;
        Agent { process, port }
    }

    /// An agent serving wss:// with a self-signed certificate for 127.0.0.1 (made with the
    /// `openssl` command, which scripts/setup installs): no public root vouches for it.
    pub fn start_tls(dir: &Path) -> Agent {
        let (cert, key) = (dir.join("agent-cert.pem"), dir.join("agent-key.pem"));
        let made = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("run openssl (scripts/setup installs it)");
        assert!(made.status.success(), "openssl: {made:?}");
        let args = [
            "--tls".to_string(),
            cert.display().to_string(),
            key.display().to_string(),
        ];
        let (process, ready) = Process::start(dir, "agent.py", &args);
        let port = ready["port"].as_u64().expect("port") as u16;
        Agent { process, port }
    }

    /// `ws://127.0.0.1:PORT<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("ws://127.0.0.1:{}{path}", self.port)
    }

    pub fn log(&self) -> String {
        self.process.log()
    }

    /// What the agent does on each connection once `start` arrived: steps
    /// `{"at": seconds after start, "tone": {..} | "send": {..} | "raw": {"text"} |
    /// {"oversize": bytes} | "close": true}`.
    pub fn plan(&mut self, steps: Value) {
        self.process.cmd(json!({"cmd": "plan", "steps": steps}));
    }

    /// Refuses every WebSocket upgrade with this HTTP status from now on.
    pub fn reject(&mut self, status: u16) {
        self.process
            .cmd(json!({"cmd": "plan", "steps": [], "reject": status}));
    }

    /// Leaves every WebSocket upgrade unanswered for `seconds` from now on.
    pub fn stall(&mut self, seconds: u32) {
        self.process
            .cmd(json!({"cmd": "plan", "steps": [], "stall": seconds}));
    }

    /// Checks each upgrade's X-Ringmaster-Signature with this secret.
    pub fn secret(&mut self, secret: &str) {
        self.process.cmd(json!({"cmd": "secret", "secret": secret}));
    }

    /// Starts sending a tone (see [`tone`]) on the newest connection now.
    pub fn send_tone(&mut self, tone: Value) {
        let mut cmd = tone;
        cmd["cmd"] = json!("tone");
        self.process.cmd(cmd);
    }

    /// Sends this JSON on the newest connection now (a Twilio message gets its streamSid).
    pub fn send(&mut self, msg: Value) {
        self.process.cmd(json!({"cmd": "send", "msg": msg}));
    }

    /// Closes the newest connection now.
    pub fn close(&mut self) {
        self.process.cmd(json!({"cmd": "close"}));
    }

    /// Every upgrade request so far: `{"target", "headers", "rejected", "stalled",
    /// "signature_ok"}` (`signature_ok`: true or why not, once [`Agent::secret`] was given).
    pub fn upgrades(&mut self) -> Vec<Value> {
        let r = self.process.cmd(json!({"cmd": "report", "hz": []}));
        r["upgrades"].as_array().cloned().unwrap_or_default()
    }

    /// What every connection saw, with the 20 ms frames of each of `hz` per track.
    pub fn seen(&mut self, hz: &[u32]) -> Vec<Seen> {
        let r = self.process.cmd(json!({"cmd": "report", "hz": hz}));
        r["connections"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|raw| Seen { raw })
            .collect()
    }

    /// Waits (bounded) until `done` holds for connection `index`; what it saw then (with the
    /// tones of `hz`). Panics with the agent's report if it never does.
    pub fn wait(
        &mut self,
        index: usize,
        hz: &[u32],
        timeout: Duration,
        done: impl Fn(&Seen) -> bool,
    ) -> Seen {
        let deadline = Instant::now() + timeout;
        loop {
            let all = self.seen(&[]);
            if let Some(s) = all.get(index) {
                if done(s) {
                    return self.seen(hz).swap_remove(index);
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "agent connection {index}: condition not met within {timeout:?}; saw {:#?}\n{}",
                    all.iter().map(|s| &s.raw).collect::<Vec<_>>(),
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// tests/stream/pipecat_agent.py, running: Pipecat answering every stream with a `hz` tone.
pub struct Pipecat {
    process: Process,
    pub port: u16,
}

impl Pipecat {
    /// Starts Pipecat's server; its log goes to `dir/pipecat_agent-<n>.log`.
    pub fn start(dir: &Path, hz: u32, listen_hz: u32) -> Pipecat {
        let (process, ready) = Process::start(
            dir,
            "pipecat_agent.py",
            &[hz.to_string(), listen_hz.to_string()],
        );
        let port = ready["port"].as_u64().expect("port") as u16;
        Pipecat { process, port }
    }

    /// `ws://127.0.0.1:PORT/ws`, the path Pipecat's server serves.
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.port)
    }

    pub fn log(&self) -> String {
        self.process.log()
    }

    /// What the pipeline saw so far: `{"connections", "call_id", "stream_id", "audio_frames",
    /// "heard_frames" (20 ms blocks of the listened-for tone), "sent_ms", "ended"}`.
    pub fn report(&mut self) -> Value {
        self.process.cmd(json!({"cmd": "report"}))
    }

    /// Waits (bounded) until `done` holds for the report; the last report.
    pub fn wait(&mut self, timeout: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let r = self.report();
            if done(&r) || Instant::now() > deadline {
                return r;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// A program of examples/stream/ (the answer server, the parrot agent), run from the stream
/// venv: what it printed is kept; killed by PID on drop.
pub struct Example {
    child: Child,
    printed: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Example {
    /// Starts `examples/stream/<script>` with `args` and waits (bounded) for its first line,
    /// which names where it listens.
    pub fn start(script: &str, args: &[&str]) -> Example {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/stream")
            .join(script);
        let mut child = Command::new(python())
            .arg(path)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the example");
        let printed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        for pipe in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let p = printed.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    p.lock().unwrap().push(line);
                }
            });
        }
        let e = Example { child, printed };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !e.printed().iter().any(|l| l.contains("listening on")) {
            assert!(
                Instant::now() < deadline,
                "{script} did not start: {:?}",
                e.printed()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        e
    }

    /// Every line it printed so far (stdout and stderr).
    pub fn printed(&self) -> Vec<String> {
        self.printed.lock().unwrap().clone()
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
