//! A Cloud SIP UA session (iotcomms' media-service API): what a thin device's call carries
//! besides the call itself — its `replyId`, the `sessionReferenceId` the device chose, where
//! its callbacks go, the SDES keys of its leg — and the rendering of the call's live events
//! as the media service's callbacks (`newRemoteCall`, `callNotify`, `callAnswered`,
//! `callFailed`, `callHungup`). Pure: the shell sends what [`render`] returns.
//!
//! Decided where the reference is silent: `traceId` and `sessionId` are the call's id;
//! `callNotify` and the success of `placeremotecalljwt` carry the `replyId` too, so a placed
//! call can be cancelled before it is answered; `callAnswered` carries `crypto` (ringmaster's
//! key towards the device) when the device's leg is SRTP; an inbound call the device answered
//! itself gets no `callAnswered`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::call::live::LiveEvent;
use crate::media::codec::AudioCodec;
use crate::media::sdp::crypto::CryptoAttr;
use crate::media::sdp::Anchor;
use crate::media::srtp::{MasterKey, Suite};
use crate::store::CloudUaDomain;

/// The payload type of telephone-events towards a device, unless it asks for another.
pub const DEVICE_EVENT_PT: u8 = 101;

/// One device's call.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    pub domain: String,
    /// The handle of follow-up commands; valid for this call only.
    pub reply_id: String,
    /// Copied verbatim into every callback once known (the placement's, or the answer to
    /// `newRemoteCall`).
    pub session_ref: Option<Value>,
    /// `{callbackBaseUrl}`; `None`: no callbacks.
    pub callback_base: Option<String>,
    /// The device placed the call (else it was called).
    pub placed: bool,
    /// The caller's user part.
    pub source_user: String,
    pub destination_uri: String,
    /// The SIP Call-ID of the phone's leg, when known.
    pub sip_call_id: Option<String>,
    /// The law the device sends and receives, once set.
    pub device_codec: Option<AudioCodec>,
    /// Our SDES master key towards the device (the call's B-side key).
    pub our_key: MasterKey,
    /// The `crypto` answered to a placing device (`callAnswered`).
    pub answer_crypto: Option<Value>,
    /// Where the device sends (the call's B side), once the ports are bound.
    pub b: Option<Anchor>,
    /// The law the caller offered first (an inbound call).
    pub a_codec: Option<AudioCodec>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("domain", &self.domain)
            .field("placed", &self.placed)
            .field("session_ref", &self.session_ref)
            .field("callback_base", &self.callback_base)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A call from a phone to the domain's app.
    pub fn inbound(
        domain: &CloudUaDomain,
        reply_id: String,
        source_user: String,
        destination_uri: String,
        sip_call_id: Option<String>,
        our_key: MasterKey,
    ) -> Session {
        Session {
            domain: domain.name.clone(),
            reply_id,
            session_ref: None,
            callback_base: domain.callback_base_url.clone(),
            placed: false,
            source_user,
            destination_uri,
            sip_call_id,
            device_codec: None,
            our_key,
            answer_crypto: None,
            b: None,
            a_codec: None,
        }
    }

    /// What `newRemoteCall` offers the device: our key under each suite we implement.
    pub fn offered_crypto(&self) -> Value {
        let key = STANDARD.encode(self.our_key.as_bytes());
        json!([
            {"suite": Suite::AesCm128HmacSha1_80.name(), "id": 1, "config": format!("inline:{key}")},
            {"suite": Suite::AesCm128HmacSha1_32.name(), "id": 2, "config": format!("inline:{key}")},
        ])
    }
}

/// A `crypto[]` element of the API: `{suite, id, config}`, `config` being RFC 4568 key
/// parameters (`inline:<base64 key‖salt>`).
pub fn crypto_of(element: &Value) -> Option<CryptoAttr> {
    let suite = element.get("suite")?.as_str()?;
    let id = element.get("id").and_then(Value::as_u64).unwrap_or(1);
    let config = element.get("config")?.as_str()?;
    CryptoAttr::parse(&format!("{id} {suite} {config}")).ok()
}

/// The API's name of a law.
pub fn codec_name(c: AudioCodec) -> &'static str {
    match c {
        AudioCodec::Pcmu => "PCMU",
        AudioCodec::Pcma => "PCMA",
    }
}

/// The user part of a SIP URI (or the string itself).
fn user_of(uri: &str) -> &str {
    let rest = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("sips:"))
        .unwrap_or(uri);
    rest.split('@').next().unwrap_or(rest)
}

/// The reason phrase of a final status, for `callFailed`.
fn reason_of(status: u16) -> &'static str {
    match status {
        404 => "Not Found",
        408 => "Request Timeout",
        480 => "Temporarily Unavailable",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        503 => "Service Unavailable",
        600 => "Busy Everywhere",
        603 => "Decline",
        _ => "Call Failed",
    }
}

/// The callback for `ev` (its name and body), or `None` when the media service has none.
/// `call` is the call's id, `tx` a fresh `httpTransactionId`, `answered` whether the call was
/// ever answered.
pub fn render(
    s: &Session,
    call: &str,
    ev: &LiveEvent,
    tx: &str,
    answered: bool,
) -> Option<(&'static str, Value)> {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    let sip_call_id = s.sip_call_id.clone().unwrap_or_else(|| call.to_string());
    put("traceId", json!(call));
    put("sessionId", json!(call));
    put("httpTransactionId", json!(tx));
    let name = match ev {
        LiveEvent::Incoming { answered: false } if !s.placed => {
            let b = s.b?;
            put("replyId", json!(s.reply_id));
            put("domain", json!(s.domain));
            put("ivrServer", json!(b.addr.to_string()));
            put("callId", json!(sip_call_id));
            let codec = s.a_codec.unwrap_or(AudioCodec::Pcmu);
            put("codec", json!(codec_name(codec)));
            put("destinationUri", json!(s.destination_uri));
            put("sourceUser", json!(s.source_user));
            put("remoteRtpIp", json!(b.addr.to_string()));
            put("remoteRtpPort", json!(b.rtp_port));
            put("telephoneEventPayloadType", json!(DEVICE_EVENT_PT));
            put("crypto", s.offered_crypto());
            "newRemoteCall"
        }
        LiveEvent::Ringing if s.placed => {
            put("event", json!("ringing"));
            put("replyId", json!(s.reply_id));
            put("monitoringParticipant", json!(false));
            put("participantId", json!(call));
            put("user", json!(s.source_user));
            put("remoteUser", json!(user_of(&s.destination_uri)));
            put("sipCallId", json!(sip_call_id));
            "callNotify"
        }
        LiveEvent::Reoffer { update } => {
            let event = if *update { "update" } else { "reInvite" };
            put("event", json!(event));
            put("replyId", json!(s.reply_id));
            put("monitoringParticipant", json!(false));
            put("participantId", json!(call));
            put("sipCallId", json!(sip_call_id));
            "callNotify"
        }
        LiveEvent::Answered if s.placed => {
            let b = s.b?;
            put("replyId", json!(s.reply_id));
            put("callingPartyNumber", json!(s.source_user));
            put("remotePartyNumber", json!(user_of(&s.destination_uri)));
            put("connectionId", json!(call));
            put("callerParticipantId", json!(format!("{call}-a")));
            put("calleeParticipantId", json!(format!("{call}-b")));
            put("monitoringParticipant", json!(false));
            let codec = s.device_codec.unwrap_or(AudioCodec::Pcmu);
            put("codec", json!(codec_name(codec)));
            put("remoteRtpIp", json!(b.addr.to_string()));
            put("remoteRtpPort", json!(b.rtp_port));
            if let Some(c) = &s.answer_crypto {
                put("crypto", c.clone());
            }
            "callAnswered"
        }
        LiveEvent::Ended { cause, status } => {
            let failed = s.placed && !answered && cause != "hangup";
            if failed {
                let status = status.unwrap_or(match cause.as_str() {
                    "no-answer" => 408,
                    "not-registered" => 480,
                    _ => 500,
                });
                put("sipCallId", json!(sip_call_id));
                put("sipStatus", json!(status));
                put("sipReason", json!(reason_of(status)));
                put("errorDescr", json!(cause));
                put("participantId", json!(call));
                put("domain", json!(s.domain));
                "callFailed"
            } else {
                put("callId", json!(sip_call_id));
                put("destinationUri", json!(s.destination_uri));
                put("sourceUser", json!(s.source_user));
                put("replyId", json!(s.reply_id));
                put("cause", json!(cause));
                "callHungup"
            }
        }
        _ => return None,
    };
    if let Some(r) = &s.session_ref {
        m.insert("sessionReferenceId".into(), r.clone());
    }
    Some((name, Value::Object(m)))
}

#[cfg(test)]
mod tests;
