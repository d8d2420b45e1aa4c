//! WebRTC legs in SDP (RFC 8829/8843/8839): reading what a browser offers or answers, and
//! turning the call's plain-RTP descriptions into what a browser expects. Pure.
//!
//! ringmaster terminates WebRTC: a browser leg speaks ICE-lite, DTLS-SRTP and rtcp-mux with
//! ringmaster's media task, and the rest of the call sees plain RTP. So the call core works on
//! *plain* descriptions only:
//!
//! * a browser's offer or answer is read once ([`WebRtcRemote::from_media`]: ICE credentials,
//!   DTLS fingerprint and role, mid, SSRCs) and then made plain ([`to_plain`]): its
//!   `UDP/TLS/RTP/SAVPF` m-lines become `RTP/AVP` and every attribute that only means
//!   something to a WebRTC transport goes;
//! * a plain description going to a browser leg gets ringmaster's side added ([`to_webrtc`]):
//!   the profile, our ICE-lite credentials and host candidate, our certificate's fingerprint,
//!   the DTLS role, `rtcp-mux`, the mids and `a=group:BUNDLE`, and our SSRC.
//!
//! Only audio m-lines are made WebRTC here; other m-lines going to a browser are disabled.

use std::net::IpAddr;

use super::{Attribute, Field, MediaDescription, MediaKind, SessionDescription};

/// The profile of a WebRTC m-line.
pub const WEBRTC_PROTO: &str = "UDP/TLS/RTP/SAVPF";

/// Attributes that describe a WebRTC transport or stream identity, dropped when a browser's
/// description is made plain (the anchor drops ICE, DTLS and crypto lines already).
const WEBRTC_ONLY: &[&str] = &[
    "extmap",
    "extmap-allow-mixed",
    "rtcp-fb",
    "rtcp-rsize",
    "ssrc",
    "ssrc-group",
    "msid",
    "msid-semantic",
    "mid",
    "sctp-port",
    "max-message-size",
    "rtcp",
    "group",
];

/// The DTLS role a side takes (RFC 5763 `a=setup`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// Offerer: either role, the answerer picks.
    ActPass,
    /// DTLS client.
    Active,
    /// DTLS server.
    Passive,
}

impl Setup {
    fn parse(value: &str) -> Option<Setup> {
        match value.trim() {
            "actpass" => Some(Setup::ActPass),
            "active" => Some(Setup::Active),
            "passive" => Some(Setup::Passive),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Setup::ActPass => "actpass",
            Setup::Active => "active",
            Setup::Passive => "passive",
        }
    }
}

/// Why a browser's description cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebRtcError {
    #[error("the WebRTC m-line has no ICE credentials")]
    NoIceCredentials,
    #[error("the WebRTC m-line has no DTLS fingerprint")]
    NoFingerprint,
    #[error("the WebRTC m-line's DTLS fingerprint is not a sha-256 one")]
    Fingerprint,
}

/// What ringmaster needs from a browser's side of one m-line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebRtcRemote {
    pub ufrag: String,
    pub pwd: String,
    /// `a=fingerprint` value as written, e.g. `sha-256 AB:CD:…`.
    pub fingerprint: String,
    /// The browser's DTLS role; `ActPass` in offers.
    pub setup: Setup,
    /// `a=mid`, if any.
    pub mid: Option<String>,
    /// The SSRCs it announced (`a=ssrc`), in order; the first is its media stream.
    pub ssrcs: Vec<u32>,
    /// The id of the `sdes:mid` RTP header extension it uses, if any.
    pub mid_extension: Option<u8>,
}

/// What ringmaster says about its own side of a WebRTC leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebRtcLocal {
    pub ufrag: String,
    pub pwd: String,
    /// Our certificate's `a=fingerprint` value.
    pub fingerprint: String,
    /// The SSRC we send audio with.
    pub ssrc: u32,
    /// The SSRC we send video with (browser to browser calls).
    pub video_ssrc: u32,
}

/// Whether an m-line is a WebRTC one (DTLS-SRTP over UDP).
pub fn is_webrtc(media: &MediaDescription) -> bool {
    media.proto.eq_ignore_ascii_case(WEBRTC_PROTO)
        || media.proto.eq_ignore_ascii_case("UDP/TLS/RTP/SAVP")
}

/// The first WebRTC m-line that is not disabled.
pub fn first_webrtc(sdp: &SessionDescription) -> Option<usize> {
    sdp.media.iter().position(|m| m.port != 0 && is_webrtc(m))
}

impl WebRtcRemote {
    /// Reads m-line `index` of `sdp` (media-level attributes first, then session-level).
    pub fn from_media(sdp: &SessionDescription, index: usize) -> Result<Self, WebRtcError> {
        let media = sdp.media.get(index).ok_or(WebRtcError::NoIceCredentials)?;
        let find = |name: &str| -> Option<String> {
            media
                .attribute(name)
                .or_else(|| sdp.attributes().find(|a| a.name == name))
                .and_then(|a| a.value.clone())
        };
        let (ufrag, pwd) = match (find("ice-ufrag"), find("ice-pwd")) {
            (Some(u), Some(p)) if !u.is_empty() && !p.is_empty() => (u, p),
            _ => return Err(WebRtcError::NoIceCredentials),
        };
        let fingerprint = find("fingerprint").ok_or(WebRtcError::NoFingerprint)?;
        if !fingerprint
            .get(..8)
            .is_some_and(|h| h.eq_ignore_ascii_case("sha-256 "))
        {
            return Err(WebRtcError::Fingerprint);
        }
        let setup = find("setup")
            .and_then(|s| Setup::parse(&s))
            .unwrap_or(Setup::ActPass);
        let ssrcs = ssrcs_of(media);
        let mid_extension = media
            .attributes()
            .filter(|a| a.name == "extmap")
            .filter_map(|a| a.value.as_deref())
            .find(|v| v.ends_with("urn:ietf:params:rtp-hdrext:sdes:mid"))
            .and_then(|v| v.split(['/', ' ']).next())
            .and_then(|id| id.parse().ok());
        Ok(WebRtcRemote {
            ufrag,
            pwd,
            fingerprint,
            setup,
            mid: media.attribute("mid").and_then(|a| a.value.clone()),
            ssrcs,
            mid_extension,
        })
    }

    /// Whether ringmaster is the DTLS client towards this side: only when it insists on
    /// being the server (an offer's `actpass` is answered `passive`, making the browser the
    /// client, as RFC 8842 recommends for the answerer... and browsers answer our `actpass`
    /// with `active`).
    pub fn we_are_dtls_client(&self) -> bool {
        self.setup == Setup::Passive
    }
}

/// The SSRCs an m-line announces (`a=ssrc`), in order, without repeats.
pub fn ssrcs_of(media: &MediaDescription) -> Vec<u32> {
    let mut ssrcs: Vec<u32> = Vec::new();
    for a in media.attributes().filter(|a| a.name == "ssrc") {
        let ssrc = a
            .value
            .as_deref()
            .and_then(|v| v.split(' ').next())
            .and_then(|s| s.parse().ok());
        if let Some(ssrc) = ssrc.filter(|s| !ssrcs.contains(s)) {
            ssrcs.push(ssrc);
        }
    }
    ssrcs
}

/// Make a browser's description plain: WebRTC m-lines become `RTP/AVP`, and the WebRTC-only
/// attributes go (session and media level). Non-WebRTC m-lines are left alone.
pub fn to_plain(sdp: &mut SessionDescription) {
    let webrtc_only =
        |f: &Field| matches!(f, Field::Attribute(a) if WEBRTC_ONLY.contains(&a.name.as_str()));
    let any = sdp.media.iter().any(is_webrtc);
    if !any {
        return;
    }
    sdp.fields.retain(|f| !webrtc_only(f));
    for media in sdp.media.iter_mut().filter(|m| is_webrtc(m)) {
        media.proto = "RTP/AVP".to_owned();
        media.fields.retain(|f| !webrtc_only(f));
    }
}

/// Add ringmaster's WebRTC side to a plain, anchored description going to a browser leg.
/// `mids` gives each m-line's mid (from the browser's offer when answering it; `None` makes
/// one up). The audio m-line at `audio` becomes WebRTC with our host candidate at `ip` and
/// its m= port; the m-lines in `bundled` (a video m-line between two browsers, its port
/// already set to the audio one) share that transport (BUNDLE); every other enabled m-line is
/// disabled (port 0).
#[allow(clippy::too_many_arguments)]
pub fn to_webrtc(
    sdp: &mut SessionDescription,
    audio: usize,
    bundled: &[usize],
    local: &WebRtcLocal,
    setup: Setup,
    ip: IpAddr,
    mids: &[Option<String>],
    mid_extension: Option<u8>,
) {
    let port = sdp.media.get(audio).map_or(0, |m| m.port);
    let mut bundle = Vec::new();
    for (index, media) in sdp.media.iter_mut().enumerate() {
        let mid = mids
            .get(index)
            .cloned()
            .flatten()
            .unwrap_or_else(|| index.to_string());
        // Whatever transport or stream lines the m-line still carries are another leg's
        // (a browser's video m-line is taken whole from the other browser's description):
        // only ours may go out.
        media
            .fields
            .retain(|f| !matches!(f, Field::Attribute(a) if is_leg_specific(&a.name)));
        let carried = media.port != 0
            && port != 0
            && ((index == audio && media.kind == MediaKind::Audio)
                || (bundled.contains(&index) && media.kind == MediaKind::Video));
        media.proto = WEBRTC_PROTO.to_owned();
        if !carried {
            if media.port != 0 {
                media.port = 0;
                media.fields.clear();
            }
            media.fields.push(attribute("mid", Some(&mid)));
            continue;
        }
        media.port = port;
        media.connection = None;
        let video = media.kind == MediaKind::Video;
        let pts: Vec<String> = media.formats.clone();
        let f = &mut media.fields;
        let push = |fields: &mut Vec<Field>, name: &str, value: Option<String>| {
            fields.push(attribute(name, value.as_deref()));
        };
        push(f, "mid", Some(mid.clone()));
        push(f, "ice-ufrag", Some(local.ufrag.clone()));
        push(f, "ice-pwd", Some(local.pwd.clone()));
        push(f, "fingerprint", Some(local.fingerprint.clone()));
        push(f, "setup", Some(setup.as_str().to_owned()));
        push(f, "rtcp-mux", None);
        if let Some(id) = mid_extension {
            push(
                f,
                "extmap",
                Some(format!("{id} urn:ietf:params:rtp-hdrext:sdes:mid")),
            );
        }
        if video {
            // Keyframe requests cross between the browsers (a receiver that missed the
            // first keyframe asks for one).
            for pt in &pts {
                push(f, "rtcp-fb", Some(format!("{pt} nack pli")));
                push(f, "rtcp-fb", Some(format!("{pt} ccm fir")));
            }
        }
        push(
            f,
            "candidate",
            Some(format!("1 1 udp 2130706431 {ip} {port} typ host")),
        );
        push(f, "end-of-candidates", None);
        let ssrc = if video { local.video_ssrc } else { local.ssrc };
        push(f, "ssrc", Some(format!("{ssrc} cname:ringmaster")));
        bundle.push(mid);
    }
    sdp.fields.retain(|f| {
        !matches!(f, Field::Attribute(a) if a.name == "group" || a.name == "ice-lite" || a.name == "msid-semantic")
    });
    sdp.fields.push(attribute("ice-lite", None));
    if !bundle.is_empty() {
        sdp.fields.push(attribute(
            "group",
            Some(&format!("BUNDLE {}", bundle.join(" "))),
        ));
    }
}

/// Attributes that describe one leg's transport, keys or stream identity: what the anchor
/// never passes on, and the WebRTC stream lines.
fn is_leg_specific(name: &str) -> bool {
    super::anchor::NOT_HONOURED.contains(&name) || WEBRTC_ONLY.contains(&name)
}

fn attribute(name: &str, value: Option<&str>) -> Field {
    Field::Attribute(Attribute::new(name, value))
}

#[cfg(test)]
mod tests;
