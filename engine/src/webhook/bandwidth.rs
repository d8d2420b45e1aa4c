//! Bandwidth App Platform v1 callbacks: a live call's events ([`LiveEvent`]) rendered with
//! the names and fields Bandwidth's documents give (compat-fields §b6). Pure: the shell sends
//! them (GET with query parameters or POST with a JSON body, as the app chose).

use serde_json::{json, Map, Value};

use crate::call::live::{LiveEvent, PromptKind};

/// What every callback of one call carries besides the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackCall<'a> {
    /// `c-…`.
    pub call_id: &'a str,
    /// `…/v1/users/{userId}/calls/{callId}`.
    pub call_uri: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub tag: Option<&'a str>,
    /// `a-…`, for `incomingcall`.
    pub application_id: Option<&'a str>,
    /// `…/v1/users/{userId}/recordings/`, for `recording` events.
    pub recordings_uri: &'a str,
}

/// The callback for `ev` at `at_ms` (Unix milliseconds), or `None` for events Bandwidth has
/// no callback for.
pub fn render(call: &CallbackCall<'_>, ev: &LiveEvent, at_ms: u64) -> Option<Value> {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    let event_type = match ev {
        LiveEvent::Incoming { answered } => {
            put("from", json!(call.from));
            put("to", json!(call.to));
            put(
                "callState",
                json!(if *answered { "active" } else { "started" }),
            );
            if let Some(app) = call.application_id {
                put("applicationId", json!(app));
            }
            "incomingcall"
        }
        LiveEvent::Answered => {
            put("from", json!(call.from));
            put("to", json!(call.to));
            put("callState", json!("active"));
            "answer"
        }
        // Bandwidth v1 has no callbacks for these (Cloud SIP UA renders them).
        LiveEvent::Ringing | LiveEvent::MediaReady { .. } | LiveEvent::Reoffer { .. } => {
            return None
        }
        LiveEvent::Timeout => {
            put("from", json!(call.from));
            put("to", json!(call.to));
            "timeout"
        }
        LiveEvent::Prompt { kind, done, .. } => {
            put("status", json!(if *done { "done" } else { "started" }));
            match kind {
                PromptKind::Speak => {
                    let state = if *done {
                        "PLAYBACK_STOP"
                    } else {
                        "PLAYBACK_START"
                    };
                    put("state", json!(state));
                    "speak"
                }
                PromptKind::Playback => "playback",
            }
        }
        LiveEvent::Gather {
            id, digits, reason, ..
        } => {
            put("state", json!("completed"));
            put("digits", json!(digits));
            put("reason", json!(reason.as_str()));
            put("gatherId", json!(gather_id(*id)));
            "gather"
        }
        LiveEvent::Dtmf(d) => {
            put("dtmfDigit", json!(d.to_string()));
            "dtmf"
        }
        LiveEvent::Recording {
            id,
            ok,
            started_ms,
            ended_ms,
        } => {
            let state = if *ok { "complete" } else { "error" };
            put("recordingId", json!(id));
            put(
                "recordingUri",
                json!(format!("{}{id}", call.recordings_uri)),
            );
            put("state", json!(state));
            put("status", json!(state));
            put("startTime", json!(iso8601(*started_ms)));
            put("endTime", json!(iso8601(*ended_ms)));
            "recording"
        }
        LiveEvent::Transferred => "transferComplete",
        LiveEvent::Ended { cause, status } => {
            put("from", json!(call.from));
            put("to", json!(call.to));
            put("callState", json!("completed"));
            put("cause", json!(hangup_cause(cause, *status)));
            "hangup"
        }
    };
    let tag = match ev {
        LiveEvent::Prompt { tag, .. } | LiveEvent::Gather { tag, .. } => tag.as_deref(),
        _ => call.tag,
    };
    m.insert("eventType".into(), json!(event_type));
    m.insert("callId".into(), json!(call.call_id));
    m.insert("callUri".into(), json!(call.call_uri));
    m.insert("time".into(), json!(iso8601(at_ms)));
    if let Some(tag) = tag {
        m.insert("tag".into(), json!(tag));
    }
    Some(Value::Object(m))
}

/// A gather's id as the API shows it.
pub fn gather_id(n: u32) -> String {
    format!("g-{n}")
}

/// Bandwidth's hangup `cause` for ringmaster's cause and the SIP status that ended the call.
pub fn hangup_cause(cause: &str, status: Option<u16>) -> &'static str {
    match (cause, status) {
        ("caller-cancelled", _) => "ORIGINATOR_CANCEL",
        ("rejected", _) | (_, Some(603)) => "CALL_REJECTED",
        (_, Some(486 | 600)) | ("busy", _) => "USER_BUSY",
        (_, Some(404 | 484)) => "UNALLOCATED_NUMBER",
        ("no-answer" | "not-registered", _) | (_, Some(408 | 480 | 487)) => "NO_ANSWER",
        (_, Some(s)) if s >= 500 => "NORMAL_TEMPORARY_FAILURE",
        ("hangup" | "caller-hung-up" | "callee-hung-up" | "script-ended" | "duration-limit", _) => {
            "NORMAL_CLEARING"
        }
        (_, None) => "NORMAL_CLEARING",
        _ => "NORMAL_TEMPORARY_FAILURE",
    }
}

/// Unix milliseconds as ISO 8601 UTC with milliseconds (`2026-12-06T20:01:02.345Z`).
pub fn iso8601(ms: u64) -> String {
    let secs = iso8601_seconds(ms / 1000);
    format!("{}.{:03}Z", secs.trim_end_matches('Z'), ms % 1000)
}

/// Unix seconds as ISO 8601 UTC (`2014-06-13T22:37:05Z`), as Bandwidth shows resource times.
pub fn iso8601_seconds(secs: u64) -> String {
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, mo, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (eras of 400 years, whose
/// 146,097 days repeat exactly).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A callback as GET query parameters: every field as text (nested values as JSON).
pub fn as_query(v: &Value) -> Vec<(String, String)> {
    let Some(m) = v.as_object() else {
        return Vec::new();
    };
    m.iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::live::GatherReason;

    fn call() -> CallbackCall<'static> {
        CallbackCall {
            call_id: "c-abc",
            call_uri: "http://127.0.0.1:8080/v1/users/u-1/calls/c-abc",
            from: "+15550001111",
            to: "sip:kim@d.bwapp.example",
            tag: Some("t1"),
            application_id: Some("a-7"),
            recordings_uri: "http://127.0.0.1:8080/v1/users/u-1/recordings/",
        }
    }

    #[test]
    fn times_are_iso8601_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601(1_796_587_262_345), "2026-12-06T20:01:02.345Z");
    }

    #[test]
    fn incoming_call_and_hangup_carry_bandwidth_fields() {
        let v = render(&call(), &LiveEvent::Incoming { answered: true }, 0).unwrap();
        assert_eq!(v["eventType"], "incomingcall");
        assert_eq!(v["callState"], "active");
        assert_eq!(v["applicationId"], "a-7");
        assert_eq!(v["callId"], "c-abc");
        assert_eq!(v["from"], "+15550001111");
        let ended = LiveEvent::Ended {
            cause: "caller-hung-up".into(),
            status: None,
        };
        let v = render(&call(), &ended, 0).unwrap();
        assert_eq!(v["eventType"], "hangup");
        assert_eq!(v["cause"], "NORMAL_CLEARING");
        assert_eq!(v["callState"], "completed");
    }

    #[test]
    fn prompt_gather_and_dtmf_events() {
        let speak = LiveEvent::Prompt {
            kind: PromptKind::Speak,
            done: true,
            tag: Some("p".into()),
        };
        let v = render(&call(), &speak, 0).unwrap();
        assert_eq!(
            (&v["eventType"], &v["status"], &v["state"], &v["tag"]),
            (
                &json!("speak"),
                &json!("done"),
                &json!("PLAYBACK_STOP"),
                &json!("p")
            )
        );
        let g = LiveEvent::Gather {
            id: 3,
            digits: "12".into(),
            reason: GatherReason::TerminatingDigit,
            tag: None,
        };
        let v = render(&call(), &g, 0).unwrap();
        assert_eq!(v["gatherId"], "g-3");
        assert_eq!(v["reason"], "terminating-digit");
        assert_eq!(v["digits"], "12");
        let v = render(&call(), &LiveEvent::Dtmf('5'), 0).unwrap();
        assert_eq!(v["dtmfDigit"], "5");
    }

    #[test]
    fn causes_map_to_bandwidth_names() {
        assert_eq!(
            hangup_cause("caller-cancelled", Some(487)),
            "ORIGINATOR_CANCEL"
        );
        assert_eq!(hangup_cause("rejected", Some(603)), "CALL_REJECTED");
        assert_eq!(hangup_cause("busy", Some(486)), "USER_BUSY");
        assert_eq!(hangup_cause("failed", Some(404)), "UNALLOCATED_NUMBER");
        assert_eq!(hangup_cause("no-answer", None), "NO_ANSWER");
        assert_eq!(
            hangup_cause("failed", Some(503)),
            "NORMAL_TEMPORARY_FAILURE"
        );
        assert_eq!(hangup_cause("hangup", None), "NORMAL_CLEARING");
    }
}
