//! The live event body: one POST per change of a leg's state (compat-fields §b5).
//!
//! ```json
//! {"type":"event","leg":"a","leg_id":"a","conversation_uuid":"…","time":1700000000123,
//!  "to":"14155550199","from":"14155550100","cmiuuid":"…","cmuuid":"…","direction":"inbound",
//!  "appid":2222223,"callerid":"14155550100","vn":"14155550199","request_id":null,
//!  "extra_params":"","status":"ringing","event_id":"…-3","seq":3}
//! ```
//!
//! PIOPIY's fields are always present (`request_id` is `null` for calls no REST request
//! made). Ours: `leg_id` (a call may have many B legs), `event_id` and `seq` (the call core
//! numbers a call's events from 1, so a receiver can order them and drop duplicates), and,
//! only when they apply, `hangup_cause`, `sip_status` and `error`.

use serde::{Deserialize, Serialize};

use crate::store::{AppId, CallUuid, Direction, Leg};

/// The `"type": "event"` tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum EventTag {
    #[default]
    #[serde(rename = "event")]
    Event,
}

/// What happened to the leg. PIOPIY's six values, plus `error` (ours) for a script or answer
/// URL failure, whose details are in [`LiveEvent::error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    Started,
    Ringing,
    InAnswered,
    OutAnswered,
    OutBridged,
    Hangup,
    Error,
}

/// Why a script could not run: a stable `code` (e.g. `invalid_script`,
/// `unsupported_action`, `answer_url_failed`), the JSON path into the script (empty when the
/// failure is not about one place in it), and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventError {
    pub code: String,
    pub path: String,
    pub message: String,
}

/// One live event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveEvent {
    #[serde(rename = "type", default)]
    pub tag: EventTag,
    pub leg: Leg,
    pub leg_id: String,
    pub conversation_uuid: String,
    /// Milliseconds since the Unix epoch.
    pub time: u64,
    pub to: String,
    pub from: String,
    #[serde(flatten)]
    pub cmiuuid: CallUuid,
    pub direction: Direction,
    pub appid: AppId,
    pub callerid: String,
    /// The virtual number (the app's number the call came in on or goes out from).
    pub vn: String,
    pub request_id: Option<String>,
    /// The script's `param` values, as PIOPIY passes them: a string.
    pub extra_params: String,
    /// The v3 connect's `params.metadata` object, once a connect with one has run (ours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    pub status: EventStatus,
    pub event_id: String,
    pub seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hangup_cause: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sip_status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<EventError>,
}

/// The `"type": "recording"` tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum RecordingTag {
    #[default]
    #[serde(rename = "recording")]
    Recording,
}

/// A recording is final (`status: "complete"`) or could not be written (`"error"`):
///
/// ```json
/// {"type":"recording","recording_id":"…-1","cmiuuid":"…","cmuuid":"…","appid":2222223,
///  "request_id":null,"status":"complete","url":"/admin/v1/recordings/…-1","format":"wav",
///  "channels":2,"sample_rate":8000,"start_time":1700000000123,"end_time":1700000009123,
///  "duration_ms":9000,"event_id":"…-7","seq":7}
/// ```
///
/// `url` is the admin API's path (the app's server knows where ringmaster listens); left
/// channel: the caller's side, right: the other party's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingEvent {
    #[serde(rename = "type", default)]
    pub tag: RecordingTag,
    pub recording_id: String,
    #[serde(flatten)]
    pub cmiuuid: CallUuid,
    pub appid: AppId,
    pub request_id: Option<String>,
    /// `complete` or `error`.
    pub status: String,
    pub url: String,
    pub format: String,
    pub channels: u8,
    pub sample_rate: u32,
    /// Milliseconds since the Unix epoch.
    pub start_time: u64,
    pub end_time: u64,
    /// What the file holds.
    pub duration_ms: u64,
    pub event_id: String,
    pub seq: u64,
}

/// The exact bytes POSTed for a body: compact JSON.
pub fn body<T: Serialize>(payload: &T) -> String {
    // Event and CDR bodies are plain structs of strings, integers, floats (serde_json writes a
    // non-finite float as null rather than failing) and options: serialising cannot fail.
    serde_json::to_string(payload).expect("webhook bodies always serialise to JSON")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn event(call: &str, seq: u64, status: EventStatus) -> LiveEvent {
        LiveEvent {
            tag: EventTag::Event,
            leg: Leg::A,
            leg_id: "a".into(),
            conversation_uuid: format!("conv-{call}"),
            time: 1_700_000_000_000 + seq,
            to: "14155550199".into(),
            from: "14155550100".into(),
            cmiuuid: CallUuid::from(call),
            direction: Direction::Inbound,
            appid: AppId(2222223),
            callerid: "14155550100".into(),
            vn: "14155550199".into(),
            request_id: None,
            extra_params: String::new(),
            metadata: None,
            status,
            event_id: format!("{call}-{seq}"),
            seq,
            hangup_cause: None,
            sip_status: None,
            error: None,
        }
    }

    #[test]
    fn piopiy_fields_always_ours_only_when_set() {
        let v: serde_json::Value =
            serde_json::from_str(&body(&event("c1", 2, EventStatus::Ringing))).unwrap();
        assert_eq!(v["type"], "event");
        assert_eq!(v["status"], "ringing");
        assert_eq!(
            (v["cmiuuid"].clone(), v["cmuuid"].clone()),
            ("c1".into(), "c1".into())
        );
        assert_eq!(v["appid"], 2222223);
        assert_eq!(v["request_id"], serde_json::Value::Null);
        for f in [
            "leg",
            "conversation_uuid",
            "time",
            "to",
            "from",
            "direction",
            "callerid",
            "vn",
            "extra_params",
        ] {
            assert!(v.get(f).is_some(), "{f} missing: {v}");
        }
        for f in ["hangup_cause", "sip_status", "error"] {
            assert!(v.get(f).is_none(), "{f} present: {v}");
        }
    }

    #[test]
    fn hangups_and_errors_carry_their_details() {
        let mut e = event("c1", 5, EventStatus::Hangup);
        e.hangup_cause = Some("NORMAL_CLEARING".into());
        e.sip_status = Some(200);
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            (v["hangup_cause"].clone(), v["sip_status"].clone()),
            ("NORMAL_CLEARING".into(), 200.into())
        );

        let mut e = event("c1", 1, EventStatus::Error);
        e.error = Some(EventError {
            code: "unsupported_action".into(),
            path: "/2/action".into(),
            message: "play is not supported yet".into(),
        });
        let text = body(&e);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["status"], "error");
        assert_eq!(v["error"]["path"], "/2/action");
        let back: LiveEvent = serde_json::from_str(&text).unwrap();
        assert_eq!(back, e);
    }
}
