//! Call detail records: one per leg, in PIOPIY's webhook shape (compat-fields §b5), plus ours.
//!
//! The same struct is the stored record, the body of the CDR webhook and the answer of
//! `cmiuuid_cdr`, so what an app receives and what it can read back later never differ.
//!
//! A CDR is identified by its call (`cmiuuid`) and its leg's id within the call (`leg_id`:
//! PIOPIY's `leg` is only `a` or `b`, and one call can have many B legs when a group ring
//! forks). Storing the same identity twice keeps the first, so a call core that re-emits a CDR
//! after a restart cannot make a second one.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::AppId;

/// A call's id. PIOPIY's documents spell it `cmiuuid` and some of its samples and SDKs
/// `cmuuid`; serialised under `#[serde(flatten)]` it writes both keys with the same value, and
/// it reads either (`cmiuuid` wins when both are present).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct CallUuid(pub String);

impl CallUuid {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CallUuid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for CallUuid {
    fn from(s: &str) -> Self {
        CallUuid(s.to_owned())
    }
}

impl Serialize for CallUuid {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("cmiuuid", &self.0)?;
        map.serialize_entry("cmuuid", &self.0)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for CallUuid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Both {
            cmiuuid: Option<String>,
            cmuuid: Option<String>,
        }
        let both = Both::deserialize(d)?;
        both.cmiuuid
            .or(both.cmuuid)
            .map(CallUuid)
            .ok_or_else(|| serde::de::Error::missing_field("cmiuuid"))
    }
}

/// Which way a leg goes, seen from ringmaster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Inbound,
    Outbound,
}

/// PIOPIY's leg letter: `a` is the leg the call started with, `b` any leg the script created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Leg {
    A,
    B,
}

/// Whether the leg was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CdrStatus {
    Answered,
    Missed,
}

/// PIOPIY's four CDR kinds: direction × answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CdrKind {
    InMissed,
    InAnswered,
    OutMissed,
    OutAnswered,
}

impl CdrKind {
    /// The kind a leg of `direction` that ended with `status` has.
    pub fn of(direction: Direction, status: CdrStatus) -> CdrKind {
        match (direction, status) {
            (Direction::Inbound, CdrStatus::Missed) => CdrKind::InMissed,
            (Direction::Inbound, CdrStatus::Answered) => CdrKind::InAnswered,
            (Direction::Outbound, CdrStatus::Missed) => CdrKind::OutMissed,
            (Direction::Outbound, CdrStatus::Answered) => CdrKind::OutAnswered,
        }
    }
}

/// The `"type": "cdr"` tag: a unit type so the field cannot hold anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum CdrTag {
    #[default]
    #[serde(rename = "cdr")]
    Cdr,
}

/// One leg's call detail record. Times: `time` in milliseconds (as live events), the others
/// in seconds since the Unix epoch (PIOPIY). `call_rate` and `balance` are PIOPIY billing
/// fields; a self-hosted engine bills nothing, so they are 0 unless the call core says else.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cdr {
    #[serde(rename = "type", default)]
    pub tag: CdrTag,
    #[serde(flatten)]
    pub cmiuuid: CallUuid,
    /// This leg's id within the call (ours; unique per call, e.g. `a`, `b1`, `b2`).
    pub leg_id: String,
    pub leg: Leg,
    pub conversation_uuid: String,
    pub appid: AppId,
    pub from: String,
    pub to: String,
    pub callerid: String,
    pub direction: Direction,
    /// When the record was made, ms since the epoch; the order of `cdrs` (newest first).
    pub time: u64,
    pub start_time: u64,
    /// `None` (JSON `null`) when the leg was never answered.
    pub answer_time: Option<u64>,
    pub end_time: u64,
    /// Seconds from answer to end; 0 when missed.
    pub duration: u64,
    pub status: CdrStatus,
    pub cdr_kind: CdrKind,
    /// The script's `param` values, as PIOPIY passes them: a string.
    pub extra_params: String,
    /// The v3 connect's `params.metadata` object, when the call ran one (ours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    pub call_rate: f64,
    pub balance: f64,
    /// e.g. `NORMAL_CLEARING`, `ORIGINATOR_CANCEL`, `USER_BUSY`, `NO_ANSWER`.
    pub hangup_cause: String,
    /// The final SIP status of the leg, when it had one.
    pub sip_status: Option<u16>,
    /// The `request_id` of the REST request that created the call, if one did.
    pub request_id: Option<String>,
}

impl Cdr {
    /// Where a listing that ended at this record continues.
    pub fn cursor(&self) -> CdrCursor {
        CdrCursor {
            time: self.time,
            cmiuuid: self.cmiuuid.0.clone(),
            leg_id: self.leg_id.clone(),
        }
    }
}

/// A position in the newest-first CDR listing: the (time, call, leg) of the last record seen.
/// Written as `TIME.HEX(cmiuuid).HEX(leg_id)` so it survives a URL query unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdrCursor {
    pub time: u64,
    pub cmiuuid: String,
    pub leg_id: String,
}

impl std::fmt::Display for CdrCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}.{}.{}",
            self.time,
            hex::encode(&self.cmiuuid),
            hex::encode(&self.leg_id)
        )
    }
}

/// A cursor string that does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a CDR cursor")]
pub struct BadCursor;

impl std::str::FromStr for CdrCursor {
    type Err = BadCursor;
    fn from_str(s: &str) -> Result<Self, BadCursor> {
        let mut parts = s.split('.');
        let (Some(time), Some(call), Some(leg), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(BadCursor);
        };
        let text = |h: &str| {
            hex::decode(h)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or(BadCursor)
        };
        Ok(CdrCursor {
            time: time.parse().map_err(|_| BadCursor)?,
            cmiuuid: text(call)?,
            leg_id: text(leg)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance;

    #[test]
    fn json_has_piopiys_fields_and_both_call_id_spellings() {
        let cdr = conformance::cdr(7, "call-1", "a", 1_700_000_000_000);
        let v = serde_json::to_value(&cdr).unwrap();
        assert_eq!(v["type"], "cdr");
        assert_eq!(v["cmiuuid"], "call-1");
        assert_eq!(v["cmuuid"], "call-1");
        assert_eq!(v["leg"], "a");
        assert_eq!(v["direction"], "inbound");
        assert_eq!(v["status"], "answered");
        assert_eq!(v["cdr_kind"], "in_answered");
        assert_eq!(v["appid"], 7);
        for field in [
            "to",
            "from",
            "time",
            "start_time",
            "end_time",
            "answer_time",
            "duration",
            "extra_params",
            "call_rate",
            "balance",
            "conversation_uuid",
            "callerid",
            "hangup_cause",
            "sip_status",
            "request_id",
        ] {
            assert!(v.get(field).is_some(), "{field} missing in {v}");
        }
        let back: Cdr = serde_json::from_value(v).unwrap();
        assert_eq!(back, cdr);
    }

    #[test]
    fn reads_either_spelling() {
        let mut v = serde_json::to_value(conformance::cdr(7, "c", "a", 1)).unwrap();
        let obj = v.as_object_mut().unwrap();
        obj.remove("cmiuuid");
        obj.insert("cmuuid".into(), "other".into());
        let back: Cdr = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(back.cmiuuid.as_str(), "other");
        v.as_object_mut().unwrap().remove("cmuuid");
        assert!(serde_json::from_value::<Cdr>(v).is_err());
    }

    #[test]
    fn kinds() {
        assert_eq!(
            CdrKind::of(Direction::Outbound, CdrStatus::Missed),
            CdrKind::OutMissed
        );
        assert_eq!(
            CdrKind::of(Direction::Inbound, CdrStatus::Answered),
            CdrKind::InAnswered
        );
    }

    #[test]
    fn cursors_round_trip_through_text() {
        let c = CdrCursor {
            time: 1_700_000_000_123,
            cmiuuid: "a.b/c d".into(),
            leg_id: "b2".into(),
        };
        let text = c.to_string();
        assert!(text
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'.' || b.is_ascii_digit()));
        assert_eq!(text.parse::<CdrCursor>().unwrap(), c);
        for bad in ["", "1.2", "x.61.62", "1.zz.62", "1.61.62.63"] {
            assert_eq!(bad.parse::<CdrCursor>(), Err(BadCursor), "{bad}");
        }
    }
}
