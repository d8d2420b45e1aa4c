//! Robustness without a fuzzer: thousands of deterministic, pseudo-random inputs through the
//! parser and pseudo-random event sequences through the interpreter. Nothing may panic, and
//! the interpreter's output keeps its invariants whatever the engine reports.
//! (A cargo-fuzz target can reuse the same entry points: `pcmo::check` and `Interpreter`.)

#![allow(clippy::disallowed_methods)] // the test needs an origin for its virtual clock

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use pcmo::{
    CallInfo, Command, Event, FailReason, FetchError, FetchId, Interpreter, MediaId, Script,
    TargetId, TimerId,
};
use serde_json::{json, Value};

/// xorshift64*: small, deterministic, good enough to shake inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn corpus() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut texts = Vec::new();
    for dir in ["tests/data/good", "tests/data/bad", "../examples/pcmo"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
            .expect("fixture directory")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        texts.extend(
            files
                .iter()
                .map(|f| std::fs::read_to_string(f).expect("readable")),
        );
    }
    texts
}

const TOKENS: &[&str] = &[
    "null",
    "-1",
    "0",
    "1e400",
    "18446744073709551616",
    "3.5",
    "\"\"",
    "\"x\"",
    "[]",
    "{}",
    "true",
    "\"speech\"",
    "\"group\"",
    "\"sip\"",
    "{\"type\":\"agent\",\"id\":\"a\"}",
    "[[[[[[[[",
    "\"\\u0000\"",
    "\"\\r\\n\"",
    "\"..\"",
    ",",
    ":",
    "\"",
    "\u{00e9}",
    "\u{1F4DE}",
];

#[test]
fn mutated_text_never_panics() {
    let corpus = corpus();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..6000 {
        let base = &corpus[rng.below(corpus.len())];
        let mut bytes = base.as_bytes().to_vec();
        for _ in 0..=rng.below(4) {
            match rng.below(4) {
                0 if !bytes.is_empty() => {
                    let i = rng.below(bytes.len());
                    bytes[i] = rng.next() as u8;
                }
                1 if !bytes.is_empty() => bytes.truncate(rng.below(bytes.len())),
                2 => {
                    let i = rng.below(bytes.len() + 1);
                    let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                    bytes.splice(i..i, token.iter().copied());
                }
                _ => {
                    let i = rng.below(bytes.len() + 1);
                    let j = (i + rng.below(64)).min(bytes.len());
                    let chunk = bytes[i..j].to_vec();
                    bytes.splice(i..i, chunk);
                }
            }
        }
        let report = match Script::parse_bytes(&bytes) {
            Ok(script) => {
                let _ = pcmo::explain(&script);
                continue;
            }
            Err(report) => report,
        };
        assert!(
            !report.is_ok(),
            "round {round}: an Err report must hold an error"
        );
        assert!(report.errors.len() <= pcmo::limits::MAX_REPORTED);
        let _ = report.to_string();
    }
}

fn random_value(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth > 3 { 6 } else { 9 }) {
        0 => Value::Null,
        1 => json!(rng.next() % 3 == 0),
        2 => json!(rng.next() as i64 % 100_000),
        3 => json!(rng.below(1000) as f64 / 7.0),
        4 => json!("x".repeat(rng.below(5000))),
        5 => json!(
            [
                "dtmf",
                "speech",
                "group",
                "sip",
                "pstn",
                "919876543210",
                "sip:a@example.com",
                "https://a.example.com/x",
                "wss://a.example.com"
            ][rng.below(9)]
        ),
        6 => Value::Array(
            (0..rng.below(4))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        _ => {
            let keys = [
                "action",
                "type",
                "user",
                "uri",
                "number",
                "id",
                "call",
                "connect",
                "endpoints",
                "params",
                "options",
                "dtmf",
                "prompt",
                "on_result",
                "data",
                "timeout",
                "loop",
                "headers",
            ];
            Value::Object(
                (0..rng.below(5))
                    .map(|_| {
                        (
                            keys[rng.below(keys.len())].to_string(),
                            random_value(rng, depth + 1),
                        )
                    })
                    .collect(),
            )
        }
    }
}

fn mutate(value: &mut Value, rng: &mut Rng) {
    match value {
        Value::Array(items) if !items.is_empty() && rng.below(3) > 0 => {
            let i = rng.below(items.len());
            mutate(&mut items[i], rng);
        }
        Value::Object(map) if !map.is_empty() && rng.below(3) > 0 => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let key = &keys[rng.below(keys.len())];
            if let Some(v) = map.get_mut(key) {
                mutate(v, rng);
            }
        }
        other => *other = random_value(rng, 0),
    }
}

#[test]
fn mutated_structures_never_panic() {
    let corpus: Vec<Value> = corpus()
        .iter()
        .filter_map(|t| serde_json::from_str(t).ok())
        .collect();
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for _ in 0..6000 {
        let mut value = corpus[rng.below(corpus.len())].clone();
        for _ in 0..=rng.below(3) {
            mutate(&mut value, &mut rng);
        }
        match Script::from_value(&value) {
            Ok(script) => {
                let _ = pcmo::explain(&script);
            }
            Err(report) => assert!(!report.is_ok()),
        }
    }
}

fn random_event(rng: &mut Rng, bodies: &[String], max_id: u64) -> Event {
    let id = 1 + rng.next() % max_id.max(1);
    match rng.below(11) {
        0 => Event::Start,
        1 => Event::TargetRinging {
            target_id: TargetId(id),
        },
        2 => Event::TargetAnswered {
            target_id: TargetId(id),
        },
        3 => Event::TargetFailed {
            target_id: TargetId(id),
            reason: [
                FailReason::NotRegistered,
                FailReason::Busy,
                FailReason::Declined,
                FailReason::NoAnswer,
                FailReason::Cancelled,
                FailReason::Failed(503),
            ][rng.below(6)],
        },
        4 => Event::BLegHungUp {
            target_id: TargetId(id),
        },
        5 if rng.below(20) == 0 => Event::CallerHungUp,
        6 => Event::MediaDone {
            media_id: MediaId(id),
        },
        7 => Event::Digits {
            digits: ["1", "#", "12", "9*#", "A", "x"][rng.below(6)].to_string(),
        },
        8 | 9 => Event::TimerFired(TimerId(id)),
        _ => Event::ScriptFetched {
            fetch_id: FetchId(id),
            result: match rng.below(4) {
                0 => Err(FetchError::Timeout),
                1 => Ok(String::new()),
                _ => Ok(bodies[rng.below(bodies.len())].clone()),
            },
        },
    }
}

#[test]
fn random_event_sequences_keep_the_invariants() {
    let corpus = corpus();
    let scripts: Vec<Script> = corpus
        .iter()
        .filter_map(|t| Script::parse(t).ok())
        .collect();
    assert!(scripts.len() > 20);
    let mut rng = Rng(0x94D0_49BB_1331_11EB);
    let origin = Instant::now();
    // What the random runs reached, so the test cannot pass by doing nothing.
    let (mut bridges, mut fetches, mut replaced, mut valid_runs) = (0, 0, 0, 0);
    for run in 0..3000 {
        let script = scripts[rng.below(scripts.len())].clone();
        let call = if rng.below(2) == 0 {
            CallInfo::inbound("c", "914400000001", "914471000000")
        } else {
            CallInfo::outbound_answered("c", "914400000001", "914471000000")
        };
        let answered_at_start = call.answered;
        let mut interpreter = Interpreter::new(script, call);
        let mut now = origin;
        let mut answers = usize::from(answered_at_start);
        let mut rung: HashSet<TargetId> = HashSet::new();
        let mut hangups = 0;
        let mut max_id = 4;
        interpreter.handle(now, Event::Start);
        for step in 0..200 {
            while let Some(command) = interpreter.poll() {
                assert_eq!(
                    hangups, 0,
                    "run {run} step {step}: a command after Hangup: {command:?}"
                );
                match command {
                    Command::Answer => answers += 1,
                    Command::Ring(ring) => rung.extend(ring.targets.iter().map(|t| t.target_id)),
                    Command::Bridge { target_id } => {
                        assert!(
                            rung.contains(&target_id),
                            "run {run}: bridged a leg never rung"
                        );
                        assert!(answers == 1, "run {run}: bridged before answering");
                        bridges += 1;
                    }
                    Command::Play { .. }
                    | Command::Speak { .. }
                    | Command::Stream { .. }
                    | Command::Record(_) => {
                        assert!(answers == 1, "run {run}: media before answering");
                    }
                    Command::StartTimer { id, at } => {
                        assert!(at >= now, "run {run}: timer in the past");
                        max_id = max_id.max(id.0 + 2);
                    }
                    Command::Hangup { .. } => hangups += 1,
                    Command::FetchScript { .. } => fetches += 1,
                    Command::ScriptError(_) => replaced += 1,
                    _ => {}
                }
                assert!(answers <= 1, "run {run}: answered twice");
            }
            assert_eq!(
                interpreter.is_finished(),
                hangups == 1,
                "run {run}: finished iff hung up"
            );
            if interpreter.is_finished() {
                valid_runs += 1;
                break;
            }
            now += Duration::from_millis(rng.below(30_000) as u64);
            interpreter.handle(now, random_event(&mut rng, &corpus, max_id));
        }
    }
    assert!(bridges > 100 && fetches > 100 && replaced > 10 && valid_runs > 1000, "runs reached too little: bridges {bridges}, fetches {fetches}, script errors {replaced}, finished runs {valid_runs}");
}
