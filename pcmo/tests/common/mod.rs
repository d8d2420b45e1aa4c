//! A small text language for golden interpreter runs, and a renderer for commands.
//!
//! A `.golden` file:
//! ```text
//! # what this run shows
//! script:
//! [ ...PCMO JSON, any number of lines... ]
//! call: inbound            (or `answered`; default inbound)
//! run:
//! > start                  (an event; `> @20 timer t3` first moves the clock to +20 s)
//! < answer                 (the commands that event must produce, in order, and no others)
//! end: finished            (or `running`)
//! ```
//! Events: `start`, `ringing l1`, `answered l1`, `failed l1 <not-registered|busy|declined|
//! no-answer|cancelled|NNN>`, `b-hangup l1`, `caller-hangup`, `media-done m1`, `digits 12#`,
//! `timer t3`, `fetched f4 ok <json>`, `fetched f4 empty`, `fetched f4 error <timeout|
//! unreachable|NNN>`.

#![allow(
    dead_code,
    clippy::disallowed_methods,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::time::{Duration, Instant};

use pcmo::action::connect::MediaKind;
use pcmo::action::record::{Channels, RecordFormat};
use pcmo::action::stream::ListenMode;
use pcmo::{
    CallInfo, Command, Event, FailReason, FetchError, FetchId, Interpreter, MediaId, Script,
    ScriptEvent, TargetId, TimerId,
};

/// Renders a command on one line, with instants relative to `origin`.
pub fn render(command: &Command, origin: Instant) -> String {
    let rel = |at: Instant| {
        let d = at.saturating_duration_since(origin);
        if d.subsec_millis() == 0 {
            format!("+{}s", d.as_secs())
        } else {
            format!("+{:.1}s", d.as_secs_f64())
        }
    };
    match command {
        Command::Answer => "answer".into(),
        Command::Ring(ring) => {
            let mut s = format!("ring {}", ring.kind.as_str());
            match &ring.caller_id {
                Some(id) => s.push_str(&format!(" from={id}")),
                None => s.push_str(" from=default"),
            }
            s.push_str(match ring.media {
                MediaKind::Audio => " audio",
                MediaKind::Video => " video",
            });
            if let Some(music) = &ring.waiting_music {
                s.push_str(&format!(" music=[{music}]"));
            }
            s.push(':');
            let targets: Vec<String> = ring
                .targets
                .iter()
                .map(|t| {
                    let mut one = format!(
                        " {} {} until {}",
                        t.target_id,
                        t.target.destination,
                        rel(t.deadline)
                    );
                    for h in &t.target.headers {
                        one.push_str(&format!(" [{}: {}]", h.name, h.value));
                    }
                    one
                })
                .collect();
            s.push_str(&targets.join(","));
            s
        }
        Command::Cancel { target_ids } => {
            format!(
                "cancel {}",
                target_ids
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
        Command::Bridge { target_id } => format!("bridge {target_id}"),
        Command::Unbridge { target_id } => format!("unbridge {target_id}"),
        Command::Play { media_id, source } => format!("play {media_id} {source}"),
        Command::Speak {
            media_id,
            text,
            voice,
        } => {
            let mut s = format!("speak {media_id} {text:?}");
            if let Some(v) = &voice.voice_id {
                s.push_str(&format!(" voice={v}"));
            }
            if let Some(l) = &voice.language {
                s.push_str(&format!(" lang={l}"));
            }
            if let Some(sp) = voice.speed {
                s.push_str(&format!(" speed={sp}"));
            }
            s
        }
        Command::StopMedia { media_id } => format!("stop {media_id}"),
        Command::Record(r) => {
            let mut s = "record".to_string();
            match r.format {
                Some(RecordFormat::Mp3) => s.push_str(" format=mp3"),
                Some(RecordFormat::Wav) => s.push_str(" format=wav"),
                _ => {}
            }
            match r.channels {
                Some(Channels::Single) => s.push_str(" channels=single"),
                Some(Channels::Dual) => s.push_str(" channels=dual"),
                _ => {}
            }
            s
        }
        Command::Stream { media_id, stream } => {
            let listen = match stream.listen_mode {
                ListenMode::Caller => "caller",
                ListenMode::Callee => "callee",
                ListenMode::Both => "both",
            };
            format!(
                "stream {media_id} {} listen={listen} rate={} on-answer={}",
                stream.ws_url, stream.sample_rate, stream.stream_on_answer
            )
        }
        Command::CollectDigits(r) => format!(
            "collect min={} max={} finish={} first={}s inter={}s flush={}",
            r.min_digits,
            r.max_digits,
            r.finish_on_key
                .map(String::from)
                .unwrap_or_else(|| "none".into()),
            r.first_digit_timeout.as_secs(),
            r.inter_digit_timeout.as_secs(),
            r.flush_buffer
        ),
        Command::FetchScript {
            fetch_id,
            source,
            payload,
        } => {
            format!(
                "fetch {fetch_id} {source} {}",
                serde_json::to_string(payload).unwrap()
            )
        }
        Command::PostEvent(ScriptEvent::ConnectFinished { outcome, answered }) => match answered {
            Some(id) => format!("event connect-finished {outcome} {id}"),
            None => format!("event connect-finished {outcome}"),
        },
        Command::StartTimer { id, at } => format!("timer {id} at {}", rel(*at)),
        Command::SetParam(value) => format!("param {}", value.to_extra_params()),
        Command::ScriptError(e) => format!("script-error {} at {}", e.code(), e.path),
        Command::Hangup { reason } => format!("hangup {reason}"),
        other => format!("unrendered {other:?}"),
    }
}

fn id(text: &str, prefix: char) -> u64 {
    text.strip_prefix(prefix)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("expected an id like {prefix}3, got {text:?}"))
}

/// Parses one event line (without the leading `>` and time).
pub fn parse_event(text: &str) -> Event {
    let mut words = text.splitn(3, ' ');
    let verb = words.next().unwrap_or_default();
    let arg = words.next().unwrap_or_default();
    let rest = words.next().unwrap_or_default();
    match verb {
        "start" => Event::Start,
        "ringing" => Event::TargetRinging {
            target_id: TargetId(id(arg, 'l')),
        },
        "answered" => Event::TargetAnswered {
            target_id: TargetId(id(arg, 'l')),
        },
        "failed" => Event::TargetFailed {
            target_id: TargetId(id(arg, 'l')),
            reason: match rest {
                "not-registered" => FailReason::NotRegistered,
                "busy" => FailReason::Busy,
                "declined" => FailReason::Declined,
                "no-answer" => FailReason::NoAnswer,
                "cancelled" => FailReason::Cancelled,
                status => FailReason::from_sip_status(status.parse().expect("a SIP status")),
            },
        },
        "b-hangup" => Event::BLegHungUp {
            target_id: TargetId(id(arg, 'l')),
        },
        "caller-hangup" => Event::CallerHungUp,
        "media-done" => Event::MediaDone {
            media_id: MediaId(id(arg, 'm')),
        },
        "digits" => Event::Digits {
            digits: arg.to_string(),
        },
        "timer" => Event::TimerFired(TimerId(id(arg, 't'))),
        "fetched" => {
            let fetch_id = FetchId(id(arg, 'f'));
            let (kind, body) = rest.split_once(' ').unwrap_or((rest, ""));
            let result = match kind {
                "ok" => Ok(body.to_string()),
                "empty" => Ok(String::new()),
                "error" => Err(match body {
                    "timeout" => FetchError::Timeout,
                    "unreachable" => FetchError::Unreachable,
                    status => FetchError::Status(status.parse().expect("an HTTP status")),
                }),
                other => panic!("fetched: unknown result {other:?}"),
            };
            Event::ScriptFetched { fetch_id, result }
        }
        other => panic!("unknown event {other:?}"),
    }
}

/// One golden file, parsed.
pub struct Golden {
    pub script: String,
    pub answered: bool,
    /// (line number, clock offset, event text, expected command lines)
    pub steps: Vec<(usize, Duration, String, Vec<String>)>,
    pub end: Option<bool>,
}

pub fn parse_golden(text: &str) -> Golden {
    #[derive(PartialEq)]
    enum Part {
        Head,
        Script,
        Run,
    }
    let mut part = Part::Head;
    let mut golden = Golden {
        script: String::new(),
        answered: false,
        steps: Vec::new(),
        end: None,
    };
    let mut clock = Duration::ZERO;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        let lineno = n + 1;
        if line.starts_with('#') || (part != Part::Script && line.trim().is_empty()) {
            continue;
        }
        if line == "script:" {
            part = Part::Script;
            continue;
        }
        if let Some(kind) = line.strip_prefix("call:") {
            golden.answered = match kind.trim() {
                "answered" => true,
                "inbound" => false,
                other => panic!("line {lineno}: unknown call kind {other:?}"),
            };
            part = Part::Head;
            continue;
        }
        if line == "run:" {
            part = Part::Run;
            continue;
        }
        if let Some(end) = line.strip_prefix("end:") {
            golden.end = Some(match end.trim() {
                "finished" => true,
                "running" => false,
                other => panic!("line {lineno}: unknown end {other:?}"),
            });
            continue;
        }
        match part {
            Part::Script => {
                golden.script.push_str(line);
                golden.script.push('\n');
            }
            Part::Run => {
                if let Some(event) = line.strip_prefix("> ") {
                    let mut event = event.trim();
                    if let Some(timed) = event.strip_prefix('@') {
                        let (secs, rest) = timed.split_once(' ').expect("`@secs event`");
                        let at = Duration::from_secs_f64(secs.parse().expect("seconds"));
                        assert!(at >= clock, "line {lineno}: the clock goes backwards");
                        clock = at;
                        event = rest.trim();
                    }
                    golden
                        .steps
                        .push((lineno, clock, event.to_string(), Vec::new()));
                } else if let Some(command) = line.strip_prefix("< ") {
                    let step = golden
                        .steps
                        .last_mut()
                        .unwrap_or_else(|| panic!("line {lineno}: command before any event"));
                    step.3.push(command.trim().to_string());
                } else {
                    panic!("line {lineno}: expected `> event` or `< command`, got {line:?}");
                }
            }
            Part::Head => panic!("line {lineno}: unexpected {line:?}"),
        }
    }
    golden
}

/// Runs a golden file; returns a description of the first mismatch, if any.
pub fn run_golden(text: &str) -> Result<(), String> {
    let golden = parse_golden(text);
    let script = Script::parse(&golden.script).map_err(|r| format!("script is invalid:\n{r}"))?;
    let call = if golden.answered {
        CallInfo::outbound_answered("c1", "914400000001", "914471000000")
    } else {
        CallInfo::inbound("c1", "914400000001", "914471000000")
    };
    let mut interpreter = Interpreter::new(script, call);
    let origin = Instant::now();
    for (lineno, at, event, expected) in &golden.steps {
        interpreter.handle(origin + *at, parse_event(event));
        let actual: Vec<String> = std::iter::from_fn(|| interpreter.poll())
            .map(|c| render(&c, origin))
            .collect();
        if &actual != expected {
            return Err(format!(
                "line {lineno}: after `{event}`\n  expected:\n    {}\n  actual:\n    {}",
                expected.join("\n    "),
                actual.join("\n    ")
            ));
        }
    }
    if let Some(end) = golden.end {
        if interpreter.is_finished() != end {
            return Err(format!(
                "expected finished={end}, got {}",
                interpreter.is_finished()
            ));
        }
    }
    Ok(())
}
