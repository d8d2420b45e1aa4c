//! The stream's messages, pure: what ringmaster sends (Twilio Media Streams' shapes:
//! `connected`, `start`, `media`, `dtmf`, `mark`, `stop`) and what it accepts from the agent,
//! in both dialects — Twilio's (`media` with a base64 payload in the stream's format, `mark`,
//! `clear`) and PIOPIY's `StreamAction` (`streamAudio` with `audioDataType`
//! raw/wav/mp3 and `sampleRate`; `pause`, `resume`, `break`, `stop`), one object or a JSON
//! array of them (what PIOPIY's `StreamAction.PCMO()` produces).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};

/// How the agent's `streamAudio` bytes are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioKind {
    /// Signed 16-bit little-endian mono PCM at `sampleRate`.
    Raw,
    Wav,
    Mp3,
}

/// One thing the agent asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentMessage {
    /// Twilio `media`: bytes in the stream's own format.
    Media(Vec<u8>),
    /// PIOPIY `streamAudio`.
    Audio {
        kind: AudioKind,
        rate: u32,
        bytes: Vec<u8>,
    },
    Mark(String),
    /// Twilio `clear`, PIOPIY `break`: drop the queued audio.
    Clear,
    Pause,
    Resume,
    Stop,
    /// Understood and of no consequence (`connected`, an echoed `start`, …).
    Ignored,
}

/// Why a message was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    #[error("not JSON")]
    NotJson,
    #[error("not a stream message")]
    Unknown,
    #[error("{0}: missing or malformed")]
    Field(&'static str),
    #[error("audioDataType {0} is not supported (raw, wav and mp3 are)")]
    Unsupported(String),
}

fn payload(v: Option<&Value>, field: &'static str) -> Result<Vec<u8>, WireError> {
    let text = v.and_then(Value::as_str).ok_or(WireError::Field(field))?;
    STANDARD.decode(text).map_err(|_| WireError::Field(field))
}

fn one(v: &Value) -> Result<AgentMessage, WireError> {
    if let Some(event) = v.get("event").and_then(Value::as_str) {
        return match event {
            "media" => Ok(AgentMessage::Media(payload(
                v.pointer("/media/payload"),
                "media.payload",
            )?)),
            "mark" => v
                .pointer("/mark/name")
                .and_then(Value::as_str)
                .map(|n| AgentMessage::Mark(n.chars().take(256).collect()))
                .ok_or(WireError::Field("mark.name")),
            "clear" => Ok(AgentMessage::Clear),
            "stop" => Ok(AgentMessage::Stop),
            "connected" | "start" | "dtmf" => Ok(AgentMessage::Ignored),
            _ => Err(WireError::Unknown),
        };
    }
    if v.get("type").and_then(Value::as_str) == Some("streamAudio") {
        let data = v.get("data").ok_or(WireError::Field("data"))?;
        let kind = match data.get("audioDataType").and_then(Value::as_str) {
            Some("raw") | None => AudioKind::Raw,
            Some("wav") => AudioKind::Wav,
            Some("mp3") => AudioKind::Mp3,
            Some(other) => return Err(WireError::Unsupported(other.chars().take(16).collect())),
        };
        let rate = match data.get("sampleRate") {
            None | Some(Value::Null) => 8000,
            Some(r) => r
                .as_u64()
                .or_else(|| r.as_str().and_then(|s| s.parse().ok()))
                .and_then(|r| u32::try_from(r).ok())
                .ok_or(WireError::Field("data.sampleRate"))?,
        };
        let bytes = payload(data.get("audioData"), "data.audioData")?;
        return Ok(AgentMessage::Audio { kind, rate, bytes });
    }
    match v.get("action").and_then(Value::as_str) {
        Some("pause") => Ok(AgentMessage::Pause),
        Some("resume") => Ok(AgentMessage::Resume),
        Some("break") | Some("interrupt") => Ok(AgentMessage::Clear),
        Some("stop") => Ok(AgentMessage::Stop),
        _ => Err(WireError::Unknown),
    }
}

/// The messages of one text frame from the agent.
pub fn parse(text: &str) -> Result<Vec<AgentMessage>, WireError> {
    let v: Value = serde_json::from_str(text).map_err(|_| WireError::NotJson)?;
    match &v {
        Value::Array(items) => items.iter().take(64).map(one).collect(),
        _ => one(&v).map(|m| vec![m]),
    }
}

/// The stream's identity and counters, for the messages ringmaster sends.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub stream_sid: String,
    pub call_sid: String,
    pub account_sid: String,
    seq: u64,
}

impl Outgoing {
    pub fn new(stream_sid: String, call_sid: String, account_sid: String) -> Self {
        Outgoing {
            stream_sid,
            call_sid,
            account_sid,
            seq: 0,
        }
    }

    fn next(&mut self) -> String {
        self.seq += 1;
        self.seq.to_string()
    }

    pub fn connected() -> String {
        json!({"event": "connected", "protocol": "Call", "version": "1.0.0"}).to_string()
    }

    /// `start`: `fields` (callSid, from, to, appid, customParameters) plus the stream's own.
    pub fn start(&mut self, fields: &Value, tracks: &[&str], encoding: &str, rate: u32) -> String {
        let mut start = match fields {
            Value::Object(m) => m.clone(),
            _ => serde_json::Map::new(),
        };
        start.insert("streamSid".into(), json!(self.stream_sid));
        start.insert("accountSid".into(), json!(self.account_sid));
        start.insert("callSid".into(), json!(self.call_sid));
        start.insert("tracks".into(), json!(tracks));
        start.insert(
            "mediaFormat".into(),
            json!({"encoding": encoding, "sampleRate": rate, "channels": 1}),
        );
        let seq = self.next();
        json!({"event": "start", "sequenceNumber": seq, "streamSid": self.stream_sid,
               "start": start})
        .to_string()
    }

    pub fn media(&mut self, track: &str, chunk: u64, timestamp_ms: u64, bytes: &[u8]) -> String {
        let seq = self.next();
        json!({"event": "media", "sequenceNumber": seq, "streamSid": self.stream_sid,
               "media": {"track": track, "chunk": chunk.to_string(),
                         "timestamp": timestamp_ms.to_string(),
                         "payload": STANDARD.encode(bytes)}})
        .to_string()
    }

    pub fn dtmf(&mut self, track: &str, digit: char) -> String {
        let seq = self.next();
        json!({"event": "dtmf", "sequenceNumber": seq, "streamSid": self.stream_sid,
               "dtmf": {"track": format!("{track}_track"), "digit": digit.to_string()}})
        .to_string()
    }

    pub fn mark(&mut self, name: &str) -> String {
        let seq = self.next();
        json!({"event": "mark", "sequenceNumber": seq, "streamSid": self.stream_sid,
               "mark": {"name": name}})
        .to_string()
    }

    pub fn stop(&mut self, reason: &str) -> String {
        let seq = self.next();
        json!({"event": "stop", "sequenceNumber": seq, "streamSid": self.stream_sid,
               "stop": {"accountSid": self.account_sid, "callSid": self.call_sid,
                        "reason": reason}})
        .to_string()
    }
}

#[cfg(test)]
mod tests;
