//! The decisions around anchoring: which m-lines we relay, which codecs pass, how an answer
//! lines up with its offer, where a leg's media comes from, and whether a leg is on hold.
//!
//! # Audio-only calls and disabled streams
//!
//! `call_type: "audio"` (and anything the relay cannot carry: secure profiles, non-RTP media,
//! a second audio stream) disables the m-line with **port 0, in offers as well as answers**,
//! rather than removing it from offers:
//!
//! * in an answer, port 0 is the only way to refuse a stream (RFC 3264 §6);
//! * in a re-offer, m-lines may never be removed, only disabled (RFC 3264 §8.2), and a B2BUA
//!   relays re-INVITEs, so removal would only work for the first offer;
//! * keeping every m-line on both legs keeps the index the same on both sides, so an answer
//!   maps back to its offer by index ([`match_answer`]) with no per-call index table.
//!
//! Port 0 in an offer is legal (RFC 3264 §5.1: "the stream is offered but MUST NOT be used").
//!
//! # One audio stream, and one video stream when asked for
//!
//! Each relayed stream has its own RTP/RTCP port pair per leg, so [`plan_offer`] relays the
//! first plain-RTP audio m-line that keeps a supported codec, with `call_type: video` the
//! first plain-RTP video m-line too (its codecs pass untouched: video is relayed, never
//! decoded), and disables the rest.

use std::net::SocketAddr;

use super::{Connection, Direction, Field, MediaDescription, MediaKind, SessionDescription};

/// `call_type` of a PCMO `connect`: which media the B leg is offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallType {
    #[default]
    Audio,
    Video,
}

/// A codec we relay: an encoding name and clock rate (RFC 3551 naming).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Codec {
    pub encoding: &'static str,
    pub clock_rate: u32,
}

pub const PCMU: Codec = Codec {
    encoding: "PCMU",
    clock_rate: 8000,
};
pub const PCMA: Codec = Codec {
    encoding: "PCMA",
    clock_rate: 8000,
};
pub const TELEPHONE_EVENT: Codec = Codec {
    encoding: "telephone-event",
    clock_rate: 8000,
};

/// What the relay passes through today (transcoding comes with the media issue).
pub const SUPPORTED: &[Codec] = &[PCMU, PCMA, TELEPHONE_EVENT];

/// Why an answer does not fit its offer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnswerError {
    #[error("the answer has {answer} m-lines, the offer {offer}")]
    MediaCount { offer: usize, answer: usize },
    #[error("m-line {index} is {answer} in the answer but {offer} in the offer")]
    MediaKind {
        index: usize,
        offer: String,
        answer: String,
    },
    #[error("m-line {index} was accepted although it was offered with port 0")]
    AcceptedDisabled { index: usize },
}

/// The codec a payload type stands for: its `a=rtpmap`, else the RFC 3551 static table.
pub fn codec_of(media: &MediaDescription, payload_type: u8) -> Option<(String, u32)> {
    if let Some(map) = media.rtpmap(payload_type) {
        return Some((map.encoding, map.clock_rate));
    }
    let (encoding, rate) = match payload_type {
        0 => ("PCMU", 8000),
        3 => ("GSM", 8000),
        4 => ("G723", 8000),
        8 => ("PCMA", 8000),
        9 => ("G722", 8000),
        18 => ("G729", 8000),
        _ => return None,
    };
    Some((encoding.to_owned(), rate))
}

/// Keep only the formats whose codec is in `supported`, in the offerer's order, and drop the
/// `rtpmap`/`fmtp`/`rtcp-fb` lines of the others. Returns how many formats remain that carry
/// voice (not only `telephone-event`); with none left the caller must disable the m-line.
pub fn filter_codecs(media: &mut MediaDescription, supported: &[Codec]) -> usize {
    let keep = |pt: u8| {
        codec_of(media, pt).is_some_and(|(encoding, rate)| {
            supported
                .iter()
                .any(|c| c.encoding.eq_ignore_ascii_case(&encoding) && c.clock_rate == rate)
        })
    };
    let kept: Vec<String> = media
        .formats
        .iter()
        .filter(|f| f.parse::<u8>().is_ok_and(|pt| pt < 128 && keep(pt)))
        .cloned()
        .collect();
    let voice = kept
        .iter()
        .filter(|f| {
            f.parse::<u8>()
                .ok()
                .and_then(|pt| codec_of(media, pt))
                .is_some_and(|(e, _)| !e.eq_ignore_ascii_case(TELEPHONE_EVENT.encoding))
        })
        .count();
    media.retain_attributes(|a| match a.name.as_str() {
        "rtpmap" | "fmtp" | "rtcp-fb" => {
            let format = a
                .value
                .as_deref()
                .and_then(|v| v.split(' ').next())
                .unwrap_or("");
            format == "*" || kept.iter().any(|k| k == format)
        }
        _ => true,
    });
    if !kept.is_empty() {
        media.formats = kept;
    }
    voice
}

/// Prepare an offer from one leg for the other: filter codecs and decide which m-lines the
/// relay carries. Returns the filtered description and, per m-line, whether it is relayed;
/// pass it to [`super::anchor()`] with an [`super::Anchor`] for each `true`.
pub fn plan_offer(
    offer: &SessionDescription,
    call_type: CallType,
    supported: &[Codec],
) -> (SessionDescription, Vec<bool>) {
    let mut out = offer.clone();
    let mut relayed = Vec::with_capacity(out.media.len());
    let (mut audio_taken, mut video_taken) = (false, false);
    for media in &mut out.media {
        let usable = media.port != 0 && media.is_plain_rtp();
        let relay = match media.kind {
            MediaKind::Audio if !audio_taken && usable => {
                let relay = filter_codecs(media, supported) > 0;
                audio_taken |= relay;
                relay
            }
            // `call_type: audio` refuses video by policy.
            MediaKind::Video if call_type == CallType::Video && !video_taken && usable => {
                video_taken = true;
                true
            }
            _ => false,
        };
        relayed.push(relay);
    }
    (out, relayed)
}

/// Check that `answer` answers `offer` (RFC 3264 §6: same number of m-lines, same order and
/// media types; a stream offered with port 0 stays at port 0) and say, per m-line, whether the
/// answerer accepted it.
pub fn match_answer(
    offer: &SessionDescription,
    answer: &SessionDescription,
) -> Result<Vec<bool>, AnswerError> {
    if offer.media.len() != answer.media.len() {
        return Err(AnswerError::MediaCount {
            offer: offer.media.len(),
            answer: answer.media.len(),
        });
    }
    let mut accepted = Vec::with_capacity(offer.media.len());
    for (index, (o, a)) in offer.media.iter().zip(&answer.media).enumerate() {
        if o.kind != a.kind {
            return Err(AnswerError::MediaKind {
                index,
                offer: o.kind.as_str().to_owned(),
                answer: a.kind.as_str().to_owned(),
            });
        }
        if o.port == 0 && a.port != 0 {
            return Err(AnswerError::AcceptedDisabled { index });
        }
        accepted.push(a.port != 0);
    }
    Ok(accepted)
}

/// Where a leg says it receives m-line `index`: RTP at `c=` address and m= port, RTCP at
/// `a=rtcp` if given (with its own address if it has one), else `None` (meaning RTP + 1).
/// `None` overall for a disabled stream, a host name, or a hold address (`0.0.0.0`).
pub fn media_remote(
    sdp: &SessionDescription,
    index: usize,
) -> Option<(SocketAddr, Option<SocketAddr>)> {
    let media = sdp.media.get(index)?;
    let conn = sdp.media_connection(index)?;
    // An IPv4-mapped IPv6 address (RFC 5118 §4.3) is an IPv4 endpoint; canonical form lets an
    // IPv4 relay socket reach it.
    let ip = conn.ip().filter(|ip| !ip.is_unspecified())?.to_canonical();
    if media.port == 0 {
        return None;
    }
    let rtcp = media.rtcp().map(|rtcp| {
        let ip = rtcp
            .connection
            .as_ref()
            .and_then(Connection::ip)
            .map_or(ip, |ip| ip.to_canonical());
        SocketAddr::new(ip, rtcp.port)
    });
    Some((SocketAddr::new(ip, media.port), rtcp))
}

/// Whether the sender of `sdp` puts m-line `index` on hold: `sendonly` or `inactive`
/// (RFC 3264 §8.4), or the RFC 2543 form `c=0.0.0.0`.
pub fn is_hold(sdp: &SessionDescription, index: usize) -> bool {
    matches!(
        sdp.direction_of(index),
        Direction::SendOnly | Direction::Inactive
    ) || sdp
        .media_connection(index)
        .is_some_and(Connection::is_unspecified)
}

/// Drop every `a=` line named `name` at session level and in every m-line (e.g. to strip an
/// attribute a policy does not want relayed).
pub fn strip_attribute(sdp: &mut SessionDescription, name: &str) {
    let keep = |f: &Field| !matches!(f, Field::Attribute(a) if a.name == name);
    sdp.fields.retain(keep);
    for media in &mut sdp.media {
        media.fields.retain(keep);
    }
}
