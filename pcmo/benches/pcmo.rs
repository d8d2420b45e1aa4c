//! Micro-benchmarks of PCMO: parsing and validating the script an answer URL returns, and
//! the interpreter steps of a connect call (start → ring; answered → bridge).
//!
//! `cargo bench -p pcmo --bench pcmo`. Timings only, never pass/fail tests.
// A benchmark needs one real instant to start from; the interpreter still gets it passed in.
#![allow(
    missing_docs,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use pcmo::{CallInfo, Command, Event, Interpreter, Script};

/// What the benchmark answer server returns: connect one SIP user.
const CONNECT: &str = r#"[{"action":"connect","connect":[{"type":"sip","user":"bob"}]}]"#;

/// A bigger, realistic script: group ring with loop and caller id, then a fallback.
const GROUP: &str = r#"[
 {"action": "connect", "duration": 600, "timeout": 20, "from": 914471000000, "loop": 2,
  "call_type": "audio", "ring_type": "group",
  "call": [{"type": "sip", "user": "alice"}, {"type": "sip", "user": "bob"},
           {"type": "sip", "user": "carol"}]},
 {"action": "connect", "timeout": 30, "call": [{"type": "sip", "user": "operator"}]},
 {"action": "hangup"}
]"#;

fn parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("pcmo");
    for (name, text) in [("connect", CONNECT), ("group_ring", GROUP)] {
        Script::parse(text).expect("valid script");
        g.bench_function(format!("parse/{name}"), |b| {
            b.iter(|| Script::parse(black_box(text)).expect("valid"))
        });
    }
    g.finish();
}

/// Starts an interpreter and returns it with the first ring target's id.
fn started(script: &Script, now: Instant) -> (Interpreter, pcmo::TargetId) {
    let mut it = Interpreter::new(
        script.clone(),
        CallInfo::inbound("uuid-1", "914400000001", "914471000000"),
    );
    it.handle(now, Event::Start);
    let mut target = None;
    while let Some(cmd) = it.poll() {
        if let Command::Ring(ring) = cmd {
            target = ring.targets.first().map(|t| t.target_id);
        }
    }
    (it, target.expect("the script rings someone"))
}

fn step(c: &mut Criterion) {
    let script = Script::parse(CONNECT).expect("valid");
    let now = Instant::now();
    let mut g = c.benchmark_group("pcmo_step");
    // Start: interpreter creation, the Start event, draining Ring + StartTimer.
    g.bench_function("start_to_ring", |b| {
        b.iter(|| started(black_box(&script), now))
    });
    // One step: TargetAnswered in, Answer + Bridge (+ timers) out.
    g.bench_function("answered_to_bridge", |b| {
        b.iter_batched(
            || started(&script, now),
            |(mut it, target)| {
                it.handle(now, Event::TargetAnswered { target_id: target });
                let mut n = 0;
                while let Some(cmd) = it.poll() {
                    black_box(&cmd);
                    n += 1;
                }
                assert!(n > 0);
                it
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, parse, step);
criterion_main!(benches);
