//! Headless Chromium with real browser SIP stacks (JsSIP, SIP.js, piopiyjs from npm, loaded
//! unchanged) for the browser end-to-end tests. [`Browsers`] runs tests/browser/runner.js in
//! Node (playwright-core attached to Debian's chromium), sends it commands and reads the JSON
//! event lines it prints, every wait bounded. Each user agent is a page; pages that send the
//! same tone share one chromium (the fake microphone is a per-process flag). On drop the
//! runner is told to quit, then the runner and every chromium it reported are killed by PID.
//! The runner's own log (the pages' consoles) is `browser/browser.log` in the test's
//! directory, the events it printed `browser/events.jsonl`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::audio::write_tone_wav;

/// The SDK a page runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sdk {
    JsSip,
    SipJs,
    Piopiy,
}

impl Sdk {
    fn page(self) -> &'static str {
        match self {
            Sdk::JsSip => "jssip",
            Sdk::SipJs => "sipjs",
            Sdk::Piopiy => "piopiy",
        }
    }
}

pub struct Browsers {
    child: Child,
    stdin: ChildStdin,
    events: Receiver<Value>,
    /// Every event read so far, in order.
    pub seen: Vec<Value>,
    chromium: Vec<u32>,
    dir: PathBuf,
}

impl Browsers {
    /// Starts the runner; its files (tone WAVs, chromium profiles, log) go under `dir`.
    pub fn start(dir: &Path) -> Browsers {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let modules = root.join("target/tools/browser/node_modules");
        assert!(
            ["playwright-core", "jssip", "sip.js", "piopiyjs"]
                .iter()
                .all(|m| modules.join(m).is_dir())
                && Path::new("/usr/bin/chromium").exists(),
            "the browser harness is not installed; run scripts/setup (Debian chromium, npm \
             playwright-core, jssip, sip.js and piopiyjs into target/tools/browser)"
        );
        let dir = dir.join("browser");
        std::fs::create_dir_all(&dir).unwrap();
        let mut child = Command::new("node")
            .arg(root.join("tests/browser/runner.js"))
            .env("NODE_PATH", &modules)
            .env("RM_MODULES", &modules)
            .env("RM_WORK", &dir)
            // Its own deadline: it quits by itself even if this process died.
            .env("RM_SECONDS", "240")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("browser.log")).unwrap())
            .spawn()
            .expect("node");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, events) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
            }
        });
        let mut b = Browsers {
            child,
            stdin,
            events,
            seen: Vec::new(),
            chromium: Vec::new(),
            dir,
        };
        b.wait_event(|e| e["event"] == "serving", Duration::from_secs(20))
            .unwrap_or_else(|| panic!("the browser runner did not start: {}", b.log()));
        b
    }

    /// A WAV of a pure `hz` sine (48 kHz mono), the fake microphone of a browser.
    pub fn tone(&self, hz: u32) -> PathBuf {
        let path = self.dir.join(format!("tone-{hz}.wav"));
        if !path.exists() {
            write_tone_wav(&path, f64::from(hz), 48_000, 1, 10.0);
        }
        path
    }

    fn send(&mut self, cmd: Value) {
        writeln!(self.stdin, "{cmd}").expect("runner stdin");
        self.stdin.flush().unwrap();
    }

    /// Opens page `id` running `sdk`, its microphone a `tone` Hz sine, and starts the SDK with
    /// `config` (JsSIP and SIP.js: `wss`, `uri`, `user`, `password`; piopiyjs: `user`,
    /// `password`, `domain` as given to its `login`).
    pub fn open(&mut self, id: &str, sdk: Sdk, tone: u32, config: Value) {
        let wav = self.tone(tone);
        self.send(
            json!({"cmd": "open", "id": id, "sdk": sdk.page(), "wav": wav, "config": config}),
        );
        self.wait(id, "opened", Duration::from_secs(30));
    }

    /// Runs the page's operation `op` (`call`, `answer`, `dtmf`, `hangup`, `measure`,
    /// `videoStats`, `selfTest`) and returns its result.
    pub fn run(&mut self, id: &str, op: &str, args: Value) -> Value {
        self.send(json!({"cmd": "do", "id": id, "op": op, "args": args}));
        let e = self.wait_event(
            |e| {
                e["id"] == id
                    && (e["event"] == "result" && e["op"] == op || e["event"] == "opError")
            },
            Duration::from_secs(30),
        );
        match e {
            Some(e) if e["event"] == "result" => e["result"].clone(),
            other => panic!("{id}: {op} failed: {other:?}\n{}", self.report()),
        }
    }

    /// The frequency (Hz) loudest in what page `id` receives, over about a second.
    pub fn heard_hz(&mut self, id: &str) -> (f64, f64) {
        let m = self.run(id, "measure", json!([1000]));
        let hz = m["hz"]
            .as_f64()
            .unwrap_or_else(|| panic!("{id}: no measure: {m}"));
        (hz, m["binHz"].as_f64().unwrap())
    }

    /// The first event (seen before or arriving within `timeout`) that `pred` accepts.
    pub fn wait_event(
        &mut self,
        pred: impl Fn(&Value) -> bool,
        timeout: Duration,
    ) -> Option<Value> {
        if let Some(e) = self.seen.iter().find(|e| pred(e)) {
            return Some(e.clone());
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(e) => {
                    if e["event"] == "browser" {
                        if let Some(pid) = e["pid"].as_u64() {
                            self.chromium.push(pid as u32);
                        }
                    }
                    self.seen.push(e.clone());
                    if pred(&e) {
                        return Some(e);
                    }
                }
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                    return None
                }
            }
        }
    }

    /// Page `id`'s first event named `event`, or a panic with everything seen. It gives up
    /// early when the page reports a failure instead (`failed`, `opError`, `pageError`; and
    /// `ended` while waiting for a call to be answered).
    pub fn wait(&mut self, id: &str, event: &str, timeout: Duration) -> Value {
        let answer = matches!(event, "confirmed" | "answered" | "accepted");
        let found = self.wait_event(
            |e| {
                e["id"] == id
                    && (e["event"] == event
                        || ["failed", "opError", "pageError"]
                            .contains(&e["event"].as_str().unwrap_or(""))
                        || answer && e["event"] == "ended")
            },
            timeout,
        );
        match found {
            Some(e) if e["event"] == event => e,
            other => panic!(
                "{id}: no `{event}` within {timeout:?} (got {other:?})\n{}",
                self.report()
            ),
        }
    }

    pub fn try_wait(&mut self, id: &str, event: &str, timeout: Duration) -> Option<Value> {
        self.wait_event(|e| e["id"] == id && e["event"] == event, timeout)
    }

    /// Page `id`'s events so far (after waiting `settle` for more).
    pub fn events_of(&mut self, id: &str, settle: Duration) -> Vec<Value> {
        self.wait_event(|_| false, settle);
        self.seen
            .iter()
            .filter(|e| e["id"] == id)
            .cloned()
            .collect()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("browser.log")).unwrap_or_default()
    }

    /// The events and the pages' log, for a failure message.
    pub fn report(&self) -> String {
        let events: Vec<String> = self.seen.iter().map(Value::to_string).collect();
        format!(
            "events:\n{}\nbrowser log:\n{}",
            events.join("\n"),
            self.log()
        )
    }
}

impl Drop for Browsers {
    fn drop(&mut self) {
        // What happened, beside the log (kept with the test's directory by RINGMASTER_E2E_KEEP).
        let lines: Vec<String> = self.seen.iter().map(Value::to_string).collect();
        let _ = std::fs::write(self.dir.join("events.jsonl"), lines.join("\n"));
        let _ = writeln!(self.stdin, "{}", json!({"cmd": "quit"}));
        let _ = self.stdin.flush();
        let deadline = Instant::now() + Duration::from_secs(8);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pid in &self.chromium {
            // A PID this test started (the runner reported it), with the `kill` program (the
            // workspace forbids unsafe `libc::kill`); one that already exited just fails.
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
    }
}
