//! What a leg's negotiated SDP means for the media task: the G.711 law it is sent in, the
//! payload type numbers of that law and of telephone-events. Pure.
//!
//! The call core derives a [`LegCodecs`] from the m-line a leg will receive on
//! ([`LegCodecs::from_media`]) and hands it over with `Command::SetCodecs`. Incoming audio is
//! recognised by payload type (0 and 8 are static, plus the leg's own number for its law), so
//! a leg that was answered with both laws may send either; outgoing audio to the leg is always
//! in its negotiated law, transcoded when the other leg uses the other one.

use super::g711;
use super::sdp::policy::codec_of;
use super::sdp::{Attribute, Field, MediaDescription};

/// A G.711 law.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AudioCodec {
    /// μ-law, static payload type 0.
    Pcmu,
    /// A-law, static payload type 8.
    Pcma,
}

impl AudioCodec {
    /// The RFC 3551 static payload type.
    pub fn static_payload_type(self) -> u8 {
        match self {
            AudioCodec::Pcmu => 0,
            AudioCodec::Pcma => 8,
        }
    }

    /// The law an `rtpmap` encoding name stands for (case-insensitive, 8 kHz only).
    pub fn from_encoding(encoding: &str, clock_rate: u32) -> Option<AudioCodec> {
        if clock_rate != 8000 {
            None
        } else if encoding.eq_ignore_ascii_case("PCMU") {
            Some(AudioCodec::Pcmu)
        } else if encoding.eq_ignore_ascii_case("PCMA") {
            Some(AudioCodec::Pcma)
        } else {
            None
        }
    }

    /// The `rtpmap` encoding name.
    pub fn encoding(self) -> &'static str {
        match self {
            AudioCodec::Pcmu => "PCMU",
            AudioCodec::Pcma => "PCMA",
        }
    }

    pub fn decode(self, code: u8) -> i16 {
        match self {
            AudioCodec::Pcmu => g711::ulaw_to_linear(code),
            AudioCodec::Pcma => g711::alaw_to_linear(code),
        }
    }

    pub fn encode(self, sample: i16) -> u8 {
        match self {
            AudioCodec::Pcmu => g711::linear_to_ulaw(sample),
            AudioCodec::Pcma => g711::linear_to_alaw(sample),
        }
    }

    /// Convert a payload of this law to `to`, in place (nothing to do when equal).
    pub fn transcode(self, to: AudioCodec, payload: &mut [u8]) {
        match (self, to) {
            (AudioCodec::Pcmu, AudioCodec::Pcma) => g711::ulaw_to_alaw_in_place(payload),
            (AudioCodec::Pcma, AudioCodec::Pcmu) => g711::alaw_to_ulaw_in_place(payload),
            _ => {}
        }
    }
}

/// The codecs of one leg's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LegCodecs {
    /// The law sent to this leg.
    pub audio: AudioCodec,
    /// Its payload type number (the static one unless the SDP mapped another).
    pub audio_pt: u8,
    /// `telephone-event/8000`, if negotiated: DTMF is detected on it and sent with it.
    pub telephone_event: Option<u8>,
}

impl Default for LegCodecs {
    /// PCMU on payload type 0, no telephone-events: what a leg is until its SDP says more.
    fn default() -> Self {
        LegCodecs::new(AudioCodec::Pcmu, None)
    }
}

impl LegCodecs {
    /// A law on its static payload type.
    pub fn new(audio: AudioCodec, telephone_event: Option<u8>) -> Self {
        LegCodecs {
            audio,
            audio_pt: audio.static_payload_type(),
            telephone_event,
        }
    }

    /// From the m-line of the SDP that a leg sent and that we answered (or that answered us):
    /// the first G.711 format in its list is the law the leg prefers, and the
    /// `telephone-event/8000` format, if any, is its DTMF type. `None` if it has no G.711.
    pub fn from_media(media: &MediaDescription) -> Option<LegCodecs> {
        let mut audio = None;
        let mut telephone_event = None;
        for pt in media.payload_types() {
            let Some((encoding, rate)) = codec_of(media, pt) else {
                continue;
            };
            if audio.is_none() {
                audio = AudioCodec::from_encoding(&encoding, rate).map(|codec| (codec, pt));
            }
            if telephone_event.is_none()
                && rate == 8000
                && encoding.eq_ignore_ascii_case("telephone-event")
            {
                telephone_event = Some(pt);
            }
        }
        let (audio, audio_pt) = audio?;
        Some(LegCodecs {
            audio,
            audio_pt,
            telephone_event,
        })
    }

    /// The law of an audio payload type received from this leg; `None` for anything else
    /// (telephone-events, comfort noise, unknown types).
    pub fn law_of(&self, payload_type: u8) -> Option<AudioCodec> {
        if payload_type == self.audio_pt {
            Some(self.audio)
        } else if Some(payload_type) == self.telephone_event {
            None
        } else {
            match payload_type {
                0 => Some(AudioCodec::Pcmu),
                8 => Some(AudioCodec::Pcma),
                _ => None,
            }
        }
    }

    pub fn is_telephone_event(&self, payload_type: u8) -> bool {
        self.telephone_event == Some(payload_type)
    }
}

/// Let a B leg answer with either law when the caller offered only one: append the missing
/// G.711 law (on its static payload type, after the offered one, so the caller's choice stays
/// preferred) to an m-line offered onwards. The media task transcodes between the two. Returns
/// whether the m-line changed (not when it has both laws, neither, or the static number is
/// taken by another codec).
pub fn offer_both_laws(media: &mut MediaDescription) -> bool {
    let law_at: Vec<(usize, AudioCodec)> = media
        .formats
        .iter()
        .enumerate()
        .filter_map(|(index, format)| {
            let (encoding, rate) = codec_of(media, format.parse::<u8>().ok()?)?;
            Some((index, AudioCodec::from_encoding(&encoding, rate)?))
        })
        .collect();
    let has = |law| law_at.iter().any(|&(_, l)| l == law);
    let missing = match (has(AudioCodec::Pcmu), has(AudioCodec::Pcma)) {
        (true, false) => AudioCodec::Pcma,
        (false, true) => AudioCodec::Pcmu,
        _ => return false,
    };
    let pt = missing.static_payload_type();
    if media.payload_types().any(|p| p == pt) {
        return false;
    }
    let after = law_at
        .last()
        .map_or(media.formats.len(), |&(index, _)| index + 1);
    media.formats.insert(after, pt.to_string());
    let rtpmap = format!("{pt} {}/8000", missing.encoding());
    media
        .fields
        .push(Field::Attribute(Attribute::new("rtpmap", Some(&rtpmap))));
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::sdp::SessionDescription;

    fn media(m_line: &str, attributes: &str) -> MediaDescription {
        let sdp = format!(
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n{m_line}\r\n{attributes}"
        );
        match SessionDescription::parse(sdp.as_bytes()) {
            Ok(mut parsed) if !parsed.media.is_empty() => parsed.media.remove(0),
            other => panic!("bad fixture: {other:?}"),
        }
    }

    #[test]
    fn codecs_come_from_the_first_g711_format_and_the_telephone_event_map() {
        let m = media(
            "m=audio 4000 RTP/AVP 18 8 0 101",
            "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n",
        );
        assert_eq!(
            LegCodecs::from_media(&m),
            Some(LegCodecs {
                audio: AudioCodec::Pcma,
                audio_pt: 8,
                telephone_event: Some(101),
            })
        );
        let dynamic = media(
            "m=audio 4000 RTP/AVP 96 97",
            "a=rtpmap:96 pcmu/8000\r\na=rtpmap:97 telephone-event/48000\r\n",
        );
        assert_eq!(
            LegCodecs::from_media(&dynamic),
            Some(LegCodecs {
                audio: AudioCodec::Pcmu,
                audio_pt: 96,
                telephone_event: None,
            })
        );
        assert_eq!(
            LegCodecs::from_media(&media("m=audio 4000 RTP/AVP 18", "")),
            None
        );
    }

    #[test]
    fn incoming_payload_types_map_to_laws() {
        let leg = LegCodecs {
            audio: AudioCodec::Pcmu,
            audio_pt: 96,
            telephone_event: Some(101),
        };
        assert_eq!(leg.law_of(96), Some(AudioCodec::Pcmu));
        assert_eq!(leg.law_of(0), Some(AudioCodec::Pcmu));
        assert_eq!(leg.law_of(8), Some(AudioCodec::Pcma));
        assert_eq!(leg.law_of(101), None);
        assert_eq!(leg.law_of(13), None);
        assert!(leg.is_telephone_event(101));
    }

    #[test]
    fn an_offer_with_one_law_gets_the_other_after_it() {
        let mut m = media(
            "m=audio 4000 RTP/AVP 0 101",
            "a=rtpmap:101 telephone-event/8000\r\n",
        );
        assert!(offer_both_laws(&mut m));
        assert_eq!(m.formats, ["0", "8", "101"]);
        assert_eq!(m.rtpmap(8).map(|r| r.encoding), Some("PCMA".to_owned()));
        assert!(!offer_both_laws(&mut m), "both laws already");
        let mut alaw = media("m=audio 4000 RTP/AVP 8", "");
        assert!(offer_both_laws(&mut alaw));
        assert_eq!(alaw.formats, ["8", "0"]);
        let mut taken = media(
            "m=audio 4000 RTP/AVP 96 8",
            "a=rtpmap:96 PCMU/8000\r\na=rtpmap:8 opus/48000\r\n",
        );
        assert!(!offer_both_laws(&mut taken), "8 is not free");
        let mut none = media("m=audio 4000 RTP/AVP 18", "");
        assert!(!offer_both_laws(&mut none));
    }

    #[test]
    fn payloads_transcode_in_place() {
        let mut payload = [0xFF, 0x00, 0x80];
        AudioCodec::Pcmu.transcode(AudioCodec::Pcma, &mut payload);
        assert_eq!(payload, [0xD5, 0x2A, 0xAA]);
        AudioCodec::Pcma.transcode(AudioCodec::Pcma, &mut payload);
        assert_eq!(payload, [0xD5, 0x2A, 0xAA]);
        assert_eq!(AudioCodec::Pcma.decode(AudioCodec::Pcma.encode(1000)), 1008);
    }
}
